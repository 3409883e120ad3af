/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

/* Bodies nest at most this deep: the shapes we read are two levels; jansson's own limit is
 * 2048, far more than a hostile body should get to allocate. */
#define SV_JSON_DEPTH 8

static int fail(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* ---- JSON bodies ------------------------------------------------------------------------ */

static int depth_ok(json_t *v, int depth)
{
    if (depth > SV_JSON_DEPTH)
        return 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
            if (!depth_ok(m, depth + 1))
                return 0;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
            if (!depth_ok(m, depth + 1))
                return 0;
    }
    return 1;
}

/* The body as a JSON object, or NULL after saying why. */
static json_t *load_object(const char *body, size_t len, char *why, size_t why_size)
{
    json_error_t err;
    if (!len) {
        fail(why, why_size, "the body is empty, a JSON object was expected");
        return NULL;
    }
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        fail(why, why_size, "the body is not JSON: %s (line %d, column %d)", err.text,
             err.line, err.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fail(why, why_size, "the body is not a JSON object");
        return NULL;
    }
    if (!depth_ok(root, 0)) {
        json_decref(root);
        fail(why, why_size, "the body nests deeper than %d levels", SV_JSON_DEPTH);
        return NULL;
    }
    return root;
}

/* @p s as it may show in a line of ours: control characters as '?', cut with "..." past
 * @p size - 4 bytes. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    for (; *s && n < size - 4; s++)
        buf[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    buf[n] = 0;
    if (*s)
        memcpy(buf + n, "...", 4);
    return buf;
}

/* Members of @p o other than @p known (NULL-terminated) are refused. */
static int only_members(json_t *o, const char *const *known, const char *where, char *why,
                        size_t why_size)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++)
            ok = !strcmp(k, known[i]);
        if (!ok) {
            char name[48];
            return fail(why, why_size, "%sunknown member \"%s\"", where,
                        shown(k, name, sizeof(name)));
        }
    }
    return 0;
}

static int key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 32)
        return 0;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || is_digit(*k) || *k == '_' || *k == '-'))
            return 0;
    return 1;
}

int sv_query_reserved(const char *key)
{
    static const char *const reserved[] = {
        "filename", "status", "limit", "cursor", "expires", "sig", NULL,
    };
    for (int i = 0; reserved[i]; i++)
        if (!strcmp(key, reserved[i]))
            return 1;
    return 0;
}

int sv_options_add(char *buf, size_t size, const char *key, const char *value, char *why,
                   size_t why_size)
{
    char name[48];
    if (!key_ok(key))
        return fail(why, why_size, "option \"%s\": not an option name (1-32 of a-z, 0-9, "
                    "'_', '-')", shown(key, name, sizeof(name)));
    size_t vlen = strlen(value);
    if (!vlen || vlen > 256)
        return fail(why, why_size, "option \"%s\": the value must be 1-256 bytes", key);
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '&' || *p == '=')
            return fail(why, why_size, "option \"%s\": the value may not hold '&', '=' or "
                        "control characters", key);
    size_t used = strlen(buf);
    size_t need = used + (used ? 1 : 0) + strlen(key) + 1 + vlen;
    if (need >= size)
        return fail(why, why_size, "the options are longer than %zu bytes", size - 1);
    snprintf(buf + used, size - used, "%s%s=%s", used ? "&" : "", key, value);
    return 0;
}

/* "options": text as the query has it, or an object of scalars. Into @p buf. */
static int options_value(json_t *v, char *buf, size_t size, char *why, size_t why_size)
{
    buf[0] = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        /* "height=720&fps=15": each pair through the same checks as the query's */
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v))
            return fail(why, why_size, "\"options\": holds a NUL byte");
        if (!*s)
            return 0;
        char *copy = strdup(s);
        if (!copy)
            return fail(why, why_size, "out of memory");
        int ret = 0;
        char *save = NULL;
        for (char *pair = strtok_r(copy, "&", &save); pair && !ret;
             pair = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(pair, '=');
            if (!eq) {
                char text[48];
                ret = fail(why, why_size, "\"options\": \"%s\" is not NAME=VALUE",
                           shown(pair, text, sizeof(text)));
                break;
            }
            *eq = 0;
            ret = sv_options_add(buf, size, pair, eq + 1, why, why_size);
        }
        free(copy);
        if (ret < 0)
            buf[0] = 0;
        return ret;
    }
    if (!json_is_object(v))
        return fail(why, why_size, "\"options\": must be a string (\"height=720&fps=15\") or "
                    "an object ({\"height\": 720})");
    const char *k;
    json_t *m;
    json_object_foreach(v, k, m) {
        char val[64];
        const char *text = val;
        if (json_is_string(m)) {
            text = json_string_value(m);
            if (strlen(text) != json_string_length(m)) {
                char name[48];
                buf[0] = 0;
                return fail(why, why_size, "\"options\": \"%s\" holds a NUL byte",
                            shown(k, name, sizeof(name)));
            }
        } else if (json_is_integer(m)) {
            snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT, json_integer_value(m));
        } else if (json_is_real(m)) {
            snprintf(val, sizeof(val), "%.17g", json_real_value(m));
        } else if (json_is_boolean(m)) {
            snprintf(val, sizeof(val), "%s", json_is_true(m) ? "true" : "false");
        } else {
            char name[48];
            buf[0] = 0;
            return fail(why, why_size, "\"options\": \"%s\" must be a string, number or "
                        "boolean", shown(k, name, sizeof(name)));
        }
        if (sv_options_add(buf, size, k, text, why, why_size) < 0) {
            buf[0] = 0;
            return -1;
        }
    }
    return 0;
}

/* Member @p key of @p o as a string without NUL bytes: 1 and *out, 0 when absent or null,
 * -1 after saying why. */
static int get_string(json_t *o, const char *key, const char **out, char *why,
                      size_t why_size)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(why, why_size, "\"%s\": must be a string", key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return fail(why, why_size, "\"%s\": holds a NUL byte", key);
    *out = json_string_value(v);
    return 1;
}

/* Member @p key as an integer of at least @p min: 1 and *out, 0 when absent or null, -1. */
static int get_integer(json_t *o, const char *key, int64_t min, int64_t *out, char *why,
                       size_t why_size)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min)
        return fail(why, why_size, "\"%s\": must be an integer of at least %" PRId64, key,
                    min);
    *out = json_integer_value(v);
    return 1;
}

int sv_parse_upload_spec(const char *body, size_t len, VpUploadSpec *spec, json_t **keep,
                         char *options_buf, size_t options_size, char *why, size_t why_size)
{
    static const char *const known[] = {
        "filename", "size", "sha256", "part_size", "options", NULL,
    };
    memset(spec, 0, sizeof(*spec));
    *keep = NULL;
    options_buf[0] = 0;
    json_t *root = load_object(body, len, why, why_size);
    if (!root)
        return -1;
    int r;
    if (only_members(root, known, "", why, why_size) < 0)
        goto fail;
    if ((r = get_string(root, "filename", &spec->filename, why, why_size)) <= 0) {
        if (!r)
            fail(why, why_size, "\"filename\": required (the original's file name)");
        goto fail;
    }
    if ((r = get_integer(root, "size", 1, &spec->size, why, why_size)) <= 0) {
        if (!r)
            fail(why, why_size, "\"size\": required (the original's size in bytes)");
        goto fail;
    }
    if (get_string(root, "sha256", &spec->sha256, why, why_size) < 0 ||
        get_integer(root, "part_size", 1, &spec->part_size, why, why_size) < 0 ||
        options_value(json_object_get(root, "options"), options_buf, options_size, why,
                      why_size) < 0)
        goto fail;
    spec->options = options_buf[0] ? options_buf : NULL;
    *keep = root;
    return 0;
fail:
    json_decref(root);
    memset(spec, 0, sizeof(*spec));
    options_buf[0] = 0;
    return -1;
}

int sv_parse_complete(const char *body, size_t len, VpPartRef **parts, int *nb_parts,
                      const char **sha256, json_t **keep, char *why, size_t why_size)
{
    static const char *const known[] = { "parts", "sha256", NULL };
    static const char *const part_known[] = { "part_number", "etag", NULL };
    *parts = NULL;
    *nb_parts = 0;
    *sha256 = NULL;
    *keep = NULL;
    VpPartRef *p = NULL;
    json_t *root = load_object(body, len, why, why_size);
    if (!root)
        return -1;
    if (only_members(root, known, "", why, why_size) < 0 ||
        get_string(root, "sha256", sha256, why, why_size) < 0)
        goto fail;
    json_t *arr = json_object_get(root, "parts");
    if (!json_is_array(arr)) {
        fail(why, why_size, "\"parts\": required, an array of {\"part_number\", \"etag\"}");
        goto fail;
    }
    size_t n = json_array_size(arr);
    /* the service's parts are at least 1 MiB: 2^20 of them pass any sane upload */
    if (!n || n > (1 << 20)) {
        fail(why, why_size, "\"parts\": must list 1 to %d parts", 1 << 20);
        goto fail;
    }
    if (!(p = calloc(n, sizeof(*p)))) {
        fail(why, why_size, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        char where[48];
        snprintf(where, sizeof(where), "parts[%zu]: ", i);
        if (!json_is_object(e)) {
            fail(why, why_size, "%snot an object {\"part_number\", \"etag\"}", where);
            goto fail;
        }
        if (only_members(e, part_known, where, why, why_size) < 0)
            goto fail;
        json_t *num = json_object_get(e, "part_number");
        if (!json_is_integer(num) || json_integer_value(num) < 1 ||
            json_integer_value(num) > (1 << 20)) {
            fail(why, why_size, "%s\"part_number\": required, an integer 1..%d", where,
                 1 << 20);
            goto fail;
        }
        json_t *etag = json_object_get(e, "etag");
        if (!json_is_string(etag) ||
            strlen(json_string_value(etag)) != json_string_length(etag) ||
            !json_string_length(etag)) {
            fail(why, why_size, "%s\"etag\": required, the part's etag as its PUT answered",
                 where);
            goto fail;
        }
        p[i].part_number = (int)json_integer_value(num);
        p[i].etag = json_string_value(etag);
    }
    *parts = p;
    *nb_parts = (int)n;
    *keep = root;
    return 0;
fail:
    free(p);
    json_decref(root);
    *sha256 = NULL;
    return -1;
}

int sv_parse_link_request(const char *body, size_t len, char *path, size_t path_size,
                          int64_t *ttl, int64_t ttl_default, int64_t ttl_max, char *why,
                          size_t why_size)
{
    static const char *const known[] = { "path", "ttl", NULL };
    const char *p;
    int r;
    path[0] = 0;
    *ttl = ttl_default;
    json_t *root = load_object(body, len, why, why_size);
    if (!root)
        return -1;
    if (only_members(root, known, "", why, why_size) < 0 ||
        (r = get_string(root, "path", &p, why, why_size)) < 0)
        goto fail;
    if (!r) {
        fail(why, why_size, "\"path\": required (the path to sign, \"/api/v1/videos/1/proxy\")");
        goto fail;
    }
    if (p[0] != '/' || strpbrk(p, "?#")) {
        fail(why, why_size, "\"path\": must start with '/' and hold no query");
        goto fail;
    }
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
            fail(why, why_size, "\"path\": holds a space or control character");
            goto fail;
        }
    if (strlen(p) >= path_size) {
        fail(why, why_size, "\"path\": longer than %zu bytes", path_size - 1);
        goto fail;
    }
    json_t *t = json_object_get(root, "ttl");
    if (t && !json_is_null(t)) {
        if (!json_is_integer(t) || json_integer_value(t) < 1 ||
            json_integer_value(t) > ttl_max) {
            fail(why, why_size, "\"ttl\": must be an integer 1..%" PRId64 " (seconds)",
                 ttl_max);
            goto fail;
        }
        *ttl = json_integer_value(t);
    }
    snprintf(path, path_size, "%s", p);
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    path[0] = 0;
    return -1;
}

int sv_parse_options_body(const char *body, size_t len, char *buf, size_t size, char *why,
                          size_t why_size)
{
    static const char *const known[] = { "options", NULL };
    buf[0] = 0;
    if (!len)
        return 0;
    json_t *root = load_object(body, len, why, why_size);
    if (!root)
        return -1;
    int r = only_members(root, known, "", why, why_size);
    if (!r)
        r = options_value(json_object_get(root, "options"), buf, size, why, why_size);
    json_decref(root);
    return r;
}

/* ---- query values ----------------------------------------------------------------------- */

int sv_parse_decimal(const char *s, int64_t *v)
{
    int64_t n = 0;
    int digits = 0;
    if (!s)
        return -1;
    for (; is_digit(*s); s++) {
        if (++digits > 18)
            return -1;
        n = n * 10 + (*s - '0');
    }
    if (!digits || *s)
        return -1;
    *v = n;
    return 0;
}

int sv_parse_limit(const char *s, int *limit, char *why, size_t why_size)
{
    int64_t v;
    if (sv_parse_decimal(s, &v) < 0 || v < 1 || v > 1000) {
        char text[48];
        return fail(why, why_size, "limit \"%s\": must be an integer 1..1000",
                    shown(s ? s : "", text, sizeof(text)));
    }
    *limit = (int)v;
    return 0;
}

int sv_parse_status(const char *s, char *why, size_t why_size)
{
    static const char *const names[] = {
        "pending", "running", "completed", "failed", "cancelled", "uploading", NULL,
    };
    for (int i = 0; s && names[i]; i++)
        if (!strcmp(s, names[i]))
            return 0;
    char text[48];
    return fail(why, why_size, "status \"%s\": must be pending, running, completed, failed, "
                "cancelled or uploading", shown(s ? s : "", text, sizeof(text)));
}

int sv_parse_length(const char *s, int64_t *length)
{
    if (!s) {
        *length = -1;
        return 0;
    }
    return sv_parse_decimal(s, length);
}

/* ---- headers ---------------------------------------------------------------------------- */

/* Digits at *p: the value, or -1 when there are none or more than 18 (no overflow: a larger
 * position is past any file we hold, handled as "to the end"/unsatisfiable by the caller). */
static int64_t number_at(const char **p, int *too_long)
{
    int64_t v = 0;
    int digits = 0;
    *too_long = 0;
    while (is_digit(**p)) {
        if (++digits > 18)
            *too_long = 1;
        else
            v = v * 10 + (**p - '0');
        (*p)++;
    }
    return digits ? v : -1;
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int sv_parse_range(const char *h, int64_t size, int64_t *first, int64_t *last)
{
    if (!h)
        return SV_RANGE_WHOLE;
    const char *p = skip_ows(h);
    /* the unit is case-insensitive (RFC 9110 14.1) */
    if (strncasecmp(p, "bytes=", 6))
        return SV_RANGE_WHOLE;
    p = skip_ows(p + 6);
    int long_a = 0, long_b = 0;
    int64_t a = number_at(&p, &long_a), b = -1;
    if (*p != '-')
        return SV_RANGE_WHOLE;
    p++;
    b = number_at(&p, &long_b);
    p = skip_ows(p);
    if (*p)
        return SV_RANGE_WHOLE;   /* a list of ranges, or trailing bytes */
    if (a < 0) {
        /* "-N": the last N bytes; "-0" and an empty file cannot be served */
        if (b < 0)
            return SV_RANGE_WHOLE;
        if (b == 0 || size <= 0)
            return SV_RANGE_UNSATISFIABLE;
        *first = long_b || b >= size ? 0 : size - b;
        *last = size - 1;
        return SV_RANGE_PART;
    }
    if (b >= 0 && !long_a && (long_b ? 0 : b < a))
        return SV_RANGE_WHOLE;   /* B before A: invalid, so ignored */
    if (long_a || a >= size)
        return SV_RANGE_UNSATISFIABLE;
    *first = a;
    *last = b < 0 || long_b || b >= size ? size - 1 : b;
    return SV_RANGE_PART;
}

/* The opaque part of an entity tag at *p ("W/" dropped, quotes kept), its length in *len;
 * NULL when *p is not a tag. */
static const char *etag_at(const char *p, size_t *len)
{
    if (!strncmp(p, "W/", 2))
        p += 2;
    if (*p != '"')
        return NULL;
    const char *end = strchr(p + 1, '"');
    if (!end)
        return NULL;
    *len = (size_t)(end - p) + 1;
    return p;
}

int sv_etag_match(const char *h, const char *etag)
{
    if (!h || !etag)
        return 0;
    size_t want_len;
    const char *want = etag_at(etag, &want_len);
    const char *p = skip_ows(h);
    if (*p == '*')
        return *skip_ows(p + 1) == 0;
    if (!want)
        return 0;
    while (*p) {
        size_t len;
        const char *tag = etag_at(p, &len);
        if (!tag)
            return 0;
        if (len == want_len && !memcmp(tag, want, len))
            return 1;
        p = skip_ows(tag + len);
        if (*p == ',')
            p = skip_ows(p + 1);
        else if (*p)
            return 0;
    }
    return 0;
}
