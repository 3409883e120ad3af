/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The option tables: every type from text and from JSON values, defaults, ranges, the one
 * message form, frame rates and sizes through FFmpeg's parsers, cross-field rules, and the
 * library's own tables (writer, proxy, QC spec) through the public API. */
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <libavutil/error.h>

#include "options/options.h"
#include "options/options_json.h"
#include "vidpipe/vidpipe.h"
#include "test.h"

typedef struct Demo {
    int count;
    int64_t big;
    double gain;
    int loud;
    char label[8];
    const char *preset;
    int mode;
    VpRational rate;
    int w, h;
    int64_t bits;
    double span;
    int even;
    int optional;
} Demo;

static const char *const modes[] = { "fast", "slow", NULL };

#define D(n, t, d, lo, hi, ...) \
    { .name = #n, .help = "help of " #n, .type = VPI_OPT_##t, .offset = offsetof(Demo, n), \
      .def = d, .min = lo, .max = hi, __VA_ARGS__ }

static const VpiOption demo_options[] = {
    D(count, INT, 3, 1, 10),
    D(big, INT64, 5e9, 0, 1e12),
    D(gain, DOUBLE, 0.5, -1, 1),
    D(loud, BOOL, 1, 0, 1),
    D(label, STRING, 0, 0, 0, .def_str = "abc", .size = 8),
    D(preset, CSTRING, 0, 0, 0, .def_str = "fast", .names = modes),
    D(mode, ENUM, 1, 0, 0, .names = modes),
    D(rate, RATIONAL, 0, 1, 120, .def_str = "25"),
    { .name = "size", .help = "size", .type = VPI_OPT_SIZE, .offset = offsetof(Demo, w),
      .def_str = "320x240", .min = 2, .max = 4096, .flags = VPI_OPT_EVEN },
    D(bits, BITRATE, 64000, 8000, 1e6),
    D(span, DURATION, 2.5, 0, 3600),
    D(even, INT, 4, 2, 100, .flags = VPI_OPT_EVEN),
    D(optional, INT, 0, 100, 200, .flags = VPI_OPT_ZERO_OK),
    { NULL },
};

static int demo_check(const void *obj, char *err, size_t err_size)
{
    const Demo *d = obj;
    if (d->count > d->even) {
        snprintf(err, err_size, "count: value %d is above even (%d)", d->count, d->even);
        return VP_ERR_BAD_OPTION;
    }
    return 0;
}

static const VpiOptTable demo = { "demo", demo_options, demo_check };

static int set(Demo *d, const char *name, const char *text, char *err)
{
    return vpi_opt_set(&demo, d, name, text, err, 256);
}

static void test_defaults(void)
{
    Demo d;
    char err[256];
    memset(&d, 0x55, sizeof(d));
    vpi_opt_defaults(&demo, &d);
    CHECK_EQ(d.count, 3);
    CHECK(d.big == 5000000000LL);
    CHECK_NEAR(d.gain, 0.5, 1e-12);
    CHECK_EQ(d.loud, 1);
    CHECK_STR(d.label, "abc");
    CHECK_STR(d.preset, "fast");
    CHECK_EQ(d.mode, 1);
    CHECK(d.rate.num == 25 && d.rate.den == 1);
    CHECK(d.w == 320 && d.h == 240);
    CHECK(d.bits == 64000);
    CHECK_NEAR(d.span, 2.5, 1e-12);
    CHECK_EQ(d.optional, 0);
    CHECK_EQ(vpi_opt_check(&demo, &d, err, sizeof(err)), 0);
}

static void test_text(void)
{
    Demo d;
    char err[256] = "";
    vpi_opt_defaults(&demo, &d);

    CHECK_EQ(set(&d, "count", "7", err), 0);
    CHECK_EQ(d.count, 7);
    CHECK_EQ(set(&d, "count", "11", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "count: value 11 is out of range 1..10");
    CHECK_EQ(d.count, 7);
    CHECK_EQ(set(&d, "count", "7x", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "count: '7x' is not an integer");
    CHECK_EQ(set(&d, "count", "99999999999", err), VP_ERR_BAD_OPTION);
    CHECK_EQ(set(&d, "big", "1000000000000", err), 0);
    CHECK(d.big == 1000000000000LL);
    CHECK_EQ(set(&d, "big", "-1", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "big: value -1 is out of range 0..1000000000000");

    CHECK_EQ(set(&d, "gain", "-0.25", err), 0);
    CHECK_NEAR(d.gain, -0.25, 1e-12);
    CHECK_EQ(set(&d, "gain", "1.5", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "gain: value 1.5 is out of range -1..1");
    CHECK_EQ(set(&d, "gain", "nan", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "gain: 'nan' is not a number");

    CHECK_EQ(set(&d, "loud", "false", err), 0);
    CHECK_EQ(d.loud, 0);
    CHECK_EQ(set(&d, "loud", "YES", err), 0);
    CHECK_EQ(d.loud, 1);
    CHECK_EQ(set(&d, "loud", "2", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "loud: '2' is not a boolean (1, 0, true, false)");

    CHECK_EQ(set(&d, "label", "1234567", err), 0);
    CHECK_STR(d.label, "1234567");
    CHECK_EQ(set(&d, "label", "12345678", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "label: value is longer than 7 characters");
    CHECK_STR(d.label, "1234567");

    CHECK_EQ(set(&d, "preset", "slow", err), 0);
    CHECK_STR(d.preset, "slow");
    CHECK_EQ(set(&d, "preset", "warp9", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "preset: 'warp9' is not one of fast, slow");
    CHECK_EQ(set(&d, "mode", "fast", err), 0);
    CHECK_EQ(d.mode, 0);
    CHECK_EQ(set(&d, "mode", "1", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "mode: '1' is not one of fast, slow");

    CHECK_EQ(set(&d, "bits", "800k", err), 0);
    CHECK(d.bits == 800000);
    CHECK_EQ(set(&d, "bits", "1M", err), 0);
    CHECK(d.bits == 1000000);
    CHECK_EQ(set(&d, "bits", "2M", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "bits: value 2000000 is out of range 8000..1000000");
    CHECK_EQ(set(&d, "bits", "fast", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "bits: 'fast' is not a bitrate (2500000, 800k, 6M)");

    CHECK_EQ(set(&d, "span", "1:30", err), 0);
    CHECK_NEAR(d.span, 90, 1e-9);
    CHECK_EQ(set(&d, "span", "0.5", err), 0);
    CHECK_NEAR(d.span, 0.5, 1e-9);
    CHECK_EQ(set(&d, "span", "2:00:00", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "span: value 7200 is out of range 0..3600");
    CHECK_EQ(set(&d, "span", "soon", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "span: 'soon' is not a duration in seconds (90, 1:30, 0.5)");

    CHECK_EQ(set(&d, "even", "6", err), 0);
    CHECK_EQ(set(&d, "even", "7", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "even: value 7 is not even");
    CHECK_EQ(set(&d, "optional", "0", err), 0);
    CHECK_EQ(set(&d, "optional", "150", err), 0);
    CHECK_EQ(set(&d, "optional", "50", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "optional: value 50 is out of range 100..200 (or 0)");

    CHECK_EQ(set(&d, "nope", "1", err), AVERROR_OPTION_NOT_FOUND);
    CHECK_STR(err, "unknown option nope");
}

/* The spellings of a rate and a size that every command accepts, as FFmpeg does. */
static void test_rates_and_sizes(void)
{
    static const struct { const char *text; int num, den; } rates[] = {
        { "30", 30, 1 }, { "29.97", 30000, 1001 }, { "30000/1001", 30000, 1001 },
        { "ntsc", 30000, 1001 }, { "pal", 25, 1 }, { "23.976", 24000, 1001 },
        { "59.94", 60000, 1001 }, { "12.5", 25, 2 },
    };
    static const char *const bad_rates[] = { "", "0", "-30", "abc", "30/0", "1/1x", "121" };
    Demo d;
    char err[256];
    vpi_opt_defaults(&demo, &d);
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        CHECK_EQ(set(&d, "rate", rates[i].text, err), 0);
        CHECK(d.rate.num == rates[i].num && d.rate.den == rates[i].den);
        if (d.rate.num != rates[i].num || d.rate.den != rates[i].den)
            fprintf(stderr, "  %s gave %d/%d\n", rates[i].text, d.rate.num, d.rate.den);
    }
    for (size_t i = 0; i < sizeof(bad_rates) / sizeof(bad_rates[0]); i++) {
        CHECK_EQ(set(&d, "rate", bad_rates[i], err), VP_ERR_BAD_OPTION);
        CHECK(d.rate.num == 25 && d.rate.den == 2);
    }
    CHECK_EQ(set(&d, "rate", "abc", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "rate: 'abc' is not a frame rate (30, 29.97, 30000/1001, ntsc)");
    CHECK_EQ(set(&d, "rate", "121", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "rate: value 121/1 is out of range 1..120 frames/s");

    CHECK_EQ(set(&d, "size", "1280x720", err), 0);
    CHECK(d.w == 1280 && d.h == 720);
    CHECK_EQ(set(&d, "size", "hd1080", err), 0);
    CHECK(d.w == 1920 && d.h == 1080);
    CHECK_EQ(set(&d, "size", "641x480", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "size: value 641x480 is out of range 2x2..4096x4096, even sides");
    CHECK_EQ(set(&d, "size", "big", err), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "size: 'big' is not a size (1280x720, hd720)");
    CHECK(d.w == 1920 && d.h == 1080);
}

static void test_values_and_check(void)
{
    Demo d;
    char err[256];
    vpi_opt_defaults(&demo, &d);
    VpiValue v = { VPI_VALUE_INT, .i = 9 };
    CHECK_EQ(vpi_opt_set_value(&demo, &d, "count", &v, err, sizeof(err)), 0);
    CHECK_EQ(d.count, 9);
    v = (VpiValue){ VPI_VALUE_REAL, .d = 2.5 };
    CHECK_EQ(vpi_opt_set_value(&demo, &d, "count", &v, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "count: '2.5' is not an integer");
    v = (VpiValue){ VPI_VALUE_STRING, .s = "9" };
    CHECK_EQ(vpi_opt_set_value(&demo, &d, "count", &v, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "count: the value must be an integer");
    v = (VpiValue){ VPI_VALUE_BOOL, .i = 0 };
    CHECK_EQ(vpi_opt_set_value(&demo, &d, "loud", &v, err, sizeof(err)), 0);
    CHECK_EQ(d.loud, 0);
    v = (VpiValue){ VPI_VALUE_REAL, .d = 29.97 };
    CHECK_EQ(vpi_opt_set_value(&demo, &d, "rate", &v, err, sizeof(err)), 0);
    CHECK(d.rate.num == 30000 && d.rate.den == 1001);
    v = (VpiValue){ VPI_VALUE_STRING, .s = "ntsc" };
    CHECK_EQ(vpi_opt_set_value(&demo, &d, "rate", &v, err, sizeof(err)), 0);
    v = (VpiValue){ VPI_VALUE_INT, .i = 5000000000LL };
    CHECK_EQ(vpi_opt_set_value(&demo, &d, "count", &v, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "count: value 5000000000 is out of range 1..10");
    v = (VpiValue){ VPI_VALUE_INT, .i = 900000000001LL };
    CHECK_EQ(vpi_opt_set_value(&demo, &d, "big", &v, err, sizeof(err)), 0);
    CHECK(d.big == 900000000001LL);

    /* The whole-struct check: ranges of fields set directly, then the cross-field rule. */
    d.gain = 3;
    CHECK_EQ(vpi_opt_check(&demo, &d, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "gain: value 3 is out of range -1..1");
    d.gain = 0;
    d.count = 9;
    d.even = 4;
    CHECK_EQ(vpi_opt_check(&demo, &d, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "count: value 9 is above even (4)");
    d.mode = 7;
    CHECK_EQ(vpi_opt_check(&demo, &d, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "mode: value 7 is not one of fast, slow");

    /* A JSON object through the reader's adapter: members, then the whole check. */
    json_t *root = NULL;
    const char *text = "{\"count\": 12}";
    vpi_opt_defaults(&demo, &d);
    CHECK_EQ(vpi_json_parse(text, strlen(text), &root, err, sizeof(err)), 0);
    CHECK(vpi_opt_apply_json(&demo, &d, root, "demo.json", err, sizeof(err)) < 0);
    CHECK_STR(err, "demo.json: count: value 12 is out of range 1..10");
    json_decref(root);
    text = "{\"count\": 8}";
    CHECK_EQ(vpi_json_parse(text, strlen(text), &root, err, sizeof(err)), 0);
    CHECK(vpi_opt_apply_json(&demo, &d, root, "demo.json", err, sizeof(err)) < 0);
    CHECK_STR(err, "demo.json: count: value 8 is above even (4)");
    json_decref(root);
    /* integers past 2^53 arrive exactly (jansson keeps them as json_int_t) */
    text = "{\"count\": 9007199254740993}";
    CHECK_EQ(vpi_json_parse(text, strlen(text), &root, err, sizeof(err)), 0);
    CHECK(vpi_opt_apply_json(&demo, &d, root, "demo.json", err, sizeof(err)) < 0);
    CHECK_STR(err, "demo.json: count: value 9007199254740993 is out of range 1..10");
    json_decref(root);
}

/* The library's tables, as the CLI and Python see them. */
static void test_public(void)
{
    char err[256];
    VpOptionInfo info;
    const VpOptionTable *t = vp_option_table("writer");
    CHECK(t != NULL);
    CHECK(vp_option_table("nope") == NULL);
    CHECK_EQ(vp_option_info(NULL, 0, &info), AVERROR(EINVAL));
    CHECK_EQ(vp_option_check(NULL, &info, err, sizeof(err)), AVERROR(EINVAL));
    CHECK_EQ(vp_option_set(t, &info, "crf", NULL, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "crf: '' is not an integer");
    int found = 0;
    for (int i = 0; vp_option_info(t, i, &info) == 0; i++)
        if (!strcmp(info.name, "crf")) {
            found = 1;
            CHECK_STR(info.def, "23");
            CHECK_STR(info.range, "0..51");
            CHECK_STR(info.type, "int");
        } else if (!strcmp(info.name, "fps")) {
            CHECK_STR(info.def, "30");
            CHECK_STR(info.type, "rate");
        }
    CHECK(found);

    VpWriterOpts o;
    vp_writer_default_opts(&o);
    CHECK_EQ(o.crf, 23);
    CHECK(o.fps.num == 30 && o.fps.den == 1);
    CHECK_STR(o.preset, "medium");
    CHECK_EQ(o.queue_depth, 8);
    CHECK_EQ(vp_option_set(t, &o, "fps", "ntsc", err, sizeof(err)), 0);
    CHECK(o.fps.num == 30000 && o.fps.den == 1001);
    CHECK_EQ(vp_option_set(t, &o, "size", "hd720", err, sizeof(err)), 0);
    CHECK(o.width == 1280 && o.height == 720);
    CHECK_EQ(vp_option_check(t, &o, err, sizeof(err)), 0);
    o.queue_depth = 1;
    CHECK_EQ(vp_option_check(t, &o, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "queue_depth: value 1 is out of range 2..256");

    VpProxyOpts p;
    vp_proxy_default_opts(&p);
    CHECK(p.fps.num == 10 && p.fps.den == 1);
    CHECK_EQ(p.height, 480);
    CHECK(p.audio_bitrate == 64000);
    CHECK_EQ(vp_option_set(vp_option_table("proxy"), &p, "fps", "29.97", err, sizeof(err)), 0);
    CHECK(p.fps.num == 30000 && p.fps.den == 1001);

    VpQcSpec s;
    vp_qc_default_spec(&s);
    t = vp_option_table("qc_spec");
    CHECK_EQ(vp_option_set(t, &s, "min_duration", "10", err, sizeof(err)), 0);
    CHECK_EQ(vp_option_set(t, &s, "max_duration", "2", err, sizeof(err)), 0);
    CHECK_EQ(vp_option_check(t, &s, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "max_duration: value 2 is below min_duration (10)");

    VpJoinOpts j;
    vp_join_default_opts(&j);
    t = vp_option_table("join");
    CHECK_EQ(vp_option_check(t, &j, err, sizeof(err)), 0);
    CHECK_EQ(j.max_cached_segments, 16);
    j.faststart = 0;
    CHECK_EQ(vp_option_check(t, &j, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "faststart: value 0 is out of range 1..1");

    VpCleanupOpts c;
    vp_cleanup_default_opts(&c);
    t = vp_option_table("cleanup");
    CHECK_EQ(vp_option_check(t, &c, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "nothing to do: enable stabilize, eq or denoise_audio");
    CHECK_EQ(vp_option_set(t, &c, "stabilize", "true", err, sizeof(err)), 0);
    CHECK_EQ(vp_option_check(t, &c, err, sizeof(err)), 0);

    /* Every table's own defaults pass its check (cleanup's needs one thing to do). */
    static const char *const names[] = { "writer", "proxy", "qc_spec", "loudnorm", "join",
                                         "pipeline", "probe" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        union {
            VpWriterOpts w; VpProxyOpts p; VpQcSpec q; VpLoudnormOpts l; VpJoinOpts j;
            VpPipelineOpts pl; VpProbeOpts pr;
        } u;
        memset(&u, 0, sizeof(u));
        if (i == 0) {
            vp_writer_default_opts(&u.w);
            u.w.width = 64, u.w.height = 48;
        } else if (i == 1)
            vp_proxy_default_opts(&u.p);
        else if (i == 2)
            vp_qc_default_spec(&u.q);
        else if (i == 3)
            vp_loudnorm_default_opts(&u.l);
        else if (i == 4)
            vp_join_default_opts(&u.j);
        else if (i == 5)
            vp_pipeline_default_opts(&u.pl);
        else
            vp_probe_default_opts(&u.pr);
        CHECK_EQ(vp_option_check(vp_option_table(names[i]), &u, err, sizeof(err)), 0);
    }
    VpPipelineOpts pl;
    vp_pipeline_default_opts(&pl);
    CHECK_EQ(pl.skip_unneeded, 1);
    pl.decode_threads = 65;
    CHECK_EQ(vp_option_check(vp_option_table("pipeline"), &pl, err, sizeof(err)),
             VP_ERR_BAD_OPTION);
    CHECK_STR(err, "decode_threads: value 65 is out of range 0..64");

    /* The encode sink: 0/0 is "the source's rate"; pad needs both sides. */
    VpEncodeOpts e;
    vp_encode_default_opts(&e);
    t = vp_option_table("encode");
    e.path = "out.mp4";
    CHECK(e.fps.num == 0 && e.fps.den == 0);
    CHECK_EQ(vp_option_check(t, &e, err, sizeof(err)), 0);
    CHECK_EQ(vp_option_set(t, &e, "fit", "pad", err, sizeof(err)), 0);
    CHECK_EQ(vp_option_set(t, &e, "height", "720", err, sizeof(err)), 0);
    CHECK_EQ(vp_option_check(t, &e, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "width: value 0 is out of range 2..8192");
    e.fps = (VpRational){ 30, 0 };
    CHECK_EQ(vp_option_check(t, &e, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "fps: value 30/0 is out of range 0.001..1000 frames/s (or 0)");
}

/* The entry points check their own options through their tables before touching a file:
 * a proxy's range is narrower than the encode sink's it feeds, and VpQcOpts has its table. */
static void test_entry_points(void)
{
    char err[256];
    VpProxyOpts p;
    VpFailure fail;
    vp_proxy_default_opts(&p);
    p.height = 8;               /* the encode sink would take it; a proxy is 16..4320 */
    CHECK_EQ(vp_proxy_make("/nonexistent/in.mp4", "/nonexistent/out.mp4", &p, NULL, &fail),
             VP_ERR_BAD_OPTION);
    CHECK_EQ(fail.code, VP_ERR_BAD_OPTION);
    CHECK_EQ(fail.input, -1);
    CHECK_STR(fail.path, "");
    CHECK_STR(fail.message, "proxy: height: value 8 is out of range 16..4320");
    vp_proxy_default_opts(&p);
    p.fps = (VpRational){ 500, 1 };
    CHECK_EQ(vp_proxy_make("/nonexistent/in.mp4", "/nonexistent/out.mp4", &p, NULL, &fail),
             VP_ERR_BAD_OPTION);
    CHECK(strstr(fail.message, "proxy: fps: ") != NULL);
    vp_proxy_default_opts(&p);
    CHECK_EQ(p.hw, VP_HW_NONE);
    CHECK_EQ(vp_proxy_make("/nonexistent/in.mp4", "/nonexistent/out.mp4", &p, NULL, &fail),
             AVERROR(ENOENT));

    const VpOptionTable *t = vp_option_table("qc");
    CHECK(t != NULL);
    VpQcOpts q;
    vp_qc_default_opts(&q);
    CHECK_EQ(q.sheet, 0);
    CHECK(q.pipeline == NULL);
    CHECK_EQ(vp_option_check(t, &q, err, sizeof(err)), 0);
    CHECK_EQ(vp_option_set(t, &q, "sheet", "true", err, sizeof(err)), 0);
    CHECK_EQ(q.sheet, 1);
    q.sheet = 2;
    CHECK_EQ(vp_option_check(t, &q, err, sizeof(err)), VP_ERR_BAD_OPTION);
    CHECK_STR(err, "sheet: value 2 is out of range 0..1");
    VpQcReport *r = NULL;
    CHECK_EQ(vp_qc_run("/nonexistent/in.mp4", NULL, &q, &r), VP_ERR_BAD_OPTION);
    CHECK(r == NULL);
}

int main(void)
{
    test_defaults();
    test_text();
    test_rates_and_sizes();
    test_values_and_check();
    test_public();
    vp_set_log_callback(NULL, NULL, VP_LOG_INFO);   /* the refusals' log lines */
    test_entry_points();
    TEST_END();
}
