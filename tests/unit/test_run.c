/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pipeline files (vidpipe/run.h): every kind of bad file with its one-line message, the
 * plans of typical pipelines (passes and what shares them), output names, inputs. Running
 * pipelines on media is tests/cli/cli_run.sh's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "vidpipe/vidpipe.h"

static VpRunPipeline *parse(const char *text, VpFailure *f)
{
    VpRunPipeline *pl = NULL;
    int ret = vp_run_pipeline_parse("p.json", text, strlen(text), NULL, &pl, f);
    CHECK((ret < 0) == (pl == NULL));
    return pl;
}

/* The file is refused with exactly @p msg. */
static void refused(const char *text, const char *msg)
{
    VpFailure f;
    VpRunPipeline *pl = parse(text, &f);
    CHECK(!pl);
    CHECK_STR(f.message, msg);
    CHECK(!strchr(f.message, '\n'));
    vp_run_pipeline_free(&pl);
}

static void bad_files(void)
{
    refused("{\"steps\": [", "p.json: line 1, column 11: ']' expected near end of file");
    refused("[]", "p.json: must be a JSON object with \"steps\" (and \"inputs\")");
    refused("{\"inputs\": \"a\"}", "p.json: steps: must be a non-empty array of steps");
    refused("{\"steps\": [{\"qc\": {}}], \"output\": 1}",
            "p.json: unknown key 'output' (there are inputs, steps, name, description)");
    /* what the file holds is quoted on one line (found by libFuzzer) */
    refused("{\"\\nputs\": [\"a\"]}",
            "p.json: unknown key '?puts' (there are inputs, steps, name, description)");
    refused("{\"steps\": [{\"qc\": {}}], \"inputs\": 3}",
            "p.json: inputs: must be a pattern, a folder or a list file (a string), or an "
            "array of them");
    refused("{\"steps\": [{\"qc\": {}, \"loudnorm\": {}}]}",
            "p.json: step 1: must be an object with one key, the step's name ({\"qc\": {...}})");
    refused("{\"steps\": [{\"qc\": {}}, {\"trim\": {}}]}",
            "p.json: step 2: unknown step 'trim' (there are qc, cleanup, loudnorm, subtitles, "
            "thumb, export and deliver)");
    refused("{\"steps\": [{\"loudnorm\": 5}]}",
            "p.json: step 1 (loudnorm): its options must be an object ({} for none)");
    /* The option tables' own messages, with the step. */
    refused("{\"steps\": [{\"qc\": {}}, {\"loudnorm\": {\"i\": -80}}]}",
            "p.json: step 2 (loudnorm): i: value -80 is out of range -70..-5");
    refused("{\"steps\": [{\"loudnorm\": {\"ii\": -20}}]}",
            "p.json: step 1 (loudnorm): unknown option 'ii' (see 'vidpipe run --list-steps')");
    refused("{\"steps\": [{\"loudnorm\": {\"tp\": \"loud\"}}]}",
            "p.json: step 1 (loudnorm): tp: the value must be a number");
    refused("{\"steps\": [{\"cleanup\": {}}]}",
            "p.json: step 1 (cleanup): nothing to do: enable stabilize, eq or denoise_audio");
    refused("{\"steps\": [{\"cleanup\": {\"eq\": true, \"preset\": \"warp\"}}]}",
            "p.json: step 1 (cleanup): x264_preset: 'warp' is not one of ultrafast, superfast, "
            "veryfast, faster, fast, medium, slow, slower, veryslow, placebo");
    refused("{\"steps\": [{\"qc\": {\"fail\": \"maybe\"}}]}",
            "p.json: step 1 (qc): fail: must be \"stop\" or \"warn\"");
    refused("{\"steps\": [{\"qc\": {\"min_loudness\": -10, \"max_loudness\": -20}}]}",
            "p.json: step 1 (qc): max_loudness: value -20 is below min_loudness (-10)");
    refused("{\"steps\": [{\"qc\": {\"spec\": \"/nonexistent/qc.json\"}}]}",
            "p.json: step 1 (qc): spec: /nonexistent/qc.json: no such file or directory");
    refused("{\"steps\": [{\"export\": {\"preset_file\": \"/nonexistent/p.json\", "
            "\"presets\": \"youtube\"}}]}",
            "p.json: step 1 (export): preset_file: /nonexistent/p.json: no such file or "
            "directory");
    refused("{\"steps\": [{\"qc\": {\"spec\": 42}}]}",
            "p.json: step 1 (qc): spec: must be a non-empty string");
    refused("{\"steps\": [{\"subtitles\": {\"max-chars\": 5}}]}",
            "p.json: step 1 (subtitles): max_chars: value 5 is out of range 10..200");
    refused("{\"steps\": [{\"subtitles\": {\"burn\": \"yes\"}}]}",
            "p.json: step 1 (subtitles): burn: must be true or false");
    refused("{\"steps\": [{\"subtitles\": {}}, {\"subtitles\": {}}]}",
            "p.json: step 2 (subtitles): a second subtitles step: one is allowed");
    refused("{\"steps\": [{\"export\": {\"presets\": [\"youtube\", \"vhs\"]}}]}",
            "p.json: step 1 (export): presets: no preset called 'vhs' (see 'vidpipe export "
            "--list-presets')");
    refused("{\"steps\": [{\"export\": {}}]}",
            "p.json: step 1 (export): presets: name at least one (see 'vidpipe export "
            "--list-presets')");
    refused("{\"steps\": [{\"export\": {\"presets\": \"youtube\"}}, {\"qc\": {}}]}",
            "p.json: step 2 (qc): comes after export: only thumb and deliver may follow it");
    /* stills: the thumb table's messages, their own keys, one name each */
    refused("{\"steps\": [{\"thumb\": {\"width\": 8}}]}",
            "p.json: step 1 (thumb): width: value 8 is out of range 16..4096");
    refused("{\"steps\": [{\"thumb\": {\"cols\": 30, \"rows\": 30}}]}",
            "p.json: step 1 (thumb): cols: value 30x30 is more than 400 tiles");
    refused("{\"steps\": [{\"thumb\": {\"format\": \"gif\"}}]}",
            "p.json: step 1 (thumb): format: must be \"jpg\", \"png\" or \"webp\"");
    refused("{\"steps\": [{\"thumb\": {\"name\": \"../x\"}}]}",
            "p.json: step 1 (thumb): name: '../x' is not a plain name (no '/', braces or "
            "leading dot)");
    refused("{\"steps\": [{\"thumb\": {}}, {\"thumb\": {\"at\": 2}}]}",
            "p.json: step 2 (thumb): name: 'thumb' is the name of step 1's still too (give "
            "each its own \"name\")");
    refused("{\"steps\": [{\"thumb\": {}}, {\"thumb\": {\"name\": \"b\"}},"
            " {\"deliver\": {\"stills\": \"s/{name}.jpg\"}}]}",
            "p.json: step 3 (deliver): stills: 's/{name}.jpg' has no {preset}: every preset "
            "would write the same file");
    refused("{\"steps\": [{\"qc\": {}}, {\"deliver\": {\"stills\": \"s/{name}.jpg\"}}]}",
            "p.json: step 2 (deliver): stills: there is no thumb step");
    refused("{\"steps\": [{\"export\": {\"presets\": \"youtube,tiktok\"}},"
            " {\"deliver\": {\"to\": \"out/{name}.mp4\"}}]}",
            "p.json: step 2 (deliver): to: 'out/{name}.mp4' has no {preset}: every preset "
            "would write the same file");
    refused("{\"steps\": [{\"export\": {\"presets\": \"youtube\"}},"
            " {\"deliver\": {\"to\": \"out/final.mp4\"}}]}",
            "p.json: step 2 (deliver): to: 'out/final.mp4' has no {name}: every input would "
            "write the same file");
    refused("{\"steps\": [{\"export\": {\"presets\": \"youtube\"}},"
            " {\"deliver\": {\"to\": \"out/{date}/{name}.mp4\"}}]}",
            "p.json: step 2 (deliver): to: unknown placeholder in 'out/{date}/{name}.mp4' "
            "(there are {name} and {preset})");
    refused("{\"steps\": [{\"qc\": {}}, {\"deliver\": {\"to\": \"out/{name}.mp4\"}}]}",
            "p.json: step 2 (deliver): to: nothing to deliver (no export, no step that changes "
            "the media)");
    refused("{\"steps\": [{\"deliver\": {\"to\": \"o/{name}.mp4\"}}, {\"qc\": {}}]}",
            "p.json: step 2 (qc): comes after deliver: deliver is the last step");
}

static void plan_is(const char *text, const char *want, int passes, int steps)
{
    VpFailure f;
    VpRunPipeline *pl = parse(text, &f);
    if (!pl) {
        T_FAIL("refused: %s", f.message);
        return;
    }
    char *plan = vp_run_pipeline_plan(pl);
    CHECK_STR(plan, want);
    int p, s;
    vp_run_pipeline_counts(pl, &p, &s);
    CHECK_EQ(p, passes);
    CHECK_EQ(s, steps);
    free(plan);
    vp_run_pipeline_free(&pl);
}

static void plans(void)
{
    /* The pipeline: 7 steps, 2 decodes. */
    plan_is("{\"steps\": [{\"qc\": {\"max_duration\": 600, \"min_height\": 720}},"
            " {\"cleanup\": {\"denoise_audio\": true}}, {\"loudnorm\": {\"i\": -16}},"
            " {\"subtitles\": {\"lang\": \"en-us\", \"burn\": false}},"
            " {\"qc\": {\"max_true_peak\": -1}},"
            " {\"export\": {\"presets\": [\"youtube\", \"tiktok\"]}},"
            " {\"deliver\": {\"to\": \"out/{preset}/{name}.mp4\"}}]}",
            "pass 1: decode IN -> qc, cleanup, loudnorm-measure\n"
            "pass 2: decode IN -> cleanup, loudnorm, subtitles, qc, export youtube, "
            "export tiktok\n"
            "then: mux the captions into each output as a subtitle track (no decode)\n"
            "then: write the captions beside the outputs ({name}.srt)\n"
            "output: out/youtube/{name}.mp4\n"
            "        out/tiktok/{name}.mp4\n"
            "2 passes for 7 steps\n", 2, 7);
    /* Checks and exports only: one decode. */
    plan_is("{\"steps\": [{\"qc\": {}}, {\"export\": {\"presets\": \"youtube,tiktok,twitter\"}}]}",
            "pass 1: decode IN -> qc, export youtube, export tiktok, export twitter\n"
            "output: OUT/{name}_youtube.mp4\n"
            "        OUT/{name}_tiktok.mp4\n"
            "        OUT/{name}_twitter.mp4\n"
            "1 pass for 2 steps\n", 1, 2);
    /* Burned captions end a pass for the picture only: the loudness is measured beside
     * the transcription. */
    plan_is("{\"steps\": [{\"subtitles\": {\"burn\": true}}, {\"loudnorm\": {}}]}",
            "pass 1: decode IN -> subtitles, loudnorm-measure\n"
            "pass 2: decode IN -> subtitles-burn, loudnorm, encode\n"
            "then: write the captions beside the outputs ({name}.srt)\n"
            "output: OUT/{name}_loudnorm.mp4\n"
            "2 passes for 2 steps\n", 2, 2);
    /* Captions of the normalized sound wait for the measurement. */
    plan_is("{\"steps\": [{\"loudnorm\": {}}, {\"subtitles\": {\"burn\": true}}]}",
            "pass 1: decode IN -> loudnorm-measure\n"
            "pass 2: decode IN -> loudnorm, subtitles\n"
            "pass 3: decode IN -> subtitles-burn, loudnorm, encode\n"
            "then: write the captions beside the outputs ({name}.srt)\n"
            "output: OUT/{name}_subtitles.mp4\n"
            "3 passes for 2 steps\n", 3, 2);
    /* Stabilization: its analysis sees the colour already adjusted by an earlier step. */
    plan_is("{\"steps\": [{\"cleanup\": {\"eq\": true}}, {\"cleanup\": {\"stabilize\": true}},"
            " {\"qc\": {\"fail\": \"warn\"}}]}",
            "pass 1: decode IN -> cleanup, stabilize-detect\n"
            "pass 2: decode IN -> cleanup, qc, encode\n"
            "output: OUT/{name}_cleanup.mp4\n"
            "2 passes for 3 steps\n", 2, 3);
    /* Stills are made in the last pass, with the outputs, each through the chain of the
     * steps before it: the one before cleanup sees the picture as it is. */
    plan_is("{\"steps\": [{\"thumb\": {\"name\": \"raw\"}}, {\"cleanup\": {\"stabilize\": true}},"
            " {\"thumb\": {\"cols\": 3, \"rows\": 2, \"format\": \"png\"}},"
            " {\"export\": {\"presets\": \"youtube\"}}, {\"thumb\": {\"name\": \"poster\"}}]}",
            "pass 1: decode IN -> stabilize-detect\n"
            "pass 2: decode IN -> cleanup, export youtube, raw, sheet, poster\n"
            "output: OUT/{name}_youtube.mp4\n"
            "still:  OUT/{name}_raw.jpg\n"
            "        OUT/{name}_sheet.png\n"
            "        OUT/{name}_poster.jpg\n"
            "2 passes for 5 steps\n", 2, 5);
    /* Soft captions alone: the input is muxed with them, nothing encoded. */
    plan_is("{\"steps\": [{\"subtitles\": {\"format\": \"vtt\"}}]}",
            "pass 1: decode IN -> subtitles\n"
            "then: mux the captions into a copy of IN as a subtitle track (no decode)\n"
            "then: write the captions beside the outputs ({name}.vtt)\n"
            "output: OUT/{name}_subtitles.mp4\n"
            "1 pass for 1 step\n", 1, 1);
}

static void outputs(void)
{
    VpFailure f;
    VpRunOpts o;
    vp_run_default_opts(&o);
    o.out_dir = "res";
    const char *text = "{\"steps\": [{\"subtitles\": {}}, {\"export\": {\"presets\": "
                       "\"youtube,tiktok\"}}, {\"deliver\": "
                       "{\"to\": \"out/{preset}/{name}.mp4\"}}]}";
    VpRunPipeline *pl = NULL;
    CHECK_EQ(vp_run_pipeline_parse("p.json", text, strlen(text), "/srv/jobs", &pl, &f), 0);
    char **paths = NULL;
    size_t nb = 0;
    CHECK_EQ(vp_run_item_outputs(pl, "raw/a.b.mov", &o, &paths, &nb), 0);
    CHECK_EQ(nb, 3);
    if (nb == 3) {
        /* relative to the file's folder; the captions beside the first output, last */
        CHECK_STR(paths[0], "/srv/jobs/out/youtube/a.b.mp4");
        CHECK_STR(paths[1], "/srv/jobs/out/tiktok/a.b.mp4");
        CHECK_STR(paths[2], "/srv/jobs/out/youtube/a.b.srt");
    }
    vp_run_paths_free(paths, nb);
    vp_run_pipeline_free(&pl);

    text = "{\"steps\": [{\"loudnorm\": {}}]}";
    CHECK_EQ(vp_run_pipeline_parse("p.json", text, strlen(text), NULL, &pl, &f), 0);
    CHECK_EQ(vp_run_item_outputs(pl, "clip.mov", &o, &paths, &nb), 0);
    CHECK_EQ(nb, 1);
    if (nb == 1)
        CHECK_STR(paths[0], "res/clip_loudnorm.mp4");
    vp_run_paths_free(paths, nb);
    /* no inputs in the file */
    CHECK_EQ(vp_run_pipeline_inputs(pl, &paths, &nb, &f), VP_ERR_BAD_CONFIG);
    CHECK_STR(f.message, "p.json: has no \"inputs\": name them there or on the command line");
    vp_run_pipeline_free(&pl);

    /* stills: after the media they are renamed with; before them when captions are muxed
     * into the media afterwards; beside the first output, or where deliver says */
    text = "{\"steps\": [{\"thumb\": {}}, {\"export\": {\"presets\": \"youtube,tiktok\"}},"
           " {\"deliver\": {\"to\": \"out/{preset}/{name}.mp4\"}}]}";
    CHECK_EQ(vp_run_pipeline_parse("p.json", text, strlen(text), NULL, &pl, &f), 0);
    CHECK_EQ(vp_run_item_outputs(pl, "clip.mov", &o, &paths, &nb), 0);
    CHECK_EQ(nb, 3);
    if (nb == 3) {
        CHECK_STR(paths[0], "out/youtube/clip.mp4");
        CHECK_STR(paths[1], "out/tiktok/clip.mp4");
        CHECK_STR(paths[2], "out/youtube/clip_thumb.jpg");
    }
    vp_run_paths_free(paths, nb);
    vp_run_pipeline_free(&pl);
    text = "{\"steps\": [{\"subtitles\": {}}, {\"thumb\": {\"format\": \"webp\"}},"
           " {\"deliver\": {\"to\": \"v/{name}.mp4\", \"stills\": \"st/{name}-{preset}.webp\"}}]}";
    CHECK_EQ(vp_run_pipeline_parse("p.json", text, strlen(text), NULL, &pl, &f), 0);
    CHECK_EQ(vp_run_item_outputs(pl, "clip.mov", &o, &paths, &nb), 0);
    CHECK_EQ(nb, 3);
    if (nb == 3) {
        CHECK_STR(paths[0], "st/clip-thumb.webp");
        CHECK_STR(paths[1], "v/clip.mp4");
        CHECK_STR(paths[2], "v/clip.srt");
    }
    vp_run_paths_free(paths, nb);
    vp_run_pipeline_free(&pl);

    /* checks only: no output */
    text = "{\"steps\": [{\"qc\": {}}]}";
    CHECK_EQ(vp_run_pipeline_parse("p.json", text, strlen(text), NULL, &pl, &f), 0);
    CHECK_EQ(vp_run_item_outputs(pl, "clip.mov", &o, &paths, &nb), 0);
    CHECK_EQ(nb, 0);
    vp_run_pipeline_free(&pl);
}

static void touch(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
}

static void inputs(void)
{
    char dir[] = "/tmp/vidpipe-test-run-XXXXXX", sub[600], list[600], pfile[600];
    if (!mkdtemp(dir)) {
        T_FAIL("mkdtemp");
        return;
    }
    snprintf(sub, sizeof(sub), "%s/raw", dir);
    mkdir(sub, 0777);
    touch(sub, "b10.mov");
    touch(sub, "b9.mov");
    touch(sub, "notes.txt");
    touch(dir, "one.mp4");
    snprintf(list, sizeof(list), "%s/list.txt", dir);
    FILE *f = fopen(list, "w");
    fprintf(f, "# takes\none.mp4\n\n/abs/x.mov\n");
    fclose(f);
    snprintf(pfile, sizeof(pfile), "%s/p.json", dir);
    f = fopen(pfile, "w");
    fprintf(f, "{\"inputs\": [\"raw/*.mov\", \"raw\", \"list.txt\", \"one.mp4\"],"
               " \"steps\": [{\"qc\": {}}]}");
    fclose(f);

    VpFailure fl;
    VpRunPipeline *pl = NULL;
    CHECK_EQ(vp_run_pipeline_load(pfile, &pl, &fl), 0);
    char **paths = NULL;
    size_t nb = 0;
    if (pl) {
        CHECK_EQ(vp_run_pipeline_inputs(pl, &paths, &nb, &fl), 0);
        /* the glob's order, then the folder's media (already there: not repeated), then
         * the list, relative to its folder */
        CHECK_EQ(nb, 4);
        if (nb == 4) {
            char want[700];
            snprintf(want, sizeof(want), "%s/raw/b10.mov", dir);
            CHECK_STR(paths[0], want);
            snprintf(want, sizeof(want), "%s/raw/b9.mov", dir);
            CHECK_STR(paths[1], want);
            snprintf(want, sizeof(want), "%s/one.mp4", dir);
            CHECK_STR(paths[2], want);
            CHECK_STR(paths[3], "/abs/x.mov");
        }
        vp_run_paths_free(paths, nb);
        vp_run_pipeline_free(&pl);
    }
    f = fopen(pfile, "w");
    fprintf(f, "{\"inputs\": \"raw/*.mkv\", \"steps\": [{\"qc\": {}}]}");
    fclose(f);
    CHECK_EQ(vp_run_pipeline_load(pfile, &pl, &fl), 0);
    if (pl) {
        CHECK_EQ(vp_run_pipeline_inputs(pl, &paths, &nb, &fl), VP_ERR_BAD_CONFIG);
        CHECK_STR(fl.message, "raw/*.mkv: matches no file");
        vp_run_pipeline_free(&pl);
    }
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_EQ(system(cmd), 0);
}

static void steps_listed(void)
{
    char *t = vp_run_describe_steps();
    CHECK(t);
    /* every step, and options from each command's table */
    static const char *const want[] = { "qc:", "cleanup:", "loudnorm:", "subtitles:",
        "export:", "deliver:", "max_duration", "min_height", "denoise_audio", "x264_preset",
        "max_chars", "style", "presets", "hw", "to", NULL };
    for (int i = 0; t && want[i]; i++)
        if (!strstr(t, want[i]))
            T_FAIL("--list-steps lacks %s", want[i]);
    free(t);
}

int main(void)
{
    bad_files();
    plans();
    outputs();
    inputs();
    steps_listed();
    TEST_END();
}
