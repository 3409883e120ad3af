/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe join: segments into one MP4 by stream copy, with seamless audio at every join. */
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/commands.h"
#include "common/outputs.h"

static int exit_code(int err, const VpFailure *fail)
{
    /* An output name the join cannot write (x.mkv) is the command line's fault. */
    if (err == VP_ERR_BAD_OPTION && fail->input < 0)
        return CLI_EXIT_USAGE;
    return vpi_exit_code(err, fail->input >= 0 ? VPI_AT_INPUT : VPI_AT_OUTPUT);
}

static int run_join(int argc, char **argv)
{
    int json = 0, conform = 0, nb_pos = 0, yes = 0, no = 0;
    const char *out = NULL, *list = NULL;
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "FILE",
          "write the joined MP4 to FILE: .mp4, .m4v, or .mov (QuickTime brand) (required)" },
        { "conform", 0, CLI_FLAG, &conform, NULL,
          "re-encode segments that cannot be stream-copied to match the first one" },
        { "list", 0, CLI_STR, &list, "FILE", "read more segments from FILE, one per line (- stdin)" },
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable result on stdout" },
        CLI_OVERWRITE_OPTS(yes, no),
        { 0 },
    };
    int r = cli_parse(&cmd_join, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;

    char **paths;
    int nb;
    if ((r = cli_gather_paths(NULL, nb_pos, argv + 1, list, &paths, &nb)))
        return r;
    if (!out || nb < 1) {
        cli_error("join: give -o OUTPUT and at least one segment (see 'vidpipe join --help')");
        cli_free_paths(paths, nb);
        return CLI_EXIT_USAGE;
    }
    CliOverwrite ow;
    if (cli_overwrite_mode("join", yes, no, &ow) < 0) {
        cli_free_paths(paths, nb);
        return CLI_EXIT_USAGE;
    }
    /* An output that is a segment is refused by the join, with that reason. */
    if (vp_output_check_not_input(out, (const char *const *)paths, nb) >= 0 &&
        (r = cli_output_rule(out, ow))) {
        cli_free_paths(paths, nb);
        return r == 1 ? CLI_EXIT_OK : r;
    }

    VpJoinOpts o;
    vp_join_default_opts(&o);
    o.conform = conform;
    o.max_cached_segments = 0;
    o.cancel = cli_cancel();
    cli_signals_install("join", CLI_SIG_ABANDON);
    VpJoiner *j = NULL;
    if ((r = vp_joiner_new(&o, &j)) < 0) {
        cli_error("join: %s", vp_strerror(r));
        cli_free_paths(paths, nb);
        return CLI_EXIT_ERROR;
    }
    CliProgress pr;
    cli_progress_init(&pr, "joining");
    cli_progress_update(&pr, 0, 1);
    VpJoinStats st;
    VpFailure fail;
    int64_t t0 = vpi_now_us(); /* wall time for --json */
    r = vp_joiner_run(j, out, (const char *const *)paths, nb, &st, &fail);
    double secs = (vpi_now_us() - t0) / 1e6;
    cli_progress_end(&pr);
    vp_joiner_free(&j);

    int code = r < 0 ? exit_code(r, &fail) : CLI_EXIT_OK;
    if (r < 0 && cli_signal_caught())
        return cli_signals_end(code, NULL);
    if (r < 0)
        cli_error("%s", fail.message);
    if (json) {
        CliJson js;
        cj_init(&js, stdout);
        cj_obj_begin(&js, NULL);
        cj_str(&js, "output", out);
        cj_arr_begin(&js, "segments");
        for (int i = 0; i < nb; i++)
            cj_str(&js, NULL, paths[i]);
        cj_arr_end(&js);
        if (r < 0) {
            cj_bool(&js, "ok", 0);
            cj_obj_begin(&js, "error");
            cj_str(&js, "code", vp_err_name(r));
            cj_str(&js, "message", fail.message);
            if (fail.input >= 0)
                cj_str(&js, "file", fail.path);
            else
                cj_null(&js, "file");
            cj_obj_end(&js);
        } else {
            cj_bool(&js, "ok", 1);
            cj_null(&js, "error");
            cj_int(&js, "joins", nb - 1);
            cj_int(&js, "video_frames", st.video_frames);
            cj_int(&js, "video_frames_dropped", st.video_frames_dropped);
            cj_int(&js, "audio_frames", st.audio_frames);
            cj_int(&js, "audio_frames_reencoded", st.nb_audio_reencoded);
            cj_int(&js, "segments_conformed", st.nb_conformed);
            cj_num(&js, "duration", st.duration);
            cj_int(&js, "bytes", st.bytes);
            cj_int(&js, "bytes_shared", st.bytes_shared);
            cj_int(&js, "bytes_written", st.bytes_written);
            cj_int(&js, "bytes_padding", st.bytes_padding);
            cj_num(&js, "seconds", secs);
        }
        cj_obj_end(&js);
        cj_end(&js);
    } else if (r >= 0 && cli_verbosity >= 0) { /* -q: errors only */
        printf("%s: %d segment%s, %d join%s, %lld video frames, %.3f s, %lld bytes; "
                 "%d AAC frame%s re-encoded at the joins%s in %.2f s\n",
                 out, nb, nb == 1 ? "" : "s", nb - 1, nb == 2 ? "" : "s",
                 (long long)st.video_frames, st.duration, (long long)st.bytes,
                 st.nb_audio_reencoded, st.nb_audio_reencoded == 1 ? "" : "s",
                 st.nb_conformed ? ", segments conformed" : "", secs);
    }
    cli_free_paths(paths, nb);
    return cli_signals_end(code, NULL);
}

const CliCommand cmd_join = {
    .name = "join",
    .summary = "join segments into one MP4 by stream copy, seamless at every join",
    .usage = "-o OUTPUT [--conform] [--json] SEGMENT...",
    .details = "Joins H.264 + AAC MP4 segments without re-encoding the video. At each join the "
               "one or two AAC\nframes whose window straddles it are re-encoded from the decoded "
               "audio of both sides, so\nthe sound continues without a dip or gap, and every "
               "segment's audio stays locked to its video.\nSegments may differ in SPS/PPS, video "
               "time base, B-frames and GOP structure; a segment without\naudio gets silence. "
               "Segments that differ in what a copy cannot change (resolution, frame\nrate, "
               "codec, audio rate or channels) are refused with the 'vidpipe check' reasons, "
               "unless\n--conform re-encodes them to match the first segment. The output is "
               "written with the moov\nfirst, under a temporary name renamed into place when "
               "complete; a refusal leaves nothing.\nExit status: 0 joined, 1 refused (not "
               "joinable), 2 a segment could not be read, 3 bad command\nline (also: the "
               "output is one of the segments, or exists without -y: vidpipe(1),\n"
               "OUTPUTS), 4 output error. Ctrl-C leaves nothing (exit status 130).",
    .run = run_join,
};
