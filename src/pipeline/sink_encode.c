/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The encoder sink: frame-rate selection, a libavfilter graph (user filters, scale, pad),
 * the video encoder from encode/'s one opener (libx264, or hardware when asked) and AAC, and
 * a muxer writing to an atomic output. The "conform" class is the same sink with the
 * reference's exact picture and sound (join --conform). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "encode/encoder.h"
#include "options/options.h"
#include "sink.h"

typedef struct EncodeCtx {
    VpEncodeOpts o;
    int exact;                  /* the conform class: x below, not o's fit */
    VpiConformOpts x;
    int out_w, out_h;
    AVRational fps;             /* output frame rate */
    AVRational vtb;             /* video encoder time base (1/fps) */

    /* frame-rate selection, the same rule as libavfilter's fps filter (rounding "near"):
     * output slot n shows the last input frame whose time rounds to n or less. */
    AVFrame *cand;
    int64_t next_slot;
    int started;
    int64_t last_in_us;
    int64_t last_pts;           /* keep_timing: the last picture's time, in vtb */

    AVFilterGraph *vgraph;
    AVFilterContext *vsrc, *vsink;
    int g_w, g_h, g_fmt;
    AVFilterGraph *agraph;
    AVFilterContext *asrc, *asink;

    VpiEncoder enc;
    AVCodecContext *venc, *aenc; /* venc: enc.ctx */
    AVFormatContext *oc;
    AVStream *ost_v, *ost_a;
    AVPacket *pkt;
    AVFrame *filt;
    int header_written;
    int64_t frames_out;
    int64_t copy_first_dts;
    int64_t audio_samples;
} EncodeCtx;

static const char *const fit_names[] = { "source", "height", "width", "pad", NULL };

#define O(...) VPI_OPT_ROW(VpEncodeOpts, __VA_ARGS__)

/* path, the filter chains and copy_video are set by the operations, not typed: no rows. */
static const VpiOption encode_options[] = {
    O(fit, ENUM, VP_FIT_SOURCE, 0, 0, "how width and height apply", .names = fit_names),
    O(width, INT, 0, 0, 8192, "output width (fit width or pad)"),
    O(height, INT, 0, 0, 8192, "output height (fit height or pad)"),
    O(fps, RATIONAL, 0, 0.001, 1000, "output frame rate (0: the source's)",
      .flags = VPI_OPT_ZERO_OK),
    O(crf, INT, 23, 0, 51, "x264 constant rate factor"),
    O(x264_preset, CSTRING, 0, 0, 0, "x264 preset", .def_str = "medium",
      .names = vpi_x264_presets),
    O(max_bitrate, BITRATE, 0, 0, 1e9, "bits/s cap (0: none)"),
    O(video_threads, INT, 0, 0, 64, "encoder threads (0: automatic)"),
    O(audio, BOOL, 1, 0, 1, "encode the source's audio when it has some"),
    O(audio_bitrate, BITRATE, 128000, 8000, 512000, "AAC bits/s"),
    O(faststart, BOOL, 1, 0, 1, "moov before mdat (MP4/MOV)"),
    O(end_time, DOUBLE, 0, 0, 1e9, "seconds: nothing from this time on is written (0: none)"),
    /* Software unless asked: the same output on every machine. */
    O(hw, ENUM, VP_HW_NONE, 0, 0, VPI_HW_HELP, .names = vpi_hw_names),
    { NULL },
};
#undef O

static int check_encode(const void *obj, char *err, size_t err_size)
{
    const VpEncodeOpts *o = obj;
    if (!o->path || !*o->path) {
        snprintf(err, err_size, "path: an output file is required");
        return VP_ERR_BAD_OPTION;
    }
    if ((o->fit == VP_FIT_HEIGHT || o->fit == VP_FIT_PAD) && o->height < 2) {
        snprintf(err, err_size, "height: value %d is out of range 2..8192", o->height);
        return VP_ERR_BAD_OPTION;
    }
    if ((o->fit == VP_FIT_WIDTH || o->fit == VP_FIT_PAD) && o->width < 2) {
        snprintf(err, err_size, "width: value %d is out of range 2..8192", o->width);
        return VP_ERR_BAD_OPTION;
    }
    return 0;
}

const VpiOptTable vpi_encode_options = { "encode", encode_options, check_encode };

void vp_encode_default_opts(VpEncodeOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_encode_options, o);
}

static int validate(const VpEncodeOpts *o, const VpLogger *lg)
{
    char why[256];
    int ret = vpi_opt_check(&vpi_encode_options, o, why, sizeof(why));
    if (ret < 0)
        vpi_log(lg, VP_LOG_ERROR, "%s: encode option %s", o->path ? o->path : "(output)", why);
    return ret;
}

static int even(double v)
{
    int n = 2 * (int)lrint(v / 2);
    return n < 2 ? 2 : n;
}

static void output_size(EncodeCtx *c, const VpSourceInfo *in)
{
    double sar = in->sar.num > 0 && in->sar.den > 0 ? (double)in->sar.num / in->sar.den : 1;
    double dw = in->width * sar, dh = in->height;
    if (in->rotation == 90 || in->rotation == 270) {
        double t = dw;
        dw = dh;
        dh = t;
    }
    double dar = dw / (dh > 0 ? dh : 1);
    if (c->exact) {
        c->out_w = c->x.width;
        c->out_h = c->x.height;
        return;
    }
    switch (c->o.fit) {
    case VP_FIT_SOURCE:
        c->out_w = even(floor(dw / 2) * 2);
        c->out_h = even(floor(dh / 2) * 2);
        break;
    case VP_FIT_HEIGHT:
        c->out_h = c->o.height & ~1;
        c->out_w = even(c->out_h * dar);
        break;
    case VP_FIT_WIDTH:
        c->out_w = c->o.width & ~1;
        c->out_h = even(c->out_w / dar);
        break;
    case VP_FIT_PAD:
        c->out_w = c->o.width & ~1;
        c->out_h = c->o.height & ~1;
        break;
    }
}

static int open_video_encoder(VpiSink *s, EncodeCtx *c)
{
    VpiEncoderSettings e;
    char tried[1024] = "", why[256] = "";
    int ret;

    vpi_encoder_default_settings(&e);
    e.logger = s->src->log;
    e.hw = c->o.hw;
    e.width = c->out_w;
    e.height = c->out_h;
    e.fps = c->fps;
    e.time_base = c->vtb;
    const AVPixFmtDescriptor *d = s->src->vst ? av_pix_fmt_desc_get(s->src->vst->codecpar->format)
                                              : NULL;
    int deep = d && d->comp[0].depth > 8;
    e.high_depth = c->o.keep_depth && deep;
    e.preset = c->o.x264_preset;
    e.crf = c->o.crf;
    e.max_bitrate = c->o.max_bitrate;
    e.threads = c->o.video_threads;
    e.global_header = !!(c->oc->oformat->flags & AVFMT_GLOBALHEADER);
    if (c->exact) {
        e.sar = c->x.sar;
        e.input_format = c->x.pix_fmt;
        e.exact_format = 1;
        e.keyint = c->x.keyint;
        e.encoder_params = c->x.encoder_params;
    }
    if ((ret = vpi_encoder_open(&e, &c->enc, tried, sizeof(tried), why, sizeof(why))) < 0) {
        /* The output's settings are at fault, not the source: the reason goes with the
         * failure (vp_pipeline_failure), the log only traces it. */
        s->out_failed = 1;
        if (c->o.hw != VP_HW_AUTO && c->o.hw != VP_HW_NONE)
            snprintf(s->reason, sizeof(s->reason), "hardware encoder %s unavailable: %s",
                     vp_hw_encoder_name(c->o.hw), why);
        else
            snprintf(s->reason, sizeof(s->reason), "cannot open the video encoder: %s", why);
        vpi_log(s->src->log, VP_LOG_VERBOSE, "%s: %s", s->path, s->reason);
        return ret;
    }
    c->venc = c->enc.ctx;
    char note[512];
    if (e.high_depth && vpi_encoder_depth_note(s->path, d->comp[0].depth, c->enc.sw_format,
                                               c->venc->codec->name, note, sizeof(note)))
        vpi_log(s->src->log, VP_LOG_WARNING, "%s", note);
    vpi_log(s->src->log, *tried ? VP_LOG_INFO : VP_LOG_VERBOSE, "%s: encoder %s%s%s%s", s->path,
            c->venc->codec->name, *tried ? " (not used: " : "", tried, *tried ? ")" : "");
    if (!(c->ost_v = avformat_new_stream(c->oc, NULL)))
        return AVERROR(ENOMEM);
    c->ost_v->time_base = c->vtb;
    c->ost_v->avg_frame_rate = c->fps;
    return avcodec_parameters_from_context(c->ost_v->codecpar, c->venc);
}

/* Whether the output's container takes @p id: avformat_query_codec() is 1 (yes), 0 (no) or
 * negative (the muxer does not say: let it try). */
static int container_takes(const AVFormatContext *oc, enum AVCodecID id)
{
    return avformat_query_codec(oc->oformat, id, FF_COMPLIANCE_NORMAL) != 0;
}

/* "o.webm: WebM cannot hold h264 video" before anything is written, rather than the
 * muxer's EINVAL at the header, which reads as the input's fault. */
static int refuse_codec(VpiSink *s, EncodeCtx *c, enum AVCodecID id, const char *what)
{
    vpi_log(s->src->log, VP_LOG_ERROR, "%s: the %s container cannot hold %s %s", s->path,
            c->oc->oformat->name, avcodec_get_name(id), what);
    s->out_failed = 1;
    return VP_ERR_CONTAINER_CODEC;
}

/* The audio encoder: AAC; with keep_audio_codec the source's codec when the container
 * takes it and FFmpeg can encode it, else AAC, else the container's own audio codec. */
static const AVCodec *audio_codec(EncodeCtx *c, const AVCodecContext *adec)
{
    const AVCodec *codec;
    if (c->o.keep_audio_codec && !c->exact && container_takes(c->oc, adec->codec_id) &&
        (codec = avcodec_find_encoder(adec->codec_id)))
        return codec;
    if (container_takes(c->oc, AV_CODEC_ID_AAC) || !c->o.keep_audio_codec || c->exact)
        return avcodec_find_encoder_by_name("aac");
    return c->oc->oformat->audio_codec != AV_CODEC_ID_NONE ?
           avcodec_find_encoder(c->oc->oformat->audio_codec) : NULL;
}

/* The decoder's sample format when the encoder takes it, else the encoder's first. */
static enum AVSampleFormat audio_sample_fmt(const AVCodec *codec, enum AVSampleFormat want)
{
    if (!codec->sample_fmts)
        return want;
    for (const enum AVSampleFormat *f = codec->sample_fmts; *f != AV_SAMPLE_FMT_NONE; f++)
        if (*f == want)
            return want;
    return codec->sample_fmts[0];
}

/* The source's rate when the encoder takes it, else the encoder's first (Opus: 48000). */
static int audio_sample_rate(const AVCodec *codec, int want)
{
    if (!codec->supported_samplerates)
        return want;
    for (const int *r = codec->supported_samplerates; *r; r++)
        if (*r == want)
            return want;
    return codec->supported_samplerates[0];
}

static int open_audio_encoder(VpiSink *s, EncodeCtx *c, const AVCodecContext *adec)
{
    const AVCodec *codec = audio_codec(c, adec);
    int ret;

    if (!codec)
        return VP_ERR_UNSUPPORTED;
    if (!container_takes(c->oc, codec->id))
        return refuse_codec(s, c, codec->id, "audio");
    if (!(c->aenc = avcodec_alloc_context3(codec)))
        return AVERROR(ENOMEM);
    int aac = codec->id == AV_CODEC_ID_AAC;
    c->aenc->opaque = (void *)s->src->log;
    c->aenc->sample_rate = audio_sample_rate(codec, adec->sample_rate);
    c->aenc->sample_fmt = aac ? AV_SAMPLE_FMT_FLTP : audio_sample_fmt(codec, adec->sample_fmt);
    int ch = adec->ch_layout.nb_channels;
    if (c->exact && c->x.sample_rate > 0)
        c->aenc->sample_rate = c->x.sample_rate;
    if (c->exact && c->x.channels > 0)
        ch = c->x.channels;
    else
        ch = ch > 2 ? 2 : ch < 1 ? 1 : ch;
    av_channel_layout_default(&c->aenc->ch_layout, ch);
    c->aenc->bit_rate = c->o.audio_bitrate;
    c->aenc->time_base = (AVRational){ 1, c->aenc->sample_rate };
    if (c->oc->oformat->flags & AVFMT_GLOBALHEADER)
        c->aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(c->aenc, codec, NULL)) < 0) {
        vpi_log(s->src->log, VP_LOG_ERROR,
                "%s: cannot open the %s encoder: %s", s->path, codec->name, av_err2str(ret));
        return ret;
    }
    if (!(c->ost_a = avformat_new_stream(c->oc, NULL)))
        return AVERROR(ENOMEM);
    c->ost_a->time_base = c->aenc->time_base;
    return avcodec_parameters_from_context(c->ost_a->codecpar, c->aenc);
}

static int build_audio_graph(VpiSink *s, EncodeCtx *c, const AVCodecContext *adec)
{
    char layout[64], chain[1024], trim[64] = "";
    int ret;

    av_channel_layout_describe(&c->aenc->ch_layout, layout, sizeof(layout));
    if (c->o.end_time > 0)
        snprintf(trim, sizeof(trim), ",atrim=end=%.6f", c->o.end_time);
    snprintf(chain, sizeof(chain), "%s%saresample=%d,aformat=sample_fmts=%s:channel_layouts=%s%s",
             c->o.audio_filters ? c->o.audio_filters : "", c->o.audio_filters ? "," : "",
             c->aenc->sample_rate, av_get_sample_fmt_name(c->aenc->sample_fmt), layout, trim);
    if ((ret = vpi_audio_graph(&c->agraph, &c->asrc, &c->asink, adec, chain)) < 0) {
        vpi_log(s->src->log, VP_LOG_ERROR,
                "%s: audio filters '%s': %s", s->path, chain, av_err2str(ret));
        return ret;
    }
    /* PCM encoders take any frame size (frame_size 0). */
    if (c->aenc->frame_size > 0 &&
        !(c->aenc->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE))
        av_buffersink_set_frame_size(c->asink, (unsigned)c->aenc->frame_size);
    return 0;
}

static int build_video_graph(VpiSink *s, EncodeCtx *c, const AVFrame *f)
{
    char args[512], chain[2048], scale[512];
    const AVFilter *buffer = avfilter_get_by_name("buffer");
    const AVFilter *buffersink = avfilter_get_by_name("buffersink");
    AVFilterInOut *in = NULL, *out = NULL;
    int ret;

    avfilter_graph_free(&c->vgraph);
    if (!(c->vgraph = avfilter_graph_alloc()))
        return AVERROR(ENOMEM);
    AVRational sar = f->sample_aspect_ratio.num ? f->sample_aspect_ratio
                                                : (AVRational){ 1, 1 };
    snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             f->width, f->height, f->format, c->vtb.num, c->vtb.den, sar.num, sar.den);
    if ((ret = avfilter_graph_create_filter(&c->vsrc, buffer, "in", args, NULL, c->vgraph)) < 0 ||
        (ret = avfilter_graph_create_filter(&c->vsink, buffersink, "out", NULL, NULL,
                                            c->vgraph)) < 0)
        return ret;
    if (c->o.fit == VP_FIT_PAD)
        snprintf(scale, sizeof(scale),
                 "scale=%d:%d:force_original_aspect_ratio=decrease:force_divisible_by=2,"
                 "pad=%d:%d:(ow-iw)/2:(oh-ih)/2", c->out_w, c->out_h, c->out_w, c->out_h);
    else
        snprintf(scale, sizeof(scale), "scale=%d:%d", c->out_w, c->out_h);
    /* Turned upright first, as ffmpeg's autorotation does. */
    int rot = s->src->info->rotation;
    const char *turn = rot == 90 ? "transpose=clock," : rot == 180 ? "hflip,vflip,"
                     : rot == 270 ? "transpose=cclock," : "";
    AVRational osar = c->exact && c->x.sar.num > 0 && c->x.sar.den > 0 ? c->x.sar
                                                                       : (AVRational){ 1, 1 };
    snprintf(chain, sizeof(chain), "%s%s%s%s,setsar=%d/%d,format=%s", turn,
             c->o.video_filters ? c->o.video_filters : "", c->o.video_filters ? "," : "", scale,
             osar.num, osar.den, av_get_pix_fmt_name(c->enc.sw_format));
    if (!(in = avfilter_inout_alloc()) || !(out = avfilter_inout_alloc())) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    out->name = av_strdup("in");
    out->filter_ctx = c->vsrc;
    in->name = av_strdup("out");
    in->filter_ctx = c->vsink;
    if ((ret = avfilter_graph_parse_ptr(c->vgraph, chain, &in, &out, NULL)) < 0 ||
        (ret = avfilter_graph_config(c->vgraph, NULL)) < 0) {
        vpi_log(s->src->log, VP_LOG_ERROR,
                "%s: video filters '%s': %s", s->path, chain, av_err2str(ret));
        goto end;
    }
    c->g_w = f->width;
    c->g_h = f->height;
    c->g_fmt = f->format;
end:
    avfilter_inout_free(&in);
    avfilter_inout_free(&out);
    return ret;
}

static int write_packets(VpiSink *s, EncodeCtx *c, AVCodecContext *enc, AVStream *st)
{
    int ret;
    for (;;) {
        ret = avcodec_receive_packet(enc, c->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return ret;
        av_packet_rescale_ts(c->pkt, enc->time_base, st->time_base);
        c->pkt->stream_index = st->index;
        if ((ret = av_interleaved_write_frame(c->oc, c->pkt)) < 0) {
            s->out_failed = 1;
            vpi_log(s->src->log, VP_LOG_VERBOSE, "%s: write failed: %s", s->path, av_err2str(ret));
            return ret;
        }
    }
}

static int encode_video(VpiSink *s, EncodeCtx *c, AVFrame *f)
{
    int ret;
    if ((ret = vpi_encoder_send(&c->enc, f)) < 0)
        return ret;
    return write_packets(s, c, c->venc, c->ost_v);
}

/* Push one chosen frame, as output slot @p slot, through the filters into the encoder. */
static int emit(VpiSink *s, EncodeCtx *c, AVFrame *src, int64_t slot)
{
    int ret;
    if (!c->vgraph || src->width != c->g_w || src->height != c->g_h || src->format != c->g_fmt)
        if ((ret = build_video_graph(s, c, src)) < 0)
            return ret;
    int64_t saved = src->pts;
    src->pts = slot;
    ret = av_buffersrc_add_frame_flags(c->vsrc, src, AV_BUFFERSRC_FLAG_KEEP_REF);
    src->pts = saved;
    if (ret < 0)
        return ret;
    for (;;) {
        ret = av_buffersink_get_frame(c->vsink, c->filt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return ret;
        c->filt->pict_type = AV_PICTURE_TYPE_NONE;
        ret = encode_video(s, c, c->filt);
        av_frame_unref(c->filt);
        if (ret < 0)
            return ret;
        c->frames_out++;
    }
}

static int64_t slot_of(EncodeCtx *c, int64_t us)
{
    return av_rescale_q_rnd(us, AV_TIME_BASE_Q, c->vtb, AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
}

static int need_video(VpiSink *s, int64_t us)
{
    EncodeCtx *c = s->priv;
    int64_t dur = s->src->frame_dur_us;
    if (c->o.keep_timing)
        return 1;
    /* Kept only if the next picture (one frame later) rounds to a later slot. */
    return !dur || slot_of(c, us + dur) > slot_of(c, us);
}

static int on_video(VpiSink *s, AVFrame *f)
{
    EncodeCtx *c = s->priv;
    int64_t r = slot_of(c, f->pts);
    int ret;

    if (c->o.end_time > 0 && f->pts >= c->o.end_time * 1e6)
        return 0;
    c->last_in_us = f->pts;
    if (c->o.keep_timing) {
        /* Each picture at its own time; one whose time does not advance (a repeated
         * timestamp) cannot follow in the encoder and is dropped, as ffmpeg's passthrough. */
        int64_t pts = av_rescale_q(f->pts, AV_TIME_BASE_Q, c->vtb);
        if (c->started && pts <= c->last_pts)
            return 0;
        c->started = 1;
        c->last_pts = pts;
        return emit(s, c, f, pts);
    }
    if (!c->started) {
        c->started = 1;
        c->next_slot = r < 0 ? 0 : r;
    } else {
        while (r > c->next_slot) {
            if ((ret = emit(s, c, c->cand, c->next_slot)) < 0)
                return ret;
            c->next_slot++;
        }
        av_frame_free(&c->cand);
    }
    if (!(c->cand = av_frame_clone(f)))
        return AVERROR(ENOMEM);
    return 0;
}

static int on_audio(VpiSink *s, AVFrame *f)
{
    EncodeCtx *c = s->priv;
    int ret;
    /* Priming before the start of the source is not part of the output. */
    if (f->pts != AV_NOPTS_VALUE && f->pts + f->nb_samples <= 0)
        return 0;
    if ((ret = av_buffersrc_add_frame_flags(c->asrc, f, AV_BUFFERSRC_FLAG_KEEP_REF)) < 0)
        return ret;
    for (;;) {
        ret = av_buffersink_get_frame(c->asink, c->filt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return ret;
        c->filt->pts = c->audio_samples;
        c->audio_samples += c->filt->nb_samples;
        ret = avcodec_send_frame(c->aenc, c->filt);
        av_frame_unref(c->filt);
        if (ret < 0 || (ret = write_packets(s, c, c->aenc, c->ost_a)) < 0)
            return ret;
    }
}

static int on_video_packet(VpiSink *s, const AVPacket *in)
{
    EncodeCtx *c = s->priv;
    AVPacket *pkt = (AVPacket *)in;
    const AVStream *ist = s->src->vst;
    int64_t off = av_rescale_q(s->src->fmt->start_time == AV_NOPTS_VALUE ? 0
                                                                         : s->src->fmt->start_time,
                               AV_TIME_BASE_Q, ist->time_base);
    if (c->o.end_time > 0 && pkt->pts != AV_NOPTS_VALUE &&
        av_rescale_q(pkt->pts - off, ist->time_base, AV_TIME_BASE_Q) >= c->o.end_time * 1e6)
        return 0;
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts -= off;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts -= off;
    av_packet_rescale_ts(pkt, ist->time_base, c->ost_v->time_base);
    pkt->stream_index = c->ost_v->index;
    pkt->pos = -1;
    c->frames_out++;
    int ret = av_interleaved_write_frame(c->oc, pkt);
    s->out_failed |= ret < 0;
    if (ret < 0)
        vpi_log(s->src->log, VP_LOG_VERBOSE, "%s: write failed: %s", s->path, av_err2str(ret));
    return ret;
}

static int init(VpiSink *s, const VpiSource *src)
{
    EncodeCtx *c = s->priv;
    AVDictionary *mopts = NULL;
    int ret;

    c->o = *(const VpEncodeOpts *)s->opts;
    c->o.path = s->path;
    c->o.video_filters = NULL;
    c->o.audio_filters = NULL;
    if ((ret = validate((const VpEncodeOpts *)s->opts, src->log)) < 0)
        return ret;
    /* Copying the video of a source that has none leaves its audio: loudnorm's podcast. */
    if (!src->vst && !(c->o.copy_video && c->o.audio && src->adec)) {
        vpi_log(s->src->log, VP_LOG_VERBOSE,
                "%s: %s", src->info->path, vp_strerror(VP_ERR_NO_VIDEO));
        return VP_ERR_NO_VIDEO;
    }
    /* The filter strings belong to the caller only during the add call: keep copies. */
    const VpEncodeOpts *uo = s->opts;
    if ((uo->video_filters && !(c->o.video_filters = av_strdup(uo->video_filters))) ||
        (uo->audio_filters && !(c->o.audio_filters = av_strdup(uo->audio_filters))))
        return AVERROR(ENOMEM);
    if (!(c->pkt = av_packet_alloc()) || !(c->filt = av_frame_alloc()))
        return AVERROR(ENOMEM);
    output_size(c, src->info);
    AVRational fps = c->o.fps.num ? (AVRational){ c->o.fps.num, c->o.fps.den }
                                  : (AVRational){ src->info->fps.num, src->info->fps.den };
    if (fps.num <= 0 || fps.den <= 0)
        fps = (AVRational){ 25, 1 };
    c->fps = fps;
    c->vtb = av_inv_q(fps);
    if (c->o.keep_timing && !c->exact && src->vst && src->vst->time_base.num > 0 &&
        src->vst->time_base.den > 0)
        c->vtb = src->vst->time_base;

    if ((ret = vpi_sink_output_begin(s)) < 0)
        return ret;
    if ((ret = vpi_mux_open(&c->oc, s->path, s->out.tmp_path, c->exact ? c->x.format : NULL,
                            s->src)) < 0)
        return ret;
    if (c->o.copy_video && src->vst) {
        if (!container_takes(c->oc, src->vst->codecpar->codec_id))
            return refuse_codec(s, c, src->vst->codecpar->codec_id, "video");
        if (!(c->ost_v = avformat_new_stream(c->oc, NULL)))
            return AVERROR(ENOMEM);
        if ((ret = avcodec_parameters_copy(c->ost_v->codecpar, src->vst->codecpar)) < 0)
            return ret;
        c->ost_v->codecpar->codec_tag = 0;
        c->ost_v->time_base = src->vst->time_base;
        c->ost_v->avg_frame_rate = src->vst->avg_frame_rate;
        c->ost_v->sample_aspect_ratio = src->vst->sample_aspect_ratio;
        /* A copied picture keeps its display matrix: players turn it as before. */
        size_t msize;
        const uint8_t *m = av_stream_get_side_data(src->vst, AV_PKT_DATA_DISPLAYMATRIX, &msize);
        uint8_t *dm;
        if (m && (dm = av_stream_new_side_data(c->ost_v, AV_PKT_DATA_DISPLAYMATRIX, msize)))
            memcpy(dm, m, msize);
    } else if (!c->o.copy_video) {
        if ((ret = open_video_encoder(s, c)) < 0)
            return ret;
        if (!container_takes(c->oc, c->venc->codec_id))
            return refuse_codec(s, c, c->venc->codec_id, "video");
    }
    if (c->o.audio && src->adec) {
        if ((ret = open_audio_encoder(s, c, src->adec)) < 0 ||
            (ret = build_audio_graph(s, c, src->adec)) < 0)
            return ret;
        s->wants_audio = 1;
    }
    if (!(c->oc->oformat->flags & AVFMT_NOFILE) &&
        (ret = avio_open2(&c->oc->pb, s->out.tmp_path, AVIO_FLAG_WRITE,
                                &c->oc->interrupt_callback, NULL)) < 0) {
        s->out_failed = 1;
        vpi_log(s->src->log, VP_LOG_VERBOSE, "%s: cannot write: %s", s->path, av_err2str(ret));
        return ret;
    }
    if (c->o.faststart)
        av_dict_set(&mopts, "movflags", "+faststart", 0);
    ret = avformat_write_header(c->oc, &mopts);
    av_dict_free(&mopts);
    if (ret < 0) {
        vpi_log(s->src->log, VP_LOG_VERBOSE,
                "%s: cannot start the output: %s", s->path, av_err2str(ret));
        return ret;
    }
    c->header_written = 1;
    return 0;
}

static int flush_audio(VpiSink *s, EncodeCtx *c)
{
    int ret;
    if (!c->aenc)
        return 0;
    if ((ret = av_buffersrc_add_frame(c->asrc, NULL)) < 0)
        return ret;
    for (;;) {
        ret = av_buffersink_get_frame(c->asink, c->filt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            break;
        if (ret < 0)
            return ret;
        c->filt->pts = c->audio_samples;
        c->audio_samples += c->filt->nb_samples;
        ret = avcodec_send_frame(c->aenc, c->filt);
        av_frame_unref(c->filt);
        if (ret < 0 || (ret = write_packets(s, c, c->aenc, c->ost_a)) < 0)
            return ret;
    }
    if ((ret = avcodec_send_frame(c->aenc, NULL)) < 0)
        return ret;
    return write_packets(s, c, c->aenc, c->ost_a);
}

static int finish(VpiSink *s)
{
    EncodeCtx *c = s->priv;
    int ret;

    if (!c->o.copy_video) {
        if (c->o.keep_timing ? !c->started : !c->cand) {
            vpi_log(s->src->log, VP_LOG_VERBOSE, "%s: no picture of %s could be decoded", s->path,
                    s->src->info->path);
            return VP_ERR_CORRUPT;
        }
        /* The last picture fills the slots up to the end of its display time. */
        int64_t dur = s->src->frame_dur_us ? s->src->frame_dur_us : 40000;
        int64_t end = slot_of(c, c->last_in_us + dur);
        while (!c->o.keep_timing && (c->next_slot < end || !c->frames_out)) {
            if ((ret = emit(s, c, c->cand, c->next_slot)) < 0)
                return ret;
            c->next_slot++;
        }
        av_frame_free(&c->cand);
        if ((ret = av_buffersrc_add_frame(c->vsrc, NULL)) < 0)
            return ret;
        for (;;) {
            ret = av_buffersink_get_frame(c->vsink, c->filt);
            if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
                break;
            if (ret < 0)
                return ret;
            ret = encode_video(s, c, c->filt);
            av_frame_unref(c->filt);
            if (ret < 0)
                return ret;
            c->frames_out++;
        }
        if ((ret = vpi_encoder_send(&c->enc, NULL)) < 0 ||
            (ret = write_packets(s, c, c->venc, c->ost_v)) < 0)
            return ret;
    }
    if ((ret = flush_audio(s, c)) < 0)
        return ret;
    /* The trailer (and faststart's rewrite) happen in the temporary file. */
    ret = av_write_trailer(c->oc);
    c->header_written = 0;
    if (ret < 0) {
        s->out_failed = 1;
        vpi_log(s->src->log, VP_LOG_VERBOSE,
                "%s: cannot finish the output: %s", s->path, av_err2str(ret));
        return ret;
    }
    if ((ret = avio_closep(&c->oc->pb)) < 0)
        s->out_failed = 1;
    return ret < 0 ? ret : 0;
}

static void close_sink(VpiSink *s)
{
    EncodeCtx *c = s->priv;
    av_frame_free(&c->cand);
    av_frame_free(&c->filt);
    av_packet_free(&c->pkt);
    avfilter_graph_free(&c->vgraph);
    avfilter_graph_free(&c->agraph);
    vpi_encoder_close(&c->enc);
    c->venc = NULL;
    avcodec_free_context(&c->aenc);
    if (c->oc) {
        if (c->oc->pb)
            avio_closep(&c->oc->pb);
        avformat_free_context(c->oc);
        c->oc = NULL;
    }
    av_freep(&c->o.video_filters);
    av_freep(&c->o.audio_filters);
}

static int info(const VpiSink *s, VpOutputInfo *out)
{
    const EncodeCtx *c = s->priv;
    out->width = c->o.copy_video ? s->src->info->width : c->out_w;
    out->height = c->o.copy_video ? s->src->info->height : c->out_h;
    out->fps = (VpRational){ c->fps.num, c->fps.den };
    out->frames = c->frames_out;
    out->duration = c->o.copy_video ? s->src->info->duration : c->frames_out / av_q2d(c->fps);
    out->at = NAN;
    out->has_audio = c->aenc != NULL;
    return 0;
}

static int init_dispatch(VpiSink *s, const VpiSource *src);

const VpiSinkClass vpi_sink_encode = {
    .name = "encode",
    .priv_size = sizeof(EncodeCtx),
    .opts_size = sizeof(VpEncodeOpts),
    .init = init_dispatch,
    .need_video = need_video,
    .video = on_video,
    .audio = on_audio,
    .finish = finish,
    .close = close_sink,
    .info = info,
    .threaded = 1,
};

/* Stream copy of the video is the same sink without the video decoding half. */
static const VpiSinkClass sink_encode_copy = {
    .name = "encode",
    .priv_size = sizeof(EncodeCtx),
    .opts_size = sizeof(VpEncodeOpts),
    .init = init_dispatch,
    .audio = on_audio,
    .video_packet = on_video_packet,
    .finish = finish,
    .close = close_sink,
    .info = info,
    .threaded = 1,
};

static int init_conform(VpiSink *s, const VpiSource *src)
{
    EncodeCtx *c = s->priv;
    c->exact = 1;
    c->x = *(const VpiConformOpts *)s->opts;
    if (c->x.enc.copy_video || c->x.width < 2 || c->x.height < 2 || c->x.pix_fmt < 0) {
        vpi_log(src->log, VP_LOG_ERROR, "%s: encode option conform needs a size and a pixel "
                "format, and no copy", s->path);
        return VP_ERR_BAD_OPTION;
    }
    return init(s, src);
}

const VpiSinkClass vpi_sink_conform = {
    .name = "conform",
    .priv_size = sizeof(EncodeCtx),
    .opts_size = sizeof(VpiConformOpts),
    .init = init_conform,
    .need_video = need_video,
    .video = on_video,
    .audio = on_audio,
    .finish = finish,
    .close = close_sink,
    .info = info,
    .threaded = 1,
};

static int init_dispatch(VpiSink *s, const VpiSource *src)
{
    if (((const VpEncodeOpts *)s->opts)->copy_video)
        s->cls = &sink_encode_copy;
    return init(s, src);
}

int vp_pipeline_add_encode(VpPipeline *p, const VpEncodeOpts *o)
{
    if (!o)
        return AVERROR(EINVAL);
    return vpi_pipeline_add_sink(p, "encode", o, o->path, NULL);
}
