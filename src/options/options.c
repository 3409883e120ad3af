/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The option tables: defaults, parsing, range checks and descriptions, one message form. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libavutil/error.h>
#include <libavutil/parseutils.h>

#include "options.h"
#include "util/internal.h"

/* The largest field any option type stores (a SIZE is two ints). */
typedef union OptSlot {
    int i[2];
    int64_t i64;
    double d;
    VpRational q;
    const char *p;
} OptSlot;

static const char *what_is(VpiOptType type)
{
    switch (type) {
    case VPI_OPT_INT: case VPI_OPT_INT64: return "an integer";
    case VPI_OPT_DOUBLE: return "a number";
    case VPI_OPT_BOOL: return "a boolean (1, 0, true, false)";
    case VPI_OPT_RATIONAL: return "a frame rate (30, 29.97, 30000/1001, ntsc)";
    case VPI_OPT_SIZE: return "a size (1280x720, hd720)";
    case VPI_OPT_BITRATE: return "a bitrate (2500000, 800k, 6M)";
    case VPI_OPT_DURATION: return "a duration in seconds (90, 1:30, 0.5)";
    default: return "a string";
    }
}

static const char *type_name(VpiOptType type)
{
    static const char *const names[] = {
        "int", "int64", "double", "bool", "string", "string", "enum", "rate", "size",
        "bitrate", "duration",
    };
    return names[type];
}

const VpiOption *vpi_opt_find(const VpiOptTable *t, const char *name)
{
    for (const VpiOption *o = t->options; o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    return NULL;
}

static int name_index(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

static void list_names(char *buf, size_t size, const char *const *names, const char *sep)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; names[i] && n < size; i++) {
        int w = snprintf(buf + n, size - n, "%s%s", i ? sep : "", names[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

static size_t field_size(const VpiOption *o)
{
    switch (o->type) {
    case VPI_OPT_INT: case VPI_OPT_BOOL: case VPI_OPT_ENUM: return sizeof(int);
    case VPI_OPT_INT64: case VPI_OPT_BITRATE: return sizeof(int64_t);
    case VPI_OPT_DOUBLE: case VPI_OPT_DURATION: return sizeof(double);
    case VPI_OPT_RATIONAL: return sizeof(VpRational);
    case VPI_OPT_SIZE: return 2 * sizeof(int);
    case VPI_OPT_CSTRING: return sizeof(const char *);
    case VPI_OPT_STRING: return o->size;
    }
    return 0;
}

/* The numeric value a range applies to; NaN for types without one. */
static double number_of(const VpiOption *o, const void *p)
{
    switch (o->type) {
    case VPI_OPT_INT: case VPI_OPT_BOOL: case VPI_OPT_ENUM: return *(const int *)p;
    case VPI_OPT_INT64: case VPI_OPT_BITRATE: return (double)*(const int64_t *)p;
    case VPI_OPT_DOUBLE: case VPI_OPT_DURATION: return *(const double *)p;
    case VPI_OPT_RATIONAL: {
        /* 0/0 and 0/1 are 0 (VPI_OPT_ZERO_OK: "the source's"); any other non-positive
         * rate is out of every range. */
        const VpRational *q = p;
        if (!q->num && q->den >= 0)
            return 0;
        return q->den > 0 && q->num > 0 ? (double)q->num / q->den : -1;
    }
    default:
        return NAN;
    }
}

static void format_value(const VpiOption *o, const void *p, char *buf, size_t size)
{
    switch (o->type) {
    case VPI_OPT_INT: case VPI_OPT_BOOL: snprintf(buf, size, "%d", *(const int *)p); break;
    case VPI_OPT_INT64: case VPI_OPT_BITRATE:
        snprintf(buf, size, "%lld", (long long)*(const int64_t *)p);
        break;
    case VPI_OPT_DOUBLE: case VPI_OPT_DURATION:
        snprintf(buf, size, "%g", *(const double *)p);
        break;
    case VPI_OPT_ENUM: {
        int v = *(const int *)p, n = 0;
        while (o->names[n])
            n++;
        if (v >= 0 && v < n)
            snprintf(buf, size, "%s", o->names[v]);
        else
            snprintf(buf, size, "%d", v);
        break;
    }
    case VPI_OPT_RATIONAL: {
        const VpRational *q = p;
        snprintf(buf, size, "%d/%d", q->num, q->den);
        break;
    }
    case VPI_OPT_SIZE: {
        const int *wh = p;
        snprintf(buf, size, "%dx%d", wh[0], wh[1]);
        break;
    }
    case VPI_OPT_CSTRING: {
        const char *s = *(const char *const *)p;
        snprintf(buf, size, "%s", s ? s : "");
        break;
    }
    case VPI_OPT_STRING: snprintf(buf, size, "%s", (const char *)p); break;
    }
}

/* The one message form for a value out of range. */
static int out_of_range(const VpiOption *o, const void *p, char *err, size_t err_size)
{
    char v[64];
    format_value(o, p, v, sizeof(v));
    if (o->type == VPI_OPT_RATIONAL)
        snprintf(err, err_size, "%s: value %s is out of range %g..%g frames/s%s", o->name, v,
                 o->min, o->max, o->flags & VPI_OPT_ZERO_OK ? " (or 0)" : "");
    else
        snprintf(err, err_size, "%s: value %s is out of range %.15g..%.15g%s", o->name, v,
                 o->min, o->max, o->flags & VPI_OPT_ZERO_OK ? " (or 0)" : "");
    return VP_ERR_BAD_OPTION;
}

/* Range check of one stored field. */
static int check_one(const VpiOption *o, const void *p, char *err, size_t err_size)
{
    switch (o->type) {
    case VPI_OPT_STRING: case VPI_OPT_CSTRING: {
        const char *s = o->type == VPI_OPT_STRING ? p : *(const char *const *)p;
        char list[256];
        if (o->names && (!s || name_index(o->names, s) < 0)) {
            list_names(list, sizeof(list), o->names, ", ");
            snprintf(err, err_size, "%s: '%s' is not one of %s", o->name, s ? s : "(null)",
                     list);
            return VP_ERR_BAD_OPTION;
        }
        if (o->type == VPI_OPT_STRING && strnlen(s, o->size) >= o->size) {
            snprintf(err, err_size, "%s: value is longer than %zu characters", o->name,
                     o->size - 1);
            return VP_ERR_BAD_OPTION;
        }
        if (o->type == VPI_OPT_CSTRING && s && o->max > 0 && strlen(s) > o->max) {
            snprintf(err, err_size, "%s: value is longer than %g characters", o->name, o->max);
            return VP_ERR_BAD_OPTION;
        }
        return 0;
    }
    case VPI_OPT_ENUM: {
        int v = *(const int *)p, n = 0;
        char list[256];
        while (o->names[n])
            n++;
        if (v < 0 || v >= n) {
            list_names(list, sizeof(list), o->names, ", ");
            snprintf(err, err_size, "%s: value %d is not one of %s", o->name, v, list);
            return VP_ERR_BAD_OPTION;
        }
        return 0;
    }
    case VPI_OPT_SIZE: {
        const int *wh = p;
        for (int i = 0; i < 2; i++)
            if (wh[i] < o->min || wh[i] > o->max ||
                ((o->flags & VPI_OPT_EVEN) && wh[i] % 2)) {
                char v[64];
                format_value(o, p, v, sizeof(v));
                snprintf(err, err_size, "%s: value %s is out of range %gx%g..%gx%g%s", o->name,
                         v, o->min, o->min, o->max, o->max,
                         o->flags & VPI_OPT_EVEN ? ", even sides" : "");
                return VP_ERR_BAD_OPTION;
            }
        return 0;
    }
    default: {
        double x = number_of(o, p);
        if ((o->flags & VPI_OPT_ZERO_OK) && x == 0)
            return 0;
        if (!(x >= o->min && x <= o->max))
            return out_of_range(o, p, err, err_size);
        if ((o->flags & VPI_OPT_EVEN) && o->type == VPI_OPT_INT && *(const int *)p % 2) {
            snprintf(err, err_size, "%s: value %d is not even", o->name, *(const int *)p);
            return VP_ERR_BAD_OPTION;
        }
        return 0;
    }
    }
}

static int parse_bool(const char *s)
{
    static const char *const yes[] = { "1", "true", "yes", "on", NULL };
    static const char *const no[] = { "0", "false", "no", "off", NULL };
    for (int i = 0; yes[i]; i++) {
        if (!strcasecmp(s, yes[i]))
            return 1;
        if (!strcasecmp(s, no[i]))
            return 0;
    }
    return -1;
}

static int parse_bitrate(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (end != s && !*end && !errno && n >= 0) {
        *out = n; /* a plain integer: exact, so a message shows the digits given */
        return 0;
    }
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || errno)
        return -1;
    if (*end == 'k' || *end == 'K')
        d *= 1e3, end++;
    else if (*end == 'M' || *end == 'm')
        d *= 1e6, end++;
    if (*end || !isfinite(d) || d < 0 || d > 1e15)
        return -1;
    *out = (int64_t)llround(d);
    return 0;
}

/* Text to a slot; -1 when the text is not of the option's type. */
static int parse_text(const VpiOption *o, const char *s, OptSlot *slot)
{
    char *end;
    errno = 0;
    switch (o->type) {
    case VPI_OPT_INT: case VPI_OPT_INT64: {
        long long v = strtoll(s, &end, 10);
        if (end == s || *end || errno)
            return -1;
        if (o->type == VPI_OPT_INT) {
            if (v < INT32_MIN || v > INT32_MAX)
                return -1;
            slot->i[0] = (int)v;
        } else
            slot->i64 = v;
        return 0;
    }
    case VPI_OPT_DOUBLE: {
        double v = strtod(s, &end);
        if (end == s || *end || errno || !isfinite(v))
            return -1;
        slot->d = v;
        return 0;
    }
    case VPI_OPT_BOOL: return (slot->i[0] = parse_bool(s)) < 0 ? -1 : 0;
    case VPI_OPT_ENUM: return (slot->i[0] = name_index(o->names, s)) < 0 ? -1 : 0;
    case VPI_OPT_RATIONAL: {
        AVRational q;
        if (!*s || av_parse_video_rate(&q, s) < 0)
            return -1;
        /* "29.97" means NTSC's 30000/1001, not 2997/100: a decimal within 0.002 of
         * N * 1000/1001 is that rate (23.976, 29.97, 59.94), as the old encode-raw read it. */
        double ntsc = strtod(s, NULL) * 1.001;
        if (strchr(s, '.') && !strpbrk(s, "/:") && ntsc >= 1 && ntsc <= 1e6 &&
            fabs(ntsc - lround(ntsc)) < 0.002)
            q = (AVRational){ (int)lround(ntsc) * 1000, 1001 };
        slot->q = (VpRational){ q.num, q.den };
        return 0;
    }
    case VPI_OPT_SIZE:
        return !*s || av_parse_video_size(&slot->i[0], &slot->i[1], s) < 0 ? -1 : 0;
    case VPI_OPT_BITRATE: return parse_bitrate(s, &slot->i64);
    case VPI_OPT_DURATION: {
        int64_t us;
        if (!*s || av_parse_time(&us, s, 1) < 0)
            return -1;
        slot->d = us / 1e6;
        return 0;
    }
    case VPI_OPT_CSTRING:
        slot->p = s;
        return 0;
    case VPI_OPT_STRING:
        return 0; /* copied by the caller: it may not fit a slot */
    }
    return -1;
}

/* Check @p slot and store it (or @p text for a STRING) into @p obj. */
static int store(const VpiOption *o, void *obj, const OptSlot *slot, const char *text,
                 char *err, size_t err_size)
{
    char *p = (char *)obj + o->offset;
    if (o->type == VPI_OPT_STRING) {
        size_t len = strlen(text);
        if (len >= o->size) {
            snprintf(err, err_size, "%s: value is longer than %zu characters", o->name,
                     o->size - 1);
            return VP_ERR_BAD_OPTION;
        }
        int ret = check_one(o, text, err, err_size);
        if (ret < 0)
            return ret;
        memcpy(p, text, len + 1);
        return 0;
    }
    int ret = check_one(o, slot, err, err_size);
    if (ret < 0)
        return ret;
    memcpy(p, slot, field_size(o));
    return 0;
}

static int not_a(const VpiOption *o, const char *text, char *err, size_t err_size)
{
    if (o->names) {
        char list[256];
        list_names(list, sizeof(list), o->names, ", ");
        snprintf(err, err_size, "%s: '%s' is not one of %s", o->name, text, list);
    } else
        snprintf(err, err_size, "%s: '%s' is not %s", o->name, text, what_is(o->type));
    return VP_ERR_BAD_OPTION;
}

static const VpiOption *find_or_fail(const VpiOptTable *t, const char *name, char *err,
                                     size_t err_size)
{
    const VpiOption *o = vpi_opt_find(t, name);
    if (!o)
        snprintf(err, err_size, "unknown option %s", name);
    return o;
}

int vpi_opt_set(const VpiOptTable *t, void *obj, const char *name, const char *text,
                char *err, size_t err_size)
{
    OptSlot slot = { 0 };
    const VpiOption *o = find_or_fail(t, name, err, err_size);
    if (!o)
        return AVERROR_OPTION_NOT_FOUND;
    if (!text || parse_text(o, text, &slot) < 0)
        return not_a(o, text ? text : "", err, err_size);
    return store(o, obj, &slot, text, err, err_size);
}

int vpi_opt_set_value(const VpiOptTable *t, void *obj, const char *name, const VpiValue *v,
                      char *err, size_t err_size)
{
    OptSlot slot = { 0 };
    char num[64];
    const VpiOption *o = find_or_fail(t, name, err, err_size);
    if (!o)
        return AVERROR_OPTION_NOT_FOUND;
    int is_num = v->type == VPI_VALUE_INT || v->type == VPI_VALUE_REAL;
    double x = v->type == VPI_VALUE_REAL ? v->d : (double)v->i;
    if (v->type == VPI_VALUE_INT)
        snprintf(num, sizeof(num), "%lld", (long long)v->i);
    else
        snprintf(num, sizeof(num), "%.17g", v->d);

    switch (o->type) {
    case VPI_OPT_INT: case VPI_OPT_INT64:
        if (!is_num)
            goto wrong_type;
        if (v->type == VPI_VALUE_REAL && (v->d != floor(v->d) || fabs(v->d) > 9e15))
            return not_a(o, num, err, err_size);
        if (o->type == VPI_OPT_INT64)
            slot.i64 = v->type == VPI_VALUE_INT ? v->i : (int64_t)v->d;
        else if (x < INT32_MIN || x > INT32_MAX) {
            slot.i64 = v->type == VPI_VALUE_INT ? v->i : (int64_t)x; /* exact in the message */
            return out_of_range(&(VpiOption){ .name = o->name, .type = VPI_OPT_INT64,
                                              .min = o->min, .max = o->max, .flags = o->flags },
                                &slot, err, err_size);
        } else
            slot.i[0] = (int)x;
        return store(o, obj, &slot, NULL, err, err_size);
    case VPI_OPT_DOUBLE: case VPI_OPT_DURATION:
        if (!is_num)
            break; /* a DURATION may be text ("1:30"); a DOUBLE fails below */
        slot.d = x;
        return store(o, obj, &slot, NULL, err, err_size);
    case VPI_OPT_BOOL:
        if (v->type == VPI_VALUE_BOOL || (is_num && (x == 0 || x == 1))) {
            slot.i[0] = v->type == VPI_VALUE_BOOL ? !!v->i : (int)x;
            return store(o, obj, &slot, NULL, err, err_size);
        }
        goto wrong_type;
    case VPI_OPT_RATIONAL: case VPI_OPT_BITRATE:
        /* a JSON number is bits/s: a whole one (text takes "2.5M") */
        if (o->type == VPI_OPT_BITRATE && v->type == VPI_VALUE_REAL && v->d != floor(v->d))
            return not_a(o, num, err, err_size);
        if (is_num)
            return vpi_opt_set(t, obj, name, num, err, err_size);
        break;
    default:
        break;
    }
    if (v->type != VPI_VALUE_STRING || o->type == VPI_OPT_DOUBLE)
        goto wrong_type;
    return vpi_opt_set(t, obj, name, v->s, err, err_size);

wrong_type:
    snprintf(err, err_size, "%s: the value must be %s", o->name, what_is(o->type));
    return VP_ERR_BAD_OPTION;
}

void vpi_opt_defaults(const VpiOptTable *t, void *obj)
{
    for (const VpiOption *o = t->options; o->name; o++) {
        char *p = (char *)obj + o->offset;
        OptSlot slot = { 0 };
        switch (o->type) {
        case VPI_OPT_INT: case VPI_OPT_BOOL: case VPI_OPT_ENUM: *(int *)p = (int)o->def; break;
        case VPI_OPT_INT64: case VPI_OPT_BITRATE: *(int64_t *)p = (int64_t)o->def; break;
        case VPI_OPT_DOUBLE: case VPI_OPT_DURATION: *(double *)p = o->def; break;
        case VPI_OPT_CSTRING: *(const char **)p = o->def_str; break;
        case VPI_OPT_STRING: vpi_strlcpy(p, o->def_str ? o->def_str : "", o->size); break;
        case VPI_OPT_RATIONAL: case VPI_OPT_SIZE:
            /* Table defaults are literals the parser reads; a typo shows in test_options. */
            if (o->def_str && parse_text(o, o->def_str, &slot) == 0)
                memcpy(p, &slot, field_size(o));
            else
                memset(p, 0, field_size(o));
            break;
        }
    }
}

int vpi_opt_check_log(const VpiOptTable *t, const void *obj, const VpLogger *lg,
                      const char *prefix)
{
    char why[256];
    int ret = vpi_opt_check(t, obj, why, sizeof(why));
    if (ret < 0)
        vpi_log(lg, VP_LOG_ERROR, "%s: %s", prefix, why);
    return ret;
}

int vpi_opt_check(const VpiOptTable *t, const void *obj, char *err, size_t err_size)
{
    char local[256];
    if (!err || !err_size) {
        err = local;
        err_size = sizeof(local);
    }
    for (const VpiOption *o = t->options; o->name; o++) {
        if (o->flags & VPI_OPT_ALIAS)
            continue;
        int ret = check_one(o, (const char *)obj + o->offset, err, err_size);
        if (ret < 0)
            return ret;
    }
    return t->check ? t->check(obj, err, err_size) : 0;
}

/* ---- public ------------------------------------------------------------------------ */

const VpOptionTable *vp_option_table(const char *name)
{
    static const VpiOptTable *const tables[] = {
        &vpi_writer_options, &vpi_proxy_options, &vpi_qc_spec_options, &vpi_loudnorm_options,
        &vpi_cleanup_options, &vpi_join_options, &vpi_replace_audio_options,
        &vpi_thumb_options, &vpi_pipeline_options, &vpi_encode_options,
        &vpi_probe_options, &vpi_batch_options, &vpi_qc_options, &vpi_subs_burn_options,
        &vpi_transcribe_options, &vpi_hls_options,
    };
    for (size_t i = 0; name && i < sizeof(tables) / sizeof(tables[0]); i++)
        if (!strcmp(tables[i]->name, name))
            return tables[i];
    return NULL;
}

int vp_option_info(const VpOptionTable *t, int index, VpOptionInfo *info)
{
    int n = 0;
    if (!t || !info)
        return AVERROR(EINVAL);
    while (t->options[n].name)
        n++;
    if (index < 0 || index >= n)
        return AVERROR(ENOENT);
    const VpiOption *o = &t->options[index];
    memset(info, 0, sizeof(*info));
    info->name = o->name;
    info->help = o->help;
    info->type = type_name(o->type);
    switch (o->type) {
    case VPI_OPT_CSTRING: case VPI_OPT_STRING: case VPI_OPT_RATIONAL: case VPI_OPT_SIZE:
        snprintf(info->def, sizeof(info->def), "%s", o->def_str ? o->def_str : "");
        break;
    case VPI_OPT_ENUM: {
        int d = (int)o->def;
        format_value(o, &d, info->def, sizeof(info->def));
        break;
    }
    default:
        snprintf(info->def, sizeof(info->def), "%.15g", o->def);
    }
    if (o->names)
        list_names(info->range, sizeof(info->range), o->names, "|");
    else if (o->type != VPI_OPT_CSTRING && o->type != VPI_OPT_STRING &&
             o->type != VPI_OPT_BOOL && o->min < o->max)
        snprintf(info->range, sizeof(info->range), "%.15g..%.15g%s", o->min, o->max,
                 o->flags & VPI_OPT_ZERO_OK ? " (or 0)" : "");
    return 0;
}

int vp_option_set(const VpOptionTable *t, void *obj, const char *name, const char *value,
                  char *err, size_t err_size)
{
    char local[256];
    if (!err || !err_size) {
        err = local;
        err_size = sizeof(local);
    }
    if (!t || !obj || !name) {
        snprintf(err, err_size, "no option table, struct or name");
        return AVERROR(EINVAL);
    }
    return vpi_opt_set(t, obj, name, value, err, err_size);
}

int vp_option_check(const VpOptionTable *t, const void *obj, char *err, size_t err_size)
{
    if (!t || !obj) {
        if (err && err_size)
            snprintf(err, err_size, "no option table or struct");
        return AVERROR(EINVAL);
    }
    return vpi_opt_check(t, obj, err, err_size);
}
