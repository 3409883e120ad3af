/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one encoder opener (frame writer, encode sink, --conform). Each family is tried by
 * really opening it, so "auto" never picks an encoder that fails on the first frame; every
 * family that is passed over leaves one line of reason for the log. */
#include <dlfcn.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/hwcontext.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "encoder.h"
#include "util/internal.h"

const char *const vpi_x264_presets[] = {
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
    "veryslow", "placebo", NULL,
};

const char *const vpi_hw_names[VP_HW_NB + 1] = {
    "auto", "none", "nvenc", "vaapi", "qsv", "videotoolbox", NULL,
};

typedef struct Family {
    VpHwEncoder hw;
    const char *family;
    const char *h264, *hevc;
    /* Preconditions that FFmpeg only reports as "Generic error in an external library":
     * checked first so the log says what is missing. Returns 0 or fills @p why. */
    int (*probe)(AVBufferRef **device, char *why, size_t why_size);
    /* Map x264-style preset and CRF onto the family's own options. */
    void (*tune)(AVCodecContext *c, const VpiEncoderSettings *o, int preset_index);
} Family;

static int probe_nvenc(AVBufferRef **device, char *why, size_t why_size)
{
    (void)device;
    /* nvenc loads the driver at open; without it FFmpeg only says "Generic error". */
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        snprintf(why, why_size, "no NVIDIA driver (libcuda.so.1 cannot be loaded)");
        return AVERROR_ENCODER_NOT_FOUND;
    }
    dlclose(h);
    h = dlopen("libnvidia-encode.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        snprintf(why, why_size, "no NVENC runtime (libnvidia-encode.so.1 cannot be loaded)");
        return AVERROR_ENCODER_NOT_FOUND;
    }
    dlclose(h);
    return 0;
}

static int probe_device(AVBufferRef **device, enum AVHWDeviceType type, const char *what,
                        char *why, size_t why_size)
{
    int ret = av_hwdevice_ctx_create(device, type, NULL, NULL, 0);
    if (ret < 0) {
        snprintf(why, why_size, "no %s device (%s)", what, av_err2str(ret));
        return AVERROR_ENCODER_NOT_FOUND;
    }
    return 0;
}

/* VAAPI and QSV on Linux both need a DRM render node; FFmpeg's error without one is
 * "Generic error in an external library". */
static int have_render_node(const char *what, char *why, size_t why_size)
{
    glob_t g;
    int found = !glob("/dev/dri/renderD*", 0, NULL, &g);
    if (found)
        globfree(&g);
    if (!found)
        snprintf(why, why_size, "no %s device (no GPU render node in /dev/dri)", what);
    return found ? 0 : AVERROR_ENCODER_NOT_FOUND;
}

static int probe_vaapi(AVBufferRef **device, char *why, size_t why_size)
{
    int ret = have_render_node("VAAPI", why, why_size);
    if (ret < 0)
        return ret;
    return probe_device(device, AV_HWDEVICE_TYPE_VAAPI, "VAAPI", why, why_size);
}

static int probe_qsv(AVBufferRef **device, char *why, size_t why_size)
{
    int ret = have_render_node("Intel Quick Sync", why, why_size);
    if (ret < 0)
        return ret;
    return probe_device(device, AV_HWDEVICE_TYPE_QSV, "Intel Quick Sync", why, why_size);
}

static void tune_software(AVCodecContext *c, const VpiEncoderSettings *o, int preset_index)
{
    av_opt_set(c->priv_data, "preset", vpi_x264_presets[preset_index], 0);
    if (!o->bitrate)
        av_opt_set_int(c->priv_data, "crf", o->crf, 0);
}

static void tune_nvenc(AVCodecContext *c, const VpiEncoderSettings *o, int preset_index)
{
    static const char *const p[] = { "p1", "p2", "p3", "p4", "p4", "p5", "p6", "p7", "p7", "p7" };
    av_opt_set(c->priv_data, "preset", p[preset_index], 0);
    if (!o->bitrate) {
        av_opt_set(c->priv_data, "rc", "vbr", 0);
        av_opt_set_int(c->priv_data, "cq", o->crf, 0);
    }
}

static void tune_qsv(AVCodecContext *c, const VpiEncoderSettings *o, int preset_index)
{
    static const char *const p[] = { "veryfast", "veryfast", "veryfast", "faster", "fast",
                                     "medium", "slow", "slower", "veryslow", "veryslow" };
    av_opt_set(c->priv_data, "preset", p[preset_index], 0);
    if (!o->bitrate) {
        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = o->crf;
    }
}

static void tune_vaapi(AVCodecContext *c, const VpiEncoderSettings *o, int preset_index)
{
    (void)preset_index;
    if (!o->bitrate)
        av_opt_set_int(c->priv_data, "qp", o->crf, 0);
}

static void tune_videotoolbox(AVCodecContext *c, const VpiEncoderSettings *o, int preset_index)
{
    (void)preset_index;
    if (!o->bitrate) {
        c->flags |= AV_CODEC_FLAG_QSCALE;
        /* VideoToolbox's -q:v runs 1..100, higher is better. */
        c->global_quality = FF_QP2LAMBDA * (100 - o->crf * 100 / 51);
    }
}

static const Family families[] = {
    { VP_HW_NVENC, "nvenc", "h264_nvenc", "hevc_nvenc", probe_nvenc, tune_nvenc },
    { VP_HW_VAAPI, "vaapi", "h264_vaapi", "hevc_vaapi", probe_vaapi, tune_vaapi },
    { VP_HW_QSV, "qsv", "h264_qsv", "hevc_qsv", probe_qsv, tune_qsv },
    { VP_HW_VIDEOTOOLBOX, "videotoolbox", "h264_videotoolbox", "hevc_videotoolbox", NULL,
      tune_videotoolbox },
    { VP_HW_NONE, "software", "libx264", "libx265", NULL, tune_software },
};

int vpi_x264_preset_index(const char *preset)
{
    for (int i = 0; preset && vpi_x264_presets[i]; i++)
        if (!strcmp(preset, vpi_x264_presets[i]))
            return i;
    return -1;
}

void vpi_encoder_default_settings(VpiEncoderSettings *s)
{
    memset(s, 0, sizeof(*s));
    s->hw = VP_HW_NONE;
    s->codec = VP_CODEC_H264;
    s->input_format = AV_PIX_FMT_YUV420P;
    s->colorspace = AVCOL_SPC_UNSPECIFIED;
    s->primaries = AVCOL_PRI_UNSPECIFIED;
    s->trc = AVCOL_TRC_UNSPECIFIED;
    s->range = AVCOL_RANGE_UNSPECIFIED;
    s->preset = "medium";
    s->crf = 23;
}

static int supports(const AVCodec *codec, enum AVPixelFormat fmt)
{
    if (!codec->pix_fmts)
        return 0;
    for (const enum AVPixelFormat *p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == fmt)
            return 1;
    return 0;
}

enum AVPixelFormat vpi_encoder_sw_format(const AVCodec *codec, VpHwEncoder hw,
                                         const VpiEncoderSettings *s)
{
    if (hw == VP_HW_VAAPI)
        return AV_PIX_FMT_NV12;     /* the surfaces the frames context is made of */
    if (s->high_depth && supports(codec, AV_PIX_FMT_YUV420P10))
        return AV_PIX_FMT_YUV420P10; /* libx264: the High 10 profile (Debian's has both depths) */
    if ((s->input_format == AV_PIX_FMT_YUV420P || s->input_format == AV_PIX_FMT_NV12) &&
        supports(codec, s->input_format))
        return s->input_format;
    /* x264 and the hardware encoders keep 4:2:0 as NV12 inside: handing them NV12 saves
     * them interleaving the chroma planes of every frame. */
    if (supports(codec, AV_PIX_FMT_NV12))
        return AV_PIX_FMT_NV12;
    if (supports(codec, AV_PIX_FMT_YUV420P))
        return AV_PIX_FMT_YUV420P;
    return AV_PIX_FMT_NONE;
}

int vpi_encoder_depth_note(const char *path, int source_depth, enum AVPixelFormat sw,
                           const char *encoder, char *line, size_t size)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(sw);
    int depth = d ? d->comp[0].depth : 8;
    if (source_depth <= depth)
        return 0;
    snprintf(line, size, "%s: the source has %d-bit samples; %s encodes %d bits at most, so "
             "the output has %d", path, source_depth, encoder, depth, depth);
    return 1;
}

static int try_family(const Family *f, const VpiEncoderSettings *s, VpiEncoder *out,
                      char *why, size_t why_size)
{
    const VpiEncoderSettings *o = s;
    const char *name = o->codec == VP_CODEC_HEVC ? f->hevc : f->h264;
    AVBufferRef *device = NULL;
    AVCodecContext *c = NULL;
    AVDictionary *dict = NULL;
    int ret;

    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (!codec) {
        snprintf(why, why_size, "not in this FFmpeg build");
        return AVERROR_ENCODER_NOT_FOUND;
    }
    if (f->probe && (ret = f->probe(&device, why, why_size)) < 0)
        return ret;

    if (!(c = avcodec_alloc_context3(codec))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    c->opaque = (void *)o->logger;
    c->width = o->width;
    c->height = o->height;
    c->time_base = o->time_base.num > 0 && o->time_base.den > 0 ? o->time_base
                                                                : av_inv_q(o->fps);
    c->framerate = o->fps;
    c->sample_aspect_ratio = o->sar.num > 0 && o->sar.den > 0 ? o->sar : (AVRational){ 1, 1 };
    c->colorspace = s->colorspace;
    c->color_primaries = s->primaries;
    c->color_trc = s->trc;
    c->color_range = s->range;
    c->thread_count = o->threads;
    if (o->keyint > 0)
        c->gop_size = o->keyint;
    if (o->bitrate)
        c->bit_rate = o->bitrate;
    if (o->max_bitrate) {
        c->rc_max_rate = o->max_bitrate;
        c->rc_buffer_size = (int)(o->max_bitrate * 2 > INT32_MAX ? INT32_MAX
                                                                 : o->max_bitrate * 2);
    }
    if (s->global_header)
        c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

    /* Feed the caller's layout untouched when the encoder takes it (no conversion pass). */
    enum AVPixelFormat sw = AV_PIX_FMT_NONE;
    if (s->exact_format) {
        /* --conform must reproduce the reference's layout, not the encoder's favourite. */
        if (f->hw == VP_HW_VAAPI ? s->input_format != AV_PIX_FMT_NV12
                                 : !supports(codec, s->input_format)) {
            snprintf(why, why_size, "%s does not take %s", name,
                     av_get_pix_fmt_name(s->input_format) ? av_get_pix_fmt_name(s->input_format)
                                                          : "this pixel format");
            ret = AVERROR_ENCODER_NOT_FOUND;
            goto fail;
        }
        sw = s->input_format;
    } else if ((sw = vpi_encoder_sw_format(codec, f->hw, s)) == AV_PIX_FMT_NONE) {
        snprintf(why, why_size, "%s takes neither nv12 nor yuv420p", name);
        ret = AVERROR_ENCODER_NOT_FOUND;
        goto fail;
    }
    c->pix_fmt = sw;
    if (f->hw == VP_HW_VAAPI) {
        AVBufferRef *frames = av_hwframe_ctx_alloc(device);
        if (!frames) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        AVHWFramesContext *fc = (AVHWFramesContext *)frames->data;
        fc->format = AV_PIX_FMT_VAAPI;
        fc->sw_format = AV_PIX_FMT_NV12;
        fc->width = o->width;
        fc->height = o->height;
        fc->initial_pool_size = 16;
        if ((ret = av_hwframe_ctx_init(frames)) < 0) {
            av_buffer_unref(&frames);
            snprintf(why, why_size, "VAAPI surfaces cannot be allocated (%s)", av_err2str(ret));
            ret = AVERROR_ENCODER_NOT_FOUND;
            goto fail;
        }
        c->hw_frames_ctx = frames;
        c->pix_fmt = AV_PIX_FMT_VAAPI;
    } else if (f->hw == VP_HW_QSV && device) {
        c->hw_device_ctx = av_buffer_ref(device);
    }

    int pi = vpi_x264_preset_index(o->preset);
    f->tune(c, o, pi < 0 ? 5 : pi);
    if (o->encoder_params && *o->encoder_params && f->hw == VP_HW_NONE)
        av_dict_set(&dict, o->codec == VP_CODEC_HEVC ? "x265-params" : "x264-params",
                    o->encoder_params, 0);
    if (f->hw == VP_HW_NONE && o->codec == VP_CODEC_HEVC) {
        /* libx265 prints to stderr itself unless told not to; the library never prints. */
        char params[512];
        snprintf(params, sizeof(params), "log-level=error%s%s",
                 o->encoder_params && *o->encoder_params ? ":" : "",
                 o->encoder_params ? o->encoder_params : "");
        av_dict_set(&dict, "x265-params", params, 0);
    }

    ret = avcodec_open2(c, codec, &dict);
    if (ret < 0 && f->hw == VP_HW_NONE && ret == AVERROR_EXTERNAL) {
        /* libx264/libx265 say why only in FFmpeg's log; the settings are what they refuse. */
        snprintf(why, why_size, "%s refused its settings (preset %s, crf %d%s%s%s; the "
                 "encoder's reason is in the verbose log)", name, o->preset, o->crf,
                 o->encoder_params && *o->encoder_params ? ", encoder_params \"" : "",
                 o->encoder_params && *o->encoder_params ? o->encoder_params : "",
                 o->encoder_params && *o->encoder_params ? "\"" : "");
        goto fail;
    } else if (ret < 0) {
        snprintf(why, why_size, "%s cannot be opened (%s)", name, av_err2str(ret));
        if (f->hw != VP_HW_NONE)
            ret = AVERROR_ENCODER_NOT_FOUND;
        goto fail;
    }
    if (dict) {
        const AVDictionaryEntry *e = av_dict_get(dict, "", NULL, AV_DICT_IGNORE_SUFFIX);
        vpi_log(s->logger, VP_LOG_WARNING, "%s ignored option %s", name, e ? e->key : "?");
    }
    av_dict_free(&dict);
    out->ctx = c;
    out->device = device;
    out->sw_format = sw;
    out->upload = f->hw == VP_HW_VAAPI;
    out->family = f->family;
    return 0;

fail:
    av_dict_free(&dict);
    avcodec_free_context(&c);
    av_buffer_unref(&device);
    return ret;
}

static void append(char *buf, size_t size, const char *s)
{
    size_t n = strlen(buf);
    if (n < size)
        snprintf(buf + n, size - n, "%s%s", n ? "; " : "", s);
}

int vpi_encoder_open(const VpiEncoderSettings *s, VpiEncoder *out, char *tried,
                     size_t tried_size, char *why, size_t why_size)
{
    VpHwEncoder hw = s->hw;
    char reason[256];
    int ret = AVERROR_ENCODER_NOT_FOUND;

    memset(out, 0, sizeof(*out));
    if (tried_size)
        tried[0] = 0;
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        const Family *f = &families[i];
        if (hw != VP_HW_AUTO && hw != f->hw)
            continue;
        reason[0] = 0;
        ret = try_family(f, s, out, reason, sizeof(reason));
        if (ret >= 0)
            return 0;
        if (hw != VP_HW_AUTO || ret == AVERROR(ENOMEM))
            break;
        char line[320];
        snprintf(line, sizeof(line), "%s: %s",
                 s->codec == VP_CODEC_HEVC ? f->hevc : f->h264, reason);
        append(tried, tried_size, line);
    }
    snprintf(why, why_size, "%s", reason);
    return ret;
}

int vpi_encoder_send(VpiEncoder *e, AVFrame *f)
{
    AVFrame *send = f;
    int ret;

    if (f && e->upload) {
        if (!e->hwframe && !(e->hwframe = av_frame_alloc()))
            return AVERROR(ENOMEM);
        av_frame_unref(e->hwframe);
        if ((ret = av_hwframe_get_buffer(e->ctx->hw_frames_ctx, e->hwframe, 0)) < 0 ||
            (ret = av_hwframe_transfer_data(e->hwframe, f, 0)) < 0)
            return ret;
        e->hwframe->pts = f->pts;
        send = e->hwframe;
    }
    ret = avcodec_send_frame(e->ctx, send);
    if (send == e->hwframe)
        av_frame_unref(e->hwframe);
    return ret;
}

void vpi_encoder_close(VpiEncoder *e)
{
    av_frame_free(&e->hwframe);
    avcodec_free_context(&e->ctx);
    av_buffer_unref(&e->device);
    memset(e, 0, sizeof(*e));
}
