/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the parts of the job service share (service.c: the public calls, uploads and JSON;
 * worker.c: worker threads and the supervisor). Never installed. */
#ifndef VIDPIPE_SERVICE_SVC_H
#define VIDPIPE_SERVICE_SVC_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "vidpipe/service.h"
#include "service/storage.h"
#include "service/store.h"

/* Why a worker's running job must stop. */
enum {
    SVC_RUN = 0,
    SVC_STOP_LOST,      /* the lease is gone (reaped, taken over, failed by the watchdog) */
    SVC_STOP_CANCEL,    /* cancelled or deleted through the API */
    SVC_STOP_DRAIN,     /* the service drains: hand the job back */
};

typedef struct SvcWorker {
    struct VpService *s;
    int index;
    pthread_t thread;
    int started;
    char name[160];             /* "host:pid:wN", stored as the job's worker */
    char tmp[PATH_MAX];         /* its own scratch folder */
    /* The job it holds; written under s->lock, read by the supervisor under it. */
    int busy;
    int64_t job_id, lease_id, video_id, started_ms, last_beat_ms, time_limit_ms;
    atomic_int progress;
    atomic_int stop;
} SvcWorker;

struct VpService {
    VpServiceOpts opts;
    char *data_dir, *tmp_dir;
    VpiStore *store;
    VpiStorage *storage;
    char staging[PATH_MAX];
    char host[64];

    pthread_mutex_t lock;
    pthread_cond_t wake;        /* a job was queued, or stop/drain */
    int stopping, draining;
    SvcWorker *workers;
    int nb_workers;
    pthread_t supervisor;
    int supervisor_started;
    /* PostgreSQL's LISTEN: another process queued a job (worker.c, listener_main) */
    pthread_t listener;
    int listener_started;
    uint64_t wake_seq;          /* bumped by the listener at each wake-up, under lock */
    /* This process's scratch slot (svc_scratch_open): TMP/vidpipe-serve-HASH-pK */
    char scratch[PATH_MAX];
    int scratch_lock;           /* the slot's flock()ed lock file; -1 */

    /* Counters for /metrics, under lock. */
    int64_t upload_bytes;
    int64_t jobs_finished[3];
    uint64_t duration_counts[VP_SERVICE_DURATION_BUCKETS + 1];
    double duration_sum;
};

/* Milliseconds since the epoch (the wall clock plus opts.now_offset_ms). */
int64_t svc_now_ms(const struct VpService *s);
void svc_log(const struct VpService *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Check a proxy-overrides string ("height=720&fps=15") and apply it to @p o. 0, or
 * VP_ERR_BAD_OPTION with one line in @p err. @p o's string fields point into @p copy, a
 * writable copy of the text that must outlive @p o. */
int svc_apply_options(char *copy, struct VpProxyOpts *o, char *err, size_t err_size);

/* worker.c */
/* Take this process's scratch slot, named by a hash of @p key (the data folder's real path, or
 * the db and storage specs): the first slot no live process holds, emptied, and the slots of
 * dead processes on the same key emptied too. Released by svc_workers_join(). */
int svc_scratch_open(struct VpService *s, const char *key, char *reason, size_t reason_size);
int svc_workers_start(struct VpService *s, char *reason, size_t reason_size);
/* Stop the local worker holding @p job_id (cancel, delete). */
void svc_workers_stop_job(struct VpService *s, int64_t job_id, int why);
/* The progress of @p job_id if a worker of this process runs it now, else @p stored (the
 * store holds the progress of the last heartbeat, up to lease/3 old). */
int svc_workers_progress(struct VpService *s, int64_t job_id, int stored);
void svc_workers_join(struct VpService *s);

/* The storage keys of a video. */
#define SVC_KEY_ORIGINAL "videos/%" PRId64 "/original"
#define SVC_KEY_VIDEO "videos/%" PRId64 "/"
#define SVC_UPLOAD_NAME "v%" PRId64

#endif
