/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job server's frame: the libmicrohttpd daemon and its limits, the route table, how a
 * request's body reaches the library (streamed chunk by chunk, or buffered for the small JSON
 * bodies), signals and the drain, and the replies every route answers with. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libavutil/error.h>

#include "helpers.h"
#include "internal.h"
#include "json_text.h"

/* Idle connections are closed after this long: a slowloris client that trickles a header
 * or a body slower than one read per 30 s loses its connection, and the per-address limit
 * below caps how many it can hold while it keeps pace. */
#define SV_TIMEOUT_S 30
#define SV_MAX_CONNECTIONS 2048
/* 200 pollers from one benchmark machine must fit; one address cannot take every slot. */
#define SV_MAX_PER_IP 512
/* Per connection: request headers, and the read buffer a body arrives through. 128 KiB
 * lets a part reach the library in chunks of ~100 KiB (32 KiB, the default, means four
 * times the write calls). */
#define SV_CONN_MEMORY (128 << 10)
/* After an error mid-body, what is still read (and dropped) so the client gets its JSON
 * error; a client that keeps sending past this loses the connection instead. */
#define SV_DISCARD_MAX ((int64_t)64 << 20)

static const SvRoute routes[] = {
    { "/api/v1/uploads", M_POST, .post = sv_upload_create },
    { "/api/v1/uploads/*", M_GET, .get = sv_upload_get },
    { "/api/v1/uploads/*/parts/#", M_PUT, .put = sv_body_finish, .begin = sv_part_begin,
      .begin_method = M_PUT },
    { "/api/v1/uploads/*/complete", M_POST, .post = sv_upload_complete },
    { "/api/v1/videos", M_GET | M_POST, .get = sv_videos_list, .post = sv_body_finish,
      .begin = sv_video_begin, .begin_method = M_POST },
    { "/api/v1/videos/#", M_GET | M_DELETE, .get = sv_video_get, .del = sv_video_delete },
    { "/api/v1/videos/#/original", M_GET, .get = sv_media },
    { "/api/v1/videos/#/proxy", M_GET, .get = sv_media },
    { "/api/v1/videos/#/thumbnail", M_GET, .get = sv_media },
    { "/api/v1/videos/#/reprocess", M_POST, .post = sv_video_reprocess },
    { "/api/v1/jobs/#", M_GET, .get = sv_job_get },
    { "/api/v1/jobs/#/status", M_GET, .get = sv_job_get },
    { "/api/v1/jobs/#/cancel", M_POST, .post = sv_job_cancel },
    { "/api/v1/links", M_POST, .post = sv_links_create },
    { "/metrics", M_GET, .get = sv_metrics },
    { "/healthz", M_GET, .get = sv_healthz, .open = 1 },
    { "/", M_GET, .get = sv_dashboard },
};

static int method_bit(const char *m)
{
    static const struct { const char *name; int bit; } names[] = {
        { "GET", M_GET }, { "HEAD", M_HEAD }, { "POST", M_POST }, { "PUT", M_PUT },
        { "DELETE", M_DELETE }, { "OPTIONS", M_OPTIONS },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        if (!strcmp(m, names[i].name))
            return names[i].bit;
    return 0;
}

static void allow_text(int methods, char *buf, size_t size)
{
    static const struct { int bit; const char *name; } names[] = {
        { M_GET, "GET, HEAD" }, { M_POST, "POST" }, { M_PUT, "PUT" }, { M_DELETE, "DELETE" },
    };
    buf[0] = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        if (methods & names[i].bit)
            snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", *buf ? ", " : "",
                     names[i].name);
    snprintf(buf + strlen(buf), size - strlen(buf), ", OPTIONS");
}

/* ---- replies ------------------------------------------------------------------------------ */

static int code_index(int code)
{
#define SV_CODE_CASE(c) case c: return SV_CODE_##c;
    switch (code) {
    SV_CODES(SV_CODE_CASE)
    default: return SV_CODE_OTHER;
    }
#undef SV_CODE_CASE
}

void sv_reply(SvRequest *r, int code, struct MHD_Response *resp)
{
    SvServer *s = r->server;
    if (r->answered) {
        if (resp)
            MHD_destroy_response(resp);
        return;
    }
    if (!resp) {
        static const char oom[] = "{\"error\": {\"status\": 500, \"message\": \"out of "
                                  "memory\"}}\n";
        code = 500;
        resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
                                               MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return;   /* MHD closes the connection: nothing else can be said */
        MHD_add_response_header(resp, "Content-Type", "application/json");
    }
    if (r->discarding)
        MHD_add_response_header(resp, "Connection", "close");
    r->answered = 1;
    r->code = code;
    atomic_fetch_add(&s->http_requests[code_index(code)], 1);
    MHD_queue_response(r->conn, (unsigned)code, resp);
    MHD_destroy_response(resp);
}

void sv_api_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                            "ETag, Content-Range, Content-Length, Accept-Ranges, Allow");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
}

void sv_reply_json_text(SvRequest *r, int code, char *text)
{
    if (!text) {
        sv_reply(r, 500, NULL);
        return;
    }
    size_t len = strlen(text);
    char *body = realloc(text, len + 2);
    if (!body) {
        free(text);
        sv_reply(r, 500, NULL);
        return;
    }
    body[len++] = '\n';
    body[len] = 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body,
                                                                MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        sv_reply(r, 500, NULL);
        return;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    sv_api_headers(resp);
    if (code == 405 && r->allow[0])
        MHD_add_response_header(resp, "Allow", r->allow);
    if (code == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"vidpipe\"");
    if (code == 503)
        MHD_add_response_header(resp, "Retry-After", "5");
    sv_reply(r, code, resp);
}

void sv_reply_json(SvRequest *r, int code, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII |
                                         JSON_REAL_PRECISION(10)) : NULL;
    json_decref(body);
    sv_reply_json_text(r, code, text);
}

static json_t *error_object(int code, const char *msg)
{
    json_t *e = json_object(), *o = json_object();
    if (!e || !o || json_object_set_new(e, "status", json_integer(code)) < 0 ||
        vpi_json_set_text(e, "message", msg) < 0 || json_object_set(o, "error", e) < 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(e);
    return o;
}

static void reply_error_text(SvRequest *r, int code, const char *msg)
{
    sv_reply_json(r, code, error_object(code, msg));
}

void sv_reply_error(SvRequest *r, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error_text(r, code, msg);
}

static void service_message(int err, const VpFailure *fail, char *buf, size_t size)
{
    snprintf(buf, size, "%s", fail && *fail->message ? fail->message : vp_strerror(err));
    /* one line: the library's are, but a line break must never reach a client's parser */
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

void sv_reply_service_error(SvRequest *r, int err, const VpFailure *fail)
{
    char msg[sizeof(fail->message) + 1];
    service_message(err, fail, msg, sizeof(msg));
    reply_error_text(r, vp_service_http_status(err), msg);
}

void sv_fail(SvRequest *r, int code, const char *fmt, ...)
{
    va_list ap;
    if (r->fail_status)
        return;
    va_start(ap, fmt);
    vsnprintf(r->fail_why, sizeof(r->fail_why), fmt, ap);
    va_end(ap);
    r->fail_status = code;
}

void sv_fail_service(SvRequest *r, int err, const VpFailure *fail)
{
    if (r->fail_status)
        return;
    service_message(err, fail, r->fail_why, sizeof(r->fail_why));
    r->fail_status = vp_service_http_status(err);
}

const char *sv_query(SvRequest *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* A %00 in a query value would end the C string MHD hands out ("evil%00.mp4" would be
 * "evil"): such a request is refused whole, before any handler reads its parameters. */
static enum MHD_Result query_nul(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    SvRequest *r = cls;
    (void)kind;
    if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
        sv_fail(r, 400, "query parameter %.*s: contains a NUL byte",
                (int)strnlen(key, 64), key);
        return MHD_NO;
    }
    return MHD_YES;
}

const char *sv_header(SvRequest *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

void sv_event(SvServer *s, const char *name, json_t *ev, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (!ev)
        ev = json_object();
    if (ev)
        json_object_set_new(ev, "event", json_string(name));
    if (s->o.on_event) {
        pthread_mutex_lock(&s->event_lock);
        s->o.on_event(s->o.opaque, line, ev);
        pthread_mutex_unlock(&s->event_lock);
    }
    json_decref(ev);
}

int64_t sv_now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- requests ----------------------------------------------------------------------------- */

static void preflight(SvRequest *r)
{
    char allow[96];
    allow_text(r->route->methods, allow, sizeof(allow));
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"",
                                                                MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, Range, If-None-Match");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
        MHD_add_response_header(resp, "Allow", allow);
    }
    sv_reply(r, 204, resp);
}

/* The path as our lines show it: it may hold anything, but no control characters (a
 * terminal's escapes) reach a log, and a long one is cut. */
static void shown_path(const char *path, char *buf, size_t size)
{
    size_t n = 0;
    for (const char *p = path; *p && n < size - 4; p++, n++)
        buf[n] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
    snprintf(buf + n, size - n, "%s", path[n] ? "..." : "");
}

/* The route and method of a new request: 0 to go on, or the reply is queued. */
static int route_request(SvServer *s, SvRequest *r, const char *url, const char *method)
{
    r->method = method_bit(method);
    snprintf(r->method_name, sizeof(r->method_name), "%s", method);
    if (strlen(url) >= sizeof(r->path)) {
        sv_reply_error(r, 414, "the path is longer than %zu bytes", sizeof(r->path) - 1);
        return -1;
    }
    snprintf(r->path, sizeof(r->path), "%s", url);
    for (size_t i = 0; i < sizeof(routes) / sizeof(*routes); i++) {
        if (sv_route_match(routes[i].path, r->path, r->nums, r->token)) {
            r->route = &routes[i];
            break;
        }
    }
    char shown[128];
    shown_path(r->path, shown, sizeof(shown));
    if (!r->route) {
        sv_reply_error(r, 404, "%s: no such route", shown);
        return -1;
    }
    if (r->method == M_OPTIONS) {
        preflight(r);
        return -1;
    }
    int want = r->method == M_HEAD ? M_GET : r->method;
    if (!(want & r->route->methods)) {
        allow_text(r->route->methods, r->allow, sizeof(r->allow));
        sv_reply_error(r, 405, "%s %s: method not allowed (allowed: %s)", method, shown,
                       r->allow);
        return -1;
    }
    if (!r->route->open && !sv_auth_check(s, r))
        return -1;
    if (r->route->begin && want == r->route->begin_method && r->route->begin(s, r) < 0) {
        /* nothing of the body is wanted: MHD drops it and closes the connection */
        reply_error_text(r, r->fail_status ? r->fail_status : 500, r->fail_why);
        return -1;
    }
    return 0;
}

/* A piece of the body: to the library, into the buffer, or dropped after an error. 0, or
 * -1 to close the connection. */
static int take_body(SvRequest *r, const char *data, size_t size)
{
    if (r->fail_status) {
        r->discarding = 1;
        r->discarded += (int64_t)size;
        return r->discarded > SV_DISCARD_MAX ? -1 : 0;
    }
    if (r->body) {
        VpFailure fail = { 0 };
        int err = vp_service_body_write(r->body, data, size, &fail);
        if (err < 0) {
            vp_service_body_abort(&r->body);
            sv_fail_service(r, err, &fail);
            r->discarding = 1;
        }
        return 0;
    }
    if (r->len + size > SV_MAX_JSON_BODY) {
        sv_fail(r, 413, "the request body is larger than %d bytes", SV_MAX_JSON_BODY);
        r->discarded += (int64_t)size;
        r->discarding = 1;
        free(r->buf);
        r->buf = NULL;
        r->len = r->cap = 0;
        return 0;
    }
    if (r->len + size + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + size + 1)
            cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b) {
            sv_fail(r, 500, "out of memory");
            return 0;
        }
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, size);
    r->len += size;
    r->buf[r->len] = 0;
    return 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *data_size, void **con_cls)
{
    SvServer *s = cls;
    SvRequest *r = *con_cls;
    (void)version;
    if (!r) {
        if (!(r = calloc(1, sizeof(*r))))
            return MHD_NO;
        *con_cls = r;
        r->conn = conn;
        r->server = s;
        r->start_us = vpi_now_us();
        MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, query_nul, r);
        if (!r->fail_status)
            route_request(s, r, url, method);
        return MHD_YES;
    }
    if (r->answered) {
        *data_size = 0;
        return MHD_YES;
    }
    if (*data_size) {
        int ret = take_body(r, data, *data_size);
        *data_size = 0;
        return ret < 0 ? MHD_NO : MHD_YES;
    }
    if (r->fail_status) {
        reply_error_text(r, r->fail_status, r->fail_why);
        return MHD_YES;
    }
    int want = r->method == M_HEAD ? M_GET : r->method;
    SvHandler h = want == M_GET ? r->route->get : want == M_POST ? r->route->post :
                  want == M_PUT ? r->route->put : r->route->del;
    h(s, r);
    if (!r->answered)
        sv_reply_error(r, 500, "no reply was made (a bug)");
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    SvServer *s = cls;
    SvRequest *r = *con_cls;
    (void)conn;
    if (!r)
        return;
    /* a body the connection lost before its end: its bytes go */
    vp_service_body_abort(&r->body);
    if (s->o.on_event && r->route) {
        char peer[64] = "?";
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            char host[INET6_ADDRSTRLEN] = "?";
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host,
                          sizeof(host));
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
                          sizeof(host));
            snprintf(peer, sizeof(peer), "%s", host);
        }
        int64_t ms = (vpi_now_us() - r->start_us) / 1000;
        char shown[256];
        shown_path(r->path, shown, sizeof(shown));
        const char *how = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" :
                          toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? " (timed out)" :
                          " (connection lost)";
        json_t *ev = json_pack("{sssisIss}", "method", r->method_name, "status", r->code,
                               "ms", (json_int_t)ms, "client", peer);
        if (ev)
            vpi_json_set_text(ev, "path", r->path);
        sv_event(s, "request", ev, "%s %s %d %" PRId64 " ms from %s%s", r->method_name,
                 shown, r->code, ms, peer, how);
    }
    free(r->buf);
    free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    SvServer *s = cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    json_t *ev = json_object();
    if (ev)
        vpi_json_set_text(ev, "message", line);
    sv_event(s, "http_log", ev, "libmicrohttpd: %s", line);
}

/* ---- setup -------------------------------------------------------------------------------- */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

static int resolve(const SvOpts *o, struct sockaddr_storage *ss, char *why, size_t why_size)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE }, *ai = NULL;
    int r = getaddrinfo(o->host, NULL, &hints, &ai);
    if (r || !ai) {
        snprintf(why, why_size, "cannot resolve %s: %s", o->host,
                 r ? gai_strerror(r) : "no address");
        return AVERROR(EINVAL);
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)o->port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)o->port);
    if (!o->token && !is_loopback((struct sockaddr *)ss)) {
        snprintf(why, why_size, "%s is not a loopback address: without a token file the API "
                 "is open to anyone who can connect, so it listens on loopback only", o->host);
        return AVERROR(EACCES);
    }
    return 0;
}

int sv_check_listen(const SvOpts *o, char *why, size_t why_size)
{
    struct sockaddr_storage ss;
    return resolve(o, &ss, why, why_size);
}

static int default_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    /* handlers block on the disk and the store: more threads than cores keep polls moving
     * while a thread writes a part or assembles an original */
    return cores > 2 ? (int)(cores > 32 ? 64 : 2 * cores) : 4;
}

int sv_run(const SvOpts *o, char *why, size_t why_size)
{
    SvServer *s = calloc(1, sizeof(*s));
    struct sockaddr_storage ss = { 0 };
    int ret;
    if (!s) {
        snprintf(why, why_size, "out of memory");
        return AVERROR(ENOMEM);
    }
    s->o = *o;
    s->svc = o->service;
    pthread_mutex_init(&s->event_lock, NULL);
    if ((ret = resolve(o, &ss, why, why_size)) < 0)
        goto end;
    if ((ret = sv_auth_init(s, o->token)) < 0) {
        snprintf(why, why_size, "cannot derive the link key: %s", av_err2str(ret));
        goto end;
    }

    /* the thread that called us takes SIGTERM and SIGINT through sigwait(); MHD's threads
     * start with them blocked, as the caller's workers did */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    /* poll(), not epoll: with epoll, libmicrohttpd 0.9.75 missed a client's close that
     * arrived in the same read as the last bytes it sent (a part cut off mid-body), and the
     * body waited for the 30 s timeout before it was dropped; poll() sees it at once.
     * Each pool thread polls its share of the connections (2048 / threads at most). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    unsigned threads = (unsigned)(o->threads > 0 ? o->threads : default_threads());
    unsigned timeout = (unsigned)(o->timeout_s > 0 ? o->timeout_s : SV_TIMEOUT_S);
    /* the logger first, or MHD says so through its own */
    s->mhd = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_access, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_THREAD_POOL_SIZE, threads,
                              MHD_OPTION_CONNECTION_TIMEOUT, timeout,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)SV_MAX_CONNECTIONS,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)SV_MAX_PER_IP,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SV_CONN_MEMORY,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_END);
    if (!s->mhd) {
        int err = errno ? errno : EADDRINUSE;
        snprintf(why, why_size, "cannot listen: %s", strerror(err));
        ret = AVERROR(err);
        goto end;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    int port = di ? di->port : o->port;
    char host[INET6_ADDRSTRLEN + 2];
    if (ss.ss_family == AF_INET6) {
        char a[INET6_ADDRSTRLEN];
        const struct in6_addr *in6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        inet_ntop(AF_INET6, IN6_IS_ADDR_UNSPECIFIED(in6) ? &in6addr_loopback : in6, a,
                  sizeof(a));
        snprintf(host, sizeof(host), "[%s]", a);
    } else {
        struct in_addr in = ((struct sockaddr_in *)&ss)->sin_addr;
        /* a wildcard address is no address to hand out: name the loopback */
        if (in.s_addr == htonl(INADDR_ANY))
            in.s_addr = htonl(INADDR_LOOPBACK);
        inet_ntop(AF_INET, &in, host, sizeof(host));
    }
    snprintf(s->base_url, sizeof(s->base_url), "http://%s:%d", host, port);

    sv_event(s, "listening", json_pack("{ss+sisb}", "url", s->base_url, "/", "port", port,
                                       "auth", s->has_token),
             "listening on %s/ (%s)", s->base_url,
             s->has_token ? "the API needs the Bearer token of --token-file"
                          : "no token file: loopback only, no authentication");
    if (s->has_token) {
        char link[512], url[1024];
        int64_t expires = sv_now_s() + 86400;
        if (sv_link(s, "/", expires, link, sizeof(link)) == 0) {
            snprintf(url, sizeof(url), "%s%s", s->base_url, link);
            sv_event(s, "dashboard", json_pack("{sssI}", "url", url, "expires",
                                               (json_int_t)expires),
                     "dashboard (valid 24 h): %s", url);
        }
    }

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    sv_event(s, "draining", json_pack("{sssI}", "signal", name, "grace_ms",
                                      (json_int_t)o->drain_grace_ms),
             "%s: draining (running jobs get %g s to finish)", name,
             (double)o->drain_grace_ms / 1000);
    atomic_store(&s->draining, 1);
    MHD_socket lfd = MHD_quiesce_daemon(s->mhd);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    vp_service_drain(s->svc, o->drain_grace_ms);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    sv_event(s, "stopped", NULL, "stopped");
    ret = 0;

end:
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    pthread_mutex_destroy(&s->event_lock);
    free(s);
    return ret;
}
