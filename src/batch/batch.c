/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vp_batch_run(): the shared runner of every many-outputs command. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "options/options.h"
#include "util/internal.h"
#include "common/json_text.h"
#include "vidpipe/batch.h"

#define MAX_BACKOFF_MS 60000
#define WHY_SIZE 1024

/* A folder that holds outputs of this batch, and the temporary files found in it. */
typedef struct OutDir {
    char *path;             /* as the items spell it ("." for bare names) */
    char *real;             /* realpath(), or NULL when it does not exist yet */
    char **temps;           /* stale temporary file names (not paths) */
    int nb_temps;
} OutDir;

typedef struct DirTable {
    OutDir *dirs;
    int nb, cap;
    int *slots;             /* open addressing over dirs by path; -1 = empty */
    size_t nb_slots;
} DirTable;

/* An item whose output repeats an earlier item's. */
typedef struct Repeat {
    size_t item, first;
} Repeat;

typedef struct Batch {
    const VpBatchItem *items;
    size_t nb;
    const VpBatchOpts *o;
    Repeat *repeats;        /* sorted by item */
    size_t nb_repeats;

    pthread_mutex_t lock;   /* everything below, and the callbacks */
    FILE *report, *log;
    int64_t finished, done, skipped, failed, bytes, bytes_shared, retries;
} Batch;

#define O(...) VPI_OPT_ROW(VpBatchOpts, __VA_ARGS__)

/* The callbacks, paths and cancel flag are the caller's wiring, not settings: no rows. */
static const VpiOption batch_options[] = {
    O(jobs, INT, 0, 0, VPI_MAX_JOBS, "worker threads (0: the number of cores)"),
    O(skip_existing, INT, 1, 0, 2,
      "existing outputs: 1 skip unless what made them changed, 2 skip all, 0 redo all"),
    O(retries, INT, 2, 0, 100, "extra attempts after a transient error"),
    O(retry_backoff_ms, INT, 250, 0, 600000, "first backoff, doubled each retry, ms"),
    { NULL },
};
#undef O

static int check_batch(const void *obj, char *err, size_t err_size)
{
    const VpBatchOpts *o = obj;
    if (!o->work) {
        snprintf(err, err_size, "work: a work function is required");
        return VP_ERR_BAD_OPTION;
    }
    if (o->worker_free && !o->worker_new) {
        snprintf(err, err_size, "worker_free: set without worker_new");
        return VP_ERR_BAD_OPTION;
    }
    return 0;
}

const VpiOptTable vpi_batch_options = { "batch", batch_options, check_batch };

void vp_batch_default_opts(VpBatchOpts *opts)
{
    memset(opts, 0, sizeof(*opts));
    vpi_opt_defaults(&vpi_batch_options, opts);
}

/* Errors that a later attempt can plausibly get past: contention, interrupted calls,
 * timeouts, and the EIO/ESTALE that network and removable filesystems report for passing
 * faults. A full disk (ENOSPC, EDQUOT) is not one of them: it does not clear within a
 * backoff, and every attempt would first rewrite the whole output. */
static int is_transient(int err)
{
    switch (err) {
    case AVERROR(EAGAIN):
    case AVERROR(EINTR):
    case AVERROR(ETIMEDOUT):
    case AVERROR(EBUSY):
    case AVERROR(EIO):
    case AVERROR(ESTALE):
    case AVERROR(ECONNRESET):
    case AVERROR(ECONNABORTED):
    case AVERROR(ECONNREFUSED):
    case AVERROR(ENETDOWN):
    case AVERROR(ENETUNREACH):
    case AVERROR(ENETRESET):
    case AVERROR(EHOSTUNREACH):
        return 1;
    default:
        return 0;
    }
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The folder part of @p path into @p buf ("." for a bare name, "/" for "/x"). */
static int dir_name(const char *path, char *buf, size_t size)
{
    const char *s = strrchr(path, '/');
    size_t len;
    if (!s) {
        vpi_strlcpy(buf, ".", size);
        return 0;
    }
    len = s == path ? 1 : (size_t)(s - path);
    if (len >= size)
        return AVERROR(ENAMETOOLONG);
    memcpy(buf, path, len);
    buf[len] = 0;
    return 0;
}

static uint64_t hash_str(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static size_t pow2_above(size_t n)
{
    size_t s = 16;
    while (s < 2 * n)
        s *= 2;
    return s;
}

/* ---- output folders and stale temporary files ---------------------------------------- */

static void dirs_free(DirTable *t)
{
    for (int i = 0; i < t->nb; i++) {
        for (int k = 0; k < t->dirs[i].nb_temps; k++)
            free(t->dirs[i].temps[k]);
        free(t->dirs[i].temps);
        free(t->dirs[i].path);
        free(t->dirs[i].real);
    }
    free(t->dirs);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static int dirs_rehash(DirTable *t, size_t nb_slots)
{
    int *slots = malloc(nb_slots * sizeof(*slots));
    if (!slots)
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < nb_slots; i++)
        slots[i] = -1;
    for (int d = 0; d < t->nb; d++) {
        size_t h = hash_str(t->dirs[d].path, 0xcbf29ce484222325ULL) & (nb_slots - 1);
        while (slots[h] >= 0)
            h = (h + 1) & (nb_slots - 1);
        slots[h] = d;
    }
    free(t->slots);
    t->slots = slots;
    t->nb_slots = nb_slots;
    return 0;
}

/* Index of folder @p path, added if new; negative error. */
static int dirs_find(DirTable *t, const char *path, int add)
{
    int ret;
    if (!t->nb_slots && (ret = dirs_rehash(t, 16)) < 0)
        return ret;
    size_t h = hash_str(path, 0xcbf29ce484222325ULL) & (t->nb_slots - 1);
    for (; t->slots[h] >= 0; h = (h + 1) & (t->nb_slots - 1))
        if (!strcmp(t->dirs[t->slots[h]].path, path))
            return t->slots[h];
    if (!add)
        return AVERROR(ENOENT);
    if (t->nb == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        OutDir *d = realloc(t->dirs, (size_t)cap * sizeof(*d));
        if (!d)
            return AVERROR(ENOMEM);
        t->dirs = d;
        t->cap = cap;
    }
    OutDir *d = &t->dirs[t->nb];
    memset(d, 0, sizeof(*d));
    if (!(d->path = strdup(path)))
        return AVERROR(ENOMEM);
    d->real = realpath(path, NULL);
    t->slots[h] = t->nb++;
    if ((size_t)t->nb * 2 > t->nb_slots && (ret = dirs_rehash(t, t->nb_slots * 2)) < 0)
        return ret;
    return t->nb - 1;
}

/* Collect the vidpipe temporary files in folder @p d. */
static int dir_scan_temps(OutDir *d)
{
    DIR *dh = opendir(d->path);
    struct dirent *e;
    int cap = 0, ret = 0;
    if (!dh)
        return 0; /* does not exist yet: nothing stale in it */
    while ((e = readdir(dh))) {
        if (!vpi_output_is_temp_name(e->d_name))
            continue;
        if (d->nb_temps == cap) {
            int c = cap ? cap * 2 : 8;
            char **p = realloc(d->temps, (size_t)c * sizeof(*p));
            if (!p) {
                ret = AVERROR(ENOMEM);
                break;
            }
            d->temps = p;
            cap = c;
        }
        if (!(d->temps[d->nb_temps] = strdup(e->d_name))) {
            ret = AVERROR(ENOMEM);
            break;
        }
        d->nb_temps++;
    }
    closedir(dh);
    return ret;
}

/* 1 if @p temp (".NAME.vptmp-XXXXXX") is a temporary file of output file name @p name. */
static int temp_is_for(const char *temp, const char *name)
{
    size_t len = strlen(name);
    return temp[0] == '.' && !strncmp(temp + 1, name, len) &&
           !strncmp(temp + 1 + len, ".vptmp-", 7) && vpi_output_is_temp_name(temp);
}

static void log_line(Batch *b, const char *fmt, ...) VPI_PRINTF(2, 3);

/* The temporary files of output file name @p name in folder @p od, which an interrupted run
 * left: removed. */
static void remove_temps(Batch *b, OutDir *od, const char *name, VpBatchStats *st)
{
    for (int k = 0; k < od->nb_temps; k++) {
        if (!od->temps[k] || !temp_is_for(od->temps[k], name))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", od->path, od->temps[k]) <
                (int)sizeof(path) && unlink(path) == 0) {
            st->stale_removed++;
            log_line(b, "removed %s (temporary file of an interrupted run)", path);
            vpi_log(&b->o->logger, VP_LOG_VERBOSE,
                    "%s: removed (temporary file of an interrupted run)", path);
        }
        free(od->temps[k]);
        od->temps[k] = NULL;
    }
}

/* Runs before the workers: removes the stale temporary files of this batch's outputs and
 * finds the items whose output repeats an earlier one (same folder, by realpath, and name). */
static int prepare_outputs(Batch *b, VpBatchStats *st)
{
    DirTable t = { 0 }, reals = { 0 };
    char dir[PATH_MAX];
    uint64_t *slots = NULL; /* item index + 1 in the low 40 bits, folder in the high 24 */
    size_t nb_slots = 0, cap_repeats = 0;
    int ret = 0, any_temps = 0;

    for (size_t i = 0; i < b->nb; i++) {
        if (!b->items[i].output || dir_name(b->items[i].output, dir, sizeof(dir)) < 0)
            continue;
        if ((ret = dirs_find(&t, dir, 1)) < 0)
            goto end;
        for (int k = 0; k < b->items[i].nb_more_outputs; k++)
            if (b->items[i].more_outputs[k] &&
                dir_name(b->items[i].more_outputs[k], dir, sizeof(dir)) >= 0 &&
                (ret = dirs_find(&t, dir, 1)) < 0)
                goto end;
    }
    for (int d = 0; d < t.nb; d++) {
        if ((ret = dir_scan_temps(&t.dirs[d])) < 0)
            goto end;
        any_temps |= t.dirs[d].nb_temps > 0;
    }

    /* Folders are keyed by the spelling the items use; two spellings of one folder share
     * an id (through their realpath) for the repeat check. */
    int *canon = malloc(((size_t)t.nb + 1) * sizeof(*canon));
    if (!canon) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int d = 0; d < t.nb; d++) {
        int r = t.dirs[d].real ? dirs_find(&reals, t.dirs[d].real, 1) : t.nb + d;
        if (r < 0) {
            free(canon);
            ret = r;
            goto end;
        }
        canon[d] = r;
    }

    nb_slots = pow2_above(b->nb);
    if (t.nb >= (1 << 23) || b->nb >= ((size_t)1 << 40) ||
        !(slots = calloc(nb_slots, sizeof(*slots)))) {
        free(canon);
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (size_t i = 0; i < b->nb; i++) {
        const char *out = b->items[i].output;
        if (!out || dir_name(out, dir, sizeof(dir)) < 0)
            continue;
        int d = dirs_find(&t, dir, 0);
        if (d < 0)
            continue;
        const char *name = base_name(out);
        if (any_temps) {
            remove_temps(b, &t.dirs[d], name, st);
            for (int k = 0; k < b->items[i].nb_more_outputs; k++) {
                const char *more = b->items[i].more_outputs[k];
                int md;
                if (more && dir_name(more, dir, sizeof(dir)) >= 0 &&
                    (md = dirs_find(&t, dir, 0)) >= 0)
                    remove_temps(b, &t.dirs[md], base_name(more), st);
            }
        }
        uint64_t cd = (uint64_t)canon[d];
        size_t h = hash_str(name, 0xcbf29ce484222325ULL ^ (cd * 0x9e3779b97f4a7c15ULL)) &
                   (nb_slots - 1);
        for (; slots[h]; h = (h + 1) & (nb_slots - 1)) {
            size_t j = (size_t)(slots[h] & ((1ULL << 40) - 1)) - 1;
            if ((slots[h] >> 40) == cd && !strcmp(base_name(b->items[j].output), name))
                break;
        }
        if (!slots[h]) {
            slots[h] = (cd << 40) | (uint64_t)(i + 1);
            continue;
        }
        if (b->nb_repeats == cap_repeats) {
            size_t c = cap_repeats ? cap_repeats * 2 : 16;
            Repeat *r = realloc(b->repeats, c * sizeof(*r));
            if (!r) {
                free(canon);
                ret = AVERROR(ENOMEM);
                goto end;
            }
            b->repeats = r;
            cap_repeats = c;
        }
        b->repeats[b->nb_repeats].item = i;
        b->repeats[b->nb_repeats].first = (size_t)(slots[h] & ((1ULL << 40) - 1)) - 1;
        b->nb_repeats++;
    }
    free(canon);

end:
    free(slots);
    dirs_free(&t);
    dirs_free(&reals);
    return ret;
}

static const Repeat *find_repeat(const Batch *b, size_t i)
{
    size_t lo = 0, hi = b->nb_repeats;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b->repeats[mid].item == i)
            return &b->repeats[mid];
        if (b->repeats[mid].item < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Bytes of @p path in extents it shares with other files (FIEMAP_EXTENT_SHARED: XFS with
 * reflink, btrfs), as its filesystem reports them now: 0 where nothing is shared or the
 * filesystem cannot say. Whatever made the output (a join's clones, a copy tool's), this is
 * what it costs less than its size. */
static int64_t shared_bytes(const char *path)
{
    enum { N = 128 };
    struct fiemap *fm = calloc(1, sizeof(*fm) + N * sizeof(struct fiemap_extent));
    int fd = fm ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    int64_t shared = 0;
    uint64_t start = 0;
    int last = 0;
    while (fd >= 0 && !last) {
        memset(fm, 0, sizeof(*fm));
        fm->fm_start = start;
        fm->fm_length = FIEMAP_MAX_OFFSET - start;
        fm->fm_extent_count = N;
        if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0 || !fm->fm_mapped_extents)
            break;
        for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
            const struct fiemap_extent *e = &fm->fm_extents[i];
            if (e->fe_flags & FIEMAP_EXTENT_SHARED)
                shared += (int64_t)e->fe_length;
            last |= !!(e->fe_flags & FIEMAP_EXTENT_LAST);
            start = e->fe_logical + e->fe_length;
        }
    }
    if (fd >= 0)
        close(fd);
    free(fm);
    return shared;
}

/* ---- report and log ------------------------------------------------------------------ */

/* One line of the JSONL report. Names are byte strings: docs/json.md's rule keeps each line
 * JSON (U+FFFD) and the exact name beside it ("item_bytes"). Seconds to the millisecond, as
 * the report has always given them. */
static void report_line(const VpLogger *lg, FILE *f, const char *name, const char *status,
                        const char *why, const VpFailure *fail, double seconds, int64_t bytes,
                        int64_t shared, int attempts, const char *output, const char *extra)
{
    json_t *o = json_object();
    json_t *more = extra ? json_loads(extra, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (extra && !json_is_object(more))
        vpi_log(lg, VP_LOG_WARNING, "report: \"%s\": its extra fields are not a JSON object; "
                "left out", name);
    if (!o || vpi_json_set_text(o, "item", name) < 0 ||
        json_object_set_new(o, "status", json_string(status)) < 0 ||
        vpi_json_set_text(o, "reason", fail ? fail->message : why) < 0 ||
        vpi_json_set_text(o, "error", fail ? vp_err_name(fail->code) : NULL) < 0 ||
        vpi_json_set_text(o, "path", fail && fail->path[0] ? fail->path : NULL) < 0 ||
        json_object_set_new(o, "input", fail && fail->input >= 0 ? json_integer(fail->input)
                                                                  : json_null()) < 0 ||
        json_object_set_new(o, "seconds", json_real(round(seconds * 1000) / 1000)) < 0 ||
        json_object_set_new(o, "bytes", json_integer(bytes)) < 0 ||
        json_object_set_new(o, "attempts", json_integer(attempts)) < 0 ||
        vpi_json_set_text(o, "output", output) < 0 ||
        json_object_set_new(o, "bytes_shared", json_integer(shared)) < 0 ||
        json_object_set_new(o, "bytes_written", json_integer(bytes - shared)) < 0 ||
        (json_is_object(more) && json_object_update_missing(o, more) < 0) ||
        json_dumpf(o, f, JSON_COMPACT | JSON_REAL_PRECISION(15)) < 0)
        vpi_log(lg, VP_LOG_ERROR, "report: out of memory for \"%s\"", name);
    else
        fputc('\n', f);
    json_decref(more);
    json_decref(o);
}

/* One line of the run log; control characters (a file name with a line break) become '?'
 * so that each event stays one line. */
static void log_line(Batch *b, const char *fmt, ...)
{
    char stamp[32], line[4096];
    time_t now;
    struct tm tm;
    va_list ap;

    if (!b->log)
        return;
    now = time(NULL);
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    fprintf(b->log, "%s %s\n", stamp, line);
    fflush(b->log);
}

static void format_bytes(char *buf, size_t size, int64_t bytes)
{
    if (bytes >= 1000000)
        snprintf(buf, size, "%.1f MB", bytes / 1e6);
    else if (bytes >= 1000)
        snprintf(buf, size, "%.1f kB", bytes / 1e3);
    else
        snprintf(buf, size, "%lld B", (long long)bytes);
}

/* One item's outcome, to the counters, the report, the log and the callbacks: @p fail for a
 * failed item, @p why (the reason of a skip) otherwise. */
static void finish_item(Batch *b, size_t i, const char *name, const char *status,
                        const VpFailure *fail, const char *why, double seconds, int64_t bytes,
                        int64_t shared, int attempts)
{
    const VpBatchItem *it = &b->items[i];
    const VpBatchOpts *o = b->o;
    char size[32];
    char *extra = o->report_extra ? o->report_extra(o->opaque, it) : NULL;

    pthread_mutex_lock(&b->lock);
    b->finished++;
    if (!strcmp(status, "done")) {
        b->done++;
        b->bytes += bytes;
        b->bytes_shared += shared;
    } else if (!strcmp(status, "skipped")) {
        b->skipped++;
    } else {
        b->failed++;
    }
    if (b->report) {
        report_line(&b->o->logger, b->report, name, status, why, fail, seconds, bytes,
                    shared, attempts, it->output, extra);
        fflush(b->report);
    }
    format_bytes(size, sizeof(size), bytes);
    if (!strcmp(status, "done"))
        log_line(b, "%s: done in %.2f s, %s%s%s%s", name, seconds, size,
                 it->output ? " -> " : "", it->output ? it->output : "",
                 attempts > 1 ? " (after retries)" : "");
    else if (!strcmp(status, "skipped"))
        log_line(b, "%s: skipped (%s)", name, why);
    else
        log_line(b, "%s: FAILED after %d attempt%s: %s", name, attempts,
                 attempts == 1 ? "" : "s", fail->message);
    if (o->item_done)
        o->item_done(o->opaque, it, status, fail, seconds, bytes);
    if (o->progress)
        o->progress(o->opaque, b->finished, b->failed, (int64_t)b->nb);
    pthread_mutex_unlock(&b->lock);
    free(extra);
}

/* ---- workers ------------------------------------------------------------------------- */

static void failure_reset(VpFailure *f)
{
    memset(f, 0, sizeof(*f));
    f->input = -1;
}

/* A failure of the item's output (or, without one, of the item itself). */
static void output_failure(VpFailure *f, const char *path, int err, const char *fmt, ...)
    VPI_PRINTF(4, 5);
static void output_failure(VpFailure *f, const char *path, int err, const char *fmt, ...)
{
    char reason[sizeof(f->message)];
    va_list ap;
    failure_reset(f);
    f->code = err;
    vpi_strlcpy(f->path, path, sizeof(f->path));
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    snprintf(f->message, sizeof(f->message), "%.600s: %.400s", path, reason);
}

static int cancelled(const Batch *b)
{
    return vpi_cancelled(&b->o->cancel);
}

/* Sleeps @p ms in short slices so that a cancel is seen quickly. */
static void backoff(const Batch *b, int64_t ms)
{
    while (ms > 0 && !cancelled(b)) {
        int64_t slice = ms < 50 ? ms : 50;
        struct timespec ts = { 0, (long)slice * 1000000L };
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/* What an item's outputs weigh, done or skipped: as their producer counts them
 * (VpBatchOpts.output_bytes), else the sizes of @c output and @c more_outputs and their
 * shared extents. AVERROR(ENOENT) when the output is not there. */
static int item_bytes(const VpBatchOpts *o, const VpBatchItem *it, int64_t *bytes,
                      int64_t *shared)
{
    struct stat sb;
    if (o->output_bytes && o->output_bytes(o->opaque, it, bytes, shared) >= 0)
        return 0;
    *bytes = *shared = 0;
    for (int k = 0; k < it->nb_more_outputs; k++)
        if (it->more_outputs[k] && stat(it->more_outputs[k], &sb) == 0) {
            *bytes += (int64_t)sb.st_size;
            *shared += shared_bytes(it->more_outputs[k]);
        }
    if (stat(it->output, &sb) < 0)
        return AVERROR(ENOENT);
    *bytes += (int64_t)sb.st_size;
    *shared += shared_bytes(it->output);
    return 0;
}

/* The made-from record of an item's output, put on its temporary file as it is committed. */
typedef struct MadeFrom {
    const char *output;
    const char *stamp;
} MadeFrom;

static void mark_made_from(void *opaque, const char *final_path, const char *tmp_path)
{
    const MadeFrom *m = opaque;
    if (final_path && tmp_path && !strcmp(final_path, m->output))
        vpi_made_from_store(tmp_path, m->stamp); /* none only means a rerun redoes it */
}

static void run_item(Batch *b, void *state, size_t i)
{
    const VpBatchItem *it = &b->items[i];
    const VpBatchOpts *o = b->o;
    char why[WHY_SIZE] = "", fallback[32];
    VpFailure fail;
    const char *name = it->name;
    int64_t t0 = vpi_now_us(), bytes = 0, shared = 0;
    int attempts = 0, ret = 0, made_from_ok = 0;
    char stamp[VPI_MADE_FROM_SIZE];
    struct stat sb;

    if (!name) {
        if (it->output && *base_name(it->output))
            name = base_name(it->output);
        else
            snprintf(fallback, sizeof(fallback), "#%zu", i + 1), name = fallback;
    }

    const Repeat *rep = find_repeat(b, i);
    if (rep) {
        const VpBatchItem *first = &b->items[rep->first];
        output_failure(&fail, it->output, AVERROR(EEXIST), "same output as item %s",
                       first->name ? first->name : base_name(first->output));
        finish_item(b, i, name, "failed", &fail, NULL, 0, 0, 0, 0);
        return;
    }
    if (it->output) {
        if (!*it->output || !*base_name(it->output)) {
            output_failure(&fail, it->output, AVERROR(EINVAL), "output is not a file name");
            finish_item(b, i, name, "failed", &fail, NULL, 0, 0, 0, 0);
            return;
        }
        /* Before the skip: an output that exists because it is an input is not done. */
        if ((ret = vp_output_check_not_input(it->output, it->inputs, it->nb_inputs)) < 0) {
            output_failure(&fail, it->output, ret, "%s", vp_strerror(ret));
            finish_item(b, i, name, "failed", &fail, NULL, 0, 0, 0, 0);
            return;
        }
        /* What makes the output now, taken before the work reads the inputs. */
        made_from_ok = vpi_made_from(it->inputs, it->nb_inputs, o->settings, stamp) == 0;
        if (stat(it->output, &sb) == 0) {
            if (S_ISDIR(sb.st_mode)) {
                output_failure(&fail, it->output, VP_ERR_IS_DIRECTORY, "output is a directory");
                finish_item(b, i, name, "failed", &fail, NULL, 0, 0, 0, 0);
                return;
            }
            if (o->skip_existing == 2 ||
                (o->skip_existing == 1 && made_from_ok &&
                 vpi_made_from_matches(it->output, stamp))) {
                snprintf(why, sizeof(why), "output exists: %s", it->output);
                item_bytes(o, it, &bytes, &shared);
                finish_item(b, i, name, "skipped", NULL, why, (vpi_now_us() - t0) / 1e6,
                            bytes, shared, 0);
                return;
            }
            if (o->skip_existing == 1) {
                pthread_mutex_lock(&b->lock);
                log_line(b, "%s: made from other inputs or settings, redoing it", name);
                pthread_mutex_unlock(&b->lock);
                vpi_log(&o->logger, VP_LOG_INFO,
                        "%s: made from other inputs or settings (or not by vidpipe), redoing it",
                        it->output);
            }
        }
    }

    /* The record goes on the output before it takes its name: a kill between the rename
     * and a later record would leave a complete output that a rerun redoes. */
    MadeFrom mark = { it->output, stamp };
    if (it->output && made_from_ok)
        vpi_output_set_commit_hook(mark_made_from, &mark);
    for (;;) {
        failure_reset(&fail);
        attempts++;
        ret = o->work(o->opaque, state, it, &fail);
        if (ret >= 0 || !is_transient(ret) || attempts > o->retries || cancelled(b))
            break;
        int64_t ms = (int64_t)o->retry_backoff_ms << (attempts - 1 < 20 ? attempts - 1 : 20);
        if (ms > MAX_BACKOFF_MS)
            ms = MAX_BACKOFF_MS;
        pthread_mutex_lock(&b->lock);
        b->retries++;
        log_line(b, "%s: attempt %d failed (%s), retrying in %lld ms", name, attempts,
                 fail.message[0] ? fail.message : vp_strerror(ret), (long long)ms);
        pthread_mutex_unlock(&b->lock);
        backoff(b, ms);
    }
    vpi_output_set_commit_hook(NULL, NULL);
    /* an output its work did not put in place through vpi_output_commit() */
    if (ret >= 0 && it->output && made_from_ok && !vpi_made_from_matches(it->output, stamp) &&
        (ret = vpi_made_from_store(it->output, stamp)) < 0) {
        /* No record only means a rerun redoes the item. */
        vpi_log(&o->logger, VP_LOG_DEBUG, "%s: what made it is not recorded: %s",
                it->output, vp_strerror(ret));
        ret = 0;
    }
    if (ret >= 0 && it->output && item_bytes(o, it, &bytes, &shared) == AVERROR(ENOENT)) {
        ret = AVERROR(ENOENT);
        output_failure(&fail, it->output, ret, "was not written (the work reported success)");
    }
    if (ret < 0) {
        fail.code = ret;
        if (!fail.message[0])
            output_failure(&fail, it->output ? it->output : name, ret, "%s", vp_strerror(ret));
        else if (!fail.path[0] && it->output)
            vpi_strlcpy(fail.path, it->output, sizeof(fail.path));
    }
    finish_item(b, i, name, ret < 0 ? "failed" : "done", ret < 0 ? &fail : NULL, NULL,
                (vpi_now_us() - t0) / 1e6, bytes, ret < 0 ? 0 : shared, attempts);
}

static void run_one(void *opaque, void *state, size_t i)
{
    run_item(opaque, state, i);
}

static int stop_run(void *opaque)
{
    return cancelled(opaque);
}

static void *worker_new(void *opaque)
{
    const Batch *b = opaque;
    return b->o->worker_new(b->o->opaque);
}

static void worker_free(void *opaque, void *worker)
{
    const Batch *b = opaque;
    if (b->o->worker_free)
        b->o->worker_free(worker);
}

/* ---- the run ------------------------------------------------------------------------- */

static int validate(const VpBatchOpts *o)
{
    return vpi_opt_check_log(&vpi_batch_options, o, &o->logger, "batch");
}

/* The report is truncated and the log appended to: neither may be an item's input. Costs
 * nothing when they do not exist yet, one stat() per input of every item when they do. */
static int check_run_files(const VpBatchItem *items, size_t nb, const VpBatchOpts *o)
{
    const char *files[2] = { o->report_path, o->log_path };

    for (int f = 0; f < 2; f++) {
        if (!files[f] || access(files[f], F_OK) < 0)
            continue;
        for (size_t i = 0; i < nb; i++)
            if (vp_output_check_not_input(files[f], items[i].inputs, items[i].nb_inputs) < 0) {
                vpi_log(&o->logger, VP_LOG_ERROR, "%s: %s", files[f],
                        vp_strerror(VP_ERR_OUTPUT_IS_INPUT));
                return VP_ERR_OUTPUT_IS_INPUT;
            }
    }
    return 0;
}

static int open_report(const char *path, FILE **out, const VpLogger *lg)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666), ret;
    if (fd < 0) {
        ret = AVERROR(errno);
        vpi_log(lg, VP_LOG_ERROR, "%s: cannot write the report: %s", path, vp_strerror(ret));
        return ret;
    }
    /* Locked before truncating, so a second run cannot clobber a live report. */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        ret = errno == EWOULDBLOCK ? AVERROR(EBUSY) : AVERROR(errno);
        vpi_log(lg, VP_LOG_ERROR, "%s: %s", path, ret == AVERROR(EBUSY)
                ? "another batch is running with this report" : vp_strerror(ret));
        close(fd);
        return ret;
    }
    if (ftruncate(fd, 0) < 0 || !(*out = fdopen(fd, "w"))) {
        ret = AVERROR(errno);
        vpi_log(lg, VP_LOG_ERROR, "%s: cannot write the report: %s", path, vp_strerror(ret));
        close(fd);
        return ret;
    }
    return 0;
}

int vp_batch_run(const VpBatchItem *items, size_t nb, const VpBatchOpts *opts,
                 VpBatchStats *stats)
{
    Batch b = { .items = items, .nb = nb, .o = opts };
    VpBatchStats st = { .total = (int64_t)nb };
    VpiRunner runner = { .run = run_one, .stop = stop_run, .opaque = &b };
    int ret, jobs = 0, started = 0;
    int64_t t0 = vpi_now_us();

    if (stats)
        *stats = st;
    if (!opts || (nb && !items))
        return AVERROR(EINVAL);
    if ((ret = validate(opts)) < 0)
        return ret;
    if ((ret = pthread_mutex_init(&b.lock, NULL)))
        return AVERROR(ret);

    if ((ret = check_run_files(items, nb, opts)) < 0 ||
        (opts->report_path && (ret = open_report(opts->report_path, &b.report, &opts->logger)) < 0))
        goto end;
    if (opts->log_path && !(b.log = fopen(opts->log_path, "ae"))) {
        ret = AVERROR(errno);
        vpi_log(&opts->logger, VP_LOG_ERROR, "%s: cannot write the log: %s", opts->log_path,
                vp_strerror(ret));
        goto end;
    }

    jobs = opts->jobs ? opts->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs < 1)
        jobs = 1;
    if (jobs > VPI_MAX_JOBS) /* only the number of cores can get here */
        jobs = VPI_MAX_JOBS;
    if ((size_t)jobs > nb)
        jobs = nb ? (int)nb : 1;
    log_line(&b, "batch started: %zu item%s, %d worker%s%s%s", nb, nb == 1 ? "" : "s", jobs,
             jobs == 1 ? "" : "s", opts->report_path ? ", report " : "",
             opts->report_path ? opts->report_path : "");

    if ((ret = prepare_outputs(&b, &st)) < 0)
        goto end;

    runner.jobs = jobs;
    if (opts->worker_new) {
        runner.worker_new = worker_new;
        runner.worker_free = worker_free;
    }
    if ((started = vpi_run(&runner, nb)) < 0) {
        ret = AVERROR(ENOMEM); /* as documented, whatever pthread_create said */
        vpi_log(&opts->logger, VP_LOG_ERROR, "batch: could not start a worker");
        goto end;
    }
    if (nb && started < jobs)
        vpi_log(&opts->logger, VP_LOG_WARNING, "batch: only %d of %d workers could be started",
                started, jobs);
    st.done = b.done;
    st.skipped = b.skipped;
    st.failed = b.failed;
    st.bytes = b.bytes;
    st.bytes_shared = b.bytes_shared;
    st.retries = b.retries;
    st.cancelled = (int64_t)nb - b.finished;
    st.seconds = (vpi_now_us() - t0) / 1e6;
    log_line(&b, "batch %s: %lld done, %lld skipped, %lld failed, %lld not started, in %.1f s",
             st.cancelled ? "cancelled" : "finished", (long long)st.done,
             (long long)st.skipped, (long long)st.failed, (long long)st.cancelled,
             st.seconds);
    ret = st.cancelled ? VP_ERR_CANCELLED : st.failed > INT_MAX ? INT_MAX : (int)st.failed;

end:
    if (ret < 0 && ret != VP_ERR_CANCELLED)
        st.seconds = (vpi_now_us() - t0) / 1e6;
    if (stats)
        *stats = st;
    free(b.repeats);
    if (b.report && fclose(b.report) && ret >= 0) {
        ret = AVERROR(errno);
        vpi_log(&opts->logger, VP_LOG_ERROR, "%s: cannot write the report: %s", opts->report_path,
                vp_strerror(ret));
    }
    if (b.log)
        fclose(b.log);
    pthread_mutex_destroy(&b.lock);
    return ret;
}
