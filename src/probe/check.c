/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vp_check_compare(): what stops two files from being joined by stream copy. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "mp4/mp4.h"
#include "util/internal.h"
#include "vidpipe/check.h"

typedef struct DiffList {
    VpCheckResult *res;
    int cap;
    int oom;
} DiffList;

static VpCheckDiff *add_diff(DiffList *dl, VpCheckSeverity sev, int conformable,
                             const char *field, const char *value, const char *ref)
{
    VpCheckResult *r = dl->res;
    if (dl->oom)
        return NULL;
    if (r->nb_diffs == dl->cap) {
        int cap = dl->cap ? dl->cap * 2 : 8;
        VpCheckDiff *d = realloc(r->diffs, (size_t)cap * sizeof(*d));
        if (!d) {
            dl->oom = 1;
            return NULL;
        }
        r->diffs = d;
        dl->cap = cap;
    }
    VpCheckDiff *d = &r->diffs[r->nb_diffs++];
    memset(d, 0, sizeof(*d));
    d->severity = sev;
    d->conformable = conformable;
    vpi_strlcpy(d->field, field, sizeof(d->field));
    vpi_strlcpy(d->value, value, sizeof(d->value));
    vpi_strlcpy(d->ref_value, ref, sizeof(d->ref_value));
    if (sev == VP_CHECK_ERROR)
        r->nb_errors++;
    return d;
}

static void cmp_str(DiffList *dl, VpCheckSeverity sev, int conformable, const char *field,
                    const char *a, const char *ref)
{
    if (strcmp(a, ref))
        add_diff(dl, sev, conformable, field, *a ? a : "unknown", *ref ? ref : "unknown");
}

static void cmp_int(DiffList *dl, VpCheckSeverity sev, int conformable, const char *field,
                    int64_t a, int64_t ref)
{
    char va[32], vr[32];
    if (a == ref)
        return;
    snprintf(va, sizeof(va), "%lld", (long long)a);
    snprintf(vr, sizeof(vr), "%lld", (long long)ref);
    add_diff(dl, sev, conformable, field, va, vr);
}

static double q2d(VpRational q)
{
    return q.den ? (double)q.num / q.den : 0;
}

static void fmt_rate(char *buf, size_t size, VpRational q)
{
    if (!q.den)
        snprintf(buf, size, "unknown");
    else if (q.den == 1)
        snprintf(buf, size, "%d fps", q.num);
    else
        snprintf(buf, size, "%d/%d (%.3f fps)", q.num, q.den, q2d(q));
}

/* The frame rate a join must keep: the nominal one, or the average when the nominal is
 * a timebase artefact (MP4 muxers sometimes report 90000/1). */
static VpRational frame_rate(const VpStreamInfo *s)
{
    if (s->r_frame_rate.den && q2d(s->r_frame_rate) <= 240)
        return s->r_frame_rate;
    return s->avg_frame_rate;
}

/* What a join can copy: H.264 video (the index, the in-band parameter sets and the open-GOP
 * rule are H.264's) and AAC-LC audio, whose frames at each seam are re-encoded with FFmpeg's
 * AAC-LC encoder (join_audio.c). Anything else (a phone's HEVC, the PCM of cameras' .mov
 * files, MP3, HE-AAC) must be re-encoded, whatever the reference holds. */
static int video_copyable(const VpStreamInfo *v)
{
    return !strcmp(v->codec, "h264");
}

static int audio_copyable(const VpStreamInfo *a)
{
    return !strcmp(a->codec, "aac") && !strcmp(a->profile, "LC");
}

/* What no stream-copy join takes, whatever the reference: the one rule behind
 * vp_check_requirements(), vp_check_compare() and the join's verdict on its first
 * segment. */
static void check_requirements(DiffList *dl, const VpMediaInfo *f, int conformable)
{
    const VpStreamInfo *v = f->video_index >= 0 ? &f->streams[f->video_index] : NULL;
    const VpStreamInfo *a = f->audio_index >= 0 ? &f->streams[f->audio_index] : NULL;
    VpCheckDiff *d;
    char s[96];
    if (v && !video_copyable(v) &&
        (d = add_diff(dl, VP_CHECK_ERROR, conformable, "video.codec",
                      *v->codec ? v->codec : "unknown", "H.264")))
        d->requirement = 1;
    if (!a || audio_copyable(a))
        return;
    if (!strncmp(a->codec, "pcm_", 4))
        snprintf(s, sizeof(s), "PCM (%s)", a->codec);
    else if (*a->profile)
        snprintf(s, sizeof(s), "%s (%s)", a->codec, a->profile);
    else
        snprintf(s, sizeof(s), "%s", *a->codec ? a->codec : "unknown");
    if ((d = add_diff(dl, VP_CHECK_ERROR, conformable, "audio.codec", s, "AAC-LC")))
        d->requirement = 1;
}

static void compare_video(DiffList *dl, const VpStreamInfo *v, const VpStreamInfo *r)
{
    char a[96], b[96];

    /* The codec is check_requirements()'s; the rest means nothing unless both are H.264. */
    if (!video_copyable(v) || !video_copyable(r))
        return;
    if (v->width != r->width || v->height != r->height) {
        snprintf(a, sizeof(a), "%dx%d", v->width, v->height);
        snprintf(b, sizeof(b), "%dx%d", r->width, r->height);
        add_diff(dl, VP_CHECK_ERROR, 1, "video.resolution", a, b);
    }
    /* 0:1 (unknown) and 1:1 display the same. */
    VpRational sa = v->sar.num ? v->sar : (VpRational){ 1, 1 };
    VpRational sb = r->sar.num ? r->sar : (VpRational){ 1, 1 };
    if ((int64_t)sa.num * sb.den != (int64_t)sb.num * sa.den) {
        snprintf(a, sizeof(a), "%d:%d", sa.num, sa.den);
        snprintf(b, sizeof(b), "%d:%d", sb.num, sb.den);
        add_diff(dl, VP_CHECK_ERROR, 1, "video.sar", a, b);
    }
    cmp_str(dl, VP_CHECK_ERROR, 1, "video.pix_fmt", v->pix_fmt, r->pix_fmt);
    /* 24000/1001 is not 24: the rates must be equal, up to the rounding of rates that MP4
     * muxers derive from durations. */
    VpRational fa = frame_rate(v), fb = frame_rate(r);
    double da = q2d(fa), db = q2d(fb);
    if (!(da > 0 && db > 0 && fabs(da - db) <= db * 1e-5)) {
        fmt_rate(a, sizeof(a), fa);
        fmt_rate(b, sizeof(b), fb);
        add_diff(dl, VP_CHECK_ERROR, 1, "video.frame_rate", a, b);
    }
    /* Unknown field order is treated as progressive, as players do. */
    const char *fo_a = *v->field_order ? v->field_order : "progressive";
    const char *fo_b = *r->field_order ? r->field_order : "progressive";
    cmp_str(dl, VP_CHECK_ERROR, 1, "video.field_order", fo_a, fo_b);
    /* A stream cut at a non-IDR I frame (open GOP at its start) does not reset the decoder's
     * picture order after another segment: FFmpeg's decoder then emits the previous
     * segment's last pictures late (measured, docs/join.md). Only re-encoding fixes it. */
    if (v->starts_with_idr == 0)
        add_diff(dl, VP_CHECK_ERROR, 1, "video.start", "starts on a non-IDR frame (open GOP)",
                 r->starts_with_idr == 0 ? "starts on a non-IDR frame" : "starts on IDR");
    if (fabs(v->rotation - r->rotation) > 0.5) {
        snprintf(a, sizeof(a), "%g", v->rotation);
        snprintf(b, sizeof(b), "%g", r->rotation);
        add_diff(dl, VP_CHECK_ERROR, 1, "video.rotation", a, b);
    }

    /* Handled by the join engine: */
    cmp_str(dl, VP_CHECK_NOTE, 0, "video.profile", v->profile, r->profile);
    cmp_int(dl, VP_CHECK_NOTE, 0, "video.level", v->level, r->level);
    if (v->extradata_crc != r->extradata_crc) {
        snprintf(a, sizeof(a), "crc %08x", v->extradata_crc);
        snprintf(b, sizeof(b), "crc %08x", r->extradata_crc);
        add_diff(dl, VP_CHECK_NOTE, 0, "video.parameter_sets", a, b);
    }
    if ((int64_t)v->time_base.num * r->time_base.den !=
        (int64_t)r->time_base.num * v->time_base.den) {
        snprintf(a, sizeof(a), "%d/%d", v->time_base.num, v->time_base.den);
        snprintf(b, sizeof(b), "%d/%d", r->time_base.num, r->time_base.den);
        add_diff(dl, VP_CHECK_NOTE, 0, "video.time_base", a, b);
    }
    if (v->open_gop == 1 && r->open_gop != 1)
        add_diff(dl, VP_CHECK_NOTE, 0, "video.open_gop", "open GOPs", "closed GOPs");
    if (v->has_bframes == 1 && r->has_bframes == 0)
        add_diff(dl, VP_CHECK_NOTE, 0, "video.bframes", "B-frames", "no B-frames");
}

/* The codec is check_requirements()'s: both sides AAC-LC, or the side that is not is named
 * on its own. */
static void compare_audio(DiffList *dl, const VpStreamInfo *s, const VpStreamInfo *r)
{
    char a[96], b[96];

    if (s->sample_rate != r->sample_rate) {
        snprintf(a, sizeof(a), "%d Hz", s->sample_rate);
        snprintf(b, sizeof(b), "%d Hz", r->sample_rate);
        add_diff(dl, VP_CHECK_ERROR, 1, "audio.sample_rate", a, b);
    }
    if (s->channels != r->channels)
        cmp_int(dl, VP_CHECK_ERROR, 1, "audio.channels", s->channels, r->channels);
    else
        cmp_str(dl, VP_CHECK_ERROR, 1, "audio.channel_layout", s->channel_layout,
                r->channel_layout);
}

/* Audio that ends noticeably before or after the video: the engine pads or trims it. */
static void compare_lengths(DiffList *dl, const VpMediaInfo *f)
{
    if (f->video_index < 0 || f->audio_index < 0)
        return;
    const VpStreamInfo *v = &f->streams[f->video_index];
    const VpStreamInfo *s = &f->streams[f->audio_index];
    if (isnan(v->duration) || isnan(s->duration))
        return;
    double fr = q2d(frame_rate(v));
    double tol = fr > 0 ? 1.0 / fr : 0.05;
    double diff = s->duration - v->duration;
    if (fabs(diff) > tol) {
        char a[96];
        VpCheckDiff *d;
        snprintf(a, sizeof(a), "audio %.3f s, video %.3f s", s->duration, v->duration);
        if ((d = add_diff(dl, VP_CHECK_NOTE, 0, diff > 0 ? "audio.longer_than_video"
                                                         : "audio.shorter_than_video", a, "")))
            d->within_file = 1;
    }
}

int vp_check_compare(const VpMediaInfo *ref, const VpMediaInfo *file, VpCheckResult *res)
{
    DiffList dl = { .res = res };

    memset(res, 0, sizeof(*res));
    if (!ref || !file)
        return AVERROR(EINVAL);

    const VpStreamInfo *fv = file->video_index >= 0 ? &file->streams[file->video_index] : NULL;
    const VpStreamInfo *rv = ref->video_index >= 0 ? &ref->streams[ref->video_index] : NULL;
    const VpStreamInfo *fa = file->audio_index >= 0 ? &file->streams[file->audio_index] : NULL;
    const VpStreamInfo *ra = ref->audio_index >= 0 ? &ref->streams[ref->audio_index] : NULL;

    check_requirements(&dl, file, 1);
    if (!fv && rv)
        add_diff(&dl, VP_CHECK_ERROR, 0, "streams.video", "no video", "video");
    else if (fv && !rv)
        add_diff(&dl, VP_CHECK_ERROR, 0, "streams.video", "video", "no video");
    else if (fv && rv)
        compare_video(&dl, fv, rv);

    if (!fa && ra)
        add_diff(&dl, VP_CHECK_NOTE, 0, "streams.audio", "no audio (silence is inserted)",
                 "audio");
    else if (fa && !ra)
        add_diff(&dl, VP_CHECK_NOTE, 0, "streams.audio", "audio",
                 "no audio (silence is inserted)");
    else if (fa && ra)
        compare_audio(&dl, fa, ra);
    compare_lengths(&dl, file);

    if (dl.oom) {
        vp_check_result_clear(res);
        return AVERROR(ENOMEM);
    }
    return res->nb_errors;
}

int vp_check_requirements(const VpMediaInfo *file, VpCheckResult *res)
{
    DiffList dl = { .res = res };

    memset(res, 0, sizeof(*res));
    if (!file)
        return AVERROR(EINVAL);
    check_requirements(&dl, file, 0);
    if (dl.oom) {
        vp_check_result_clear(res);
        return AVERROR(ENOMEM);
    }
    return res->nb_errors;
}

int vp_check_file(const char *path, char *why, size_t why_size)
{
    char buf[512];
    struct stat sb;
    VpiMp4File *f = NULL;
    int fd = -1, ret;

    if (!why || !why_size) {
        why = buf;
        why_size = sizeof(buf);
    }
    why[0] = 0;
    if (!path)
        return AVERROR(EINVAL);
    if ((ret = vpi_input_check(path, &sb)) < 0)
        goto end;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        ret = AVERROR(errno);
        goto end;
    }
    /* The join's own reading of the file: one rule, in mp4_index.c. */
    ret = vpi_mp4_index(fd, &f, why, why_size);
    if (ret == VP_ERR_NOT_MEDIA) {
        ret = 0; /* not MP4/MOV */
        why[0] = 0;
    }
end:
    if (ret < 0 && !why[0])
        snprintf(why, why_size, "%s", vp_strerror(ret));
    vpi_mp4_index_free(&f);
    if (fd >= 0)
        close(fd);
    return ret;
}

void vp_check_result_clear(VpCheckResult *res)
{
    if (!res)
        return;
    free(res->diffs);
    memset(res, 0, sizeof(*res));
}

void vpi_check_reasons(const VpCheckResult *res, const char *who, char *buf, size_t size)
{
    size_t n = 0;
    if (!size)
        return;
    buf[0] = 0;
    for (int i = 0; i < res->nb_diffs && n + 1 < size; i++) {
        const VpCheckDiff *d = &res->diffs[i];
        if (d->severity != VP_CHECK_ERROR)
            continue;
        int w = snprintf(buf + n, size - n, "%s%s is %s, %s needs %s", n ? "; " : "",
                         d->field, d->value, who, d->ref_value);
        if (w < 0)
            break;
        n += (size_t)w < size - n ? (size_t)w : size - n - 1;
    }
}
