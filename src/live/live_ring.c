/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The channel's output: a ring of refcounted chunks that one producer appends to and any
 * number of viewers read from, each at its own position (a sequence number). A viewer
 * holds no bytes of its own: it takes a reference to the ring's chunk, so 500 viewers cost
 * 500 positions, not 500 copies. The producer never waits for a viewer: the ring drops its
 * oldest chunks by time, and a viewer whose next chunk is gone is told VP_ERR_BEHIND. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "common/helpers.h"
#include "live.h"
#include "util/internal.h"

/* Chunks the ring holds at most whatever their times (a stream without keyframes, or
 * with timestamps that never advance, must not grow memory without end): at 25 chunks a
 * second, 45 minutes. */
#define MAX_CHUNKS (1 << 16)

struct VpViewer {
    VpiLiveOut *o;
    VpViewerNotify fn;
    void *opaque;
    int64_t next;            /* sequence number of the next chunk to hand out */
    int need_key;            /* opened before the ring had a key: skip to the first one */
    VpViewer *prev, *nextv;
};

typedef struct Notify {
    VpViewerNotify fn;
    void *opaque;
} Notify;

struct VpiLiveOut {
    int refs;                /* atomic */
    pthread_mutex_t lock;
    pthread_cond_t cond;     /* signalled when a notify pass ends */
    VpiLiveOutOpts o;

    VpChunk **q;             /* circular: q[(head + i) % cap], i < n */
    size_t cap, head, n;
    int64_t first_seq;       /* seq of q[head] */
    int ended;

    VpViewer *viewers;
    int nb_viewers;
    int notifying;           /* notify passes running without the lock */
    int64_t bytes;
    int64_t idle_since;

    pthread_mutex_t notify_lock;    /* one notify pass at a time: it owns snap */
    Notify *snap;            /* the pass's copy of the viewers' callbacks */
    int snap_cap;
};

static VpChunk *at(const VpiLiveOut *o, size_t i)
{
    return o->q[(o->head + i) % o->cap];
}

int vpi_liveout_new(const VpiLiveOutOpts *opts, VpiLiveOut **out)
{
    *out = NULL;
    if (!opts || !(opts->ring_seconds >= 10) || !(opts->burst_behind >= 0) ||
        opts->burst_behind >= opts->ring_seconds)
        return AVERROR(EINVAL);
    VpiLiveOut *o = calloc(1, sizeof(*o));
    if (!o)
        return AVERROR(ENOMEM);
    o->refs = 1;
    o->o = *opts;
    o->cap = 256;
    o->idle_since = vpi_now_us();
    if (!(o->q = calloc(o->cap, sizeof(*o->q)))) {
        free(o);
        return AVERROR(ENOMEM);
    }
    pthread_mutex_init(&o->lock, NULL);
    pthread_mutex_init(&o->notify_lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    *out = o;
    return 0;
}

VpiLiveOut *vpi_liveout_ref(VpiLiveOut *o)
{
    if (o)
        __atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
    return o;
}

void vpi_liveout_unref(VpiLiveOut **po)
{
    VpiLiveOut *o = po ? *po : NULL;
    if (!o)
        return;
    *po = NULL;
    if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < o->n; i++) {
        VpChunk *c = at(o, i);
        vp_chunk_unref(&c);
    }
    free(o->q);
    free(o->snap);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->notify_lock);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

static void drop_front(VpiLiveOut *o)
{
    VpChunk *c = o->q[o->head];
    o->q[o->head] = NULL;
    vp_chunk_unref(&c);
    o->head = (o->head + 1) % o->cap;
    o->n--;
    o->first_seq++;
}

/* Keep ring_seconds behind the newest chunk, and back to the key before that (so a viewer
 * at the tail still starts on a key): drop everything before the last key chunk whose pts
 * is at least ring_seconds older than the newest. */
static void trim(VpiLiveOut *o)
{
    if (!o->n)
        return;
    int64_t limit = at(o, o->n - 1)->pts - (int64_t)(o->o.ring_seconds * VPI_TICKS);
    size_t cut = 0;
    for (size_t i = 1; i < o->n; i++) {
        const VpChunk *c = at(o, i);
        if (c->pts > limit)
            break;
        if (c->flags & VPI_CHUNK_KEY)
            cut = i;
    }
    while (cut-- > 0)
        drop_front(o);
    while (o->n > MAX_CHUNKS)
        drop_front(o);
}

static int grow(VpiLiveOut *o)
{
    size_t cap = o->cap * 2;
    VpChunk **q = calloc(cap, sizeof(*q));
    if (!q)
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < o->n; i++)
        q[i] = at(o, i);
    free(o->q);
    o->q = q;
    o->cap = cap;
    o->head = 0;
    return 0;
}

/* Call every viewer's notify without the lock (a notify may call viewer_next at once);
 * viewer_close waits for a running pass, so no callback runs after its viewer closed. */
static int notify_all(VpiLiveOut *o)
{
    int nb = 0, ret = 0;
    pthread_mutex_lock(&o->notify_lock);
    pthread_mutex_lock(&o->lock);
    if (o->nb_viewers > o->snap_cap) {
        Notify *s = realloc(o->snap, (size_t)o->nb_viewers * 2 * sizeof(*s));
        if (!s) {
            pthread_mutex_unlock(&o->lock);
            ret = AVERROR(ENOMEM);
            goto end;
        }
        o->snap = s;
        o->snap_cap = o->nb_viewers * 2;
    }
    for (VpViewer *v = o->viewers; v; v = v->nextv)
        if (v->fn)
            o->snap[nb++] = (Notify){ v->fn, v->opaque };
    if (nb)
        o->notifying++;
    pthread_mutex_unlock(&o->lock);
    if (!nb)
        goto end;
    for (int i = 0; i < nb; i++)
        o->snap[i].fn(o->snap[i].opaque);
    pthread_mutex_lock(&o->lock);
    o->notifying--;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
end:
    pthread_mutex_unlock(&o->notify_lock);
    return ret;
}

int vpi_liveout_push(VpiLiveOut *o, const uint8_t *data, size_t size, int flags, int64_t pts)
{
    VpChunk *c = vpi_chunk_new(size);
    if (!c)
        return AVERROR(ENOMEM);
    memcpy(c->data, data, size);
    c->flags = flags;
    c->pts = pts;

    pthread_mutex_lock(&o->lock);
    if (o->ended) {
        pthread_mutex_unlock(&o->lock);
        vp_chunk_unref(&c);
        return AVERROR_EOF;
    }
    if (o->n == o->cap) {
        int ret = grow(o);
        if (ret < 0) {
            pthread_mutex_unlock(&o->lock);
            vp_chunk_unref(&c);
            return ret;
        }
    }
    c->seq = o->first_seq + (int64_t)o->n;
    o->q[(o->head + o->n) % o->cap] = c;
    o->n++;
    o->bytes += (int64_t)size;
    trim(o);
    /* the HLS feed borrows the chunk: keep one reference across the unlocked call */
    VpChunk *hook = o->o.on_chunk ? vp_chunk_ref(c) : NULL;
    pthread_mutex_unlock(&o->lock);

    if (hook) {
        o->o.on_chunk(o->o.on_chunk_opaque, hook);
        vp_chunk_unref(&hook);
    }
    return notify_all(o);
}

void vpi_liveout_end(VpiLiveOut *o)
{
    pthread_mutex_lock(&o->lock);
    o->ended = 1;
    pthread_mutex_unlock(&o->lock);
    notify_all(o);
}

int vpi_liveout_viewer_open(VpiLiveOut *o, VpViewerNotify fn, void *opaque, VpViewer **out)
{
    VpViewer *v = calloc(1, sizeof(*v));
    *out = NULL;
    if (!v)
        return AVERROR(ENOMEM);
    v->o = vpi_liveout_ref(o);
    v->fn = fn;
    v->opaque = opaque;

    pthread_mutex_lock(&o->lock);
    /* the latest key at least burst_behind behind the newest chunk, else the oldest key */
    int64_t start = -1;
    if (o->n) {
        int64_t limit = at(o, o->n - 1)->pts - (int64_t)(o->o.burst_behind * VPI_TICKS);
        for (size_t i = 0; i < o->n; i++) {
            const VpChunk *c = at(o, i);
            if (!(c->flags & VPI_CHUNK_KEY))
                continue;
            if (start < 0 || c->pts <= limit)
                start = c->seq;
            if (c->pts > limit)
                break;
        }
    }
    if (start < 0) {
        v->next = o->first_seq + (int64_t)o->n;
        v->need_key = 1;
    } else {
        v->next = start;
    }
    v->nextv = o->viewers;
    if (o->viewers)
        o->viewers->prev = v;
    o->viewers = v;
    o->nb_viewers++;
    o->idle_since = 0;
    pthread_mutex_unlock(&o->lock);
    *out = v;
    return 0;
}

int vpi_liveout_viewer_next(VpViewer *v, VpChunk **c)
{
    VpiLiveOut *o = v->o;
    int ret = 0;
    *c = NULL;
    pthread_mutex_lock(&o->lock);
    if (v->next < o->first_seq) {
        ret = VP_ERR_BEHIND;
        goto end;
    }
    while (v->next < o->first_seq + (int64_t)o->n) {
        VpChunk *ch = at(o, (size_t)(v->next - o->first_seq));
        v->next++;
        if (v->need_key && !(ch->flags & VPI_CHUNK_KEY))
            continue;
        v->need_key = 0;
        *c = vp_chunk_ref(ch);
        ret = 1;
        goto end;
    }
    ret = o->ended ? AVERROR_EOF : 0;
end:
    pthread_mutex_unlock(&o->lock);
    if (ret == VP_ERR_BEHIND)
        vpi_log(&o->o.logger, VP_LOG_WARNING,
                "viewer fell behind the ring (its next chunk %lld left it; oldest %lld)",
                (long long)v->next, (long long)o->first_seq);
    return ret;
}

void vpi_liveout_viewer_close(VpViewer **pv)
{
    VpViewer *v = pv ? *pv : NULL;
    if (!v)
        return;
    *pv = NULL;
    VpiLiveOut *o = v->o;
    pthread_mutex_lock(&o->lock);
    if (v->prev)
        v->prev->nextv = v->nextv;
    else
        o->viewers = v->nextv;
    if (v->nextv)
        v->nextv->prev = v->prev;
    if (--o->nb_viewers == 0)
        o->idle_since = vpi_now_us();
    while (o->notifying)
        pthread_cond_wait(&o->cond, &o->lock);
    pthread_mutex_unlock(&o->lock);
    free(v);
    vpi_liveout_unref(&o);
}

int vpi_liveout_viewers(VpiLiveOut *o)
{
    pthread_mutex_lock(&o->lock);
    int n = o->nb_viewers;
    pthread_mutex_unlock(&o->lock);
    return n;
}

int64_t vpi_liveout_bytes(VpiLiveOut *o)
{
    pthread_mutex_lock(&o->lock);
    int64_t b = o->bytes;
    pthread_mutex_unlock(&o->lock);
    return b;
}

int64_t vpi_liveout_idle_since(VpiLiveOut *o)
{
    pthread_mutex_lock(&o->lock);
    int64_t t = o->idle_since;
    pthread_mutex_unlock(&o->lock);
    return t;
}
