/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe batch: many joins (intro + personal clip + outro, or a manifest) on N workers. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "vidpipe/batch.h"
#include "vidpipe/hls.h"
#include "vidpipe/join.h"

#include "common/cli.h"
#include "common/commands.h"
#include "common/outputs.h"
#include "manifest.h"

#define WHY_SIZE 1024

typedef struct BatchJob {
    VpiManifest manifest;     /* manifest mode when nb_rows > 0 */
    const char **inputs;      /* manifest mode: each row's segments, then the manifest */
    VpJoinOpts join_opts;
    VpHlsPackager *hls;       /* --hls: one packager, shared by the workers */
    int hls_mode;             /* --hls given */
    const char *hls_dir;      /* --hls DIR */
    CliProgress progress;
} BatchJob;

/* The clips of a folder: one allocation per clip holding its path, output and name. */
typedef struct Clip {
    char *path, *output;
    char *stem;               /* the name without extension: the person's name (--hls) */
    const char *name;         /* points into path */
    const char *segments[3];  /* the intro, the clip, the outro: the item's inputs */
    int nb_segments;
} Clip;

static int make_parent_dirs(const char *path)
{
    char buf[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    if ((size_t)(slash - path) >= sizeof(buf))
        return AVERROR(ENAMETOOLONG);
    memcpy(buf, path, (size_t)(slash - path));
    buf[slash - path] = 0;
    return vpi_mkdir_p(buf);
}

/* The segments of one item, in order; *nb receives their count. */
static const char *const *item_segments(const BatchJob *job, const VpBatchItem *item, int *nb)
{
    if (job->manifest.nb_rows) {
        const VpiManifestRow *row = item->user;
        *nb = row->nb_segments;
        return row->segments;
    }
    const Clip *clip = item->user;
    *nb = clip->nb_segments;
    return clip->segments;
}

/* The join's VpFailure is the item's: its segment index is the input index too, since the
 * item's inputs are its segments (then the manifest). */
static int join_item(void *opaque, void *worker, const VpBatchItem *item, VpFailure *fail)
{
    BatchJob *job = opaque;
    int nb, ret;
    const char *const *segs = item_segments(job, item, &nb);

    if (job->manifest.nb_rows && (ret = make_parent_dirs(item->output)) < 0) {
        snprintf(fail->path, sizeof(fail->path), "%s", item->output);
        snprintf(fail->message, sizeof(fail->message), "%s: cannot create its folder: %s",
                 item->output, vp_strerror(ret));
        return ret;
    }
    return vp_joiner_run(worker, item->output, segs, nb, NULL, fail);
}

/* --hls: the person's playlist and segments; the intro and outro were packaged before. */
static int hls_item(void *opaque, void *worker, const VpBatchItem *item, VpFailure *fail)
{
    BatchJob *job = opaque;
    const Clip *clip = item->user;
    VpHlsStats st;
    (void)worker;
    int ret = vp_hls_packager_person(job->hls, clip->path, clip->stem, &st, fail);
    if (ret >= 0)
        cli_info("%s: %d segments, %d own (%lld bytes, %lld shared), %d AAC frames re-encoded",
                  clip->stem, st.nb_segments, st.nb_personal, (long long)st.personal_bytes,
                  (long long)st.shared_bytes, st.nb_audio_reencoded);
    /* the packager's input 1 is the clip: the item's input 1 too (intro 0, outro 2) */
    return ret;
}

/* --hls: a person's bytes are the playlist and every file it lists, the shared ones as
 * bytes_shared, so that bytes_written is what the person wrote (docs/batch.md). */
static int hls_bytes(void *opaque, const VpBatchItem *item, int64_t *bytes, int64_t *shared)
{
    const BatchJob *job = opaque;
    const Clip *clip = item->user;
    int64_t own;
    int ret = vp_hls_playlist_bytes(job->hls_dir, clip->stem, &own, shared);
    *bytes = own + *shared;
    return ret;
}

static void *joiner_new(void *opaque)
{
    BatchJob *job = opaque;
    VpJoiner *j = NULL;
    return vp_joiner_new(&job->join_opts, &j) < 0 ? NULL : j;
}

static void joiner_free(void *worker)
{
    VpJoiner *j = worker;
    vp_joiner_free(&j);
}

static void on_progress(void *opaque, int64_t finished, int64_t failed, int64_t total)
{
    BatchJob *job = opaque;
    (void)failed;
    cli_progress_update(&job->progress, finished, total);
}

static void on_item_done(void *opaque, const VpBatchItem *item, const char *status,
                         const VpFailure *fail, double seconds, int64_t bytes)
{
    (void)opaque;
    (void)bytes;
    if (fail) {
        /* The reason names the file at fault; say which item it spoiled when that is
         * another file (a broken intro). */
        const char *name = item->name ? item->name : item->output;
        if (strstr(fail->message, name))
            cli_error("%s", fail->message);
        else
            cli_error("%s: %s", name, fail->message);
    } else if (!strcmp(status, "done")) {
        cli_info("%s: done in %.2f s", item->name ? item->name : item->output, seconds);
    }
}

static void free_clips(Clip *clips, int nb)
{
    if (!clips)
        return;
    for (int i = 0; i < nb; i++) {
        free(clips[i].path);
        free(clips[i].output);
        free(clips[i].stem);
    }
    free(clips);
}

/* The clips of @p dir (vpi_media_list(): the files "proxy DIR" takes, in the same order),
 * each with its output in @p out_dir: the clip's name, with @p ext (".mp4", or ".m3u8" for
 * --hls) as extension. */
static int list_clips(const char *dir, const char *out_dir, const char *ext, Clip **out,
                      int *nb_out)
{
    char **paths = NULL;
    size_t nb = 0;
    Clip *clips = NULL;
    int ret;

    *out = NULL;
    *nb_out = 0;
    if ((ret = vpi_media_list(dir, &paths, &nb)) < 0)
        return ret;
    if (nb > INT_MAX) {
        ret = AVERROR(E2BIG);
        goto end;
    }
    if (nb && !(clips = calloc(nb, sizeof(*clips)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (size_t i = 0; i < nb; i++) {
        Clip *c = &clips[i];
        c->name = paths[i] + strlen(dir) + 1;
        size_t stem = (size_t)(strrchr(c->name, '.') - c->name);
        if (!(c->stem = strndup(c->name, stem)) ||
            asprintf(&c->output, "%s/%.*s%s", out_dir, (int)stem, c->name, ext) < 0) {
            c->output = NULL;
            ret = AVERROR(ENOMEM);
            goto end;
        }
        c->path = paths[i];
        paths[i] = NULL;
    }
    *out = clips;
    *nb_out = (int)nb;
    clips = NULL;
end:
    free_clips(clips, (int)nb);
    vpi_paths_free(paths, nb);
    return ret;
}

/* A shared segment must be readable video before thousands of items fail on it. */
static int check_shared(const char *what, const char *path)
{
    VpProbeOpts po;
    VpMediaInfo *mi = NULL;
    vp_probe_default_opts(&po);
    po.count_packets = 0;
    po.gop_scan_packets = 0;
    int ret = vp_probe_file(path, &po, &mi);
    if (ret >= 0 && mi->video_index < 0)
        ret = VP_ERR_NO_VIDEO;
    vp_media_info_free(&mi);
    if (ret < 0)
        cli_file_error(path, "%s (the %s of every output)", vp_strerror(ret), what);
    return ret;
}

static int same_dir(const char *a, const char *b)
{
    char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
    int same = ra && rb && !strcmp(ra, rb);
    free(ra);
    free(rb);
    return same;
}

static void print_dry_run(const BatchJob *job, const VpBatchItem *items, int nb, int json,
                          CliOverwrite ow)
{
    CliJson j;
    int to_join = 0, to_skip = 0, to_fail = 0;

    if (json) {
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_bool(&j, "dry_run", 1);
        cj_arr_begin(&j, "items");
    }
    for (int i = 0; i < nb; i++) {
        int nb_segs;
        struct stat sb;
        const char *const *segs = item_segments(job, &items[i], &nb_segs);
        /* As the runner will decide: an output that is an input fails, before the skip. */
        int refuse = vp_output_check_not_input(items[i].output, items[i].inputs,
                                               items[i].nb_inputs) < 0;
        char stamp[VPI_MADE_FROM_SIZE];
        int skip = !refuse && ow != CLI_OW_YES && stat(items[i].output, &sb) == 0 &&
                   (ow == CLI_OW_NO ||
                    (vpi_made_from(items[i].inputs, items[i].nb_inputs, cli_settings(),
                                   stamp) == 0 &&
                     vpi_made_from_matches(items[i].output, stamp)));
        to_fail += refuse;
        to_skip += skip;
        to_join += !refuse && !skip;
        if (json) {
            cj_obj_begin(&j, NULL);
            cj_str(&j, "item", items[i].name);
            cj_str(&j, "action", refuse ? "fail"
                                 : skip ? "skip"
                                 : job->hls_mode ? "hls"
                                                 : "join");
            cj_str(&j, "output", items[i].output);
            cj_arr_begin(&j, "segments");
            for (int k = 0; k < nb_segs; k++)
                cj_str(&j, NULL, segs[k]);
            cj_arr_end(&j);
            cj_obj_end(&j);
            continue;
        }
        if (refuse) {
            printf("fail %s: %s\n", items[i].output, vp_strerror(VP_ERR_OUTPUT_IS_INPUT));
            continue;
        }
        if (skip) {
            printf("skip %s (exists%s)\n", items[i].output,
                   ow == CLI_OW_NO ? "" : ", made from the same inputs and settings");
            continue;
        }
        printf("%s %s <-", job->hls_mode ? "hls" : "join", items[i].output);
        for (int k = 0; k < nb_segs; k++)
            printf("%s %s", k ? " +" : "", segs[k]);
        putchar('\n');
    }
    if (json) {
        cj_arr_end(&j);
        cj_int(&j, "join", to_join);
        cj_int(&j, "skip", to_skip);
        cj_int(&j, "fail", to_fail);
        cj_obj_end(&j);
        cj_end(&j);
    } else {
        printf("dry run: %d to %s, %d to skip (exist)", to_join,
               job->hls_mode ? "package as HLS" : "join", to_skip);
        if (to_fail)
            printf(", %d to fail (output is an input)", to_fail);
        putchar('\n');
    }
}

static void print_summary(const VpBatchStats *st, int jobs, const char *report,
                          const char *log, int json)
{
    double rate = st->seconds > 0 ? (st->done + st->failed) / st->seconds : 0;
    if (json) {
        CliJson j;
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_int(&j, "total", st->total);
        cj_int(&j, "done", st->done);
        cj_int(&j, "skipped", st->skipped);
        cj_int(&j, "failed", st->failed);
        cj_int(&j, "not_started", st->cancelled);
        cj_int(&j, "retries", st->retries);
        cj_int(&j, "stale_removed", st->stale_removed);
        cj_int(&j, "bytes", st->bytes);
        cj_int(&j, "bytes_shared", st->bytes_shared);
        cj_int(&j, "bytes_written", st->bytes - st->bytes_shared);
        cj_num(&j, "seconds", st->seconds);
        cj_num(&j, "items_per_second", rate);
        cj_int(&j, "jobs", jobs);
        cj_str(&j, "report", report);
        cj_str(&j, "log", log);
        cj_obj_end(&j);
        cj_end(&j);
        return;
    }
    if (cli_verbosity < 0) /* -q: errors only */
        return;
    printf("batch: %lld item%s: %lld done, %lld skipped, %lld failed", (long long)st->total,
           st->total == 1 ? "" : "s", (long long)st->done, (long long)st->skipped,
           (long long)st->failed);
    if (st->cancelled)
        printf(", %lld not started (interrupted)", (long long)st->cancelled);
    printf(" in %.1f s", st->seconds);
    if (st->done + st->failed)
        printf(" (%.1f joins/s)", rate);
    putchar('\n');
    if (report || log)
        printf("report: %s%s%s\n", report ? report : "", report && log ? ", log: " : "",
               log ? log : "");
}

static int run_batch(int argc, char **argv)
{
    const char *intro = NULL, *outro = NULL, *personal = NULL, *out_dir = NULL;
    const char *manifest = NULL, *report = NULL, *log = NULL, *hls_dir = NULL;
    VpHlsOpts ho;
    vp_hls_default_opts(&ho);
    int json = 0, conform = 0, dry_run = 0, overwrite = 0, no_overwrite = 0, nb_pos = 0;
    CliOverwrite ow;
    int no_fsync = 0;
    /* -j and --retries are the library's (vidpipe/options.h: ranges, defaults). */
    VpBatchOpts bo;
    vp_batch_default_opts(&bo);
    const VpOptionTable *bt = vp_option_table("batch");
    const CliOpt opts[] = {
        { "intro", 0, CLI_STR, &intro, "FILE", "first segment of every output" },
        { "outro", 0, CLI_STR, &outro, "FILE", "last segment of every output" },
        { "personal", 0, CLI_STR, &personal, "DIR",
          "one output per video clip in DIR (.mp4 .mov .m4v .mkv .ts .mts)" },
        { "out", 'o', CLI_STR, &out_dir, "DIR", "write the outputs into DIR (created)" },
        { "hls", 0, CLI_STR, &hls_dir, "DIR",
          "personalized HLS into DIR (shared intro/outro, a playlist per clip)" },
        CLI_LIB_AS("hls-target", 0, &ho, "S", vp_option_table("hls"), "target",
                   "--hls: segment length aimed at, seconds", NULL),
        CLI_LIB_AS("hls-keep-old", 0, &ho, "S", vp_option_table("hls"), "keep_old",
                   "--hls: seconds a redone person's old segments stay for viewers of the "
                   "old playlist", NULL),
        { "manifest", 'm', CLI_STR, &manifest, "FILE",
          "CSV rows: output,segment,segment,... (see below)" },
        CLI_LIB("jobs", 'j', &bo, "N", bt, "jobs"),
        { "report", 0, CLI_STR, &report, "FILE",
          "per-item JSON lines (default OUT/vidpipe-report.jsonl)" },
        { "log", 0, CLI_STR, &log, "FILE", "run log, appended (default OUT/vidpipe-batch.log)" },
        { "json", 0, CLI_FLAG, &json, NULL, "print the summary as JSON" },
        { "conform", 0, CLI_FLAG, &conform, NULL,
          "re-encode segments that cannot be stream-copied" },
        CLI_OVERWRITE_OPTS(overwrite, no_overwrite),
        CLI_LIB("retries", 0, &bo, "N", bt, "retries"),
        { "dry-run", 0, CLI_FLAG, &dry_run, NULL, "list what would be done, do nothing" },
        { "no-fsync", 0, CLI_FLAG, &no_fsync, NULL,
          "rename outputs into place without fsync (faster; kill-safe, not power-safe)" },
        { 0 },
    };
    BatchJob job = { 0 };
    VpBatchItem *items = NULL;
    Clip *clips = NULL;
    char why[WHY_SIZE], *report_buf = NULL, *log_buf = NULL, *seed_buf[4] = { 0 };
    int nb = 0, ret = CLI_EXIT_OK, r;

    r = cli_parse(&cmd_batch, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (cli_overwrite_mode("batch", overwrite, no_overwrite, &ow) < 0)
        return CLI_EXIT_USAGE;

    /* Which of the three ways the items are given. */
    if (nb_pos > 1 || (nb_pos && (manifest || personal))) {
        cli_error("batch: give a seed-layout folder, --personal DIR or --manifest FILE, "
                  "only one (see 'vidpipe batch --help')");
        return CLI_EXIT_USAGE;
    }
    if (nb_pos) {
        /* The layout the seed script expects, relative to the folder it ran in. */
        const char *root = argv[1];
        if (asprintf(&seed_buf[0], "%s/input/Video1/video1.mp4", root) < 0 ||
            asprintf(&seed_buf[1], "%s/input/Video2", root) < 0 ||
            asprintf(&seed_buf[2], "%s/input/Video3/video3.mp4", root) < 0 ||
            asprintf(&seed_buf[3], "%s/output", root) < 0)
            goto oom;
        if (intro || outro) {
            cli_error("batch: in the seed layout, the intro is input/Video1/video1.mp4 and "
                      "the outro input/Video3/video3.mp4; --intro/--outro do not apply");
            ret = CLI_EXIT_USAGE;
            goto end;
        }
        struct stat sb;
        if (stat(seed_buf[1], &sb) < 0 || !S_ISDIR(sb.st_mode)) {
            cli_file_error(seed_buf[1], "no such folder (the seed layout is input/Video1/"
                           "video1.mp4, input/Video2/*.mp4, input/Video3/video3.mp4)");
            ret = CLI_EXIT_UNREADABLE;
            goto end;
        }
        intro = seed_buf[0];
        personal = seed_buf[1];
        outro = seed_buf[2];
        if (!out_dir)
            out_dir = seed_buf[3];
    }
    if (hls_dir) {
        if (out_dir || manifest || nb_pos) {
            cli_error("batch: --hls DIR is the output folder and takes --personal DIR with "
                      "--intro and --outro; --out, --manifest and a seed folder do not apply");
            ret = CLI_EXIT_USAGE;
            goto end;
        }
        if (!intro || !outro || !personal) {
            cli_error("batch: --hls needs --intro FILE, --outro FILE and --personal DIR");
            ret = CLI_EXIT_USAGE;
            goto end;
        }
        out_dir = hls_dir;
        job.hls_mode = 1;
        job.hls_dir = hls_dir;
    }
    if (manifest && (intro || outro)) {
        cli_error("batch: --intro/--outro do not apply to --manifest (each row lists all its "
                  "segments)");
        return CLI_EXIT_USAGE;
    }
    if (!manifest && !personal) {
        cli_error("batch: nothing to do: give --personal DIR (with --intro/--outro), "
                  "--manifest FILE, or a seed-layout folder (see 'vidpipe batch --help')");
        ret = CLI_EXIT_USAGE;
        goto end;
    }
    if (personal && !intro && !outro) {
        cli_error("batch: --personal needs --intro FILE, --outro FILE or both");
        ret = CLI_EXIT_USAGE;
        goto end;
    }
    if (personal && !out_dir) {
        cli_error("batch: --personal needs --out DIR");
        ret = CLI_EXIT_USAGE;
        goto end;
    }
    if (personal && same_dir(personal, out_dir)) {
        cli_error("batch: --out is the --personal folder: give another folder");
        ret = CLI_EXIT_USAGE;
        goto end;
    }

    /* The items. */
    if (manifest) {
        if ((r = vpi_manifest_load(manifest, out_dir, &job.manifest, why, sizeof(why))) < 0) {
            cli_error("%s", why);
            ret = cli_exit_for_error(r);
            goto end;
        }
        nb = job.manifest.nb_rows;
        size_t nb_inputs = 0;
        for (int i = 0; i < nb; i++)
            nb_inputs += (size_t)job.manifest.rows[i].nb_segments + 1;
        if (!(items = calloc((size_t)nb, sizeof(*items))) ||
            !(job.inputs = calloc(nb_inputs, sizeof(*job.inputs))))
            goto oom;
        const char **in = job.inputs;
        for (int i = 0; i < nb; i++) {
            const VpiManifestRow *row = &job.manifest.rows[i];
            memcpy(in, row->segments, (size_t)row->nb_segments * sizeof(*in));
            in[row->nb_segments] = manifest;
            items[i] = (VpBatchItem){ row->output, row->output, (void *)row, in,
                                      row->nb_segments + 1 };
            in += row->nb_segments + 1;
        }
    } else {
        if (!dry_run && (r = vpi_mkdir_p(out_dir)) < 0) {
            cli_file_error(out_dir, "cannot create the output folder: %s", vp_strerror(r));
            ret = CLI_EXIT_ERROR;
            goto end;
        }
        if ((r = list_clips(personal, out_dir, hls_dir ? ".m3u8" : ".mp4", &clips, &nb)) < 0) {
            cli_file_error(personal, "%s", vp_strerror(r));
            ret = cli_exit_for_error(r);
            goto end;
        }
        if (!nb)
            cli_warn("%s: no media files in this folder", personal);
        if (nb && !(items = calloc((size_t)nb, sizeof(*items))))
            goto oom;
        for (int i = 0; i < nb; i++) {
            Clip *c = &clips[i];
            if (intro)
                c->segments[c->nb_segments++] = intro;
            c->segments[c->nb_segments++] = c->path;
            if (outro)
                c->segments[c->nb_segments++] = outro;
            items[i] = (VpBatchItem){ c->name, c->output, c, c->segments, c->nb_segments };
        }
        if ((intro && check_shared("intro", intro) < 0) ||
            (outro && check_shared("outro", outro) < 0)) {
            ret = CLI_EXIT_UNREADABLE;
            goto end;
        }
    }

    if (dry_run) {
        print_dry_run(&job, items, nb, json, ow);
        goto end;
    }

    /* Where the report and the log go: the output folder, or the manifest's. */
    const char *home = out_dir;
    char *mdir = NULL;
    if (!home) {
        const char *slash = strrchr(manifest, '/');
        mdir = slash ? strndup(manifest, (size_t)(slash == manifest ? 1 : slash - manifest))
                     : strdup(".");
        if (!mdir)
            goto oom;
        home = mdir;
    } else if (manifest && (r = vpi_mkdir_p(out_dir)) < 0) {
        cli_file_error(out_dir, "cannot create the output folder: %s", vp_strerror(r));
        ret = CLI_EXIT_ERROR;
        goto end;
    }
    if (!report && asprintf(&report_buf, "%s/vidpipe-report.jsonl", home) >= 0)
        report = report_buf;
    if (!log && asprintf(&log_buf, "%s/vidpipe-batch.log", home) >= 0)
        log = log_buf;
    free(mdir);
    if (!report || !log)
        goto oom;

    vp_join_default_opts(&job.join_opts);
    job.join_opts.conform = conform;
    job.join_opts.durable = !no_fsync;
    if (hls_dir) {
        /* the shared segments are written (or found) once, before any worker starts */
        VpFailure hf;
        ho.durable = !no_fsync;
        ho.cancel = cli_cancel();
        if (conform) {
            cli_error("batch: --conform does not apply to --hls (segments are stream copies)");
            ret = CLI_EXIT_USAGE;
            goto end;
        }
        if ((r = vp_hls_packager_new(hls_dir, intro, outro, &ho, &job.hls, &hf)) < 0) {
            if (r != VP_ERR_BAD_OPTION) /* a bad option the library has logged already */
                cli_error("%s", hf.message);
            ret = r == VP_ERR_BAD_OPTION ? CLI_EXIT_USAGE
                  : hf.input >= 0       ? CLI_EXIT_UNREADABLE
                                        : cli_exit_for_error(r);
            goto end;
        }
    }

    VpBatchStats st;
    if (!bo.jobs)
        bo.jobs = cli_default_jobs();
    bo.skip_existing = cli_batch_skip(ow);
    bo.settings = cli_settings();
    bo.report_path = report;
    bo.log_path = log;
    bo.work = hls_dir ? hls_item : join_item;
    bo.opaque = &job;
    bo.worker_new = hls_dir ? NULL : joiner_new;
    bo.worker_free = hls_dir ? NULL : joiner_free;
    bo.output_bytes = hls_dir ? hls_bytes : NULL;
    bo.progress = on_progress;
    bo.item_done = on_item_done;
    /* Ctrl-C lets the items in progress finish (their outputs are complete, a rerun skips
     * them); a second one, or SIGTERM, abandons them too (their temporaries removed). */
    bo.cancel = cli_stop();
    job.join_opts.cancel = cli_cancel();
    cli_signals_install("batch", CLI_SIG_FINISH);

    cli_progress_init(&job.progress, "batch");
    r = vp_batch_run(items, (size_t)nb, &bo, &st);
    cli_progress_end(&job.progress);
    if (r < 0 && r != VP_ERR_CANCELLED) {
        /* The library has logged which file and why (report or log not writable, report
         * held by another run or one of the inputs); only memory is left to say. */
        if (r == AVERROR(ENOMEM))
            cli_error("batch: out of memory");
        ret = r == VP_ERR_OUTPUT_IS_INPUT ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
        goto end;
    }
    print_summary(&st, bo.jobs < nb ? bo.jobs : nb, report, log, json);
    ret = st.failed || st.cancelled ? CLI_EXIT_FAILED : CLI_EXIT_OK;
    goto end;

oom:
    cli_error("batch: out of memory");
    ret = CLI_EXIT_ERROR;
end:
    vp_hls_packager_free(&job.hls);
    free(items);
    free(job.inputs);
    free_clips(clips, nb);
    vpi_manifest_free(&job.manifest);
    free(report_buf);
    free(log_buf);
    for (int i = 0; i < 4; i++)
        free(seed_buf[i]);
    return cli_signals_end(ret, "complete outputs kept, no partial output left");
}

const CliCommand cmd_batch = {
    .name = "batch",
    .summary = "many joins at once: intro + each personal clip + outro, or a CSV manifest",
    .usage = "--intro FILE --outro FILE --personal DIR --out DIR [-j N]\n"
             "       vidpipe batch --intro FILE --outro FILE --personal DIR --hls DIR [-j N]\n"
             "       vidpipe batch --manifest FILE.csv [--out DIR] [-j N]\n"
             "       vidpipe batch [--out DIR] SEED_DIR",
    .details =
        "Each output is joined by stream copy ('vidpipe join') and written under a temporary\n"
        "name, renamed into place only when complete: an output that exists is complete and\n"
        "is skipped, so after a crash or kill -9 a rerun does the rest. A failing item never\n"
        "stops the batch; its reason goes to stderr, the report and the log.\n"
        "\n"
        "--personal: one output per clip, named like the clip (extension .mp4).\n"
        "--hls DIR: personalized HLS instead of MP4 files: the intro's and outro's CMAF\n"
        "  segments once in DIR/shared/ (reused while they are unchanged), and per clip\n"
        "  NAME the playlist DIR/NAME.m3u8 (written last: it exists when NAME is complete)\n"
        "  and its own segments in DIR/NAME/.\n"
        "--manifest: CSV, one output per row: output,segment,segment,... (any number of\n"
        "  segments; RFC 4180 quoting for commas and quotes; a first row starting with\n"
        "  'output' is a header; relative segment paths are relative to the manifest's\n"
        "  folder, relative outputs to --out or else the manifest's folder).\n"
        "SEED_DIR: the folder layout of the ffmpeg script vidpipe replaces: SEED_DIR/input/\n"
        "  Video1/video1.mp4 + each SEED_DIR/input/Video2/*.mp4 + input/Video3/video3.mp4,\n"
        "  into SEED_DIR/output/ (or --out).\n"
        "\n"
        "Exit status: 0 all done or skipped, 1 items failed (or interrupted), 2 an input\n"
        "(manifest, intro, outro, folder) could not be read, 3 usage, 4 output error.",
    .run = run_batch,
};
