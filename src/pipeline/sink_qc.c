/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QC analyser sink: black and frozen pictures measured on a sparse grid of luma samples
 * (the rule of libavfilter's blackdetect and freezedetect, at a fraction of the cost on
 * large pictures), and audio through a libavfilter graph: ebur128 (loudness, loudness range,
 * sample and true peak) then silencedetect. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "ops/qc_int.h"

/* About this many luma samples per row and column are enough to call a picture black or
 * unchanged: 1080p is read at every 8th pixel of every 8th row. */
#define GRID_TARGET 270

typedef struct QcCtx {
    VpQcSpec spec;
    char *achain;                       /* the audio chain before the measurements, or NULL */
    VpiVideoChain vc;                   /* the video chain's */
    VpiQcData d;
    /* video */
    int step, gw, gh;
    uint8_t *grid, *prev;
    int have_prev, prev_black;
    int64_t prev_pts;
    int64_t black_start, freeze_start;   /* INT64_MIN: no stretch open */
    struct SwsContext *sws;
    uint8_t *gray;
    /* audio */
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    AVFrame *af;
    int sample_rate;
    double silence_start;               /* NaN: none open */
    int64_t audio_samples_end;
} QcCtx;

static int push_stretch(VpQcStretch **v, int *nb, double start, double end)
{
    if (*nb % 64 == 0) {
        VpQcStretch *n = realloc(*v, (size_t)(*nb + 64) * sizeof(**v));
        if (!n)
            return AVERROR(ENOMEM);
        *v = n;
    }
    (*v)[(*nb)++] = (VpQcStretch){ start, end };
    return 0;
}

static int build_audio_graph(QcCtx *c, const AVCodecContext *adec)
{
    char chain[256];

    char *full = NULL;
    int ret;
    snprintf(chain, sizeof(chain), "ebur128=peak=sample+true:metadata=1,"
             "silencedetect=n=%gdB:d=%g", c->spec.silence_db, c->spec.silence_min);
    /* Measured at the source's rate and layout, whatever the chain made of them (loudnorm:
     * 192 kHz, and a layout ebur128 no longer knows). */
    if (c->achain) {
        char layout[64];
        vpi_layout_name(adec, layout, sizeof(layout));
        if (!(full = av_asprintf("%s,aresample=%d,aformat=channel_layouts=%s,%s", c->achain,
                                 adec->sample_rate, layout, chain)))
            return AVERROR(ENOMEM);
        ret = vpi_audio_graph(&c->graph, &c->src, &c->sink, adec, full);
        av_free(full);
        return ret;
    }
    return vpi_audio_graph(&c->graph, &c->src, &c->sink, adec, chain);
}

static int init(VpiSink *s, const VpiSource *src)
{
    QcCtx *c = s->priv;
    int ret;

    const VpiQcSinkOpts *o = s->opts;
    c->spec = o->spec;
    if ((ret = vpi_video_chain_init(&c->vc, o->video_filters)) < 0)
        return ret;
    if (o->audio_filters && *o->audio_filters && !(c->achain = av_strdup(o->audio_filters)))
        return AVERROR(ENOMEM);
    c->black_start = c->freeze_start = INT64_MIN;
    c->silence_start = NAN;
    c->d.sample_peak = c->d.true_peak = c->d.loudness = c->d.lra = NAN;
    c->d.video_end = c->d.audio_end = NAN;
    if (src->vst) {
        int w = src->info->width, h = src->info->height;
        int big = w > h ? w : h;
        c->step = big > GRID_TARGET * 1.5 ? (big + GRID_TARGET - 1) / GRID_TARGET : 1;
        if (c->step > 16)
            c->step = 16;
    }
    if (src->adec) {
        if (!(c->af = av_frame_alloc()))
            return AVERROR(ENOMEM);
        c->sample_rate = src->adec->sample_rate;
        if ((ret = build_audio_graph(c, src->adec)) < 0) {
            vpi_log(s->src->log, VP_LOG_WARNING,
                    "%s: audio cannot be measured%s%s%s: %s", src->info->path,
                    c->achain ? " through '" : "", c->achain ? c->achain : "",
                    c->achain ? "'" : "", av_err2str(ret));
            avfilter_graph_free(&c->graph);
        } else {
            s->wants_audio = 1;
        }
    }
    return 0;
}

/* Sample the luma plane on the grid into c->grid (8 bits per sample). */
static int sample_luma(QcCtx *c, const AVFrame *f, int *full_range)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(f->format);
    int step = c->step;
    int gw = (f->width + step - 1) / step, gh = (f->height + step - 1) / step;

    if (gw != c->gw || gh != c->gh) {
        av_freep(&c->grid);
        av_freep(&c->prev);
        c->have_prev = 0;
        if (!(c->grid = av_malloc((size_t)gw * gh)) || !(c->prev = av_malloc((size_t)gw * gh)))
            return AVERROR(ENOMEM);
        c->gw = gw;
        c->gh = gh;
    }
    *full_range = f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P ||
                  f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
    if (desc && !(desc->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL |
                                 AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM)) &&
        desc->comp[0].plane == 0 && desc->comp[0].depth <= 16) {
        const int bps = desc->comp[0].step, depth = desc->comp[0].depth;
        const int off = desc->comp[0].offset;
        const int be = !!(desc->flags & AV_PIX_FMT_FLAG_BE);
        for (int y = 0; y < gh; y++) {
            const uint8_t *row = f->data[0] + (size_t)y * step * f->linesize[0] + off;
            uint8_t *dst = c->grid + (size_t)y * gw;
            if (bps == 1)
                for (int x = 0; x < gw; x++)
                    dst[x] = row[(size_t)x * step];
            else
                for (int x = 0; x < gw; x++) {
                    const uint8_t *p = row + (size_t)x * step * bps;
                    int v = be ? (p[0] << 8 | p[1]) : (p[1] << 8 | p[0]);
                    dst[x] = (uint8_t)(v >> (depth - 8));
                }
        }
        return 0;
    }
    /* RGB and other layouts: let swscale make the luma. */
    c->sws = sws_getCachedContext(c->sws, f->width, f->height, f->format, gw, gh,
                                  AV_PIX_FMT_GRAY8, SWS_POINT, NULL, NULL, NULL);
    if (!c->sws)
        return VP_ERR_UNSUPPORTED;
    uint8_t *dst[4] = { c->grid };
    int ls[4] = { gw };
    sws_scale(c->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, ls);
    *full_range = 1;
    return 0;
}

static int close_black(QcCtx *c, int64_t end)
{
    int ret = 0;
    if (c->black_start != INT64_MIN && (end - c->black_start) / 1e6 >= c->spec.black_min)
        ret = push_stretch(&c->d.black, &c->d.nb_black, c->black_start / 1e6, end / 1e6);
    c->black_start = INT64_MIN;
    return ret;
}

static int close_freeze(QcCtx *c, int64_t end)
{
    int ret = 0;
    if (c->freeze_start != INT64_MIN && (end - c->freeze_start) / 1e6 >= c->spec.freeze_min)
        ret = push_stretch(&c->d.freeze, &c->d.nb_freeze, c->freeze_start / 1e6, end / 1e6);
    c->freeze_start = INT64_MIN;
    return ret;
}

static int measure_picture(VpiSink *s, QcCtx *c, AVFrame *f)
{
    int full, ret;

    if ((ret = sample_luma(c, f, &full)) < 0)
        return ret;
    size_t n = (size_t)c->gw * c->gh;
    int th = full ? (int)(c->spec.black_pixel * 255)
                  : 16 + (int)(c->spec.black_pixel * (235 - 16));
    size_t nb_black = 0;
    for (size_t i = 0; i < n; i++)
        nb_black += c->grid[i] <= th;
    int black = nb_black >= c->spec.black_ratio * n;

    if (black && c->black_start == INT64_MIN)
        c->black_start = f->pts;
    else if (!black && (ret = close_black(c, f->pts)) < 0)
        return ret;

    /* A black picture is reported as black, not as frozen. */
    if (c->have_prev && !black && !c->prev_black) {
        uint64_t sad = 0;
        for (size_t i = 0; i < n; i++)
            sad += (uint64_t)abs(c->grid[i] - c->prev[i]);
        double mafd = (double)sad / ((double)n * 255);
        if (mafd <= c->spec.freeze_noise) {
            if (c->freeze_start == INT64_MIN)
                c->freeze_start = c->prev_pts;
        } else if ((ret = close_freeze(c, f->pts)) < 0) {
            return ret;
        }
    } else if ((ret = close_freeze(c, f->pts)) < 0) {
        return ret;
    }
    uint8_t *t = c->prev;
    c->prev = c->grid;
    c->grid = t;
    c->have_prev = 1;
    c->prev_black = black;
    c->prev_pts = f->pts;
    int64_t dur = s->src->frame_dur_us ? s->src->frame_dur_us : 0;
    double end = (f->pts + dur) / 1e6;
    if (!(c->d.video_end >= end))
        c->d.video_end = end;
    return 0;
}

static int measure_each(void *opaque, AVFrame *f)
{
    VpiSink *s = opaque;
    return measure_picture(s, s->priv, f);
}

/* Pictures through the chain of the steps before the check, then measured. */
static int on_video(VpiSink *s, AVFrame *f)
{
    QcCtx *c = s->priv;
    return vpi_video_chain_push(&c->vc, f, s->src, measure_each, s);
}

static double meta(const AVFrame *f, const char *key)
{
    AVDictionaryEntry *e = av_dict_get(f->metadata, key, NULL, 0);
    return e ? strtod(e->value, NULL) : NAN;
}

static int drain_audio(QcCtx *c)
{
    int ret;
    for (;;) {
        ret = av_buffersink_get_frame(c->sink, c->af);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return ret;
        double v;
        if (isfinite(v = meta(c->af, "lavfi.r128.M"))) {
            if (c->d.nb_momentary % 1024 == 0) {
                float *m = realloc(c->d.momentary,
                                   (size_t)(c->d.nb_momentary + 1024) * sizeof(*m));
                if (!m) {
                    av_frame_unref(c->af);
                    return AVERROR(ENOMEM);
                }
                c->d.momentary = m;
            }
            c->d.momentary[c->d.nb_momentary++] = (float)v;
        }
        if (isfinite(v = meta(c->af, "lavfi.r128.I")))
            c->d.loudness = v;
        if (isfinite(v = meta(c->af, "lavfi.r128.LRA")))
            c->d.lra = v;
        if (isfinite(v = meta(c->af, "lavfi.r128.sample_peak")))
            c->d.sample_peak = v;
        if (isfinite(v = meta(c->af, "lavfi.r128.true_peak")))
            c->d.true_peak = v;
        if (isfinite(v = meta(c->af, "lavfi.silence_start")))
            c->silence_start = v < 0 ? 0 : v;
        if (isfinite(v = meta(c->af, "lavfi.silence_end")) && isfinite(c->silence_start)) {
            ret = push_stretch(&c->d.silence, &c->d.nb_silence, c->silence_start, v);
            c->silence_start = NAN;
            if (ret < 0) {
                av_frame_unref(c->af);
                return ret;
            }
        }
        av_frame_unref(c->af);
    }
}

static int on_audio(VpiSink *s, AVFrame *f)
{
    QcCtx *c = s->priv;
    int ret;
    if (!c->graph)
        return 0;
    if (f->pts != AV_NOPTS_VALUE && f->pts + f->nb_samples > c->audio_samples_end)
        c->audio_samples_end = f->pts + f->nb_samples;
    if ((ret = av_buffersrc_add_frame_flags(c->src, f, AV_BUFFERSRC_FLAG_KEEP_REF)) < 0)
        return ret;
    return drain_audio(c);
}

static int finish(VpiSink *s)
{
    QcCtx *c = s->priv;
    int ret;
    if ((ret = vpi_video_chain_flush(&c->vc, measure_each, s)) < 0)
        return ret;
    if (isfinite(c->d.video_end)) {
        int64_t end = (int64_t)(c->d.video_end * 1e6);
        if ((ret = close_black(c, end)) < 0 || (ret = close_freeze(c, end)) < 0)
            return ret;
    }
    if (c->graph) {
        if ((ret = av_buffersrc_add_frame(c->src, NULL)) < 0 || (ret = drain_audio(c)) < 0)
            return ret;
        c->d.audio_end = (double)c->audio_samples_end / c->sample_rate;
        if (isfinite(c->silence_start) && c->d.audio_end - c->silence_start >= c->spec.silence_min)
            if ((ret = push_stretch(&c->d.silence, &c->d.nb_silence, c->silence_start,
                                    c->d.audio_end)) < 0)
                return ret;
        c->silence_start = NAN;
    }
    c->d.done = 1;
    return 0;
}

static void close_sink(VpiSink *s)
{
    QcCtx *c = s->priv;
    avfilter_graph_free(&c->graph);
    vpi_video_chain_free(&c->vc);
    av_freep(&c->achain);
    av_frame_free(&c->af);
    av_freep(&c->grid);
    av_freep(&c->prev);
    sws_freeContext(c->sws);
    c->sws = NULL;
    vpi_qc_data_clear(&c->d);
}

const VpiSinkClass vpi_sink_qc = {
    .name = "qc",
    .priv_size = sizeof(QcCtx),
    .opts_size = sizeof(VpiQcSinkOpts),
    .init = init,
    .video = on_video,
    .audio = on_audio,
    .finish = finish,
    .close = close_sink,
    .threaded = 1,
};

/* Loudness alone (loudnorm's first pass): the same audio measurement, no picture decoded. */
const VpiSinkClass vpi_sink_loudness = {
    .name = "loudness",
    .priv_size = sizeof(QcCtx),
    .opts_size = sizeof(VpiQcSinkOpts),
    .init = init,
    .audio = on_audio,
    .finish = finish,
    .close = close_sink,
};

VpiQcData *vpi_sink_qc_data(VpiSink *s)
{
    return &((QcCtx *)s->priv)->d;
}

void vpi_qc_data_clear(VpiQcData *d)
{
    free(d->black);
    free(d->freeze);
    free(d->silence);
    free(d->momentary);
    memset(d, 0, sizeof(*d));
}
