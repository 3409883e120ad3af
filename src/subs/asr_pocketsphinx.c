/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CMU pocketsphinx engine (Debian's libpocketsphinx 0.8+5prealpha and the
 * pocketsphinx-en-us model; FFmpeg's asr filter is built on the same). Its models live in
 * MODEL_DIR/LANG/: the acoustic model folder LANG, the language model LANG.lm.bin and the
 * dictionary cmudict-LANG.dict. Silence removal is off: utterances arrive already cut at
 * silences (asr.c), and with it on, the frames the engine drops would shift word times. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pocketsphinx.h>

#include <libavutil/error.h>

#include "asr.h"
#include "util/internal.h"

#define DEFAULT_MODEL_DIR "/usr/share/pocketsphinx/model"

typedef struct Sphinx {
    cmd_ln_t *config;
    ps_decoder_t *ps;
    int64_t fed, utt_fed;       /* samples: all, and before this utterance */
    /* The first utterance, kept to be decoded twice (see sphinx_end). */
    int16_t *first;
    int nb_first, cap_first, utts;
} Sphinx;

static int model_file(char *dst, size_t size, const char *path, int dir, VpFailure *fail)
{
    struct stat sb;
    vpi_strlcpy(dst, path, size);
    if (strlen(path) >= size || stat(path, &sb) < 0 || (dir ? !S_ISDIR(sb.st_mode)
                                                            : !S_ISREG(sb.st_mode))) {
        if (fail) {
            fail->code = VP_ERR_BAD_CONFIG;
            vpi_strlcpy(fail->path, path, sizeof(fail->path));
            snprintf(fail->message, sizeof(fail->message), "%.900s: pocketsphinx model %s "
                     "not found (Debian: apt install pocketsphinx-en-us)", path,
                     dir ? "folder" : "file");
        }
        return VP_ERR_BAD_CONFIG;
    }
    return 0;
}

static void sphinx_close(void **priv)
{
    Sphinx *s = *priv;
    if (!s)
        return;
    if (s->ps)
        ps_free(s->ps);
    if (s->config)
        cmd_ln_free_r(s->config);
    free(s->first);
    free(s);
    *priv = NULL;
}

static int sphinx_open(void **priv, const VpiAsrConfig *cfg, VpFailure *fail)
{
    const char *dir = cfg->model_dir ? cfg->model_dir : DEFAULT_MODEL_DIR;
    char path[1024], hmm[1024], lm[1024], dict[1024];
    int ret;
    *priv = NULL;
    if (strchr(cfg->lang, '/') || strlen(cfg->lang) > 32)
        return VP_ERR_BAD_OPTION;
    snprintf(path, sizeof(path), "%s/%s/%s", dir, cfg->lang, cfg->lang);
    if ((ret = model_file(hmm, sizeof(hmm), path, 1, fail)) < 0)
        return ret;
    snprintf(path, sizeof(path), "%s/%s/%s.lm.bin", dir, cfg->lang, cfg->lang);
    if ((ret = model_file(lm, sizeof(lm), path, 0, fail)) < 0)
        return ret;
    snprintf(path, sizeof(path), "%s/%s/cmudict-%s.dict", dir, cfg->lang, cfg->lang);
    if ((ret = model_file(dict, sizeof(dict), path, 0, fail)) < 0)
        return ret;
    Sphinx *s = calloc(1, sizeof(*s));
    if (!s)
        return AVERROR(ENOMEM);
    /* -logfn: pocketsphinx writes pages of configuration and timing to stderr otherwise (a
     * library must not print); it is the engine's own process-wide setting. */
    s->config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict,
                            "-remove_silence", "no", "-logfn", "/dev/null", NULL);
    if (!s->config || !(s->ps = ps_init(s->config))) {
        sphinx_close((void **)&s);
        if (fail) {
            fail->code = VP_ERR_BAD_CONFIG;
            vpi_strlcpy(fail->path, hmm, sizeof(fail->path));
            snprintf(fail->message, sizeof(fail->message), "%.900s: pocketsphinx could not "
                     "load this model", hmm);
        }
        return VP_ERR_BAD_CONFIG;
    }
    *priv = s;
    return 0;
}

static int sphinx_begin(void *priv)
{
    Sphinx *s = priv;
    s->utt_fed = s->fed;
    return ps_start_utt(s->ps) < 0 ? AVERROR_EXTERNAL : 0;
}

static int sphinx_feed(void *priv, const int16_t *pcm, int nb_samples)
{
    Sphinx *s = priv;
    s->fed += nb_samples;
    if (!s->utts) {
        if (s->nb_first + nb_samples > s->cap_first) {
            int cap = 2 * (s->nb_first + nb_samples);
            int16_t *b = realloc(s->first, cap * sizeof(*b));
            if (!b)
                return AVERROR(ENOMEM);
            s->first = b;
            s->cap_first = cap;
        }
        memcpy(s->first + s->nb_first, pcm, nb_samples * sizeof(*pcm));
        s->nb_first += nb_samples;
    }
    return ps_process_raw(s->ps, pcm, nb_samples, FALSE, FALSE) < 0 ? AVERROR_EXTERNAL : 0;
}

static int sphinx_end(void *priv, VpiAsrWordFn fn, void *opaque)
{
    Sphinx *s = priv;
    int ret = 0;
    if (ps_end_utt(s->ps) < 0)
        return AVERROR_EXTERNAL;
    if (!s->utts++) {
        /* Live cepstral mean normalisation starts from the model's mean and learns the
         * input's only at the end of an utterance, so the first is heard through the wrong
         * channel (measured on the test speech: the same sentence at 0.8 word errors first,
         * 0.1 second). Decoding it again after that costs one utterance. */
        s->utt_fed = s->fed;
        s->fed += s->nb_first;
        if (ps_start_utt(s->ps) < 0 ||
            ps_process_raw(s->ps, s->first, s->nb_first, FALSE, FALSE) < 0 ||
            ps_end_utt(s->ps) < 0)
            return AVERROR_EXTERNAL;
        free(s->first);
        s->first = NULL;
    }
    int frate = cmd_ln_int32_r(s->config, "-frate");
    if (frate <= 0)
        frate = 100;
    /* 5prealpha numbers frames from the decoder's first, not the utterance's (measured:
     * the second utterance's first word at frame 408 of an utterance begun at 374). */
    int64_t base = s->utt_fed * frate / VPI_ASR_RATE;
    for (ps_seg_t *seg = ps_seg_iter(s->ps); seg; seg = ps_seg_next(seg)) {
        const char *token = ps_seg_word(seg);
        int sf, ef;
        if (!vpi_asr_is_word(token))
            continue;
        ps_seg_frames(seg, &sf, &ef);
        int64_t from = sf - base > 0 ? sf - base : 0, to = ef + 1 - base > 0 ? ef + 1 - base : 0;
        if ((ret = fn(opaque, from * 1000 / frate, to * 1000 / frate, token)) < 0) {
            ps_seg_free(seg);
            break;
        }
    }
    return ret;
}

const VpiAsrEngine vpi_asr_pocketsphinx = {
    .name = "pocketsphinx",
    .open = sphinx_open,
    .begin = sphinx_begin,
    .feed = sphinx_feed,
    .end = sphinx_end,
    .close = sphinx_close,
};
