/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transcriber (vpi_transcriber_*) takes decoded audio frames, resamples them to 16 kHz
 * mono s16, cuts them into utterances by an energy gate and hands each to the speech engine
 * in chunks; the words it returns become captions (captions.c). vp_transcribe() is one
 * decode of the input's best audio stream fed to it.
 *
 * Why a gate of our own: an engine's decoder grows with the utterance (pocketsphinx keeps
 * every frame's lattice until the end of the utterance, minutes of audio as one utterance
 * take hundreds of MB and its language model favours sentence-length utterances), so
 * speech is handed over between silences; and knowing where each utterance starts, to the
 * sample, makes the word times exact whatever the engine does inside. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include "vidpipe/transcribe.h"
#include "asr.h"
#include "captions.h"
#include "options/options.h"
#include "util/internal.h"

static const VpiAsrEngine *const engines[] = {
    &vpi_asr_pocketsphinx,
    NULL,
};

const VpiAsrEngine *vpi_asr_find(const char *name)
{
    for (int i = 0; engines[i]; i++)
        if (!name || !strcmp(engines[i]->name, name))
            return engines[i];
    return NULL;
}

int vpi_asr_is_word(const char *t)
{
    return t && *t && t[0] != '<' && t[0] != '[' && strncmp(t, "++", 2);
}

void vpi_asr_word_text(char *dst, size_t size, const char *t)
{
    size_t n = strlen(t);
    /* "read(2)": the dictionary's second pronunciation of "read". */
    if (n > 3 && t[n - 1] == ')') {
        const char *open = strrchr(t, '(');
        if (open && open > t && strspn(open + 1, "0123456789") == (size_t)(t + n - 1 - open - 1))
            n = open - t;
    }
    if (n >= size)
        n = size - 1;
    memcpy(dst, t, n);
    dst[n] = 0;
}

void vp_transcribe_default_opts(VpTranscribeOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_transcribe_options, o);
}

/* The gate works on 10 ms frames: speech starts at a frame 12 dB above the noise floor (and
 * above -50 dBFS), the utterance takes 300 ms before it (word onsets are quiet: a plosive's
 * closure) and ends after 400 ms below the gate, a pause a caption would break at anyway;
 * one longer than 20 s ends at its next quiet frame, and at 30 s whatever comes. */
#define FRAME 160
#define PREROLL 30
#define HANGOVER 40
#define SOFT_MAX (20 * 100)
#define HARD_MAX (30 * 100)
/* Samples handed to the engine at a time. */
#define CHUNK 4096
#define MAX_DECODERS 8

/* One utterance: its samples until a decoder has them, then its words. */
typedef struct Utt {
    struct Utt *next;           /* in its decoder's queue */
    int64_t start;              /* its first frame */
    int16_t *pcm;
    int nb, cap;
    VpiWord *words;
    int nb_words, cap_words;
} Utt;

/* Utterances are decoded by several engine instances at once, one thread each: the search
 * is nearly all the work (0.2 s of CPU a second of speech), and utterances are independent.
 * Utterance k goes to decoder k % n, which takes its own in order, so the words depend on
 * the number of decoders (an engine may adapt to what it heard: pocketsphinx's cepstral
 * mean does) but never on timing. */
typedef struct Decoder {
    struct VpiTranscriber *t;
    pthread_t thread;
    int running;
    void *priv;
    Utt *head, *tail;
    int queued;
    int ret;
    VpFailure fail;
} Decoder;

struct VpiTranscriber {
    const VpiAsrEngine *engine;
    VpiAsrConfig cfg;
    VpTranscribeOpts opts;      /* the caller's, its strings copied */
    char *path, *lang, *model_dir;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int threads_ok;
    Decoder dec[MAX_DECODERS];
    int nb_dec, closing;
    /* the resampler, for the input format it was made for */
    SwrContext *swr;
    int in_format, in_rate;
    AVChannelLayout in_layout;
    int16_t *buf;
    int buf_size;
    /* a failure of vpi_transcriber_frame(), reported by vpi_transcriber_finish() */
    int err;
    const char *err_why;
    int finished;
    Utt **utts;                 /* all, in time order */
    int nb_utts, cap_utts;
    Utt *cur;                   /* the one being gathered */
    /* the frame being filled and the last PREROLL frames (a ring) */
    int16_t frame[FRAME];
    int frame_fill;
    int16_t ring[PREROLL][FRAME];
    int ring_len, ring_pos;
    double floor_db;
    int64_t frames_seen;        /* complete frames so far */
    int utt_frames, quiet;
    int64_t speech_frames;
};

static int add_word(void *opaque, int64_t start, int64_t end, const char *token)
{
    Utt *u = opaque;
    if (u->nb_words == u->cap_words) {
        int cap = u->cap_words ? 2 * u->cap_words : 32;
        VpiWord *w = realloc(u->words, cap * sizeof(*w));
        if (!w)
            return AVERROR(ENOMEM);
        u->words = w;
        u->cap_words = cap;
    }
    VpiWord *w = &u->words[u->nb_words++];
    int64_t base = u->start * 10;
    w->start = base + start;
    w->end = base + (end > start ? end : start);
    vpi_asr_word_text(w->text, sizeof(w->text), token);
    return 0;
}

static int decode(const VpiAsrEngine *e, void *priv, Utt *u)
{
    int ret = e->begin(priv);
    for (int i = 0; ret >= 0 && i < u->nb; i += CHUNK)
        ret = e->feed(priv, u->pcm + i, u->nb - i < CHUNK ? u->nb - i : CHUNK);
    return ret < 0 ? ret : e->end(priv, add_word, u);
}

static void *decoder_main(void *arg)
{
    Decoder *d = arg;
    VpiTranscriber *t = d->t;
    const VpLogger *prev = vpi_log_scope_enter(&t->opts.logger);
    int ret = d->priv ? 0 : t->engine->open(&d->priv, &t->cfg, &d->fail);
    for (;;) {
        pthread_mutex_lock(&t->lock);
        if (ret < 0 && !d->ret)
            d->ret = ret;
        while (!d->head && !t->closing)
            pthread_cond_wait(&t->cond, &t->lock);
        Utt *u = d->head;
        if (u && !(d->head = u->next))
            d->tail = NULL;
        pthread_mutex_unlock(&t->lock);
        if (!u)
            break;
        if (ret >= 0)
            ret = decode(t->engine, d->priv, u);
        free(u->pcm);
        u->pcm = NULL;
        pthread_mutex_lock(&t->lock);
        d->queued--;
        if (ret < 0 && !d->ret)
            d->ret = ret;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
    }
    vpi_log_scope_leave(prev);
    return NULL;
}

/* Hand the gathered utterance to its decoder, waiting while that one has 2 queued (memory
 * stays bounded: at most 2 utterances of 30 s a decoder). */
static int submit(VpiTranscriber *t)
{
    Utt *u = t->cur;
    int ret = 0;
    t->cur = NULL;
    t->speech_frames += t->utt_frames;
    if (t->nb_utts == t->cap_utts) {
        int cap = t->cap_utts ? 2 * t->cap_utts : 64;
        Utt **a = realloc(t->utts, cap * sizeof(*a));
        if (!a) {
            free(u->pcm);
            free(u);
            return AVERROR(ENOMEM);
        }
        t->utts = a;
        t->cap_utts = cap;
    }
    Decoder *d = &t->dec[t->nb_utts % t->nb_dec];
    t->utts[t->nb_utts++] = u;
    pthread_mutex_lock(&t->lock);
    while (d->queued >= 2 && !d->ret)
        pthread_cond_wait(&t->cond, &t->lock);
    if (d->ret) {
        ret = d->ret;
    } else {
        if (d->tail)
            d->tail->next = u;
        else
            d->head = u;
        d->tail = u;
        d->queued++;
        pthread_cond_broadcast(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
    return ret;
}

static int utt_add(Utt *u, const int16_t *pcm)
{
    if (u->nb + FRAME > u->cap) {
        int cap = u->cap ? 2 * u->cap : 64 * FRAME;
        int16_t *b = realloc(u->pcm, cap * sizeof(*b));
        if (!b)
            return AVERROR(ENOMEM);
        u->pcm = b;
        u->cap = cap;
    }
    memcpy(u->pcm + u->nb, pcm, FRAME * sizeof(*pcm));
    u->nb += FRAME;
    return 0;
}

static int push_frame(VpiTranscriber *t, const int16_t *pcm)
{
    double sum = 0;
    int ret;
    for (int i = 0; i < FRAME; i++)
        sum += (double)pcm[i] * pcm[i];
    double db = 10 * log10(sum / FRAME / (32768.0 * 32768.0) + 1e-12);
    /* The floor follows quiet frames down at once and rises 1 dB a second. */
    t->floor_db = db < t->floor_db ? db : t->floor_db + 0.01;
    int loud = db > t->floor_db + 12 && db > -50;
    int64_t index = t->frames_seen++;

    if (!t->cur) {
        if (!loud) {
            memcpy(t->ring[t->ring_pos], pcm, sizeof(t->ring[0]));
            t->ring_pos = (t->ring_pos + 1) % PREROLL;
            if (t->ring_len < PREROLL)
                t->ring_len++;
            return 0;
        }
        if (!(t->cur = calloc(1, sizeof(*t->cur))))
            return AVERROR(ENOMEM);
        t->cur->start = index - t->ring_len;
        t->utt_frames = t->quiet = 0;
        for (int i = 0; i < t->ring_len; i++) {
            int k = (t->ring_pos - t->ring_len + i + PREROLL) % PREROLL;
            if ((ret = utt_add(t->cur, t->ring[k])) < 0)
                return ret;
            t->utt_frames++;
        }
        t->ring_len = 0;
    }
    if ((ret = utt_add(t->cur, pcm)) < 0)
        return ret;
    t->utt_frames++;
    t->quiet = loud ? 0 : t->quiet + 1;
    if (t->quiet >= HANGOVER || (t->utt_frames >= SOFT_MAX && !loud) ||
        t->utt_frames >= HARD_MAX)
        return submit(t);
    return 0;
}

static int push_samples(VpiTranscriber *t, const int16_t *pcm, int n)
{
    int ret;
    while (n > 0) {
        int k = FRAME - t->frame_fill < n ? FRAME - t->frame_fill : n;
        memcpy(t->frame + t->frame_fill, pcm, k * sizeof(*pcm));
        t->frame_fill += k;
        pcm += k;
        n -= k;
        if (t->frame_fill == FRAME) {
            t->frame_fill = 0;
            if ((ret = push_frame(t, t->frame)) < 0)
                return ret;
        }
    }
    return 0;
}

/* Stop the decoders (after their queues, or at once when @p drop) and free them; the first
 * decoder error, its failure in *fail when it has a message. */
static int decoders_end(VpiTranscriber *t, int drop, VpFailure *fail)
{
    int ret = 0;
    pthread_mutex_lock(&t->lock);
    if (drop)
        for (int i = 0; i < t->nb_dec; i++)
            for (Utt *u = t->dec[i].head; u; u = u->next) {
                free(u->pcm);
                u->pcm = NULL;
                t->dec[i].head = t->dec[i].tail = NULL;
            }
    t->closing = 1;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    /* every slot: the first decoder's engine is opened before any thread starts */
    for (int i = 0; i < MAX_DECODERS; i++) {
        Decoder *d = &t->dec[i];
        if (d->running)
            pthread_join(d->thread, NULL);
        d->running = 0;
        if (d->ret < 0 && !ret) {
            ret = d->ret;
            if (fail && d->fail.message[0])
                *fail = d->fail;
        }
        if (d->priv)
            t->engine->close(&d->priv);
    }
    return ret;
}

static int fail_with(VpFailure *fail, const char *path, int err, const char *why)
{
    return vpi_fail(fail, 0, path, err, why);
}

static void fail_reset(VpFailure *fail)
{
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
}

/* The options' check, the same for vp_transcribe() (before it opens the input: a bad
 * option is said before a missing file) and vpi_transcriber_open(). */
static int check_opts(const char *path, const VpTranscribeOpts *o, const VpiAsrEngine **engine,
                      VpFailure *fail)
{
    char why[256];
    /* ranges through the option table ("max_chars: value 5 is out of range 10..200"); a
     * language names a model folder */
    if (vpi_opt_check(&vpi_transcribe_options, o, why, sizeof(why)) < 0)
        return fail_with(fail, path, VP_ERR_BAD_OPTION, why);
    if (!o->lang || !*o->lang || strlen(o->lang) > 32 || strchr(o->lang, '/'))
        return fail_with(fail, path, VP_ERR_BAD_OPTION,
                         "lang: must name a model (\"en-us\"), at most 32 characters, no '/'");
    if (!(*engine = vpi_asr_find(o->engine))) {
        snprintf(why, sizeof(why), "no speech engine called '%.64s' (there is pocketsphinx)",
                 o->engine);
        return fail_with(fail, path, VP_ERR_BAD_OPTION, why);
    }
    return 0;
}

static char *dup_or_null(const char *s, int *ret)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *ret = AVERROR(ENOMEM);
    return d;
}

int vpi_transcriber_open(VpiTranscriber **out, const char *path, const VpTranscribeOpts *opts,
                         VpFailure *fail)
{
    VpTranscribeOpts defaults;
    int ret = 0;
    fail_reset(fail);
    *out = NULL;
    if (!opts) {
        vp_transcribe_default_opts(&defaults);
        opts = &defaults;
    }
    if (!path)
        path = "audio";
    VpiTranscriber *t = calloc(1, sizeof(*t));
    if (!t)
        return fail_with(fail, path, AVERROR(ENOMEM), NULL);
    t->floor_db = -60;
    t->opts = *opts;
    t->path = dup_or_null(path, &ret);
    t->opts.lang = t->lang = dup_or_null(opts->lang, &ret);
    t->opts.model_dir = t->model_dir = dup_or_null(opts->model_dir, &ret);
    t->opts.engine = NULL;      /* only for the lookup below */
    if (ret < 0)
        goto fail;
    if ((ret = check_opts(path, opts, &t->engine, fail)) < 0)
        goto fail;
    t->cfg = (VpiAsrConfig){ .lang = t->opts.lang, .model_dir = t->opts.model_dir,
                             .logger = &t->opts.logger };
    const VpLogger *prev = vpi_log_scope_enter(&t->opts.logger);
    ret = t->engine->open(&t->dec[0].priv, &t->cfg, fail);
    vpi_log_scope_leave(prev);
    if (ret < 0) {
        if (fail && !fail->message[0])
            fail_with(fail, path, ret, "the speech engine could not start");
        goto fail;
    }
    if (pthread_mutex_init(&t->lock, NULL)) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if (pthread_cond_init(&t->cond, NULL)) {
        pthread_mutex_destroy(&t->lock);
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    t->threads_ok = 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = opts->threads ? opts->threads : cores < 1 ? 1 : cores > 4 ? 4 : (int)cores;
    for (int i = 0; i < want; i++) {
        t->dec[i].t = t;
        if (pthread_create(&t->dec[i].thread, NULL, decoder_main, &t->dec[i])) {
            if (!i) {
                ret = AVERROR(EAGAIN);
                goto fail;
            }
            break;
        }
        t->dec[i].running = 1;
        t->nb_dec++;
    }
    *out = t;
    return 0;

fail:
    if (fail && !fail->code)
        fail_with(fail, path, ret, NULL);
    vpi_transcriber_free(&t);
    return ret;
}

static int same_input(const VpiTranscriber *t, const AVFrame *f)
{
    return f->format == t->in_format && f->sample_rate == t->in_rate &&
           (f->ch_layout.nb_channels <= 0 ? t->in_layout.nb_channels == 1
            : !av_channel_layout_compare(&f->ch_layout, &t->in_layout));
}

/* Frames (NULL: flush the resampler) into the gate. A frame in another format, rate or
 * layout than the last (a stream that changes mid-way) gets a new resampler after the old
 * one's delayed samples. */
static int convert(VpiTranscriber *t, const AVFrame *f)
{
    int ret;
    if (t->swr && f && !same_input(t, f)) {
        if ((ret = convert(t, NULL)) < 0)
            return ret;
        swr_free(&t->swr);
        av_channel_layout_uninit(&t->in_layout);
    }
    if (!t->swr && f) {
        AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
        AVChannelLayout *in = &t->in_layout;
        if (f->sample_rate <= 0 || f->format < 0)
            return AVERROR(EINVAL);
        if (f->ch_layout.nb_channels > 0)
            ret = av_channel_layout_copy(in, &f->ch_layout);
        else
            ret = (av_channel_layout_default(in, 1), 0);
        if (ret < 0)
            return ret;
        AVChannelLayout use = { 0 };
        if (in->order == AV_CHANNEL_ORDER_UNSPEC)
            av_channel_layout_default(&use, in->nb_channels);
        else if ((ret = av_channel_layout_copy(&use, in)) < 0)
            return ret;
        t->in_format = f->format;
        t->in_rate = f->sample_rate;
        ret = swr_alloc_set_opts2(&t->swr, &mono, AV_SAMPLE_FMT_S16, VPI_ASR_RATE, &use,
                                  f->format, f->sample_rate, 0, NULL);
        av_channel_layout_uninit(&use);
        if (ret < 0 || (ret = swr_init(t->swr)) < 0)
            return ret;
    }
    if (!t->swr)
        return 0;
    int want = swr_get_out_samples(t->swr, f ? f->nb_samples : 0);
    if (want < 0)
        return want;
    if (want > t->buf_size) {
        int16_t *b = av_realloc(t->buf, (size_t)want * sizeof(*b));
        if (!b)
            return AVERROR(ENOMEM);
        t->buf = b;
        t->buf_size = want;
    }
    uint8_t *dst = (uint8_t *)t->buf;
    int got = swr_convert(t->swr, &dst, want, f ? (const uint8_t **)f->extended_data : NULL,
                          f ? f->nb_samples : 0);
    if (got < 0)
        return got;
    return push_samples(t, t->buf, got);
}

int vpi_transcriber_frame(VpiTranscriber *t, const AVFrame *f)
{
    if (t->err)
        return t->err;
    if (t->finished)
        return AVERROR(EINVAL);
    if (!f || f->nb_samples <= 0)
        return 0;
    int ret = convert(t, f);
    if (ret < 0) {
        t->err = ret;
        t->err_why = "the speech engine failed";
    }
    return ret;
}

/* After a failure: the decoders stopped, their message or @p why's. */
static int finish_failed(VpiTranscriber *t, int ret, const char *why, VpFailure *fail)
{
    if (t->threads_ok && t->nb_dec) {
        decoders_end(t, 1, fail && fail->message[0] ? NULL : fail);
        t->nb_dec = 0;
    }
    if (ret != AVERROR(ENOMEM) && fail && !fail->message[0])
        fail_with(fail, t->path, ret, why);
    if (fail && !fail->code)
        fail_with(fail, t->path, ret, NULL);
    return ret;
}

int vpi_transcriber_finish(VpiTranscriber *t, VpSubs **out, VpTranscribeStats *stats,
                           VpFailure *fail)
{
    VpSubs *subs = NULL;
    int ret;
    fail_reset(fail);
    *out = NULL;
    if (t->finished)
        return fail_with(fail, t->path, AVERROR(EINVAL), "the transcriber was finished");
    t->finished = 1;
    if (t->err)
        return finish_failed(t, t->err, t->err_why, fail);
    if ((ret = convert(t, NULL)) < 0)
        return finish_failed(t, ret, "the speech engine failed", fail);
    if (t->frame_fill) {
        /* the last partial frame, padded with silence */
        memset(t->frame + t->frame_fill, 0, (FRAME - t->frame_fill) * sizeof(t->frame[0]));
        t->frame_fill = 0;
        if ((ret = push_frame(t, t->frame)) < 0)
            return finish_failed(t, ret, "the speech engine failed", fail);
    }
    if (t->cur && (ret = submit(t)) < 0)
        return finish_failed(t, ret, "the speech engine failed", fail);
    ret = decoders_end(t, 0, fail);
    t->nb_dec = 0;
    if (ret < 0)
        return finish_failed(t, ret, "the speech engine failed", fail);

    int nb_words = 0;
    for (int i = 0; i < t->nb_utts; i++)
        nb_words += t->utts[i]->nb_words;
    VpiWord *words = nb_words ? malloc(nb_words * sizeof(*words)) : NULL;
    if (nb_words && !words)
        return finish_failed(t, AVERROR(ENOMEM), NULL, fail);
    nb_words = 0;
    for (int i = 0; i < t->nb_utts; i++) {
        if (!t->utts[i]->nb_words)      /* noise: an utterance without words */
            continue;
        memcpy(words + nb_words, t->utts[i]->words, t->utts[i]->nb_words * sizeof(*words));
        nb_words += t->utts[i]->nb_words;
    }
    VpiCaptionRules rules;
    vpi_caption_rules_default(&rules);
    rules.max_chars = t->opts.max_chars;
    rules.max_lines = t->opts.max_lines;
    if ((ret = vp_subs_new(&subs)) >= 0)
        ret = vpi_captions_make(words, nb_words, &rules, subs);
    free(words);
    if (ret < 0) {
        vp_subs_free(&subs);
        return finish_failed(t, ret, NULL, fail);
    }
    if (stats) {
        stats->audio_ms = t->frames_seen * 10;
        stats->speech_ms = t->speech_frames * 10;
        stats->nb_words = nb_words;
        stats->nb_cues = ret;
    }
    *out = subs;
    return 0;
}

static void utt_free(Utt *u)
{
    if (u) {
        free(u->pcm);
        free(u->words);
        free(u);
    }
}

void vpi_transcriber_free(VpiTranscriber **pt)
{
    VpiTranscriber *t = *pt;
    if (!t)
        return;
    if (t->threads_ok) {
        /* every slot: after a finish nb_dec is 0 but the engines are still open */
        decoders_end(t, 1, NULL);
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
    } else if (t->dec[0].priv) {
        t->engine->close(&t->dec[0].priv);
    }
    for (int i = 0; i < t->nb_utts; i++)
        utt_free(t->utts[i]);
    free(t->utts);
    utt_free(t->cur);
    av_free(t->buf);
    swr_free(&t->swr);
    av_channel_layout_uninit(&t->in_layout);
    free(t->path);
    free(t->lang);
    free(t->model_dir);
    free(t);
    *pt = NULL;
}

int vp_transcribe(const char *path, VpSubs **out, const VpTranscribeOpts *user_opts,
                  VpTranscribeStats *stats, VpFailure *fail)
{
    VpTranscribeOpts defaults;
    const VpTranscribeOpts *opts = user_opts;
    if (!opts) {
        vp_transcribe_default_opts(&defaults);
        opts = &defaults;
    }
    fail_reset(fail);
    *out = NULL;
    const VpLogger *prev = vpi_log_scope_enter(&opts->logger);
    const VpiAsrEngine *engine;
    VpiTranscriber *t = NULL;
    AVFormatContext *ic = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = NULL;
    AVFrame *frame = NULL;
    int registered = 0, ret, si;

    if ((ret = check_opts(path, opts, &engine, fail)) < 0)
        goto end;
    if ((ret = vpi_log_register(&opts->logger)) < 0)
        goto end;
    registered = 1;
    if ((ret = vpi_input_check(path, &(struct stat){ 0 })) < 0 ||
        (ret = vpi_open_input(&ic, path, &opts->cancel, &opts->logger)) < 0) {
        ret = fail_with(fail, path, ret, NULL);
        goto end;
    }
    if ((ret = avformat_find_stream_info(ic, NULL)) < 0) {
        ret = fail_with(fail, path, ret, NULL);
        goto end;
    }
    const AVCodec *codec = NULL;
    if ((si = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0)) < 0) {
        ret = fail_with(fail, path, si == AVERROR_DECODER_NOT_FOUND ? VP_ERR_UNSUPPORTED
                        : VP_ERR_NO_AUDIO, si == AVERROR_DECODER_NOT_FOUND ?
                        "its audio's codec has no decoder here" : NULL);
        goto end;
    }
    for (unsigned i = 0; i < ic->nb_streams; i++)
        ic->streams[i]->discard = (int)i == si ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
    if (!(dec = avcodec_alloc_context3(codec))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    dec->opaque = (void *)&opts->logger;
    if ((ret = avcodec_parameters_to_context(dec, ic->streams[si]->codecpar)) < 0 ||
        (ret = avcodec_open2(dec, codec, NULL)) < 0) {
        ret = fail_with(fail, path, ret, "its audio decoder could not be opened");
        goto end;
    }
    /* The model is loaded after the input is known to have audio: a missing stream is said
     * before a missing model, and costs no model load (about 0.3 s for en-us). */
    if ((ret = vpi_transcriber_open(&t, path, opts, fail)) < 0)
        goto end;
    if (!(pkt = av_packet_alloc()) || !(frame = av_frame_alloc())) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    int eof = 0;
    while (!eof) {
        if (vpi_cancelled(&opts->cancel)) {
            ret = fail_with(fail, path, VP_ERR_CANCELLED, NULL);
            goto end;
        }
        ret = av_read_frame(ic, pkt);
        if (ret == AVERROR_EOF) {
            eof = 1;
            ret = avcodec_send_packet(dec, NULL);
        } else if (ret < 0) {
            ret = fail_with(fail, path, ret == AVERROR_EXIT ? VP_ERR_CANCELLED : ret, NULL);
            goto end;
        } else {
            if (pkt->stream_index == si)
                ret = avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
            /* A damaged packet is skipped: the rest of the speech is still worth having. */
            if (ret == AVERROR_INVALIDDATA)
                ret = 0;
        }
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            ret = fail_with(fail, path, ret, NULL);
            goto end;
        }
        while ((ret = avcodec_receive_frame(dec, frame)) >= 0) {
            if (opts->progress && frame->pts != AV_NOPTS_VALUE)
                opts->progress(opts->opaque, frame->pts * av_q2d(ic->streams[si]->time_base),
                               ic->duration > 0 ? ic->duration / (double)AV_TIME_BASE : NAN);
            ret = vpi_transcriber_frame(t, frame);
            av_frame_unref(frame);
            if (ret < 0)
                break;
        }
        if (ret < 0 && t->err)
            break;              /* finish says why */
        if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA) {
            ret = fail_with(fail, path, ret, NULL);
            goto end;
        }
    }
    ret = vpi_transcriber_finish(t, out, stats, fail);

end:
    if (ret < 0 && fail && !fail->code)
        fail_with(fail, path, ret, NULL);
    vpi_transcriber_free(&t);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&ic);
    if (registered)
        vpi_log_unregister(&opts->logger);
    vpi_log_scope_leave(prev);
    return ret;
}
