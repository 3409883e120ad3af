/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe encode-raw: raw frames (a pipe or a file) to H.264/HEVC through the frame writer,
 * the replacement for `producer | ffmpeg -f rawvideo -i - ...`. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "common/cli.h"
#include "common/commands.h"
#include "common/outputs.h"

static size_t frame_size(VpPixelFormat fmt, int w, int h)
{
    size_t px = (size_t)w * h;
    switch (fmt) {
    case VP_PIX_BGR24: case VP_PIX_RGB24: return px * 3;
    case VP_PIX_BGRA: case VP_PIX_RGBA: return px * 4;
    case VP_PIX_GRAY: return px;
    default: return px * 3 / 2;
    }
}

/* One frame of @p size bytes from @p fd into @p buf: 1 when whole, 0 at the end of the input
 * (*got: the bytes of an incomplete last frame), AVERROR(EINTR) when a signal asked to stop
 * (the frame it cut short is dropped), or another negative error. read() rather than stdio:
 * a signal interrupts a blocked read (the handlers have no SA_RESTART) without losing what
 * was read before it, and the frame lands in @p buf without a copy through stdio's buffer. */
static int read_frame(int fd, uint8_t *buf, size_t size, size_t *got)
{
    *got = 0;
    while (*got < size) {
        if (cli_stop_requested())
            return AVERROR(EINTR);
        ssize_t n = read(fd, buf + *got, size - *got);
        if (n > 0)
            *got += (size_t)n;
        else if (!n)
            return 0;
        else if (errno != EINTR)
            return AVERROR(errno);
    }
    return 1;
}

static int run_encode_raw(int argc, char **argv)
{
    const char *input = "-";
    int json = 0, nb_pos = 0, yes = 0, no = 0;
    VpWriterOpts o;
    vp_writer_default_opts(&o);
    const VpOptionTable *wt = vp_option_table("writer");
    /* Names, types, ranges and defaults are the writer's (vidpipe/options.h). */
    const CliOpt opts[] = {
        { "input", 'i', CLI_STR, &input, "FILE", "raw frames from FILE (default - : stdin)" },
        CLI_LIB("size", 's', &o, "WxH", wt, "size"),
        CLI_LIB("pix-fmt", 0, &o, "FMT", wt, "pix_fmt"),
        CLI_LIB("rate", 'r', &o, "FPS", wt, "fps"),
        CLI_LIB("codec", 'c', &o, "NAME", wt, "codec"),
        CLI_LIB("crf", 0, &o, "N", wt, "crf"),
        CLI_LIB("bitrate", 'b', &o, "BITS", wt, "bitrate"),
        CLI_LIB("preset", 0, &o, "NAME", wt, "preset"),
        CLI_LIB("keyint", 'g', &o, "N", wt, "keyint"),
        CLI_LIB("hw", 0, &o, "NAME", wt, "hw"),
        CLI_LIB("queue", 0, &o, "N", wt, "queue_depth"),
        CLI_LIB("threads", 0, &o, "N", wt, "threads"),
        CLI_LIB("encoder-params", 0, &o, "K=V:..", wt, "encoder_params"),
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable result on stdout" },
        CLI_OVERWRITE_OPTS(yes, no),
        { 0 },
    };
    int r = cli_parse(&cmd_encode_raw, opts, argc, argv, &nb_pos);
    if (r)
        return r > 0 ? CLI_EXIT_OK : -r;
    if (nb_pos != 1) {
        cli_error("encode-raw: give one output file (see 'vidpipe encode-raw --help')");
        return CLI_EXIT_USAGE;
    }
    const char *out = argv[1];
    if (!o.width || !o.height) {
        cli_error("encode-raw: --size WxH is required (e.g. -s 1280x720)");
        return CLI_EXIT_USAGE;
    }

    /* The writer renames its file over OUTPUT, which must not be where the frames come
     * from: the --input file, or the file standard input was redirected from. */
    const char *src = strcmp(input, "-") ? input : "/dev/stdin";
    if ((r = vp_output_check_not_input(out, &src, 1)) < 0) {
        cli_file_error(out, "%s", vp_strerror(r));
        return CLI_EXIT_USAGE;
    }
    CliOverwrite ow;
    if (cli_overwrite_mode("encode-raw", yes, no, &ow) < 0)
        return CLI_EXIT_USAGE;
    if ((r = cli_output_rule(out, ow)))
        return r == 1 ? CLI_EXIT_OK : r;

    /* A recorder keeps what it recorded: the first SIGINT ends the input and the file is
     * finished as at its end (as ffmpeg does); a second one, or SIGTERM, abandons it.
     * Installed before the input is opened: opening a FIFO waits for its writer, and
     * that wait must end on Ctrl-C like any other. */
    cli_signals_install("encode-raw", CLI_SIG_FINISH);
    int in = STDIN_FILENO;
    int64_t total = 0;
    if (strcmp(input, "-")) {
        struct stat st;
        while ((in = open(input, O_RDONLY | O_CLOEXEC)) < 0 && errno == EINTR &&
               !cli_stop_requested())
            ;
        if (in < 0 && cli_stop_requested())
            return cli_signals_end(CLI_EXIT_ERROR, "no frame was recorded");
        if (in < 0) {
            cli_file_error(input, "%s", strerror(errno));
            return CLI_EXIT_UNREADABLE;
        }
        if (!fstat(in, &st) && S_ISREG(st.st_mode) && o.width > 0 && o.height > 0)
            total = st.st_size / (int64_t)frame_size(o.pix_fmt, o.width, o.height);
    }

    char why[512];
    VpWriter *w = NULL;
    /* A second Ctrl-C (or SIGTERM) cuts the final flush short: with a slow preset and a
     * deep queue it can take many seconds, and the user has said to abandon the file. */
    o.cancel = cli_cancel();
    /* The writer's threads (and the encoder's) inherit a mask that blocks the two signals,
     * so that they are always delivered to this thread: its blocked read() then returns
     * EINTR at once. Left to the kernel, a signal may go to any thread that does not block
     * it, and the read goes on waiting for a producer that may never write again. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    r = vp_writer_open(out, &o, &w, why, sizeof(why));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r < 0) {
        if (in != STDIN_FILENO)
            close(in);
        if (r == VP_ERR_CANCELLED)
            return cli_signals_end(CLI_EXIT_ERROR, "no frame was recorded");
        cli_error("%s", why);
        return r == VP_ERR_BAD_OPTION ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
    }

    size_t fsize = frame_size(o.pix_fmt, o.width, o.height);
    uint8_t *buf = malloc(fsize);
    int64_t frames = 0;
    int ret = CLI_EXIT_OK;
    CliProgress progress;
    cli_progress_init(&progress, "frames");
    while (buf) {
        size_t got;
        r = read_frame(in, buf, fsize, &got);
        if (r <= 0) {
            if (r == AVERROR(EINTR)) {
                /* the frame the signal cut short is not one that was fed */
            } else if (r < 0) {
                cli_file_error(input, "%s", vp_strerror(r));
                ret = CLI_EXIT_UNREADABLE;
            } else if (got) {
                /* As ffmpeg's rawvideo reader does: the incomplete last frame is dropped. */
                cli_warn("%s: input ends inside frame %lld (%zu of %zu bytes); "
                         "that frame is dropped", input, (long long)frames + 1, got, fsize);
            }
            break;
        }
        if ((r = vp_writer_write(w, buf, 0, 0)) < 0) {
            if (r == VP_ERR_CANCELLED)
                break;  /* a signal abandons the recording: said once, below */
            cli_error("%s", vp_writer_error(w));
            ret = CLI_EXIT_ERROR;
            break;
        }
        frames++;
        cli_progress_update(&progress, frames, total > frames ? total : frames);
    }
    cli_progress_end(&progress);
    if (!buf) {
        cli_error("encode-raw: out of memory");
        ret = CLI_EXIT_ERROR;
    }
    free(buf);
    if (in != STDIN_FILENO)
        close(in);
    if (cli_signal_caught() && (!frames || cli_cancel().fn(cli_cancel().opaque))) {
        vp_writer_abort(&w);
        return cli_signals_end(CLI_EXIT_ERROR, frames ? "the recording was abandoned, nothing"
                                                        " written" : "no frame was recorded");
    }
    if (ret == CLI_EXIT_OK && !frames) {
        cli_file_error(input, "no complete frame of %dx%d %s (%zu bytes) in the input",
                       o.width, o.height, vp_pixel_format_name(o.pix_fmt), fsize);
        ret = CLI_EXIT_UNREADABLE;
    }
    if (ret != CLI_EXIT_OK) {
        /* Nothing half-written: the temporary file goes. */
        vp_writer_abort(&w);
        return ret;
    }
    VpWriterStats st;
    if ((r = vp_writer_close(&w, &st, why, sizeof(why))) < 0) {
        if (r == VP_ERR_CANCELLED)  /* Ctrl-C again while the file was being finished */
            return cli_signals_end(CLI_EXIT_ERROR, "the recording was abandoned, nothing "
                                                   "written");
        cli_error("%s", why);
        return CLI_EXIT_ERROR;
    }
    if (cli_signal_caught()) {
        char what[512];
        snprintf(what, sizeof(what), "%s holds the %lld frame%s recorded", out,
                 (long long)st.frames, st.frames == 1 ? "" : "s");
        return cli_signals_end(CLI_EXIT_OK, what);
    }
    if (json) {
        CliJson j;
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_str(&j, "output", out);
        cj_int(&j, "frames", st.frames);
        cj_str(&j, "encoder", st.encoder);
        cj_num(&j, "seconds", st.seconds);
        cj_num(&j, "fps", st.fps);
        cj_int(&j, "bytes", st.bytes);
        cj_obj_end(&j);
        cj_end(&j);
    } else if (cli_verbosity >= 0) { /* -q: errors only */
        printf("%s: %lld frame%s, %s, %.2f s, %.1f fps, %lld bytes\n", out,
               (long long)st.frames, st.frames == 1 ? "" : "s", st.encoder, st.seconds, st.fps,
               (long long)st.bytes);
    }
    return CLI_EXIT_OK;
}

const CliCommand cmd_encode_raw = {
    .name = "encode-raw",
    .summary = "raw frames (stdin or a file) to an H.264/HEVC MP4 at the encoder's speed",
    .usage = "-s WxH [--pix-fmt FMT] [-r FPS] [-i FILE] [OPTIONS] OUTPUT",
    .details = "Reads frames of exactly WxH in --pix-fmt back to back (as 'ffmpeg -f rawvideo'\n"
               "does), converts and encodes them on background threads, and writes OUTPUT\n"
               "(.mp4/.mov/.mkv) atomically with the index in front. An incomplete last frame\n"
               "is dropped with a warning. --hw auto tries NVENC, VAAPI, QSV, VideoToolbox,\n"
               "then libx264; -v shows which encoder was chosen and why the others were not.\n"
               "Ctrl-C (SIGINT) ends the recording: OUTPUT is finished with the frames read\n"
               "so far and the exit status is 130; a second Ctrl-C, or SIGTERM (143), abandons\n"
               "it and leaves nothing, also while the file is being finished (the encoder's\n"
               "final flush is cut short). Either signal also ends a wait for a FIFO or pipe\n"
               "that has no data, with nothing written.\n"
               "Exit status: 0 written, 2 input unreadable or empty, 3 bad options, an OUTPUT\n"
               "that is the input or exists (see vidpipe(1)), 4 the output or the encoder\n"
               "failed (nothing is left at OUTPUT).",
    .run = run_encode_raw,
};
