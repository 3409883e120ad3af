/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every command checks before it opens an input file. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "internal.h"

int vpi_input_check(const char *path, struct stat *sb)
{
    if (stat(path, sb) < 0)
        return AVERROR(errno);
    if (S_ISDIR(sb->st_mode))
        return VP_ERR_IS_DIRECTORY;
    /* Reading a FIFO or device could block before any time bound applies. */
    if (!S_ISREG(sb->st_mode))
        return VP_ERR_NOT_REGULAR;
    if (access(path, R_OK) < 0)
        return AVERROR(errno);
    if (sb->st_size == 0)
        return VP_ERR_EMPTY_FILE;
    return 0;
}
