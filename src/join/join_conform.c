/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --conform: re-encode one segment so that it can be stream-copied into a join: the
 * reference's resolution, pixel format, SAR and frame rate (H.264, closed GOPs), and its
 * audio rate and channels (AAC-LC). Only the offending segment pays for this. */
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "util/internal.h"
#include "join_internal.h"
#include "vidpipe/probe.h"

typedef struct Stream {
    int in_index;
    AVCodecContext *dec, *enc;
    AVFilterGraph *graph;
    AVFilterContext *src, *sink;
    AVStream *out;
    int64_t next_pts;
} Stream;

static int open_decoder(AVFormatContext *ic, int idx, AVCodecContext **out, const VpLogger *lg)
{
    const AVCodec *dec = avcodec_find_decoder(ic->streams[idx]->codecpar->codec_id);
    if (!dec)
        return AVERROR_DECODER_NOT_FOUND;
    AVCodecContext *c = avcodec_alloc_context3(dec);
    if (!c)
        return AVERROR(ENOMEM);
    int ret = avcodec_parameters_to_context(c, ic->streams[idx]->codecpar);
    if (ret >= 0) {
        c->pkt_timebase = ic->streams[idx]->time_base;
        c->opaque = (void *)lg;
        ret = avcodec_open2(c, dec, NULL);
    }
    if (ret < 0)
        avcodec_free_context(&c);
    *out = c;
    return ret;
}

static int make_graph(Stream *s, const char *src_args, const char *desc, int video)
{
    AVFilterInOut *in = avfilter_inout_alloc(), *out = avfilter_inout_alloc();
    int ret;
    s->graph = avfilter_graph_alloc();
    if (!in || !out || !s->graph) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    s->graph->nb_threads = 1;
    if ((ret = avfilter_graph_create_filter(&s->src, avfilter_get_by_name(video ? "buffer"
                                                                               : "abuffer"),
                                            "in", src_args, NULL, s->graph)) < 0 ||
        (ret = avfilter_graph_create_filter(&s->sink, avfilter_get_by_name(video ? "buffersink"
                                                                                : "abuffersink"),
                                            "out", NULL, NULL, s->graph)) < 0)
        goto end;
    out->name = av_strdup("in");
    out->filter_ctx = s->src;
    in->name = av_strdup("out");
    in->filter_ctx = s->sink;
    if ((ret = avfilter_graph_parse_ptr(s->graph, desc, &in, &out, NULL)) < 0)
        goto end;
    ret = avfilter_graph_config(s->graph, NULL);
end:
    avfilter_inout_free(&in);
    avfilter_inout_free(&out);
    return ret;
}

static int write_packets(AVFormatContext *oc, Stream *s)
{
    AVPacket *pkt = av_packet_alloc();
    int ret;
    if (!pkt)
        return AVERROR(ENOMEM);
    while ((ret = avcodec_receive_packet(s->enc, pkt)) >= 0) {
        av_packet_rescale_ts(pkt, s->enc->time_base, s->out->time_base);
        pkt->stream_index = s->out->index;
        if ((ret = av_interleaved_write_frame(oc, pkt)) < 0)
            break;
    }
    av_packet_free(&pkt);
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

/* Filter a decoded frame (NULL: flush) and encode what comes out. */
static int filter_encode(AVFormatContext *oc, Stream *s, AVFrame *in, AVFrame *tmp)
{
    int ret = av_buffersrc_add_frame_flags(s->src, in, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0)
        return ret;
    for (;;) {
        ret = av_buffersink_get_frame(s->sink, tmp);
        if (ret == AVERROR(EAGAIN))
            return 0;
        if (ret == AVERROR_EOF) {
            if ((ret = avcodec_send_frame(s->enc, NULL)) < 0)
                return ret;
            return write_packets(oc, s);
        }
        if (ret < 0)
            return ret;
        tmp->pict_type = AV_PICTURE_TYPE_NONE;
        /* timestamps from the filter's time base into the encoder's */
        if (tmp->pts != AV_NOPTS_VALUE)
            tmp->pts = av_rescale_q(tmp->pts, av_buffersink_get_time_base(s->sink),
                                    s->enc->time_base);
        ret = avcodec_send_frame(s->enc, tmp);
        av_frame_unref(tmp);
        if (ret < 0 || (ret = write_packets(oc, s)) < 0)
            return ret;
    }
}

int vpi_conform(const char *in_path, const VpMediaInfo *ref, const char *out_path, char *why,
                size_t why_size, const VpLogger *lg, const VpCancel *cancel)
{
    AVFormatContext *ic = NULL, *oc = NULL;
    Stream st[2] = { { .in_index = -1 }, { .in_index = -1 } };
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frm = av_frame_alloc(), *tmp = av_frame_alloc();
    char args[512], desc[512];
    int ret;

    const VpStreamInfo *rv = ref->video_index >= 0 ? &ref->streams[ref->video_index] : NULL;
    const VpStreamInfo *ra = ref->audio_index >= 0 ? &ref->streams[ref->audio_index] : NULL;
    if (!pkt || !frm || !tmp) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if (!rv) {
        snprintf(why, why_size, "the reference has no video");
        ret = VP_ERR_NO_VIDEO;
        goto end;
    }
    if (!(ic = avformat_alloc_context())) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    ic->interrupt_callback = (AVIOInterruptCB){ cancel->fn, cancel->opaque };
    ic->opaque = (void *)lg;
    if ((ret = avformat_open_input(&ic, in_path, NULL, NULL)) < 0 ||
        (ret = avformat_find_stream_info(ic, NULL)) < 0) {
        if (vpi_cancelled(cancel))
            ret = VP_ERR_CANCELLED;
        snprintf(why, why_size, "cannot read it: %s", vp_strerror(ret));
        goto end;
    }
    st[0].in_index = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    st[1].in_index = ra ? av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0) : -1;
    if (st[0].in_index < 0) {
        snprintf(why, why_size, "it has no video");
        ret = VP_ERR_NO_VIDEO;
        goto end;
    }
    if ((ret = avformat_alloc_output_context2(&oc, NULL, "mp4", out_path)) < 0)
        goto end;
    oc->interrupt_callback = ic->interrupt_callback;
    oc->opaque = (void *)lg;

    VpRational fr = rv->r_frame_rate.den && rv->r_frame_rate.num ? rv->r_frame_rate
                                                                  : rv->avg_frame_rate;
    if (!fr.num || !fr.den)
        fr = (VpRational){ 25, 1 };
    for (int i = 0; i < 2; i++) {
        Stream *s = &st[i];
        if (s->in_index < 0)
            continue;
        if ((ret = open_decoder(ic, s->in_index, &s->dec, lg)) < 0) {
            snprintf(why, why_size, "cannot decode it: %s", vp_strerror(ret));
            goto end;
        }
        AVStream *is = ic->streams[s->in_index];
        const AVCodec *enc = avcodec_find_encoder_by_name(i ? "aac" : "libx264");
        if (!enc)
            enc = avcodec_find_encoder(i ? AV_CODEC_ID_AAC : AV_CODEC_ID_H264);
        if (!enc || !(s->enc = avcodec_alloc_context3(enc))) {
            ret = enc ? AVERROR(ENOMEM) : AVERROR_ENCODER_NOT_FOUND;
            goto end;
        }
        s->enc->opaque = (void *)lg;
        if (i == 0) {
            AVRational sar = s->dec->sample_aspect_ratio.num ? s->dec->sample_aspect_ratio
                                                             : (AVRational){ 1, 1 };
            snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:"
                     "pixel_aspect=%d/%d", s->dec->width, s->dec->height, s->dec->pix_fmt,
                     is->time_base.num, is->time_base.den, sar.num, sar.den);
            VpRational rsar = rv->sar.num ? rv->sar : (VpRational){ 1, 1 };
            /* the fps filter only when the rate differs: at EOF it may drop a frame */
            AVRational ifr = av_guess_frame_rate(ic, is, NULL);
            char fps[64] = "";
            if ((int64_t)ifr.num * fr.den != (int64_t)fr.num * ifr.den)
                snprintf(fps, sizeof(fps), "fps=%d/%d,", fr.num, fr.den);
            snprintf(desc, sizeof(desc), "scale=%d:%d,setsar=%d/%d,%sformat=%s", rv->width,
                     rv->height, rsar.num, rsar.den, fps, rv->pix_fmt[0] ? rv->pix_fmt : "yuv420p");
            if ((ret = make_graph(s, args, desc, 1)) < 0)
                goto end;
            s->enc->width = rv->width;
            s->enc->height = rv->height;
            s->enc->pix_fmt = av_buffersink_get_format(s->sink);
            s->enc->sample_aspect_ratio = av_buffersink_get_sample_aspect_ratio(s->sink);
            s->enc->time_base = (AVRational){ fr.den, fr.num };
            s->enc->framerate = (AVRational){ fr.num, fr.den };
            s->enc->gop_size = rv->keyint_max > 0 ? rv->keyint_max : 2 * fr.num / fr.den;
            av_opt_set(s->enc->priv_data, "preset", "veryfast", 0);
            av_opt_set(s->enc->priv_data, "crf", "18", 0);
            av_opt_set(s->enc->priv_data, "x264-params", "open-gop=0", 0);
            s->enc->thread_count = 1;
        } else {
            char layout[64];
            av_channel_layout_describe(&s->dec->ch_layout, layout, sizeof(layout));
            snprintf(args, sizeof(args), "time_base=1/%d:sample_rate=%d:sample_fmt=%s:"
                     "channel_layout=%s", s->dec->sample_rate, s->dec->sample_rate,
                     av_get_sample_fmt_name(s->dec->sample_fmt), layout);
            AVChannelLayout cl;
            av_channel_layout_default(&cl, ra->channels);
            av_channel_layout_describe(&cl, layout, sizeof(layout));
            snprintf(desc, sizeof(desc), "aresample=%d,aformat=sample_fmts=fltp:"
                     "channel_layouts=%s,asetnsamples=n=1024:p=1", ra->sample_rate, layout);
            if ((ret = make_graph(s, args, desc, 0)) < 0)
                goto end;
            s->enc->sample_rate = ra->sample_rate;
            s->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
            av_channel_layout_copy(&s->enc->ch_layout, &cl);
            s->enc->time_base = (AVRational){ 1, ra->sample_rate };
            s->enc->bit_rate = ra->bit_rate > 0 ? ra->bit_rate : 128000;
        }
        if (oc->oformat->flags & AVFMT_GLOBALHEADER)
            s->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        if ((ret = avcodec_open2(s->enc, enc, NULL)) < 0) {
            snprintf(why, why_size, "cannot open the %s encoder: %s", enc->name,
                     vp_strerror(ret));
            goto end;
        }
        if (!(s->out = avformat_new_stream(oc, NULL)) ||
            (ret = avcodec_parameters_from_context(s->out->codecpar, s->enc)) < 0) {
            ret = ret < 0 ? ret : AVERROR(ENOMEM);
            goto end;
        }
        s->out->time_base = s->enc->time_base;
    }
    if ((ret = avio_open2(&oc->pb, out_path, AVIO_FLAG_WRITE, &oc->interrupt_callback,
                          NULL)) < 0 ||
        (ret = avformat_write_header(oc, NULL)) < 0) {
        snprintf(why, why_size, "cannot write %s: %s", out_path, vp_strerror(ret));
        goto end;
    }
    while (!(ret = vpi_cancelled(cancel) ? VP_ERR_CANCELLED : 0) &&
           (ret = av_read_frame(ic, pkt)) >= 0) {
        Stream *s = pkt->stream_index == st[0].in_index ? &st[0]
                  : pkt->stream_index == st[1].in_index ? &st[1] : NULL;
        if (s && (ret = avcodec_send_packet(s->dec, pkt)) >= 0) {
            while ((ret = avcodec_receive_frame(s->dec, frm)) >= 0) {
                frm->pts = frm->best_effort_timestamp;
                ret = filter_encode(oc, s, frm, tmp);
                av_frame_unref(frm);
                if (ret < 0)
                    goto end;
            }
            if (ret == AVERROR(EAGAIN))
                ret = 0;
        }
        av_packet_unref(pkt);
        if (ret < 0 && ret != AVERROR_INVALIDDATA)
            goto end;
    }
    if (ret == VP_ERR_CANCELLED || vpi_cancelled(cancel)) {
        ret = VP_ERR_CANCELLED;
        goto end;
    }
    for (int i = 0; i < 2; i++) {
        Stream *s = &st[i];
        if (s->in_index < 0)
            continue;
        avcodec_send_packet(s->dec, NULL);
        while (avcodec_receive_frame(s->dec, frm) >= 0) {
            frm->pts = frm->best_effort_timestamp;
            ret = filter_encode(oc, s, frm, tmp);
            av_frame_unref(frm);
            if (ret < 0)
                goto end;
        }
        if ((ret = filter_encode(oc, s, NULL, tmp)) < 0)
            goto end;
    }
    ret = av_write_trailer(oc);

end:
    if (ret < 0 && !why[0])
        snprintf(why, why_size, "%s", vp_strerror(ret));
    for (int i = 0; i < 2; i++) {
        avcodec_free_context(&st[i].dec);
        avcodec_free_context(&st[i].enc);
        avfilter_graph_free(&st[i].graph);
    }
    if (oc) {
        avio_closep(&oc->pb);
        avformat_free_context(oc);
    }
    avformat_close_input(&ic);
    av_frame_free(&tmp);
    av_frame_free(&frm);
    av_packet_free(&pkt);
    return ret < 0 ? ret : 0;
}
