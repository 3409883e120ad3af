/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe replace-audio: a video's picture with another file's sound; one pair, or every
 * video of a folder with the audio file of the same name from another folder. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libavutil/error.h>

#include "common/commands.h"
#include "common/toolbox.h"

typedef struct RaJob {
    VpReplaceAudioOpts o;
    VpPipelineOpts po;
} RaJob;

static int replace_one(void *opaque, TbItem *item)
{
    RaJob *job = opaque;
    VpReplaceAudioResult *res = calloc(1, sizeof(*res));
    if (!res)
        return tb_fail(item, TB_FAIL_OUTPUT, item->in, AVERROR(ENOMEM));
    free(item->result);
    item->result = res;
    if (!item->in2) {
        item->fail = TB_FAIL_INPUT;
        snprintf(item->fault, sizeof(item->fault), "%s", item->in);
        snprintf(item->why, sizeof(item->why), "%s: no audio file of the same name", item->in);
        return AVERROR(ENOENT);
    }
    VpFailure fail;
    int ret = vp_replace_audio(item->in, item->in2, item->out, &job->o, res, &fail);
    if (ret < 0) {
        const char *bad = fail.path[0] ? fail.path : item->in;
        return tb_fail(item, !strcmp(bad, item->out) || ret == VP_ERR_BAD_OPTION
                                 ? TB_FAIL_OUTPUT : TB_FAIL_INPUT, bad, ret);
    }
    double diff = res->audio_duration + job->o.offset_ms / 1000.0 - res->video_duration;
    if (fabs(diff) > 1.0)
        cli_warn("%s: the audio (%.2f s%s) is %.2f s %s than the video (%.2f s)%s",
                 item->in2, res->audio_duration + job->o.offset_ms / 1000.0,
                 job->o.offset_ms ? " with the offset" : "", fabs(diff),
                 diff > 0 ? "longer" : "shorter", res->video_duration,
                 job->o.shortest ? "; cut to the shorter" : "");
    return 0;
}

/* The media file of @p dir whose name without extension is @p stem, or NULL. */
static char *find_stem(TbItem *audio, int nb, const char *video)
{
    const char *vb = strrchr(video, '/');
    vb = vb ? vb + 1 : video;
    const char *vdot = strrchr(vb, '.');
    size_t vlen = vdot ? (size_t)(vdot - vb) : strlen(vb);
    for (int i = 0; i < nb; i++) {
        const char *ab = strrchr(audio[i].in, '/');
        ab = ab ? ab + 1 : audio[i].in;
        const char *adot = strrchr(ab, '.');
        size_t alen = adot ? (size_t)(adot - ab) : strlen(ab);
        if (alen == vlen && !strncmp(ab, vb, vlen))
            return strdup(audio[i].in);
    }
    return NULL;
}

static int run_replace_audio(int argc, char **argv)
{
    RaJob job;
    TbBatch b;
    const char *out = NULL;
    int nb_pos = 0, ret;
    TbItem *items = NULL, *audio = NULL;
    int nb = 0, nb_audio = 0;

    vp_replace_audio_default_opts(&job.o);
    tb_pipeline_opts(&job.po);
    job.o.pipeline = &job.po;
    tb_batch_init(&b);
    /* Names, types, ranges and defaults are the library's (vidpipe/options.h). */
    const VpOptionTable *rt = vp_option_table("replace_audio");
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output file (a folder for folders)" },
        CLI_LIB("offset-ms", 0, &job.o, "N", rt, "offset_ms"),
        { "shortest", 0, CLI_FLAG, &job.o.shortest, NULL,
          "end with the shorter of video and audio" },
        CLI_LIB("audio-bitrate", 0, &job.o, "BPS", rt, "audio_bitrate"),
        TB_BATCH_OPTS(b),
        { 0 },
    };
    int r = cli_parse(&cmd_replace_audio, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (nb_pos != 2 || !out) {
        cli_error("replace-audio: give VIDEO AUDIO -o OUT, or VIDEO_DIR AUDIO_DIR -o OUT_DIR "
                  "(see 'vidpipe replace-audio --help')");
        return CLI_EXIT_USAGE;
    }
    int folders = tb_is_dir(argv[1]);
    if (folders != tb_is_dir(argv[2])) {
        cli_error("replace-audio: VIDEO and AUDIO must both be files or both be folders");
        return CLI_EXIT_USAGE;
    }
    if (tb_inputs("replace-audio", 1, argv + 1, &items, &nb) < 0 ||
        tb_inputs("replace-audio", 1, argv + 2, &audio, &nb_audio) < 0) {
        ret = CLI_EXIT_UNREADABLE;
        goto end;
    }
    if (folders && tb_mkdir(out) < 0) {
        ret = CLI_EXIT_ERROR;
        goto end;
    }
    for (int i = 0; i < nb; i++) {
        TbItem *it = &items[i];
        it->out = folders ? tb_out_name(out, it->in, ".mp4") : strdup(out);
        it->in2 = folders ? find_stem(audio, nb_audio, it->in) : strdup(argv[2]);
        if (!it->out) {
            ret = CLI_EXIT_ERROR;
            goto end;
        }
    }
    b.single = !folders;
    ret = tb_run("replace-audio", &b, items, nb, replace_one, &job);
    if (b.json) {
        CliJson j;
        tb_json_begin(&j, "replace-audio");
        for (int i = 0; i < nb; i++) {
            const VpReplaceAudioResult *res = items[i].result;
            cj_obj_begin(&j, NULL);
            cj_str(&j, "input", items[i].in);
            cj_str(&j, "audio", items[i].in2);
            cj_str(&j, "output", items[i].out);
            cj_str(&j, "status", items[i].status);
            if (items[i].fail)
                cj_str(&j, "error", items[i].why);
            if (res && !items[i].fail && !strcmp(items[i].status, "done")) {
                double diff = res->audio_duration + job.o.offset_ms / 1000.0 -
                              res->video_duration;
                cj_num(&j, "video_duration", res->video_duration);
                cj_num(&j, "audio_duration", res->audio_duration);
                cj_int(&j, "offset_ms", job.o.offset_ms);
                cj_bool(&j, "length_mismatch", fabs(diff) > 1.0);
            }
            cj_obj_end(&j);
        }
        tb_json_end(&j);
    }
end:
    tb_items_free(items, nb);
    tb_items_free(audio, nb_audio);
    return ret;
}

const CliCommand cmd_replace_audio = {
    .name = "replace-audio",
    .summary = "replace a video's audio with another file's (video copied, AAC)",
    .usage = "VIDEO AUDIO -o OUT | VIDEO_DIR AUDIO_DIR -o OUT_DIR [--offset-ms N] [--shortest]",
    .details = "The video stream is copied; the best audio stream of AUDIO is encoded to AAC. "
               "A positive offset\ndelays it (silence first), a negative one advances it (its "
               "start is cut). A warning says when\nthe lengths differ by more than 1 s. With "
               "two folders, each video is paired with the audio file\nof the same name (any "
               "extension) and written to OUT_DIR/NAME.mp4.\n"
               "Exit status: 0 done, 2 an input could not be read, 4 the output could not be "
               "written.",
    .run = run_replace_audio,
};
