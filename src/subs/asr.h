/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Speech engines behind one const table each, registered in asr.c's `engines` array as
 * FFmpeg registers its demuxers: a better engine is one more file and one more line.
 *
 * The transcriber (asr.c) decodes the input once, resamples it to 16 kHz mono s16, cuts it
 * into utterances at silences of its own (so that every time is known to the sample, whatever
 * the engine does with silence inside) and hands each utterance to the engine in chunks. */
#ifndef VIDPIPE_SUBS_ASR_H
#define VIDPIPE_SUBS_ASR_H

#include <stdint.h>

#include "vidpipe/common.h"

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

#endif /* VIDPIPE_SUBS_ASR_H */
