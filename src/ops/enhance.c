/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Clean-up in one encode: vid.stab (analysis pass, then transform), eq, audio denoise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "encode/encoder.h"
#include "options/options.h"
#include "util/internal.h"
#include "pipeline/sink.h"
#include "ops/ops_int.h"
#include "vidpipe/cleanup.h"

#define O(...) VPI_OPT_ROW(VpCleanupOpts, __VA_ARGS__)

static const VpiOption cleanup_options[] = {
    O(stabilize, BOOL, 0, 0, 1, "vidstabdetect pass, then vidstabtransform"),
    O(shakiness, INT, 5, 1, 10, "how shaky the input is (vidstabdetect)"),
    O(accuracy, INT, 15, 1, 15, "vidstabdetect accuracy"),
    O(smoothing, INT, 30, 0, 1000, "frames to smooth the camera path over"),
    O(eq, BOOL, 0, 0, 1, "colour adjustment with brightness, contrast, saturation"),
    O(brightness, DOUBLE, 0.05, -1, 1, "eq brightness"),
    O(contrast, DOUBLE, 1.1, 0, 4, "eq contrast"),
    O(saturation, DOUBLE, 1.1, 0, 3, "eq saturation"),
    O(denoise_audio, BOOL, 0, 0, 1, "band-limit to 200 Hz-3 kHz and denoise (afftdn)"),
    O(crf, INT, 23, 0, 51, "x264 CRF"),
    O(x264_preset, CSTRING, 0, 0, 0, "x264 preset", .def_str = "medium",
      .names = vpi_x264_presets),
    O(audio_bitrate, BITRATE, 192000, 8000, 512000, "AAC bits/s: 192000, 192k"),
    { NULL },
};
#undef O

static int check_cleanup(const void *obj, char *err, size_t err_size)
{
    const VpCleanupOpts *o = obj;
    if (!o->stabilize && !o->eq && !o->denoise_audio) {
        snprintf(err, err_size, "nothing to do: enable stabilize, eq or denoise_audio");
        return VP_ERR_BAD_OPTION;
    }
    return 0;
}

const VpiOptTable vpi_cleanup_options = { "cleanup", cleanup_options, check_cleanup };

void vp_cleanup_default_opts(VpCleanupOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_cleanup_options, o);
    o->pipeline = NULL;
}

static int validate(const VpCleanupOpts *o)
{
    return vpi_opt_check_log(&vpi_cleanup_options, o, o->pipeline ? &o->pipeline->logger : NULL,
                             "cleanup");
}

int vpi_cleanup_trf(char *buf, size_t size)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir || strspn(dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789/_.-") != strlen(dir))
        dir = "/tmp";
    snprintf(buf, size, "%s/vidpipe-stab-XXXXXX", dir);
    int fd = mkstemp(buf);
    if (fd < 0)
        return AVERROR(errno);
    close(fd);
    return 0;
}

void vpi_cleanup_detect_chain(const VpCleanupOpts *o, const char *trf, char *buf, size_t size)
{
    snprintf(buf, size, "vidstabdetect=shakiness=%d:accuracy=%d:result=%s", o->shakiness,
             o->accuracy, trf);
}

void vpi_cleanup_chains(const VpCleanupOpts *o, const char *trf, char *vf, size_t vsize,
                        char *af, size_t asize)
{
    vf[0] = af[0] = 0;
    if (trf)
        snprintf(vf, vsize, "vidstabtransform=input=%s:smoothing=%d", trf, o->smoothing);
    if (o->eq) {
        size_t n = strlen(vf);
        snprintf(vf + n, vsize - n, "%seq=brightness=%.4f:contrast=%.4f:saturation=%.4f",
                 n ? "," : "", o->brightness, o->contrast, o->saturation);
    }
    if (o->denoise_audio)
        snprintf(af, asize, "highpass=f=200,lowpass=f=3000,afftdn");
}

int vp_cleanup(const char *in, const char *out, const VpCleanupOpts *opts)
{
    VpCleanupOpts def;
    VpPipeline *p = NULL;
    char trf[512] = "", vf[1024] = "", af[256] = "";
    int ret;

    if (!opts) {
        vp_cleanup_default_opts(&def);
        opts = &def;
    }
    if ((ret = validate(opts)) < 0)
        return ret;
    /* Before the stabilizer's analysis pass, not after it. */
    if ((ret = vp_output_check_not_input(out, &in, 1)) < 0)
        return ret;
    if (opts->stabilize) {
        char detect[700];
        if ((ret = vpi_cleanup_trf(trf, sizeof(trf))) < 0)
            return ret;
        vpi_cleanup_detect_chain(opts, trf, detect, sizeof(detect));
        const char *chain = detect;
        if ((ret = vp_pipeline_open(in, opts->pipeline, &p)) < 0)
            goto end;
        if (!vp_pipeline_source(p)->has_video) {
            ret = VP_ERR_NO_VIDEO;
            goto end;
        }
        if ((ret = vpi_pipeline_add_sink(p, "filter", &chain, NULL, NULL)) < 0 ||
            (ret = vp_pipeline_run(p)) < 0)
            goto end;
        vp_pipeline_close(&p);
    }
    vpi_cleanup_chains(opts, opts->stabilize ? trf : NULL, vf, sizeof(vf), af, sizeof(af));
    if ((ret = vp_pipeline_open(in, opts->pipeline, &p)) < 0)
        goto end;
    if (!vp_pipeline_source(p)->has_video) {
        ret = VP_ERR_NO_VIDEO;
        goto end;
    }
    if (opts->denoise_audio && !vp_pipeline_source(p)->has_audio)
        vpi_log(opts->pipeline ? &opts->pipeline->logger : NULL, VP_LOG_WARNING,
                "%s: no audio to denoise", in);
    VpEncodeOpts eo;
    vp_encode_default_opts(&eo);
    eo.path = out;
    eo.crf = opts->crf;
    eo.x264_preset = opts->x264_preset;
    eo.audio_bitrate = opts->audio_bitrate;
    eo.video_filters = vf[0] ? vf : NULL;
    eo.audio_filters = af[0] ? af : NULL;
    /* A clean-up changes the look, not the format: 10-bit stays 10-bit, VFR stays VFR. */
    eo.keep_depth = 1;
    eo.keep_timing = 1;
    if ((ret = vp_pipeline_add_encode(p, &eo)) >= 0)
        ret = vp_pipeline_run(p);
    if (ret > 0)
        ret = 0;
end:
    vp_pipeline_close(&p);
    if (trf[0])
        unlink(trf);
    return ret;
}
