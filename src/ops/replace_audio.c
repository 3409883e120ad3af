/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replace a video's audio with another file's: video copied, audio shifted and encoded. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "options/options.h"
#include "util/internal.h"
#include "vidpipe/audio.h"
#include "vidpipe/probe.h"

#define O(...) VPI_OPT_ROW(VpReplaceAudioOpts, __VA_ARGS__)

static const VpiOption replace_audio_options[] = {
    O(offset_ms, INT, 0, -86400000, 86400000,
      "delay the new audio by N ms (negative: advance it)"),
    O(shortest, BOOL, 0, 0, 1, "end with the shorter of video and audio"),
    O(audio_bitrate, BITRATE, 192000, 8000, 512000, "AAC bits/s: 192000, 192k"),
    { NULL },
};
#undef O

const VpiOptTable vpi_replace_audio_options = { "replace_audio", replace_audio_options, NULL };

void vp_replace_audio_default_opts(VpReplaceAudioOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_replace_audio_options, o);
    o->pipeline = NULL;
}

/* @p input: 0 the video, 1 the audio, -1 the output. */
static int failed(VpFailure *fail, int input, const char *path, int err)
{
    if (!fail)
        return err;
    fail->code = err;
    fail->input = input;
    vpi_strlcpy(fail->path, path, sizeof(fail->path));
    snprintf(fail->message, sizeof(fail->message), "%.900s: %s", path, vp_strerror(err));
    return err;
}

int vp_replace_audio(const char *video, const char *audio, const char *out,
                     const VpReplaceAudioOpts *opts, VpReplaceAudioResult *res,
                     VpFailure *fail)
{
    VpReplaceAudioOpts def;
    VpReplaceAudioResult local;
    VpMediaInfo *ai = NULL;
    VpPipeline *p = NULL;
    VpProbeOpts po;
    char filters[256] = "";
    int ret;

    if (!opts) {
        vp_replace_audio_default_opts(&def);
        opts = &def;
    }
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    res->video_duration = res->audio_duration = NAN;
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    char why[256];
    if ((ret = vpi_opt_check(&vpi_replace_audio_options, opts, why, sizeof(why))) < 0) {
        vpi_log(opts->pipeline ? &opts->pipeline->logger : NULL, VP_LOG_ERROR,
                "replace-audio: %s", why);
        if (fail)
            fail->code = ret;
        return ret;
    }
    /* The audio file first: its errors must name it, not the video. */
    vp_probe_default_opts(&po);
    po.count_packets = 0;
    po.gop_scan_packets = 0;
    VpPipelineOpts popts;
    if (opts->pipeline)
        popts = *opts->pipeline;
    else
        vp_pipeline_default_opts(&popts);
    po.logger = popts.logger;
    po.cancel = popts.cancel;
    if ((ret = vp_probe_file(audio, &po, &ai)) < 0)
        return failed(fail, 1, audio, ret);
    if (ai->audio_index < 0) {
        vp_media_info_free(&ai);
        return failed(fail, 1, audio, VP_ERR_NO_AUDIO);
    }
    const VpStreamInfo *as = &ai->streams[ai->audio_index];
    res->audio_duration = isfinite(as->duration) ? as->duration : ai->duration;
    vp_media_info_free(&ai);

    popts.audio_path = audio;
    if ((ret = vp_pipeline_open(video, &popts, &p)) < 0)
        return failed(fail, 0, video, ret);
    const VpSourceInfo *src = vp_pipeline_source(p);
    if (!src->has_video) {
        ret = failed(fail, 0, video, VP_ERR_NO_VIDEO);
        goto end;
    }
    res->video_duration = src->duration;
    double off = opts->offset_ms / 1000.0;
    if (opts->offset_ms > 0)
        snprintf(filters, sizeof(filters), "adelay=delays=%d:all=1", opts->offset_ms);
    else if (opts->offset_ms < 0)
        snprintf(filters, sizeof(filters), "atrim=start=%.3f,asetpts=PTS-STARTPTS", -off);
    VpEncodeOpts eo;
    vp_encode_default_opts(&eo);
    eo.path = out;
    eo.copy_video = 1;
    eo.audio_bitrate = opts->audio_bitrate;
    eo.audio_filters = filters[0] ? filters : NULL;
    if (opts->shortest && isfinite(res->video_duration) && isfinite(res->audio_duration)) {
        double a_end = res->audio_duration + off;
        eo.end_time = a_end < res->video_duration ? a_end : res->video_duration;
        if (eo.end_time <= 0) {
            vpi_log(opts->pipeline ? &opts->pipeline->logger : NULL, VP_LOG_ERROR,
                    "%s: the offset leaves no audio under the video", audio);
            ret = failed(fail, 1, audio, VP_ERR_BAD_OPTION);
            goto end;
        }
    }
    if ((ret = vp_pipeline_add_encode(p, &eo)) < 0 || (ret = vp_pipeline_run(p)) < 0) {
        VpFailure pf;
        vp_pipeline_failure(p, &pf);
        if (pf.input < 0 && pf.path[0])
            failed(fail, -1, pf.path, ret);
        else
            failed(fail, 0, video, ret);
        goto end;
    }
    ret = 0;
end:
    vp_pipeline_close(&p);
    return ret;
}
