/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The batch runner with a real work function: each item writes its output file atomically
 * (temporary name, rename) and fails on demand, so skipping, retries, the report, the log,
 * stale temporary files, repeated outputs, cancellation and memory are checked on disk. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "test.h"
#include "util/internal.h"
#include "vidpipe/batch.h"

#if defined(__SANITIZE_ADDRESS__)
#  define UNDER_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define UNDER_ASAN 1
#  endif
#endif

typedef struct Job {
    int fail_with;         /* error returned on every attempt (0: none) */
    int transient_fails;   /* attempts failing with EIO before success */
    int write_nothing;     /* return 0 without writing */
    int via_output;        /* write with vpi_output_begin/commit (as the library's commands) */
    int recorded_at_rename; /* via_output: the made-from record was there as it took its name */
    int calls;             /* attempts made (written by the worker that runs the item) */
    void *worker;          /* worker state that ran it */
} Job;

typedef struct Ctx {
    int worker_news, worker_frees;
    int progress_calls, item_done_calls;
    int64_t last_finished, last_failed;
    int cancel_after;      /* set *cancel when this many items finished (0: never) */
    volatile int cancel;
    pthread_mutex_t lock;
} Ctx;

static char root[256];

static int write_atomic(const char *path, const char *text)
{
    char tmp[1024];
    const char *slash = strrchr(path, '/');
    int n = (int)(slash - path);
    snprintf(tmp, sizeof(tmp), "%.*s/.%s.testtmp", n, path, slash + 1);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return AVERROR(errno);
    fputs(text, f);
    if (fclose(f) || rename(tmp, path)) {
        int err = AVERROR(errno);
        unlink(tmp);
        return err;
    }
    return 0;
}

static int work(void *opaque, void *worker, const VpBatchItem *item, VpFailure *fail)
{
    Job *job = item->user;
    (void)opaque;
    job->calls++;
    job->worker = worker;
    /* Every attempt starts from an empty failure. */
    CHECK(fail->code == 0 && fail->input == -1 && !fail->path[0] && !fail->message[0]);
    if (job->fail_with) {
        /* The fault of an input: the second one, say a shared intro. */
        fail->input = 1;
        snprintf(fail->path, sizeof(fail->path), "%s.in", item->name);
        snprintf(fail->message, sizeof(fail->message), "%s: broken on purpose", item->name);
        return job->fail_with;
    }
    if (job->calls <= job->transient_fails)
        return AVERROR(EIO);
    if (job->write_nothing)
        return 0;
    if (job->via_output) {
        VpiOutput out;
        int ret = vpi_output_begin(&out, item->output);
        FILE *f = ret < 0 ? NULL : fopen(out.tmp_path, "w");
        if (!f) {
            vpi_output_abort(&out);
            return ret < 0 ? ret : AVERROR(errno);
        }
        fputs(item->name, f);
        fclose(f);
        if ((ret = vpi_output_commit(&out)) < 0)
            return ret;
        /* the runner has not had the item back yet: only the commit can have put it there */
        char rec[256];
        job->recorded_at_rename = getxattr(item->output, "user.vidpipe.made_from", rec,
                                           sizeof(rec)) > 0;
        return 0;
    }
    return write_atomic(item->output, item->name);
}

static void *worker_new(void *opaque)
{
    Ctx *c = opaque;
    pthread_mutex_lock(&c->lock);
    int n = ++c->worker_news;
    pthread_mutex_unlock(&c->lock);
    return (void *)(intptr_t)n;
}

static void worker_free(void *w)
{
    (void)w;
}

static Ctx *free_ctx;
static void worker_free_counted(void *w)
{
    (void)w;
    free_ctx->worker_frees++;
}

static void progress(void *opaque, int64_t finished, int64_t failed, int64_t total)
{
    Ctx *c = opaque;
    c->progress_calls++;
    CHECK(finished == c->last_finished + 1);
    CHECK(failed >= c->last_failed && finished <= total);
    c->last_finished = finished;
    c->last_failed = failed;
    if (c->cancel_after && finished >= c->cancel_after)
        c->cancel = 1;
}

static int flag_set(void *opaque)
{
    return __atomic_load_n((volatile int *)opaque, __ATOMIC_RELAXED);
}

static void item_done(void *opaque, const VpBatchItem *item, const char *status,
                      const VpFailure *fail, double seconds, int64_t bytes)
{
    Ctx *c = opaque;
    c->item_done_calls++;
    CHECK(item != NULL && status != NULL && seconds >= 0 && bytes >= 0);
    CHECK((fail != NULL) == !strcmp(status, "failed"));
    if (fail) {
        CHECK(fail->code < 0 && fail->path[0] && fail->message[0]);
        /* Which file: the input the work named, else the output. */
        if (fail->input >= 0)
            CHECK(strstr(fail->path, ".in") != NULL);
        else if (item->output)
            CHECK_STR(fail->path, item->output);
    }
}

typedef struct Set {
    VpBatchItem *items;
    Job *jobs;
    char **names, **outputs;
    int n;
} Set;

static void set_make(Set *s, const char *dir, int n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, dir);
    mkdir(path, 0777);
    s->n = n;
    s->items = calloc((size_t)n, sizeof(*s->items));
    s->jobs = calloc((size_t)n, sizeof(*s->jobs));
    s->names = calloc((size_t)n, sizeof(*s->names));
    s->outputs = calloc((size_t)n, sizeof(*s->outputs));
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "item%03d", i);
        snprintf(path, sizeof(path), "%s/%s/%s.out", root, dir, name);
        s->names[i] = strdup(name);
        s->outputs[i] = strdup(path);
        s->items[i] = (VpBatchItem){ s->names[i], s->outputs[i], &s->jobs[i] };
    }
}

static void set_reset_jobs(Set *s)
{
    memset(s->jobs, 0, (size_t)s->n * sizeof(*s->jobs));
}

static void set_free(Set *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->names[i]);
        free(s->outputs[i]);
    }
    free(s->items);
    free(s->jobs);
    free(s->names);
    free(s->outputs);
}

static void opts_init(VpBatchOpts *o, Ctx *c, int jobs)
{
    vp_batch_default_opts(o);
    o->jobs = jobs;
    o->work = work;
    o->opaque = c;
    o->worker_new = worker_new;
    o->worker_free = worker_free;
    o->progress = progress;
    o->item_done = item_done;
    o->retry_backoff_ms = 1;
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[4096];
        snprintf(line, sizeof(line), "%.*s", (int)(len < 4095 ? len : 4095), p);
        if (!needle || strstr(line, needle))
            n++;
        p = e ? e + 1 : p + len;
    }
    return n;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int count_dir(const char *dir, const char *substr)
{
    char cmd[600], line[512];
    int n = 0;
    FILE *p;
    snprintf(cmd, sizeof(cmd), "ls -A '%s/%s'", root, dir);
    if (!(p = popen(cmd, "r")))
        return -1;
    while (fgets(line, sizeof(line), p))
        if (strstr(line, substr))
            n++;
    pclose(p);
    return n;
}

/* All done, then a rerun skips every item without calling work(). */
static void test_done_then_skipped(void)
{
    Set s;
    Ctx c;
    VpBatchOpts o;
    VpBatchStats st;
    char report[512], log[512];

    set_make(&s, "basic", 20);
    snprintf(report, sizeof(report), "%s/basic.jsonl", root);
    snprintf(log, sizeof(log), "%s/basic.log", root);
    opts_init(&o, &c, 3);
    o.report_path = report;
    o.log_path = log;
    CHECK_EQ(vp_batch_run(s.items, (size_t)s.n, &o, &st), 0);
    CHECK_EQ(st.total, 20);
    CHECK_EQ(st.done, 20);
    CHECK_EQ(st.skipped, 0);
    CHECK_EQ(st.failed, 0);
    CHECK_EQ(st.cancelled, 0);
    CHECK_EQ(st.bytes, 20 * 7);
    CHECK_EQ(c.worker_news, 3);
    CHECK_EQ(c.progress_calls, 20);
    CHECK_EQ(c.item_done_calls, 20);
    for (int i = 0; i < s.n; i++) {
        char *text = slurp(s.outputs[i]);
        CHECK_STR(text, s.names[i]);
        free(text);
        CHECK_EQ(s.jobs[i].calls, 1);
        intptr_t w = (intptr_t)s.jobs[i].worker;
        CHECK(w >= 1 && w <= 3);
    }
    char *rep = slurp(report);
    CHECK_EQ(count_lines(rep, NULL), 20);
    CHECK_EQ(count_lines(rep, "\"status\":\"done\""), 20);
    CHECK(strstr(rep, "{\"item\":\"item007\",\"status\":\"done\",\"reason\":null,"
                      "\"error\":null,\"path\":null,\"input\":null,\"seconds\":") != NULL);
    CHECK(strstr(rep, "\"bytes\":7,\"attempts\":1,\"output\":\"") != NULL);
    free(rep);

    set_reset_jobs(&s);
    opts_init(&o, &c, 2);
    o.report_path = report;
    o.log_path = log;
    CHECK_EQ(vp_batch_run(s.items, (size_t)s.n, &o, &st), 0);
    CHECK_EQ(st.done, 0);
    CHECK_EQ(st.skipped, 20);
    for (int i = 0; i < s.n; i++)
        CHECK_EQ(s.jobs[i].calls, 0);
    rep = slurp(report);
    /* The report describes this run only; the log keeps both. */
    CHECK_EQ(count_lines(rep, NULL), 20);
    CHECK_EQ(count_lines(rep, "\"status\":\"skipped\""), 20);
    CHECK_EQ(count_lines(rep, "\"reason\":\"output exists: "), 20);
    free(rep);
    char *lg = slurp(log);
    CHECK_EQ(count_lines(lg, "batch started: 20 items"), 2);
    CHECK_EQ(count_lines(lg, ": done in "), 20);
    CHECK_EQ(count_lines(lg, ": skipped (output exists"), 20);
    CHECK_EQ(count_lines(lg, "batch finished: 0 done, 20 skipped, 0 failed"), 1);
    free(lg);
    set_free(&s);
}

/* Failures do not stop the batch, leave nothing behind, and are reported with reasons;
 * only transient errors are retried. */
static void test_failures_and_retries(void)
{
    Set s;
    Ctx c;
    VpBatchOpts o;
    VpBatchStats st;
    char report[512], log[512];

    set_make(&s, "fail", 12);
    snprintf(report, sizeof(report), "%s/fail.jsonl", root);
    snprintf(log, sizeof(log), "%s/fail.log", root);
    s.jobs[3].fail_with = VP_ERR_NOT_JOINABLE;
    s.jobs[5].transient_fails = 2;           /* done on the third attempt */
    s.jobs[6].transient_fails = 100;         /* EIO every time: 1 + 2 retries */
    s.jobs[7].fail_with = AVERROR(ENOSPC);   /* not transient */
    s.jobs[8].write_nothing = 1;
    opts_init(&o, &c, 2);
    o.report_path = report;
    o.log_path = log;
    CHECK_EQ(vp_batch_run(s.items, (size_t)s.n, &o, &st), 4);
    CHECK_EQ(st.done, 8);
    CHECK_EQ(st.failed, 4);
    CHECK_EQ(st.retries, 4);
    CHECK_EQ(s.jobs[3].calls, 1);
    CHECK_EQ(s.jobs[5].calls, 3);
    CHECK_EQ(s.jobs[6].calls, 3);
    CHECK_EQ(s.jobs[7].calls, 1);
    CHECK(!file_exists(s.outputs[3]));
    CHECK(file_exists(s.outputs[5]));
    CHECK(!file_exists(s.outputs[6]));
    CHECK(!file_exists(s.outputs[7]));
    CHECK(file_exists(s.outputs[11]));
    CHECK_EQ(count_dir("fail", "tmp"), 0);

    char *rep = slurp(report);
    CHECK_EQ(count_lines(rep, NULL), 12);
    CHECK_EQ(count_lines(rep, "\"status\":\"failed\""), 4);
    CHECK_EQ(count_lines(rep, "{\"item\":\"item003\",\"status\":\"failed\",\"reason\":"
                              "\"item003: broken on purpose\",\"error\":"
                              "\"VP_ERR_NOT_JOINABLE\",\"path\":\"item003.in\",\"input\":1,"), 1);
    /* A failure the work did not describe is the output's. */
    char line[1024];
    snprintf(line, sizeof(line), "\"error\":\"EIO\",\"path\":\"%s\",\"input\":null,",
             s.outputs[6]);
    CHECK_EQ(count_lines(rep, line), 1);
    CHECK_EQ(count_lines(rep, "\"status\":\"done\",\"reason\":null,\"error\":null,"
                              "\"path\":null,\"input\":null,"), 8);
    CHECK_EQ(count_lines(rep, "\"item\":\"item005\",\"status\":\"done\""), 1);
    CHECK_EQ(count_lines(rep, "\"attempts\":3,"), 2);
    CHECK_EQ(count_lines(rep, "\"error\":\"EIO\""), 1);
    CHECK_EQ(count_lines(rep, "\"error\":\"ENOSPC\""), 1);
    CHECK_EQ(count_lines(rep, "item008.out: was not written"), 1);
    free(rep);
    char *lg = slurp(log);
    CHECK_EQ(count_lines(lg, "item003: FAILED after 1 attempt: item003: broken on purpose"),
             1);
    CHECK_EQ(count_lines(lg, "item005: attempt 1 failed"), 1);
    CHECK_EQ(count_lines(lg, "item006: FAILED after 3 attempts"), 1);
    CHECK_EQ(count_lines(lg, "batch finished: 8 done, 0 skipped, 4 failed"), 1);
    free(lg);

    /* A rerun does only the failed items. */
    set_reset_jobs(&s);
    opts_init(&o, &c, 2);
    CHECK_EQ(vp_batch_run(s.items, (size_t)s.n, &o, &st), 0);
    CHECK_EQ(st.done, 4);
    CHECK_EQ(st.skipped, 8);
    set_free(&s);
}

/* Temporary files a killed run left for this batch's outputs go; others stay. Repeated
 * outputs, however spelled, fail instead of racing. A folder output fails. */
static void test_stale_and_repeats(void)
{
    Set s;
    Ctx c;
    VpBatchOpts o;
    VpBatchStats st;
    char path[600];

    set_make(&s, "stale", 6);
    snprintf(path, sizeof(path), "%s/stale/.item002.out.vptmp-AbC123", root);
    CHECK_EQ(write_atomic(path, "partial"), 0);
    snprintf(path, sizeof(path), "%s/stale/.item004.out.vptmp-zzzzzz", root);
    CHECK_EQ(write_atomic(path, "partial"), 0);
    snprintf(path, sizeof(path), "%s/stale/.other.out.vptmp-AbC123", root);
    CHECK_EQ(write_atomic(path, "someone else's"), 0);
    /* item 5 writes where item 1 does, spelled differently */
    free(s.outputs[5]);
    snprintf(path, sizeof(path), "%s/./stale//item001.out", root);
    s.outputs[5] = strdup(path);
    s.items[5].output = s.outputs[5];
    /* item 3's output is a folder */
    snprintf(path, sizeof(path), "%s/stale/item003.out", root);
    mkdir(path, 0777);

    opts_init(&o, &c, 2);
    CHECK_EQ(vp_batch_run(s.items, (size_t)s.n, &o, &st), 2);
    CHECK_EQ(st.stale_removed, 2);
    CHECK_EQ(st.done, 4);
    CHECK_EQ(count_dir("stale", ".vptmp-"), 1);
    CHECK_EQ(count_dir("stale", ".other.out.vptmp-"), 1);
    CHECK_EQ(s.jobs[5].calls, 0);
    CHECK_EQ(s.jobs[3].calls, 0);
    char *text = slurp(s.outputs[1]);
    CHECK_STR(text, "item001");
    free(text);
    set_free(&s);
}

static void test_cancel(void)
{
    Set s;
    Ctx c;
    VpBatchOpts o;
    VpBatchStats st;

    set_make(&s, "cancel", 10);
    opts_init(&o, &c, 1);
    c.cancel_after = 3;
    o.cancel = (VpCancel){ flag_set, (void *)&c.cancel };
    CHECK_EQ(vp_batch_run(s.items, (size_t)s.n, &o, &st), VP_ERR_CANCELLED);
    CHECK_EQ(st.done, 3);
    CHECK_EQ(st.cancelled, 7);
    CHECK(file_exists(s.outputs[2]));
    CHECK(!file_exists(s.outputs[3]));
    set_free(&s);
}

static void test_options_and_lock(void)
{
    Set s;
    Ctx c;
    VpBatchOpts o;
    VpBatchStats st;
    char report[512];

    set_make(&s, "opts", 3);
    opts_init(&o, &c, 1);
    o.jobs = -1;
    CHECK_EQ(vp_batch_run(s.items, 3, &o, &st), VP_ERR_BAD_OPTION);
    opts_init(&o, &c, 300); /* above the runner's cap of 256: refused, not lowered */
    CHECK_EQ(vp_batch_run(s.items, 3, &o, &st), VP_ERR_BAD_OPTION);
    CHECK(!file_exists(s.outputs[0]));
    opts_init(&o, &c, 1);
    o.work = NULL;
    CHECK_EQ(vp_batch_run(s.items, 3, &o, &st), VP_ERR_BAD_OPTION);
    opts_init(&o, &c, 1);
    o.retries = -2;
    CHECK_EQ(vp_batch_run(s.items, 3, &o, &st), VP_ERR_BAD_OPTION);
    opts_init(&o, &c, 1);
    o.report_path = "/nonexistent-dir/r.jsonl";
    CHECK_EQ(vp_batch_run(s.items, 3, &o, &st), AVERROR(ENOENT));
    CHECK(!file_exists(s.outputs[0]));

    /* A report another run holds is refused before any item runs. */
    snprintf(report, sizeof(report), "%s/opts.jsonl", root);
    int fd = open(report, O_WRONLY | O_CREAT, 0666);
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0);
    opts_init(&o, &c, 1);
    o.report_path = report;
    CHECK_EQ(vp_batch_run(s.items, 3, &o, &st), AVERROR(EBUSY));
    CHECK(!file_exists(s.outputs[0]));
    close(fd);

    /* Every worker state is freed; no more workers than items; an empty batch is fine. */
    opts_init(&o, &c, 8);
    free_ctx = &c;
    o.worker_free = worker_free_counted;
    CHECK_EQ(vp_batch_run(s.items, 3, &o, &st), 0);
    CHECK_EQ(c.worker_news, 3);
    CHECK_EQ(c.worker_frees, 3);
    CHECK_EQ(vp_batch_run(NULL, 0, &o, &st), 0);
    CHECK_EQ(st.total, 0);
    set_free(&s);
}

/* Names that need escaping stay one valid JSON line each. */
static void test_report_escaping(void)
{
    Set s;
    Ctx c;
    VpBatchOpts o;
    char report[512], log[512];

    set_make(&s, "esc", 2);
    static char odd[] = "a \"quoted\" \\ name\n\x01 caf\xc3\xa9 \xff\xfe end";
    s.items[0].name = odd;
    s.jobs[0].fail_with = VP_ERR_CORRUPT;
    snprintf(report, sizeof(report), "%s/esc.jsonl", root);
    snprintf(log, sizeof(log), "%s/esc.log", root);
    opts_init(&o, &c, 1);
    o.report_path = report;
    o.log_path = log;
    vp_batch_run(s.items, 2, &o, NULL);
    char *rep = slurp(report);
    CHECK_EQ(count_lines(rep, NULL), 2);
    /* Not UTF-8: U+FFFD per bad byte in "item", the exact bytes in hex in "item_bytes". */
    CHECK(strstr(rep, "{\"item\":\"a \\\"quoted\\\" \\\\ name\\n\\u0001 caf\xc3\xa9 "
                      "\xef\xbf\xbd\xef\xbf\xbd end\",\"item_bytes\":"
                      "\"61202271756f74656422205c206e616d650a0120636166c3a920fffe20656e64\","
                      "\"status\":\"failed\"") != NULL);
    free(rep);
    char *lg = slurp(log);
    CHECK(strstr(lg, " a \"quoted\" \\ name?? caf\xc3\xa9 \xff\xfe end: FAILED after 1 attempt") !=
          NULL);
    CHECK_EQ(count_lines(lg, NULL), 4);
    free(lg);
    set_free(&s);
}

/* report_extra: per item, members added to its report line after the runner's own (which
 * keep their values); text that is not a JSON object is left out, the line still written. */
static char *extra_fields(void *opaque, const VpBatchItem *item)
{
    (void)opaque;
    if (!strcmp(item->name, "item000"))
        return strdup("{\"qc\":[{\"step\":1}],\"status\":\"mine\"}");
    if (!strcmp(item->name, "item001"))
        return strdup("[1, 2");
    return NULL;
}

static void test_report_extra(void)
{
    Set s;
    Ctx c;
    VpBatchOpts o;
    char report[512];

    set_make(&s, "extra", 3);
    snprintf(report, sizeof(report), "%s/extra.jsonl", root);
    opts_init(&o, &c, 2);
    o.report_path = report;
    o.report_extra = extra_fields;
    CHECK_EQ(vp_batch_run(s.items, 3, &o, NULL), 0);
    char *rep = slurp(report);
    CHECK_EQ(count_lines(rep, NULL), 3);
    CHECK(strstr(rep, "{\"item\":\"item000\",\"status\":\"done\",") != NULL);
    CHECK(strstr(rep, "\"bytes_written\":7,\"qc\":[{\"step\":1}]}\n") != NULL);
    CHECK_EQ(count_lines(rep, "\"qc\""), 1);
    CHECK_EQ(count_lines(rep, "mine"), 0);
    CHECK_EQ(count_lines(rep, "\"item\":\"item001\",\"status\":\"done\""), 1);
    free(rep);
    set_free(&s);
}

/* The made-from record is on an output from the moment it has its name (set on the
 * temporary file as it is committed), so a kill right after the rename leaves an output a
 * rerun skips; and a rerun does skip it. */
static void test_record_before_rename(void)
{
    Set s;
    Ctx c;
    VpBatchOpts o;
    VpBatchStats st;

    set_make(&s, "record", 4);
    for (int i = 0; i < s.n; i++)
        s.jobs[i].via_output = 1;
    opts_init(&o, &c, 2);
    o.settings = "record test";
    CHECK_EQ(vp_batch_run(s.items, (size_t)s.n, &o, &st), 0);
    CHECK_EQ(st.done, 4);
    int recorded = 0;
    for (int i = 0; i < s.n; i++)
        recorded += s.jobs[i].recorded_at_rename;
    char rec[256];
    if (getxattr(s.outputs[0], "user.vidpipe.made_from", rec, sizeof(rec)) < 0 &&
        (errno == ENOTSUP || errno == EOPNOTSUPP)) {
        printf("# no user attributes on this file system: the record is not checked\n");
    } else {
        CHECK_EQ(recorded, 4);
        set_reset_jobs(&s);
        for (int i = 0; i < s.n; i++)
            s.jobs[i].via_output = 1;
        opts_init(&o, &c, 2);
        o.settings = "record test";
        CHECK_EQ(vp_batch_run(s.items, (size_t)s.n, &o, &st), 0);
        CHECK_EQ(st.skipped, 4);
    }
    set_free(&s);
}

/* vp_output_check_not_input(): one file however it is spelt or linked; another file, or a
 * path where nothing exists, is not an input. */
static void test_output_is_input(void)
{
    char dir[300], in[600], other[600], dotted[600], sym[600], hard[600], missing[600];

    snprintf(dir, sizeof(dir), "%s/same", root);
    mkdir(dir, 0777);
    snprintf(in, sizeof(in), "%s/in.mp4", dir);
    snprintf(other, sizeof(other), "%s/other.mp4", dir);
    snprintf(dotted, sizeof(dotted), "%s/./same//in.mp4", root);
    snprintf(sym, sizeof(sym), "%s/sym.mp4", dir);
    snprintf(hard, sizeof(hard), "%s/hard.mp4", dir);
    snprintf(missing, sizeof(missing), "%s/missing.mp4", dir);
    CHECK_EQ(write_atomic(in, "input"), 0);
    CHECK_EQ(write_atomic(other, "other"), 0);
    CHECK_EQ(symlink("in.mp4", sym), 0);
    CHECK_EQ(link(in, hard), 0);

    const char *inputs[] = { other, NULL, in };
    CHECK_EQ(vp_output_check_not_input(in, inputs, 3), VP_ERR_OUTPUT_IS_INPUT);
    CHECK_EQ(vp_output_check_not_input(dotted, inputs, 3), VP_ERR_OUTPUT_IS_INPUT);
    CHECK_EQ(vp_output_check_not_input(sym, inputs, 3), VP_ERR_OUTPUT_IS_INPUT);
    CHECK_EQ(vp_output_check_not_input(hard, inputs, 3), VP_ERR_OUTPUT_IS_INPUT);
    const char *via_link[] = { sym };
    CHECK_EQ(vp_output_check_not_input(in, via_link, 1), VP_ERR_OUTPUT_IS_INPUT);
    CHECK_EQ(vp_output_check_not_input(other, inputs + 1, 2), 0);
    CHECK_EQ(vp_output_check_not_input(in, inputs, 2), 0);
    CHECK_EQ(vp_output_check_not_input(missing, inputs, 3), 0);
    const char *gone[] = { missing };
    CHECK_EQ(vp_output_check_not_input(missing, gone, 1), 0);
    CHECK_EQ(vp_output_check_not_input(in, NULL, 3), 0);
    CHECK_EQ(vp_output_check_not_input(NULL, inputs, 3), 0);
    CHECK_EQ(vp_output_check_not_input(in, inputs, 0), 0);
    char *text = slurp(in);
    CHECK_STR(text, "input");
    free(text);
}

/* An item whose output is one of its inputs fails, also when the output exists, without a
 * call of work(); the others are done. A report or a log that is an input stops the run
 * before either is opened. */
static void test_items_output_is_input(void)
{
    Set s;
    Ctx c;
    VpBatchOpts o;
    VpBatchStats st;
    char src[4][600], dotted[600], hard[600], report[512], log[512], line[1200];
    const char *ins[4][2];

    set_make(&s, "inout", 4);
    for (int i = 0; i < 4; i++) {
        snprintf(src[i], sizeof(src[i]), "%s/inout/src%d", root, i);
        CHECK_EQ(write_atomic(src[i], "source"), 0);
        ins[i][0] = src[i];
        ins[i][1] = NULL;
        s.items[i].inputs = ins[i];
        s.items[i].nb_inputs = 2;
    }
    /* item 1 reads its own output, spelt another way; item 2 a hard link to its output */
    CHECK_EQ(write_atomic(s.outputs[1], "input 1"), 0);
    snprintf(dotted, sizeof(dotted), "%s/./inout//item001.out", root);
    ins[1][1] = dotted;
    CHECK_EQ(write_atomic(s.outputs[2], "input 2"), 0);
    snprintf(hard, sizeof(hard), "%s/inout/hard2", root);
    CHECK_EQ(link(s.outputs[2], hard), 0);
    ins[2][1] = hard;
    snprintf(report, sizeof(report), "%s/inout.jsonl", root);
    snprintf(log, sizeof(log), "%s/inout.log", root);

    for (int run = 0; run < 2; run++) {
        set_reset_jobs(&s);
        opts_init(&o, &c, 2);
        o.report_path = report;
        o.log_path = log;
        CHECK_EQ(vp_batch_run(s.items, 4, &o, &st), 2);
        CHECK_EQ(st.failed, 2);
        CHECK_EQ(st.done + st.skipped, 2);
        CHECK_EQ(s.jobs[1].calls + s.jobs[2].calls, 0);
        char *rep = slurp(report);
        CHECK_EQ(count_lines(rep, "\"error\":\"VP_ERR_OUTPUT_IS_INPUT\""), 2);
        snprintf(line, sizeof(line), "{\"item\":\"item001\",\"status\":\"failed\","
                 "\"reason\":\"%s: is the same file as an input; refusing to overwrite it\"",
                 s.outputs[1]);
        CHECK_EQ(count_lines(rep, line), 1);
        free(rep);
    }
    char *text = slurp(s.outputs[1]);
    CHECK_STR(text, "input 1");
    free(text);
    text = slurp(hard);
    CHECK_STR(text, "input 2");
    free(text);
    char *lg = slurp(log);
    CHECK_EQ(count_lines(lg, "item002: FAILED after 0 attempts: "), 2);
    free(lg);

    /* The report, then the log, named as one of item 3's inputs. */
    for (int which = 0; which < 2; which++) {
        set_reset_jobs(&s);
        opts_init(&o, &c, 2);
        o.report_path = which ? report : src[3];
        o.log_path = which ? src[3] : log;
        CHECK_EQ(vp_batch_run(s.items, 4, &o, &st), VP_ERR_OUTPUT_IS_INPUT);
        CHECK_EQ(c.item_done_calls, 0);
        text = slurp(src[3]);
        CHECK_STR(text, "source");
        free(text);
        char *rep = slurp(report);
        CHECK_EQ(count_lines(rep, NULL), 4);
        free(rep);
    }
    set_free(&s);
}

static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

/* Peak memory after 20 items and after 3000 more: nothing grows per item. */
static void test_memory_flat(void)
{
#ifdef UNDER_ASAN
    fprintf(stderr, "memory check skipped under AddressSanitizer (its quarantine grows)\n");
#else
    Set small, big;
    Ctx c;
    VpBatchOpts o;
    VpBatchStats st;
    char report[512];

    snprintf(report, sizeof(report), "%s/mem.jsonl", root);
    set_make(&small, "mem1", 20);
    set_make(&big, "mem2", 3000);
    opts_init(&o, &c, 2);
    o.report_path = report;
    CHECK_EQ(vp_batch_run(small.items, 20, &o, &st), 0);
    long before = vm_hwm_kb();
    opts_init(&o, &c, 2);
    o.report_path = report;
    CHECK_EQ(vp_batch_run(big.items, 3000, &o, &st), 0);
    CHECK_EQ(st.done, 3000);
    long after = vm_hwm_kb();
    fprintf(stderr, "VmHWM: %ld kB after 20 items, %ld kB after 3000 more\n", before, after);
    CHECK(before > 0);
    CHECK_INT(after - before, <, 512);
    set_free(&small);
    set_free(&big);
#endif
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/vptest-batch.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root))
        TEST_SKIP("cannot create a scratch folder");

    test_done_then_skipped();
    test_failures_and_retries();
    test_stale_and_repeats();
    test_cancel();
    test_options_and_lock();
    test_report_escaping();
    test_report_extra();
    test_record_before_rename();
    test_output_is_input();
    test_items_output_is_input();
    test_memory_flat();

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    t_sh(cmd);
    TEST_END();
}
