/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The live HLS window (src/live/live_hls.c) fed with synthetic chunks: the segmenter never
 * parses TS, so each fake chunk carries its own index and every segment served is checked
 * to be the exact run of chunks it should hold. Playlists are compared as text for small
 * cases, and thousands of snapshots go through tests/live/hls_playlist_check.py. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "test.h"
#include "live/live.h"

#define S(sec) ((int64_t)((sec) * VPI_TICKS + 0.5))
#define ORIGIN_2026 (INT64_C(1767225600) * 1000000)   /* 2026-01-01T00:00:00Z */

/* ---- fake chunks: [0x47][index: 8 bytes LE][index & 0xff ...], 188 * (1 + index % 3) ---- */

static size_t chunk_size(int64_t idx)
{
    return 188 * (size_t)(1 + idx % 3);
}

static void feed(VpiHls *h, int64_t idx, int flags, int64_t pts)
{
    VpChunk *c = vpi_chunk_new(chunk_size(idx));
    if (!c)
        abort();
    c->flags = flags;
    c->pts = pts;
    memset(c->data, (int)(idx & 0xff), c->size);
    c->data[0] = 0x47;
    for (int i = 0; i < 8; i++)
        c->data[1 + i] = (uint8_t)((uint64_t)idx >> (8 * i));
    vpi_hls_add(h, c);
    vp_chunk_unref(&c);      /* as the ring does when the chunk leaves it */
}

static int64_t chunk_index(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[1 + i] << (8 * i);
    return (int64_t)v;
}

/* Walk a segment's bytes: consecutive whole chunks. Returns the first chunk's index and
 * the count in *n, or -1 when the bytes are not such a run. */
static int64_t segment_chunks(const VpChunk *seg, int *n)
{
    size_t off = 0;
    int64_t first = -1, expect = -1;
    *n = 0;
    while (off < seg->size) {
        int64_t idx;
        size_t sz;
        if (seg->size - off < 9 || seg->data[off] != 0x47)
            return -1;
        idx = chunk_index(seg->data + off);
        sz = chunk_size(idx);
        if ((expect >= 0 && idx != expect) || sz > seg->size - off ||
            seg->data[off + sz - 1] != (uint8_t)(idx & 0xff))
            return -1;
        if (first < 0)
            first = idx;
        expect = idx + 1;
        off += sz;
        (*n)++;
    }
    return first;
}

static VpiHls *hls_open(double target, int window, int keep, const VpLogger *lg)
{
    VpiHlsOpts o = {.origin_us = ORIGIN_2026, .target = target, .window = window,
                    .keep = keep};
    VpiHls *h = NULL;
    if (lg)
        o.logger = *lg;
    if (vpi_hls_new(&o, &h) < 0 || !h) {
        fprintf(stderr, "vpi_hls_new failed\n");
        exit(1);
    }
    return h;
}

static char *playlist(VpiHls *h, int *ret)
{
    char *t = NULL;
    *ret = vpi_hls_playlist(h, "seg/", &t);
    return t;
}

/* ---- a small case, text compared exactly ---- */

#define HEAD(msn, dsn)                                                               \
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:" #msn \
    "\n#EXT-X-DISCONTINUITY-SEQUENCE:" #dsn "\n#EXT-X-INDEPENDENT-SEGMENTS\n"
#define SEG(date, dur, n) \
    "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T" date "Z\n#EXTINF:" dur ",\nseg/" #n ".ts\n"

/* 2-second GOPs of two chunks (key, then one more a second later); keys at @p from_s,
 * from_s + 2, ... up to and including @p to_s; the first key flagged @p first_flags. */
static int64_t feed_gops(VpiHls *h, int64_t idx, int from_s, int to_s, int first_flags)
{
    for (int t = from_s; t <= to_s; t += 2) {
        feed(h, idx++, VPI_CHUNK_KEY | (t == from_s ? first_flags : 0), S(t));
        if (t < to_s)
            feed(h, idx++, 0, S(t + 1));
    }
    return idx;
}

static void test_exact(void)
{
    VpiHls *h = hls_open(6, 3, 1, NULL);
    char *t;
    int ret;
    int64_t idx = 0;

    /* two complete segments ([0,6) and [6,12)), the third still open */
    idx = feed_gops(h, idx, 0, 16, 0);
    feed(h, idx++, 0, S(17));
    t = playlist(h, &ret);
    CHECK_EQ(ret, AVERROR(EAGAIN));
    CHECK(!t);
    /* the key at 18 s completes [12,18) */
    idx = feed_gops(h, idx, 18, 18, 0);
    t = playlist(h, &ret);
    CHECK_EQ(ret, 0);
    CHECK_STR(t, HEAD(0, 0) SEG("00:00:00.000", "6.000", 0) SEG("00:00:06.000", "6.000", 1)
                 SEG("00:00:12.000", "6.000", 2));
    free(t);

    /* new parameter sets at 20 s: [18,20) closes short, [20,26) starts a discontinuity.
     * Three target durations must stay listed (RFC 8216 6.2.2), so the window holds four. */
    feed(h, idx++, 0, S(19));
    idx = feed_gops(h, idx, 20, 26, VPI_CHUNK_DISCONT);
    t = playlist(h, &ret);
    CHECK_EQ(ret, 0);
    CHECK_STR(t, HEAD(1, 0) SEG("00:00:06.000", "6.000", 1) SEG("00:00:12.000", "6.000", 2)
                 SEG("00:00:18.000", "2.000", 3) "#EXT-X-DISCONTINUITY\n"
                 SEG("00:00:20.000", "6.000", 4));
    free(t);

    /* the discontinuity's segment first in the window: its tag stays, the count does not
     * move until it has left */
    feed(h, idx++, 0, S(27));
    idx = feed_gops(h, idx, 28, 38, 0);
    t = playlist(h, &ret);
    CHECK_STR(t, HEAD(4, 0) "#EXT-X-DISCONTINUITY\n" SEG("00:00:20.000", "6.000", 4)
                 SEG("00:00:26.000", "6.000", 5) SEG("00:00:32.000", "6.000", 6));
    free(t);
    feed(h, idx++, 0, S(39));
    idx = feed_gops(h, idx, 40, 44, 0);
    t = playlist(h, &ret);
    CHECK_STR(t, HEAD(5, 1) SEG("00:00:26.000", "6.000", 5) SEG("00:00:32.000", "6.000", 6)
                 SEG("00:00:38.000", "6.000", 7));
    free(t);

    /* segments served: each the exact run of chunks it covers, flagged and dated; those
     * that left are still served (RFC 8216 6.2.2: for their duration plus that of the
     * longest playlist that listed them) */
    for (int64_t seq = 0; seq < 8; seq++) {
        VpChunk *seg = NULL;
        int n;
        ret = vpi_hls_segment(h, seq, &seg);
        CHECK_EQ(ret, 0);
        if (!seg)
            continue;
        CHECK_EQ(seg->seq, seq);
        CHECK_EQ(seg->flags, VPI_CHUNK_KEY | (seq == 4 ? VPI_CHUNK_DISCONT : 0));
        CHECK_EQ(seg->pts, seq <= 3 ? S(seq * 6) : S(20 + (seq - 4) * 6));
        /* 6 s = 6 chunks, [18,20) = 2 chunks; chunk i is at i seconds */
        CHECK_EQ(segment_chunks(seg, &n), seg->pts / VPI_TICKS);
        CHECK_EQ(n, seq == 3 ? 2 : 6);
        vp_chunk_unref(&seg);
    }
    /* segment 0 left at 26 s; the longest playlist that listed it lasted 20 s (0..3): it
     * is served until 26 + 6 + 20 = 52 s */
    feed(h, idx++, 0, S(45));
    idx = feed_gops(h, idx, 46, 50, 0);
    {
        VpChunk *seg = NULL;
        CHECK_EQ(vpi_hls_segment(h, 0, &seg), 0);
        vp_chunk_unref(&seg);
        feed(h, idx++, 0, S(51));
        idx = feed_gops(h, idx, 52, 56, 0);
        CHECK_EQ(vpi_hls_segment(h, 0, &seg), AVERROR(ENOENT));
        CHECK(!seg);
        /* segment 1: left at 32 s, longest playlist 20 s: until 58 s */
        CHECK_EQ(vpi_hls_segment(h, 1, &seg), 0);
        vp_chunk_unref(&seg);
    }
    /* still open, before the first, and far ahead */
    CHECK_EQ(vpi_hls_segment(h, 10, &(VpChunk *){NULL}), AVERROR(ENOENT));
    CHECK_EQ(vpi_hls_segment(h, -1, &(VpChunk *){NULL}), AVERROR(ENOENT));
    CHECK_EQ(vpi_hls_segment(h, INT64_MAX, &(VpChunk *){NULL}), AVERROR(ENOENT));
    vpi_hls_free(&h);
    CHECK(!h);
}

/* ---- cutting: NTSC GOPs, a GOP longer than target, unknown GOP lengths ---- */

typedef struct LogCount {
    int warnings, errors;
    char last[512];
} LogCount;

static void log_count(void *opaque, int level, const char *msg)
{
    LogCount *lc = opaque;
    if (level <= VP_LOG_ERROR)
        lc->errors++;
    else if (level <= VP_LOG_WARNING)
        lc->warnings++;
    snprintf(lc->last, sizeof(lc->last), "%s", msg);
}

/* Durations (ms) of the listed segments, parsed back from the playlist. */
static int listed_durations(VpiHls *h, int *ms, int max)
{
    int ret, n = 0;
    char *t = playlist(h, &ret), *p = t;
    while (p && (p = strstr(p, "#EXTINF:")) && n < max) {
        int s, f;
        if (sscanf(p, "#EXTINF:%d.%d,", &s, &f) == 2)
            ms[n++] = s * 1000 + f;
        p++;
    }
    free(t);
    return n;
}

static void test_cutting(void)
{
    int ms[64], n;
    int64_t idx = 0;
    LogCount lc = {0};
    VpLogger lg = {.fn = log_count, .opaque = &lc, .level = VP_LOG_DEBUG};

    /* 60-frame GOPs at 29.97 fps last 2.002 s: three still make one 6 s segment */
    {
        VpiHls *h = hls_open(6, 20, 0, &lg);
        for (int k = 0; k <= 30; k++)
            feed(h, idx++, VPI_CHUNK_KEY, (int64_t)k * 60 * 3003);
        n = listed_durations(h, ms, 64);
        CHECK_EQ(n, 10);
        for (int i = 0; i < n; i++)
            CHECK_EQ(ms[i], 6006);
        vpi_hls_free(&h);
    }
    /* GOPs of 1.5 s: four (6.0 s) fit */
    {
        VpiHls *h = hls_open(6, 20, 0, &lg);
        for (int k = 0; k <= 40; k++)
            feed(h, idx++, VPI_CHUNK_KEY, S(1.5 * k));
        n = listed_durations(h, ms, 64);
        CHECK_EQ(n, 10);
        for (int i = 0; i < n; i++)
            CHECK_EQ(ms[i], 6000);
        vpi_hls_free(&h);
    }
    CHECK_EQ(lc.warnings + lc.errors, 0);

    /* a 5 s GOP under a 4 s target is one segment, logged once; the others stay within */
    {
        static const double keys[] = {0, 1, 2, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22};
        static const int want[] = {2000, 5000, 4000, 5000, 4000};
        VpiHls *h = hls_open(4, 20, 0, &lg);
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            feed(h, idx++, VPI_CHUNK_KEY, S(keys[k]));
        n = listed_durations(h, ms, 64);
        CHECK_EQ(n, 5);
        for (int i = 0; i < n && i < 5; i++)
            CHECK_EQ(ms[i], want[i]);
        CHECK_EQ(lc.warnings, 1);
        CHECK(strstr(lc.last, "the GOP at 2.000 s lasts 5.000 s, longer than the 4 s target"));
        vpi_hls_free(&h);
    }

    /* after 1 s GOPs, a 3 s one the cut could not foresee: the segment ends one key
     * earlier, found when the overflowing key arrives, and stays within target */
    {
        static const double keys[] = {0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12};
        VpiHls *h = hls_open(5, 20, 0, &lg);
        lc.warnings = 0;
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            feed(h, idx++, VPI_CHUNK_KEY, S(keys[k]));
        /* [0,3) closed at 6, [3,8) at 8 (a 1 s GOP no longer fits), [8,13) open */
        n = listed_durations(h, ms, 64);
        CHECK_EQ(n, 0);          /* only two complete: EAGAIN */
        feed(h, idx++, VPI_CHUNK_KEY, S(13));
        n = listed_durations(h, ms, 64);
        CHECK_EQ(n, 3);
        for (int i = 0; i < n && i < 3; i++)
            CHECK_EQ(ms[i], i ? 5000 : 3000);
        CHECK_EQ(lc.warnings, 0);
        vpi_hls_free(&h);
    }

    /* a key whose clock goes back (a producer fault) is dated as the previous key */
    {
        VpiHls *h = hls_open(2, 20, 0, &lg);
        lc.errors = 0;
        feed(h, idx++, VPI_CHUNK_KEY, S(0));
        feed(h, idx++, VPI_CHUNK_KEY, S(2));
        feed(h, idx++, VPI_CHUNK_KEY, S(1));
        feed(h, idx++, VPI_CHUNK_KEY, S(3));
        feed(h, idx++, VPI_CHUNK_KEY, S(5));
        feed(h, idx++, VPI_CHUNK_KEY, S(7));
        n = listed_durations(h, ms, 64);
        CHECK_EQ(n, 3);
        if (n == 3) {
            CHECK_EQ(ms[0], 2000);
            CHECK_EQ(ms[1] + ms[2], 3000);
        }
        CHECK_EQ(lc.errors, 1);
        vpi_hls_free(&h);
    }

    /* chunks before the first key belong to no segment */
    {
        VpiHls *h = hls_open(2, 20, 0, NULL);
        VpChunk *seg = NULL;
        int nc;
        feed(h, 100, 0, S(0));
        feed(h, 101, 0, S(0.5));
        for (int k = 0; k <= 3; k++)
            feed(h, 102 + k, VPI_CHUNK_KEY, S(1 + 2 * k));
        CHECK_EQ(vpi_hls_segment(h, 0, &seg), 0);
        if (seg)
            CHECK_EQ(segment_chunks(seg, &nc), 102);
        vp_chunk_unref(&seg);
        vpi_hls_free(&h);
    }
}

/* ---- references ---- */

static void test_refs(void)
{
    VpiHls *h = hls_open(2, 3, 1, NULL);
    VpChunk *mine = vpi_chunk_new(188), *seg = NULL;
    int n;

    mine->flags = VPI_CHUNK_KEY;
    mine->pts = 0;
    memset(mine->data, 0, 188);
    mine->data[0] = 0x47;
    vpi_hls_add(h, mine);
    CHECK_EQ(mine->refs, 2);                 /* the open segment holds it */
    for (int k = 1; k <= 4; k++)
        feed(h, k, VPI_CHUNK_KEY, S(2 * k));
    CHECK_EQ(mine->refs, 1);                 /* copied into its segment, released */
    vp_chunk_unref(&mine);

    CHECK_EQ(vpi_hls_segment(h, 1, &seg), 0);
    CHECK(seg && seg->refs == 2);
    /* segment 1 leaves the window and is freed by the window; our reference survives */
    for (int k = 5; k <= 40; k++)
        feed(h, k, VPI_CHUNK_KEY, S(2 * k));
    CHECK_EQ(vpi_hls_segment(h, 1, &(VpChunk *){NULL}), AVERROR(ENOENT));
    CHECK(seg && seg->refs == 1);
    if (seg)
        CHECK_EQ(segment_chunks(seg, &n), 1);
    vp_chunk_unref(&seg);
    vpi_hls_free(&h);

    /* freeing with an open segment and held segments */
    h = hls_open(6, 6, 4, NULL);
    for (int k = 0; k < 50; k++)
        feed(h, k, k % 4 ? 0 : VPI_CHUNK_KEY, S(0.5 * k));
    CHECK_EQ(vpi_hls_segment(h, 0, &seg), 0);
    vpi_hls_free(&h);
    CHECK(seg && seg->refs == 1);
    vp_chunk_unref(&seg);

    {
        VpiHlsOpts bad = {.target = -1};
        CHECK_EQ(vpi_hls_new(&bad, &h), AVERROR(EINVAL));
        bad = (VpiHlsOpts){.target = 6, .window = -2};
        CHECK_EQ(vpi_hls_new(&bad, &h), AVERROR(EINVAL));
        bad = (VpiHlsOpts){.target = 6, .keep = -1};
        CHECK_EQ(vpi_hls_new(&bad, &h), AVERROR(EINVAL));
        CHECK(!h);
    }
}

/* ---- many snapshots through the validator ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* A channel-like stream: GOPs of 0.5 to 3 s, 3 to 12 chunks each, parameter
 * changes now and then. Writes a snapshot each time the playlist changes, checks every
 * listed segment's bytes, and runs the validator on the lot.
 * @p hostile: a faulty producer as well: keys whose clock goes back up to 3 s or repeats,
 * DISCONT flags on chunks that are no key, empty chunks. The window must still write
 * playlists that pass. */
static void test_validator_run(int hostile)
{
    const char *src = getenv("VP_SRCDIR");
    char dir[] = "/tmp/vp-hls-snapXXXXXX", cmd[2048];
    VpiHls *h = hls_open(6, 5, 3, NULL);
    char *prev = NULL;
    int64_t idx = 0, pts = 0;
    int snaps = 0, bad_segs = 0, segs_checked = 0;

    if (!mkdtemp(dir)) {
        T_FAIL("mkdtemp: %s", strerror(errno));
        return;
    }
    for (int gop = 0; gop < 1500; gop++) {
        int64_t len = S(0.5) + (int64_t)(rnd() % (uint32_t)S(2.5));
        int nch = 3 + (int)(rnd() % 10), ret;
        int flags = VPI_CHUNK_KEY | (gop && rnd() % 40 == 0 ? VPI_CHUNK_DISCONT : 0);
        char *t;
        if (hostile && rnd() % 8 == 0)
            len = rnd() % 2 ? 0 : -(int64_t)(rnd() % (uint32_t)S(3));
        for (int c = 0; c < nch; c++) {
            int f = c ? 0 : flags;
            if (hostile && c && rnd() % 20 == 0)
                f = VPI_CHUNK_DISCONT;
            feed(h, idx++, f, pts + (len > 0 ? len * c / nch : 0));
            if (hostile && rnd() % 10 == 0) {
                VpChunk *e = vpi_chunk_new(0);
                e->pts = pts;
                vpi_hls_add(h, e);
                vp_chunk_unref(&e);
            }
        }
        pts += len;
        t = playlist(h, &ret);
        if (ret < 0) {
            CHECK_EQ(ret, AVERROR(EAGAIN));
            continue;
        }
        if (prev && !strcmp(prev, t)) {
            free(t);
            continue;
        }
        free(prev);
        prev = t;
        {
            char path[512];
            FILE *f;
            snprintf(path, sizeof(path), "%s/snap-%06d.m3u8", dir, snaps++);
            f = fopen(path, "w");
            if (!f || fputs(t, f) < 0 || fclose(f)) {
                T_FAIL("%s: cannot write", path);
                break;
            }
        }
        /* every listed segment is served and is a whole run of chunks from a key */
        for (const char *p = t; (p = strstr(p, "seg/")); p++) {
            int64_t seq = strtoll(p + 4, NULL, 10);
            VpChunk *seg = NULL;
            int n;
            if (vpi_hls_segment(h, seq, &seg) < 0 || segment_chunks(seg, &n) < 0 ||
                !(seg->flags & VPI_CHUNK_KEY))
                bad_segs++;
            segs_checked++;
            vp_chunk_unref(&seg);
        }
    }
    free(prev);
    vpi_hls_free(&h);
    CHECK_EQ(bad_segs, 0);
    CHECK_INT(snaps, >, 300);
    fprintf(stderr, "%d snapshots, %d segment fetches\n", snaps, segs_checked);

    if (!src) {
        T_FAIL("VP_SRCDIR is not set: cannot find tests/live/hls_playlist_check.py");
    } else {
        snprintf(cmd, sizeof(cmd), "python3 '%s/tests/live/hls_playlist_check.py' "
                 "--require-pdt --uri-format 'seg/{seq}.ts' '%s'", src, dir);
        CHECK_EQ(t_sh(cmd), 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    t_sh(cmd);
}

/* ---- the producer thread against readers ---- */

typedef struct Shared {
    VpiHls *h;
    int done;                /* atomic */
    int errors;              /* atomic */
    int64_t fetched;         /* atomic */
} Shared;

static void *producer(void *arg)
{
    Shared *s = arg;
    int64_t idx = 0, pts = 0;
    for (int gop = 0; gop < 4000; gop++) {
        int nch = 2 + gop % 5;
        for (int c = 0; c < nch; c++)
            feed(s->h, idx++, c ? 0 : VPI_CHUNK_KEY | (gop % 97 == 50 ? VPI_CHUNK_DISCONT : 0),
                 pts + S(0.25) * c);
        pts += S(0.25) * nch;
        if (gop % 50 == 0)   /* a real producer paces itself: let the readers in */
            nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    /* on a loaded machine the readers may not have run yet: give them up to 10 s */
    for (int i = 0; i < 10000 && !__atomic_load_n(&s->fetched, __ATOMIC_RELAXED); i++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *reader(void *arg)
{
    Shared *s = arg;
    int64_t last_msn = -1;
    while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
        char *t = NULL;
        const char *p;
        int ret = vpi_hls_playlist(s->h, "seg/", &t);
        if (ret == AVERROR(EAGAIN))
            continue;
        if (ret < 0 || !(p = strstr(t, "#EXT-X-MEDIA-SEQUENCE:"))) {
            __atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
            free(t);
            break;
        }
        {
            int64_t msn = strtoll(p + 22, NULL, 10);
            if (msn < last_msn)
                __atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
            last_msn = msn;
        }
        for (p = t; (p = strstr(p, "seg/")); p++) {
            VpChunk *seg = NULL;
            int n;
            /* a listed segment may have been freed since (keep + time), but while it is
             * held it must be whole */
            if (vpi_hls_segment(s->h, strtoll(p + 4, NULL, 10), &seg) == 0) {
                if (segment_chunks(seg, &n) < 0)
                    __atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
                __atomic_add_fetch(&s->fetched, 1, __ATOMIC_RELAXED);
                vp_chunk_unref(&seg);
            }
        }
        free(t);
    }
    return NULL;
}

static void test_threads(void)
{
    Shared s = {.h = hls_open(2, 4, 2, NULL)};
    pthread_t prod, rd[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&rd[i], NULL, reader, &s);
    pthread_create(&prod, NULL, producer, &s);
    pthread_join(prod, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(rd[i], NULL);
    CHECK_EQ(s.errors, 0);
    CHECK_INT(s.fetched, >, 0);
    fprintf(stderr, "threads: %" PRId64 " segments fetched concurrently\n", s.fetched);
    vpi_hls_free(&s.h);
}

/* ---- --feed: the window over real MPEG-TS, for a player (tests/live/hls_js_play.py) ----
 *
 * test_live_hls --feed OUTDIR SECONDS FILE...: each FILE is one 1-second GOP of MPEG-TS
 * starting with PAT, PMT and an IDR (FFmpeg's HLS segments of a 1 s keyint); a name starting
 * with '+' starts new parameter sets (a DISCONT key). The files are played in a loop as a
 * channel would: 8 s as a burst (the producer's preroll), then in real time, cut into 1316-byte
 * chunks through the window; the live playlist (OUTDIR/live.m3u8, also kept as
 * OUTDIR/snaps/NNNNNN.m3u8) and the segments (OUTDIR/seg/N.ts) are written as they change. */

static int write_file(const char *dir, const char *name, const void *data, size_t size)
{
    char tmp[1024], path[1024];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, strrchr(name, '/') ? strrchr(name, '/') + 1
                                                                       : name);
    f = fopen(tmp, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) || rename(tmp, path)) {
        fprintf(stderr, "%s: cannot write: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int feed_mode(int argc, char **argv)
{
    const char *out;
    double seconds;
    int nb, ret = 1;
    struct { uint8_t *data; size_t size; int discont; } *items;
    VpiHls *h;
    VpiHlsOpts o = {.target = 2, .window = 5, .keep = 2};
    struct timespec t0;
    char *prev = NULL, path[1024];
    int64_t written = 0;
    int snaps = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: test_live_hls --feed OUTDIR SECONDS FILE...\n");
        return 2;
    }
    out = argv[0];
    seconds = atof(argv[1]);
    nb = argc - 2;
    items = calloc(nb, sizeof(*items));
    for (int i = 0; i < nb; i++) {
        const char *name = argv[2 + i];
        FILE *f;
        long sz;
        items[i].discont = name[0] == '+';
        name += items[i].discont;
        f = fopen(name, "rb");
        if (!f || fseek(f, 0, SEEK_END) || (sz = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) ||
            !(items[i].data = malloc(sz)) || fread(items[i].data, 1, sz, f) != (size_t)sz) {
            fprintf(stderr, "%s: cannot read\n", name);
            return 1;
        }
        items[i].size = sz;
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/seg", out);
    mkdir(path, 0777);
    snprintf(path, sizeof(path), "%s/snaps", out);
    mkdir(path, 0777);
    clock_gettime(CLOCK_REALTIME, &t0);
    o.origin_us = (int64_t)t0.tv_sec * 1000000 + t0.tv_nsec / 1000;
    if (vpi_hls_new(&o, &h) < 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int64_t k = 0;; k++) {
        const int burst = 8;
        int i = (int)(k % nb);
        char *t = NULL;
        if (k >= burst) {
            struct timespec due = t0;
            due.tv_sec += k - burst;
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
            if (k - burst >= seconds)
                break;
        }
        for (size_t off = 0; off < items[i].size; off += 1316) {
            size_t n = items[i].size - off < 1316 ? items[i].size - off : 1316;
            VpChunk *c = vpi_chunk_new(n);
            memcpy(c->data, items[i].data + off, n);
            c->pts = k * VPI_TICKS;
            c->flags = off ? 0 : VPI_CHUNK_KEY | (items[i].discont ? VPI_CHUNK_DISCONT : 0);
            vpi_hls_add(h, c);
            vp_chunk_unref(&c);
        }
        for (VpChunk *seg = NULL; vpi_hls_segment(h, written, &seg) == 0; written++) {
            char name[64];
            snprintf(name, sizeof(name), "seg/%" PRId64 ".ts", written);
            int err = write_file(out, name, seg->data, seg->size);
            vp_chunk_unref(&seg);
            if (err < 0)
                goto end;
        }
        if (vpi_hls_playlist(h, "seg/", &t) == 0 && (!prev || strcmp(prev, t))) {
            char name[64];
            snprintf(name, sizeof(name), "snaps/%06d.m3u8", snaps++);
            if (write_file(out, name, t, strlen(t)) < 0 ||
                write_file(out, "live.m3u8", t, strlen(t)) < 0)
                goto end;
            free(prev);
            prev = t;
        } else {
            free(t);
        }
    }
    ret = 0;
end:
    free(prev);
    vpi_hls_free(&h);
    for (int i = 0; i < nb; i++)
        free(items[i].data);
    free(items);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--feed"))
        return feed_mode(argc - 2, argv + 2);
    test_exact();
    test_cutting();
    test_refs();
    test_validator_run(0);
    test_validator_run(1);
    test_threads();
    TEST_END();
}
