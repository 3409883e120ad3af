/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe export: several platform presets from one decode of each input. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "common/commands.h"
#include "common/toolbox.h"
#include "vidpipe/export.h"

#define MAX_CHOSEN 32

typedef struct ExportJob {
    const VpPreset *chosen[MAX_CHOSEN];
    int nb_chosen;
    const char *dir;
    int single, no_skip;
    CliOverwrite ow;
    VpEncodeOpts enc;           /* what the command line sets for every preset (--hw) */
} ExportJob;

typedef struct ExportResult {
    int decode_errors;
    int has_audio;
    VpOutputInfo out[MAX_CHOSEN];
    int made[MAX_CHOSEN];
    double seconds;
} ExportResult;

static char *out_path(const ExportJob *job, const char *in, const VpPreset *p)
{
    char suffix[64];
    snprintf(suffix, sizeof(suffix), "_%s.mp4", p->name);
    return tb_out_name(job->dir, in, suffix);
}

static int export_one(void *opaque, TbItem *item)
{
    ExportJob *job = opaque;
    ExportResult *res = calloc(1, sizeof(*res));
    char *paths[MAX_CHOSEN] = { 0 };
    int idx[MAX_CHOSEN];
    VpPipeline *p = NULL;
    VpPipelineOpts po;
    TbProgress tp;
    int ret = 0;
    /* What makes the outputs, as the runner records it on the last one, so that a rerun
     * remakes exactly the presets whose input or settings changed. */
    char stamp[VPI_MADE_FROM_SIZE];
    int stamped = vpi_made_from((const char *const *)&item->in, 1, cli_settings(), stamp) == 0;

    if (!res)
        return tb_fail(item, TB_FAIL_OUTPUT, item->in, AVERROR(ENOMEM));
    free(item->result);
    item->result = res;
    tb_pipeline_opts(&po);
    po.skip_unneeded = !job->no_skip;
    if (job->single) {
        cli_progress_init(&tp.p, "export: seconds");
        po.progress = tb_progress_cb;
        po.opaque = &tp;
    }
    if ((ret = vp_pipeline_open(item->in, &po, &p)) < 0) {
        tb_fail(item, TB_FAIL_INPUT, item->in, ret);
        goto end;
    }
    const VpSourceInfo *src = vp_pipeline_source(p);
    if (!src->has_video) {
        ret = tb_fail(item, TB_FAIL_INPUT, item->in, VP_ERR_NO_VIDEO);
        goto end;
    }
    res->has_audio = src->has_audio;
    int added = 0;
    for (int i = 0; i < job->nb_chosen; i++) {
        idx[i] = -1;
        if (!(paths[i] = out_path(job, item->in, job->chosen[i]))) {
            ret = tb_fail(item, TB_FAIL_OUTPUT, item->in, AVERROR(ENOMEM));
            goto end;
        }
        /* An output that is there because it is the input is refused, not skipped, as the
         * runner does for the last preset's. */
        if ((ret = vp_output_check_not_input(paths[i], (const char *const *)&item->in, 1)) < 0) {
            tb_fail(item, TB_FAIL_USAGE, paths[i], ret);
            goto end;
        }
        /* Presets whose output is already there (and, unless -n, made from this input and
         * these settings) are not made again: one decode for the rest. */
        if (job->ow != CLI_OW_YES && access(paths[i], F_OK) == 0 &&
            (job->ow == CLI_OW_NO || (stamped && vpi_made_from_matches(paths[i], stamp))))
            continue;
        VpEncodeOpts eo;
        vp_preset_encode_opts(job->chosen[i], paths[i], &eo);
        eo.hw = job->enc.hw;
        if ((ret = idx[i] = vp_pipeline_add_encode(p, &eo)) < 0) {
            VpFailure fail;
            vp_pipeline_failure(p, &fail);
            if (fail.input < 0 && fail.path[0])
                tb_fail_with(item, TB_FAIL_OUTPUT, &fail);
            else
                tb_fail(item, TB_FAIL_INPUT, item->in, ret);
            goto end;
        }
        added++;
    }
    if (!added)
        goto end;
    if ((ret = vp_pipeline_run(p)) < 0) {
        VpFailure fail;
        vp_pipeline_failure(p, &fail);
        if (fail.input < 0 && fail.path[0])
            tb_fail_with(item, TB_FAIL_OUTPUT, &fail);
        else
            tb_fail(item, TB_FAIL_INPUT, item->in, ret);
        goto end;
    }
    res->decode_errors = ret;
    ret = 0;
    for (int i = 0; i < job->nb_chosen; i++)
        if (idx[i] >= 0) {
            vp_pipeline_output_info(p, idx[i], &res->out[i]);
            res->out[i].path = NULL;
            res->made[i] = 1;
            if (stamped)
                vpi_made_from_store(paths[i], stamp);
        }
    VpPipelineStats st;
    vp_pipeline_stats(p, &st);
    res->seconds = st.seconds;
    if (res->decode_errors) {
        int nb;
        const VpDecodeError *e = vp_pipeline_decode_errors(p, &nb, NULL);
        cli_warn("%s: %d decode error%s between %.2f s and %.2f s; carried on past them",
                 item->in, res->decode_errors, res->decode_errors == 1 ? "" : "s",
                 nb ? e[0].time : 0, nb ? e[nb - 1].time : 0);
    }
end:
    if (job->single)
        cli_progress_end(&tp.p);
    for (int i = 0; i < job->nb_chosen; i++)
        free(paths[i]);
    vp_pipeline_close(&p);
    return ret;
}

static void list_presets(const VpPresetSet *set)
{
    printf("%-14s %-10s %5s %4s %-10s %9s %8s  %s\n", "name", "frame", "fps", "crf", "x264",
           "max kb/s", "aac kb/s", "description");
    for (int i = 0; i < vp_preset_set_count(set); i++) {
        const VpPreset *p = vp_preset_set_get(set, i);
        char frame[24];
        snprintf(frame, sizeof(frame), "%dx%d", p->width, p->height);
        printf("%-14s %-10s %5g %4d %-10s %9lld %8lld  %s\n", p->name, frame, p->fps, p->crf,
               p->x264_preset, (long long)(p->max_bitrate / 1000),
               (long long)(p->audio_bitrate / 1000), p->description);
    }
}

static int run_export(int argc, char **argv)
{
    ExportJob job = { 0 };
    TbBatch b;
    const char *names = NULL, *preset_file = NULL;
    int nb_pos = 0, list = 0, ret;
    VpPresetSet *set = NULL;
    char *names_copy = NULL;
    TbItem *items = NULL;
    int nb = 0;

    tb_batch_init(&b);
    vp_encode_default_opts(&job.enc);
    const VpOptionTable *et = vp_option_table("encode");
    const CliOpt opts[] = {
        { "preset", 'p', CLI_STR, &names, "A,B,...", "presets to make (see --list-presets)" },
        { "output", 'o', CLI_STR, &job.dir, "DIR", "folder for the exports (IN_PRESET.mp4)" },
        { "presets", 0, CLI_STR, &preset_file, "FILE", "more presets from a JSON file" },
        { "list-presets", 0, CLI_FLAG, &list, NULL, "list the presets and exit" },
        { "decode-all", 0, CLI_FLAG, &job.no_skip, NULL, "decode every frame" },
        CLI_LIB("hw", 0, &job.enc, "NAME", et, "hw"),
        TB_BATCH_OPTS(b),
        { 0 },
    };
    int r = cli_parse(&cmd_export, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (vp_preset_set_new(&set) < 0) {
        cli_error("export: out of memory");
        return CLI_EXIT_ERROR;
    }
    if (preset_file) {
        char err[256];
        if ((ret = vp_preset_set_load(set, preset_file, err, sizeof(err))) < 0) {
            cli_file_error(preset_file, "%s", err);
            ret = CLI_EXIT_USAGE;
            goto end;
        }
    }
    if (list) {
        list_presets(set);
        ret = CLI_EXIT_OK;
        goto end;
    }
    if (!nb_pos || !names || !job.dir) {
        cli_error("export: give an input, --preset A,B and -o DIR (see 'vidpipe export "
                  "--help')");
        ret = CLI_EXIT_USAGE;
        goto end;
    }
    if (!(names_copy = strdup(names))) {
        ret = CLI_EXIT_ERROR;
        goto end;
    }
    for (char *save = NULL, *tok = strtok_r(names_copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        const VpPreset *p = vp_preset_set_find(set, tok);
        if (!p) {
            cli_error("export: unknown preset '%s' (see 'vidpipe export --list-presets')", tok);
            ret = CLI_EXIT_USAGE;
            goto end;
        }
        int dup = 0;
        for (int i = 0; i < job.nb_chosen; i++)
            dup |= job.chosen[i] == p;
        if (dup)
            continue;
        if (job.nb_chosen == MAX_CHOSEN) {
            cli_error("export: at most %d presets at a time", MAX_CHOSEN);
            ret = CLI_EXIT_USAGE;
            goto end;
        }
        job.chosen[job.nb_chosen++] = p;
    }
    if (!job.nb_chosen) {
        cli_error("export: --preset names no preset");
        ret = CLI_EXIT_USAGE;
        goto end;
    }
    if (cli_overwrite_mode("export", b.overwrite, b.no_overwrite, &job.ow) < 0) {
        ret = CLI_EXIT_USAGE;
        goto end;
    }
    if (tb_inputs("export", nb_pos, argv + 1, &items, &nb) < 0) {
        ret = CLI_EXIT_UNREADABLE;
        goto end;
    }
    if (tb_mkdir(job.dir) < 0) {
        ret = CLI_EXIT_ERROR;
        goto end;
    }
    job.single = nb == 1;
    for (int i = 0; i < nb; i++)
        /* The batch skips an input when its last export exists: they are renamed into place
         * together at the end of the pass. */
        if (!(items[i].out = out_path(&job, items[i].in, job.chosen[job.nb_chosen - 1]))) {
            ret = CLI_EXIT_ERROR;
            goto end;
        }
    if (job.single && !tb_is_dir(argv[1]) && job.ow == CLI_OW_ASK)
        /* One input: every preset's output is named by the command line, as one file is. */
        for (int k = 0; k < job.nb_chosen; k++) {
            char *path = out_path(&job, items[0].in, job.chosen[k]);
            /* An output that is the input is refused by the work, with that reason. */
            int rule = path && vp_output_check_not_input(path, (const char *const *)&items[0].in,
                                                         1) >= 0 ? cli_output_rule(path, job.ow)
                                                                 : 0;
            free(path);
            if (rule == CLI_EXIT_USAGE) {
                ret = rule;
                goto end;
            }
        }
    ret = tb_run("export", &b, items, nb, export_one, &job);
    if (b.json) {
        CliJson j;
        tb_json_begin(&j, "export");
        for (int i = 0; i < nb; i++) {
            const TbItem *it = &items[i];
            const ExportResult *res = it->result;
            tb_json_item(&j, it, NULL);
            cj_arr_begin(&j, "outputs");
            for (int k = 0; k < job.nb_chosen; k++) {
                char *path = out_path(&job, it->in, job.chosen[k]);
                cj_obj_begin(&j, NULL);
                cj_str(&j, "preset", job.chosen[k]->name);
                cj_str(&j, "path", path);
                cj_bool(&j, "made", res && res->made[k]);
                if (res && res->made[k]) {
                    const VpOutputInfo *o = &res->out[k];
                    cj_int(&j, "width", o->width);
                    cj_int(&j, "height", o->height);
                    cj_num(&j, "fps", o->fps.den ? (double)o->fps.num / o->fps.den : NAN);
                    cj_int(&j, "frames", o->frames);
                    cj_bool(&j, "has_audio", o->has_audio);
                    cj_int(&j, "file_size_bytes", o->size);
                }
                cj_obj_end(&j);
                free(path);
            }
            cj_arr_end(&j);
            if (res)
                cj_int(&j, "decode_errors", res->decode_errors);
            cj_obj_end(&j);
        }
        tb_json_end(&j);
    }
end:
    tb_items_free(items, nb);
    free(names_copy);
    vp_preset_set_free(&set);
    return ret;
}

const CliCommand cmd_export = {
    .name = "export",
    .summary = "platform exports (youtube, instagram, tiktok, ...) from one decode",
    .usage = "IN... --preset A,B,... -o DIR [--presets FILE.json]",
    .details = "Each preset scales the picture to fit its frame, pads it keeping the aspect, "
               "sets its frame\nrate, encodes H.264 (libx264) at its CRF under its bitrate cap, "
               "and AAC. Every preset of an\ninput comes from one decode. Outputs are "
               "DIR/NAME_PRESET.mp4. For one input, existing ones are\nrefused unless -y "
               "(-n keeps them); over many, those made from the same input and settings\n"
               "are kept and the others remade. A preset file adds or replaces presets:\n"
               "  {\"presets\": [{\"name\": \"web720\", \"base\": \"youtube\", \"width\": 1280, "
               "\"height\": 720}]}\n"
               "Exit status: 0 done, 2 an input could not be read, 4 an output could not be "
               "written.",
    .run = run_export,
};
