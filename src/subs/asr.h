/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Speech engines behind one const table each, registered in asr.c's `engines` array as
 * FFmpeg registers its demuxers: a better engine is one more file and one more line.
 *
 * The transcriber (asr.c) takes decoded audio frame by frame (from vp_transcribe()'s one
 * decode of the input, or from another decode loop), resamples it to 16 kHz mono s16, cuts it
 * into utterances at silences of its own (so that every time is known to the sample, whatever
 * the engine does with silence inside) and hands each utterance to the engine in chunks. */
#ifndef VIDPIPE_SUBS_ASR_H
#define VIDPIPE_SUBS_ASR_H

#include <stdint.h>

#include <libavutil/frame.h>

#include "vidpipe/common.h"
#include "vidpipe/transcribe.h"

#define VPI_ASR_RATE 16000

typedef struct VpiAsrConfig {
    const char *lang;       /* "en-us" */
    const char *model_dir;  /* the engine's model folder; NULL: its default */
    const VpLogger *logger;
} VpiAsrConfig;

/* One word of an utterance, times in ms from the utterance's first sample. The engine has
 * already dropped its silence and filler tokens and normalised alternates ("read(2)"). */
typedef int (*VpiAsrWordFn)(void *opaque, int64_t start_ms, int64_t end_ms, const char *word);

typedef struct VpiAsrEngine {
    const char *name;
    /* A decoder for cfg->lang in *priv. On failure a negative error and @p fail's message:
     * one line naming what is missing ("/usr/share/.../en-us.lm.bin: no such file"). */
    int (*open)(void **priv, const VpiAsrConfig *cfg, VpFailure *fail);
    /* An utterance: begin, feed its samples (16 kHz mono, any chunk size), end, which
     * delivers its words in time order to @p fn (a negative return from it stops and is
     * returned). Negative on an engine error. */
    int (*begin)(void *priv);
    int (*feed)(void *priv, const int16_t *pcm, int nb_samples);
    int (*end)(void *priv, VpiAsrWordFn fn, void *opaque);
    /* Frees *priv and sets it to NULL; NULL is fine. */
    void (*close)(void **priv);
} VpiAsrEngine;

extern const VpiAsrEngine vpi_asr_pocketsphinx;

/* The engine called @p name, or the first registered for NULL; NULL when none is. */
const VpiAsrEngine *vpi_asr_find(const char *name);

/* Whether an engine's token is a word a caption shows: not a silence or filler marker
 * ("<s>", "</s>", "<sil>", "[NOISE]", "++BREATH++"). */
int vpi_asr_is_word(const char *token);

/* Copy @p token into @p dst (size @p size) without an alternate's "(N)" suffix. */
void vpi_asr_word_text(char *dst, size_t size, const char *token);

/* The transcriber fed frame by frame, for a decode loop of the caller's (vp_transcribe()'s
 * own, a pipeline's audio sink): open, any number of frames, finish, free.
 *
 * vpi_transcriber_open(): validates @p opts (NULL: the defaults; its strings are copied),
 * loads the engine's model and starts the decoder threads. @p path only names the audio in
 * messages (NULL: "audio"). 0 with a transcriber in *@p t, or a negative error with *@p t
 * NULL and @p fail (may be NULL) filled as vp_transcribe() fills it: VP_ERR_BAD_OPTION,
 * VP_ERR_BAD_CONFIG (a model file missing), AVERROR(ENOMEM), AVERROR(EAGAIN) (no thread).
 *
 * vpi_transcriber_frame(): one decoded audio frame, any sample format, rate and layout
 * (resampled inside to 16 kHz mono; a change of format mid-way gets a new resampler). The
 * frame stays the caller's. Negative on a failure, which sticks: every later call returns
 * it, and vpi_transcriber_finish() returns it with @p fail's message. May block while the
 * decoders are 2 utterances behind (memory stays bounded).
 *
 * vpi_transcriber_finish(): flushes the resampler and the last utterance, waits for the
 * decoders and makes the captions: 0 with a new list in *@p out (the caller's; empty when
 * there was no speech) and @p stats (may be NULL) filled, or a negative error with *@p out
 * NULL and @p fail filled (one line naming @p path). Once per transcriber.
 *
 * vpi_transcriber_free(): stops the decoders (dropping what they had not decoded: a cancel
 * is a free without a finish), frees everything, sets *@p t to NULL; NULL is fine.
 *
 * One transcriber is called from one thread at a time; its decoders are its own threads. */
typedef struct VpiTranscriber VpiTranscriber;

int vpi_transcriber_open(VpiTranscriber **t, const char *path, const VpTranscribeOpts *opts,
                         VpFailure *fail);
int vpi_transcriber_frame(VpiTranscriber *t, const AVFrame *f);
int vpi_transcriber_finish(VpiTranscriber *t, VpSubs **out, VpTranscribeStats *stats,
                           VpFailure *fail);
void vpi_transcriber_free(VpiTranscriber **t);

#endif /* VIDPIPE_SUBS_ASR_H */
