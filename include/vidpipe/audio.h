/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file audio.h
 * Audio jobs on a video: two-pass EBU R128 loudness normalization, and replacing the audio
 * track with another file's. The video stream is copied in both.
 */
#ifndef VIDPIPE_AUDIO_H
#define VIDPIPE_AUDIO_H

#include "common.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpLoudnormOpts {
    double i;                   /**< target integrated loudness, LUFS (-16; -70..-5) */
    double tp;                  /**< target true peak, dBTP (-1.5; -9..0) */
    double lra;                 /**< target loudness range, LU (11; 1..50) */
    int64_t audio_bitrate;      /**< AAC bits/s (192000) */
    const VpPipelineOpts *pipeline; /**< decoding, logger and cancel (NULL: the defaults of
                                         vp_pipeline_default_opts()); read during the call */
} VpLoudnormOpts;

typedef struct VpLoudnormResult {
    double in_i, in_tp, in_lra; /**< measured in the first pass */
    int linear;                 /**< 1: one gain for the whole file (the targets allowed it);
                                     0: loudnorm's dynamic mode */
    double gain_db;             /**< the gain of linear mode */
} VpLoudnormResult;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_loudnorm_default_opts(VpLoudnormOpts *opts);

/**
 * Normalize the loudness of @p in into @p out: a first pass measures (audio only), the
 * second applies libavfilter's loudnorm with the measured values, encodes the audio and
 * copies the video, if any (an audio-only @p in gives an audio-only @p out). The audio keeps
 * its codec where @p out's container takes it (FLAC in .flac, MP3 in .mp3, Opus in .webm),
 * else AAC, else the container's own (VpEncodeOpts.keep_audio_codec). @p out is written
 * atomically. @p res may be NULL.
 * @return 0, or a negative error (VP_ERR_NO_AUDIO, the source's, the output's,
 *         VP_ERR_CONTAINER_CODEC when @p out's container cannot hold the video's codec,
 *         VP_ERR_BAD_OPTION; VP_ERR_OUTPUT_IS_INPUT, before the first pass, when @p out is
 *         @p in). Thread-safe.
 */
VP_API int vp_loudnorm(const char *in, const char *out, const VpLoudnormOpts *opts,
                       VpLoudnormResult *res);

typedef struct VpReplaceAudioOpts {
    int offset_ms;              /**< > 0 delays the new audio, < 0 advances it (cuts its start) */
    int shortest;               /**< 1: end with the shorter of video and (offset) audio */
    int64_t audio_bitrate;      /**< AAC bits/s (192000) */
    const VpPipelineOpts *pipeline; /**< decoding, logger and cancel (NULL: the defaults of
                                         vp_pipeline_default_opts()); read during the call */
} VpReplaceAudioOpts;

typedef struct VpReplaceAudioResult {
    double video_duration, audio_duration;  /**< seconds, the audio's before the offset */
} VpReplaceAudioResult;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_replace_audio_default_opts(VpReplaceAudioOpts *opts);

/**
 * Write @p out with the video of @p video (copied) and the audio of @p audio (its best audio
 * stream, encoded to AAC, shifted by the offset). @p out is written atomically.
 * @return 0, or a negative error with @p fail (may be NULL) naming the file it concerns:
 *         the video (fail->input 0), the audio (1) or the output (-1; VP_ERR_OUTPUT_IS_INPUT:
 *         @p out is @p video or @p audio). Thread-safe.
 */
VP_API int vp_replace_audio(const char *video, const char *audio, const char *out,
                            const VpReplaceAudioOpts *opts, VpReplaceAudioResult *res,
                            VpFailure *fail);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_AUDIO_H */
