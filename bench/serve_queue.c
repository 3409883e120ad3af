/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job queue's own overhead (bench/serve.sh part 3, bench/scaleout.sh): N empty jobs
 * (10,000) added to a fresh store (src/service/store.h: SQLite, the store of one `vidpipe
 * serve`, or PostgreSQL, the store of a fleet), then claimed and completed by T threads (1
 * and 2 by default) until none is left, as the service's workers do with a job whose work
 * takes no time. Each completion stores a result of the size a real one has (~600 bytes of
 * JSON). Prints one JSON line per thread count:
 * {"store", "threads", "jobs", "enqueue_per_s", "claim_complete_per_s", "seconds"}, and for
 * PostgreSQL "xacts_per_job": the server's committed transactions (pg_stat_database) per
 * job while claiming and completing, i.e. the round trips a job costs the database.
 *
 *     serve_queue [--store postgresql://...] DIR [JOBS] [THREADS...]
 *
 * DIR is a scratch folder (a SQLite database is made and removed there per run). A
 * PostgreSQL database is emptied (its schema "public" dropped and made again) before each
 * run: give it one of its own. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

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

/* PostgreSQL: run @p sql on @p uri; the first value of its answer as a number, or -1 after
 * saying why. */
static int64_t pg_exec(const char *uri, const char *sql)
{
    PGconn *c = PQconnectdb(uri);
    int64_t v = -1;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "serve_queue: %s: %s", uri, PQerrorMessage(c));
    } else {
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK && PQntuples(r) > 0)
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
            v = 0;
        else
            fprintf(stderr, "serve_queue: %s: %s", uri, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

/* Committed transactions of the current database so far, as the exited backends of the
 * store's connections published them (a second to settle). */
static int64_t pg_xacts(const char *uri)
{
    usleep(1000 * 1000);
    return pg_exec(uri, "SELECT xact_commit FROM pg_stat_database "
                        "WHERE datname = current_database()");
}

static int run(const char *store, const char *dir, int jobs, int threads)
{
    char path[4096], reason[512];
    int pg = store != NULL;
    int64_t x0 = 0, x1 = 0;
    if (pg) {
        snprintf(path, sizeof(path), "%s", store);
        if (pg_exec(store, "SET client_min_messages = warning; "
                           "DROP SCHEMA public CASCADE; CREATE SCHEMA public") < 0)
            return 1;
    } else {
        snprintf(path, sizeof(path), "%s/queue-%d.db", dir, threads);
        unlink(path);
    }
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
    if (pg) {
        /* A backend publishes its counts at exit for sure (when idle, not always at once):
         * count from a store opened afresh, whose opening costs a few reads. */
        vpi_store_close(&s);
        if ((x0 = pg_xacts(store)) < 0)
            return 1;
        if ((ret = vpi_store_open(path, &o, &s, reason, sizeof(reason))) < 0) {
            fprintf(stderr, "serve_queue: %s\n", reason);
            return 1;
        }
        t1 = mono_s();
    }
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
    if (pg) {
        /* the first read of pg_xacts() is a transaction too */
        x1 = pg_xacts(store) - 1;
    } else {
        char side[sizeof(path) + 8];
        unlink(path);
        snprintf(side, sizeof(side), "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        unlink(side);
    }
    if (err < 0 || done != jobs) {
        fprintf(stderr, "serve_queue: %s: %d of %d jobs done (%s)\n", path, done, jobs,
                err < 0 ? av_err2str(err) : "no error");
        return 1;
    }
    printf("{\"store\": \"%s\", \"threads\": %d, \"jobs\": %d, \"enqueue_per_s\": %.0f, "
           "\"claim_complete_per_s\": %.0f, \"seconds\": %.3f",
           pg ? "postgresql" : "sqlite", threads, jobs, jobs / (t1 - t0), done / (t2 - t1),
           t2 - t1);
    if (pg && x0 >= 0 && x1 >= x0)
        printf(", \"xacts_per_job\": %.2f", (double)(x1 - x0) / jobs);
    printf("}\n");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *store = NULL;
    if (argc > 2 && !strcmp(argv[1], "--store")) {
        store = argv[2];
        if (strncmp(store, "postgresql://", 13) && strncmp(store, "postgres://", 11)) {
            fprintf(stderr, "serve_queue: --store takes a postgresql:// URI, not %s\n", store);
            return 2;
        }
        argv += 2;
        argc -= 2;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: serve_queue [--store postgresql://...] DIR [JOBS] "
                "[THREADS...]\n");
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
        ret |= run(store, argv[1], jobs, 1);
        ret |= run(store, argv[1], jobs, 2);
    }
    for (int i = 3; i < argc; i++) {
        int t = atoi(argv[i]);
        if (t < 1 || t > 256) {
            fprintf(stderr, "serve_queue: THREADS must be 1..256, not %s\n", argv[i]);
            return 2;
        }
        ret |= run(store, argv[1], jobs, t);
    }
    return ret;
}
