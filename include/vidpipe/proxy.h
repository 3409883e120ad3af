/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file proxy.h
 * The upload pipeline's proxy: a small H.264/AAC MP4 for streaming, a JPEG thumbnail and
 * the source's metadata as JSON, all from one decode of the source.
 */
#ifndef VIDPIPE_PROXY_H
#define VIDPIPE_PROXY_H

#include "common.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpProxyOpts {
    int height;                 /**< proxy height; width follows the display aspect (480) */
    VpRational fps;             /**< proxy frame rate (10/1) */
    int crf;                    /**< x264 CRF (28) */
    const char *x264_preset;    /**< x264 preset ("medium"); mapped for hardware encoders */
    VpHwEncoder hw;             /**< video encoder family (VP_HW_NONE: libx264, the same
                                     proxy on every machine); VP_HW_AUTO tries each hardware
                                     family, then libx264, as VpEncodeOpts.hw does */
    int64_t audio_bitrate;      /**< AAC bits/s (64000) */
    const char *thumb_path;     /**< JPEG thumbnail, or NULL for none */
    double thumb_at;            /**< seconds; < 0 (default): 5 s, or the midpoint if shorter */
    int thumb_width;            /**< thumbnail width (320) */
    const char *meta_path;      /**< metadata JSON, or NULL for none */
    const VpPipelineOpts *pipeline; /**< decoding, logger and cancel (NULL: the defaults of
                                         vp_pipeline_default_opts()); read during the call */
} VpProxyOpts;

/** What the pass produced. */
typedef struct VpProxyResult {
    VpSourceInfo source;        /**< source.path points into the caller's @p in */
    VpOutputInfo proxy, thumb;  /**< thumb is zeroed without a thumbnail; paths are NULL */
    int decode_errors;          /**< damaged stretches decoding carried on past */
    double first_error, last_error; /**< seconds, when decode_errors > 0 */
    VpPipelineStats stats;
} VpProxyResult;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_proxy_default_opts(VpProxyOpts *opts);

/**
 * Make the proxy of @p in as @p out (plus the thumbnail and metadata when asked), from one
 * demux and decode. Every file is written under a temporary name and renamed into place at
 * the end; on failure none of them is left. @p res and @p fail may be NULL.
 * @return 0 (even when decode errors were carried past: see res->decode_errors), or a
 *         negative error: the source's (AVERROR(ENOENT), VP_ERR_NOT_MEDIA, VP_ERR_NO_VIDEO,
 *         ...), VP_ERR_BAD_OPTION (@p opts checked against the "proxy" option table
 *         before anything is opened: fail->message "proxy: height: value 8 is out of
 *         range 16..4320", no path), or an output's; VP_ERR_OUTPUT_IS_INPUT, before the
 *         decode, when an output is @p in. @p fail says which file: an output (input -1,
 *         its path: the proxy, thumbnail or metadata), or the source (input 0).
 * Thread-safe: any number of proxies may be made concurrently.
 */
VP_API int vp_proxy_make(const char *in, const char *out, const VpProxyOpts *opts,
                         VpProxyResult *res, VpFailure *fail);

/**
 * @p res as JSON, the one form both the metadata file (--meta) and `vidpipe proxy --json`
 * ("result") give: {"original": {width, height, fps, duration_seconds, codec, bitrate,
 * file_size_bytes, has_audio}, "proxy": {width, height, fps, frames, duration_seconds, codec,
 * has_audio, file_size_bytes}, "thumbnail": {width, height, file_size_bytes,
 * timestamp_seconds} or null, "decode_errors": N}, indented by two spaces.
 * @return 0 and *json, a NUL-terminated string the caller releases with free(); or
 *         AVERROR(ENOMEM) and *json NULL.
 * Thread-safe.
 */
VP_API int vp_proxy_result_json(const VpProxyResult *res, char **json);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_PROXY_H */
