/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store's registry and the calls every back end shares (spec parsing, the schema check at
 * open, the list cursor). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/mem.h>

#include "service/store.h"

/* Registered as the pipeline's sink classes are; the first is the default for a bare path. */
static const VpiStoreClass *const store_classes[] = {
    &vpi_store_sqlite,
    &vpi_store_pg,
    NULL
};

static const char *const status_names[VPI_JOB_NB_STATUS] = {
    "pending", "running", "completed", "failed", "cancelled"
};

const char *vpi_job_status_name(int status)
{
    return status >= 0 && status < VPI_JOB_NB_STATUS ? status_names[status] : NULL;
}

int vpi_job_status_of_name(const char *name)
{
    for (int i = 0; name && i < VPI_JOB_NB_STATUS; i++)
        if (!strcmp(status_names[i], name))
            return i;
    return -1;
}

void vpi_job_clear(VpiJob *j)
{
    free(j->worker);
    free(j->error);
    free(j->result);
    free(j->options);
    memset(j, 0, sizeof(*j));
}

void vpi_upload_clear(VpiUpload *u)
{
    free(u->filename);
    free(u->options);
    memset(u, 0, sizeof(*u));
}

void vpi_video_clear(VpiVideo *v)
{
    free(v->filename);
    memset(v, 0, sizeof(*v));
}

void vpi_videos_free(VpiVideo **v, int n)
{
    if (!*v)
        return;
    for (int i = 0; i < n; i++)
        vpi_video_clear(&(*v)[i]);
    free(*v);
    *v = NULL;
}

void vpi_store_default_opts(VpiStoreOpts *o)
{
    memset(o, 0, sizeof(*o));
    o->busy_timeout_ms = 5000;
    o->max_attempts = 3;
    o->time_limit_ms = 3600 * 1000;
    o->backoff_ms = 2000;
    o->backoff_max_ms = 300 * 1000;
}

static int prefix_len(const char *spec, const char *name)
{
    size_t len = name ? strlen(name) : 0;
    return len && !strncmp(spec, name, len) && spec[len] == ':' ? (int)len : 0;
}

/* @p spec as reasons show it: a URI's password ("user:secret@host") replaced by "***". */
static const char *shown_spec(const char *spec, char *buf, size_t size)
{
    const char *auth = strstr(spec, "://"), *at, *colon;
    if (!auth)
        return spec;
    auth += 3;
    at = auth + strcspn(auth, "@/?");
    colon = memchr(auth, ':', at - auth);
    if (*at != '@' || !colon)
        return spec;
    snprintf(buf, size, "%.*s***%s", (int)(colon + 1 - spec), spec, at);
    return buf;
}

int vpi_store_open(const char *spec, const VpiStoreOpts *opts, VpiStore **out, char *reason,
                   size_t reason_size)
{
    const VpiStoreClass *cls = store_classes[0];
    const char *target = spec;
    VpiStore *s = NULL;
    char shown_buf[512];
    int ret, ver;

    *out = NULL;
    for (int i = 0; store_classes[i]; i++) {
        int len = prefix_len(spec, store_classes[i]->name);
        if (!len)
            len = prefix_len(spec, store_classes[i]->alias);
        if (len) {
            cls = store_classes[i];
            /* "postgresql://host/db" names its scheme itself: libpq parses it whole. */
            target = cls->uri && !strncmp(spec + len + 1, "//", 2) ? spec : spec + len + 1;
        }
    }
    spec = shown_spec(spec, shown_buf, sizeof(shown_buf));
    /* The bounds keep every sum of a time and a duration far from overflowing. */
    if (!*target || opts->max_attempts < 1 || opts->max_attempts > 100 ||
        opts->time_limit_ms <= 0 || opts->time_limit_ms > VPI_STORE_MAX_DURATION_MS ||
        opts->backoff_ms < 0 || opts->backoff_max_ms < opts->backoff_ms ||
        opts->backoff_max_ms > VPI_STORE_MAX_DURATION_MS || opts->busy_timeout_ms < 0 ||
        opts->migrate < VPI_STORE_MIGRATE_NEVER || opts->migrate > VPI_STORE_MIGRATE_EMPTY) {
        snprintf(reason, reason_size, "%s: %s", spec,
                 !*target ? "no database named" : "invalid store options");
        return AVERROR(EINVAL);
    }
    if (!(s = calloc(1, sizeof(*s))) || !(s->priv = calloc(1, cls->priv_size))) {
        free(s);
        snprintf(reason, reason_size, "%s: out of memory", spec);
        return AVERROR(ENOMEM);
    }
    s->cls = cls;
    s->opts = *opts;
    if ((ret = cls->open(s, target, reason, reason_size)) < 0) {
        free(s->priv);
        free(s);
        return ret;
    }
    /* Read first: a refused database is left untouched, and the caller learns from which
     * version a migration started. Two processes migrating at once are serialised by the
     * back end's migrate() (a lock, then the version read again). */
    if ((ver = cls->schema_version(s)) < 0)
        goto bad_version;
    s->found_version = ver;
    if (ver < VPI_STORE_SCHEMA && (opts->migrate == VPI_STORE_MIGRATE ||
                                   (opts->migrate == VPI_STORE_MIGRATE_EMPTY && !ver))) {
        if ((ret = cls->migrate(s, reason, reason_size)) < 0)
            goto fail;
        if ((ver = cls->schema_version(s)) < 0)
            goto bad_version;
    }
    if (ver != VPI_STORE_SCHEMA) {
        ret = AVERROR(EPROTO);
        if (ver > VPI_STORE_SCHEMA)
            snprintf(reason, reason_size, "%s: schema version %d is newer than this vidpipe's "
                     "%d (written by a later vidpipe; refusing to touch it)", spec, ver,
                     VPI_STORE_SCHEMA);
        else if (!ver)
            snprintf(reason, reason_size, "%s: no job store schema (not migrated; create it "
                     "with --migrate)", spec);
        else
            snprintf(reason, reason_size, "%s: schema version %d is older than this vidpipe's "
                     "%d (not migrated; upgrade it with --migrate)", spec, ver,
                     VPI_STORE_SCHEMA);
        goto fail;
    }
    *out = s;
    return 0;
bad_version:
    ret = ver;
    snprintf(reason, reason_size, "%s: cannot read the schema version (%s)", spec,
             av_err2str(ret));
fail:
    cls->close(s);
    free(s->priv);
    free(s);
    return ret;
}

void vpi_store_close(VpiStore **ps)
{
    VpiStore *s = *ps;
    if (!s)
        return;
    s->cls->close(s);
    free(s->priv);
    free(s);
    *ps = NULL;
}

int vpi_store_schema_version(VpiStore *s)
{
    return s->cls->schema_version(s);
}

int vpi_store_add_video(VpiStore *s, const char *filename, int64_t size, const char *options,
                        int64_t now_ms, int64_t *video_id, int64_t *job_id)
{
    return s->cls->add_video(s, filename, size, options, now_ms, video_id, job_id);
}

int vpi_store_enqueue(VpiStore *s, int64_t video_id, const char *options, int64_t now_ms,
                      int64_t *job_id)
{
    return s->cls->enqueue(s, video_id, options, now_ms, job_id);
}

int vpi_store_claim(VpiStore *s, const char *worker, int64_t now_ms, int64_t lease_ms,
                    VpiJob *job)
{
    if (lease_ms <= 0 || lease_ms > VPI_STORE_MAX_DURATION_MS)
        return AVERROR(EINVAL);
    return s->cls->claim(s, worker, now_ms, lease_ms, job);
}

int vpi_store_heartbeat(VpiStore *s, int64_t job_id, int64_t lease_id, int progress,
                        int64_t now_ms, int64_t lease_ms)
{
    if (progress < 0 || progress > 100 || lease_ms <= 0 || lease_ms > VPI_STORE_MAX_DURATION_MS)
        return AVERROR(EINVAL);
    return s->cls->heartbeat(s, job_id, lease_id, progress, now_ms, lease_ms);
}

int vpi_store_complete(VpiStore *s, int64_t job_id, int64_t lease_id, const char *result,
                       int64_t now_ms)
{
    return s->cls->complete(s, job_id, lease_id, result, now_ms);
}

int vpi_store_fail(VpiStore *s, int64_t job_id, int64_t lease_id, const char *error,
                   int retryable, int64_t now_ms)
{
    return s->cls->fail(s, job_id, lease_id, error, retryable, now_ms);
}

int vpi_store_reap(VpiStore *s, int64_t now_ms, int *requeued, int *failed)
{
    int r = 0, f = 0, ret = s->cls->reap(s, now_ms, &r, &f);
    if (requeued)
        *requeued = r;
    if (failed)
        *failed = f;
    return ret;
}

int vpi_store_cancel(VpiStore *s, int64_t job_id, int64_t now_ms)
{
    return s->cls->cancel(s, job_id, now_ms);
}

int vpi_store_get_job(VpiStore *s, int64_t job_id, VpiJob *job)
{
    return s->cls->get_job(s, job_id, job);
}

int vpi_store_get_video(VpiStore *s, int64_t video_id, VpiVideo *video)
{
    return s->cls->get_video(s, video_id, video);
}

/* The cursor is "CREATED.ID" in lower-case hex: opaque to clients, checked strictly here
 * (no sign, space, "0x" or upper case, each part 1-16 digits). */
int vpi_store_cursor_parse(const char *c, int64_t *created, int64_t *id)
{
    static const char hex[] = "0123456789abcdef";
    size_t a_len, b_len;
    unsigned long long a, b;
    if (!c || !*c) {
        *created = INT64_MIN;
        *id = INT64_MIN;
        return 0;
    }
    a_len = strspn(c, hex);
    if (a_len < 1 || a_len > 16 || c[a_len] != '.')
        return AVERROR(EINVAL);
    b_len = strspn(c + a_len + 1, hex);
    if (b_len < 1 || b_len > 16 || c[a_len + 1 + b_len])
        return AVERROR(EINVAL);
    a = strtoull(c, NULL, 16);
    b = strtoull(c + a_len + 1, NULL, 16);
    if (a > INT64_MAX || b > INT64_MAX)
        return AVERROR(EINVAL);
    *created = (int64_t)a;
    *id = (int64_t)b;
    return 0;
}

int vpi_store_list_videos(VpiStore *s, int status, int limit, const char *cursor,
                          VpiVideo **out, int *n, char *next_cursor, size_t next_size)
{
    int64_t created, id;
    VpiVideo *v;
    int ret;

    *out = NULL;
    *n = 0;
    if (next_size)
        *next_cursor = 0;
    if (limit < 1 || limit > 1000 || status < -1 || status > VPI_STATUS_UPLOADING ||
        next_size < 34)
        return AVERROR(EINVAL);
    if ((ret = vpi_store_cursor_parse(cursor, &created, &id)) < 0)
        return ret;
    /* One more than asked tells whether a next page exists without a second query. */
    if (!(v = calloc(limit + 1, sizeof(*v))))
        return AVERROR(ENOMEM);
    if ((ret = s->cls->list_videos(s, status, limit + 1, created, id, v, n)) < 0) {
        vpi_videos_free(&v, *n);
        *n = 0;
        return ret;
    }
    if (*n > limit) {
        vpi_video_clear(&v[limit]);
        *n = limit;
        snprintf(next_cursor, next_size, "%" PRIx64 ".%" PRIx64,
                 (uint64_t)v[limit - 1].created_ms, (uint64_t)v[limit - 1].id);
    }
    *out = v;
    return 0;
}

int vpi_store_delete_video(VpiStore *s, int64_t video_id)
{
    return s->cls->delete_video(s, video_id);
}

static int upload_id_ok(const char *id)
{
    return id && strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32;
}

int vpi_store_add_upload(VpiStore *s, VpiUpload *u)
{
    if (!upload_id_ok(u->id) || u->size <= 0 || u->part_size <= 0 || u->parts_count < 1)
        return AVERROR(EINVAL);
    return s->cls->add_upload(s, u);
}

int vpi_store_get_upload(VpiStore *s, const char *id, VpiUpload *u)
{
    memset(u, 0, sizeof(*u));
    if (!upload_id_ok(id))
        return AVERROR(ENOENT);
    return s->cls->get_upload(s, id, u);
}

int vpi_store_put_part(VpiStore *s, const char *id, const VpiPart *part)
{
    if (!upload_id_ok(id))
        return AVERROR(ENOENT);
    return s->cls->put_part(s, id, part);
}

int vpi_store_list_parts(VpiStore *s, const char *id, VpiPart **parts, int *n)
{
    *parts = NULL;
    *n = 0;
    if (!upload_id_ok(id))
        return AVERROR(ENOENT);
    return s->cls->list_parts(s, id, parts, n);
}

int vpi_store_complete_upload(VpiStore *s, const char *id, int64_t now_ms, int64_t *video_id,
                              int64_t *job_id)
{
    if (!upload_id_ok(id))
        return AVERROR(ENOENT);
    return s->cls->complete_upload(s, id, now_ms, video_id, job_id);
}

int vpi_store_expire_uploads(VpiStore *s, int64_t now_ms, int64_t **video_ids, int *n)
{
    *video_ids = NULL;
    *n = 0;
    return s->cls->expire_uploads(s, now_ms, video_ids, n);
}

int vpi_store_counts(VpiStore *s, int64_t now_ms, VpiStoreCounts *c)
{
    memset(c, 0, sizeof(*c));
    return s->cls->counts(s, now_ms, c);
}

int vpi_store_last_result(VpiStore *s, int64_t video_id, char **result, int64_t *job_id)
{
    *result = NULL;
    *job_id = 0;
    return s->cls->last_result(s, video_id, result, job_id);
}

int vpi_store_release(VpiStore *s, int64_t job_id, int64_t lease_id, int64_t now_ms)
{
    return s->cls->release(s, job_id, lease_id, now_ms);
}

int vpi_store_wait(VpiStore *s, int timeout_ms)
{
    if (timeout_ms < 0 || timeout_ms > 60000)
        return AVERROR(EINVAL);
    if (s->cls->wait)
        return s->cls->wait(s, timeout_ms);
    struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return 0;
}
