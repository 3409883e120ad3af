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
    const char *name;     /**< shown in logs and the report ("clip042"); NULL: the output's
                               file name, or "#N" without output */
    const char *output;   /**< final output path: skipped when it exists (complete by
                               construction, since outputs are renamed into place); NULL
                               for items that write nothing (never skipped) */
    void *user;           /**< the caller's per-item data, passed to work() */
    /** The files the item reads, @p nb_inputs of them (NULL entries are skipped); NULL and
     *  0 for none given. An item whose output is one of them (the same file, however spelt:
     *  vp_output_check_not_input()) fails with VP_ERR_OUTPUT_IS_INPUT without calling
     *  work(), even when its output exists and would otherwise be skipped. */
    const char *const *inputs;
    int nb_inputs;
    /** The item's other outputs, @p nb_more_outputs of them (NULL entries are skipped),
     *  which work() puts in place before @p output (so that @p output existing still means
     *  the item is complete): their temporaries left by a killed run are removed as the
     *  output's are, and their sizes count in the item's bytes. NULL and 0 for none. */
    const char *const *more_outputs;
    int nb_more_outputs;
} VpBatchItem;

/**
 * Do one item. @p worker is what worker_new() returned for this worker (per-worker caches,
 * e.g. a VpJoiner), NULL without worker_new. Returns 0 on success or a negative error; on
 * error fills @p fail (the same VpFailure the other entry points report through: which
 * file, the index of the item's input at fault in VpBatchItem.inputs or -1, and one line
 * naming the file and the reason). @p fail comes zeroed, with input -1, for every attempt;
 * left empty on error, the runner fills it with the output: "OUTPUT: <vp_strerror(ret)>".
 * Its code is always set to the returned error. Must write its output atomically
 * (vpi_output_* or an API that does, such as vp_joiner_run), so that a failed or killed
 * attempt leaves no file under the final name. May be called again for the same item after
 * a transient error (see VpBatchOpts.retries). Called concurrently from different worker
 * threads, never concurrently with the same @p worker.
 */
typedef int (*VpBatchWorkFn)(void *opaque, void *worker, const VpBatchItem *item,
                             VpFailure *fail);

typedef struct VpBatchOpts {
    int jobs;               /**< worker threads, 0..256; 0 = the number of cores. Never
                                 more workers than items. */
    int skip_existing;      /**< what to do with an output that exists: 1 (default) skip
                                 it when it records being made from the item's inputs as
                                 they are now and from @c settings, else redo it; 2 skip
                                 every existing output; 0 redo every one. A done item's
                                 output records what made it (an extended attribute, see
                                 vidpipe(1); none on file systems without them) */
    const char *settings;   /**< the settings that shape the outputs, as text (NULL: none);
                                 part of what an output records having been made from */
    int retries;            /**< extra attempts after a transient error (default 2, 0..100).
                                 Transient: EAGAIN, EINTR, ETIMEDOUT, EBUSY, EIO, ESTALE and
                                 the network errors (ECONNRESET, ENETDOWN, ...). Not transient:
                                 ENOSPC, EDQUOT, EACCES, ENOENT, ENOMEM, bad media, ... */
    int retry_backoff_ms;   /**< first backoff, doubled each retry, at most 60 s
                                 (default 250, 0..600000) */
    const char *report_path;/**< JSON lines, one per item, truncated at the start and
                                 locked for the run (a second run with the same report is
                                 refused with AVERROR(EBUSY)); NULL = none */
    const char *log_path;   /**< human-readable run log, appended to; NULL = none */
    VpBatchWorkFn work;     /**< required */
    void *opaque;           /**< passed to work(), worker_new(), progress() and item_done() */
    /** Optional per-worker state, created from the calling thread before the workers start
     *  (NULL = failure: that worker is not started; if none can be, vp_batch_run() returns
     *  AVERROR(ENOMEM)) and freed by worker_free() from the calling thread at the end. */
    void *(*worker_new)(void *opaque);
    void (*worker_free)(void *worker);
    /** Optional, called (serialized) after each item from worker threads: @p finished
     *  items so far (done, skipped or failed), @p failed of them, of @p total. */
    void (*progress)(void *opaque, int64_t finished, int64_t failed, int64_t total);
    /** Optional, called (serialized) once per item with its outcome: @p status is "done",
     *  "skipped" or "failed"; @p fail says which file failed and why (code < 0) for a
     *  failed item, and is NULL otherwise. It is valid only during the call. */
    void (*item_done)(void *opaque, const VpBatchItem *item, const char *status,
                      const VpFailure *fail, double seconds, int64_t bytes);
    VpCancel cancel;        /**< optional: stop taking new items (and retrying) once it says
                                 so; items already started run to their end unless work()
                                 passes it on to the call it makes */
    VpLogger logger;        /**< where the batch logs (fn = NULL: the process default) */
    /** Optional: the bytes of a done or skipped item's output as its producer counts them,
     *  for the report, the log and the stats, instead of the sizes of @c output and
     *  @c more_outputs and their shared extents (a personalized HLS playlist is small; the
     *  segments it lists are what it is made of): fills *bytes and *shared (of *bytes,
     *  those the output shares with other items' outputs) and returns 0, or returns a
     *  negative error to have them counted the usual way. Called from worker threads,
     *  concurrently, for different items. */
    int (*output_bytes)(void *opaque, const VpBatchItem *item, int64_t *bytes,
                        int64_t *shared);
    /** Optional: more of an item's outcome for its report line, called once the item is
     *  done, failed or skipped, from the thread that ran it, before the line is written:
     *  a JSON object's text (malloc'd; the runner frees it) whose members are added to the
     *  line (a member the runner writes itself keeps the runner's value), or NULL for
     *  nothing more. E.g. vidpipe run's "qc": what each QC step found. */
    char *(*report_extra)(void *opaque, const VpBatchItem *item);
} VpBatchOpts;

typedef struct VpBatchStats {
    int64_t total, done, skipped, failed;
    double seconds;
    int64_t cancelled;      /**< items never started because of cancel */
    int64_t bytes;          /**< bytes written by the items that were done */
    int64_t retries;        /**< extra attempts made after transient errors */
    int64_t stale_removed;  /**< temporary files of killed runs that were removed */
    int64_t bytes_shared;   /**< of bytes, those in extents the outputs share with other
                                 files (FIEMAP_EXTENT_SHARED after each item: XFS with
                                 reflink, btrfs); the rest were written */
} VpBatchStats;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_batch_default_opts(VpBatchOpts *opts);

/**
 * Run every item, in order of the array, on opts->jobs workers.
 *
 * Before any item runs, the temporary files (see vpi_output_*) that a killed run left for
 * one of this batch's outputs are removed from the output folders (other temporary files
 * are left alone), and items whose output path repeats an earlier item's are marked failed.
 * Then each item fails if its output is one of its inputs, or is skipped (its output
 * exists), or done by work(), retried after transient errors, and reported as one JSON
 * line in the report:
 *
 *     {"item":"clip1.mp4","status":"failed","reason":"clip1.mp4: file is truncated ...",
 *      "error":"VP_ERR_TRUNCATED","path":"clip1.mp4","input":0,"seconds":0.012,
 *      "bytes":0,"attempts":1,"output":"out/clip1.mp4","bytes_shared":0,"bytes_written":0}
 *
 * ("path" and "input" are the VpFailure's file and input index: null unless failed, and
 * "input" null for a fault of the output or of no single input; "bytes_shared" the bytes of
 * the outputs in extents they share with other files, FIEMAP_EXTENT_SHARED as the
 * filesystem reports it after the item, and "bytes_written" the rest of "bytes"), and as
 * one line in the log.
 * No outcome is kept per item (the report is streamed): memory
 * does not grow with @p nb, apart from an index of at most 32 bytes per item that lives only while
 * repeated outputs are looked for, before the workers start.
 *
 * @p items and the strings they point to are only read, and must stay valid during the
 * call. @p stats may be NULL; it is filled even when the batch is cancelled.
 *
 * @return the number of failed items (0: all done or skipped); VP_ERR_CANCELLED if *cancel
 *         stopped the batch before every item ran (stats say how far it got); or another
 *         negative error if the batch could not run at all (VP_ERR_BAD_OPTION with a log
 *         line naming the field, report or log not writable, AVERROR(EBUSY) when another
 *         run holds the report, VP_ERR_OUTPUT_IS_INPUT with a log line naming the report or
 *         the log when it is one of an item's inputs: then neither is opened), in which
 *         case no item was run.
 *
 * Call from one thread; it creates its own workers and returns when they have ended.
 */
VP_API int vp_batch_run(const VpBatchItem *items, size_t nb, const VpBatchOpts *opts,
                        VpBatchStats *stats);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_BATCH_H */
