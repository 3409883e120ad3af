/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Export presets and QC specs from JSON: what is accepted, what is refused and why. */
#include <string.h>

#include "test.h"
#include "vidpipe/vidpipe.h"

static int parse(VpPresetSet *set, const char *text, char *err)
{
    return vp_preset_set_parse(set, text, strlen(text), err, 256);
}

int main(void)
{
    VpPresetSet *set = NULL;
    char err[256];

    CHECK_EQ(vp_preset_set_new(&set), 0);
    CHECK_EQ(vp_preset_set_count(set), 9);
    const VpPreset *yt = vp_preset_set_find(set, "youtube");
    CHECK(yt && yt->width == 1920 && yt->height == 1080 && yt->crf == 18);
    CHECK_STR(yt ? yt->x264_preset : NULL, "slow");
    CHECK(vp_preset_set_find(set, "fast_draft") && vp_preset_set_find(set, "fast_draft")->fps == 24);

    CHECK_EQ(parse(set, "{\"presets\": [{\"name\": \"web720\", \"base\": \"youtube\", "
                        "\"width\": 1280, \"height\": 720}, {\"name\": \"web360\", "
                        "\"base\": \"web720\", \"height\": 360}]}", err), 0);
    const VpPreset *w = vp_preset_set_find(set, "web360");
    CHECK(w && w->width == 1280 && w->height == 360 && w->crf == 18 && w->fps == 30);
    CHECK_EQ(vp_preset_set_count(set), 11);
    /* Same name again replaces. */
    CHECK_EQ(parse(set, "{\"presets\": [{\"name\": \"youtube\", \"crf\": 20}]}", err), 0);
    CHECK_EQ(vp_preset_set_find(set, "youtube")->crf, 20);
    CHECK_EQ(vp_preset_set_count(set), 11);

    /* Refusals name the field, and leave the set as it was. */
    CHECK(parse(set, "{\"presets\": [{\"name\": \"ok\"}, {\"name\": \"x\", \"crf\": 60}]}",
                err) < 0);
    CHECK_STR(err, "preset \"x\": crf: value 60 is out of range 0..51");
    CHECK(vp_preset_set_find(set, "ok") == NULL);
    CHECK(parse(set, "{\"presets\": [{\"name\": \"x\", \"frame\": 1}]}", err) < 0);
    CHECK_STR(err, "preset \"x\": unknown option frame");
    CHECK(parse(set, "{\"presets\": [{\"name\": \"Bad Name\"}]}", err) < 0);
    CHECK(strstr(err, "preset 1: \"name\"") != NULL);
    CHECK(parse(set, "{\"presets\": [{\"name\": \"x\", \"x264_preset\": \"warp\"}]}", err) < 0);
    CHECK(strstr(err, "preset \"x\": x264_preset: 'warp' is not one of ultrafast,") == err);
    CHECK(parse(set, "{\"presets\": [{\"name\": \"x\", \"width\": 641}]}", err) < 0);
    CHECK_STR(err, "preset \"x\": width: value 641 is not even");
    CHECK(parse(set, "{\"presets\": [{\"name\": \"x\", \"base\": \"nope\"}]}", err) < 0);
    CHECK(strstr(err, "\"base\"") != NULL);
    CHECK(parse(set, "{\"presets\": [{\"name\": \"x\",}]}", err) < 0);
    CHECK(strstr(err, "line 1, column 27: string or '}' expected near '}'") != NULL);
    CHECK(parse(set, "{\"presets\": [1] } x", err) < 0);
    CHECK(strstr(err, "line 1, column 19: end of file expected near 'x'") != NULL);
    CHECK_EQ(vp_preset_set_count(set), 11);

    /* Integers are read exactly: 2^53 + 1 is refused by its own digits (a double would have
     * made it ...992), one past int64 by the reader, and 5e6 is the integer it spells. */
    CHECK(parse(set, "{\"presets\": [{\"name\": \"x\", \"max_bitrate\": 9007199254740993}]}",
                err) < 0);
    CHECK(strstr(err, "preset \"x\": max_bitrate: value 9007199254740993 is out of range "
                      "0..1000000000") != NULL);
    CHECK(parse(set, "{\"presets\": [{\"name\": \"x\", \"max_bitrate\": "
                     "9223372036854775808}]}", err) < 0);
    CHECK(strstr(err, "line 1, column 61: too big integer") != NULL);
    CHECK(parse(set, "{\"presets\": [{\"name\": \"x\", \"max_bitrate\": 2.5}]}", err) < 0);
    CHECK(strstr(err, "max_bitrate: '2.5' is not a bitrate") != NULL);
    CHECK_EQ(parse(set, "{\"presets\": [{\"name\": \"b\", \"max_bitrate\": 999999999, "
                        "\"audio_bitrate\": 5e4}]}", err), 0);
    CHECK(vp_preset_set_find(set, "b") && vp_preset_set_find(set, "b")->max_bitrate == 999999999);
    CHECK(vp_preset_set_find(set, "b") && vp_preset_set_find(set, "b")->audio_bitrate == 50000);

    /* A surrogate pair is one character (U+1F3AC, F0 9F 8E AC in UTF-8); in a name it meets
     * the name rule, not a parse error. A lone surrogate is refused. */
    CHECK_EQ(parse(set, "{\"presets\": [{\"name\": \"clap\", "
                        "\"description\": \"take \\ud83c\\udfac 2\"}]}", err), 0);
    CHECK_STR(vp_preset_set_find(set, "clap") ? vp_preset_set_find(set, "clap")->description
                                               : NULL, "take \xf0\x9f\x8e\xac 2");
    CHECK(parse(set, "{\"presets\": [{\"name\": \"\\ud83c\\udfac\"}]}", err) < 0);
    CHECK(strstr(err, "preset 1: \"name\" must be 1-31 characters of a-z") != NULL);
    CHECK(parse(set, "{\"presets\": [{\"name\": \"x\", \"description\": \"\\ud83c\"}]}",
                err) < 0);
    CHECK(strstr(err, "line 1, column 50: invalid Unicode '\\uD83C'") != NULL);
    /* Bytes that are not UTF-8 are refused where they are. */
    CHECK(parse(set, "{\"presets\": [{\"name\": \"x\", \"description\": \"caf\xe9\"}]}",
                err) < 0);
    CHECK(strstr(err, "line 1, column 46: not valid UTF-8") != NULL);
    CHECK_EQ(vp_preset_set_count(set), 13);

    VpEncodeOpts eo;
    vp_preset_encode_opts(vp_preset_set_find(set, "fast_draft"), "x.mp4", &eo);
    CHECK(eo.fit == VP_FIT_PAD && eo.width == 1280 && eo.height == 720);
    CHECK(eo.fps.num == 24 && eo.fps.den == 1);
    vp_preset_set_free(&set);
    CHECK(set == NULL);

    VpQcSpec spec;
    vp_qc_default_spec(&spec);
    CHECK_NEAR(spec.max_true_peak, -1, 1e-9);
    CHECK_NEAR(spec.max_black, 2, 1e-9);
    CHECK_EQ(spec.require_audio, 1);
    const char *s = "{\"width\": 1920, \"max_true_peak\": -2, \"require_audio\": false}";
    CHECK_EQ(vp_qc_spec_parse(s, strlen(s), &spec, err, sizeof(err)), 0);
    CHECK_EQ(spec.width, 1920);
    CHECK_NEAR(spec.max_true_peak, -2, 1e-9);
    CHECK_EQ(spec.require_audio, 0);
    s = "{\"min_duration\": 10, \"max_duration\": 5}";
    CHECK(vp_qc_spec_parse(s, strlen(s), &spec, err, sizeof(err)) < 0);
    CHECK(strstr(err, "max_duration") != NULL);
    CHECK_EQ(spec.width, 1920);
    TEST_END();
}
