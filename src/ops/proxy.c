/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The upload pipeline's proxy: proxy video, thumbnail and metadata from one decode. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "common/json_text.h"
#include "encode/encoder.h"
#include "options/options.h"
#include "util/internal.h"
#include "util/json.h"
#include "vidpipe/proxy.h"

#define O(...) VPI_OPT_ROW(VpProxyOpts, __VA_ARGS__)

static const VpiOption proxy_options[] = {
    O(height, INT, 480, 16, 4320, "proxy height; the width follows the display aspect"),
    O(fps, RATIONAL, 0, 0.001, 240, "proxy frame rate: 10, 29.97, 30000/1001, ntsc",
      .def_str = "10"),
    O(crf, INT, 28, 0, 51, "x264 CRF"),
    O(x264_preset, CSTRING, 0, 0, 0, "x264 preset", .def_str = "medium",
      .names = vpi_x264_presets),
    O(hw, ENUM, VP_HW_NONE, 0, 0, VPI_HW_HELP, .names = vpi_hw_names),
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
    o->pipeline = NULL;
}

/* A number as the upload pipeline's scripts wrote it ("%.6g": 30, 29.97), or null. */
static json_t *num6g(double v)
{
    char buf[32];
    if (!isfinite(v))
        return json_null();
    snprintf(buf, sizeof(buf), "%.6g", v);
    return json_loads(buf, JSON_DECODE_ANY, NULL);
}

static double fps_of(VpRational q)
{
    return q.num > 0 && q.den > 0 ? (double)q.num / q.den : NAN;
}

/* A byte count, exact (num6g would write 7016798 as 7016800), or null when unknown. */
static json_t *bytes(int64_t n)
{
    return n >= 0 ? json_integer(n) : json_null();
}

/* The one serialiser of a proxy result (metadata file and --json): the metadata's shape as
 * the upload pipeline's scripts wrote it, plus has_audio and the proxy's frames. */
static json_t *result_json(const VpProxyResult *r)
{
    const VpSourceInfo *s = &r->source;
    json_t *thumb = r->thumb.width ?
        json_pack("{s:o,s:o,s:o,s:o}", "width", num6g(r->thumb.width),
                  "height", num6g(r->thumb.height), "file_size_bytes",
                  bytes(r->thumb.size), "timestamp_seconds", num6g(r->thumb.at)) :
        json_null();
    /* NULL for any member (out of memory) fails the whole pack, which releases the rest. */
    return json_pack("{s:{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b},"
                     "s:{s:o,s:o,s:o,s:I,s:o,s:s,s:b,s:o},s:o,s:i}",
        "original", "width", num6g(s->width), "height", num6g(s->height),
        "fps", num6g(fps_of(s->fps)), "duration_seconds", num6g(s->duration),
        "codec", vpi_json_text(s->video_codec), "bitrate", s->bit_rate > 0 ? json_integer(s->bit_rate) : json_null(),
        "file_size_bytes", bytes(s->size), "has_audio", s->has_audio,
        "proxy", "width", num6g(r->proxy.width), "height", num6g(r->proxy.height),
        "fps", num6g(fps_of(r->proxy.fps)), "frames", (json_int_t)r->proxy.frames,
        "duration_seconds", num6g(r->proxy.duration), "codec", "h264",
        "has_audio", r->proxy.has_audio, "file_size_bytes", bytes(r->proxy.size),
        "thumbnail", thumb, "decode_errors", r->decode_errors);
}

int vp_proxy_result_json(const VpProxyResult *res, char **json)
{
    json_t *root = result_json(res);
    *json = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
    json_decref(root);
    return *json ? 0 : AVERROR(ENOMEM);
}

/* The metadata the upload pipeline stores. */
static int write_meta(const char *path, const VpProxyResult *r)
{
    VpiOutput out;
    int ret = vpi_output_begin(&out, path);
    if (ret < 0)
        return ret;
    json_t *root = result_json(r);
    FILE *f = NULL;
    if (!root) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if (!(f = fopen(out.tmp_path, "w"))) {
        ret = AVERROR(errno);
        goto end;
    }
    ret = json_dumpf(root, f, JSON_INDENT(2)) < 0 || fputc('\n', f) == EOF || ferror(f) ?
          AVERROR(EIO) : 0;
    if (fclose(f) != 0 && !ret)
        ret = AVERROR(errno);
end:
    json_decref(root);
    if (ret < 0) {
        vpi_output_abort(&out);
        return ret;
    }
    return vpi_output_commit(&out);
}

/* The output at fault (input -1), or the source (input 0). */
static void set_failure(VpFailure *fail, int input, const char *path, int err)
{
    if (!fail)
        return;
    fail->code = err;
    fail->input = input;
    vpi_strlcpy(fail->path, path, sizeof(fail->path));
    snprintf(fail->message, sizeof(fail->message), "%.900s: %s", path, vp_strerror(err));
}

int vp_proxy_make(const char *in, const char *out, const VpProxyOpts *opts, VpProxyResult *res,
                  VpFailure *fail)
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
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    if (!in || !out) {
        if (fail)
            fail->code = AVERROR(EINVAL);
        return AVERROR(EINVAL);
    }
    /* Its own table first: the encode and thumbnail sinks check wider ranges (a 1000 fps
     * encode, an 8-line picture) than a proxy allows. */
    char why[256];
    if ((ret = vpi_opt_check(&vpi_proxy_options, opts, why, sizeof(why))) < 0) {
        vpi_log(opts->pipeline ? &opts->pipeline->logger : NULL, VP_LOG_ERROR, "proxy: %s", why);
        if (fail) {
            fail->code = ret;
            snprintf(fail->message, sizeof(fail->message), "proxy: %s", why);
        }
        return ret;
    }
    /* All three before the decode; the metadata is not a pipeline output. */
    const char *outs[3] = { out, opts->thumb_path, opts->meta_path };
    for (int i = 0; i < 3; i++)
        if ((ret = vp_output_check_not_input(outs[i], &in, 1)) < 0) {
            set_failure(fail, -1, outs[i], ret);
            return ret;
        }
    if ((ret = vp_pipeline_open(in, opts->pipeline, &p)) < 0) {
        set_failure(fail, 0, in, ret);
        return ret;
    }
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
    eo.hw = opts->hw;
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
        vpi_log(opts->pipeline ? &opts->pipeline->logger : NULL, VP_LOG_VERBOSE,
                "%s: cannot write: %s", opts->meta_path, vp_strerror(ret));
        set_failure(fail, -1, opts->meta_path, ret);
        /* One item, one outcome: without its metadata the proxy is not done either. */
        unlink(out);
        if (opts->thumb_path)
            unlink(opts->thumb_path);
    }
end:
    if (ret < 0 && fail && !fail->code) {
        vp_pipeline_failure(p, fail);
        if (!fail->code)    /* not the pipeline's: the source has no video */
            set_failure(fail, 0, in, ret);
    }
    vp_pipeline_close(&p);
    return ret;
}
