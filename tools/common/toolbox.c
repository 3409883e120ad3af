/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>
#include <libavutil/error.h>

#include "toolbox.h"
#include "vidpipe/qc.h"

void tb_batch_init(TbBatch *b)
{
    memset(b, 0, sizeof(*b));
    vp_batch_default_opts(&b->run);
    b->run.jobs = TB_JOBS;
}

int tb_is_dir(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int tb_mkdir(const char *dir)
{
    int ret = vpi_mkdir_p(dir);
    if (ret < 0) {
        cli_file_error(dir, "cannot create folder: %s", vp_strerror(ret));
        return -1;
    }
    return 0;
}

static int add_item(TbItem **items, int *nb, int *cap, const char *path)
{
    if (*nb == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        TbItem *n = realloc(*items, (size_t)nc * sizeof(*n));
        if (!n)
            return AVERROR(ENOMEM);
        *items = n;
        *cap = nc;
    }
    memset(&(*items)[*nb], 0, sizeof(TbItem));
    if (!((*items)[*nb].in = strdup(path)))
        return AVERROR(ENOMEM);
    (*nb)++;
    return 0;
}

int tb_inputs(const char *cmd, int nb_pos, char **pos, TbItem **items, int *nb)
{
    int cap = 0, ret = 0;
    *items = NULL;
    *nb = 0;
    for (int i = 0; i < nb_pos && ret >= 0; i++) {
        if (!tb_is_dir(pos[i])) {
            ret = add_item(items, nb, &cap, pos[i]);
            continue;
        }
        char **names;
        size_t nn;
        if ((ret = vpi_media_list(pos[i], &names, &nn)) < 0) {
            if (ret != AVERROR(ENOMEM)) {
                cli_file_error(pos[i], "cannot read folder: %s", vp_strerror(ret));
                ret = -1;
            }
            break;
        }
        for (size_t k = 0; k < nn && ret >= 0; k++)
            ret = add_item(items, nb, &cap, names[k]);
        vpi_paths_free(names, nn);
        if (ret >= 0 && !nn)
            cli_warn("%s: %s: no media files in this folder", cmd, pos[i]);
    }
    if (ret == AVERROR(ENOMEM))
        cli_error("%s: out of memory", cmd);
    if (ret < 0) {
        tb_items_free(*items, *nb);
        *items = NULL;
        *nb = 0;
    }
    return ret;
}

void tb_items_free(TbItem *items, int nb)
{
    for (int i = 0; i < nb; i++) {
        free(items[i].in);
        free(items[i].in2);
        free(items[i].out);
        for (int k = 0; k < 3; k++)
            free(items[i].extra[k]);
        free(items[i].result);
    }
    free(items);
}

int tb_outputs(TbItem *items, int nb, const char *first, const char *out, const char *suffix)
{
    int single = nb == 1 && !tb_is_dir(first) && !tb_is_dir(out);
    if (!single && tb_mkdir(out) < 0)
        return -1;
    for (int i = 0; i < nb; i++)
        if (!(items[i].out = single ? strdup(out) : tb_out_name(out, items[i].in, suffix))) {
            cli_error("out of memory");
            return -1;
        }
    return single;
}

void tb_pipeline_opts(VpPipelineOpts *po)
{
    vp_pipeline_default_opts(po);
    po->cancel = cli_cancel();
}

void tb_json_begin(CliJson *j, const char *cmd)
{
    cj_init(j, stdout);
    cj_obj_begin(j, NULL);
    cj_str(j, "command", cmd);
    cj_arr_begin(j, "items");
}

int tb_json_item(CliJson *j, const TbItem *it, const char *output)
{
    cj_obj_begin(j, NULL);
    cj_str(j, "input", it->in);
    if (output)
        cj_str(j, "output", output);
    cj_str(j, "status", it->status);
    if (it->fail)
        cj_str(j, "error", it->why);
    return !it->fail && !strcmp(it->status, "done");
}

void tb_json_end(CliJson *j)
{
    cj_arr_end(j);
    cj_obj_end(j);
    cj_end(j);
}

char *tb_out_name(const char *dir, const char *in, const char *suffix)
{
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    size_t len = strlen(dir) + stem + strlen(suffix) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%.*s%s", dir, (int)stem, base, suffix);
    return p;
}

/* An output that is one of the inputs is a mistake of the command line, whichever call
 * found it: exit status 3. */
static int fail_kind(int err, int category)
{
    return err == VP_ERR_OUTPUT_IS_INPUT ? TB_FAIL_USAGE : category;
}

int tb_fail(TbItem *item, int category, const char *file, int err)
{
    item->fail = fail_kind(err, category);
    snprintf(item->fault, sizeof(item->fault), "%s", file);
    snprintf(item->why, sizeof(item->why), "%s: %s", file, vp_strerror(err));
    return err;
}

int tb_fail_with(TbItem *item, int category, const VpFailure *f)
{
    item->fail = fail_kind(f->code, category);
    snprintf(item->fault, sizeof(item->fault), "%.511s", f->path);
    snprintf(item->why, sizeof(item->why), "%.511s", f->message);
    return f->code;
}

typedef struct RunCtx {
    const char *cmd;
    TbItem *items;
    TbWorkFn work;
    void *opaque;
    CliProgress progress;
    int show_progress;
    CliOverwrite ow;
    char *(*report_extra)(const TbItem *item);
} RunCtx;

/* The item's failure as the runner reports it: which file (and which of the item's inputs
 * it is) and why. Left empty, the runner names the output. */
static int batch_work(void *opaque, void *worker, const VpBatchItem *bi, VpFailure *fail)
{
    RunCtx *rc = opaque;
    TbItem *item = bi->user;
    (void)worker;
    item->fail = TB_OK;
    item->why[0] = item->fault[0] = 0;
    int ret = rc->work(rc->opaque, item);
    if (ret < 0 && item->why[0]) {
        snprintf(fail->path, sizeof(fail->path), "%s", item->fault[0] ? item->fault : item->out);
        fail->input = !strcmp(fail->path, item->in) ? 0
                    : item->in2 && !strcmp(fail->path, item->in2) ? 1 : -1;
        snprintf(fail->message, sizeof(fail->message), "%s", item->why);
    }
    return ret;
}

static void batch_item_done(void *opaque, const VpBatchItem *bi, const char *status,
                            const VpFailure *fail, double seconds, int64_t bytes)
{
    RunCtx *rc = opaque;
    TbItem *item = bi->user;
    (void)seconds;
    (void)bytes;
    snprintf(item->status, sizeof(item->status), "%s", status);
    if (fail) {
        if (!item->why[0]) {
            snprintf(item->why, sizeof(item->why), "%.511s", fail->message);
            snprintf(item->fault, sizeof(item->fault), "%.511s", fail->path);
        }
        if (!item->fail)
            item->fail = fail_kind(fail->code, TB_FAIL_OUTPUT);
        /* Items a signal stopped (VP_ERR_CANCELLED, or FFmpeg's AVERROR_EXIT from a call
         * it interrupted) are said once for the run, by cli_signals_end(). */
        VpCancel c = cli_cancel();
        if (!c.fn(c.opaque))
            cli_error("%s", item->why);
    } else if (!strcmp(status, "skipped")) {
        /* Said at the normal level: a rerun that does nothing must say why. */
        if (cli_verbosity < 0)
            ;
        else if (rc->ow == CLI_OW_NO)
            cli_error("%s: %s exists, skipped (-n)", rc->cmd, bi->output);
        else
            cli_error("%s: %s exists, made from the same inputs and settings: skipped "
                      "(-y redoes it)", rc->cmd, bi->output);
    }
}

static char *batch_report_extra(void *opaque, const VpBatchItem *bi)
{
    const RunCtx *rc = opaque;
    return rc->report_extra ? rc->report_extra(bi->user) : NULL;
}

json_t *tb_qc_summary(const VpQcReport *r)
{
    json_t *failed = json_array();
    for (int i = 0; failed && i < r->nb_checks; i++) {
        const VpQcCheck *c = &r->checks[i];
        if (c->verdict != VP_QC_FAIL)
            continue;
        json_t *f = json_pack("{s:s, s:s}", "check", c->name, "message", c->message);
        if (f && isfinite(c->value))
            json_object_set_new(f, "value", json_real(c->value));
        json_array_append_new(failed, f);
    }
    return json_pack("{s:s, s:i, s:o?}", "verdict", r->nb_failed ? "fail" : "pass", "checks",
                     r->nb_checks, "failed", failed);
}

static void batch_progress(void *opaque, int64_t finished, int64_t failed, int64_t total)
{
    RunCtx *rc = opaque;
    (void)failed;
    if (rc->show_progress)
        cli_progress_update(&rc->progress, finished, total);
}

int tb_run(const char *cmd, TbBatch *b, TbItem *items, int nb, TbWorkFn work, void *opaque)
{
    RunCtx rc = { .cmd = cmd, .items = items, .work = work, .opaque = opaque,
                  .report_extra = b->report_extra };
    VpBatchItem *bi = calloc((size_t)(nb ? nb : 1), sizeof(*bi));
    const char *(*inputs)[2] = calloc((size_t)(nb ? nb : 1), sizeof(*inputs));
    VpBatchOpts o;
    VpBatchStats st;

    if (cli_overwrite_mode(cmd, b->overwrite, b->no_overwrite, &rc.ow) < 0) {
        free(bi);
        free(inputs);
        return CLI_EXIT_USAGE;
    }
    if (b->single && nb == 1) {
        /* One output named on the command line: ffmpeg's rule, for each file it names. */
        int kept = 0;
        for (int k = -1; k < 3; k++) {
            const char *path = k < 0 ? items[0].out : items[0].extra[k];
            const char *ins[2] = { items[0].in, items[0].in2 };
            /* An output that is an input is refused by the runner, with that reason. */
            if (path && vp_output_check_not_input(path, ins, items[0].in2 ? 2 : 1) < 0)
                continue;
            int r = cli_output_rule(path, rc.ow);
            if (r == CLI_EXIT_USAGE) {
                free(bi);
                free(inputs);
                return r;
            }
            kept |= r == 1;
        }
        if (kept) {
            snprintf(items[0].status, sizeof(items[0].status), "skipped");
            free(bi);
            free(inputs);
            return CLI_EXIT_OK;
        }
    }
    if (!bi || !inputs) {
        cli_error("%s: out of memory", cmd);
        free(bi);
        free(inputs);
        return CLI_EXIT_ERROR;
    }
    for (int i = 0; i < nb; i++) {
        inputs[i][0] = items[i].in;
        inputs[i][1] = items[i].in2;
        bi[i] = (VpBatchItem){ items[i].in, items[i].out, &items[i], inputs[i], 2 };
    }
    vp_batch_default_opts(&o);
    o.jobs = b->run.jobs;
    o.skip_existing = cli_batch_skip(rc.ow);
    o.settings = cli_settings();
    o.cancel = cli_cancel();
    o.retries = b->run.retries;
    o.report_path = b->report;
    o.work = batch_work;
    o.opaque = &rc;
    o.item_done = batch_item_done;
    o.progress = batch_progress;
    o.report_extra = batch_report_extra;
    rc.show_progress = nb > 1;
    cli_progress_init(&rc.progress, cmd);
    cli_signals_install(cmd, CLI_SIG_ABANDON);
    int ret = vp_batch_run(bi, (size_t)nb, &o, &st);
    cli_progress_end(&rc.progress);
    cli_signals_end(0, NULL);
    free(bi);
    free(inputs);
    if (ret == VP_ERR_OUTPUT_IS_INPUT) /* the library has named the report */
        return CLI_EXIT_USAGE;
    if (ret < 0 && ret != VP_ERR_CANCELLED) {
        cli_error("%s: %s", cmd, vp_strerror(ret));
        return ret == VP_ERR_BAD_OPTION ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
    }
    int input = 0, check = 0, output = 0, usage = 0;
    for (int i = 0; i < nb; i++) {
        input += items[i].fail == TB_FAIL_INPUT;
        check += items[i].fail == TB_FAIL_CHECK;
        output += items[i].fail == TB_FAIL_OUTPUT;
        usage += items[i].fail == TB_FAIL_USAGE;
    }
    if (nb > 1 && cli_verbosity >= 0 && !b->json)
        cli_info("%s: %lld done, %lld skipped, %lld failed in %.1f s", cmd, (long long)st.done,
                 (long long)st.skipped, (long long)st.failed, st.seconds);
    return output ? CLI_EXIT_ERROR : usage ? CLI_EXIT_USAGE : input ? CLI_EXIT_UNREADABLE
                                                                : check ? CLI_EXIT_FAILED
                                                                        : CLI_EXIT_OK;
}

void tb_progress_cb(void *opaque, double done_s, double total_s)
{
    TbProgress *tp = opaque;
    if (isfinite(total_s) && total_s > 0)
        cli_progress_update(&tp->p, (int64_t)done_s, (int64_t)ceil(total_s));
}

int tb_category(int err)
{
    switch (vpi_exit_code(err, VPI_AT_UNKNOWN)) {
    case VPI_EXIT_ERROR:
    case VPI_EXIT_USAGE: /* an output that is an input: tb_fail() makes it a usage error */
        return TB_FAIL_OUTPUT;
    default:
        return TB_FAIL_INPUT;
    }
}

int tb_fail_io(TbItem *item, const char *in, const char *out, int err)
{
    int cat = tb_category(err);
    return tb_fail(item, cat, cat == TB_FAIL_OUTPUT && out ? out : in, err);
}
