/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a server embedding libvidpipe relies on: each call logs to its own logger, FFmpeg's
 * messages included, while another call runs on another thread; a cancel callback stops a
 * long call quickly with VP_ERR_CANCELLED and leaves no output. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "vidpipe/vidpipe.h"

/* A thread-safe logger that keeps every line. */
typedef struct Lines {
    pthread_mutex_t lock;
    char **v;
    int nb, cap;
} Lines;

static void lines_add(void *opaque, int level, const char *msg)
{
    Lines *l = opaque;
    (void)level;
    pthread_mutex_lock(&l->lock);
    if (l->nb == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof(*v));
        if (v) {
            l->v = v;
            l->cap = cap;
        }
    }
    if (l->nb < l->cap)
        l->v[l->nb++] = strdup(msg);
    pthread_mutex_unlock(&l->lock);
}

static int lines_count(Lines *l, const char *needle)
{
    int n = 0;
    for (int i = 0; i < l->nb; i++)
        n += l->v[i] && strstr(l->v[i], needle) != NULL;
    return n;
}

static void lines_dump(Lines *l, const char *name)
{
    for (int i = 0; i < l->nb; i++)
        fprintf(stderr, "  %s: %s\n", name, l->v[i]);
}

static void lines_free(Lines *l)
{
    for (int i = 0; i < l->nb; i++)
        free(l->v[i]);
    free(l->v);
    pthread_mutex_destroy(&l->lock);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Entries of @p dir other than the files named in @p keep (NULL-terminated). */
static int extra_files(const char *dir, const char *const *keep)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int kept = 0;
        for (int i = 0; keep[i]; i++)
            kept |= !strcmp(e->d_name, keep[i]);
        if (!kept) {
            fprintf(stderr, "  left behind: %s/%s\n", dir, e->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* ---- two pipelines at once, two loggers ---------------------------------------------- */

typedef struct Job {
    const char *in, *out;
    Lines log;
    int open_ret, run_ret;
} Job;

static void *run_job(void *arg)
{
    Job *j = arg;
    VpPipelineOpts po;
    VpEncodeOpts eo;
    VpPipeline *p = NULL;

    vp_pipeline_default_opts(&po);
    po.decode_threads = 2;
    po.logger = (VpLogger){ lines_add, &j->log, VP_LOG_DEBUG };
    if ((j->open_ret = vp_pipeline_open(j->in, &po, &p)) < 0)
        return NULL;
    vp_encode_default_opts(&eo);
    eo.path = j->out;
    eo.fit = VP_FIT_HEIGHT;
    eo.height = 64;
    eo.x264_preset = "ultrafast";
    if ((j->run_ret = vp_pipeline_add_encode(p, &eo)) >= 0)
        j->run_ret = vp_pipeline_run(p);
    vp_pipeline_close(&p);
    return NULL;
}

static void test_loggers(const char *dir, const char *corrupt, const char *clean,
                         Lines *def)
{
    char out_a[512], out_b[512];
    Job a = { corrupt, out_a, { PTHREAD_MUTEX_INITIALIZER }, 0, 0 };
    Job b = { clean, out_b, { PTHREAD_MUTEX_INITIALIZER }, 0, 0 };
    pthread_t ta, tb;

    snprintf(out_a, sizeof(out_a), "%s/a_out.mp4", dir);
    snprintf(out_b, sizeof(out_b), "%s/b_out.mp4", dir);
    CHECK_EQ(pthread_create(&ta, NULL, run_job, &a), 0);
    CHECK_EQ(pthread_create(&tb, NULL, run_job, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);

    CHECK_EQ(a.open_ret, 0);
    CHECK_EQ(b.open_ret, 0);
    /* The damaged file decodes with errors (a positive count), the clean one without. */
    CHECK(a.run_ret > 0);
    CHECK_EQ(b.run_ret, 0);

    /* Each logger has FFmpeg's lines about its own file's demuxer, decoder and encoder:
     * the corrupt MP4's H.264 decoder complains, the clean Matroska's MPEG-4 one does not
     * exist in the other job. */
    CHECK(lines_count(&a.log, "[h264 @") > 0);
    CHECK(lines_count(&a.log, "error while decoding") + lines_count(&a.log, "Invalid NAL") > 0);
    CHECK(lines_count(&a.log, "[libx264 @") > 0);
    CHECK(lines_count(&b.log, "[mpeg4 @") > 0);
    CHECK(lines_count(&b.log, "[libx264 @") > 0);
    /* Messages of contexts FFmpeg makes itself (the decoders avformat_find_stream_info
     * probes with, filter graphs) follow the call too. */
    CHECK(lines_count(&a.log, "[Parsed_scale_0 @") > 0);
    CHECK(lines_count(&b.log, "[Parsed_scale_0 @") > 0);
    /* ... and nothing of the other job. */
    CHECK_EQ(lines_count(&a.log, "[matroska,webm @"), 0);
    CHECK_EQ(lines_count(&a.log, "[mpeg4 @"), 0);
    CHECK_EQ(lines_count(&a.log, "b_clean"), 0);
    CHECK_EQ(lines_count(&b.log, "[h264 @"), 0);
    CHECK_EQ(lines_count(&b.log, "[mov,mp4"), 0);
    CHECK_EQ(lines_count(&b.log, "a_corrupt"), 0);
    /* The process-wide default logger saw neither job. */
    CHECK_EQ(lines_count(def, "[h264 @"), 0);
    CHECK_EQ(lines_count(def, "[matroska,webm @"), 0);
    CHECK_EQ(lines_count(def, "[libx264 @"), 0);
    CHECK_EQ(lines_count(def, "[mpeg4 @"), 0);
    CHECK_EQ(lines_count(def, "[Parsed_scale_0 @"), 0);
    CHECK_EQ(lines_count(def, "Invalid NAL"), 0);
    if (test_failures) {
        lines_dump(&a.log, "a");
        lines_dump(&b.log, "b");
        lines_dump(def, "default");
    }
    lines_free(&a.log);
    lines_free(&b.log);
    unlink(out_a);
    unlink(out_b);
}

/* ---- cancel ---------------------------------------------------------------------------- */

typedef struct Cancel {
    atomic_int go;              /* set by the progress callback */
    atomic_int polls;           /* calls of the cancel callback */
    double at;                  /* when go was set */
} Cancel;

static int cancel_fn(void *opaque)
{
    Cancel *c = opaque;
    atomic_fetch_add(&c->polls, 1);
    return atomic_load(&c->go);
}

static int cancel_always(void *opaque)
{
    (void)opaque;
    return 1;
}

static void cancel_on_progress(void *opaque, double done, double total)
{
    Cancel *c = opaque;
    (void)done;
    (void)total;
    if (!atomic_load(&c->go)) {
        c->at = now_s();
        atomic_store(&c->go, 1);
    }
}

static void test_cancel_pipeline(const char *dir, const char *big, const char *big_name)
{
    char out[512], thumb[512];
    Cancel c = { 0 };
    VpPipelineOpts po;
    VpEncodeOpts eo;
    VpPipeline *p = NULL;

    snprintf(out, sizeof(out), "%s/cancelled.mp4", dir);
    snprintf(thumb, sizeof(thumb), "%s/cancelled.jpg", dir);
    vp_pipeline_default_opts(&po);
    po.progress = cancel_on_progress;
    po.opaque = &c;
    po.cancel = (VpCancel){ cancel_fn, &c };
    CHECK_EQ(vp_pipeline_open(big, &po, &p), 0);
    if (!p)
        return;
    vp_encode_default_opts(&eo);
    eo.path = out;
    eo.x264_preset = "slow";        /* a run that would take many seconds */
    CHECK(vp_pipeline_add_encode(p, &eo) >= 0);
    VpThumbOpts to;
    vp_thumb_default_opts(&to);
    to.path = thumb;
    to.cols = to.rows = 3;
    CHECK(vp_pipeline_add_thumb(p, &to) >= 0);
    double t0 = now_s();
    CHECK_EQ(vp_pipeline_run(p), VP_ERR_CANCELLED);
    double end = now_s();
    vp_pipeline_close(&p);
    CHECK(atomic_load(&c.go));
    /* Stopped within a bound after the request, well before the end of the input. */
    if (atomic_load(&c.go))
        CHECK_INT((end - c.at) * 1000, <, 2000);
    fprintf(stderr, "pipeline: cancelled %.0f ms after the request (run %.0f ms), "
            "%d polls\n", (end - c.at) * 1000, (end - t0) * 1000, atomic_load(&c.polls));
    const char *keep[] = { big_name, "a_corrupt.mp4", "b_clean.mkv", NULL };
    CHECK_EQ(extra_files(dir, keep), 0);

    /* The callback is FFmpeg's interrupt callback too: opening the input (reads inside
     * avformat_open_input) stops at once. */
    po.cancel = (VpCancel){ cancel_always, NULL };
    po.progress = NULL;
    CHECK_EQ(vp_pipeline_open(big, &po, &p), VP_ERR_CANCELLED);
    CHECK(p == NULL);
}

static void test_cancel_probe(const char *big)
{
    VpProbeOpts o;
    VpMediaInfo *mi = NULL;
    Cancel c = { 0 };

    vp_probe_default_opts(&o);
    o.cancel = (VpCancel){ cancel_always, NULL };
    CHECK_EQ(vp_probe_file(big, &o, &mi), VP_ERR_CANCELLED);
    CHECK(mi == NULL);
    /* A cancel that never fires is polled (by FFmpeg, while reading) and changes nothing. */
    o.cancel = (VpCancel){ cancel_fn, &c };
    CHECK_EQ(vp_probe_file(big, &o, &mi), 0);
    CHECK(atomic_load(&c.polls) > 0);
    vp_media_info_free(&mi);
}

static void test_cancel_join(const char *dir, const char *seg, const char *big_name)
{
    char out[512];
    const char *segs[] = { seg, seg, seg };
    VpJoinOpts jo;
    VpJoiner *j = NULL;
    VpFailure fail;

    snprintf(out, sizeof(out), "%s/joined.mp4", dir);
    vp_join_default_opts(&jo);
    jo.cancel = (VpCancel){ cancel_always, NULL };
    CHECK_EQ(vp_joiner_new(&jo, &j), 0);
    CHECK_EQ(vp_joiner_run(j, out, segs, 3, NULL, &fail), VP_ERR_CANCELLED);
    CHECK_EQ(fail.code, VP_ERR_CANCELLED);
    CHECK_EQ(fail.input, -1);
    CHECK_STR(fail.path, out);
    vp_joiner_free(&j);
    const char *keep[] = { big_name, "a_corrupt.mp4", "b_clean.mkv", NULL };
    CHECK_EQ(extra_files(dir, keep), 0);
}

int main(void)
{
    char dir[] = "/tmp/vptest_embed.XXXXXX", corrupt[256], clean[256], big[256], cmd[2048];
    Lines def = { PTHREAD_MUTEX_INITIALIZER };

    vp_set_log_callback(lines_add, &def, VP_LOG_DEBUG);
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    snprintf(corrupt, sizeof(corrupt), "%s/a_corrupt.mp4", dir);
    snprintf(clean, sizeof(clean), "%s/b_clean.mkv", dir);
    snprintf(big, sizeof(big), "%s/big.mp4", dir);
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -f lavfi -i testsrc2=s=320x240:r=30:d=6 -c:v libx264 "
             "-preset fast -g 300 -pix_fmt yuv420p %s && "
             "ffmpeg -nostdin -v error -f lavfi -i testsrc2=s=320x240:r=30:d=6 -c:v mpeg4 %s && "
             "ffmpeg -nostdin -v error -f lavfi -i testsrc2=s=1280x720:r=30:d=60 -c:v libx264 "
             "-preset ultrafast -pix_fmt yuv420p %s",
             corrupt, clean, big);
    if (t_sh(cmd) != 0)
        TEST_SKIP("ffmpeg could not make the test media");
    /* Damage the middle of the H.264 data (the moov is at the end: -g 300 keeps one GOP,
     * so every later frame refers to the damaged ones). */
    struct stat sb;
    CHECK_EQ(stat(corrupt, &sb), 0);
    snprintf(cmd, sizeof(cmd), "head -c 4000 /dev/urandom | dd of=%s bs=1 seek=%lld "
             "conv=notrunc status=none", corrupt, (long long)sb.st_size / 3);
    CHECK_EQ(t_sh(cmd), 0);

    test_loggers(dir, corrupt, clean, &def);
    test_cancel_pipeline(dir, big, "big.mp4");
    test_cancel_probe(big);
    test_cancel_join(dir, big, "big.mp4");

    lines_free(&def);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    t_sh(cmd);
    TEST_END();
}
