/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the job server's files share: the server and request state, the reply helpers
 * (server.c), auth (auth.c), media (media.c), metrics (metrics.c) and the API (api.c). */
#ifndef VIDPIPE_SERVERS_SERVE_INTERNAL_H
#define VIDPIPE_SERVERS_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "request.h"
#include "route.h"
#include "serve.h"

/* The statuses counted by vidpipe_http_requests_total; others count as "other". */
#define SV_CODES(X) X(200) X(201) X(204) X(206) X(304) X(400) X(401) X(403) X(404) \
    X(405) X(409) X(413) X(416) X(422) X(500) X(503) X(507)
#define SV_CODE_ENUM(c) SV_CODE_##c,
enum { SV_CODES(SV_CODE_ENUM) SV_CODE_OTHER, SV_NB_CODES };

/* A signed link's key (HMAC-SHA256, derived from the token). */
#define SV_KEY_SIZE 32

typedef struct SvServer {
    SvOpts o;
    VpService *svc;
    struct MHD_Daemon *mhd;
    atomic_int draining;
    char base_url[320];              /* "http://127.0.0.1:8410" */
    int has_token;
    uint8_t link_key[SV_KEY_SIZE];   /* signs links */
    uint8_t token_mac[SV_KEY_SIZE];  /* HMAC of the token: compared in constant time */
    atomic_llong http_requests[SV_NB_CODES];
    pthread_mutex_t event_lock;      /* one on_event call at a time */
} SvServer;

enum { M_GET = 1, M_POST = 2, M_PUT = 4, M_DELETE = 8, M_HEAD = 16, M_OPTIONS = 32 };

typedef struct SvRequest SvRequest;
typedef struct SvRoute SvRoute;

/* A route's handler for one method, called once the request (and its body, if any) is
 * whole; it queues exactly one reply. */
typedef void (*SvHandler)(SvServer *s, SvRequest *r);
/* A streaming route starts its body here, before any byte arrives: 0, or it has set the
 * error reply (sv_fail*) and the body is discarded. */
typedef int (*SvBegin)(SvServer *s, SvRequest *r);

struct SvRoute {
    const char *path;        /* '#' a decimal id, '*' an upload id */
    int methods;             /* M_GET also answers HEAD */
    SvHandler get, post, put, del;
    SvBegin begin;           /* the method with a streamed body (PUT or POST), if any */
    int begin_method;
    int open;                /* no authentication (/healthz) */
};

struct SvRequest {
    SvServer *server;
    struct MHD_Connection *conn;
    const SvRoute *route;
    int method;
    char method_name[12];
    char path[1024];
    int64_t nums[2];
    char token[SV_TOKEN_MAX + 1];
    int64_t start_us;
    int64_t link_expires;    /* authorized by a signed link expiring then (0: not a link) */
    /* a buffered body (JSON), up to SV_MAX_JSON_BODY */
    char *buf;
    size_t len, cap;
    /* a streamed body */
    VpServiceBody *body;
    int64_t discarded;       /* bytes dropped after an error, before the reply */
    int discarding;          /* a body is being dropped: the reply closes the connection */
    /* an error met before the reply could be queued (sv_fail) */
    int fail_status;
    char fail_why[512];
    char allow[96];          /* a 405's Allow header */
    int code;                /* the status answered */
    int answered;
};

/* Largest JSON request body: a complete of 2^16 parts fits. */
#define SV_MAX_JSON_BODY (4 << 20)
/* Lifetime of the media links put into video objects, and the longest a client may ask. */
#define SV_LINK_TTL 3600
#define SV_LINK_TTL_MAX (7 * 86400)

/* ---- replies (server.c); each queues the reply and frees what it was given ---------------- */

void sv_reply(SvRequest *r, int code, struct MHD_Response *resp);
/* @p text: a malloc'd JSON document (taken), or NULL for out of memory (500). */
void sv_reply_json_text(SvRequest *r, int code, char *text);
void sv_reply_json(SvRequest *r, int code, json_t *body);
void sv_reply_error(SvRequest *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A library call's error @p err: vp_service_http_status(), its failure line or
 * vp_strerror(). */
void sv_reply_service_error(SvRequest *r, int err, const VpFailure *fail);
/* The error is remembered and answered when the request is whole (a body was coming). */
void sv_fail(SvRequest *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sv_fail_service(SvRequest *r, int err, const VpFailure *fail);
/* The headers every API reply carries: CORS, no caching. */
void sv_api_headers(struct MHD_Response *resp);
/* A query parameter (decoded by libmicrohttpd), or NULL. */
const char *sv_query(SvRequest *r, const char *key);
const char *sv_header(SvRequest *r, const char *key);
void sv_event(SvServer *s, const char *name, json_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int64_t sv_now_s(void);

/* ---- auth.c ------------------------------------------------------------------------------ */

/* Derive the keys from @p token (NULL: no auth). 0 or a negative AVERROR. */
int sv_auth_init(SvServer *s, const char *token);
/* 1 if @p r may go on; else 0 with the reply queued (401 / 403) or remembered. */
int sv_auth_check(SvServer *s, SvRequest *r);
/* @p path as a link valid until @p expires (unix seconds): "PATH?expires=T&sig=HEX", or
 * @p path alone without a token. 0, or -1 when it does not fit. */
int sv_link(SvServer *s, const char *path, int64_t expires, char *out, size_t size);
/* The expiry a link made for @p r gets: now + @p ttl, but never past the link @p r itself
 * came with. */
int64_t sv_link_expiry(SvServer *s, SvRequest *r, int64_t ttl);
void sv_links_create(SvServer *s, SvRequest *r);   /* POST /api/v1/links */

/* ---- media.c, metrics.c, api.c, dashboard ------------------------------------------------ */

void sv_media(SvServer *s, SvRequest *r);          /* GET /api/v1/videos/#/KIND */
void sv_metrics(SvServer *s, SvRequest *r);        /* GET /metrics */
void sv_dashboard(SvServer *s, SvRequest *r);      /* GET / */
void sv_healthz(SvServer *s, SvRequest *r);

void sv_upload_create(SvServer *s, SvRequest *r);
void sv_upload_get(SvServer *s, SvRequest *r);
int sv_part_begin(SvServer *s, SvRequest *r);
void sv_body_finish(SvServer *s, SvRequest *r);    /* the end of a streamed body */
void sv_upload_complete(SvServer *s, SvRequest *r);
int sv_video_begin(SvServer *s, SvRequest *r);
void sv_videos_list(SvServer *s, SvRequest *r);
void sv_video_get(SvServer *s, SvRequest *r);
void sv_video_delete(SvServer *s, SvRequest *r);
void sv_video_reprocess(SvServer *s, SvRequest *r);
void sv_job_get(SvServer *s, SvRequest *r);
void sv_job_cancel(SvServer *s, SvRequest *r);

/* The embedded dashboard page (dashboard.html, made into C by embed.py). */
extern const unsigned char sv_dashboard_html[];
extern const size_t sv_dashboard_html_size;

#endif /* VIDPIPE_SERVERS_SERVE_INTERNAL_H */
