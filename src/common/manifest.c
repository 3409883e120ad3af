/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Batch manifests: a small RFC 4180 reader and the rows it yields. Untrusted input. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libavutil/error.h>

#include "manifest.h"

#define MAX_FIELD 4095          /* a path, after resolution */
#define MAX_SEGMENTS 1024
#define MAX_ROWS (1 << 26)
#define MAX_FILE ((size_t)1 << 30)

/* Segment paths are stored once: the intro of 10,000 rows is one string. */
struct VpiManifestStrings {
    char **slots;
    size_t nb_slots, nb;
};

typedef struct Parser {
    const unsigned char *p, *end;
    const char *name;
    int line;
    char *why;
    size_t why_size;
    char *field;                /* the field being read */
    size_t len;
    char **fields;              /* the record being read (copies) */
    int nb_fields, cap_fields;
} Parser;

static void strings_free(VpiManifestStrings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nb_slots; i++)
        free(s->slots[i]);
    free(s->slots);
    free(s);
}

static uint64_t hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int strings_grow(VpiManifestStrings *s)
{
    size_t n = s->nb_slots ? s->nb_slots * 2 : 64;
    char **slots = calloc(n, sizeof(*slots));
    if (!slots)
        return AVERROR(ENOMEM);
    for (size_t i = 0; i < s->nb_slots; i++) {
        if (!s->slots[i])
            continue;
        size_t h = hash(s->slots[i]) & (n - 1);
        while (slots[h])
            h = (h + 1) & (n - 1);
        slots[h] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->nb_slots = n;
    return 0;
}

/* The stored copy of @p str (added if new), or NULL when out of memory. */
static const char *strings_intern(VpiManifestStrings *s, const char *str)
{
    if ((s->nb + 1) * 2 > s->nb_slots && strings_grow(s) < 0)
        return NULL;
    size_t h = hash(str) & (s->nb_slots - 1);
    for (; s->slots[h]; h = (h + 1) & (s->nb_slots - 1))
        if (!strcmp(s->slots[h], str))
            return s->slots[h];
    if (!(s->slots[h] = strdup(str)))
        return NULL;
    s->nb++;
    return s->slots[h];
}

static int fail(Parser *ps, int line, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(Parser *ps, int line, int err, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(ps->why, ps->why_size, "%s:%d: ", ps->name, line);
    if (n >= 0 && (size_t)n < ps->why_size) {
        va_start(ap, fmt);
        vsnprintf(ps->why + n, ps->why_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return err;
}

static void clear_fields(Parser *ps)
{
    for (int i = 0; i < ps->nb_fields; i++)
        free(ps->fields[i]);
    ps->nb_fields = 0;
}

static int push_char(Parser *ps, int c)
{
    if (!c)
        return fail(ps, ps->line, AVERROR_INVALIDDATA, "contains a NUL byte (not a text file)");
    if (ps->len >= MAX_FIELD)
        return fail(ps, ps->line, AVERROR_INVALIDDATA, "a field is longer than %d bytes",
                    MAX_FIELD);
    ps->field[ps->len++] = (char)c;
    return 0;
}

static int push_field(Parser *ps)
{
    if (ps->nb_fields > MAX_SEGMENTS)
        return fail(ps, ps->line, AVERROR_INVALIDDATA, "a row has more than %d segments",
                    MAX_SEGMENTS);
    if (ps->nb_fields == ps->cap_fields) {
        int c = ps->cap_fields ? ps->cap_fields * 2 : 8;
        char **f = realloc(ps->fields, (size_t)c * sizeof(*f));
        if (!f)
            return AVERROR(ENOMEM);
        ps->fields = f;
        ps->cap_fields = c;
    }
    ps->field[ps->len] = 0;
    if (!(ps->fields[ps->nb_fields] = strdup(ps->field)))
        return AVERROR(ENOMEM);
    ps->nb_fields++;
    return 0;
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t';
}

/* Consumes a line break at ps->p if there is one (LF, CRLF or CR); returns 1 if so. */
static int eat_eol(Parser *ps)
{
    if (ps->p < ps->end && *ps->p == '\r') {
        ps->p++;
        if (ps->p < ps->end && *ps->p == '\n')
            ps->p++;
    } else if (ps->p < ps->end && *ps->p == '\n') {
        ps->p++;
    } else {
        return 0;
    }
    ps->line++;
    return 1;
}

/* Reads one record into ps->fields. Returns 1, 0 at the end of the data, or an error. */
static int read_record(Parser *ps)
{
    int ret;

    clear_fields(ps);
    if (ps->p >= ps->end)
        return 0;
    for (;;) {
        ps->len = 0;
        while (ps->p < ps->end && is_blank(*ps->p))
            ps->p++;
        if (ps->p < ps->end && *ps->p == '"') {
            int open_line = ps->line;
            ps->p++;
            for (;;) {
                if (ps->p >= ps->end)
                    return fail(ps, open_line, AVERROR_INVALIDDATA,
                                "a quoted field is not closed");
                int c = *ps->p++;
                if (c == '"') {
                    if (ps->p < ps->end && *ps->p == '"')
                        ps->p++;
                    else
                        break;
                } else if (c == '\n' || (c == '\r' && (ps->p >= ps->end || *ps->p != '\n'))) {
                    ps->line++;
                }
                if ((ret = push_char(ps, c)) < 0)
                    return ret;
            }
            while (ps->p < ps->end && is_blank(*ps->p))
                ps->p++;
            if (ps->p < ps->end && *ps->p != ',' && *ps->p != '\n' && *ps->p != '\r') {
                int c = *ps->p;
                return fail(ps, ps->line, AVERROR_INVALIDDATA,
                            c >= 0x20 && c < 0x7f ? "'%c' after a closing quote (inside "
                            "quotes, write a quote as \"\")" : "byte 0x%02x after a closing "
                            "quote", c);
            }
        } else {
            while (ps->p < ps->end && *ps->p != ',' && *ps->p != '\n' && *ps->p != '\r')
                if ((ret = push_char(ps, *ps->p++)) < 0)
                    return ret;
            while (ps->len && is_blank(ps->field[ps->len - 1]))
                ps->len--;
        }
        if ((ret = push_field(ps)) < 0)
            return ret;
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        eat_eol(ps);
        return 1;
    }
}

/* @p base + "/" + @p path unless @p path is absolute or there is no base. */
static int resolve(Parser *ps, int line, const char *base, const char *path, char *out,
                   size_t size)
{
    int n;
    if (!base || !*base || path[0] == '/')
        n = snprintf(out, size, "%s", path);
    else
        n = snprintf(out, size, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/",
                     path);
    if (n < 0 || (size_t)n >= size)
        return fail(ps, line, AVERROR(ENAMETOOLONG), "%.60s...: path is too long", path);
    return 0;
}

static int add_row(Parser *ps, VpiManifest *m, int *cap, int line, const char *seg_base,
                   const char *out_base)
{
    char path[MAX_FIELD + 1];
    const char **segs = NULL;
    VpiManifestRow *row;
    int nb_segs = 0, ret;

    if (!ps->fields[0][0])
        return fail(ps, line, AVERROR_INVALIDDATA, "the first field (the output) is empty");
    for (int i = 1; i < ps->nb_fields; i++)
        nb_segs += ps->fields[i][0] != 0;
    if (!nb_segs)
        return fail(ps, line, AVERROR_INVALIDDATA, "%s: no segments (a row is: "
                    "output,segment,segment,...)", ps->fields[0]);
    if (m->nb_rows >= MAX_ROWS)
        return fail(ps, line, AVERROR_INVALIDDATA, "more than %d rows", MAX_ROWS);
    if (m->nb_rows == *cap) {
        int c = *cap ? *cap * 2 : 64;
        VpiManifestRow *r = realloc(m->rows, (size_t)c * sizeof(*r));
        if (!r)
            return AVERROR(ENOMEM);
        m->rows = r;
        *cap = c;
    }
    if (!(segs = malloc((size_t)nb_segs * sizeof(*segs))))
        return AVERROR(ENOMEM);
    nb_segs = 0;
    for (int i = 1; i < ps->nb_fields; i++) {
        if (!ps->fields[i][0])
            continue;
        if ((ret = resolve(ps, line, seg_base, ps->fields[i], path, sizeof(path))) < 0)
            goto fail;
        if (!(segs[nb_segs++] = strings_intern(m->strings, path))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
    }
    if ((ret = resolve(ps, line, out_base, ps->fields[0], path, sizeof(path))) < 0)
        goto fail;
    row = &m->rows[m->nb_rows];
    if (!(row->output = strdup(path))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    row->segments = segs;
    row->nb_segments = nb_segs;
    row->line = line;
    m->nb_rows++;
    return 0;

fail:
    free(segs);
    return ret;
}

void vpi_manifest_free(VpiManifest *m)
{
    for (int i = 0; i < m->nb_rows; i++) {
        free((char *)m->rows[i].output);
        free((void *)m->rows[i].segments);
    }
    free(m->rows);
    strings_free(m->strings);
    memset(m, 0, sizeof(*m));
}

int vpi_manifest_parse(const char *data, size_t size, const char *name, const char *seg_base,
                       const char *out_base, VpiManifest *m, char *why, size_t why_size)
{
    char field[MAX_FIELD + 1];
    Parser ps = {
        .p = (const unsigned char *)data, .end = (const unsigned char *)data + size,
        .name = name, .line = 1, .why = why, .why_size = why_size, .field = field,
    };
    int ret = 0, cap = 0, first = 1;

    memset(m, 0, sizeof(*m));
    if (why_size)
        why[0] = 0;
    if (!(m->strings = calloc(1, sizeof(*m->strings))))
        return AVERROR(ENOMEM);
    if (size >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
        ps.p += 3;
    for (;;) {
        int line = ps.line;
        if ((ret = read_record(&ps)) <= 0)
            break;
        int empty = 1;
        for (int i = 0; i < ps.nb_fields; i++)
            empty &= !ps.fields[i][0];
        if (empty)
            continue;
        if (first && !strcasecmp(ps.fields[0], "output")) {
            m->has_header = 1;
            first = 0;
            continue;
        }
        first = 0;
        if ((ret = add_row(&ps, m, &cap, line, seg_base, out_base)) < 0)
            break;
    }
    if (!ret && !m->nb_rows)
        ret = fail(&ps, ps.line, AVERROR_INVALIDDATA,
                   "no rows (a row is: output,segment,segment,...)");
    clear_fields(&ps);
    free(ps.fields);
    if (ret == AVERROR(ENOMEM) && why_size)
        snprintf(why, why_size, "%s: out of memory", name);
    if (ret < 0) {
        vpi_manifest_free(m);
        return ret;
    }
    m->nb_unique_segments = (int)m->strings->nb;
    return 0;
}

int vpi_manifest_load(const char *path, const char *out_dir, VpiManifest *m, char *why,
                      size_t why_size)
{
    FILE *f;
    struct stat sb;
    char *data = NULL, *dir = NULL;
    int ret;

    memset(m, 0, sizeof(*m));
    if (!(f = fopen(path, "rb")) || fstat(fileno(f), &sb) < 0) {
        ret = AVERROR(errno);
        snprintf(why, why_size, "%s: %s", path, strerror(errno));
        goto end;
    }
    if (S_ISDIR(sb.st_mode) || (size_t)sb.st_size > MAX_FILE) {
        ret = AVERROR_INVALIDDATA;
        snprintf(why, why_size, "%s: %s", path, S_ISDIR(sb.st_mode) ? "is a directory"
                 : "is larger than 1 GiB: not a manifest");
        goto end;
    }
    if (!(data = malloc((size_t)sb.st_size + 1))) {
        ret = AVERROR(ENOMEM);
        snprintf(why, why_size, "%s: out of memory", path);
        goto end;
    }
    size_t n = fread(data, 1, (size_t)sb.st_size, f);
    if (ferror(f)) {
        ret = AVERROR(EIO);
        snprintf(why, why_size, "%s: read error", path);
        goto end;
    }
    const char *slash = strrchr(path, '/');
    if (!(dir = slash ? strndup(path, (size_t)(slash == path ? 1 : slash - path))
                      : strdup(""))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    ret = vpi_manifest_parse(data, n, path, dir, out_dir && *out_dir ? out_dir : dir, m, why,
                             why_size);
end:
    if (f)
        fclose(f);
    free(data);
    free(dir);
    return ret;
}
