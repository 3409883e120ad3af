/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "internal.h"

/* The process-wide default logger (vp_set_log_callback): set before work starts, read
 * without a lock as the header documents. */
static VpLogFn log_fn;
static void *log_opaque;
static int log_max_level = VP_LOG_INFO;
static int log_default_set;

/* FFmpeg's log callback is one per process and receives only the context that logs
 * (avcl). Each format and codec context the library opens carries the logger of the call
 * that opened it in its `opaque` field (frame-threaded decoders copy the whole context into
 * their worker threads, opaque included, so their messages follow). Since avcl may also be
 * a context libvidpipe never opened, an opaque is only dereferenced when it is one of the
 * loggers registered here, for the time of the call. A few dozen at most: a linear scan
 * under a mutex costs less than formatting the line. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static const VpLogger **reg;
static size_t reg_nb, reg_cap;
static pthread_once_t av_cb_once = PTHREAD_ONCE_INIT;

/* Contexts FFmpeg creates itself (the decoders avformat_find_stream_info probes with,
 * parsers, filter graphs, AVIO and protocol contexts) carry no logger: their messages go to
 * the logger of the call running on the thread, set for the time of each entry point and on
 * each worker thread the library starts. */
static _Thread_local const VpLogger *scope_logger;

static void emit(VpLogFn fn, void *opaque, int level, char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    if (n)
        fn(opaque, level, line);
}

void vpi_log(const VpLogger *lg, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    VpLogFn fn = log_fn;
    void *opaque = log_opaque;
    int max_level = log_max_level;

    if (lg && lg->fn) {
        fn = lg->fn;
        opaque = lg->opaque;
        max_level = lg->level;
    }
    if (!fn || level > max_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    emit(fn, opaque, level, line);
}

/* The logger a message from @p avcl belongs to, copied under the lock (the registration
 * may end right after). Returns 0 when it belongs to none. */
static int find_logger(void *avcl, VpLogger *out)
{
    const AVClass *cls = avcl ? *(const AVClass **)avcl : NULL;
    const void *key = NULL;
    int found = 0;

    if (!cls)
        goto scope;
    if (cls == avformat_get_class())
        key = ((AVFormatContext *)avcl)->opaque;
    else if (cls == avcodec_get_class())
        key = ((AVCodecContext *)avcl)->opaque;
    if (!key)
        goto scope;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < reg_nb; i++) {
        if (reg[i] == key) {
            *out = *reg[i];
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    if (found)
        return 1;
scope:
    /* Set by this thread inside the call it belongs to: alive, no lock needed. */
    if (!scope_logger || !scope_logger->fn)
        return 0;
    *out = *scope_logger;
    return 1;
}

/* FFmpeg logs in fragments that end with '\n'; av_log_format_line2 assembles a line with
 * the "[h264 @ 0x..]" prefix. Partial lines are rare in the paths vidpipe uses, so each
 * call becomes one line. */
static void av_log_forward(void *avcl, int level, const char *fmt, va_list vl)
{
    char line[1024];
    int print_prefix = 1;
    VpLogger lg;

    if (level > AV_LOG_DEBUG)
        return;
    if (!find_logger(avcl, &lg)) {
        /* A message of no libvidpipe call: the default logger's, or FFmpeg's own stderr
         * at its own default level when no default was ever set (as before any call
         * carried a logger). */
        if (!log_default_set) {
            if (level <= AV_LOG_INFO)
                av_log_default_callback(avcl, level, fmt, vl);
            return;
        }
        lg = (VpLogger){ log_fn, log_opaque, log_max_level };
    }
    /* FFmpeg's messages only from VERBOSE on: at lower levels vidpipe reports the outcome
     * itself, in one line per file, instead of FFmpeg's fragments. */
    if (!lg.fn || lg.level < VP_LOG_VERBOSE || level > lg.level)
        return;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    int vl_level = level <= AV_LOG_ERROR ? VP_LOG_ERROR
                 : level <= AV_LOG_WARNING ? VP_LOG_WARNING
                 : level <= AV_LOG_INFO ? VP_LOG_INFO
                 : level <= AV_LOG_VERBOSE ? VP_LOG_VERBOSE : VP_LOG_DEBUG;
    emit(lg.fn, lg.opaque, vl_level, line);
}

static void install_av_callback(void)
{
    av_log_set_callback(av_log_forward);
}

/* av_log drops messages above its process-wide level before calling back: keep it at the
 * most verbose level any logger wants FFmpeg's messages at. Called with reg_lock held. */
static void update_av_level(void)
{
    int want = log_default_set ? (!log_fn || log_max_level < VP_LOG_VERBOSE ? AV_LOG_QUIET
                                                                             : log_max_level)
                               : AV_LOG_INFO;
    for (size_t i = 0; i < reg_nb; i++)
        if (reg[i]->level >= VP_LOG_VERBOSE && reg[i]->level > want)
            want = reg[i]->level;
    av_log_set_level(want > AV_LOG_DEBUG ? AV_LOG_DEBUG : want);
}

int vpi_log_register(const VpLogger *lg)
{
    int ret = 0;

    if (!lg || !lg->fn)
        return 0;
    pthread_once(&av_cb_once, install_av_callback);
    pthread_mutex_lock(&reg_lock);
    if (reg_nb == reg_cap) {
        size_t cap = reg_cap ? reg_cap * 2 : 16;
        const VpLogger **r = realloc(reg, cap * sizeof(*r));
        if (!r) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        reg = r;
        reg_cap = cap;
    }
    reg[reg_nb++] = lg;
    update_av_level();
end:
    pthread_mutex_unlock(&reg_lock);
    return ret;
}

void vpi_log_unregister(const VpLogger *lg)
{
    if (!lg || !lg->fn)
        return;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = reg_nb; i-- > 0;) {
        if (reg[i] == lg) {
            reg[i] = reg[--reg_nb];
            break;
        }
    }
    update_av_level();
    pthread_mutex_unlock(&reg_lock);
}

const VpLogger *vpi_log_scope_enter(const VpLogger *lg)
{
    const VpLogger *prev = scope_logger;
    scope_logger = lg;
    return prev;
}

void vpi_log_scope_leave(const VpLogger *prev)
{
    scope_logger = prev;
}

void vp_set_log_callback(VpLogFn fn, void *opaque, int max_level)
{
    pthread_once(&av_cb_once, install_av_callback);
    pthread_mutex_lock(&reg_lock);
    log_fn = fn;
    log_opaque = opaque;
    log_max_level = max_level;
    log_default_set = 1;
    update_av_level();
    pthread_mutex_unlock(&reg_lock);
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
