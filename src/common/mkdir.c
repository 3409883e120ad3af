/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/error.h>

#include "helpers.h"

/* EEXIST is success only for a folder: another thread may have made it between our
 * checks, or it may be a file of that name. */
static int make_one(const char *path)
{
    struct stat sb;
    if (mkdir(path, 0777) == 0)
        return 0;
    if (errno != EEXIST)
        return AVERROR(errno);
    if (stat(path, &sb) < 0)
        return AVERROR(errno);
    return S_ISDIR(sb.st_mode) ? 0 : AVERROR(ENOTDIR);
}

int vpi_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t len = path ? strlen(path) : 0;
    int ret;

    if (!len)
        return AVERROR(ENOENT);
    if (len >= sizeof(buf))
        return AVERROR(ENAMETOOLONG);
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = 0;
        ret = make_one(buf);
        *p = '/';
        if (ret < 0)
            return ret;
    }
    return make_one(buf);
}
