/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe channels: TV channels over HTTP (continuous MPEG-TS, HLS, M3U/XMLTV, HDHomeRun)
 * from a config of episodes and ads; and --analyze, the break points a file offers. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/cli.h"
#include "common/commands.h"
#include "json_text.h"
#include "server.h"
#include "vidpipe/channels.h"

static int json_events;

/* Lines from the library (ingest, producers) and from the server: the log of a running
 * server, so they print without -v; -q keeps errors only. */
static void lib_log(void *opaque, int level, const char *msg)
{
    (void)opaque;
    cli_log_line(level, msg);
}

static void on_event(void *opaque, const char *line, json_t *ev)
{
    const char *name = ev ? json_string_value(json_object_get(ev, "event")) : NULL;
    (void)opaque;
    /* every request is an event too, for -v only */
    if (name && !strcmp(name, "request") && cli_verbosity < 1)
        return;
    if (cli_verbosity >= 0 || (name && !strcmp(name, "listening")))
        fprintf(stderr, "%s: %s\n", cli_prog, line);
    if (json_events && ev) {
        cli_json_line(ev, 0);
    }
}

/* One line naming @p path and why: the library's (which names the file) or ours. */
static void report_failure(const char *path, const VpFailure *fail, int err)
{
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (*fail->message && strstr(fail->message, *name ? name : path))
        cli_error("%s", fail->message);
    else
        cli_file_error(path, "%s", *fail->message ? fail->message : vp_strerror(err));
}

/* "1:23:45.678" */
static void clock_text(double secs, char *buf, size_t size)
{
    if (!isfinite(secs) || secs < 0)
        secs = 0;
    long long ms = llround(secs * 1000);
    snprintf(buf, size, "%lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60,
             ms / 1000 % 60, ms % 1000);
}

static int run_analyze(const char *path, int json)
{
    VpBreakPoint *pts = NULL;
    int nb = 0;
    VpFailure fail = { 0 };
    VpLogger lg = { lib_log, NULL, cli_verbosity > 0 ? VP_LOG_VERBOSE : VP_LOG_WARNING };
    int r = vp_channels_analyze(path, &lg, &pts, &nb, &fail);
    if (r < 0) {
        report_failure(path, &fail, r);
        free(pts);
        return cli_exit_for_error(r);
    }
    if (json) {
        CliJson j;
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_str(&j, "command", "channels");
        cj_str(&j, "input", path);
        cj_arr_begin(&j, "breaks");
        for (int i = 0; i < nb; i++) {
            cj_obj_begin(&j, NULL);
            cj_num(&j, "at", pts[i].at);
            cj_num(&j, "cut_at", pts[i].cut_at);
            cj_num(&j, "length", pts[i].length);
            cj_str(&j, "reason", pts[i].reason);
            cj_obj_end(&j);
        }
        cj_arr_end(&j);
        cj_obj_end(&j);
        cj_end(&j);
    } else {
        printf("%s: %d break point%s\n", path, nb, nb == 1 ? "" : "s");
        for (int i = 0; i < nb; i++) {
            char at[32], cut[32];
            clock_text(pts[i].at, at, sizeof(at));
            clock_text(pts[i].cut_at, cut, sizeof(cut));
            printf("  at %s (%.3f s)  cut at %s (%.3f s)  %s", at, pts[i].at, cut,
                   pts[i].cut_at, pts[i].reason);
            if (pts[i].length > 0)
                printf(", %.3f s", pts[i].length);
            printf("\n");
        }
    }
    free(pts);
    return CLI_EXIT_OK;
}

/* Each viewer is a socket: 500 of them do not fit the default soft limit of 1024
 * descriptors once the library's files are open, so take what the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int run_channels(int argc, char **argv)
{
    int json = 0, nb_pos = 0;
    const char *listen = "127.0.0.1:8409", *cache = NULL, *analyze = NULL;
    double offset = 0;
    const CliOpt opts[] = {
        { "listen", 'l', CLI_STR, &listen, "HOST:PORT",
          "address to serve on (default 127.0.0.1:8409; port 0: any free port)" },
        { "cache", 0, CLI_STR, &cache, "DIR",
          "where conformed items are kept (default CONFIG.cache beside CONFIG)" },
        { "json", 0, CLI_FLAG, &json, NULL,
          "events as JSON lines on stdout (--analyze: one document)" },
        { "analyze", 0, CLI_STR, &analyze, "FILE",
          "print FILE's break points (black + silence, chapters), exit" },
        { "clock-offset", 0, CLI_DOUBLE, &offset, "SECONDS",
          "play the schedules this far ahead of the clock (tests)",
          -1e9, 1e9 },
        { 0 },
    };
    int r = cli_parse(&cmd_channels, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;

    if (analyze) {
        if (nb_pos) {
            cli_error("channels: --analyze takes no config (see 'vidpipe channels --help')");
            return CLI_EXIT_USAGE;
        }
        return run_analyze(analyze, json);
    }
    if (nb_pos != 1) {
        cli_error("channels: %s (see 'vidpipe channels --help')",
                  nb_pos ? "one config file only" : "no config file");
        return CLI_EXIT_USAGE;
    }
    const char *config = argv[1];
    char host[256];
    int port;
    if (cli_parse_listen("channels", listen, host, sizeof(host), &port) < 0)
        return CLI_EXIT_USAGE;

    VpChannelsOpts co;
    vp_channels_default_opts(&co);
    co.cache_dir = cache;
    co.now_offset_us = (int64_t)llround(offset * 1e6);
    co.logger = (VpLogger){ lib_log, NULL, cli_verbosity > 0 ? VP_LOG_VERBOSE : VP_LOG_INFO };
    VpChannels *ch = NULL;
    VpFailure fail = { 0 };
    if ((r = vp_channels_open(config, &co, &ch, &fail)) < 0) {
        report_failure(config, &fail, r);
        return cli_exit_for_error(r);
    }
    raise_fd_limit();
    json_events = json;
    char seed[PATH_MAX], why[512] = "";
    if (!realpath(config, seed))
        snprintf(seed, sizeof(seed), "%s", config);
    ChsOpts so = {
        .channels = ch, .host = host, .port = port, .id_seed = seed,
        .on_event = on_event,
    };
    r = chs_run(&so, why, sizeof(why));
    vp_channels_close(&ch);
    if (r < 0) {
        cli_error("channels: %s", why);
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

const CliCommand cmd_channels = {
    .name = "channels",
    .summary = "serve TV channels (MPEG-TS, HLS, M3U/XMLTV, HDHomeRun) from a schedule",
    .usage = "CONFIG.json [--listen HOST:PORT] [--cache DIR] [--json]\n"
             "       vidpipe channels --analyze FILE [--json]",
    .details = "Plays each channel of CONFIG.json by stream copy through one muxer shared by "
               "every viewer.\nRoutes: /iptv/channels.m3u, /iptv/xmltv.xml, "
               "/iptv/channel/N.ts, /iptv/channel/N.m3u8,\n/discover.json, /lineup.json, "
               "/api/channels[/N[/schedule|/ads]], /metrics.\nPrints 'listening on "
               "http://HOST:PORT' when ready. SIGHUP reloads the config; SIGTERM and\n"
               "SIGINT end every stream and exit 0. Exit status: 2 the config or FILE could not "
               "be read,\n3 bad command line, 4 the address cannot be listened on.",
    .run = run_channels,
};
