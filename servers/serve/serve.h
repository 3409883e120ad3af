/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job server (vidpipe serve): the HTTP API, media, metrics and dashboard of one
 * VpService, on libmicrohttpd. Built on the public API (vidpipe/service.h) alone;
 * docs/serve.md and vidpipe-serve(1) describe it. */
#ifndef VIDPIPE_SERVERS_SERVE_SERVE_H
#define VIDPIPE_SERVERS_SERVE_SERVE_H

#include <stdint.h>

#include <jansson.h>

#include "vidpipe/service.h"

/* One event of the server's life: a line for a person and the same as a JSON object
 * ({"event": "listening", "url": "http://127.0.0.1:8410/", "port": 8410}); both valid during
 * the call only. Called from any of the server's threads, one call at a time. */
typedef void (*SvEventFn)(void *opaque, const char *line, json_t *event);

typedef struct SvOpts {
    VpService *service;      /* served; the caller keeps ownership */
    const char *host;        /* address or name to listen on ("127.0.0.1", "::1", "0.0.0.0") */
    int port;                /* 0: any free port (the "listening" event names it) */
    const char *token;       /* the Bearer token the API requires, or NULL: then only a
                                loopback address may be listened on */
    int threads;             /* HTTP threads (0: 4, or twice the cores when more) */
    int timeout_s;           /* a connection idle this long is closed (0: 30 s) */
    int64_t drain_grace_ms;  /* what SIGTERM gives running jobs (vp_service_drain) */
    SvEventFn on_event;
    void *opaque;
} SvOpts;

/* What sv_run() checks of the address before it binds: it resolves, and is loopback when
 * there is no token. 0, or a negative AVERROR (EINVAL, EACCES) and one line in @p why. Lets
 * a caller refuse a bad address before it starts the service's workers. */
int sv_check_listen(const SvOpts *o, char *why, size_t why_size);

/*
 * Listen and serve until SIGTERM or SIGINT, then stop accepting connections, drain the
 * service (vp_service_drain(drain_grace_ms), while the open connections are still
 * answered), stop and return 0. The caller must have blocked SIGTERM and SIGINT in every
 * thread (before vp_service_open() starts the workers) so that this thread takes them.
 * Before serving: a negative AVERROR and one line in @p why (EINVAL: the address cannot be
 * resolved; EACCES: no token and not a loopback address; else the bind's error). The first
 * event is "listening"; with a token, a "dashboard" event carries a signed link to "/".
 */
int sv_run(const SvOpts *o, char *why, size_t why_size);

#endif /* VIDPIPE_SERVERS_SERVE_SERVE_H */
