/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live HLS (GET /iptv/channel/N.m3u8 and /iptv/channel/N/SEQ.ts). The library writes the
 * playlist and keeps the segments in memory; this file serves them. A channel's first
 * playlist request is also what starts its producer, and a playlist needs three segments:
 * rather than fail that request, it waits (re-checked every 100 ms, up to 10 s), so a
 * player's first load succeeds. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <libavutil/error.h>

#include "helpers.h"
#include "internal.h"

#define CHS_HLS_RETRY_US 100000
#define CHS_HLS_WAIT_US 10000000

struct ChsWait {
    ChServer *s;
    ChsTry attempt;          /* answers the request: 1 when it did */
    ChsWait *prev, *next;
    struct evhttp_request *req;
    struct event *timer;
    int channel;
    int64_t deadline;
};

static void free_wait(ChsWait *w)
{
    ChServer *s = w->s;
    if (w->prev)
        w->prev->next = w->next;
    else if (s->waits == w)
        s->waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
    if (w->timer)
        event_free(w->timer);
    free(w);
}

static void send_playlist(struct evhttp_request *req, char *text)
{
    chs_reply_text(req, "application/vnd.apple.mpegurl", text, strlen(text));
    free(text);
}

static void reply_not_ready(struct evhttp_request *req, int channel)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    chs_reply_error(req, 503, "channel %d: no HLS segments yet", channel);
}

/* One attempt: 1 when the request was answered. */
static int try_playlist(ChServer *s, struct evhttp_request *req, int channel, int last)
{
    char prefix[32], *text = NULL;
    snprintf(prefix, sizeof(prefix), "%d/", channel);
    int r = vp_channel_hls_playlist(s->ch, channel, prefix, &text);
    if (r >= 0 && text) {
        send_playlist(req, text);
        return 1;
    }
    free(text);
    if (r == AVERROR(EAGAIN)) {
        if (!last)
            return 0;
        reply_not_ready(req, channel);
    } else if (r == AVERROR(ENOENT)) {
        chs_reply_error(req, 404, "no channel %d", channel);
    } else {
        chs_reply_error(req, 500, "channel %d: %s", channel, vp_strerror(r < 0 ? r : AVERROR_BUG));
    }
    return 1;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    ChsWait *w = arg;
    (void)fd;
    (void)what;
    if (w->attempt(w->s, w->req, w->channel, vpi_now_us() >= w->deadline))
        free_wait(w);
}

/* Answer @p req by @p attempt now, or keep trying every 100 ms for up to 10 s (the last try
 * answers whatever happens). */
void chs_wait_for(ChServer *s, struct evhttp_request *req, int channel, ChsTry attempt)
{
    if (attempt(s, req, channel, 0))
        return;
    ChsWait *w = calloc(1, sizeof(*w));
    struct timeval tv = { 0, CHS_HLS_RETRY_US };
    if (!w || !(w->timer = event_new(s->base, -1, EV_PERSIST, on_retry, w)) ||
        event_add(w->timer, &tv) < 0) {
        if (w && w->timer)
            event_free(w->timer);
        free(w);
        attempt(s, req, channel, 1);
        return;
    }
    w->s = s;
    w->attempt = attempt;
    w->req = req;
    w->channel = channel;
    w->deadline = vpi_now_us() + CHS_HLS_WAIT_US;
    w->next = s->waits;
    if (s->waits)
        s->waits->prev = w;
    s->waits = w;
    /* libevent 2.1 leaves the connection reading while a GET is being answered, and data
     * arriving then (a pipelined request) is fatal to it: not reading until the reply
     * goes out is safe, as the reply re-enables reading. */
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    if (c)
        bufferevent_disable(evhttp_connection_get_bufferevent(c), EV_READ);
}

void chs_hls_playlist(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    int channel = chs_channel_arg(args[0]);
    if (channel < 0) {
        chs_reply_error(req, 404, "no channel %lld", (long long)args[0]);
        return;
    }
    chs_wait_for(s, req, channel, try_playlist);
}

void chs_hls_stop_all(ChServer *s)
{
    while (s->waits) {
        ChsWait *w = s->waits;
        evhttp_add_header(evhttp_request_get_output_headers(w->req), "Connection", "close");
        chs_reply_error(w->req, 503, "the server is stopping");
        free_wait(w);
    }
}

static void segment_sent(const void *data, size_t len, void *extra)
{
    VpChunk *c = extra;
    (void)data;
    (void)len;
    vp_chunk_unref(&c);
}

void chs_hls_segment(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    int channel = chs_channel_arg(args[0]);
    VpChunk *seg = NULL;
    int r = channel < 0 ? AVERROR(ENOENT) : vp_channel_hls_segment(s->ch, channel, args[1], &seg);
    if (r == AVERROR(ENOENT)) {
        if (channel >= 0 && vp_channels_find(s->ch, channel) >= 0)
            chs_reply_error(req, 404, "channel %d: no segment %lld (not made yet, or it left "
                            "the window)", channel, (long long)args[1]);
        else
            chs_reply_error(req, 404, "no channel %lld", (long long)args[0]);
        return;
    }
    if (r < 0 || !seg) {
        chs_reply_error(req, 500, "channel %d: %s", channel, vp_strerror(r < 0 ? r : AVERROR_BUG));
        return;
    }
    size_t size;
    const uint8_t *data = vp_chunk_data(seg, &size);
    struct evbuffer *b = evbuffer_new();
    if (!b || evbuffer_add_reference(b, data, size, segment_sent, seg) < 0) {
        vp_chunk_unref(&seg);
        if (b)
            evbuffer_free(b);
        chs_reply_error(req, 500, "out of memory");
        return;
    }
    chs_media_headers(req, "video/mp2t");
    /* a segment never changes once made */
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "max-age=60");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}
