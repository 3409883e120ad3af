/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job queue's own overhead (bench/serve.sh, part 3): N empty jobs (10,000) added to a
 * fresh SQLite store (src/service/store.h, the store `vidpipe serve` runs on), then claimed
 * and completed by T threads (1 and 2 by default) until none is left, as the service's
 * workers do with a job whose work takes no time. Each completion stores a result of the
 * size a real one has (~600 bytes of JSON). Prints one JSON line per thread count:
 * {"threads", "jobs", "enqueue_per_s", "claim_complete_per_s", "seconds"}.
 *
 *     serve_queue DIR [JOBS] [THREADS...]
 *
 * DIR is a scratch folder (a database is made and removed there per run). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/store.h"

typedef struct Worker {
    VpiStore *s;
    char name[24];
    int done;
    int err;
} Worker;

static const char *result_json;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
    Worker *w = arg;
    for (;;) {
        VpiJob j;
        int ret = vpi_store_claim(w->s, w->name, wall_ms(), 60000, &j);
        if (ret <= 0) {
            w->err = ret;
            return NULL;
        }
        ret = vpi_store_complete(w->s, j.id, j.lease_id, result_json, wall_ms());
        vpi_job_clear(&j);
        if (ret < 0) {
            w->err = ret;
            return NULL;
        }
        w->done++;
    }
}

static int run(const char *dir, int jobs, int threads)
{
    char path[4096], reason[512];
    snprintf(path, sizeof(path), "%s/queue-%d.db", dir, threads);
    unlink(path);
    VpiStoreOpts o;
    vpi_store_default_opts(&o);
    o.migrate = 1;
    VpiStore *s = NULL;
    int ret = vpi_store_open(path, &o, &s, reason, sizeof(reason));
    if (ret < 0) {
        fprintf(stderr, "serve_queue: %s\n", reason);
        return 1;
    }
    double t0 = mono_s();
    for (int i = 0; i < jobs; i++) {
        int64_t vid, jid;
        ret = vpi_store_add_video(s, "empty.mp4", 0, NULL, wall_ms(), &vid, &jid);
        if (ret < 0) {
            fprintf(stderr, "serve_queue: %s: adding job %d: %s\n", path, i, av_err2str(ret));
            vpi_store_close(&s);
            return 1;
        }
    }
    double t1 = mono_s();
    Worker *w = calloc(threads, sizeof(*w));
    pthread_t *th = calloc(threads, sizeof(*th));
    if (!w || !th) {
        fprintf(stderr, "serve_queue: out of memory\n");
        free(w);
        free(th);
        vpi_store_close(&s);
        return 1;
    }
    for (int i = 0; i < threads; i++) {
        w[i].s = s;
        snprintf(w[i].name, sizeof(w[i].name), "bench-%d", i);
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    int done = 0, err = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        done += w[i].done;
        if (w[i].err < 0)
            err = w[i].err;
    }
    double t2 = mono_s();
    free(w);
    free(th);
    vpi_store_close(&s);
    char side[sizeof(path) + 8];
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    if (err < 0 || done != jobs) {
        fprintf(stderr, "serve_queue: %s: %d of %d jobs done (%s)\n", path, done, jobs,
                err < 0 ? av_err2str(err) : "no error");
        return 1;
    }
    printf("{\"threads\": %d, \"jobs\": %d, \"enqueue_per_s\": %.0f, "
           "\"claim_complete_per_s\": %.0f, \"seconds\": %.3f}\n",
           threads, jobs, jobs / (t1 - t0), done / (t2 - t1), t2 - t1);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: serve_queue DIR [JOBS] [THREADS...]\n");
        return 2;
    }
    int jobs = argc > 2 ? atoi(argv[2]) : 10000;
    if (jobs < 1 || jobs > 10000000) {
        fprintf(stderr, "serve_queue: JOBS must be 1..10000000, not %s\n", argv[2]);
        return 2;
    }
    /* The shape and size of a real job's result (docs/serve.md), so a completion writes
     * what the service's does. */
    result_json =
        "{\"status\":\"success\",\"original_path\":\"objects/ab/12345/original.mp4\","
        "\"proxy_path\":\"objects/ab/12345/proxy.mp4\",\"thumbnail_path\":"
        "\"objects/ab/12345/thumbnail.jpg\",\"metadata\":{\"original\":{\"width\":1920,"
        "\"height\":1080,\"fps\":30,\"duration_seconds\":10.0,\"codec\":\"h264\","
        "\"bitrate\":8000000,\"file_size_bytes\":10000000,\"has_audio\":true},\"proxy\":"
        "{\"width\":854,\"height\":480,\"fps\":10,\"frames\":100,\"duration_seconds\":10.0,"
        "\"codec\":\"h264\",\"has_audio\":true,\"file_size_bytes\":300000},\"thumbnail\":"
        "{\"width\":320,\"height\":180,\"file_size_bytes\":12000,\"timestamp_seconds\":5}},"
        "\"decode_errors\":0}";
    int ret = 0;
    if (argc <= 3) {
        ret |= run(argv[1], jobs, 1);
        ret |= run(argv[1], jobs, 2);
    }
    for (int i = 3; i < argc; i++) {
        int t = atoi(argv[i]);
        if (t < 1 || t > 256) {
            fprintf(stderr, "serve_queue: THREADS must be 1..256, not %s\n", argv[i]);
            return 2;
        }
        ret |= run(argv[1], jobs, t);
    }
    return ret;
}
