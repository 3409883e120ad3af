/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe worker: the job service's worker threads without HTTP, on another machine than the
 * API nodes (`vidpipe serve --workers 0`), sharing their database and storage. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "common/cli.h"
#include "common/commands.h"
#include "common/service_cli.h"
#include "vidpipe/service.h"

static int json_events;

/* A JSON line on stdout: {"event": EVENT, ...} with @p ev's members (stolen). */
static void emit(const char *event, json_t *ev)
{
    if (!json_events || !ev) {
        json_decref(ev);
        return;
    }
    json_object_set_new(ev, "event", json_string(event));
    cli_json_line(ev, JSON_SORT_KEYS);
    json_decref(ev);
}

/* The library's lines (worker started, job claimed, completed, failed, retried, handed back):
 * the log of a running worker, so they print without -v; -q keeps errors only. */
static void lib_log(void *opaque, int level, const char *msg)
{
    (void)opaque;
    cli_log_line(level, msg);
    emit("log", json_pack("{s:s, s:s}", "level", level <= VP_LOG_ERROR ? "error" :
                          level <= VP_LOG_WARNING ? "warning" : "info", "message", msg));
}

static int run_worker(int argc, char **argv)
{
    int json = 0, nb_pos = 0, workers = -1, migrate = 0, verbose = 0, quiet = 0;
    const char *db = NULL, *storage = NULL, *endpoint = NULL, *tmp = NULL;
    double lease = 60, grace = 30;
    const CliOpt opts[] = {
        { "db", 0, CLI_STR, &db, "SPEC",
          "the store the API nodes use: postgresql://USER@HOST:PORT/DB, or sqlite:PATH on "
          "this machine (required)" },
        { "storage", 0, CLI_STR, &storage, "SPEC",
          "the objects' storage the API nodes use: s3://BUCKET/PREFIX, or file:DIR "
          "(required)" },
        { "s3-endpoint", 0, CLI_STR, &endpoint, "URL",
          "the S3 server of an s3:// storage (default: AWS, or $AWS_ENDPOINT_URL)" },
        { "workers", 'w', CLI_INT, &workers, "N",
          "worker threads (default -1: one per core)", -1, 256 },
        { "lease", 0, CLI_DOUBLE, &lease, "SECONDS",
          "a job's lease; heartbeats at a third of it (default 60)", 3, 86400 },
        { "tmp", 0, CLI_STR, &tmp, "DIR",
          "scratch folder: a subfolder per process, emptied of a dead one's files at start "
          "(default $TMPDIR or /tmp)" },
        { "drain-grace", 0, CLI_DOUBLE, &grace, "SECONDS",
          "on SIGTERM, how long running jobs may finish before they are handed back "
          "(default 30)", 0, 86400 },
        { "migrate", 0, CLI_FLAG, &migrate, NULL,
          "create or upgrade the database's schema, say from which version to which, and "
          "exit" },
        { "json", 0, CLI_FLAG, &json, NULL, "events as JSON lines on stdout" },
        { "verbose", 'v', CLI_FLAG, &verbose, NULL,
          "also the library's detail (as 'vidpipe -v worker')" },
        { "quiet", 'q', CLI_FLAG, &quiet, NULL, "errors only (as 'vidpipe -q worker')" },
        { 0 },
    };
    int r = cli_parse(&cmd_worker, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (verbose && cli_verbosity < 1)
        cli_verbosity = 1;
    if (quiet)
        cli_verbosity = -1;
    if (nb_pos) {
        cli_error("worker: unexpected argument '%s' (see 'vidpipe worker --help')", argv[1]);
        return CLI_EXIT_USAGE;
    }
    if (!db || !*db || (!migrate && (!storage || !*storage))) {
        cli_error("worker: --db SPEC and --storage SPEC are required (see 'vidpipe worker "
                  "--help')");
        return CLI_EXIT_USAGE;
    }
    if (!workers) {
        cli_error("worker: --workers 0: a worker needs at least one thread");
        return CLI_EXIT_USAGE;
    }
    char *storage_spec = NULL;
    if (endpoint && (r = svc_cli_storage_endpoint("worker", storage, endpoint, &storage_spec)))
        return r;

    VpServiceOpts so;
    vp_service_default_opts(&so);
    so.db = db;
    so.storage = storage_spec ? storage_spec : storage;
    json_events = json;
    if (migrate) {
        r = svc_cli_migrate("worker", &so, json);
        free(storage_spec);
        return r;
    }
    if (tmp && (r = cli_check_folder("--tmp", tmp))) {
        free(storage_spec);
        return r;
    }

    /* SIGTERM and SIGINT are taken by sigwait below: blocked before any thread starts, so
     * every worker thread inherits the mask. A SIGINT the parent ignores (a background job)
     * stays ignored. */
    sigset_t sigs;
    cli_block_stop_signals(&sigs);

    so.tmp_dir = tmp;
    so.workers = workers;
    so.lease_ms = (int64_t)llround(lease * 1000);
    so.logger = (VpLogger){ lib_log, NULL, cli_verbosity > 0 ? VP_LOG_VERBOSE : VP_LOG_INFO };
    VpService *svc = NULL;
    VpFailure fail = { 0 };
    if ((r = vp_service_open(&so, &svc, &fail)) < 0) {
        free(storage_spec);
        return svc_cli_open_failed("worker", r, &fail);
    }
    VpServiceMetrics m;
    char shown[1024], host[256] = "";
    memset(&m, 0, sizeof(m));
    vp_service_metrics(svc, &m);
    gethostname(host, sizeof(host) - 1);
    if (cli_verbosity >= 0)
        fprintf(stderr, "%s: worker %s:%ld ready: %d thread(s) on %s, storage %s\n", cli_prog,
                host, (long)getpid(), m.workers, svc_cli_shown_spec(db, shown, sizeof(shown)),
                so.storage);
    emit("ready", json_pack("{s:s, s:i, s:i, s:s}", "host", host, "pid", (int)getpid(),
                            "workers", m.workers, "db",
                            svc_cli_shown_spec(db, shown, sizeof(shown))));

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    int64_t grace_ms = (int64_t)llround(grace * 1000);
    if (cli_verbosity >= 0)
        fprintf(stderr, "%s: %s: draining (running jobs get %.0f s, then go back to the "
                "queue)\n", cli_prog, strsignal(sig), grace);
    emit("draining", json_pack("{s:s, s:f}", "signal", strsignal(sig), "grace", grace));
    vp_service_drain(svc, grace_ms);
    vp_service_close(&svc);
    if (cli_verbosity >= 0)
        fprintf(stderr, "%s: worker stopped\n", cli_prog);
    emit("stopped", json_object());
    free(storage_spec);
    return CLI_EXIT_OK;
}

const CliCommand cmd_worker = {
    .name = "worker",
    .summary = "run the job service's workers on this machine, for API nodes elsewhere",
    .usage = "--db SPEC --storage SPEC [--s3-endpoint URL] [--workers N] [--lease SECONDS] "
             "[--tmp DIR] [--drain-grace SECONDS] [--json] [-v|-q]",
    .details = "Claims jobs from the database the API nodes ('vidpipe serve --workers 0') "
               "queue them in, makes each\noriginal's proxy, thumbnail and metadata, and stores "
               "them in the same storage; no HTTP.\nLogs one line per job. S3 credentials: "
               "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,\nor "
               "~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE). SIGTERM and "
               "SIGINT stop claiming,\nlet running jobs finish (--drain-grace) or hand them "
               "back, and exit 0. A database whose schema\nis older than this vidpipe's is "
               "refused until 'vidpipe worker --migrate' (or serve's) upgrades it;\na newer "
               "one always. Exit status: 0 stopped by a signal (or migrated); 2 the database "
               "or\nstorage cannot be used (one line naming it and why); 3 bad command line; "
               "4 internal error.",
    .run = run_worker,
};
