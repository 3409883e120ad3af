/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one-pass engine: demux and decode a source once, lend every decoded frame to each sink
 * (encoders, stills, analysers), skip the pictures no sink needs. */
#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

#include "bitstream/bitstream.h"
#include "options/options.h"
#include "util/internal.h"
#include "sink.h"

#define MAX_SINKS 32
#define MAX_KEPT_ERRORS 1000
/* Give up on a source that keeps failing to read this many times in a row. */
#define MAX_READ_ERRORS 64

/* Every sink class, as FFmpeg registers its demuxers: add_* look them up by name. */
static const VpiSinkClass *const sink_classes[] = {
    &vpi_sink_encode,
    &vpi_sink_conform,
    &vpi_sink_thumb,
    &vpi_sink_qc,
    &vpi_sink_loudness,
    &vpi_sink_filter,
    &vpi_sink_tap,
    NULL,
};

struct VpPipeline {
    VpPipelineOpts opts;
    int logger_registered;      /* opts.logger is in log.c's registry until close */
    VpSourceInfo info;
    VpiSource src;
    char *path;
    AVFormatContext *fmt;
    int vidx, aidx;
    int nal_length_size;        /* H.264 avcC length size, 0 Annex B, -1 not H.264 */
    int can_skip;
    int64_t origin_us;
    VpiSink *sinks[MAX_SINKS];
    int nb_sinks;
    int ran;
    VpDecodeError *errors;
    int nb_errors, nb_errors_total;
    double last_error_time;
    char last_error_what[96];
    VpPipelineStats stats;
    int64_t last_video_us;
    double last_progress;
    int64_t seek_target;        /* seek mode: the time being sought */
    int64_t read_pos_us;        /* latest video packet time read; INT64_MIN after a seek */
    AVFormatContext *afmt;      /* the audio's own file (VpPipelineOpts.audio_path), or NULL */
    char *audio_path;           /* its path, kept to refuse it as an output; or NULL */
    int64_t aorigin_us;         /* the time the audio starts from */
    int64_t aend_ts;            /* where the container says the audio ends (its time base),
                                   INT64_MAX when it does not say */
    int v_eof, a_eof;
    int64_t v_pos_us, a_pos_us;
    char *failed_output;        /* the output that could not be written, if any */
    char failed_reason[400];    /* its sink's reason (VpiSink.reason), or "" */
    int last_err;               /* the last failed add or run (vp_pipeline_failure) */
    int (*gate)(void *opaque);  /* vpi_pipeline_set_gate(), or NULL */
    void *gate_opaque;
};

#define O(...) VPI_OPT_ROW(VpPipelineOpts, __VA_ARGS__)

/* The callbacks, cancel flag and audio_path are not settings a person types: no rows. */
static const VpiOption pipeline_options[] = {
    O(decode_threads, INT, 0, 0, 64, "video decoder threads (0: automatic)"),
    O(skip_unneeded, BOOL, 1, 0, 1, "do not decode frames no output needs"),
    { NULL },
};
#undef O

const VpiOptTable vpi_pipeline_options = { "pipeline", pipeline_options, NULL };

void vp_pipeline_default_opts(VpPipelineOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_pipeline_options, o);
}

const char *vpi_fmt_time(char buf[32], double s)
{
    if (!isfinite(s))
        snprintf(buf, 32, "?");
    else
        snprintf(buf, 32, "%.3f", s);
    return buf;
}

static void record_error(VpPipeline *p, double t, VpStreamType st, const char *what)
{
    p->nb_errors_total++;
    /* The same error reported again for the same moment (decoder threads repeat
     * themselves) counts once. */
    if (p->nb_errors && fabs(t - p->last_error_time) < 1e-6 && !strcmp(what, p->last_error_what))
        return;
    p->last_error_time = t;
    vpi_strlcpy(p->last_error_what, what, sizeof(p->last_error_what));
    if (p->nb_errors >= MAX_KEPT_ERRORS)
        return;
    if (!p->errors && !(p->errors = calloc(MAX_KEPT_ERRORS, sizeof(*p->errors))))
        return;
    VpDecodeError *e = &p->errors[p->nb_errors++];
    e->time = t < 0 ? 0 : t;
    e->stream = st;
    vpi_strlcpy(e->what, what, sizeof(e->what));
}

static int open_decoder(VpPipeline *p, AVStream *st, AVCodecContext **out, int threads)
{
    const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *c = NULL;
    int ret;

    if (!dec) {
        vpi_log(&p->opts.logger, VP_LOG_ERROR, "%s: no decoder for %s", p->path,
                avcodec_get_name(st->codecpar->codec_id));
        return VP_ERR_UNSUPPORTED;
    }
    if (!(c = avcodec_alloc_context3(dec)))
        return AVERROR(ENOMEM);
    if ((ret = avcodec_parameters_to_context(c, st->codecpar)) < 0)
        goto fail;
    c->pkt_timebase = st->time_base;
    c->opaque = &p->opts.logger;
    c->thread_count = threads;
    if (dec->type == AVMEDIA_TYPE_VIDEO)
        c->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    if ((ret = avcodec_open2(c, dec, NULL)) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    avcodec_free_context(&c);
    return ret;
}

static int check_path(const char *path, int64_t *size)
{
    struct stat sb;
    if (stat(path, &sb) < 0)
        return AVERROR(errno);
    if (S_ISDIR(sb.st_mode))
        return VP_ERR_IS_DIRECTORY;
    if (access(path, R_OK) < 0)
        return AVERROR(errno);
    if (S_ISREG(sb.st_mode) && sb.st_size == 0)
        return VP_ERR_EMPTY_FILE;
    *size = S_ISREG(sb.st_mode) ? sb.st_size : -1;
    return 0;
}

/* The audio comes from another file: its best audio stream replaces the source's. */
static int open_audio_file(VpPipeline *p)
{
    const char *path = p->opts.audio_path;
    int64_t size;
    int ret = check_path(path, &size);
    if (ret >= 0)
        ret = vpi_open_input(&p->afmt, path, &p->opts.cancel, &p->opts.logger);
    if (ret >= 0 && avformat_find_stream_info(p->afmt, NULL) < 0)
        vpi_log(&p->opts.logger, VP_LOG_WARNING, "%s: could not find stream parameters", path);
    if (ret >= 0 && (p->aidx = av_find_best_stream(p->afmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL,
                                                   0)) < 0)
        ret = VP_ERR_NO_AUDIO;
    if (ret < 0)
        vpi_log(&p->opts.logger, VP_LOG_VERBOSE, "%s: %s", path, vp_strerror(ret));
    return ret;
}

static void fill_info(VpPipeline *p)
{
    VpSourceInfo *in = &p->info;
    in->path = p->path;
    in->duration = p->fmt->duration == AV_NOPTS_VALUE ? NAN
                                                      : p->fmt->duration / (double)AV_TIME_BASE;
    in->bit_rate = p->fmt->bit_rate;
    if (p->vidx >= 0) {
        AVStream *st = p->fmt->streams[p->vidx];
        in->has_video = 1;
        in->width = st->codecpar->width;
        in->height = st->codecpar->height;
        AVRational sar = av_guess_sample_aspect_ratio(p->fmt, st, NULL);
        in->sar = (VpRational){ sar.num, sar.den ? sar.den : 1 };
        AVRational fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
        in->fps = (VpRational){ fr.num, fr.den };
        const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
        if (m) {
            double theta = -av_display_rotation_get((const int32_t *)m);
            if (isfinite(theta)) {
                int r = (int)lrint(theta / 90) * 90 % 360;
                in->rotation = r < 0 ? r + 360 : r;
            }
        }
        vpi_strlcpy(in->video_codec, avcodec_get_name(st->codecpar->codec_id),
                    sizeof(in->video_codec));
    }
    if (p->aidx >= 0) {
        AVStream *st = (p->afmt ? p->afmt : p->fmt)->streams[p->aidx];
        in->has_audio = 1;
        in->sample_rate = st->codecpar->sample_rate;
        in->channels = st->codecpar->ch_layout.nb_channels;
        vpi_strlcpy(in->audio_codec, avcodec_get_name(st->codecpar->codec_id),
                    sizeof(in->audio_codec));
    }
}

static int validate_opts(const VpPipelineOpts *o)
{
    return vpi_opt_check_log(&vpi_pipeline_options, o, &o->logger, "pipeline options");
}

static int pipeline_open(const char *path, const VpPipelineOpts *opts, VpPipeline **out)
{
    VpPipeline *p = NULL;
    int ret;

    *out = NULL;
    if (!path)
        return AVERROR(EINVAL);
    if (!(p = calloc(1, sizeof(*p))))
        return AVERROR(ENOMEM);
    if (opts)
        p->opts = *opts;
    else
        vp_pipeline_default_opts(&p->opts);
    p->vidx = p->aidx = -1;
    p->info.size = -1;
    p->read_pos_us = INT64_MIN;
    if ((ret = validate_opts(&p->opts)) < 0)
        goto fail;
    if (!(p->path = strdup(path)) ||
        (p->opts.audio_path && !(p->audio_path = strdup(p->opts.audio_path)))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = check_path(path, &p->info.size)) < 0)
        goto fail;
    if ((ret = vpi_log_register(&p->opts.logger)) < 0)
        goto fail;
    p->logger_registered = 1;
    if ((ret = vpi_open_input(&p->fmt, path, &p->opts.cancel, &p->opts.logger)) < 0)
        goto fail;
    if ((ret = avformat_find_stream_info(p->fmt, NULL)) < 0)
        vpi_log(&p->opts.logger, VP_LOG_WARNING, "%s: could not find stream parameters: %s", path,
                vp_strerror(ret));
    p->vidx = av_find_best_stream(p->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    p->aidx = av_find_best_stream(p->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (p->opts.audio_path && (ret = open_audio_file(p)) < 0)
        goto fail;
    if (p->vidx >= 0 && (p->fmt->streams[p->vidx]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        p->vidx = -1;
    if (p->vidx < 0 && p->aidx < 0) {
        ret = VP_ERR_NO_STREAMS;
        goto fail;
    }
    fill_info(p);
    p->src.info = &p->info;
    p->src.fmt = p->fmt;
    p->src.log = &p->opts.logger;
    p->src.cancel = &p->opts.cancel;
    p->origin_us = p->fmt->start_time == AV_NOPTS_VALUE ? 0 : p->fmt->start_time;
    p->aorigin_us = p->origin_us;
    if (p->afmt)
        p->aorigin_us = p->afmt->start_time == AV_NOPTS_VALUE ? 0 : p->afmt->start_time;
    p->nal_length_size = -1;
    if (p->vidx >= 0) {
        AVStream *st = p->fmt->streams[p->vidx];
        p->src.vst = st;
        if ((ret = open_decoder(p, st, &p->src.vdec, p->opts.decode_threads)) < 0)
            goto fail;
        AVRational fr = st->avg_frame_rate;
        if (fr.num > 0 && fr.den > 0)
            p->src.frame_dur_us = av_rescale_q(1, av_inv_q(fr), AV_TIME_BASE_Q);
        if (st->codecpar->codec_id == AV_CODEC_ID_H264) {
            p->nal_length_size = vpi_avcc_length_size(st->codecpar->extradata,
                                                      (size_t)st->codecpar->extradata_size);
            /* Skipping relies on the next picture being one frame duration later. */
            AVRational r = st->r_frame_rate;
            p->can_skip = p->src.frame_dur_us > 0 && r.num > 0 && av_cmp_q(r, fr) == 0;
        }
    }
    p->aend_ts = INT64_MAX;
    if (p->aidx >= 0) {
        AVFormatContext *afmt = p->afmt ? p->afmt : p->fmt;
        p->src.ast = afmt->streams[p->aidx];
        /* An MP4's edit list says where the audio ends; the decoder gives the last frame
         * whole, with the encoder's padding after that end (FFmpeg trims only the start) */
        if (strstr(afmt->iformat->name, "mp4") && p->src.ast->duration != AV_NOPTS_VALUE &&
            p->src.ast->duration > 0)
            p->aend_ts = (p->src.ast->start_time == AV_NOPTS_VALUE ? 0
                                                                   : p->src.ast->start_time) +
                         p->src.ast->duration;
        if ((ret = open_decoder(p, p->src.ast, &p->src.adec, 1)) < 0) {
            /* An audio track vidpipe cannot decode: carry on with the video. */
            vpi_log(&p->opts.logger, VP_LOG_WARNING,
                    "%s: ignoring audio: %s", path, vp_strerror(ret));
            p->src.ast = NULL;
            p->aidx = -1;
            p->info.has_audio = 0;
        }
    }
    *out = p;
    return 0;
fail:
    vp_pipeline_close(&p);
    return ret;
}

int vp_pipeline_open(const char *path, const VpPipelineOpts *opts, VpPipeline **out)
{
    const VpLogger *prev = vpi_log_scope_enter(opts ? &opts->logger : NULL);
    int ret = pipeline_open(path, opts, out);
    vpi_log_scope_leave(prev);
    return ret;
}

const VpSourceInfo *vp_pipeline_source(const VpPipeline *p)
{
    return &p->info;
}

/* Close a sink (its output, if still temporary, is removed) and free it. */
static void sink_free(VpiSink *s)
{
    if (s->priv)
        s->cls->close(s);
    if (s->out_open)
        vpi_output_abort(&s->out);
    free(s->priv);
    free(s->opts);
    free(s->path);
    free(s);
}

static int pipeline_add_sink(VpPipeline *p, const char *name, const void *opts, const char *path,
                          VpiSink **out)
{
    const VpiSinkClass *cls = NULL;
    VpiSink *s = NULL;
    int ret;

    for (int i = 0; sink_classes[i]; i++)
        if (!strcmp(sink_classes[i]->name, name))
            cls = sink_classes[i];
    if (!cls)
        return AVERROR(EINVAL);
    if (p->ran) {
        vpi_log(&p->opts.logger, VP_LOG_ERROR,
                "%s: outputs must be added before the pipeline runs", p->path);
        return AVERROR(EINVAL);
    }
    if (p->nb_sinks >= MAX_SINKS) {
        vpi_log(&p->opts.logger, VP_LOG_ERROR,
                "%s: too many outputs (at most %d)", p->path, MAX_SINKS);
        return VP_ERR_BAD_OPTION;
    }
    const char *inputs[2] = { p->path, p->audio_path };
    if (path && (ret = vp_output_check_not_input(path, inputs, 2)) < 0) {
        if (!p->failed_output)
            p->failed_output = strdup(path);
        return ret;
    }
    if (!(s = calloc(1, sizeof(*s))))
        return AVERROR(ENOMEM);
    s->cls = cls;
    s->src = &p->src;
    if (!(s->opts = malloc(cls->opts_size)) || !(s->priv = calloc(1, cls->priv_size)) ||
        (path && !(s->path = strdup(path)))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    memcpy(s->opts, opts, cls->opts_size);
    if ((ret = cls->init(s, &p->src)) < 0)
        goto fail;
    p->sinks[p->nb_sinks] = s;
    if (out)
        *out = s;
    return p->nb_sinks++;
fail:
    if (s->out_failed && !p->failed_output) {
        p->failed_output = s->path ? strdup(s->path) : NULL;
        vpi_strlcpy(p->failed_reason, s->reason, sizeof(p->failed_reason));
    }
    sink_free(s);
    return ret;
}

int vpi_pipeline_add_sink(VpPipeline *p, const char *name, const void *opts, const char *path,
                          VpiSink **out)
{
    const VpLogger *prev = vpi_log_scope_enter(&p->opts.logger);
    int ret = pipeline_add_sink(p, name, opts, path, out);
    vpi_log_scope_leave(prev);
    if (ret < 0)
        p->last_err = ret;
    return ret;
}

static int video_needed(VpPipeline *p)
{
    for (int i = 0; i < p->nb_sinks; i++)
        if (p->sinks[i]->cls->video)
            return 1;
    return 0;
}

static int audio_needed(VpPipeline *p)
{
    for (int i = 0; i < p->nb_sinks; i++)
        if (p->sinks[i]->wants_audio)
            return 1;
    return 0;
}

/* A non-reference H.264 picture: no other picture is predicted from it, so leaving it
 * undecoded changes nothing else. */
static int is_disposable(VpPipeline *p, const AVPacket *pkt)
{
    VpiH264Frame fr;
    if (pkt->flags & AV_PKT_FLAG_KEY)
        return 0;
    if (vpi_h264_inspect(pkt->data, (size_t)pkt->size, p->nal_length_size, &fr) < 0)
        return 0;
    return fr.slice_type >= 0 && fr.nal_ref_idc == 0 && !fr.idr;
}

static int packet_wanted(VpPipeline *p, const AVPacket *pkt)
{
    if (!p->opts.skip_unneeded || !p->can_skip || pkt->pts == AV_NOPTS_VALUE)
        return 1;
    int64_t t = av_rescale_q(pkt->pts, p->src.vst->time_base, AV_TIME_BASE_Q) - p->origin_us;
    for (int i = 0; i < p->nb_sinks; i++) {
        VpiSink *s = p->sinks[i];
        if (s->cls->video && (!s->cls->need_video || s->cls->need_video(s, t)))
            return 1;
    }
    return !is_disposable(p, pkt);
}

/* ---- sinks on their own threads ------------------------------------------------------ */

#define QUEUE_SIZE 8

enum { QI_VIDEO, QI_AUDIO, QI_PACKET, QI_EOF };

typedef struct QItem {
    int kind;
    AVFrame *f;
    AVPacket *pkt;
} QItem;

typedef struct VpiSinkThread {
    pthread_t th;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    QItem q[QUEUE_SIZE];
    int head, count;
    int err;        /* the sink's first error: the pass stops */
    int done;       /* finish() has returned */
    int stop;       /* the pass is abandoned: drop what is queued */
} VpiSinkThread;

static void qitem_free(QItem *it)
{
    av_frame_free(&it->f);
    av_packet_free(&it->pkt);
}

static void *sink_thread_main(void *arg)
{
    VpiSink *s = arg;
    VpiSinkThread *t = s->thr;
    vpi_log_scope_enter(s->src->log);
    for (;;) {
        pthread_mutex_lock(&t->lock);
        while (!t->count && !t->stop)
            pthread_cond_wait(&t->cond, &t->lock);
        if (!t->count) {
            pthread_mutex_unlock(&t->lock);
            return NULL;
        }
        QItem it = t->q[t->head];
        t->head = (t->head + 1) % QUEUE_SIZE;
        t->count--;
        int failed = t->err < 0 || t->stop;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);

        int ret = 0;
        if (!failed) {
            switch (it.kind) {
            case QI_VIDEO: ret = s->cls->video(s, it.f); break;
            case QI_AUDIO: ret = s->cls->audio(s, it.f); break;
            case QI_PACKET: ret = s->cls->video_packet(s, it.pkt); break;
            case QI_EOF: ret = s->cls->finish(s); break;
            }
        }
        qitem_free(&it);
        pthread_mutex_lock(&t->lock);
        if (ret < 0 && !t->err)
            t->err = ret;
        if (it.kind == QI_EOF)
            t->done = 1;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
        if (it.kind == QI_EOF)
            return NULL;
    }
}

static int thread_start(VpiSink *s)
{
    VpiSinkThread *t = calloc(1, sizeof(*t));
    if (!t)
        return AVERROR(ENOMEM);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    s->thr = t;
    if (pthread_create(&t->th, NULL, sink_thread_main, s)) {
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->cond);
        free(t);
        s->thr = NULL;
        return AVERROR(EAGAIN);
    }
    return 0;
}

/* Queue an item (taking ownership of it); waits while the queue is full. */
static int thread_push(VpiSink *s, QItem it)
{
    VpiSinkThread *t = s->thr;
    pthread_mutex_lock(&t->lock);
    while (t->count == QUEUE_SIZE && !t->err)
        pthread_cond_wait(&t->cond, &t->lock);
    int err = t->err;
    if (!err) {
        t->q[(t->head + t->count) % QUEUE_SIZE] = it;
        t->count++;
        pthread_cond_broadcast(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
    if (err)
        qitem_free(&it);
    return err;
}

/* End of the pass: the sink finishes on its thread; returns its outcome. */
static int thread_finish(VpiSink *s)
{
    VpiSinkThread *t = s->thr;
    int ret = thread_push(s, (QItem){ .kind = QI_EOF });
    pthread_mutex_lock(&t->lock);
    while (!t->done && !t->err)
        pthread_cond_wait(&t->cond, &t->lock);
    ret = t->err ? t->err : ret;
    pthread_mutex_unlock(&t->lock);
    return ret;
}

static void thread_stop(VpiSink *s)
{
    VpiSinkThread *t = s->thr;
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = 1;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->th, NULL);
    while (t->count) {
        qitem_free(&t->q[t->head]);
        t->head = (t->head + 1) % QUEUE_SIZE;
        t->count--;
    }
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    free(t);
    s->thr = NULL;
}

static int send_frame(VpiSink *s, int kind, AVFrame *f)
{
    if (!s->thr)
        return kind == QI_VIDEO ? s->cls->video(s, f) : s->cls->audio(s, f);
    AVFrame *ref = av_frame_clone(f);
    if (!ref)
        return AVERROR(ENOMEM);
    return thread_push(s, (QItem){ .kind = kind, .f = ref });
}

static int deliver_video(VpPipeline *p, AVFrame *f)
{
    int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE)
        ts = f->pts;
    int64_t t = ts == AV_NOPTS_VALUE ? p->last_video_us + p->src.frame_dur_us
                                     : av_rescale_q(ts, p->src.vst->time_base, AV_TIME_BASE_Q)
                                       - p->origin_us;
    f->pts = t;
    p->last_video_us = t;
    p->stats.video_decoded++;
    if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT))
        record_error(p, t / 1e6, VP_STREAM_VIDEO, "damaged picture (concealed)");
    for (int i = 0; i < p->nb_sinks; i++) {
        VpiSink *s = p->sinks[i];
        int ret;
        if (s->cls->video && (ret = send_frame(s, QI_VIDEO, f)) < 0)
            return ret;
    }
    return 0;
}

static int deliver_audio(VpPipeline *p, AVFrame *f)
{
    int sr = p->src.adec->sample_rate;
    if (sr <= 0)
        return 0;
    int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE)
        ts = f->pts;
    if (ts != AV_NOPTS_VALUE) {
        int64_t origin = av_rescale_q(p->aorigin_us, AV_TIME_BASE_Q, (AVRational){ 1, sr });
        f->pts = av_rescale_q(ts, p->src.ast->time_base, (AVRational){ 1, sr }) - origin;
        if (p->aend_ts != INT64_MAX) {
            /* the padding after the container's end is not audio */
            int64_t end = av_rescale_q(p->aend_ts, p->src.ast->time_base,
                                       (AVRational){ 1, sr }) - origin;
            if (f->pts >= end)
                return 0;
            if (f->pts + f->nb_samples > end)
                f->nb_samples = (int)(end - f->pts);
        }
    }
    for (int i = 0; i < p->nb_sinks; i++) {
        VpiSink *s = p->sinks[i];
        int ret;
        if (s->wants_audio && s->cls->audio && (ret = send_frame(s, QI_AUDIO, f)) < 0)
            return ret;
    }
    return 0;
}

static double pkt_time(VpPipeline *p, const AVPacket *pkt, const AVStream *st)
{
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (ts == AV_NOPTS_VALUE)
        return p->last_video_us / 1e6;
    int64_t origin = st == p->src.ast ? p->aorigin_us : p->origin_us;
    return (av_rescale_q(ts, st->time_base, AV_TIME_BASE_Q) - origin) / 1e6;
}

/* Send one packet (NULL: drain) and hand every frame out. Decode errors are recorded and
 * decoding carries on; only sink failures end the run. */
static int decode(VpPipeline *p, AVCodecContext *dec, const AVPacket *pkt, AVFrame *frame)
{
    int is_video = dec == p->src.vdec;
    AVStream *st = is_video ? p->src.vst : p->src.ast;
    char what[96];
    int ret = avcodec_send_packet(dec, pkt);

    if (ret < 0 && ret != AVERROR_EOF && ret != AVERROR(EAGAIN)) {
        snprintf(what, sizeof(what), "%s packet could not be decoded: %s",
                 is_video ? "video" : "audio", av_err2str(ret));
        record_error(p, pkt ? pkt_time(p, pkt, st) : p->last_video_us / 1e6,
                     is_video ? VP_STREAM_VIDEO : VP_STREAM_AUDIO, what);
    }
    for (;;) {
        ret = avcodec_receive_frame(dec, frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0) {
            snprintf(what, sizeof(what), "%s could not be decoded: %s",
                     is_video ? "picture" : "audio frame", av_err2str(ret));
            record_error(p, pkt ? pkt_time(p, pkt, st) : p->last_video_us / 1e6,
                         is_video ? VP_STREAM_VIDEO : VP_STREAM_AUDIO, what);
            if (!pkt)
                return 0; /* draining: nothing more will come */
            continue;
        }
        ret = is_video ? deliver_video(p, frame) : deliver_audio(p, frame);
        av_frame_unref(frame);
        if (ret < 0)
            return ret;
    }
}

static void report_progress(VpPipeline *p, double t)
{
    if (!p->opts.progress || t < p->last_progress + 0.5)
        return;
    p->last_progress = t;
    p->opts.progress(p->opts.opaque, t, p->info.duration);
}

/* Read and decode until the end, or (seek mode) until @p until() says stop. */
static int read_loop(VpPipeline *p, int want_video, int want_audio, AVPacket *pkt,
                     AVFrame *frame, int (*until)(VpPipeline *p))
{
    int read_errors = 0, ret;

    for (;;) {
        if (vpi_cancelled(&p->opts.cancel))
            return VP_ERR_CANCELLED;
        if (until && until(p))
            return 0;
        /* With the audio in another file, read whichever file is behind. */
        AVFormatContext *from = p->fmt;
        if (p->afmt && want_audio && !p->a_eof && (p->v_eof || p->a_pos_us <= p->v_pos_us))
            from = p->afmt;
        ret = av_read_frame(from, pkt);
        if (ret == AVERROR_EOF && p->afmt && (from == p->fmt ? !p->a_eof && want_audio
                                                             : !p->v_eof)) {
            if (from == p->fmt)
                p->v_eof = 1;
            else
                p->a_eof = 1;
            continue;
        }
        if (ret == AVERROR_EOF)
            return AVERROR_EOF;
        if (ret < 0) {
            if (ret == AVERROR(EAGAIN))
                continue;
            /* The cancel interrupted the read itself (FFmpeg polls it while it waits). */
            if (ret == AVERROR_EXIT && vpi_cancelled(&p->opts.cancel))
                return VP_ERR_CANCELLED;
            char what[96];
            snprintf(what, sizeof(what), "container data could not be read: %s",
                     av_err2str(ret));
            record_error(p, p->last_video_us / 1e6, VP_STREAM_UNKNOWN, what);
            if (++read_errors >= MAX_READ_ERRORS || avio_feof(from->pb)) {
                if (!p->afmt)
                    return AVERROR_EOF;
                if (from == p->fmt)
                    p->v_eof = 1;
                else
                    p->a_eof = 1;
                if (p->v_eof && (p->a_eof || !want_audio))
                    return AVERROR_EOF;
            }
            continue;
        }
        read_errors = 0;
        ret = 0;
        if (from == p->afmt) {
            if (pkt->stream_index == p->aidx) {
                p->stats.audio_packets++;
                p->a_pos_us = (int64_t)(pkt_time(p, pkt, p->src.ast) * 1e6);
                ret = decode(p, p->src.adec, pkt, frame);
            }
        } else if (pkt->stream_index == p->vidx) {
            p->stats.video_packets++;
            for (int i = 0; i < p->nb_sinks && ret >= 0; i++)
                if (p->sinks[i]->cls->video_packet) {
                    AVPacket *cp = av_packet_clone(pkt);
                    if (!cp) {
                        ret = AVERROR(ENOMEM);
                        break;
                    }
                    if (p->sinks[i]->thr) {
                        ret = thread_push(p->sinks[i], (QItem){ .kind = QI_PACKET, .pkt = cp });
                    } else {
                        ret = p->sinks[i]->cls->video_packet(p->sinks[i], cp);
                        av_packet_free(&cp);
                    }
                }
            if (ret >= 0 && want_video) {
                if (packet_wanted(p, pkt))
                    ret = decode(p, p->src.vdec, pkt, frame);
                else
                    p->stats.video_skipped++;
            }
            double t = pkt_time(p, pkt, p->src.vst);
            p->v_pos_us = (int64_t)(t * 1e6);
            if (t * 1e6 > p->read_pos_us)
                p->read_pos_us = (int64_t)(t * 1e6);
            report_progress(p, t);
        } else if (pkt->stream_index == p->aidx && want_audio && !p->afmt) {
            p->stats.audio_packets++;
            ret = decode(p, p->src.adec, pkt, frame);
            if (p->vidx < 0)
                report_progress(p, pkt_time(p, pkt, p->src.ast));
        }
        av_packet_unref(pkt);
        if (ret < 0)
            return ret;
    }
}

static int all_stills_done(VpPipeline *p)
{
    for (int i = 0; i < p->nb_sinks; i++)
        if (p->sinks[i]->cls->next_seek(p->sinks[i]) != INT64_MIN)
            return 0;
    return 1;
}

static int seek_target_reached(VpPipeline *p)
{
    for (int i = 0; i < p->nb_sinks; i++)
        if (p->sinks[i]->cls->next_seek(p->sinks[i]) == p->seek_target)
            return 0;
    return 1;
}

/* Stills only: seek to each frame wanted instead of decoding everything in between. */
static int run_seeking(VpPipeline *p, AVPacket *pkt, AVFrame *frame)
{
    int ret = 0;
    while (!all_stills_done(p)) {
        int64_t target = INT64_MAX;
        for (int i = 0; i < p->nb_sinks; i++) {
            int64_t t = p->sinks[i]->cls->next_seek(p->sinks[i]);
            if (t != INT64_MIN && t < target)
                target = t;
        }
        p->seek_target = target;
        int64_t ts = av_rescale_q(target + p->origin_us, AV_TIME_BASE_Q, p->src.vst->time_base);
        /* A target in the GOP being decoded, or the next ones before a keyframe past the
         * read position, is reached sooner by reading on than by seeking back. */
        int idx = av_index_search_timestamp(p->src.vst, ts, AVSEEK_FLAG_BACKWARD);
        const AVIndexEntry *key = idx >= 0 ? avformat_index_get_entry(p->src.vst, idx) : NULL;
        int64_t key_us = key ? av_rescale_q(key->timestamp, p->src.vst->time_base,
                                            AV_TIME_BASE_Q) - p->origin_us : INT64_MAX;
        if (p->read_pos_us != INT64_MIN && key_us <= p->read_pos_us && target > p->read_pos_us) {
            ret = read_loop(p, 1, 0, pkt, frame, seek_target_reached);
        } else if (avformat_seek_file(p->fmt, p->vidx, INT64_MIN, ts, ts, 0) < 0 &&
            avformat_seek_file(p->fmt, -1, INT64_MIN, target + p->origin_us,
                               target + p->origin_us, 0) < 0)
            return AVERROR(ENOSYS);
        else {
            avcodec_flush_buffers(p->src.vdec);
            p->read_pos_us = INT64_MIN;
            ret = read_loop(p, 1, 0, pkt, frame, seek_target_reached);
        }
        if (ret == AVERROR_EOF) {
            if ((ret = decode(p, p->src.vdec, NULL, frame)) < 0)
                return ret;
            avcodec_flush_buffers(p->src.vdec);
            if (!seek_target_reached(p))
                return 0; /* past the end: the stills fall back to the last picture */
        } else if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

static int can_seek_stills(VpPipeline *p)
{
    if (!p->nb_sinks || p->vidx < 0 || !(p->fmt->pb && (p->fmt->pb->seekable & AVIO_SEEKABLE_NORMAL)))
        return 0;
    for (int i = 0; i < p->nb_sinks; i++)
        if (!p->sinks[i]->cls->next_seek || p->sinks[i]->wants_audio ||
            p->sinks[i]->every_picture)
            return 0;
    return 1;
}

static int pipeline_run(VpPipeline *p)
{
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int64_t t0 = vpi_now_us();
    int ret = 0;

    if (!pkt || !frame) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if (p->ran) {
        ret = AVERROR(EINVAL);
        goto end;
    }
    p->ran = 1;
    int want_video = p->vidx >= 0 && video_needed(p);
    int want_audio = p->aidx >= 0 && audio_needed(p);

    for (int i = 0; i < p->nb_sinks; i++)
        if (p->sinks[i]->cls->threaded && (ret = thread_start(p->sinks[i])) < 0)
            goto end;
    if (want_video && !want_audio && can_seek_stills(p)) {
        ret = run_seeking(p, pkt, frame);
    } else {
        ret = read_loop(p, want_video, want_audio, pkt, frame, NULL);
        if (ret == AVERROR_EOF) {
            ret = 0;
            if (want_video)
                ret = decode(p, p->src.vdec, NULL, frame);
            if (ret >= 0 && want_audio)
                ret = decode(p, p->src.adec, NULL, frame);
        }
    }
    if (ret < 0)
        goto end;
    for (int i = 0; i < p->nb_sinks; i++) {
        VpiSink *s = p->sinks[i];
        ret = s->thr ? thread_finish(s) : s->cls->finish(s);
        thread_stop(s);
        if (ret < 0)
            goto end;
    }
    if (p->gate && (ret = p->gate(p->gate_opaque)) < 0)
        goto end;
    /* Every output is complete: only now do they take their final names, in the order the
     * outputs were added (the last one is in place only when all are). */
    for (int i = 0; i < p->nb_sinks; i++) {
        VpiSink *s = p->sinks[i];
        if (s->out_open) {
            s->out_open = 0;
            if ((ret = vpi_output_commit(&s->out)) < 0) {
                s->out_failed = 1;
                vpi_log(&p->opts.logger, VP_LOG_VERBOSE, "%s: could not be written: %s", s->path,
                        vp_strerror(ret));
                goto end;
            }
        }
    }
    ret = p->nb_errors_total;
end:
    for (int i = 0; i < p->nb_sinks; i++)
        thread_stop(p->sinks[i]);
    for (int i = 0; i < p->nb_sinks && ret < 0; i++)
        if (p->sinks[i]->out_failed && !p->failed_output && p->sinks[i]->path) {
            p->failed_output = strdup(p->sinks[i]->path);
            vpi_strlcpy(p->failed_reason, p->sinks[i]->reason, sizeof(p->failed_reason));
        }
    if (ret < 0)
        for (int i = 0; i < p->nb_sinks; i++)
            if (p->sinks[i]->out_open) {
                p->sinks[i]->out_open = 0;
                vpi_output_abort(&p->sinks[i]->out);
            }
    p->stats.seconds = (vpi_now_us() - t0) / 1e6;
    av_packet_free(&pkt);
    av_frame_free(&frame);
    return ret;
}

void vpi_pipeline_set_gate(VpPipeline *p, int (*gate)(void *opaque), void *opaque)
{
    p->gate = gate;
    p->gate_opaque = opaque;
}

int vp_pipeline_run(VpPipeline *p)
{
    const VpLogger *prev = vpi_log_scope_enter(&p->opts.logger);
    int ret = pipeline_run(p);
    vpi_log_scope_leave(prev);
    /* FFmpeg's answer to the cancel inside a write or a seek is AVERROR_EXIT; the caller
     * is promised VP_ERR_CANCELLED, as for the cancel seen between packets. */
    if (ret == AVERROR_EXIT && vpi_cancelled(&p->opts.cancel))
        ret = VP_ERR_CANCELLED;
    if (ret < 0)
        p->last_err = ret;
    return ret;
}

const VpDecodeError *vp_pipeline_decode_errors(const VpPipeline *p, int *nb, int *nb_total)
{
    if (nb)
        *nb = p->nb_errors;
    if (nb_total)
        *nb_total = p->nb_errors_total;
    return p->errors;
}

int vp_pipeline_output_info(const VpPipeline *p, int index, VpOutputInfo *info)
{
    memset(info, 0, sizeof(*info));
    if (index < 0 || index >= p->nb_sinks || !p->sinks[index]->cls->info)
        return AVERROR(EINVAL);
    const VpiSink *s = p->sinks[index];
    int ret = s->cls->info(s, info);
    info->path = s->path;
    struct stat sb;
    info->size = s->path && stat(s->path, &sb) == 0 ? sb.st_size : -1;
    return ret;
}

void vp_pipeline_failure(const VpPipeline *p, VpFailure *fail)
{
    const char *path = NULL;

    memset(fail, 0, sizeof(*fail));
    fail->input = -1;
    if (!p || !p->last_err)
        return;
    fail->code = p->last_err;
    if (p->failed_output) {
        path = p->failed_output;
    } else if (p->last_err != VP_ERR_BAD_OPTION && p->last_err != AVERROR(ENOMEM) &&
               p->last_err != AVERROR(EINVAL)) {
        path = p->path;
        fail->input = 0;
    }
    vpi_strlcpy(fail->path, path, sizeof(fail->path));
    snprintf(fail->message, sizeof(fail->message), "%.600s: %s", path ? path : "pipeline",
             p->failed_output && p->failed_reason[0] ? p->failed_reason
                                                     : vp_strerror(p->last_err));
}

void vp_pipeline_stats(const VpPipeline *p, VpPipelineStats *stats)
{
    *stats = p->stats;
}

void vp_pipeline_close(VpPipeline **pp)
{
    VpPipeline *p = pp ? *pp : NULL;
    if (!p)
        return;
    const VpLogger *prev = vpi_log_scope_enter(&p->opts.logger);
    for (int i = 0; i < p->nb_sinks; i++) {
        VpiSink *s = p->sinks[i];
        thread_stop(s);
        sink_free(s);
    }
    avcodec_free_context(&p->src.vdec);
    avcodec_free_context(&p->src.adec);
    avformat_close_input(&p->fmt);
    avformat_close_input(&p->afmt);
    free(p->errors);
    free(p->failed_output);
    free(p->audio_path);
    free(p->path);
    vpi_log_scope_leave(prev);
    if (p->logger_registered)
        vpi_log_unregister(&p->opts.logger);
    free(p);
    *pp = NULL;
}

int vpi_sink_output_begin(VpiSink *s)
{
    int ret = vpi_output_begin(&s->out, s->path);
    if (ret < 0) {
        vpi_log(s->src->log, VP_LOG_VERBOSE, "%s: cannot create: %s", s->path, vp_strerror(ret));
        s->out_failed = 1;
        return ret;
    }
    s->out_open = 1;
    return 0;
}

void vpi_layout_name(const AVCodecContext *adec, char *buf, size_t size)
{
    /* A decoder that does not know its layout (some raw formats) gets the default one for
     * its channel count, as ffmpeg does. */
    if (adec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        AVChannelLayout def;
        av_channel_layout_default(&def, adec->ch_layout.nb_channels);
        av_channel_layout_describe(&def, buf, size);
    } else {
        av_channel_layout_describe(&adec->ch_layout, buf, size);
    }
}

int vpi_audio_graph(AVFilterGraph **graph, AVFilterContext **src, AVFilterContext **sink,
                    const AVCodecContext *adec, const char *chain)
{
    char args[256], layout[64];
    int ret;

    if (!(*graph = avfilter_graph_alloc()))
        return AVERROR(ENOMEM);
    (*graph)->nb_threads = 1;
    vpi_layout_name(adec, layout, sizeof(layout));
    snprintf(args, sizeof(args), "time_base=1/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             adec->sample_rate, adec->sample_rate, av_get_sample_fmt_name(adec->sample_fmt),
             layout);
    if ((ret = avfilter_graph_create_filter(src, avfilter_get_by_name("abuffer"), "in", args,
                                            NULL, *graph)) < 0 ||
        (ret = avfilter_graph_create_filter(sink, avfilter_get_by_name("abuffersink"), "out",
                                            NULL, NULL, *graph)) < 0)
        return ret;
    return vpi_graph_link(*graph, *src, *sink, chain);
}

int vpi_graph_link(AVFilterGraph *graph, AVFilterContext *src, AVFilterContext *sink,
                   const char *chain)
{
    AVFilterInOut *in = avfilter_inout_alloc(), *out = avfilter_inout_alloc();
    int ret = AVERROR(ENOMEM);
    if (in && out && (out->name = av_strdup("in")) && (in->name = av_strdup("out"))) {
        out->filter_ctx = src;
        in->filter_ctx = sink;
        if ((ret = avfilter_graph_parse_ptr(graph, chain, &in, &out, NULL)) >= 0)
            ret = avfilter_graph_config(graph, NULL);
    }
    avfilter_inout_free(&in);
    avfilter_inout_free(&out);
    return ret;
}

int vpi_mux_open(AVFormatContext **oc, const char *final_path, const char *tmp_path,
                 const char *format, const VpiSource *src)
{
    const AVOutputFormat *of = format ? av_guess_format(format, NULL, NULL)
                                      : av_guess_format(NULL, final_path, NULL);
    if (!of) {
        vpi_log(src->log, VP_LOG_ERROR,
                "%s: unknown output format (use .mp4, .mov or .mkv)", final_path);
        return VP_ERR_BAD_OPTION;
    }
    int ret = avformat_alloc_output_context2(oc, of, NULL, tmp_path);
    if (ret < 0)
        return ret;
    (*oc)->interrupt_callback = (AVIOInterruptCB){ src->cancel->fn, src->cancel->opaque };
    (*oc)->opaque = (void *)src->log;
    return 0;
}
