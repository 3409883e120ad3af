/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The frame writer. Three stages, each on its own thread, joined by bounded queues:
 *
 *   caller: write() copies the frame into a pooled buffer      -> to_convert
 *   converter: libswscale into the encoder's layout            -> to_encode
 *   encoder: avcodec (libx264 runs its own frame threads), then the muxer
 *
 * Frames whose layout the encoder takes as is skip the converter. "inflight" counts frames
 * between write() and the end of their encode call; write() waits while it is at
 * queue_depth. Buffers come from AVBufferPools and frame structs from a spare stack, so
 * steady state allocates nothing per frame. The first error any stage meets is kept with
 * its message, stops the stages, and is returned by every later write() and by close(). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "convert.h"
#include "encoder.h"
#include "options/options.h"
#include "util/internal.h"
#include "vidpipe/writer.h"

#define PLANE_ALIGN 64
#define ROW_ALIGN 32
/* SIMD converters may read a little past the last row. */
#define BUF_PADDING 64

typedef struct FrameQueue {
    AVFrame **items;
    int cap, head, count;
} FrameQueue;

/* Where each plane of a frame lives inside one pooled buffer. */
typedef struct Layout {
    enum AVPixelFormat fmt;
    int nb_planes;
    int linesize[4];
    size_t offset[4];
    int rows[4];
    int row_bytes[4];
    size_t size;
} Layout;

struct VpWriter {
    VpWriterOpts opts;
    int logger_registered;      /* opts.logger is in log.c's registry until writer_free */
    char *preset, *encoder_params;
    char *path;
    VpiOutput out;
    int64_t t_open;

    AVFormatContext *oc;
    AVStream *vst, *ast;
    VpiEncoder enc;
    AVPacket *vpkt;

    Layout in, conv;
    int convert;
    int own_convert;     /* convert.c handles this pair of layouts, else libswscale */
    VpiYuvMatrix matrix;
    struct SwsContext *sws;
    AVBufferPool *in_pool, *conv_pool;

    pthread_mutex_t lock;
    pthread_cond_t cond_space, cond_to_convert, cond_to_encode;
    FrameQueue to_convert, to_encode;
    AVFrame **spare;
    int nb_spare, spare_cap;
    int inflight;
    int input_done;      /* close(): no more frames from the caller */
    int frames_done;     /* no more frames will enter to_encode */
    int aborting;
    int err;
    char errmsg[512];
    pthread_t conv_thread, enc_thread;
    int conv_started, enc_started;
    int locks_ready;

    pthread_mutex_t mux_lock;
    int64_t frames_out, next_pts, blocked;

    /* audio: encoded on the caller's thread */
    AVCodecContext *aenc;
    AVFrame *aframe;
    AVPacket *apkt;
    int afill;
    int64_t apts, audio_samples;
};

static const char *const pix_names[VP_PIX_NB + 1] = {
    "bgr24", "rgb24", "bgra", "rgba", "gray", "yuv420p", "nv12", NULL,
};
static const enum AVPixelFormat pix_av[VP_PIX_NB] = {
    AV_PIX_FMT_BGR24, AV_PIX_FMT_RGB24, AV_PIX_FMT_BGRA, AV_PIX_FMT_RGBA, AV_PIX_FMT_GRAY8,
    AV_PIX_FMT_YUV420P, AV_PIX_FMT_NV12,
};

/* Index of @p name in @p names[0..n), or -1. */
static int name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

const char *vp_pixel_format_name(VpPixelFormat fmt)
{
    return (unsigned)fmt < VP_PIX_NB ? pix_names[fmt] : NULL;
}

int vp_pixel_format_from_name(const char *name)
{
    return name_index(pix_names, VP_PIX_NB, name);
}

const char *vp_hw_encoder_name(VpHwEncoder hw)
{
    return (unsigned)hw < VP_HW_NB ? vpi_hw_names[hw] : NULL;
}

int vp_hw_encoder_from_name(const char *name)
{
    return name_index(vpi_hw_names, VP_HW_NB, name);
}

void vp_writer_default_opts(VpWriterOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_writer_options, o);
}

/* ---- errors ------------------------------------------------------------------------ */

static void set_error_locked(VpWriter *w, int err, const char *fmt, va_list ap)
{
    if (w->err)
        return;
    char reason[400];
    vsnprintf(reason, sizeof(reason), fmt, ap);
    w->err = err;
    snprintf(w->errmsg, sizeof(w->errmsg), "%s: %s", w->path, reason);
    /* The caller gets the message from write()/close(); the log only traces when. */
    vpi_log(&w->opts.logger, VP_LOG_VERBOSE, "%s", w->errmsg);
    pthread_cond_broadcast(&w->cond_space);
    pthread_cond_broadcast(&w->cond_to_convert);
    pthread_cond_broadcast(&w->cond_to_encode);
}

static int set_error(VpWriter *w, int err, const char *fmt, ...) VPI_PRINTF(3, 4);
static int set_error(VpWriter *w, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&w->lock);
    set_error_locked(w, err, fmt, ap);
    err = w->err;
    pthread_mutex_unlock(&w->lock);
    va_end(ap);
    return err;
}

static int why_fail(const VpLogger *lg, char *why, size_t why_size, int err, const char *fmt,
                    ...) VPI_PRINTF(5, 6);
static int why_fail(const VpLogger *lg, char *why, size_t why_size, int err, const char *fmt,
                    ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (why && why_size)
        vpi_strlcpy(why, line, why_size);
    else
        vpi_log(lg, VP_LOG_ERROR, "%s", line);
    return err;
}

/* ---- frames, queues, layouts --------------------------------------------------------- */

static void layout_init(Layout *l, enum AVPixelFormat fmt, int w, int h)
{
    memset(l, 0, sizeof(*l));
    l->fmt = fmt;
    switch (fmt) {
    case AV_PIX_FMT_YUV420P:
        l->nb_planes = 3;
        l->row_bytes[0] = w;
        l->row_bytes[1] = l->row_bytes[2] = w / 2;
        l->rows[0] = h;
        l->rows[1] = l->rows[2] = h / 2;
        break;
    case AV_PIX_FMT_NV12:
        l->nb_planes = 2;
        l->row_bytes[0] = l->row_bytes[1] = w;
        l->rows[0] = h;
        l->rows[1] = h / 2;
        break;
    default:
        l->nb_planes = 1;
        l->row_bytes[0] = w * av_get_bits_per_pixel(av_pix_fmt_desc_get(fmt)) / 8;
        l->rows[0] = h;
        break;
    }
    size_t off = 0;
    for (int i = 0; i < l->nb_planes; i++) {
        l->linesize[i] = FFALIGN(l->row_bytes[i], ROW_ALIGN);
        l->offset[i] = off;
        off = FFALIGN(off + (size_t)l->linesize[i] * l->rows[i], PLANE_ALIGN);
    }
    l->size = off + BUF_PADDING;
}

static void frame_attach(AVFrame *f, AVBufferRef *buf, const Layout *l, int w, int h)
{
    f->buf[0] = buf;
    for (int i = 0; i < l->nb_planes; i++) {
        f->data[i] = buf->data + l->offset[i];
        f->linesize[i] = l->linesize[i];
    }
    f->format = l->fmt;
    f->width = w;
    f->height = h;
}

static int queue_init(FrameQueue *q, int cap)
{
    q->items = av_calloc(cap, sizeof(*q->items));
    q->cap = cap;
    return q->items ? 0 : AVERROR(ENOMEM);
}

static void queue_push(FrameQueue *q, AVFrame *f)
{
    q->items[(q->head + q->count++) % q->cap] = f;
}

static AVFrame *queue_pop(FrameQueue *q)
{
    AVFrame *f = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return f;
}

static void queue_free(FrameQueue *q)
{
    while (q->items && q->count) {
        AVFrame *f = queue_pop(q);
        av_frame_free(&f);
    }
    av_freep(&q->items);
}

/* Call with the lock held. */
static AVFrame *spare_get(VpWriter *w)
{
    return w->nb_spare ? w->spare[--w->nb_spare] : av_frame_alloc();
}

static void spare_put(VpWriter *w, AVFrame *f)
{
    av_frame_unref(f);
    if (w->nb_spare < w->spare_cap)
        w->spare[w->nb_spare++] = f;
    else
        av_frame_free(&f);
}

/* ---- the stages ---------------------------------------------------------------------- */

static int check_cancel(VpWriter *w);

static int mux_packet(VpWriter *w, AVPacket *pkt)
{
    pthread_mutex_lock(&w->mux_lock);
    int ret = av_interleaved_write_frame(w->oc, pkt);
    pthread_mutex_unlock(&w->mux_lock);
    if (ret < 0) {
        int c = check_cancel(w); /* AVERROR_EXIT from the cancel: say cancelled */
        return c < 0 ? c : set_error(w, ret, "writing failed: %s", av_err2str(ret));
    }
    return 0;
}

/* opts.cancel, as the writer's error: the stages stop and close() removes the file. */
static int check_cancel(VpWriter *w)
{
    if (!vpi_cancelled(&w->opts.cancel))
        return 0;
    return set_error(w, VP_ERR_CANCELLED, "cancelled");
}

/* Send one frame (NULL: flush) and mux every packet that comes out. The cancel is polled
 * between packets: a flush drains the encoder's whole lookahead and frame threads (with
 * "veryslow", 60 frames and more), and each receive call encodes one of them. */
static int encode_video(VpWriter *w, AVFrame *f)
{
    AVCodecContext *c = w->enc.ctx;
    int ret;

    if ((ret = check_cancel(w)) < 0)
        return ret;
    ret = vpi_encoder_send(&w->enc, f);
    if (ret < 0)
        return set_error(w, ret, "encoder %s failed: %s", c->codec->name, av_err2str(ret));
    for (;;) {
        ret = avcodec_receive_packet(c, w->vpkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return set_error(w, ret, "encoder %s failed: %s", c->codec->name, av_err2str(ret));
        w->vpkt->stream_index = w->vst->index;
        av_packet_rescale_ts(w->vpkt, c->time_base, w->vst->time_base);
        ret = mux_packet(w, w->vpkt);
        av_packet_unref(w->vpkt);
        if (ret < 0)
            return ret;
        w->frames_out++;
        if ((ret = check_cancel(w)) < 0)
            return ret;
    }
}

/* Lower the calling thread's priority: @p nice steps down, and on Linux the SCHED_BATCH
 * policy. Both belong to the thread and threads inherit them from their creator. A
 * SCHED_BATCH thread that wakes never preempts the running one; it waits for the next
 * tick. Without it, an x264 thread waking at nice 5 still preempted the caller mid-copy
 * now and then, for a whole scheduler slice (2-4 ms). Best effort: a refusal only costs
 * latency. */
static void lower_priority(int nice)
{
    if (nice <= 0)
        return;
#ifdef SCHED_BATCH
    struct sched_param sp = { 0 };
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
#endif
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, 0);
    if (cur == -1 && errno)
        return;
    setpriority(PRIO_PROCESS, 0, cur + nice > 19 ? 19 : cur + nice);
}

static void *converter_main(void *arg)
{
    VpWriter *w = arg;
    const int width = w->opts.width, height = w->opts.height;
    vpi_log_scope_enter(&w->opts.logger);

    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->to_convert.count && !w->input_done && !w->err && !w->aborting)
            pthread_cond_wait(&w->cond_to_convert, &w->lock);
        if (w->err || w->aborting || !w->to_convert.count) {
            w->frames_done = 1;
            pthread_cond_signal(&w->cond_to_encode);
            pthread_mutex_unlock(&w->lock);
            break;
        }
        AVFrame *in = queue_pop(&w->to_convert);
        AVFrame *out = spare_get(w);
        pthread_mutex_unlock(&w->lock);
        if (check_cancel(w) < 0) {
            av_frame_free(&out);
            av_frame_free(&in);
            break;
        }

        AVBufferRef *buf = av_buffer_pool_get(w->conv_pool);
        if (!out || !buf) {
            av_buffer_unref(&buf);
            av_frame_free(&out);
            av_frame_free(&in);
            set_error(w, AVERROR(ENOMEM), "out of memory");
            break;
        }
        frame_attach(out, buf, &w->conv, width, height);
        out->pts = in->pts;
        if (w->own_convert)
            vpi_convert_to_420(w->in.fmt, in->data[0], in->linesize[0], w->conv.fmt, out->data,
                               out->linesize, width, 0, height, &w->matrix);
        else
            sws_scale(w->sws, (const uint8_t *const *)in->data, in->linesize, 0, height,
                      out->data, out->linesize);

        pthread_mutex_lock(&w->lock);
        spare_put(w, in);
        queue_push(&w->to_encode, out);
        pthread_cond_signal(&w->cond_to_encode);
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

static void *encoder_main(void *arg)
{
    VpWriter *w = arg;
    vpi_log_scope_enter(&w->opts.logger);

    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->to_encode.count && !w->frames_done && !w->err && !w->aborting)
            pthread_cond_wait(&w->cond_to_encode, &w->lock);
        if (w->err || w->aborting) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        if (!w->to_encode.count) {
            pthread_mutex_unlock(&w->lock);
            encode_video(w, NULL);
            break;
        }
        AVFrame *f = queue_pop(&w->to_encode);
        pthread_mutex_unlock(&w->lock);

        int ret = encode_video(w, f);

        pthread_mutex_lock(&w->lock);
        spare_put(w, f);
        w->inflight--;
        pthread_cond_signal(&w->cond_space);
        pthread_mutex_unlock(&w->lock);
        if (ret < 0)
            break;
    }
    return NULL;
}

/* The writer's threads run opts.worker_nice steps below the thread that opened it. They
 * are created, and the encoder opened (x264 starts its frame threads then), by a
 * short-lived helper thread that lowered its own priority first: threads inherit their
 * creator's nice value, so each starts at the lower priority from its first instruction. */
typedef struct LoweredJob {
    VpWriter *w;
    int (*fn)(VpWriter *w, void *arg);
    void *arg;
    int ret;
} LoweredJob;

static void *lowered_main(void *arg)
{
    LoweredJob *j = arg;
    vpi_log_scope_enter(&j->w->opts.logger);
    lower_priority(j->w->opts.worker_nice);
    j->ret = j->fn(j->w, j->arg);
    return NULL;
}

/* fn(w, arg) on a helper thread at the workers' priority; on the caller's thread when the
 * priority is not lowered or no helper thread can be had. */
static int run_lowered(VpWriter *w, int (*fn)(VpWriter *w, void *arg), void *arg)
{
    LoweredJob j = { w, fn, arg, 0 };
    pthread_t t;
    if (w->opts.worker_nice <= 0 || pthread_create(&t, NULL, lowered_main, &j))
        return fn(w, arg);
    pthread_join(t, NULL);
    return j.ret;
}

typedef struct EncoderOpenArgs {
    const VpiEncoderSettings *setup;
    char *tried, *reason;
    size_t tried_size, reason_size;
} EncoderOpenArgs;

static int open_encoder(VpWriter *w, void *arg)
{
    EncoderOpenArgs *a = arg;
    return vpi_encoder_open(a->setup, &w->enc, a->tried, a->tried_size, a->reason,
                            a->reason_size);
}

static int start_threads(VpWriter *w, void *arg)
{
    (void)arg;
    int ret;
    if (w->convert) {
        if ((ret = pthread_create(&w->conv_thread, NULL, converter_main, w)))
            return AVERROR(ret);
        w->conv_started = 1;
    }
    if ((ret = pthread_create(&w->enc_thread, NULL, encoder_main, w)))
        return AVERROR(ret);
    w->enc_started = 1;
    return 0;
}

/* ---- open ---------------------------------------------------------------------------- */

/* Take @p n buffers from the pool and touch every page, so the first frames' write() calls
 * do not pay for page faults (a 1080p BGR frame is ~1500 pages). */
static int prefault_pool(AVBufferPool *pool, int n)
{
    AVBufferRef *bufs[260];
    int ret = 0, i;
    for (i = 0; i < n && i < 260; i++) {
        if (!(bufs[i] = av_buffer_pool_get(pool))) {
            ret = AVERROR(ENOMEM);
            break;
        }
        memset(bufs[i]->data, 0, bufs[i]->size);
    }
    while (i--)
        av_buffer_unref(&bufs[i]);
    return ret;
}

static void pool_free(void *opaque, uint8_t *data)
{
    (void)opaque;
    free(data);
}

/* Pool buffers of 2 MiB and more are aligned to and padded out to 2 MiB pages and offered
 * to the kernel as transparent huge pages: a 720p BGR frame then takes 2 page faults
 * instead of 675, and copying and converting it miss the TLB less. */
static AVBufferRef *pool_alloc(size_t size)
{
    const size_t huge = (size_t)2 << 20;
    size_t n = size >= huge ? (size + huge - 1) / huge * huge : size;
    void *p = NULL;
    if (posix_memalign(&p, size >= huge ? huge : 64, n))
        return NULL;
#ifdef MADV_HUGEPAGE
    if (n >= huge)
        madvise(p, n, MADV_HUGEPAGE);
#endif
    AVBufferRef *b = av_buffer_create(p, size, pool_free, NULL, 0);
    if (!b)
        free(p);
    return b;
}

static const char *const codec_names[] = { "h264", "hevc", NULL };
static const char *const sample_names[] = { "s16", "flt", NULL };

#define O(n, t, field, d, lo, hi, h, ...) \
    { .name = #n, .help = h, .type = VPI_OPT_##t, .offset = offsetof(VpWriterOpts, field), \
      .def = d, .min = lo, .max = hi, __VA_ARGS__ }

static const VpiOption writer_options[] = {
    O(width, INT, width, 0, 2, 16384, "frame width in pixels (required)", .flags = VPI_OPT_EVEN),
    O(height, INT, height, 0, 2, 16384, "frame height in pixels (required)",
      .flags = VPI_OPT_EVEN),
    /* An alias setting both, as FFmpeg's "video_size": checked through width and height. */
    O(size, SIZE, width, 0, 2, 16384, "frame size: 1280x720, hd720 (required)",
      .flags = VPI_OPT_EVEN | VPI_OPT_ALIAS),
    O(fps, RATIONAL, fps, 0, 0.001, 1000, "frame rate: 30, 29.97, 30000/1001, ntsc",
      .def_str = "30"),
    O(pix_fmt, ENUM, pix_fmt, VP_PIX_BGR24, 0, 0, "layout of the frames given",
      .names = pix_names),
    O(codec, ENUM, codec, VP_CODEC_H264, 0, 0, "video codec", .names = codec_names),
    O(crf, INT, crf, 23, 0, 51, "constant quality, lower is better"),
    O(bitrate, BITRATE, bitrate, 0, 1000, 2e9,
      "target bits/s instead of constant quality: 6M, 800k (0: constant quality)",
      .flags = VPI_OPT_ZERO_OK),
    O(preset, CSTRING, preset, 0, 0, 0, "x264-style speed preset", .def_str = "medium",
      .names = vpi_x264_presets),
    O(keyint, INT, keyint, 0, 0, 100000, "frames between keyframes (0: the encoder's)"),
    O(hw, ENUM, hw, VP_HW_AUTO, 0, 0, VPI_HW_HELP,
      .names = vpi_hw_names),
    O(queue_depth, INT, queue_depth, 8, 2, 256, "frames buffered ahead of the encoder"),
    O(threads, INT, threads, 0, 0, 128, "encoder threads (0: the encoder's choice)"),
    O(encoder_params, CSTRING, encoder_params, 0, 0, 400,
      "extra key=value:... passed as x264-params / x265-params"),
    O(audio_sample_rate, INT, audio_sample_rate, 0, 8000, 96000,
      "adds an AAC track at this rate (0: no audio)", .flags = VPI_OPT_ZERO_OK),
    O(audio_channels, INT, audio_channels, 2, 1, 8, "audio channels"),
    O(audio_format, ENUM, audio_format, VP_SAMPLE_S16, 0, 0, "interleaved sample layout",
      .names = sample_names),
    O(audio_bitrate, BITRATE, audio_bitrate, 128000, 8000, 1024000, "AAC bits/s"),
    O(worker_nice, INT, worker_nice, 5, 0, 19,
      "nice increment of the writer's threads (0: equal to the caller's)"),
    { NULL },
};
#undef O

const VpiOptTable vpi_writer_options = { "writer", writer_options, NULL };

static int open_audio(VpWriter *w, char *reason, size_t n)
{
    const VpWriterOpts *o = &w->opts;
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    int ret;

    if (!codec) {
        snprintf(reason, n, "no AAC encoder in this FFmpeg build");
        return AVERROR_ENCODER_NOT_FOUND;
    }
    if (!(w->aenc = avcodec_alloc_context3(codec)) || !(w->aframe = av_frame_alloc()) ||
        !(w->apkt = av_packet_alloc()) || !(w->ast = avformat_new_stream(w->oc, NULL)))
        return AVERROR(ENOMEM);
    AVCodecContext *c = w->aenc;
    c->opaque = &w->opts.logger;
    c->sample_rate = o->audio_sample_rate;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&c->ch_layout, o->audio_channels);
    c->bit_rate = o->audio_bitrate;
    c->time_base = (AVRational){ 1, o->audio_sample_rate };
    if (w->oc->oformat->flags & AVFMT_GLOBALHEADER)
        c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(c, codec, NULL)) < 0) {
        snprintf(reason, n, "AAC encoder cannot be opened (%s)", av_err2str(ret));
        return ret;
    }
    if ((ret = avcodec_parameters_from_context(w->ast->codecpar, c)) < 0)
        return ret;
    w->ast->time_base = c->time_base;
    w->aframe->format = c->sample_fmt;
    w->aframe->nb_samples = c->frame_size;
    w->aframe->sample_rate = c->sample_rate;
    if ((ret = av_channel_layout_copy(&w->aframe->ch_layout, &c->ch_layout)) < 0 ||
        (ret = av_frame_get_buffer(w->aframe, 0)) < 0)
        return ret;
    return 0;
}

/* Ends the converter and encoder threads and waits for them: @p abort drops the frames
 * still queued, otherwise every frame is encoded and the encoder flushed first. */
static void stop_workers(VpWriter *w, int abort)
{
    pthread_mutex_lock(&w->lock);
    if (abort) {
        w->aborting = 1;
    } else {
        w->input_done = 1;
        if (!w->convert)
            w->frames_done = 1;
    }
    pthread_cond_broadcast(&w->cond_space);
    pthread_cond_broadcast(&w->cond_to_convert);
    pthread_cond_broadcast(&w->cond_to_encode);
    pthread_mutex_unlock(&w->lock);
    if (w->conv_started)
        pthread_join(w->conv_thread, NULL);
    if (w->enc_started)
        pthread_join(w->enc_thread, NULL);
    w->conv_started = w->enc_started = 0;
}

static void writer_free(VpWriter *w)
{
    if (!w)
        return;
    if (w->locks_ready)
        stop_workers(w, 1);
    queue_free(&w->to_convert);
    queue_free(&w->to_encode);
    for (int i = 0; i < w->nb_spare; i++)
        av_frame_free(&w->spare[i]);
    av_freep(&w->spare);
    av_buffer_pool_uninit(&w->in_pool);
    av_buffer_pool_uninit(&w->conv_pool);
    sws_freeContext(w->sws);
    av_packet_free(&w->vpkt);
    vpi_encoder_close(&w->enc);
    avcodec_free_context(&w->aenc);
    av_frame_free(&w->aframe);
    av_packet_free(&w->apkt);
    if (w->oc) {
        if (w->oc->pb)
            avio_closep(&w->oc->pb);
        avformat_free_context(w->oc);
    }
    vpi_output_abort(&w->out);
    if (w->locks_ready) {
        pthread_mutex_destroy(&w->lock);
        pthread_mutex_destroy(&w->mux_lock);
        pthread_cond_destroy(&w->cond_space);
        pthread_cond_destroy(&w->cond_to_convert);
        pthread_cond_destroy(&w->cond_to_encode);
    }
    free(w->path);
    free(w->preset);
    free(w->encoder_params);
    if (w->logger_registered)
        vpi_log_unregister(&w->opts.logger);
    free(w);
}

int vp_writer_open(const char *path, const VpWriterOpts *opts, VpWriter **out, char *why,
                   size_t why_size)
{
    VpWriter *w = NULL;
    AVDictionary *mux_opts = NULL;
    char reason[512] = "", tried[1024] = "";
    int ret;

    if (out)
        *out = NULL;
    if (why && why_size)
        why[0] = 0;
    if (!path || !*path || !opts || !out)
        return why_fail(opts ? &opts->logger : NULL, why, why_size, AVERROR(EINVAL),
                        "%s: vp_writer_open needs a path, "
                        "options and an output pointer", path && *path ? path : "(no path)");
    if ((ret = vpi_opt_check(&vpi_writer_options, opts, reason, sizeof(reason))) < 0)
        return why_fail(opts ? &opts->logger : NULL, why, why_size, ret, "%s: %s", path, reason);

    const AVOutputFormat *ofmt = av_guess_format(NULL, path, NULL);
    if (!ofmt || (!(ofmt->flags & AVFMT_GLOBALHEADER) && strcmp(ofmt->name, "matroska")))
        ofmt = av_guess_format("mp4", NULL, NULL);

    if (!(w = calloc(1, sizeof(*w))))
        return why_fail(opts ? &opts->logger : NULL, why, why_size, AVERROR(ENOMEM),
                        "%s: out of memory", path);
    w->t_open = vpi_now_us();
    w->opts = *opts;
    w->path = strdup(path);
    w->preset = strdup(opts->preset);
    w->encoder_params = opts->encoder_params ? strdup(opts->encoder_params) : NULL;
    if (!w->path || !w->preset || (opts->encoder_params && !w->encoder_params)) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    w->opts.preset = w->preset;
    w->opts.encoder_params = w->encoder_params;
    if (pthread_mutex_init(&w->lock, NULL) || pthread_mutex_init(&w->mux_lock, NULL) ||
        pthread_cond_init(&w->cond_space, NULL) || pthread_cond_init(&w->cond_to_convert, NULL) ||
        pthread_cond_init(&w->cond_to_encode, NULL)) {
        free(w->path);
        free(w->preset);
        free(w->encoder_params);
        free(w);
        return why_fail(opts ? &opts->logger : NULL, why, why_size, AVERROR(ENOMEM),
                        "%s: cannot create locks", path);
    }
    w->locks_ready = 1;
    if ((ret = vpi_log_register(&w->opts.logger)) < 0)
        goto fail;
    w->logger_registered = 1;

    /* HD and larger are BT.709 by convention, smaller pictures BT.601; the stream is
     * tagged with the matrix used, so players convert back with the same one. */
    int hd = opts->width >= 1280 || opts->height >= 720;
    VpiEncoderSettings setup;
    vpi_encoder_default_settings(&setup);
    setup.hw = w->opts.hw;
    setup.logger = &w->opts.logger;
    setup.codec = w->opts.codec;
    setup.width = w->opts.width;
    setup.height = w->opts.height;
    setup.fps = (AVRational){ w->opts.fps.num, w->opts.fps.den };
    setup.input_format = pix_av[opts->pix_fmt];
    setup.colorspace = hd ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
    setup.primaries = hd ? AVCOL_PRI_BT709 : AVCOL_PRI_SMPTE170M;
    setup.trc = hd ? AVCOL_TRC_BT709 : AVCOL_TRC_SMPTE170M;
    setup.range = AVCOL_RANGE_MPEG;
    setup.preset = w->opts.preset;
    setup.crf = w->opts.crf;
    setup.bitrate = w->opts.bitrate;
    setup.keyint = w->opts.keyint;
    setup.threads = w->opts.threads;
    setup.encoder_params = w->opts.encoder_params;
    setup.global_header = !!(ofmt->flags & AVFMT_GLOBALHEADER);
    EncoderOpenArgs eo = { &setup, tried, reason, sizeof(tried), sizeof(reason) };
    if ((ret = run_lowered(w, open_encoder, &eo)) < 0) {
        if (opts->hw != VP_HW_AUTO && opts->hw != VP_HW_NONE)
            why_fail(opts ? &opts->logger : NULL, why, why_size, ret,
                     "%s: hardware encoder %s unavailable: %s", path,
                     vp_hw_encoder_name(opts->hw), reason);
        else
            why_fail(opts ? &opts->logger : NULL, why, why_size, ret, "%s: %s", path, reason);
        writer_free(w);
        return ret;
    }
    vpi_log(&w->opts.logger, VP_LOG_INFO, "%s: encoder %s%s%s%s", path, w->enc.ctx->codec->name,
            *tried ? " (not used: " : "", tried, *tried ? ")" : "");

    /* The converter stage and the pools. */
    layout_init(&w->in, pix_av[opts->pix_fmt], opts->width, opts->height);
    w->convert = w->enc.sw_format != w->in.fmt;
    if (!(w->in_pool = av_buffer_pool_init(w->in.size, pool_alloc))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if (w->convert) {
        layout_init(&w->conv, w->enc.sw_format, opts->width, opts->height);
        w->conv_pool = av_buffer_pool_init(w->conv.size, pool_alloc);
        if (!w->conv_pool) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
    }
    if (w->convert && vpi_convert_supported(w->in.fmt, w->conv.fmt)) {
        w->own_convert = 1;
        vpi_yuv_matrix_init(&w->matrix, setup.colorspace);
    } else if (w->convert) {
        /* The pairs convert.c does not handle (yuv420p <-> nv12 for hardware encoders).
         * Same size, so the scaler only converts: the flags pick no filter. */
        w->sws = sws_getContext(opts->width, opts->height, w->in.fmt, opts->width,
                                opts->height, w->conv.fmt, SWS_BILINEAR, NULL, NULL, NULL);
        if (!w->sws) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        const int *matrix = sws_getCoefficients(hd ? SWS_CS_ITU709 : SWS_CS_ITU601);
        int src_full = opts->pix_fmt != VP_PIX_YUV420P && opts->pix_fmt != VP_PIX_NV12;
        sws_setColorspaceDetails(w->sws, matrix, src_full, matrix, 0, 0, 1 << 16, 1 << 16);
    }
    /* Only the buffers write() copies into: the converter's fault in on its own thread. */
    if ((ret = prefault_pool(w->in_pool, opts->queue_depth + 1)) < 0)
        goto fail;
    w->spare_cap = opts->queue_depth + 4;
    if (!(w->spare = av_calloc(w->spare_cap, sizeof(*w->spare))) ||
        (ret = queue_init(&w->to_convert, opts->queue_depth + 1)) < 0 ||
        (ret = queue_init(&w->to_encode, opts->queue_depth + 1)) < 0 ||
        !(w->vpkt = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    for (; w->nb_spare < w->spare_cap; w->nb_spare++)
        if (!(w->spare[w->nb_spare] = av_frame_alloc())) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }

    /* The muxer, on a temporary file next to the destination. */
    if ((ret = vpi_output_begin(&w->out, path)) < 0) {
        snprintf(reason, sizeof(reason), "cannot create the output: %s", av_err2str(ret));
        goto fail_reason;
    }
    if ((ret = avformat_alloc_output_context2(&w->oc, ofmt, NULL, w->out.tmp_path)) < 0)
        goto fail;
    w->oc->opaque = &w->opts.logger;
    w->oc->interrupt_callback = (AVIOInterruptCB){ opts->cancel.fn, opts->cancel.opaque };
    if (!(w->vst = avformat_new_stream(w->oc, NULL))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = avcodec_parameters_from_context(w->vst->codecpar, w->enc.ctx)) < 0)
        goto fail;
    /* HEVC in MP4/MOV as 'hvc1', parameter sets in the sample entry only: Safari and
     * QuickTime refuse the muxer's default 'hev1' (parameter sets in band). */
    if (w->vst->codecpar->codec_id == AV_CODEC_ID_HEVC &&
        (!strcmp(ofmt->name, "mp4") || !strcmp(ofmt->name, "mov")))
        w->vst->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
    w->vst->time_base = w->enc.ctx->time_base;
    w->vst->avg_frame_rate = w->enc.ctx->framerate;
    w->vst->r_frame_rate = w->enc.ctx->framerate;
    if (opts->audio_sample_rate && (ret = open_audio(w, reason, sizeof(reason))) < 0) {
        if (*reason)
            goto fail_reason;
        goto fail;
    }
    if ((ret = avio_open2(&w->oc->pb, w->out.tmp_path, AVIO_FLAG_WRITE,
                          &w->oc->interrupt_callback, NULL)) < 0) {
        snprintf(reason, sizeof(reason), "cannot write the output: %s", av_err2str(ret));
        goto fail_reason;
    }
    if (!strcmp(ofmt->name, "mp4") || !strcmp(ofmt->name, "mov"))
        av_dict_set(&mux_opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(w->oc, &mux_opts);
    av_dict_free(&mux_opts);
    if (ret < 0) {
        snprintf(reason, sizeof(reason), "cannot write the header: %s", av_err2str(ret));
        goto fail_reason;
    }

    if ((ret = run_lowered(w, start_threads, NULL)) < 0)
        goto fail;
    *out = w;
    return 0;

fail:
    snprintf(reason, sizeof(reason), "%s", av_err2str(ret));
fail_reason:
    if (vpi_cancelled(&opts->cancel)) { /* the muxer's AVERROR_EXIT, say */
        ret = VP_ERR_CANCELLED;
        snprintf(reason, sizeof(reason), "cancelled");
    }
    why_fail(opts ? &opts->logger : NULL, why, why_size, ret, "%s: %s", path, reason);
    writer_free(w);
    return ret;
}

/* ---- write --------------------------------------------------------------------------- */

/* write()'s copy of a frame of STREAM_COPY_MIN bytes or more uses non-temporal stores: the
 * copy goes to memory without first reading the destination into the cache and without
 * evicting what the caller (and the encoder) keep there. The converter reads it back from
 * memory a little later either way: a frame this size does not stay in a core's L2. At
 * 720p this took write()'s p50 from ~140 to ~110 us. */
#define STREAM_COPY_MIN (512 * 1024)
#if defined(__x86_64__) && defined(__SSE2__)
#  include <emmintrin.h>
#  define HAVE_STREAM_COPY 1
#else
#  define HAVE_STREAM_COPY 0
#endif

/* @p rows rows of @p bytes each. Rows of the writer's own buffers start 32-byte aligned. */
static void copy_rows(uint8_t *dst, int dst_stride, const uint8_t *src, int src_stride,
                      size_t bytes, int rows, int stream)
{
    for (int y = 0; y < rows; y++, dst += dst_stride, src += src_stride) {
        size_t i = 0;
#if HAVE_STREAM_COPY
        if (stream && !((uintptr_t)dst & 15)) {
            for (; i + 64 <= bytes; i += 64) {
                __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
                __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
                __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
                __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
                _mm_stream_si128((__m128i *)(dst + i), a);
                _mm_stream_si128((__m128i *)(dst + i + 16), b);
                _mm_stream_si128((__m128i *)(dst + i + 32), c);
                _mm_stream_si128((__m128i *)(dst + i + 48), d);
            }
        }
#else
        (void)stream;
#endif
        memcpy(dst + i, src + i, bytes - i);
    }
}


int vp_writer_write_planes(VpWriter *w, const uint8_t *const planes[], const int strides[],
                           int flags)
{
    if (!w || !planes || !strides)
        return AVERROR(EINVAL);
    const Layout *l = &w->in;
    for (int i = 0; i < l->nb_planes; i++)
        if (!planes[i] || strides[i] < l->row_bytes[i])
            return AVERROR(EINVAL);

    int waited = 0;
    pthread_mutex_lock(&w->lock);
    while (w->inflight >= w->opts.queue_depth && !w->err && !w->input_done) {
        if (flags & VP_WRITE_NONBLOCK) {
            pthread_mutex_unlock(&w->lock);
            return AVERROR(EAGAIN);
        }
        if (!waited++)
            w->blocked++;
        pthread_cond_wait(&w->cond_space, &w->lock);
    }
    if (w->err || w->input_done) {
        int err = w->err ? w->err : AVERROR(EINVAL);
        pthread_mutex_unlock(&w->lock);
        return err;
    }
    AVFrame *f = spare_get(w);
    w->inflight++;
    pthread_mutex_unlock(&w->lock);

    AVBufferRef *buf = av_buffer_pool_get(w->in_pool);
    if (!f || !buf) {
        av_buffer_unref(&buf);
        pthread_mutex_lock(&w->lock);
        w->inflight--;
        if (f)
            spare_put(w, f);
        pthread_mutex_unlock(&w->lock);
        return AVERROR(ENOMEM);
    }
    frame_attach(f, buf, l, w->opts.width, w->opts.height);
    f->pts = w->next_pts++;
    const int stream = l->size >= STREAM_COPY_MIN;
    for (int i = 0; i < l->nb_planes; i++) {
        if (strides[i] == l->linesize[i])
            copy_rows(f->data[i], 0, planes[i], 0,
                      (size_t)l->linesize[i] * (l->rows[i] - 1) + l->row_bytes[i], 1, stream);
        else
            copy_rows(f->data[i], l->linesize[i], planes[i], strides[i], l->row_bytes[i],
                      l->rows[i], stream);
    }
#if HAVE_STREAM_COPY
    if (stream)
        _mm_sfence(); /* the stores are weakly ordered: complete them before the hand-off */
#endif

    pthread_mutex_lock(&w->lock);
    if (w->convert) {
        queue_push(&w->to_convert, f);
        pthread_cond_signal(&w->cond_to_convert);
    } else {
        queue_push(&w->to_encode, f);
        pthread_cond_signal(&w->cond_to_encode);
    }
    pthread_mutex_unlock(&w->lock);
    return 0;
}

int vp_writer_write(VpWriter *w, const uint8_t *data, int stride, int flags)
{
    if (!w || !data || stride < 0)
        return AVERROR(EINVAL);
    const Layout *l = &w->in;
    const uint8_t *planes[4] = { data };
    int strides[4] = { stride ? stride : l->row_bytes[0] };
    if (l->fmt == AV_PIX_FMT_YUV420P) {
        strides[1] = strides[2] = stride ? stride / 2 : l->row_bytes[1];
        planes[1] = planes[0] + (size_t)strides[0] * l->rows[0];
        planes[2] = planes[1] + (size_t)strides[1] * l->rows[1];
    } else if (l->fmt == AV_PIX_FMT_NV12) {
        strides[1] = strides[0];
        planes[1] = planes[0] + (size_t)strides[0] * l->rows[0];
    }
    return vp_writer_write_planes(w, planes, strides, flags);
}

/* ---- audio --------------------------------------------------------------------------- */

static int encode_audio(VpWriter *w, AVFrame *f)
{
    int ret = avcodec_send_frame(w->aenc, f);
    if (ret < 0)
        return set_error(w, ret, "audio encoder failed: %s", av_err2str(ret));
    for (;;) {
        ret = avcodec_receive_packet(w->aenc, w->apkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return set_error(w, ret, "audio encoder failed: %s", av_err2str(ret));
        w->apkt->stream_index = w->ast->index;
        av_packet_rescale_ts(w->apkt, w->aenc->time_base, w->ast->time_base);
        ret = mux_packet(w, w->apkt);
        av_packet_unref(w->apkt);
        if (ret < 0)
            return ret;
    }
}

static int flush_audio_frame(VpWriter *w)
{
    w->aframe->nb_samples = w->afill;
    w->aframe->pts = w->apts;
    w->apts += w->afill;
    w->afill = 0;
    return encode_audio(w, w->aframe);
}

int vp_writer_write_audio(VpWriter *w, const void *pcm, int nb_samples)
{
    if (!w || (!pcm && nb_samples) || nb_samples < 0)
        return AVERROR(EINVAL);
    if (!w->aenc)
        return VP_ERR_BAD_OPTION;
    pthread_mutex_lock(&w->lock);
    int err = w->err ? w->err : w->input_done ? AVERROR(EINVAL) : 0;
    pthread_mutex_unlock(&w->lock);
    if (err)
        return err;

    const int ch = w->opts.audio_channels, frame_size = w->aenc->frame_size;
    const int16_t *s16 = pcm;
    const float *flt = pcm;
    for (int i = 0; i < nb_samples; i++) {
        if (!w->afill) {
            int ret = av_frame_make_writable(w->aframe);
            if (ret < 0)
                return set_error(w, ret, "out of memory");
        }
        for (int c = 0; c < ch; c++) {
            float v = w->opts.audio_format == VP_SAMPLE_S16 ? s16[i * ch + c] / 32768.0f
                                                            : flt[i * ch + c];
            ((float *)w->aframe->extended_data[c])[w->afill] = v;
        }
        if (++w->afill == frame_size) {
            int ret = flush_audio_frame(w);
            if (ret < 0)
                return ret;
        }
    }
    w->audio_samples += nb_samples;
    return 0;
}

/* ---- close --------------------------------------------------------------------------- */

const char *vp_writer_error(const VpWriter *cw)
{
    if (!cw)
        return "";
    /* errmsg is written once, with err, under the lock, and never changes after. */
    VpWriter *w = (VpWriter *)cw;
    pthread_mutex_lock(&w->lock);
    int err = w->err;
    pthread_mutex_unlock(&w->lock);
    return err ? w->errmsg : "";
}

const char *vp_writer_encoder(const VpWriter *w)
{
    return w && w->enc.ctx ? w->enc.ctx->codec->name : "";
}

static void fill_stats(VpWriter *w, VpWriterStats *s)
{
    memset(s, 0, sizeof(*s));
    s->frames = w->frames_out;
    s->audio_samples = w->audio_samples;
    if (w->enc.ctx)
        vpi_strlcpy(s->encoder, w->enc.ctx->codec->name, sizeof(s->encoder));
    s->seconds = (vpi_now_us() - w->t_open) / 1e6;
    s->fps = s->seconds > 0 ? s->frames / s->seconds : 0;
    s->blocked_writes = w->blocked;
}

int vp_writer_close(VpWriter **pw, VpWriterStats *stats, char *why, size_t why_size)
{
    VpWriter *w = pw ? *pw : NULL;
    int ret;

    if (why && why_size)
        why[0] = 0;
    if (!w)
        return 0;
    *pw = NULL;

    stop_workers(w, 0);

    if (!w->err && w->aenc) {
        if ((!w->afill || flush_audio_frame(w) >= 0))
            encode_audio(w, NULL);
    }
    check_cancel(w);
    if (!w->err) {
        /* The trailer writes the index and, for MP4, moves it in front of the media. */
        if ((ret = av_write_trailer(w->oc)) < 0 && check_cancel(w) == 0)
            set_error(w, ret, "finishing the file failed: %s", av_err2str(ret));
    }
    if (w->oc->pb) {
        if ((ret = avio_closep(&w->oc->pb)) < 0 && check_cancel(w) == 0)
            set_error(w, ret, "writing failed: %s", av_err2str(ret));
    }
    /* The muxer's I/O gives up with AVERROR_EXIT when the cancel interrupts it. */
    check_cancel(w);
    if (!w->err && (ret = vpi_output_commit(&w->out)) < 0)
        set_error(w, ret, "cannot move the finished file into place: %s", av_err2str(ret));

    ret = w->err;
    if (stats) {
        fill_stats(w, stats);
        struct stat st;
        if (!ret && !stat(w->path, &st))
            stats->bytes = st.st_size;
    }
    if (!ret)
        vpi_log(&w->opts.logger, VP_LOG_VERBOSE,
                "%s: %lld frames with %s", w->path, (long long)w->frames_out,
                w->enc.ctx->codec->name);
    if (ret < 0 && why && why_size)
        vpi_strlcpy(why, w->errmsg, why_size);
    writer_free(w);
    return ret;
}

void vp_writer_abort(VpWriter **pw)
{
    if (!pw || !*pw)
        return;
    writer_free(*pw);
    *pw = NULL;
}
