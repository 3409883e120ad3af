/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pictures through libavfilter chains: the graph helpers and VpiVideoChain the sinks share
 * (QC and stills see the picture as earlier steps made it), and the analysis filter sink,
 * every decoded picture through a chain whose output is dropped (e.g. vidstabdetect, the
 * first pass of stabilization, which writes its transforms file when the graph is freed). */
#include <stdlib.h>
#include <string.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avstring.h>

#include "sink.h"

int vpi_video_graph(AVFilterGraph **graph, AVFilterContext **src, AVFilterContext **sink,
                    const AVFrame *f, const char *chain)
{
    char args[256];
    int ret;

    avfilter_graph_free(graph);
    if (!(*graph = avfilter_graph_alloc()))
        return AVERROR(ENOMEM);
    AVRational sar = f->sample_aspect_ratio.num ? f->sample_aspect_ratio : (AVRational){ 1, 1 };
    snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=1/1000000:"
             "pixel_aspect=%d/%d", f->width, f->height, f->format, sar.num, sar.den);
    if ((ret = avfilter_graph_create_filter(src, avfilter_get_by_name("buffer"), "in", args,
                                            NULL, *graph)) < 0 ||
        (ret = avfilter_graph_create_filter(sink, avfilter_get_by_name("buffersink"), "out",
                                            NULL, NULL, *graph)) < 0)
        return ret;
    return vpi_graph_link(*graph, *src, *sink, chain);
}

int vpi_video_chain_init(VpiVideoChain *vc, const char *chain)
{
    memset(vc, 0, sizeof(*vc));
    if (!chain || !*chain)
        return 0;
    if (!(vc->chain = av_strdup(chain)) || !(vc->out = av_frame_alloc()))
        return AVERROR(ENOMEM);
    return 0;
}

static int chain_drain(VpiVideoChain *vc, int (*each)(void *opaque, AVFrame *f), void *opaque)
{
    for (;;) {
        int ret = av_buffersink_get_frame(vc->sink, vc->out);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return ret;
        ret = each(opaque, vc->out);
        av_frame_unref(vc->out);
        if (ret < 0)
            return ret;
    }
}

int vpi_video_chain_push(VpiVideoChain *vc, AVFrame *f, const VpiSource *src,
                         int (*each)(void *opaque, AVFrame *f), void *opaque)
{
    int ret;
    if (!vc->chain)
        return each(opaque, f);
    if (!vc->graph || f->width != vc->w || f->height != vc->h || f->format != vc->fmt) {
        if ((ret = vpi_video_graph(&vc->graph, &vc->src, &vc->sink, f, vc->chain)) < 0) {
            vpi_log(src->log, VP_LOG_ERROR, "%s: video filters '%s': %s", src->info->path,
                    vc->chain, av_err2str(ret));
            return ret;
        }
        vc->w = f->width;
        vc->h = f->height;
        vc->fmt = f->format;
    }
    if ((ret = av_buffersrc_add_frame_flags(vc->src, f, AV_BUFFERSRC_FLAG_KEEP_REF)) < 0)
        return ret;
    return chain_drain(vc, each, opaque);
}

int vpi_video_chain_flush(VpiVideoChain *vc, int (*each)(void *opaque, AVFrame *f), void *opaque)
{
    int ret;
    if (!vc->graph)
        return 0;
    if ((ret = av_buffersrc_add_frame(vc->src, NULL)) < 0)
        return ret;
    return chain_drain(vc, each, opaque);
}

void vpi_video_chain_free(VpiVideoChain *vc)
{
    avfilter_graph_free(&vc->graph);
    av_frame_free(&vc->out);
    av_freep(&vc->chain);
}

static int drop(void *opaque, AVFrame *f)
{
    (void)opaque;
    (void)f;
    return 0;
}

static int init(VpiSink *s, const VpiSource *src)
{
    VpiVideoChain *c = s->priv;
    const char *chain = *(const char *const *)s->opts;
    if (!src->vst) {
        vpi_log(s->src->log, VP_LOG_VERBOSE,
                "%s: %s", src->info->path, vp_strerror(VP_ERR_NO_VIDEO));
        return VP_ERR_NO_VIDEO;
    }
    if (!chain || !*chain)
        return AVERROR(EINVAL);
    return vpi_video_chain_init(c, chain);
}

static int on_video(VpiSink *s, AVFrame *f)
{
    return vpi_video_chain_push(s->priv, f, s->src, drop, NULL);
}

static int finish(VpiSink *s)
{
    VpiVideoChain *c = s->priv;
    int ret = vpi_video_chain_flush(c, drop, NULL);
    if (ret < 0)
        return ret;
    /* Analysis filters write their results when they are freed. */
    avfilter_graph_free(&c->graph);
    return 0;
}

static void close_sink(VpiSink *s)
{
    vpi_video_chain_free(s->priv);
}

const VpiSinkClass vpi_sink_filter = {
    .name = "filter",
    .priv_size = sizeof(VpiVideoChain),
    .opts_size = sizeof(const char *),
    .init = init,
    .video = on_video,
    .finish = finish,
    .close = close_sink,
};
