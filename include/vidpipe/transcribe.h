/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file transcribe.h
 * Speech to timed captions: the audio of a media file decoded once, in-process, recognised
 * by a speech engine (pocketsphinx, the one Debian ships) and laid out as captions that
 * follow the common caption rules (docs/subtitles.md, "Transcription").
 */
#ifndef VIDPIPE_TRANSCRIBE_H
#define VIDPIPE_TRANSCRIBE_H

#include "common.h"
#include "subtitles.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpTranscribeOpts {
    const char *engine;     /**< NULL: the first registered ("pocketsphinx") */
    const char *lang;       /**< the model's language, "en-us" by default */
    const char *model_dir;  /**< the engine's model folder; NULL: its default
                                 (pocketsphinx: /usr/share/pocketsphinx/model) */
    int max_chars;          /**< characters a caption line holds, 10..200 (42) */
    int max_lines;          /**< lines a caption holds, 1..5 (2) */
    int threads;            /**< decoders run at once, one utterance each, 0..8; 0: one a
                                 core, at most 4. The words can differ with the number
                                 (pocketsphinx adapts to the utterances each decoder heard) */
    VpLogger logger;        /**< see common.h */
    VpCancel cancel;        /**< see common.h */
    /** Optional, called by vp_transcribe() from its thread with the audio position decoded
     *  and the input's duration (NaN when unknown), in seconds. */
    void (*progress)(void *opaque, double done_s, double total_s);
    void *opaque;           /**< for progress */
} VpTranscribeOpts;

/** What a transcription found, filled by vp_transcribe() when asked for. */
typedef struct VpTranscribeStats {
    int64_t audio_ms;       /**< audio decoded */
    int64_t speech_ms;      /**< of it, in utterances handed to the engine */
    int nb_words;           /**< words recognised */
    int nb_cues;            /**< captions made */
} VpTranscribeStats;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_transcribe_default_opts(VpTranscribeOpts *opts);

/**
 * Transcribe the best audio stream of @p path into a new caption list in *@p out. Each cue
 * holds at most max_lines lines of at most max_chars characters (a word longer than a line
 * keeps a line of its own: words are never split), lasts 1 to 7 s where the speech allows,
 * overlaps no other and ends at pauses and sentence ends. Audio with no speech gives an empty
 * list (success, nb_cues 0).
 * @return 0 with the list in *@p out (the caller frees it with vp_subs_free()), or a negative
 *         error with *@p out NULL and @p fail (may be NULL) filled, its message one line:
 *         VP_ERR_NO_AUDIO ("clip.mp4: has no audio stream"), the input's open or decode
 *         error, VP_ERR_BAD_OPTION (an option out of range, an unknown engine),
 *         VP_ERR_BAD_CONFIG (a model file missing: the message names its path),
 *         VP_ERR_CANCELLED. @p stats (may be NULL) is filled on success.
 *         Thread-safe for distinct calls, but pocketsphinx keeps its log setting process-wide.
 */
VP_API int vp_transcribe(const char *path, VpSubs **out, const VpTranscribeOpts *opts,
                         VpTranscribeStats *stats, VpFailure *fail);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_TRANSCRIBE_H */
