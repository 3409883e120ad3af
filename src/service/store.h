/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job service's store (docs/serve.md, "Store"): videos and their jobs behind one small
 * interface, so that SQLite (store_sqlite.c, the embedded default) and PostgreSQL (next) are
 * back ends of the same calls. Never installed.
 *
 * Times are milliseconds since the Unix epoch, passed in by the caller (`now_ms`), so the
 * service uses the wall clock and the tests can step time without sleeping. */
#ifndef VIDPIPE_SERVICE_STORE_H
#define VIDPIPE_SERVICE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/error.h>

/* The schema this build reads and writes (schema_version table). */
#define VPI_STORE_SCHEMA 2

/* The longest lease, time limit or backoff accepted (30 days). */
#define VPI_STORE_MAX_DURATION_MS (INT64_C(30) * 24 * 3600 * 1000)

/* Returned by heartbeat/complete/fail when the caller no longer holds the job's lease (it
 * expired and the job was re-queued, re-claimed, cancelled, failed by the watchdog or
 * deleted): the worker must stop and drop its result. */
#define VPI_STORE_LOST_LEASE AVERROR(ESTALE)

typedef enum VpiJobStatus {
    VPI_JOB_PENDING = 0,
    VPI_JOB_RUNNING,
    VPI_JOB_COMPLETED,
    VPI_JOB_FAILED,
    VPI_JOB_CANCELLED,
    VPI_JOB_NB_STATUS
} VpiJobStatus;

/* "pending", "running", ...; NULL for an out-of-range value. */
const char *vpi_job_status_name(int status);
/* A video whose upload is not complete has no job: its status in lists and filters. */
#define VPI_STATUS_UPLOADING VPI_JOB_NB_STATUS
/* The status of @p name, or -1. */
int vpi_job_status_of_name(const char *name);

typedef struct VpiJob {
    int64_t id, video_id;
    int status;                 /* VpiJobStatus */
    int attempts, max_attempts;
    char *worker;               /* the last claimer, or NULL */
    int64_t lease_id;           /* fencing token of the current (or last) claim */
    int64_t lease_until_ms;     /* 0 when not running */
    int progress;               /* 0-100 */
    char *error;                /* the last failure's reason, or NULL */
    char *result;               /* JSON text given to complete, or NULL */
    char *options;              /* the proxy overrides ("height=720&fps=15"), or NULL */
    int64_t created_ms, started_ms, finished_ms;   /* 0: not yet */
    int64_t not_before_ms;      /* pending: not claimed before this (retry backoff) */
    int64_t time_limit_ms;      /* an attempt running longer is failed by reap */
} VpiJob;

typedef struct VpiVideo {
    int64_t id;
    char *filename;
    int64_t size;
    int64_t created_ms;
    int64_t job_id;             /* its latest job, 0 while uploading */
    int job_status;             /* that job's VpiJobStatus; VPI_STATUS_UPLOADING */
} VpiVideo;

/* A resumable upload: its video exists (status uploading) from creation on. */
typedef struct VpiUpload {
    char id[33];                /* 32 lower-case hex digits, random (unguessable) */
    int64_t video_id;
    char *filename;
    int64_t size, part_size;
    int parts_count;
    char sha256[65];            /* "" when the client gives it at complete */
    char *options;              /* proxy overrides for the job, or NULL */
    int64_t created_ms, expires_ms;
    int complete;               /* 1 once completed: job_id is its job */
    int64_t job_id;
} VpiUpload;

/* A part received whole. */
typedef struct VpiPart {
    int number;
    int64_t size;
    char etag[40];              /* hex MD5 of the part, as S3 computes it */
} VpiPart;

/* Counts for /metrics. */
typedef struct VpiStoreCounts {
    int64_t jobs[VPI_JOB_NB_STATUS];
    int64_t queue_depth;        /* pending and past their backoff */
    int64_t videos, uploads_open;
} VpiStoreCounts;

/* Free the strings of a filled struct and zero it; safe on a zeroed one. */
void vpi_job_clear(VpiJob *j);
void vpi_video_clear(VpiVideo *v);
void vpi_upload_clear(VpiUpload *u);

/* VpiStoreOpts.migrate */
enum {
    VPI_STORE_MIGRATE_NEVER = 0,    /* refuse a database not at VPI_STORE_SCHEMA */
    VPI_STORE_MIGRATE = 1,          /* create or upgrade the schema */
    VPI_STORE_MIGRATE_EMPTY = 2,    /* create it in an empty database; refuse an older one */
};

typedef struct VpiStoreOpts {
    int migrate;                /* VPI_STORE_MIGRATE_*: what open does with the schema */
    int busy_timeout_ms;        /* wait for another process's write lock (5000) */
    int max_attempts;           /* of new jobs (3) */
    int64_t time_limit_ms;      /* of new jobs (1 h) */
    int64_t backoff_ms;         /* first retry delay, doubled per attempt (2000) */
    int64_t backoff_max_ms;     /* cap (300000) */
} VpiStoreOpts;

void vpi_store_default_opts(VpiStoreOpts *o);

typedef struct VpiStore VpiStore;

/* A back end. Every hook but open/close runs one transaction and returns 0 (or the count
 * documented at its wrapper below) or a negative error: AVERROR(ENOENT) for an unknown id,
 * VPI_STORE_LOST_LEASE, AVERROR(EBUSY) when the lock wait timed out, AVERROR(EIO) else.
 * Hooks may be called from several threads at once on one VpiStore. */
typedef struct VpiStoreClass {
    const char *name;           /* the spec prefix: "sqlite" matches "sqlite:PATH" */
    const char *alias;          /* another prefix, or NULL ("postgres" for "postgresql") */
    int uri;                    /* a spec "name://..." is a URI: open gets it whole */
    size_t priv_size;
    /* Open @p target (the spec after "name:", or the whole URI); on failure write one line
     * to @p reason. */
    int (*open)(VpiStore *s, const char *target, char *reason, size_t reason_size);
    void (*close)(VpiStore *s);
    int (*migrate)(VpiStore *s, char *reason, size_t reason_size);
    /* The stored schema version, 0 for an empty database. */
    int (*schema_version)(VpiStore *s);
    int (*add_video)(VpiStore *s, const char *filename, int64_t size, const char *options,
                     int64_t now_ms, int64_t *video_id, int64_t *job_id);
    int (*enqueue)(VpiStore *s, int64_t video_id, const char *options, int64_t now_ms,
                   int64_t *job_id);
    int (*claim)(VpiStore *s, const char *worker, int64_t now_ms, int64_t lease_ms,
                 VpiJob *job);
    int (*heartbeat)(VpiStore *s, int64_t job_id, int64_t lease_id, int progress,
                     int64_t now_ms, int64_t lease_ms);
    int (*complete)(VpiStore *s, int64_t job_id, int64_t lease_id, const char *result,
                    int64_t now_ms);
    int (*fail)(VpiStore *s, int64_t job_id, int64_t lease_id, const char *error,
                int retryable, int64_t now_ms);
    int (*reap)(VpiStore *s, int64_t now_ms, int *requeued, int *failed);
    int (*cancel)(VpiStore *s, int64_t job_id, int64_t now_ms);
    int (*get_job)(VpiStore *s, int64_t job_id, VpiJob *job);
    int (*get_video)(VpiStore *s, int64_t video_id, VpiVideo *video);
    int (*list_videos)(VpiStore *s, int status, int limit, int64_t after_created,
                       int64_t after_id, VpiVideo *out, int *n);
    int (*delete_video)(VpiStore *s, int64_t video_id);
    int (*add_upload)(VpiStore *s, VpiUpload *u);
    int (*get_upload)(VpiStore *s, const char *id, VpiUpload *u);
    int (*put_part)(VpiStore *s, const char *id, const VpiPart *part);
    int (*list_parts)(VpiStore *s, const char *id, VpiPart **parts, int *n);
    int (*complete_upload)(VpiStore *s, const char *id, int64_t now_ms, int64_t *video_id,
                           int64_t *job_id);
    int (*expire_uploads)(VpiStore *s, int64_t now_ms, int64_t **video_ids, int *n);
    int (*counts)(VpiStore *s, int64_t now_ms, VpiStoreCounts *c);
    int (*last_result)(VpiStore *s, int64_t video_id, char **result, int64_t *job_id);
    int (*release)(VpiStore *s, int64_t job_id, int64_t lease_id, int64_t now_ms);
    /* Optional: block until a job may have become claimable (another process's add_video,
     * enqueue, complete_upload, retryable fail, reap or release) or @p timeout_ms passed;
     * 1 when woken, 0 at the timeout. NULL: vpi_store_wait sleeps the timeout. */
    int (*wait)(VpiStore *s, int timeout_ms);
} VpiStoreClass;

struct VpiStore {
    const VpiStoreClass *cls;
    VpiStoreOpts opts;
    void *priv;
    int found_version;          /* the schema version at open, before migrating (0: empty) */
};

extern const VpiStoreClass vpi_store_sqlite;
extern const VpiStoreClass vpi_store_pg;

/* Open the store named by @p spec ("sqlite:PATH", or a bare PATH for SQLite;
 * "postgresql://..." or "postgres://..." URIs, passed whole to libpq, for PostgreSQL). Refuses a
 * database whose schema is newer than VPI_STORE_SCHEMA, an older one unless opts->migrate is
 * VPI_STORE_MIGRATE, an empty one when it is VPI_STORE_MIGRATE_NEVER.
 * @return 0 with *out set (free with vpi_store_close), or a negative error with one line in
 *         @p reason naming the database and why (AVERROR(EPROTO) for a schema refusal). */
int vpi_store_open(const char *spec, const VpiStoreOpts *opts, VpiStore **out, char *reason,
                   size_t reason_size);
void vpi_store_close(VpiStore **s);
int vpi_store_schema_version(VpiStore *s);

/* Create a video and its first (pending) job, with @p options (or NULL), in one
 * transaction. */
int vpi_store_add_video(VpiStore *s, const char *filename, int64_t size, const char *options,
                        int64_t now_ms, int64_t *video_id, int64_t *job_id);
/* Queue a new job for @p video_id (reprocess) with @p options (NULL: those of the video's
 * latest job). One active job per video: if a pending or running job exists, @return 1 with
 * its id in *job_id and change nothing; 0 when queued. AVERROR(EBUSY) while the video's
 * upload is not complete. */
int vpi_store_enqueue(VpiStore *s, int64_t video_id, const char *options, int64_t now_ms,
                      int64_t *job_id);
/* Claim the oldest pending job whose backoff has passed: running, attempts + 1, a lease until
 * now + @p lease_ms and a new fencing token (job->lease_id) that every later call names.
 * @return 1 with *job filled (vpi_job_clear it), 0 when no job is eligible. */
int vpi_store_claim(VpiStore *s, const char *worker, int64_t now_ms, int64_t lease_ms,
                    VpiJob *job);
/* Extend the lease to now + @p lease_ms and store progress; VPI_STORE_LOST_LEASE unless the
 * job is running under @p lease_id. */
int vpi_store_heartbeat(VpiStore *s, int64_t job_id, int64_t lease_id, int progress,
                        int64_t now_ms, int64_t lease_ms);
/* Completed with @p result (JSON text); VPI_STORE_LOST_LEASE as heartbeat. */
int vpi_store_complete(VpiStore *s, int64_t job_id, int64_t lease_id, const char *result,
                       int64_t now_ms);
/* Record @p error. Retryable with attempts left: pending again, not before now + backoff
 * (backoff_ms * 2^(attempts-1), capped); @return 1. Else failed; @return 0. */
int vpi_store_fail(VpiStore *s, int64_t job_id, int64_t lease_id, const char *error,
                   int retryable, int64_t now_ms);
/* The watchdog: running jobs past their time limit are failed; running jobs whose lease
 * expired go back to pending (failed when their attempts are used up). */
int vpi_store_reap(VpiStore *s, int64_t now_ms, int *requeued, int *failed);
/* Pending or running → cancelled (@return 0); a finished job is left as it is (@return 1). */
int vpi_store_cancel(VpiStore *s, int64_t job_id, int64_t now_ms);
int vpi_store_get_job(VpiStore *s, int64_t job_id, VpiJob *job);
int vpi_store_get_video(VpiStore *s, int64_t video_id, VpiVideo *video);
/* A list cursor as clients send it back ("CREATED.ID", lower-case hex, each part 1 to 16
 * digits, no sign, space, "0x" or upper case; NULL or "": the first page) into its two
 * numbers. 0, or AVERROR(EINVAL). Pure; fuzzed by fuzz/fuzz_store_cursor.c. */
int vpi_store_cursor_parse(const char *c, int64_t *created, int64_t *id);

/* Up to @p limit (1-1000) videos in (created, id) order after @p cursor (NULL or "" from the
 * start), those whose latest job has @p status (-1: any). *out is an array of *n videos (free
 * with vpi_videos_free); @p next_cursor gets the cursor of the next page, "" at the end.
 * AVERROR(EINVAL) for a cursor this store did not make. Rows added while paging come after
 * the rows that were there (created = now), so no row is repeated or lost. */
int vpi_store_list_videos(VpiStore *s, int status, int limit, const char *cursor,
                          VpiVideo **out, int *n, char *next_cursor, size_t next_size);
void vpi_videos_free(VpiVideo **v, int n);
/* Delete a video and all its jobs (a worker holding one then gets VPI_STORE_LOST_LEASE). */
int vpi_store_delete_video(VpiStore *s, int64_t video_id);

/* Create upload @p u (id, filename, size, part_size, parts_count, sha256, options,
 * created_ms, expires_ms filled by the caller) and its video (uploading) in one transaction;
 * sets u->video_id. AVERROR(EEXIST) for an id in use. */
int vpi_store_add_upload(VpiStore *s, VpiUpload *u);
/* AVERROR(ENOENT) for an unknown (or expired and removed) upload. */
int vpi_store_get_upload(VpiStore *s, const char *id, VpiUpload *u);
/* Record a part received whole (replacing an earlier one of the same number).
 * AVERROR(ENOENT): unknown upload; AVERROR(EEXIST): the upload is complete. */
int vpi_store_put_part(VpiStore *s, const char *id, const VpiPart *part);
/* The parts recorded, by number; *parts is malloc'ed (free()), NULL when none. */
int vpi_store_list_parts(VpiStore *s, const char *id, VpiPart **parts, int *n);
/* Mark the upload complete, set its video's size and queue the video's first job (with the
 * upload's options), in one transaction: @return 0. Already complete: @return 1 with the
 * same ids, nothing changed. The caller has checked the parts and stored the original. */
int vpi_store_complete_upload(VpiStore *s, const char *id, int64_t now_ms, int64_t *video_id,
                              int64_t *job_id);
/* Remove the uploads still open at @p now_ms past their expiry, with their videos and parts;
 * *video_ids (malloc'ed, free()) names their videos so the storage drops their bytes. */
int vpi_store_expire_uploads(VpiStore *s, int64_t now_ms, int64_t **video_ids, int *n);
int vpi_store_counts(VpiStore *s, int64_t now_ms, VpiStoreCounts *c);
/* The result of @p video_id's latest completed job (malloc'ed text) and that job's id;
 * AVERROR(ENOENT) when none completed. */
int vpi_store_last_result(VpiStore *s, int64_t video_id, char **result, int64_t *job_id);
/* Hand a running job back (drain): pending at once, the attempt not counted.
 * VPI_STORE_LOST_LEASE as heartbeat. */
int vpi_store_release(VpiStore *s, int64_t job_id, int64_t lease_id, int64_t now_ms);
/* Wait up to @p timeout_ms (0 to 60000) for a job to become claimable: an idle worker's
 * sleep between claims. PostgreSQL wakes at once on a NOTIFY from any process; SQLite (no
 * such signal) sleeps the whole timeout. @return 1 when woken early, 0 at the timeout,
 * AVERROR(EINVAL) for a timeout out of range. A wake-up is a hint: the claim may still find
 * nothing (another worker was quicker). Any thread. */
int vpi_store_wait(VpiStore *s, int timeout_ms);

#endif
