/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tap sink: the source's audio, through an optional filter chain, handed frame by frame
 * to a callback. It lets an analyser that lives above the engine (the transcriber of
 * `vidpipe run`) share a pass with the outputs instead of decoding the source again. */
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>

#include "sink.h"

typedef struct TapCtx {
    VpiTapOpts o;
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    AVFrame *out;
} TapCtx;

static int init(VpiSink *s, const VpiSource *src)
{
    TapCtx *c = s->priv;
    c->o = *(const VpiTapOpts *)s->opts;
    if (!c->o.audio)
        return AVERROR(EINVAL);
    if (!src->adec)
        return VP_ERR_NO_AUDIO;
    if (c->o.audio_filters && *c->o.audio_filters) {
        int ret = vpi_audio_graph(&c->graph, &c->src, &c->sink, src->adec, c->o.audio_filters);
        if (ret < 0) {
            vpi_log(src->log, VP_LOG_ERROR, "%s: audio filters '%s': %s", src->info->path,
                    c->o.audio_filters, av_err2str(ret));
            return ret;
        }
        if (!(c->out = av_frame_alloc()))
            return AVERROR(ENOMEM);
    }
    s->wants_audio = 1;
    return 0;
}

static int drain(TapCtx *c)
{
    for (;;) {
        int ret = av_buffersink_get_frame(c->sink, c->out);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return ret;
        ret = c->o.audio(c->o.opaque, c->out);
        av_frame_unref(c->out);
        if (ret < 0)
            return ret;
    }
}

static int on_audio(VpiSink *s, AVFrame *f)
{
    TapCtx *c = s->priv;
    if (!c->graph)
        return c->o.audio(c->o.opaque, f);
    int ret = av_buffersrc_add_frame_flags(c->src, f, AV_BUFFERSRC_FLAG_KEEP_REF);
    return ret < 0 ? ret : drain(c);
}

static int finish(VpiSink *s)
{
    TapCtx *c = s->priv;
    int ret;
    if (c->graph && (ret = av_buffersrc_add_frame(c->src, NULL)) < 0)
        return ret;
    return c->graph ? drain(c) : 0;
}

static void close_sink(VpiSink *s)
{
    TapCtx *c = s->priv;
    avfilter_graph_free(&c->graph);
    av_frame_free(&c->out);
}

const VpiSinkClass vpi_sink_tap = {
    .name = "tap",
    .priv_size = sizeof(TapCtx),
    .opts_size = sizeof(VpiTapOpts),
    .init = init,
    .audio = on_audio,
    .finish = finish,
    .close = close_sink,
};
