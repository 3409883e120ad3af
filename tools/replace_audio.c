/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe replace-audio: a video's picture with another file's sound. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "toolbox.h"

static int run_replace_audio(int argc, char **argv)
{
    VpReplaceAudioOpts o;
    VpReplaceAudioResult res;
    const char *out = NULL;
    int nb_pos = 0, json = 0;

    vp_replace_audio_default_opts(&o);
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output file" },
        { "offset-ms", 0, CLI_INT, &o.offset_ms, "N",
          "delay the new audio by N ms (negative: advance it)", -86400000, 86400000 },
        { "shortest", 0, CLI_FLAG, &o.shortest, NULL, "end with the shorter of video and audio" },
        { "audio-bitrate", 0, CLI_INT64, &o.audio_bitrate, "BPS", "AAC bits/s (192000)", 8000,
          512000 },
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable result on stdout" },
        { 0 },
    };
    int r = cli_parse(&cmd_replace_audio, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (nb_pos != 2 || !out) {
        cli_error("replace-audio: give VIDEO AUDIO -o OUT (see 'vidpipe replace-audio --help')");
        return CLI_EXIT_USAGE;
    }
    const char *video = argv[1], *audio = argv[2];
    int ret = vp_replace_audio(video, audio, out, &o, &res);
    if (ret < 0) {
        cli_file_error(res.failed_path[0] ? res.failed_path : video, "%s", vp_strerror(ret));
        return !strcmp(res.failed_path, out) || ret == VP_ERR_BAD_OPTION ? CLI_EXIT_ERROR
                                                                         : CLI_EXIT_UNREADABLE;
    }
    double diff = res.audio_duration + o.offset_ms / 1000.0 - res.video_duration;
    if (fabs(diff) > 1.0)
        cli_warn("%s: the audio (%.2f s%s) is %.2f s %s than the video (%.2f s)%s", audio,
                 res.audio_duration, o.offset_ms ? " with the offset" : "", fabs(diff),
                 diff > 0 ? "longer" : "shorter", res.video_duration,
                 o.shortest ? "; cut to the shorter" : "");
    if (json) {
        CliJson j;
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_str(&j, "command", "replace-audio");
        cj_str(&j, "video", video);
        cj_str(&j, "audio", audio);
        cj_str(&j, "output", out);
        cj_num(&j, "video_duration", res.video_duration);
        cj_num(&j, "audio_duration", res.audio_duration);
        cj_int(&j, "offset_ms", o.offset_ms);
        cj_bool(&j, "length_mismatch", fabs(diff) > 1.0);
        cj_obj_end(&j);
        cj_end(&j);
    }
    return CLI_EXIT_OK;
}

const CliCommand cmd_replace_audio = {
    .name = "replace-audio",
    .summary = "replace a video's audio with another file's (video copied, AAC)",
    .usage = "VIDEO AUDIO -o OUT [--offset-ms N] [--shortest]",
    .details = "The video stream is copied; the best audio stream of AUDIO is encoded to AAC. "
               "A positive offset\ndelays it (silence first), a negative one advances it (its "
               "start is cut). A warning says when\nthe lengths differ by more than 1 s.\n"
               "Exit status: 0 done, 2 an input could not be read, 4 the output could not be "
               "written.",
    .run = run_replace_audio,
};
