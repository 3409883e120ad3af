/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vidpipe subtitles: a command of subcommands. Each subcommand is a CliCommand of its own
 * (its option table, --help, exit codes) in the table `subcommands` below, and `vidpipe
 * subtitles NAME ...` runs it with argv starting at NAME. To add one (transcribe, burn,
 * auto): write its run function and CliCommand (name "subtitles NAME", so that --help and
 * the errors say "vidpipe subtitles NAME"), put it in the table, and give it a section in
 * docs/vidpipe-subtitles.1. The library side is vidpipe/subtitles.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/commands.h"
#include "common/outputs.h"

/* The output rule, the format from the name, the write; 0 or an exit code. */
static int write_subs(const char *cmd, const VpSubs *s, const char *out, CliOverwrite ow)
{
    VpFailure f;
    int r;
    if (vp_subs_format_from_name(out) == VP_SUBS_AUTO) {
        cli_error("%s: %s: name the output .srt, .vtt or .ass", cmd, out);
        return CLI_EXIT_USAGE;
    }
    if ((r = cli_output_rule(out, ow)))
        return r == 1 ? -1 : r;
    if ((r = vp_subs_write(s, out, VP_SUBS_AUTO, &f)) < 0) {
        cli_error("%s", f.message);
        return CLI_EXIT_ERROR;
    }
    return 0;
}

static int read_subs(const char *in, VpSubs **s)
{
    VpFailure f;
    int r = vp_subs_read(in, s, &f);
    if (r < 0) {
        cli_error("%s", f.message);
        return r == AVERROR(ENOMEM) ? CLI_EXIT_ERROR : CLI_EXIT_UNREADABLE;
    }
    return 0;
}

static void report(const char *cmd, const char *in, const char *out, const VpSubs *s,
                   int removed, int json)
{
    if (json) {
        CliJson j;
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_str(&j, "command", cmd);
        cj_str(&j, "input", in);
        cj_str(&j, "output", out);
        cj_str(&j, "from", vp_subs_format_name(vp_subs_source_format(s)));
        cj_str(&j, "to", vp_subs_format_name(vp_subs_format_from_name(out)));
        cj_int(&j, "cues", vp_subs_count(s));
        if (removed >= 0)
            cj_int(&j, "removed", removed);
        cj_obj_end(&j);
        cj_end(&j);
    } else if (cli_verbosity >= 0) {
        printf("%s: %d cue%s (%s to %s)", out, vp_subs_count(s),
               vp_subs_count(s) == 1 ? "" : "s", vp_subs_format_name(vp_subs_source_format(s)),
               vp_subs_format_name(vp_subs_format_from_name(out)));
        if (removed > 0)
            printf(", %d removed (ended before 0)", removed);
        printf("\n");
    }
}

/* The option rows shared by the subcommands that transcribe (transcribe, auto) and burn
 * (burn, auto): one copy of each, their names, types, ranges, defaults and help the library's
 * option tables' (vidpipe/options.h: "transcribe", "subs_burn"), which `vidpipe run`'s
 * subtitles step reads too. O is a VpTranscribeOpts, B a VpSubsBurnOpts, T the table. */
#define TRANSCRIBE_ROWS(O, T)                                                                \
    CLI_LIB("lang", 0, &(O), "LANG", T, "lang"),                                            \
    CLI_LIB("max-chars", 0, &(O), "N", T, "max_chars"),                                     \
    CLI_LIB("max-lines", 0, &(O), "N", T, "max_lines"),                                     \
    CLI_LIB("threads", 0, &(O), "N", T, "threads"),                                         \
    CLI_LIB_AS("engine", 0, &(O), "NAME", T, "engine", "speech engine", "pocketsphinx"),     \
    CLI_LIB_AS("model-dir", 0, &(O), "DIR", T, "model_dir", "the engine's model folder",     \
               "/usr/share/pocketsphinx/model")
#define BURN_ROWS(B, T)                                                                      \
    CLI_LIB("style", 0, &(B), "KEY=VALUE,...", T, "style"),                                 \
    CLI_LIB("crf", 0, &(B), "N", T, "crf"),                                                 \
    CLI_LIB("preset", 0, &(B), "P", T, "x264_preset")

/* A progress line on a terminal (cli_progress_*), fed by the library's callbacks. */
static void progress_cb(void *opaque, double done_s, double total_s)
{
    if (isfinite(total_s) && total_s > 0 && isfinite(done_s))
        cli_progress_update(opaque, (int64_t)(done_s < 0 ? 0 : done_s), (int64_t)ceil(total_s));
}

/* ---- convert -------------------------------------------------------------------------- */

extern const CliCommand cmd_subtitles_convert;

static int run_convert(int argc, char **argv)
{
    const char *out = NULL;
    int json = 0, yes = 0, no = 0, nb_pos = 0, r;
    CliOverwrite ow;
    VpSubs *s = NULL;
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output file: .srt, .vtt or .ass" },
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable result on stdout" },
        CLI_OVERWRITE_OPTS(yes, no),
        { 0 },
    };
    if ((r = cli_parse(&cmd_subtitles_convert, opts, argc, argv, &nb_pos)))
        return r > 0 ? CLI_EXIT_OK : -r;
    if (nb_pos != 1 || !out) {
        cli_error("subtitles convert: give IN -o OUT (see 'vidpipe subtitles convert --help')");
        return CLI_EXIT_USAGE;
    }
    if (cli_overwrite_mode("subtitles convert", yes, no, &ow) < 0)
        return CLI_EXIT_USAGE;
    if ((r = read_subs(argv[1], &s)))
        return r;
    if ((r = vp_output_check_not_input(out, (const char *const *)&argv[1], 1)) < 0) {
        cli_file_error(out, "%s", vp_strerror(r));
        vp_subs_free(&s);
        return CLI_EXIT_USAGE;
    }
    r = write_subs("subtitles convert", s, out, ow);
    if (!r)
        report("subtitles convert", argv[1], out, s, -1, json);
    vp_subs_free(&s);
    return r < 0 ? CLI_EXIT_OK : r;
}

const CliCommand cmd_subtitles_convert = {
    .name = "subtitles convert",
    .summary = "convert between SRT, WebVTT and ASS",
    .usage = "IN -o OUT.srt|OUT.vtt|OUT.ass",
    .details = "The input's format is read from its first line, the output's from its name. "
               "Times are exact to\nthe millisecond, except in ASS, which counts "
               "centiseconds (rounded to the nearest). <i>, <b>, <u>\nand ASS's {\\i1} {\\b1} "
               "{\\u1} convert; other markup, styles and positions are dropped.\n"
               "Exit status: 0 done, 2 the input could not be read (its line and reason "
               "said), 3 bad command\nline or an existing output without -y, 4 the output "
               "could not be written.",
    .run = run_convert,
};

/* ---- shift ---------------------------------------------------------------------------- */

extern const CliCommand cmd_subtitles_shift;

/* Seconds ("12.5", "-3") or a clock ("01:02:03,500", "02:03.5") into ms; 0 or -1. */
static int parse_when(const char *s, size_t n, int64_t *ms)
{
    char buf[64];
    if (!n || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    int neg = buf[0] == '-';
    const char *p = buf + neg;
    if (strchr(p, ':')) {
        int64_t f[3] = { 0 };
        int nf = 0;
        char *e;
        for (;;) {
            if (*p < '0' || *p > '9')
                return -1;
            double v = strtod(p, &e);
            if (nf == 3 || (*e != ':' && *e))
                return -1;
            if (*e == ':' && strchr(p, '.') && strchr(p, '.') < e)
                return -1;
            f[nf++] = llround(v * 1000);
            if (!*e)
                break;
            p = e + 1;
        }
        for (char *c = buf; *c; c++)
            if (*c == ',')
                return -1;   /* strtod stops at ',': spelt with '.' here */
        if (nf < 2)
            return -1;
        int64_t h = nf == 3 ? f[0] / 1000 : 0, m = f[nf - 2] / 1000, sec = f[nf - 1];
        *ms = (h * 3600 + m * 60) * 1000 + sec;
    } else {
        char *e;
        double v = strtod(p, &e);
        if (e == p || *e || !isfinite(v) || fabs(v) > 3.6e8)
            return -1;
        *ms = llround(v * 1000);
    }
    if (neg)
        *ms = -*ms;
    return 0;
}

static int run_shift(int argc, char **argv)
{
    const char *out = NULL, *by = NULL, *map = NULL;
    double stretch = 0;
    int json = 0, yes = 0, no = 0, nb_pos = 0, r, removed = 0;
    CliOverwrite ow;
    VpSubs *s = NULL;
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output file: .srt, .vtt or .ass" },
        { "by", 0, CLI_STR, &by, "SECONDS",
          "add SECONDS to every time (negative: earlier; 1.5, -0.250, 01:00.5)" },
        { "stretch", 0, CLI_DOUBLE, &stretch, "FACTOR",
          "multiply every time by FACTOR (before --by; 25 fps to 23.976: 1.04271)",
          0.001, 1000 },
        { "map", 0, CLI_STR, &map, "A1=B1,A2=B2",
          "move time A1 to B1 and A2 to B2, stretching linearly between (seconds or clocks)" },
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable result on stdout" },
        CLI_OVERWRITE_OPTS(yes, no),
        { 0 },
    };
    if ((r = cli_parse(&cmd_subtitles_shift, opts, argc, argv, &nb_pos)))
        return r > 0 ? CLI_EXIT_OK : -r;
    if (nb_pos != 1 || !out || (!by && !stretch && !map)) {
        cli_error("subtitles shift: give IN -o OUT and --by, --stretch or --map "
                  "(see 'vidpipe subtitles shift --help')");
        return CLI_EXIT_USAGE;
    }
    if (map && (by || stretch)) {
        cli_error("subtitles shift: --map is a shift and a stretch at once: give it alone");
        return CLI_EXIT_USAGE;
    }
    int64_t by_ms = 0, a1 = 0, b1 = 0, a2 = 0, b2 = 0;
    if (by && parse_when(by, strlen(by), &by_ms) < 0) {
        cli_error("subtitles shift: --by: '%s' is not seconds (1.5, -0.25) or a time "
                  "(01:02.500)", by);
        return CLI_EXIT_USAGE;
    }
    if (map) {
        const char *c = strchr(map, ','), *e1 = strchr(map, '='), *e2 = c ? strchr(c, '=') : 0;
        if (!c || !e1 || e1 > c || !e2 || parse_when(map, e1 - map, &a1) < 0 ||
            parse_when(e1 + 1, c - e1 - 1, &b1) < 0 || parse_when(c + 1, e2 - c - 1, &a2) < 0 ||
            parse_when(e2 + 1, strlen(e2 + 1), &b2) < 0) {
            cli_error("subtitles shift: --map: '%s' is not A1=B1,A2=B2 (times in seconds or "
                      "as 01:02.500)", map);
            return CLI_EXIT_USAGE;
        }
        if (a1 == a2 || (b2 - b1 > 0) != (a2 - a1 > 0) || b1 == b2) {
            cli_error("subtitles shift: --map: %s needs two different times that keep their "
                      "order", map);
            return CLI_EXIT_USAGE;
        }
    }
    if (cli_overwrite_mode("subtitles shift", yes, no, &ow) < 0)
        return CLI_EXIT_USAGE;
    if ((r = read_subs(argv[1], &s)))
        return r;
    if ((r = vp_output_check_not_input(out, (const char *const *)&argv[1], 1)) < 0) {
        cli_file_error(out, "%s", vp_strerror(r));
        r = CLI_EXIT_USAGE;
        goto end;
    }
    if (map) {
        r = vp_subs_map(s, a1, b1, a2, b2);
    } else {
        r = stretch ? vp_subs_stretch(s, stretch) : 0;
        if (r >= 0 && by)
            r = vp_subs_shift(s, by_ms);
    }
    if (r < 0) {
        cli_error("subtitles shift: %s: a time would pass 100000 hours", argv[1]);
        r = CLI_EXIT_USAGE;
        goto end;
    }
    removed = r;
    if (removed)
        cli_warn("%s: %d cue%s ended before 0 and %s removed", argv[1], removed,
                 removed == 1 ? "" : "s", removed == 1 ? "was" : "were");
    r = write_subs("subtitles shift", s, out, ow);
    if (!r)
        report("subtitles shift", argv[1], out, s, removed, json);
end:
    vp_subs_free(&s);
    return r < 0 ? CLI_EXIT_OK : r;
}

const CliCommand cmd_subtitles_shift = {
    .name = "subtitles shift",
    .summary = "shift and stretch the times of a subtitle file",
    .usage = "IN -o OUT (--by SECONDS | --stretch FACTOR | --stretch FACTOR --by SECONDS | "
             "--map A1=B1,A2=B2)",
    .details = "Times are rounded to the millisecond. A cue that would end before 0 is "
               "removed (said on stderr),\none that would start before 0 starts at 0. The "
               "output's format is its name's; converting on the\nway is allowed.\n"
               "Exit status: 0 done, 2 the input could not be read, 3 bad command line or an "
               "existing output\nwithout -y, 4 the output could not be written.",
    .run = run_shift,
};

/* ---- mux ------------------------------------------------------------------------------ */

extern const CliCommand cmd_subtitles_mux;

static int run_mux(int argc, char **argv)
{
    const char *out = NULL, *lang = NULL;
    int json = 0, yes = 0, no = 0, nb_pos = 0, r, ret;
    CliOverwrite ow;
    char *langs_buf = NULL;
    const char *langs[32] = { 0 };
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output file: .mp4, .mov or .mkv" },
        { "lang", 0, CLI_STR, &lang, "L[,L...]",
          "the tracks' languages, in the order of SUBS (ISO 639-2: eng,fra; default und)" },
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable result on stdout" },
        CLI_OVERWRITE_OPTS(yes, no),
        { 0 },
    };
    if ((r = cli_parse(&cmd_subtitles_mux, opts, argc, argv, &nb_pos)))
        return r > 0 ? CLI_EXIT_OK : -r;
    if (nb_pos < 2 || !out) {
        cli_error("subtitles mux: give VIDEO SUBS... -o OUT (see 'vidpipe subtitles mux "
                  "--help')");
        return CLI_EXIT_USAGE;
    }
    int nb_subs = nb_pos - 1;
    if (nb_subs > 32) {
        cli_error("subtitles mux: at most 32 subtitle files, not %d", nb_subs);
        return CLI_EXIT_USAGE;
    }
    if (lang) {
        if (!(langs_buf = strdup(lang)))
            return CLI_EXIT_ERROR;
        int n = 0;
        for (char *p = langs_buf, *save = NULL, *t; (t = strtok_r(p, ",", &save)); p = NULL) {
            if (n == nb_subs) {
                n++;
                break;
            }
            langs[n++] = t;
        }
        if (n != nb_subs) {
            cli_error("subtitles mux: --lang %s names %s languages than the %d subtitle "
                      "file%s", lang, n > nb_subs ? "more" : "fewer", nb_subs,
                      nb_subs == 1 ? "" : "s");
            free(langs_buf);
            return CLI_EXIT_USAGE;
        }
    }
    if (cli_overwrite_mode("subtitles mux", yes, no, &ow) < 0 ||
        (r = cli_output_rule(out, ow)) == CLI_EXIT_USAGE) {
        free(langs_buf);
        return CLI_EXIT_USAGE;
    }
    if (r == 1) {
        free(langs_buf);
        return CLI_EXIT_OK;
    }
    VpSubsMuxOpts o;
    VpFailure f;
    vp_subs_mux_default_opts(&o);
    o.langs = lang ? langs : NULL;
    o.cancel = cli_cancel();
    cli_signals_install("subtitles mux", CLI_SIG_ABANDON);
    r = vp_subs_mux(argv[1], (const char *const *)argv + 2, nb_subs, out, &o, &f);
    if (r == VP_ERR_CANCELLED && cli_signal_caught()) {
        free(langs_buf);
        return cli_signals_end(CLI_EXIT_ERROR, NULL);
    }
    if (r < 0) {
        cli_error("%s", f.message);
        ret = f.input >= 0 ? cli_exit_for_error(r)
            : r == VP_ERR_BAD_OPTION || r == VP_ERR_CONTAINER_CODEC ||
              r == VP_ERR_OUTPUT_IS_INPUT ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
    } else {
        ret = CLI_EXIT_OK;
        if (json) {
            CliJson j;
            cj_init(&j, stdout);
            cj_obj_begin(&j, NULL);
            cj_str(&j, "command", "subtitles mux");
            cj_str(&j, "input", argv[1]);
            cj_str(&j, "output", out);
            cj_arr_begin(&j, "tracks");
            for (int i = 0; i < nb_subs; i++) {
                cj_obj_begin(&j, NULL);
                cj_str(&j, "subtitles", argv[2 + i]);
                cj_str(&j, "language", langs[i] ? langs[i] : "und");
                cj_bool(&j, "default", i == 0);
                cj_obj_end(&j);
            }
            cj_arr_end(&j);
            cj_obj_end(&j);
            cj_end(&j);
        } else if (cli_verbosity >= 0) {
            printf("%s: video and audio copied, %d subtitle track%s\n", out, nb_subs,
                   nb_subs == 1 ? "" : "s");
        }
    }
    free(langs_buf);
    return ret;
}

const CliCommand cmd_subtitles_mux = {
    .name = "subtitles mux",
    .summary = "add soft subtitle tracks to a video (stream copy)",
    .usage = "VIDEO SUBS... -o OUT.mp4|OUT.mkv [--lang L[,L...]]",
    .details = "Video and audio are copied; each SUBS file (SRT, WebVTT or ASS) becomes a "
               "track: mov_text in MP4,\nASS (from an ASS file) or SRT in Matroska. The first "
               "track is the default one. The output is written\nunder a temporary name and "
               "renamed when complete; Ctrl-C leaves nothing.\n"
               "Exit status: 0 done, 2 an input could not be read (a subtitle file's line "
               "and reason said), 3 bad\ncommand line, a bad language or an existing output "
               "without -y, 4 the output could not be written.",
    .run = run_mux,
};

/* ---- burn ----------------------------------------------------------------------------- */

extern const CliCommand cmd_subtitles_burn;

static int run_burn(int argc, char **argv)
{
    const char *out = NULL;
    int json = 0, yes = 0, no = 0, nb_pos = 0, r;
    CliOverwrite ow;
    VpSubsBurnOpts o;
    VpPipelineOpts po;
    VpFailure f;

    vp_subs_burn_default_opts(&o);
    vp_pipeline_default_opts(&po);
    o.pipeline = &po;
    const VpOptionTable *bt = vp_option_table("subs_burn");
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output video (.mp4, .mov, .mkv)" },
        BURN_ROWS(o, bt),
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable result on stdout" },
        CLI_OVERWRITE_OPTS(yes, no),
        { 0 },
    };
    if ((r = cli_parse(&cmd_subtitles_burn, opts, argc, argv, &nb_pos)))
        return r > 0 ? CLI_EXIT_OK : -r;
    if (nb_pos != 2 || !out) {
        cli_error("subtitles burn: give IN SUBS -o OUT (see 'vidpipe subtitles burn --help')");
        return CLI_EXIT_USAGE;
    }
    char why[400];
    if (vp_option_check(bt, &o, why, sizeof(why)) < 0) {
        cli_error("subtitles burn: --%s", why);
        return CLI_EXIT_USAGE;
    }
    if (cli_overwrite_mode("subtitles burn", yes, no, &ow) < 0)
        return CLI_EXIT_USAGE;
    if ((r = cli_output_rule(out, ow)) == CLI_EXIT_USAGE)
        return CLI_EXIT_USAGE;
    if (r == 1)
        return CLI_EXIT_OK;
    CliProgress pr;
    cli_progress_init(&pr, "burn: seconds");
    po.progress = progress_cb;
    po.opaque = &pr;
    po.cancel = cli_cancel();
    cli_signals_install("subtitles burn", CLI_SIG_ABANDON);
    r = vp_subs_burn(argv[1], argv[2], out, &o, &f);
    cli_progress_end(&pr);
    if (r == VP_ERR_CANCELLED && cli_signal_caught())
        return cli_signals_end(CLI_EXIT_ERROR, NULL);
    if (r < 0) {
        cli_error("%s", f.message);
        if (f.input == 1)
            return r == AVERROR(ENOMEM) ? CLI_EXIT_ERROR : CLI_EXIT_UNREADABLE;
        if (f.input == 0)
            return cli_exit_for_error(r);
        return r == VP_ERR_BAD_OPTION || r == VP_ERR_CONTAINER_CODEC ||
               r == VP_ERR_OUTPUT_IS_INPUT ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
    }
    if (json) {
        CliJson j;
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_str(&j, "command", "subtitles burn");
        cj_str(&j, "input", argv[1]);
        cj_str(&j, "subtitles", argv[2]);
        cj_str(&j, "output", out);
        cj_obj_end(&j);
        cj_end(&j);
    } else if (cli_verbosity >= 0) {
        printf("%s: captions of %s burned in, audio copied\n", out, argv[2]);
    }
    return CLI_EXIT_OK;
}

const CliCommand cmd_subtitles_burn = {
    .name = "subtitles burn",
    .summary = "draw subtitles into the picture (libass), audio copied",
    .usage = "IN SUBS -o OUT [--style KEY=VALUE,...] [--crf N] [--preset P]",
    .details = "SUBS (SRT, WebVTT or ASS) is read first: a malformed file fails with its line "
               "before any work.\nlibass draws the cues (FFmpeg's subtitles filter) on the way "
               "to one libx264 encode; the audio is\ncopied, not re-encoded. --style sets "
               "fields of the ASS style (force_style): Fontname, Fontsize,\nPrimaryColour, "
               "OutlineColour, BackColour, Bold, Italic, Outline, Shadow, Alignment, MarginV, "
               "...\nA font that is not installed is replaced by fontconfig's choice, said once "
               "on stderr. The output is\nwritten under a temporary name and renamed when "
               "complete; Ctrl-C leaves nothing.\n"
               "Exit status: 0 done, 2 an input could not be read (a subtitle file's line and "
               "reason said), 3 bad\ncommand line, a bad style or an existing output without "
               "-y, 4 the output could not be written.",
    .run = run_burn,
};

/* ---- transcribe ----------------------------------------------------------------------- */

extern const CliCommand cmd_subtitles_transcribe;

static int run_transcribe(int argc, char **argv)
{
    const char *out = NULL;
    int json = 0, yes = 0, no = 0, nb_pos = 0, r;
    CliOverwrite ow;
    VpTranscribeOpts o;
    VpTranscribeStats st = { 0 };
    VpFailure f;
    VpSubs *s = NULL;
    vp_transcribe_default_opts(&o);
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output file: .srt, .vtt or .ass" },
        TRANSCRIBE_ROWS(o, vp_option_table("transcribe")),
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable result on stdout" },
        CLI_OVERWRITE_OPTS(yes, no),
        { 0 },
    };
    if ((r = cli_parse(&cmd_subtitles_transcribe, opts, argc, argv, &nb_pos)))
        return r > 0 ? CLI_EXIT_OK : -r;
    if (nb_pos != 1 || !out) {
        cli_error("subtitles transcribe: give IN -o OUT (see 'vidpipe subtitles transcribe "
                  "--help')");
        return CLI_EXIT_USAGE;
    }
    if (vp_subs_format_from_name(out) == VP_SUBS_AUTO) {
        cli_error("subtitles transcribe: %s: name the output .srt, .vtt or .ass", out);
        return CLI_EXIT_USAGE;
    }
    if (cli_overwrite_mode("subtitles transcribe", yes, no, &ow) < 0)
        return CLI_EXIT_USAGE;
    if ((r = vp_output_check_not_input(out, (const char *const *)&argv[1], 1)) < 0) {
        cli_file_error(out, "%s", vp_strerror(r));
        return CLI_EXIT_USAGE;
    }
    if ((r = cli_output_rule(out, ow)))
        return r == 1 ? CLI_EXIT_OK : r;
    CliProgress pr;
    cli_progress_init(&pr, "transcribe: seconds");
    o.progress = progress_cb;
    o.opaque = &pr;
    o.cancel = cli_cancel();
    cli_signals_install("subtitles transcribe", CLI_SIG_ABANDON);
    int64_t t0 = vpi_now_us();
    r = vp_transcribe(argv[1], &s, &o, &st, &f);
    double secs = (vpi_now_us() - t0) / 1e6;
    cli_progress_end(&pr);
    if (r == VP_ERR_CANCELLED && cli_signal_caught())
        return cli_signals_end(CLI_EXIT_ERROR, NULL);
    if (r < 0) {
        cli_error("%s", f.message);
        /* A model that is not there, or an option the engine refuses, is the command
         * line's (--lang, --model-dir, --engine); the rest is the input's. */
        return r == VP_ERR_BAD_CONFIG || r == VP_ERR_BAD_OPTION ? CLI_EXIT_USAGE
                                                                : cli_exit_for_error(r);
    }
    if (!vp_subs_count(s))
        cli_warn("%s: no speech found (%.1f s of audio): %s has no captions", argv[1],
                 st.audio_ms / 1000.0, out);
    r = write_subs("subtitles transcribe", s, out, ow);
    if (!r && json) {
        CliJson j;
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_str(&j, "command", "subtitles transcribe");
        cj_str(&j, "input", argv[1]);
        cj_str(&j, "output", out);
        cj_str(&j, "engine", o.engine ? o.engine : "pocketsphinx");
        cj_str(&j, "lang", o.lang);
        cj_int(&j, "cues", vp_subs_count(s));
        cj_int(&j, "words", st.nb_words);
        cj_num(&j, "audio_seconds", st.audio_ms / 1000.0);
        cj_num(&j, "speech_seconds", st.speech_ms / 1000.0);
        cj_num(&j, "seconds", secs);
        cj_obj_end(&j);
        cj_end(&j);
    } else if (!r && cli_verbosity >= 0) {
        printf("%s: %d caption%s, %d word%s from %.1f s of audio (%.1f s of speech) in "
               "%.1f s\n", out, vp_subs_count(s), vp_subs_count(s) == 1 ? "" : "s",
               st.nb_words, st.nb_words == 1 ? "" : "s", st.audio_ms / 1000.0,
               st.speech_ms / 1000.0, secs);
    }
    vp_subs_free(&s);
    return r < 0 ? CLI_EXIT_OK : r;
}

const CliCommand cmd_subtitles_transcribe = {
    .name = "subtitles transcribe",
    .summary = "speech to timed captions (pocketsphinx)",
    .usage = "IN -o OUT.srt|OUT.vtt [--lang en-us] [--max-chars 42] [--max-lines 2]",
    .details = "The best audio stream of IN is decoded once, resampled to 16 kHz mono and "
               "cut at silences into\nutterances for the speech engine; its word timings "
               "become captions of at most --max-lines lines\nof --max-chars characters, "
               "1 to 7 s each, never overlapping, split at pauses. Audio without\nspeech "
               "gives a valid file with no captions (said on stderr). Models: "
               "DIR/LANG/LANG (acoustic),\nDIR/LANG/LANG.lm.bin and DIR/LANG/cmudict-LANG.dict "
               "(Debian: pocketsphinx-en-us).\n"
               "Exit status: 0 done, 2 the input could not be read or has no audio stream, "
               "3 bad command line,\na model file missing or an existing output without -y, "
               "4 the output could not be written.",
    .run = run_transcribe,
};

/* ---- auto ----------------------------------------------------------------------------- */

extern const CliCommand cmd_subtitles_auto;

/* The soft track's language (ISO 639-2, as MP4 and Matroska name it) from the speech model's
 * ("en-us": eng); "und" for a model this table does not know. */
static const char *track_language(const char *model)
{
    static const char *const map[][2] = {
        { "en", "eng" }, { "fr", "fra" }, { "de", "deu" }, { "es", "spa" }, { "it", "ita" },
        { "pt", "por" }, { "nl", "nld" }, { "ru", "rus" }, { "pl", "pol" }, { "sv", "swe" },
        { "el", "ell" }, { "ca", "cat" }, { "zh", "zho" }, { "ja", "jpn" }, { "ko", "kor" },
        { "hi", "hin" }, { "ar", "ara" }, { "tr", "tur" }, { "uk", "ukr" }, { "cs", "ces" },
    };
    for (size_t i = 0; model && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strncasecmp(model, map[i][0], 2) && (!model[2] || model[2] == '-' ||
                                                  model[2] == '_'))
            return map[i][1];
    return "und";
}

static int video_name_ok(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && !strchr(dot, '/') && (!strcasecmp(dot, ".mp4") || !strcasecmp(dot, ".mov") ||
                                        !strcasecmp(dot, ".mkv"));
}

/* OUT with its extension replaced by .srt; NULL when out of memory. */
static char *default_sidecar(const char *out)
{
    size_t n = strrchr(out, '.') - out;
    char *p = malloc(n + 5);
    if (p)
        snprintf(p, n + 5, "%.*s.srt", (int)n, out);
    return p;
}

static int run_auto(int argc, char **argv)
{
    const char *out = NULL, *sidecar = NULL;
    char *sidecar_buf = NULL;
    int burn = 0, json = 0, yes = 0, no = 0, nb_pos = 0, r, ret = CLI_EXIT_OK, wrote = 0;
    int stopped = 0;
    CliOverwrite ow;
    VpTranscribeOpts to;
    VpTranscribeStats st = { 0 };
    VpSubsBurnOpts bo;
    VpPipelineOpts po;
    VpFailure f;
    VpSubs *s = NULL;
    CliProgress pr;

    vp_transcribe_default_opts(&to);
    vp_subs_burn_default_opts(&bo);
    vp_pipeline_default_opts(&po);
    bo.pipeline = &po;
    const VpOptionTable *bt = vp_option_table("subs_burn");
    const CliOpt opts[] = {
        { "output", 'o', CLI_STR, &out, "OUT", "output video: .mp4, .mov or .mkv" },
        { "burn", 0, CLI_FLAG, &burn, NULL,
          "draw the captions into the picture (one libx264 encode) instead of a soft track" },
        { "sidecar", 0, CLI_STR, &sidecar, "FILE",
          "the captions file: .srt, .vtt or .ass (default OUT with .srt)" },
        TRANSCRIBE_ROWS(to, vp_option_table("transcribe")),
        BURN_ROWS(bo, bt),
        { "json", 0, CLI_FLAG, &json, NULL, "machine-readable result on stdout" },
        CLI_OVERWRITE_OPTS(yes, no),
        { 0 },
    };
    const char *def_preset = bo.x264_preset;
    int def_crf = bo.crf;
    if ((r = cli_parse(&cmd_subtitles_auto, opts, argc, argv, &nb_pos)))
        return r > 0 ? CLI_EXIT_OK : -r;
    if (nb_pos != 1 || !out) {
        cli_error("subtitles auto: give IN -o OUT (see 'vidpipe subtitles auto --help')");
        return CLI_EXIT_USAGE;
    }
    const char *in = argv[1];
    if (!video_name_ok(out)) {
        cli_error("subtitles auto: %s: name the output .mp4, .mov or .mkv", out);
        return CLI_EXIT_USAGE;
    }
    if (!burn && (bo.style || bo.crf != def_crf || bo.x264_preset != def_preset)) {
        cli_error("subtitles auto: --style, --crf and --preset shape the burned captions: "
                  "give them with --burn");
        return CLI_EXIT_USAGE;
    }
    char why[400];
    if (vp_option_check(bt, &bo, why, sizeof(why)) < 0) {
        cli_error("subtitles auto: --%s", why);
        return CLI_EXIT_USAGE;
    }
    if (!sidecar && !(sidecar = sidecar_buf = default_sidecar(out)))
        return CLI_EXIT_ERROR;
    if (vp_subs_format_from_name(sidecar) == VP_SUBS_AUTO) {
        cli_error("subtitles auto: --sidecar %s: name it .srt, .vtt or .ass", sidecar);
        ret = CLI_EXIT_USAGE;
        goto end;
    }
    if (cli_overwrite_mode("subtitles auto", yes, no, &ow) < 0) {
        ret = CLI_EXIT_USAGE;
        goto end;
    }
    /* Both outputs are checked before any work: the input is neither, the overwrite rule
     * holds for each (-n: when either is there, nothing is done). */
    const char *const outs[2] = { out, sidecar };
    const char *const ins[2] = { in, out };
    for (int i = 0; i < 2; i++) {
        if ((r = vp_output_check_not_input(outs[i], ins, i + 1)) < 0) {
            cli_file_error(outs[i], "%s", vp_strerror(r));
            ret = CLI_EXIT_USAGE;
            goto end;
        }
    }
    int keep = 0;
    for (int i = 0; i < 2; i++) {
        if ((r = cli_output_rule(outs[i], ow)) == CLI_EXIT_USAGE) {
            ret = CLI_EXIT_USAGE;
            goto end;
        }
        keep |= r == 1;
    }
    if (keep)
        goto end;

    cli_signals_install("subtitles auto", CLI_SIG_ABANDON);
    int64_t t0 = vpi_now_us();
    cli_progress_init(&pr, "auto: transcribing, seconds");
    to.progress = progress_cb;
    to.opaque = &pr;
    to.cancel = cli_cancel();
    r = vp_transcribe(in, &s, &to, &st, &f);
    cli_progress_end(&pr);
    if (r == VP_ERR_CANCELLED && cli_signal_caught()) {
        stopped = 1;
        goto end;
    }
    if (r < 0) {
        cli_error("%s", f.message);
        ret = r == VP_ERR_BAD_CONFIG || r == VP_ERR_BAD_OPTION ? CLI_EXIT_USAGE
                                                               : cli_exit_for_error(r);
        goto end;
    }
    double transcribe_secs = (vpi_now_us() - t0) / 1e6;
    int nb_cues = vp_subs_count(s);
    /* No speech: the outputs are still made, in the shape they have with speech (an empty
     * captions file; in OUT an empty caption track, or the picture encoded as --burn
     * encodes it), so that what follows (a player's track menu, a delivery check, a batch)
     * finds what it expects; this line and "cues": 0 say there are none. */
    if (!nb_cues)
        cli_warn("%s: no speech found (%.1f s of audio): no captions", in,
                 st.audio_ms / 1000.0);
    if ((r = vp_subs_write(s, sidecar, VP_SUBS_AUTO, &f)) < 0) {
        cli_error("%s", f.message);
        ret = CLI_EXIT_ERROR;
        goto end;
    }
    /* From here on a failure or a signal removes the captions file again: both outputs are
     * there or neither. */
    wrote = 1;
    if (cli_signal_caught()) {
        stopped = 1;
        goto end;
    }
    const char *lang = track_language(to.lang);
    if (burn) {
        cli_progress_init(&pr, "auto: burning, seconds");
        po.progress = progress_cb;
        po.opaque = &pr;
        po.cancel = cli_cancel();
        r = vp_subs_burn(in, sidecar, out, &bo, &f);
        cli_progress_end(&pr);
    } else {
        VpSubsMuxOpts mo;
        vp_subs_mux_default_opts(&mo);
        const char *langs[1] = { lang };
        mo.langs = langs;
        mo.cancel = cli_cancel();
        r = vp_subs_mux(in, &sidecar, 1, out, &mo, &f);
    }
    if (r == VP_ERR_CANCELLED && cli_signal_caught()) {
        stopped = 1;
        goto end;
    }
    if (r < 0) {
        cli_error("%s", f.message);
        /* the input at fault (0), the captions file (ours: an internal error), the output */
        ret = f.input == 0 ? cli_exit_for_error(r)
            : f.input > 0 ? CLI_EXIT_ERROR
            : r == VP_ERR_BAD_OPTION || r == VP_ERR_CONTAINER_CODEC ||
              r == VP_ERR_OUTPUT_IS_INPUT ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
        goto end;
    }
    wrote = 0;
    double secs = (vpi_now_us() - t0) / 1e6;
    if (json) {
        CliJson j;
        cj_init(&j, stdout);
        cj_obj_begin(&j, NULL);
        cj_str(&j, "command", "subtitles auto");
        cj_str(&j, "input", in);
        cj_str(&j, "output", out);
        cj_str(&j, "sidecar", sidecar);
        cj_str(&j, "mode", burn ? "burn" : "mux");
        cj_str(&j, "engine", to.engine ? to.engine : "pocketsphinx");
        cj_str(&j, "lang", to.lang);
        if (!burn)
            cj_str(&j, "track_language", lang);
        cj_int(&j, "cues", nb_cues);
        cj_int(&j, "words", st.nb_words);
        cj_num(&j, "audio_seconds", st.audio_ms / 1000.0);
        cj_num(&j, "speech_seconds", st.speech_ms / 1000.0);
        cj_num(&j, "transcribe_seconds", transcribe_secs);
        cj_num(&j, "seconds", secs);
        cj_obj_end(&j);
        cj_end(&j);
    } else if (cli_verbosity >= 0) {
        if (burn)
            printf("%s: %d caption%s (%d word%s) burned in, audio copied; %s in %.1f s\n",
                   out, nb_cues, nb_cues == 1 ? "" : "s", st.nb_words,
                   st.nb_words == 1 ? "" : "s", sidecar, secs);
        else
            printf("%s: video and audio copied, %d caption%s (%d word%s) as a soft track "
                   "(%s); %s in %.1f s\n", out, nb_cues, nb_cues == 1 ? "" : "s",
                   st.nb_words, st.nb_words == 1 ? "" : "s", lang, sidecar, secs);
    }
end:
    if (wrote)
        unlink(sidecar);
    vp_subs_free(&s);
    free(sidecar_buf);
    return stopped ? cli_signals_end(CLI_EXIT_ERROR, NULL) : ret;
}

const CliCommand cmd_subtitles_auto = {
    .name = "subtitles auto",
    .summary = "transcribe, write the captions file, then mux or burn them: the whole way",
    .usage = "IN -o OUT.mp4|OUT.mkv [--burn] [--sidecar FILE.srt|.vtt] [OPTIONS]",
    .details = "The best audio stream of IN is decoded once and transcribed (as 'subtitles "
               "transcribe'); the\ncaptions are written to the sidecar file (default: OUT "
               "with .srt), then put into OUT: as a soft\ntrack, video and audio copied (as "
               "'subtitles mux'; the track's language from --lang: en-us is\neng), or with "
               "--burn drawn into the picture, one libx264 encode, audio copied (as "
               "'subtitles\nburn'). The overwrite rule holds for both outputs, checked before "
               "any work. Audio without speech\nstill gives both outputs, said on stderr: an "
               "empty captions file and an empty caption track (or\nthe picture encoded "
               "without captions). A failure or Ctrl-C leaves neither output.\n"
               "Exit status: 0 done, 2 the input could not be read or has no audio stream, "
               "3 bad command line,\na model file missing or an existing output without -y, "
               "4 an output could not be written.",
    .run = run_auto,
};

/* ---- the command ---------------------------------------------------------------------- */

static const CliCommand *const subcommands[] = {
    &cmd_subtitles_convert,
    &cmd_subtitles_shift,
    &cmd_subtitles_mux,
    &cmd_subtitles_burn,
    &cmd_subtitles_transcribe,
    &cmd_subtitles_auto,
    NULL,
};

static void subtitles_usage(FILE *f)
{
    fprintf(f, "Usage: %s subtitles COMMAND [OPTIONS] [ARGS]\n"
               "Subtitle files (SRT, WebVTT, ASS) and soft subtitle tracks.\n\nCommands:\n",
            cli_prog);
    for (int i = 0; subcommands[i]; i++)
        fprintf(f, "  %-11s %s\n", subcommands[i]->name + strlen("subtitles "),
                subcommands[i]->summary);
    fprintf(f, "\n'%s subtitles COMMAND --help' describes a command; 'man vidpipe-subtitles' "
               "all of them.\n", cli_prog);
}

static int run_subtitles(int argc, char **argv)
{
    if (argc < 2) {
        subtitles_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        subtitles_usage(stdout);
        return CLI_EXIT_OK;
    }
    for (int i = 0; subcommands[i]; i++)
        if (!strcmp(subcommands[i]->name + strlen("subtitles "), argv[1]))
            return subcommands[i]->run(argc - 1, argv + 1);
    cli_error("subtitles: unknown command '%s' (see 'vidpipe subtitles --help')", argv[1]);
    return CLI_EXIT_USAGE;
}

const CliCommand cmd_subtitles = {
    .name = "subtitles",
    .summary = "subtitle files: convert, shift; soft subtitle tracks: mux; burned-in: burn; "
               "speech: transcribe; all of it: auto",
    .usage = "convert|shift|mux|burn|transcribe|auto ...",
    .details = NULL,
    .run = run_subtitles,
};
