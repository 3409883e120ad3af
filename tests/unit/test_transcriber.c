/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transcriber fed frame by frame (vpi_transcriber_*, src/subs/asr.c), as a decode loop
 * other than vp_transcribe()'s feeds it: espeak-ng speech decoded here, its frames given
 * as they come give exactly vp_transcribe()'s captions; the same speech as 44.1 kHz stereo
 * float for its first half and as it is for the rest (a format change mid-way) keeps every
 * sample and most words; a free without a finish (a cancel) and a free after a failed open
 * leave nothing behind (ASan); a frame or a finish after the finish are refused; a bad
 * option and a missing model are one line naming the audio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "test.h"
#include "subs/asr.h"
#include "vidpipe/transcribe.h"

#define MAX_FRAMES 4096

/* Every frame the WAV decoder gives, in order. */
static int decode_all(const char *path, AVFrame **frames, int *nb)
{
    AVFormatContext *ic = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    const AVCodec *codec = NULL;
    int ret = AVERROR(ENOMEM), si;
    *nb = 0;
    if (!pkt || (ret = avformat_open_input(&ic, path, NULL, NULL)) < 0 ||
        (ret = avformat_find_stream_info(ic, NULL)) < 0 ||
        (ret = si = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0)) < 0)
        goto end;
    if (!(dec = avcodec_alloc_context3(codec)) ||
        (ret = avcodec_parameters_to_context(dec, ic->streams[si]->codecpar)) < 0 ||
        (ret = avcodec_open2(dec, codec, NULL)) < 0)
        goto end;
    for (int eof = 0; !eof;) {
        ret = av_read_frame(ic, pkt);
        eof = ret == AVERROR_EOF;
        ret = avcodec_send_packet(dec, eof ? NULL : pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            goto end;
        for (;;) {
            AVFrame *f = av_frame_alloc();
            if (!f || *nb == MAX_FRAMES) {
                av_frame_free(&f);
                ret = AVERROR(ENOMEM);
                goto end;
            }
            if ((ret = avcodec_receive_frame(dec, f)) < 0) {
                av_frame_free(&f);
                break;
            }
            frames[(*nb)++] = f;
        }
    }
    ret = 0;
end:
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&ic);
    return ret;
}

/* The cues' text, one line, words separated by single spaces. */
static void cue_words(const VpSubs *s, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; s && i < vp_subs_count(s); i++) {
        VpSubsCue c;
        vp_subs_get(s, i, &c);
        for (const char *p = c.text; *p && n + 2 < size; p++)
            buf[n++] = *p == '\n' ? ' ' : *p;
        if (n + 2 < size)
            buf[n++] = ' ';
        buf[n] = 0;
    }
    if (n && buf[n - 1] == ' ')
        buf[--n] = 0;
}

/* Share of the words of @p ref found in @p hyp. */
static double found(const char *ref, const char *hyp)
{
    char r[4096], *save = NULL;
    int all = 0, hit = 0;
    snprintf(r, sizeof(r), "%s", ref);
    for (char *w = strtok_r(r, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char pad[128], h[4200];
        snprintf(pad, sizeof(pad), " %s ", w);
        snprintf(h, sizeof(h), " %s ", hyp);
        all++;
        hit += !!strstr(h, pad);
    }
    return all ? (double)hit / all : 0;
}

/* @p f (NULL: what @p swr still holds) as 44.1 kHz stereo float planar, through @p swr. */
static AVFrame *as_float_stereo(SwrContext *swr, const AVFrame *f)
{
    AVFrame *o = av_frame_alloc();
    int n = f ? f->nb_samples : 0;
    if (!o)
        return NULL;
    o->format = AV_SAMPLE_FMT_FLTP;
    o->sample_rate = 44100;
    av_channel_layout_default(&o->ch_layout, 2);
    o->nb_samples = swr_get_out_samples(swr, n) + 16;
    int got = -1;
    if (av_frame_get_buffer(o, 0) >= 0)
        got = swr_convert(swr, o->extended_data, o->nb_samples,
                          f ? (const uint8_t **)f->extended_data : NULL, n);
    if (got < 0)
        av_frame_free(&o);
    else
        o->nb_samples = got;
    return o;
}

int main(void)
{
    char dir[] = "/tmp/vp-transcriber-XXXXXX", wav[128], cmd[512];
    const char *model = "/usr/share/pocketsphinx/model/en-us";
    if (access(model, R_OK) < 0)
        TEST_SKIP("%s missing (scripts/install-deps.sh)", model);
    if (t_sh("command -v espeak-ng >/dev/null") != 0)
        TEST_SKIP("espeak-ng missing (scripts/install-deps.sh)");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    snprintf(wav, sizeof(wav), "%s/speech.wav", dir);
    /* two sentences with a second of silence around each (the gate learns its floor) */
    snprintf(cmd, sizeof(cmd), "cd %s && espeak-ng -v en-us+m3 -s 150 -g 8 -w a.wav 'The quick "
             "brown fox jumps over the lazy dog.' && espeak-ng -v en-us+m3 -s 150 -g 8 -w b.wav "
             "'We will meet at the station tomorrow morning.' && ffmpeg -nostdin -v error -i "
             "a.wav -i b.wav -filter_complex '[0]adelay=1000,apad=pad_dur=1[a];[1]apad=pad_dur=1"
             "[b];[a][b]concat=n=2:v=0:a=1' speech.wav && rm a.wav b.wav", dir);
    CHECK_EQ(t_sh(cmd), 0);

    static AVFrame *frames[MAX_FRAMES];
    int nb = 0;
    CHECK_EQ(decode_all(wav, frames, &nb), 0);
    CHECK_INT(nb, >, 10);

    VpTranscribeOpts o;
    vp_transcribe_default_opts(&o);
    o.threads = 1;
    VpTranscribeStats ref_st = { 0 }, st = { 0 };
    VpFailure fail;
    VpSubs *ref = NULL, *s = NULL;
    char ref_words[2048], words[2048];

    /* vp_transcribe() itself, the reference */
    CHECK_EQ(vp_transcribe(wav, &ref, &o, &ref_st, &fail), 0);
    cue_words(ref, ref_words, sizeof(ref_words));
    fprintf(stderr, "vp_transcribe: %s\n", ref_words);
    /* a sanity check only (the CLI tests bound the word error rate): pocketsphinx gets 7 of
     * these 17 words right here, an engine that heard nothing none */
    CHECK_INT(ref_st.nb_words, >=, 8);
    CHECK_INT(found("the quick brown fox jumps over the lazy dog we will meet at the station "
                    "tomorrow morning", ref_words) * 100, >=, 25);

    /* the same frames fed one by one: the same captions, times and counts */
    VpiTranscriber *t = NULL;
    CHECK_EQ(vpi_transcriber_open(&t, "speech.wav", &o, &fail), 0);
    for (int i = 0; t && i < nb; i++)
        CHECK_EQ(vpi_transcriber_frame(t, frames[i]), 0);
    CHECK_EQ(vpi_transcriber_finish(t, &s, &st, &fail), 0);
    cue_words(s, words, sizeof(words));
    CHECK_STR(words, ref_words);
    CHECK_EQ(vp_subs_count(s), vp_subs_count(ref));
    for (int i = 0; s && i < vp_subs_count(s) && i < vp_subs_count(ref); i++) {
        VpSubsCue a, b;
        vp_subs_get(s, i, &a);
        vp_subs_get(ref, i, &b);
        CHECK_EQ(a.start_ms, b.start_ms);
        CHECK_EQ(a.end_ms, b.end_ms);
    }
    CHECK_EQ(st.audio_ms, ref_st.audio_ms);
    CHECK_EQ(st.nb_words, ref_st.nb_words);
    /* after the finish: frames and a second finish are refused, the list stays valid */
    CHECK_EQ(vpi_transcriber_frame(t, frames[0]), AVERROR(EINVAL));
    VpSubs *again = NULL;
    CHECK_EQ(vpi_transcriber_finish(t, &again, NULL, &fail), AVERROR(EINVAL));
    CHECK(again == NULL);
    CHECK_STR(fail.message, "speech.wav: the transcriber was finished");
    vpi_transcriber_free(&t);
    CHECK(t == NULL);
    vp_subs_free(&s);

    /* the first half as 44.1 kHz stereo float, the rest as it is: every sample arrives
     * (the first resampler's delay flushed at the change), most words are the same */
    SwrContext *swr = NULL;
    AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO, in_layout = { 0 };
    av_channel_layout_default(&in_layout, frames[0]->ch_layout.nb_channels);
    CHECK_EQ(swr_alloc_set_opts2(&swr, &stereo, AV_SAMPLE_FMT_FLTP, 44100, &in_layout,
                                 frames[0]->format, frames[0]->sample_rate, 0, NULL), 0);
    CHECK_EQ(swr_init(swr), 0);
    CHECK_EQ(vpi_transcriber_open(&t, "speech.wav", &o, &fail), 0);
    for (int i = 0; t && i < nb; i++) {
        if (i < nb / 2) {
            AVFrame *fl = as_float_stereo(swr, frames[i]);
            CHECK(fl != NULL);
            if (fl && fl->nb_samples)
                CHECK_EQ(vpi_transcriber_frame(t, fl), 0);
            av_frame_free(&fl);
        } else {
            if (i == nb / 2) {   /* what the test's own resampler still holds */
                AVFrame *fl = as_float_stereo(swr, NULL);
                if (fl && fl->nb_samples)
                    CHECK_EQ(vpi_transcriber_frame(t, fl), 0);
                av_frame_free(&fl);
            }
            CHECK_EQ(vpi_transcriber_frame(t, frames[i]), 0);
        }
    }
    CHECK_EQ(vpi_transcriber_finish(t, &s, &st, &fail), 0);
    cue_words(s, words, sizeof(words));
    fprintf(stderr, "a format change mid-way: %s\n", words);
    CHECK_NEAR(st.audio_ms, ref_st.audio_ms, 20);
    CHECK_INT(found(ref_words, words) * 100, >=, 60);
    vpi_transcriber_free(&t);
    vp_subs_free(&s);
    swr_free(&swr);

    /* a cancel: half the frames, then a free without a finish */
    CHECK_EQ(vpi_transcriber_open(&t, "speech.wav", &o, &fail), 0);
    for (int i = 0; t && i < nb / 2; i++)
        CHECK_EQ(vpi_transcriber_frame(t, frames[i]), 0);
    vpi_transcriber_free(&t);
    vpi_transcriber_free(&t);

    /* a bad option, a missing model: one line naming the audio or the model file */
    o.max_lines = 9;
    CHECK_EQ(vpi_transcriber_open(&t, "clip.mp4", &o, &fail), VP_ERR_BAD_OPTION);
    CHECK(t == NULL);
    CHECK_STR(fail.message, "clip.mp4: max_lines: value 9 is out of range 1..5");
    o.max_lines = 2;
    o.model_dir = dir;
    CHECK_EQ(vpi_transcriber_open(&t, "clip.mp4", &o, &fail), VP_ERR_BAD_CONFIG);
    CHECK(t == NULL);
    char want[256];
    snprintf(want, sizeof(want), "%s/en-us/en-us: pocketsphinx model folder not found "
             "(Debian: apt install pocketsphinx-en-us)", dir);
    CHECK_STR(fail.message, want);

    for (int i = 0; i < nb; i++)
        av_frame_free(&frames[i]);
    vp_subs_free(&ref);
    unlink(wav);
    rmdir(dir);
    TEST_END();
}
