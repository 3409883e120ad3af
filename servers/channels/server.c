/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The channels server's frame: the libevent loop and its HTTP server, the route table,
 * signals (SIGHUP reloads, SIGTERM/SIGINT stop), the stop that lets every stream finish,
 * and the helpers every route replies with. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <libavutil/error.h>

#include "helpers.h"
#include "internal.h"
#include "route.h"
#include "json_text.h"

/* How long a stop waits for streams to flush their last bytes to slow clients. */
#define CHS_STOP_WAIT_US 3000000
/* Request bodies (the ad list) are small; anything larger is refused by libevent (413). */
#define CHS_MAX_BODY (1 << 20)

enum { M_GET = 1, M_PUT = 2, M_POST = 4 };

typedef struct ChsRoute {
    const char *path;        /* '#' stands for a decimal number */
    int methods;             /* GET also answers HEAD */
    ChsHandler fn;
} ChsRoute;

static const ChsRoute routes[] = {
    { "/iptv/channels.m3u",       M_GET,  chs_iptv_m3u },
    { "/iptv/xmltv.xml",          M_GET,  chs_iptv_xmltv },
    { "/iptv/channel/#.ts",       M_GET,  chs_stream_open },
    { "/iptv/channel/#.m3u8",     M_GET,  chs_hls_playlist },
    { "/iptv/channel/#/#.ts",     M_GET,  chs_hls_segment },
    { "/discover.json",           M_GET,  chs_hdhr_discover },
    { "/device.xml",              M_GET,  chs_hdhr_device },
    { "/lineup.json",             M_GET,  chs_hdhr_lineup },
    { "/lineup_status.json",      M_GET,  chs_hdhr_status },
    { "/lineup.post",             M_POST, chs_hdhr_scan },
    { "/api/channels",            M_GET,  chs_api_list },
    { "/api/channels/#",          M_GET,  chs_api_channel },
    { "/api/channels/#/schedule", M_GET,  chs_api_schedule },
    { "/api/channels/#/ads",      M_PUT,  chs_api_put_ads },
    { "/metrics",                 M_GET,  chs_metrics },
};

static int method_bit(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
    case EVHTTP_REQ_HEAD: return M_GET;
    case EVHTTP_REQ_PUT: return M_PUT;
    case EVHTTP_REQ_POST: return M_POST;
    default: return 0;
    }
}

static const char *allow_of(int methods)
{
    return methods == M_GET ? "GET, HEAD" : methods == M_PUT ? "PUT" : "POST";
}

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "?";
    }
}

/* A browser's CORS preflight before a PUT from another origin (a web control panel). */
static void preflight(struct evhttp_request *req, int methods)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    evhttp_add_header(h, "Access-Control-Allow-Methods", allow_of(methods));
    evhttp_add_header(h, "Access-Control-Allow-Headers", "Content-Type");
    evhttp_add_header(h, "Access-Control-Max-Age", "86400");
    evhttp_add_header(h, "Allow", allow_of(methods));
    evhttp_send_reply(req, 204, "No Content", NULL);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    ChServer *s = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    int64_t args[2] = { 0, 0 };

    if (!path) {
        chs_reply_error(req, 400, "bad request");
        return;
    }
    if (s->o.on_event) {
        /* the path as a log line may show: no control characters (a terminal's escapes) */
        char peer[80], shown[512];
        size_t n = 0;
        for (const char *p = path; *p && n < sizeof(shown) - 1; p++)
            shown[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
        shown[n] = 0;
        chs_peer(req, peer, sizeof(peer));
        json_t *ev = json_object();
        if (ev) {
            json_object_set_new(ev, "method",
                                json_string(method_name(evhttp_request_get_command(req))));
            vpi_json_set_text(ev, "path", shown);
            json_object_set_new(ev, "client", json_string(peer));
        }
        chs_event(s, "request", ev, "%s %s from %s",
                  method_name(evhttp_request_get_command(req)), shown, peer);
    }
    if (s->stopping) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        chs_reply_error(req, 503, "the server is stopping");
        return;
    }
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const ChsRoute *r = &routes[i];
        if (!chs_route_match(r->path, path, args))
            continue;
        if (evhttp_request_get_command(req) == EVHTTP_REQ_OPTIONS) {
            preflight(req, r->methods);
            return;
        }
        if (!(method_bit(evhttp_request_get_command(req)) & r->methods)) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                              allow_of(r->methods));
            chs_reply_error(req, 405, "%s: method not allowed", path);
            return;
        }
        r->fn(s, req, args);
        return;
    }
    chs_reply_error(req, 404, "%s: no such route", path);
}

/* ---- replies ------------------------------------------------------------------------------ */

void chs_media_headers(struct evhttp_request *req, const char *ctype)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
}

void chs_reply_text(struct evhttp_request *req, const char *ctype, const char *text,
                    size_t len)
{
    struct evbuffer *b = evbuffer_new();
    if (!b || evbuffer_add(b, text, len) < 0) {
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    chs_media_headers(req, ctype);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static const char *reason_of(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 204: return "No Content";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
    }
}

void chs_reply_json(struct evhttp_request *req, int code, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(body);
    struct evbuffer *b = evbuffer_new();
    if (!text || !b || evbuffer_add(b, text, strlen(text)) < 0 || evbuffer_add(b, "\n", 1) < 0) {
        free(text);
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    free(text);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_send_reply(req, code, reason_of(code), b);
    evbuffer_free(b);
}

void chs_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *o = json_object();
    if (o)
        vpi_json_set_text(o, "error", msg);
    chs_reply_json(req, code, o);
}

/* A Host header we may echo into URLs: a host name, IPv4, or [IPv6], and a port. Anything
 * else (spaces, quotes, a path) would let a client write into our playlists. */
static int host_ok(const char *h)
{
    size_t n = strlen(h);
    if (!n || n > 255)
        return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || strchr(".-:[]_", *p)))
            return 0;
    return 1;
}

void chs_base_url(ChServer *s, struct evhttp_request *req, char *buf, size_t size)
{
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    snprintf(buf, size, "http://%s", host && host_ok(host) ? host : s->listen_addr);
}

void chs_peer(struct evhttp_request *req, char *buf, size_t size)
{
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (c)
        evhttp_connection_get_peer(c, &addr, &port);
    if (addr && strchr(addr, ':'))
        snprintf(buf, size, "[%s]:%u", addr, port);
    else
        snprintf(buf, size, "%s:%u", addr ? addr : "?", port);
}

ChsStats *chs_stats(ChServer *s, int number)
{
    for (int i = 0; i < s->nb_stats; i++)
        if (s->stats[i].number == number)
            return &s->stats[i];
    if (s->nb_stats == s->cap_stats) {
        int cap = s->cap_stats ? 2 * s->cap_stats : 16;
        ChsStats *n = realloc(s->stats, (size_t)cap * sizeof(*n));
        if (!n)
            return NULL;
        s->stats = n;
        s->cap_stats = cap;
    }
    ChsStats *st = &s->stats[s->nb_stats++];
    memset(st, 0, sizeof(*st));
    st->number = number;
    return st;
}

void chs_iso_time(int64_t us, char buf[48])
{
    int64_t sec = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int ms = (int)((us - sec * 1000000) / 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

int chs_channel_arg(int64_t v)
{
    return v > INT_MAX ? -1 : (int)v;
}

void chs_event(ChServer *s, const char *name, json_t *ev, const char *fmt, ...)
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
    if (s->o.on_event)
        s->o.on_event(s->o.opaque, line, ev);
    json_decref(ev);
}

/* ---- signals and stop --------------------------------------------------------------------- */

void chs_stop_progress(ChServer *s)
{
    if (!s->stopping)
        return;
    if ((chs_stream_count(s) == 0 && chs_api_jobs(s) == 0) || vpi_now_us() > s->stop_deadline)
        event_base_loopbreak(s->base);
}

static void on_stop_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    chs_stop_progress(arg);
}

static void stop(ChServer *s, const char *why)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    s->stop_deadline = vpi_now_us() + CHS_STOP_WAIT_US;
    chs_event(s, "stopping", json_pack("{ss}", "reason", why), "stopping (%s)", why);
    if (s->sock) {
        evhttp_del_accept_socket(s->http, s->sock);
        s->sock = NULL;
    }
    chs_stream_stop_all(s);
    chs_hls_stop_all(s);
    struct timeval tv = { 0, 20000 };
    s->stop_check = event_new(s->base, -1, EV_PERSIST, on_stop_check, s);
    if (!s->stop_check || event_add(s->stop_check, &tv) < 0)
        event_base_loopbreak(s->base);
    chs_stop_progress(s);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    ChServer *s = arg;
    (void)what;
    if (sig == SIGHUP) {
        VpFailure fail;
        int r = vp_channels_reload(s->ch, &fail);
        if (r < 0)
            chs_event(s, "reload_failed", json_pack("{ss}", "error", fail.message),
                      "config not reloaded, the running one is kept: %s",
                      *fail.message ? fail.message : vp_strerror(r));
        else
            chs_event(s, "reloaded", NULL, "config reloaded");
        return;
    }
    stop(s, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ---- setup -------------------------------------------------------------------------------- */

static void device_id(const char *seed, char out[9])
{
    /* FNV-1a: stable across runs and machines for the same config path */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)(seed ? seed : ""); *p; p++)
        h = (h ^ *p) * 16777619u;
    snprintf(out, 9, "%08X", h);
}

static int listen_on(ChServer *s, char *why, size_t why_size)
{
    s->sock = evhttp_bind_socket_with_handle(s->http, s->o.host, (ev_uint16_t)s->o.port);
    if (!s->sock) {
        int err = errno;
        snprintf(why, why_size, "cannot listen on %s:%d: %s", s->o.host, s->o.port,
                 err ? strerror(err) : "bind failed");
        return AVERROR(err ? err : EADDRNOTAVAIL);
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "";
    int port = s->o.port;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(s->sock);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        } else if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        }
    }
    if (!*host)
        snprintf(host, sizeof(host), "%s", s->o.host);
    /* A wildcard address is no address to hand out: the Host header is used instead, and
     * this fallback names the loopback. */
    if (!strcmp(host, "0.0.0.0"))
        snprintf(host, sizeof(host), "127.0.0.1");
    else if (!strcmp(host, "::"))
        snprintf(host, sizeof(host), "::1");
    snprintf(s->listen_addr, sizeof(s->listen_addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
             host, port);
    return 0;
}

static void libevent_log(int severity, const char *msg)
{
    /* libevent's own warnings (accept failures when out of descriptors): one line each */
    if (severity >= EVENT_LOG_WARN)
        fprintf(stderr, "vidpipe: libevent: %s\n", msg);
}

int chs_run(const ChsOpts *o, char *why, size_t why_size)
{
    ChServer s = { .o = *o, .ch = o->channels };
    int ret = 0;
    if (!s.o.max_pending)
        s.o.max_pending = 16 << 20;
    device_id(o->id_seed, s.device_id);
    event_set_log_callback(libevent_log);
    if (evthread_use_pthreads() < 0 || !(s.base = event_base_new()) ||
        !(s.http = evhttp_new(s.base))) {
        snprintf(why, why_size, "cannot start the event loop (out of memory)");
        ret = AVERROR(ENOMEM);
        goto end;
    }
    evhttp_set_allowed_methods(s.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                               EVHTTP_REQ_POST | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                               EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(s.http, CHS_MAX_BODY);
    evhttp_set_timeout(s.http, CHS_IDLE_TIMEOUT);
    evhttp_set_gencb(s.http, on_request, &s);
    if ((ret = listen_on(&s, why, why_size)) < 0)
        goto end;

    static const int sigs[3] = { SIGHUP, SIGTERM, SIGINT };
    for (int i = 0; i < 3; i++) {
        /* A signal the parent ignores stays ignored (a background job's SIGINT). */
        struct sigaction old;
        if (sigs[i] == SIGINT && sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        s.signals[i] = evsignal_new(s.base, sigs[i], on_signal, &s);
        if (!s.signals[i] || event_add(s.signals[i], NULL) < 0) {
            snprintf(why, why_size, "cannot install the signal handlers");
            ret = AVERROR(ENOMEM);
            goto end;
        }
    }
    /* A viewer that goes away mid-write must not kill the process. */
    signal(SIGPIPE, SIG_IGN);

    chs_event(&s, "listening", json_pack("{ss+}", "url", "http://", s.listen_addr),
              "listening on http://%s", s.listen_addr);
    if (event_base_dispatch(s.base) < 0) {
        snprintf(why, why_size, "the event loop failed");
        ret = AVERROR_BUG;
    }

end:
    chs_api_free_all(&s);
    chs_hls_stop_all(&s);
    chs_stream_free_all(&s);
    for (int i = 0; i < 3; i++)
        if (s.signals[i])
            event_free(s.signals[i]);
    if (s.stop_check)
        event_free(s.stop_check);
    if (s.http)
        evhttp_free(s.http);
    if (s.base)
        event_base_free(s.base);
    free(s.stats);
    return ret;
}
