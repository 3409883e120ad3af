/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe qc: every quality check in one decode pass, judged against a spec. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libavutil/error.h>

#include "common/commands.h"
#include "common/qc_html.h"
#include "common/toolbox.h"
#include "vidpipe/qc.h"

typedef struct QcJob {
    VpQcSpec spec;
    VpQcOpts qopts;
    const char *html;
    int single;
} QcJob;

static const char *verdict_name(VpQcVerdict v)
{
    return v == VP_QC_PASS ? "pass" : v == VP_QC_FAIL ? "fail" : "n/a";
}

static int qc_one(void *opaque, TbItem *item)
{
    QcJob *job = opaque;
    VpQcReport *r = NULL;
    VpQcOpts qo = job->qopts;
    VpPipelineOpts po;
    TbProgress tp;

    tb_pipeline_opts(&po);
    qo.pipeline = &po;
    if (job->single) {
        cli_progress_init(&tp.p, "qc: seconds");
        po.progress = tb_progress_cb;
        po.opaque = &tp;
    }
    int ret = vp_qc_run(item->in, &job->spec, &qo, &r);
    if (job->single)
        cli_progress_end(&tp.p);
    if (ret < 0)
        return tb_fail(item, ret == VP_ERR_BAD_OPTION ? TB_FAIL_OUTPUT : TB_FAIL_INPUT,
                       item->in, ret);
    item->result = r;
    if (item->out && (ret = qc_html_write(item->out, item->in, r)) < 0)
        return tb_fail(item, TB_FAIL_OUTPUT, item->out, ret);
    if (r->nb_failed)
        item->fail = TB_FAIL_CHECK;
    return 0;
}

/* --report: what the checks found, beside the runner's status */
static char *report_qc(const TbItem *it)
{
    if (!it->result)
        return NULL;
    json_t *o = json_pack("{s:o?}", "qc", tb_qc_summary(it->result));
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    return text;
}

static void print_text(const TbItem *it)
{
    const VpQcReport *r = it->result;
    if (!r)
        return;
    printf("%s: %s", it->in, r->nb_failed ? "FAIL" : "PASS");
    if (r->nb_failed)
        printf(", %d of %d checks failed", r->nb_failed, r->nb_checks);
    putchar('\n');
    /* Failed checks first: they are what a person came for. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < r->nb_checks; i++) {
            const VpQcCheck *c = &r->checks[i];
            if ((c->verdict == VP_QC_FAIL) != (pass == 0))
                continue;
            printf("  %-4s  %-15s %s\n", verdict_name(c->verdict), c->name, c->message);
        }
    for (int i = 0; i < r->nb_errors && i < 20; i++)
        printf("  decode error at %.3f s: %s\n", r->errors[i].time, r->errors[i].what);
    if (r->nb_errors > 20)
        printf("  ... %d more decode errors (--json lists them)\n", r->nb_errors - 20);
}

/* What a person reads after a folder: the counts, then one line per file that did not pass
 * (failed before unreadable, in input order), so the end of a long report says what to fix. */
static void print_summary(const TbItem *items, int nb)
{
    int passed = 0, failed = 0, unreadable = 0;
    for (int i = 0; i < nb; i++) {
        const VpQcReport *r = items[i].result;
        if (!r)
            unreadable++;
        else if (r->nb_failed)
            failed++;
        else
            passed++;
    }
    printf("qc summary: %d file%s: %d passed, %d failed, %d unreadable\n", nb,
           nb == 1 ? "" : "s", passed, failed, unreadable);
    for (int i = 0; i < nb; i++) {
        const VpQcReport *r = items[i].result;
        if (!r || !r->nb_failed)
            continue;
        printf("  FAIL        %s:", items[i].in);
        const char *sep = " ";
        for (int c = 0; c < r->nb_checks; c++)
            if (r->checks[c].verdict == VP_QC_FAIL) {
                printf("%s%s", sep, r->checks[c].name);
                sep = ", ";
            }
        putchar('\n');
    }
    for (int i = 0; i < nb; i++)
        if (!items[i].result)
            printf("  UNREADABLE  %s\n", items[i].why); /* "FILE: reason" */
}

static void json_summary(CliJson *j, const TbItem *items, int nb)
{
    int passed = 0, failed = 0, unreadable = 0;
    for (int i = 0; i < nb; i++) {
        const VpQcReport *r = items[i].result;
        unreadable += !r;
        failed += r && r->nb_failed;
        passed += r && !r->nb_failed;
    }
    cj_obj_begin(j, "summary");
    cj_int(j, "total", nb);
    cj_int(j, "passed", passed);
    cj_int(j, "failed", failed);
    cj_int(j, "unreadable", unreadable);
    cj_obj_end(j);
}

static void json_stretches(CliJson *j, const char *key, const VpQcStretch *v, int nb)
{
    cj_arr_begin(j, key);
    for (int i = 0; i < nb; i++) {
        cj_obj_begin(j, NULL);
        cj_num(j, "start", v[i].start);
        cj_num(j, "end", v[i].end);
        cj_num(j, "duration", v[i].end - v[i].start);
        cj_obj_end(j);
    }
    cj_arr_end(j);
}

static void json_item(CliJson *j, const TbItem *it)
{
    const VpQcReport *r = it->result;
    cj_obj_begin(j, NULL);
    cj_str(j, "input", it->in);
    if (!r) {
        cj_str(j, "status", "unreadable");
        cj_str(j, "error", it->why);
        cj_obj_end(j);
        return;
    }
    cj_str(j, "status", r->nb_failed ? "fail" : "pass");
    cj_int(j, "failed", r->nb_failed);
    cj_obj_begin(j, "measurements");
    if (r->source.has_video) {
        cj_int(j, "width", r->source.width);
        cj_int(j, "height", r->source.height);
    } else {
        cj_null(j, "width");
        cj_null(j, "height");
    }
    cj_num(j, "duration", r->source.duration);
    cj_num(j, "video_duration", r->video_duration);
    cj_num(j, "audio_duration", r->audio_duration);
    cj_num(j, "sample_peak_dbfs", isinf(r->sample_peak) ? -200 : r->sample_peak);
    cj_num(j, "true_peak_dbtp", isinf(r->true_peak) ? -200 : r->true_peak);
    cj_num(j, "integrated_lufs", r->loudness);
    cj_num(j, "loudness_range_lu", r->lra);
    cj_int(j, "decode_errors", r->nb_errors_total);
    cj_obj_end(j);
    json_stretches(j, "black", r->black, r->nb_black);
    json_stretches(j, "silence", r->silence, r->nb_silence);
    json_stretches(j, "freeze", r->freeze, r->nb_freeze);
    json_stretches(j, "corrupt", r->corrupt, r->nb_corrupt);
    cj_arr_begin(j, "decode_errors");
    for (int i = 0; i < r->nb_errors; i++) {
        cj_obj_begin(j, NULL);
        cj_num(j, "time", r->errors[i].time);
        cj_str(j, "stream", vp_stream_type_name(r->errors[i].stream));
        cj_str(j, "what", r->errors[i].what);
        cj_obj_end(j);
    }
    cj_arr_end(j);
    cj_arr_begin(j, "checks");
    for (int i = 0; i < r->nb_checks; i++) {
        const VpQcCheck *c = &r->checks[i];
        cj_obj_begin(j, NULL);
        cj_str(j, "name", c->name);
        cj_str(j, "verdict", verdict_name(c->verdict));
        cj_num(j, "value", isinf(c->value) ? -200 : c->value);
        cj_str(j, "message", c->message);
        cj_obj_end(j);
    }
    cj_arr_end(j);
    cj_obj_end(j);
}

static int run_qc(int argc, char **argv)
{
    QcJob job = { 0 };
    TbBatch b;
    const char *spec_path = NULL;
    int nb_pos = 0, show_spec = 0;

    vp_qc_default_spec(&job.spec);
    vp_qc_default_opts(&job.qopts);
    tb_batch_init(&b);
    const CliOpt opts[] = {
        { "spec", 0, CLI_STR, &spec_path, "SPEC.json", "what the files must meet (JSON)" },
        { "html", 0, CLI_STR, &job.html, "REPORT.html",
          "also a report a person reads (a folder for several inputs)" },
        { "show-spec", 0, CLI_FLAG, &show_spec, NULL, "list the spec fields and defaults" },
        TB_BATCH_OPTS(b),
        { 0 },
    };
    int r = cli_parse(&cmd_qc, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (show_spec) {
        char buf[4096];
        vp_qc_spec_describe(buf, sizeof(buf));
        printf("QC spec fields (JSON object members) and defaults:\n%s", buf);
        return CLI_EXIT_OK;
    }
    if (!nb_pos) {
        cli_error("qc: give at least one file or folder (see 'vidpipe qc --help')");
        return CLI_EXIT_USAGE;
    }
    if (spec_path) {
        char err[256];
        int ret = vp_qc_spec_load(spec_path, &job.spec, err, sizeof(err));
        if (ret < 0) {
            cli_file_error(spec_path, "%s", err);
            return CLI_EXIT_USAGE;
        }
    }
    TbItem *items;
    int nb;
    if (tb_inputs("qc", nb_pos, argv + 1, &items, &nb) < 0)
        return CLI_EXIT_UNREADABLE;
    job.single = nb == 1 && !tb_is_dir(argv[1]);
    job.qopts.sheet = job.html != NULL;
    if (job.html && !job.single && tb_mkdir(job.html) < 0) {
        tb_items_free(items, nb);
        return CLI_EXIT_ERROR;
    }
    for (int i = 0; i < nb; i++)
        if (job.html && !(items[i].out = job.single ? strdup(job.html)
                                                    : tb_out_name(job.html, items[i].in,
                                                                  ".html"))) {
            tb_items_free(items, nb);
            return CLI_EXIT_ERROR;
        }
    b.single = job.single;
    b.report_extra = report_qc;
    int ret = tb_run("qc", &b, items, nb, qc_one, &job);
    CliJson j;
    if (b.json) {
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_str(&j, "command", "qc");
        cj_arr_begin(&j, "items");
    }
    for (int i = 0; i < nb; i++) {
        if (b.json)
            json_item(&j, &items[i]);
        else
            print_text(&items[i]);
    }
    if (!b.json && !job.single)
        print_summary(items, nb);
    if (b.json) {
        cj_arr_end(&j);
        json_summary(&j, items, nb);
        cj_obj_end(&j);
        cj_end(&j);
    }
    for (int i = 0; i < nb; i++)
        vp_qc_report_free((VpQcReport **)&items[i].result);
    tb_items_free(items, nb);
    return ret;
}

const CliCommand cmd_qc = {
    .name = "qc",
    .summary = "quality control in one decode pass: integrity, loudness, black/silence/freeze",
    .usage = "[--spec SPEC.json] [--html REPORT.html] [--json] FILE|FOLDER...",
    .details = "Checks, each passed or failed against the spec (--show-spec lists its fields "
               "and defaults):\nintegrity (every decode error, with its time), resolution, "
               "duration bounds, audio present,\nsample peak and true peak (dBFS), "
               "integrated loudness and loudness range (EBU R128),\nblack, silent and frozen "
               "stretches, audio vs video length. Failed checks are listed first. Over several files or\n"
               "a folder, a summary ends the report: the counts passed, failed and unreadable, "
               "then one\nline per file that did not pass, with its failed checks or the "
               "reason.\n"
               "Exit status: 0 every check passed, 1 a check failed, 2 a file could not be "
               "read.",
    .run = run_qc,
};
