/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QC: the spec (one field table: defaults, JSON, ranges, help), the one-pass run, and the
 * verdict of each check. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#include <libavutil/error.h>

#include "options/options_json.h"
#include "util/json.h"
#include "qc_int.h"

#define F(name, type, def, min, max, help) \
    { #name, help, VPI_OPT_##type, offsetof(VpQcSpec, name), def, NULL, min, max }

static const VpiOption spec_fields[] = {
    F(width, INT, 0, 0, 16384, "required width in pixels (0: any)"),
    F(height, INT, 0, 0, 16384, "required height in pixels (0: any)"),
    F(min_width, INT, 0, 0, 16384, "smallest width allowed in pixels (0: any)"),
    F(min_height, INT, 0, 0, 16384, "smallest height allowed in pixels (0: any)"),
    F(min_duration, DOUBLE, 1, 0, 1e7, "shortest duration allowed, seconds"),
    F(max_duration, DOUBLE, 0, 0, 1e7, "longest duration allowed, seconds (0: no bound)"),
    F(max_decode_errors, INT, 0, 0, 1000000, "decode errors allowed"),
    F(max_sample_peak, DOUBLE, -1, -100, 20, "highest sample peak allowed, dBFS"),
    F(max_true_peak, DOUBLE, -1, -100, 20, "highest true peak allowed, dBTP"),
    F(min_loudness, DOUBLE, -28, -100, 0, "lowest integrated loudness allowed, LUFS"),
    F(max_loudness, DOUBLE, -12, -100, 0, "highest integrated loudness allowed, LUFS"),
    F(max_lra, DOUBLE, 20, 0, 100, "widest loudness range allowed, LU"),
    F(max_black, DOUBLE, 2, 0, 1e7, "longest black stretch allowed, seconds"),
    F(black_min, DOUBLE, 0.5, 0.01, 1e7, "shortest black stretch reported, seconds"),
    F(black_pixel, DOUBLE, 0.10, 0, 1, "luma below which a pixel is black, 0..1"),
    F(black_ratio, DOUBLE, 0.98, 0, 1, "share of black pixels that makes a picture black"),
    F(max_silence, DOUBLE, 2, 0, 1e7, "longest silent stretch allowed, seconds"),
    F(silence_min, DOUBLE, 0.5, 0.01, 1e7, "shortest silent stretch reported, seconds"),
    F(silence_db, DOUBLE, -60, -150, 0, "level below which audio is silent, dBFS"),
    F(max_freeze, DOUBLE, 2, 0, 1e7, "longest frozen stretch allowed, seconds"),
    F(freeze_min, DOUBLE, 0.5, 0.01, 1e7, "shortest frozen stretch reported, seconds"),
    F(freeze_noise, DOUBLE, 0.001, 0, 1, "mean picture difference below which it is frozen"),
    F(max_av_diff, DOUBLE, 0.5, 0, 1e7, "largest audio vs video length difference, seconds"),
    F(require_audio, BOOL, 1, 0, 1, "a file without audio fails"),
    { NULL },
};
#undef F

static int check_spec(const void *obj, char *err, size_t err_size)
{
    const VpQcSpec *s = obj;
    if (s->max_duration && s->max_duration < s->min_duration) {
        snprintf(err, err_size, "max_duration: value %g is below min_duration (%g)",
                 s->max_duration, s->min_duration);
        return VP_ERR_BAD_OPTION;
    }
    if (s->max_loudness < s->min_loudness) {
        snprintf(err, err_size, "max_loudness: value %g is below min_loudness (%g)",
                 s->max_loudness, s->min_loudness);
        return VP_ERR_BAD_OPTION;
    }
    return 0;
}

const VpiOptTable vpi_qc_spec_options = { "qc_spec", spec_fields, check_spec };

void vp_qc_default_spec(VpQcSpec *spec)
{
    memset(spec, 0, sizeof(*spec));
    vpi_opt_defaults(&vpi_qc_spec_options, spec);
}

/* The one path of both spec readers: members over a copy, then ranges and cross-field
 * rules over the whole spec. */
static int apply_spec(const json_t *root, VpQcSpec *spec, char *err, size_t err_size)
{
    VpQcSpec tmp = *spec;
    int ret = vpi_opt_apply_json(&vpi_qc_spec_options, &tmp, root, "QC spec", err, err_size);
    if (ret >= 0)
        *spec = tmp;
    return ret;
}

int vp_qc_spec_parse(const char *text, size_t len, VpQcSpec *spec, char *err, size_t err_size)
{
    json_t *root = NULL;
    char local[256];
    if (!err || !err_size) {
        err = local;
        err_size = sizeof(local);
    }
    int ret = vpi_json_parse(text, len, &root, err, err_size);
    if (ret < 0)
        return ret;
    ret = apply_spec(root, spec, err, err_size);
    json_decref(root);
    return ret;
}

int vp_qc_spec_load(const char *path, VpQcSpec *spec, char *err, size_t err_size)
{
    json_t *root = NULL;
    char local[256];
    if (!err || !err_size) {
        err = local;
        err_size = sizeof(local);
    }
    int ret = vpi_json_read_file(path, &root, err, err_size);
    if (ret < 0)
        return ret;
    ret = apply_spec(root, spec, err, err_size);
    json_decref(root);
    return ret;
}

void vp_qc_spec_describe(char *buf, size_t size)
{
    size_t n = 0;
    if (size)
        buf[0] = 0;
    for (const VpiOption *f = spec_fields; f->name && n < size; f++) {
        int w = snprintf(buf + n, size - n, "  %-18s %-7g %s\n", f->name, f->def, f->help);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

static void free_report(VpQcReport *r)
{
    free(r->path);
    free(r->black);
    free(r->silence);
    free(r->freeze);
    free(r->corrupt);
    free(r->errors);
    free(r->momentary);
    free(r->sheet);
    free(r);
}

void vp_qc_report_free(VpQcReport **r)
{
    if (r && *r) {
        free_report(*r);
        *r = NULL;
    }
}

static VpQcCheck *add_check(VpQcReport *r, const char *name, VpQcVerdict v, double value,
                            const char *fmt, ...) VPI_PRINTF(5, 6);

static VpQcCheck *add_check(VpQcReport *r, const char *name, VpQcVerdict v, double value,
                            const char *fmt, ...)
{
    VpQcCheck *c = &r->checks[r->nb_checks++];
    va_list ap;
    c->name = name;
    c->verdict = v;
    c->value = value;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof(c->message), fmt, ap);
    va_end(ap);
    r->nb_failed += v == VP_QC_FAIL;
    return c;
}

/* "2.00-3.50 s, 7.10-9.00 s" into @p buf, at most a few stretches. */
static void list_stretches(char *buf, size_t size, const VpQcStretch *v, int nb)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < nb && n < size; i++) {
        if (i == 4) {
            snprintf(buf + n, size - n, ", and %d more", nb - i);
            return;
        }
        int w = snprintf(buf + n, size - n, "%s%.2f-%.2f s", i ? ", " : "", v[i].start, v[i].end);
        if (w < 0)
            return;
        n += (size_t)w;
    }
}

static double longest(const VpQcStretch *v, int nb)
{
    double m = 0;
    for (int i = 0; i < nb; i++)
        if (v[i].end - v[i].start > m)
            m = v[i].end - v[i].start;
    return m;
}

static void stretch_check(VpQcReport *r, const char *name, const char *what,
                          const VpQcStretch *v, int nb, double max, int present)
{
    char list[160];
    if (!present) {
        add_check(r, name, VP_QC_NOT_APPLICABLE, NAN, "no %s stream", 
                  strcmp(name, "silence") ? "video" : "audio");
        return;
    }
    double m = longest(v, nb);
    list_stretches(list, sizeof(list), v, nb);
    if (!nb)
        add_check(r, name, VP_QC_PASS, 0, "no %s stretches", what);
    else
        add_check(r, name, m > max ? VP_QC_FAIL : VP_QC_PASS, m,
                  "%d %s stretch%s, longest %.2f s (at most %.2f s allowed): %s", nb, what,
                  nb == 1 ? "" : "es", m, max, list);
}

static double db(double lin)
{
    return lin > 0 ? 20 * log10(lin) : -INFINITY;
}

static int cmp_error(const void *a, const void *b)
{
    double x = ((const VpDecodeError *)a)->time, y = ((const VpDecodeError *)b)->time;
    return x < y ? -1 : x > y;
}

/* Neighbouring decode errors (less than a second apart) are one corrupt stretch. */
static int merge_errors(VpQcReport *r, double frame_dur)
{
    for (int i = 0; i < r->nb_errors; i++) {
        double t = r->errors[i].time;
        if (r->nb_corrupt && t >= r->corrupt[r->nb_corrupt - 1].start &&
            t <= r->corrupt[r->nb_corrupt - 1].end + 1.0) {
            if (t + frame_dur > r->corrupt[r->nb_corrupt - 1].end)
                r->corrupt[r->nb_corrupt - 1].end = t + frame_dur;
            continue;
        }
        if (r->nb_corrupt % 32 == 0) {
            VpQcStretch *n = realloc(r->corrupt, (size_t)(r->nb_corrupt + 32) * sizeof(*n));
            if (!n)
                return AVERROR(ENOMEM);
            r->corrupt = n;
        }
        r->corrupt[r->nb_corrupt++] = (VpQcStretch){ t, t + frame_dur };
    }
    return 0;
}

static void judge(VpQcReport *r, const VpQcSpec *sp)
{
    const VpSourceInfo *s = &r->source;
    char list[160];

    list_stretches(list, sizeof(list), r->corrupt, r->nb_corrupt);
    if (!r->nb_errors_total)
        add_check(r, "integrity", VP_QC_PASS, 0, "no decode errors");
    else
        add_check(r, "integrity", r->nb_errors_total > sp->max_decode_errors ? VP_QC_FAIL
                                                                             : VP_QC_PASS,
                  r->nb_errors_total, "%d decode error%s in %d corrupt stretch%s: %s",
                  r->nb_errors_total, r->nb_errors_total == 1 ? "" : "s", r->nb_corrupt,
                  r->nb_corrupt == 1 ? "" : "es", list);

    /* A podcast or a dub has no picture: only a spec that names a size fails it. */
    int sized = sp->width || sp->height || sp->min_width || sp->min_height;
    if (!s->has_video)
        add_check(r, "resolution", sized ? VP_QC_FAIL : VP_QC_NOT_APPLICABLE,
                  NAN, "no video stream%s", sized ? " (the spec requires a picture size)" : "");
    else if ((sp->width && s->width != sp->width) || (sp->height && s->height != sp->height))
        add_check(r, "resolution", VP_QC_FAIL, NAN, "%dx%d, the spec requires %dx%d", s->width,
                  s->height, sp->width ? sp->width : s->width,
                  sp->height ? sp->height : s->height);
    else if (s->width < sp->min_width || s->height < sp->min_height)
        add_check(r, "resolution", VP_QC_FAIL, NAN, "%dx%d, smaller than the %dx%d required",
                  s->width, s->height, sp->min_width, sp->min_height);
    else
        add_check(r, "resolution", VP_QC_PASS, NAN, "%dx%d", s->width, s->height);

    double d = s->duration;
    if (!isfinite(d))
        d = isfinite(r->video_duration) ? r->video_duration : r->audio_duration;
    if (!isfinite(d) || d < sp->min_duration)
        add_check(r, "duration", VP_QC_FAIL, d, "%.2f s, shorter than the %.2f s required", d,
                  sp->min_duration);
    else if (sp->max_duration > 0 && d > sp->max_duration)
        add_check(r, "duration", VP_QC_FAIL, d, "%.2f s, longer than the %.2f s allowed", d,
                  sp->max_duration);
    else
        add_check(r, "duration", VP_QC_PASS, d, "%.2f s", d);

    int audio = isfinite(r->audio_duration);
    if (!s->has_audio)
        add_check(r, "audio", sp->require_audio ? VP_QC_FAIL : VP_QC_NOT_APPLICABLE, NAN,
                  "no audio stream%s", sp->require_audio ? " (the spec requires audio)" : "");
    else if (!audio)
        add_check(r, "audio", VP_QC_FAIL, NAN, "the audio stream could not be measured");
    else
        add_check(r, "audio", VP_QC_PASS, NAN, "%s, %d Hz, %d channel%s", s->audio_codec,
                  s->sample_rate, s->channels, s->channels == 1 ? "" : "s");

    if (!audio) {
        static const char *const names[] = { "sample_peak", "true_peak", "loudness",
                                             "loudness_range" };
        for (int i = 0; i < 4; i++)
            add_check(r, names[i], VP_QC_NOT_APPLICABLE, NAN, "no audio measured");
    } else {
        add_check(r, "sample_peak", r->sample_peak > sp->max_sample_peak ? VP_QC_FAIL : VP_QC_PASS,
                  r->sample_peak, "%.1f dBFS (at most %.1f allowed)", r->sample_peak,
                  sp->max_sample_peak);
        add_check(r, "true_peak", r->true_peak > sp->max_true_peak ? VP_QC_FAIL : VP_QC_PASS,
                  r->true_peak, "%.1f dBTP (at most %.1f allowed)", r->true_peak,
                  sp->max_true_peak);
        add_check(r, "loudness",
                  !(r->loudness >= sp->min_loudness && r->loudness <= sp->max_loudness)
                      ? VP_QC_FAIL : VP_QC_PASS,
                  r->loudness, "%.1f LUFS integrated (%.1f to %.1f allowed)", r->loudness,
                  sp->min_loudness, sp->max_loudness);
        add_check(r, "loudness_range", r->lra > sp->max_lra ? VP_QC_FAIL : VP_QC_PASS, r->lra,
                  "%.1f LU (at most %.1f allowed)", r->lra, sp->max_lra);
    }
    stretch_check(r, "black", "black", r->black, r->nb_black, sp->max_black,
                  isfinite(r->video_duration));
    stretch_check(r, "silence", "silent", r->silence, r->nb_silence, sp->max_silence, audio);
    stretch_check(r, "freeze", "frozen", r->freeze, r->nb_freeze, sp->max_freeze,
                  isfinite(r->video_duration));

    if (audio && isfinite(r->video_duration)) {
        double diff = r->audio_duration - r->video_duration;
        add_check(r, "av_length", fabs(diff) > sp->max_av_diff ? VP_QC_FAIL : VP_QC_PASS, diff,
                  "audio %.2f s, video %.2f s: audio is %.2f s %s (at most %.2f s allowed)",
                  r->audio_duration, r->video_duration, fabs(diff),
                  diff >= 0 ? "longer" : "shorter", sp->max_av_diff);
    } else {
        add_check(r, "av_length", VP_QC_NOT_APPLICABLE, NAN, "needs both audio and video");
    }
}

#define O(...) VPI_OPT_ROW(VpQcOpts, __VA_ARGS__)

/* pipeline is the caller's wiring, not a setting: no row. */
static const VpiOption qc_options[] = {
    O(sheet, BOOL, 0, 0, 1, "carry a contact sheet (JPEG) of the file, from the same pass"),
    { NULL },
};
#undef O

const VpiOptTable vpi_qc_options = { "qc", qc_options, NULL };

void vp_qc_default_opts(VpQcOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_qc_options, o);
    o->pipeline = NULL;
}

/* The contact sheet goes through a temporary file: the still sink writes files. */
static int sheet_path(char *buf, size_t size)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, size, "%s/vidpipe-sheet-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(buf);
    if (fd < 0)
        return AVERROR(errno);
    close(fd);
    return 0;
}

static int read_whole(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return AVERROR(errno);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    int ret = 0;
    if (n <= 0 || n > (64 << 20) || !(*data = malloc((size_t)n)))
        ret = n <= 0 ? AVERROR_INVALIDDATA : AVERROR(ENOMEM);
    else if (fread(*data, 1, (size_t)n, f) != (size_t)n)
        ret = AVERROR(EIO);
    else
        *size = (size_t)n;
    fclose(f);
    if (ret < 0) {
        free(*data);
        *data = NULL;
    }
    return ret;
}

int vpi_qc_report_make(VpPipeline *p, VpiSink *sink, const char *path, const VpQcSpec *spec,
                       VpQcReport **out)
{
    VpQcReport *r = NULL;
    int ret;

    *out = NULL;
    if (!(r = calloc(1, sizeof(*r))) || !(r->path = strdup(path))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    r->source = *vp_pipeline_source(p);
    r->source.path = r->path;
    VpiQcData *d = vpi_sink_qc_data(sink);
    r->video_duration = d->video_end;
    r->audio_duration = d->audio_end;
    if (!isfinite(r->audio_duration) || !isfinite(d->loudness)) {
        r->audio_duration = NAN;
        r->sample_peak = r->true_peak = r->loudness = r->lra = NAN;
    } else {
        r->sample_peak = db(d->sample_peak);
        r->true_peak = db(d->true_peak);
        r->loudness = d->loudness;
        r->lra = d->lra;
    }
    /* The measurements move into the report. */
    r->black = d->black, r->nb_black = d->nb_black;
    r->silence = d->silence, r->nb_silence = d->nb_silence;
    r->freeze = d->freeze, r->nb_freeze = d->nb_freeze;
    r->momentary = d->momentary, r->nb_momentary = d->nb_momentary;
    d->black = d->silence = d->freeze = NULL;
    d->momentary = NULL;
    int nb;
    const VpDecodeError *errs = vp_pipeline_decode_errors(p, &nb, &r->nb_errors_total);
    if (nb) {
        if (!(r->errors = malloc((size_t)nb * sizeof(*errs)))) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        memcpy(r->errors, errs, (size_t)nb * sizeof(*errs));
        r->nb_errors = nb;
        /* Decoder threads report errors a few pictures late and out of order. */
        qsort(r->errors, (size_t)nb, sizeof(*r->errors), cmp_error);
    }
    double fd = r->source.fps.num > 0 ? (double)r->source.fps.den / r->source.fps.num : 0.04;
    if ((ret = merge_errors(r, fd)) < 0)
        goto end;
    judge(r, spec);
    *out = r;
    return 0;
end:
    if (r)
        free_report(r);
    return ret;
}

int vp_qc_run(const char *path, const VpQcSpec *spec, const VpQcOpts *opts, VpQcReport **out)
{
    VpQcOpts defo;
    char sheet[512] = "";
    VpQcSpec def;
    VpPipeline *p = NULL;
    VpQcReport *r = NULL;
    VpiSink *sink = NULL;
    int ret;

    *out = NULL;
    if (!spec) {
        vp_qc_default_spec(&def);
        spec = &def;
    }
    if (!opts) {
        vp_qc_default_opts(&defo);
        opts = &defo;
    }
    char why[256];
    if ((ret = vpi_opt_check(&vpi_qc_spec_options, spec, why, sizeof(why))) < 0) {
        vpi_log(opts->pipeline ? &opts->pipeline->logger : NULL, VP_LOG_ERROR, "%s", why);
        return ret;
    }
    if ((ret = vpi_opt_check_log(&vpi_qc_options, opts,
                                 opts->pipeline ? &opts->pipeline->logger : NULL, "qc")) < 0)
        return ret;
    if ((ret = vp_pipeline_open(path, opts->pipeline, &p)) < 0)
        return ret;
    VpiQcSinkOpts so = { .spec = *spec };
    if ((ret = vpi_pipeline_add_sink(p, "qc", &so, NULL, &sink)) < 0)
        goto end;
    /* Audio alone (a podcast, a dub) is checked too; it has no pictures for a sheet. */
    if (opts->sheet && vp_pipeline_source(p)->has_video) {
        VpThumbOpts to;
        vp_thumb_default_opts(&to);
        to.cols = 4;
        to.rows = 2;
        to.width = 200;
        to.path = sheet;
        if ((ret = sheet_path(sheet, sizeof(sheet))) < 0 ||
            (ret = vp_pipeline_add_thumb(p, &to)) < 0)
            goto end;
    }
    if ((ret = vp_pipeline_run(p)) < 0 || (ret = vpi_qc_report_make(p, sink, path, spec, &r)) < 0)
        goto end;
    if (sheet[0] && read_whole(sheet, &r->sheet, &r->sheet_size) < 0)
        vpi_log(opts->pipeline ? &opts->pipeline->logger : NULL, VP_LOG_WARNING,
                "%s: the contact sheet could not be made", path);
    *out = r;
    r = NULL;
    ret = 0;
end:
    if (sheet[0])
        unlink(sheet);
    if (r)
        free_report(r);
    vp_pipeline_close(&p);
    return ret;
}
