/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Two-pass EBU R128 normalization: measure (audio only), then loudnorm with the measured
 * values while the video (if any) is copied and the audio keeps its codec where the output's
 * container takes it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "options/options.h"
#include "ops/ops_int.h"
#include "vidpipe/audio.h"

#define O(...) VPI_OPT_ROW(VpLoudnormOpts, __VA_ARGS__)

static const VpiOption loudnorm_options[] = {
    O(i, DOUBLE, -16, -70, -5, "target integrated loudness, LUFS"),
    O(tp, DOUBLE, -1.5, -9, 0, "target true peak, dBTP"),
    O(lra, DOUBLE, 11, 1, 50, "target loudness range, LU"),
    O(audio_bitrate, BITRATE, 192000, 8000, 512000, "AAC bits/s: 192000, 192k"),
    { NULL },
};
#undef O

const VpiOptTable vpi_loudnorm_options = { "loudnorm", loudnorm_options, NULL };

void vp_loudnorm_default_opts(VpLoudnormOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_loudnorm_options, o);
    o->pipeline = NULL;
}

static int validate(const VpLoudnormOpts *o)
{
    return vpi_opt_check_log(&vpi_loudnorm_options, o, o->pipeline ? &o->pipeline->logger : NULL,
                             "loudnorm");
}

int vpi_loudnorm_chain(const VpLoudnormOpts *o, const VpiQcData *d, VpLoudnormResult *res,
                       char *buf, size_t size)
{
    if (!isfinite(d->loudness) || !(d->true_peak >= 0))
        return VP_ERR_NO_AUDIO;
    res->in_i = d->loudness;
    res->in_lra = d->lra;
    res->in_tp = d->true_peak > 0 ? 20 * log10(d->true_peak) : -99;
    /* Digital silence has no loudness to bring up: gate it at loudnorm's floor. */
    double mi = res->in_i < -69 ? -69 : res->in_i;
    double mlra = res->in_lra > 0 ? res->in_lra : 0.01;
    double mtp = res->in_tp < -98 ? -98 : res->in_tp;
    /* loudnorm's own rule for linear mode: the gain must not push the true peak over the
     * target, nor the range exceed it. */
    res->gain_db = o->i - mi;
    res->linear = mtp + res->gain_db <= o->tp && mlra <= o->lra;
    snprintf(buf, size,
             "loudnorm=I=%.2f:TP=%.2f:LRA=%.2f:measured_I=%.2f:measured_TP=%.2f:"
             "measured_LRA=%.2f:measured_thresh=%.2f:offset=0:linear=true",
             o->i, o->tp, o->lra, mi, mtp, mlra, mi - 10);
    return 0;
}

/* First pass: the audio's integrated loudness, true peak and loudness range, and the
 * second pass's chain. */
static int measure(const char *in, const VpLoudnormOpts *o, VpLoudnormResult *res,
                   char *chain, size_t size)
{
    VpPipeline *p = NULL;
    VpiSink *sink = NULL;
    VpiQcSinkOpts spec = { 0 };
    int ret;

    vp_qc_default_spec(&spec.spec);
    if ((ret = vp_pipeline_open(in, o->pipeline, &p)) < 0)
        return ret;
    const VpSourceInfo *src = vp_pipeline_source(p);
    ret = !src->has_audio ? VP_ERR_NO_AUDIO : 0;
    if (ret >= 0 && (ret = vpi_pipeline_add_sink(p, "loudness", &spec, NULL, &sink)) >= 0 &&
        (ret = vp_pipeline_run(p)) >= 0)
        ret = vpi_loudnorm_chain(o, vpi_sink_qc_data(sink), res, chain, size);
    vp_pipeline_close(&p);
    return ret;
}

int vp_loudnorm(const char *in, const char *out, const VpLoudnormOpts *opts,
                VpLoudnormResult *res)
{
    VpLoudnormOpts def;
    VpLoudnormResult local;
    VpPipeline *p = NULL;
    char filters[512];
    int ret;

    if (!opts) {
        vp_loudnorm_default_opts(&def);
        opts = &def;
    }
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    if ((ret = validate(opts)) < 0)
        return ret;
    /* Before the measuring pass, not after it. */
    if ((ret = vp_output_check_not_input(out, &in, 1)) < 0)
        return ret;
    if ((ret = measure(in, opts, res, filters, sizeof(filters))) < 0)
        return ret;
    if ((ret = vp_pipeline_open(in, opts->pipeline, &p)) < 0)
        return ret;
    VpEncodeOpts eo;
    vp_encode_default_opts(&eo);
    eo.path = out;
    eo.copy_video = 1;
    eo.keep_audio_codec = 1;
    eo.audio_bitrate = opts->audio_bitrate;
    eo.audio_filters = filters;
    if ((ret = vp_pipeline_add_encode(p, &eo)) >= 0)
        ret = vp_pipeline_run(p);
    vp_pipeline_close(&p);
    return ret < 0 ? ret : 0;
}
