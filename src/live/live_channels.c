/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The channels API (vidpipe/channels.h): owns the config, the ingest workers, each
 * channel's schedules and its producer, and ties them together.
 *
 * Schedules change while a channel plays (an item becomes ready, a file breaks, the ads
 * are replaced, the config is reloaded). A change never rewrites what a producer has been
 * handed: the channel keeps a list of epochs, each a schedule valid from its anchor tick on,
 * and a new epoch is anchored after the last slot handed out (or after the break it is
 * in), so the running part or break plays out as it started. One mutex per VpChannels
 * guards everything here; the producers, ring and HLS window have their own. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <libavutil/error.h>

#include "common/helpers.h"
#include "live.h"
#include "util/internal.h"

#define MAX_EPOCHS 8
#define SUPERVISE_US 200000        /* producers started/stopped at this period */

enum { ITEM_PENDING, ITEM_READY, ITEM_FAILED };

typedef struct Item {
    VpiLiveItemCfg cfg;            /* owned copies */
    int state;
    VpiLiveMedia *media;
    int want_breaks;
} Item;

typedef struct Epoch {
    int64_t from;                  /* channel tick where it takes over */
    VpiSchedule *sched;
} Epoch;

typedef struct Channel {
    struct VpChannels *owner;
    VpiChannelCfg cfg;             /* number, name, settings (items/ads arrays unused) */
    VpiLiveFormat format;
    int format_known;
    int64_t origin_us;
    Item *eps;
    int nb_eps;
    Item *ads;
    int nb_ads;
    Epoch epochs[MAX_EPOCHS];
    int nb_epochs;
    int dirty;                     /* items changed: rebuild the schedule */
    int64_t last_given;            /* start tick of the last slot handed to the producer, or
                                      INT64_MIN */
    VpiLiveOut *out;
    VpiHls *hls;
    VpiProducer *prod;
    int64_t hls_touch;             /* monotonic µs of the last playlist/segment request */
    int removed;
} Channel;

typedef struct Job {
    Channel *ch;
    int ad;                        /* 1: ads[index], 0: eps[index] */
    int index;
} Job;

struct VpChannels {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    VpChannelsOpts opts;
    char *config_path;
    char *cache_dir;
    int64_t started_us;
    Channel **ch;
    int nb_ch;
    Channel **retired;             /* removed by a reload; freed at close */
    int nb_retired;
    Job *jobs;
    int nb_jobs, cap_jobs;
    int busy;                      /* ingest jobs running */
    pthread_t *workers;
    int nb_workers;
    pthread_t supervisor;
    int supervisor_started;
    int closing;
};

static int64_t wall_us(const VpChannels *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec + c->opts.now_offset_us;
}

int64_t vp_channels_now_us(const VpChannels *c)
{
    return wall_us(c);
}

void vp_channels_default_opts(VpChannelsOpts *o)
{
    memset(o, 0, sizeof(*o));
    o->ingest_threads = 2;
}

static void fail_set(VpFailure *f, int code, const char *path, const char *fmt, ...)
    VPI_PRINTF(4, 5);
static void fail_set(VpFailure *f, int code, const char *path, const char *fmt, ...)
{
    if (!f)
        return;
    f->code = code;
    f->input = -1;
    snprintf(f->path, sizeof(f->path), "%s", path ? path : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
}

static void fail_clear(VpFailure *f)
{
    if (f) {
        memset(f, 0, sizeof(*f));
        f->input = -1;
    }
}

/* ---- items -------------------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int item_copy(Item *it, const VpiLiveItemCfg *cfg)
{
    memset(it, 0, sizeof(*it));
    it->cfg.file = dup_or_null(cfg->file);
    it->cfg.path = dup_or_null(cfg->path);
    it->cfg.title = dup_or_null(cfg->title);
    it->cfg.breaks_auto = cfg->breaks_auto;
    it->want_breaks = cfg->breaks_auto;
    if (cfg->nb_breaks) {
        it->cfg.breaks = malloc(sizeof(double) * cfg->nb_breaks);
        if (!it->cfg.breaks)
            return AVERROR(ENOMEM);
        memcpy(it->cfg.breaks, cfg->breaks, sizeof(double) * cfg->nb_breaks);
        it->cfg.nb_breaks = cfg->nb_breaks;
    }
    if (!it->cfg.file || !it->cfg.path || !it->cfg.title)
        return AVERROR(ENOMEM);
    return 0;
}

static void item_free(Item *it)
{
    free(it->cfg.file);
    free(it->cfg.path);
    free(it->cfg.title);
    free(it->cfg.breaks);
    vpi_live_media_unref(&it->media);
    memset(it, 0, sizeof(*it));
}

static int same_item_cfg(const VpiLiveItemCfg *a, const VpiLiveItemCfg *b)
{
    if (strcmp(a->path, b->path) || strcmp(a->title, b->title) ||
        a->breaks_auto != b->breaks_auto || a->nb_breaks != b->nb_breaks)
        return 0;
    for (int i = 0; i < a->nb_breaks; i++)
        if (a->breaks[i] != b->breaks[i])
            return 0;
    return 1;
}

/* ---- epochs ------------------------------------------------------------------------------- */

static void epochs_clear(Channel *ch)
{
    for (int i = 0; i < ch->nb_epochs; i++)
        vpi_schedule_free(&ch->epochs[i].sched);
    ch->nb_epochs = 0;
}

/* The epoch in force at @p tick (the last one starting at or before it). */
static const Epoch *epoch_at(const Channel *ch, int64_t tick)
{
    const Epoch *e = NULL;
    for (int i = 0; i < ch->nb_epochs; i++)
        if (ch->epochs[i].from <= tick || !e)
            e = &ch->epochs[i];
    return e;
}

/* The slot at @p tick across epochs. */
static int slot_at(const Channel *ch, int64_t tick, VpiSlot *s)
{
    const Epoch *e = epoch_at(ch, tick);
    if (!e)
        return AVERROR(EAGAIN);
    if (tick < e->from)
        tick = e->from;
    return vpi_schedule_at(e->sched, tick, s);
}

/* The slot after @p cur across epochs: an epoch that starts where @p cur ends takes over. */
static int slot_next(const Channel *ch, const VpiSlot *cur, VpiSlot *s)
{
    int64_t end = cur->start + (cur->to - cur->from);
    const Epoch *ecur = epoch_at(ch, cur->start);
    const Epoch *enext = epoch_at(ch, end);
    if (enext != ecur && enext->from >= end - 1 && enext->from <= end + 1)
        return vpi_schedule_at(enext->sched, enext->from, s);
    if (enext != ecur)      /* a later epoch anchored mid-slot: it starts at its anchor */
        return vpi_schedule_at(enext->sched, enext->from, s);
    vpi_schedule_next(ecur->sched, cur, s);
    return 0;
}

static int build_schedule(Channel *ch, const VpiSchedAnchor *anchor, VpiSchedule **out)
{
    VpiSchedEpisode *eps = calloc(ch->nb_eps ? ch->nb_eps : 1, sizeof(*eps));
    VpiSchedAd *ads = calloc(ch->nb_ads ? ch->nb_ads : 1, sizeof(*ads));
    double **tmp_breaks = calloc(ch->nb_eps ? ch->nb_eps : 1, sizeof(*tmp_breaks));
    int n = 0, na = 0, ret;
    if (!eps || !ads || !tmp_breaks) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int i = 0; i < ch->nb_eps; i++) {
        Item *it = &ch->eps[i];
        if (it->state != ITEM_READY)
            continue;
        eps[n].media = it->media;
        eps[n].title = it->cfg.title;
        eps[n].file = it->cfg.file;
        if (it->cfg.breaks_auto) {
            tmp_breaks[n] = malloc(sizeof(double) * (it->media->nb_auto_breaks + 1));
            if (!tmp_breaks[n]) {
                ret = AVERROR(ENOMEM);
                goto end;
            }
            for (int b = 0; b < it->media->nb_auto_breaks; b++)
                tmp_breaks[n][b] = it->media->auto_breaks[b].at;
            eps[n].breaks = tmp_breaks[n];
            eps[n].nb_breaks = it->media->nb_auto_breaks;
        } else {
            eps[n].breaks = it->cfg.breaks;
            eps[n].nb_breaks = it->cfg.nb_breaks;
        }
        n++;
    }
    for (int i = 0; i < ch->nb_ads; i++) {
        Item *it = &ch->ads[i];
        if (it->state != ITEM_READY)
            continue;
        ads[na].media = it->media;
        ads[na].title = it->cfg.title;
        ads[na].file = it->cfg.file;
        na++;
    }
    if (!n) {
        ret = AVERROR(EAGAIN);
        goto end;
    }
    ret = vpi_schedule_new(eps, n, ads, na, ch->cfg.ads_per_break, anchor, out);
end:
    for (int i = 0; i < (ch->nb_eps ? ch->nb_eps : 1); i++)
        if (tmp_breaks)
            free(tmp_breaks[i]);
    free(tmp_breaks);
    free(eps);
    free(ads);
    return ret;
}

static int all_settled(const Channel *ch)
{
    for (int i = 0; i < ch->nb_eps; i++)
        if (ch->eps[i].state == ITEM_PENDING)
            return 0;
    for (int i = 0; i < ch->nb_ads; i++)
        if (ch->ads[i].state == ITEM_PENDING)
            return 0;
    return 1;
}

/* Rebuild a dirty channel's schedule (lock held). The first schedule starts at the origin;
 * after, a new epoch continues the last one after the slot handed out last (or its break),
 * or after the slot playing now when no producer runs: the guide already published does
 * not change. */
static void reschedule(VpChannels *c, Channel *ch)
{
    if (!ch->dirty)
        return;
    /* A schedule waits until every item was tried, so the guide does not change under a
     * viewer's eyes while short items finish ingesting: the first one, and one after a
     * reload too (else every file that finishes makes an epoch of its own, and a guide
     * read meanwhile, or a break handed out when the anchor comes first, has only the
     * items that happened to be ready). The old epochs play on until then. */
    if (!all_settled(ch))
        return;
    ch->dirty = 0;
    VpiSchedAnchor a = {0};
    VpiSchedule *s = NULL;
    if (!ch->nb_epochs) {
        if (build_schedule(ch, &a, &s) < 0) {
            if (!ch->nb_epochs)
                vpi_log(&c->opts.logger, VP_LOG_WARNING,
                        "channel %d: no episode can be played; the channel is off air",
                        ch->cfg.number);
            return;
        }
        epochs_clear(ch);
        ch->epochs[0].from = 0;
        ch->epochs[0].sched = s;
        ch->nb_epochs = 1;
        return;
    }
    VpiSlot cur;
    int64_t now = vpi_us_to_ticks(wall_us(c) - ch->origin_us);
    int64_t t = ch->last_given > now ? ch->last_given : now;
    if (slot_at(ch, t, &cur) < 0)
        return;
    const Epoch *e = epoch_at(ch, t);
    vpi_schedule_anchor_after(e->sched, &cur, &a);
    if (build_schedule(ch, &a, &s) < 0)
        return;
    if (ch->nb_epochs == MAX_EPOCHS) {
        /* the oldest epoch ended long ago: the producer is past it */
        vpi_schedule_free(&ch->epochs[0].sched);
        memmove(ch->epochs, ch->epochs + 1, sizeof(Epoch) * (MAX_EPOCHS - 1));
        ch->nb_epochs--;
    }
    /* an epoch at the same anchor replaces the one already waiting there */
    if (ch->epochs[ch->nb_epochs - 1].from == a.tick) {
        vpi_schedule_free(&ch->epochs[ch->nb_epochs - 1].sched);
        ch->nb_epochs--;
    }
    ch->epochs[ch->nb_epochs].from = a.tick;
    ch->epochs[ch->nb_epochs].sched = s;
    ch->nb_epochs++;
    vpi_log(&c->opts.logger, VP_LOG_INFO, "channel %d: schedule changes at %.3f s",
            ch->cfg.number, (double)(a.tick - now) / VPI_TICKS);
}

/* ---- ingest workers ---------------------------------------------------------------------- */

static int queue_job(VpChannels *c, Channel *ch, int ad, int index)
{
    if (c->nb_jobs == c->cap_jobs) {
        int cap = c->cap_jobs ? c->cap_jobs * 2 : 16;
        Job *j = realloc(c->jobs, sizeof(*j) * cap);
        if (!j)
            return AVERROR(ENOMEM);
        c->jobs = j;
        c->cap_jobs = cap;
    }
    c->jobs[c->nb_jobs++] = (Job){ch, ad, index};
    pthread_cond_broadcast(&c->wake);
    return 0;
}

static int cancel_ingest(void *opaque)
{
    VpChannels *c = opaque;
    return __atomic_load_n(&c->closing, __ATOMIC_RELAXED);
}

/* Ingest one file for @p ch (no lock held). */
static int ingest_file(VpChannels *c, Channel *ch, const char *path, int want_breaks,
                       VpiLiveMedia **m, char *why, size_t why_size)
{
    VpiLiveIngestOpts io = {
        .format = &ch->format,
        .loudness = ch->cfg.loudness,
        .cache_dir = c->cache_dir,
        .want_breaks = want_breaks,
        .logger = c->opts.logger,
        .cancel = {cancel_ingest, c},
    };
    return vpi_live_ingest(path, &io, m, why, why_size);
}

/* The first queued job that may run now (lock held), or -1. A channel without a "format"
 * takes its first episode's: until it is known, only that episode (or, when it failed, the
 * first episode not failed) may run, so neither a later episode nor an ad that happens to
 * finish first sets the format. */
static int runnable_job(const VpChannels *c)
{
    for (int k = 0; k < c->nb_jobs; k++) {
        const Job *j = &c->jobs[k];
        const Channel *ch = j->ch;
        if (ch->removed || ch->format_known)
            return k;
        int first = -1;
        for (int i = 0; i < ch->nb_eps && first < 0; i++)
            if (ch->eps[i].state != ITEM_FAILED)
                first = i;
        if (first < 0 || (!j->ad && j->index == first))
            return k;
    }
    return -1;
}

static void *worker_main(void *opaque)
{
    VpChannels *c = opaque;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        int k;
        while (!c->closing && (k = runnable_job(c)) < 0)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->closing)
            break;
        Job j = c->jobs[k];
        memmove(c->jobs + k, c->jobs + k + 1, sizeof(Job) * (size_t)(--c->nb_jobs - k));
        Channel *ch = j.ch;
        if (ch->removed)
            continue;
        Item *it = j.ad ? &ch->ads[j.index] : &ch->eps[j.index];
        char *path = strdup(it->cfg.path);
        int want = it->want_breaks;
        c->busy++;
        /* the channel format comes from the first episode that has one */
        int ret = 0;
        char why[1024] = "";
        if (!ch->format_known && !path) {
            ret = AVERROR(ENOMEM);
        } else if (!ch->format_known) {
            pthread_mutex_unlock(&c->lock);
            VpiLiveFormat f = {0};
            ret = vpi_live_format_of(path, &f, why, sizeof(why));
            pthread_mutex_lock(&c->lock);
            if (ret >= 0 && !ch->format_known) {
                ch->format = f;
                ch->format.set = 1;
                ch->format_known = 1;
                vpi_log(&c->opts.logger, VP_LOG_INFO,
                        "channel %d: format %dx%d %d/%d fps, %d Hz %d ch (from %s)",
                        ch->cfg.number, f.width, f.height, f.fps_num, f.fps_den,
                        f.sample_rate, f.channels, path);
            }
        }
        VpiLiveMedia *m = NULL;
        if (ret >= 0 && ch->format_known) {
            pthread_mutex_unlock(&c->lock);
            ret = ingest_file(c, ch, path, want, &m, why, sizeof(why));
            pthread_mutex_lock(&c->lock);
        } else if (ret >= 0) {
            ret = AVERROR(EINVAL);
            snprintf(why, sizeof(why), "%s: no channel format", path ? path : "?");
        }
        c->busy--;
        /* the item may have been replaced by a reload meanwhile: only a still pending item
         * with the same file takes the result */
        Item *now = NULL;
        if (!ch->removed) {
            int n = j.ad ? ch->nb_ads : ch->nb_eps;
            Item *arr = j.ad ? ch->ads : ch->eps;
            if (j.index < n && arr[j.index].state == ITEM_PENDING && path &&
                !strcmp(arr[j.index].cfg.path, path))
                now = &arr[j.index];
        }
        if (now) {
            if (ret >= 0) {
                now->media = m;
                m = NULL;
                now->state = ITEM_READY;
            } else {
                now->state = ITEM_FAILED;
                if (ret != VP_ERR_CANCELLED)
                    vpi_log(&c->opts.logger, VP_LOG_WARNING,
                            "channel %d: %s left out: %s", ch->cfg.number,
                            j.ad ? "ad" : "episode", why[0] ? why : vp_strerror(ret));
            }
            ch->dirty = 1;
            reschedule(c, ch);
        }
        vpi_live_media_unref(&m);
        free(path);
        pthread_cond_broadcast(&c->wake);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- the producer's source --------------------------------------------------------------- */

static int give(Channel *ch, const VpiSlot *s, VpiPlayItem *item)
{
    item->media = vpi_live_media_ref(s->media);
    item->from = s->from;
    item->to = s->to;
    item->start = s->start;
    ch->last_given = s->start;
    return 0;
}

static int src_first(void *opaque, int64_t tick, VpiPlayItem *item)
{
    Channel *ch = opaque;
    VpChannels *c = ch->owner;
    VpiSlot s;
    pthread_mutex_lock(&c->lock);
    int ret = slot_at(ch, tick, &s);
    if (ret >= 0)
        ret = give(ch, &s, item);
    pthread_mutex_unlock(&c->lock);
    return ret;
}

static int src_next(void *opaque, int64_t prev_start, VpiPlayItem *item)
{
    Channel *ch = opaque;
    VpChannels *c = ch->owner;
    VpiSlot cur, s;
    pthread_mutex_lock(&c->lock);
    int ret = slot_at(ch, prev_start, &cur);
    if (ret >= 0)
        ret = slot_next(ch, &cur, &s);
    if (ret >= 0)
        ret = give(ch, &s, item);
    pthread_mutex_unlock(&c->lock);
    return ret;
}

static void src_failed(void *opaque, VpiLiveMedia *media, const char *why)
{
    Channel *ch = opaque;
    VpChannels *c = ch->owner;
    pthread_mutex_lock(&c->lock);
    Item *lists[2] = {ch->eps, ch->ads};
    int nbs[2] = {ch->nb_eps, ch->nb_ads};
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < nbs[l]; i++)
            if (lists[l][i].media == media && lists[l][i].state == ITEM_READY) {
                lists[l][i].state = ITEM_FAILED;
                vpi_log(&c->opts.logger, VP_LOG_WARNING, "channel %d: %s left out: %s",
                        ch->cfg.number, lists[l][i].cfg.path, why);
                ch->dirty = 1;
            }
    reschedule(c, ch);
    pthread_mutex_unlock(&c->lock);
}

static void hls_feed(void *opaque, VpChunk *chunk)
{
    vpi_hls_add(opaque, chunk);
}

/* Longest GOP and largest B-frame delay of the channel's ready items. */
static void media_bounds(const Channel *ch, int64_t *gop, int64_t *reorder)
{
    *gop = 0;
    *reorder = 0;
    const Item *lists[2] = {ch->eps, ch->ads};
    int nbs[2] = {ch->nb_eps, ch->nb_ads};
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < nbs[l]; i++) {
            const VpiLiveMedia *m = lists[l][i].media;
            if (lists[l][i].state != ITEM_READY || !m)
                continue;
            if (m->max_gop > *gop)
                *gop = m->max_gop;
            if (m->reorder > *reorder)
                *reorder = m->reorder;
        }
}

/* Start @p ch's producer (lock held). */
static int producer_start(VpChannels *c, Channel *ch)
{
    if (ch->prod)
        return 0;
    if (!ch->nb_epochs)
        return AVERROR(EAGAIN);
    int64_t gop, reorder;
    media_bounds(ch, &gop, &reorder);
    VpiHlsOpts ho = {
        .origin_us = ch->origin_us,
        .target = fmax(2.0, ceil((double)gop / VPI_TICKS)),
        .window = 6,
        .keep = 4,
    };
    int ret = vpi_hls_new(&ho, &ch->hls);
    if (ret < 0)
        return ret;
    VpiLiveOutOpts oo = {
        .ring_seconds = 15,
        .burst_behind = 2,
        .on_chunk = hls_feed,
        .on_chunk_opaque = ch->hls,
        .logger = c->opts.logger,
    };
    ret = vpi_liveout_new(&oo, &ch->out);
    if (ret < 0)
        goto fail;
    VpiProducerOpts po = {
        .format = &ch->format,
        .origin_us = ch->origin_us,
        .now_offset_us = c->opts.now_offset_us,
        .preroll = ho.target * 4 + 2,
        .lead = 0.3,
        .reorder = reorder,
        .source = {src_first, src_next, src_failed, ch},
        .out = ch->out,
        .logger = c->opts.logger,
    };
    ret = vpi_producer_start(&po, &ch->prod);
    if (ret < 0)
        goto fail;
    ch->hls_touch = vpi_now_us();
    vpi_log(&c->opts.logger, VP_LOG_INFO, "channel %d: producer started", ch->cfg.number);
    return 0;
fail:
    vpi_liveout_unref(&ch->out);
    vpi_hls_free(&ch->hls);
    return ret;
}

/* Stop @p ch's producer. Called with the lock held; releases it while joining the thread,
 * since the producer's source callbacks take the lock. */
static void producer_stop(VpChannels *c, Channel *ch)
{
    if (!ch->prod)
        return;
    VpiProducer *p = ch->prod;
    VpiLiveOut *out = ch->out;
    VpiHls *hls = ch->hls;
    ch->prod = NULL;
    ch->out = NULL;
    ch->hls = NULL;
    pthread_mutex_unlock(&c->lock);
    vpi_producer_stop(&p);
    vpi_liveout_unref(&out);    /* viewers keep theirs until they close */
    vpi_hls_free(&hls);
    pthread_mutex_lock(&c->lock);
    ch->last_given = INT64_MIN;
    vpi_log(&c->opts.logger, VP_LOG_INFO, "channel %d: producer stopped", ch->cfg.number);
}

static void *supervisor_main(void *opaque)
{
    VpChannels *c = opaque;
    pthread_mutex_lock(&c->lock);
    while (!c->closing) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SUPERVISE_US * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&c->wake, &c->lock, &ts);
        if (c->closing)
            break;
        int64_t now = vpi_now_us();
        for (int i = 0; i < c->nb_ch; i++) {
            Channel *ch = c->ch[i];
            reschedule(c, ch);
            if (!ch->cfg.on_demand) {
                if (!ch->prod && ch->nb_epochs)
                    producer_start(c, ch);
                continue;
            }
            if (!ch->prod)
                continue;
            int64_t idle = vpi_liveout_idle_since(ch->out);
            int64_t limit = (int64_t)(ch->cfg.stop_after * 1e6);
            if (idle && now - idle >= limit && now - ch->hls_touch >= limit)
                producer_stop(c, ch);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- channels from config ---------------------------------------------------------------- */

static void channel_free(Channel *ch)
{
    if (!ch)
        return;
    for (int i = 0; i < ch->nb_eps; i++)
        item_free(&ch->eps[i]);
    for (int i = 0; i < ch->nb_ads; i++)
        item_free(&ch->ads[i]);
    free(ch->eps);
    free(ch->ads);
    epochs_clear(ch);
    free(ch->cfg.name);
    free(ch);
}

static int items_from(const VpiLiveItemCfg *cfg, int nb, Item **out, int *nb_out)
{
    Item *it = calloc(nb ? nb : 1, sizeof(*it));
    if (!it)
        return AVERROR(ENOMEM);
    for (int i = 0; i < nb; i++) {
        int ret = item_copy(&it[i], &cfg[i]);
        if (ret < 0) {
            for (int k = 0; k <= i; k++)
                item_free(&it[k]);
            free(it);
            return ret;
        }
    }
    *out = it;
    *nb_out = nb;
    return 0;
}

static int channel_new(VpChannels *c, const VpiChannelCfg *cfg, Channel **out)
{
    Channel *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return AVERROR(ENOMEM);
    ch->owner = c;
    ch->cfg = *cfg;
    ch->cfg.items = NULL;
    ch->cfg.ads = NULL;
    ch->cfg.name = strdup(cfg->name);
    ch->last_given = INT64_MIN;
    ch->origin_us = cfg->has_start ? cfg->start_us : c->started_us;
    if (ch->origin_us > wall_us(c)) {
        vpi_log(&c->opts.logger, VP_LOG_WARNING,
                "channel %d: start is in the future; the schedule begins now", cfg->number);
        ch->origin_us = wall_us(c);
    }
    if (cfg->format.set) {
        ch->format = cfg->format;
        ch->format_known = 1;
    }
    int ret = ch->cfg.name ? 0 : AVERROR(ENOMEM);
    if (ret >= 0)
        ret = items_from(cfg->items, cfg->nb_items, &ch->eps, &ch->nb_eps);
    if (ret >= 0)
        ret = items_from(cfg->ads, cfg->nb_ads, &ch->ads, &ch->nb_ads);
    if (ret < 0) {
        channel_free(ch);
        return ret;
    }
    ch->dirty = 1;
    *out = ch;
    return 0;
}

/* Queue every pending item of @p ch, episodes first (the first episode gives the format). */
static int queue_channel(VpChannels *c, Channel *ch)
{
    for (int i = 0; i < ch->nb_eps; i++)
        if (ch->eps[i].state == ITEM_PENDING && queue_job(c, ch, 0, i) < 0)
            return AVERROR(ENOMEM);
    for (int i = 0; i < ch->nb_ads; i++)
        if (ch->ads[i].state == ITEM_PENDING && queue_job(c, ch, 1, i) < 0)
            return AVERROR(ENOMEM);
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int vp_channels_open(const char *config_path, const VpChannelsOpts *opts, VpChannels **out,
                     VpFailure *fail)
{
    VpChannels *c = NULL;
    VpiLiveConfig cfg = {0};
    char why[1024];
    int ret;

    fail_clear(fail);
    *out = NULL;
    ret = vpi_live_config_load(config_path, &cfg, why, sizeof(why));
    if (ret < 0) {
        fail_set(fail, ret, config_path, "%s", why);
        return ret;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        vpi_live_config_free(&cfg);
        return AVERROR(ENOMEM);
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (opts)
        c->opts = *opts;
    else
        vp_channels_default_opts(&c->opts);
    if (c->opts.ingest_threads < 1 || c->opts.ingest_threads > 64) {
        ret = VP_ERR_BAD_OPTION;
        fail_set(fail, ret, "", "ingest_threads: must be 1..64, not %d",
                 c->opts.ingest_threads);
        goto fail;
    }
    c->started_us = wall_us(c);
    c->config_path = strdup(config_path);
    if (c->opts.cache_dir) {
        c->cache_dir = strdup(c->opts.cache_dir);
    } else {
        size_t n = strlen(config_path) + 8;
        c->cache_dir = malloc(n);
        if (c->cache_dir)
            snprintf(c->cache_dir, n, "%s.cache", config_path);
    }
    c->opts.cache_dir = c->cache_dir;
    if (!c->config_path || !c->cache_dir) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    ret = vpi_mkdir_p(c->cache_dir);
    if (ret < 0) {
        fail_set(fail, ret, c->cache_dir, "%s: cannot create the cache folder: %s",
                 c->cache_dir, vp_strerror(ret));
        goto fail;
    }
    c->ch = calloc(cfg.nb_channels ? cfg.nb_channels : 1, sizeof(*c->ch));
    if (!c->ch) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    for (int i = 0; i < cfg.nb_channels; i++) {
        ret = channel_new(c, &cfg.channels[i], &c->ch[i]);
        if (ret < 0)
            goto fail;
        c->nb_ch++;
        if ((ret = queue_channel(c, c->ch[i])) < 0)
            goto fail;
    }
    vpi_live_config_free(&cfg);
    c->workers = calloc(c->opts.ingest_threads, sizeof(pthread_t));
    if (!c->workers) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    for (int i = 0; i < c->opts.ingest_threads; i++) {
        if (pthread_create(&c->workers[i], NULL, worker_main, c))
            break;
        c->nb_workers++;
    }
    if (!c->nb_workers || pthread_create(&c->supervisor, NULL, supervisor_main, c)) {
        ret = AVERROR(EAGAIN);
        goto fail;
    }
    c->supervisor_started = 1;
    vpi_log(&c->opts.logger, VP_LOG_INFO, "%s: %d channel%s, cache %s",
            base_name(config_path), c->nb_ch, c->nb_ch == 1 ? "" : "s", c->cache_dir);
    *out = c;
    return 0;
fail:
    vpi_live_config_free(&cfg);
    vp_channels_close(&c);
    return ret;
}

void vp_channels_close(VpChannels **pc)
{
    VpChannels *c = pc ? *pc : NULL;
    if (!c)
        return;
    *pc = NULL;
    pthread_mutex_lock(&c->lock);
    __atomic_store_n(&c->closing, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
    for (int i = 0; i < c->nb_workers; i++)
        pthread_join(c->workers[i], NULL);
    if (c->supervisor_started)
        pthread_join(c->supervisor, NULL);
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nb_ch; i++)
        producer_stop(c, c->ch[i]);
    pthread_mutex_unlock(&c->lock);
    for (int i = 0; i < c->nb_ch; i++)
        channel_free(c->ch[i]);
    for (int i = 0; i < c->nb_retired; i++)
        channel_free(c->retired[i]);
    free(c->retired);
    free(c->ch);
    free(c->jobs);
    free(c->workers);
    free(c->config_path);
    free(c->cache_dir);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- reload and ad changes --------------------------------------------------------------- */

/* Replace @p *items with @p cfg, keeping the media (and state) of files that did not change. */
static int replace_items(Item **items, int *nb, const VpiLiveItemCfg *cfg, int nb_cfg,
                         int *changed)
{
    Item *fresh = NULL;
    int nb_fresh = 0;
    int ret = items_from(cfg, nb_cfg, &fresh, &nb_fresh);
    if (ret < 0)
        return ret;
    *changed = nb_fresh != *nb;
    for (int i = 0; i < nb_fresh; i++) {
        int kept = 0;
        for (int k = 0; k < *nb && !kept; k++) {
            Item *old = &(*items)[k];
            if (old->state != ITEM_PENDING && same_item_cfg(&old->cfg, &fresh[i].cfg)) {
                fresh[i].state = old->state;
                fresh[i].media = vpi_live_media_ref(old->media);
                kept = 1;
                if (k != i)
                    *changed = 1;
            }
        }
        if (!kept)
            *changed = 1;
    }
    for (int k = 0; k < *nb; k++)
        item_free(&(*items)[k]);
    free(*items);
    *items = fresh;
    *nb = nb_fresh;
    return 0;
}

int vp_channels_reload(VpChannels *c, VpFailure *fail)
{
    VpiLiveConfig cfg = {0};
    char why[1024];
    fail_clear(fail);
    int ret = vpi_live_config_load(c->config_path, &cfg, why, sizeof(why));
    if (ret < 0) {
        fail_set(fail, ret, c->config_path, "%s", why);
        return ret;
    }
    pthread_mutex_lock(&c->lock);
    Channel **next = calloc(cfg.nb_channels ? cfg.nb_channels : 1, sizeof(*next));
    if (!next) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    int nb_next = 0;
    for (int i = 0; i < cfg.nb_channels && ret >= 0; i++) {
        const VpiChannelCfg *nc = &cfg.channels[i];
        Channel *ch = NULL;
        for (int k = 0; k < c->nb_ch; k++)
            if (c->ch[k] && c->ch[k]->cfg.number == nc->number) {
                ch = c->ch[k];
                c->ch[k] = NULL;
            }
        if (!ch) {
            ret = channel_new(c, nc, &ch);
            if (ret >= 0) {
                next[nb_next++] = ch;
                ret = queue_channel(c, ch);
            }
            continue;
        }
        next[nb_next++] = ch;
        int ch_eps = 0, ch_ads = 0;
        ret = replace_items(&ch->eps, &ch->nb_eps, nc->items, nc->nb_items, &ch_eps);
        if (ret >= 0)
            ret = replace_items(&ch->ads, &ch->nb_ads, nc->ads, nc->nb_ads, &ch_ads);
        char *name = strdup(nc->name);
        if (name) {
            free(ch->cfg.name);
            ch->cfg.name = name;
        }
        int settings = ch->cfg.ads_per_break != nc->ads_per_break;
        ch->cfg.ads_per_break = nc->ads_per_break;
        ch->cfg.on_demand = nc->on_demand;
        ch->cfg.stop_after = nc->stop_after;
        ch->cfg.loudness = nc->loudness;
        if (ch_eps || ch_ads || settings) {
            ch->dirty = 1;
            if (ret >= 0)
                ret = queue_channel(c, ch);
            vpi_log(&c->opts.logger, VP_LOG_INFO, "channel %d: reloaded (%s%s%s)",
                    ch->cfg.number, ch_eps ? "episodes " : "", ch_ads ? "ads " : "",
                    settings ? "settings" : "");
        }
    }
    /* channels no longer in the config: their viewers' streams end */
    for (int k = 0; k < c->nb_ch; k++) {
        Channel *ch = c->ch[k];
        if (!ch)
            continue;
        ch->removed = 1;
        producer_stop(c, ch);
        Channel **r = realloc(c->retired, sizeof(*r) * (c->nb_retired + 1));
        if (r) {
            c->retired = r;
            c->retired[c->nb_retired++] = ch;
        }
        vpi_log(&c->opts.logger, VP_LOG_INFO, "channel %d: removed by reload", ch->cfg.number);
    }
    free(c->ch);
    c->ch = next;
    c->nb_ch = nb_next;
    for (int i = 0; i < c->nb_ch; i++)
        reschedule(c, c->ch[i]);
    pthread_cond_broadcast(&c->wake);
end:
    pthread_mutex_unlock(&c->lock);
    vpi_live_config_free(&cfg);
    if (ret < 0)
        fail_set(fail, ret, c->config_path, "%s: reload failed: %s", c->config_path,
                 vp_strerror(ret));
    return ret;
}

static Channel *find_locked(VpChannels *c, int number)
{
    for (int i = 0; i < c->nb_ch; i++)
        if (c->ch[i]->cfg.number == number)
            return c->ch[i];
    return NULL;
}

int vp_channels_set_ads(VpChannels *c, int number, const char *const *files, int nb,
                        VpFailure *fail)
{
    fail_clear(fail);
    if (nb < 0 || nb > 1000 || (nb && !files)) {
        fail_set(fail, VP_ERR_BAD_OPTION, "", "ads: between 0 and 1000 files");
        return VP_ERR_BAD_OPTION;
    }
    pthread_mutex_lock(&c->lock);
    Channel *ch = find_locked(c, number);
    int known = ch && ch->format_known;
    VpiLiveFormat fmt = ch ? ch->format : (VpiLiveFormat){0};
    double loud = ch ? ch->cfg.loudness : -23;
    pthread_mutex_unlock(&c->lock);
    if (!ch) {
        fail_set(fail, AVERROR(ENOENT), "", "no channel %d", number);
        return AVERROR(ENOENT);
    }
    if (!known) {
        fail_set(fail, AVERROR(EAGAIN), "", "channel %d is not on air yet", number);
        return AVERROR(EAGAIN);
    }
    char *dir = strdup(c->config_path);
    if (!dir)
        return AVERROR(ENOMEM);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = 0;
    else
        strcpy(dir, ".");
    VpiLiveItemCfg *cfgs = calloc(nb ? nb : 1, sizeof(*cfgs));
    VpiLiveMedia **media = calloc(nb ? nb : 1, sizeof(*media));
    int ret = cfgs && media ? 0 : AVERROR(ENOMEM);
    for (int i = 0; i < nb && ret >= 0; i++) {
        if (!files[i] || !files[i][0]) {
            ret = VP_ERR_BAD_OPTION;
            fail_set(fail, ret, "", "ads[%d]: an empty file name", i);
            break;
        }
        cfgs[i].file = strdup(files[i]);
        cfgs[i].path = vpi_live_resolve(dir, files[i]);
        const char *b = base_name(files[i]);
        cfgs[i].title = strdup(b);
        if (!cfgs[i].file || !cfgs[i].path || !cfgs[i].title) {
            ret = AVERROR(ENOMEM);
            break;
        }
        char *dot = strrchr(cfgs[i].title, '.');
        if (dot && dot != cfgs[i].title)
            *dot = 0;
        VpiLiveIngestOpts io = {
            .format = &fmt,
            .loudness = loud,
            .cache_dir = c->cache_dir,
            .logger = c->opts.logger,
            .cancel = {cancel_ingest, c},
        };
        char why[1024] = "";
        ret = vpi_live_ingest(cfgs[i].path, &io, &media[i], why, sizeof(why));
        if (ret < 0)
            fail_set(fail, ret, files[i], "%s", why[0] ? why : vp_strerror(ret));
    }
    if (ret >= 0) {
        pthread_mutex_lock(&c->lock);
        ch = find_locked(c, number);
        if (!ch) {
            ret = AVERROR(ENOENT);
            fail_set(fail, ret, "", "channel %d was removed meanwhile", number);
        } else {
            Item *items = calloc(nb ? nb : 1, sizeof(*items));
            if (!items) {
                ret = AVERROR(ENOMEM);
            } else {
                for (int i = 0; i < nb; i++) {
                    items[i].cfg = cfgs[i];
                    memset(&cfgs[i], 0, sizeof(cfgs[i]));
                    items[i].media = media[i];
                    media[i] = NULL;
                    items[i].state = ITEM_READY;
                }
                for (int i = 0; i < ch->nb_ads; i++)
                    item_free(&ch->ads[i]);
                free(ch->ads);
                ch->ads = items;
                ch->nb_ads = nb;
                ch->dirty = 1;
                reschedule(c, ch);
                vpi_log(&c->opts.logger, VP_LOG_INFO,
                        "channel %d: %d ad%s from the next break", number, nb,
                        nb == 1 ? "" : "s");
            }
        }
        pthread_mutex_unlock(&c->lock);
    }
    for (int i = 0; i < nb; i++) {
        if (cfgs) {
            free(cfgs[i].file);
            free(cfgs[i].path);
            free(cfgs[i].title);
        }
        if (media)
            vpi_live_media_unref(&media[i]);
    }
    free(cfgs);
    free(media);
    free(dir);
    return ret;
}

/* ---- queries ------------------------------------------------------------------------------ */

int vp_channels_count(const VpChannels *c)
{
    VpChannels *m = (VpChannels *)c;
    pthread_mutex_lock(&m->lock);
    int n = c->nb_ch;
    pthread_mutex_unlock(&m->lock);
    return n;
}

int vp_channels_find(const VpChannels *c, int number)
{
    VpChannels *m = (VpChannels *)c;
    int ret = AVERROR(ENOENT);
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < c->nb_ch; i++)
        if (c->ch[i]->cfg.number == number)
            ret = i;
    pthread_mutex_unlock(&m->lock);
    return ret;
}

int vp_channels_info(const VpChannels *c, int index, VpChannelInfo *info)
{
    VpChannels *m = (VpChannels *)c;
    int ret = 0;
    memset(info, 0, sizeof(*info));
    pthread_mutex_lock(&m->lock);
    if (index < 0 || index >= c->nb_ch) {
        ret = AVERROR(EINVAL);
    } else {
        const Channel *ch = c->ch[index];
        info->number = ch->cfg.number;
        snprintf(info->name, sizeof(info->name), "%s", ch->cfg.name);
        info->ready = ch->nb_epochs > 0;
        info->running = ch->prod != NULL;
        info->viewers = ch->out ? vpi_liveout_viewers(ch->out) : 0;
        info->bytes_out = ch->out ? vpi_liveout_bytes(ch->out) : 0;
        double sum = 0;
        int n = 0;
        for (int i = 0; i < ch->nb_eps; i++)
            if (ch->eps[i].state == ITEM_READY) {
                sum += ch->eps[i].media->bitrate;
                n++;
            }
        info->bitrate = n ? sum / n : 0;
    }
    pthread_mutex_unlock(&m->lock);
    return ret;
}

static void programme_of(const Channel *ch, const VpiSlot *s, VpProgramme *p)
{
    memset(p, 0, sizeof(*p));
    p->kind = s->kind;
    snprintf(p->title, sizeof(p->title), "%s", s->title ? s->title : "");
    snprintf(p->file, sizeof(p->file), "%s", s->file ? s->file : "");
    p->start_us = ch->origin_us + vpi_ticks_to_us(s->start);
    p->stop_us = ch->origin_us + vpi_ticks_to_us(s->start + (s->to - s->from));
    p->from = (double)s->from / VPI_TICKS;
    p->to = (double)s->to / VPI_TICKS;
    p->break_at = s->break_at;
}

/* Whether a break (at least one ad) follows @p s. */
static int break_follows(const Channel *ch, const VpiSlot *s)
{
    VpiSlot n;
    if (s->kind != VP_PROG_EPISODE || s->break_at < 0)
        return 0;
    if (slot_next(ch, s, &n) < 0)
        return 0;
    return n.kind == VP_PROG_AD;
}

/* The slot of channel @p number at wall time @p t_us (lock held): 0, AVERROR(ENOENT) (no
 * such channel) or AVERROR(EAGAIN) (not on air yet). */
static int slot_at_wall(VpChannels *c, int number, int64_t t_us, Channel **pch, VpiSlot *s,
                        int64_t *ptick)
{
    Channel *ch = find_locked(c, number);
    if (!ch)
        return AVERROR(ENOENT);
    if (!ch->nb_epochs)
        return AVERROR(EAGAIN);
    int64_t tick = vpi_us_to_ticks(t_us - ch->origin_us);
    if (tick < 0)
        tick = 0;
    *pch = ch;
    *ptick = tick;
    return slot_at(ch, tick, s);
}

int vp_channel_now(VpChannels *c, int number, int64_t t_us, VpProgramme *now,
                   VpProgramme *next_break)
{
    Channel *ch;
    VpiSlot s;
    int64_t tick;
    pthread_mutex_lock(&c->lock);
    int ret = slot_at_wall(c, number, t_us, &ch, &s, &tick);
    if (ret < 0)
        goto end;
    programme_of(ch, &s, now);
    if (next_break) {
        memset(next_break, 0, sizeof(*next_break));
        next_break->kind = -1;
        VpiSlot k = s;
        for (int i = 0; i < 100000; i++) {
            if (k.kind == VP_PROG_EPISODE && k.start + (k.to - k.from) > tick &&
                break_follows(ch, &k)) {
                programme_of(ch, &k, next_break);
                break;
            }
            VpiSlot n;
            if (slot_next(ch, &k, &n) < 0)
                break;
            k = n;
        }
    }
    ret = 0;
end:
    pthread_mutex_unlock(&c->lock);
    return ret;
}

int vp_channel_schedule(VpChannels *c, int number, int64_t from_us, int64_t to_us,
                        VpProgramme **items, int *nb)
{
    int ret, n = 0, cap = 0;
    VpProgramme *arr = NULL;
    *items = NULL;
    *nb = 0;
    Channel *ch;
    VpiSlot s;
    int64_t tick;
    pthread_mutex_lock(&c->lock);
    if ((ret = slot_at_wall(c, number, from_us, &ch, &s, &tick)) < 0)
        goto end;
    while (n < 100000) {
        VpProgramme p;
        programme_of(ch, &s, &p);
        if (p.start_us >= to_us)
            break;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            VpProgramme *a = realloc(arr, sizeof(*a) * cap);
            if (!a) {
                ret = AVERROR(ENOMEM);
                goto end;
            }
            arr = a;
        }
        arr[n++] = p;
        VpiSlot next;
        if ((ret = slot_next(ch, &s, &next)) < 0)
            goto end;
        s = next;
    }
    *items = arr;
    *nb = n;
    arr = NULL;
    ret = 0;
end:
    pthread_mutex_unlock(&c->lock);
    free(arr);
    return ret;
}

/* ---- viewers and HLS ---------------------------------------------------------------------- */

int vp_viewer_open(VpChannels *c, int number, VpViewerNotify notify, void *opaque,
                   VpViewer **out)
{
    int ret;
    *out = NULL;
    pthread_mutex_lock(&c->lock);
    Channel *ch = find_locked(c, number);
    if (!ch)
        ret = AVERROR(ENOENT);
    else if ((ret = producer_start(c, ch)) >= 0)
        ret = vpi_liveout_viewer_open(ch->out, notify, opaque, out);
    pthread_mutex_unlock(&c->lock);
    return ret;
}

int vp_viewer_next(VpViewer *v, VpChunk **chunk)
{
    return vpi_liveout_viewer_next(v, chunk);
}

void vp_viewer_close(VpViewer **v)
{
    vpi_liveout_viewer_close(v);
}

int vp_channel_hls_playlist(VpChannels *c, int number, const char *uri_prefix, char **text)
{
    int ret;
    *text = NULL;
    pthread_mutex_lock(&c->lock);
    Channel *ch = find_locked(c, number);
    if (!ch)
        ret = AVERROR(ENOENT);
    else if ((ret = producer_start(c, ch)) >= 0) {
        ch->hls_touch = vpi_now_us();
        ret = vpi_hls_playlist(ch->hls, uri_prefix, text);
    }
    pthread_mutex_unlock(&c->lock);
    return ret;
}

int vp_channel_hls_segment(VpChannels *c, int number, int64_t seq, VpChunk **seg)
{
    int ret;
    *seg = NULL;
    pthread_mutex_lock(&c->lock);
    Channel *ch = find_locked(c, number);
    if (!ch || !ch->hls) {
        ret = AVERROR(ENOENT);
    } else {
        ch->hls_touch = vpi_now_us();
        ret = vpi_hls_segment(ch->hls, seq, seg);
    }
    pthread_mutex_unlock(&c->lock);
    return ret;
}
