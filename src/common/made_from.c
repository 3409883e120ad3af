/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The record of what made an output, so that a rerun over many items redoes only what
 * changed. It is kept as the output's extended attribute rather than a sidecar file: it
 * goes wherever the file is renamed or copied with its attributes, is gone when the file
 * is, and adds no file to a folder users hand on. Where the file system has no user
 * attributes (vfat, some network mounts) there is no record, and the rule is to redo. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>

#include "helpers.h"

#define ATTR "user.vidpipe.made_from"

int vpi_made_from(const char *const *inputs, size_t nb, const char *settings,
                  char stamp[VPI_MADE_FROM_SIZE])
{
    struct AVSHA *sha = av_sha_alloc();
    uint8_t digest[32];
    char line[96];

    if (!sha)
        return AVERROR(ENOMEM);
    av_sha_init(sha, 256);
    for (size_t i = 0; i < nb; i++) {
        struct stat sb;
        if (!inputs[i])
            continue;
        if (stat(inputs[i], &sb) < 0) {
            int ret = AVERROR(errno);
            av_free(sha);
            return ret;
        }
        /* The NUL ends the path, so "a" + "1 2" never hashes like "a1" + " 2". */
        av_sha_update(sha, (const uint8_t *)inputs[i], strlen(inputs[i]) + 1);
        int n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 ".%09ld\n",
                         (int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec,
                         (long)sb.st_mtim.tv_nsec);
        av_sha_update(sha, (const uint8_t *)line, (size_t)n);
    }
    if (settings)
        av_sha_update(sha, (const uint8_t *)settings, strlen(settings));
    av_sha_final(sha, digest);
    av_free(sha);
    for (int i = 0; i < 32; i++)
        snprintf(stamp + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

/* The record: the stamp, then the output's own size and modification time, so that an
 * output changed since (truncated, rewritten in place: the attribute stays) is not taken for
 * the one recorded. Setting the attribute changes the ctime only. */
static int record(const char *path, const char *stamp, char *buf, size_t size)
{
    struct stat sb;
    if (stat(path, &sb) < 0)
        return AVERROR(errno);
    snprintf(buf, size, "%s %" PRId64 " %" PRId64 ".%09ld", stamp, (int64_t)sb.st_size,
             (int64_t)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec);
    return 0;
}

int vpi_made_from_store(const char *path, const char *stamp)
{
    char rec[VPI_MADE_FROM_SIZE + 64];
    int ret = record(path, stamp, rec, sizeof(rec));
    if (ret < 0)
        return ret;
    if (setxattr(path, ATTR, rec, strlen(rec), 0) < 0)
        return AVERROR(errno);
    return 0;
}

int vpi_made_from_matches(const char *path, const char *stamp)
{
    char want[VPI_MADE_FROM_SIZE + 64], got[VPI_MADE_FROM_SIZE + 64];
    if (record(path, stamp, want, sizeof(want)) < 0)
        return 0;
    ssize_t n = getxattr(path, ATTR, got, sizeof(got) - 1);
    if (n < 0)
        return 0;
    got[n] = 0;
    return !strcmp(got, want);
}
