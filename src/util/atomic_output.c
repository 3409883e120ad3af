/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Atomic outputs: write to a temporary name in the destination folder, rename when done. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "internal.h"

#define TEMP_TAG ".vptmp-"

int vpi_output_begin(VpiOutput *o, const char *final_path)
{
    char *dcopy = NULL, *bcopy = NULL;
    int ret = 0, fd;

    memset(o, 0, sizeof(*o));
    if (!final_path || !*final_path)
        return AVERROR(EINVAL);
    dcopy = strdup(final_path);
    bcopy = strdup(final_path);
    o->final_path = strdup(final_path);
    if (!dcopy || !bcopy || !o->final_path) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    const char *dir = dirname(dcopy), *base = basename(bcopy);
    size_t len = strlen(dir) + strlen(base) + sizeof(TEMP_TAG) + 16;
    if (!(o->tmp_path = malloc(len))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    /* O_EXCL with a random suffix, as mkstemp does, but created 0666 so that the kernel
     * applies the umask: mkstemp's 0600 would need the umask read back, and umask() can
     * only be read by setting it, a race with every other thread creating files. */
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        uint8_t rnd[6];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            ret = AVERROR(errno ? errno : EIO);
            goto fail;
        }
        char suffix[7];
        for (int i = 0; i < 6; i++)
            suffix[i] = digits[rnd[i] % 36];
        suffix[6] = 0;
        snprintf(o->tmp_path, len, "%s/.%s" TEMP_TAG "%s", dir, base, suffix);
        fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) {
            ret = AVERROR(errno);
            goto fail;
        }
    }
    if (fd < 0) {
        ret = AVERROR(EEXIST);
        goto fail;
    }
    close(fd);
    free(dcopy);
    free(bcopy);
    return 0;

fail:
    free(dcopy);
    free(bcopy);
    free(o->final_path);
    free(o->tmp_path);
    memset(o, 0, sizeof(*o));
    return ret;
}

static _Thread_local void (*commit_hook)(void *opaque, const char *final_path,
                                         const char *tmp_path);
static _Thread_local void *commit_opaque;

void vpi_output_set_commit_hook(void (*fn)(void *opaque, const char *final_path,
                                           const char *tmp_path), void *opaque)
{
    commit_hook = fn;
    commit_opaque = fn ? opaque : NULL;
}

int vpi_output_commit(VpiOutput *o)
{
    int ret = 0;
    if (commit_hook)
        commit_hook(commit_opaque, o->final_path, o->tmp_path);
    int fd = o->no_sync ? -2 : open(o->tmp_path, O_RDONLY);
    if (fd == -2) {
        /* no fsync asked for */
    } else if (fd >= 0) {
        if (fsync(fd) < 0)
            ret = AVERROR(errno);
        close(fd);
    } else {
        ret = AVERROR(errno);
    }
    if (!ret && rename(o->tmp_path, o->final_path) < 0)
        ret = AVERROR(errno);
    if (ret < 0) {
        vpi_output_abort(o);
        return ret;
    }
    free(o->final_path);
    free(o->tmp_path);
    memset(o, 0, sizeof(*o));
    return 0;
}

int vpi_output_write(const char *path, const void *data, size_t size, int no_sync)
{
    VpiOutput o;
    int ret = vpi_output_begin(&o, path);
    if (ret < 0)
        return ret;
    o.no_sync = no_sync;
    int fd = open(o.tmp_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        ret = AVERROR(errno);
    for (size_t done = 0; fd >= 0 && ret >= 0 && done < size;) {
        ssize_t w = write(fd, (const uint8_t *)data + done, size - done);
        if (w < 0 && errno != EINTR)
            ret = AVERROR(errno);
        else if (w > 0)
            done += (size_t)w;
    }
    if (fd >= 0 && close(fd) < 0 && ret >= 0)
        ret = AVERROR(errno);
    if (ret < 0) {
        vpi_output_abort(&o);
        return ret;
    }
    return vpi_output_commit(&o);
}

void vpi_output_abort(VpiOutput *o)
{
    if (o->tmp_path)
        unlink(o->tmp_path);
    free(o->final_path);
    free(o->tmp_path);
    memset(o, 0, sizeof(*o));
}

/* The one place where "is this output one of the inputs?" is decided, for the library's
 * entry points and the CLI alike (see common.h). By device and inode, not by path: no
 * spelling, link or mount of a file escapes it, and it needs no realpath() allocation. */
int vp_output_check_not_input(const char *out, const char *const *inputs, int nb)
{
    struct stat so, si;

    if (!out || !inputs || nb <= 0 || stat(out, &so) < 0)
        return 0;
    for (int i = 0; i < nb; i++)
        if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino)
            return VP_ERR_OUTPUT_IS_INPUT;
    return 0;
}

int vpi_output_is_temp_name(const char *name)
{
    return name[0] == '.' && strstr(name, TEMP_TAG) != NULL;
}
