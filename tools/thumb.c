/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe thumb: one frame as a JPEG, PNG or WebP, or a contact sheet of evenly spaced
 * frames. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libavutil/error.h>

#include "common/commands.h"
#include "common/toolbox.h"

typedef struct ThumbJob {
    VpThumbOpts o;
} ThumbJob;

typedef struct ThumbResult {
    VpOutputInfo info;
} ThumbResult;

static int thumb_one(void *opaque, TbItem *item)
{
    ThumbJob *job = opaque;
    VpPipeline *p = NULL;
    ThumbResult *res = calloc(1, sizeof(*res));
    int ret;

    if (!res)
        return tb_fail(item, TB_FAIL_OUTPUT, item->in, AVERROR(ENOMEM));
    free(item->result);
    item->result = res;
    /* The bytes are what the name says: a .png gets PNG, never JPEG under another name. An
     * output that is the input was refused before this, with that reason. */
    const char *dot = strrchr(item->out, '.');
    if (dot && !strchr(dot, '/') && strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg") &&
        strcasecmp(dot, ".png") && strcasecmp(dot, ".webp")) {
        item->fail = TB_FAIL_USAGE;
        snprintf(item->fault, sizeof(item->fault), "%s", item->out);
        snprintf(item->why, sizeof(item->why), "%s: a thumbnail is JPEG (.jpg, .jpeg), PNG "
                 "(.png) or WebP (.webp); the extension names none of them", item->out);
        return VP_ERR_BAD_OPTION;
    }
    VpPipelineOpts po;
    tb_pipeline_opts(&po);
    if ((ret = vp_pipeline_open(item->in, &po, &p)) < 0)
        return tb_fail(item, TB_FAIL_INPUT, item->in, ret);
    if (!vp_pipeline_source(p)->has_video) {
        vp_pipeline_close(&p);
        return tb_fail(item, TB_FAIL_INPUT, item->in, VP_ERR_NO_VIDEO);
    }
    /* ffmpeg's -ss past the end writes no picture and fails; so does --at, rather than
     * hand back the last frame as if it were the one asked for. */
    double dur = vp_pipeline_source(p)->duration;
    if (job->o.cols * job->o.rows <= 1 && job->o.at >= 0 && isfinite(dur) && job->o.at > dur) {
        vp_pipeline_close(&p);
        item->fail = TB_FAIL_USAGE;
        snprintf(item->fault, sizeof(item->fault), "%s", item->in);
        snprintf(item->why, sizeof(item->why), "%s: --at %g s is past the end of the video "
                 "(%.3f s)", item->in, job->o.at, dur);
        return VP_ERR_BAD_OPTION;
    }
    VpThumbOpts o = job->o;
    o.path = item->out;
    int idx = vp_pipeline_add_thumb(p, &o);
    if (idx < 0 || (ret = vp_pipeline_run(p)) < 0) {
        ret = idx < 0 ? idx : ret;
        VpFailure fail;
        vp_pipeline_failure(p, &fail);
        const char *bad = fail.input < 0 && fail.path[0] ? fail.path : NULL;
        tb_fail(item, bad ? TB_FAIL_OUTPUT : TB_FAIL_INPUT, bad ? bad : item->in, ret);
        vp_pipeline_close(&p);
        return ret;
    }
    vp_pipeline_output_info(p, idx, &res->info);
    res->info.path = NULL;
    vp_pipeline_close(&p);
    return 0;
}

static int run_thumb(int argc, char **argv)
{
    ThumbJob job;
    TbBatch b;
    const char *out = NULL, *grid = NULL;
    int nb_pos = 0, no_ts = 0;

    vp_thumb_default_opts(&job.o);
    tb_batch_init(&b);
    /* Names, types, ranges and defaults are the library's (vidpipe/options.h). */
    const VpOptionTable *tt = vp_option_table("thumb");
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "T.jpg",
          "JPEG, PNG or WebP file, by its extension (a folder for several inputs: JPEG)" },
        CLI_LIB("at", 0, &job.o, "S", tt, "at"),
        CLI_LIB("width", 'w', &job.o, "W", tt, "width"),
        { "grid", 0, CLI_STR, &grid, "CxR", "a contact sheet of C columns and R rows" },
        { "no-timestamps", 0, CLI_FLAG, &no_ts, NULL, "do not print times on sheet tiles" },
        CLI_LIB("quality", 'q', &job.o, "Q", tt, "quality"),
        TB_BATCH_OPTS(b),
        { 0 },
    };
    int r = cli_parse(&cmd_thumb, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (!nb_pos || !out) {
        cli_error("thumb: give an input and -o OUT.jpg (see 'vidpipe thumb --help')");
        return CLI_EXIT_USAGE;
    }
    if (grid) {
        char x, extra;
        if (sscanf(grid, "%d%c%d%c", &job.o.cols, &x, &job.o.rows, &extra) != 3 ||
            (x != 'x' && x != 'X') || job.o.cols < 1 || job.o.rows < 1 ||
            job.o.cols * job.o.rows > 400) {
            cli_error("thumb: --grid must be CxR (e.g. 4x3), at most 400 tiles, not '%s'", grid);
            return CLI_EXIT_USAGE;
        }
    }
    job.o.timestamps = !no_ts;
    TbItem *items;
    int nb;
    if (tb_inputs("thumb", nb_pos, argv + 1, &items, &nb) < 0)
        return CLI_EXIT_UNREADABLE;
    if ((b.single = tb_outputs(items, nb, argv[1], out, ".jpg")) < 0) {
        tb_items_free(items, nb);
        return CLI_EXIT_ERROR;
    }
    int ret = tb_run("thumb", &b, items, nb, thumb_one, &job);
    if (b.json) {
        CliJson j;
        tb_json_begin(&j, "thumb");
        for (int i = 0; i < nb; i++) {
            const ThumbResult *res = items[i].result;
            if (tb_json_item(&j, &items[i], items[i].out) && res) {
                cj_int(&j, "width", res->info.width);
                cj_int(&j, "height", res->info.height);
                cj_int(&j, "frames", res->info.frames);
                cj_num(&j, "timestamp_seconds", res->info.at);
                cj_int(&j, "file_size_bytes", res->info.size);
            }
            cj_obj_end(&j);
        }
        tb_json_end(&j);
    }
    tb_items_free(items, nb);
    return ret;
}

const CliCommand cmd_thumb = {
    .name = "thumb",
    .summary = "a JPEG, PNG or WebP thumbnail, or a contact sheet with timestamps",
    .usage = "IN... -o T.jpg|DIR [--at S] [--width W] [--grid CxR]",
    .details = "One frame (at --at, by default 5 s or the midpoint of shorter videos), scaled to "
               "--width with\nthe display aspect; or with --grid, C x R frames evenly spaced "
               "over the video, each\nlabelled with its time. Only the frames needed are "
               "decoded: the source is sought to each. An --at past the end of the video is refused\n"
               "(exit 3), as ffmpeg's -ss is.\n"
               "Exit status: 0 done, 2 an input could not be read, 4 the output could not be "
               "written.",
    .run = run_thumb,
};
