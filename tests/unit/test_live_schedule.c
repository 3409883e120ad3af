/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The channel timeline (docs/channels.md, "Schedule"): cuts at keys, ad rotation across
 * breaks and repeats, channels without ads or breaks, at() far from the anchor against a
 * slot-by-slot walk, and rebuilt schedules continuing from vpi_schedule_anchor_after(). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/error.h>

#include "live/live.h"
#include "test.h"

#define S(x) ((int64_t)llround((x) * (double)VPI_TICKS))

/* A file of @p dur seconds with a key every @p gop seconds (none when gop <= 0). */
static VpiLiveMedia *media(double dur, double gop)
{
    VpiLiveMedia *m = calloc(1, sizeof(*m));
    m->refs = 1;
    m->duration = S(dur);
    if (gop > 0) {
        int n = (int)(dur / gop + 0.999999);
        m->keys = calloc(n, sizeof(*m->keys));
        for (int i = 0; i < n; i++)
            m->keys[i] = S(i * gop);
        m->nb_keys = n;
    }
    return m;
}

static void check_slot(int line, const VpiSlot *s, int kind, int index, int part, double from,
                       double to, double start, double break_at)
{
    test_checks++;
    if (s->kind != kind || s->index != index || s->part != part || s->from != S(from) ||
        s->to != S(to) || s->start != S(start) || s->break_at != break_at)
        T_FAIL("line %d: slot n=%lld is kind %d index %d part %d [%g, %g) at %g break_at %g; "
               "want kind %d index %d part %d [%g, %g) at %g break_at %g", line,
               (long long)s->n, s->kind, s->index, s->part, (double)s->from / VPI_TICKS,
               (double)s->to / VPI_TICKS, (double)s->start / VPI_TICKS, s->break_at, kind,
               index, part, from, to, start, break_at);
}
#define EP(s, i, p, f, t, st, b) check_slot(__LINE__, s, VP_PROG_EPISODE, i, p, f, t, st, b)
#define AD(s, i, j, len, st) check_slot(__LINE__, s, VP_PROG_AD, i, j, 0, len, st, -1)

static int same_slot(const VpiSlot *a, const VpiSlot *b)
{
    return a->n == b->n && a->kind == b->kind && a->index == b->index && a->part == b->part &&
           a->media == b->media && a->title == b->title && a->file == b->file &&
           a->from == b->from && a->to == b->to && a->break_at == b->break_at &&
           a->start == b->start && a->episode == b->episode && a->ep_part == b->ep_part &&
           a->in_break == b->in_break && a->ad_pos == b->ad_pos && a->brk == b->brk;
}

/* The channel of docs/channels.md's example, shortened: two episodes with breaks, three ads
 * of different lengths, two per break. */
typedef struct Fixture {
    VpiLiveMedia *ep[2], *ad[3];
    VpiSchedEpisode eps[2];
    VpiSchedAd ads[3];
    double b0[2], b1[1];
} Fixture;

static void fixture(Fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->ep[0] = media(100, 2);
    f->ep[1] = media(50, 5);
    f->b0[0] = 30;   /* a key: cut there */
    f->b0[1] = 61;   /* cut at the key at 60 */
    f->b1[0] = 12;   /* cut at 10 */
    f->eps[0] = (VpiSchedEpisode){ f->ep[0], "Episode 1", "ep1.mp4", f->b0, 2 };
    f->eps[1] = (VpiSchedEpisode){ f->ep[1], "Episode 2", "ep2.mp4", f->b1, 1 };
    static const char *const names[] = { "a0.mp4", "a1.mp4", "a2.mp4" };
    for (int i = 0; i < 3; i++) {
        f->ad[i] = media(10 + 5 * i, 1);
        f->ads[i] = (VpiSchedAd){ f->ad[i], names[i], names[i] };
    }
}

static void fixture_free(Fixture *f)
{
    for (int i = 0; i < 2; i++)
        vpi_live_media_unref(&f->ep[i]);
    for (int i = 0; i < 3; i++)
        vpi_live_media_unref(&f->ad[i]);
}

static void test_rotation(void)
{
    Fixture f;
    VpiSchedule *s;
    VpiSlot a, b;
    fixture(&f);
    CHECK_EQ(vpi_schedule_new(f.eps, 2, f.ads, 3, 2, NULL, &s), 0);
    CHECK_EQ(f.ep[0]->refs, 2);
    CHECK_EQ(f.ad[2]->refs, 2);

    CHECK_EQ(vpi_schedule_at(s, 0, &a), 0);
    EP(&a, 0, 0, 0, 30, 0, 30);
    CHECK_EQ(a.n, 0);
    CHECK_STR(a.title, "Episode 1");
    CHECK_STR(a.file, "ep1.mp4");
    CHECK(a.media == f.ep[0]);
    /* the expected timeline, slot by slot: break b plays ads 2b, 2b+1 (mod 3) */
    vpi_schedule_next(s, &a, &b); AD(&b, 0, 0, 10, 30);
    CHECK(b.media == f.ad[0]);
    CHECK_STR(b.title, "a0.mp4");
    vpi_schedule_next(s, &b, &a); AD(&a, 1, 1, 15, 40);
    vpi_schedule_next(s, &a, &b); EP(&b, 0, 1, 30, 60, 55, 61);
    vpi_schedule_next(s, &b, &a); AD(&a, 2, 0, 20, 85);
    CHECK_EQ(a.brk, 1);
    vpi_schedule_next(s, &a, &b); AD(&b, 0, 1, 10, 105);
    vpi_schedule_next(s, &b, &a); EP(&a, 0, 2, 60, 100, 115, -1);
    vpi_schedule_next(s, &a, &b); EP(&b, 1, 0, 0, 10, 155, 12);
    CHECK_STR(b.title, "Episode 2");
    vpi_schedule_next(s, &b, &a); AD(&a, 1, 0, 15, 165);
    vpi_schedule_next(s, &a, &b); AD(&b, 2, 1, 20, 180);
    vpi_schedule_next(s, &b, &a); EP(&a, 1, 1, 10, 50, 200, -1);
    /* the repeat: episode 1 again, the rotation carries on (break 3: ads 0, 1) */
    vpi_schedule_next(s, &a, &b); EP(&b, 0, 0, 0, 30, 240, 30);
    CHECK_EQ(b.n, 11);
    CHECK_EQ(b.brk, 3);
    vpi_schedule_next(s, &b, &a); AD(&a, 0, 0, 10, 270);
    vpi_schedule_next(s, &a, &b); AD(&b, 1, 1, 15, 280);

    /* at() lands inside slots, and on their first tick */
    CHECK_EQ(vpi_schedule_at(s, S(104.99), &a), 0);
    AD(&a, 2, 0, 20, 85);
    CHECK_EQ(vpi_schedule_at(s, S(105), &a), 0);
    AD(&a, 0, 1, 10, 105);
    CHECK_EQ(vpi_schedule_at(s, S(115), &a), 0);
    EP(&a, 0, 2, 60, 100, 115, -1);
    CHECK_EQ(vpi_schedule_at(s, S(239.99), &a), 0);
    EP(&a, 1, 1, 10, 50, 200, -1);
    /* a day later: 360 passes of 240 s */
    CHECK_EQ(vpi_schedule_at(s, S(86400 + 31), &a), 0);
    AD(&a, 0, 0, 10, 86400 + 30);
    CHECK_EQ(a.brk, 360 * 3);
    CHECK_EQ(a.n, 360 * 11 + 1); /* 11 slots a pass */
    CHECK_EQ(vpi_schedule_at(s, -1, &a), AVERROR(EINVAL));

    vpi_schedule_free(&s);
    CHECK(!s);
    CHECK_EQ(f.ep[0]->refs, 1);
    CHECK_EQ(f.ad[2]->refs, 1);
    fixture_free(&f);
}

static void test_cuts(void)
{
    VpiLiveMedia *m = media(60, 10), *nokeys = media(60, 0), *ad = media(5, 1);
    double breaks[] = { 0.5, 15, 19, 25, 30, 60, 100 };
    VpiSchedEpisode eps[] = {
        { m, "m", "m.mp4", breaks, 7 },
        { nokeys, "k", "k.mp4", breaks, 7 },
    };
    VpiSchedAd ads[] = { { ad, "ad", "ad.mp4" } };
    VpiSchedule *s;
    VpiSlot a, b;
    CHECK_EQ(vpi_schedule_new(eps, 2, ads, 1, 1, NULL, &s), 0);
    /* 0.5 cuts at 0: dropped; 15 -> 10; 19 -> 10 again: dropped; 25 -> 20; 30 on a key;
     * 60 is the end and 100 past it: dropped */
    vpi_schedule_at(s, 0, &a);
    EP(&a, 0, 0, 0, 10, 0, 15);
    vpi_schedule_next(s, &a, &b); AD(&b, 0, 0, 5, 10);
    vpi_schedule_next(s, &b, &a); EP(&a, 0, 1, 10, 20, 15, 25);
    vpi_schedule_next(s, &a, &b); AD(&b, 0, 0, 5, 25);
    vpi_schedule_next(s, &b, &a); EP(&a, 0, 2, 20, 30, 30, 30);
    vpi_schedule_next(s, &a, &b); AD(&b, 0, 0, 5, 40);
    vpi_schedule_next(s, &b, &a); EP(&a, 0, 3, 30, 60, 45, -1);
    /* no keys: every cut would be at 0, so the file plays whole */
    vpi_schedule_next(s, &a, &b); EP(&b, 1, 0, 0, 60, 75, -1);
    vpi_schedule_next(s, &b, &a); EP(&a, 0, 0, 0, 10, 135, 15);
    CHECK_EQ(a.brk, 3);
    vpi_schedule_free(&s);

    /* copies: the caller's arrays and strings may go */
    char title[] = "mine";
    double mine[] = { 25 };
    VpiSchedEpisode one = { m, title, title, mine, 1 };
    CHECK_EQ(vpi_schedule_new(&one, 1, NULL, 0, 2, NULL, &s), 0);
    strcpy(title, "gone");
    mine[0] = 55;
    vpi_schedule_at(s, 0, &a);
    EP(&a, 0, 0, 0, 20, 0, 25);
    CHECK_STR(a.title, "mine");
    CHECK_STR(a.file, "mine");
    vpi_schedule_free(&s);

    vpi_live_media_unref(&m);
    vpi_live_media_unref(&nokeys);
    vpi_live_media_unref(&ad);
}

static void test_no_breaks(void)
{
    Fixture f;
    VpiSchedule *s;
    VpiSlot a, b;
    fixture(&f);
    /* no ads: the parts still are separate slots (cut at the same keys), back to back */
    CHECK_EQ(vpi_schedule_new(f.eps, 2, NULL, 0, 2, NULL, &s), 0);
    vpi_schedule_at(s, 0, &a);
    EP(&a, 0, 0, 0, 30, 0, 30);
    vpi_schedule_next(s, &a, &b); EP(&b, 0, 1, 30, 60, 30, 61);
    vpi_schedule_next(s, &b, &a); EP(&a, 0, 2, 60, 100, 60, -1);
    vpi_schedule_next(s, &a, &b); EP(&b, 1, 0, 0, 10, 100, 12);
    vpi_schedule_next(s, &b, &a); EP(&a, 1, 1, 10, 50, 110, -1);
    vpi_schedule_next(s, &a, &b); EP(&b, 0, 0, 0, 30, 150, 30);
    CHECK_EQ(b.brk, 0);
    CHECK_EQ(b.n, 5);
    CHECK_EQ(vpi_schedule_at(s, S(150.0 * 1000 + 40), &a), 0);
    EP(&a, 0, 1, 30, 60, 150 * 1000 + 30, 61);
    CHECK_EQ(a.n, 5 * 1000 + 1);
    vpi_schedule_free(&s);

    /* ads, but none per break: the same */
    CHECK_EQ(vpi_schedule_new(f.eps, 2, f.ads, 3, 0, NULL, &s), 0);
    CHECK_EQ(vpi_schedule_at(s, S(150.0 * 1000 + 40), &a), 0);
    EP(&a, 0, 1, 30, 60, 150 * 1000 + 30, 61);
    vpi_schedule_free(&s);

    /* no break points: whole episodes */
    VpiSchedEpisode whole[2] = { f.eps[0], f.eps[1] };
    whole[0].nb_breaks = whole[1].nb_breaks = 0;
    CHECK_EQ(vpi_schedule_new(whole, 2, f.ads, 3, 2, NULL, &s), 0);
    vpi_schedule_at(s, 0, &a);
    EP(&a, 0, 0, 0, 100, 0, -1);
    vpi_schedule_next(s, &a, &b); EP(&b, 1, 0, 0, 50, 100, -1);
    vpi_schedule_next(s, &b, &a); EP(&a, 0, 0, 0, 100, 150, -1);
    vpi_schedule_free(&s);
    fixture_free(&f);
}

/* at() anywhere in [anchor, anchor + N slots) is the slot a walk with next() reaches. */
static void compare_walk(const char *what, const VpiSchedule *s, int64_t t0, int nb_slots,
                         unsigned seed)
{
    VpiSlot *walk = malloc(nb_slots * sizeof(*walk)), got;
    int bad = 0;
    if (vpi_schedule_at(s, t0, &walk[0]) < 0) {
        T_FAIL("%s: at(anchor) failed", what);
        free(walk);
        return;
    }
    for (int i = 1; i < nb_slots; i++)
        vpi_schedule_next(s, &walk[i - 1], &walk[i]);
    int64_t end = walk[nb_slots - 1].start;
    srand(seed);
    for (int k = 0; k < 1000 + nb_slots / 100 && bad < 5; k++) {
        /* random ticks, and the first ticks of random slots */
        int64_t t;
        if (k % 2)
            t = walk[(int)((double)rand() / ((double)RAND_MAX + 1) * (nb_slots - 1))].start;
        else
            t = t0 + (int64_t)((double)rand() / ((double)RAND_MAX + 1) * (double)(end - t0));
        int lo = 0, hi = nb_slots - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (walk[mid].start <= t)
                lo = mid;
            else
                hi = mid - 1;
        }
        test_checks++;
        if (vpi_schedule_at(s, t, &got) < 0 || !same_slot(&got, &walk[lo])) {
            T_FAIL("%s: at(%lld) is slot n=%lld kind %d index %d at %lld brk %lld; the walk "
                   "has n=%lld kind %d index %d at %lld brk %lld", what, (long long)t,
                   (long long)got.n, got.kind, got.index, (long long)got.start,
                   (long long)got.brk, (long long)walk[lo].n, walk[lo].kind, walk[lo].index,
                   (long long)walk[lo].start, (long long)walk[lo].brk);
            bad++;
        }
    }
    free(walk);
}

static void test_far(void)
{
    Fixture f;
    VpiSchedule *s;
    fixture(&f);
    /* 3 breaks a pass, 2 ads each, 3 ads: the rotation repeats with every pass */
    CHECK_EQ(vpi_schedule_new(f.eps, 2, f.ads, 3, 2, NULL, &s), 0);
    compare_walk("3 ads x 2", s, 0, 200000, 1);
    vpi_schedule_free(&s);

    /* 4 ads, 3 per break: the rotation repeats only after 4 passes (9 plays a pass); the
     * anchor inside a break of a rebuilt schedule, a month into the channel */
    VpiLiveMedia *ad4 = media(7.5, 0.5);
    VpiSchedAd ads[4] = { f.ads[0], f.ads[1], f.ads[2], { ad4, "a3", "a3.mp4" } };
    VpiSchedAnchor anchor = { S(30 * 86400) + 17, 0, 1, 1, 1234567 };
    CHECK_EQ(vpi_schedule_new(f.eps, 2, ads, 4, 3, &anchor, &s), 0);
    compare_walk("4 ads x 3, anchored", s, anchor.tick, 200000, 2);
    VpiSlot a;
    vpi_schedule_at(s, anchor.tick, &a);
    CHECK_EQ(a.kind, VP_PROG_AD);
    CHECK_EQ(a.index, (int)((1234567LL * 3) % 4));
    CHECK_EQ(a.brk, 1234567);
    vpi_schedule_free(&s);

    /* 7 ads, 2 per break, one break a pass: 7 passes; anchored in an episode's last part */
    VpiSchedAd ads7[7];
    VpiLiveMedia *m7[7];
    for (int i = 0; i < 7; i++) {
        m7[i] = media(3 + i, 1);
        ads7[i] = (VpiSchedAd){ m7[i], "ad", "ad.mp4" };
    }
    anchor = (VpiSchedAnchor){ 5, 1, 1, 0, 3 };
    CHECK_EQ(vpi_schedule_new(&f.eps[1], 1, ads7, 7, 2, &anchor, &s), 0);
    compare_walk("7 ads x 2", s, anchor.tick, 100000, 3);
    vpi_schedule_free(&s);
    for (int i = 0; i < 7; i++)
        vpi_live_media_unref(&m7[i]);
    vpi_live_media_unref(&ad4);
    fixture_free(&f);
}

/* Random channels: episodes with random GOPs and break points (some dropped), 0 to 5 ads,
 * 0 to 4 per break, anchors anywhere. */
static void test_random(void)
{
    srand(7);
    for (int round = 0; round < 40; round++) {
        VpiLiveMedia *m[9];
        VpiSchedEpisode eps[4];
        VpiSchedAd ads[5];
        double brk[4][6];
        int nb_eps = 1 + rand() % 4, nb_ads = rand() % 6, apb = rand() % 5, nm = 0;
        for (int i = 0; i < nb_eps; i++) {
            double dur = 1 + rand() % 120 + (rand() % 1000) / 1000.0;
            m[nm] = media(dur, 0.2 + (rand() % 50) / 10.0);
            int nb = rand() % 7;
            double at = 0;
            for (int k = 0; k < nb; k++)
                brk[i][k] = at += (rand() % 4000) / 100.0 + 0.01;
            eps[i] = (VpiSchedEpisode){ m[nm++], "e", "e", brk[i], nb };
        }
        for (int i = 0; i < nb_ads; i++) {
            m[nm] = media(0.5 + (rand() % 300) / 10.0, 0.5);
            ads[i] = (VpiSchedAd){ m[nm++], "a", "a" };
        }
        VpiSchedAnchor an = { rand() % 1000000, rand() % 5, rand() % 8, rand() % 2,
                              rand() % 100 };
        VpiSchedule *s;
        char what[64];
        snprintf(what, sizeof(what), "random channel %d", round);
        CHECK_EQ(vpi_schedule_new(eps, nb_eps, ads, nb_ads, apb, &an, &s), 0);
        if (s)
            compare_walk(what, s, an.tick, 20000, round);
        vpi_schedule_free(&s);
        for (int i = 0; i < nm; i++)
            vpi_live_media_unref(&m[i]);
    }
}

static void test_speed(void)
{
    /* 2 items of 30 s with one break each, 3 ads: about 3 million slots a year */
    VpiLiveMedia *e0 = media(30, 1), *e1 = media(30, 1), *ad[3];
    double brk[] = { 15 };
    VpiSchedEpisode eps[] = { { e0, "e0", "e0", brk, 1 }, { e1, "e1", "e1", brk, 1 } };
    VpiSchedAd ads[3];
    for (int i = 0; i < 3; i++) {
        ad[i] = media(5 + i * 0.52, 0.52);
        ads[i] = (VpiSchedAd){ ad[i], "ad", "ad" };
    }
    VpiSchedAnchor anchor = { S(3600) };
    VpiSchedule *s;
    VpiSlot a;
    CHECK_EQ(vpi_schedule_new(eps, 2, ads, 3, 2, &anchor, &s), 0);
    int64_t year = S(365.0 * 86400) + 12345;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ret = 0;
    for (int i = 0; i < 100; i++)
        ret |= vpi_schedule_at(s, anchor.tick + year + i * 9000, &a);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / 100;
    fprintf(stderr, "at() a year from the anchor: %.2f us\n", ms * 1000);
    CHECK_EQ(ret, 0);
    CHECK_INT(ms, <, 50);
    CHECK(a.start <= anchor.tick + year + 99 * 9000 &&
          anchor.tick + year + 99 * 9000 < a.start + (a.to - a.from));
    /* and it agrees with the schedule's own next() from a slot a little earlier */
    VpiSlot w, x;
    vpi_schedule_at(s, anchor.tick + year - S(600), &w);
    while (w.start + (w.to - w.from) <= anchor.tick + year + 99 * 9000) {
        vpi_schedule_next(s, &w, &x);
        w = x;
    }
    CHECK(same_slot(&w, &a));
    vpi_schedule_free(&s);
    vpi_live_media_unref(&e0);
    vpi_live_media_unref(&e1);
    for (int i = 0; i < 3; i++)
        vpi_live_media_unref(&ad[i]);
}

/* A rebuilt schedule with the same lists continues exactly where the old one goes on. */
static void test_rebase_same(void)
{
    Fixture f;
    VpiSchedule *s, *r;
    VpiSlot cur, w1, w2, tmp;
    fixture(&f);
    CHECK_EQ(vpi_schedule_new(f.eps, 2, f.ads, 3, 2, NULL, &s), 0);
    vpi_schedule_at(s, 0, &cur);
    for (int i = 0; i < 40; i++) {
        VpiSchedAnchor a;
        vpi_schedule_anchor_after(s, &cur, &a);
        CHECK_EQ(vpi_schedule_new(f.eps, 2, f.ads, 3, 2, &a, &r), 0);
        /* the old walk after cur (skipping the rest of cur's break) against the new one */
        w1 = cur;
        do {
            vpi_schedule_next(s, &w1, &tmp);
            w1 = tmp;
        } while (w1.start < a.tick);
        CHECK_EQ(w1.start, a.tick);
        vpi_schedule_at(r, a.tick, &w2);
        for (int k = 0; k < 30; k++) {
            test_checks++;
            if (w1.kind != w2.kind || w1.index != w2.index || w1.part != w2.part ||
                w1.from != w2.from || w1.to != w2.to || w1.start != w2.start ||
                w1.brk != w2.brk) {
                T_FAIL("rebase after slot %d: slot %d differs", i, k);
                break;
            }
            vpi_schedule_next(s, &w1, &tmp);
            w1 = tmp;
            vpi_schedule_next(r, &w2, &tmp);
            w2 = tmp;
        }
        vpi_schedule_free(&r);
        vpi_schedule_next(s, &cur, &tmp);
        cur = tmp;
    }
    vpi_schedule_free(&s);
    fixture_free(&f);
}

/* New ads take over from the next break that has not started. */
static void test_rebase_new_ads(void)
{
    Fixture f;
    VpiSchedule *s, *r;
    VpiSlot a, b;
    VpiSchedAnchor an;
    fixture(&f);
    VpiLiveMedia *n0 = media(4, 1), *n1 = media(6, 1);
    VpiSchedAd fresh[] = { { n0, "n0", "n0.mp4" }, { n1, "n1", "n1.mp4" } };
    CHECK_EQ(vpi_schedule_new(f.eps, 2, f.ads, 3, 2, NULL, &s), 0);

    /* during episode 1's part 1 (55..85): its break (85) plays the new ads, from place
     * (1 * 2) mod 2 = 0 of the new rotation */
    vpi_schedule_at(s, S(60), &a);
    EP(&a, 0, 1, 30, 60, 55, 61);
    vpi_schedule_anchor_after(s, &a, &an);
    CHECK_EQ(an.tick, S(85));
    CHECK_EQ(an.episode, 0);
    CHECK_EQ(an.part, 1);
    CHECK_EQ(an.in_break, 1);
    CHECK_EQ(an.brk, 1);
    CHECK_EQ(vpi_schedule_new(f.eps, 2, fresh, 2, 2, &an, &r), 0);
    vpi_schedule_at(r, S(85), &b);
    AD(&b, 0, 0, 4, 85);
    CHECK_STR(b.file, "n0.mp4");
    CHECK_EQ(b.n, 0);
    vpi_schedule_next(r, &b, &a); AD(&a, 1, 1, 6, 89);
    vpi_schedule_next(r, &a, &b); EP(&b, 0, 2, 60, 100, 95, -1);
    vpi_schedule_next(r, &b, &a); EP(&a, 1, 0, 0, 10, 135, 12);
    vpi_schedule_next(r, &a, &b); AD(&b, 0, 0, 4, 145);   /* break 2: place 4 mod 2 */
    CHECK_EQ(b.brk, 2);
    vpi_schedule_free(&r);

    /* during a break (the first ad of break 1, at 85): that break plays out with the old
     * ads (20 + 10 s), the new ones start at the next */
    vpi_schedule_at(s, S(90), &a);
    AD(&a, 2, 0, 20, 85);
    vpi_schedule_anchor_after(s, &a, &an);
    CHECK_EQ(an.tick, S(115));
    CHECK_EQ(an.part, 2);
    CHECK_EQ(an.in_break, 0);
    CHECK_EQ(an.brk, 2);
    CHECK_EQ(vpi_schedule_new(f.eps, 2, fresh, 2, 2, &an, &r), 0);
    vpi_schedule_at(r, S(115), &b);
    EP(&b, 0, 2, 60, 100, 115, -1);
    vpi_schedule_next(r, &b, &a); EP(&a, 1, 0, 0, 10, 155, 12);
    vpi_schedule_next(r, &a, &b); AD(&b, 0, 0, 4, 165);
    vpi_schedule_free(&r);

    /* after the last part: the next episode, no break */
    vpi_schedule_at(s, S(210), &a);
    EP(&a, 1, 1, 10, 50, 200, -1);
    vpi_schedule_anchor_after(s, &a, &an);
    CHECK_EQ(an.tick, S(240));
    CHECK_EQ(an.episode, 0);
    CHECK_EQ(an.part, 0);
    CHECK_EQ(an.in_break, 0);
    CHECK_EQ(an.brk, 3);

    /* ads removed: a break anchor plays no ads, the episode goes on */
    vpi_schedule_at(s, S(60), &a);
    vpi_schedule_anchor_after(s, &a, &an);
    CHECK_EQ(vpi_schedule_new(f.eps, 2, NULL, 0, 2, &an, &r), 0);
    vpi_schedule_at(r, S(85), &b);
    EP(&b, 0, 2, 60, 100, 85, -1);
    vpi_schedule_free(&r);

    /* an anchor past a shorter list is clamped into range */
    an = (VpiSchedAnchor){ S(10), 5, 9, 0, 0 };
    CHECK_EQ(vpi_schedule_new(f.eps, 2, f.ads, 3, 2, &an, &r), 0);
    vpi_schedule_at(r, S(10), &b);
    EP(&b, 1, 1, 10, 50, 10, -1);
    vpi_schedule_free(&r);

    vpi_schedule_free(&s);
    vpi_live_media_unref(&n0);
    vpi_live_media_unref(&n1);
    fixture_free(&f);
}

static void test_refused(void)
{
    Fixture f;
    VpiSchedule *s = (VpiSchedule *)&f;
    fixture(&f);
    CHECK_EQ(vpi_schedule_new(f.eps, 0, f.ads, 3, 2, NULL, &s), AVERROR(EINVAL));
    CHECK(!s);
    CHECK_EQ(vpi_schedule_new(f.eps, 2, f.ads, 3, -1, NULL, &s), AVERROR(EINVAL));
    VpiLiveMedia *empty = media(0, 0);
    VpiSchedAd bad[] = { { empty, "e", "e" } };
    CHECK_EQ(vpi_schedule_new(f.eps, 2, bad, 1, 2, NULL, &s), AVERROR(EINVAL));
    VpiSchedEpisode none[] = { { NULL, "x", "x", NULL, 0 } };
    CHECK_EQ(vpi_schedule_new(none, 1, NULL, 0, 2, NULL, &s), AVERROR(EINVAL));
    CHECK_EQ(f.ep[0]->refs, 1);
    vpi_schedule_free(&s);
    vpi_live_media_unref(&empty);
    fixture_free(&f);
}

int main(void)
{
    test_rotation();
    test_cuts();
    test_no_breaks();
    test_far();
    test_random();
    test_speed();
    test_rebase_same();
    test_rebase_new_ads();
    test_refused();
    TEST_END();
}
