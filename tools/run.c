/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe run: a pipeline file (vidpipe/run.h, docs/run.md) over its inputs, on the batch
 * runner: -j N, complete outputs skipped, retries, a per-item report and log. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <libavutil/error.h>

#include "common/commands.h"
#include "common/toolbox.h"
#include "common/outputs.h"

typedef struct RunJob {
    const VpRunPipeline *pl;
    VpRunOpts ro;
    CliProgress progress;
    int json;
    pthread_mutex_t lock;               /* finished, total: the progress line's */
    int64_t finished, total;
} RunJob;

typedef struct RunInput {
    char *path;
    char *name;                         /* the path as given */
    char **outs;
    size_t nb_outs;
    const char *inputs[2];              /* the input and the pipeline file */
    json_t *qc;                         /* what its QC steps found, for the report */
} RunInput;

/* One vp_run_item() call's callbacks' context. */
typedef struct RunCall {
    RunJob *job;
    RunInput *in;
} RunCall;

/* A QC step judged: its failed checks, for the item's report line. */
static void on_qc(void *opaque, const char *input, int step, int stops,
                  const VpQcReport *r)
{
    RunInput *in = ((RunCall *)opaque)->in;
    json_t *s = json_pack("{s:i, s:s}", "step", step, "fail", stops ? "stop" : "warn");
    (void)input;
    if (s)
        json_object_update_new(s, tb_qc_summary(r));
    if (!in->qc)
        in->qc = json_array();
    json_array_append_new(in->qc, s);
}

static char *report_qc(void *opaque, const VpBatchItem *item)
{
    RunInput *in = item->user;
    (void)opaque;
    if (!in->qc)
        return NULL;
    json_t *o = json_pack("{s:o}", "qc", in->qc);
    in->qc = NULL;
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    return text;
}

static int run_one(void *opaque, void *worker, const VpBatchItem *item, VpFailure *fail)
{
    RunJob *job = opaque;
    RunInput *in = item->user;
    RunCall call = { job, in };
    VpRunOpts ro = job->ro;
    VpRunResult res;
    (void)worker;
    ro.opaque = &call;
    json_decref(in->qc); /* an earlier attempt's */
    in->qc = NULL;
    int ret = vp_run_item(job->pl, in->path, &ro, &res, fail);
    if (ret >= 0 && !job->json)
        cli_info("%s: %d pass%s, %d output%s%s", in->path, res.passes,
                 res.passes == 1 ? "" : "es", res.outputs, res.outputs == 1 ? "" : "s",
                 res.qc_warnings ? ", QC warnings" : "");
    return ret;
}

static void on_progress(void *opaque, int64_t finished, int64_t failed, int64_t total)
{
    RunJob *job = opaque;
    (void)failed;
    pthread_mutex_lock(&job->lock);
    job->finished = finished;
    job->total = total;
    pthread_mutex_unlock(&job->lock);
    cli_progress_update(&job->progress, finished, total);
}

/* Within an input: "run 1/4 inputs, talk.mov pass 2/2 45%". */
static void on_pass_progress(void *opaque, const char *input, int pass, int nb_passes,
                             double done_s, double total_s)
{
    RunJob *job = ((RunCall *)opaque)->job;
    pthread_mutex_lock(&job->lock);
    int64_t finished = job->finished, total = job->total;
    pthread_mutex_unlock(&job->lock);
    const char *base = strrchr(input, '/');
    if (total_s > 0)
        cli_progress_text(&job->progress, "%lld/%lld inputs, %s pass %d/%d %d%%",
                          (long long)finished, (long long)total, base ? base + 1 : input,
                          pass, nb_passes, (int)(100 * done_s / total_s));
}

static void on_item_done(void *opaque, const VpBatchItem *item, const char *status,
                         const VpFailure *fail, double seconds, int64_t bytes)
{
    RunJob *job = opaque;
    (void)bytes;
    if (fail)
        cli_error("%s", fail->message);
    else if (!job->json && cli_verbosity >= 0)
        cli_print("%s: %s%s in %.1f s\n", item->name, status,
               !strcmp(status, "skipped") ? " (complete outputs)" : "", seconds);
}

static void free_inputs(RunInput *ins, size_t nb)
{
    for (size_t i = 0; ins && i < nb; i++) {
        free(ins[i].path);
        vp_run_paths_free(ins[i].outs, ins[i].nb_outs);
        json_decref(ins[i].qc);
    }
    free(ins);
}

static int print_plan(const VpRunPipeline *pl, int json)
{
    char *plan = vp_run_pipeline_plan(pl);
    int passes, steps;
    if (!plan) {
        cli_error("run: out of memory");
        return CLI_EXIT_ERROR;
    }
    vp_run_pipeline_counts(pl, &passes, &steps);
    if (json) {
        CliJson j;
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_int(&j, "passes", passes);
        cj_int(&j, "steps", steps);
        cj_arr_begin(&j, "lines");
        for (char *line = strtok(plan, "\n"); line; line = strtok(NULL, "\n"))
            cj_str(&j, NULL, line);
        cj_arr_end(&j);
        cj_obj_end(&j);
        cj_end(&j);
    } else {
        fputs(plan, stdout);
    }
    free(plan);
    return CLI_EXIT_OK;
}

/* --dry-run: every input opened and checked against the steps; nothing written. */
static int dry_run(const VpRunPipeline *pl, const VpRunOpts *ro, RunInput *ins, size_t nb,
                   int json)
{
    CliJson j;
    int bad = 0, worst = 0;
    if (json) {
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_bool(&j, "dry_run", 1);
        cj_arr_begin(&j, "items");
    }
    for (size_t i = 0; i < nb; i++) {
        VpFailure f;
        int ret = vp_run_check_input(pl, ins[i].path, ro, &f);
        if (ret < 0) {
            int code = vpi_exit_code(ret, VPI_AT_INPUT);
            bad++;
            worst = code > worst ? code : worst;
        }
        if (json) {
            cj_obj_begin(&j, NULL);
            cj_str(&j, "input", ins[i].path);
            cj_str(&j, "status", ret < 0 ? "bad" : "ok");
            if (ret < 0)
                cj_str(&j, "reason", f.message);
            cj_arr_begin(&j, "outputs");
            for (size_t k = 0; k < ins[i].nb_outs; k++)
                cj_str(&j, NULL, ins[i].outs[k]);
            cj_arr_end(&j);
            cj_obj_end(&j);
        } else if (ret < 0) {
            printf("bad %s\n", f.message);
        } else {
            printf("ok  %s ->", ins[i].path);
            for (size_t k = 0; k < ins[i].nb_outs; k++)
                printf(" %s", ins[i].outs[k]);
            printf("%s\n", ins[i].nb_outs ? "" : " (checks only)");
        }
    }
    if (json) {
        cj_arr_end(&j);
        cj_int(&j, "ok", (int64_t)nb - bad);
        cj_int(&j, "bad", bad);
        cj_obj_end(&j);
        cj_end(&j);
    } else {
        printf("dry run: %zu input%s, %zu ok, %d bad\n", nb, nb == 1 ? "" : "s",
               nb - (size_t)bad, bad);
    }
    return bad ? (worst == CLI_EXIT_ERROR ? CLI_EXIT_ERROR : CLI_EXIT_UNREADABLE) : CLI_EXIT_OK;
}

static int run_run(int argc, char **argv)
{
    const char *out_dir = "out", *report = NULL, *log = NULL;
    int json = 0, plan = 0, dry = 0, list_steps = 0, overwrite = 0, no_overwrite = 0;
    int nb_pos = 0, decode_threads = 0;
    CliOverwrite ow;
    VpBatchOpts bo;
    vp_batch_default_opts(&bo);
    const VpOptionTable *bt = vp_option_table("batch");
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out_dir, "DIR",
          "outputs of a pipeline without a deliver step (default out)" },
        CLI_LIB("jobs", 'j', &bo, "N", bt, "jobs"),
        { "plan", 0, CLI_FLAG, &plan, NULL, "print the passes, one line each, and exit" },
        { "dry-run", 0, CLI_FLAG, &dry, NULL,
          "check the file and open every input, write nothing" },
        { "list-steps", 0, CLI_FLAG, &list_steps, NULL,
          "list the steps and their options, and exit" },
        { "report", 0, CLI_STR, &report, "FILE",
          "per-input JSON lines (default OUT/vidpipe-run-report.jsonl)" },
        { "log", 0, CLI_STR, &log, "FILE", "run log, appended (default OUT/vidpipe-run.log)" },
        CLI_LIB("retries", 0, &bo, "N", bt, "retries"),
        { "decode-threads", 0, CLI_INT, &decode_threads, "N",
          "video decoder threads a pass (0: automatic)", 0, 64 },
        CLI_OVERWRITE_OPTS(overwrite, no_overwrite),
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable plan, dry run or summary" },
        { 0 },
    };
    VpRunPipeline *pl = NULL;
    RunInput *ins = NULL;
    VpBatchItem *items = NULL;
    char **paths = NULL, *report_buf = NULL, *log_buf = NULL;
    size_t nb = 0;
    int ret = CLI_EXIT_OK, r;
    VpFailure f;

    r = cli_parse(&cmd_run, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (cli_overwrite_mode("run", overwrite, no_overwrite, &ow) < 0)
        return CLI_EXIT_USAGE;
    if (list_steps) {
        char *text = vp_run_describe_steps();
        if (!text)
            return CLI_EXIT_ERROR;
        fputs(text, stdout);
        free(text);
        return CLI_EXIT_OK;
    }
    if (nb_pos < 1) {
        cli_error("run: give a pipeline file (see 'vidpipe run --help')");
        return CLI_EXIT_USAGE;
    }
    if ((r = vp_run_pipeline_load(argv[1], &pl, &f)) < 0) {
        cli_error("%s", f.message);
        return r == VP_ERR_BAD_CONFIG ? CLI_EXIT_USAGE : cli_exit_for_error(r);
    }
    if (plan) {
        ret = print_plan(pl, json);
        goto end;
    }

    /* The inputs: the command line's, else the file's. */
    if (nb_pos > 1) {
        for (int i = 2; i <= nb_pos; i++) {
            struct stat sb;
            char **list = NULL;
            size_t n = 0;
            if (!stat(argv[i], &sb) && S_ISDIR(sb.st_mode)) {
                if ((r = vpi_media_list(argv[i], &list, &n)) < 0) {
                    cli_file_error(argv[i], "%s", vp_strerror(r));
                    ret = cli_exit_for_error(r);
                    goto end;
                }
            } else if (!(list = malloc(sizeof(*list))) || !(list[0] = strdup(argv[i]))) {
                free(list);
                goto oom;
            } else {
                n = 1;
            }
            char **grown = realloc(paths, (nb + n) * sizeof(*paths));
            if (!grown) {
                vpi_paths_free(list, n);
                goto oom;
            }
            paths = grown;
            memcpy(paths + nb, list, n * sizeof(*list));
            nb += n;
            free(list);
        }
    } else if ((r = vp_run_pipeline_inputs(pl, &paths, &nb, &f)) < 0) {
        cli_error("%s", f.message);
        ret = r == VP_ERR_BAD_CONFIG ? CLI_EXIT_USAGE : cli_exit_for_error(r);
        goto end;
    }
    if (!nb) {
        cli_warn("run: no inputs");
        goto end;
    }

    RunJob job = { .pl = pl, .json = json, .lock = PTHREAD_MUTEX_INITIALIZER,
                   .total = (int64_t)nb };
    vp_run_default_opts(&job.ro);
    job.ro.progress = on_pass_progress;
    job.ro.on_qc = on_qc;
    job.ro.out_dir = out_dir;
    job.ro.decode_threads = decode_threads;
    if (!(ins = calloc(nb, sizeof(*ins))) || !(items = calloc(nb, sizeof(*items))))
        goto oom;
    for (size_t i = 0; i < nb; i++) {
        RunInput *in = &ins[i];
        in->path = paths[i];
        paths[i] = NULL;
        if (vp_run_item_outputs(pl, in->path, &job.ro, &in->outs, &in->nb_outs) < 0)
            goto oom;
        in->inputs[0] = in->path;
        in->inputs[1] = argv[1];
        /* An item is complete when its last output is in place: the library puts it
         * there last. A pipeline of checks only writes nothing and is never skipped. */
        items[i] = (VpBatchItem){ in->path, in->nb_outs ? in->outs[in->nb_outs - 1] : NULL,
                                  in, in->inputs, 2, (const char *const *)in->outs,
                                  in->nb_outs ? (int)in->nb_outs - 1 : 0 };
    }
    if (dry) {
        ret = dry_run(pl, &job.ro, ins, nb, json);
        goto end;
    }

    if ((r = vpi_mkdir_p(out_dir)) < 0) {
        cli_file_error(out_dir, "cannot create the output folder: %s", vp_strerror(r));
        ret = CLI_EXIT_ERROR;
        goto end;
    }
    if (!report && asprintf(&report_buf, "%s/vidpipe-run-report.jsonl", out_dir) >= 0)
        report = report_buf;
    if (!log && asprintf(&log_buf, "%s/vidpipe-run.log", out_dir) >= 0)
        log = log_buf;
    if (!report || !log)
        goto oom;

    VpBatchStats st;
    if (!bo.jobs)
        bo.jobs = cli_default_jobs();
    bo.skip_existing = cli_batch_skip(ow);
    /* What the outputs are made from: the pipeline as read, and the options that shape
     * them; editing the file redoes them. */
    char *settings = NULL;
    if (asprintf(&settings, "%s %s", vp_run_pipeline_settings(pl), cli_settings()) < 0)
        goto oom;
    bo.settings = settings;
    bo.report_path = report;
    bo.log_path = log;
    bo.work = run_one;
    bo.report_extra = report_qc;
    bo.opaque = &job;
    bo.progress = on_progress;
    bo.item_done = on_item_done;
    bo.cancel = cli_stop();
    job.ro.cancel = cli_cancel();
    cli_signals_install("run", CLI_SIG_FINISH);
    cli_progress_init(&job.progress, "run");
    r = vp_batch_run(items, nb, &bo, &st);
    cli_progress_end(&job.progress);
    free(settings);
    if (r < 0 && r != VP_ERR_CANCELLED) {
        if (r == AVERROR(ENOMEM))
            cli_error("run: out of memory");
        ret = r == VP_ERR_OUTPUT_IS_INPUT ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
        goto end;
    }
    if (json) {
        CliJson j;
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_int(&j, "total", st.total);
        cj_int(&j, "done", st.done);
        cj_int(&j, "skipped", st.skipped);
        cj_int(&j, "failed", st.failed);
        cj_int(&j, "not_started", st.cancelled);
        cj_int(&j, "bytes", st.bytes);
        cj_num(&j, "seconds", st.seconds);
        int passes, steps;
        vp_run_pipeline_counts(pl, &passes, &steps);
        cj_int(&j, "passes", passes);
        cj_int(&j, "steps", steps);
        cj_str(&j, "report", report);
        cj_str(&j, "log", log);
        cj_obj_end(&j);
        cj_end(&j);
    } else if (cli_verbosity >= 0) {
        printf("run: %lld input%s: %lld done, %lld skipped, %lld failed",
               (long long)st.total, st.total == 1 ? "" : "s", (long long)st.done,
               (long long)st.skipped, (long long)st.failed);
        if (st.cancelled)
            printf(", %lld not started (interrupted)", (long long)st.cancelled);
        printf(" in %.1f s\nreport: %s, log: %s\n", st.seconds, report, log);
    }
    ret = st.failed || st.cancelled ? CLI_EXIT_FAILED : CLI_EXIT_OK;
    goto end;

oom:
    cli_error("run: out of memory");
    ret = CLI_EXIT_ERROR;
end:
    free_inputs(ins, nb);
    free(items);
    vpi_paths_free(paths, nb);
    free(report_buf);
    free(log_buf);
    vp_run_pipeline_free(&pl);
    return cli_signals_end(ret, "complete outputs kept, no partial output left");
}

const CliCommand cmd_run = {
    .name = "run",
    .summary = "a production pipeline from a JSON file: qc, cleanup, loudnorm, subtitles, "
               "export, deliver",
    .usage = "[OPTIONS] PIPELINE.json [INPUT|FOLDER...]",
    .details =
        "The file names its inputs (\"inputs\": a pattern, a folder, a list file) and its\n"
        "steps, each with the options of its command ('vidpipe run --list-steps'). Inputs\n"
        "on the command line replace the file's. Steps that can share one decode run in one\n"
        "pass; a step that needs the whole input first (loudnorm's measurement,\n"
        "stabilization, captions to burn in) ends a pass: --plan prints them. A QC step\n"
        "with \"fail\": \"stop\" that fails stops that input before anything of its pass is\n"
        "written; the others go on. Outputs go where the deliver step says, else into -o\n"
        "DIR as NAME_PRESET.mp4 (NAME_STEP.mp4 without export) and NAME.srt. An input\n"
        "whose outputs are complete and made from the same file and inputs is skipped;\n"
        "-y redoes it. docs/run.md has the format.\n"
        "\n"
        "Exit status: 0 all done or skipped, 1 inputs failed or stopped by QC (or\n"
        "interrupted), 2 an input could not be read (--dry-run), 3 usage or a bad pipeline\n"
        "file, 4 output error.",
    .run = run_run,
};
