/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Subtitle files (src/subs/): what each reader accepts and the exact line it refuses, the
 * conversions between SRT, WebVTT and ASS, and the timing arithmetic. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "test.h"
#include "vidpipe/subtitles.h"

static VpSubs *parse(const char *name, const char *text)
{
    VpSubs *s = NULL;
    VpFailure f;
    int r = vp_subs_parse(name, text, strlen(text), &s, &f);
    if (r < 0)
        T_FAIL("%s refused: %s", name, f.message);
    return s;
}

/* The one-line reason a text is refused with. */
static const char *refusal(const char *name, const char *text)
{
    static VpFailure f;
    VpSubs *s = NULL;
    int r = vp_subs_parse(name, text, strlen(text), &s, &f);
    if (r >= 0) {
        vp_subs_free(&s);
        return "(accepted)";
    }
    if (r != AVERROR_INVALIDDATA || s)
        return "(wrong error code)";
    return f.message;
}

static void check_cue(const VpSubs *s, int i, int64_t start, int64_t end, const char *text)
{
    VpSubsCue c = { 0 };
    CHECK_EQ(vp_subs_get(s, i, &c), 0);
    CHECK_EQ(c.start_ms, start);
    CHECK_EQ(c.end_ms, end);
    CHECK_STR(c.text, text);
}

static char *written(const VpSubs *s, VpSubsFormat fmt)
{
    char *buf = NULL;
    size_t n = 0;
    CHECK_EQ(vp_subs_write_buffer(s, fmt, &buf, &n), 0);
    CHECK_EQ(strlen(buf), n);
    return buf;
}

static void test_errors(void)
{
    CHECK_STR(refusal("subs.srt", "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n"
                      "00:00:03,000 --> 00:00:01,000\nbad\n"),
              "subs.srt:6: end time 00:00:01,000 is before start 00:00:03,000");
    CHECK_STR(refusal("a.srt", "1\n00:61:00,000 --> 01:02:00,000\nx\n"),
              "a.srt:2: start time '00:61:00,000': minutes above 59");
    CHECK_STR(refusal("a.srt", "1\n00:00:01,000 -> 00:00:02,000\nx\n"),
              "a.srt:2: expected a timing line (00:00:01,000 --> 00:00:02,500) after the cue "
              "number");
    CHECK_STR(refusal("a.srt", "1\n00:00:01,000 --> 00:00:02\nx\n"),
              "a.srt:2: end time '00:00:02': a time has a fraction of a second after ',' or "
              "'.'");
    CHECK_STR(refusal("a.srt", "1\n00:00:01,000 --> 00:00:02,000\nx\n\nhello\n"),
              "a.srt:5: expected a cue number or a timing line, found 'hello'");
    CHECK_STR(refusal("notes.txt", "Dear diary,\n"),
              "notes.txt:1: not a subtitle file: expected an SRT cue number, 'WEBVTT' or "
              "'[Script Info]'");
    CHECK_STR(refusal("a.srt", "1\n00:00:01,0000 --> 00:00:02,000\nx\n"),
              "a.srt:2: start time '00:00:01,0000': a time has one to three digits of "
              "milliseconds");
    CHECK_STR(refusal("a.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\nfirst\n00:03.000 --> "
                      "00:04.000\nsecond\n"),
              "a.vtt:5: '-->' in a cue's text (a blank line missing before the next cue?)");
    CHECK_STR(refusal("a.vtt", "WEBVTT\n00:01.000 --> 00:02.000\nx\n"),
              "a.vtt:2: a blank line must separate the WEBVTT header from the first cue");
    CHECK_STR(refusal("a.vtt", "WEBVTT\n\nintro\nhello\n"),
              "a.vtt:4: expected a timing line (00:01.000 --> 00:02.500) after the cue "
              "identifier");
    CHECK_STR(refusal("a.vtt", "WEBVTT\n\n00:02.000 --> 00:01.000\nx\n"),
              "a.vtt:3: end time 00:00:01.000 is before start 00:00:02.000");
    CHECK_STR(refusal("a.ass", "[Script Info]\n[Events]\nFormat: Start, Text, End\n"),
              "a.ass:3: the [Events] Format line must end with Text");
    CHECK_STR(refusal("a.ass", "[Script Info]\n[Events]\nFormat: Layer, Start, Text\n"),
              "a.ass:3: the [Events] Format line names no End field");
    CHECK_STR(refusal("a.ass", "[Script Info]\n[Events]\nDialogue: 0,0:00:01.00,x\n"),
              "a.ass:3: a Dialogue line has 3 fields, the Format line 10");
    CHECK_STR(refusal("a.ass", "[Script Info]\n\n[Events]\nFormat: Start, End, Text\n"
                      "Dialogue: 0:00:03.00,0:00:01.00,x\n"),
              "a.ass:5: end time 0:00:01.00 is before start 0:00:03.00");
    CHECK_STR(refusal("a.ass", "[Script Info]\n[Events]\nFormat: Start, End, Text\n"
                      "Dialogue: 0:00:01.000,0:00:02.00,x\n"),
              "a.ass:4: start time '0:00:01.000': a time has two digits of centiseconds");
    CHECK_STR(refusal("a.ass", "[Script Info]\n[Events]\njunk\n"),
              "a.ass:3: expected 'Key: value' in the [Events] section");

    VpFailure f;
    VpSubs *s = NULL;
    CHECK_EQ(vp_subs_read("/nonexistent/x.srt", &s, &f), AVERROR(ENOENT));
    CHECK(s == NULL);
    CHECK(strstr(f.message, "/nonexistent/x.srt: ") == f.message);
}

static void test_forgiving(void)
{
    /* BOM, CRLF, no cue number, '.' for ',', short milliseconds, coordinates, no final
     * blank line, {\an8}, an unknown tag, upper-case tags, a whitespace-only separator */
    VpSubs *s = parse("f.srt", "\xEF\xBB\xBF" "1\r\n00:00:01,5 --> 00:00:02.25 X1:1 X2:2\r\n"
                      "{\\an8}<font color=\"red\">Red</font> <I>it</I>\r\n  \r\n"
                      "00:00:03,000 --> 00:00:04,000\r\nno number\r\n"
                      "  two lines  \r\n\r\n\r\n3\n00:00:03,500 --> 00:00:05,000\nlast");
    CHECK_EQ(vp_subs_count(s), 3);
    CHECK_EQ(vp_subs_source_format(s), VP_SUBS_SRT);
    check_cue(s, 0, 1500, 2250, "Red <i>it</i>");
    check_cue(s, 1, 3000, 4000, "no number\ntwo lines");
    check_cue(s, 2, 3500, 5000, "last");   /* overlaps the one before: kept as it is */
    vp_subs_free(&s);
    CHECK(s == NULL);

    s = parse("f.vtt", "WEBVTT - with a title\nKind: captions\nLanguage: en\n\n"
              "STYLE\n::cue { color: lime }\n\nNOTE this is\na comment\n\n"
              "REGION\nid:fred\n\nintro\n01:02.003 --> 1:01:02.500 align:start line:0\n"
              "<v Roger><c.loud>Hi</c> &amp; &lt;3 x&gt;y &lt;b&gt;</v>\n<i.x>it</i> <b>b</b> "
              "<00:01:02.100>k\n\n00:00.000 --> 00:00.000\n&nbsp;\n");
    CHECK_EQ(vp_subs_count(s), 2);
    CHECK_EQ(vp_subs_source_format(s), VP_SUBS_VTT);
    check_cue(s, 0, 62003, 3662500, "Hi & <3 x>y <b>\n<i>it</i> <b>b</b> k");
    check_cue(s, 1, 0, 0, "\xC2\xA0");
    vp_subs_free(&s);

    s = parse("f.ass", "[Script Info]\nTitle: x\n\n[V4+ Styles]\nFormat: Name\nStyle: A\n\n"
              "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, "
              "Effect, Text\nComment: 0,0:00:00.00,0:00:01.00,A,,0,0,0,,hidden\n"
              "Dialogue: 0,0:00:01.00,0:00:02.50,A,,0,0,0,,{\\i1\\pos(1,2)}One,{\\i0} two"
              "\\Nthree\\hfour {\\b700}bold{\\b0} \\{x\\} {comment}\n\n[Fonts]\nfontname: a.ttf\n"
              "M3!@#$%\n");
    CHECK_EQ(vp_subs_count(s), 1);
    CHECK_EQ(vp_subs_source_format(s), VP_SUBS_ASS);
    check_cue(s, 0, 1000, 2500, "<i>One,</i> two\nthree\xC2\xA0" "four <b>bold</b> {x}");
    vp_subs_free(&s);

    /* nothing but blank lines: no cues, not an error */
    s = parse("empty.srt", "\n\n");
    CHECK_EQ(vp_subs_count(s), 0);
    vp_subs_free(&s);
}

static void test_conversions(void)
{
    VpSubs *s = NULL;
    CHECK_EQ(vp_subs_new(&s), 0);
    CHECK_EQ(vp_subs_add(s, 1001, 2004, "<i>one</i> & <two>\n\n  {braces} C:\\New  "), 0);
    CHECK_EQ(vp_subs_add(s, 1995, 3599999, "over<b>lap</b>"), 0);
    CHECK_EQ(vp_subs_add(s, 5, 3, "backwards"), AVERROR(EINVAL));
    CHECK_EQ(vp_subs_count(s), 2);
    check_cue(s, 0, 1001, 2004, "<i>one</i> &\n{braces} C:\\New");
    /* "<two>" is a tag to every reader: dropped; the space before it stays, the lines are
     * trimmed */

    char *srt = written(s, VP_SUBS_SRT);
    CHECK_STR(srt, "1\n00:00:01,001 --> 00:00:02,004\n<i>one</i> &\n{braces} C:\\New\n\n"
                   "2\n00:00:01,995 --> 00:59:59,999\nover<b>lap</b>\n\n");
    char *vtt = written(s, VP_SUBS_VTT);
    CHECK_STR(vtt, "WEBVTT\n\n00:00:01.001 --> 00:00:02.004\n<i>one</i> &amp;\n{braces} "
                   "C:\\New\n\n00:00:01.995 --> 00:59:59.999\nover<b>lap</b>\n");
    char *ass = written(s, VP_SUBS_ASS);
    CHECK(strstr(ass, "[Script Info]\n") == ass);
    CHECK(strstr(ass, "\nDialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\i1}one{\\i0} &"
                      "\\N\\{braces\\} C:\\\xE2\x80\x8BNew\n"));
    /* centiseconds, half up: 1995 -> 2.00, 3599999 -> 1:00:00.00 */
    CHECK(strstr(ass, "\nDialogue: 0,0:00:02.00,1:00:00.00,Default,,0,0,0,,over{\\b1}lap"
                      "{\\b0}\n"));

    /* each read back: the same cues, ASS to the centisecond */
    const char *texts[3] = { srt, vtt, ass };
    for (int k = 0; k < 3; k++) {
        VpSubs *b = parse("back", texts[k]);
        CHECK_EQ(vp_subs_count(b), 2);
        if (k < 2) {
            check_cue(b, 0, 1001, 2004, "<i>one</i> &\n{braces} C:\\New");
            check_cue(b, 1, 1995, 3599999, "over<b>lap</b>");
        } else {
            check_cue(b, 0, 1000, 2000, "<i>one</i> &\n{braces} C:\\New");
            check_cue(b, 1, 2000, 3600000, "over<b>lap</b>");
        }
        vp_subs_free(&b);
    }
    av_free(srt);
    av_free(vtt);
    av_free(ass);

    /* through files: the format from the name; a name without one is refused */
    char dir[] = "/tmp/vp_subs_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    VpFailure f;
    snprintf(path, sizeof(path), "%s/out.vtt", dir);
    CHECK_EQ(vp_subs_write(s, path, VP_SUBS_AUTO, &f), 0);
    VpSubs *b = NULL;
    CHECK_EQ(vp_subs_read(path, &b, &f), 0);
    CHECK_EQ(vp_subs_source_format(b), VP_SUBS_VTT);
    CHECK_EQ(vp_subs_count(b), 2);
    vp_subs_free(&b);
    unlink(path);
    snprintf(path, sizeof(path), "%s/out.txt", dir);
    CHECK_EQ(vp_subs_write(s, path, VP_SUBS_AUTO, &f), VP_ERR_BAD_OPTION);
    CHECK(access(path, F_OK) != 0);
    rmdir(dir);
    vp_subs_free(&s);

    CHECK_EQ(vp_subs_format_from_name("A.SRT"), VP_SUBS_SRT);
    CHECK_EQ(vp_subs_format_from_name("x.ssa"), VP_SUBS_ASS);
    CHECK_EQ(vp_subs_format_from_name("dir.vtt/x"), VP_SUBS_AUTO);
}

static void test_timing(void)
{
    VpSubs *s = parse("t.srt", "1\n00:00:00,500 --> 00:00:01,000\na\n\n"
                      "2\n00:00:01,000 --> 00:00:03,000\nb\n\n"
                      "3\n00:00:10,000 --> 00:00:12,345\nc\n");
    /* -1.5 s: the first ends before 0 (removed), the second starts at 0 */
    CHECK_EQ(vp_subs_shift(s, -1500), 1);
    CHECK_EQ(vp_subs_count(s), 2);
    check_cue(s, 0, 0, 1500, "b");
    check_cue(s, 1, 8500, 10845, "c");
    CHECK_EQ(vp_subs_shift(s, 1500), 0);
    check_cue(s, 1, 10000, 12345, "c");
    /* 25 fps played at 23.976: 12345 * 25 / 23.976 = 12872.22... -> 12872 */
    CHECK_EQ(vp_subs_stretch(s, 25 / 23.976), 0);
    check_cue(s, 1, 10427, 12872, "c");
    CHECK_EQ(vp_subs_stretch(s, 0), AVERROR(EINVAL));
    CHECK_EQ(vp_subs_stretch(s, 1e9), AVERROR(EINVAL));
    CHECK_EQ(vp_subs_shift(s, VP_SUBS_MAX_MS), AVERROR(EINVAL));
    check_cue(s, 1, 10427, 12872, "c");     /* unchanged by the refusals */
    vp_subs_free(&s);

    /* map 10 s -> 11 s and 110 s -> 121 s: t' = 11000 + (t - 10000) * 1.1 */
    s = parse("m.srt", "1\n00:00:10,000 --> 00:00:20,000\nx\n\n"
              "2\n00:01:50,000 --> 00:01:50,001\ny\n\n3\n00:00:00,000 --> 00:00:00,004\nz\n");
    CHECK_EQ(vp_subs_map(s, 10000, 11000, 110000, 121000), 0);
    check_cue(s, 0, 11000, 22000, "x");
    check_cue(s, 1, 121000, 121001, "y");   /* 1.1 ms rounds to 1 */
    check_cue(s, 2, 0, 4, "z");             /* 11000 - 11000 = 0, 4 * 1.1 = 4.4 -> 4 */
    CHECK_EQ(vp_subs_map(s, 1000, 2000, 1000, 3000), AVERROR(EINVAL));
    CHECK_EQ(vp_subs_map(s, 1000, 3000, 2000, 2000), AVERROR(EINVAL));
    /* a map that moves everything earlier removes what ends before 0 */
    CHECK_EQ(vp_subs_map(s, 0, -1000, 1000, 0), 1);
    CHECK_EQ(vp_subs_count(s), 2);
    vp_subs_free(&s);
}

static int cancel_at_once(void *opaque)
{
    (void)opaque;
    return 1;
}

/* Files in @p dir (temporaries included). */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.' || strstr(e->d_name, "vptmp") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void test_mux(void)
{
    char dir[] = "/tmp/vp_subs_mux_XXXXXX", clip[96], srt[96], out[96], cmd[512];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(clip, sizeof(clip), "%s/clip.mp4", dir);
    snprintf(srt, sizeof(srt), "%s/a.srt", dir);
    snprintf(out, sizeof(out), "%s/out.mkv", dir);
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -f lavfi -i testsrc2=s=160x120:r=10:d=1 "
             "-c:v libx264 -pix_fmt yuv420p -y %s", clip);
    if (t_sh(cmd) != 0)
        TEST_SKIP("ffmpeg could not make a clip");
    FILE *f = fopen(srt, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("1\n00:00:00,100 --> 00:00:00,900\nhi\n", f);
    fclose(f);

    const char *subs[2] = { srt, srt };
    const char *langs[2] = { "eng", "Fr" };
    VpSubsMuxOpts o;
    VpFailure fail;
    vp_subs_mux_default_opts(&o);
    o.langs = langs;
    CHECK_EQ(vp_subs_mux(clip, subs, 2, out, &o, &fail), VP_ERR_BAD_OPTION);
    CHECK_EQ(fail.input, -1);
    CHECK(strstr(fail.message, "language 'Fr' of ") != NULL);
    langs[1] = NULL;    /* und */
    o.cancel.fn = cancel_at_once;
    CHECK_EQ(vp_subs_mux(clip, subs, 2, out, &o, &fail), VP_ERR_CANCELLED);
    CHECK_EQ(count_files(dir), 2);      /* clip and srt: no output, no temporary */
    o.cancel.fn = NULL;
    CHECK_EQ(vp_subs_mux(clip, subs, 2, out, &o, &fail), 0);
    CHECK(access(out, F_OK) == 0);
    CHECK_EQ(vp_subs_mux(clip, subs, 2, clip, &o, &fail), VP_ERR_OUTPUT_IS_INPUT);
    subs[1] = "/nonexistent.srt";
    CHECK_EQ(vp_subs_mux(clip, subs, 2, out, &o, &fail), AVERROR(ENOENT));
    CHECK_EQ(fail.input, 2);
    CHECK_STR(fail.path, "/nonexistent.srt");
    unlink(out);
    unlink(srt);
    unlink(clip);
    rmdir(dir);
}

int main(void)
{
    test_errors();
    test_forgiving();
    test_conversions();
    test_timing();
    test_mux();
    TEST_END();
}
