/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job store on SQLite (the embedded default of `vidpipe serve --data DIR`).
 *
 * One connection per store, behind a mutex. SQLite lets one writer at a time into a database
 * whatever the number of connections, and nearly every call here writes (claim, heartbeat,
 * complete, fail). With a connection per thread, the losers of each write race wait in
 * SQLite's busy handler, which sleeps in millisecond steps: a 50 us claim becomes a
 * millisecond-scale wait under 8 claimers. A mutex hands the connection over in microseconds
 * and in arrival order. Reads (status polls) wait for one short transaction at most.
 *
 * WAL mode: readers never block the writer and a commit is one append to the -wal file.
 * synchronous=NORMAL in WAL syncs at checkpoints, not at each commit: a process crash or
 * kill -9 loses nothing committed; a power cut may lose the last commits, never corrupts, and
 * a job lost that way only runs again. busy_timeout covers another process (a second server
 * on the same DIR, the sqlite3 shell). Writes use BEGIN IMMEDIATE: a deferred transaction
 * that reads and then upgrades to a write lock fails with SQLITE_BUSY at once, without the
 * busy handler, when another connection writes in between. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "service/store.h"

enum {
    Q_ADD_VIDEO, Q_ADD_JOB, Q_SET_VIDEO_JOB, Q_VIDEO_EXISTS, Q_ACTIVE_JOB, Q_CLAIM,
    Q_HEARTBEAT, Q_COMPLETE, Q_FAIL_READ, Q_FAIL_RETRY, Q_FAIL_FINAL, Q_REAP_LIMIT,
    Q_REAP_EXHAUSTED, Q_REAP_REQUEUE, Q_CANCEL, Q_JOB_EXISTS, Q_GET_JOB, Q_GET_VIDEO,
    Q_LIST_VIDEOS, Q_DELETE_JOBS, Q_DELETE_VIDEO, Q_LAST_OPTIONS, Q_VIDEO_UPLOADING,
    Q_ADD_UPLOAD, Q_GET_UPLOAD, Q_UPLOAD_STATE, Q_PUT_PART, Q_LIST_PARTS, Q_UPLOAD_DONE,
    Q_EXPIRED, Q_DELETE_UPLOADS, Q_COUNT_JOBS, Q_QUEUE_DEPTH, Q_COUNT_VIDEOS,
    Q_COUNT_UPLOADS, Q_LAST_RESULT, Q_RELEASE, Q_NB
};

#define JOB_COLS "id, video_id, status, attempts, max_attempts, worker, lease_id, lease_until, " \
                 "progress, error, result, created, started, finished, not_before, time_limit, options"
#define VIDEO_SELECT "SELECT v.id, v.filename, v.size, v.created, v.job_id, j.status " \
                     "FROM videos v LEFT JOIN jobs j ON j.id = v.job_id "

static const char *const queries[Q_NB] = {
    [Q_ADD_VIDEO] = "INSERT INTO videos (filename, size, created) VALUES (?1, ?2, ?3)",
    [Q_ADD_JOB] = "INSERT INTO jobs (video_id, status, max_attempts, created, time_limit, "
                  "options) VALUES (?1, 'pending', ?2, ?3, ?4, ?5)",
    [Q_SET_VIDEO_JOB] = "UPDATE videos SET job_id = ?2 WHERE id = ?1",
    [Q_VIDEO_EXISTS] = "SELECT 1 FROM videos WHERE id = ?1",
    [Q_ACTIVE_JOB] = "SELECT id FROM jobs WHERE video_id = ?1 "
                     "AND status IN ('pending', 'running')",
    /* PostgreSQL: the same with FOR UPDATE SKIP LOCKED in the subquery. */
    [Q_CLAIM] = "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = ?2, "
                "lease_id = lease_id + 1, lease_until = ?1 + ?3, started = ?1, progress = 0 "
                "WHERE id = (SELECT id FROM jobs WHERE status = 'pending' AND not_before <= ?1 "
                "ORDER BY created, id LIMIT 1) RETURNING " JOB_COLS,
    [Q_HEARTBEAT] = "UPDATE jobs SET progress = ?3, lease_until = ?4 "
                    "WHERE id = ?1 AND lease_id = ?2 AND status = 'running'",
    [Q_COMPLETE] = "UPDATE jobs SET status = 'completed', result = ?3, progress = 100, "
                   "finished = ?4, lease_until = 0, error = NULL "
                   "WHERE id = ?1 AND lease_id = ?2 AND status = 'running'",
    [Q_FAIL_READ] = "SELECT attempts, max_attempts FROM jobs "
                    "WHERE id = ?1 AND lease_id = ?2 AND status = 'running'",
    [Q_FAIL_RETRY] = "UPDATE jobs SET status = 'pending', error = ?2, not_before = ?3, "
                     "lease_until = 0 WHERE id = ?1",
    [Q_FAIL_FINAL] = "UPDATE jobs SET status = 'failed', error = ?2, finished = ?3, "
                     "lease_until = 0 WHERE id = ?1",
    [Q_REAP_LIMIT] = "UPDATE jobs SET status = 'failed', finished = ?1, lease_until = 0, "
                     "error = 'ran longer than its ' || (time_limit / 1000) || ' s time limit' "
                     "WHERE status = 'running' AND started + time_limit <= ?1",
    [Q_REAP_EXHAUSTED] = "UPDATE jobs SET status = 'failed', finished = ?1, lease_until = 0, "
                         "error = 'lease of worker ' || ifnull(worker, '?') || ' expired on "
                         "attempt ' || attempts || ' of ' || max_attempts || ' (worker died or "
                         "stalled)' WHERE status = 'running' AND lease_until <= ?1 "
                         "AND attempts >= max_attempts",
    [Q_REAP_REQUEUE] = "UPDATE jobs SET status = 'pending', not_before = ?1, lease_until = 0, "
                       "error = 'lease of worker ' || ifnull(worker, '?') || ' expired on "
                       "attempt ' || attempts || ' (worker died or stalled)' "
                       "WHERE status = 'running' AND lease_until <= ?1",
    [Q_CANCEL] = "UPDATE jobs SET status = 'cancelled', finished = ?2, lease_until = 0 "
                 "WHERE id = ?1 AND status IN ('pending', 'running')",
    [Q_JOB_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?1",
    [Q_GET_JOB] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    [Q_GET_VIDEO] = VIDEO_SELECT "WHERE v.id = ?1",
    [Q_LIST_VIDEOS] = VIDEO_SELECT "WHERE (v.created, v.id) > (?1, ?2) "
                      "AND (?3 IS NULL OR j.status = ?3 OR (?3 = 'uploading' AND v.job_id IS NULL)) "
                      "ORDER BY v.created, v.id LIMIT ?4",
    [Q_DELETE_JOBS] = "DELETE FROM jobs WHERE video_id = ?1",
    [Q_DELETE_VIDEO] = "DELETE FROM videos WHERE id = ?1",
    [Q_LAST_OPTIONS] = "SELECT j.options FROM videos v JOIN jobs j ON j.id = v.job_id "
                       "WHERE v.id = ?1",
    [Q_VIDEO_UPLOADING] = "SELECT 1 FROM videos WHERE id = ?1 AND job_id IS NULL",
    [Q_ADD_UPLOAD] = "INSERT INTO uploads (id, video_id, filename, size, part_size, parts_count, "
                     "sha256, options, created, expires, status) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'open')",
    [Q_GET_UPLOAD] = "SELECT id, video_id, filename, size, part_size, parts_count, sha256, "
                     "options, created, expires, status, job_id FROM uploads WHERE id = ?1",
    [Q_UPLOAD_STATE] = "SELECT status = 'complete' FROM uploads WHERE id = ?1",
    [Q_PUT_PART] = "INSERT OR REPLACE INTO upload_parts (upload_id, number, size, etag) "
                   "VALUES (?1, ?2, ?3, ?4)",
    [Q_LIST_PARTS] = "SELECT number, size, etag FROM upload_parts WHERE upload_id = ?1 "
                     "ORDER BY number",
    [Q_UPLOAD_DONE] = "UPDATE uploads SET status = 'complete', job_id = ?2 WHERE id = ?1",
    [Q_EXPIRED] = "SELECT id, video_id FROM uploads WHERE status = 'open' AND expires <= ?1",
    [Q_DELETE_UPLOADS] = "DELETE FROM uploads WHERE video_id = ?1",
    [Q_COUNT_JOBS] = "SELECT status, count(*) FROM jobs GROUP BY status",
    [Q_QUEUE_DEPTH] = "SELECT count(*) FROM jobs WHERE status = 'pending' AND not_before <= ?1",
    [Q_COUNT_VIDEOS] = "SELECT count(*) FROM videos WHERE ?1 = ?1",
    [Q_COUNT_UPLOADS] = "SELECT count(*) FROM uploads WHERE status = 'open' AND ?1 = ?1",
    [Q_LAST_RESULT] = "SELECT result, id FROM jobs WHERE video_id = ?1 AND status = 'completed' "
                      "ORDER BY finished DESC, id DESC LIMIT 1",
    [Q_RELEASE] = "UPDATE jobs SET status = 'pending', attempts = attempts - 1, lease_until = 0, "
                  "not_before = ?3 WHERE id = ?1 AND lease_id = ?2 AND status = 'running'",
};

/* Version 1. A later version adds a step to migrate() from the version before it. */
static const char schema_v1[] =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "CREATE TABLE videos ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  filename TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  job_id INTEGER);"
    "CREATE INDEX videos_created ON videos (created, id);"
    "CREATE TABLE jobs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  video_id INTEGER NOT NULL REFERENCES videos (id),"
    "  status TEXT NOT NULL CHECK (status IN "
    "    ('pending', 'running', 'completed', 'failed', 'cancelled')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  max_attempts INTEGER NOT NULL,"
    "  worker TEXT,"
    "  lease_id INTEGER NOT NULL DEFAULT 0,"
    "  lease_until INTEGER NOT NULL DEFAULT 0,"
    "  progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),"
    "  error TEXT,"
    "  result TEXT,"
    "  created INTEGER NOT NULL,"
    "  started INTEGER NOT NULL DEFAULT 0,"
    "  finished INTEGER NOT NULL DEFAULT 0,"
    "  not_before INTEGER NOT NULL DEFAULT 0,"
    "  time_limit INTEGER NOT NULL);"
    "CREATE INDEX jobs_queue ON jobs (created, id) WHERE status = 'pending';"
    "CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';"
    "CREATE INDEX jobs_video ON jobs (video_id);"
    /* One active job per video, held by the database itself. */
    "CREATE UNIQUE INDEX jobs_one_active ON jobs (video_id) "
    "  WHERE status IN ('pending', 'running');"
    "INSERT INTO schema_version (version) VALUES (1);";

/* Version 2: resumable uploads (a video exists from the upload's creation, with no job until
 * it completes) and per-job proxy overrides. */
static const char schema_v2[] =
    "ALTER TABLE jobs ADD COLUMN options TEXT;"
    "CREATE TABLE uploads ("
    "  id TEXT PRIMARY KEY,"
    "  video_id INTEGER NOT NULL UNIQUE REFERENCES videos (id),"
    "  filename TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  part_size INTEGER NOT NULL,"
    "  parts_count INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL DEFAULT '',"
    "  options TEXT,"
    "  created INTEGER NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('open', 'complete')),"
    "  job_id INTEGER);"
    "CREATE INDEX uploads_expiry ON uploads (expires) WHERE status = 'open';"
    "CREATE TABLE upload_parts ("
    "  upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,"
    "  number INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  etag TEXT NOT NULL,"
    "  PRIMARY KEY (upload_id, number)) WITHOUT ROWID;"
    "UPDATE schema_version SET version = 2;";

typedef struct SqliteStore {
    sqlite3 *db;
    pthread_mutex_t lock;
    int lock_init;
    sqlite3_stmt *st[Q_NB];
} SqliteStore;

static int err_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return AVERROR(EBUSY);
    case SQLITE_FULL:   return AVERROR(ENOSPC);
    case SQLITE_NOMEM:  return AVERROR(ENOMEM);
    case SQLITE_READONLY: return AVERROR(EROFS);
    default:            return AVERROR(EIO);
    }
}

/* The cached statement @p q, reset and unbound; NULL on a prepare error (*ret set). */
static sqlite3_stmt *stmt(SqliteStore *p, int q, int *ret)
{
    if (!p->st[q]) {
        int rc = sqlite3_prepare_v3(p->db, queries[q], -1, SQLITE_PREPARE_PERSISTENT,
                                    &p->st[q], NULL);
        if (rc != SQLITE_OK) {
            *ret = err_of(rc);
            return NULL;
        }
    }
    return p->st[q];
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int exec(SqliteStore *p, const char *sql)
{
    int rc = sqlite3_exec(p->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : err_of(rc);
}

/* Run a statement that returns no row; @return changes() or a negative error. */
static int run(SqliteStore *p, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int ret = rc == SQLITE_DONE ? sqlite3_changes(p->db) : err_of(rc);
    done(st);
    return ret;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

static int status_of(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? vpi_job_status_of_name((const char *)t) : -1;
}

static int row_to_job(sqlite3_stmt *st, VpiJob *j)
{
    memset(j, 0, sizeof(*j));
    j->id = sqlite3_column_int64(st, 0);
    j->video_id = sqlite3_column_int64(st, 1);
    j->status = status_of(st, 2);
    j->attempts = sqlite3_column_int(st, 3);
    j->max_attempts = sqlite3_column_int(st, 4);
    j->lease_id = sqlite3_column_int64(st, 6);
    j->lease_until_ms = sqlite3_column_int64(st, 7);
    j->progress = sqlite3_column_int(st, 8);
    j->created_ms = sqlite3_column_int64(st, 11);
    j->started_ms = sqlite3_column_int64(st, 12);
    j->finished_ms = sqlite3_column_int64(st, 13);
    j->not_before_ms = sqlite3_column_int64(st, 14);
    j->time_limit_ms = sqlite3_column_int64(st, 15);
    if ((sqlite3_column_type(st, 16) != SQLITE_NULL && !(j->options = col_dup(st, 16))) ||
        (sqlite3_column_type(st, 5) != SQLITE_NULL && !(j->worker = col_dup(st, 5))) ||
        (sqlite3_column_type(st, 9) != SQLITE_NULL && !(j->error = col_dup(st, 9))) ||
        (sqlite3_column_type(st, 10) != SQLITE_NULL && !(j->result = col_dup(st, 10)))) {
        vpi_job_clear(j);
        return AVERROR(ENOMEM);
    }
    return 0;
}

static int row_to_video(sqlite3_stmt *st, VpiVideo *v)
{
    memset(v, 0, sizeof(*v));
    v->id = sqlite3_column_int64(st, 0);
    v->size = sqlite3_column_int64(st, 2);
    v->created_ms = sqlite3_column_int64(st, 3);
    v->job_id = sqlite3_column_int64(st, 4);
    v->job_status = sqlite3_column_type(st, 4) == SQLITE_NULL ? VPI_STATUS_UPLOADING :
                    status_of(st, 5);
    if (!(v->filename = col_dup(st, 1)))
        return AVERROR(ENOMEM);
    return 0;
}

static int begin(SqliteStore *p)
{
    pthread_mutex_lock(&p->lock);
    int ret = exec(p, "BEGIN IMMEDIATE");
    if (ret < 0)
        pthread_mutex_unlock(&p->lock);
    return ret;
}

/* Commit when @p ret >= 0, else roll back; @return ret or the commit's error. */
static int end(SqliteStore *p, int ret)
{
    if (ret >= 0) {
        int c = exec(p, "COMMIT");
        if (c < 0) {
            exec(p, "ROLLBACK");
            ret = c;
        }
    } else {
        exec(p, "ROLLBACK");
    }
    pthread_mutex_unlock(&p->lock);
    return ret;
}

/* The caller holds p->lock. */
static int schema_version(SqliteStore *p)
{
    sqlite3_stmt *st = NULL;
    int ret = 0, rc;

    rc = sqlite3_prepare_v2(p->db, "SELECT count(*) FROM sqlite_master "
                            "WHERE type = 'table' AND name = 'schema_version'", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return err_of(rc);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        ret = err_of(rc);
    else if (sqlite3_column_int(st, 0)) {
        sqlite3_finalize(st);
        st = NULL;
        rc = sqlite3_prepare_v2(p->db, "SELECT max(version) FROM schema_version", -1, &st,
                                NULL);
        if (rc != SQLITE_OK)
            return err_of(rc);
        rc = sqlite3_step(st);
        ret = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : err_of(rc);
    }
    sqlite3_finalize(st);
    return ret;
}

static int sq_schema_version(VpiStore *s)
{
    SqliteStore *p = s->priv;
    pthread_mutex_lock(&p->lock);
    int ret = schema_version(p);
    pthread_mutex_unlock(&p->lock);
    return ret;
}

static int sq_migrate(VpiStore *s, char *reason, size_t reason_size)
{
    SqliteStore *p = s->priv;
    int ret, ver;

    if ((ret = begin(p)) < 0) {
        snprintf(reason, reason_size, "%s: cannot lock the database (%s)",
                 sqlite3_db_filename(p->db, "main"), sqlite3_errmsg(p->db));
        return ret;
    }
    if ((ver = ret = schema_version(p)) >= 0) {
        if ((ver == 0 && (ret = exec(p, schema_v1)) < 0) ||
            (ver < 2 && (ret = exec(p, schema_v2)) < 0))
            snprintf(reason, reason_size, "%s: cannot create the schema (%s)",
                     sqlite3_db_filename(p->db, "main"), sqlite3_errmsg(p->db));
        /* A newer version is refused by vpi_store_open's check, untouched. */
    }
    return end(p, ret);
}

static void sq_close(VpiStore *s)
{
    SqliteStore *p = s->priv;
    for (int i = 0; i < Q_NB; i++)
        sqlite3_finalize(p->st[i]);
    memset(p->st, 0, sizeof(p->st));
    if (p->db) {
        /* The last connection to close checkpoints the WAL and removes -wal and -shm. */
        sqlite3_close(p->db);
        p->db = NULL;
    }
    if (p->lock_init)
        pthread_mutex_destroy(&p->lock);
    p->lock_init = 0;
}

static int sq_open(VpiStore *s, const char *target, char *reason, size_t reason_size)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st = NULL;
    int rc, ret = AVERROR(EIO);

    if (pthread_mutex_init(&p->lock, NULL)) {
        snprintf(reason, reason_size, "%s: cannot create a mutex", target);
        return AVERROR(ENOMEM);
    }
    p->lock_init = 1;
    rc = sqlite3_open_v2(target, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                         SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(reason, reason_size, "%s: cannot open the database (%s)", target,
                 p->db ? sqlite3_errmsg(p->db) : sqlite3_errstr(rc));
        ret = err_of(rc);
        goto fail;
    }
    sqlite3_busy_timeout(p->db, s->opts.busy_timeout_ms);
    /* journal_mode answers the mode it is in: "wal", or the old one when WAL is refused
     * (a file system without shared memory, a read-only folder). */
    rc = sqlite3_prepare_v2(p->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        snprintf(reason, reason_size, "%s: %s", target, sqlite3_errmsg(p->db));
        ret = err_of(rc);
        goto fail;
    }
    if (!sqlite3_column_text(st, 0) || strcmp((const char *)sqlite3_column_text(st, 0), "wal")) {
        snprintf(reason, reason_size, "%s: cannot use WAL mode (journal mode stays %s)",
                 target, sqlite3_column_text(st, 0));
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((ret = exec(p, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")) < 0) {
        snprintf(reason, reason_size, "%s: %s", target, sqlite3_errmsg(p->db));
        goto fail;
    }
    return 0;
fail:
    sqlite3_finalize(st);
    sq_close(s);
    return ret;
}

static int insert_job(SqliteStore *p, const VpiStoreOpts *o, int64_t video_id,
                      const char *options, int64_t now, int64_t *job_id)
{
    int ret = 0;
    sqlite3_stmt *st;
    if (!(st = stmt(p, Q_ADD_JOB, &ret)))
        return ret;
    sqlite3_bind_int64(st, 1, video_id);
    sqlite3_bind_int(st, 2, o->max_attempts);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, o->time_limit_ms);
    bind_text(st, 5, options);
    if ((ret = run(p, st)) < 0)
        return ret;
    *job_id = sqlite3_last_insert_rowid(p->db);
    if (!(st = stmt(p, Q_SET_VIDEO_JOB, &ret)))
        return ret;
    sqlite3_bind_int64(st, 1, video_id);
    sqlite3_bind_int64(st, 2, *job_id);
    return run(p, st);
}

static int sq_add_video(VpiStore *s, const char *filename, int64_t size, const char *options,
                        int64_t now, int64_t *video_id, int64_t *job_id)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret;

    if ((ret = begin(p)) < 0)
        return ret;
    if (!(st = stmt(p, Q_ADD_VIDEO, &ret)))
        return end(p, ret);
    bind_text(st, 1, filename);
    sqlite3_bind_int64(st, 2, size);
    sqlite3_bind_int64(st, 3, now);
    if ((ret = run(p, st)) >= 0) {
        *video_id = sqlite3_last_insert_rowid(p->db);
        ret = insert_job(p, &s->opts, *video_id, options, now, job_id);
    }
    return end(p, ret < 0 ? ret : 0);
}

/* The id of @p q's single-integer answer, 0 for no row. */
static int64_t query_id(SqliteStore *p, int q, int64_t arg, int *ret)
{
    sqlite3_stmt *st;
    int64_t id = 0;
    int rc;
    if (!(st = stmt(p, q, ret)))
        return 0;
    sqlite3_bind_int64(st, 1, arg);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        *ret = err_of(rc);
    done(st);
    return id;
}

static int sq_enqueue(VpiStore *s, int64_t video_id, const char *options, int64_t now,
                      int64_t *job_id)
{
    SqliteStore *p = s->priv;
    char *last = NULL;
    sqlite3_stmt *st;
    int ret = 0;
    int64_t id;

    if ((ret = begin(p)) < 0)
        return ret;
    if (!query_id(p, Q_VIDEO_EXISTS, video_id, &ret))
        return end(p, ret < 0 ? ret : AVERROR(ENOENT));
    if (query_id(p, Q_VIDEO_UPLOADING, video_id, &ret) || ret < 0)
        return end(p, ret < 0 ? ret : AVERROR(EBUSY));
    if ((id = query_id(p, Q_ACTIVE_JOB, video_id, &ret)) || ret < 0) {
        *job_id = id;
        return end(p, ret < 0 ? ret : 1);
    }
    if (!options) {
        if (!(st = stmt(p, Q_LAST_OPTIONS, &ret)))
            return end(p, ret);
        sqlite3_bind_int64(st, 1, video_id);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
            !(last = col_dup(st, 0)))
            ret = AVERROR(ENOMEM);
        done(st);
        options = last;
    }
    if (ret >= 0)
        ret = insert_job(p, &s->opts, video_id, options, now, job_id);
    free(last);
    return end(p, ret < 0 ? ret : 0);
}

static int sq_claim(VpiStore *s, const char *worker, int64_t now, int64_t lease_ms,
                    VpiJob *job)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret, rc;

    memset(job, 0, sizeof(*job));
    if ((ret = begin(p)) < 0)
        return ret;
    if (!(st = stmt(p, Q_CLAIM, &ret)))
        return end(p, ret);
    sqlite3_bind_int64(st, 1, now);
    bind_text(st, 2, worker);
    sqlite3_bind_int64(st, 3, lease_ms);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        ret = row_to_job(st, job);
        /* RETURNING rows are final only once the statement has run to its end. */
        if (ret >= 0 && (rc = sqlite3_step(st)) != SQLITE_DONE)
            ret = err_of(rc);
        ret = ret < 0 ? ret : 1;
    } else {
        ret = rc == SQLITE_DONE ? 0 : err_of(rc);
    }
    done(st);
    ret = end(p, ret);
    if (ret < 0)
        vpi_job_clear(job);
    return ret;
}

static int sq_heartbeat(VpiStore *s, int64_t job_id, int64_t lease_id, int progress,
                        int64_t now, int64_t lease_ms)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret = 0;

    pthread_mutex_lock(&p->lock);
    if ((st = stmt(p, Q_HEARTBEAT, &ret))) {
        sqlite3_bind_int64(st, 1, job_id);
        sqlite3_bind_int64(st, 2, lease_id);
        sqlite3_bind_int(st, 3, progress);
        sqlite3_bind_int64(st, 4, now + lease_ms);
        ret = run(p, st);
    }
    pthread_mutex_unlock(&p->lock);
    return ret < 0 ? ret : ret ? 0 : VPI_STORE_LOST_LEASE;
}

static int sq_complete(VpiStore *s, int64_t job_id, int64_t lease_id, const char *result,
                       int64_t now)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret = 0;

    pthread_mutex_lock(&p->lock);
    if ((st = stmt(p, Q_COMPLETE, &ret))) {
        sqlite3_bind_int64(st, 1, job_id);
        sqlite3_bind_int64(st, 2, lease_id);
        bind_text(st, 3, result);
        sqlite3_bind_int64(st, 4, now);
        ret = run(p, st);
    }
    pthread_mutex_unlock(&p->lock);
    return ret < 0 ? ret : ret ? 0 : VPI_STORE_LOST_LEASE;
}

static int sq_fail(VpiStore *s, int64_t job_id, int64_t lease_id, const char *error,
                   int retryable, int64_t now)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret, rc, attempts = 0, max_attempts = 0, retry;

    if ((ret = begin(p)) < 0)
        return ret;
    if (!(st = stmt(p, Q_FAIL_READ, &ret)))
        return end(p, ret);
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, lease_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        attempts = sqlite3_column_int(st, 0);
        max_attempts = sqlite3_column_int(st, 1);
    }
    done(st);
    if (rc != SQLITE_ROW)
        return end(p, rc == SQLITE_DONE ? VPI_STORE_LOST_LEASE : err_of(rc));
    retry = retryable && attempts < max_attempts;
    if (!(st = stmt(p, retry ? Q_FAIL_RETRY : Q_FAIL_FINAL, &ret)))
        return end(p, ret);
    sqlite3_bind_int64(st, 1, job_id);
    bind_text(st, 2, error);
    if (retry) {
        /* backoff_ms, 2x, 4x ... by attempt, capped; the shift is bounded by the cap. */
        int64_t delay = s->opts.backoff_ms;
        for (int i = 1; i < attempts && delay < s->opts.backoff_max_ms; i++)
            delay *= 2;
        if (delay > s->opts.backoff_max_ms)
            delay = s->opts.backoff_max_ms;
        sqlite3_bind_int64(st, 3, now + delay);
    } else {
        sqlite3_bind_int64(st, 3, now);
    }
    ret = run(p, st);
    return end(p, ret < 0 ? ret : retry);
}

static int sq_reap(VpiStore *s, int64_t now, int *requeued, int *failed)
{
    SqliteStore *p = s->priv;
    static const int steps[] = { Q_REAP_LIMIT, Q_REAP_EXHAUSTED, Q_REAP_REQUEUE };
    int ret, n[3] = { 0 };

    if ((ret = begin(p)) < 0)
        return ret;
    /* In this order: a job over its time limit fails even when its lease also expired. */
    for (int i = 0; i < 3 && ret >= 0; i++) {
        sqlite3_stmt *st = stmt(p, steps[i], &ret);
        if (!st)
            break;
        sqlite3_bind_int64(st, 1, now);
        if ((ret = run(p, st)) >= 0)
            n[i] = ret;
    }
    if ((ret = end(p, ret < 0 ? ret : 0)) >= 0) {
        *failed = n[0] + n[1];
        *requeued = n[2];
    }
    return ret;
}

static int sq_cancel(VpiStore *s, int64_t job_id, int64_t now)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret;

    if ((ret = begin(p)) < 0)
        return ret;
    if (!(st = stmt(p, Q_CANCEL, &ret)))
        return end(p, ret);
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, now);
    if ((ret = run(p, st)) > 0)
        return end(p, 0);
    if (ret == 0 && !query_id(p, Q_JOB_EXISTS, job_id, &ret) && ret >= 0)
        ret = AVERROR(ENOENT);
    else if (ret >= 0)
        ret = 1;
    return end(p, ret);
}

static int sq_get_job(VpiStore *s, int64_t job_id, VpiJob *job)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret = 0, rc;

    memset(job, 0, sizeof(*job));
    pthread_mutex_lock(&p->lock);
    if ((st = stmt(p, Q_GET_JOB, &ret))) {
        sqlite3_bind_int64(st, 1, job_id);
        rc = sqlite3_step(st);
        ret = rc == SQLITE_ROW ? row_to_job(st, job) :
              rc == SQLITE_DONE ? AVERROR(ENOENT) : err_of(rc);
        done(st);
    }
    pthread_mutex_unlock(&p->lock);
    return ret;
}

static int sq_get_video(VpiStore *s, int64_t video_id, VpiVideo *video)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret = 0, rc;

    memset(video, 0, sizeof(*video));
    pthread_mutex_lock(&p->lock);
    if ((st = stmt(p, Q_GET_VIDEO, &ret))) {
        sqlite3_bind_int64(st, 1, video_id);
        rc = sqlite3_step(st);
        ret = rc == SQLITE_ROW ? row_to_video(st, video) :
              rc == SQLITE_DONE ? AVERROR(ENOENT) : err_of(rc);
        done(st);
        if (ret < 0)
            vpi_video_clear(video);
    }
    pthread_mutex_unlock(&p->lock);
    return ret;
}

static int sq_list_videos(VpiStore *s, int status, int limit, int64_t after_created,
                          int64_t after_id, VpiVideo *out, int *n)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret = 0, rc;

    *n = 0;
    pthread_mutex_lock(&p->lock);
    if ((st = stmt(p, Q_LIST_VIDEOS, &ret))) {
        sqlite3_bind_int64(st, 1, after_created);
        sqlite3_bind_int64(st, 2, after_id);
        bind_text(st, 3, status < 0 ? NULL : status == VPI_STATUS_UPLOADING ? "uploading" :
                         vpi_job_status_name(status));
        sqlite3_bind_int(st, 4, limit);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < limit) {
            if ((ret = row_to_video(st, &out[*n])) < 0) {
                vpi_video_clear(&out[*n]);
                break;
            }
            (*n)++;
        }
        if (ret >= 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
            ret = err_of(rc);
        done(st);
    }
    pthread_mutex_unlock(&p->lock);
    return ret;
}

static int sq_delete_video(VpiStore *s, int64_t video_id)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret;

    if ((ret = begin(p)) < 0)
        return ret;
    if (!(st = stmt(p, Q_DELETE_UPLOADS, &ret)))
        return end(p, ret);
    sqlite3_bind_int64(st, 1, video_id);
    if ((ret = run(p, st)) < 0 || !(st = stmt(p, Q_DELETE_JOBS, &ret)))
        return end(p, ret);
    sqlite3_bind_int64(st, 1, video_id);
    if ((ret = run(p, st)) >= 0 && (st = stmt(p, Q_DELETE_VIDEO, &ret))) {
        sqlite3_bind_int64(st, 1, video_id);
        ret = run(p, st);
        if (ret == 0)
            ret = AVERROR(ENOENT);
    }
    return end(p, ret < 0 ? ret : 0);
}

static int sq_add_upload(VpiStore *s, VpiUpload *u)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret;

    if ((ret = begin(p)) < 0)
        return ret;
    if (!(st = stmt(p, Q_ADD_VIDEO, &ret)))
        return end(p, ret);
    bind_text(st, 1, u->filename);
    sqlite3_bind_int64(st, 2, u->size);
    sqlite3_bind_int64(st, 3, u->created_ms);
    if ((ret = run(p, st)) < 0)
        return end(p, ret);
    int64_t video_id = sqlite3_last_insert_rowid(p->db);
    if (!(st = stmt(p, Q_ADD_UPLOAD, &ret)))
        return end(p, ret);
    bind_text(st, 1, u->id);
    sqlite3_bind_int64(st, 2, video_id);
    bind_text(st, 3, u->filename);
    sqlite3_bind_int64(st, 4, u->size);
    sqlite3_bind_int64(st, 5, u->part_size);
    sqlite3_bind_int(st, 6, u->parts_count);
    bind_text(st, 7, u->sha256);
    bind_text(st, 8, u->options);
    sqlite3_bind_int64(st, 9, u->created_ms);
    sqlite3_bind_int64(st, 10, u->expires_ms);
    ret = run(p, st);
    if (ret < 0 && sqlite3_extended_errcode(p->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
        ret = AVERROR(EEXIST);
    if ((ret = end(p, ret < 0 ? ret : 0)) >= 0)
        u->video_id = video_id;
    return ret;
}

static int sq_get_upload(VpiStore *s, const char *id, VpiUpload *u)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret = 0, rc;

    pthread_mutex_lock(&p->lock);
    if ((st = stmt(p, Q_GET_UPLOAD, &ret))) {
        bind_text(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *t;
            snprintf(u->id, sizeof(u->id), "%s", (const char *)sqlite3_column_text(st, 0));
            u->video_id = sqlite3_column_int64(st, 1);
            u->size = sqlite3_column_int64(st, 3);
            u->part_size = sqlite3_column_int64(st, 4);
            u->parts_count = sqlite3_column_int(st, 5);
            if ((t = sqlite3_column_text(st, 6)))
                snprintf(u->sha256, sizeof(u->sha256), "%s", (const char *)t);
            u->created_ms = sqlite3_column_int64(st, 8);
            u->expires_ms = sqlite3_column_int64(st, 9);
            t = sqlite3_column_text(st, 10);
            u->complete = t && !strcmp((const char *)t, "complete");
            u->job_id = sqlite3_column_int64(st, 11);
            if (!(u->filename = col_dup(st, 2)) ||
                (sqlite3_column_type(st, 7) != SQLITE_NULL && !(u->options = col_dup(st, 7))))
                ret = AVERROR(ENOMEM);
        } else {
            ret = rc == SQLITE_DONE ? AVERROR(ENOENT) : err_of(rc);
        }
        done(st);
    }
    pthread_mutex_unlock(&p->lock);
    if (ret < 0)
        vpi_upload_clear(u);
    return ret;
}

/* 0 open, 1 complete, AVERROR(ENOENT) unknown. The caller holds the lock. */
static int upload_state(SqliteStore *p, const char *id)
{
    sqlite3_stmt *st;
    int ret = 0, rc;
    if (!(st = stmt(p, Q_UPLOAD_STATE, &ret)))
        return ret;
    bind_text(st, 1, id);
    rc = sqlite3_step(st);
    ret = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) :
          rc == SQLITE_DONE ? AVERROR(ENOENT) : err_of(rc);
    done(st);
    return ret;
}

static int sq_put_part(VpiStore *s, const char *id, const VpiPart *part)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret;

    if ((ret = begin(p)) < 0)
        return ret;
    if ((ret = upload_state(p, id)) != 0)
        return end(p, ret < 0 ? ret : AVERROR(EEXIST));
    if (!(st = stmt(p, Q_PUT_PART, &ret)))
        return end(p, ret);
    bind_text(st, 1, id);
    sqlite3_bind_int(st, 2, part->number);
    sqlite3_bind_int64(st, 3, part->size);
    bind_text(st, 4, part->etag);
    ret = run(p, st);
    return end(p, ret < 0 ? ret : 0);
}

static int sq_list_parts(VpiStore *s, const char *id, VpiPart **parts, int *n)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret = 0, rc, cap = 0;
    VpiPart *v = NULL;

    pthread_mutex_lock(&p->lock);
    if ((st = stmt(p, Q_LIST_PARTS, &ret))) {
        bind_text(st, 1, id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (*n == cap) {
                VpiPart *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
                if (!nv) {
                    ret = AVERROR(ENOMEM);
                    break;
                }
                v = nv;
            }
            VpiPart *pt = &v[(*n)++];
            memset(pt, 0, sizeof(*pt));
            pt->number = sqlite3_column_int(st, 0);
            pt->size = sqlite3_column_int64(st, 1);
            snprintf(pt->etag, sizeof(pt->etag), "%s", (const char *)sqlite3_column_text(st, 2));
        }
        if (ret >= 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
            ret = err_of(rc);
        done(st);
    }
    pthread_mutex_unlock(&p->lock);
    if (ret < 0) {
        free(v);
        v = NULL;
        *n = 0;
    }
    *parts = v;
    return ret;
}

static int sq_complete_upload(VpiStore *s, const char *id, int64_t now, int64_t *video_id,
                              int64_t *job_id)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    char *options = NULL;
    int ret = 0, rc, complete = 0;

    if ((ret = begin(p)) < 0)
        return ret;
    if (!(st = stmt(p, Q_GET_UPLOAD, &ret)))
        return end(p, ret);
    bind_text(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *video_id = sqlite3_column_int64(st, 1);
        complete = !strcmp((const char *)sqlite3_column_text(st, 10), "complete");
        *job_id = sqlite3_column_int64(st, 11);
        if (sqlite3_column_type(st, 7) != SQLITE_NULL && !(options = col_dup(st, 7)))
            ret = AVERROR(ENOMEM);
    } else {
        ret = rc == SQLITE_DONE ? AVERROR(ENOENT) : err_of(rc);
    }
    done(st);
    if (ret < 0 || complete) {
        free(options);
        return end(p, ret < 0 ? ret : 1);
    }
    ret = insert_job(p, &s->opts, *video_id, options, now, job_id);
    free(options);
    if (ret >= 0 && (st = stmt(p, Q_UPLOAD_DONE, &ret))) {
        bind_text(st, 1, id);
        sqlite3_bind_int64(st, 2, *job_id);
        ret = run(p, st);
    }
    return end(p, ret < 0 ? ret : 0);
}

static int sq_expire_uploads(VpiStore *s, int64_t now, int64_t **video_ids, int *n)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret, rc, cap = 0;
    int64_t *v = NULL;

    if ((ret = begin(p)) < 0)
        return ret;
    if (!(st = stmt(p, Q_EXPIRED, &ret)))
        return end(p, ret);
    sqlite3_bind_int64(st, 1, now);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            int64_t *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
            if (!nv) {
                ret = AVERROR(ENOMEM);
                break;
            }
            v = nv;
        }
        v[(*n)++] = sqlite3_column_int64(st, 1);
    }
    if (ret >= 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = err_of(rc);
    done(st);
    /* The uploads go first (they name their videos), then the videos; parts cascade. */
    for (int i = 0; ret >= 0 && i < *n; i++) {
        if (!(st = stmt(p, Q_DELETE_UPLOADS, &ret)))
            break;
        sqlite3_bind_int64(st, 1, v[i]);
        if ((ret = run(p, st)) < 0 || !(st = stmt(p, Q_DELETE_VIDEO, &ret)))
            break;
        sqlite3_bind_int64(st, 1, v[i]);
        ret = run(p, st);
    }
    ret = end(p, ret < 0 ? ret : 0);
    if (ret < 0) {
        free(v);
        v = NULL;
        *n = 0;
    }
    *video_ids = v;
    return ret;
}

static int64_t count_of(SqliteStore *p, int q, int64_t arg, int *ret)
{
    return query_id(p, q, arg, ret);
}

static int sq_counts(VpiStore *s, int64_t now, VpiStoreCounts *c)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret = 0, rc;

    pthread_mutex_lock(&p->lock);
    if ((st = stmt(p, Q_COUNT_JOBS, &ret))) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int k = status_of(st, 0);
            if (k >= 0)
                c->jobs[k] = sqlite3_column_int64(st, 1);
        }
        if (rc != SQLITE_DONE)
            ret = err_of(rc);
        done(st);
    }
    if (ret >= 0)
        c->queue_depth = count_of(p, Q_QUEUE_DEPTH, now, &ret);
    if (ret >= 0)
        c->videos = count_of(p, Q_COUNT_VIDEOS, 0, &ret);
    if (ret >= 0)
        c->uploads_open = count_of(p, Q_COUNT_UPLOADS, 0, &ret);
    pthread_mutex_unlock(&p->lock);
    return ret < 0 ? ret : 0;
}

static int sq_last_result(VpiStore *s, int64_t video_id, char **result, int64_t *job_id)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret = 0, rc;

    pthread_mutex_lock(&p->lock);
    if ((st = stmt(p, Q_LAST_RESULT, &ret))) {
        sqlite3_bind_int64(st, 1, video_id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *job_id = sqlite3_column_int64(st, 1);
            if (sqlite3_column_type(st, 0) == SQLITE_NULL)
                ret = AVERROR(ENOENT);
            else if (!(*result = col_dup(st, 0)))
                ret = AVERROR(ENOMEM);
        } else {
            ret = rc == SQLITE_DONE ? AVERROR(ENOENT) : err_of(rc);
        }
        done(st);
    }
    pthread_mutex_unlock(&p->lock);
    return ret;
}

static int sq_release(VpiStore *s, int64_t job_id, int64_t lease_id, int64_t now)
{
    SqliteStore *p = s->priv;
    sqlite3_stmt *st;
    int ret = 0;

    pthread_mutex_lock(&p->lock);
    if ((st = stmt(p, Q_RELEASE, &ret))) {
        sqlite3_bind_int64(st, 1, job_id);
        sqlite3_bind_int64(st, 2, lease_id);
        sqlite3_bind_int64(st, 3, now);
        ret = run(p, st);
    }
    pthread_mutex_unlock(&p->lock);
    return ret < 0 ? ret : ret ? 0 : VPI_STORE_LOST_LEASE;
}

const VpiStoreClass vpi_store_sqlite = {
    .name = "sqlite",
    .priv_size = sizeof(SqliteStore),
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .add_video = sq_add_video,
    .enqueue = sq_enqueue,
    .claim = sq_claim,
    .heartbeat = sq_heartbeat,
    .complete = sq_complete,
    .fail = sq_fail,
    .reap = sq_reap,
    .cancel = sq_cancel,
    .get_job = sq_get_job,
    .get_video = sq_get_video,
    .list_videos = sq_list_videos,
    .delete_video = sq_delete_video,
    .add_upload = sq_add_upload,
    .get_upload = sq_get_upload,
    .put_part = sq_put_part,
    .list_parts = sq_list_parts,
    .complete_upload = sq_complete_upload,
    .expire_uploads = sq_expire_uploads,
    .counts = sq_counts,
    .last_result = sq_last_result,
    .release = sq_release,
};
