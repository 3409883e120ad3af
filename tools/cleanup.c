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
    TbBatch b;
    const char *out = NULL, *eq = NULL;
    int nb_pos = 0;

    vp_cleanup_default_opts(&o);
    tb_batch_init(&b);
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output file (a folder for several inputs)" },
        { "stabilize", 0, CLI_FLAG, &o.stabilize, NULL, "stabilize (vid.stab, two passes)" },
        { "shakiness", 0, CLI_INT, &o.shakiness, "N", "how shaky the input is, 1..10 (5)", 1,
          10 },
        { "smoothing", 0, CLI_INT, &o.smoothing, "N", "frames to smooth the camera path over (30)",
          0, 1000 },
        { "eq", 0, CLI_STR, &eq, "B,C,S", "brightness,contrast,saturation (0.05,1.1,1.1)" },
        { "denoise-audio", 0, CLI_FLAG, &o.denoise_audio, NULL,
          "band-limit to 200 Hz-3 kHz and denoise (afftdn)" },
        { "crf", 0, CLI_INT, &o.crf, "N", "x264 CRF (23)", 0, 51 },
        { "preset", 0, CLI_STR, &o.x264_preset, "P", "x264 preset (medium)" },
        TB_BATCH_OPTS(b),
        { 0 },
    };
    int r = cli_parse(&cmd_cleanup, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (eq) {
        char extra;
        if (sscanf(eq, "%lf,%lf,%lf%c", &o.brightness, &o.contrast, &o.saturation, &extra) != 3 ||
            !(o.brightness >= -1 && o.brightness <= 1) || !(o.contrast >= 0 && o.contrast <= 4) ||
            !(o.saturation >= 0 && o.saturation <= 3)) {
            cli_error("cleanup: --eq must be B,C,S with brightness -1..1, contrast 0..4, "
                      "saturation 0..3, not '%s'", eq);
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
    if (tb_outputs(items, nb, argv[1], out, ".mp4") < 0) {
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
