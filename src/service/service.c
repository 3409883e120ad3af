/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job service's public calls (vidpipe/service.h): opening the store and the storage,
 * uploads (resumable in parts, or whole), the JSON of jobs and videos, media, metrics.
 * The worker threads and the supervisor are in worker.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/md5.h>
#include <libavutil/mem.h>

#include "vidpipe/options.h"
#include "vidpipe/proxy.h"
#include "service/svc.h"
#include "util/internal.h"

const double vp_service_duration_bounds[VP_SERVICE_DURATION_BUCKETS] = {
    1, 2, 5, 10, 30, 60, 120, 300, 600, 1800
};

void vp_service_default_opts(VpServiceOpts *o)
{
    memset(o, 0, sizeof(*o));
    o->workers = -1;
    o->lease_ms = 60000;
    o->time_limit_ms = 3600 * 1000;
    o->max_attempts = 3;
    o->max_upload = INT64_C(20) << 30;
    o->part_size = 8 << 20;
    o->upload_ttl_ms = INT64_C(24) * 3600 * 1000;
    o->migrate = VP_SERVICE_MIGRATE_EMPTY;
}

int vp_service_http_status(int err)
{
    if (err >= 0)
        return 200;
    switch (err) {
    case AVERROR(EINVAL):
    case VP_ERR_BAD_OPTION: return 400;
    case AVERROR(EACCES):   return 403;
    case AVERROR(ENOENT):   return 404;
    case AVERROR(EEXIST):
    case AVERROR(EBUSY):    return 409;
    case AVERROR(EFBIG):    return 413;
    case AVERROR(ERANGE):   return 416;
    case AVERROR(EBADMSG):  return 422;
    case AVERROR(ENOSYS):   return 501;
    case AVERROR(ESHUTDOWN): return 503;
    case AVERROR(ENOSPC):   return 507;
    default:                return 500;
    }
}

int64_t svc_now_ms(const VpService *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + s->opts.now_offset_ms;
}

void svc_log(const VpService *s, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (!s->opts.logger.fn || level > s->opts.logger.level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->opts.logger.fn(s->opts.logger.opaque, level, line);
}

static int failf(VpFailure *f, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(VpFailure *f, int code, const char *fmt, ...)
{
    if (f) {
        va_list ap;
        memset(f, 0, sizeof(*f));
        f->code = code;
        f->input = -1;
        va_start(ap, fmt);
        vsnprintf(f->message, sizeof(f->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

static void ok(VpFailure *f)
{
    if (f) {
        memset(f, 0, sizeof(*f));
        f->input = -1;
    }
}

/* The store's errors as a request sees them. */
static int store_fail(VpFailure *f, int ret, const char *what)
{
    if (ret == AVERROR(EBUSY))
        return failf(f, AVERROR(EIO), "%s: the database is busy (lock wait timed out)", what);
    return failf(f, ret, "%s: %s", what, av_err2str(ret));
}

/* ---- options ---------------------------------------------------------------------------- */

/* The proxy settings a client may override per job; the paths and the pipeline are the
 * service's own. */
static const char *const overridable[] = {
    "height", "fps", "crf", "x264_preset", "audio_bitrate", "thumb_at", "thumb_width", NULL
};

int svc_apply_options(char *copy, VpProxyOpts *o, char *err, size_t err_size)
{
    const VpOptionTable *t = vp_option_table("proxy");
    char *save = NULL;
    int ret = 0;
    for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        int allowed = 0;
        if (!eq || eq == kv) {
            snprintf(err, err_size, "option \"%s\" is not NAME=VALUE", kv);
            return VP_ERR_BAD_OPTION;
        }
        *eq = 0;
        for (int i = 0; overridable[i]; i++)
            allowed |= !strcmp(overridable[i], kv);
        if (!allowed) {
            snprintf(err, err_size, "option %s cannot be set per video (these can: height, "
                     "fps, crf, x264_preset, audio_bitrate, thumb_at, thumb_width)", kv);
            return VP_ERR_BAD_OPTION;
        }
        if ((ret = vp_option_set(t, o, kv, eq + 1, err, err_size)) < 0)
            return VP_ERR_BAD_OPTION;
    }
    if ((ret = vp_option_check(t, o, err, err_size)) < 0)
        return VP_ERR_BAD_OPTION;
    return 0;
}

static int check_options(const char *options, VpFailure *f)
{
    VpProxyOpts o;
    char err[512], *copy;
    int ret;
    if (!options || !*options)
        return 0;
    if (strlen(options) > 1024)
        return failf(f, AVERROR(EINVAL), "options: longer than 1024 bytes");
    if (!(copy = strdup(options)))
        return failf(f, AVERROR(ENOMEM), "out of memory");
    vp_proxy_default_opts(&o);
    ret = svc_apply_options(copy, &o, err, sizeof(err));
    free(copy);
    return ret < 0 ? failf(f, ret, "options: %s", err) : 0;
}

static int check_filename(const char *name, VpFailure *f)
{
    size_t n = name ? strlen(name) : 0;
    if (!n)
        return failf(f, AVERROR(EINVAL), "filename: missing or empty");
    if (n > 255)
        return failf(f, AVERROR(EINVAL), "filename: longer than 255 bytes");
    if (strchr(name, '/') || strchr(name, '\\'))
        return failf(f, AVERROR(EINVAL), "filename \"%s\": must be a name, not a path", name);
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return failf(f, AVERROR(EINVAL), "filename \"%s\": not a file name", name);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return failf(f, AVERROR(EINVAL), "filename: contains a control character");
    return 0;
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (!strchr("0123456789abcdefABCDEF", hex[2 * i]) || !hex[2 * i] ||
            !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]) || !hex[2 * i + 1] ||
            sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* ---- open / close ----------------------------------------------------------------------- */

/* The store's spec: opts->db, or DATA's SQLite database. */
static void store_spec(const VpServiceOpts *opts, char *spec, size_t size)
{
    if (opts->db && *opts->db)
        snprintf(spec, size, "%s", opts->db);
    else
        snprintf(spec, size, "sqlite:%s/vidpipe.db", opts->data_dir);
}

int vp_service_open(const VpServiceOpts *opts, VpService **out, VpFailure *f)
{
    VpService *s;
    VpiStoreOpts so;
    char spec[PATH_MAX + 16], reason[1024], key[2 * PATH_MAX + 40];
    int ret, has_data = opts && opts->data_dir && *opts->data_dir;

    *out = NULL;
    ok(f);
    if (!opts || (!has_data && !(opts->db && *opts->db && opts->storage && *opts->storage)))
        return failf(f, AVERROR(EINVAL), "the service needs a data folder, or both a database "
                     "and a storage");
    if (opts->lease_ms < 1000 || opts->lease_ms > VPI_STORE_MAX_DURATION_MS)
        return failf(f, AVERROR(EINVAL), "lease: %" PRId64 " ms is out of range 1 s..30 days",
                     opts->lease_ms);
    if (opts->time_limit_ms < 1000 || opts->time_limit_ms > VPI_STORE_MAX_DURATION_MS)
        return failf(f, AVERROR(EINVAL), "time limit: out of range 1 s..30 days");
    if (opts->max_attempts < 1 || opts->max_attempts > 100)
        return failf(f, AVERROR(EINVAL), "max attempts: %d is out of range 1..100",
                     opts->max_attempts);
    if (opts->max_upload < 1 || opts->part_size < (1 << 20) || opts->part_size > (1 << 30))
        return failf(f, AVERROR(EINVAL), "max upload or part size out of range");
    if (opts->workers < -1 || opts->workers > 256)
        return failf(f, AVERROR(EINVAL), "workers: %d is out of range 0..256", opts->workers);
    if (opts->upload_ttl_ms < 1000)
        return failf(f, AVERROR(EINVAL), "upload expiry: shorter than a second");
    if (opts->migrate < VP_SERVICE_MIGRATE_NEVER || opts->migrate > VP_SERVICE_MIGRATE_EMPTY)
        return failf(f, AVERROR(EINVAL), "migrate: %d is not a VpServiceMigrate", opts->migrate);

    if (!(s = calloc(1, sizeof(*s))))
        return failf(f, AVERROR(ENOMEM), "out of memory");
    s->opts = *opts;
    s->scratch_lock = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    const char *tmp = opts->tmp_dir ? opts->tmp_dir : getenv("TMPDIR");
    s->data_dir = has_data ? strdup(opts->data_dir) : NULL;
    s->tmp_dir = strdup(tmp && *tmp ? tmp : "/tmp");
    if ((has_data && !s->data_dir) || !s->tmp_dir) {
        ret = failf(f, AVERROR(ENOMEM), "out of memory");
        goto fail;
    }
    s->opts.data_dir = s->data_dir;
    s->opts.tmp_dir = s->tmp_dir;
    s->opts.db = s->opts.storage = NULL;
    if (gethostname(s->host, sizeof(s->host) - 1) < 0)
        snprintf(s->host, sizeof(s->host), "localhost");
    if (has_data && (ret = vpi_mkdir_p(s->data_dir)) < 0) {
        ret = failf(f, ret, "%s: cannot create the data folder (%s)", s->data_dir,
                    av_err2str(ret));
        goto fail;
    }

    vpi_store_default_opts(&so);
    so.migrate = opts->migrate;
    so.max_attempts = opts->max_attempts;
    so.time_limit_ms = opts->time_limit_ms;
    store_spec(opts, spec, sizeof(spec));
    if ((ret = vpi_store_open(spec, &so, &s->store, reason, sizeof(reason))) < 0) {
        ret = failf(f, ret, "%s", reason);
        goto fail;
    }
    if (opts->storage && *opts->storage)
        snprintf(spec, sizeof(spec), "%s", opts->storage);
    else
        snprintf(spec, sizeof(spec), "file:%s", s->data_dir);
    if ((ret = vpi_storage_open(spec, &s->storage, reason, sizeof(reason))) < 0) {
        ret = failf(f, ret, "%s", reason);
        goto fail;
    }
    /* The scratch slot's name: the data folder, else what the process serves (so a worker
     * restarted on the same database and storage finds what its predecessor left). */
    if (has_data) {
        char real[PATH_MAX];
        snprintf(key, sizeof(key), "%s", realpath(s->data_dir, real) ? real : s->data_dir);
    } else {
        snprintf(key, sizeof(key), "%s\n%s", opts->db, opts->storage);
    }
    if ((ret = svc_scratch_open(s, key, reason, sizeof(reason))) < 0) {
        ret = failf(f, ret, "%s", reason);
        goto fail;
    }
    if (vpi_storage_staging_dir(s->storage))
        ret = snprintf(s->staging, sizeof(s->staging), "%s", vpi_storage_staging_dir(s->storage));
    else
        ret = snprintf(s->staging, sizeof(s->staging), "%s/staging",
                       has_data ? s->data_dir : s->scratch);
    ret = ret >= (int)sizeof(s->staging) ? AVERROR(ENAMETOOLONG) : vpi_mkdir_p(s->staging);
    if (ret < 0) {
        ret = failf(f, ret, "%s: cannot create the folder (%s)", s->staging, av_err2str(ret));
        goto fail;
    }
    if ((ret = svc_workers_start(s, reason, sizeof(reason))) < 0) {
        ret = failf(f, ret, "%s", reason);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    vp_service_close(&s);
    return ret;
}

int vp_service_migrate(const VpServiceOpts *opts, int *from_version, int *to_version,
                       VpFailure *f)
{
    VpiStoreOpts so;
    VpiStore *store = NULL;
    char spec[PATH_MAX + 16], reason[1024];
    int ret;

    *from_version = *to_version = 0;
    ok(f);
    if (!opts || (!(opts->data_dir && *opts->data_dir) && !(opts->db && *opts->db)))
        return failf(f, AVERROR(EINVAL), "migrate: the service needs a data folder or a "
                     "database");
    if (!(opts->db && *opts->db) && (ret = vpi_mkdir_p(opts->data_dir)) < 0)
        return failf(f, ret, "%s: cannot create the data folder (%s)", opts->data_dir,
                     av_err2str(ret));
    vpi_store_default_opts(&so);
    so.migrate = VPI_STORE_MIGRATE;
    store_spec(opts, spec, sizeof(spec));
    if ((ret = vpi_store_open(spec, &so, &store, reason, sizeof(reason))) < 0)
        return failf(f, ret, "%s", reason);
    *from_version = store->found_version;
    *to_version = vpi_store_schema_version(store);
    vpi_store_close(&store);
    return 0;
}

void vp_service_close(VpService **ps)
{
    VpService *s = *ps;
    if (!s)
        return;
    vp_service_drain(s, 0);
    svc_workers_join(s);
    vpi_storage_close(&s->storage);
    vpi_store_close(&s->store);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->data_dir);
    free(s->tmp_dir);
    free(s);
    *ps = NULL;
}

static int draining(VpService *s)
{
    pthread_mutex_lock(&s->lock);
    int d = s->draining;
    pthread_mutex_unlock(&s->lock);
    return d;
}

static void wake_workers(VpService *s)
{
    pthread_mutex_lock(&s->lock);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *time_json(int64_t ms)
{
    char buf[80];
    struct tm tm;
    time_t t;
    if (ms <= 0)
        return json_null();
    t = (time_t)(ms / 1000);
    gmtime_r(&t, &tm);
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Hand @p j over as text (consumes it). */
static int emit(json_t *j, char **out, VpFailure *f)
{
    /* 10 significant digits: 0.18, not the double's 0.17999999999999999 */
    *out = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(j);
    if (!*out)
        return failf(f, AVERROR(ENOMEM), "out of memory");
    return 0;
}

static json_t *job_object(VpService *s, const VpiJob *j)
{
    json_t *o = json_object(), *result = NULL;
    if (!o)
        return NULL;
    if (j->result)
        result = json_loads(j->result, 0, NULL);
    json_object_set_new(o, "job_id", json_integer(j->id));
    json_object_set_new(o, "video_id", json_integer(j->video_id));
    json_object_set_new(o, "status", json_string(vpi_job_status_name(j->status)));
    json_object_set_new(o, "progress", json_integer(j->status == VPI_JOB_RUNNING ?
                        svc_workers_progress(s, j->id, j->progress) : j->progress));
    json_object_set_new(o, "attempts", json_integer(j->attempts));
    json_object_set_new(o, "max_attempts", json_integer(j->max_attempts));
    json_object_set_new(o, "worker", str_or_null(j->worker));
    json_object_set_new(o, "options", str_or_null(j->options));
    json_object_set_new(o, "created_at", time_json(j->created_ms));
    json_object_set_new(o, "started_at", time_json(j->started_ms));
    json_object_set_new(o, "finished_at", time_json(j->finished_ms));
    json_object_set_new(o, "duration_seconds",
                        j->finished_ms && j->started_ms && j->finished_ms >= j->started_ms ?
                        json_real((j->finished_ms - j->started_ms) / 1000.0) : json_null());
    json_object_set_new(o, "error", str_or_null(j->error));
    json_object_set_new(o, "result", result ? result : json_null());
    return o;
}

int vp_service_job_json(VpService *s, int64_t job_id, char **json, VpFailure *f)
{
    VpiJob j;
    int ret;
    *json = NULL;
    ok(f);
    if ((ret = vpi_store_get_job(s->store, job_id, &j)) < 0)
        return ret == AVERROR(ENOENT) ?
               failf(f, ret, "job %" PRId64 ": no such job", job_id) :
               store_fail(f, ret, "job");
    ret = emit(job_object(s, &j), json, f);
    vpi_job_clear(&j);
    return ret;
}

static json_t *video_object(VpService *s, const VpiVideo *v, int *err)
{
    json_t *o = json_object(), *media, *meta = NULL;
    VpiJob j = { 0 };
    char *result = NULL;
    int64_t rjob = 0;
    int ret, uploading = v->job_status == VPI_STATUS_UPLOADING;

    if (!o)
        return NULL;
    if (!uploading && v->job_id && (ret = vpi_store_get_job(s->store, v->job_id, &j)) < 0 &&
        ret != AVERROR(ENOENT))
        *err = ret;
    if (!uploading && vpi_store_last_result(s->store, v->id, &result, &rjob) >= 0) {
        json_t *r = json_loads(result, 0, NULL);
        if (r)
            meta = json_incref(json_object_get(r, "metadata"));
        json_decref(r);
    }
    json_object_set_new(o, "video_id", json_integer(v->id));
    json_object_set_new(o, "filename", json_string(v->filename));
    json_object_set_new(o, "size", json_integer(v->size));
    json_object_set_new(o, "created_at", time_json(v->created_ms));
    json_object_set_new(o, "status", json_string(uploading ? "uploading" :
                                                 vpi_job_status_name(v->job_status) ?
                                                 vpi_job_status_name(v->job_status) : "unknown"));
    json_object_set_new(o, "job_id", v->job_id ? json_integer(v->job_id) : json_null());
    json_object_set_new(o, "progress", json_integer(j.status == VPI_JOB_RUNNING ?
                        svc_workers_progress(s, j.id, j.progress) : j.progress));
    json_object_set_new(o, "attempts", json_integer(j.attempts));
    json_object_set_new(o, "error", str_or_null(j.error));
    json_object_set_new(o, "updated_at", time_json(j.finished_ms ? j.finished_ms :
                                                   j.started_ms ? j.started_ms :
                                                   v->created_ms));
    media = json_object();
    json_object_set_new(media, "original", json_boolean(!uploading));
    json_object_set_new(media, "proxy", json_boolean(result != NULL));
    json_object_set_new(media, "thumbnail", json_boolean(meta &&
                        json_is_object(json_object_get(meta, "thumbnail"))));
    json_object_set_new(o, "media", media);
    json_object_set_new(o, "metadata", meta ? meta : json_null());
    free(result);
    vpi_job_clear(&j);
    return o;
}

int vp_service_video_json(VpService *s, int64_t video_id, char **json, VpFailure *f)
{
    VpiVideo v;
    int ret, err = 0;
    *json = NULL;
    ok(f);
    if ((ret = vpi_store_get_video(s->store, video_id, &v)) < 0)
        return ret == AVERROR(ENOENT) ?
               failf(f, ret, "video %" PRId64 ": no such video", video_id) :
               store_fail(f, ret, "video");
    json_t *o = video_object(s, &v, &err);
    vpi_video_clear(&v);
    if (err < 0) {
        json_decref(o);
        return store_fail(f, err, "video");
    }
    return emit(o, json, f);
}

int vp_service_videos_json(VpService *s, const char *status, int limit, const char *cursor,
                           char **json, VpFailure *f)
{
    VpiVideo *v = NULL;
    char next[64];
    int n = 0, st = -1, ret, err = 0;
    json_t *o, *arr;

    *json = NULL;
    ok(f);
    if (status && *status) {
        st = !strcmp(status, "uploading") ? VPI_STATUS_UPLOADING :
             vpi_job_status_of_name(status);
        if (st < 0)
            return failf(f, AVERROR(EINVAL), "status \"%.40s\": not one of uploading, pending, "
                         "running, completed, failed, cancelled", status);
    }
    if (limit == 0)
        limit = 100;
    if (limit < 1 || limit > 1000)
        return failf(f, AVERROR(EINVAL), "limit %d: out of range 1..1000", limit);
    ret = vpi_store_list_videos(s->store, st, limit, cursor, &v, &n, next, sizeof(next));
    if (ret == AVERROR(EINVAL))
        return failf(f, ret, "cursor \"%.40s\": not a cursor this server gave", cursor);
    if (ret < 0)
        return store_fail(f, ret, "videos");
    o = json_object();
    arr = json_array();
    for (int i = 0; i < n && !err; i++)
        json_array_append_new(arr, video_object(s, &v[i], &err));
    json_object_set_new(o, "videos", arr);
    json_object_set_new(o, "next_cursor", *next ? json_string(next) : json_null());
    vpi_videos_free(&v, n);
    if (err < 0) {
        json_decref(o);
        return store_fail(f, err, "videos");
    }
    return emit(o, json, f);
}

/* ---- uploads ---------------------------------------------------------------------------- */

static json_t *upload_object(const VpiUpload *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "upload_id", json_string(u->id));
    json_object_set_new(o, "video_id", json_integer(u->video_id));
    json_object_set_new(o, "filename", json_string(u->filename));
    json_object_set_new(o, "size", json_integer(u->size));
    json_object_set_new(o, "part_size", json_integer(u->part_size));
    json_object_set_new(o, "parts_count", json_integer(u->parts_count));
    json_object_set_new(o, "expires_at", time_json(u->expires_ms));
    return o;
}

static int new_upload(VpService *s, const VpUploadSpec *spec, VpiUpload *u, VpFailure *f)
{
    uint8_t rnd[16];
    int ret;

    memset(u, 0, sizeof(*u));
    if ((ret = check_filename(spec->filename, f)) < 0)
        return ret;
    if (spec->size <= 0)
        return failf(f, AVERROR(EINVAL), "size: must be a positive number of bytes");
    if (spec->size > s->opts.max_upload)
        return failf(f, AVERROR(EFBIG), "size: %" PRId64 " bytes is over this server's limit "
                     "of %" PRId64, spec->size, s->opts.max_upload);
    int64_t min_part = vpi_storage_min_part_size(s->storage);
    if (spec->part_size && (spec->part_size < min_part || spec->part_size > (1 << 30)))
        return failf(f, AVERROR(EINVAL), "part_size: %" PRId64 " is out of range %" PRId64
                     " MiB..1 GiB (%s)", spec->part_size, min_part >> 20,
                     min_part > (1 << 20) ? "this storage's smallest part but the last" :
                     "the server's limits");
    uint8_t sha[32];
    if (spec->sha256 && hex_to_bytes(spec->sha256, sha, 32) < 0)
        return failf(f, AVERROR(EINVAL), "sha256: not 64 hexadecimal digits");
    if ((ret = check_options(spec->options, f)) < 0)
        return ret;
    if (draining(s))
        return failf(f, AVERROR(ESHUTDOWN), "the server is shutting down");
    u->size = spec->size;
    u->part_size = spec->part_size ? spec->part_size : FFMAX(s->opts.part_size, min_part);
    int64_t parts = (u->size + u->part_size - 1) / u->part_size;
    if (parts > 10000)
        return failf(f, AVERROR(EINVAL), "part_size: %" PRId64 " bytes makes %" PRId64
                     " parts, more than 10000", u->part_size, parts);
    u->parts_count = (int)parts;
    if (spec->sha256)
        for (int i = 0; i < 64; i++)
            u->sha256[i] = (char)(spec->sha256[i] | 0x20);    /* lower case */
    u->filename = (char *)spec->filename;
    u->options = (char *)(spec->options && *spec->options ? spec->options : NULL);
    u->created_ms = svc_now_ms(s);
    u->expires_ms = u->created_ms + s->opts.upload_ttl_ms;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return failf(f, AVERROR(EIO), "no random numbers for an upload id");
        for (int i = 0; i < 16; i++)
            snprintf(u->id + 2 * i, 3, "%02x", rnd[i]);
        if ((ret = vpi_store_add_upload(s->store, u)) != AVERROR(EEXIST))
            break;
    }
    if (ret < 0)
        return store_fail(f, ret, "upload");
    return 0;
}

static int get_upload(VpService *s, const char *id, VpiUpload *u, VpFailure *f);

/* Add "parts": [{"part_number", "url"}] and "urls_expire_at" to @p o: where the client
 * PUTs each part of @p u straight to the storage, valid until the upload expires (S3
 * presigns for up to 7 days). */
static int add_part_urls(VpService *s, const VpiUpload *u, json_t *o, VpFailure *f)
{
    char name[32];
    int64_t now = svc_now_ms(s);
    int64_t secs = (u->expires_ms - now) / 1000;
    char **urls = calloc(u->parts_count, sizeof(*urls));
    json_t *arr = NULL;
    int ret;

    if (!urls)
        return failf(f, AVERROR(ENOMEM), "out of memory");
    secs = FFMIN(FFMAX(secs, 1), 604800);
    snprintf(name, sizeof(name), SVC_UPLOAD_NAME, u->video_id);
    if ((ret = vpi_storage_presign_put_parts(s->storage, name, 1, u->parts_count, (int)secs,
                                             urls)) < 0) {
        free(urls);
        return failf(f, ret, "upload %s: no part URLs from the storage (%s)", u->id,
                     av_err2str(ret));
    }
    arr = json_array();
    for (int i = 0; i < u->parts_count; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "part_number", json_integer(i + 1));
        json_object_set_new(p, "url", json_string(urls[i]));
        json_array_append_new(arr, p);
        av_free(urls[i]);
    }
    free(urls);
    json_object_set_new(o, "parts", arr);
    json_object_set_new(o, "urls_expire_at", time_json(now + secs * 1000));
    return 0;
}

int vp_service_upload_create(VpService *s, const VpUploadSpec *spec, char **json,
                             VpFailure *f)
{
    VpiUpload u;
    int ret;
    *json = NULL;
    ok(f);
    if ((ret = new_upload(s, spec, &u, f)) < 0)
        return ret;
    svc_log(s, VP_LOG_INFO, "upload %s: video %" PRId64 " \"%s\", %" PRId64 " bytes in %d "
            "parts", u.id, u.video_id, u.filename, u.size, u.parts_count);
    json_t *o = upload_object(&u);
    /* The upload exists either way: a client without URLs can send its parts through the
     * API, or ask for URLs again (vp_service_upload_urls). */
    if (vpi_storage_takes_direct_parts(s->storage) && add_part_urls(s, &u, o, f) < 0)
        svc_log(s, VP_LOG_WARNING, "%s", f ? f->message : "upload: no part URLs");
    ok(f);
    return emit(o, json, f);
}

int vp_service_upload_urls(VpService *s, const char *upload_id, char **json, VpFailure *f)
{
    VpiUpload u;
    int ret;
    *json = NULL;
    ok(f);
    if (!vpi_storage_takes_direct_parts(s->storage))
        return failf(f, AVERROR(ENOSYS), "upload %.40s: this storage takes parts only through "
                     "the API (PUT /api/v1/uploads/{id}/parts/{n})", upload_id);
    if ((ret = get_upload(s, upload_id, &u, f)) < 0)
        return ret;
    if (u.complete) {
        ret = failf(f, AVERROR(EEXIST), "upload %s: already complete", u.id);
    } else {
        json_t *o = upload_object(&u);
        json_object_set_new(o, "status", json_string("open"));
        if ((ret = add_part_urls(s, &u, o, f)) < 0)
            json_decref(o);
        else
            ret = emit(o, json, f);
    }
    vpi_upload_clear(&u);
    return ret;
}

static int get_upload(VpService *s, const char *id, VpiUpload *u, VpFailure *f)
{
    int ret = vpi_store_get_upload(s->store, id, u);
    if (ret == AVERROR(ENOENT))
        return failf(f, ret, "upload %.40s: no such upload (or it expired)", id);
    if (ret < 0)
        return store_fail(f, ret, "upload");
    return 0;
}

int vp_service_upload_get(VpService *s, const char *upload_id, char **json, VpFailure *f)
{
    VpiUpload u;
    VpiPart *parts = NULL;
    int n = 0, ret;
    *json = NULL;
    ok(f);
    if ((ret = get_upload(s, upload_id, &u, f)) < 0)
        return ret;
    if ((ret = vpi_store_list_parts(s->store, upload_id, &parts, &n)) < 0) {
        vpi_upload_clear(&u);
        return store_fail(f, ret, "upload");
    }
    json_t *o = upload_object(&u), *arr = json_array();
    json_object_set_new(o, "status", json_string(u.complete ? "complete" : "open"));
    json_object_set_new(o, "job_id", u.complete ? json_integer(u.job_id) : json_null());
    for (int i = 0; i < n; i++) {
        json_t *p = json_object();
        char etag[48];
        snprintf(etag, sizeof(etag), "\"%s\"", parts[i].etag);
        json_object_set_new(p, "part_number", json_integer(parts[i].number));
        json_object_set_new(p, "size", json_integer(parts[i].size));
        json_object_set_new(p, "etag", json_string(etag));
        json_array_append_new(arr, p);
    }
    json_object_set_new(o, "parts", arr);
    free(parts);
    vpi_upload_clear(&u);
    return emit(o, json, f);
}

static json_t *ids_object(int64_t video_id, int64_t job_id)
{
    json_t *o = json_object();
    json_object_set_new(o, "video_id", json_integer(video_id));
    json_object_set_new(o, "job_id", json_integer(job_id));
    return o;
}

/* Assemble the parts of @p u as its original and queue the job. @p sha: 32 bytes. */
static int finish_upload(VpService *s, const VpiUpload *u, const uint8_t *sha,
                         int64_t *video_id, int64_t *job_id, VpFailure *f)
{
    char key[64], name[32], reason[512] = "";
    int ret;
    snprintf(key, sizeof(key), SVC_KEY_ORIGINAL, u->video_id);
    snprintf(name, sizeof(name), SVC_UPLOAD_NAME, u->video_id);
    ret = vpi_storage_compose(s->storage, name, u->parts_count, key, u->size, sha, reason,
                              sizeof(reason));
    if (ret < 0)
        return failf(f, ret, "upload %s: %s", u->id, *reason ? reason : av_err2str(ret));
    if ((ret = vpi_store_complete_upload(s->store, u->id, svc_now_ms(s), video_id, job_id)) < 0)
        return store_fail(f, ret, "upload");
    if (ret == 0) {
        vpi_storage_remove_parts(s->storage, name);
        svc_log(s, VP_LOG_INFO, "upload %s complete: video %" PRId64 ", job %" PRId64 " queued",
                u->id, *video_id, *job_id);
        wake_workers(s);
    }
    return 0;
}

static const char *unquote(const char *etag, char *buf, size_t size)
{
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        snprintf(buf, size, "%.*s", (int)(n - 2), etag + 1);
        return buf;
    }
    return etag;
}

int vp_service_upload_complete(VpService *s, const char *upload_id, const VpPartRef *refs,
                               int nb_refs, const char *sha256, char **json, VpFailure *f)
{
    VpiUpload u;
    VpiPart *parts = NULL;
    uint8_t sha[32];
    int n = 0, ret;
    int64_t vid, jid;

    *json = NULL;
    ok(f);
    if ((ret = get_upload(s, upload_id, &u, f)) < 0)
        return ret;
    if (u.complete) {
        ret = emit(ids_object(u.video_id, u.job_id), json, f);
        vpi_upload_clear(&u);
        return ret;
    }
    if (draining(s)) {
        ret = failf(f, AVERROR(ESHUTDOWN), "the server is shutting down");
        goto end;
    }
    if (sha256 && *sha256 && hex_to_bytes(sha256, sha, 32) < 0) {
        ret = failf(f, AVERROR(EINVAL), "sha256: not 64 hexadecimal digits");
        goto end;
    }
    if (!(sha256 && *sha256) && (!*u.sha256 || hex_to_bytes(u.sha256, sha, 32) < 0)) {
        ret = failf(f, AVERROR(EINVAL), "upload %s: sha256 is required (at create or at "
                    "complete)", u.id);
        goto end;
    }
    if (sha256 && *sha256 && *u.sha256 && strcasecmp(sha256, u.sha256)) {
        ret = failf(f, AVERROR(EBADMSG), "upload %s: sha256 differs from the one given at "
                    "create", u.id);
        goto end;
    }
    if ((ret = vpi_store_list_parts(s->store, u.id, &parts, &n)) < 0) {
        ret = store_fail(f, ret, "upload");
        goto end;
    }
    if (nb_refs != u.parts_count) {
        ret = failf(f, AVERROR(EINVAL), "upload %s: %d parts listed, the upload has %d",
                    u.id, nb_refs, u.parts_count);
        goto end;
    }
    int direct = vpi_storage_takes_direct_parts(s->storage), recorded = 0;
    for (int i = 0; i < nb_refs; i++) {
        char buf[64];
        if (refs[i].part_number != i + 1) {
            ret = failf(f, AVERROR(EINVAL), "upload %s: part %d listed where part %d belongs "
                        "(list parts 1..%d in order)", u.id, refs[i].part_number, i + 1,
                        u.parts_count);
            goto end;
        }
        if (!refs[i].etag || !*refs[i].etag) {
            ret = failf(f, AVERROR(EINVAL), "upload %s: part %d: no etag", u.id, i + 1);
            goto end;
        }
        int found = -1;
        for (int k = 0; k < n; k++)
            if (parts[k].number == i + 1)
                found = k;
        const char *etag = unquote(refs[i].etag, buf, sizeof(buf));
        if (found >= 0 && !strcmp(etag, parts[found].etag))
            continue;
        if (direct) {
            /* A part the client PUT to its URL (or sent again there after the API had
             * it): the storage knows its ETag, we do not; compose checks it. */
            char name[32];
            snprintf(name, sizeof(name), SVC_UPLOAD_NAME, u.video_id);
            ret = vpi_storage_record_part(s->storage, name, i + 1, refs[i].etag);
            if (ret == AVERROR(EINVAL)) {
                ret = failf(f, AVERROR(EBADMSG), "upload %s: part %d: etag %.40s is not one "
                            "the storage gives", u.id, i + 1, refs[i].etag);
                goto end;
            }
            if (ret < 0) {
                ret = failf(f, ret, "upload %s: part %d: cannot record its etag (%s)", u.id,
                            i + 1, av_err2str(ret));
                goto end;
            }
            recorded++;
            continue;
        }
        if (found < 0) {
            ret = failf(f, AVERROR(EINVAL), "upload %s: part %d was not received", u.id, i + 1);
            goto end;
        }
        ret = failf(f, AVERROR(EBADMSG), "upload %s: part %d: etag %.40s is not the "
                    "stored part's \"%s\"", u.id, i + 1, refs[i].etag, parts[found].etag);
        goto end;
    }
    if ((ret = finish_upload(s, &u, sha, &vid, &jid, f)) < 0) {
        /* S3 refuses a part list naming ETags it does not have (400 InvalidPart): the
         * client's etags were wrong, as a mismatch through the API is */
        if (recorded && ret == AVERROR(EINVAL) && f)
            f->code = ret = AVERROR(EBADMSG);
        goto end;
    }
    ret = emit(ids_object(vid, jid), json, f);
end:
    free(parts);
    vpi_upload_clear(&u);
    return ret;
}

/* ---- bodies ----------------------------------------------------------------------------- */

struct VpServiceBody {
    VpService *s;
    char path[PATH_MAX + 64];
    int fd;
    int64_t size, limit;        /* limit: the part's exact size, or max_upload */
    int part;                   /* 0: a whole video */
    VpiUpload upload;
    struct AVMD5 *md5;
};

static int body_begin(VpService *s, VpServiceBody **out, VpFailure *f)
{
    VpServiceBody *b = calloc(1, sizeof(*b));
    uint8_t rnd[8];
    if (!b)
        return failf(f, AVERROR(ENOMEM), "out of memory");
    b->s = s;
    b->fd = -1;
    if (!(b->md5 = av_md5_alloc())) {
        free(b);
        return failf(f, AVERROR(ENOMEM), "out of memory");
    }
    av_md5_init(b->md5);
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    snprintf(b->path, sizeof(b->path), "%s/body-%ld-%02x%02x%02x%02x%02x%02x%02x%02x",
             s->staging, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
             rnd[6], rnd[7]);
    if ((b->fd = open(b->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0) {
        int ret = AVERROR(errno);
        av_free(b->md5);
        free(b);
        return failf(f, ret, "cannot store the body (%s)", av_err2str(ret));
    }
    *out = b;
    return 0;
}

int vp_service_part_begin(VpService *s, const char *upload_id, int part_number, int64_t length,
                          VpServiceBody **out, VpFailure *f)
{
    VpiUpload u;
    int64_t expect;
    int ret;

    *out = NULL;
    ok(f);
    if ((ret = get_upload(s, upload_id, &u, f)) < 0)
        return ret;
    if (u.complete) {
        ret = failf(f, AVERROR(EEXIST), "upload %s: already complete", u.id);
        goto fail;
    }
    if (part_number < 1 || part_number > u.parts_count) {
        ret = failf(f, AVERROR(EINVAL), "upload %s: part %d is out of range 1..%d", u.id,
                    part_number, u.parts_count);
        goto fail;
    }
    expect = part_number < u.parts_count ? u.part_size :
             u.size - (int64_t)(u.parts_count - 1) * u.part_size;
    if (length >= 0 && length != expect) {
        ret = failf(f, AVERROR(EINVAL), "upload %s: part %d must be %" PRId64 " bytes, not %"
                    PRId64, u.id, part_number, expect, length);
        goto fail;
    }
    if ((ret = body_begin(s, out, f)) < 0)
        goto fail;
    (*out)->part = part_number;
    (*out)->limit = expect;
    (*out)->upload = u;
    return 0;
fail:
    vpi_upload_clear(&u);
    return ret;
}

int vp_service_video_begin(VpService *s, const char *filename, const char *options,
                           int64_t length, VpServiceBody **out, VpFailure *f)
{
    int ret;
    *out = NULL;
    ok(f);
    if ((ret = check_filename(filename, f)) < 0 || (ret = check_options(options, f)) < 0)
        return ret;
    if (length == 0)
        return failf(f, AVERROR(EINVAL), "the body is empty: send the video as the body");
    if (length > s->opts.max_upload)
        return failf(f, AVERROR(EFBIG), "%" PRId64 " bytes is over this server's limit of %"
                     PRId64, length, s->opts.max_upload);
    if (draining(s))
        return failf(f, AVERROR(ESHUTDOWN), "the server is shutting down");
    if ((ret = body_begin(s, out, f)) < 0)
        return ret;
    (*out)->limit = s->opts.max_upload;
    if (!((*out)->upload.filename = strdup(filename)) ||
        (options && *options && !((*out)->upload.options = strdup(options)))) {
        vp_service_body_abort(out);
        return failf(f, AVERROR(ENOMEM), "out of memory");
    }
    return 0;
}

int vp_service_body_write(VpServiceBody *b, const void *data, size_t size, VpFailure *f)
{
    const uint8_t *p = data;
    ok(f);
    if ((int64_t)size > b->limit - b->size) {
        if (b->part)
            return failf(f, AVERROR(EINVAL), "upload %s: part %d is longer than its %" PRId64
                         " bytes", b->upload.id, b->part, b->limit);
        return failf(f, AVERROR(EFBIG), "the body is over this server's limit of %" PRId64
                     " bytes", b->limit);
    }
    av_md5_update(b->md5, p, size);
    while (size) {
        ssize_t n = write(b->fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int ret = AVERROR(errno);
            return failf(f, ret, "cannot store the body (%s)", av_err2str(ret));
        }
        p += n;
        size -= n;
        b->size += n;
    }
    return 0;
}

static void body_free(VpServiceBody **pb)
{
    VpServiceBody *b = *pb;
    if (b->fd >= 0)
        close(b->fd);
    if (*b->path)
        unlink(b->path);
    if (b->part)
        vpi_upload_clear(&b->upload);
    else {
        free(b->upload.filename);
        free(b->upload.options);
    }
    av_free(b->md5);
    free(b);
    *pb = NULL;
}

void vp_service_body_abort(VpServiceBody **pb)
{
    if (*pb)
        body_free(pb);
}

int vp_service_body_finish(VpServiceBody **pb, char **json, VpFailure *f)
{
    VpServiceBody *b = *pb;
    VpService *s = b->s;
    uint8_t digest[16];
    int ret;

    *json = NULL;
    ok(f);
    if (close(b->fd) < 0) {
        b->fd = -1;
        ret = failf(f, AVERROR(errno), "cannot store the body (%s)", av_err2str(AVERROR(errno)));
        goto end;
    }
    b->fd = -1;
    av_md5_final(b->md5, digest);
    if (b->part) {
        VpiPart part = { .number = b->part, .size = b->size };
        char name[32];
        if (b->size != b->limit) {
            ret = failf(f, AVERROR(EINVAL), "upload %s: part %d must be %" PRId64 " bytes, "
                        "the body had %" PRId64, b->upload.id, b->part, b->limit, b->size);
            goto end;
        }
        for (int i = 0; i < 16; i++)
            snprintf(part.etag + 2 * i, 3, "%02x", digest[i]);
        /* Bytes first, then the row: a part listed is a part stored. */
        snprintf(name, sizeof(name), SVC_UPLOAD_NAME, b->upload.video_id);
        if ((ret = vpi_storage_put_part(s->storage, name, b->part, b->path)) < 0) {
            ret = failf(f, ret, "upload %s: cannot store part %d (%s)", b->upload.id, b->part,
                        av_err2str(ret));
            goto end;
        }
        *b->path = 0;
        if ((ret = vpi_store_put_part(s->store, b->upload.id, &part)) < 0) {
            ret = ret == AVERROR(EEXIST) ?
                  failf(f, ret, "upload %s: already complete", b->upload.id) :
                  ret == AVERROR(ENOENT) ?
                  failf(f, ret, "upload %s: no such upload (or it expired)", b->upload.id) :
                  store_fail(f, ret, "upload");
            goto end;
        }
        pthread_mutex_lock(&s->lock);
        s->upload_bytes += b->size;
        pthread_mutex_unlock(&s->lock);
        json_t *o = json_object();
        char etag[48];
        snprintf(etag, sizeof(etag), "\"%s\"", part.etag);
        json_object_set_new(o, "part_number", json_integer(part.number));
        json_object_set_new(o, "size", json_integer(part.size));
        json_object_set_new(o, "etag", json_string(etag));
        ret = emit(o, json, f);
    } else {
        /* A whole video is a one-part upload completed at once: the video appears with its
         * original stored before its job exists, so no worker can claim a job whose
         * original is not there yet. */
        VpUploadSpec spec = {
            .filename = b->upload.filename, .size = b->size, .part_size = 1 << 30,
            .options = b->upload.options,
        };
        VpiUpload u;
        char name[32], key[64];
        int64_t vid, jid;
        if (b->size == 0) {
            ret = failf(f, AVERROR(EINVAL), "the body is empty: send the video as the body");
            goto end;
        }
        if ((ret = new_upload(s, &spec, &u, f)) < 0)
            goto end;
        snprintf(name, sizeof(name), SVC_UPLOAD_NAME, u.video_id);
        snprintf(key, sizeof(key), SVC_KEY_ORIGINAL, u.video_id);
        if ((ret = vpi_storage_put(s->storage, key, b->path)) < 0) {
            ret = failf(f, ret, "cannot store the video (%s)", av_err2str(ret));
            goto end;
        }
        *b->path = 0;
        if ((ret = vpi_store_complete_upload(s->store, u.id, svc_now_ms(s), &vid, &jid)) < 0) {
            ret = store_fail(f, ret, "video");
            goto end;
        }
        pthread_mutex_lock(&s->lock);
        s->upload_bytes += b->size;
        pthread_mutex_unlock(&s->lock);
        svc_log(s, VP_LOG_INFO, "video %" PRId64 " \"%s\" received whole (%" PRId64 " bytes): "
                "job %" PRId64 " queued", vid, b->upload.filename, b->size, jid);
        wake_workers(s);
        ret = emit(ids_object(vid, jid), json, f);
    }
end:
    body_free(pb);
    return ret;
}

/* ---- videos and jobs -------------------------------------------------------------------- */

int vp_service_video_delete(VpService *s, int64_t video_id, VpFailure *f)
{
    VpiVideo v;
    char prefix[64], name[32];
    int ret;
    ok(f);
    if ((ret = vpi_store_get_video(s->store, video_id, &v)) < 0)
        return ret == AVERROR(ENOENT) ?
               failf(f, ret, "video %" PRId64 ": no such video", video_id) :
               store_fail(f, ret, "video");
    int64_t job = v.job_id;
    vpi_video_clear(&v);
    /* The rows first: from then on a worker holding its job loses its lease and drops what
     * it made; then the bytes. */
    if ((ret = vpi_store_delete_video(s->store, video_id)) < 0)
        return ret == AVERROR(ENOENT) ?
               failf(f, ret, "video %" PRId64 ": no such video", video_id) :
               store_fail(f, ret, "video");
    if (job)
        svc_workers_stop_job(s, job, SVC_STOP_CANCEL);
    snprintf(prefix, sizeof(prefix), SVC_KEY_VIDEO, video_id);
    snprintf(name, sizeof(name), SVC_UPLOAD_NAME, video_id);
    if ((ret = vpi_storage_remove_prefix(s->storage, prefix)) < 0 ||
        (ret = vpi_storage_remove_parts(s->storage, name)) < 0)
        return failf(f, ret, "video %" PRId64 ": deleted, but its files could not all be "
                     "removed (%s)", video_id, av_err2str(ret));
    svc_log(s, VP_LOG_INFO, "video %" PRId64 " deleted with its files", video_id);
    return 0;
}

int vp_service_video_reprocess(VpService *s, int64_t video_id, const char *options,
                               char **json, VpFailure *f)
{
    int64_t jid = 0;
    int ret;
    *json = NULL;
    ok(f);
    if ((ret = check_options(options, f)) < 0)
        return ret;
    if (draining(s))
        return failf(f, AVERROR(ESHUTDOWN), "the server is shutting down");
    ret = vpi_store_enqueue(s->store, video_id, options && *options ? options : NULL,
                            svc_now_ms(s), &jid);
    if (ret == AVERROR(ENOENT))
        return failf(f, ret, "video %" PRId64 ": no such video", video_id);
    if (ret == AVERROR(EBUSY))
        return failf(f, ret, "video %" PRId64 ": its upload is not complete", video_id);
    if (ret < 0)
        return store_fail(f, ret, "video");
    if (ret == 0) {
        svc_log(s, VP_LOG_INFO, "video %" PRId64 ": job %" PRId64 " queued (reprocess)",
                video_id, jid);
        wake_workers(s);
    }
    json_t *o = ids_object(video_id, jid);
    json_object_set_new(o, "queued", json_boolean(ret == 0));
    return emit(o, json, f);
}

int vp_service_job_cancel(VpService *s, int64_t job_id, char **json, VpFailure *f)
{
    int ret;
    *json = NULL;
    ok(f);
    ret = vpi_store_cancel(s->store, job_id, svc_now_ms(s));
    if (ret == AVERROR(ENOENT))
        return failf(f, ret, "job %" PRId64 ": no such job", job_id);
    if (ret < 0)
        return store_fail(f, ret, "job");
    if (ret == 0) {
        svc_workers_stop_job(s, job_id, SVC_STOP_CANCEL);
        svc_log(s, VP_LOG_INFO, "job %" PRId64 " cancelled", job_id);
    }
    return vp_service_job_json(s, job_id, json, f);
}

static const char *content_type_of(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".mp4", "video/mp4" }, { ".m4v", "video/mp4" }, { ".mov", "video/quicktime" },
        { ".mkv", "video/x-matroska" }, { ".webm", "video/webm" }, { ".avi", "video/x-msvideo" },
        { ".ts", "video/mp2t" }, { ".mts", "video/mp2t" }, { ".m2ts", "video/mp2t" },
        { ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" },
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(*types); i++)
        if (!strcasecmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

/* Content-Disposition for @p name (RFC 6266): an ASCII fallback with anything risky as
 * '_', and the exact bytes in RFC 8187's filename* form. */
static void disposition_of(const char *name, char *buf, size_t size)
{
    char ascii[256], ext[768];
    size_t a = 0, e = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && a < sizeof(ascii) - 1;
         p++)
        ascii[a++] = *p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == ';' ? '_' :
                     (char)*p;
    ascii[a] = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && e < sizeof(ext) - 4; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p))
            ext[e++] = (char)*p;
        else
            e += (size_t)snprintf(ext + e, sizeof(ext) - e, "%%%02X", *p);
    }
    ext[e] = 0;
    snprintf(buf, size, "inline; filename=\"%s\"; filename*=UTF-8''%s", ascii, ext);
}

static const char *const media_kinds[] = { "original", "proxy", "thumbnail" };

/* The storage key of a video's original, or of the proxy or thumbnail of its latest
 * completed job (*rjob: that job, 0 for the original), with m's filename and type. */
static int media_key(VpService *s, int64_t video_id, VpServiceMediaKind kind, char *key,
                     size_t key_size, VpServiceMedia *m, int64_t *rjob, VpFailure *f)
{
    VpiVideo v;
    char base[200];
    char *result = NULL;
    int ret;

    *rjob = 0;
    if ((unsigned)kind > VP_MEDIA_THUMBNAIL)
        return failf(f, AVERROR(EINVAL), "unknown media kind");
    if ((ret = vpi_store_get_video(s->store, video_id, &v)) < 0)
        return ret == AVERROR(ENOENT) ?
               failf(f, ret, "video %" PRId64 ": no such video", video_id) :
               store_fail(f, ret, "video");
    snprintf(base, sizeof(base), "%s", v.filename);
    int uploading = v.job_status == VPI_STATUS_UPLOADING;
    vpi_video_clear(&v);
    if (uploading)
        return failf(f, AVERROR(ENOENT), "video %" PRId64 ": still uploading", video_id);
    if (kind == VP_MEDIA_ORIGINAL) {
        snprintf(key, key_size, SVC_KEY_ORIGINAL, video_id);
        snprintf(m->filename, sizeof(m->filename), "%s", base);
        snprintf(m->content_type, sizeof(m->content_type), "%s", content_type_of(base));
        disposition_of(m->filename, m->disposition, sizeof(m->disposition));
        return 0;
    }
    json_t *r;
    const char *k;
    if ((ret = vpi_store_last_result(s->store, video_id, &result, rjob)) < 0)
        return ret == AVERROR(ENOENT) ?
               failf(f, ret, "video %" PRId64 ": no %s yet (no job completed)", video_id,
                     media_kinds[kind]) : store_fail(f, ret, "video");
    r = json_loads(result, 0, NULL);
    free(result);
    k = json_string_value(json_object_get(r, kind == VP_MEDIA_PROXY ? "proxy_path" :
                                          "thumbnail_path"));
    if (!k || strlen(k) >= key_size) {
        json_decref(r);
        return failf(f, AVERROR(ENOENT), "video %" PRId64 ": has no %s", video_id,
                     media_kinds[kind]);
    }
    snprintf(key, key_size, "%s", k);
    json_decref(r);
    char *dot = strrchr(base, '.');
    if (dot)
        *dot = 0;
    snprintf(m->filename, sizeof(m->filename), "%.200s-%s.%s", base, media_kinds[kind],
             kind == VP_MEDIA_PROXY ? "mp4" : "jpg");
    snprintf(m->content_type, sizeof(m->content_type), "%s",
             kind == VP_MEDIA_PROXY ? "video/mp4" : "image/jpeg");
    disposition_of(m->filename, m->disposition, sizeof(m->disposition));
    return 0;
}

int vp_service_media_open(VpService *s, int64_t video_id, VpServiceMediaKind kind,
                          VpServiceMedia *m, VpFailure *f)
{
    VpiObject obj;
    char key[256];
    int64_t rjob;
    int ret;

    memset(m, 0, sizeof(*m));
    m->fd = -1;
    ok(f);
    if ((ret = media_key(s, video_id, kind, key, sizeof(key), m, &rjob, f)) < 0)
        return ret;
    if ((ret = vpi_storage_open_read(s->storage, key, &obj)) < 0)
        return failf(f, ret, "video %" PRId64 ": %s: %s", video_id, media_kinds[kind],
                     ret == AVERROR(ENOENT) ? "not stored" : av_err2str(ret));
    m->fd = obj.fd;
    m->size = obj.size;
    m->mtime = obj.mtime;
    snprintf(m->etag, sizeof(m->etag), "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
             (uint64_t)video_id, (uint64_t)obj.size, (uint64_t)obj.mtime ^ (uint64_t)rjob);
    return 0;
}

int vp_service_media_url(VpService *s, int64_t video_id, VpServiceMediaKind kind, int expires,
                         char **url, VpFailure *f)
{
    VpServiceMedia m;
    char key[256], *signed_url = NULL;
    int64_t rjob;
    int ret;

    *url = NULL;
    ok(f);
    if (expires < 1 || expires > 604800)
        return failf(f, AVERROR(EINVAL), "expires: %d is out of range 1..604800 seconds",
                     expires);
    if (!s->storage->cls->presign_get)
        return failf(f, AVERROR(ENOSYS), "this storage has no URLs of its own");
    memset(&m, 0, sizeof(m));
    if ((ret = media_key(s, video_id, kind, key, sizeof(key), &m, &rjob, f)) < 0)
        return ret;
    if ((ret = vpi_storage_presign_get_as(s->storage, key, expires, m.content_type,
                                          m.disposition, &signed_url)) < 0)
        return failf(f, ret, "video %" PRId64 ": %s: no URL from the storage (%s)", video_id,
                     media_kinds[kind], av_err2str(ret));
    *url = strdup(signed_url);
    av_free(signed_url);
    return *url ? 0 : failf(f, AVERROR(ENOMEM), "out of memory");
}

int vp_service_metrics(VpService *s, VpServiceMetrics *m)
{
    VpiStoreCounts c;
    int ret;
    memset(m, 0, sizeof(*m));
    if ((ret = vpi_store_counts(s->store, svc_now_ms(s), &c)) < 0)
        return ret;
    for (int i = 0; i < 5; i++)
        m->jobs[i] = c.jobs[i];
    m->queue_depth = c.queue_depth;
    m->videos = c.videos;
    m->uploads_open = c.uploads_open;
    pthread_mutex_lock(&s->lock);
    m->upload_bytes = s->upload_bytes;
    memcpy(m->jobs_finished, s->jobs_finished, sizeof(m->jobs_finished));
    memcpy(m->duration_counts, s->duration_counts, sizeof(m->duration_counts));
    m->duration_sum = s->duration_sum;
    m->workers = s->nb_workers;
    for (int i = 0; i < s->nb_workers; i++)
        m->workers_busy += s->workers[i].busy;
    m->draining = s->draining;
    pthread_mutex_unlock(&s->lock);
    return 0;
}
