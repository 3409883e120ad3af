/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics: the Prometheus text exposition format (version 0.0.4), one series per
 * channel, labelled by number and name. */
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "internal.h"

/* A label value: backslash, quote and line feed escaped, as the format requires. */
static void label(struct evbuffer *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            evbuffer_add_printf(b, "\\%c", *s);
        else if (*s == '\n')
            evbuffer_add(b, "\\n", 2);
        else
            evbuffer_add(b, s, 1);
    }
}

enum { F_VIEWERS, F_RUNNING, F_READY, F_PRODUCED, F_SENT, F_CONNECTED, F_DROPPED, NB_F };

static const struct {
    const char *name, *type, *help;
} families[NB_F] = {
    { "vidpipe_channel_viewers", "gauge", "Viewers of the continuous stream now." },
    { "vidpipe_channel_producer_running", "gauge", "1 while the channel's producer runs." },
    { "vidpipe_channel_ready", "gauge", "1 once the channel is on air." },
    { "vidpipe_channel_produced_bytes", "gauge",
      "MPEG-TS bytes produced since the producer started." },
    { "vidpipe_channel_sent_bytes_total", "counter",
      "Stream bytes handed to viewers' sockets." },
    { "vidpipe_channel_viewers_connected_total", "counter", "Viewers that connected." },
    { "vidpipe_channel_viewers_dropped_total", "counter",
      "Viewers dropped for falling behind the live stream." },
};

void chs_metrics(ChServer *s, struct evhttp_request *req, const int64_t *args)
{
    (void)args;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        chs_reply_error(req, 500, "out of memory");
        return;
    }
    int n = vp_channels_count(s->ch);
    for (int f = 0; f < NB_F; f++) {
        evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                            families[f].name, families[f].type);
        for (int i = 0; i < n; i++) {
            VpChannelInfo ci;
            if (vp_channels_info(s->ch, i, &ci) < 0)
                continue;
            ChsStats *st = chs_stats(s, ci.number);
            long long v = 0;
            switch (f) {
            case F_VIEWERS: v = ci.viewers; break;
            case F_RUNNING: v = ci.running; break;
            case F_READY: v = ci.ready; break;
            case F_PRODUCED: v = ci.bytes_out; break;
            case F_SENT: v = st ? st->sent : 0; break;
            case F_CONNECTED: v = st ? st->connected : 0; break;
            case F_DROPPED: v = st ? st->dropped : 0; break;
            }
            evbuffer_add_printf(b, "%s{channel=\"%d\",name=\"", families[f].name, ci.number);
            label(b, ci.name);
            evbuffer_add_printf(b, "\"} %lld\n", v);
        }
    }
    chs_media_headers(req, "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}
