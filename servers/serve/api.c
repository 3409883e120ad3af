/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON API: each route reads what the request carries (pure parsers of request.c),
 * makes one library call and answers its JSON; video objects get a "links" object with the
 * URLs of their media (signed when the server has a token). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SV_OPTIONS_MAX 1024

static void answer(SvRequest *r, int err, const VpFailure *fail, int code, char *json)
{
    if (err < 0) {
        free(json);
        sv_reply_service_error(r, err, fail);
        return;
    }
    sv_reply_json_text(r, code, json);
}

/* ---- links -------------------------------------------------------------------------------- */

static json_t *link_value(SvServer *s, const char *path, int64_t expires)
{
    char url[1200];
    if (sv_link(s, path, expires, url, sizeof(url)) < 0)
        return json_null();
    return json_string(url);
}

/* Add "links" to one video object: its own path, its job's, and each stored file's. */
static void add_links(SvServer *s, json_t *video, int64_t expires)
{
    static const char *const kinds[] = { "original", "proxy", "thumbnail" };
    json_t *id = json_object_get(video, "video_id");
    json_t *media = json_object_get(video, "media");
    json_t *job = json_object_get(video, "job_id");
    json_t *links = json_object();
    char path[128];
    if (!json_is_integer(id) || !links) {
        json_decref(links);
        return;
    }
    json_int_t vid = json_integer_value(id);
    snprintf(path, sizeof(path), "/api/v1/videos/%" JSON_INTEGER_FORMAT, vid);
    json_object_set_new(links, "self", json_string(path));
    if (json_is_integer(job)) {
        snprintf(path, sizeof(path), "/api/v1/jobs/%" JSON_INTEGER_FORMAT,
                 json_integer_value(job));
        json_object_set_new(links, "job", json_string(path));
    } else {
        json_object_set_new(links, "job", json_null());
    }
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "/api/v1/videos/%" JSON_INTEGER_FORMAT "/%s", vid,
                 kinds[i]);
        json_object_set_new(links, kinds[i], json_is_true(json_object_get(media, kinds[i])) ?
                            link_value(s, path, expires) : json_null());
    }
    json_object_set_new(video, "links", links);
}

/* The library's video JSON (one object, or {"videos": [...]}) with links added. */
static char *with_links(SvServer *s, SvRequest *r, const char *text)
{
    json_t *root = json_loads(text, 0, NULL);
    if (!root)
        return NULL;
    int64_t expires = sv_link_expiry(s, r, SV_LINK_TTL);
    json_t *list = json_object_get(root, "videos");
    if (json_is_array(list)) {
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
            add_links(s, v, expires);
    } else {
        add_links(s, root, expires);
    }
    char *out = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
    json_decref(root);
    return out;
}

static void answer_video(SvServer *s, SvRequest *r, int err, const VpFailure *fail,
                         char *json)
{
    if (err < 0) {
        answer(r, err, fail, 0, json);
        return;
    }
    char *out = with_links(s, r, json);
    free(json);
    sv_reply_json_text(r, 200, out);
}

/* ---- options from the query --------------------------------------------------------------- */

typedef struct OptionsCtx {
    char buf[SV_OPTIONS_MAX];
    char why[256];
    int failed;
} OptionsCtx;

static enum MHD_Result option_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    OptionsCtx *c = cls;
    (void)kind;
    if (c->failed || sv_query_reserved(key))
        return MHD_YES;
    if (sv_options_add(c->buf, sizeof(c->buf), key, value ? value : "", c->why,
                       sizeof(c->why)) < 0)
        c->failed = 1;
    return MHD_YES;
}

/* The proxy overrides of the query (?height=720&fps=15) into @p c: 0, or -1 after the
 * error was set for the reply (@p now: queued at once, else remembered). */
static int query_options(SvRequest *r, OptionsCtx *c, int now)
{
    memset(c, 0, sizeof(*c));
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, option_arg, c);
    if (!c->failed)
        return 0;
    if (now)
        sv_reply_error(r, 400, "%s", c->why);
    else
        sv_fail(r, 400, "%s", c->why);
    return -1;
}

/* ---- uploads ------------------------------------------------------------------------------ */

void sv_upload_create(SvServer *s, SvRequest *r)
{
    VpUploadSpec spec;
    json_t *keep = NULL;
    char options[SV_OPTIONS_MAX], why[512], *json = NULL;
    VpFailure fail = { 0 };
    OptionsCtx q;
    if (query_options(r, &q, 1) < 0)
        return;
    if (sv_parse_upload_spec(r->buf, r->len, &spec, &keep, options, sizeof(options), why,
                             sizeof(why)) < 0) {
        sv_reply_error(r, 400, "%s", why);
        return;
    }
    if (q.buf[0] && spec.options) {
        json_decref(keep);
        sv_reply_error(r, 400, "options come in the query or in the body, not both");
        return;
    }
    if (q.buf[0])
        spec.options = q.buf;
    int err = vp_service_upload_create(s->svc, &spec, &json, &fail);
    json_decref(keep);
    answer(r, err, &fail, 200, json);
}

/* ?urls=1: the part URLs again (fresh signatures), where the storage takes parts */
void sv_upload_get(SvServer *s, SvRequest *r)
{
    char *json = NULL;
    VpFailure fail = { 0 };
    const char *urls = sv_query(r, "urls");
    if (urls && strcmp(urls, "0") && strcmp(urls, "1")) {
        sv_reply_error(r, 400, "urls: 0 or 1, not \"%.32s\"", urls);
        return;
    }
    int err = urls && !strcmp(urls, "1") ?
              vp_service_upload_urls(s->svc, r->token, &json, &fail) :
              vp_service_upload_get(s->svc, r->token, &json, &fail);
    answer(r, err, &fail, 200, json);
}

static int content_length(SvRequest *r, int64_t *len)
{
    const char *te = sv_header(r, "Transfer-Encoding");
    if (te && strcasecmp(te, "identity")) {
        *len = -1;
        return 0;
    }
    if (sv_parse_length(sv_header(r, "Content-Length"), len) < 0) {
        sv_fail(r, 400, "Content-Length is not a length");
        return -1;
    }
    return 0;
}

int sv_part_begin(SvServer *s, SvRequest *r)
{
    int64_t len;
    VpFailure fail = { 0 };
    if (content_length(r, &len) < 0)
        return -1;
    if (r->nums[0] > INT32_MAX) {
        sv_fail(r, 400, "part %" PRId64 ": out of range", r->nums[0]);
        return -1;
    }
    int err = vp_service_part_begin(s->svc, r->token, (int)r->nums[0], len, &r->body, &fail);
    if (err < 0) {
        sv_fail_service(r, err, &fail);
        return -1;
    }
    return 0;
}

int sv_video_begin(SvServer *s, SvRequest *r)
{
    int64_t len;
    OptionsCtx opts;
    VpFailure fail = { 0 };
    const char *filename = sv_query(r, "filename");
    if (!filename || !*filename) {
        sv_fail(r, 400, "?filename= is required (the original's file name)");
        return -1;
    }
    if (content_length(r, &len) < 0 || query_options(r, &opts, 0) < 0)
        return -1;
    int err = vp_service_video_begin(s->svc, filename, opts.buf[0] ? opts.buf : NULL, len,
                                     &r->body, &fail);
    if (err < 0) {
        sv_fail_service(r, err, &fail);
        return -1;
    }
    return 0;
}

void sv_body_finish(SvServer *s, SvRequest *r)
{
    char *json = NULL;
    VpFailure fail = { 0 };
    (void)s;
    if (!r->body) {
        sv_reply_error(r, 500, "the body was not started (a bug)");
        return;
    }
    int err = vp_service_body_finish(&r->body, &json, &fail);
    answer(r, err, &fail, 200, json);
}

void sv_upload_complete(SvServer *s, SvRequest *r)
{
    VpPartRef *parts = NULL;
    int nb = 0;
    const char *sha = NULL;
    json_t *keep = NULL;
    char why[512], *json = NULL;
    VpFailure fail = { 0 };
    if (sv_parse_complete(r->buf, r->len, &parts, &nb, &sha, &keep, why, sizeof(why)) < 0) {
        sv_reply_error(r, 400, "%s", why);
        return;
    }
    int err = vp_service_upload_complete(s->svc, r->token, parts, nb, sha, &json, &fail);
    free(parts);
    json_decref(keep);
    answer(r, err, &fail, 200, json);
}

/* ---- videos and jobs ---------------------------------------------------------------------- */

void sv_videos_list(SvServer *s, SvRequest *r)
{
    const char *status = sv_query(r, "status"), *limit_text = sv_query(r, "limit");
    const char *cursor = sv_query(r, "cursor");
    char why[256], *json = NULL;
    int limit = 0;
    VpFailure fail = { 0 };
    if (status && !*status)
        status = NULL;
    if (cursor && !*cursor)
        cursor = NULL;
    if ((status && sv_parse_status(status, why, sizeof(why)) < 0) ||
        (limit_text && *limit_text && sv_parse_limit(limit_text, &limit, why, sizeof(why)) < 0)) {
        sv_reply_error(r, 400, "%s", why);
        return;
    }
    int err = vp_service_videos_json(s->svc, status, limit, cursor, &json, &fail);
    answer_video(s, r, err, &fail, json);
}

void sv_video_get(SvServer *s, SvRequest *r)
{
    char *json = NULL;
    VpFailure fail = { 0 };
    int err = vp_service_video_json(s->svc, r->nums[0], &json, &fail);
    answer_video(s, r, err, &fail, json);
}

void sv_video_delete(SvServer *s, SvRequest *r)
{
    VpFailure fail = { 0 };
    int err = vp_service_video_delete(s->svc, r->nums[0], &fail);
    if (err < 0) {
        sv_reply_service_error(r, err, &fail);
        return;
    }
    sv_reply_json(r, 200, json_pack("{sIsb}", "video_id", (json_int_t)r->nums[0],
                                    "deleted", 1));
}

void sv_video_reprocess(SvServer *s, SvRequest *r)
{
    OptionsCtx q;
    char body_opts[SV_OPTIONS_MAX], why[512], *json = NULL;
    VpFailure fail = { 0 };
    if (query_options(r, &q, 1) < 0)
        return;
    if (sv_parse_options_body(r->buf, r->len, body_opts, sizeof(body_opts), why,
                              sizeof(why)) < 0) {
        sv_reply_error(r, 400, "%s", why);
        return;
    }
    if (q.buf[0] && body_opts[0]) {
        sv_reply_error(r, 400, "options come in the query or in the body, not both");
        return;
    }
    const char *options = q.buf[0] ? q.buf : body_opts[0] ? body_opts : NULL;
    int err = vp_service_video_reprocess(s->svc, r->nums[0], options, &json, &fail);
    answer(r, err, &fail, 200, json);
}

void sv_job_get(SvServer *s, SvRequest *r)
{
    char *json = NULL;
    VpFailure fail = { 0 };
    int err = vp_service_job_json(s->svc, r->nums[0], &json, &fail);
    answer(r, err, &fail, 200, json);
}

void sv_job_cancel(SvServer *s, SvRequest *r)
{
    char *json = NULL;
    VpFailure fail = { 0 };
    int err = vp_service_job_cancel(s->svc, r->nums[0], &json, &fail);
    answer(r, err, &fail, 200, json);
}

void sv_healthz(SvServer *s, SvRequest *r)
{
    if (atomic_load(&s->draining)) {
        json_t *o = json_pack("{ss}", "status", "draining");
        json_t *e = json_pack("{siss}", "status", 503, "message",
                              "the server is draining: it takes no new work");
        if (o && e)
            json_object_set_new(o, "error", e);
        else
            json_decref(e);
        sv_reply_json(r, 503, o);
        return;
    }
    sv_reply_json(r, 200, json_pack("{ss}", "status", "ok"));
}
