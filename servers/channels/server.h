/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The channels HTTP server (vidpipe channels): IPTV, HLS, HDHomeRun, the JSON API and the
 * metrics of one VpChannels, on one libevent loop thread. Built on the public API
 * (vidpipe/channels.h) alone; docs/channels.md describes it. */
#ifndef VIDPIPE_SERVERS_CHANNELS_SERVER_H
#define VIDPIPE_SERVERS_CHANNELS_SERVER_H

#include <jansson.h>

#include "vidpipe/channels.h"

/* One event of the server's life: a line for a person, and the same as a JSON object
 * ({"event": "viewer_connected", "channel": 1, "client": "127.0.0.1:5012", ...}). Both are
 * only valid during the call. Called from the loop thread. */
typedef void (*ChsEventFn)(void *opaque, const char *line, json_t *event);

typedef struct ChsOpts {
    VpChannels *channels;    /* served; the caller keeps ownership */
    const char *host;        /* numeric address to listen on ("127.0.0.1", "::", "0.0.0.0") */
    int port;                /* 0: any free port (the "listening" event names it) */
    size_t max_pending;      /* a viewer with more output than this waiting to be sent is
                                dropped (default 16 MiB) */
    const char *id_seed;     /* text the HDHomeRun DeviceID is derived from (the config's
                                path): the same config keeps its device in Plex */
    ChsEventFn on_event;
    void *opaque;
} ChsOpts;

/* Listen, serve until SIGTERM or SIGINT (SIGHUP reloads the config), then end every
 * viewer's stream cleanly and return 0. Before serving: a negative AVERROR and one line in
 * @p why (the address cannot be bound). The first event is "listening". Installs libevent's
 * pthread locking (evthread_use_pthreads) for the process. */
int chs_run(const ChsOpts *o, char *why, size_t why_size);

#endif /* VIDPIPE_SERVERS_CHANNELS_SERVER_H */
