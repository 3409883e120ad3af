/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file service.h
 * The job service behind `vidpipe serve` (docs/serve.md): uploads (resumable, in parts, or
 * whole), a queue of jobs with leases, worker threads that make each original's proxy,
 * thumbnail and metadata in one decode (vp_proxy_make), and the stored results.
 *
 * A VpService owns a store (the database of videos, uploads and jobs: "sqlite:PATH" now) and
 * a storage (the objects: originals, proxies, thumbnails: "file:DIR" now). The HTTP server
 * (servers/serve/) is a thin layer on these calls: each takes what a request carries and
 * answers with the JSON text of the reply, so every server speaks the same JSON.
 *
 * Errors: every call returns 0 or a negative error with @p fail (when not NULL) holding one
 * line for a person ("upload 3f2a...: part 9 is out of range 1..4"); vp_service_http_status()
 * maps an error to the HTTP status the API answers with.
 *
 * Threads: every function may be called from any thread at once on one VpService, except
 * vp_service_close(). A VpServiceBody belongs to one thread at a time.
 */
#ifndef VIDPIPE_SERVICE_H
#define VIDPIPE_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpService VpService;

/** What vp_service_open() does with the store's schema (VpServiceOpts.migrate). */
typedef enum VpServiceMigrate {
    VP_SERVICE_MIGRATE_NEVER = 0,   /**< refuse a database not at this build's version */
    VP_SERVICE_MIGRATE = 1,         /**< create or upgrade the schema */
    VP_SERVICE_MIGRATE_EMPTY = 2,   /**< create the schema of an empty database (a fresh
                                         DATA needs no setup); refuse an older one, which
                                         vp_service_migrate() upgrades (the default) */
} VpServiceMigrate;

/** Settings of vp_service_open(). Fill with vp_service_default_opts(), then override. */
typedef struct VpServiceOpts {
    const char *data_dir;       /**< DATA: the database, objects and uploads by default;
                                     required unless db and storage are both given (then
                                     bodies being received stage in the process's scratch
                                     folder under tmp_dir) */
    const char *db;             /**< store spec; NULL: "sqlite:DATA/vidpipe.db" */
    const char *storage;        /**< storage spec; NULL: "file:DATA" (objects in
                                     DATA/objects, parts in DATA/uploads) */
    const char *tmp_dir;        /**< scratch: each process takes a folder of its own,
                                     named by a hash of DATA (or of db and storage) and a
                                     slot number locked while it runs, with a subfolder per
                                     worker; the leftovers of a dead process on the same
                                     store are removed at start; NULL: $TMPDIR or /tmp */
    int workers;                /**< worker threads; -1 (default): one per core; 0: none
                                     (an API node) */
    int64_t lease_ms;           /**< a claim's lease (60000); heartbeats at a third of it */
    int64_t time_limit_ms;      /**< one attempt's limit (3600000) */
    int max_attempts;           /**< per job (3) */
    int64_t max_upload;         /**< largest original accepted, bytes (20 GiB) */
    int64_t part_size;          /**< default part size of resumable uploads (8 MiB) */
    int64_t upload_ttl_ms;      /**< an unfinished upload expires after this (24 h) */
    int migrate;                /**< a VpServiceMigrate (VP_SERVICE_MIGRATE_EMPTY) */
    int64_t now_offset_ms;      /**< added to the wall clock (tests); default 0 */
    VpLogger logger;            /**< one line per event: job claimed, completed, failed,
                                     retried, upload completed, expired, worker started */
} VpServiceOpts;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_service_default_opts(VpServiceOpts *opts);

/**
 * Open the store and the storage of @p opts, migrate if asked, recover what a killed
 * process left (temporary bodies, each worker's scratch folder) and start the worker threads
 * and the supervisor (heartbeats, the watchdog, upload expiry).
 * @return 0 with *out (free with vp_service_close()), or a negative error with @p fail
 *         naming the database, folder or option and why (AVERROR(EPROTO): the schema is
 *         older than this build's and opts->migrate does not allow upgrading it, or is
 *         newer than this build's).
 */
VP_API int vp_service_open(const VpServiceOpts *opts, VpService **out, VpFailure *fail);

/**
 * Create or upgrade the schema of the store of @p opts (`vidpipe serve --migrate`): opens the
 * store alone (opts->db, or DATA's SQLite database; nothing else is opened or started),
 * migrates it in one transaction and closes it. opts->migrate is ignored.
 * @return 0 with *from_version (the version found; 0 for an empty database) and *to_version
 *         (this build's, equal when there was nothing to do); a negative error with @p fail
 *         naming the database and why (AVERROR(EPROTO): its schema is newer than this
 *         build's; it is left untouched). Thread-safe.
 */
VP_API int vp_service_migrate(const VpServiceOpts *opts, int *from_version, int *to_version,
                              VpFailure *fail);

/**
 * Stop claiming jobs (SIGTERM). Running jobs get up to @p grace_ms to finish; the ones
 * still running then are stopped and handed back to the queue (pending again, the attempt
 * not counted), so another worker or the next start runs them. Returns when no worker
 * holds a job. Calls that queue work answer AVERROR(ESHUTDOWN) from then on. Idempotent.
 */
VP_API void vp_service_drain(VpService *s, int64_t grace_ms);

/** Drain with no grace, stop every thread, close the store and storage; *s = NULL.
 *  No other call may be running or start. NULL-safe. */
VP_API void vp_service_close(VpService **s);

/**
 * The HTTP status for an error of these calls: AVERROR(EINVAL), VP_ERR_BAD_OPTION: 400;
 * AVERROR(EACCES): 403; AVERROR(ENOENT): 404; AVERROR(EEXIST), AVERROR(EBUSY): 409;
 * AVERROR(EFBIG): 413; AVERROR(ERANGE): 416; AVERROR(EBADMSG): 422 (checksum or etag
 * mismatch); AVERROR(ENOSYS): 501 (not with this storage); AVERROR(ESHUTDOWN): 503; AVERROR(ENOSPC): 507; anything else 500. 0: 200.
 * Thread-safe.
 */
VP_API int vp_service_http_status(int err);

/** A new resumable upload (POST /api/v1/uploads). */
typedef struct VpUploadSpec {
    const char *filename;       /**< the client's name for it; a base name is kept (no
                                     folders, no NUL, 1-255 bytes), else AVERROR(EINVAL) */
    int64_t size;               /**< bytes, 1..max_upload (else EINVAL / EFBIG) */
    const char *sha256;         /**< 64 hex digits, or NULL (then given at complete) */
    int64_t part_size;          /**< 0: the service's default; else the storage's
                                     smallest part (1 MiB; S3: 5 MiB)..1 GiB */
    const char *options;        /**< proxy overrides as "height=720&fps=15" (names of the
                                     "proxy" option table), or NULL; checked here */
} VpUploadSpec;

/**
 * Create an upload and reserve its video (listed as "uploading" until complete).
 * @return 0 and *json: {"upload_id", "video_id", "filename", "size", "part_size",
 *         "parts_count", "expires_at"}; free() it. Times are ISO 8601 UTC. Where the
 *         storage takes parts from clients itself (S3), also "parts": [{"part_number",
 *         "url"}], a URL to PUT each part to (its answer's ETag header is the part's etag
 *         at complete), and "urls_expire_at" (the upload's expiry, at most 7 days); the
 *         part API (vp_service_part_begin) keeps working beside them.
 *         AVERROR(EINVAL) for a part_size under the storage's smallest part.
 */
VP_API int vp_service_upload_create(VpService *s, const VpUploadSpec *spec, char **json,
                                    VpFailure *fail);

/**
 * Fresh part URLs of an open upload (GET /api/v1/uploads/{id}?urls=1): the JSON of
 * vp_service_upload_create() again, with "status" and new "parts" URLs.
 * @return 0 and *json (free() it); AVERROR(ENOSYS) when the storage takes no parts from
 *         clients (send them through vp_service_part_begin()), AVERROR(ENOENT) for an
 *         unknown or expired upload, AVERROR(EEXIST) for a complete one.
 */
VP_API int vp_service_upload_urls(VpService *s, const char *upload_id, char **json,
                                  VpFailure *fail);

/**
 * An upload's state (GET /api/v1/uploads/{id}): {"upload_id", "video_id", "filename",
 * "size", "part_size", "parts_count", "expires_at", "status": "open"|"complete", "job_id"
 * (null until complete), "parts": [{"part_number", "size", "etag"}]}, listing only parts
 * received whole through vp_service_part_begin(), in order (not those a client PUT to
 * the storage's URLs). AVERROR(ENOENT) for an unknown or expired id.
 */
VP_API int vp_service_upload_get(VpService *s, const char *upload_id, char **json,
                                 VpFailure *fail);

/** One part named by the client at complete. */
typedef struct VpPartRef {
    int part_number;
    const char *etag;           /**< as the part's PUT answered it (quotes optional) */
} VpPartRef;

/**
 * Complete an upload (POST /api/v1/uploads/{id}/complete): every part 1..parts_count must
 * be listed once, in order, with the etag it was stored with, and present (else
 * AVERROR(EINVAL) naming the part); the assembled size must be the announced one and its
 * SHA-256 @p sha256 (or the one given at create; one of them is required) (else
 * AVERROR(EBADMSG)). Where the storage takes parts from clients (S3), a part not received
 * through the API is the one the client PUT to its URL: its etag is recorded and the
 * storage checks it (one it does not know: AVERROR(EBADMSG), nothing stored, the upload
 * stays open). Then the original is stored, the parts removed and the job queued.
 * A second complete of the same upload answers the same ids and starts nothing.
 * @return 0 and *json {"video_id", "job_id"}.
 */
VP_API int vp_service_upload_complete(VpService *s, const char *upload_id,
                                      const VpPartRef *parts, int nb_parts,
                                      const char *sha256, char **json, VpFailure *fail);

/** A request body being received and written to disk as it arrives. */
typedef struct VpServiceBody VpServiceBody;

/**
 * Start receiving part @p part_number (from 1) of upload @p upload_id (PUT
 * /api/v1/uploads/{id}/parts/{n}). @p length is the Content-Length (-1: unknown); a part
 * must be exactly part_size bytes, the last one the remainder (else AVERROR(EINVAL)
 * before any byte is read, or when the body ends). A part sent again replaces the old one
 * once it is whole. AVERROR(ENOENT): unknown upload; AVERROR(EEXIST): already complete.
 * On success *out receives the body; finish or abort it.
 */
VP_API int vp_service_part_begin(VpService *s, const char *upload_id, int part_number,
                                 int64_t length, VpServiceBody **out, VpFailure *fail);

/**
 * Start receiving a whole original (POST /api/v1/videos?filename=...): @p filename as in
 * VpUploadSpec, @p options the proxy overrides or NULL, @p length the Content-Length (-1:
 * unknown; the body may not pass max_upload: AVERROR(EFBIG)).
 */
VP_API int vp_service_video_begin(VpService *s, const char *filename, const char *options,
                                  int64_t length, VpServiceBody **out, VpFailure *fail);

/** Append @p size bytes. An error (EFBIG past the limit or the part's size, ENOSPC, EIO)
 *  leaves the body to be aborted. */
VP_API int vp_service_body_write(VpServiceBody *b, const void *data, size_t size,
                                 VpFailure *fail);

/**
 * The body ended: make it durable and visible. A part answers {"part_number", "size",
 * "etag"}; a whole video {"video_id", "job_id"} (the job queued). Frees *b either way and
 * sets it to NULL; on error nothing of the body is kept.
 */
VP_API int vp_service_body_finish(VpServiceBody **b, char **json, VpFailure *fail);

/** The body will not be finished (connection lost): its bytes are removed. NULL-safe. */
VP_API void vp_service_body_abort(VpServiceBody **b);

/**
 * A job (GET /api/v1/jobs/{id}): {"job_id", "video_id", "status", "progress", "attempts",
 * "max_attempts", "worker", "created_at", "started_at", "finished_at" (null until then),
 * "duration_seconds" (null until finished), "error", "result"}; result is null until the
 * job completed, then the seed's shape: {"status": "success", "original_path",
 * "proxy_path", "thumbnail_path", "metadata": {"original", "proxy", "thumbnail"},
 * "decode_errors"}.
 */
VP_API int vp_service_job_json(VpService *s, int64_t job_id, char **json, VpFailure *fail);

/**
 * A video (GET /api/v1/videos/{id}): {"video_id", "filename", "size", "created_at",
 * "status" (its latest job's, or "uploading"), "job_id", "progress", "attempts", "error",
 * "media": {"original", "proxy", "thumbnail"} (true where stored), "metadata" (the
 * latest completed result's, or null)}.
 */
VP_API int vp_service_video_json(VpService *s, int64_t video_id, char **json,
                                 VpFailure *fail);

/**
 * A page of videos in upload order (GET /api/v1/videos): {"videos": [video, ...],
 * "next_cursor": "..." or null at the end}. @p status: a job status name, "uploading", or
 * NULL for all; @p limit 1..1000 (0: 100); @p cursor from a previous page or NULL. Videos
 * added while a client pages come after the ones that were there: none is repeated or lost.
 */
VP_API int vp_service_videos_json(VpService *s, const char *status, int limit,
                                  const char *cursor, char **json, VpFailure *fail);

/** Delete a video, its jobs (a running one is stopped) and every stored file of it. */
VP_API int vp_service_video_delete(VpService *s, int64_t video_id, VpFailure *fail);

/**
 * Queue a new job for a video (POST /api/v1/videos/{id}/reprocess), with @p options as in
 * VpUploadSpec (NULL: the last job's). If the video has a pending or running job, that one
 * is answered and nothing starts. @return 0 and *json {"video_id", "job_id", "queued":
 * true|false}; AVERROR(EBUSY) while the video is still uploading.
 */
VP_API int vp_service_video_reprocess(VpService *s, int64_t video_id, const char *options,
                                      char **json, VpFailure *fail);

/** Cancel a pending or running job (POST /api/v1/jobs/{id}/cancel); a running one stops
 *  within a second. @return 0 and *json, the job as vp_service_job_json() shows it after. */
VP_API int vp_service_job_cancel(VpService *s, int64_t job_id, char **json,
                                 VpFailure *fail);

typedef enum VpServiceMediaKind {
    VP_MEDIA_ORIGINAL = 0,
    VP_MEDIA_PROXY,
    VP_MEDIA_THUMBNAIL,
} VpServiceMediaKind;

/** A stored file opened for sending. */
typedef struct VpServiceMedia {
    int fd;                     /**< open for reading; the caller closes it */
    int64_t size;
    int64_t mtime;              /**< seconds since the epoch */
    char content_type[64];      /**< "video/mp4", "image/jpeg", ... */
    char etag[64];              /**< quoted, stable while the file is */
    char filename[256];         /**< for Content-Disposition */
    char disposition[1100];     /**< the Content-Disposition header's value: inline, the
                                     filename as ASCII and exact (RFC 6266, RFC 8187) */
} VpServiceMedia;

/**
 * Open a video's original, or the proxy or thumbnail of its latest completed job.
 * @return 0 with @p m filled (the caller owns m->fd); AVERROR(ENOENT) when the video or that
 *         file does not exist (yet).
 */
VP_API int vp_service_media_open(VpService *s, int64_t video_id, VpServiceMediaKind kind,
                                 VpServiceMedia *m, VpFailure *fail);

/**
 * Where a client can GET the file vp_service_media_open() would open, for @p expires
 * seconds (1..604800), when the storage has URLs of its own (S3: a presigned GET; the
 * HTTP server redirects to it).
 * @return 0 and *url (free() it); AVERROR(ENOSYS) when the storage has none (open the
 *         file instead), AVERROR(ENOENT) as vp_service_media_open(). The object itself is
 *         not checked: one removed since the job completed answers 404 at the URL.
 */
VP_API int vp_service_media_url(VpService *s, int64_t video_id, VpServiceMediaKind kind,
                                int expires, char **url, VpFailure *fail);

/** Bounds of the job duration histogram, seconds (Prometheus "le"); +Inf is implied. */
#define VP_SERVICE_DURATION_BUCKETS 10
VP_API extern const double vp_service_duration_bounds[VP_SERVICE_DURATION_BUCKETS];

/** What /metrics shows. Counters count since vp_service_open(). */
typedef struct VpServiceMetrics {
    int64_t jobs[5];            /**< jobs by state now: pending, running, completed,
                                     failed, cancelled (the store's counts) */
    int64_t queue_depth;        /**< pending jobs whose backoff has passed */
    int64_t videos;             /**< videos stored */
    int64_t uploads_open;       /**< resumable uploads not complete */
    int64_t upload_bytes;       /**< body bytes received and kept (counter) */
    int64_t jobs_finished[3];   /**< by this process's workers: completed, failed, retried */
    uint64_t duration_counts[VP_SERVICE_DURATION_BUCKETS + 1]; /**< cumulative, last +Inf */
    double duration_sum;        /**< seconds, of the completed jobs counted */
    int workers, workers_busy;
    int draining;
} VpServiceMetrics;

/** Fill @p m. 0, or the store's error. */
VP_API int vp_service_metrics(VpService *s, VpServiceMetrics *m);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_SERVICE_H */
