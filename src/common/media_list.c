/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libavutil/error.h>

#include "helpers.h"

static const char *const media_exts[] = {
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts", "m2ts", "mxf", "mpg", "mpeg",
    "flv", "3gp", "wmv", "m4a", "mp3", "wav", "aac", "flac", "ogg", "opus",
};

int vpi_media_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    size_t len = strlen(name);

    /* Hidden files include our own temporaries (".clip.mp4.vptmp-XXXXXX") and macOS's
     * "._clip.mp4"; "~" marks editors' backups and Office's lock files. */
    if (name[0] == '.' || name[0] == '~' || !len || name[len - 1] == '~' || !dot)
        return 0;
    for (size_t i = 0; i < sizeof(media_exts) / sizeof(media_exts[0]); i++)
        if (!strcasecmp(dot + 1, media_exts[i]))
            return 1;
    return 0;
}

static int cmp_paths(const void *a, const void *b)
{
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

void vpi_paths_free(char **paths, size_t nb)
{
    for (size_t i = 0; paths && i < nb; i++)
        free(paths[i]);
    free(paths);
}

int vpi_media_list(const char *dir, char ***paths, size_t *nb)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **list = NULL;
    size_t n = 0, cap = 0;
    int ret = 0;

    *paths = NULL;
    *nb = 0;
    if (!d)
        return AVERROR(errno);
    while ((e = readdir(d))) {
        struct stat sb;
        char *path;
        if (!vpi_media_name(e->d_name))
            continue;
        size_t dl = strlen(dir);
        /* "clips/" as the shell completes it gives clips/a.mp4, not clips//a.mp4 */
        if (asprintf(&path, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", e->d_name) < 0) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            size_t c = cap ? cap * 2 : 32;
            char **p = c <= SIZE_MAX / sizeof(*p) ? realloc(list, c * sizeof(*p)) : NULL;
            if (!p) {
                free(path);
                ret = AVERROR(ENOMEM);
                goto end;
            }
            list = p;
            cap = c;
        }
        list[n++] = path;
    }
    /* The folder is the same for every path: comparing whole paths orders the names. */
    if (n)
        qsort(list, n, sizeof(*list), cmp_paths);
    *paths = list;
    *nb = n;
    list = NULL;
    n = 0;
end:
    vpi_paths_free(list, n);
    closedir(d);
    return ret;
}
