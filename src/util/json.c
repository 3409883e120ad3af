/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small JSON reader for user files (presets, QC specs): untrusted input, so bounded in
 * depth and size, strict about syntax, and every failure says where. Plus the declarative
 * field tables that map JSON objects onto option structs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "json.h"

#define MAX_DEPTH 32
#define MAX_TEXT (1 << 20)

typedef struct Parser {
    const char *p, *end, *start;
    int depth;
    char *err;
    size_t err_size;
} Parser;

static int fail(Parser *ps, const char *what)
{
    if (ps->err && !ps->err[0])
        snprintf(ps->err, ps->err_size, "%s at byte %ld", what, (long)(ps->p - ps->start));
    return AVERROR_INVALIDDATA;
}

static void skip_ws(Parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
                               *ps->p == '\r'))
        ps->p++;
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            *v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    return 0;
}

static size_t put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    } else if (cp < 0x800) {
        d[0] = (char)(0xc0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    } else if (cp < 0x10000) {
        d[0] = (char)(0xe0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int parse_string(Parser *ps, char **out)
{
    const char *s = ++ps->p; /* after the quote */
    size_t n = 0;
    /* The decoded string is never longer than its source. */
    while (ps->p < ps->end && *ps->p != '"') {
        if (*ps->p == '\\')
            ps->p++;
        ps->p++;
    }
    if (ps->p >= ps->end)
        return fail(ps, "unterminated string");
    char *d = malloc((size_t)(ps->p - s) + 1);
    if (!d)
        return AVERROR(ENOMEM);
    for (const char *q = s; q < ps->p; q++) {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20) {
            free(d);
            ps->p = q;
            return fail(ps, "control character in string");
        }
        if (c != '\\') {
            d[n++] = (char)c;
            continue;
        }
        q++;
        switch (*q) {
        case '"': d[n++] = '"'; break;
        case '\\': d[n++] = '\\'; break;
        case '/': d[n++] = '/'; break;
        case 'b': d[n++] = '\b'; break;
        case 'f': d[n++] = '\f'; break;
        case 'n': d[n++] = '\n'; break;
        case 'r': d[n++] = '\r'; break;
        case 't': d[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (ps->p - q < 5 || hex4(q + 1, &cp) < 0) {
                free(d);
                ps->p = q;
                return fail(ps, "bad \\u escape");
            }
            q += 4;
            /* Surrogates (and NUL) are not allowed in the names and values vidpipe reads. */
            if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
                free(d);
                ps->p = q;
                return fail(ps, "unsupported \\u escape");
            }
            n += put_utf8(d + n, cp);
            break;
        }
        default:
            free(d);
            ps->p = q;
            return fail(ps, "bad escape");
        }
    }
    d[n] = 0;
    ps->p++; /* closing quote */
    *out = d;
    return 0;
}

static int parse_value(Parser *ps, VpiJson *v);

static int push(VpiJson *v, VpiJson **slot, char *key)
{
    if (v->nb == v->cap) {
        int cap = v->cap ? v->cap * 2 : 8;
        VpiJson *items = realloc(v->items, (size_t)cap * sizeof(*items));
        if (!items)
            return AVERROR(ENOMEM);
        v->items = items;
        char **keys = realloc(v->keys, (size_t)cap * sizeof(*keys));
        if (!keys)
            return AVERROR(ENOMEM);
        v->keys = keys;
        v->cap = cap;
    }
    memset(&v->items[v->nb], 0, sizeof(v->items[0]));
    v->keys[v->nb] = key;
    *slot = &v->items[v->nb++];
    return 0;
}

static int parse_container(Parser *ps, VpiJson *v, int object)
{
    int ret;
    char close = object ? '}' : ']';

    if (++ps->depth > MAX_DEPTH)
        return fail(ps, "nested too deeply");
    v->type = object ? VPI_JSON_OBJECT : VPI_JSON_ARRAY;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        VpiJson *item;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "expected a quoted key");
            if ((ret = parse_string(ps, &key)) < 0)
                return ret;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                return fail(ps, "expected ':'");
            }
            ps->p++;
        }
        if ((ret = push(v, &item, key)) < 0) {
            free(key);
            return ret;
        }
        if ((ret = parse_value(ps, item)) < 0)
            return ret;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return 0;
        }
        return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_number(Parser *ps, VpiJson *v)
{
    const char *s = ps->p;
    char buf[64];
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return fail(ps, "bad number");
    while (ps->p < ps->end && ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '.' ||
                               *ps->p == 'e' || *ps->p == 'E' || *ps->p == '+' || *ps->p == '-'))
        ps->p++;
    size_t n = (size_t)(ps->p - s);
    if (n >= sizeof(buf))
        return fail(ps, "number too long");
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    v->num = strtod(buf, &end);
    if (*end || errno || !isfinite(v->num)) {
        ps->p = s;
        return fail(ps, "bad number");
    }
    v->type = VPI_JSON_NUMBER;
    return 0;
}

static int literal(Parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
        return 0;
    ps->p += n;
    return 1;
}

static int parse_value(Parser *ps, VpiJson *v)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end");
    switch (*ps->p) {
    case '{': return parse_container(ps, v, 1);
    case '[': return parse_container(ps, v, 0);
    case '"':
        v->type = VPI_JSON_STRING;
        return parse_string(ps, &v->str);
    case 't':
    case 'f':
    case 'n':
        if (literal(ps, "true")) {
            v->type = VPI_JSON_BOOL;
            v->num = 1;
        } else if (literal(ps, "false")) {
            v->type = VPI_JSON_BOOL;
        } else if (literal(ps, "null")) {
            v->type = VPI_JSON_NULL;
        } else {
            return fail(ps, "unknown word");
        }
        return 0;
    default:
        return parse_number(ps, v);
    }
}

static void clear(VpiJson *v)
{
    for (int i = 0; i < v->nb; i++) {
        clear(&v->items[i]);
        free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

void vpi_json_free(VpiJson **v)
{
    if (!v || !*v)
        return;
    clear(*v);
    free(*v);
    *v = NULL;
}

int vpi_json_parse(const char *text, size_t len, VpiJson **out, char *err, size_t err_size)
{
    Parser ps = { .p = text, .end = text + len, .start = text, .err = err, .err_size = err_size };
    int ret;

    *out = NULL;
    if (err && err_size)
        err[0] = 0;
    if (len > MAX_TEXT) {
        if (err)
            snprintf(err, err_size, "larger than %d bytes", MAX_TEXT);
        return AVERROR_INVALIDDATA;
    }
    VpiJson *v = calloc(1, sizeof(*v));
    if (!v)
        return AVERROR(ENOMEM);
    if ((ret = parse_value(&ps, v)) < 0)
        goto fail;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        ret = fail(&ps, "trailing characters");
        goto fail;
    }
    *out = v;
    return 0;
fail:
    vpi_json_free(&v);
    return ret;
}

int vpi_json_read_file(const char *path, VpiJson **out, char *err, size_t err_size)
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

const VpiJson *vpi_json_get(const VpiJson *obj, const char *key)
{
    if (!obj || obj->type != VPI_JSON_OBJECT)
        return NULL;
    for (int i = obj->nb - 1; i >= 0; i--)
        if (!strcmp(obj->keys[i], key))
            return &obj->items[i];
    return NULL;
}

void vpi_json_write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}
