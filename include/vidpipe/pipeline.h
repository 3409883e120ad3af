/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file pipeline.h
 * The one-pass engine of the toolbox: one demux and one decode of a source feed every output
 * (encoded files, thumbnails, contact sheets) and every analyser (QC) added to it.
 *
 * Usage: vp_pipeline_open(), then vp_pipeline_add_*() once per output or analyser, then
 * vp_pipeline_run() once, then read the results, then vp_pipeline_close(). Outputs are written
 * under temporary names and renamed into place only when the run completes; a failed or
 * cancelled run leaves none of them behind.
 *
 * Frames no output needs are not decoded when that is safe (H.264 non-reference pictures
 * between the frames a lower output frame rate keeps), and pictures are scaled only after
 * the frames an output keeps have been chosen.
 */
#ifndef VIDPIPE_PIPELINE_H
#define VIDPIPE_PIPELINE_H

#include "common.h"
#include "probe.h"
#include "writer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpPipeline VpPipeline;

/** What the source is, as the engine opened it. */
typedef struct VpSourceInfo {
    const char *path;
    int has_video, has_audio;
    int width, height;
    VpRational sar;             /**< 0/1 unknown */
    int rotation;               /**< degrees clockwise the picture is turned for display (0,
                                     90, 180 or 270), from the display matrix; encoded outputs
                                     and stills are turned upright, as ffmpeg does */
    VpRational fps;             /**< average frame rate; 0/0 unknown */
    double duration;            /**< seconds; NaN unknown */
    char video_codec[32];
    char audio_codec[32];
    int64_t bit_rate;           /**< bits/s of the whole file; 0 unknown */
    int64_t size;               /**< bytes; -1 unknown */
    int sample_rate, channels;
} VpSourceInfo;

typedef struct VpPipelineOpts {
    int decode_threads;         /**< video decoder threads; 0 = automatic */
    int skip_unneeded;          /**< 1 (default): do not decode frames no output needs */
    /** Optional, called from the thread running vp_pipeline_run() with the position reached
     *  and the source duration (NaN when unknown). */
    void (*progress)(void *opaque, double done_s, double total_s);
    void *opaque;
    VpCancel cancel;            /**< optional: opening and the run stop with
                                     VP_ERR_CANCELLED, leaving no output, once it says so */
    const char *audio_path;     /**< optional: take the audio from this file instead of the
                                     source's own (its best audio stream; VP_ERR_NO_AUDIO if
                                     it has none). Only read during vp_pipeline_open(). */
    VpLogger logger;            /**< where this pipeline and its outputs log (fn = NULL:
                                     the process default); kept until vp_pipeline_close() */
} VpPipelineOpts;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_pipeline_default_opts(VpPipelineOpts *opts);

/**
 * Open a source and its decoders.
 * @param opts NULL for the defaults; validated (VP_ERR_BAD_OPTION, logged with the field)
 * @param out  on success a new pipeline owned by the caller (vp_pipeline_close()); on
 *             failure set to NULL
 * @return 0, or a negative error: AVERROR(ENOENT), VP_ERR_IS_DIRECTORY, VP_ERR_EMPTY_FILE,
 *         VP_ERR_NOT_MEDIA, VP_ERR_NO_STREAMS, ...
 * Thread-safe: pipelines on different threads are independent.
 */
VP_API int vp_pipeline_open(const char *path, const VpPipelineOpts *opts, VpPipeline **out);

/** The source's properties. Valid until vp_pipeline_close(). Same thread as the pipeline. */
VP_API const VpSourceInfo *vp_pipeline_source(const VpPipeline *p);

/** How an encoded output's picture is sized. */
typedef enum VpFit {
    VP_FIT_SOURCE = 0,          /**< keep the source's size */
    VP_FIT_HEIGHT,              /**< height as given, width from the display aspect (even) */
    VP_FIT_WIDTH,               /**< width as given, height from the display aspect (even) */
    VP_FIT_PAD,                 /**< scale to fit inside width x height, pad to exactly that */
} VpFit;

/** One encoded output: H.264 video (libx264, or a hardware encoder when @ref hw asks) and AAC
 *  audio in MP4 (or MOV/MKV by extension). */
typedef struct VpEncodeOpts {
    const char *path;           /**< output file; written atomically; the string is copied */
    VpFit fit;
    int width, height;          /**< used as @ref fit says */
    VpRational fps;             /**< output frame rate; 0/0 = the source's */
    int crf;                    /**< x264 constant rate factor 0..51 (default 23) */
    const char *x264_preset;    /**< "ultrafast" .. "placebo" (default "medium") */
    int64_t max_bitrate;        /**< bits/s cap (VBV maxrate, buffer 2 s); 0 = none */
    int video_threads;          /**< encoder threads; 0 = automatic */
    int copy_video;             /**< 1: copy the source's video packets instead (no scaling);
                                     a source without video then gives an audio-only output */
    int audio;                  /**< 1 (default): encode the source's audio when it has some */
    int64_t audio_bitrate;      /**< AAC bits/s (default 128000); also MP3's and Opus's */
    int keep_audio_codec;       /**< 1: encode the audio with the source's codec when the
                                     output's container takes it (FLAC in .flac, MP3 in .mp3,
                                     Opus in .webm), else AAC, else the container's own audio
                                     codec; 0 (default): AAC */
    const char *video_filters;  /**< libavfilter chain applied before scaling, or NULL */
    const char *audio_filters;  /**< libavfilter chain applied before encoding, or NULL */
    int faststart;              /**< 1 (default): moov before mdat (MP4/MOV) */
    double end_time;            /**< seconds: nothing from this time on is written; 0 = none */
    VpHwEncoder hw;             /**< video encoder family (default VP_HW_NONE: libx264);
                                     VP_HW_AUTO tries each hardware family, then libx264,
                                     as the writer does; x264_preset and crf are mapped */
    int keep_depth;             /**< 1: a source with more than 8 bits per sample is encoded
                                     at 10 bits (yuv420p10le; libx264's High 10 profile) when
                                     the encoder takes it, else at 8 bits with a warning
                                     (a deeper source, 12 bits, at 10 with a warning);
                                     0 (default): 8 bits */
    int keep_timing;            /**< 1: every decoded picture is encoded at its own time, in
                                     the source's time base, so variable frame rate stays
                                     variable (fps is then only the nominal rate); 0 (default):
                                     pictures are placed on the constant-rate grid of fps */
} VpEncodeOpts;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_encode_default_opts(VpEncodeOpts *opts);

/**
 * Add an encoded output. The options are validated now (VP_ERR_BAD_OPTION names the field
 * in the log) and copied. Returns the output's index (>= 0) or a negative error; video is
 * required (VP_ERR_NO_VIDEO) unless copy_video is set and the source has audio; a codec the
 * output's container cannot hold (H.264 or AAC in .webm) fails the run with
 * VP_ERR_CONTAINER_CODEC before anything is written, the log naming both; an output that is the source or the audio file
 * (VpPipelineOpts.audio_path) is refused with VP_ERR_OUTPUT_IS_INPUT
 * (vp_output_check_not_input(); vp_pipeline_failed_output() names it). Call before
 * vp_pipeline_run(), on the pipeline's thread.
 */
VP_API int vp_pipeline_add_encode(VpPipeline *p, const VpEncodeOpts *opts);

/** A still (JPEG, PNG or WebP): one frame, or a contact sheet of evenly spaced frames. */
typedef struct VpThumbOpts {
    const char *path;           /**< .jpg/.jpeg (or no extension): JPEG; .png: PNG; .webp:
                                     WebP; any other extension is VP_ERR_BAD_OPTION. Written
                                     atomically; the string is copied */
    double at;                  /**< seconds; < 0 (default): 5 s, or the midpoint of videos
                                     shorter than that; past the source's end:
                                     VP_ERR_BAD_OPTION, as ffmpeg's -ss gives no picture.
                                     Ignored for sheets (evenly spaced). */
    int width;                  /**< width of the frame (of each tile in a sheet); 320 */
    int cols, rows;             /**< 1x1 (default): one frame; otherwise a contact sheet */
    int quality;                /**< JPEG qscale 1 (best) .. 31 (default 2) */
    int timestamps;             /**< 1 (default): each sheet tile shows its time */
    const char *video_filters;  /**< libavfilter chain the pictures go through first (vidpipe
                                     run: what the steps before the still made); NULL
                                     (default): none. Then every picture is decoded, in
                                     order, instead of seeking to the ones needed */
} VpThumbOpts;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_thumb_default_opts(VpThumbOpts *opts);

/** Add a still output; like vp_pipeline_add_encode(). When a pipeline has only stills it
 *  seeks to each frame it needs instead of decoding the whole source. */
VP_API int vp_pipeline_add_thumb(VpPipeline *p, const VpThumbOpts *opts);

/**
 * Run the pass: demux, decode, feed every output and analyser, then finish and rename every
 * output into place. Decode errors do not stop the run: they are recorded (see
 * vp_pipeline_decode_errors()) and decoding carries on. Returns the number of decode errors
 * (>= 0) on success; on failure a negative error, and no output is left behind.
 * Call once, on the pipeline's thread.
 */
VP_API int vp_pipeline_run(VpPipeline *p);

/** One decode error: where, and what. */
typedef struct VpDecodeError {
    double time;                /**< seconds from the start of the source */
    VpStreamType stream;
    char what[96];
} VpDecodeError;

/** The decode errors of the run (at most 1000 are kept; *nb_total counts all). The array
 *  belongs to the pipeline and stays valid until vp_pipeline_close(). Call after
 *  vp_pipeline_run() returned, from the pipeline's thread. */
VP_API const VpDecodeError *vp_pipeline_decode_errors(const VpPipeline *p, int *nb,
                                                       int *nb_total);

/** What one output turned out to be, after a successful run. */
typedef struct VpOutputInfo {
    const char *path;
    int width, height;
    VpRational fps;             /**< 0/0 for stills */
    int64_t frames;             /**< video frames written (1, or tiles in a sheet) */
    double duration;            /**< seconds of video written; NaN for stills */
    double at;                  /**< stills: time of the (first) frame */
    int has_audio;
    int64_t size;               /**< bytes on disk */
} VpOutputInfo;

/** Fill @p info for output @p index (as returned by vp_pipeline_add_*()). Returns 0 or
 *  AVERROR(EINVAL). Strings stay valid until vp_pipeline_close(). Call after a successful
 *  vp_pipeline_run(), from the pipeline's thread. */
VP_API int vp_pipeline_output_info(const VpPipeline *p, int index, VpOutputInfo *info);

/** Counters of the run: what was read, decoded and left undecoded (filled by
 *  vp_pipeline_stats() after the run, from the pipeline's thread). */
typedef struct VpPipelineStats {
    int64_t video_packets, video_decoded, video_skipped;
    int64_t audio_packets;
    double seconds;
} VpPipelineStats;
VP_API void vp_pipeline_stats(const VpPipeline *p, VpPipelineStats *stats);

/**
 * After a failed add or run, fill @p fail with which file failed: the output that could not
 * be created or written (fail->input -1, its path), or the source (input 0, its path);
 * neither (input -1, path "") when the failure was no file's (an option, memory). The code
 * is the last failed call's; 0 (and input -1) when none failed. From the pipeline's thread.
 */
VP_API void vp_pipeline_failure(const VpPipeline *p, VpFailure *fail);

/** Free the pipeline, aborting any output not yet renamed into place; sets *p to NULL.
 *  Accepts NULL and *p == NULL. From the pipeline's thread, not during vp_pipeline_run(). */
VP_API void vp_pipeline_close(VpPipeline **p);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_PIPELINE_H */
