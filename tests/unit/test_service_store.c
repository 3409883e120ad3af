/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job store (src/service/store.h): schema refusal and migration, one active job per video,
 * claims from 8 threads, leases and fencing, retries with backoff, the watchdog, cancel,
 * delete, keyset pagination under inserts, a database left by a killed process, wake-ups, and
 * the queue's own speed (claims + completes per second, printed).
 *
 * On SQLite by default; on PostgreSQL when VP_TEST_STORE names a server
 * ("postgresql://user@host:port", no database: each test makes its own), as
 * tests/pg/run_with_pg.sh does for the meson test service_store_pg. With VP_PG_LIB and
 * VP_PG_DIR set, the server is also restarted under a running store. */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "service/store.h"
#include "test.h"

static char dir[] = "/tmp/vp_store_XXXXXX";
static int db_count;
static const char *pg_base;     /* VP_TEST_STORE: PostgreSQL server URI, or NULL for SQLite */

#define T0 INT64_C(1700000000000)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run @p sql on the server's "postgres" database (creating databases). */
static int pg_admin(const char *sql)
{
    char uri[400];
    snprintf(uri, sizeof(uri), "%s/postgres", pg_base);
    PGconn *c = PQconnectdb(uri);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* A new, empty database: a file path on SQLite, a database of its own on PostgreSQL. */
static void db_path(char *buf, size_t size, int n)
{
    if (pg_base) {
        char sql[200];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS vp_store_%d", n);
        pg_admin(sql);
        snprintf(sql, sizeof(sql), "CREATE DATABASE vp_store_%d", n);
        if (pg_admin(sql) < 0)
            exit(1);
        snprintf(buf, size, "%s/vp_store_%d", pg_base, n);
        return;
    }
    snprintf(buf, size, "%s/store%d.db", dir, n);
}

/* Run @p sql on database @p path behind the store's back: 0, 1 for a constraint violation,
 * -1 for another error. */
static int raw_sql(const char *path, const char *sql)
{
    int ret;
    if (pg_base) {
        PGconn *c = PQconnectdb(path);
        PGresult *r = PQexec(c, sql);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        ret = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? 0 :
              state && !strncmp(state, "23", 2) ? 1 : -1;
        if (ret < 0)
            fprintf(stderr, "%s: %s", path, PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return ret;
    }
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    ret = rc == SQLITE_OK ? 0 : rc == SQLITE_CONSTRAINT ? 1 : -1;
    sqlite3_close(db);
    return ret;
}

/* A new, migrated database; its path in @p path. */
static VpiStore *fresh(const VpiStoreOpts *o, char *path, size_t size)
{
    VpiStoreOpts def;
    VpiStore *s = NULL;
    char reason[512];
    if (!o) {
        vpi_store_default_opts(&def);
        def.migrate = 1;
        o = &def;
    }
    db_path(path, size, ++db_count);
    int ret = vpi_store_open(path, o, &s, reason, sizeof(reason));
    if (ret < 0) {
        T_FAIL("open %s: %s", path, reason);
        exit(1);
    }
    return s;
}

static int job_status(VpiStore *s, int64_t id)
{
    VpiJob j;
    if (vpi_store_get_job(s, id, &j) < 0)
        return -1;
    int st = j.status;
    vpi_job_clear(&j);
    return st;
}

static void test_schema(void)
{
    VpiStoreOpts o;
    VpiStore *s = NULL;
    char path[256], reason[512], spec[300];

    vpi_store_default_opts(&o);
    db_path(path, sizeof(path), ++db_count);
    CHECK_EQ(vpi_store_open(path, &o, &s, reason, sizeof(reason)), AVERROR(EPROTO));
    CHECK(!s);
    CHECK(strstr(reason, path) && strstr(reason, "not migrated"));

    CHECK(strstr(reason, "no job store schema (not migrated; create it with --migrate)"));

    /* An empty database gets its schema in the "create only when empty" mode (`vidpipe serve
     * --data DIR` needs no setup), and says it found version 0. */
    {
        char empty[256];
        o.migrate = VPI_STORE_MIGRATE_EMPTY;
        db_path(empty, sizeof(empty), ++db_count);
        CHECK_EQ(vpi_store_open(empty, &o, &s, reason, sizeof(reason)), 0);
        CHECK_EQ(s->found_version, 0);
        CHECK_EQ(vpi_store_schema_version(s), VPI_STORE_SCHEMA);
        vpi_store_close(&s);
        CHECK_EQ(vpi_store_open(empty, &o, &s, reason, sizeof(reason)), 0);
        CHECK_EQ(s->found_version, VPI_STORE_SCHEMA);
        vpi_store_close(&s);
        o.migrate = 3;
        CHECK_EQ(vpi_store_open(empty, &o, &s, reason, sizeof(reason)), AVERROR(EINVAL));
        CHECK(strstr(reason, "invalid store options"));
    }

    o.migrate = 1;
    /* The prefixes: "sqlite:PATH"; "postgres://" as well as "postgresql://". */
    if (pg_base)
        snprintf(spec, sizeof(spec), "postgres%s", path + strlen("postgresql"));
    else
        snprintf(spec, sizeof(spec), "sqlite:%s", path);
    CHECK_EQ(vpi_store_open(spec, &o, &s, reason, sizeof(reason)), 0);
    CHECK_EQ(vpi_store_schema_version(s), VPI_STORE_SCHEMA);
    vpi_store_close(&s);
    CHECK(!s);
    /* Migrated once: a plain open now works, and migrating again changes nothing. */
    o.migrate = 0;
    CHECK_EQ(vpi_store_open(path, &o, &s, reason, sizeof(reason)), 0);
    vpi_store_close(&s);
    o.migrate = 1;
    CHECK_EQ(vpi_store_open(path, &o, &s, reason, sizeof(reason)), 0);
    CHECK_EQ(vpi_store_schema_version(s), VPI_STORE_SCHEMA);
    vpi_store_close(&s);

    /* A database of version 1 (before uploads): refused without migrate, upgraded with it,
     * its rows kept. */
    CHECK_EQ(raw_sql(path, "DROP TABLE upload_parts; DROP TABLE uploads; "
                     "ALTER TABLE jobs DROP COLUMN options; "
                     "INSERT INTO videos (filename, size, created) VALUES ('old.mp4', 1, 1);"
                     "INSERT INTO jobs (video_id, status, max_attempts, created, "
                     "time_limit) VALUES (1, 'completed', 3, 1, 1000);"
                     "UPDATE videos SET job_id = 1;"
                     "UPDATE schema_version SET version = 1"), 0);
    o.migrate = 0;
    CHECK_EQ(vpi_store_open(path, &o, &s, reason, sizeof(reason)), AVERROR(EPROTO));
    CHECK(strstr(reason, "not migrated"));
    /* The service's default creates an empty database's schema, never upgrades one: the
     * reason names the version and --migrate, and the database is left at version 1. */
    o.migrate = VPI_STORE_MIGRATE_EMPTY;
    CHECK_EQ(vpi_store_open(path, &o, &s, reason, sizeof(reason)), AVERROR(EPROTO));
    CHECK(!s);
    CHECK(!strncmp(reason, path, strlen(path)));
    CHECK(strstr(reason, "schema version 1 is older than this vidpipe's 2 (not migrated; "
                 "upgrade it with --migrate)"));
    CHECK_EQ(raw_sql(path, "SELECT 1 FROM schema_version WHERE version = 1"), 0);
    CHECK_EQ(raw_sql(path, "SELECT 1 FROM uploads"), -1);
    o.migrate = VPI_STORE_MIGRATE;
    CHECK_EQ(vpi_store_open(path, &o, &s, reason, sizeof(reason)), 0);
    CHECK_EQ(vpi_store_schema_version(s), 2);
    CHECK_EQ(s->found_version, 1);
    {
        VpiVideo v;
        int64_t jid = 0;
        CHECK_EQ(vpi_store_get_video(s, 1, &v), 0);
        CHECK_STR(v.filename, "old.mp4");
        vpi_video_clear(&v);
        CHECK_EQ(vpi_store_enqueue(s, 1, "height=240", 5, &jid), 0);
        VpiJob j;
        CHECK_EQ(vpi_store_get_job(s, jid, &j), 0);
        CHECK_STR(j.options, "height=240");
        vpi_job_clear(&j);
    }
    vpi_store_close(&s);

    /* A later vidpipe wrote version 3: refused, whatever the migrate mode, and left as it
     * was. */
    CHECK_EQ(raw_sql(path, "UPDATE schema_version SET version = 3"), 0);
    for (int m = VPI_STORE_MIGRATE_NEVER; m <= VPI_STORE_MIGRATE_EMPTY; m++) {
        o.migrate = m;
        CHECK_EQ(vpi_store_open(path, &o, &s, reason, sizeof(reason)), AVERROR(EPROTO));
        CHECK(!s);
        CHECK(strstr(reason, "schema version 3 is newer than this vidpipe's 2"));
        CHECK(!strncmp(reason, path, strlen(path)));
    }

    /* Untouched: still version 3. */
    CHECK_EQ(raw_sql(path, "SELECT 1 FROM schema_version WHERE version = 3"), 0);

    /* Not a database at all (PostgreSQL: no such database on the server). */
    if (pg_base) {
        snprintf(path, sizeof(path), "%s/no_such_db", pg_base);
    } else {
        snprintf(path, sizeof(path), "%s/text.db", dir);
        FILE *f = fopen(path, "w");
        fputs("this is not an SQLite database, it is a text file of some length........\n", f);
        fclose(f);
    }
    CHECK(vpi_store_open(path, &o, &s, reason, sizeof(reason)) < 0);
    CHECK(!s);
    CHECK(strstr(reason, path) != NULL);
    fprintf(stderr, "refused: %s\n", reason);

    vpi_store_default_opts(&o);
    o.max_attempts = 0;
    CHECK_EQ(vpi_store_open(path, &o, &s, reason, sizeof(reason)), AVERROR(EINVAL));
    vpi_store_default_opts(&o);
    o.backoff_max_ms = VPI_STORE_MAX_DURATION_MS + 1;
    CHECK_EQ(vpi_store_open(path, &o, &s, reason, sizeof(reason)), AVERROR(EINVAL));
    CHECK(strstr(reason, "invalid store options") != NULL);
}

static void test_one_active(void)
{
    char path[256];
    VpiStore *s = fresh(NULL, path, sizeof(path));
    int64_t vid, jid, jid2, jid3;
    VpiVideo v;
    VpiJob j;

    CHECK_EQ(vpi_store_add_video(s, "clip.mp4", 12345, NULL, T0, &vid, &jid), 0);
    CHECK_EQ(vpi_store_get_job(s, jid, &j), 0);
    CHECK_EQ(j.status, VPI_JOB_PENDING);
    CHECK_EQ(j.video_id, vid);
    CHECK_EQ(j.attempts, 0);
    CHECK_EQ(j.max_attempts, 3);
    CHECK_EQ(j.created_ms, T0);
    CHECK_EQ(j.time_limit_ms, 3600 * 1000);
    CHECK(!j.worker && !j.result && !j.error);
    vpi_job_clear(&j);
    CHECK_EQ(vpi_store_get_video(s, vid, &v), 0);
    CHECK_STR(v.filename, "clip.mp4");
    CHECK_EQ(v.size, 12345);
    CHECK_EQ(v.job_id, jid);
    CHECK_EQ(v.job_status, VPI_JOB_PENDING);
    vpi_video_clear(&v);

    /* Pending: a second enqueue (duplicate complete, reprocess) returns the same job. */
    CHECK_EQ(vpi_store_enqueue(s, vid, NULL, T0 + 1, &jid2), 1);
    CHECK_EQ(jid2, jid);
    CHECK_EQ(vpi_store_claim(s, "w1", T0 + 2, 60000, &j), 1);
    CHECK_EQ(j.id, jid);
    /* Running: still the same one. */
    CHECK_EQ(vpi_store_enqueue(s, vid, NULL, T0 + 3, &jid2), 1);
    CHECK_EQ(jid2, jid);
    CHECK_EQ(vpi_store_complete(s, jid, j.lease_id, "{\"ok\":1}", T0 + 4), 0);
    vpi_job_clear(&j);
    /* Finished: a new job, now the video's latest. */
    CHECK_EQ(vpi_store_enqueue(s, vid, NULL, T0 + 5, &jid3), 0);
    CHECK(jid3 != jid);
    CHECK_EQ(vpi_store_get_video(s, vid, &v), 0);
    CHECK_EQ(v.job_id, jid3);
    CHECK_EQ(v.job_status, VPI_JOB_PENDING);
    vpi_video_clear(&v);
    CHECK_EQ(vpi_store_enqueue(s, vid + 100, NULL, T0, &jid2), AVERROR(ENOENT));
    CHECK_EQ(vpi_store_get_job(s, 9999, &j), AVERROR(ENOENT));
    CHECK_EQ(vpi_store_get_video(s, 9999, &v), AVERROR(ENOENT));

    /* The database itself holds the rule, whatever a back end's code does. */
    char sql[200];
    snprintf(sql, sizeof(sql), "INSERT INTO jobs (video_id, status, max_attempts, created, "
             "time_limit) VALUES (%" PRId64 ", 'pending', 3, 0, 1)", vid);
    CHECK_EQ(raw_sql(path, sql), 1);
    vpi_store_close(&s);
}

static void test_lease_fencing(void)
{
    char path[256];
    VpiStore *s = fresh(NULL, path, sizeof(path));
    int64_t vid, jid;
    int req, fail;
    VpiJob a, b, j;

    vpi_store_add_video(s, "a.mp4", 1, NULL, T0, &vid, &jid);
    CHECK_EQ(vpi_store_claim(s, "A", T0 + 10, 1000, &a), 1);
    CHECK_EQ(a.status, VPI_JOB_RUNNING);
    CHECK_EQ(a.attempts, 1);
    CHECK_STR(a.worker, "A");
    CHECK_EQ(a.lease_until_ms, T0 + 1010);
    CHECK_EQ(a.started_ms, T0 + 10);
    CHECK_EQ(vpi_store_claim(s, "B", T0 + 20, 1000, &b), 0);

    CHECK_EQ(vpi_store_heartbeat(s, jid, a.lease_id, 40, T0 + 500, 1000), 0);
    CHECK_EQ(vpi_store_get_job(s, jid, &j), 0);
    CHECK_EQ(j.progress, 40);
    CHECK_EQ(j.lease_until_ms, T0 + 1500);
    vpi_job_clear(&j);
    CHECK_EQ(vpi_store_heartbeat(s, jid, a.lease_id + 1, 50, T0 + 600, 1000),
             VPI_STORE_LOST_LEASE);
    CHECK_EQ(vpi_store_heartbeat(s, jid, a.lease_id, 101, T0 + 600, 1000), AVERROR(EINVAL));

    /* Not yet expired: the watchdog leaves it. */
    CHECK_EQ(vpi_store_reap(s, T0 + 1499, &req, &fail), 0);
    CHECK_EQ(req + fail, 0);
    /* A stalls; its lease expires; the watchdog re-queues; B claims. */
    CHECK_EQ(vpi_store_reap(s, T0 + 1500, &req, &fail), 0);
    CHECK_EQ(req, 1);
    CHECK_EQ(fail, 0);
    CHECK_EQ(job_status(s, jid), VPI_JOB_PENDING);
    CHECK_EQ(vpi_store_claim(s, "B", T0 + 1600, 1000, &b), 1);
    CHECK_EQ(b.id, jid);
    CHECK_EQ(b.attempts, 2);
    CHECK(b.lease_id != a.lease_id);
    CHECK(b.error && strstr(b.error, "lease of worker A expired"));

    /* A wakes up: every call with its token is refused. */
    CHECK_EQ(vpi_store_heartbeat(s, jid, a.lease_id, 90, T0 + 1700, 1000), VPI_STORE_LOST_LEASE);
    CHECK_EQ(vpi_store_complete(s, jid, a.lease_id, "{\"by\":\"A\"}", T0 + 1700),
             VPI_STORE_LOST_LEASE);
    CHECK_EQ(vpi_store_fail(s, jid, a.lease_id, "A failed", 1, T0 + 1700),
             VPI_STORE_LOST_LEASE);
    CHECK_EQ(vpi_store_complete(s, jid, b.lease_id, "{\"by\":\"B\"}", T0 + 1800), 0);
    CHECK_EQ(vpi_store_get_job(s, jid, &j), 0);
    CHECK_EQ(j.status, VPI_JOB_COMPLETED);
    CHECK_STR(j.result, "{\"by\":\"B\"}");
    CHECK_STR(j.worker, "B");
    CHECK_EQ(j.progress, 100);
    CHECK_EQ(j.finished_ms, T0 + 1800);
    CHECK(!j.error);
    vpi_job_clear(&j);
    /* Completed: no second completion, even by the holder. */
    CHECK_EQ(vpi_store_complete(s, jid, b.lease_id, "{}", T0 + 1900), VPI_STORE_LOST_LEASE);
    vpi_job_clear(&a);
    vpi_job_clear(&b);
    vpi_store_close(&s);
}

static void test_retries(void)
{
    char path[256];
    VpiStore *s = fresh(NULL, path, sizeof(path));
    int64_t vid, jid, vid2, jid2, t = T0;
    VpiJob j, k;

    vpi_store_add_video(s, "r.mp4", 1, NULL, t, &vid, &jid);
    CHECK_EQ(vpi_store_claim(s, "w", t, 60000, &j), 1);
    CHECK_EQ(vpi_store_fail(s, jid, j.lease_id, "I/O error", 1, t + 100), 1);
    vpi_job_clear(&j);
    CHECK_EQ(vpi_store_get_job(s, jid, &j), 0);
    CHECK_EQ(j.status, VPI_JOB_PENDING);
    CHECK_EQ(j.not_before_ms, t + 100 + 2000);
    CHECK_STR(j.error, "I/O error");
    vpi_job_clear(&j);
    /* Backoff: not before 2 s, then 4 s. */
    CHECK_EQ(vpi_store_claim(s, "w", t + 2099, 60000, &j), 0);
    CHECK_EQ(vpi_store_claim(s, "w", t + 2100, 60000, &j), 1);
    CHECK_EQ(j.attempts, 2);
    CHECK_EQ(vpi_store_fail(s, jid, j.lease_id, "I/O error 2", 1, t + 3000), 1);
    vpi_job_clear(&j);
    CHECK_EQ(vpi_store_claim(s, "w", t + 6999, 60000, &j), 0);
    CHECK_EQ(vpi_store_claim(s, "w", t + 7000, 60000, &j), 1);
    CHECK_EQ(j.attempts, 3);
    /* The third failure is final, retryable or not. */
    CHECK_EQ(vpi_store_fail(s, jid, j.lease_id, "I/O error 3", 1, t + 8000), 0);
    vpi_job_clear(&j);
    CHECK_EQ(vpi_store_get_job(s, jid, &j), 0);
    CHECK_EQ(j.status, VPI_JOB_FAILED);
    CHECK_EQ(j.attempts, 3);
    CHECK_EQ(j.finished_ms, t + 8000);
    CHECK_STR(j.error, "I/O error 3");
    vpi_job_clear(&j);
    CHECK_EQ(vpi_store_claim(s, "w", t + 999999, 60000, &j), 0);

    /* Not retryable (not a video): failed at once with attempts = 1. */
    vpi_store_add_video(s, "text.mp4", 1, NULL, t, &vid2, &jid2);
    CHECK_EQ(vpi_store_claim(s, "w", t + 10000, 60000, &k), 1);
    CHECK_EQ(vpi_store_fail(s, jid2, k.lease_id, "text.mp4: not a media file", 0, t + 10001),
             0);
    vpi_job_clear(&k);
    CHECK_EQ(vpi_store_get_job(s, jid2, &k), 0);
    CHECK_EQ(k.status, VPI_JOB_FAILED);
    CHECK_EQ(k.attempts, 1);
    vpi_job_clear(&k);
    vpi_store_close(&s);

    /* The cap. */
    VpiStoreOpts o;
    vpi_store_default_opts(&o);
    o.migrate = 1;
    o.max_attempts = 10;
    o.backoff_ms = 1000;
    o.backoff_max_ms = 5000;
    s = fresh(&o, path, sizeof(path));
    vpi_store_add_video(s, "c.mp4", 1, NULL, t, &vid, &jid);
    int64_t expect[] = { 1000, 2000, 4000, 5000, 5000 };
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(vpi_store_claim(s, "w", t, 60000, &j), 1);
        CHECK_EQ(vpi_store_fail(s, jid, j.lease_id, "again", 1, t), 1);
        vpi_job_clear(&j);
        vpi_store_get_job(s, jid, &j);
        CHECK_EQ(j.not_before_ms - t, expect[i]);
        t = j.not_before_ms;
        vpi_job_clear(&j);
    }
    vpi_store_close(&s);
}

static void test_reap(void)
{
    char path[256];
    VpiStoreOpts o;
    vpi_store_default_opts(&o);
    o.migrate = 1;
    o.time_limit_ms = 10000;
    VpiStore *s = fresh(&o, path, sizeof(path));
    int64_t vid, jid, vid2, jid2, t = T0;
    int req, fail;
    VpiJob j;

    /* Three expired leases: the third fails the job. */
    vpi_store_add_video(s, "dies.mp4", 1, NULL, t, &vid, &jid);
    for (int i = 1; i <= 3; i++) {
        CHECK_EQ(vpi_store_claim(s, "crashy", t, 1000, &j), 1);
        CHECK_EQ(j.attempts, i);
        vpi_job_clear(&j);
        t += 1000;
        CHECK_EQ(vpi_store_reap(s, t, &req, &fail), 0);
        CHECK_EQ(req, i < 3);
        CHECK_EQ(fail, i == 3);
    }
    CHECK_EQ(vpi_store_get_job(s, jid, &j), 0);
    CHECK_EQ(j.status, VPI_JOB_FAILED);
    CHECK(j.error && strstr(j.error, "expired on attempt 3 of 3"));
    CHECK_EQ(j.finished_ms, t);
    vpi_job_clear(&j);

    /* Over the time limit, heartbeats or not: failed, and the worker learns at its next
     * heartbeat. */
    vpi_store_add_video(s, "long.mp4", 1, NULL, t, &vid2, &jid2);
    CHECK_EQ(vpi_store_claim(s, "slow", t, 3000, &j), 1);
    for (int64_t u = t + 2000; u < t + 10000; u += 2000) {
        CHECK_EQ(vpi_store_heartbeat(s, jid2, j.lease_id, 50, u, 3000), 0);
        CHECK_EQ(vpi_store_reap(s, u, &req, &fail), 0);
        CHECK_EQ(req + fail, 0);
    }
    CHECK_EQ(vpi_store_reap(s, t + 10000, &req, &fail), 0);
    CHECK_EQ(fail, 1);
    CHECK_EQ(req, 0);
    CHECK_EQ(vpi_store_heartbeat(s, jid2, j.lease_id, 60, t + 10001, 3000),
             VPI_STORE_LOST_LEASE);
    vpi_job_clear(&j);
    CHECK_EQ(vpi_store_get_job(s, jid2, &j), 0);
    CHECK_EQ(j.status, VPI_JOB_FAILED);
    CHECK_STR(j.error, "ran longer than its 10 s time limit");
    vpi_job_clear(&j);
    vpi_store_close(&s);
}

static void test_cancel_delete(void)
{
    char path[256];
    VpiStore *s = fresh(NULL, path, sizeof(path));
    int64_t v1, j1, v2, j2, j3;
    VpiJob j;
    VpiVideo v;

    vpi_store_add_video(s, "1.mp4", 1, NULL, T0, &v1, &j1);
    vpi_store_add_video(s, "2.mp4", 1, NULL, T0, &v2, &j2);
    CHECK_EQ(vpi_store_cancel(s, j1, T0 + 1), 0);
    CHECK_EQ(job_status(s, j1), VPI_JOB_CANCELLED);
    CHECK_EQ(vpi_store_cancel(s, j1, T0 + 2), 1);
    CHECK_EQ(vpi_store_cancel(s, 424242, T0 + 2), AVERROR(ENOENT));
    /* The cancelled job is not claimed; the other one is. */
    CHECK_EQ(vpi_store_claim(s, "w", T0 + 3, 60000, &j), 1);
    CHECK_EQ(j.id, j2);
    CHECK_EQ(vpi_store_cancel(s, j2, T0 + 4), 0);
    CHECK_EQ(vpi_store_complete(s, j2, j.lease_id, "{}", T0 + 5), VPI_STORE_LOST_LEASE);
    CHECK_EQ(job_status(s, j2), VPI_JOB_CANCELLED);
    vpi_job_clear(&j);
    /* Cancelled is not active: reprocess queues a new job. */
    CHECK_EQ(vpi_store_enqueue(s, v1, NULL, T0 + 6, &j3), 0);
    CHECK(j3 != j1);

    CHECK_EQ(vpi_store_claim(s, "w", T0 + 7, 60000, &j), 1);
    CHECK_EQ(j.id, j3);
    CHECK_EQ(vpi_store_delete_video(s, v1), 0);
    CHECK_EQ(vpi_store_complete(s, j3, j.lease_id, "{}", T0 + 8), VPI_STORE_LOST_LEASE);
    vpi_job_clear(&j);
    CHECK_EQ(vpi_store_get_video(s, v1, &v), AVERROR(ENOENT));
    CHECK_EQ(vpi_store_get_job(s, j1, &j), AVERROR(ENOENT));
    CHECK_EQ(vpi_store_get_job(s, j3, &j), AVERROR(ENOENT));
    vpi_job_clear(&j);
    CHECK_EQ(vpi_store_delete_video(s, v1), AVERROR(ENOENT));
    CHECK_EQ(vpi_store_get_video(s, v2, &v), 0);
    vpi_video_clear(&v);
    vpi_store_close(&s);
}

static void test_pagination(void)
{
    char path[256], cursor[64] = "", next[64];
    VpiStore *s = fresh(NULL, path, sizeof(path));
    int64_t vid, jid, ids[200];
    int nids = 0, seen[200] = { 0 }, pages = 0, n;
    VpiVideo *v;
    VpiJob j;
    int64_t t = T0;

    /* Several videos share a creation time: the id breaks the tie. */
    for (int i = 0; i < 25; i++) {
        vpi_store_add_video(s, "p.mp4", i, NULL, t + i / 3, &vid, &jid);
        ids[nids++] = vid;
    }
    t += 100;
    for (;;) {
        CHECK_EQ(vpi_store_list_videos(s, -1, 7, cursor, &v, &n, next, sizeof(next)), 0);
        for (int i = 0; i < n; i++) {
            CHECK(v[i].id >= 1 && v[i].id < 200);
            if (v[i].id >= 1 && v[i].id < 200)
                seen[v[i].id]++;
            CHECK_EQ(v[i].job_status, VPI_JOB_PENDING);
        }
        vpi_videos_free(&v, n);
        pages++;
        if (!*next)
            break;
        /* Added between pages. */
        for (int i = 0; i < 3 && nids < 40; i++) {
            vpi_store_add_video(s, "late.mp4", 0, NULL, t++, &vid, &jid);
            ids[nids++] = vid;
        }
        snprintf(cursor, sizeof(cursor), "%s", next);
    }
    CHECK_EQ(nids, 40);
    for (int i = 0; i < nids; i++)
        if (seen[ids[i]] != 1)
            T_FAIL("video %" PRId64 " listed %d times", ids[i], seen[ids[i]]);
    CHECK_EQ(pages, 6);

    /* Status filter: complete three, list completed ones only, in pages of 2. */
    int done = 0;
    while (done < 3 && vpi_store_claim(s, "w", t, 60000, &j) == 1) {
        vpi_store_complete(s, j.id, j.lease_id, "{}", t);
        vpi_job_clear(&j);
        done++;
    }
    CHECK_EQ(vpi_store_list_videos(s, VPI_JOB_COMPLETED, 2, NULL, &v, &n, next, sizeof(next)),
             0);
    CHECK_EQ(n, 2);
    CHECK_EQ(v[0].job_status, VPI_JOB_COMPLETED);
    CHECK(*next);
    vpi_videos_free(&v, n);
    snprintf(cursor, sizeof(cursor), "%s", next);
    CHECK_EQ(vpi_store_list_videos(s, VPI_JOB_COMPLETED, 2, cursor, &v, &n, next, sizeof(next)),
             0);
    CHECK_EQ(n, 1);
    CHECK_STR(next, "");
    vpi_videos_free(&v, n);
    CHECK_EQ(vpi_store_list_videos(s, VPI_JOB_RUNNING, 5, NULL, &v, &n, next, sizeof(next)), 0);
    CHECK_EQ(n, 0);
    CHECK(!*next);
    vpi_videos_free(&v, n);

    static const char *const bad[] = { "zz", "1.", "1.2x", ".5", "1.-2", "-1.2", "1 .2",
                                       "ffffffffffffffff.1", "1", "1.2.3", "0x1.2", "1.aB",
                                       "A.1", "11111111111111111.1", "1.2 " };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        if (vpi_store_list_videos(s, -1, 5, bad[i], &v, &n, next, sizeof(next))
            != AVERROR(EINVAL))
            T_FAIL("cursor \"%s\" accepted", bad[i]);
    CHECK_EQ(vpi_store_list_videos(s, -1, 0, NULL, &v, &n, next, sizeof(next)), AVERROR(EINVAL));
    CHECK_EQ(vpi_store_list_videos(s, -1, 1001, NULL, &v, &n, next, sizeof(next)),
             AVERROR(EINVAL));
    vpi_store_close(&s);
}

#define CLAIM_THREADS 8
#define CLAIM_JOBS 500

typedef struct Claimer {
    VpiStore *s;
    char name[16];
    int64_t *got;       /* job ids this thread claimed */
    int n, errors;
} Claimer;

static void *claimer(void *arg)
{
    Claimer *c = arg;
    VpiJob j;
    int ret;
    while ((ret = vpi_store_claim(c->s, c->name, T0, 60000, &j)) == 1) {
        c->got[c->n++] = j.id;
        if (vpi_store_complete(c->s, j.id, j.lease_id, "{}", T0) < 0)
            c->errors++;
        vpi_job_clear(&j);
    }
    if (ret < 0)
        c->errors++;
    return NULL;
}

static void test_concurrent_claims(void)
{
    char path[256];
    VpiStore *s = fresh(NULL, path, sizeof(path));
    Claimer c[CLAIM_THREADS];
    pthread_t th[CLAIM_THREADS];
    static int count[CLAIM_JOBS + 1];
    int64_t vid, jid, total = 0;

    for (int i = 0; i < CLAIM_JOBS; i++)
        vpi_store_add_video(s, "c.mp4", 1, NULL, T0, &vid, &jid);
    for (int i = 0; i < CLAIM_THREADS; i++) {
        c[i] = (Claimer){ .s = s };
        snprintf(c[i].name, sizeof(c[i].name), "w%d", i);
        c[i].got = calloc(CLAIM_JOBS, sizeof(int64_t));
        pthread_create(&th[i], NULL, claimer, &c[i]);
    }
    for (int i = 0; i < CLAIM_THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(c[i].errors, 0);
        total += c[i].n;
        for (int k = 0; k < c[i].n; k++)
            if (c[i].got[k] >= 1 && c[i].got[k] <= CLAIM_JOBS)
                count[c[i].got[k]]++;
        fprintf(stderr, "%s claimed %d\n", c[i].name, c[i].n);
        free(c[i].got);
    }
    CHECK_EQ(total, CLAIM_JOBS);
    int once = 0;
    for (int i = 1; i <= CLAIM_JOBS; i++)
        once += count[i] == 1;
    CHECK_EQ(once, CLAIM_JOBS);
    VpiVideo *v;
    int n;
    char next[64];
    CHECK_EQ(vpi_store_list_videos(s, VPI_JOB_COMPLETED, 1000, NULL, &v, &n, next,
                                   sizeof(next)), 0);
    CHECK_EQ(n, CLAIM_JOBS);
    vpi_videos_free(&v, n);
    vpi_store_close(&s);
}

/* A process that dies in the middle of a claim transaction (and one that dies after a
 * commit without closing, so nothing was checkpointed) leaves a database that opens cleanly
 * with every committed change and none of the uncommitted ones. */
static void test_killed_process(void)
{
    char path[256];
    VpiStore *s = fresh(NULL, path, sizeof(path));
    int64_t vid, jid;
    int status;
    VpiJob j;

    for (int i = 0; i < 200; i++)
        vpi_store_add_video(s, "k.mp4", 1, NULL, T0, &vid, &jid);
    vpi_store_close(&s);

    pid_t pid = fork();
    if (pid == 0) {
        VpiStoreOpts o;
        char reason[512];
        sqlite3 *db;
        vpi_store_default_opts(&o);
        if (vpi_store_open(path, &o, &s, reason, sizeof(reason)) < 0)
            _exit(2);
        /* Committed: job 1 claimed by "dead". */
        if (vpi_store_claim(s, "dead", T0, 60000, &j) != 1)
            _exit(3);
        if (pg_base) {
            /* Uncommitted, holding every pending row's lock when the connection drops. */
            PGconn *c = PQconnectdb(path);
            PGresult *r = PQexec(c, "BEGIN; UPDATE jobs SET status = 'running', "
                                 "worker = 'ghost', attempts = attempts + 1, "
                                 "result = repeat('x', 4000) WHERE status = 'pending'");
            _exit(PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : 4);
        }
        /* Uncommitted, large enough to spill pages into the WAL. */
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "PRAGMA cache_size = 2; BEGIN IMMEDIATE; "
                         "UPDATE jobs SET status = 'running', worker = 'ghost', "
                         "attempts = attempts + 1, result = zeroblob(4000) "
                         "WHERE status = 'pending'", NULL, NULL, NULL) != SQLITE_OK)
            _exit(4);
        _exit(0);
    }
    CHECK(pid > 0);
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    VpiStoreOpts o;
    char reason[512];
    vpi_store_default_opts(&o);
    CHECK_EQ(vpi_store_open(path, &o, &s, reason, sizeof(reason)), 0);
    if (!s) {
        T_FAIL("%s", reason);
        return;
    }
    CHECK_EQ(vpi_store_get_job(s, 1, &j), 0);
    CHECK_EQ(j.status, VPI_JOB_RUNNING);
    CHECK_STR(j.worker, "dead");
    vpi_job_clear(&j);
    int pending = 0;
    for (int64_t id = 2; id <= 200; id++) {
        CHECK_EQ(vpi_store_get_job(s, id, &j), 0);
        pending += j.status == VPI_JOB_PENDING && j.attempts == 0 && !j.result;
        vpi_job_clear(&j);
    }
    CHECK_EQ(pending, 199);
    /* Writable at once (no lock left behind), and the dead worker's job comes back. */
    int req, fail;
    CHECK_EQ(vpi_store_reap(s, T0 + 60000, &req, &fail), 0);
    CHECK_EQ(req, 1);
    int claimed = 0;
    while (vpi_store_claim(s, "alive", T0 + 60000, 60000, &j) == 1) {
        claimed++;
        vpi_store_complete(s, j.id, j.lease_id, "{}", T0 + 60001);
        vpi_job_clear(&j);
    }
    CHECK_EQ(claimed, 200);
    vpi_store_close(&s);
}

typedef struct Bench {
    VpiStore *s;
    int n;
} Bench;

static void *bench_worker(void *arg)
{
    Bench *b = arg;
    VpiJob j;
    while (vpi_store_claim(b->s, "bench", T0, 60000, &j) == 1) {
        vpi_store_complete(b->s, j.id, j.lease_id, NULL, T0);
        vpi_job_clear(&j);
        b->n++;
    }
    return NULL;
}

/* The queue's own overhead: claims + completes per second over 10,000 empty jobs, from 1, 4
 * and 16 threads. Printed, asserted only loosely (a sanitizer build is far slower). */
static void test_speed(void)
{
    for (int threads = 1; threads <= 16; threads *= 4) {
        char path[256];
        VpiStore *s = fresh(NULL, path, sizeof(path));
        int64_t vid, jid;
        double t0 = now_s();
        for (int i = 0; i < 10000; i++)
            vpi_store_add_video(s, "e.mp4", 0, NULL, T0, &vid, &jid);
        double t1 = now_s();
        Bench b[16];
        pthread_t th[16];
        for (int i = 0; i < 16; i++)
            b[i] = (Bench){ s, 0 };
        for (int i = 0; i < threads; i++)
            pthread_create(&th[i], NULL, bench_worker, &b[i]);
        int total = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
            total += b[i].n;
        }
        double t2 = now_s();
        CHECK_EQ(total, 10000);
        fprintf(stderr, "speed (%s): %d thread(s): %.0f enqueues/s, %.0f claims+completes/s "
                "(10000 jobs in %.2f s)\n", pg_base ? "postgresql" : "sqlite", threads,
                10000 / (t1 - t0), total / (t2 - t1), t2 - t1);
        CHECK(total / (t2 - t1) > 100);
        vpi_store_close(&s);
    }
}

/* Uploads: the video exists (uploading) from creation, parts replace each other, complete
 * queues one job and answers the same ids again, expiry removes what was never completed. */
static void test_uploads(void)
{
    char path[256];
    VpiStore *s = fresh(NULL, path, sizeof(path));
    VpiUpload u = { 0 }, g;
    VpiPart part = { 0 }, *parts;
    VpiVideo *vs;
    VpiStoreCounts c;
    char next[64];
    int n;
    int64_t vid, jid, vid2, jid2, *expired;

    snprintf(u.id, sizeof(u.id), "0123456789abcdef0123456789abcdef");
    u.filename = "big.mov";
    u.size = 20;
    u.part_size = 8;
    u.parts_count = 3;
    u.options = "height=240";
    u.created_ms = T0;
    u.expires_ms = T0 + 1000;
    CHECK_EQ(vpi_store_add_upload(s, &u), 0);
    CHECK(u.video_id > 0);
    CHECK_EQ(vpi_store_add_upload(s, &u), AVERROR(EEXIST));
    CHECK_EQ(vpi_store_get_upload(s, "../etc/passwd", &g), AVERROR(ENOENT));
    CHECK_EQ(vpi_store_get_upload(s, "ffffffffffffffffffffffffffffffff", &g), AVERROR(ENOENT));
    CHECK_EQ(vpi_store_get_upload(s, u.id, &g), 0);
    CHECK_STR(g.filename, "big.mov");
    CHECK_STR(g.options, "height=240");
    CHECK_EQ(g.parts_count, 3);
    CHECK_EQ(g.complete, 0);
    vpi_upload_clear(&g);

    CHECK_EQ(vpi_store_list_videos(s, VPI_STATUS_UPLOADING, 10, NULL, &vs, &n, next,
                                   sizeof(next)), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(vs[0].job_status, VPI_STATUS_UPLOADING);
    vpi_videos_free(&vs, n);
    CHECK_EQ(vpi_store_enqueue(s, u.video_id, NULL, T0, &jid), AVERROR(EBUSY));

    part.number = 2;
    part.size = 8;
    snprintf(part.etag, sizeof(part.etag), "aaaa");
    CHECK_EQ(vpi_store_put_part(s, u.id, &part), 0);
    snprintf(part.etag, sizeof(part.etag), "bbbb");
    CHECK_EQ(vpi_store_put_part(s, u.id, &part), 0);
    part.number = 1;
    CHECK_EQ(vpi_store_put_part(s, u.id, &part), 0);
    CHECK_EQ(vpi_store_list_parts(s, u.id, &parts, &n), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(parts[0].number, 1);
    CHECK_STR(parts[1].etag, "bbbb");
    free(parts);

    CHECK_EQ(vpi_store_complete_upload(s, u.id, T0 + 10, &vid, &jid), 0);
    CHECK_EQ(vid, u.video_id);
    CHECK_EQ(vpi_store_complete_upload(s, u.id, T0 + 20, &vid2, &jid2), 1);
    CHECK_EQ(vid2, vid);
    CHECK_EQ(jid2, jid);
    CHECK_EQ(vpi_store_put_part(s, u.id, &part), AVERROR(EEXIST));
    CHECK_EQ(job_status(s, jid), VPI_JOB_PENDING);
    VpiJob j;
    CHECK_EQ(vpi_store_get_job(s, jid, &j), 0);
    CHECK_STR(j.options, "height=240");
    vpi_job_clear(&j);

    /* A second upload left open expires with its video; the completed one stays. */
    snprintf(u.id, sizeof(u.id), "fedcba9876543210fedcba9876543210");
    u.options = NULL;
    CHECK_EQ(vpi_store_add_upload(s, &u), 0);
    CHECK_EQ(vpi_store_put_part(s, u.id, &part), 0);
    /* The filter names the one still uploading, not the completed one. */
    CHECK_EQ(vpi_store_list_videos(s, VPI_STATUS_UPLOADING, 10, NULL, &vs, &n, next,
                                   sizeof(next)), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(n ? vs[0].id : 0, u.video_id);
    vpi_videos_free(&vs, n);
    CHECK_EQ(vpi_store_counts(s, T0 + 20, &c), 0);
    CHECK_EQ(c.uploads_open, 1);
    CHECK_EQ(c.videos, 2);
    CHECK_EQ(c.jobs[VPI_JOB_PENDING], 1);
    CHECK_EQ(c.queue_depth, 1);
    CHECK_EQ(vpi_store_expire_uploads(s, T0 + 999, &expired, &n), 0);
    CHECK_EQ(n, 0);
    free(expired);
    CHECK_EQ(vpi_store_expire_uploads(s, T0 + 1000, &expired, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(expired[0], u.video_id);
    free(expired);
    CHECK_EQ(vpi_store_get_upload(s, u.id, &g), AVERROR(ENOENT));
    VpiVideo v;
    CHECK_EQ(vpi_store_get_video(s, u.video_id, &v), AVERROR(ENOENT));
    CHECK_EQ(vpi_store_get_video(s, vid, &v), 0);
    vpi_video_clear(&v);

    /* The drain hands a running job back without counting the attempt. */
    VpiJob cl;
    char *res;
    int64_t rj;
    CHECK_EQ(vpi_store_claim(s, "w", T0 + 30, 1000, &cl), 1);
    CHECK_EQ(cl.attempts, 1);
    CHECK_EQ(vpi_store_release(s, cl.id, cl.lease_id + 1, T0 + 31), VPI_STORE_LOST_LEASE);
    CHECK_EQ(vpi_store_release(s, cl.id, cl.lease_id, T0 + 31), 0);
    vpi_job_clear(&cl);
    CHECK_EQ(vpi_store_claim(s, "w", T0 + 32, 1000, &cl), 1);
    CHECK_EQ(cl.attempts, 1);
    CHECK_EQ(vpi_store_last_result(s, vid, &res, &rj), AVERROR(ENOENT));
    CHECK_EQ(vpi_store_complete(s, cl.id, cl.lease_id, "{\"ok\":1}", T0 + 40), 0);
    CHECK_EQ(vpi_store_last_result(s, vid, &res, &rj), 0);
    CHECK_STR(res, "{\"ok\":1}");
    CHECK_EQ(rj, cl.id);
    free(res);
    vpi_job_clear(&cl);
    CHECK_EQ(vpi_store_delete_video(s, vid), 0);
    vpi_store_close(&s);
}

typedef struct Waiter {
    VpiStore *s;
    int timeout_ms, ret;
    double took;
} Waiter;

static void *waiter(void *arg)
{
    Waiter *w = arg;
    double t0 = now_s();
    __atomic_store_n(&w->ret, vpi_store_wait(w->s, w->timeout_ms), __ATOMIC_SEQ_CST);
    w->took = now_s() - t0;
    return NULL;
}

/* An idle worker's wait: the timeout without news; on PostgreSQL a job queued through
 * another connection (another node) wakes every waiter at once, and so does a reaped lease. */
static void test_wait(void)
{
    char path[256], reason[512];
    VpiStore *s = fresh(NULL, path, sizeof(path)), *other = NULL;
    VpiStoreOpts o;
    int64_t vid, jid;
    Waiter w[3];
    pthread_t th[3];
    double t0 = now_s();

    CHECK_EQ(vpi_store_wait(s, -1), AVERROR(EINVAL));
    CHECK_EQ(vpi_store_wait(s, 60001), AVERROR(EINVAL));
    CHECK_EQ(vpi_store_wait(s, 300), 0);
    CHECK(now_s() - t0 >= 0.29);
    CHECK(now_s() - t0 < 2);
    if (!pg_base) {
        vpi_store_close(&s);
        return;
    }
    vpi_store_default_opts(&o);
    CHECK_EQ(vpi_store_open(path, &o, &other, reason, sizeof(reason)), 0);
    if (!other) {
        T_FAIL("%s", reason);
        vpi_store_close(&s);
        return;
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3; i++) {
            w[i] = (Waiter){ .s = s, .timeout_ms = 20000 };
            pthread_create(&th[i], NULL, waiter, &w[i]);
        }
        usleep(300000);
        if (round == 0) {
            CHECK_EQ(vpi_store_add_video(other, "n.mp4", 1, NULL, T0, &vid, &jid), 0);
        } else {
            int req, fail;
            VpiJob j;
            CHECK_EQ(vpi_store_claim(other, "w", T0, 1000, &j), 1);
            vpi_job_clear(&j);
            usleep(100000);
            CHECK_EQ(vpi_store_reap(other, T0 + 1000, &req, &fail), 0);
            CHECK_EQ(req, 1);
        }
        for (int i = 0; i < 3; i++) {
            pthread_join(th[i], NULL);
            CHECK_EQ(w[i].ret, 1);
            CHECK(w[i].took < 5);
        }
    }
    vpi_store_close(&other);
    vpi_store_close(&s);
}

/* The server restarted under open stores: the pooled connections are dead; the next calls
 * reconnect and carry on, nothing lost or doubled. */
static void test_reconnect(void)
{
    const char *lib = getenv("VP_PG_LIB"), *pgdir = getenv("VP_PG_DIR");
    char path[256], cmd[600];
    VpiStore *s;
    int64_t vid, jid;
    int completed = 0, errors = 0;
    VpiJob j;

    if (!pg_base || !lib || !pgdir)
        return;
    s = fresh(NULL, path, sizeof(path));
    for (int i = 0; i < 40; i++)
        vpi_store_add_video(s, "r.mp4", 1, NULL, T0, &vid, &jid);
    /* Several connections in the pool, all idle when the server goes. */
    Claimer c[4];
    pthread_t th[4];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++) {
            c[i] = (Claimer){ .s = s };
            snprintf(c[i].name, sizeof(c[i].name), "r%d", i);
            c[i].got = calloc(CLAIM_JOBS, sizeof(int64_t));
        }
        if (round == 0) {
            /* Claim and complete 10, then restart. */
            for (int k = 0; k < 10 && vpi_store_claim(s, "a", T0, 60000, &j) == 1; k++) {
                completed += vpi_store_complete(s, j.id, j.lease_id, "{}", T0) == 0;
                vpi_job_clear(&j);
            }
            snprintf(cmd, sizeof(cmd), "sh '%s' restart '%s'", lib, pgdir);
            CHECK_EQ(t_sh(cmd), 0);
        } else {
            for (int i = 0; i < 4; i++)
                pthread_create(&th[i], NULL, claimer, &c[i]);
            for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                completed += c[i].n;
                errors += c[i].errors;
            }
        }
        for (int i = 0; i < 4; i++)
            free(c[i].got);
    }
    CHECK_EQ(errors, 0);
    CHECK_EQ(completed, 40);
    VpiStoreCounts n;
    CHECK_EQ(vpi_store_counts(s, T0, &n), 0);
    CHECK_EQ(n.jobs[VPI_JOB_COMPLETED], 40);
    CHECK_EQ(n.jobs[VPI_JOB_RUNNING] + n.jobs[VPI_JOB_PENDING], 0);
    /* And the wake-ups: the LISTEN connection comes back too. A notification sent while it
     * reconnects is lost (a poll period late): videos keep coming until the waiter wakes. */
    CHECK_EQ(vpi_store_wait(s, 100), 0);
    CHECK_EQ(t_sh(cmd), 0);
    Waiter w = { .s = s, .timeout_ms = 20000, .ret = -1 };
    pthread_t wt;
    pthread_create(&wt, NULL, waiter, &w);
    for (int i = 0; i < 30; i++) {
        usleep(300000);
        CHECK_EQ(vpi_store_add_video(s, "late.mp4", 1, NULL, T0, &vid, &jid), 0);
        if (__atomic_load_n(&w.ret, __ATOMIC_SEQ_CST) >= 0)
            break;
    }
    pthread_join(wt, NULL);
    CHECK_EQ(w.ret, 1);
    CHECK(w.took < 10);
    vpi_store_close(&s);
}

/* PostgreSQL: a row locked by another session (another node mid-transaction) is skipped by
 * claims, not waited for; a fenced write on it waits busy_timeout_ms, then EBUSY. */
static void test_row_locks(void)
{
    char path[256];
    VpiStoreOpts o;
    int64_t vid, jid[2];
    VpiJob a, b;

    if (!pg_base)
        return;
    vpi_store_default_opts(&o);
    o.migrate = 1;
    o.busy_timeout_ms = 300;
    VpiStore *s = fresh(&o, path, sizeof(path));
    for (int i = 0; i < 2; i++)
        vpi_store_add_video(s, "l.mp4", 1, NULL, T0, &vid, &jid[i]);
    PGconn *c = PQconnectdb(path);
    char sql[200];
    snprintf(sql, sizeof(sql), "BEGIN; SELECT 1 FROM jobs WHERE id = %" PRId64 " FOR UPDATE",
             jid[0]);
    PGresult *r = PQexec(c, sql);
    CHECK_EQ(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    double t0 = now_s();
    CHECK_EQ(vpi_store_claim(s, "w", T0, 60000, &b), 1);
    CHECK_EQ(b.id, jid[1]);
    CHECK(now_s() - t0 < 0.25);
    CHECK_EQ(vpi_store_claim(s, "w", T0, 60000, &a), 0);
    vpi_job_clear(&b);
    /* The locked job: a cancel waits for the lock, then gives up. */
    t0 = now_s();
    CHECK_EQ(vpi_store_cancel(s, jid[0], T0), AVERROR(EBUSY));
    CHECK(now_s() - t0 >= 0.29);
    r = PQexec(c, "ROLLBACK");
    PQclear(r);
    PQfinish(c);
    CHECK_EQ(vpi_store_claim(s, "w", T0, 60000, &a), 1);
    CHECK_EQ(a.id, jid[0]);
    vpi_job_clear(&a);
    vpi_store_close(&s);
}

int main(void)
{
    char cmd[300];
    const char *spec = getenv("VP_TEST_STORE");
    if (spec && !strncmp(spec, "postgres", 8))
        pg_base = spec;
    else if (spec && *spec)
        TEST_SKIP("VP_TEST_STORE=%s: not a PostgreSQL server URI", spec);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_schema();
    test_uploads();
    test_one_active();
    test_lease_fencing();
    test_retries();
    test_reap();
    test_cancel_delete();
    test_pagination();
    test_concurrent_claims();
    test_killed_process();
    test_wait();
    test_row_locks();
    test_reconnect();
    test_speed();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    t_sh(cmd);
    TEST_END();
}
