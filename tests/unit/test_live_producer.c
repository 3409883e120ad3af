/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A channel's producer (src/live/live_producer.c, live_audio.c) judged by what a client
 * receives: tiny MP4s made here (two x264 settings, so SPS/PPS differ; one without audio;
 * one truncated), played by a source that cycles them with cuts at keys, captured through
 * a viewer into a .ts file and checked with FFmpeg's decoder, ffprobe's packets and a TS
 * walk of our own (continuity counters, PCR and PAT spacing, KEY chunks that start with
 * PAT, PMT and an IDR with SPS/PPS). A/V sync is measured from the content: every file's
 * audio beeps at each whole second of its media, where its keyframes are, so the beep's
 * onset in the decoded output must sit at that keyframe's pts. Then a short real-time run
 * checks the pacing. */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <libavutil/error.h>
#include <libavutil/mathematics.h>

#include "common/helpers.h"
#include "live/live.h"
#include "mp4/mp4.h"
#include "test.h"

#define SEC VPI_TICKS

static char dir[256];
static int rate = 48000;       /* the channel's (and the files') audio rate */

/* ---- media and their VpiLiveMedia (what ingest would make) ------------------------------ */

static VpiLiveMedia *make_media(const char *path, const char *play_path)
{
    int fd = open(path, O_RDONLY);
    VpiMp4File *f = NULL;
    char why[256];
    if (fd < 0 || vpi_mp4_index(fd, &f, why, sizeof(why)) < 0) {
        T_FAIL("%s: cannot index", path);
        exit(1);
    }
    close(fd);
    const VpiMp4Track *v = &f->video;
    VpiLiveMedia *m = calloc(1, sizeof(*m));
    m->refs = 1;
    m->source = strdup(path);
    m->play_path = strdup(play_path);
    m->duration = av_rescale(v->pts_end - v->pts_min, SEC, v->timescale);
    m->keys = calloc((size_t)v->nb_samples, sizeof(*m->keys));
    int64_t prev = 0;
    for (int64_t i = 0; i < v->nb_samples; i++)
        if (v->samples[i].key) {
            int64_t t = av_rescale(v->samples[i].dts + v->samples[i].cts - v->pts_min, SEC,
                                   v->timescale);
            m->keys[m->nb_keys++] = t;
            if (t - prev > m->max_gop)
                m->max_gop = t - prev;
            prev = t;
        }
    m->reorder = av_rescale(v->samples[0].cts, SEC, v->timescale);
    m->has_audio = f->audio.kind == VPI_TRACK_AUDIO;
    m->loudness = NAN;
    m->param_sets = malloc(v->avcc_size);
    memcpy(m->param_sets, v->avcc, v->avcc_size);
    m->param_sets_size = (int)v->avcc_size;
    vpi_mp4_index_free(&f);
    return m;
}

/* ---- the source: pieces cycled forever from channel tick 0 ------------------------------ */

typedef struct Piece {
    VpiLiveMedia *m;
    int64_t from, to;
    int64_t audio_end;        /* media ticks where its audio ends, if before its video's */
} Piece;

/* Whether media position @p pos of piece @p p has the file's audio. */
static int piece_audible(const Piece *p, int64_t pos)
{
    return p->m->has_audio && !strstr(p->m->play_path, "broken") &&
           (!p->audio_end || pos < p->audio_end);
}

typedef struct Source {
    Piece p[8];
    int nb;
    int64_t period;
    int failed;
    pthread_mutex_t lock;
} Source;

static int64_t piece_len(const Piece *p)
{
    return p->to - p->from;
}

/* The piece at @p tick: its index and start. */
static void piece_at(const Source *s, int64_t tick, int *k, int64_t *start)
{
    int64_t c = tick >= 0 ? tick / s->period : (tick - s->period + 1) / s->period;
    int64_t t = c * s->period;
    int i = 0;
    while (t + piece_len(&s->p[i]) <= tick) {
        t += piece_len(&s->p[i]);
        i++;
    }
    *k = i;
    *start = t;
}

static void fill(Source *s, int k, int64_t start, VpiPlayItem *item)
{
    item->media = vpi_live_media_ref(s->p[k].m);
    item->from = s->p[k].from;
    item->to = s->p[k].to;
    item->start = start;
}

static int src_first(void *opaque, int64_t tick, VpiPlayItem *item)
{
    Source *s = opaque;
    int k;
    int64_t start;
    piece_at(s, tick, &k, &start);
    fill(s, k, start, item);
    return 0;
}

static int src_next(void *opaque, int64_t prev_start, VpiPlayItem *item)
{
    Source *s = opaque;
    int k;
    int64_t start;
    piece_at(s, prev_start, &k, &start);
    start += piece_len(&s->p[k]);
    fill(s, (k + 1) % s->nb, start, item);
    return 0;
}

static void src_failed(void *opaque, VpiLiveMedia *m, const char *why)
{
    Source *s = opaque;
    pthread_mutex_lock(&s->lock);
    s->failed++;
    pthread_mutex_unlock(&s->lock);
    fprintf(stderr, "source told: %s failed: %s\n", m->source, why);
}

static void log_line(void *opaque, int level, const char *msg)
{
    (void)opaque;
    (void)level;
    fprintf(stderr, "log: %s\n", msg);
}

/* ---- capture ---------------------------------------------------------------------------- */

typedef struct Cap {
    uint8_t *data;
    size_t len, cap;
    int64_t *starts;          /* byte offset of each chunk */
    int *flags;
    int64_t *pts;
    int64_t *recv_tick;       /* wall tick when read */
    int nb, nb_cap;
} Cap;

static void cap_add(Cap *c, const VpChunk *ch, int64_t tick)
{
    if (c->len + ch->size > c->cap) {
        c->cap = (c->len + ch->size) * 2;
        c->data = realloc(c->data, c->cap);
    }
    if (c->nb == c->nb_cap) {
        c->nb_cap = c->nb_cap ? c->nb_cap * 2 : 256;
        c->starts = realloc(c->starts, (size_t)c->nb_cap * sizeof(*c->starts));
        c->flags = realloc(c->flags, (size_t)c->nb_cap * sizeof(*c->flags));
        c->pts = realloc(c->pts, (size_t)c->nb_cap * sizeof(*c->pts));
        c->recv_tick = realloc(c->recv_tick, (size_t)c->nb_cap * sizeof(*c->recv_tick));
    }
    c->starts[c->nb] = (int64_t)c->len;
    c->flags[c->nb] = ch->flags;
    c->pts[c->nb] = ch->pts;
    c->recv_tick[c->nb] = tick;
    c->nb++;
    memcpy(c->data + c->len, ch->data, ch->size);
    c->len += ch->size;
}

static void cap_free(Cap *c)
{
    free(c->data);
    free(c->starts);
    free(c->flags);
    free(c->pts);
    free(c->recv_tick);
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Run a producer over @p s and capture until the newest chunk is @p content seconds past
 * the first one (or @p wall_limit seconds pass). */
static void run_capture(Source *s, int64_t origin_us, double preroll, double content,
                        double wall_limit, int64_t reorder, Cap *cap)
{
    const VpiLiveFormat fmt = { 1, 320, 240, 25, 1, rate, 2 };
    VpiLiveOutOpts oo = { .ring_seconds = 30, .burst_behind = 2 };
    VpiLiveOut *out = NULL;
    VpViewer *v = NULL;
    VpiProducer *p = NULL;
    CHECK_EQ(vpi_liveout_new(&oo, &out), 0);
    CHECK_EQ(vpi_liveout_viewer_open(out, NULL, NULL, &v), 0);
    VpiProducerOpts po = {
        .format = &fmt, .origin_us = origin_us, .preroll = preroll, .lead = 0.3,
        .reorder = reorder, .out = out,
        .source = { src_first, src_next, src_failed, s },
        .logger = { log_line, NULL, VP_LOG_INFO },
    };
    CHECK_EQ(vpi_producer_start(&po, &p), 0);
    int64_t t0 = vpi_now_us();
    int done = 0;
    while (!done && vpi_now_us() - t0 < (int64_t)(wall_limit * 1e6)) {
        VpChunk *c = NULL;
        int ret;
        while ((ret = vpi_liveout_viewer_next(v, &c)) == 1) {
            cap_add(cap, c, vpi_us_to_ticks(wall_us() - origin_us));
            vp_chunk_unref(&c);
            if (cap->pts[cap->nb - 1] - cap->pts[0] >= (int64_t)(content * SEC))
                done = 1;
        }
        CHECK(ret >= 0);
        if (ret < 0)
            break;
        usleep(5000);
    }
    int64_t ts = vpi_now_us();
    vpi_producer_stop(&p);
    double stop_s = (vpi_now_us() - ts) / 1e6;
    fprintf(stderr, "vpi_producer_stop took %.1f ms\n", stop_s * 1000);
    CHECK(stop_s < 1.0);
    VpChunk *c = NULL;
    int ret;
    while ((ret = vpi_liveout_viewer_next(v, &c)) == 1) {
        cap_add(cap, c, vpi_us_to_ticks(wall_us() - origin_us));
        vp_chunk_unref(&c);
    }
    CHECK_EQ(ret, AVERROR_EOF);
    CHECK(vpi_liveout_bytes(out) > 0);
    vpi_liveout_viewer_close(&v);
    vpi_liveout_unref(&out);
}

/* ---- the TS walk ------------------------------------------------------------------------ */

static int pid_of(const uint8_t *p)
{
    return ((p[1] & 0x1f) << 8) | p[2];
}

/* Payload of a TS packet (NULL when none). */
static const uint8_t *payload(const uint8_t *p, int *len)
{
    int afc = (p[3] >> 4) & 3, off = 4;
    if (afc == 2 || afc == 0)
        return NULL;
    if (afc == 3)
        off += 1 + p[4];
    if (off >= 188)
        return NULL;
    *len = 188 - off;
    return p + off;
}

static int has_pcr(const uint8_t *p, int64_t *pcr)
{
    int afc = (p[3] >> 4) & 3;
    if (!(afc & 2) || p[4] < 7 || !(p[5] & 0x10))
        return 0;
    const uint8_t *q = p + 6;
    int64_t base = ((int64_t)q[0] << 25) | (q[1] << 17) | (q[2] << 9) | (q[3] << 1) | (q[4] >> 7);
    int ext = ((q[4] & 1) << 8) | q[5];
    *pcr = base * 300 + ext;
    return 1;
}

static void check_ts(const Cap *c)
{
    CHECK_EQ(c->len % 188, 0);
    int cc[8192];
    int64_t last_pcr = -1, last_pat = -1, max_pcr_gap = 0, max_pat_gap = 0;
    int cc_errors = 0, nb_pcr = 0, nb_pat = 0;
    memset(cc, -1, sizeof(cc));
    for (size_t off = 0; off + 188 <= c->len; off += 188) {
        const uint8_t *p = c->data + off;
        if (p[0] != 0x47) {
            T_FAIL("no sync byte at %zu", off);
            return;
        }
        int pid = pid_of(p), afc = (p[3] >> 4) & 3, k = p[3] & 15;
        if (pid != 0x1fff && (afc & 1)) {
            if (cc[pid] >= 0 && k != ((cc[pid] + 1) & 15))
                cc_errors++;
            cc[pid] = k;
        }
        int64_t pcr;
        if (has_pcr(p, &pcr)) {
            if (last_pcr >= 0) {
                if (pcr <= last_pcr)
                    T_FAIL("PCR goes back at byte %zu", off);
                max_pcr_gap = FFMAX(max_pcr_gap, pcr - last_pcr);
            }
            last_pcr = pcr;
            nb_pcr++;
        }
        if (pid == 0 && last_pcr >= 0) {
            if (last_pat >= 0)
                max_pat_gap = FFMAX(max_pat_gap, last_pcr - last_pat);
            last_pat = last_pcr;
            nb_pat++;
        }
    }
    fprintf(stderr, "TS: %zu packets, %d PCR (largest gap %.1f ms), %d PAT (largest gap %.1f "
            "ms by PCR), %d CC errors\n", c->len / 188, nb_pcr, max_pcr_gap / 27000.0, nb_pat,
            max_pat_gap / 27000.0, cc_errors);
    CHECK_EQ(cc_errors, 0);
    CHECK(nb_pcr > 100);
    CHECK_INT(max_pcr_gap, <=, 40 * 27000);
    CHECK_INT(max_pat_gap, <=, 100 * 27000);

    /* every KEY chunk: PAT, PMT, then the video PES of an IDR with SPS and PPS */
    int nb_key = 0;
    for (int i = 0; i < c->nb; i++) {
        if (!(c->flags[i] & VPI_CHUNK_KEY))
            continue;
        nb_key++;
        const uint8_t *p = c->data + c->starts[i];
        size_t end = (size_t)(i + 1 < c->nb ? c->starts[i + 1] : (int64_t)c->len);
        if (pid_of(p) != 0 || pid_of(p + 188) != 0x1000) {
            T_FAIL("KEY chunk %d starts with PIDs 0x%x, 0x%x", i, pid_of(p), pid_of(p + 188));
            continue;
        }
        /* the first video PES: gather its payload up to 4 packets */
        uint8_t pes[8 * 188];
        int n = 0, started = 0, pkts = 0;
        for (size_t off = (size_t)c->starts[i] + 376; off < end && pkts < 8; off += 188) {
            const uint8_t *q = c->data + off;
            int len;
            const uint8_t *pl;
            if (pid_of(q) != 0x100 || !(pl = payload(q, &len)))
                continue;
            if (q[1] & 0x40)
                started = 1;
            if (!started)
                continue;
            memcpy(pes + n, pl, (size_t)len);
            n += len;
            pkts++;
        }
        int types = 0;
        for (int j = 9; j + 4 < n; j++)
            if (pes[j] == 0 && pes[j + 1] == 0 && pes[j + 2] == 1)
                types |= 1 << (pes[j + 3] & 0x1f);
        if ((types & (1 << 7 | 1 << 8 | 1 << 5)) != (1 << 7 | 1 << 8 | 1 << 5))
            T_FAIL("KEY chunk %d: its video PES has NAL types 0x%x (no SPS+PPS+IDR)", i, types);
    }
    CHECK(nb_key >= 8);
}

/* ---- ffmpeg and ffprobe ----------------------------------------------------------------- */

typedef struct Pkt {
    int stream;
    int64_t pts, dts;
    int key;
} Pkt;

static int probe_packets(const char *path, Pkt **out)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "ffprobe -v error -show_entries packet=stream_index,pts,dts,"
             "flags -of csv=p=0 '%s'", path);
    FILE *f = popen(cmd, "r");
    int nb = 0, cap = 0;
    char line[256];
    *out = NULL;
    while (f && fgets(line, sizeof(line), f)) {
        Pkt k = { 0 };
        long long pts, dts;
        char flags[16] = "";
        if (sscanf(line, "%d,%lld,%lld,%15s", &k.stream, &pts, &dts, flags) < 3)
            continue;
        k.pts = pts;
        k.dts = dts;
        k.key = flags[0] == 'K';
        if (nb == cap) {
            cap = cap ? cap * 2 : 1024;
            *out = realloc(*out, (size_t)cap * sizeof(**out));
        }
        (*out)[nb++] = k;
    }
    if (f)
        pclose(f);
    return nb;
}

/* The output's audio decoded (mono); its first sample is the first packet's pts. */
static float *decode_audio(const char *path, size_t *nb)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "ffmpeg -v error -i '%s' -map 0:a -ac 1 -f f32le -", path);
    FILE *f = popen(cmd, "r");
    size_t cap = 1 << 20, n = 0;
    float *s = malloc(cap * sizeof(*s));
    size_t r;
    while (f && (r = fread(s + n, sizeof(float), cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            s = realloc(s, (cap *= 2) * sizeof(*s));
    }
    if (f)
        pclose(f);
    *nb = n;
    return s;
}

/* Where the 4 kHz beep (1/25 s long) that ends nearest after output sample @p at
 * started, in samples, or -1. Its end is measured, not its onset: a piece cut at a beep
 * plays its own beep's first milliseconds up to where the next piece starts, so the burst
 * heard there begins in the piece before and ends 40 ms into the next. Measured on the
 * first difference (which favours 4 kHz over the 0.5-1 kHz carriers by 4-8x: the
 * carrier's 1 ms blocks measure ~0.0003, the beep's ~0.008): the last sample within
 * 100 ms past @p whose difference passes a quarter of the loudest block. */
static int64_t beep_onset(const float *s, size_t nb, int64_t at)
{
    int ms = rate / 1000;
    int64_t lo = at - ms * 20, hi = at + ms * 100;
    if (lo < 1 || hi >= (int64_t)nb)
        return -1;
    double peak = 0;
    for (int64_t b = lo; b + ms <= hi; b += ms) {
        double sum = 0;
        for (int i = 0; i < ms; i++) {
            double d = s[b + i] - s[b + i - 1];
            sum += d * d;
        }
        peak = FFMAX(peak, sum / ms);
    }
    if (peak < 0.002)
        return -1;
    for (int64_t n = hi - 1; n > lo; n--) {
        double d = s[n] - s[n - 1];
        if (d * d > peak / 4)
            return n + 1 - rate / 25;
    }
    return -1;
}

/* ---- the tests -------------------------------------------------------------------------- */

static void test_stream(Source *s, const char *ts_path, int64_t reorder)
{
    Cap cap = { 0 };
    /* channel clock at 22 s now; 12 s of preroll: the 11.5 s captured come as a burst */
    int64_t origin = wall_us() - 22 * 1000000LL;
    run_capture(s, origin, 12, 11.5, 20, reorder, &cap);
    fprintf(stderr, "captured %d chunks, %zu bytes, %.2f s of stream\n", cap.nb, cap.len,
            cap.nb ? (cap.pts[cap.nb - 1] - cap.pts[0]) / (double)SEC : 0);
    for (int i = 0; i < cap.nb && getenv("VP_DEBUG"); i++)
        fprintf(stderr, "chunk %d: pts %.4f flags %d size %lld\n", i, cap.pts[i] / (double)SEC,
                cap.flags[i], (long long)((i + 1 < cap.nb ? cap.starts[i + 1] : (int64_t)cap.len)
                                          - cap.starts[i]));
    CHECK(cap.nb > 200);
    CHECK(cap.nb > 0 && (cap.flags[0] & VPI_CHUNK_KEY));
    FILE *f = fopen(ts_path, "wb");
    fwrite(cap.data, 1, cap.len, f);
    fclose(f);

    check_ts(&cap);

    /* chunk pts follow the schedule: DISCONT exactly where the parameter sets change */
    int discont = 0, expect_discont = 0;
    const VpiLiveMedia *prev_key_media = NULL;
    for (int i = 0; i < cap.nb; i++) {
        if (!(cap.flags[i] & VPI_CHUNK_KEY))
            continue;
        int k;
        int64_t start;
        piece_at(s, cap.pts[i] + 1000, &k, &start);   /* shifts are < 11 ms */
        const VpiLiveMedia *m = s->p[k].m;
        if (!strstr(m->play_path, "broken.")) {
            if (prev_key_media && (prev_key_media->param_sets_size != m->param_sets_size ||
                                   memcmp(prev_key_media->param_sets, m->param_sets,
                                          (size_t)m->param_sets_size)))
                expect_discont++;
            prev_key_media = m;
        }
        discont += !!(cap.flags[i] & VPI_CHUNK_DISCONT);
    }
    CHECK(expect_discont >= 2);
    CHECK_EQ(discont, expect_discont);

    /* FFmpeg decodes it without a word */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v warning -i '%s' -f null - 2>&1", ts_path);
    FILE *pf = popen(cmd, "r");
    char line[512];
    int warnings = 0;
    while (pf && fgets(line, sizeof(line), pf)) {
        fprintf(stderr, "ffmpeg: %s", line);
        warnings++;
    }
    if (pf)
        pclose(pf);
    CHECK_EQ(warnings, 0);

    /* ffprobe: DTS strictly increasing per stream, pts >= dts */
    Pkt *pk = NULL;
    int nb = probe_packets(ts_path, &pk);
    CHECK(nb > 500);
    int64_t last[2] = { INT64_MIN, INT64_MIN }, first_apts = -1;
    int back = 0, nb_a = 0, nb_v = 0;
    for (int i = 0; i < nb; i++) {
        int st = pk[i].stream & 1;
        if (pk[i].dts <= last[st] || pk[i].pts < pk[i].dts)
            back++;
        last[st] = pk[i].dts;
        if (st == 1 && first_apts < 0)
            first_apts = pk[i].pts;
        nb_a += st == 1;
        nb_v += st == 0;
    }
    CHECK_EQ(back, 0);
    CHECK(nb_v > 220);
    CHECK(nb_a > 400);

    /* the TS timestamps are the channel clock plus a constant: find it from the first
     * keyframe, which starts the first KEY chunk */
    int64_t ts_off = 0;
    for (int i = 0; i < nb; i++)
        if (pk[i].stream == 0 && pk[i].key) {
            ts_off = pk[i].pts - cap.pts[0];
            break;
        }

    /* A/V: at each keyframe of a piece with audio, the beep starts at its pts */
    size_t ns = 0;
    float *pcm = decode_audio(ts_path, &ns);
    CHECK(ns > (size_t)rate * 9);
    int measured = 0, expected = 0;
    double worst = 0;
    for (int i = 0; i < nb; i++) {
        if (pk[i].stream != 0 || !pk[i].key)
            continue;
        int k;
        int64_t start;
        piece_at(s, pk[i].pts - ts_off + 1000, &k, &start);
        int64_t pos = s->p[k].from + (pk[i].pts - ts_off - start);
        if (!piece_audible(&s->p[k], pos + SEC / 10))
            continue;
        int64_t at = av_rescale(pk[i].pts - first_apts, rate, SEC);
        if (at < rate / 10 || at + rate / 10 >= (int64_t)ns)
            continue;
        expected++;
        int64_t on = beep_onset(pcm, ns, at);
        if (on < 0) {
            T_FAIL("piece %d:", k);
            T_FAIL("no beep near the keyframe at %.3f s", pk[i].pts / (double)SEC);
            continue;
        }
        double ms = (on - at) * 1000.0 / rate;
        if (getenv("VP_DEBUG"))
            fprintf(stderr, "key at %.4f (piece %d): beep %+.2f ms\n",
                    (pk[i].pts - ts_off) / (double)SEC, k, ms);
        worst = FFMAX(worst, fabs(ms));
        measured++;
    }
    fprintf(stderr, "A/V: %d keyframes of pieces with audio, beep onset within %.2f ms of "
            "each\n", measured, worst);

    /* no dip at a boundary between two pieces with audio: 5 ms windows from 40 ms before
     * to 40 ms after, against the carriers' level (both 1/8 full scale: RMS 0.088) */
    int seams = 0;
    double deepest = 0;
    for (int i = 0; i < nb; i++) {
        if (pk[i].stream != 0 || !pk[i].key)
            continue;
        int k, kp;
        int64_t start, sp;
        int64_t t = pk[i].pts - ts_off;
        piece_at(s, t + 2000, &k, &start);
        if (llabs(t - start) > 2000)
            continue;                   /* not a piece's first key */
        piece_at(s, start - 1, &kp, &sp);
        if (!piece_audible(&s->p[k], s->p[k].from) ||
            !piece_audible(&s->p[kp], s->p[kp].to - SEC / 10))
            continue;
        int64_t at = av_rescale(pk[i].pts - first_apts, rate, SEC);
        if (at < rate / 10 || at + rate / 10 >= (int64_t)ns)
            continue;
        seams++;
        int win = rate / 200;
        for (int64_t w = at - rate / 25; w < at + rate / 25; w += win) {
            double sum = 0;
            for (int j = 0; j < win; j++)
                sum += (double)pcm[w + j] * pcm[w + j];
            double db = 10 * log10(sum / win / (0.088 * 0.088));
            deepest = FFMIN(deepest, db);
        }
    }
    fprintf(stderr, "seams: %d boundaries between pieces with audio, deepest 5 ms level %.1f dB\n",
            seams, deepest);

    /* a file whose audio ends before its video: silence from there to its end */
    int silent_checked = 0;
    for (int k = 0; k < s->nb; k++) {
        const Piece *pp = &s->p[k];
        if (!pp->audio_end)
            continue;
        int64_t t0 = cap.pts[0] - cap.pts[0] % s->period, st = t0;
        for (int j = 0; j < k; j++)
            st += piece_len(&s->p[j]);
        for (; st < cap.pts[cap.nb - 1]; st += s->period) {
            /* from 50 ms after its audio ends to 50 ms before the piece ends */
            int64_t a = st + (pp->audio_end - pp->from) + SEC / 20, b = st + piece_len(pp) - SEC / 20;
            if (a < cap.pts[0] || b <= a)
                continue;
            int64_t n0 = av_rescale(a + ts_off - first_apts, rate, SEC);
            int64_t n1 = av_rescale(b + ts_off - first_apts, rate, SEC);
            if (n0 < 0 || n1 > (int64_t)ns)
                continue;
            double sum = 0;
            for (int64_t n = n0; n < n1; n++)
                sum += (double)pcm[n] * pcm[n];
            double db = 10 * log10(sum / (double)(n1 - n0) + 1e-20);
            fprintf(stderr, "after %s's audio (%.2f s): %.1f dB full scale\n", pp->m->source,
                    (b - a) / (double)SEC, db);
            CHECK(db < -60);
            silent_checked++;
        }
    }
    CHECK(silent_checked >= (s->p[5].audio_end ? 1 : 0));
    CHECK(seams >= 2);
    CHECK(deepest > -3);
    CHECK(expected >= 5);
    CHECK_EQ(measured, expected);
    CHECK_INT((int)(worst * 100), <=, 500);

    free(pcm);
    free(pk);
    cap_free(&cap);
}

static void test_pacing(Source *s, int64_t reorder)
{
    Cap cap = { 0 };
    int64_t origin = wall_us() - 5 * 1000000LL;
    int64_t t0 = vpi_now_us();
    /* VP_LIVE_PACING_SECONDS=600 measures ten minutes (docs/channels.md) */
    const char *env = getenv("VP_LIVE_PACING_SECONDS");
    double secs = env ? atof(env) : 3.0;
    run_capture(s, origin, 0, 1e9, secs, reorder, &cap);
    double wall = (vpi_now_us() - t0) / 1e6;
    CHECK(cap.nb > 50);
    /* after the first half second, every chunk arrives within 100 ms of its time plus the
     * lead (pts of a B-frame stream run up to the reorder delay ahead of decode time) */
    double worst_early = -1, worst_late = -1;
    for (int i = 0; i < cap.nb; i++) {
        /* keyframes: their pts is their dts plus the output's reorder delay exactly */
        if (cap.recv_tick[i] - cap.recv_tick[0] < SEC / 2 || !(cap.flags[i] & VPI_CHUNK_KEY))
            continue;
        double ahead = (cap.pts[i] - cap.recv_tick[i]) / (double)SEC;
        worst_early = FFMAX(worst_early, ahead - 0.3 - reorder / (double)SEC);
        worst_late = FFMAX(worst_late, 0.3 - ahead);
    }
    double content = (cap.pts[cap.nb - 1] - cap.pts[0]) / (double)SEC;
    for (int i = cap.nb - 1; i >= 0; i--)
        if (cap.flags[i] & VPI_CHUNK_KEY) {
            fprintf(stderr, "pacing: the last keyframe (%.1f s into the run) arrived %.1f ms "
                    "ahead of the wall clock (lead 300 ms + reorder %.0f ms)\n",
                    (cap.recv_tick[i] - cap.recv_tick[0]) / (double)SEC,
                    (cap.pts[i] - cap.recv_tick[i]) / 90.0, reorder / 90.0);
            break;
        }
    fprintf(stderr, "pacing: %.2f s of stream in %.2f s; keyframes arrived between %.0f ms "
            "late and %.0f ms early against the wall clock plus the lead\n", content, wall,
            worst_late * 1000, worst_early * 1000);
    CHECK(worst_early > -1);
    CHECK(worst_early <= 0.1);
    CHECK(worst_late <= 0.1);
    CHECK(content >= wall - 0.3 && content <= wall + 0.5);
    cap_free(&cap);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/vp_live_producer_XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        TEST_SKIP("mkdtemp");
    char cmd[4096], a[300], b[300], c[300], d[300], out[300];
    snprintf(a, sizeof(a), "%s/a.mp4", dir);
    snprintf(b, sizeof(b), "%s/b.mp4", dir);
    snprintf(c, sizeof(c), "%s/c.mp4", dir);
    snprintf(d, sizeof(d), "%s/broken.mp4", dir);
    snprintf(out, sizeof(out), "%s/out.ts", dir);
    /* a: x264 with B-frames; b: baseline (other SPS/PPS, no B-frames), another carrier;
     * c: no audio. Beeps (4 kHz) at every whole second, keyframes every second. a44, b44:
     * a and b at 44.1 kHz (a channel whose AAC frames last a non-whole number of ticks). */
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && for r in 48000 44100; do "
             "ffmpeg -v error -f lavfi -i testsrc=s=320x240:r=25:d=4 -f lavfi "
             "-i sine=f=1000:beep_factor=4:r=$r:d=4 -ac 2 -c:v libx264 -g 25 "
             "-keyint_min 25 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 128k a$r.mp4 && "
             "ffmpeg -v error -f lavfi -i testsrc2=s=320x240:r=25:d=3 -f lavfi "
             "-i sine=f=500:beep_factor=8:r=$r:d=3 -ac 2 -c:v libx264 -profile:v baseline "
             "-g 25 -keyint_min 25 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 96k b$r.mp4 "
             "|| exit 1; done && mv a48000.mp4 a.mp4 && mv b48000.mp4 b.mp4 && "
             "ffmpeg -v error -f lavfi -i smptebars=s=320x240:r=25:d=2 -c:v libx264 -g 25 "
             "-keyint_min 25 -sc_threshold 0 -pix_fmt yuv420p c.mp4 && "
             "head -c 30000 a.mp4 > broken.mp4 && "
             "ffmpeg -v error -f lavfi -i testsrc=s=320x240:r=25:d=3 -f lavfi "
             "-i sine=f=1000:beep_factor=4:r=48000:d=2 -ac 2 -c:v libx264 -g 25 "
             "-keyint_min 25 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 128k f.mp4", dir);
    if (t_sh(cmd) != 0)
        TEST_SKIP("ffmpeg with libx264 and aac could not make the test media");

    VpiLiveMedia *ma = make_media(a, a), *mb = make_media(b, b), *mc = make_media(c, c);
    VpiLiveMedia *md = make_media(a, d);   /* ingest saw it fine; playout cannot read it */
    free(md->source);
    md->source = strdup(d);
    CHECK(ma->reorder > 0);
    CHECK_EQ(mb->reorder, 0);
    CHECK(!mc->has_audio);
    CHECK(ma->param_sets_size != mb->param_sets_size ||
          memcmp(ma->param_sets, mb->param_sets, (size_t)ma->param_sets_size));

    /* e: c with video sample 30's NAL length made impossible: playout finds it at 1.2 s */
    char e[300];
    snprintf(e, sizeof(e), "%s/broken_mid.mp4", dir);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", c, e);
    CHECK_EQ(t_sh(cmd), 0);
    {
        int fd = open(e, O_RDWR);
        VpiMp4File *f = NULL;
        char why[256];
        CHECK(fd >= 0 && vpi_mp4_index(fd, &f, why, sizeof(why)) == 0);
        static const uint8_t bad[4] = { 0x7f, 0xff, 0xff, 0xff };
        CHECK_EQ(pwrite(fd, bad, 4, f->video.samples[30].pos), 4);
        vpi_mp4_index_free(&f);
        close(fd);
    }
    VpiLiveMedia *me = make_media(e, e);

    Source s = { .nb = 6 };
    pthread_mutex_init(&s.lock, NULL);
    /* a's first half (cut at the key at 2 s), b, a's second half, the file that breaks at
     * 1.2 s, the unreadable file, f (audio 1 s shorter than its video): a 13 s cycle; the
     * stream test plays 11.5 s from 10 s (f, a, b, a's second half, the break) */
    s.p[0] = (Piece){ ma, 0, 2 * SEC, 0 };
    s.p[1] = (Piece){ mb, 0, mb->duration, 0 };
    s.p[2] = (Piece){ ma, 2 * SEC, ma->duration, 0 };
    s.p[3] = (Piece){ me, 0, me->duration, 0 };
    s.p[4] = (Piece){ md, 0, SEC, 0 };
    char fpath[300];
    snprintf(fpath, sizeof(fpath), "%s/f.mp4", dir);
    VpiLiveMedia *mf = make_media(fpath, fpath);     /* 3 s of video, 2 s of audio */
    s.p[5] = (Piece){ mf, 0, mf->duration, 2 * SEC };
    (void)mc;
    for (int i = 0; i < s.nb; i++)
        s.period += piece_len(&s.p[i]);
    int64_t reorder = FFMAX(ma->reorder, mb->reorder);

    test_stream(&s, out, reorder);
    CHECK_EQ(s.failed, 2);
    test_pacing(&s, reorder);

    /* the same cycle on a 44.1 kHz channel */
    char a44[300], b44[300];
    snprintf(a44, sizeof(a44), "%s/a44100.mp4", dir);
    snprintf(b44, sizeof(b44), "%s/b44100.mp4", dir);
    VpiLiveMedia *ma44 = make_media(a44, a44), *mb44 = make_media(b44, b44);
    Source s44 = s;
    s44.failed = 0;
    pthread_mutex_init(&s44.lock, NULL);
    s44.p[0].m = s44.p[2].m = ma44;
    s44.p[1].m = mb44;
    s44.p[5] = (Piece){ mb44, SEC, mb44->duration, 0 };
    s44.period = 0;
    for (int i = 0; i < s44.nb; i++)
        s44.period += piece_len(&s44.p[i]);
    rate = 44100;
    fprintf(stderr, "-- 44.1 kHz --\n");
    test_stream(&s44, out, reorder);
    CHECK_EQ(s44.failed, 2);
    vpi_live_media_unref(&ma44);
    vpi_live_media_unref(&mb44);
    pthread_mutex_destroy(&s44.lock);

    vpi_live_media_unref(&ma);
    vpi_live_media_unref(&mb);
    vpi_live_media_unref(&mc);
    vpi_live_media_unref(&md);
    vpi_live_media_unref(&me);
    vpi_live_media_unref(&mf);
    pthread_mutex_destroy(&s.lock);
    if (!getenv("VP_KEEP"))
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir), t_sh(cmd);
    else
        fprintf(stderr, "kept %s\n", dir);
    TEST_END();
}
