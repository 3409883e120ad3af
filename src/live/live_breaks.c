/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Break points found in a file ("breaks": "auto", vidpipe channels --analyze): where the
 * picture is black and the sound silent together, as broadcasters leave a gap for the
 * commercials, and where a chapter starts. One decode pass through the QC analyser (its
 * black and silence detectors, the rules of `vidpipe qc`), the chapters from the probe, and
 * the keyframes from one demuxing pass (packets only, nothing decoded), for the cut. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "live.h"
#include "ops/qc_int.h"
#include "util/internal.h"
#include "vidpipe/check.h"
#include "vidpipe/probe.h"

/* Black and silent together for at least this long is a break (the QC detectors report
 * stretches from 0.5 s, the length broadcasters' automation uses for a "black + mute"). */
#define MIN_GAP 0.5
/* Nothing is cut in the first or last second: a fade from or to black there is the
 * programme's own start or end, not a break. */
#define EDGE 1.0
/* Two points closer than this are one break. */
#define SAME_BREAK 1.0

/* Presentation times (seconds from the first presented frame) of the video's keyframes,
 * from the packets' flags; *shift is what converts the pipeline's times (from the file's
 * start time) onto the same origin. */
static int scan_keys(const char *path, const VpLogger *lg, double **keys, int *nb, double *shift)
{
    AVFormatContext *fmt = NULL;
    AVPacket *pkt = NULL;
    int64_t *pts = NULL;
    int nb_pts = 0, cap = 0, ret;
    int64_t first = INT64_MAX;

    *keys = NULL;
    *nb = 0;
    *shift = 0;
    const VpLogger *prev = vpi_log_scope_enter(lg);
    if ((ret = avformat_open_input(&fmt, path, NULL, NULL)) < 0 ||
        (ret = avformat_find_stream_info(fmt, NULL)) < 0)
        goto end;
    int vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (vi < 0) {
        ret = VP_ERR_NO_VIDEO;
        goto end;
    }
    AVStream *st = fmt->streams[vi];
    if (!(pkt = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    while ((ret = av_read_frame(fmt, pkt)) >= 0) {
        int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (pkt->stream_index == vi && t != AV_NOPTS_VALUE) {
            if (t < first)
                first = t;
            if (pkt->flags & AV_PKT_FLAG_KEY) {
                if (nb_pts == cap) {
                    int ncap = cap ? cap * 2 : 64;
                    int64_t *n = ncap > cap ? realloc(pts, (size_t)ncap * sizeof(*n)) : NULL;
                    if (!n) {
                        av_packet_unref(pkt);
                        ret = AVERROR(ENOMEM);
                        goto end;
                    }
                    pts = n;
                    cap = ncap;
                }
                pts[nb_pts++] = t;
            }
        }
        av_packet_unref(pkt);
    }
    if (ret != AVERROR_EOF)
        goto end;
    ret = 0;
    if (!nb_pts)
        goto end;
    if (!(*keys = malloc((size_t)nb_pts * sizeof(**keys)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int i = 0; i < nb_pts; i++)
        (*keys)[i] = (double)(pts[i] - first) * st->time_base.num / st->time_base.den;
    *nb = nb_pts;
    /* sort: keyframes arrive in decode order, which is presentation order for them */
    for (int i = 1; i < nb_pts; i++)
        for (int j = i; j > 0 && (*keys)[j - 1] > (*keys)[j]; j--) {
            double t = (*keys)[j];
            (*keys)[j] = (*keys)[j - 1];
            (*keys)[j - 1] = t;
        }
    if (fmt->start_time != AV_NOPTS_VALUE)
        *shift = fmt->start_time / 1e6 - (double)first * st->time_base.num / st->time_base.den;
end:
    free(pts);
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    vpi_log_scope_leave(prev);
    return ret;
}

static double key_before(const double *keys, int nb, double t)
{
    double best = 0;
    for (int i = 0; i < nb && keys[i] <= t + 1e-6; i++)
        best = keys[i];
    return best;
}

static int push_point(VpBreakPoint **v, int *nb, double at, double length, const char *reason)
{
    VpBreakPoint *n = realloc(*v, (size_t)(*nb + 1) * sizeof(**v));
    if (!n)
        return AVERROR(ENOMEM);
    *v = n;
    VpBreakPoint *b = &n[(*nb)++];
    memset(b, 0, sizeof(*b));
    b->at = at;
    b->length = length;
    vpi_strlcpy(b->reason, reason, sizeof(b->reason));
    return 0;
}

static int cmp_at(const void *a, const void *b)
{
    const VpBreakPoint *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

int vpi_live_find_breaks(const char *path, const VpLogger *lg, VpBreakPoint **points, int *nb,
                         char *why, size_t why_size)
{
    VpMediaInfo *info = NULL;
    VpPipeline *p = NULL;
    VpiSink *sink = NULL;
    VpBreakPoint *v = NULL;
    double *keys = NULL, shift = 0;
    int n = 0, nb_keys = 0, ret;
    char reason[512];

    *points = NULL;
    *nb = 0;
    reason[0] = 0;
    /* The index's limits before any demuxer sees an MP4 (hostile tables). */
    if ((ret = vp_check_file(path, reason, sizeof(reason))) < 0 &&
        ret != VP_ERR_UNSUPPORTED)
        goto fail;
    reason[0] = 0;
    VpProbeOpts po;
    vp_probe_default_opts(&po);
    if (lg)
        po.logger = *lg;
    if ((ret = vp_probe_file(path, &po, &info)) < 0)
        goto fail;
    if (info->video_index < 0) {
        ret = VP_ERR_NO_VIDEO;
        goto fail;
    }
    double duration = info->streams[info->video_index].duration;
    if (!isfinite(duration))
        duration = info->duration;

    VpPipelineOpts pop;
    vp_pipeline_default_opts(&pop);
    if (lg)
        pop.logger = *lg;
    VpiQcSinkOpts spec = { 0 };
    vp_qc_default_spec(&spec.spec);
    spec.spec.black_min = MIN_GAP;
    spec.spec.silence_min = MIN_GAP;
    if ((ret = vp_pipeline_open(path, &pop, &p)) < 0)
        goto fail;
    int has_audio = vp_pipeline_source(p)->has_audio;
    if ((ret = vpi_pipeline_add_sink(p, "qc", &spec, NULL, &sink)) < 0 ||
        (ret = vp_pipeline_run(p)) < 0)
        goto fail;
    if ((ret = scan_keys(path, lg, &keys, &nb_keys, &shift)) < 0) {
        snprintf(reason, sizeof(reason), "cannot read its keyframes: %s", vp_strerror(ret));
        goto fail;
    }

    const VpiQcData *d = vpi_sink_qc_data(sink);
    for (int i = 0; i < d->nb_black; i++) {
        double b0 = d->black[i].start + shift, b1 = d->black[i].end + shift;
        /* Without audio the channel plays silence: black alone is the gap. */
        if (!has_audio) {
            double at = (b0 + b1) / 2;
            if (b1 - b0 >= MIN_GAP && at >= EDGE && !(at > duration - EDGE) &&
                (ret = push_point(&v, &n, at, b1 - b0, "black+silence")) < 0)
                goto fail;
            continue;
        }
        for (int j = 0; j < d->nb_silence; j++) {
            double s0 = d->silence[j].start + shift, s1 = d->silence[j].end + shift;
            double o0 = fmax(b0, s0), o1 = fmin(b1, s1);
            if (o1 - o0 < MIN_GAP)
                continue;
            double at = (o0 + o1) / 2;
            if (at < EDGE || at > duration - EDGE)
                continue;
            if ((ret = push_point(&v, &n, at, o1 - o0, "black+silence")) < 0)
                goto fail;
        }
    }
    for (int i = 0; i < info->nb_chapters; i++) {
        const VpChapter *c = &info->chapters[i];
        char r[sizeof(v->reason)];
        if (!(c->start >= EDGE) || c->start > duration - EDGE)
            continue;
        snprintf(r, sizeof(r), c->title[0] ? "chapter: %s" : "chapter", c->title);
        if ((ret = push_point(&v, &n, c->start, 0, r)) < 0)
            goto fail;
    }
    if (n)
        qsort(v, (size_t)n, sizeof(*v), cmp_at);
    /* One break per second: a chapter that starts inside a black + silent gap is that gap,
     * whose middle is the better cut. */
    int w = 0;
    for (int i = 0; i < n; i++) {
        if (w && v[i].at - v[w - 1].at < SAME_BREAK) {
            if (v[i].length > 0 && v[w - 1].length == 0)
                v[w - 1] = v[i];
            continue;
        }
        v[w++] = v[i];
    }
    n = w;
    for (int i = 0; i < n; i++)
        v[i].cut_at = key_before(keys, nb_keys, v[i].at);
    vpi_log(lg, VP_LOG_VERBOSE, "%s: %d break point%s found", path, n, n == 1 ? "" : "s");
    *points = v;
    *nb = n;
    v = NULL;
    ret = 0;
    goto end;

fail:
    snprintf(why, why_size, "%s: %s", path, reason[0] ? reason : vp_strerror(ret));
end:
    free(v);
    free(keys);
    vp_pipeline_close(&p);
    vp_media_info_free(&info);
    return ret;
}
