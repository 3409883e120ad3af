/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The small XML reader of S3's answers (s3_xml.h). S3 writes plain documents: a prolog, one
 * root, elements with text, no DTD. Anything else is refused rather than guessed at: a DTD
 * (entity expansion), unknown entities, unbalanced tags, trailing content. */
#include <string.h>

#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "service/s3_xml.h"

enum {
    MAX_DEPTH = 32,
    MAX_NAME = 256,
    MAX_TEXT = 64 << 10,
};

typedef struct Parser {
    const char *s;
    size_t size, pos;
    char path[MAX_DEPTH * (MAX_NAME + 1) + 1];
    size_t path_len[MAX_DEPTH + 1];     /* path length with 0..depth elements */
    int has_child[MAX_DEPTH + 1];
    int depth;
    AVBPrint text;
} Parser;

static int starts(const Parser *p, const char *lit)
{
    size_t n = strlen(lit);
    return p->size - p->pos >= n && !memcmp(p->s + p->pos, lit, n);
}

/* Move past the next @p end; INVALIDDATA when there is none. */
static int skip_past(Parser *p, const char *end)
{
    size_t n = strlen(end);
    for (size_t i = p->pos; i + n <= p->size; i++)
        if (!memcmp(p->s + i, end, n)) {
            p->pos = i + n;
            return 0;
        }
    return AVERROR_INVALIDDATA;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == ':' || c == '.' || c == '-' || c >= 0x80;
}

/* A name at pos: its start and length (1..MAX_NAME). */
static int read_name(Parser *p, const char **name, size_t *len)
{
    size_t start = p->pos;
    while (p->pos < p->size && name_char((unsigned char)p->s[p->pos]))
        p->pos++;
    *len = p->pos - start;
    *name = p->s + start;
    if (!*len || *len > MAX_NAME || (*name)[0] == ':' || (*name)[0] == '-' ||
        (*name)[0] == '.' || ((*name)[0] >= '0' && (*name)[0] <= '9'))
        return AVERROR_INVALIDDATA;
    /* at most one ":" (a namespace prefix), with a local name after it */
    const char *colon = memchr(*name, ':', *len);
    if (colon && (colon == *name + *len - 1 || memchr(colon + 1, ':', *name + *len - colon - 1)))
        return AVERROR_INVALIDDATA;
    return 0;
}

static void local_name(const char **name, size_t *len)
{
    const char *colon = memchr(*name, ':', *len);
    if (colon && colon + 1 < *name + *len) {
        *len -= colon + 1 - *name;
        *name = colon + 1;
    }
}

static void put_utf8(AVBPrint *bp, unsigned cp)
{
    char b[4];
    int n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12);
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | cp >> 18);
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    av_bprint_append_data(bp, b, n);
}

/* An entity reference at pos ("&...;"), decoded into the text. */
static int read_entity(Parser *p)
{
    static const struct { const char *name; char c; } named[] = {
        { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
    };
    p->pos++;
    for (size_t i = 0; i < sizeof(named) / sizeof(*named); i++)
        if (starts(p, named[i].name)) {
            p->pos += strlen(named[i].name);
            av_bprint_chars(&p->text, named[i].c, 1);
            return 0;
        }
    if (starts(p, "#")) {
        int hex = p->pos + 1 < p->size && p->s[p->pos + 1] == 'x';
        unsigned cp = 0;
        int digits = 0;
        p->pos += 1 + hex;
        for (; p->pos < p->size && p->s[p->pos] != ';'; p->pos++, digits++) {
            char c = p->s[p->pos];
            int v = c >= '0' && c <= '9' ? c - '0' :
                    hex && c >= 'a' && c <= 'f' ? c - 'a' + 10 :
                    hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v < 0 || digits >= 8)
                return AVERROR_INVALIDDATA;
            cp = cp * (hex ? 16 : 10) + (unsigned)v;
        }
        if (p->pos >= p->size || !digits || cp == 0 || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return AVERROR_INVALIDDATA;
        p->pos++;
        put_utf8(&p->text, cp);
        return 0;
    }
    return AVERROR_INVALIDDATA;
}

/* Attributes up to ">" or "/>"; sets *empty for the latter. */
static int skip_attributes(Parser *p, int *empty)
{
    for (;;) {
        while (p->pos < p->size && is_space(p->s[p->pos]))
            p->pos++;
        if (p->pos >= p->size)
            return AVERROR_INVALIDDATA;
        if (starts(p, "/>")) {
            p->pos += 2;
            *empty = 1;
            return 0;
        }
        if (p->s[p->pos] == '>') {
            p->pos++;
            *empty = 0;
            return 0;
        }
        const char *name;
        size_t len;
        int ret;
        if ((ret = read_name(p, &name, &len)) < 0)
            return ret;
        while (p->pos < p->size && is_space(p->s[p->pos]))
            p->pos++;
        if (p->pos >= p->size || p->s[p->pos] != '=')
            return AVERROR_INVALIDDATA;
        p->pos++;
        while (p->pos < p->size && is_space(p->s[p->pos]))
            p->pos++;
        if (p->pos >= p->size || (p->s[p->pos] != '"' && p->s[p->pos] != '\''))
            return AVERROR_INVALIDDATA;
        char q[2] = { p->s[p->pos], 0 };
        p->pos++;
        if ((ret = skip_past(p, q)) < 0)
            return ret;
    }
}

static int push(Parser *p, const char *name, size_t len)
{
    size_t at = p->path_len[p->depth];
    if (p->depth >= MAX_DEPTH)
        return AVERROR_INVALIDDATA;
    if (p->depth)
        p->path[at++] = '/';
    memcpy(p->path + at, name, len);
    at += len;
    p->path[at] = 0;
    p->has_child[p->depth] = 1;
    p->depth++;
    p->path_len[p->depth] = at;
    p->has_child[p->depth] = 0;
    av_bprint_clear(&p->text);
    return 0;
}

static int pop(Parser *p, VpiS3XmlFn fn, void *opaque)
{
    int ret = 0;
    if (!p->has_child[p->depth]) {
        if (!av_bprint_is_complete(&p->text))
            return AVERROR(ENOMEM);
        ret = fn(opaque, p->path, p->text.str, p->text.len);
    }
    p->depth--;
    p->path[p->path_len[p->depth]] = 0;
    av_bprint_clear(&p->text);
    return ret;
}

static int parse(Parser *p, VpiS3XmlFn fn, void *opaque)
{
    int ret, root_done = 0;
    while (p->pos < p->size) {
        char c = p->s[p->pos];
        if (c != '<') {
            if (c == 0)
                return AVERROR_INVALIDDATA;
            if (p->depth == 0) {
                if (!is_space(c))
                    return AVERROR_INVALIDDATA;
                p->pos++;
            } else if (c == '&') {
                if ((ret = read_entity(p)) < 0)
                    return ret;
            } else {
                av_bprint_chars(&p->text, c, 1);
                p->pos++;
            }
            if (p->text.len > MAX_TEXT)
                return AVERROR_INVALIDDATA;
            continue;
        }
        if (starts(p, "<!--")) {
            p->pos += 4;
            if ((ret = skip_past(p, "-->")) < 0)
                return ret;
        } else if (starts(p, "<?")) {
            p->pos += 2;
            if ((ret = skip_past(p, "?>")) < 0)
                return ret;
        } else if (starts(p, "<![CDATA[")) {
            size_t start = p->pos += 9;
            if (p->depth == 0 || (ret = skip_past(p, "]]>")) < 0 ||
                memchr(p->s + start, 0, p->pos - 3 - start))
                return AVERROR_INVALIDDATA;
            av_bprint_append_data(&p->text, p->s + start, (unsigned)(p->pos - 3 - start));
            if (p->text.len > MAX_TEXT)
                return AVERROR_INVALIDDATA;
        } else if (starts(p, "<!")) {
            return AVERROR_INVALIDDATA;         /* a DTD: S3 never sends one */
        } else if (starts(p, "</")) {
            const char *name;
            size_t len;
            p->pos += 2;
            if (p->depth == 0 || (ret = read_name(p, &name, &len)) < 0)
                return AVERROR_INVALIDDATA;
            local_name(&name, &len);
            size_t at = p->path_len[p->depth - 1] + (p->depth > 1);
            if (p->path_len[p->depth] - at != len || memcmp(p->path + at, name, len))
                return AVERROR_INVALIDDATA;
            while (p->pos < p->size && is_space(p->s[p->pos]))
                p->pos++;
            if (p->pos >= p->size || p->s[p->pos] != '>')
                return AVERROR_INVALIDDATA;
            p->pos++;
            if ((ret = pop(p, fn, opaque)) < 0)
                return ret;
            root_done = p->depth == 0;
        } else {
            const char *name;
            size_t len;
            int empty;
            p->pos++;
            if (root_done || (ret = read_name(p, &name, &len)) < 0)
                return AVERROR_INVALIDDATA;
            local_name(&name, &len);
            if ((ret = skip_attributes(p, &empty)) < 0 || (ret = push(p, name, len)) < 0)
                return ret;
            if (empty) {
                if ((ret = pop(p, fn, opaque)) < 0)
                    return ret;
                root_done = p->depth == 0;
            }
        }
    }
    return p->depth == 0 && root_done ? 0 : AVERROR_INVALIDDATA;
}

int vpi_s3_xml_parse(const char *xml, size_t size, VpiS3XmlFn fn, void *opaque)
{
    Parser *p = av_mallocz(sizeof(*p));
    int ret;
    if (!p)
        return AVERROR(ENOMEM);
    p->s = xml;
    p->size = size;
    av_bprint_init(&p->text, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = parse(p, fn, opaque);
    av_bprint_finalize(&p->text, NULL);
    av_free(p);
    return ret;
}
