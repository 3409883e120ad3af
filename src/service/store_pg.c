/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job store on PostgreSQL (`--db postgresql://...`): the same tables, rows, leases and
 * fencing tokens as store_sqlite.c, for API nodes and workers on many machines.
 *
 * A small pool of connections instead of SQLite's mutex: PostgreSQL runs writers side by side
 * (row locks, not a database lock), so each hook takes a connection, runs one transaction and
 * gives it back. Claims skip each other's locked rows (FOR UPDATE SKIP LOCKED) instead of
 * queueing behind the first claimer's lock; one active job per video is a partial unique
 * index, as in SQLite, so the rule holds whatever the code of either back end does.
 *
 * Reconnection: a server restart kills every pooled connection. An idle connection is checked
 * without a round trip before use (its socket turns readable with the server's "terminating
 * connection" message, or EOF) and reset; a connection that breaks inside a call is reset and
 * the call run once more when nothing can have been committed (a read, or a transaction whose
 * COMMIT was not sent). A single-statement write that breaks after being sent may or may not
 * have committed: AVERROR(EIO), and the lease protocol copes (a lost claim expires and is
 * reaped, a lost completion runs the job again).
 *
 * Wake-ups: every change that makes a job claimable (a new job, a retry, a reaped or handed
 * back job) sends NOTIFY vidpipe_jobs in its transaction, delivered at commit; wait() blocks
 * on a separate LISTEN connection until one arrives or its timeout passes, so idle workers
 * need not poll fast. A lost notification (the listener reconnecting) costs one poll period. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "service/store.h"

/* Connections opened on demand, at most this many per store: enough for the worker threads
 * and the HTTP threads of one process, small against max_connections (100) for a fleet. */
#define POOL_SIZE 16

#define NOTIFY_CHANNEL "vidpipe_jobs"

/* Internal outcomes of a statement, turned into AVERRORs by with_conn(). */
#define PG_BROKEN AVERROR(ECONNRESET)   /* the connection died */
#define PG_RETRY  AVERROR(EAGAIN)       /* deadlock or serialization failure: run again */

enum {
    Q_ADD_VIDEO, Q_ADD_VIDEO_JOB, Q_ADD_JOB, Q_SET_VIDEO_JOB, Q_VIDEO_STATE, Q_ACTIVE_JOB, Q_LAST_OPTIONS,
    Q_CLAIM, Q_HEARTBEAT, Q_COMPLETE, Q_FAIL_READ, Q_FAIL_RETRY, Q_FAIL_FINAL, Q_REAP_LIMIT,
    Q_REAP_EXHAUSTED, Q_REAP_REQUEUE, Q_CANCEL, Q_JOB_EXISTS, Q_GET_JOB, Q_GET_VIDEO,
    Q_LIST_VIDEOS, Q_DELETE_UPLOADS, Q_DELETE_JOBS, Q_DELETE_VIDEO, Q_ADD_UPLOAD, Q_GET_UPLOAD,
    Q_UPLOAD_STATE, Q_UPLOAD_LOCK, Q_PUT_PART, Q_LIST_PARTS, Q_UPLOAD_DONE, Q_EXPIRED, Q_COUNTS,
    Q_LAST_RESULT, Q_RELEASE, Q_NOTIFY, Q_NB
};

#define JOB_COLS "id, video_id, status, attempts, max_attempts, worker, lease_id, " \
                 "lease_until, progress, error, result, created, started, finished, " \
                 "not_before, time_limit, options"
#define VIDEO_SELECT "SELECT v.id, v.filename, v.size, v.created, v.job_id, j.status " \
                     "FROM videos v LEFT JOIN jobs j ON j.id = v.job_id "
/* Counts the rows of CTE u, notifying once per transaction when there are any (identical
 * notifications of one transaction are delivered once). */
#define COUNT_AND_NOTIFY "SELECT count(*) FROM " \
                         "(SELECT pg_notify('" NOTIFY_CHANNEL "', '') FROM u) n"

static const struct { const char *sql; int nparams; } queries[Q_NB] = {
    [Q_ADD_VIDEO] = { "INSERT INTO videos (filename, size, created) VALUES ($1, $2, $3) "
                      "RETURNING id", 3 },
    /* A video and its first job in one statement (one round trip, its own transaction): the
     * ids are drawn first so that each row can name the other; the foreign key is checked at
     * the end of the statement, when both exist. */
    [Q_ADD_VIDEO_JOB] = { "WITH ids AS (SELECT "
                          "nextval(pg_get_serial_sequence('videos', 'id')) AS vid, "
                          "nextval(pg_get_serial_sequence('jobs', 'id')) AS jid), "
                          "v AS (INSERT INTO videos (id, filename, size, created, job_id) "
                          "SELECT vid, $1, $2, $3, jid FROM ids), "
                          "j AS (INSERT INTO jobs (id, video_id, status, max_attempts, created, "
                          "time_limit, options) SELECT jid, vid, 'pending', $4, $3, $5, $6 "
                          "FROM ids) "
                          "SELECT vid, jid, pg_notify('" NOTIFY_CHANNEL "', '') FROM ids", 6 },
    [Q_ADD_JOB] = { "INSERT INTO jobs (video_id, status, max_attempts, created, time_limit, "
                    "options) VALUES ($1, 'pending', $2, $3, $4, $5) RETURNING id", 5 },
    [Q_SET_VIDEO_JOB] = { "UPDATE videos SET job_id = $2 WHERE id = $1", 2 },
    /* The video's row is locked for the rest of the transaction: two reprocess calls on one
     * video queue one job, the second sees the first's. */
    [Q_VIDEO_STATE] = { "SELECT job_id IS NULL FROM videos WHERE id = $1 FOR UPDATE", 1 },
    [Q_ACTIVE_JOB] = { "SELECT id FROM jobs WHERE video_id = $1 "
                       "AND status IN ('pending', 'running')", 1 },
    [Q_LAST_OPTIONS] = { "SELECT j.options FROM videos v JOIN jobs j ON j.id = v.job_id "
                         "WHERE v.id = $1", 1 },
    [Q_CLAIM] = { "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = $2, "
                  "lease_id = lease_id + 1, lease_until = $1::bigint + $3::bigint, "
                  "started = $1, progress = 0 "
                  "WHERE id = (SELECT id FROM jobs WHERE status = 'pending' "
                  "AND not_before <= $1 ORDER BY created, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                  "RETURNING " JOB_COLS, 3 },
    [Q_HEARTBEAT] = { "UPDATE jobs SET progress = $3, lease_until = $4 "
                      "WHERE id = $1 AND lease_id = $2 AND status = 'running'", 4 },
    [Q_COMPLETE] = { "UPDATE jobs SET status = 'completed', result = $3, progress = 100, "
                     "finished = $4, lease_until = 0, error = NULL "
                     "WHERE id = $1 AND lease_id = $2 AND status = 'running'", 4 },
    [Q_FAIL_READ] = { "SELECT attempts, max_attempts FROM jobs "
                      "WHERE id = $1 AND lease_id = $2 AND status = 'running' FOR UPDATE", 2 },
    [Q_FAIL_RETRY] = { "UPDATE jobs SET status = 'pending', error = $2, not_before = $3, "
                       "lease_until = 0 WHERE id = $1", 3 },
    [Q_FAIL_FINAL] = { "UPDATE jobs SET status = 'failed', error = $2, finished = $3, "
                       "lease_until = 0 WHERE id = $1", 3 },
    [Q_REAP_LIMIT] = { "UPDATE jobs SET status = 'failed', finished = $1, lease_until = 0, "
                       "error = 'ran longer than its ' || (time_limit / 1000) || ' s time limit' "
                       "WHERE status = 'running' AND started + time_limit <= $1", 1 },
    [Q_REAP_EXHAUSTED] = { "UPDATE jobs SET status = 'failed', finished = $1, lease_until = 0, "
                           "error = 'lease of worker ' || coalesce(worker, '?') || ' expired on "
                           "attempt ' || attempts || ' of ' || max_attempts || ' (worker died "
                           "or stalled)' WHERE status = 'running' AND lease_until <= $1 "
                           "AND attempts >= max_attempts", 1 },
    [Q_REAP_REQUEUE] = { "WITH u AS (UPDATE jobs SET status = 'pending', not_before = $1, "
                         "lease_until = 0, error = 'lease of worker ' || coalesce(worker, '?') "
                         "|| ' expired on attempt ' || attempts || ' (worker died or stalled)' "
                         "WHERE status = 'running' AND lease_until <= $1 RETURNING 1) "
                         COUNT_AND_NOTIFY, 1 },
    [Q_CANCEL] = { "UPDATE jobs SET status = 'cancelled', finished = $2, lease_until = 0 "
                   "WHERE id = $1 AND status IN ('pending', 'running')", 2 },
    [Q_JOB_EXISTS] = { "SELECT 1 FROM jobs WHERE id = $1", 1 },
    [Q_GET_JOB] = { "SELECT " JOB_COLS " FROM jobs WHERE id = $1", 1 },
    [Q_GET_VIDEO] = { VIDEO_SELECT "WHERE v.id = $1", 1 },
    [Q_LIST_VIDEOS] = { VIDEO_SELECT "WHERE (v.created, v.id) > ($1::bigint, $2::bigint) "
                        "AND ($3::text IS NULL OR j.status = $3::text "
                        "OR ($3::text = 'uploading' AND v.job_id IS NULL)) "
                        "ORDER BY v.created, v.id LIMIT $4", 4 },
    [Q_DELETE_UPLOADS] = { "DELETE FROM uploads WHERE video_id = $1", 1 },
    [Q_DELETE_JOBS] = { "DELETE FROM jobs WHERE video_id = $1", 1 },
    [Q_DELETE_VIDEO] = { "DELETE FROM videos WHERE id = $1", 1 },
    [Q_ADD_UPLOAD] = { "INSERT INTO uploads (id, video_id, filename, size, part_size, "
                       "parts_count, sha256, options, created, expires, status) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open')", 10 },
    [Q_GET_UPLOAD] = { "SELECT id, video_id, filename, size, part_size, parts_count, sha256, "
                       "options, created, expires, status, job_id FROM uploads WHERE id = $1",
                       1 },
    /* Locked: a part recorded and the upload completed at once are ordered. */
    [Q_UPLOAD_STATE] = { "SELECT status = 'complete' FROM uploads WHERE id = $1 FOR SHARE", 1 },
    [Q_UPLOAD_LOCK] = { "SELECT 1 FROM uploads WHERE id = $1 FOR UPDATE", 1 },
    [Q_PUT_PART] = { "INSERT INTO upload_parts (upload_id, number, size, etag) "
                     "VALUES ($1, $2, $3, $4) ON CONFLICT (upload_id, number) "
                     "DO UPDATE SET size = EXCLUDED.size, etag = EXCLUDED.etag", 4 },
    [Q_LIST_PARTS] = { "SELECT number, size, etag FROM upload_parts WHERE upload_id = $1 "
                       "ORDER BY number", 1 },
    [Q_UPLOAD_DONE] = { "UPDATE uploads SET status = 'complete', job_id = $2 WHERE id = $1",
                        2 },
    [Q_EXPIRED] = { "SELECT id, video_id FROM uploads WHERE status = 'open' AND expires <= $1 "
                    "FOR UPDATE SKIP LOCKED", 1 },
    /* One statement, one snapshot: the numbers of /metrics agree with each other. */
    [Q_COUNTS] = { "SELECT count(*) FILTER (WHERE status = 'pending'), "
                   "count(*) FILTER (WHERE status = 'running'), "
                   "count(*) FILTER (WHERE status = 'completed'), "
                   "count(*) FILTER (WHERE status = 'failed'), "
                   "count(*) FILTER (WHERE status = 'cancelled'), "
                   "count(*) FILTER (WHERE status = 'pending' AND not_before <= $1), "
                   "(SELECT count(*) FROM videos), "
                   "(SELECT count(*) FROM uploads WHERE status = 'open') FROM jobs", 1 },
    [Q_LAST_RESULT] = { "SELECT result, id FROM jobs WHERE video_id = $1 "
                        "AND status = 'completed' ORDER BY finished DESC, id DESC LIMIT 1", 1 },
    [Q_RELEASE] = { "WITH u AS (UPDATE jobs SET status = 'pending', attempts = attempts - 1, "
                    "lease_until = 0, not_before = $3 WHERE id = $1 AND lease_id = $2 "
                    "AND status = 'running' RETURNING 1) " COUNT_AND_NOTIFY, 3 },
    [Q_NOTIFY] = { "SELECT pg_notify('" NOTIFY_CHANNEL "', '')", 0 },
};

/* Version 1, as store_sqlite.c's with PostgreSQL's types. A later version adds a step to
 * migrate() from the version before it. */
static const char schema_v1[] =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "CREATE TABLE videos ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  filename TEXT NOT NULL,"
    "  size BIGINT NOT NULL,"
    "  created BIGINT NOT NULL,"
    "  job_id BIGINT);"
    "CREATE INDEX videos_created ON videos (created, id);"
    "CREATE TABLE jobs ("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  video_id BIGINT NOT NULL REFERENCES videos (id),"
    "  status TEXT NOT NULL CHECK (status IN "
    "    ('pending', 'running', 'completed', 'failed', 'cancelled')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  max_attempts INTEGER NOT NULL,"
    "  worker TEXT,"
    "  lease_id BIGINT NOT NULL DEFAULT 0,"
    "  lease_until BIGINT NOT NULL DEFAULT 0,"
    "  progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),"
    "  error TEXT,"
    "  result TEXT,"
    "  created BIGINT NOT NULL,"
    "  started BIGINT NOT NULL DEFAULT 0,"
    "  finished BIGINT NOT NULL DEFAULT 0,"
    "  not_before BIGINT NOT NULL DEFAULT 0,"
    "  time_limit BIGINT NOT NULL);"
    "CREATE INDEX jobs_queue ON jobs (created, id) WHERE status = 'pending';"
    "CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';"
    "CREATE INDEX jobs_video ON jobs (video_id);"
    "CREATE UNIQUE INDEX jobs_one_active ON jobs (video_id) "
    "  WHERE status IN ('pending', 'running');"
    "INSERT INTO schema_version (version) VALUES (1);";

static const char schema_v2[] =
    "ALTER TABLE jobs ADD COLUMN options TEXT;"
    "CREATE TABLE uploads ("
    "  id TEXT PRIMARY KEY,"
    "  video_id BIGINT NOT NULL UNIQUE REFERENCES videos (id),"
    "  filename TEXT NOT NULL,"
    "  size BIGINT NOT NULL,"
    "  part_size BIGINT NOT NULL,"
    "  parts_count INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL DEFAULT '',"
    "  options TEXT,"
    "  created BIGINT NOT NULL,"
    "  expires BIGINT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('open', 'complete')),"
    "  job_id BIGINT);"
    "CREATE INDEX uploads_expiry ON uploads (expires) WHERE status = 'open';"
    "CREATE TABLE upload_parts ("
    "  upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,"
    "  number INTEGER NOT NULL,"
    "  size BIGINT NOT NULL,"
    "  etag TEXT NOT NULL,"
    "  PRIMARY KEY (upload_id, number));"
    "UPDATE schema_version SET version = 2;";

/* Taken by migrate for its transaction: two nodes migrating at once run one after the other
 * (the second finds the schema made). The number is "vidp" in ASCII. */
#define MIGRATE_LOCK "1986618480"

typedef struct PgConn {
    PGconn *pg;
    uint64_t prepared;          /* bit q: queries[q] is prepared on this connection */
    int busy;
} PgConn;

typedef struct PgStore {
    char *conninfo;
    char name[256];             /* "postgresql://user@host:port/db", no password: for reasons */
    int lock_timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int sync_init;
    PgConn conns[POOL_SIZE];

    /* The LISTEN connection and who polls it (one thread; the others wait on the cond). */
    pthread_mutex_t wlock;
    pthread_cond_t wcond;
    PGconn *listener;
    int polling;
    uint64_t notified;          /* notifications received so far */
} PgStore;

/* Parameters in text form, numbers formatted in place. */
typedef struct Params {
    const char *v[12];
    char num[12][24];
    int n;
} Params;

static void p_int(Params *a, int64_t x)
{
    snprintf(a->num[a->n], sizeof(a->num[0]), "%" PRId64, x);
    a->v[a->n] = a->num[a->n];
    a->n++;
}

static void p_text(Params *a, const char *s)
{
    a->v[a->n++] = s;
}

static int64_t v_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A copy of the value, NULL for SQL NULL; *ret = ENOMEM when the copy fails. */
static char *v_dup(const PGresult *r, int row, int col, int *ret)
{
    char *s;
    if (PQgetisnull(r, row, col))
        return NULL;
    if (!(s = strdup(PQgetvalue(r, row, col))))
        *ret = AVERROR(ENOMEM);
    return s;
}

static int broken(PgConn *c)
{
    return PQstatus(c->pg) != CONNECTION_OK;
}

/* The error of a failed result, or 0 when @p r succeeded. */
static int err_of(PgConn *c, const PGresult *r)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    const char *state;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    if (broken(c))
        return PG_BROKEN;
    state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return AVERROR(EIO);
    if (!strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") ||
        !strcmp(state, "57P03"))
        return PG_BROKEN;
    if (!strcmp(state, "40001") || !strcmp(state, "40P01"))
        return PG_RETRY;
    if (!strcmp(state, "55P03") || !strcmp(state, "57014"))
        return AVERROR(EBUSY);       /* lock_timeout (busy_timeout_ms) or statement timeout */
    if (!strcmp(state, "23505"))
        return AVERROR(EEXIST);
    if (!strcmp(state, "53100"))
        return AVERROR(ENOSPC);
    if (!strcmp(state, "53200"))
        return AVERROR(ENOMEM);
    if (!strcmp(state, "25006"))
        return AVERROR(EROFS);
    return AVERROR(EIO);
}

/* Run query @p q; @return its result (PQclear it) or NULL with *ret set. */
static PGresult *run(PgConn *c, int q, const Params *a, int *ret)
{
    char name[8];
    PGresult *r;
    snprintf(name, sizeof(name), "q%d", q);
    if (!(c->prepared & (UINT64_C(1) << q))) {
        r = PQprepare(c->pg, name, queries[q].sql, queries[q].nparams, NULL);
        if ((*ret = err_of(c, r)) < 0) {
            PQclear(r);
            return NULL;
        }
        PQclear(r);
        c->prepared |= UINT64_C(1) << q;
    }
    r = PQexecPrepared(c->pg, name, a ? a->n : 0, a ? a->v : NULL, NULL, NULL, 0);
    if ((*ret = err_of(c, r)) < 0) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Run @p q for its changed-row count (or the first column of its first row when it answers
 * rows); @return that count or a negative error. */
static int64_t run_count(PgConn *c, int q, const Params *a, int *ret)
{
    PGresult *r = run(c, q, a, ret);
    int64_t n;
    if (!r)
        return *ret;
    n = PQresultStatus(r) == PGRES_TUPLES_OK ? (PQntuples(r) ? v_int(r, 0, 0) : 0) :
        strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return n;
}

/* The first column of the first row as an integer, 0 for no row. */
static int64_t run_id(PgConn *c, int q, const Params *a, int *ret)
{
    PGresult *r = run(c, q, a, ret);
    int64_t id;
    if (!r)
        return 0;
    id = PQntuples(r) ? v_int(r, 0, 0) : 0;
    PQclear(r);
    return id;
}

static int exec_simple(PgConn *c, const char *sql)
{
    PGresult *r = PQexec(c->pg, sql);
    int ret = err_of(c, r);
    PQclear(r);
    return ret;
}

/* One line of libpq's message (it ends in a newline, and may have a DETAIL line). */
static const char *one_line(const char *msg, char *buf, size_t size)
{
    snprintf(buf, size, "%s", msg && *msg ? msg : "unknown error");
    buf[strcspn(buf, "\r\n")] = 0;
    return buf;
}

/* Settings of each session: the lock wait of busy_timeout_ms, as SQLite's busy timeout. */
static int session_setup(PgStore *p, PgConn *c)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "SET lock_timeout = %d", p->lock_timeout_ms);
    c->prepared = 0;
    return exec_simple(c, sql);
}

/* Connect with the spec as given, over defaults that keep a dead server or network from
 * hanging a call: 10 s to connect, and TCP keepalives that give up on a silent peer after
 * about a minute (the kernel's default waits 2 h). The spec's own settings win: libpq
 * expands the "dbname" entry (a URI or keyword string) over the entries before it. */
static PGconn *connect_to(const PgStore *p)
{
    static const char *const keys[] = { "connect_timeout", "keepalives_idle",
                                        "keepalives_interval", "keepalives_count",
                                        "dbname", NULL };
    const char *values[] = { "10", "30", "10", "3", p->conninfo, NULL };
    return PQconnectdbParams(keys, values, 1);
}

static int conn_open(PgStore *p, PgConn *c)
{
    if (c->pg)
        PQreset(c->pg);
    else
        c->pg = connect_to(p);
    if (!c->pg)
        return AVERROR(ENOMEM);
    if (PQstatus(c->pg) != CONNECTION_OK)
        return AVERROR(EIO);
    return session_setup(p, c) < 0 ? AVERROR(EIO) : 0;
}

/* A connection the server closed while it sat in the pool (a restart) has its socket readable
 * with the goodbye ("terminating connection due to administrator command") or EOF: found
 * without a round trip. An idle pooled connection has nothing else to read (it LISTENs to
 * nothing), so anything readable means it is going: reset it before use. */
static int idle_conn_alive(PgConn *c)
{
    struct pollfd pfd = { .fd = PQsocket(c->pg), .events = POLLIN };
    if (PQstatus(c->pg) != CONNECTION_OK || pfd.fd < 0)
        return 0;
    return poll(&pfd, 1, 0) == 0;
}

/* After one connection broke, the idle ones are likely dead too (a server restart ends
 * them all): closed, so the retry opens a fresh one instead of finding the next corpse. */
static void pool_drop_idle(PgStore *p)
{
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < POOL_SIZE; i++) {
        if (!p->conns[i].busy && p->conns[i].pg) {
            PQfinish(p->conns[i].pg);
            p->conns[i].pg = NULL;
        }
    }
    pthread_mutex_unlock(&p->lock);
}

static int pool_get(PgStore *p, PgConn **out)
{
    PgConn *c = NULL;
    int ret = 0;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        PgConn *empty = NULL;
        for (int i = 0; i < POOL_SIZE && !c; i++) {
            if (p->conns[i].busy)
                continue;
            if (p->conns[i].pg)
                c = &p->conns[i];
            else if (!empty)
                empty = &p->conns[i];
        }
        if (!c)
            c = empty;
        if (c)
            break;
        pthread_cond_wait(&p->freed, &p->lock);
    }
    c->busy = 1;
    pthread_mutex_unlock(&p->lock);
    if (!c->pg || !idle_conn_alive(c))
        ret = conn_open(p, c);
    if (ret < 0) {
        pthread_mutex_lock(&p->lock);
        PQfinish(c->pg);
        c->pg = NULL;
        c->busy = 0;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
        return ret;
    }
    *out = c;
    return 0;
}

static void pool_put(PgStore *p, PgConn *c)
{
    pthread_mutex_lock(&p->lock);
    c->busy = 0;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

/* How a hook's body may be run again after its connection broke. */
enum {
    RUN_READ,       /* reads only: always safe to run again */
    RUN_TX,         /* several statements in BEGIN ... COMMIT: again when COMMIT was not sent */
    RUN_WRITE,      /* one statement, its own transaction: never again once sent */
};

typedef int (*Body)(VpiStore *s, PgConn *c, void *arg);

static int with_conn(VpiStore *s, int mode, Body body, void *arg)
{
    PgStore *p = s->priv;
    int ret;

    for (int attempt = 0;; attempt++) {
        PgConn *c;
        int committing = 0;
        if ((ret = pool_get(p, &c)) < 0)
            return ret;
        if (mode == RUN_TX)
            ret = exec_simple(c, "BEGIN");
        if (ret >= 0)
            ret = body(s, c, arg);
        if (mode == RUN_TX && ret != PG_BROKEN) {
            if (ret >= 0) {
                int r;
                committing = 1;
                if ((r = exec_simple(c, "COMMIT")) < 0)
                    ret = r;
            } else {
                exec_simple(c, "ROLLBACK");
            }
        }
        if (ret == PG_BROKEN || broken(c)) {
            /* Reset now, so the next call finds a live connection (or none). */
            PQfinish(c->pg);
            c->pg = NULL;
            pool_put(p, c);
            pool_drop_idle(p);
            if (attempt == 0 && (mode == RUN_READ || (mode == RUN_TX && !committing)))
                continue;
            return AVERROR(EIO);
        }
        pool_put(p, c);
        if (ret == PG_RETRY && attempt == 0)
            continue;
        return ret == PG_RETRY ? AVERROR(EBUSY) : ret;
    }
}

static int schema_version_on(PgConn *c)
{
    PGresult *r = PQexec(c->pg, "SELECT to_regclass('schema_version') IS NOT NULL");
    int ret = err_of(c, r);
    if (ret >= 0 && PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t")) {
        PQclear(r);
        r = PQexec(c->pg, "SELECT max(version) FROM schema_version");
        if ((ret = err_of(c, r)) >= 0)
            ret = PQntuples(r) ? (int)v_int(r, 0, 0) : 0;
    }
    PQclear(r);
    return ret;
}

static int body_schema_version(VpiStore *s, PgConn *c, void *arg)
{
    (void)s;
    (void)arg;
    return schema_version_on(c);
}

static int pg_schema_version(VpiStore *s)
{
    return with_conn(s, RUN_READ, body_schema_version, NULL);
}

typedef struct MigrateArgs {
    char *reason;
    size_t reason_size;
} MigrateArgs;

static int body_migrate(VpiStore *s, PgConn *c, void *arg)
{
    PgStore *p = s->priv;
    MigrateArgs *m = arg;
    char line[256];
    int ret, ver;

    if ((ret = exec_simple(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")")) < 0 ||
        (ver = ret = schema_version_on(c)) < 0)
        goto fail;
    /* A newer version is refused by vpi_store_open's check, untouched. */
    if ((ver == 0 && (ret = exec_simple(c, schema_v1)) < 0) ||
        (ver < 2 && (ret = exec_simple(c, schema_v2)) < 0))
        goto fail;
    return 0;
fail:
    snprintf(m->reason, m->reason_size, "%s: cannot create the schema (%s)", p->name,
             one_line(PQerrorMessage(c->pg), line, sizeof(line)));
    return ret;
}

static int pg_migrate(VpiStore *s, char *reason, size_t reason_size)
{
    MigrateArgs m = { reason, reason_size };
    PgStore *p = s->priv;
    int ret = with_conn(s, RUN_TX, body_migrate, &m);
    if (ret < 0 && !*reason)
        snprintf(reason, reason_size, "%s: cannot create the schema (%s)", p->name,
                 av_err2str(ret));
    return ret;
}

static void pg_close(VpiStore *s)
{
    PgStore *p = s->priv;
    for (int i = 0; i < POOL_SIZE; i++) {
        PQfinish(p->conns[i].pg);
        p->conns[i].pg = NULL;
    }
    PQfinish(p->listener);
    p->listener = NULL;
    if (p->sync_init) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->freed);
        pthread_mutex_destroy(&p->wlock);
        pthread_cond_destroy(&p->wcond);
        p->sync_init = 0;
    }
    free(p->conninfo);
    p->conninfo = NULL;
}

/* The database as reasons name it: user, host, port and name, never the password. */
static void name_of(PgStore *p, PGconn *pg)
{
    const char *host = pg ? PQhost(pg) : NULL, *db = pg ? PQdb(pg) : NULL;
    const char *user = pg ? PQuser(pg) : NULL, *port = pg ? PQport(pg) : NULL;
    if (!host || !db)
        snprintf(p->name, sizeof(p->name), "PostgreSQL");
    else if (*host == '/')      /* a unix socket's folder */
        snprintf(p->name, sizeof(p->name), "postgresql://%s@/%s?host=%s", user ? user : "",
                 db, host);
    else
        snprintf(p->name, sizeof(p->name), "postgresql://%s@%s:%s/%s", user ? user : "", host,
                 port ? port : "", db);
}

static int pg_open(VpiStore *s, const char *target, char *reason, size_t reason_size)
{
    PgStore *p = s->priv;
    PgConn *c;
    char line[256];
    int ret;

    if (pthread_mutex_init(&p->lock, NULL) || pthread_cond_init(&p->freed, NULL) ||
        pthread_mutex_init(&p->wlock, NULL) || pthread_cond_init(&p->wcond, NULL)) {
        snprintf(reason, reason_size, "%s: cannot create a mutex", target);
        return AVERROR(ENOMEM);
    }
    p->sync_init = 1;
    p->lock_timeout_ms = s->opts.busy_timeout_ms;
    if (!(p->conninfo = strdup(target))) {
        snprintf(reason, reason_size, "%s: out of memory", target);
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    /* The first connection, kept in the pool: a wrong address or database fails here. */
    c = &p->conns[0];
    ret = conn_open(p, c);
    name_of(p, c->pg);
    if (ret < 0) {
        snprintf(reason, reason_size, "%s: cannot connect (%s)", p->name,
                 c->pg ? one_line(PQerrorMessage(c->pg), line, sizeof(line)) : "out of memory");
        goto fail;
    }
    return 0;
fail:
    pg_close(s);
    return ret;
}

typedef struct JobArgs {
    int64_t video_id, job_id, lease_id, now, lease_ms, size;
    const char *text, *options, *worker, *filename;
    int progress, retryable, flag, n1, n2;
    VpiJob *job;
} JobArgs;

static int insert_job(VpiStore *s, PgConn *c, int64_t video_id, const char *options,
                      int64_t now, int64_t *job_id)
{
    Params a = { 0 }, b = { 0 };
    int ret = 0;
    p_int(&a, video_id);
    p_int(&a, s->opts.max_attempts);
    p_int(&a, now);
    p_int(&a, s->opts.time_limit_ms);
    p_text(&a, options);
    *job_id = run_id(c, Q_ADD_JOB, &a, &ret);
    if (ret < 0)
        return ret;
    p_int(&b, video_id);
    p_int(&b, *job_id);
    if (run_count(c, Q_SET_VIDEO_JOB, &b, &ret) < 0 ||
        run_count(c, Q_NOTIFY, NULL, &ret) < 0)
        return ret;
    return 0;
}

static int body_add_video(VpiStore *s, PgConn *c, void *arg)
{
    JobArgs *x = arg;
    Params a = { 0 };
    PGresult *r;
    int ret = 0;
    p_text(&a, x->filename);
    p_int(&a, x->size);
    p_int(&a, x->now);
    p_int(&a, s->opts.max_attempts);
    p_int(&a, s->opts.time_limit_ms);
    p_text(&a, x->options);
    if (!(r = run(c, Q_ADD_VIDEO_JOB, &a, &ret)))
        return ret;
    x->video_id = v_int(r, 0, 0);
    x->job_id = v_int(r, 0, 1);
    PQclear(r);
    return 0;
}

static int pg_add_video(VpiStore *s, const char *filename, int64_t size, const char *options,
                        int64_t now, int64_t *video_id, int64_t *job_id)
{
    JobArgs x = { .filename = filename, .size = size, .options = options, .now = now };
    int ret = with_conn(s, RUN_WRITE, body_add_video, &x);
    if (ret >= 0) {
        *video_id = x.video_id;
        *job_id = x.job_id;
    }
    return ret;
}

static int body_enqueue(VpiStore *s, PgConn *c, void *arg)
{
    JobArgs *x = arg;
    Params a = { 0 };
    PGresult *r;
    char *last = NULL;
    const char *options = x->options;
    int ret = 0, uploading;

    p_int(&a, x->video_id);
    if (!(r = run(c, Q_VIDEO_STATE, &a, &ret)))
        return ret;
    if (!PQntuples(r)) {
        PQclear(r);
        return AVERROR(ENOENT);
    }
    uploading = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (uploading)
        return AVERROR(EBUSY);
    if ((x->job_id = run_id(c, Q_ACTIVE_JOB, &a, &ret)) || ret < 0)
        return ret < 0 ? ret : 1;
    if (!options) {
        if (!(r = run(c, Q_LAST_OPTIONS, &a, &ret)))
            return ret;
        if (PQntuples(r))
            last = v_dup(r, 0, 0, &ret);
        PQclear(r);
        options = last;
    }
    if (ret >= 0)
        ret = insert_job(s, c, x->video_id, options, x->now, &x->job_id);
    free(last);
    return ret;
}

static int pg_enqueue(VpiStore *s, int64_t video_id, const char *options, int64_t now,
                      int64_t *job_id)
{
    JobArgs x = { .video_id = video_id, .options = options, .now = now };
    int ret = with_conn(s, RUN_TX, body_enqueue, &x);
    if (ret >= 0)
        *job_id = x.job_id;
    return ret;
}

static int row_to_job(const PGresult *r, int row, VpiJob *j)
{
    int ret = 0;
    memset(j, 0, sizeof(*j));
    j->id = v_int(r, row, 0);
    j->video_id = v_int(r, row, 1);
    j->status = vpi_job_status_of_name(PQgetvalue(r, row, 2));
    j->attempts = (int)v_int(r, row, 3);
    j->max_attempts = (int)v_int(r, row, 4);
    j->lease_id = v_int(r, row, 6);
    j->lease_until_ms = v_int(r, row, 7);
    j->progress = (int)v_int(r, row, 8);
    j->created_ms = v_int(r, row, 11);
    j->started_ms = v_int(r, row, 12);
    j->finished_ms = v_int(r, row, 13);
    j->not_before_ms = v_int(r, row, 14);
    j->time_limit_ms = v_int(r, row, 15);
    j->worker = v_dup(r, row, 5, &ret);
    j->error = v_dup(r, row, 9, &ret);
    j->result = v_dup(r, row, 10, &ret);
    j->options = v_dup(r, row, 16, &ret);
    if (ret < 0)
        vpi_job_clear(j);
    return ret;
}

/* One row into x->job: 1, or 0 when there is none. */
static int job_row_body(PgConn *c, int q, const Params *a, VpiJob *job, int none)
{
    PGresult *r;
    int ret = 0;
    if (!(r = run(c, q, a, &ret)))
        return ret;
    ret = PQntuples(r) ? row_to_job(r, 0, job) : none;
    if (ret == 0 && PQntuples(r))
        ret = 1;
    PQclear(r);
    return ret;
}

static int body_claim(VpiStore *s, PgConn *c, void *arg)
{
    JobArgs *x = arg;
    Params a = { 0 };
    (void)s;
    p_int(&a, x->now);
    p_text(&a, x->worker);
    p_int(&a, x->lease_ms);
    return job_row_body(c, Q_CLAIM, &a, x->job, 0);
}

static int pg_claim(VpiStore *s, const char *worker, int64_t now, int64_t lease_ms,
                    VpiJob *job)
{
    JobArgs x = { .worker = worker, .now = now, .lease_ms = lease_ms, .job = job };
    memset(job, 0, sizeof(*job));
    return with_conn(s, RUN_WRITE, body_claim, &x);
}

/* The fenced single-row updates: heartbeat, complete. */
static int body_fenced(VpiStore *s, PgConn *c, void *arg)
{
    JobArgs *x = arg;
    Params a = { 0 };
    int ret = 0;
    (void)s;
    p_int(&a, x->job_id);
    p_int(&a, x->lease_id);
    if (x->flag == Q_HEARTBEAT) {
        p_int(&a, x->progress);
        p_int(&a, x->now + x->lease_ms);
    } else {
        p_text(&a, x->text);
        p_int(&a, x->now);
    }
    int64_t n = run_count(c, x->flag, &a, &ret);
    return ret < 0 ? ret : n ? 0 : VPI_STORE_LOST_LEASE;
}

static int pg_heartbeat(VpiStore *s, int64_t job_id, int64_t lease_id, int progress,
                        int64_t now, int64_t lease_ms)
{
    JobArgs x = { .job_id = job_id, .lease_id = lease_id, .progress = progress, .now = now,
                  .lease_ms = lease_ms, .flag = Q_HEARTBEAT };
    return with_conn(s, RUN_WRITE, body_fenced, &x);
}

static int pg_complete(VpiStore *s, int64_t job_id, int64_t lease_id, const char *result,
                       int64_t now)
{
    JobArgs x = { .job_id = job_id, .lease_id = lease_id, .text = result, .now = now,
                  .flag = Q_COMPLETE };
    return with_conn(s, RUN_WRITE, body_fenced, &x);
}

static int body_fail(VpiStore *s, PgConn *c, void *arg)
{
    JobArgs *x = arg;
    Params a = { 0 }, b = { 0 };
    PGresult *r;
    int ret = 0, attempts, max_attempts, retry;

    p_int(&a, x->job_id);
    p_int(&a, x->lease_id);
    if (!(r = run(c, Q_FAIL_READ, &a, &ret)))
        return ret;
    if (!PQntuples(r)) {
        PQclear(r);
        return VPI_STORE_LOST_LEASE;
    }
    attempts = (int)v_int(r, 0, 0);
    max_attempts = (int)v_int(r, 0, 1);
    PQclear(r);
    retry = x->retryable && attempts < max_attempts;
    p_int(&b, x->job_id);
    p_text(&b, x->text);
    if (retry) {
        /* backoff_ms, 2x, 4x ... by attempt, capped; the doubling stops at the cap. */
        int64_t delay = s->opts.backoff_ms;
        for (int i = 1; i < attempts && delay < s->opts.backoff_max_ms; i++)
            delay *= 2;
        if (delay > s->opts.backoff_max_ms)
            delay = s->opts.backoff_max_ms;
        p_int(&b, x->now + delay);
    } else {
        p_int(&b, x->now);
    }
    if (run_count(c, retry ? Q_FAIL_RETRY : Q_FAIL_FINAL, &b, &ret) < 0 ||
        (retry && run_count(c, Q_NOTIFY, NULL, &ret) < 0))
        return ret;
    return retry;
}

static int pg_fail(VpiStore *s, int64_t job_id, int64_t lease_id, const char *error,
                   int retryable, int64_t now)
{
    JobArgs x = { .job_id = job_id, .lease_id = lease_id, .text = error,
                  .retryable = retryable, .now = now };
    return with_conn(s, RUN_TX, body_fail, &x);
}

static int body_reap(VpiStore *s, PgConn *c, void *arg)
{
    static const int steps[] = { Q_REAP_LIMIT, Q_REAP_EXHAUSTED, Q_REAP_REQUEUE };
    JobArgs *x = arg;
    Params a = { 0 };
    int64_t n[3];
    int ret = 0;
    (void)s;
    p_int(&a, x->now);
    /* In this order: a job over its time limit fails even when its lease also expired. */
    for (int i = 0; i < 3; i++)
        if ((n[i] = run_count(c, steps[i], &a, &ret)) < 0)
            return ret;
    x->n1 = (int)(n[0] + n[1]);
    x->n2 = (int)n[2];
    return 0;
}

static int pg_reap(VpiStore *s, int64_t now, int *requeued, int *failed)
{
    JobArgs x = { .now = now };
    int ret = with_conn(s, RUN_TX, body_reap, &x);
    if (ret >= 0) {
        *failed = x.n1;
        *requeued = x.n2;
    }
    return ret;
}

static int body_cancel(VpiStore *s, PgConn *c, void *arg)
{
    JobArgs *x = arg;
    Params a = { 0 }, b = { 0 };
    int ret = 0;
    int64_t n;
    (void)s;
    p_int(&a, x->job_id);
    p_int(&a, x->now);
    if ((n = run_count(c, Q_CANCEL, &a, &ret)) < 0)
        return ret;
    if (n)
        return 0;
    p_int(&b, x->job_id);
    n = run_id(c, Q_JOB_EXISTS, &b, &ret);
    return ret < 0 ? ret : n ? 1 : AVERROR(ENOENT);
}

static int pg_cancel(VpiStore *s, int64_t job_id, int64_t now)
{
    JobArgs x = { .job_id = job_id, .now = now };
    /* The update and the existence check see one snapshot. */
    return with_conn(s, RUN_TX, body_cancel, &x);
}

static int body_get_job(VpiStore *s, PgConn *c, void *arg)
{
    JobArgs *x = arg;
    Params a = { 0 };
    int ret;
    (void)s;
    p_int(&a, x->job_id);
    ret = job_row_body(c, Q_GET_JOB, &a, x->job, AVERROR(ENOENT));
    return ret < 0 ? ret : 0;
}

static int pg_get_job(VpiStore *s, int64_t job_id, VpiJob *job)
{
    JobArgs x = { .job_id = job_id, .job = job };
    memset(job, 0, sizeof(*job));
    return with_conn(s, RUN_READ, body_get_job, &x);
}

static int row_to_video(const PGresult *r, int row, VpiVideo *v)
{
    int ret = 0;
    memset(v, 0, sizeof(*v));
    v->id = v_int(r, row, 0);
    v->size = v_int(r, row, 2);
    v->created_ms = v_int(r, row, 3);
    v->job_id = v_int(r, row, 4);
    v->job_status = PQgetisnull(r, row, 4) ? VPI_STATUS_UPLOADING :
                    vpi_job_status_of_name(PQgetvalue(r, row, 5));
    if (!(v->filename = v_dup(r, row, 1, &ret)) && ret >= 0)
        ret = AVERROR(EIO);     /* NOT NULL in the schema */
    return ret;
}

typedef struct ListArgs {
    int64_t a, b;
    int status, limit, n;
    VpiVideo *out;
} ListArgs;

static int body_get_video(VpiStore *s, PgConn *c, void *arg)
{
    ListArgs *x = arg;
    Params a = { 0 };
    PGresult *r;
    int ret = 0;
    (void)s;
    p_int(&a, x->a);
    if (!(r = run(c, Q_GET_VIDEO, &a, &ret)))
        return ret;
    ret = PQntuples(r) ? row_to_video(r, 0, x->out) : AVERROR(ENOENT);
    PQclear(r);
    return ret;
}

static int pg_get_video(VpiStore *s, int64_t video_id, VpiVideo *video)
{
    ListArgs x = { .a = video_id, .out = video };
    int ret;
    memset(video, 0, sizeof(*video));
    if ((ret = with_conn(s, RUN_READ, body_get_video, &x)) < 0)
        vpi_video_clear(video);
    return ret;
}

static int body_list_videos(VpiStore *s, PgConn *c, void *arg)
{
    ListArgs *x = arg;
    Params a = { 0 };
    PGresult *r;
    int ret = 0;
    (void)s;
    for (int i = 0; i < x->n; i++)
        vpi_video_clear(&x->out[i]);
    x->n = 0;
    p_int(&a, x->a);
    p_int(&a, x->b);
    p_text(&a, x->status < 0 ? NULL : x->status == VPI_STATUS_UPLOADING ? "uploading" :
               vpi_job_status_name(x->status));
    p_int(&a, x->limit);
    if (!(r = run(c, Q_LIST_VIDEOS, &a, &ret)))
        return ret;
    for (int i = 0; i < PQntuples(r) && x->n < x->limit; i++) {
        if ((ret = row_to_video(r, i, &x->out[x->n])) < 0) {
            vpi_video_clear(&x->out[x->n]);
            break;
        }
        x->n++;
    }
    PQclear(r);
    return ret;
}

static int pg_list_videos(VpiStore *s, int status, int limit, int64_t after_created,
                          int64_t after_id, VpiVideo *out, int *n)
{
    ListArgs x = { .a = after_created, .b = after_id, .status = status, .limit = limit,
                   .out = out };
    int ret = with_conn(s, RUN_READ, body_list_videos, &x);
    *n = x.n;
    return ret;
}

static int delete_video_rows(PgConn *c, int64_t video_id, int *ret)
{
    Params a = { 0 };
    p_int(&a, video_id);
    if (run_count(c, Q_DELETE_UPLOADS, &a, ret) < 0 || run_count(c, Q_DELETE_JOBS, &a, ret) < 0)
        return *ret;
    return (int)run_count(c, Q_DELETE_VIDEO, &a, ret);
}

static int body_delete_video(VpiStore *s, PgConn *c, void *arg)
{
    JobArgs *x = arg;
    int ret = 0, n;
    (void)s;
    n = delete_video_rows(c, x->video_id, &ret);
    return ret < 0 ? ret : n ? 0 : AVERROR(ENOENT);
}

static int pg_delete_video(VpiStore *s, int64_t video_id)
{
    JobArgs x = { .video_id = video_id };
    return with_conn(s, RUN_TX, body_delete_video, &x);
}

typedef struct UploadArgs {
    const char *id;
    VpiUpload *u;
    const VpiPart *part;
    VpiPart *parts;
    int n;
    int64_t now, video_id, job_id, *ids;
} UploadArgs;

static int body_add_upload(VpiStore *s, PgConn *c, void *arg)
{
    UploadArgs *x = arg;
    VpiUpload *u = x->u;
    Params a = { 0 }, b = { 0 };
    int ret = 0;
    (void)s;
    p_text(&a, u->filename);
    p_int(&a, u->size);
    p_int(&a, u->created_ms);
    x->video_id = run_id(c, Q_ADD_VIDEO, &a, &ret);
    if (ret < 0)
        return ret;
    p_text(&b, u->id);
    p_int(&b, x->video_id);
    p_text(&b, u->filename);
    p_int(&b, u->size);
    p_int(&b, u->part_size);
    p_int(&b, u->parts_count);
    p_text(&b, u->sha256);
    p_text(&b, u->options);
    p_int(&b, u->created_ms);
    p_int(&b, u->expires_ms);
    /* EEXIST from the unique violation: the id's primary key (video_id is always new). */
    run_count(c, Q_ADD_UPLOAD, &b, &ret);
    return ret < 0 ? ret : 0;
}

static int pg_add_upload(VpiStore *s, VpiUpload *u)
{
    UploadArgs x = { .u = u };
    int ret = with_conn(s, RUN_TX, body_add_upload, &x);
    if (ret >= 0)
        u->video_id = x.video_id;
    return ret;
}

static int body_get_upload(VpiStore *s, PgConn *c, void *arg)
{
    UploadArgs *x = arg;
    VpiUpload *u = x->u;
    Params a = { 0 };
    PGresult *r;
    int ret = 0;
    (void)s;
    vpi_upload_clear(u);
    p_text(&a, x->id);
    if (!(r = run(c, Q_GET_UPLOAD, &a, &ret)))
        return ret;
    if (!PQntuples(r)) {
        PQclear(r);
        return AVERROR(ENOENT);
    }
    snprintf(u->id, sizeof(u->id), "%s", PQgetvalue(r, 0, 0));
    u->video_id = v_int(r, 0, 1);
    u->size = v_int(r, 0, 3);
    u->part_size = v_int(r, 0, 4);
    u->parts_count = (int)v_int(r, 0, 5);
    snprintf(u->sha256, sizeof(u->sha256), "%s", PQgetvalue(r, 0, 6));
    u->created_ms = v_int(r, 0, 8);
    u->expires_ms = v_int(r, 0, 9);
    u->complete = !strcmp(PQgetvalue(r, 0, 10), "complete");
    u->job_id = v_int(r, 0, 11);
    u->filename = v_dup(r, 0, 2, &ret);
    u->options = v_dup(r, 0, 7, &ret);
    PQclear(r);
    return ret;
}

static int pg_get_upload(VpiStore *s, const char *id, VpiUpload *u)
{
    UploadArgs x = { .id = id, .u = u };
    int ret = with_conn(s, RUN_READ, body_get_upload, &x);
    if (ret < 0)
        vpi_upload_clear(u);
    return ret;
}

static int body_put_part(VpiStore *s, PgConn *c, void *arg)
{
    UploadArgs *x = arg;
    Params a = { 0 }, b = { 0 };
    PGresult *r;
    int ret = 0, complete;
    (void)s;
    p_text(&a, x->id);
    if (!(r = run(c, Q_UPLOAD_STATE, &a, &ret)))
        return ret;
    if (!PQntuples(r)) {
        PQclear(r);
        return AVERROR(ENOENT);
    }
    complete = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (complete)
        return AVERROR(EEXIST);
    p_text(&b, x->id);
    p_int(&b, x->part->number);
    p_int(&b, x->part->size);
    p_text(&b, x->part->etag);
    run_count(c, Q_PUT_PART, &b, &ret);
    return ret < 0 ? ret : 0;
}

static int pg_put_part(VpiStore *s, const char *id, const VpiPart *part)
{
    UploadArgs x = { .id = id, .part = part };
    return with_conn(s, RUN_TX, body_put_part, &x);
}

static int body_list_parts(VpiStore *s, PgConn *c, void *arg)
{
    UploadArgs *x = arg;
    Params a = { 0 };
    PGresult *r;
    int ret = 0, rows;
    (void)s;
    free(x->parts);
    x->parts = NULL;
    x->n = 0;
    p_text(&a, x->id);
    if (!(r = run(c, Q_LIST_PARTS, &a, &ret)))
        return ret;
    if ((rows = PQntuples(r)) && !(x->parts = calloc(rows, sizeof(*x->parts)))) {
        PQclear(r);
        return AVERROR(ENOMEM);
    }
    for (int i = 0; i < rows; i++) {
        VpiPart *pt = &x->parts[i];
        pt->number = (int)v_int(r, i, 0);
        pt->size = v_int(r, i, 1);
        snprintf(pt->etag, sizeof(pt->etag), "%s", PQgetvalue(r, i, 2));
    }
    x->n = rows;
    PQclear(r);
    return 0;
}

static int pg_list_parts(VpiStore *s, const char *id, VpiPart **parts, int *n)
{
    UploadArgs x = { .id = id };
    int ret = with_conn(s, RUN_READ, body_list_parts, &x);
    if (ret < 0) {
        free(x.parts);
        return ret;
    }
    *parts = x.parts;
    *n = x.n;
    return 0;
}

static int body_complete_upload(VpiStore *s, PgConn *c, void *arg)
{
    UploadArgs *x = arg;
    Params a = { 0 }, b = { 0 };
    PGresult *r;
    char *options;
    int ret = 0, complete;

    p_text(&a, x->id);
    /* Locked first: a second completion waits for this one and then reads it complete. */
    if (run_count(c, Q_UPLOAD_LOCK, &a, &ret) < 0 || !(r = run(c, Q_GET_UPLOAD, &a, &ret)))
        return ret;
    if (!PQntuples(r)) {
        PQclear(r);
        return AVERROR(ENOENT);
    }
    x->video_id = v_int(r, 0, 1);
    complete = !strcmp(PQgetvalue(r, 0, 10), "complete");
    x->job_id = v_int(r, 0, 11);
    options = v_dup(r, 0, 7, &ret);
    PQclear(r);
    if (ret < 0 || complete) {
        free(options);
        return ret < 0 ? ret : 1;
    }
    ret = insert_job(s, c, x->video_id, options, x->now, &x->job_id);
    free(options);
    if (ret < 0)
        return ret;
    p_text(&b, x->id);
    p_int(&b, x->job_id);
    run_count(c, Q_UPLOAD_DONE, &b, &ret);
    return ret < 0 ? ret : 0;
}

static int pg_complete_upload(VpiStore *s, const char *id, int64_t now, int64_t *video_id,
                              int64_t *job_id)
{
    UploadArgs x = { .id = id, .now = now };
    int ret = with_conn(s, RUN_TX, body_complete_upload, &x);
    if (ret >= 0) {
        *video_id = x.video_id;
        *job_id = x.job_id;
    }
    return ret;
}

static int body_expire_uploads(VpiStore *s, PgConn *c, void *arg)
{
    UploadArgs *x = arg;
    Params a = { 0 };
    PGresult *r;
    int ret = 0, rows;
    (void)s;
    free(x->ids);
    x->ids = NULL;
    x->n = 0;
    p_int(&a, x->now);
    if (!(r = run(c, Q_EXPIRED, &a, &ret)))
        return ret;
    if ((rows = PQntuples(r)) && !(x->ids = calloc(rows, sizeof(*x->ids)))) {
        PQclear(r);
        return AVERROR(ENOMEM);
    }
    for (int i = 0; i < rows; i++)
        x->ids[i] = v_int(r, i, 1);
    PQclear(r);
    /* The uploads go first (they name their videos), then the videos; parts cascade. */
    for (int i = 0; i < rows; i++)
        if (delete_video_rows(c, x->ids[i], &ret) < 0)
            return ret;
    x->n = rows;
    return 0;
}

static int pg_expire_uploads(VpiStore *s, int64_t now, int64_t **video_ids, int *n)
{
    UploadArgs x = { .now = now };
    int ret = with_conn(s, RUN_TX, body_expire_uploads, &x);
    if (ret < 0) {
        free(x.ids);
        return ret;
    }
    *video_ids = x.ids;
    *n = x.n;
    return 0;
}

typedef struct CountArgs {
    int64_t now;
    VpiStoreCounts *c;
} CountArgs;

static int body_counts(VpiStore *s, PgConn *c, void *arg)
{
    CountArgs *x = arg;
    Params a = { 0 };
    PGresult *r;
    int ret = 0;
    (void)s;
    p_int(&a, x->now);
    if (!(r = run(c, Q_COUNTS, &a, &ret)))
        return ret;
    for (int i = 0; i < VPI_JOB_NB_STATUS; i++)
        x->c->jobs[i] = v_int(r, 0, i);
    x->c->queue_depth = v_int(r, 0, 5);
    x->c->videos = v_int(r, 0, 6);
    x->c->uploads_open = v_int(r, 0, 7);
    PQclear(r);
    return 0;
}

static int pg_counts(VpiStore *s, int64_t now, VpiStoreCounts *c)
{
    CountArgs x = { now, c };
    return with_conn(s, RUN_READ, body_counts, &x);
}

typedef struct ResultArgs {
    int64_t video_id, job_id;
    char *result;
} ResultArgs;

static int body_last_result(VpiStore *s, PgConn *c, void *arg)
{
    ResultArgs *x = arg;
    Params a = { 0 };
    PGresult *r;
    int ret = 0;
    (void)s;
    free(x->result);
    x->result = NULL;
    p_int(&a, x->video_id);
    if (!(r = run(c, Q_LAST_RESULT, &a, &ret)))
        return ret;
    if (PQntuples(r) && !PQgetisnull(r, 0, 0)) {
        x->job_id = v_int(r, 0, 1);
        x->result = v_dup(r, 0, 0, &ret);
    } else {
        ret = AVERROR(ENOENT);
    }
    PQclear(r);
    return ret;
}

static int pg_last_result(VpiStore *s, int64_t video_id, char **result, int64_t *job_id)
{
    ResultArgs x = { .video_id = video_id };
    int ret = with_conn(s, RUN_READ, body_last_result, &x);
    if (ret < 0) {
        free(x.result);
        return ret;
    }
    *result = x.result;
    *job_id = x.job_id;
    return 0;
}

static int body_release(VpiStore *s, PgConn *c, void *arg)
{
    JobArgs *x = arg;
    Params a = { 0 };
    int ret = 0;
    int64_t n;
    (void)s;
    p_int(&a, x->job_id);
    p_int(&a, x->lease_id);
    p_int(&a, x->now);
    n = run_count(c, Q_RELEASE, &a, &ret);
    return ret < 0 ? ret : n ? 0 : VPI_STORE_LOST_LEASE;
}

static int pg_release(VpiStore *s, int64_t job_id, int64_t lease_id, int64_t now)
{
    JobArgs x = { .job_id = job_id, .lease_id = lease_id, .now = now };
    return with_conn(s, RUN_WRITE, body_release, &x);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The LISTEN connection, (re)made when missing or broken; 0 or a negative error. The caller
 * is the polling thread (p->polling). */
static int listener_ready(PgStore *p)
{
    PGresult *r;
    int ok;
    if (p->listener && PQstatus(p->listener) == CONNECTION_OK)
        return 0;
    PQfinish(p->listener);
    if (!(p->listener = connect_to(p)) || PQstatus(p->listener) != CONNECTION_OK)
        return AVERROR(EIO);
    r = PQexec(p->listener, "LISTEN " NOTIFY_CHANNEL);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok ? 0 : AVERROR(EIO);
}

/* Poll the listener until a notification or @p deadline (monotonic ms); @return the number
 * of notifications received, or a negative error (the connection is gone). */
static int listener_poll(PgStore *p, int64_t deadline)
{
    int got = 0;
    for (;;) {
        PGnotify *n;
        if (!PQconsumeInput(p->listener))
            return AVERROR(EIO);
        while ((n = PQnotifies(p->listener))) {
            got++;
            PQfreemem(n);
        }
        int64_t left = deadline - mono_ms();
        if (got || left <= 0)
            return got;
        struct pollfd pfd = { .fd = PQsocket(p->listener), .events = POLLIN };
        if (pfd.fd < 0)
            return AVERROR(EIO);
        if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
            return AVERROR(EIO);
    }
}

static void sleep_until(int64_t deadline)
{
    int64_t left = deadline - mono_ms();
    if (left > 0) {
        struct timespec ts = { left / 1000, (left % 1000) * 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void timespec_at(struct timespec *ts, int64_t deadline_mono)
{
    /* pthread_cond_timedwait measures CLOCK_REALTIME by default. */
    int64_t left = deadline_mono - mono_ms();
    clock_gettime(CLOCK_REALTIME, ts);
    if (left < 0)
        left = 0;
    ts->tv_sec += left / 1000;
    ts->tv_nsec += (left % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* One thread polls the LISTEN connection, the others wait for it on wcond: a notification
 * wakes them all (each then tries to claim), a timeout each its own. */
static int pg_wait(VpiStore *s, int timeout_ms)
{
    PgStore *p = s->priv;
    int64_t deadline = mono_ms() + timeout_ms;
    int woken = 0;

    pthread_mutex_lock(&p->wlock);
    uint64_t seen = p->notified;
    while (p->notified == seen && mono_ms() < deadline) {
        if (p->polling) {
            struct timespec ts;
            timespec_at(&ts, deadline);
            pthread_cond_timedwait(&p->wcond, &p->wlock, &ts);
            continue;
        }
        p->polling = 1;
        pthread_mutex_unlock(&p->wlock);
        int got = listener_ready(p);
        if (got >= 0)
            got = listener_poll(p, deadline);
        if (got < 0) {
            /* The server went away: try again in half a second, until the deadline. What
             * was sent meanwhile is lost; the caller's next poll finds it. */
            PQfinish(p->listener);
            p->listener = NULL;
            int64_t retry = mono_ms() + 500;
            sleep_until(retry < deadline ? retry : deadline);
            got = 0;
        }
        pthread_mutex_lock(&p->wlock);
        p->polling = 0;
        if (got > 0)
            p->notified++;
        pthread_cond_broadcast(&p->wcond);
    }
    woken = p->notified != seen;
    pthread_mutex_unlock(&p->wlock);
    return woken;
}

const VpiStoreClass vpi_store_pg = {
    .name = "postgresql",
    .alias = "postgres",
    .uri = 1,
    .priv_size = sizeof(PgStore),
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .add_video = pg_add_video,
    .enqueue = pg_enqueue,
    .claim = pg_claim,
    .heartbeat = pg_heartbeat,
    .complete = pg_complete,
    .fail = pg_fail,
    .reap = pg_reap,
    .cancel = pg_cancel,
    .get_job = pg_get_job,
    .get_video = pg_get_video,
    .list_videos = pg_list_videos,
    .delete_video = pg_delete_video,
    .add_upload = pg_add_upload,
    .get_upload = pg_get_upload,
    .put_part = pg_put_part,
    .list_parts = pg_list_parts,
    .complete_upload = pg_complete_upload,
    .expire_uploads = pg_expire_uploads,
    .counts = pg_counts,
    .last_result = pg_last_result,
    .release = pg_release,
    .wait = pg_wait,
};
