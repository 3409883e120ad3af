/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Clean-up in one encode: vid.stab (analysis pass, then transform), eq, audio denoise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "util/internal.h"
#include "pipeline/sink.h"
#include "vidpipe/cleanup.h"

void vp_cleanup_default_opts(VpCleanupOpts *o)
{
    memset(o, 0, sizeof(*o));
    o->shakiness = 5;
    o->accuracy = 15;
    o->smoothing = 30;
    o->brightness = 0.05;
    o->contrast = 1.1;
    o->saturation = 1.1;
    o->crf = 23;
    o->x264_preset = "medium";
    o->audio_bitrate = 192000;
    o->pipeline = NULL;
}

static int validate(const VpCleanupOpts *o)
{
    const char *why = NULL;
    if (!o->stabilize && !o->eq && !o->denoise_audio)
        why = "nothing to do: enable stabilize, eq or denoise_audio";
    else if (o->shakiness < 1 || o->shakiness > 10)
        why = "shakiness must be 1..10";
    else if (o->accuracy < 1 || o->accuracy > 15)
        why = "accuracy must be 1..15";
    else if (o->smoothing < 0 || o->smoothing > 1000)
        why = "smoothing must be 0..1000";
    else if (!(o->brightness >= -1 && o->brightness <= 1))
        why = "brightness must be -1..1";
    else if (!(o->contrast >= 0 && o->contrast <= 4))
        why = "contrast must be 0..4";
    else if (!(o->saturation >= 0 && o->saturation <= 3))
        why = "saturation must be 0..3";
    if (!why)
        return 0;
    vpi_log(o->pipeline ? &o->pipeline->logger : NULL, VP_LOG_ERROR, "cleanup option %s", why);
    return VP_ERR_BAD_OPTION;
}

/* A transforms file name that needs no escaping inside a filter graph description. */
static int make_trf(char *buf, size_t size)
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
        if ((ret = make_trf(trf, sizeof(trf))) < 0)
            return ret;
        snprintf(detect, sizeof(detect), "vidstabdetect=shakiness=%d:accuracy=%d:result=%s",
                 opts->shakiness, opts->accuracy, trf);
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
        snprintf(vf, sizeof(vf), "vidstabtransform=input=%s:smoothing=%d", trf,
                 opts->smoothing);
    }
    if (opts->eq) {
        size_t n = strlen(vf);
        snprintf(vf + n, sizeof(vf) - n, "%seq=brightness=%.4f:contrast=%.4f:saturation=%.4f",
                 n ? "," : "", opts->brightness, opts->contrast, opts->saturation);
    }
    if (opts->denoise_audio)
        snprintf(af, sizeof(af), "highpass=f=200,lowpass=f=3000,afftdn");
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
