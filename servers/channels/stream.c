/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The continuous stream (GET /iptv/channel/N.ts): one chunked HTTP reply per viewer, fed
 * from the channel's ring without a copy. The producer thread only wakes the viewer's
 * event (event_active is thread-safe once evthread_use_pthreads ran); the loop thread then
 * takes the new chunks and hands their bytes to the socket's output buffer by reference
 * (evbuffer_add_reference), releasing each chunk once it is written. A viewer costs a
 * socket, an event and the references it holds: no thread and no copy. */
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <libavutil/error.h>

#include "helpers.h"
#include "internal.h"

/* A socket that accepts nothing for this long is closed (the ring drops it long before
 * when the channel is producing). */
#define CHS_WRITE_TIMEOUT 60
/* A viewer whose socket takes nothing while a full watermark waits for it is dropped after
 * as long as the ring holds (channels.h: at least 10 s). Without this a stalled client
 * would never be told it fell out of the ring: it only learns that when it reads. */
#define CHS_STALL_US 10000000

enum { VIEWER_ACTIVE, VIEWER_FLUSHING };

struct ChsViewer {
    ChServer *s;
    ChsViewer *prev, *next;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;   /* NULL once the connection is gone */
    VpViewer *v;
    struct event *wake;
    struct evbuffer *out;              /* chunk references on their way to the socket */
    int state;
    int channel;
    char client[80];
    int64_t bytes;
    int64_t opened_us;
    int64_t full_since;                /* vpi_now_us() since when the watermark is reached */
};

static void link_viewer(ChServer *s, ChsViewer *vw)
{
    vw->next = s->viewers;
    if (s->viewers)
        s->viewers->prev = vw;
    s->viewers = vw;
}

static void free_viewer(ChsViewer *vw)
{
    ChServer *s = vw->s;
    if (vw->prev)
        vw->prev->next = vw->next;
    else if (s->viewers == vw)
        s->viewers = vw->next;
    if (vw->next)
        vw->next->prev = vw->prev;
    vp_viewer_close(&vw->v);
    if (vw->wake)
        event_free(vw->wake);
    if (vw->out)
        evbuffer_free(vw->out);
    free(vw);
    chs_stop_progress(s);
}

/* Producer thread: new chunks are in the ring. */
static void on_notify(void *opaque)
{
    ChsViewer *vw = opaque;
    event_active(vw->wake, EV_READ, 0);
}

static void chunk_written(const void *data, size_t len, void *extra)
{
    VpChunk *c = extra;
    (void)data;
    (void)len;
    vp_chunk_unref(&c);
}

static void on_complete(struct evhttp_request *req, void *arg)
{
    ChsViewer *vw = arg;
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    if (c) {
        /* the connection may serve more requests: as any other, with a read timeout */
        evhttp_connection_set_closecb(c, NULL, NULL);
        evhttp_connection_set_timeout(c, CHS_IDLE_TIMEOUT);
    }
    free_viewer(vw);
}

enum { END_CLOSED, END_DROPPED };

/* End the viewer's stream: release the ring, send the terminating chunk. */
static void end_viewer(ChsViewer *vw, int how, const char *why)
{
    ChServer *s = vw->s;
    ChsStats *st = chs_stats(s, vw->channel);
    double secs = (vpi_now_us() - vw->opened_us) / 1e6;
    vp_viewer_close(&vw->v);
    if (vw->wake) {
        event_free(vw->wake);
        vw->wake = NULL;
    }
    if (how == END_DROPPED && st)
        st->dropped++;
    chs_event(s, how == END_DROPPED ? "viewer_dropped" : "viewer_closed",
              json_pack("{si ss ss sI sf}", "channel", vw->channel, "client", vw->client,
                        "reason", why, "bytes", (json_int_t)vw->bytes, "seconds", secs),
              "channel %d: viewer %s %s: %s (%lld bytes in %.1f s)", vw->channel, vw->client,
              how == END_DROPPED ? "dropped" : "closed", why, (long long)vw->bytes, secs);
    if (!vw->evcon) {
        /* the connection is gone: this frees the request libevent left to us */
        evhttp_send_reply_end(vw->req);
        free_viewer(vw);
        return;
    }
    if (how == END_DROPPED) {
        /* A viewer too slow for the ring would take as long to drain its last bytes:
         * close at once (the write then fails and libevent closes the connection, which
         * frees the viewer through on_close). */
        shutdown(bufferevent_getfd(evhttp_connection_get_bufferevent(vw->evcon)), SHUT_RDWR);
    }
    vw->state = VIEWER_FLUSHING;
    evhttp_request_set_on_complete_cb(vw->req, on_complete, vw);
    /* may complete (and free vw) at once for an HTTP/1.0 client with nothing pending */
    evhttp_send_reply_end(vw->req);
}

static void on_drained(struct evhttp_connection *c, void *arg);

/* Move what the ring has for the viewer into its socket's output buffer. */
static void pump(ChsViewer *vw)
{
    ChServer *s = vw->s;
    if (vw->state != VIEWER_ACTIVE || !vw->evcon)
        return;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(vw->evcon);
    size_t pending = evbuffer_get_length(bufferevent_get_output(bev));
    if (pending > s->o.max_pending) {
        char why[96];
        snprintf(why, sizeof(why), "too slow (%zu bytes waiting to be sent)", pending);
        end_viewer(vw, END_DROPPED, why);
        return;
    }
    if (pending >= CHS_WATERMARK) {
        int64_t now = vpi_now_us();
        if (!vw->full_since)
            vw->full_since = now;
        else if (now - vw->full_since > CHS_STALL_US)
            end_viewer(vw, END_DROPPED, "too slow (the socket took nothing for 10 s)");
        return;
    }
    vw->full_since = 0;
    size_t queued = 0;
    int r = 0;
    while (pending + queued < CHS_WATERMARK) {
        VpChunk *c = NULL;
        size_t size;
        r = vp_viewer_next(vw->v, &c);
        if (r <= 0)
            break;
        const uint8_t *data = vp_chunk_data(c, &size);
        if (!size) {
            vp_chunk_unref(&c);
            continue;
        }
        if (evbuffer_add_reference(vw->out, data, size, chunk_written, c) < 0) {
            vp_chunk_unref(&c);
            r = AVERROR(ENOMEM);
            break;
        }
        queued += size;
    }
    if (queued) {
        ChsStats *st = chs_stats(s, vw->channel);
        if (st)
            st->sent += (int64_t)queued;
        vw->bytes += (int64_t)queued;
        evhttp_send_reply_chunk_with_cb(vw->req, vw->out, on_drained, vw);
    }
    if (r == AVERROR_EOF)
        end_viewer(vw, END_CLOSED, "the channel ended");
    else if (r == VP_ERR_BEHIND)
        end_viewer(vw, END_DROPPED, "too slow (fell behind the live stream)");
    else if (r < 0)
        end_viewer(vw, END_DROPPED, vp_strerror(r));
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

/* The socket took everything we had queued: room for more. */
static void on_drained(struct evhttp_connection *c, void *arg)
{
    (void)c;
    pump(arg);
}

static void on_close(struct evhttp_connection *c, void *arg)
{
    ChsViewer *vw = arg;
    (void)c;
    vw->evcon = NULL;
    if (vw->state == VIEWER_ACTIVE)
        end_viewer(vw, END_CLOSED, "disconnected");
    else
        free_viewer(vw);    /* libevent frees the finished request with the connection */
}

static int try_stream(ChServer *s, struct evhttp_request *req, int number, int last);

void chs_stream_open(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    int number = chs_channel_arg(args[0]);
    if (number < 0 || vp_channels_find(s->ch, number) < 0) {
        chs_reply_error(req, 404, "no channel %lld", (long long)args[0]);
        return;
    }
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        chs_media_headers(req, "video/mp2t");
        evhttp_send_reply(req, 200, "OK", NULL);
        return;
    }
    chs_wait_for(s, req, number, try_stream);
}

/* One attempt at starting a viewer (chs_wait_for): a channel still ingesting is waited for. */
static int try_stream(ChServer *s, struct evhttp_request *req, int number, int last)
{
    ChsViewer *vw = NULL;
    int r;
    if (!(vw = calloc(1, sizeof(*vw))) ||
        !(vw->wake = event_new(s->base, -1, 0, on_wake, vw)) || !(vw->out = evbuffer_new())) {
        r = AVERROR(ENOMEM);
        goto fail;
    }
    vw->s = s;
    vw->req = req;
    vw->channel = number;
    vw->opened_us = vpi_now_us();
    chs_peer(req, vw->client, sizeof(vw->client));
    r = vp_viewer_open(s->ch, number, on_notify, vw, &vw->v);
    if (r == AVERROR(EAGAIN) && !last) {
        event_free(vw->wake);
        evbuffer_free(vw->out);
        free(vw);
        return 0;
    }
    if (r < 0)
        goto fail;

    chs_media_headers(req, "video/mp2t");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    evhttp_send_reply_start(req, 200, "OK");
    vw->evcon = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(vw->evcon, on_close, vw);
    /* The request is read: the connection only watches for the client closing, so no read
     * timeout; a client that stops reading is caught by the write timeout. */
    struct timeval wt = { CHS_WRITE_TIMEOUT, 0 };
    struct bufferevent *bev = evhttp_connection_get_bufferevent(vw->evcon);
    bufferevent_set_timeouts(bev, NULL, &wt);
    int sndbuf = CHS_SNDBUF;
    setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    link_viewer(s, vw);
    ChsStats *st = chs_stats(s, number);
    if (st)
        st->connected++;
    chs_event(s, "viewer_connected", json_pack("{si ss}", "channel", number, "client",
                                               vw->client),
              "channel %d: viewer %s connected", number, vw->client);
    pump(vw);
    return 1;

fail:
    if (vw) {
        if (vw->wake)
            event_free(vw->wake);
        if (vw->out)
            evbuffer_free(vw->out);
        free(vw);
    }
    if (r == AVERROR(ENOENT)) {
        chs_reply_error(req, 404, "no channel %d", number);
    } else if (r == AVERROR(EAGAIN)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        chs_reply_error(req, 503, "channel %d is not on air yet", number);
    } else {
        chs_reply_error(req, 500, "channel %d: %s", number, vp_strerror(r));
    }
    return 1;
}

void chs_stream_stop_all(ChServer *s)
{
    ChsViewer *vw = s->viewers, *next;
    for (; vw; vw = next) {
        next = vw->next;
        if (vw->state == VIEWER_ACTIVE)
            end_viewer(vw, END_CLOSED, "the server is stopping");
    }
}

int chs_stream_count(const ChServer *s)
{
    int n = 0;
    for (const ChsViewer *vw = s->viewers; vw; vw = vw->next)
        n++;
    return n;
}

void chs_stream_free_all(ChServer *s)
{
    while (s->viewers) {
        ChsViewer *vw = s->viewers;
        if (vw->evcon)
            evhttp_connection_set_closecb(vw->evcon, NULL, NULL);
        if (vw->state == VIEWER_ACTIVE) {
            vp_viewer_close(&vw->v);
            if (!vw->evcon)
                evhttp_send_reply_end(vw->req);
        } else {
            evhttp_request_set_on_complete_cb(vw->req, NULL, NULL);
        }
        free_viewer(vw);
    }
}
