/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe serve: the job service over HTTP (uploads in parts or whole, jobs that make each
 * original's proxy, thumbnail and metadata, the stored results, metrics and a dashboard). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <libavutil/error.h>

#include "common/cli.h"
#include "common/commands.h"
#include "common/service_cli.h"
#include "serve.h"
#include "vidpipe/service.h"

static int json_events;

/* The library's lines (jobs claimed, completed, failed, retried; uploads completed): the
 * log of a running server, so they print without -v; -q keeps errors only. */
static void lib_log(void *opaque, int level, const char *msg)
{
    (void)opaque;
    cli_log_line(level, msg);
}

static void on_event(void *opaque, const char *line, json_t *ev)
{
    const char *name = ev ? json_string_value(json_object_get(ev, "event")) : NULL;
    (void)opaque;
    int always = name && (!strcmp(name, "listening") || !strcmp(name, "dashboard"));
    /* every request and libmicrohttpd's own notes are for -v only */
    if (name && (!strcmp(name, "request") || !strcmp(name, "http_log")) && cli_verbosity < 1)
        return;
    if (cli_verbosity >= 0 || always)
        fprintf(stderr, "%s: %s\n", cli_prog, line);
    if (json_events && ev) {
        cli_json_line(ev, 0);
    }
}

/* "20G", "500M", "1048576": bytes, with binary K/M/G/T. 0, or -1 after saying why. */
static int parse_size(const char *arg, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    double mul = 1;
    if (end != arg && *end) {
        switch (*end) {
        case 'k': case 'K': mul = 1024.0; break;
        case 'm': case 'M': mul = 1024.0 * 1024; break;
        case 'g': case 'G': mul = 1024.0 * 1024 * 1024; break;
        case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; break;
        default: mul = 0;
        }
        if (mul && (end[1] == 'i' || end[1] == 'I') && (end[2] == 'B' || end[2] == 'b'))
            end += 2;
        else if (mul && (end[1] == 'B' || end[1] == 'b'))
            end += 1;
        end++;
    }
    if (end == arg || *end || errno || !mul || !isfinite(v) || v * mul < 1 ||
        v * mul > 9.0e18) {
        cli_error("serve: --max-upload: '%s' is not a size (bytes, or with K, M, G, T: "
                  "20G, 500M)", arg);
        return -1;
    }
    *out = (int64_t)(v * mul);
    return 0;
}

/* The token: the file's first line, spaces around it dropped; 16-1024 printable bytes.
 * A malloc'd string, or NULL after saying why. */
static char *read_token(const char *path)
{
    FILE *f = fopen(path, "rb");
    char buf[2048];
    if (!f) {
        cli_file_error(path, "cannot read the token file: %s", strerror(errno));
        return NULL;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *line = buf;
    line[strcspn(line, "\r\n")] = 0;
    while (*line == ' ' || *line == '\t')
        line++;
    size_t len = strlen(line);
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        line[--len] = 0;
    if (len < 16 || len > 1024) {
        cli_file_error(path, "the token must be 16 to 1024 characters on the first line "
                       "(it has %zu)", len);
        return NULL;
    }
    for (const char *p = line; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f) {
            cli_file_error(path, "the token holds a space or control character");
            return NULL;
        }
    char *tok = strdup(line);
    if (!tok)
        cli_error("serve: out of memory");
    return tok;
}

/* Each connection is a descriptor, as is each file being sent: take what the hard limit
 * allows (the soft one, 1024, is below the server's connection limit). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int run_serve(int argc, char **argv)
{
    int json = 0, nb_pos = 0, workers = -1;
    const char *data = NULL, *listen = "127.0.0.1:8410", *tmp = NULL, *max_upload = NULL;
    const char *token_file = NULL, *db = NULL, *storage = NULL, *endpoint = NULL;
    double lease = 60, grace = 30;
    int migrate = 0;
    const CliOpt opts[] = {
        { "data", 'd', CLI_STR, &data, "DIR",
          "the service's folder: database, originals, results, uploads (required unless "
          "--db and --storage are both given)" },
        { "listen", 'l', CLI_STR, &listen, "HOST:PORT",
          "address to serve on (default 127.0.0.1:8410; port 0: any free port)" },
        { "workers", 'w', CLI_INT, &workers, "N",
          "worker threads (default -1: one per core; 0: none, an API node)", -1, 256 },
        { "lease", 0, CLI_DOUBLE, &lease, "SECONDS",
          "a job's lease; heartbeats at a third of it (default 60)", 3, 86400 },
        { "tmp", 0, CLI_STR, &tmp, "DIR",
          "workers' scratch folder, a subfolder each (default $TMPDIR or /tmp)" },
        { "max-upload", 0, CLI_STR, &max_upload, "SIZE",
          "largest original accepted: bytes, or 500M, 20G (default 20G)" },
        { "token-file", 0, CLI_STR, &token_file, "FILE",
          "require 'Authorization: Bearer TOKEN' (TOKEN: FILE's first line); without it "
          "the server listens on loopback only" },
        { "db", 0, CLI_STR, &db, "SPEC", "the store (default sqlite:DIR/vidpipe.db)" },
        { "storage", 0, CLI_STR, &storage, "SPEC", "the objects' storage (default file:DIR)" },
        { "s3-endpoint", 0, CLI_STR, &endpoint, "URL",
          "the S3 server of an s3:// storage (default: AWS, or $AWS_ENDPOINT_URL)" },
        { "migrate", 0, CLI_FLAG, &migrate, NULL,
          "create or upgrade the database's schema, say from which version to which, and "
          "exit" },
        { "drain-grace", 0, CLI_DOUBLE, &grace, "SECONDS",
          "on SIGTERM, how long running jobs may finish before they are handed back "
          "(default 30)", 0, 86400 },
        { "json", 0, CLI_FLAG, &json, NULL, "events as JSON lines on stdout" },
        { 0 },
    };
    int r = cli_parse(&cmd_serve, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (nb_pos) {
        cli_error("serve: unexpected argument '%s' (see 'vidpipe serve --help')", argv[1]);
        return CLI_EXIT_USAGE;
    }
    if (!data && !(db && storage) && !(migrate && db)) {
        cli_error("serve: --data DIR is required, unless --db and --storage are both given "
                  "(see 'vidpipe serve --help')");
        return CLI_EXIT_USAGE;
    }
    char *storage_spec = NULL;
    if (endpoint && (r = svc_cli_storage_endpoint("serve", storage, endpoint, &storage_spec)))
        return r;
    if (migrate) {
        VpServiceOpts mo;
        vp_service_default_opts(&mo);
        mo.data_dir = data;
        mo.db = db;
        r = svc_cli_migrate("serve", &mo, json);
        free(storage_spec);
        return r;
    }
    char host[256];
    int port;
    int64_t max_bytes = 0;
    if (cli_parse_listen("serve", listen, host, sizeof(host), &port) < 0 ||
        (max_upload && parse_size(max_upload, &max_bytes) < 0)) {
        free(storage_spec);
        return CLI_EXIT_USAGE;
    }
    if (tmp && (r = cli_check_folder("--tmp", tmp))) {
        free(storage_spec);
        return r;
    }
    char *token = NULL;
    if (token_file && !(token = read_token(token_file))) {
        free(storage_spec);
        return CLI_EXIT_UNREADABLE;
    }
    char why[512] = "";
    SvOpts sv = {
        .host = host, .port = port, .token = token,
        .drain_grace_ms = (int64_t)llround(grace * 1000), .on_event = on_event,
    };
    if (sv_check_listen(&sv, why, sizeof(why)) < 0) {
        cli_error("serve: --listen %s: %s", listen, why);
        free(token);
        free(storage_spec);
        return CLI_EXIT_USAGE;
    }

    /* SIGTERM and SIGINT go to sv_run()'s sigwait: blocked here, before any thread starts,
     * so every worker and HTTP thread inherits the mask. A SIGINT the parent ignores (a
     * background job) stays ignored. */
    sigset_t sigs;
    cli_block_stop_signals(&sigs);
    raise_fd_limit();

    VpServiceOpts so;
    vp_service_default_opts(&so);
    so.data_dir = data;
    so.db = db;
    so.storage = storage_spec ? storage_spec : storage;
    so.tmp_dir = tmp;
    so.workers = workers;
    so.lease_ms = (int64_t)llround(lease * 1000);
    if (max_bytes)
        so.max_upload = max_bytes;
    so.logger = (VpLogger){ lib_log, NULL, cli_verbosity > 0 ? VP_LOG_VERBOSE : VP_LOG_INFO };
    VpService *svc = NULL;
    VpFailure fail = { 0 };
    if ((r = vp_service_open(&so, &svc, &fail)) < 0) {
        free(token);
        free(storage_spec);
        return svc_cli_open_failed("serve", r, &fail);
    }
    json_events = json;
    sv.service = svc;
    r = sv_run(&sv, why, sizeof(why));
    vp_service_close(&svc);
    free(token);
    free(storage_spec);
    if (r < 0) {
        cli_error("serve: --listen %s: %s", listen, why);
        return r == AVERROR(EINVAL) || r == AVERROR(EACCES) ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

const CliCommand cmd_serve = {
    .name = "serve",
    .summary = "run the job service: uploads to proxies, thumbnails and metadata over HTTP",
    .usage = "--data DIR | --db SPEC --storage SPEC [--s3-endpoint URL] [--listen HOST:PORT] "
             "[--workers N] [--token-file FILE] [--migrate] [--json]",
    .details = "Takes uploads (resumable in parts, or whole), queues a job per original and "
               "makes its proxy,\nthumbnail and metadata in worker threads. Routes: "
               "/api/v1/uploads, /api/v1/videos, /api/v1/jobs,\n/api/v1/links, /metrics, "
               "/healthz, and the dashboard at /. Prints 'listening on http://HOST:PORT/'\n"
               "when ready. SIGTERM and SIGINT stop taking connections, let running jobs "
               "finish (--drain-grace)\nor hand them back, and exit 0. An empty database gets "
               "its schema at once; an older one is\nrefused until --migrate upgrades it, a "
               "newer one always. S3 credentials: AWS_ACCESS_KEY_ID,\n"
               "AWS_SECRET_ACCESS_KEY, AWS_REGION, or ~/.aws/credentials. Exit status: 2 the "
               "data folder,\ndatabase, storage or token file cannot be used, 3 bad command "
               "line (or a non-loopback\n--listen without --token-file), 4 the address "
               "cannot be listened on.",
    .run = run_serve,
};
