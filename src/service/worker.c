/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job service's worker threads and its supervisor (docs/serve.md, "Workers").
 *
 * A worker claims a job (a lease with a fencing token), validates the original with the
 * probe (an unreadable, truncated or video-less file fails at once: retrying cannot help),
 * makes the proxy, thumbnail and metadata in one decode (vp_proxy_make) in its own scratch
 * folder, stores them under keys named by the job and its token, and completes the job only
 * while it still holds the lease. A worker that lost its lease removes what it stored: the
 * result of the worker that holds the job now is never overwritten, because the two never
 * write the same keys.
 *
 * The supervisor thread renews the leases of the jobs running here at a third of the lease,
 * with their progress (one thread for all workers, so a job whose decode blocks for a while
 * still keeps its lease while the process lives), runs the watchdog (vpi_store_reap) every
 * second and expires unfinished uploads every minute.
 *
 * Idle workers sleep on s->wake: woken at once by a job queued in this process, and they poll
 * the store every second. On a store that can signal (PostgreSQL's LISTEN/NOTIFY), a listener
 * thread waits on it and wakes them too, so a job queued by another process (an API node) is
 * claimed at once instead of at the next poll. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libavutil/error.h>

#include "vidpipe/probe.h"
#include "vidpipe/proxy.h"
#include "service/svc.h"
#include "util/internal.h"

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    if (ftw->level == 0)
        return 0;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
        return errno;
    return 0;
}

/* Remove everything inside @p dir, keeping the folder. */
static int empty_dir(const char *dir)
{
    int e = nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return e < 0 ? AVERROR(errno) : e > 0 ? AVERROR(e) : 0;
}

/* Errors that the same input gives every time: failing again later cannot help. */
static int permanent(int err)
{
    switch (err) {
    case VP_ERR_EMPTY_FILE:
    case VP_ERR_NOT_MEDIA:
    case VP_ERR_TRUNCATED:
    case VP_ERR_NO_VIDEO:
    case VP_ERR_NO_STREAMS:
    case VP_ERR_UNSUPPORTED:
    case VP_ERR_CORRUPT:
    case VP_ERR_NO_MOOV:
    case VP_ERR_NOT_REGULAR:
    case VP_ERR_CONTAINER_CODEC:
    case VP_ERR_BAD_OPTION:
    case VP_ERR_TOO_LARGE:
    case AVERROR_INVALIDDATA:
    case AVERROR_DECODER_NOT_FOUND:
    case AVERROR_DEMUXER_NOT_FOUND:
    case AVERROR_PATCHWELCOME:
        return 1;
    default:
        return 0;
    }
}

static int stop_requested(void *opaque)
{
    SvcWorker *w = opaque;
    return atomic_load(&w->stop) != SVC_RUN;
}

static void on_progress(void *opaque, double done, double total)
{
    SvcWorker *w = opaque;
    if (total > 0 && isfinite(total) && isfinite(done)) {
        int p = (int)(done / total * 100);
        atomic_store(&w->progress, p < 0 ? 0 : p > 99 ? 99 : p);
    }
}

/* The prefix ("videos/V/jJ-L/") of a stored result's proxy_path, or "" */
static void result_prefix(const char *result, char *out, size_t size)
{
    json_t *r = result ? json_loads(result, 0, NULL) : NULL;
    const char *p = json_string_value(json_object_get(r, "proxy_path"));
    const char *slash = p ? strrchr(p, '/') : NULL;
    *out = 0;
    if (slash && (size_t)(slash - p + 1) < size)
        snprintf(out, size, "%.*s", (int)(slash - p + 1), p);
    json_decref(r);
}

static void count_finished(VpService *s, int kind, double seconds)
{
    pthread_mutex_lock(&s->lock);
    s->jobs_finished[kind]++;
    if (kind == 0) {
        int b = 0;
        while (b < VP_SERVICE_DURATION_BUCKETS && seconds > vp_service_duration_bounds[b])
            b++;
        for (int i = b; i <= VP_SERVICE_DURATION_BUCKETS; i++)
            s->duration_counts[i]++;
        s->duration_sum += seconds;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Store the finished outputs and build the result; 0, or an error with @p msg set. */
static int store_outputs(VpService *s, const VpiJob *job, const char *orig_key,
                         const char *proxy, const char *thumb, const VpProxyResult *res,
                         char *prefix, size_t prefix_size, char **result, char *msg,
                         size_t msg_size)
{
    char pkey[128], tkey[128], *meta_text = NULL;
    json_t *meta = NULL, *r = NULL;
    int ret, have_thumb = res->thumb.width > 0;

    snprintf(prefix, prefix_size, "videos/%" PRId64 "/j%" PRId64 "-%" PRId64 "/",
             job->video_id, job->id, job->lease_id);
    snprintf(pkey, sizeof(pkey), "%sproxy.mp4", prefix);
    snprintf(tkey, sizeof(tkey), "%sthumbnail.jpg", prefix);
    if ((ret = vp_proxy_result_json(res, &meta_text)) < 0 ||
        !(meta = json_loads(meta_text, 0, NULL))) {
        snprintf(msg, msg_size, "cannot describe the result (out of memory)");
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if ((ret = vpi_storage_put(s->storage, pkey, proxy)) < 0 ||
        (have_thumb && (ret = vpi_storage_put(s->storage, tkey, thumb)) < 0)) {
        snprintf(msg, msg_size, "cannot store the outputs (%s)", av_err2str(ret));
        goto end;
    }
    r = json_object();
    json_t *m = json_object();
    json_object_set_new(r, "status", json_string("success"));
    json_object_set_new(r, "original_path", json_string(orig_key));
    json_object_set_new(r, "proxy_path", json_string(pkey));
    json_object_set_new(r, "thumbnail_path", have_thumb ? json_string(tkey) : json_null());
    json_object_set(m, "original", json_object_get(meta, "original"));
    json_object_set(m, "proxy", json_object_get(meta, "proxy"));
    json_object_set(m, "thumbnail", json_object_get(meta, "thumbnail") ?
                    json_object_get(meta, "thumbnail") : json_null());
    json_object_set_new(r, "metadata", m);
    json_object_set(r, "decode_errors", json_object_get(meta, "decode_errors"));
    if (!(*result = json_dumps(r, JSON_COMPACT | JSON_ENSURE_ASCII))) {
        snprintf(msg, msg_size, "cannot describe the result (out of memory)");
        ret = AVERROR(ENOMEM);
    }
end:
    free(meta_text);
    json_decref(meta);
    json_decref(r);
    return ret;
}

static void run_job(SvcWorker *w, const VpiJob *job)
{
    VpService *s = w->s;
    char orig_key[64], src[PATH_MAX], proxy[PATH_MAX + 16], thumb[PATH_MAX + 16];
    char msg[1200] = "", prefix[128] = "", errbuf[512], *opts_copy = NULL, *result = NULL;
    VpProxyOpts po;
    VpPipelineOpts pl;
    VpProxyResult res;
    VpFailure fail;
    VpMediaInfo *mi = NULL;
    VpProbeOpts probe;
    int ret, is_copy = 0, retryable = 1;
    int64_t t0 = svc_now_ms(s);

    memset(&res, 0, sizeof(res));
    memset(&fail, 0, sizeof(fail));
    empty_dir(w->tmp);
    snprintf(orig_key, sizeof(orig_key), SVC_KEY_ORIGINAL, job->video_id);
    if ((ret = vpi_storage_fetch(s->storage, orig_key, w->tmp, src, sizeof(src),
                                 &is_copy)) < 0) {
        snprintf(msg, sizeof(msg), "original: cannot read it (%s)", av_err2str(ret));
        goto failed;
    }

    /* Validate: the probe reads the container's index and refuses a truncated MP4 even when
     * its first half would decode. */
    vp_probe_default_opts(&probe);
    probe.cancel = (VpCancel){ stop_requested, w };
    probe.logger = s->opts.logger;
    if ((ret = vp_probe_file(src, &probe, &mi)) < 0) {
        snprintf(msg, sizeof(msg), "original: %s", vp_strerror(ret));
        retryable = !permanent(ret);
        goto failed;
    }
    if (mi->video_index < 0) {
        ret = VP_ERR_NO_VIDEO;
        snprintf(msg, sizeof(msg), "original: %s", vp_strerror(ret));
        retryable = 0;
        goto failed;
    }

    vp_proxy_default_opts(&po);
    if (job->options && *job->options) {
        if (!(opts_copy = strdup(job->options))) {
            ret = AVERROR(ENOMEM);
            snprintf(msg, sizeof(msg), "out of memory");
            goto failed;
        }
        if ((ret = svc_apply_options(opts_copy, &po, errbuf, sizeof(errbuf))) < 0) {
            snprintf(msg, sizeof(msg), "options: %s", errbuf);
            retryable = 0;
            goto failed;
        }
    }
    vp_pipeline_default_opts(&pl);
    pl.progress = on_progress;
    pl.opaque = w;
    pl.cancel = (VpCancel){ stop_requested, w };
    pl.logger = s->opts.logger;
    po.pipeline = &pl;
    snprintf(proxy, sizeof(proxy), "%s/proxy.mp4", w->tmp);
    snprintf(thumb, sizeof(thumb), "%s/thumbnail.jpg", w->tmp);
    po.thumb_path = thumb;
    ret = vp_proxy_make(src, proxy, &po, &res, &fail);
    if (atomic_load(&w->stop) != SVC_RUN)
        goto stopped;
    if (ret < 0) {
        /* The failure names a path in the scratch folder or the storage: say what it is. */
        snprintf(msg, sizeof(msg), "%s: %s", fail.input == 0 ? "original" : "proxy",
                 vp_strerror(ret));
        if (*fail.message) {
            const char *colon = strstr(fail.message, ": ");
            snprintf(msg, sizeof(msg), "%s: %s", fail.input == 0 ? "original" : "proxy",
                     colon ? colon + 2 : fail.message);
        }
        retryable = !permanent(ret);
        goto failed;
    }
    if ((ret = store_outputs(s, job, orig_key, proxy, thumb, &res, prefix, sizeof(prefix),
                             &result, msg, sizeof(msg))) < 0)
        goto failed;
    {
        char *old = NULL, old_prefix[128] = "";
        int64_t old_job = 0;
        if (vpi_store_last_result(s->store, job->video_id, &old, &old_job) >= 0)
            result_prefix(old, old_prefix, sizeof(old_prefix));
        free(old);
        ret = vpi_store_complete(s->store, job->id, job->lease_id, result, svc_now_ms(s));
        if (ret == VPI_STORE_LOST_LEASE) {
            svc_log(s, VP_LOG_WARNING, "job %" PRId64 ": lost its lease before completing; "
                    "its outputs are dropped (another worker holds the job, or it was "
                    "cancelled or deleted)", job->id);
            vpi_storage_remove_prefix(s->storage, prefix);
            goto end;
        }
        if (ret < 0) {
            svc_log(s, VP_LOG_ERROR, "job %" PRId64 ": cannot record the result (%s); the "
                    "lease will expire and the job run again", job->id, av_err2str(ret));
            vpi_storage_remove_prefix(s->storage, prefix);
            goto end;
        }
        /* The previous job's outputs: nothing refers to them any more. */
        if (*old_prefix && strcmp(old_prefix, prefix))
            vpi_storage_remove_prefix(s->storage, old_prefix);
        /* Earlier attempts of this job that died between storing and completing (a kill -9)
         * left outputs under their own tokens; tokens go up by one per claim, so they are
         * jJ-1 .. jJ-(L-1). */
        for (int64_t l = job->lease_id - 1; l >= 1 && l > job->lease_id - 100; l--) {
            char stale[128];
            snprintf(stale, sizeof(stale), "videos/%" PRId64 "/j%" PRId64 "-%" PRId64 "/",
                     job->video_id, job->id, l);
            vpi_storage_remove_prefix(s->storage, stale);
        }
    }
    double secs = (svc_now_ms(s) - t0) / 1000.0;
    count_finished(s, 0, secs);
    svc_log(s, VP_LOG_INFO, "job %" PRId64 " (video %" PRId64 ") completed in %.1f s by %s: "
            "proxy %dx%d, %d frames", job->id, job->video_id, secs, w->name, res.proxy.width,
            res.proxy.height, (int)res.proxy.frames);
    goto end;

failed:
    if (atomic_load(&w->stop) != SVC_RUN)
        goto stopped;
    if (*prefix)
        vpi_storage_remove_prefix(s->storage, prefix);
    ret = vpi_store_fail(s->store, job->id, job->lease_id, msg, retryable, svc_now_ms(s));
    if (ret == 1) {
        count_finished(s, 2, 0);
        svc_log(s, VP_LOG_WARNING, "job %" PRId64 " (video %" PRId64 ") attempt %d failed, "
                "will retry: %s", job->id, job->video_id, job->attempts, msg);
    } else if (ret == 0) {
        count_finished(s, 1, 0);
        svc_log(s, VP_LOG_WARNING, "job %" PRId64 " (video %" PRId64 ") failed%s: %s",
                job->id, job->video_id, retryable ? " (no attempts left)" : "", msg);
    } else {
        svc_log(s, VP_LOG_WARNING, "job %" PRId64 ": failure not recorded (%s): %s", job->id,
                ret == VPI_STORE_LOST_LEASE ? "lease lost" : av_err2str(ret), msg);
    }
    goto end;

stopped:
    if (*prefix)
        vpi_storage_remove_prefix(s->storage, prefix);
    switch (atomic_load(&w->stop)) {
    case SVC_STOP_DRAIN:
        ret = vpi_store_release(s->store, job->id, job->lease_id, svc_now_ms(s));
        svc_log(s, VP_LOG_INFO, "job %" PRId64 " handed back to the queue (shutting down)%s",
                job->id, ret < 0 ? ": not recorded, its lease will expire" : "");
        break;
    case SVC_STOP_CANCEL:
        svc_log(s, VP_LOG_INFO, "job %" PRId64 " stopped (cancelled or deleted)", job->id);
        break;
    default:
        svc_log(s, VP_LOG_WARNING, "job %" PRId64 " stopped: its lease was lost or its time "
                "limit passed", job->id);
        break;
    }
end:
    vp_media_info_free(&mi);
    free(opts_copy);
    free(result);
    if (is_copy)
        unlink(src);
    empty_dir(w->tmp);
}

static void *worker_main(void *arg)
{
    SvcWorker *w = arg;
    VpService *s = w->s;
    int warned = 0;

    pthread_mutex_lock(&s->lock);
    while (!s->stopping && !s->draining) {
        VpiJob job;
        int ret;
        /* A wake-up that comes while the claim runs is not lost: the wait below is skipped. */
        uint64_t seq = s->wake_seq;
        pthread_mutex_unlock(&s->lock);
        ret = vpi_store_claim(s->store, w->name, svc_now_ms(s), s->opts.lease_ms, &job);
        pthread_mutex_lock(&s->lock);
        if (ret == 1) {
            w->busy = 1;
            w->job_id = job.id;
            w->lease_id = job.lease_id;
            w->video_id = job.video_id;
            w->started_ms = w->last_beat_ms = svc_now_ms(s);
            w->time_limit_ms = job.time_limit_ms;
            atomic_store(&w->progress, 0);
            atomic_store(&w->stop, s->draining ? SVC_STOP_DRAIN : SVC_RUN);
            pthread_mutex_unlock(&s->lock);
            svc_log(s, VP_LOG_INFO, "job %" PRId64 " (video %" PRId64 ") claimed by %s, "
                    "attempt %d of %d", job.id, job.video_id, w->name, job.attempts,
                    job.max_attempts);
            run_job(w, &job);
            vpi_job_clear(&job);
            pthread_mutex_lock(&s->lock);
            w->busy = 0;
            w->job_id = 0;
            pthread_cond_broadcast(&s->wake);
            warned = 0;
            continue;
        }
        if (ret < 0 && !warned++)
            svc_log(s, VP_LOG_WARNING, "%s: cannot claim jobs (%s); trying again", w->name,
                    av_err2str(ret));
        if (!s->stopping && !s->draining && seq == s->wake_seq) {
            struct timespec ts;
            /* Woken at once by a job queued here (or by the listener, for another
             * process's); retries after their backoff and re-queued jobs are seen within a
             * second. */
            deadline_in(&ts, 1000);
            pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void expire_uploads(VpService *s)
{
    int64_t *ids = NULL;
    int n = 0;
    if (vpi_store_expire_uploads(s->store, svc_now_ms(s), &ids, &n) < 0)
        return;
    for (int i = 0; i < n; i++) {
        char name[32], prefix[64];
        snprintf(name, sizeof(name), SVC_UPLOAD_NAME, ids[i]);
        snprintf(prefix, sizeof(prefix), SVC_KEY_VIDEO, ids[i]);
        vpi_storage_remove_parts(s->storage, name);
        vpi_storage_remove_prefix(s->storage, prefix);
        svc_log(s, VP_LOG_INFO, "upload of video %" PRId64 " expired unfinished: removed",
                ids[i]);
    }
    free(ids);
}

static void *supervisor_main(void *arg)
{
    VpService *s = arg;
    int64_t last_reap = 0, last_expire = 0;

    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct timespec ts;
        int64_t now = svc_now_ms(s);
        for (int i = 0; i < s->nb_workers; i++) {
            SvcWorker *w = &s->workers[i];
            if (!w->busy)
                continue;
            if (now - w->started_ms > w->time_limit_ms && atomic_load(&w->stop) == SVC_RUN)
                atomic_store(&w->stop, SVC_STOP_LOST);
            if (now - w->last_beat_ms < s->opts.lease_ms / 3)
                continue;
            int64_t job = w->job_id, lease = w->lease_id;
            int progress = atomic_load(&w->progress);
            pthread_mutex_unlock(&s->lock);
            int ret = vpi_store_heartbeat(s->store, job, lease, progress, now, s->opts.lease_ms);
            pthread_mutex_lock(&s->lock);
            if (w->busy && w->job_id == job) {
                if (ret == VPI_STORE_LOST_LEASE && atomic_load(&w->stop) == SVC_RUN)
                    atomic_store(&w->stop, SVC_STOP_LOST);
                if (ret >= 0)
                    w->last_beat_ms = now;
            }
        }
        pthread_mutex_unlock(&s->lock);
        if (now - last_reap >= 1000) {
            int requeued = 0, failed = 0;
            last_reap = now;
            if (vpi_store_reap(s->store, now, &requeued, &failed) >= 0 && (requeued || failed)) {
                svc_log(s, VP_LOG_WARNING, "watchdog: %d job(s) whose worker stopped renewing "
                        "its lease queued again, %d failed (time limit or no attempts left)",
                        requeued, failed);
                if (requeued)
                    pthread_cond_broadcast(&s->wake);
            }
        }
        if (now - last_expire >= 60000) {
            last_expire = now;
            expire_uploads(s);
        }
        pthread_mutex_lock(&s->lock);
        if (!s->stopping) {
            deadline_in(&ts, 250);
            pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Waits for another process's NOTIFY and wakes the idle workers: without it, a job queued by
 * an API node waits for a worker's next poll (up to a second, half of it on average). The
 * wait's own timeout only bounds how long a stop takes to be noticed. */
static void *listener_main(void *arg)
{
    VpService *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping && !s->draining) {
        pthread_mutex_unlock(&s->lock);
        int woken = vpi_store_wait(s->store, 250);
        pthread_mutex_lock(&s->lock);
        if (woken > 0) {
            s->wake_seq++;
            pthread_cond_broadcast(&s->wake);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* FNV-1a: names a scratch slot after what the service runs on. */
static uint32_t fnv1a(const char *p)
{
    uint32_t h = 2166136261u;
    for (; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h;
}

/* Make slot folder @p path and lock it without waiting: its fd, AVERROR(EWOULDBLOCK) when a
 * live process holds it, another error. The lock is on the folder itself, which is never
 * removed (no lock file to race on), and ends with its process, kill -9 included. */
static int lock_slot(const char *path, int create)
{
    int ret, fd;
    if (create && (ret = vpi_mkdir_p(path)) < 0)
        return ret;
    if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return AVERROR(errno);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        ret = errno == EWOULDBLOCK ? AVERROR(EWOULDBLOCK) : AVERROR(errno);
        close(fd);
        return ret;
    }
    return fd;
}

int svc_scratch_open(VpService *s, const char *key, char *reason, size_t reason_size)
{
    char slot[PATH_MAX];
    uint32_t h = fnv1a(key);
    int fd = AVERROR(EWOULDBLOCK), ret;

    /* Several processes on one store and machine (workers beside an API node) hold one slot
     * each; a restarted one takes the first free slot and empties it. */
    for (int k = 0; k < 4096 && fd == AVERROR(EWOULDBLOCK); k++) {
        snprintf(s->scratch, sizeof(s->scratch), "%s/vidpipe-serve-%08x-p%d", s->tmp_dir, h, k);
        fd = lock_slot(s->scratch, 1);
    }
    if (fd < 0) {
        snprintf(reason, reason_size, "%s: cannot use a scratch folder (%s)", s->scratch,
                 av_err2str(fd));
        return fd;
    }
    s->scratch_lock = fd;
    if ((ret = empty_dir(s->scratch)) < 0) {
        snprintf(reason, reason_size, "%s: cannot empty the scratch folder (%s)", s->scratch,
                 av_err2str(ret));
        return ret;
    }
    /* The other slots a dead process left: emptied too, so its files are gone however many
     * processes run now. */
    for (int k = 0; k < 4096; k++) {
        snprintf(slot, sizeof(slot), "%s/vidpipe-serve-%08x-p%d", s->tmp_dir, h, k);
        if (!strcmp(slot, s->scratch))
            continue;
        if ((fd = lock_slot(slot, 0)) == AVERROR(ENOENT))
            break;
        if (fd >= 0) {
            if (empty_dir(slot) == 0)
                svc_log(s, VP_LOG_VERBOSE, "%s: a stopped process's scratch folder emptied",
                        slot);
            close(fd);
        }
    }
    return 0;
}

int svc_workers_start(VpService *s, char *reason, size_t reason_size)
{
    int n = s->opts.workers, ret;
    if (n < 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)(cores > 64 ? 64 : cores) : 1;
    }
    if (n && !(s->workers = calloc(n, sizeof(*s->workers)))) {
        snprintf(reason, reason_size, "out of memory");
        return AVERROR(ENOMEM);
    }
    s->nb_workers = n;
    for (int i = 0; i < n; i++) {
        SvcWorker *w = &s->workers[i];
        w->s = s;
        w->index = i;
        snprintf(w->name, sizeof(w->name), "%s:%ld:w%d", s->host, (long)getpid(), i);
        if (snprintf(w->tmp, sizeof(w->tmp), "%s/w%d", s->scratch, i) >= (int)sizeof(w->tmp))
            ret = AVERROR(ENAMETOOLONG);
        else if ((ret = vpi_mkdir_p(w->tmp)) >= 0)
            ret = empty_dir(w->tmp);
        if (ret < 0) {
            snprintf(reason, reason_size, "%s: cannot use the worker's scratch folder (%s)",
                     w->tmp, av_err2str(ret));
            return ret;
        }
    }
    for (int i = 0; i < n; i++) {
        if ((ret = pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]))) {
            snprintf(reason, reason_size, "cannot start worker %d (%s)", i, strerror(ret));
            return AVERROR(ret);
        }
        s->workers[i].started = 1;
    }
    if ((ret = pthread_create(&s->supervisor, NULL, supervisor_main, s))) {
        snprintf(reason, reason_size, "cannot start the supervisor (%s)", strerror(ret));
        return AVERROR(ret);
    }
    s->supervisor_started = 1;
    if (n && s->store->cls->wait) {
        if ((ret = pthread_create(&s->listener, NULL, listener_main, s))) {
            snprintf(reason, reason_size, "cannot start the listener (%s)", strerror(ret));
            return AVERROR(ret);
        }
        s->listener_started = 1;
    }
    if (n)
        svc_log(s, VP_LOG_INFO, "%d worker(s) started, scratch in %s/w*, lease %" PRId64 " s%s",
                n, s->scratch, s->opts.lease_ms / 1000, s->listener_started ?
                ", woken by the store's notifications" : "");
    return 0;
}

int svc_workers_progress(VpService *s, int64_t job_id, int stored)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->nb_workers; i++)
        if (s->workers[i].busy && s->workers[i].job_id == job_id)
            stored = atomic_load(&s->workers[i].progress);
    pthread_mutex_unlock(&s->lock);
    return stored;
}

void svc_workers_stop_job(VpService *s, int64_t job_id, int why)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->nb_workers; i++)
        if (s->workers[i].busy && s->workers[i].job_id == job_id)
            atomic_store(&s->workers[i].stop, why);
    pthread_mutex_unlock(&s->lock);
}

static int any_busy(VpService *s)
{
    for (int i = 0; i < s->nb_workers; i++)
        if (s->workers[i].busy)
            return 1;
    return 0;
}

void vp_service_drain(VpService *s, int64_t grace_ms)
{
    struct timespec ts;
    int64_t deadline = svc_now_ms(s) + (grace_ms > 0 ? grace_ms : 0);

    pthread_mutex_lock(&s->lock);
    if (!s->draining && any_busy(s))
        svc_log(s, VP_LOG_INFO, "draining: no new jobs; running jobs get %" PRId64 " s to "
                "finish, then go back to the queue", grace_ms / 1000);
    s->draining = 1;
    pthread_cond_broadcast(&s->wake);
    while (any_busy(s) && svc_now_ms(s) < deadline) {
        deadline_in(&ts, 100);
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
    }
    for (int i = 0; i < s->nb_workers; i++)
        if (s->workers[i].busy && atomic_load(&s->workers[i].stop) == SVC_RUN)
            atomic_store(&s->workers[i].stop, SVC_STOP_DRAIN);
    while (any_busy(s)) {
        deadline_in(&ts, 100);
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
}

void svc_workers_join(VpService *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < s->nb_workers; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].thread, NULL);
    if (s->supervisor_started)
        pthread_join(s->supervisor, NULL);
    if (s->listener_started)
        pthread_join(s->listener, NULL);
    s->supervisor_started = s->listener_started = 0;
    free(s->workers);
    s->workers = NULL;
    s->nb_workers = 0;
    if (s->scratch_lock >= 0) {
        /* Emptied by each job, and the workers' folders removed: nothing of ours is left. */
        for (int i = 0; *s->scratch && i < 256; i++) {
            char dir[PATH_MAX + 16];
            snprintf(dir, sizeof(dir), "%s/w%d", s->scratch, i);
            if (rmdir(dir) < 0 && errno == ENOENT)
                break;
        }
        close(s->scratch_lock);
        s->scratch_lock = -1;
    }
}
