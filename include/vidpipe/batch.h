/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file batch.h
 * The batch runner every many-outputs command shares: N workers, complete outputs skipped,
 * atomic outputs, retries with backoff for transient I/O errors, a per-item JSON-lines
 * report, a run log, and progress. A failing item never stops the batch.
 */
#ifndef VIDPIPE_BATCH_H
#define VIDPIPE_BATCH_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One unit of work. */
typedef struct VpBatchItem {
    const char *name;     /**< shown in logs and the report ("clip042") */
    const char *output;   /**< final output path: skipped when it exists (complete by
                               construction, since outputs are renamed into place) */
    void *user;           /**< the caller's per-item data, passed to work() */
} VpBatchItem;

/**
 * Do one item. @p worker is what worker_new() returned for this thread (per-worker caches,
 * e.g. a VpJoiner). Returns 0 on success or a negative error; on error fills @p why with one
 * line naming the file and the reason. Must write its output atomically.
 * Called concurrently from different worker threads.
 */
typedef int (*VpBatchWorkFn)(void *opaque, void *worker, const VpBatchItem *item,
                             char *why, size_t why_size);

typedef struct VpBatchOpts {
    int jobs;               /**< worker threads; 0 = the number of cores */
    int skip_existing;      /**< 1 (default): items whose output exists are skipped */
    int retries;            /**< extra attempts after a transient I/O error (default 2) */
    int retry_backoff_ms;   /**< first backoff, doubled each retry (default 250) */
    const char *report_path;/**< JSON lines, one per item; NULL = none */
    const char *log_path;   /**< human-readable run log; NULL = none */
    VpBatchWorkFn work;     /**< required */
    void *opaque;           /**< passed to work(), worker_new() and progress() */
    void *(*worker_new)(void *opaque);   /**< optional per-worker state */
    void (*worker_free)(void *worker);
    /** Optional, called (serialized) after each item from worker threads. */
    void (*progress)(void *opaque, int64_t done, int64_t failed, int64_t total);
    /** Optional, called (serialized) once per item with its outcome. */
    void (*item_done)(void *opaque, const VpBatchItem *item, const char *status,
                      const char *why, double seconds, int64_t bytes);
    volatile int *cancel;   /**< optional: stop taking new items when *cancel != 0 */
} VpBatchOpts;

typedef struct VpBatchStats {
    int64_t total, done, skipped, failed;
    double seconds;
} VpBatchStats;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_batch_default_opts(VpBatchOpts *opts);

/**
 * Run every item. @p items and the strings they point to are only read, and must stay
 * valid during the call. Returns the number of failed items (0: all done or skipped), or a
 * negative error if the batch could not run at all (bad options, report not writable).
 * Call from one thread; it creates its own workers.
 */
VP_API int vp_batch_run(const VpBatchItem *items, size_t nb, const VpBatchOpts *opts,
                        VpBatchStats *stats);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_BATCH_H */
