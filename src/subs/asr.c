/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vp_transcribe(): one decode of the input's audio, resampled to 16 kHz mono s16, cut into
 * utterances by an energy gate, each handed to the speech engine in chunks; the words it
 * returns become captions (captions.c).
 *
 * Why a gate of our own: an engine's decoder grows with the utterance (pocketsphinx keeps
 * every frame's lattice until the end of the utterance, minutes of audio as one utterance
 * take hundreds of MB and its language model favours sentence-length utterances), so
 * speech is handed over between silences; and knowing where each utterance starts, to the
 * sample, makes the word times exact whatever the engine does inside. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include "vidpipe/transcribe.h"
#include "asr.h"
#include "captions.h"
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
    o->lang = "en-us";
    o->max_chars = 42;
    o->max_lines = 2;
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

typedef struct Transcriber {
    const VpiAsrEngine *engine;
    void *priv;
    /* the frame being filled and the last PREROLL frames (a ring) */
    int16_t frame[FRAME];
    int frame_fill;
    int16_t ring[PREROLL][FRAME];
    int ring_len, ring_pos;
    double floor_db;
    int64_t frames_seen;        /* complete frames so far */
    int in_utt;
    int64_t utt_start;          /* in frames */
    int utt_frames, quiet;
    VpiWord *words;
    int nb_words, cap_words;
    int64_t speech_frames;
} Transcriber;

static int add_word(void *opaque, int64_t start, int64_t end, const char *token)
{
    Transcriber *t = opaque;
    if (t->nb_words == t->cap_words) {
        int cap = t->cap_words ? 2 * t->cap_words : 256;
        VpiWord *w = realloc(t->words, cap * sizeof(*w));
        if (!w)
            return AVERROR(ENOMEM);
        t->words = w;
        t->cap_words = cap;
    }
    VpiWord *w = &t->words[t->nb_words++];
    int64_t base = t->utt_start * 10;
    w->start = base + start;
    w->end = base + (end > start ? end : start);
    vpi_asr_word_text(w->text, sizeof(w->text), token);
    return 0;
}

static int utt_end(Transcriber *t)
{
    t->in_utt = 0;
    t->speech_frames += t->utt_frames;
    return t->engine->end(t->priv, add_word, t);
}

static int push_frame(Transcriber *t, const int16_t *pcm)
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

    if (!t->in_utt) {
        if (loud) {
            if ((ret = t->engine->begin(t->priv)) < 0)
                return ret;
            t->in_utt = 1;
            t->utt_start = index - t->ring_len;
            t->utt_frames = t->quiet = 0;
            for (int i = 0; i < t->ring_len; i++) {
                int k = (t->ring_pos - t->ring_len + i + PREROLL) % PREROLL;
                if ((ret = t->engine->feed(t->priv, t->ring[k], FRAME)) < 0)
                    return ret;
                t->utt_frames++;
            }
            t->ring_len = 0;
        } else {
            memcpy(t->ring[t->ring_pos], pcm, sizeof(t->ring[0]));
            t->ring_pos = (t->ring_pos + 1) % PREROLL;
            if (t->ring_len < PREROLL)
                t->ring_len++;
            return 0;
        }
    }
    if ((ret = t->engine->feed(t->priv, pcm, FRAME)) < 0)
        return ret;
    t->utt_frames++;
    t->quiet = loud ? 0 : t->quiet + 1;
    if (t->quiet >= HANGOVER || (t->utt_frames >= SOFT_MAX && !loud) ||
        t->utt_frames >= HARD_MAX)
        return utt_end(t);
    return 0;
}

static int push_samples(Transcriber *t, const int16_t *pcm, int n)
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

static int fail_with(VpFailure *fail, const char *path, int err, const char *why)
{
    if (fail) {
        fail->code = err;
        fail->input = 0;
        vpi_strlcpy(fail->path, path, sizeof(fail->path));
        snprintf(fail->message, sizeof(fail->message), "%.500s: %.500s", path,
                 why ? why : vp_strerror(err));
    }
    return err;
}

/* Frames of the decoder (NULL frame: flush the resampler) into the gate. */
static int convert(Transcriber *t, SwrContext **swr, const AVFrame *f, int16_t **buf,
                   int *buf_size)
{
    int ret;
    if (!*swr && f) {
        AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
        AVChannelLayout in = { 0 };
        if (f->ch_layout.nb_channels > 0)
            ret = av_channel_layout_copy(&in, &f->ch_layout);
        else
            ret = (av_channel_layout_default(&in, 1), 0);
        if (ret < 0)
            return ret;
        if (in.order == AV_CHANNEL_ORDER_UNSPEC)
            av_channel_layout_default(&in, in.nb_channels);
        ret = swr_alloc_set_opts2(swr, &mono, AV_SAMPLE_FMT_S16, VPI_ASR_RATE, &in, f->format,
                                  f->sample_rate, 0, NULL);
        av_channel_layout_uninit(&in);
        if (ret < 0 || (ret = swr_init(*swr)) < 0)
            return ret;
    }
    if (!*swr)
        return 0;
    int want = swr_get_out_samples(*swr, f ? f->nb_samples : 0);
    if (want < 0)
        return want;
    if (want > *buf_size) {
        int16_t *b = av_realloc(*buf, (size_t)want * sizeof(**buf));
        if (!b)
            return AVERROR(ENOMEM);
        *buf = b;
        *buf_size = want;
    }
    uint8_t *out = (uint8_t *)*buf;
    int got = swr_convert(*swr, &out, want, f ? (const uint8_t **)f->extended_data : NULL,
                          f ? f->nb_samples : 0);
    if (got < 0)
        return got;
    return push_samples(t, *buf, got);
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
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    *out = NULL;
    const VpLogger *prev = vpi_log_scope_enter(&opts->logger);
    Transcriber t = { .floor_db = -60 };
    AVFormatContext *ic = NULL;
    AVCodecContext *dec = NULL;
    SwrContext *swr = NULL;
    AVPacket *pkt = NULL;
    AVFrame *frame = NULL;
    int16_t *buf = NULL;
    int buf_size = 0, registered = 0, ret, si;
    VpSubs *subs = NULL;
    char why[256];

    if (opts->max_chars < 10 || opts->max_chars > 200 || opts->max_lines < 1 ||
        opts->max_lines > 5 || !opts->lang || !*opts->lang || strlen(opts->lang) > 32 ||
        strchr(opts->lang, '/')) {
        snprintf(why, sizeof(why), "%s out of range (max_chars 10..200, max_lines 1..5, "
                 "lang a model name)", opts->max_chars < 10 || opts->max_chars > 200 ?
                 "max_chars" : opts->max_lines < 1 || opts->max_lines > 5 ? "max_lines" :
                 "lang");
        ret = fail_with(fail, path, VP_ERR_BAD_OPTION, why);
        goto end;
    }
    if (!(t.engine = vpi_asr_find(opts->engine))) {
        snprintf(why, sizeof(why), "no speech engine called '%.64s' (there is pocketsphinx)",
                 opts->engine);
        ret = fail_with(fail, path, VP_ERR_BAD_OPTION, why);
        goto end;
    }
    if ((ret = vpi_log_register(&opts->logger)) < 0)
        goto end;
    registered = 1;
    if (!(ic = avformat_alloc_context())) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    ic->interrupt_callback = (AVIOInterruptCB){ opts->cancel.fn, opts->cancel.opaque };
    ic->opaque = (void *)&opts->logger;
    if ((ret = vpi_input_check(path, &(struct stat){ 0 })) < 0 ||
        (ret = avformat_open_input(&ic, path, NULL, NULL)) < 0) {
        ret = fail_with(fail, path, vpi_open_error(path, NULL, 0, ret), NULL);
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
    VpiAsrConfig cfg = { .lang = opts->lang, .model_dir = opts->model_dir,
                         .logger = &opts->logger };
    if ((ret = t.engine->open(&t.priv, &cfg, fail)) < 0) {
        if (fail && !fail->message[0])
            fail_with(fail, path, ret, "the speech engine could not start");
        goto end;
    }
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
            ret = convert(&t, &swr, frame, &buf, &buf_size);
            av_frame_unref(frame);
            if (ret < 0)
                goto engine_fail;
        }
        if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA) {
            ret = fail_with(fail, path, ret, NULL);
            goto end;
        }
    }
    if ((ret = convert(&t, &swr, NULL, &buf, &buf_size)) < 0)
        goto engine_fail;
    if (t.frame_fill) {
        /* the last partial frame, padded with silence */
        memset(t.frame + t.frame_fill, 0, (FRAME - t.frame_fill) * sizeof(t.frame[0]));
        t.frame_fill = 0;
        if ((ret = push_frame(&t, t.frame)) < 0)
            goto engine_fail;
    }
    if (t.in_utt && (ret = utt_end(&t)) < 0)
        goto engine_fail;

    VpiCaptionRules rules;
    vpi_caption_rules_default(&rules);
    rules.max_chars = opts->max_chars;
    rules.max_lines = opts->max_lines;
    if ((ret = vp_subs_new(&subs)) < 0 ||
        (ret = vpi_captions_make(t.words, t.nb_words, &rules, subs)) < 0)
        goto end;
    if (stats) {
        stats->audio_ms = t.frames_seen * 10;
        stats->speech_ms = t.speech_frames * 10;
        stats->nb_words = t.nb_words;
        stats->nb_cues = ret;
    }
    *out = subs;
    subs = NULL;
    ret = 0;
    goto end;

engine_fail:
    if (ret != AVERROR(ENOMEM))
        fail_with(fail, path, ret, "the speech engine failed");
end:
    if (ret < 0 && fail && !fail->code)
        fail_with(fail, path, ret, NULL);
    vp_subs_free(&subs);
    if (t.priv)
        t.engine->close(&t.priv);
    free(t.words);
    av_free(buf);
    swr_free(&swr);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&ic);
    if (registered)
        vpi_log_unregister(&opts->logger);
    vpi_log_scope_leave(prev);
    return ret;
}
