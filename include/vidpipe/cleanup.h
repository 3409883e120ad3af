/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file cleanup.h
 * Clean-up of a shot in one encode: stabilization (vid.stab: an analysis pass, then the
 * transform), colour adjustment (eq) and audio denoising, all applied on the way to a single
 * encoder instead of one encode per step.
 */
#ifndef VIDPIPE_CLEANUP_H
#define VIDPIPE_CLEANUP_H

#include "common.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpCleanupOpts {
    int stabilize;              /**< 1: vidstabdetect pass, then vidstabtransform */
    int shakiness;              /**< vidstabdetect shakiness 1..10 (5) */
    int accuracy;               /**< vidstabdetect accuracy 1..15 (15) */
    int smoothing;              /**< vidstabtransform smoothing, frames 0..1000 (30) */
    int eq;                     /**< 1: colour adjustment with the three values below */
    double brightness;          /**< -1..1 (0.05) */
    double contrast;            /**< 0..4 (1.1) */
    double saturation;          /**< 0..3 (1.1) */
    int denoise_audio;          /**< 1: highpass 200 Hz, lowpass 3 kHz, afftdn */
    int crf;                    /**< x264 CRF (23) */
    const char *x264_preset;    /**< ("medium") */
    int64_t audio_bitrate;      /**< AAC bits/s (192000) */
    const VpPipelineOpts *pipeline; /**< decoding, logger and cancel (NULL: the defaults of
                                         vp_pipeline_default_opts()); read during the call */
} VpCleanupOpts;

/** Fill @p opts with the defaults (no step enabled). Thread-safe. */
VP_API void vp_cleanup_default_opts(VpCleanupOpts *opts);

/**
 * Clean @p in into @p out (written atomically). At least one step must be enabled
 * (VP_ERR_BAD_OPTION otherwise). Stabilization decodes the video twice (analysis, then the
 * encode); the other steps need one pass. The transforms file lives in the temporary folder
 * and is removed. The output keeps the input's bit depth (10-bit: libx264 High 10; a warning
 * in the log where the encoder takes fewer bits: 8 for the hardware encoders, 10 for libx264
 * with a 12-bit source) and its timing (a variable frame rate stays variable:
 * VpEncodeOpts.keep_depth, keep_timing). Returns 0 or a negative error
 * (VP_ERR_OUTPUT_IS_INPUT, before any pass, when @p out is @p in). Thread-safe.
 */
VP_API int vp_cleanup(const char *in, const char *out, const VpCleanupOpts *opts);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_CLEANUP_H */
