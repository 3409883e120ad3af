/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The upload pipeline's proxy: proxy video, thumbnail and metadata from one decode. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "encode/hwenc.h"
#include "options/options.h"
#include "util/json.h"
#include "vidpipe/proxy.h"

#define O(n, t, d, lo, hi, h, ...) \
    { .name = #n, .help = h, .type = VPI_OPT_##t, .offset = offsetof(VpProxyOpts, n), \
      .def = d, .min = lo, .max = hi, __VA_ARGS__ }

static const VpiOption proxy_options[] = {
    O(height, INT, 480, 16, 4320, "proxy height; the width follows the display aspect"),
    O(fps, RATIONAL, 0, 0.001, 240, "proxy frame rate: 10, 29.97, 30000/1001, ntsc",
      .def_str = "10"),
    O(crf, INT, 28, 0, 51, "x264 CRF"),
    O(x264_preset, CSTRING, 0, 0, 0, "x264 preset", .def_str = "medium",
      .names = vpi_x264_presets),
    O(audio_bitrate, BITRATE, 64000, 8000, 512000, "AAC bits/s: 64000, 64k"),
    O(thumb_at, DOUBLE, -1, -1, 1e9, "thumbnail time, seconds (-1: 5 s, or the midpoint)"),
    O(thumb_width, INT, 320, 16, 4096, "thumbnail width"),
    { NULL },
};
#undef O

const VpiOptTable vpi_proxy_options = { "proxy", proxy_options, NULL };

void vp_proxy_default_opts(VpProxyOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_proxy_options, o);
    vp_pipeline_default_opts(&o->pipeline);
}

static void json_num(FILE *f, const char *key, double v, int last)
{
    fprintf(f, "    \"%s\": ", key);
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
    fputs(last ? "\n" : ",\n", f);
}

static double fps_of(VpRational q)
{
    return q.num > 0 && q.den > 0 ? (double)q.num / q.den : NAN;
}

/* The metadata the upload pipeline stores, in the shape its scripts wrote it. */
static int write_meta(const char *path, const VpProxyResult *r)
{
    VpiOutput out;
    int ret = vpi_output_begin(&out, path);
    if (ret < 0)
        return ret;
    FILE *f = fopen(out.tmp_path, "w");
    if (!f) {
        ret = AVERROR(errno);
        vpi_output_abort(&out);
        return ret;
    }
    const VpSourceInfo *s = &r->source;
    fputs("{\n  \"original\": {\n", f);
    json_num(f, "width", s->width, 0);
    json_num(f, "height", s->height, 0);
    json_num(f, "fps", fps_of(s->fps), 0);
    json_num(f, "duration_seconds", s->duration, 0);
    fputs("    \"codec\": ", f);
    vpi_json_write_string(f, s->video_codec);
    fputs(",\n", f);
    json_num(f, "bitrate", (double)s->bit_rate, 0);
    json_num(f, "file_size_bytes", (double)s->size, 1);
    fputs("  },\n  \"proxy\": {\n", f);
    json_num(f, "width", r->proxy.width, 0);
    json_num(f, "height", r->proxy.height, 0);
    json_num(f, "fps", fps_of(r->proxy.fps), 0);
    json_num(f, "duration_seconds", r->proxy.duration, 0);
    fputs("    \"codec\": \"h264\",\n", f);
    json_num(f, "file_size_bytes", (double)r->proxy.size, 1);
    fputs("  },\n", f);
    if (r->thumb.width) {
        fputs("  \"thumbnail\": {\n", f);
        json_num(f, "width", r->thumb.width, 0);
        json_num(f, "height", r->thumb.height, 0);
        json_num(f, "file_size_bytes", (double)r->thumb.size, 0);
        json_num(f, "timestamp_seconds", r->thumb.at, 1);
        fputs("  },\n", f);
    } else {
        fputs("  \"thumbnail\": null,\n", f);
    }
    fprintf(f, "  \"decode_errors\": %d\n}\n", r->decode_errors);
    ret = ferror(f) ? AVERROR(EIO) : 0;
    if (fclose(f) != 0 && !ret)
        ret = AVERROR(errno);
    if (ret < 0) {
        vpi_output_abort(&out);
        return ret;
    }
    return vpi_output_commit(&out);
}

int vp_proxy_make(const char *in, const char *out, const VpProxyOpts *opts, VpProxyResult *res)
{
    VpProxyOpts def;
    VpProxyResult local;
    VpPipeline *p = NULL;
    int ret, iproxy, ithumb = -1;

    if (!opts) {
        vp_proxy_default_opts(&def);
        opts = &def;
    }
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (!in || !out)
        return AVERROR(EINVAL);
    /* All three before the decode; the metadata is not a pipeline output. */
    const char *outs[3] = { out, opts->thumb_path, opts->meta_path };
    for (int i = 0; i < 3; i++)
        if ((ret = vp_output_check_not_input(outs[i], &in, 1)) < 0) {
            vpi_strlcpy(res->failed_output, outs[i], sizeof(res->failed_output));
            return ret;
        }
    if ((ret = vp_pipeline_open(in, &opts->pipeline, &p)) < 0)
        return ret;
    res->source = *vp_pipeline_source(p);
    res->source.path = in;
    if (!res->source.has_video) {
        ret = VP_ERR_NO_VIDEO;
        goto end;
    }
    VpEncodeOpts eo;
    vp_encode_default_opts(&eo);
    eo.path = out;
    eo.fit = VP_FIT_HEIGHT;
    eo.height = opts->height;
    eo.fps = opts->fps;
    eo.crf = opts->crf;
    eo.x264_preset = opts->x264_preset;
    eo.audio_bitrate = opts->audio_bitrate;
    if ((ret = iproxy = vp_pipeline_add_encode(p, &eo)) < 0)
        goto end;
    if (opts->thumb_path) {
        VpThumbOpts to;
        vp_thumb_default_opts(&to);
        to.path = opts->thumb_path;
        to.at = opts->thumb_at;
        to.width = opts->thumb_width;
        if ((ret = ithumb = vp_pipeline_add_thumb(p, &to)) < 0)
            goto end;
    }
    if ((ret = vp_pipeline_run(p)) < 0)
        goto end;
    res->decode_errors = ret;
    int nb;
    const VpDecodeError *errs = vp_pipeline_decode_errors(p, &nb, NULL);
    if (nb) {
        res->first_error = errs[0].time;
        res->last_error = errs[nb - 1].time;
    }
    vp_pipeline_output_info(p, iproxy, &res->proxy);
    res->proxy.path = NULL;
    if (ithumb >= 0) {
        vp_pipeline_output_info(p, ithumb, &res->thumb);
        res->thumb.path = NULL;
    }
    vp_pipeline_stats(p, &res->stats);
    ret = 0;
    if (opts->meta_path && (ret = write_meta(opts->meta_path, res)) < 0) {
        vpi_log(VP_LOG_VERBOSE, "%s: cannot write: %s", opts->meta_path, vp_strerror(ret));
        vpi_strlcpy(res->failed_output, opts->meta_path, sizeof(res->failed_output));
        /* One item, one outcome: without its metadata the proxy is not done either. */
        unlink(out);
        if (opts->thumb_path)
            unlink(opts->thumb_path);
    }
end:
    if (ret < 0 && p && vp_pipeline_failed_output(p))
        vpi_strlcpy(res->failed_output, vp_pipeline_failed_output(p), sizeof(res->failed_output));
    vp_pipeline_close(&p);
    return ret;
}
