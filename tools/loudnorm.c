/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe loudnorm: two-pass EBU R128 loudness normalization, video copied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "common/commands.h"
#include "common/toolbox.h"

typedef struct LnJob {
    VpLoudnormOpts o;
    VpPipelineOpts po;
} LnJob;

static int loudnorm_one(void *opaque, TbItem *item)
{
    LnJob *job = opaque;
    VpLoudnormResult *res = calloc(1, sizeof(*res));
    if (!res)
        return tb_fail(item, TB_FAIL_OUTPUT, item->in, AVERROR(ENOMEM));
    free(item->result);
    item->result = res;
    int ret = vp_loudnorm(item->in, item->out, &job->o, res);
    if (ret < 0)
        return tb_fail_io(item, item->in, item->out, ret);
    return 0;
}

static int run_loudnorm(int argc, char **argv)
{
    LnJob job;
    TbBatch b;
    const char *out = NULL;
    int nb_pos = 0;

    vp_loudnorm_default_opts(&job.o);
    tb_pipeline_opts(&job.po);
    job.o.pipeline = &job.po;
    /* Names, types, ranges and defaults are the library's (vidpipe/options.h). */
    const VpOptionTable *lt = vp_option_table("loudnorm");
    tb_batch_init(&b);
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output file (a folder for several inputs)" },
        CLI_LIB("i", 0, &job.o, "LUFS", lt, "i"),
        CLI_LIB("tp", 0, &job.o, "DBTP", lt, "tp"),
        CLI_LIB("lra", 0, &job.o, "LU", lt, "lra"),
        CLI_LIB("audio-bitrate", 0, &job.o, "BPS", lt, "audio_bitrate"),
        TB_BATCH_OPTS(b),
        { 0 },
    };
    int r = cli_parse(&cmd_loudnorm, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (!nb_pos || !out) {
        cli_error("loudnorm: give an input and -o OUT (see 'vidpipe loudnorm --help')");
        return CLI_EXIT_USAGE;
    }
    TbItem *items;
    int nb;
    if (tb_inputs("loudnorm", nb_pos, argv + 1, &items, &nb) < 0)
        return CLI_EXIT_UNREADABLE;
    if ((b.single = tb_outputs(items, nb, argv[1], out, ".mp4")) < 0) {
        tb_items_free(items, nb);
        return CLI_EXIT_ERROR;
    }
    /* In a folder each output keeps its input's extension, so its container (a podcast's
     * .flac, .mp3 or .wav, a .mov, a .webm) and with it the audio codec stay the input's. */
    for (int i = 0; i < nb && !b.single; i++) {
        const char *base = strrchr(items[i].in, '/');
        base = base ? base + 1 : items[i].in;
        const char *dot = strrchr(base, '.');
        char *name = dot && dot != base ? tb_out_name(out, items[i].in, dot) : NULL;
        if (name) {
            free(items[i].out);
            items[i].out = name;
        }
    }
    int ret = tb_run("loudnorm", &b, items, nb, loudnorm_one, &job);
    if (b.json) {
        CliJson j;
        tb_json_begin(&j, "loudnorm");
        for (int i = 0; i < nb; i++) {
            const VpLoudnormResult *res = items[i].result;
            if (tb_json_item(&j, &items[i], items[i].out) && res) {
                cj_num(&j, "input_i", res->in_i);
                cj_num(&j, "input_tp", res->in_tp);
                cj_num(&j, "input_lra", res->in_lra);
                cj_num(&j, "target_i", job.o.i);
                cj_num(&j, "target_tp", job.o.tp);
                cj_num(&j, "target_lra", job.o.lra);
                cj_str(&j, "mode", res->linear ? "linear" : "dynamic");
                cj_num(&j, "gain_db", res->gain_db);
            }
            cj_obj_end(&j);
        }
        tb_json_end(&j);
    }
    tb_items_free(items, nb);
    return ret;
}

const CliCommand cmd_loudnorm = {
    .name = "loudnorm",
    .summary = "two-pass EBU R128 loudness normalization (video copied; audio-only too)",
    .usage = "IN... -o OUT|DIR [--i -16] [--tp -1.5] [--lra 11]",
    .details = "The first pass measures the audio (integrated loudness, true peak, range); the "
               "second applies\nlibavfilter's loudnorm with those values (one gain for the "
               "whole file when the targets allow\nit, its dynamic mode otherwise), encodes "
               "the audio, and copies the video stream, if any\n(a podcast or a dub: .m4a, "
               ".wav, .mp3, .flac). The audio keeps its codec where the output's\ncontainer "
               "takes it (FLAC in .flac, MP3 in .mp3), else AAC; a container that cannot hold "
               "the\nvideo's codec (H.264 in .webm) is refused before anything is written.\n"
               "Exit status: 0 done, 2 an input could not be read (or has no audio), 4 the "
               "output could not\nbe written.",
    .run = run_loudnorm,
};
