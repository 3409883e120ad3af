/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Choosing and opening a video encoder for the frame writer: hardware families in turn,
 * then libx264/libx265. Private to libvidpipe. */
#ifndef VIDPIPE_ENCODER_H
#define VIDPIPE_ENCODER_H

#include <libavcodec/avcodec.h>

#include "vidpipe/writer.h"

/* What the writer needs to know about the frames it gives the encoder. */
typedef struct VpiEncoderSetup {
    const VpWriterOpts *opts;
    enum AVPixelFormat input_format;   /* the caller's frames, as FFmpeg names them */
    enum AVColorSpace colorspace;      /* matrix the writer converts with, tagged in the stream */
    enum AVColorPrimaries primaries;
    enum AVColorTransferCharacteristic trc;
    int global_header;                 /* the container wants extradata (MP4, MKV) */
} VpiEncoderSetup;

typedef struct VpiEncoder {
    AVCodecContext *ctx;               /* opened */
    AVBufferRef *device;               /* VAAPI/QSV device, else NULL */
    enum AVPixelFormat sw_format;      /* frames in system memory the encoder is fed */
    int upload;                        /* 1: upload sw_format frames to ctx->hw_frames_ctx */
    const char *family;                /* "nvenc", "vaapi", ..., "software" */
} VpiEncoder;

/* Open the encoder opts->hw asks for (VP_HW_AUTO: each hardware family in turn, then
 * software). On success fills @p out and writes to @p tried a "; "-separated list of the
 * families skipped and why (for the log). On failure returns a negative error, fills @p why
 * with the reason (without a file name) and leaves @p out zeroed. */
int vpi_encoder_open(const VpiEncoderSetup *s, VpiEncoder *out, char *tried, size_t tried_size,
                     char *why, size_t why_size);

/* Free what vpi_encoder_open() allocated; safe on a zeroed VpiEncoder. */
void vpi_encoder_close(VpiEncoder *e);

/* The x264 preset names, in speed order, NULL-terminated. */
extern const char *const vpi_x264_presets[];

#endif /* VIDPIPE_ENCODER_H */
