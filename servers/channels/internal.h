/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the concept files of the channels server share: the server's state, the route
 * handlers, and the reply helpers. One loop thread runs everything here; the only other
 * threads are the library's producers (they call a viewer's notify, which only activates
 * an event) and the ad-list workers (api.c), which hand their result back through an event.
 *
 *   server.c   libevent setup, the route table, signals, stop, reply helpers, the log
 *   stream.c   the continuous MPEG-TS of a channel to each viewer (zero-copy fan-out)
 *   hls.c      the live playlist (waits for the first segments) and the segments
 *   iptv.c     M3U, XMLTV and the HDHomeRun emulation
 *   api.c      the JSON API, and the ad-list update on a worker thread
 *   metrics.c  Prometheus text
 */
#ifndef VIDPIPE_SERVERS_CHANNELS_INTERNAL_H
#define VIDPIPE_SERVERS_CHANNELS_INTERNAL_H

#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "server.h"

/* A viewer pulls chunks from its ring only while less than this waits in its socket's
 * output buffer: the rest of the backlog stays in the ring (shared by every viewer), where
 * a viewer that cannot keep up falls out (VP_ERR_BEHIND) instead of growing our memory. */
#define CHS_WATERMARK (256 << 10)
/* A viewer socket's kernel send buffer (Linux doubles it): without a cap the kernel takes
 * up to tcp_wmem's maximum (4 MiB, about 100 s of a 300 kb/s channel) before a client that
 * reads nothing blocks our writes, so it would hold that much memory and fall behind the
 * ring only after minutes. 128 KiB is 0.5 s at 2 Mb/s, enough for a reader on a LAN. */
#define CHS_SNDBUF (128 << 10)
/* Seconds after which idle keep-alive connections and clients that stall mid-request are
 * closed. */
#define CHS_IDLE_TIMEOUT 60

/* Counters kept by the server per channel number (the library counts the rest). */
typedef struct ChsStats {
    int number;
    int64_t sent;            /* stream bytes handed to viewers' sockets */
    int64_t connected;       /* viewers that connected */
    int64_t dropped;         /* viewers dropped for being too slow */
} ChsStats;

typedef struct ChsViewer ChsViewer;
typedef struct ChsWait ChsWait;
typedef struct ChServer ChServer;
/* One attempt at answering a request for @p channel: 1 when it was answered (or failed for
 * good), 0 to try again; @p last: answer whatever happens (hls.c, chs_wait_for). */
typedef int (*ChsTry)(ChServer *s, struct evhttp_request *req, int channel, int last);
typedef struct ChsAdsJob ChsAdsJob;

struct ChServer {
    ChsOpts o;
    VpChannels *ch;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    struct event *signals[3];
    struct event *stop_check;
    char listen_addr[80];    /* "127.0.0.1:8409", "[::1]:8409": the fallback for Host */
    char device_id[9];       /* HDHomeRun DeviceID: 8 hex digits, stable for a config */
    int stopping;
    int64_t stop_deadline;   /* vpi_now_us() after which the stop waits no longer */
    ChsViewer *viewers;      /* streams and streams being finished (stream.c) */
    ChsWait *waits;          /* playlist requests waiting for the first segments (hls.c) */
    ChsAdsJob *jobs;         /* ad-list updates in progress (api.c) */
    ChsStats *stats;
    int nb_stats, cap_stats;
};

/* A route's handler; @p args are the numbers its path holds ("/api/channels/#/ads"). */
typedef void (*ChsHandler)(ChServer *s, struct evhttp_request *req, const int64_t *args);

/* ---- server.c ---------------------------------------------------------------------------- */

/* A line for the log (printf format) with its JSON form @p ev (reference stolen; NULL: an
 * object with just "event": @p name). */
void chs_event(ChServer *s, const char *name, json_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* @p body (stolen) as the reply, application/json. */
void chs_reply_json(struct evhttp_request *req, int code, json_t *body);
/* {"error": "..."} with @p code. */
void chs_reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* @p len bytes of @p text (copied) with its content type; CORS open, no caching. */
void chs_reply_text(struct evhttp_request *req, const char *ctype, const char *text,
                    size_t len);
/* Headers every media reply carries: Access-Control-Allow-Origin: *, and @p ctype. */
void chs_media_headers(struct evhttp_request *req, const char *ctype);
/* "http://HOST" as the client addressed us (its Host header when it is a plain host[:port],
 * else the listen address): the base of every absolute URL we hand out. */
void chs_base_url(ChServer *s, struct evhttp_request *req, char *buf, size_t size);
/* The peer as "ADDR:PORT". */
void chs_peer(struct evhttp_request *req, char *buf, size_t size);
/* The server's counters of channel @p number (created at zero); NULL when out of memory. */
ChsStats *chs_stats(ChServer *s, int number);
/* @p us (wall time) as ISO 8601 UTC with milliseconds: "2026-01-01T00:00:00.000Z". */
void chs_iso_time(int64_t us, char buf[48]);
/* A channel number from a path: -1 when out of int range (no such channel then). */
int chs_channel_arg(int64_t v);
/* Stop when the last stream is finished (called as streams and jobs end while stopping). */
void chs_stop_progress(ChServer *s);

/* ---- stream.c ---------------------------------------------------------------------------- */

void chs_stream_open(ChServer *s, struct evhttp_request *req, const int64_t *args);
/* Requests for a channel that is not on air yet (ingest running, first segments not made)
 * wait for it rather than fail: retried every 100 ms for up to 10 s. */
void chs_wait_for(ChServer *s, struct evhttp_request *req, int channel, ChsTry attempt);
/* Stop: end every stream (the last chunk is sent, then the terminating empty chunk). */
void chs_stream_stop_all(ChServer *s);
/* Streams still being finished (or open). */
int chs_stream_count(const ChServer *s);
/* After the loop: forget the streams (their requests go with evhttp_free). */
void chs_stream_free_all(ChServer *s);

/* ---- hls.c ------------------------------------------------------------------------------- */

void chs_hls_playlist(ChServer *s, struct evhttp_request *req, const int64_t *args);
void chs_hls_segment(ChServer *s, struct evhttp_request *req, const int64_t *args);
/* Stop: answer every waiting playlist request with 503. */
void chs_hls_stop_all(ChServer *s);

/* ---- iptv.c ------------------------------------------------------------------------------ */

void chs_iptv_m3u(ChServer *s, struct evhttp_request *req, const int64_t *args);
void chs_iptv_xmltv(ChServer *s, struct evhttp_request *req, const int64_t *args);
void chs_hdhr_discover(ChServer *s, struct evhttp_request *req, const int64_t *args);
void chs_hdhr_device(ChServer *s, struct evhttp_request *req, const int64_t *args);
void chs_hdhr_lineup(ChServer *s, struct evhttp_request *req, const int64_t *args);
void chs_hdhr_status(ChServer *s, struct evhttp_request *req, const int64_t *args);
void chs_hdhr_scan(ChServer *s, struct evhttp_request *req, const int64_t *args);

/* ---- api.c ------------------------------------------------------------------------------- */

void chs_api_list(ChServer *s, struct evhttp_request *req, const int64_t *args);
void chs_api_channel(ChServer *s, struct evhttp_request *req, const int64_t *args);
void chs_api_schedule(ChServer *s, struct evhttp_request *req, const int64_t *args);
void chs_api_put_ads(ChServer *s, struct evhttp_request *req, const int64_t *args);
/* Ad-list updates still running. */
int chs_api_jobs(const ChServer *s);
/* After the loop: wait for the workers, free the jobs. */
void chs_api_free_all(ChServer *s);

/* ---- metrics.c --------------------------------------------------------------------------- */

void chs_metrics(ChServer *s, struct evhttp_request *req, const int64_t *args);

#endif /* VIDPIPE_SERVERS_CHANNELS_INTERNAL_H */
