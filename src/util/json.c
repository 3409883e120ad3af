/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* User files (presets, QC specs) read with jansson: untrusted input, so bounded in size,
 * strict about syntax and UTF-8, and every failure says where. Plus the declarative field
 * tables that map JSON objects onto option structs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "json.h"

#define MAX_TEXT (1 << 20)

int vpi_json_parse(const char *text, size_t len, json_t **out, char *err, size_t err_size)
{
    json_error_t je;

    *out = NULL;
    if (err && err_size)
        err[0] = 0;
    if (len > MAX_TEXT) {
        if (err)
            snprintf(err, err_size, "larger than %d bytes", MAX_TEXT);
        return AVERROR_INVALIDDATA;
    }
    /* JSON_DECODE_ANY: a top-level number is refused by the caller's type check, with the
     * caller's words ("QC spec must be a JSON object"). \u0000 stays refused (no
     * JSON_ALLOW_NUL): a C string cannot carry it. */
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!root) {
        if (!err)
            return AVERROR_INVALIDDATA;
        if (json_error_code(&je) == json_error_out_of_memory)
            return AVERROR(ENOMEM);
        if (json_error_code(&je) == json_error_invalid_utf8)
            snprintf(err, err_size, "line %d, column %d: not valid UTF-8", je.line, je.column);
        else
            snprintf(err, err_size, "line %d, column %d: %s", je.line, je.column, je.text);
        return AVERROR_INVALIDDATA;
    }
    *out = root;
    return 0;
}

int vpi_json_read_file(const char *path, json_t **out, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    int ret;

    *out = NULL;
    if (!f) {
        ret = AVERROR(errno);
        snprintf(err, err_size, "%s", av_err2str(ret));
        return ret;
    }
    if (!(buf = malloc(MAX_TEXT + 1))) {
        fclose(f);
        return AVERROR(ENOMEM);
    }
    n = fread(buf, 1, MAX_TEXT + 1, f);
    ret = ferror(f) ? AVERROR(EIO) : 0;
    fclose(f);
    if (ret < 0)
        snprintf(err, err_size, "read error");
    else
        ret = vpi_json_parse(buf, n, out, err, err_size);
    free(buf);
    return ret;
}

/* A numeric field's value, stored as the field's C type. */
static void store_number(const VpiField *f, char *p, double x)
{
    switch (f->type) {
    case VPI_FIELD_INT:
    case VPI_FIELD_BOOL:
        *(int *)p = (int)x;
        break;
    case VPI_FIELD_INT64:
        *(int64_t *)p = (int64_t)x;
        break;
    case VPI_FIELD_DOUBLE:
        *(double *)p = x;
        break;
    default:
        break;
    }
}

/* An integer field's value, exactly: a JSON integer as written, or a real with no fraction
 * that fits ("5e6"). 0, or -1 when @p v is no integer. */
static int integer_of(const json_t *v, int64_t *x)
{
    if (json_is_integer(v)) {
        *x = (int64_t)json_integer_value(v);
        return 0;
    }
    double d = json_real_value(v);
    /* 2^63 is exact as a double; anything at or past it does not fit an int64_t. */
    if (!json_is_real(v) || d != floor(d) || d >= 9223372036854775808.0 ||
        d < -9223372036854775808.0)
        return -1;
    *x = (int64_t)d;
    return 0;
}

int vpi_fields_apply(const VpiField *fields, void *dst, const json_t *obj, const char *what,
                     char *err, size_t err_size)
{
    const char *key;
    json_t *v;

    if (!json_is_object(obj)) {
        snprintf(err, err_size, "%s must be a JSON object", what);
        return AVERROR_INVALIDDATA;
    }
    json_object_foreach((json_t *)obj, key, v) {
        const VpiField *f = fields;
        while (f->name && strcmp(f->name, key))
            f++;
        if (!f->name) {
            snprintf(err, err_size, "%s: unknown field \"%s\"", what, key);
            return AVERROR_INVALIDDATA;
        }
        char *p = (char *)dst + f->offset;
        if (f->type == VPI_FIELD_STR) {
            const char *str = json_string_value(v);
            if (!str || strlen(str) >= f->size || !str[0]) {
                snprintf(err, err_size, "%s: \"%s\" must be a non-empty string of at most %zu "
                         "characters", what, key, f->size - 1);
                return AVERROR_INVALIDDATA;
            }
            memcpy(p, str, strlen(str) + 1);
            continue;
        }
        if (!json_is_number(v) && !(f->type == VPI_FIELD_BOOL && json_is_boolean(v))) {
            snprintf(err, err_size, "%s: \"%s\" must be a %s", what, key,
                     f->type == VPI_FIELD_BOOL ? "boolean" : "number");
            return AVERROR_INVALIDDATA;
        }
        if (f->type == VPI_FIELD_DOUBLE) {
            double x = json_number_value(v);
            if (!(x >= f->min && x <= f->max)) {
                snprintf(err, err_size, "%s: \"%s\" must be a number from %g to %g, not %g",
                         what, key, f->min, f->max, x);
                return AVERROR_INVALIDDATA;
            }
            *(double *)p = x;
            continue;
        }
        int64_t x;
        if (json_is_boolean(v))
            x = json_is_true(v);
        else if (integer_of(v, &x) < 0) {
            snprintf(err, err_size, "%s: \"%s\" must be an integer from %g to %g, not %g", what,
                     key, f->min, f->max, json_number_value(v));
            return AVERROR_INVALIDDATA;
        }
        /* The bounds are whole numbers below 2^53, so compare them as int64_t: exact. */
        if (x < (int64_t)f->min || x > (int64_t)f->max) {
            snprintf(err, err_size, "%s: \"%s\" must be an integer from %g to %g, not %lld",
                     what, key, f->min, f->max, (long long)x);
            return AVERROR_INVALIDDATA;
        }
        if (f->type == VPI_FIELD_INT64)
            *(int64_t *)p = x;
        else
            *(int *)p = (int)x;
    }
    return 0;
}

void vpi_fields_defaults(const VpiField *fields, void *dst)
{
    for (const VpiField *f = fields; f->name; f++) {
        char *p = (char *)dst + f->offset;
        if (f->type == VPI_FIELD_STR)
            vpi_strlcpy(p, f->def_str ? f->def_str : "", f->size);
        else
            store_number(f, p, f->def);
    }
}

int vpi_fields_check(const VpiField *fields, const void *src, const char *what, char *err,
                     size_t err_size)
{
    for (const VpiField *f = fields; f->name; f++) {
        const char *p = (const char *)src + f->offset;
        double x;
        switch (f->type) {
        case VPI_FIELD_INT:
        case VPI_FIELD_BOOL:
            x = *(const int *)p;
            break;
        case VPI_FIELD_INT64:
            x = (double)*(const int64_t *)p;
            break;
        case VPI_FIELD_DOUBLE:
            x = *(const double *)p;
            break;
        default:
            continue;
        }
        if (!(x >= f->min && x <= f->max)) {
            snprintf(err, err_size, "%s: %s must be from %g to %g, not %g", what, f->name,
                     f->min, f->max, x);
            return VP_ERR_BAD_OPTION;
        }
    }
    return 0;
}
