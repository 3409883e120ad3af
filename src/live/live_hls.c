/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The live HLS window: the channel's MPEG-TS chunks cut into segments at keyframes, the last
 * few kept in memory, and the media playlist written by hand (FFmpeg 5.1's HLS muxer writes
 * no EXT-X-DISCONTINUITY-SEQUENCE and dates segments from the wall clock, so it cannot keep
 * either right across an endless stream). Design: docs/channels.md, "The live HLS window".
 *
 * Two halves: the producer thread owns the open segment (chunk references from the ring, no
 * copy, no lock); a segment is copied into one chunk when it closes and published under the
 * lock, which is all the readers (HTTP threads) ever see. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/error.h>

#include "live.h"
#include "util/internal.h"

#define GOP_HISTORY 8
/* An open segment that grows past this without a key is a producer fault (keys come at
 * least every few seconds): it is dropped rather than hold the process's memory. */
#define OPEN_MAX_BYTES ((size_t)128 << 20)

typedef struct HlsSegment {
    int64_t seq;
    int64_t pts;             /* channel clock of its first key */
    int64_t duration;        /* ticks: the next segment's pts - pts */
    int discont;             /* EXT-X-DISCONTINUITY before it */
    int64_t left_at;         /* channel clock when it left the playlist; -1 while listed */
    int64_t longest;         /* ticks: the longest playlist that listed it */
    VpChunk *data;
} HlsSegment;

struct VpiHls {
    VpiHlsOpts o;
    int target_dur;          /* EXT-X-TARGETDURATION: ceil(o.target) */
    int64_t limit;           /* longest segment the cut makes (ticks), see vpi_hls_new */

    /* ---- published: guarded by lock ---- */
    pthread_mutex_t lock;
    HlsSegment *segs;        /* ring of complete segments, oldest first */
    int cap, head, count;
    int64_t next_seq;        /* segments completed so far (the next one's number) */
    int64_t first_listed;    /* seq of the playlist's first segment */
    int64_t listed_dur;      /* ticks: sum of the listed segments' durations */
    int64_t disc_seq;        /* EXT-X-DISCONTINUITY tags that left the playlist */

    /* ---- the producer thread's own ---- */
    VpChunk **open;          /* the open segment: references to the ring's chunks */
    int nb_open, open_cap;
    size_t open_bytes;
    int have_open;
    int64_t open_pts;
    int open_discont;
    int cand;                /* index in open of the last key where it may end, or -1 */
    int64_t cand_pts;
    int started;             /* a segment was ever opened (the first is no discontinuity) */
    int next_discont;        /* data was lost: the next segment starts a discontinuity */
    int64_t last_key_pts;
    int have_last_key;
    int64_t gops[GOP_HISTORY];
    int nb_gops, gop_pos;
    int warned_long_gop, warned_backwards, warned_lost;
};

static const HlsSegment *seg_at(const VpiHls *h, int64_t seq)
{
    int64_t oldest = h->count ? h->segs[h->head].seq : h->next_seq;
    if (seq < oldest || seq >= oldest + h->count)
        return NULL;
    return &h->segs[(h->head + (int)(seq - oldest)) % h->cap];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b && (a < 0) != (b < 0)) ? q - 1 : q;
}

int vpi_hls_new(const VpiHlsOpts *o, VpiHls **out)
{
    VpiHls *h;
    VpiHlsOpts opts = *o;

    *out = NULL;
    if (opts.target == 0)
        opts.target = 6;
    if (opts.window == 0)
        opts.window = 6;
    if (opts.keep == 0)
        opts.keep = 4;
    if (!(opts.target > 0 && opts.target <= 3600) || opts.window < 1 ||
        opts.window > 100000 || opts.keep < 0 || opts.keep > 100000)
        return AVERROR(EINVAL);
    h = calloc(1, sizeof(*h));
    if (!h)
        return AVERROR(ENOMEM);
    h->o = opts;
    h->target_dur = (int)ceil(opts.target - 1e-9);
    /* A segment stays within target, plus 0.1 %: NTSC rates run 1000/1001 of the nominal,
     * so three 2-second GOPs at 29.97 fps last 6.006 s and still make one 6 s segment
     * (EXTINF 6.006 rounds to 6: RFC 8216 4.3.3.1 compares the rounded duration). */
    h->limit = llround(opts.target * VPI_TICKS);
    h->limit += (h->limit + 999) / 1000;
    h->cap = opts.window + opts.keep + 4;
    h->segs = calloc(h->cap, sizeof(*h->segs));
    h->cand = -1;
    if (!h->segs || pthread_mutex_init(&h->lock, NULL)) {
        free(h->segs);
        free(h);
        return AVERROR(ENOMEM);
    }
    *out = h;
    return 0;
}

void vpi_hls_free(VpiHls **ph)
{
    VpiHls *h = ph ? *ph : NULL;
    if (!h)
        return;
    for (int i = 0; i < h->count; i++)
        vp_chunk_unref(&h->segs[(h->head + i) % h->cap].data);
    for (int i = 0; i < h->nb_open; i++)
        vp_chunk_unref(&h->open[i]);
    free(h->open);
    free(h->segs);
    pthread_mutex_destroy(&h->lock);
    free(h);
    *ph = NULL;
}

/* ---- the published window (under the lock) ---- */

static int ring_grow(VpiHls *h)
{
    int cap = h->cap * 2;
    HlsSegment *s = malloc((size_t)cap * sizeof(*s));
    if (!s)
        return AVERROR(ENOMEM);
    for (int i = 0; i < h->count; i++)
        s[i] = h->segs[(h->head + i) % h->cap];
    free(h->segs);
    h->segs = s;
    h->cap = cap;
    h->head = 0;
    return 0;
}

/* Slide the playlist's start forward as far as RFC 8216 6.2.2 lets it (at least `window`
 * segments and three target durations stay listed), then free what no client may still
 * ask for: a segment that left is served for `keep` more segments, and for at least its
 * duration plus that of the longest playlist that listed it (6.2.2 again), on the channel
 * clock. */
static void window_update(VpiHls *h)
{
    const HlsSegment *last = seg_at(h, h->next_seq - 1);
    int64_t now = last->pts + last->duration;
    int64_t min_dur = (int64_t)3 * h->target_dur * VPI_TICKS;

    while (h->next_seq - (h->first_listed + 1) >= h->o.window) {
        HlsSegment *f = (HlsSegment *)seg_at(h, h->first_listed);
        if (h->listed_dur - f->duration < min_dur)
            break;
        f->left_at = now;
        h->disc_seq += f->discont;
        h->listed_dur -= f->duration;
        h->first_listed++;
    }
    for (int64_t seq = h->first_listed; seq < h->next_seq; seq++) {
        HlsSegment *s = (HlsSegment *)seg_at(h, seq);
        if (s->longest < h->listed_dur)
            s->longest = h->listed_dur;
    }
    while (h->count) {
        HlsSegment *s = &h->segs[h->head];
        if (s->left_at < 0 || h->first_listed - s->seq <= h->o.keep ||
            now < s->left_at + s->duration + s->longest)
            break;
        vp_chunk_unref(&s->data);
        h->head = (h->head + 1) % h->cap;
        h->count--;
    }
}

static int publish(VpiHls *h, VpChunk *data, int64_t pts, int64_t duration, int discont)
{
    int ret = 0;
    HlsSegment *s;

    pthread_mutex_lock(&h->lock);
    if (h->count == h->cap && (ret = ring_grow(h)) < 0)
        goto end;
    s = &h->segs[(h->head + h->count) % h->cap];
    s->seq = h->next_seq++;
    s->pts = pts;
    s->duration = duration;
    s->discont = discont;
    s->left_at = -1;
    s->longest = 0;
    s->data = data;
    data->seq = s->seq;
    h->count++;
    h->listed_dur += duration;
    window_update(h);
end:
    pthread_mutex_unlock(&h->lock);
    return ret;
}

/* ---- the producer's side: cutting ---- */

static int64_t gop_min(const VpiHls *h)
{
    int64_t m = 0;
    for (int i = 0; i < h->nb_gops; i++)
        if (i == 0 || h->gops[i] < m)
            m = h->gops[i];
    return m;
}

static void drop_open(VpiHls *h, int n)
{
    for (int i = 0; i < n; i++) {
        h->open_bytes -= h->open[i]->size;
        vp_chunk_unref(&h->open[i]);
    }
    memmove(h->open, h->open + n, (size_t)(h->nb_open - n) * sizeof(*h->open));
    h->nb_open -= n;
}

static void lost(VpiHls *h, const char *why)
{
    if (!h->warned_lost++)
        vpi_log(&h->o.logger, VP_LOG_ERROR, "HLS window: %s: a segment was dropped "
                "(a discontinuity follows)", why);
}

/* Close the open segment before open[n] (a key at @p next_pts, or the key being added when
 * n == nb_open): its bytes become one chunk and it joins the published window. */
static void close_at(VpiHls *h, int n, int64_t next_pts)
{
    size_t size = 0;
    VpChunk *seg;
    int discont = h->open_discont;

    for (int i = 0; i < n; i++)
        size += h->open[i]->size;
    seg = vpi_chunk_new(size);
    if (seg) {
        uint8_t *p = seg->data;
        for (int i = 0; i < n; i++) {
            memcpy(p, h->open[i]->data, h->open[i]->size);
            p += h->open[i]->size;
        }
        seg->flags = VPI_CHUNK_KEY | (discont ? VPI_CHUNK_DISCONT : 0);
        seg->pts = h->open_pts;
        if (publish(h, seg, h->open_pts, next_pts - h->open_pts, discont) < 0) {
            vp_chunk_unref(&seg);
            lost(h, "out of memory");
        }
    } else {
        lost(h, "out of memory");
    }
    drop_open(h, n);
    h->cand = -1;
    h->open_discont = !seg;
    h->open_pts = next_pts;
    if (!h->nb_open) {
        h->have_open = 0;
        h->next_discont |= !seg;
    }
}

/* Key @p pts arrives while a segment is open: end it here, or at the previous key when
 * this GOP overflowed it, or keep going. The length of the GOP starting here is unknown
 * until the next key, so the cut is made eagerly when even the shortest recent GOP would
 * not fit, and otherwise one key late (the previous key is remembered as cand). */
static void cut_before_key(VpiHls *h, int64_t pts, int discont)
{
    int64_t span = pts - h->open_pts;

    if (h->cand >= 0 && span > h->limit) {
        close_at(h, h->cand, h->cand_pts);
        span = pts - h->open_pts;
    }
    if (span > h->limit) {
        if (!h->warned_long_gop++)
            vpi_log(&h->o.logger, VP_LOG_WARNING, "HLS window: the GOP at %.3f s lasts "
                    "%.3f s, longer than the %d s target duration: its segment is that one "
                    "GOP (EXTINF above EXT-X-TARGETDURATION)", h->open_pts / (double)VPI_TICKS,
                    span / (double)VPI_TICKS, h->target_dur);
        close_at(h, h->nb_open, pts);
        return;
    }
    if (discont || span >= h->limit || span + gop_min(h) > h->limit) {
        close_at(h, h->nb_open, pts);
        return;
    }
    h->cand = h->nb_open;
    h->cand_pts = pts;
}

void vpi_hls_add(VpiHls *h, VpChunk *c)
{
    if (!h || !c)
        return;
    if (c->flags & VPI_CHUNK_KEY) {
        int64_t pts = c->pts;
        int discont = !!(c->flags & VPI_CHUNK_DISCONT);
        if (h->have_last_key && pts < h->last_key_pts) {
            /* the channel clock never goes back; if it did, dates must not */
            if (!h->warned_backwards++)
                vpi_log(&h->o.logger, VP_LOG_ERROR, "HLS window: a key at %.3f s comes "
                        "before the previous one at %.3f s; dated as that one",
                        pts / (double)VPI_TICKS, h->last_key_pts / (double)VPI_TICKS);
            pts = h->last_key_pts;
        }
        if (h->have_last_key) {
            h->gops[h->gop_pos] = pts - h->last_key_pts;
            h->gop_pos = (h->gop_pos + 1) % GOP_HISTORY;
            if (h->nb_gops < GOP_HISTORY)
                h->nb_gops++;
        }
        h->last_key_pts = pts;
        h->have_last_key = 1;
        if (h->have_open)
            cut_before_key(h, pts, discont);
        if (!h->have_open) {
            h->have_open = 1;
            h->open_pts = pts;
            h->open_discont = h->started && (discont || h->next_discont);
            h->next_discont = 0;
            h->started = 1;
            h->cand = -1;
        }
    } else if (!h->have_open) {
        return;              /* before the first key, or after lost data: no segment */
    }

    if (h->nb_open == h->open_cap) {
        int cap = h->open_cap ? h->open_cap * 2 : 64;
        VpChunk **n = realloc(h->open, (size_t)cap * sizeof(*n));
        if (!n)
            goto lose;
        h->open = n;
        h->open_cap = cap;
    }
    if (h->open_bytes + c->size > OPEN_MAX_BYTES)
        goto lose;
    h->open[h->nb_open++] = vp_chunk_ref(c);
    h->open_bytes += c->size;
    return;

lose:
    lost(h, h->open_bytes + c->size > OPEN_MAX_BYTES ? "no key for 128 MiB" : "out of memory");
    drop_open(h, h->nb_open);
    h->have_open = 0;
    h->cand = -1;
    h->next_discont = 1;
}

/* ---- readers ---- */

/* "2026-01-01T00:00:00.000Z": the wall time of channel clock @p pts, to the nearest ms. */
static void format_date(char *buf, size_t size, int64_t origin_us, int64_t pts)
{
    int64_t ms = floor_div(origin_us + vpi_ticks_to_us(pts) + 500, 1000);
    time_t secs = (time_t)floor_div(ms, 1000);
    struct tm tm;

    if (!gmtime_r(&secs, &tm))
        memset(&tm, 0, sizeof(tm));
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ms - (int64_t)secs * 1000));
}

typedef struct Text {
    char *buf;
    size_t size, len;
} Text;

static void VPI_PRINTF(2, 3) text_add(Text *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (t->len >= t->size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    t->len = n < 0 ? t->size : t->len + (size_t)n;
}

int vpi_hls_playlist(VpiHls *h, const char *uri_prefix, char **text)
{
    int ret = 0;
    size_t plen;
    Text t = {0};

    *text = NULL;
    if (!uri_prefix)
        uri_prefix = "";
    plen = strlen(uri_prefix);
    if (plen > 4096)
        return AVERROR(EINVAL);

    pthread_mutex_lock(&h->lock);
    if (h->next_seq < 3) {
        ret = AVERROR(EAGAIN);
        goto end;
    }
    /* one allocation, sized before writing: the header, then per segment at most
     * DISCONTINUITY 22 + DATE-TIME 51 + EXTINF 34 + URI (prefix + 24) */
    t.size = 256 + (size_t)(h->next_seq - h->first_listed) * (160 + plen);
    t.buf = malloc(t.size);
    if (!t.buf) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    text_add(&t, "#EXTM3U\n"
                 "#EXT-X-VERSION:3\n"
                 "#EXT-X-TARGETDURATION:%d\n"
                 "#EXT-X-MEDIA-SEQUENCE:%" PRId64 "\n"
                 "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRId64 "\n"
                 "#EXT-X-INDEPENDENT-SEGMENTS\n",
             h->target_dur, h->first_listed, h->disc_seq);
    for (int64_t seq = h->first_listed; seq < h->next_seq; seq++) {
        const HlsSegment *s = seg_at(h, seq);
        int64_t ms = (s->duration * 1000 + VPI_TICKS / 2) / VPI_TICKS;
        char date[64];
        format_date(date, sizeof(date), h->o.origin_us, s->pts);
        text_add(&t, "%s#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:%" PRId64 ".%03d,\n%s%" PRId64
                 ".ts\n", s->discont ? "#EXT-X-DISCONTINUITY\n" : "", date, ms / 1000,
                 (int)(ms % 1000), uri_prefix, seq);
    }
    if (t.len >= t.size) {       /* cannot happen with dates before year 10000 */
        free(t.buf);
        t.buf = NULL;
        ret = AVERROR(ERANGE);
    }
end:
    pthread_mutex_unlock(&h->lock);
    *text = t.buf;
    return ret;
}

int vpi_hls_segment(VpiHls *h, int64_t seq, VpChunk **seg)
{
    const HlsSegment *s;
    int ret = 0;

    *seg = NULL;
    pthread_mutex_lock(&h->lock);
    s = seg_at(h, seq);
    if (s)
        *seg = vp_chunk_ref(s->data);
    else
        ret = AVERROR(ENOENT);
    pthread_mutex_unlock(&h->lock);
    return ret;
}
