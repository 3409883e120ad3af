/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe cleanup: stabilize, adjust colour, denoise audio, with one encode at the end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "common/commands.h"
#include "common/toolbox.h"

static int cleanup_one(void *opaque, TbItem *item)
{
    int ret = vp_cleanup(item->in, item->out, opaque);
    return ret < 0 ? tb_fail_io(item, item->in, item->out, ret) : 0;
}

static int run_cleanup(int argc, char **argv)
{
    VpCleanupOpts o;
    VpPipelineOpts po;
    TbBatch b;
    const char *out = NULL, *eq = NULL;
    int nb_pos = 0;

    vp_cleanup_default_opts(&o);
    tb_pipeline_opts(&po);
    o.pipeline = &po;
    tb_batch_init(&b);
    /* Names, types, ranges and defaults are the library's (vidpipe/options.h). */
    const VpOptionTable *ct = vp_option_table("cleanup");
    char b_def[16], c_def[16], s_def[16], eq_help[128];
    /* The table's values are an example, not a default: without --eq there is no eq. */
    snprintf(eq_help, sizeof(eq_help), "brightness,contrast,saturation: no default, e.g. %s,%s,%s",
             cli_lib_default(ct, "brightness", b_def, sizeof(b_def)),
             cli_lib_default(ct, "contrast", c_def, sizeof(c_def)),
             cli_lib_default(ct, "saturation", s_def, sizeof(s_def)));
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output file (a folder for several inputs)" },
        { "stabilize", 0, CLI_FLAG, &o.stabilize, NULL, "stabilize (vid.stab, two passes)" },
        CLI_LIB("shakiness", 0, &o, "N", ct, "shakiness"),
        CLI_LIB("smoothing", 0, &o, "N", ct, "smoothing"),
        { "eq", 0, CLI_STR, &eq, "B,C,S", eq_help },
        { "denoise-audio", 0, CLI_FLAG, &o.denoise_audio, NULL,
          "band-limit to 200 Hz-3 kHz and denoise (afftdn)" },
        CLI_LIB("crf", 0, &o, "N", ct, "crf"),
        CLI_LIB("preset", 0, &o, "P", ct, "x264_preset"),
        TB_BATCH_OPTS(b),
        { 0 },
    };
    int r = cli_parse(&cmd_cleanup, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (eq) {
        /* B,C,S: three options of the table, each with its own range and message. */
        static const char *const keys[] = { "brightness", "contrast", "saturation" };
        char buf[256], why[256];
        char *save = NULL, *field = buf;
        snprintf(buf, sizeof(buf), "%s", eq);
        for (int i = 0; i < 3; i++, field = NULL) {
            const char *v = strtok_r(field, ",", &save);
            if (!v || vp_option_set(ct, &o, keys[i], v, why, sizeof(why)) < 0) {
                cli_error("cleanup: --eq %s: %s", eq, v ? why : "must be B,C,S");
                return CLI_EXIT_USAGE;
            }
        }
        if (strtok_r(NULL, ",", &save)) {
            cli_error("cleanup: --eq %s: must be B,C,S", eq);
            return CLI_EXIT_USAGE;
        }
        o.eq = 1;
    }
    if (!nb_pos || !out || (!o.stabilize && !o.eq && !o.denoise_audio)) {
        cli_error("cleanup: give an input, -o OUT and at least one of --stabilize, --eq, "
                  "--denoise-audio");
        return CLI_EXIT_USAGE;
    }
    TbItem *items;
    int nb;
    if (tb_inputs("cleanup", nb_pos, argv + 1, &items, &nb) < 0)
        return CLI_EXIT_UNREADABLE;
    if ((b.single = tb_outputs(items, nb, argv[1], out, ".mp4")) < 0) {
        tb_items_free(items, nb);
        return CLI_EXIT_ERROR;
    }
    int ret = tb_run("cleanup", &b, items, nb, cleanup_one, &o);
    if (b.json) {
        CliJson j;
        tb_json_begin(&j, "cleanup");
        for (int i = 0; i < nb; i++) {
            tb_json_item(&j, &items[i], items[i].out);
            cj_obj_end(&j);
        }
        tb_json_end(&j);
    }
    tb_items_free(items, nb);
    return ret;
}

const CliCommand cmd_cleanup = {
    .name = "cleanup",
    .summary = "stabilize, adjust colour, denoise audio: one encode for all steps",
    .usage = "IN... -o OUT|DIR [--stabilize] [--eq B,C,S] [--denoise-audio]",
    .details = "Stabilization analyses the shot (vidstabdetect) in a first pass; the encode then "
               "applies\nvidstabtransform, eq and the audio denoiser (highpass 200 Hz, lowpass "
               "3 kHz, afftdn) on the\nway to one libx264/AAC encode, where the scripts it "
               "replaces encoded once per step.\n"
               "Exit status: 0 done, 2 an input could not be read, 4 the output could not be "
               "written.",
    .run = run_cleanup,
};
