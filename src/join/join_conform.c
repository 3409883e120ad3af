/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --conform: re-encode one segment so that it can be stream-copied into a join: the
 * reference's resolution, pixel format, SAR and frame rate (H.264, closed GOPs), and its
 * audio rate and channels (AAC-LC). Only the offending segment pays for this. It is one
 * pass of the pipeline engine into the encode sink's "conform" class, so the decoding,
 * frame-rate selection, scaling and encoder opening are those of proxy and export. */
#include <stdio.h>
#include <string.h>

#include <libavutil/pixdesc.h>

#include "join_internal.h"
#include "pipeline/sink.h"
#include "util/internal.h"
#include "vidpipe/pipeline.h"
#include "vidpipe/probe.h"

int vpi_conform(const char *in_path, const VpMediaInfo *ref, const char *out_path, char *why,
                size_t why_size, const VpLogger *lg, const VpCancel *cancel)
{
    VpPipeline *p = NULL;
    int ret;

    const VpStreamInfo *rv = ref->video_index >= 0 ? &ref->streams[ref->video_index] : NULL;
    const VpStreamInfo *ra = ref->audio_index >= 0 ? &ref->streams[ref->audio_index] : NULL;
    if (!rv) {
        snprintf(why, why_size, "the reference has no video");
        return VP_ERR_NO_VIDEO;
    }
    VpRational fr = rv->r_frame_rate.den && rv->r_frame_rate.num ? rv->r_frame_rate
                                                                  : rv->avg_frame_rate;
    if (!fr.num || !fr.den)
        fr = (VpRational){ 25, 1 };
    enum AVPixelFormat pix = rv->pix_fmt[0] ? av_get_pix_fmt(rv->pix_fmt) : AV_PIX_FMT_YUV420P;
    if (pix == AV_PIX_FMT_NONE) {
        snprintf(why, why_size, "the reference's pixel format %s is unknown", rv->pix_fmt);
        return VP_ERR_UNSUPPORTED;
    }

    VpiConformOpts o;
    memset(&o, 0, sizeof(o));
    vp_encode_default_opts(&o.enc);
    o.enc.path = out_path;
    o.enc.fps = fr;
    /* veryfast at CRF 18: near-transparent for the one segment that is re-encoded, at a
     * fraction of "medium"'s time; one encoder thread as before (joins run in parallel). */
    o.enc.x264_preset = "veryfast";
    o.enc.crf = 18;
    o.enc.video_threads = 1;
    o.enc.faststart = 0;
    o.enc.audio = ra != NULL;
    int64_t abr = ra && ra->bit_rate > 0 ? ra->bit_rate : 128000;
    o.enc.audio_bitrate = abr < 8000 ? 8000 : abr > 512000 ? 512000 : abr;
    o.width = rv->width;
    o.height = rv->height;
    o.sar = rv->sar.num > 0 && rv->sar.den > 0 ? (AVRational){ rv->sar.num, rv->sar.den }
                                               : (AVRational){ 1, 1 };
    o.pix_fmt = pix;
    o.keyint = rv->keyint_max > 0 ? rv->keyint_max : 2 * fr.num / fr.den;
    o.encoder_params = "open-gop=0";
    o.sample_rate = ra ? ra->sample_rate : 0;
    o.channels = ra ? ra->channels : 0;
    o.format = "mp4";

    VpPipelineOpts po;
    vp_pipeline_default_opts(&po);
    if (lg)
        po.logger = *lg;
    if (cancel)
        po.cancel = *cancel;
    if ((ret = vp_pipeline_open(in_path, &po, &p)) < 0) {
        snprintf(why, why_size, "cannot read it: %s", vp_strerror(ret));
        goto end;
    }
    if (!vp_pipeline_source(p)->has_video) {
        snprintf(why, why_size, "it has no video");
        ret = VP_ERR_NO_VIDEO;
        goto end;
    }
    if ((ret = vpi_pipeline_add_sink(p, "conform", &o, out_path, NULL)) < 0) {
        snprintf(why, why_size, "cannot encode it: %s", vp_strerror(ret));
        goto end;
    }
    if ((ret = vp_pipeline_run(p)) < 0)
        snprintf(why, why_size, "%s", vp_strerror(ret));

end:
    vp_pipeline_close(&p);
    return ret < 0 ? ret : 0;
}
