/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The channels config file: defaults, every key's range, relative paths, and the exact line
 * each fault is reported with (docs/channels.md, "Config file"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "live/live.h"
#include "test.h"

#define PATH "conf/ch.json"

static int parse(const char *text, VpiLiveConfig *cfg, char *why, size_t size)
{
    return vpi_live_config_parse(PATH, text, strlen(text), cfg, why, size);
}

/* @p text must be refused with exactly "conf/ch.json: " @p msg, and leave nothing behind. */
static void refused(int line, const char *text, const char *msg)
{
    VpiLiveConfig cfg;
    char why[512], want[512];
    int ret = parse(text, &cfg, why, sizeof(why));
    snprintf(want, sizeof(want), PATH ": %s", msg);
    test_checks++;
    if (ret != VP_ERR_BAD_CONFIG)
        T_FAIL("line %d: returned %d, not VP_ERR_BAD_CONFIG (%s)", line, ret, why);
    else if (strcmp(why, want))
        T_FAIL("line %d: message\n  got:  %s\n  want: %s", line, why, want);
    CHECK(!cfg.channels && !cfg.nb_channels && !cfg.path);
    vpi_live_config_free(&cfg);
}
#define REFUSED(text, msg) refused(__LINE__, text, msg)

/* A channel object with @p extra members spliced in after "name". */
#define CH(extra) "{\"channels\": [{\"number\": 1, \"name\": \"One\", " extra \
                  "\"items\": [{\"file\": \"ep1.mp4\"}]}]}"
#define ITEM(members) "{\"channels\": [{\"number\": 1, \"name\": \"One\", \"items\": " \
                      "[{\"file\": \"ep1.mp4\"}, {" members "}]}]}"

static void test_defaults(void)
{
    VpiLiveConfig cfg;
    char why[512];
    int ret = parse("{\"channels\": [{\"number\": 3, \"name\": \"Three\", \"items\": ["
                    "{\"file\": \"shows/ep1.mp4\"}, {\"file\": \"/abs/ep.two.mkv\"},"
                    "{\"file\": \".hidden\"}]}]}", &cfg, why, sizeof(why));
    CHECK_EQ(ret, 0);
    if (ret < 0) {
        fprintf(stderr, "%s\n", why);
        return;
    }
    CHECK_STR(cfg.path, PATH);
    CHECK_STR(cfg.dir, "conf");
    CHECK_EQ(cfg.nb_channels, 1);
    const VpiChannelCfg *ch = &cfg.channels[0];
    CHECK_EQ(ch->number, 3);
    CHECK_STR(ch->name, "Three");
    CHECK_EQ(ch->has_start, 0);
    CHECK_EQ(ch->nb_items, 3);
    CHECK_EQ(ch->nb_ads, 0);
    CHECK_EQ(ch->ads_per_break, 2);
    CHECK_NEAR(ch->loudness, -23, 0);
    CHECK_EQ(ch->on_demand, 1);
    CHECK_NEAR(ch->stop_after, 30, 0);
    CHECK_EQ(ch->format.set, 0);
    CHECK_STR(ch->items[0].file, "shows/ep1.mp4");
    CHECK_STR(ch->items[0].path, "conf/shows/ep1.mp4");
    CHECK_STR(ch->items[0].title, "ep1");
    CHECK_EQ(ch->items[0].nb_breaks, 0);
    CHECK_EQ(ch->items[0].breaks_auto, 0);
    CHECK_STR(ch->items[1].path, "/abs/ep.two.mkv");
    CHECK_STR(ch->items[1].title, "ep.two");
    CHECK_STR(ch->items[2].title, ".hidden");
    vpi_live_config_free(&cfg);
    CHECK(!cfg.channels && !cfg.path);
    vpi_live_config_free(&cfg); /* twice is harmless */
}

static void test_full(void)
{
    VpiLiveConfig cfg;
    char why[512];
    const char *text =
        "{\"channels\": [{\n"
        "  \"number\": 1, \"name\": \"Retro One\", \"start\": \"2026-01-01T00:00:00Z\",\n"
        "  \"items\": [{\"file\": \"ep1.mp4\", \"title\": \"Episode 1\",\n"
        "             \"breaks\": [300, 600.5]},\n"
        "            {\"file\": \"ep2.mp4\", \"title\": \"Episode 2\", \"breaks\": \"auto\"}],\n"
        "  \"ads\": [\"ads/a1.mp4\", \"/x/a2.mp4\"], \"ads_per_break\": 3,\n"
        "  \"loudness\": -16.5, \"on_demand\": false, \"stop_after\": 0.5,\n"
        "  \"format\": {\"width\": 1280, \"height\": 720, \"fps\": \"30000/1001\",\n"
        "             \"sample_rate\": 48000, \"channels\": 2}},\n"
        " {\"number\": 9999, \"name\": \"Two\", \"start\": \"2026-01-01T01:30:00.25+01:00\",\n"
        "  \"items\": [{\"file\": \"x.ts\", \"breaks\": []}],\n"
        "  \"format\": {\"width\": 320, \"height\": 240, \"fps\": 25, \"sample_rate\": 44100,"
        "             \"channels\": 1}},\n"
        " {\"number\": 5, \"name\": \"Three\", \"start\": \"2028-02-29T23:59:59.9999999-00:30\",\n"
        "  \"items\": [{\"file\": \"y.mp4\"}], \"format\": {\"width\": 320, \"height\": 240,\n"
        "  \"fps\": 29.97, \"sample_rate\": 48000, \"channels\": 6}}]}";
    int ret = vpi_live_config_parse("/srv/tv/ch.json", text, strlen(text), &cfg, why,
                                    sizeof(why));
    CHECK_EQ(ret, 0);
    if (ret < 0) {
        fprintf(stderr, "%s\n", why);
        return;
    }
    CHECK_STR(cfg.dir, "/srv/tv");
    CHECK_EQ(cfg.nb_channels, 3);
    const VpiChannelCfg *ch = &cfg.channels[0];
    CHECK_EQ(ch->has_start, 1);
    CHECK_EQ(ch->start_us, 1767225600LL * 1000000); /* date -d 2026-01-01Z +%s */
    CHECK_EQ(ch->nb_items, 2);
    CHECK_STR(ch->items[0].title, "Episode 1");
    CHECK_STR(ch->items[0].path, "/srv/tv/ep1.mp4");
    CHECK_EQ(ch->items[0].nb_breaks, 2);
    CHECK_NEAR(ch->items[0].breaks[0], 300, 0);
    CHECK_NEAR(ch->items[0].breaks[1], 600.5, 0);
    CHECK_EQ(ch->items[1].breaks_auto, 1);
    CHECK_EQ(ch->items[1].nb_breaks, 0);
    CHECK_EQ(ch->nb_ads, 2);
    CHECK_STR(ch->ads[0].file, "ads/a1.mp4");
    CHECK_STR(ch->ads[0].path, "/srv/tv/ads/a1.mp4");
    CHECK_STR(ch->ads[0].title, "a1");
    CHECK_STR(ch->ads[1].path, "/x/a2.mp4");
    CHECK_EQ(ch->ads_per_break, 3);
    CHECK_NEAR(ch->loudness, -16.5, 0);
    CHECK_EQ(ch->on_demand, 0);
    CHECK_NEAR(ch->stop_after, 0.5, 0);
    CHECK_EQ(ch->format.set, 1);
    CHECK_EQ(ch->format.width, 1280);
    CHECK_EQ(ch->format.height, 720);
    CHECK_EQ(ch->format.fps_num, 30000);
    CHECK_EQ(ch->format.fps_den, 1001);
    CHECK_EQ(ch->format.sample_rate, 48000);
    CHECK_EQ(ch->format.channels, 2);

    ch = &cfg.channels[1];
    CHECK_EQ(ch->number, 9999);
    CHECK_EQ(ch->start_us, 1767225600LL * 1000000 + 30 * 60 * 1000000LL + 250000);
    CHECK_EQ(ch->items[0].nb_breaks, 0);
    CHECK_EQ(ch->items[0].breaks_auto, 0);
    CHECK_EQ(ch->format.fps_num, 25);
    CHECK_EQ(ch->format.fps_den, 1);
    CHECK_EQ(ch->format.channels, 1);

    ch = &cfg.channels[2];
    /* 2028-02-29T23:59:59.999999 local at -00:30 is 2028-03-01T00:29:59.999999Z;
     * digits past the microsecond are dropped */
    CHECK_EQ(ch->start_us, 1835481600LL * 1000000 + 29 * 60 * 1000000LL + 59999999);
    CHECK_EQ(ch->format.fps_num, 30000); /* 29.97 is NTSC's rate */
    CHECK_EQ(ch->format.fps_den, 1001);
    vpi_live_config_free(&cfg);
}

static void test_errors(void)
{
    REFUSED("{\"channels\": [", "line 1, column 14: ']' expected near end of file");
    REFUSED("{\"channels\": [}", "line 1, column 15: unexpected token near '}'");
    REFUSED("[]", "must be a JSON object {\"channels\": [...]}");
    REFUSED("{}", "channels: missing (a non-empty list of channels)");
    REFUSED("{\"channels\": []}", "channels: must be a non-empty list of channels");
    REFUSED("{\"channels\": {}}", "channels: must be a non-empty list of channels");
    REFUSED("{\"chanels\": []}", "chanels: unknown key (known: channels)");
    REFUSED("{\"channels\": [3]}",
            "channels[0]: must be an object {\"number\": ..., \"name\": ..., \"items\": [...]}");

    /* number */
    REFUSED("{\"channels\": [{\"name\": \"x\", \"items\": [{\"file\": \"a\"}]}]}",
            "channels[0].number: missing (an integer from 1 to 9999)");
    REFUSED("{\"channels\": [{\"number\": 0, \"name\": \"x\", \"items\": [{\"file\": \"a\"}]}]}",
            "channels[0].number: value 0 is out of range 1..9999");
    REFUSED("{\"channels\": [{\"number\": 10000, \"name\": \"x\", \"items\": []}]}",
            "channels[0].number: value 10000 is out of range 1..9999");
    REFUSED("{\"channels\": [{\"number\": \"1\", \"name\": \"x\", \"items\": []}]}",
            "channels[0].number: the value must be an integer");
    REFUSED("{\"channels\": [{\"number\": 1.5, \"name\": \"x\", \"items\": []}]}",
            "channels[0].number: '1.5' is not an integer");
    REFUSED("{\"channels\": [{\"number\": 4, \"name\": \"x\", \"items\": [{\"file\": \"a\"}]},"
            " {\"number\": 4, \"name\": \"y\", \"items\": [{\"file\": \"b\"}]}]}",
            "channels[1].number: 4 is already the number of channels[0]; numbers must be "
            "unique");

    /* name */
    REFUSED("{\"channels\": [{\"number\": 1, \"items\": [{\"file\": \"a\"}]}]}",
            "channels[0].name: missing (a non-empty string)");
    REFUSED("{\"channels\": [{\"number\": 1, \"name\": \"\", \"items\": []}]}",
            "channels[0].name: must be a non-empty string");
    REFUSED("{\"channels\": [{\"number\": 1, \"name\": 7, \"items\": []}]}",
            "channels[0].name: must be a non-empty string");

    /* unknown keys, at every level; control characters never reach the line */
    REFUSED(CH("\"ads_per_brake\": 3, "),
            "channels[0].ads_per_brake: unknown key (known: number, name, start, items, ads, "
            "ads_per_break, loudness, on_demand, stop_after, format)");
    REFUSED(CH("\"a\\nb\": 3, "),
            "channels[0].a?b: unknown key (known: number, name, start, items, ads, "
            "ads_per_break, loudness, on_demand, stop_after, format)");
    REFUSED(ITEM("\"file\": \"b\", \"titel\": \"B\""),
            "channels[0].items[1].titel: unknown key (known: file, title, breaks)");

    /* start */
    REFUSED(CH("\"start\": \"2026-01-01 00:00:00\", "),
            "channels[0].start: \"2026-01-01 00:00:00\" is not a time like "
            "\"2026-01-01T00:00:00Z\" (ISO 8601 from 1970 on; fractional seconds and "
            "+hh:mm offsets allowed)");
    REFUSED(CH("\"start\": \"2026-02-29T00:00:00Z\", "),
            "channels[0].start: \"2026-02-29T00:00:00Z\" is not a time like "
            "\"2026-01-01T00:00:00Z\" (ISO 8601 from 1970 on; fractional seconds and "
            "+hh:mm offsets allowed)");
    REFUSED(CH("\"start\": \"2026-01-01T00:00:00\", "),
            "channels[0].start: \"2026-01-01T00:00:00\" is not a time like "
            "\"2026-01-01T00:00:00Z\" (ISO 8601 from 1970 on; fractional seconds and "
            "+hh:mm offsets allowed)");
    REFUSED(CH("\"start\": \"2026-01-01T00:00:00.Z\", "),
            "channels[0].start: \"2026-01-01T00:00:00.Z\" is not a time like "
            "\"2026-01-01T00:00:00Z\" (ISO 8601 from 1970 on; fractional seconds and "
            "+hh:mm offsets allowed)");
    REFUSED(CH("\"start\": 1767225600, "),
            "channels[0].start: must be a UTC time like \"2026-01-01T00:00:00Z\"");

    /* items */
    REFUSED("{\"channels\": [{\"number\": 1, \"name\": \"x\"}]}",
            "channels[0].items: missing (a non-empty list of {\"file\": ...} objects)");
    REFUSED("{\"channels\": [{\"number\": 1, \"name\": \"x\", \"items\": []}]}",
            "channels[0].items: must be a non-empty list of {\"file\": ...} objects");
    REFUSED("{\"channels\": [{\"number\": 1, \"name\": \"x\", \"items\": [\"ep1.mp4\"]}]}",
            "channels[0].items[0]: must be an object {\"file\": ..., \"title\": ..., "
            "\"breaks\": ...}");
    REFUSED(ITEM("\"title\": \"B\""),
            "channels[0].items[1].file: missing (the media file: absolute, or relative to the "
            "config's folder)");
    REFUSED(ITEM("\"file\": \"\""), "channels[0].items[1].file: must be a non-empty string");
    REFUSED(ITEM("\"file\": \"b\", \"title\": null"),
            "channels[0].items[1].title: must be a non-empty string");

    /* breaks: the line docs/channels.md and vidpipe/channels.h quote */
    REFUSED(ITEM("\"file\": \"b\", \"breaks\": \"manual\""),
            "channels[0].items[1].breaks: must be a list of seconds or \"auto\"");
    REFUSED(ITEM("\"file\": \"b\", \"breaks\": 300"),
            "channels[0].items[1].breaks: must be a list of seconds or \"auto\"");
    REFUSED(ITEM("\"file\": \"b\", \"breaks\": [300, \"600\"]"),
            "channels[0].items[1].breaks[1]: must be a number of seconds (the list: seconds "
            "or \"auto\")");
    REFUSED(ITEM("\"file\": \"b\", \"breaks\": [0]"),
            "channels[0].items[1].breaks[0]: 0 is not after the start; break points are "
            "seconds > 0");
    REFUSED(ITEM("\"file\": \"b\", \"breaks\": [300, 600.5, 600.5]"),
            "channels[0].items[1].breaks[2]: 600.5 is not after the previous break point "
            "(600.5); break points must be strictly ascending");
    REFUSED(ITEM("\"file\": \"b\", \"breaks\": [300, 200]"),
            "channels[0].items[1].breaks[1]: 200 is not after the previous break point "
            "(300); break points must be strictly ascending");

    /* ads */
    REFUSED(CH("\"ads\": \"a1.mp4\", "), "channels[0].ads: must be a list of files");
    REFUSED(CH("\"ads\": [\"a1.mp4\", 2], "),
            "channels[0].ads[1]: must be a file name (a non-empty string)");

    /* the table's knobs */
    REFUSED(CH("\"ads_per_break\": 21, "),
            "channels[0].ads_per_break: value 21 is out of range 0..20");
    REFUSED(CH("\"ads_per_break\": -1, "),
            "channels[0].ads_per_break: value -1 is out of range 0..20");
    REFUSED(CH("\"loudness\": -4, "), "channels[0].loudness: value -4 is out of range -70..-5");
    REFUSED(CH("\"loudness\": \"-23\", "), "channels[0].loudness: the value must be a number");
    REFUSED(CH("\"on_demand\": \"yes\", "),
            "channels[0].on_demand: the value must be a boolean (1, 0, true, false)");
    REFUSED(CH("\"stop_after\": 86401, "),
            "channels[0].stop_after: value 86401 is out of range 0..86400");

    /* format */
    REFUSED(CH("\"format\": \"hd720\", "),
            "channels[0].format: must be an object {\"width\", \"height\", \"fps\", "
            "\"sample_rate\", \"channels\"}");
    REFUSED(CH("\"format\": {\"width\": 320, \"height\": 240, \"fps\": 25, "
               "\"sample_rate\": 48000}, "),
            "channels[0].format.channels: missing (a format needs width, height, fps, "
            "sample_rate and channels)");
    REFUSED(CH("\"format\": {\"width\": 321, \"height\": 240, \"fps\": 25, "
               "\"sample_rate\": 48000, \"channels\": 2}, "),
            "channels[0].format.width: value 321 is not even");
    REFUSED(CH("\"format\": {\"width\": 320, \"height\": 240, \"fps\": \"fast\", "
               "\"sample_rate\": 48000, \"channels\": 2}, "),
            "channels[0].format.fps: 'fast' is not a frame rate (30, 29.97, 30000/1001, ntsc)");
    REFUSED(CH("\"format\": {\"width\": 320, \"height\": 240, \"fps\": \"x\\ty\", "
               "\"sample_rate\": 48000, \"channels\": 2}, "),
            "channels[0].format.fps: 'x?y' is not a frame rate (30, 29.97, 30000/1001, ntsc)");
    /* jansson quotes the token it stopped at, newline included: still one line */
    REFUSED("{\"a\\\n\": 1}", "line 2, column 0: invalid escape near '\"a\\?'");
    REFUSED(CH("\"format\": {\"width\": 320, \"height\": 240, \"fps\": 25, "
               "\"sample_rate\": 48000, \"channels\": 2, \"codec\": \"h264\"}, "),
            "channels[0].format.codec: unknown key (known: width, height, fps, sample_rate, "
            "channels)");
    REFUSED(CH("\"format\": {\"width\": 320, \"height\": 240, \"fps\": 25, "
               "\"sample_rate\": 4000, \"channels\": 2}, "),
            "channels[0].format.sample_rate: value 4000 is out of range 8000..192000");
}

static void test_not_utf8_and_size(void)
{
    VpiLiveConfig cfg;
    char why[512];
    const char bad[] = "{\"channels\": [{\"number\": 1, \"name\": \"caf\xe9\"}]}";
    CHECK_EQ(parse(bad, &cfg, why, sizeof(why)), VP_ERR_BAD_CONFIG);
    CHECK_STR(why, PATH ": line 1, column 40: not valid UTF-8");
    CHECK(!cfg.channels);
    CHECK_EQ(vpi_live_config_parse(PATH, "", 0, &cfg, why, sizeof(why)), VP_ERR_BAD_CONFIG);

    /* NULL why is allowed; a short one is truncated, not overrun */
    CHECK_EQ(parse("[]", &cfg, NULL, 0), VP_ERR_BAD_CONFIG);
    char tiny[8];
    CHECK_EQ(parse("[]", &cfg, tiny, sizeof(tiny)), VP_ERR_BAD_CONFIG);
    CHECK_STR(tiny, "conf/ch");
}

static void test_load(void)
{
    char dir[] = "/tmp/vp_live_config_XXXXXX", path[256], why[512];
    VpiLiveConfig cfg;
    if (!mkdtemp(dir)) {
        T_FAIL("mkdtemp");
        return;
    }
    snprintf(path, sizeof(path), "%s/ch.json", dir);

    CHECK_EQ(vpi_live_config_load(path, &cfg, why, sizeof(why)), AVERROR(ENOENT));
    char want[512];
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    CHECK_STR(why, want);

    FILE *f = fopen(path, "w");
    fputs("{\"channels\": [{\"number\": 2, \"name\": \"Two\",\n"
          "  \"items\": [{\"file\": \"e.mp4\", \"breaks\": [10]}], \"ads\": [\"ad.mp4\"]}]}\n", f);
    fclose(f);
    CHECK_EQ(vpi_live_config_load(path, &cfg, why, sizeof(why)), 0);
    CHECK_STR(cfg.dir, dir);
    char want_path[300];
    snprintf(want_path, sizeof(want_path), "%s/e.mp4", dir);
    if (cfg.nb_channels == 1) {
        CHECK_STR(cfg.channels[0].items[0].path, want_path);
        CHECK_STR(cfg.channels[0].items[0].file, "e.mp4");
        CHECK_STR(cfg.channels[0].ads[0].title, "ad");
    }
    vpi_live_config_free(&cfg);

    f = fopen(path, "w");
    fputs("{\"channels\": [{\"number\": 2, \"name\": \"Two\",\n"
          "  \"items\": [{\"file\": \"e.mp4\", \"breaks\": {}}]}]}\n", f);
    fclose(f);
    CHECK_EQ(vpi_live_config_load(path, &cfg, why, sizeof(why)), VP_ERR_BAD_CONFIG);
    snprintf(want, sizeof(want),
             "%s: channels[0].items[0].breaks: must be a list of seconds or \"auto\"", path);
    CHECK_STR(why, want);

    f = fopen(path, "w");
    fputs("{\"channels\": [{\"number\": 2,,}]}\n", f);
    fclose(f);
    CHECK_EQ(vpi_live_config_load(path, &cfg, why, sizeof(why)), VP_ERR_BAD_CONFIG);
    snprintf(want, sizeof(want), "%s: line 1, column 28: string or '}' expected near ','",
             path);
    CHECK_STR(why, want);

    unlink(path);
    rmdir(dir);
}

static void test_resolve(void)
{
    struct { const char *dir, *file, *want; } cases[] = {
        { "conf", "a.mp4", "conf/a.mp4" },
        { "conf/", "sub/a.mp4", "conf/sub/a.mp4" },
        { "/", "a.mp4", "/a.mp4" },
        { ".", "a.mp4", "a.mp4" },
        { "conf", "/abs/a.mp4", "/abs/a.mp4" },
        { NULL, "a.mp4", "a.mp4" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *r = vpi_live_resolve(cases[i].dir, cases[i].file);
        CHECK_STR(r, cases[i].want);
        free(r);
    }
    /* the folder of a config given without one, or at the root */
    VpiLiveConfig cfg;
    char why[256];
    const char *text = "{\"channels\": [{\"number\": 1, \"name\": \"x\", "
                       "\"items\": [{\"file\": \"e.mp4\"}]}]}";
    CHECK_EQ(vpi_live_config_parse("ch.json", text, strlen(text), &cfg, why, sizeof(why)), 0);
    CHECK_STR(cfg.dir, ".");
    if (cfg.nb_channels)
        CHECK_STR(cfg.channels[0].items[0].path, "e.mp4");
    vpi_live_config_free(&cfg);
    CHECK_EQ(vpi_live_config_parse("/ch.json", text, strlen(text), &cfg, why, sizeof(why)), 0);
    CHECK_STR(cfg.dir, "/");
    if (cfg.nb_channels)
        CHECK_STR(cfg.channels[0].items[0].path, "/e.mp4");
    vpi_live_config_free(&cfg);
}

int main(void)
{
    test_defaults();
    test_full();
    test_errors();
    test_not_utf8_and_size();
    test_load();
    test_resolve();
    TEST_END();
}
