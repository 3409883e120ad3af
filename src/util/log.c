/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>

#include "internal.h"

static VpLogFn log_fn;
static void *log_opaque;
static int log_max_level = VP_LOG_INFO;

void vpi_log(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (!log_fn || level > log_max_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    log_fn(log_opaque, level, line);
}

/* FFmpeg logs in fragments that end with '\n'; av_log_format_line2 assembles a line with
 * the "[h264 @ 0x..]" prefix. Partial lines are rare in the paths vidpipe uses, so each
 * call becomes one line. */
static void av_log_forward(void *avcl, int level, const char *fmt, va_list vl)
{
    char line[1024];
    int print_prefix = 1;

    /* FFmpeg's messages only from VERBOSE on: at lower levels vidpipe reports the outcome
     * itself, in one line per file, instead of FFmpeg's fragments. */
    if (!log_fn || log_max_level < VP_LOG_VERBOSE || level > log_max_level ||
        level > AV_LOG_DEBUG)
        return;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    if (!n)
        return;
    int vl_level = level <= AV_LOG_ERROR ? VP_LOG_ERROR
                 : level <= AV_LOG_WARNING ? VP_LOG_WARNING
                 : level <= AV_LOG_INFO ? VP_LOG_INFO
                 : level <= AV_LOG_VERBOSE ? VP_LOG_VERBOSE : VP_LOG_DEBUG;
    log_fn(log_opaque, vl_level, line);
}

void vp_set_log_callback(VpLogFn fn, void *opaque, int max_level)
{
    log_fn = fn;
    log_opaque = opaque;
    log_max_level = max_level;
    av_log_set_level(!fn || max_level < VP_LOG_VERBOSE ? AV_LOG_QUIET
                     : max_level >= VP_LOG_DEBUG ? AV_LOG_DEBUG : max_level);
    av_log_set_callback(fn ? av_log_forward : av_log_default_callback);
}

void vpi_strlcpy(char *dst, const char *src, size_t size)
{
    if (!size)
        return;
    if (!src)
        src = "";
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}
