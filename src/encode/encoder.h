/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one video encoder opener of libvidpipe: the frame writer, the pipeline's encode sink and
 * the join's --conform all open their encoder here. Hardware families in turn (or the one
 * asked for), then libx264/libx265, with one x264-style preset/CRF vocabulary mapped onto each
 * family. Private to libvidpipe. */
#ifndef VIDPIPE_ENCODER_H
#define VIDPIPE_ENCODER_H

#include <libavcodec/avcodec.h>

#include "vidpipe/writer.h"

/* What the caller wants encoded, and the frames it will give. Zero means "not set" for every
 * field but crf (see there): fill with vpi_encoder_default_settings(), then override. */
typedef struct VpiEncoderSettings {
    VpHwEncoder hw;                    /* VP_HW_AUTO: each hardware family, then software */
    VpVideoCodec codec;                /* VP_CODEC_H264 or VP_CODEC_HEVC */
    int width, height;
    AVRational fps;
    AVRational sar;                    /* 0/0: 1:1 */
    enum AVPixelFormat input_format;   /* the caller's frames, as FFmpeg names them */
    int exact_format;                  /* 1: the encoder must take input_format as it is */
    int high_depth;                    /* 1: 10-bit 4:2:0 when the encoder takes it */
    AVRational time_base;              /* 0/0: 1/fps */
    enum AVColorSpace colorspace;      /* tagged in the stream; UNSPECIFIED: not tagged */
    enum AVColorPrimaries primaries;
    enum AVColorTransferCharacteristic trc;
    enum AVColorRange range;
    const char *preset;                /* one of vpi_x264_presets */
    int crf;                           /* 0..51; used when bitrate is 0 */
    int64_t bitrate;                   /* average bits/s; 0: constant quality (crf) */
    int64_t max_bitrate;               /* VBV cap, buffer 2 s; 0: none */
    int keyint;                        /* frames between keyframes; 0: encoder default */
    int threads;                       /* 0: the encoder's choice */
    const char *encoder_params;        /* x264-params/x265-params for software, or NULL */
    int global_header;                 /* the container wants extradata (MP4, MKV) */
    const VpLogger *logger;            /* the call's logger (NULL: the default one) */
} VpiEncoderSettings;

typedef struct VpiEncoder {
    AVCodecContext *ctx;               /* opened */
    AVBufferRef *device;               /* VAAPI/QSV device, else NULL */
    enum AVPixelFormat sw_format;      /* frames in system memory the encoder is fed */
    int upload;                        /* 1: upload sw_format frames to ctx->hw_frames_ctx */
    const char *family;                /* "nvenc", "vaapi", ..., "software" */
    AVFrame *hwframe;                  /* upload target, when upload */
} VpiEncoder;

/* The frames in system memory that encoder @p codec of family @p hw is fed for @p s
 * (exact_format aside): 10-bit 4:2:0 when s->high_depth and the encoder takes it, else the
 * caller's 4:2:0 layout, else NV12 or yuv420p; AV_PIX_FMT_NONE when it takes neither. */
enum AVPixelFormat vpi_encoder_sw_format(const AVCodec *codec, VpHwEncoder hw,
                                         const VpiEncoderSettings *s);

/* The warning for a source of @p source_depth bits per sample that was to keep its depth
 * and is encoded from @p sw frames by @p encoder: 1 with one line in @p line ("PATH: the
 * source has 10-bit samples; h264_qsv encodes 8 bits at most, so the output has 8") when
 * @p sw has fewer bits, else 0. */
int vpi_encoder_depth_note(const char *path, int source_depth, enum AVPixelFormat sw,
                           const char *encoder, char *line, size_t size);

/* H.264, software, preset "medium", CRF 23, 1:1, nothing tagged. */
void vpi_encoder_default_settings(VpiEncoderSettings *s);

/* Open the encoder s->hw asks for (VP_HW_AUTO: each hardware family in turn, then
 * software). On success fills @p out and writes to @p tried a "; "-separated list of the
 * families skipped and why (for the log). On failure returns a negative error, fills @p why
 * with the reason (without a file name) and leaves @p out zeroed. */
int vpi_encoder_open(const VpiEncoderSettings *s, VpiEncoder *out, char *tried,
                     size_t tried_size, char *why, size_t why_size);

/* Send one frame in e->sw_format (NULL: flush) to the encoder, uploading it first when the
 * encoder works on hardware surfaces. Returns avcodec_send_frame()'s result. */
int vpi_encoder_send(VpiEncoder *e, AVFrame *f);

/* Free what vpi_encoder_open() allocated; safe on a zeroed VpiEncoder. */
void vpi_encoder_close(VpiEncoder *e);

/* Index of @p preset in vpi_x264_presets, or -1. */
int vpi_x264_preset_index(const char *preset);

/* The x264 preset names, in speed order, NULL-terminated: the one preset vocabulary of every
 * encoding path (mapped onto each hardware family's own). */
extern const char *const vpi_x264_presets[];

/* The VpHwEncoder names, by value, NULL-terminated ("auto", "none", "nvenc", ...): the hw
 * rows of the option tables and vp_hw_encoder_name(). */
extern const char *const vpi_hw_names[];

/* The help of every hw option row. */
#define VPI_HW_HELP "encoder family (auto tries hardware first, then libx264)"

#endif /* VIDPIPE_ENCODER_H */
