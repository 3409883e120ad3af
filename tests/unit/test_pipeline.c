/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one-pass engine's API contracts: option validation naming the field, ownership on
 * failure, outputs only after a complete run, decode statistics. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "test.h"
#include "vidpipe/vidpipe.h"

static char last_log[512];
static char encoder_log[2048];

static void grab_log(void *opaque, int level, const char *msg)
{
    (void)opaque;
    if (level <= VP_LOG_ERROR)
        snprintf(last_log, sizeof(last_log), "%s", msg);
    if (level <= VP_LOG_INFO && strstr(msg, "encoder"))
        snprintf(encoder_log, sizeof(encoder_log), "%s", msg);
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

int main(void)
{
    char dir[] = "/tmp/vptest_pipeline.XXXXXX", src[256], out[256], cmd[1024];
    VpPipeline *p = (VpPipeline *)&p;
    VpEncodeOpts eo;
    VpThumbOpts to;

    vp_set_log_callback(grab_log, NULL, VP_LOG_INFO);
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    snprintf(src, sizeof(src), "%s/src.mp4", dir);
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -f lavfi -i testsrc2=s=160x120:r=30:d=2 "
             "-f lavfi -i sine=d=2 -c:v libx264 -preset fast -pix_fmt yuv420p -c:a aac %s",
             src);
    if (t_sh(cmd) != 0)
        TEST_SKIP("ffmpeg could not make the test media");

    /* Failure: *out is NULL, the error says why. */
    CHECK_EQ(vp_pipeline_open("/nonexistent/x.mp4", NULL, &p), AVERROR(ENOENT));
    CHECK(p == NULL);
    CHECK_EQ(vp_pipeline_open(dir, NULL, &p), VP_ERR_IS_DIRECTORY);
    VpPipelineOpts po;
    vp_pipeline_default_opts(&po);
    CHECK_EQ(po.skip_unneeded, 1);
    po.decode_threads = -1;
    CHECK_EQ(vp_pipeline_open(src, &po, &p), VP_ERR_BAD_OPTION);
    CHECK(strstr(last_log, "decode_threads") != NULL);
    vp_pipeline_close(&p);
    vp_pipeline_close(NULL);

    CHECK_EQ(vp_pipeline_open(src, NULL, &p), 0);
    const VpSourceInfo *in = vp_pipeline_source(p);
    CHECK(in->has_video && in->has_audio);
    CHECK_EQ(in->width, 160);
    CHECK_EQ(in->height, 120);
    CHECK(in->fps.num == 30 && in->fps.den == 1);
    CHECK_NEAR(in->duration, 2.0, 0.05);

    /* Each invalid field is named. */
    snprintf(out, sizeof(out), "%s/o.mp4", dir);
    vp_encode_default_opts(&eo);
    eo.path = out;
    eo.crf = 60;
    CHECK_EQ(vp_pipeline_add_encode(p, &eo), VP_ERR_BAD_OPTION);
    CHECK(strstr(last_log, "crf") != NULL);
    eo.crf = 23;
    eo.x264_preset = "warp";
    CHECK_EQ(vp_pipeline_add_encode(p, &eo), VP_ERR_BAD_OPTION);
    CHECK(strstr(last_log, "x264_preset") != NULL);
    eo.x264_preset = "ultrafast";
    eo.fit = VP_FIT_PAD;
    CHECK_EQ(vp_pipeline_add_encode(p, &eo), VP_ERR_BAD_OPTION);
    CHECK(strstr(last_log, "height") != NULL);
    eo.width = 96;
    eo.height = 96;
    eo.fps = (VpRational){ 15, 1 };
    int io = vp_pipeline_add_encode(p, &eo);
    CHECK_EQ(io, 0);
    /* Nothing under the final name until the run is complete. */
    CHECK(!exists(out));

    vp_thumb_default_opts(&to);
    char thumb[256];
    snprintf(thumb, sizeof(thumb), "%s/t.jpg", dir);
    to.path = thumb;
    to.width = 80;
    to.cols = 3;
    to.rows = 0;
    CHECK_EQ(vp_pipeline_add_thumb(p, &to), VP_ERR_BAD_OPTION);
    to.rows = 1;
    int it = vp_pipeline_add_thumb(p, &to);
    CHECK_EQ(it, 1);

    CHECK_EQ(vp_pipeline_run(p), 0);
    CHECK(exists(out) && exists(thumb));
    VpOutputInfo oi;
    CHECK_EQ(vp_pipeline_output_info(p, io, &oi), 0);
    CHECK(oi.width == 96 && oi.height == 96 && oi.frames == 30 && oi.has_audio);
    CHECK(oi.size > 0);
    CHECK_EQ(vp_pipeline_output_info(p, it, &oi), 0);
    CHECK(oi.width == 3 * 80 + 4 * 4 && oi.frames == 3);
    CHECK_EQ(vp_pipeline_output_info(p, 7, &oi), AVERROR(EINVAL));
    VpPipelineStats st;
    vp_pipeline_stats(p, &st);
    /* 15 fps of 30: non-reference pictures between the kept frames are not decoded. */
    CHECK_EQ(st.video_decoded + st.video_skipped, 60);
    CHECK(st.video_skipped > 0);
    int nb, total;
    vp_pipeline_decode_errors(p, &nb, &total);
    CHECK(nb == 0 && total == 0);
    /* One run per pipeline. */
    CHECK(vp_pipeline_run(p) < 0);
    CHECK_EQ(vp_pipeline_add_encode(p, &eo), AVERROR(EINVAL));
    vp_pipeline_close(&p);
    CHECK(p == NULL);

    /* An output that cannot be created: the run fails, the output is named, nothing else is
     * left behind (the other output of the same pass is removed too). */
    CHECK_EQ(vp_pipeline_open(src, NULL, &p), 0);
    unlink(out);
    vp_encode_default_opts(&eo);
    eo.path = out;
    eo.x264_preset = "ultrafast";
    CHECK_EQ(vp_pipeline_add_encode(p, &eo), 0);
    char bad[300];
    snprintf(bad, sizeof(bad), "%s/missing/t.jpg", dir);
    vp_thumb_default_opts(&to);
    to.path = bad;
    CHECK_EQ(vp_pipeline_add_thumb(p, &to), 1);
    CHECK_EQ(vp_pipeline_run(p), AVERROR(ENOENT));
    VpFailure fail;
    vp_pipeline_failure(p, &fail);
    CHECK_EQ(fail.code, AVERROR(ENOENT));
    CHECK_EQ(fail.input, -1);
    CHECK_STR(fail.path, bad);
    CHECK(strstr(fail.message, bad) == fail.message);
    vp_pipeline_close(&p);
    CHECK(!exists(out));

    /* The encoder comes from the writer's opener: hw=auto falls back to libx264 and logs
     * why each hardware family was passed over; an explicit family that is absent fails
     * naming it, and leaves nothing. Only meaningful on a machine without a GPU. */
    if (access("/dev/dri", F_OK) && access("/dev/nvidia0", F_OK)) {
        unlink(out);
        CHECK_EQ(vp_pipeline_open(src, NULL, &p), 0);
        vp_encode_default_opts(&eo);
        CHECK_EQ(eo.hw, VP_HW_NONE);
        eo.path = out;
        eo.x264_preset = "ultrafast";
        eo.hw = VP_HW_AUTO;
        encoder_log[0] = 0;
        io = vp_pipeline_add_encode(p, &eo);
        CHECK_EQ(io, 0);
        if (!strstr(encoder_log, out) || !strstr(encoder_log, "encoder libx264 (not used: ") ||
            !strstr(encoder_log, "h264_nvenc: no NVIDIA driver") ||
            !strstr(encoder_log, "h264_vaapi: no VAAPI device") ||
            !strstr(encoder_log, "Quick Sync") || !strstr(encoder_log, "h264_videotoolbox"))
            T_FAIL("hw=auto: log line \"%s\" should name libx264 and the others' reasons",
                   encoder_log);
        CHECK_EQ(vp_pipeline_run(p), 0);
        CHECK_EQ(vp_pipeline_output_info(p, io, &oi), 0);
        CHECK(oi.frames == 60 && oi.width == 160 && oi.height == 120);
        vp_pipeline_close(&p);
        CHECK(exists(out));
        unlink(out);

        CHECK_EQ(vp_pipeline_open(src, NULL, &p), 0);
        eo.hw = VP_HW_NVENC;
        CHECK_EQ(vp_pipeline_add_encode(p, &eo), AVERROR_ENCODER_NOT_FOUND);
        /* The output's fault, with the reason in the failure's one line. */
        VpFailure hwf;
        vp_pipeline_failure(p, &hwf);
        CHECK_EQ(hwf.code, AVERROR_ENCODER_NOT_FOUND);
        CHECK_EQ(hwf.input, -1);
        CHECK_STR(hwf.path, out);
        char want[1200];
        snprintf(want, sizeof(want), "%s: hardware encoder nvenc unavailable: no NVIDIA", out);
        if (strncmp(hwf.message, want, strlen(want)))
            T_FAIL("hw=nvenc: message \"%s\"", hwf.message);
        eo.hw = (VpHwEncoder)42;
        CHECK_EQ(vp_pipeline_add_encode(p, &eo), VP_ERR_BAD_OPTION);
        CHECK(strstr(last_log, "hw") != NULL);
        vp_pipeline_close(&p);
        CHECK(!exists(out));
    }

    /* QC through the same engine. */
    VpQcReport *r = NULL;
    CHECK_EQ(vp_qc_run(src, NULL, NULL, &r), 0);
    CHECK(r && r->nb_checks == 12);
    CHECK(r && r->nb_failed == 0);
    vp_qc_report_free(&r);
    CHECK(r == NULL);
    VpQcSpec spec;
    vp_qc_default_spec(&spec);
    spec.black_ratio = 3;
    CHECK_EQ(vp_qc_run(src, &spec, NULL, &r), VP_ERR_BAD_OPTION);
    CHECK(strstr(last_log, "black_ratio") != NULL);
    CHECK(r == NULL);

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    t_sh(cmd);
    TEST_END();
}
