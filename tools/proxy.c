/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe proxy: the upload pipeline's proxy, thumbnail and metadata from one decode. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "common/commands.h"
#include "common/toolbox.h"
#include "vidpipe/proxy.h"

typedef struct ProxyJob {
    VpProxyOpts o;
    VpPipelineOpts po;
    int single;
} ProxyJob;

static int proxy_one(void *opaque, TbItem *item)
{
    ProxyJob *job = opaque;
    VpProxyOpts o = job->o;
    VpPipelineOpts po = job->po;
    VpProxyResult *res = calloc(1, sizeof(*res));
    TbProgress tp;

    if (!res)
        return tb_fail(item, TB_FAIL_OUTPUT, item->in, AVERROR(ENOMEM));
    free(item->result);
    item->result = res;
    o.thumb_path = item->extra[0];
    o.meta_path = item->extra[1];
    if (job->single) {
        cli_progress_init(&tp.p, "proxy: seconds");
        po.progress = tb_progress_cb;
        po.opaque = &tp;
    }
    o.pipeline = &po;
    VpFailure fail;
    int ret = vp_proxy_make(item->in, item->out, &o, res, &fail);
    if (job->single)
        cli_progress_end(&tp.p);
    if (ret < 0 && fail.input < 0 && fail.path[0])
        return tb_fail_with(item, TB_FAIL_OUTPUT, &fail);
    if (ret < 0)
        return tb_fail_io(item, item->in, item->out, ret);
    if (res->decode_errors)
        cli_warn("%s: %d decode error%s between %.2f s and %.2f s; carried on past them",
                 item->in, res->decode_errors, res->decode_errors == 1 ? "" : "s",
                 res->first_error, res->last_error);
    if (!res->source.has_audio)
        cli_info("%s: no audio: the proxy has none", item->in);
    return 0;
}

static void json_item(CliJson *j, const TbItem *it)
{
    const VpProxyResult *r = it->result;
    cj_obj_begin(j, NULL);
    cj_str(j, "input", it->in);
    cj_str(j, "status", it->status);
    if (it->fail)
        cj_str(j, "error", it->why);
    cj_str(j, "proxy", it->out);
    cj_str(j, "thumbnail", it->extra[0]);
    cj_str(j, "metadata", it->extra[1]);
    if (r && !strcmp(it->status, "done")) {
        /* The library's one serialiser of the result, the metadata file's shape. */
        char *text = NULL;
        if (vp_proxy_result_json(r, &text) < 0)
            cj_null(j, "result");
        else
            cj_json(j, "result", text);
        free(text);
        cj_int(j, "decode_errors", r->decode_errors);
        cj_int(j, "frames_decoded", r->stats.video_decoded);
        cj_int(j, "frames_not_decoded", r->stats.video_skipped);
        cj_num(j, "seconds", r->stats.seconds);
    }
    cj_obj_end(j);
}

static int run_proxy(int argc, char **argv)
{
    ProxyJob job = { 0 };
    TbBatch b;
    const char *out = NULL, *thumb = NULL, *meta = NULL;
    int nb_pos = 0, no_skip = 0;

    vp_proxy_default_opts(&job.o);
    tb_batch_init(&b);
    /* Names, types, ranges and defaults are the library's (vidpipe/options.h). */
    const VpOptionTable *pt = vp_option_table("proxy");
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "proxy file (a folder for several inputs)" },
        { "thumb", 0, CLI_STR, &thumb, "T.jpg", "also a JPEG thumbnail (a folder for several)" },
        { "meta", 0, CLI_STR, &meta, "M.json", "also the metadata JSON (a folder for several)" },
        CLI_LIB("height", 0, &job.o, "H", pt, "height"),
        CLI_LIB("fps", 0, &job.o, "R", pt, "fps"),
        CLI_LIB("crf", 0, &job.o, "N", pt, "crf"),
        CLI_LIB("preset", 0, &job.o, "P", pt, "x264_preset"),
        CLI_LIB("hw", 0, &job.o, "NAME", pt, "hw"),
        CLI_LIB("audio-bitrate", 0, &job.o, "BPS", pt, "audio_bitrate"),
        CLI_LIB("thumb-at", 0, &job.o, "S", pt, "thumb_at"),
        CLI_LIB("thumb-width", 0, &job.o, "W", pt, "thumb_width"),
        { "decode-all", 0, CLI_FLAG, &no_skip, NULL,
          "decode every frame, even those the proxy does not need" },
        TB_BATCH_OPTS(b),
        { 0 },
    };
    int r = cli_parse(&cmd_proxy, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (!nb_pos || !out) {
        cli_error("proxy: give an input and -o OUT (see 'vidpipe proxy --help')");
        return CLI_EXIT_USAGE;
    }
    tb_pipeline_opts(&job.po);
    job.po.skip_unneeded = !no_skip;

    TbItem *items;
    int nb;
    if (tb_inputs("proxy", nb_pos, argv + 1, &items, &nb) < 0)
        return CLI_EXIT_UNREADABLE;
    job.single = nb == 1 && !tb_is_dir(argv[1]) && !tb_is_dir(out);
    if (!job.single && (tb_mkdir(out) < 0 || (thumb && tb_mkdir(thumb) < 0) ||
                        (meta && tb_mkdir(meta) < 0))) {
        tb_items_free(items, nb);
        return CLI_EXIT_ERROR;
    }
    for (int i = 0; i < nb; i++) {
        TbItem *it = &items[i];
        it->out = job.single ? strdup(out) : tb_out_name(out, it->in, ".mp4");
        if (thumb)
            it->extra[0] = job.single ? strdup(thumb) : tb_out_name(thumb, it->in, ".jpg");
        if (meta)
            it->extra[1] = job.single ? strdup(meta) : tb_out_name(meta, it->in, ".json");
        if (!it->out || (thumb && !it->extra[0]) || (meta && !it->extra[1])) {
            cli_error("proxy: out of memory");
            tb_items_free(items, nb);
            return CLI_EXIT_ERROR;
        }
    }
    b.single = job.single;
    int ret = tb_run("proxy", &b, items, nb, proxy_one, &job);
    if (b.json) {
        CliJson j;
        tb_json_begin(&j, "proxy");
        for (int i = 0; i < nb; i++)
            json_item(&j, &items[i]);
        tb_json_end(&j);
    }
    tb_items_free(items, nb);
    return ret;
}

const CliCommand cmd_proxy = {
    .name = "proxy",
    .summary = "proxy video + thumbnail + metadata for the upload pipeline, in one pass",
    .usage = "[OPTIONS] IN... -o OUT.mp4|DIR [--thumb T.jpg|DIR] [--meta M.json|DIR]",
    .details = "The proxy is H.264 (libx264, CRF 28, preset medium) yuv420p, 480 lines high "
               "with the source's\naspect, 10 fps, AAC 64 kb/s, moov first. The thumbnail is "
               "320 px wide, at 5 s or the\nmidpoint of shorter videos. Inputs may be files "
               "or folders; with several inputs OUT (and\nthe --thumb/--meta values) are "
               "folders, and each output is named after its input.\n"
               "Exit status: 0 done, 2 an input could not be read, 4 an output could not be "
               "written.",
    .run = run_proxy,
};
