/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>

#include "vidpipe/common.h"
#include "version.h"
#include "internal.h"

static const struct {
    int code;
    const char *name;
    const char *msg;
} vp_errors[] = {
#define VP_X_ENTRY(name, value, msg) { value, #name, msg },
    VP_ERROR_TABLE(VP_X_ENTRY)
#undef VP_X_ENTRY
};

static const struct {
    int code;
    const char *name;
} av_errors[] = {
    { AVERROR_BSF_NOT_FOUND, "AVERROR_BSF_NOT_FOUND" },
    { AVERROR_BUG, "AVERROR_BUG" },
    { AVERROR_BUFFER_TOO_SMALL, "AVERROR_BUFFER_TOO_SMALL" },
    { AVERROR_DECODER_NOT_FOUND, "AVERROR_DECODER_NOT_FOUND" },
    { AVERROR_DEMUXER_NOT_FOUND, "AVERROR_DEMUXER_NOT_FOUND" },
    { AVERROR_ENCODER_NOT_FOUND, "AVERROR_ENCODER_NOT_FOUND" },
    { AVERROR_EOF, "AVERROR_EOF" },
    { AVERROR_EXIT, "AVERROR_EXIT" },
    { AVERROR_EXTERNAL, "AVERROR_EXTERNAL" },
    { AVERROR_FILTER_NOT_FOUND, "AVERROR_FILTER_NOT_FOUND" },
    { AVERROR_INVALIDDATA, "AVERROR_INVALIDDATA" },
    { AVERROR_MUXER_NOT_FOUND, "AVERROR_MUXER_NOT_FOUND" },
    { AVERROR_OPTION_NOT_FOUND, "AVERROR_OPTION_NOT_FOUND" },
    { AVERROR_PATCHWELCOME, "AVERROR_PATCHWELCOME" },
    { AVERROR_PROTOCOL_NOT_FOUND, "AVERROR_PROTOCOL_NOT_FOUND" },
    { AVERROR_STREAM_NOT_FOUND, "AVERROR_STREAM_NOT_FOUND" },
    { AVERROR_UNKNOWN, "AVERROR_UNKNOWN" },
    { AVERROR(ENOENT), "ENOENT" },
    { AVERROR(EACCES), "EACCES" },
    { AVERROR(ENOMEM), "ENOMEM" },
    { AVERROR(EINVAL), "EINVAL" },
    { AVERROR(EIO), "EIO" },
    { AVERROR(ENOSPC), "ENOSPC" },
    { AVERROR(EISDIR), "EISDIR" },
    { AVERROR(EEXIST), "EEXIST" },
    { AVERROR(EAGAIN), "EAGAIN" },
    { AVERROR(ENOTDIR), "ENOTDIR" },
    { AVERROR(EPERM), "EPERM" },
    { AVERROR(ENOSYS), "ENOSYS" },
    { AVERROR(ETIMEDOUT), "ETIMEDOUT" },
};

const char *vp_err_name(int err)
{
    for (size_t i = 0; i < sizeof(vp_errors) / sizeof(vp_errors[0]); i++)
        if (vp_errors[i].code == err)
            return vp_errors[i].name;
    for (size_t i = 0; i < sizeof(av_errors) / sizeof(av_errors[0]); i++)
        if (av_errors[i].code == err)
            return av_errors[i].name;
    return err >= 0 ? "OK" : "UNKNOWN";
}

const char *vp_strerror(int err)
{
    static _Thread_local char buf[AV_ERROR_MAX_STRING_SIZE + 32];

    if (err >= 0)
        return "success";
    for (size_t i = 0; i < sizeof(vp_errors) / sizeof(vp_errors[0]); i++)
        if (vp_errors[i].code == err)
            return vp_errors[i].msg;
    /* FFmpeg's strerror for errno values is strerror(): keep the familiar lower-case form. */
    if (err == AVERROR(ENOENT))
        return "no such file or directory";
    if (err == AVERROR(EACCES))
        return "permission denied";
    if (err == AVERROR_INVALIDDATA)
        return "invalid data found when processing input";
    if (av_strerror(err, buf, sizeof(buf)) < 0)
        snprintf(buf, sizeof(buf), "error %d", err);
    return buf;
}

const char *vp_version(void)
{
    return VIDPIPE_VERSION_STRING;
}

int vpi_fail(VpFailure *fail, int input, const char *path, int err, const char *why)
{
    if (fail) {
        fail->code = err;
        fail->input = input;
        vpi_strlcpy(fail->path, path, sizeof(fail->path));
        snprintf(fail->message, sizeof(fail->message), "%.500s: %.500s", path,
                 why ? why : vp_strerror(err));
    }
    return err;
}
