/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The channel ring (src/live/live_ring.c): order, where a new viewer starts, what the ring
 * keeps, BEHIND and EOF, references, the HLS hook, and a producer pushing while viewers
 * read from other threads (run under ASan/TSan builds). */
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdint.h>

#include <libavutil/error.h>

#include "live/live.h"
#include "test.h"

#define SEC VPI_TICKS

static int hook_calls;
static int64_t hook_last_seq = -1;
static void hook(void *opaque, VpChunk *c)
{
    (void)opaque;
    hook_calls++;
    if (c->seq != hook_last_seq + 1)
        T_FAIL("hook saw seq %lld after %lld", (long long)c->seq, (long long)hook_last_seq);
    hook_last_seq = c->seq;
}

static int notified;
static void notify(void *opaque)
{
    (*(int *)opaque)++;
}

/* A chunk every 40 ms, a key every second (25 chunks). */
static void push_frames(VpiLiveOut *o, int from, int to)
{
    for (int i = from; i < to; i++) {
        uint8_t b[188] = { 0x47, (uint8_t)(i >> 8), (uint8_t)i };
        CHECK_EQ(vpi_liveout_push(o, b, sizeof(b), i % 25 == 0 ? VPI_CHUNK_KEY : 0,
                                  (int64_t)i * SEC / 25), 0);
    }
}

static void test_basic(void)
{
    VpiLiveOutOpts opts = { .ring_seconds = 10, .burst_behind = 2, .on_chunk = hook };
    VpiLiveOut *o = NULL;
    CHECK_EQ(vpi_liveout_new(&opts, &o), 0);

    /* before any key: the viewer waits for the first key */
    VpViewer *early = NULL;
    VpChunk *c = NULL;
    CHECK_EQ(vpi_liveout_viewer_open(o, notify, &notified, &early), 0);
    CHECK_EQ(vpi_liveout_viewers(o), 1);
    CHECK_EQ(vpi_liveout_idle_since(o), 0);
    CHECK_EQ(vpi_liveout_viewer_next(early, &c), 0);

    push_frames(o, 0, 25 * 5 + 10);    /* 5.4 s: keys at 0..5 s */
    CHECK_EQ(hook_calls, 135);
    CHECK_EQ(notified, 135);
    CHECK_EQ(vpi_liveout_bytes(o), 135 * 188);

    /* early reads everything from the first key, in order */
    int n = 0, ret;
    int64_t last = -1;
    while ((ret = vpi_liveout_viewer_next(early, &c)) == 1) {
        if (n == 0)
            CHECK(c->flags & VPI_CHUNK_KEY);
        CHECK_EQ(c->seq, last + 1);
        CHECK_EQ(c->data[2], (uint8_t)c->seq);
        last = c->seq;
        vp_chunk_unref(&c);
        n++;
    }
    CHECK_EQ(ret, 0);
    CHECK_EQ(n, 135);

    /* newest pts 5.36 s; 2 s behind: 3.36 s; the latest key at or before: 3 s (seq 75) */
    VpViewer *v = NULL;
    CHECK_EQ(vpi_liveout_viewer_open(o, NULL, NULL, &v), 0);
    CHECK_EQ(vpi_liveout_viewer_next(v, &c), 1);
    CHECK_EQ(c->seq, 75);
    CHECK(c->flags & VPI_CHUNK_KEY);
    /* the viewer's reference keeps the chunk alive after the ring drops it */
    VpChunk *held = c;
    c = NULL;
    CHECK_EQ(held->refs, 2);

    /* 30 s more: the ring keeps >= 10 s back to a key, so seq 75 is gone */
    push_frames(o, 135, 135 + 25 * 30);
    CHECK_EQ(held->refs, 1);
    CHECK_EQ(held->seq, 75);
    vp_chunk_unref(&held);
    CHECK_EQ(vpi_liveout_viewer_next(v, &c), VP_ERR_BEHIND);

    /* a new viewer: newest 35.36 s, burst from the key at 33 s */
    VpViewer *w = NULL;
    CHECK_EQ(vpi_liveout_viewer_open(o, NULL, NULL, &w), 0);
    CHECK_EQ(vpi_liveout_viewer_next(w, &c), 1);
    CHECK_EQ(c->pts, 33 * SEC);
    vp_chunk_unref(&c);

    vpi_liveout_end(o);
    n = 0;
    while ((ret = vpi_liveout_viewer_next(w, &c)) == 1) {
        vp_chunk_unref(&c);
        n++;
    }
    CHECK_EQ(ret, AVERROR_EOF);
    CHECK_EQ(n, 59);   /* 33.04 s .. 35.36 s */
    CHECK_EQ(vpi_liveout_push(o, (const uint8_t *)"x", 1, 0, 0), AVERROR_EOF);

    vpi_liveout_viewer_close(&early);
    vpi_liveout_viewer_close(&v);
    CHECK_EQ(vpi_liveout_idle_since(o), 0);
    vpi_liveout_viewer_close(&w);
    CHECK(vpi_liveout_idle_since(o) > 0);
    CHECK_EQ(vpi_liveout_viewers(o), 0);
    vpi_liveout_unref(&o);
    CHECK(o == NULL);
}

/* The ring keeps ring_seconds back to the key before (and no further). */
static void test_retention(void)
{
    VpiLiveOutOpts opts = { .ring_seconds = 10, .burst_behind = 2 };
    VpiLiveOut *o = NULL;
    /* burst_behind as far back as the ring reaches: newest at 39.96 s, keys every second,
     * so the ring holds from the key at 29 s (the last >= 10 s before the newest) */
    opts.burst_behind = 9.99;
    CHECK_EQ(vpi_liveout_new(&opts, &o), 0);
    push_frames(o, 0, 25 * 40);
    VpViewer *v = NULL;
    CHECK_EQ(vpi_liveout_viewer_open(o, NULL, NULL, &v), 0);
    VpChunk *c = NULL;
    CHECK_EQ(vpi_liveout_viewer_next(v, &c), 1);
    CHECK_EQ(c->pts, 29 * SEC);
    vp_chunk_unref(&c);
    vpi_liveout_viewer_close(&v);
    vpi_liveout_unref(&o);

    /* bad options */
    opts.ring_seconds = 5;
    CHECK_EQ(vpi_liveout_new(&opts, &o), AVERROR(EINVAL));
}

/* One producer, four readers on their own threads; every reader sees every chunk once, in
 * order; one reader is slow and gets BEHIND without slowing the producer. */
typedef struct Reader {
    VpiLiveOut *o;
    int slow;
    int64_t got, last;
    int result;
} Reader;

static void *reader(void *arg)
{
    Reader *r = arg;
    VpViewer *v = NULL;
    if (vpi_liveout_viewer_open(r->o, NULL, NULL, &v) < 0)
        return NULL;
    for (;;) {
        VpChunk *c = NULL;
        int ret = vpi_liveout_viewer_next(v, &c);
        if (ret == 1) {
            if (r->last >= 0 && c->seq != r->last + 1)
                r->result = -1000;
            __atomic_store_n(&r->last, c->seq, __ATOMIC_RELAXED);
            r->got++;
            vp_chunk_unref(&c);
            if (r->slow) {
                struct timespec ts = { 0, 2000000 };
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (ret == 0) {
            sched_yield();
            continue;
        }
        r->result = ret;
        break;
    }
    vpi_liveout_viewer_close(&v);
    return NULL;
}

static void test_threads(void)
{
    VpiLiveOutOpts opts = { .ring_seconds = 10, .burst_behind = 2 };
    VpiLiveOut *o = NULL;
    CHECK_EQ(vpi_liveout_new(&opts, &o), 0);
    push_frames(o, 0, 1);      /* a key so readers start at seq 0 */
    Reader r[4] = { { o, 0, 0, -1, 0 }, { o, 0, 0, -1, 0 }, { o, 0, 0, -1, 0 },
                    { o, 1, 0, -1, 0 } };
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, reader, &r[i]);
    /* 20000 chunks of 40 ms (800 s of stream), as fast as the three quick readers keep
     * within 100 chunks (4 s) of it; the slow one (2 ms a chunk) is left behind */
    for (int i = 1; i < 20000; i++) {
        for (int k = 0; k < 3; k++)
            while (__atomic_load_n(&r[k].last, __ATOMIC_RELAXED) < i - 100 &&
                   !__atomic_load_n(&r[k].result, __ATOMIC_RELAXED))
                sched_yield();
        push_frames(o, i, i + 1);
    }
    vpi_liveout_end(o);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(r[i].result, AVERROR_EOF);
        CHECK_EQ(r[i].last, 19999);
    }
    CHECK_EQ(r[3].result, VP_ERR_BEHIND);
    CHECK_EQ(vpi_liveout_viewers(o), 0);
    vpi_liveout_unref(&o);
}

int main(void)
{
    test_basic();
    test_retention();
    test_threads();
    TEST_END();
}
