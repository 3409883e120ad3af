/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every command checks before it opens an input file, and how it opens one. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
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

/* An ISO BMFF file starts with a box whose type is ftyp (or a bare mdat/free/wide/skip):
 * when FFmpeg cannot open such a file, its moov is missing. */
int vpi_open_error(const char *path, const uint8_t *head, size_t head_size, int err)
{
    uint8_t buf[8];

    if (err != AVERROR_INVALIDDATA)
        return err;
    if (!head) {
        FILE *f = path ? fopen(path, "rb") : NULL;
        head_size = f ? fread(buf, 1, sizeof(buf), f) : 0;
        if (f)
            fclose(f);
        head = buf;
    }
    if (head_size < 8)
        return VP_ERR_NOT_MEDIA;
    return !memcmp(head + 4, "ftyp", 4) || !memcmp(head + 4, "mdat", 4) ||
           !memcmp(head + 4, "wide", 4) || !memcmp(head + 4, "free", 4) ||
           !memcmp(head + 4, "skip", 4) ? VP_ERR_NO_MOOV : VP_ERR_NOT_MEDIA;
}

int vpi_open_input(AVFormatContext **ic, const char *path, const VpCancel *cancel,
                   const VpLogger *lg)
{
    int ret;

    if (!(*ic = avformat_alloc_context()))
        return AVERROR(ENOMEM);
    (*ic)->interrupt_callback = (AVIOInterruptCB){ cancel->fn, cancel->opaque };
    (*ic)->opaque = (void *)lg;
    if ((ret = avformat_open_input(ic, path, NULL, NULL)) < 0) {
        *ic = NULL; /* freed by avformat_open_input on failure */
        return vpi_cancelled(cancel) ? VP_ERR_CANCELLED : vpi_open_error(path, NULL, 0, ret);
    }
    return 0;
}

int vpi_pread_full(int fd, void *dst, size_t size, int64_t pos)
{
    for (size_t got = 0; got < size;) {
        ssize_t r = pread(fd, (uint8_t *)dst + got, size - got, (off_t)(pos + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? AVERROR(errno) : VP_ERR_TRUNCATED;
        got += (size_t)r;
    }
    return 0;
}
