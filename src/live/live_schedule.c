/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The timeline of one channel (docs/channels.md, "Schedule"): episodes cut into parts at
 * keyframes, a break of rotating ads after every cut, the whole repeating forever from an
 * anchor. Immutable once made, so producers, the HTTP API and the guide read it from any
 * thread without locks.
 *
 * Finding what plays at a tick months after the anchor must not walk every slot since: a
 * channel of two 30 s items with three ads and one break each plays about 3 million slots
 * a year. The slots repeat exactly after a "super-period" (the passes after which the ad
 * rotation is back where it started as well as the episodes), and inside one a pass and an
 * episode have lengths that prefix sums of the ads give in O(1), so at() skips super-periods
 * by division, then passes and episodes one at a time, and walks slots only inside the
 * episode that holds the tick. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "live.h"

/* Longest file a schedule takes (about 565 days): keeps the sums below far from overflow. */
#define MAX_DURATION ((int64_t)1 << 42)

typedef struct Episode {
    VpiLiveMedia *media;
    char *title, *file;
    double *breaks;
    int nb_breaks;
    int64_t *cuts;           /* ascending, inside (0, duration) */
    double *cut_break;       /* the configured break point each cut serves */
    int nb_cuts;
    int64_t base_len;        /* duration + the whole ad cycles its breaks play */
    int64_t rem_plays;       /* ad plays in its breaks beyond whole cycles */
    int64_t slots;           /* parts + ads of its breaks */
} Episode;

typedef struct Ad {
    VpiLiveMedia *media;
    char *title, *file;
} Ad;

struct VpiSchedule {
    Episode *eps;
    int nb_eps;
    Ad *ads;
    int nb_ads;
    int apb;                 /* ads per break; 0 when breaks play nothing (no ads) */
    int64_t *ad_sum;         /* prefix sums of ad durations, nb_ads + 1 */
    /* one pass: every episode once, from episode 0 part 0 */
    int64_t pass_base;       /* episodes + whole ad cycles */
    int64_t pass_rem;        /* ad plays beyond whole cycles */
    int64_t pass_breaks, pass_slots;
    /* one super-period (INT64_MAX: longer than any channel clock) */
    int64_t super_len, super_slots, super_breaks;
    VpiSchedAnchor anchor;   /* normalised */
};

/* Where the timeline is: episode e's part p, or ad j of the break after it (break b). */
typedef struct Pos {
    int e, p, in_break, j;
    int64_t b;
} Pos;

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The ad played j-th in break b: breaks take ads_per_break consecutive ads of the rotation. */
static int ad_index(const VpiSchedule *s, int64_t b, int j)
{
    return (int)(((b % s->nb_ads) * s->apb + j) % s->nb_ads);
}

/* Durations of @p m (< nb_ads) consecutive rotation places from place @p start. */
static int64_t ad_run(const VpiSchedule *s, int64_t start, int64_t m)
{
    int n = s->nb_ads;
    if (!m)
        return 0;
    if (start + m <= n)
        return s->ad_sum[start + m] - s->ad_sum[start];
    return s->ad_sum[n] - s->ad_sum[start] + s->ad_sum[start + m - n];
}

/* The rotation place break @p b starts at. */
static int64_t ad_place(const VpiSchedule *s, int64_t b)
{
    return s->nb_ads ? (b % s->nb_ads) * s->apb % s->nb_ads : 0;
}

static int64_t episode_len(const VpiSchedule *s, const Episode *ep, int64_t b)
{
    return ep->base_len + ad_run(s, ad_place(s, b), ep->rem_plays);
}

static int64_t pass_len(const VpiSchedule *s, int64_t b)
{
    return s->pass_base + ad_run(s, ad_place(s, b), s->pass_rem);
}

static void part_range(const Episode *ep, int p, int64_t *from, int64_t *to)
{
    *from = p ? ep->cuts[p - 1] : 0;
    *to = p < ep->nb_cuts ? ep->cuts[p] : ep->media->duration;
}

static int64_t slot_len(const VpiSchedule *s, const Pos *pos)
{
    int64_t from, to;
    if (pos->in_break)
        return s->ads[ad_index(s, pos->b, pos->j)].media->duration;
    part_range(&s->eps[pos->e], pos->p, &from, &to);
    return to - from;
}

static Pos advance(const VpiSchedule *s, Pos pos)
{
    const Episode *ep = &s->eps[pos.e];
    if (pos.in_break) {
        if (pos.j + 1 < s->apb)
            return (Pos){ pos.e, pos.p, 1, pos.j + 1, pos.b };
        return (Pos){ pos.e, pos.p + 1, 0, 0, pos.b + 1 };
    }
    if (pos.p < ep->nb_cuts)
        return s->apb ? (Pos){ pos.e, pos.p, 1, 0, pos.b } : (Pos){ pos.e, pos.p + 1, 0, 0, pos.b };
    return (Pos){ (pos.e + 1) % s->nb_eps, 0, 0, 0, pos.b };
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* A position from a slot or an anchor, forced into this schedule's range (a rebuilt
 * schedule may have fewer episodes, or an episode fewer parts). */
static Pos pos_make(const VpiSchedule *s, int e, int p, int in_break, int j, int64_t b)
{
    Pos pos;
    pos.e = clampi(e, 0, s->nb_eps - 1);
    pos.p = clampi(p, 0, s->eps[pos.e].nb_cuts);
    pos.b = b < 0 ? 0 : b;
    pos.in_break = 0;
    pos.j = 0;
    if (in_break) {
        if (s->apb && pos.p < s->eps[pos.e].nb_cuts) {
            pos.in_break = 1;
            pos.j = clampi(j, 0, s->apb - 1);
        } else {
            /* no break follows that part here: what comes after it */
            pos = advance(s, pos);
        }
    }
    return pos;
}

static void fill(const VpiSchedule *s, Pos pos, int64_t start, int64_t n, VpiSlot *slot)
{
    memset(slot, 0, sizeof(*slot));
    slot->n = n;
    slot->start = start;
    slot->episode = pos.e;
    slot->ep_part = pos.p;
    slot->in_break = pos.in_break;
    slot->ad_pos = pos.j;
    slot->brk = pos.b;
    if (pos.in_break) {
        const Ad *ad = &s->ads[ad_index(s, pos.b, pos.j)];
        slot->kind = VP_PROG_AD;
        slot->index = ad_index(s, pos.b, pos.j);
        slot->part = pos.j;
        slot->media = ad->media;
        slot->title = ad->title;
        slot->file = ad->file;
        slot->from = 0;
        slot->to = ad->media->duration;
        slot->break_at = -1;
    } else {
        const Episode *ep = &s->eps[pos.e];
        slot->kind = VP_PROG_EPISODE;
        slot->index = pos.e;
        slot->part = pos.p;
        slot->media = ep->media;
        slot->title = ep->title;
        slot->file = ep->file;
        part_range(ep, pos.p, &slot->from, &slot->to);
        slot->break_at = pos.p < ep->nb_cuts ? ep->cut_break[pos.p] : -1;
    }
}

static Pos pos_of_slot(const VpiSchedule *s, const VpiSlot *cur)
{
    return pos_make(s, cur->episode, cur->ep_part, cur->in_break, cur->ad_pos, cur->brk);
}

/* The cuts of one episode: the last key at or before each break point inside the file. */
static int make_cuts(Episode *ep)
{
    const VpiLiveMedia *m = ep->media;
    if (!ep->nb_breaks)
        return 0;
    if (!(ep->cuts = malloc(ep->nb_breaks * sizeof(*ep->cuts))) ||
        !(ep->cut_break = malloc(ep->nb_breaks * sizeof(*ep->cut_break))))
        return AVERROR(ENOMEM);
    for (int i = 0; i < ep->nb_breaks; i++) {
        double at = ep->breaks[i];
        /* compared as doubles first: a break point past the end never becomes a tick */
        if (!(at > 0) || at * VPI_TICKS >= (double)m->duration)
            continue;
        int64_t cut = vpi_live_media_key_before(m, llround(at * VPI_TICKS));
        if (cut <= 0 || cut >= m->duration || (ep->nb_cuts && cut <= ep->cuts[ep->nb_cuts - 1]))
            continue;
        ep->cuts[ep->nb_cuts] = cut;
        ep->cut_break[ep->nb_cuts++] = at;
    }
    return 0;
}

static char *copy_str(const char *str)
{
    return strdup(str ? str : "");
}

/* The per-pass and per-super-period sums; AVERROR(ERANGE) if one pass overflows. */
static int make_periods(VpiSchedule *s)
{
    int64_t ep_total = 0, ad_total = s->ad_sum[s->nb_ads], plays = 0;
    s->pass_breaks = s->pass_slots = 0;
    for (int i = 0; i < s->nb_eps; i++) {
        Episode *ep = &s->eps[i];
        int64_t brks = s->apb ? ep->nb_cuts : 0, ep_plays = brks * s->apb;
        ep->slots = ep->nb_cuts + 1 + ep_plays;
        ep->rem_plays = s->nb_ads ? ep_plays % s->nb_ads : 0;
        int64_t cycles = s->nb_ads ? ep_plays / s->nb_ads : 0, ads_len;
        if (__builtin_mul_overflow(cycles, ad_total, &ads_len) ||
            __builtin_add_overflow(ep->media->duration, ads_len, &ep->base_len) ||
            __builtin_add_overflow(ep_total, ep->media->duration, &ep_total) ||
            __builtin_add_overflow(plays, ep_plays, &plays) ||
            __builtin_add_overflow(s->pass_breaks, brks, &s->pass_breaks) ||
            __builtin_add_overflow(s->pass_slots, ep->slots, &s->pass_slots))
            return AVERROR(ERANGE);
    }
    int64_t cycles = s->nb_ads ? plays / s->nb_ads : 0, ads_len;
    s->pass_rem = s->nb_ads ? plays % s->nb_ads : 0;
    if (__builtin_mul_overflow(cycles, ad_total, &ads_len) ||
        __builtin_add_overflow(ep_total, ads_len, &s->pass_base) ||
        __builtin_add_overflow(s->pass_base, ad_total, &ads_len))
        return AVERROR(ERANGE);

    /* After P passes the rotation has advanced P * plays places: back home when that is a
     * multiple of nb_ads, first at P = nb_ads / gcd(nb_ads, plays). Every ad then played
     * plays / gcd times, whatever place the first pass started at. */
    int64_t passes = 1, g = 1, len, super_ads;
    if (plays) {
        g = gcd64(s->nb_ads, plays);
        passes = s->nb_ads / g;
    }
    if (__builtin_mul_overflow(passes, ep_total, &len) ||
        __builtin_mul_overflow(plays / g, ad_total, &super_ads) ||
        __builtin_add_overflow(len, super_ads, &s->super_len) ||
        __builtin_mul_overflow(passes, s->pass_slots, &s->super_slots) ||
        __builtin_mul_overflow(passes, s->pass_breaks, &s->super_breaks)) {
        /* longer than any clock: at() never skips one */
        s->super_len = INT64_MAX;
        s->super_slots = s->super_breaks = 0;
    }
    return 0;
}

int vpi_schedule_new(const VpiSchedEpisode *eps, int nb_eps, const VpiSchedAd *ads, int nb_ads,
                     int ads_per_break, const VpiSchedAnchor *anchor, VpiSchedule **out)
{
    VpiSchedule *s = NULL;
    int ret = AVERROR(EINVAL);

    *out = NULL;
    if (!eps || nb_eps < 1 || nb_ads < 0 || (nb_ads && !ads) || ads_per_break < 0 ||
        ads_per_break > 1000)
        return AVERROR(EINVAL);
    for (int i = 0; i < nb_eps; i++)
        if (!eps[i].media || eps[i].media->duration <= 0 ||
            eps[i].media->duration > MAX_DURATION || eps[i].nb_breaks < 0 ||
            (eps[i].nb_breaks && !eps[i].breaks))
            return AVERROR(EINVAL);
    for (int i = 0; i < nb_ads; i++)
        if (!ads[i].media || ads[i].media->duration <= 0 ||
            ads[i].media->duration > MAX_DURATION)
            return AVERROR(EINVAL);

    if (!(s = calloc(1, sizeof(*s))))
        return AVERROR(ENOMEM);
    ret = AVERROR(ENOMEM);
    if (!(s->eps = calloc(nb_eps, sizeof(*s->eps))) ||
        (nb_ads && !(s->ads = calloc(nb_ads, sizeof(*s->ads)))) ||
        !(s->ad_sum = calloc((size_t)nb_ads + 1, sizeof(*s->ad_sum))))
        goto fail;
    for (int i = 0; i < nb_eps; i++) {
        Episode *ep = &s->eps[i];
        s->nb_eps++;
        ep->media = vpi_live_media_ref(eps[i].media);
        if (!(ep->title = copy_str(eps[i].title)) || !(ep->file = copy_str(eps[i].file)))
            goto fail;
        if (eps[i].nb_breaks) {
            if (!(ep->breaks = malloc(eps[i].nb_breaks * sizeof(*ep->breaks))))
                goto fail;
            memcpy(ep->breaks, eps[i].breaks, eps[i].nb_breaks * sizeof(*ep->breaks));
            ep->nb_breaks = eps[i].nb_breaks;
        }
        if ((ret = make_cuts(ep)) < 0)
            goto fail;
        ret = AVERROR(ENOMEM);
    }
    for (int i = 0; i < nb_ads; i++) {
        Ad *ad = &s->ads[i];
        s->nb_ads++;
        ad->media = vpi_live_media_ref(ads[i].media);
        if (!(ad->title = copy_str(ads[i].title)) || !(ad->file = copy_str(ads[i].file)))
            goto fail;
        /* both at most nb_ads * 2^42: within int64_t for any int nb_ads */
        s->ad_sum[i + 1] = s->ad_sum[i] + ad->media->duration;
    }
    s->apb = nb_ads ? ads_per_break : 0;
    if ((ret = make_periods(s)) < 0)
        goto fail;

    Pos first = { 0 };
    if (anchor) {
        first = pos_make(s, anchor->episode, anchor->part, anchor->in_break, 0, anchor->brk);
        s->anchor.tick = anchor->tick;
    }
    s->anchor.episode = first.e;
    s->anchor.part = first.p;
    s->anchor.in_break = first.in_break;
    s->anchor.brk = first.b;
    *out = s;
    return 0;

fail:
    vpi_schedule_free(&s);
    return ret;
}

void vpi_schedule_free(VpiSchedule **ps)
{
    VpiSchedule *s = ps ? *ps : NULL;
    if (!s)
        return;
    *ps = NULL;
    for (int i = 0; i < s->nb_eps; i++) {
        Episode *ep = &s->eps[i];
        vpi_live_media_unref(&ep->media);
        free(ep->title);
        free(ep->file);
        free(ep->breaks);
        free(ep->cuts);
        free(ep->cut_break);
    }
    for (int i = 0; i < s->nb_ads; i++) {
        vpi_live_media_unref(&s->ads[i].media);
        free(s->ads[i].title);
        free(s->ads[i].file);
    }
    free(s->eps);
    free(s->ads);
    free(s->ad_sum);
    free(s);
}

int vpi_schedule_at(const VpiSchedule *s, int64_t tick, VpiSlot *slot)
{
    const VpiSchedAnchor *a = &s->anchor;
    Pos pos = { a->episode, a->part, a->in_break, 0, a->brk };
    int64_t t = a->tick, n = 0, len;

    if (tick < a->tick)
        return AVERROR(EINVAL);
    /* slot by slot to the next episode start (an anchor may sit inside an episode) */
    while (pos.p || pos.in_break) {
        if (tick - t < (len = slot_len(s, &pos)))
            goto found;
        t += len;
        n++;
        pos = advance(s, pos);
    }
    for (;;) {
        if (!pos.e) {
            if (tick - t >= s->super_len) {
                int64_t k = (tick - t) / s->super_len, dn, db;
                if (__builtin_mul_overflow(k, s->super_slots, &dn) ||
                    __builtin_add_overflow(n, dn, &n) ||
                    __builtin_mul_overflow(k, s->super_breaks, &db) ||
                    __builtin_add_overflow(pos.b, db, &pos.b))
                    return AVERROR(ERANGE);
                t += k * s->super_len;
            }
            if (tick - t >= (len = pass_len(s, pos.b))) {
                t += len;
                n += s->pass_slots;
                pos.b += s->pass_breaks;
                continue;
            }
        }
        const Episode *ep = &s->eps[pos.e];
        if (tick - t < (len = episode_len(s, ep, pos.b)))
            break;
        t += len;
        n += ep->slots;
        if (s->apb)
            pos.b += ep->nb_cuts;
        pos.e = (pos.e + 1) % s->nb_eps;
    }
    while (tick - t >= (len = slot_len(s, &pos))) {
        t += len;
        n++;
        pos = advance(s, pos);
    }
found:
    fill(s, pos, t, n, slot);
    return 0;
}

void vpi_schedule_next(const VpiSchedule *s, const VpiSlot *cur, VpiSlot *next)
{
    Pos pos = advance(s, pos_of_slot(s, cur));
    fill(s, pos, cur->start + (cur->to - cur->from), cur->n + 1, next);
}

void vpi_schedule_anchor_after(const VpiSchedule *s, const VpiSlot *cur, VpiSchedAnchor *a)
{
    Pos pos = pos_of_slot(s, cur);
    int64_t t = cur->start + (cur->to - cur->from);
    /* an ad's break plays out with the ads it started with: the anchor is after it */
    for (pos = advance(s, pos); pos.in_break && pos.j > 0; pos = advance(s, pos))
        t += slot_len(s, &pos);
    *a = (VpiSchedAnchor){ .tick = t, .episode = pos.e, .part = pos.p,
                           .in_break = pos.in_break, .brk = pos.b };
}
