/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SubRip (.srt): numbered cues, "HH:MM:SS,mmm --> HH:MM:SS,mmm", text lines, a blank line.
 * Accepted beyond that, because real files have it: a missing cue number, '.' for ',',
 * one or two digits of milliseconds, position coordinates after the end time ("X1:..."), a
 * missing final blank line, ASS override blocks in the text ({\an8}, {\i1}). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "subs.h"

/* A line for a message: at most 40 bytes, controls as '?'. */
static const char *quote(const char *s, size_t n, char *buf, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < size && i < 40; i++)
        buf[k++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    if (n > 40 && k + 4 < size) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = 0;
    return buf;
}

const char *vpi_parse_timing(const char *s, size_t n, int need_hours, char sep,
                             int64_t *start, int64_t *end, char *why, size_t why_size)
{
    size_t i = 0, used = 0;
    char q[64];
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    const char *r = vpi_parse_time(s + i, n - i, need_hours, 0, &used, start);
    if (r) {
        const char *e = memchr(s + i, ' ', n - i);
        snprintf(why, why_size, "start time '%s': %s",
                 quote(s + i, e ? (size_t)(e - s - i) : n - i, q, sizeof(q)), r);
        return why;
    }
    i += used;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (n - i < 3 || memcmp(s + i, "-->", 3)) {
        snprintf(why, why_size, "expected '-->' after the start time");
        return why;
    }
    i += 3;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    r = vpi_parse_time(s + i, n - i, need_hours, 0, &used, end);
    if (r) {
        const char *e = memchr(s + i, ' ', n - i);
        snprintf(why, why_size, "end time '%s': %s",
                 quote(s + i, e ? (size_t)(e - s - i) : n - i, q, sizeof(q)), r);
        return why;
    }
    i += used;
    if (i < n && s[i] != ' ' && s[i] != '\t') {
        snprintf(why, why_size, "unexpected '%s' after the end time",
                 quote(s + i, n - i, q, sizeof(q)));
        return why;
    }
    if (*end < *start) {
        VpiBuf a = { 0 }, b = { 0 };
        vpi_buf_time(&a, *end, sep);
        vpi_buf_time(&b, *start, sep);
        snprintf(why, why_size, "end time %s is before start %s", a.oom ? "?" : a.data,
                 b.oom ? "?" : b.data);
        free(a.data);
        free(b.data);
        return why;
    }
    return NULL;
}

static int has_arrow(const char *s, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i++)
        if (!memcmp(s + i, "-->", 3))
            return 1;
    return 0;
}

int vpi_srt_parse(VpSubs *subs, const char *name, const char *data, size_t size,
                  VpFailure *f)
{
    VpiLines l;
    const char *s;
    size_t n;
    char why[256], q[64];
    vpi_lines_init(&l, data, size);
    while (vpi_lines_next(&l, &s, &n)) {
        if (vpi_line_blank(s, n))
            continue;
        if (!has_arrow(s, n)) {
            size_t i = 0;
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
            size_t d0 = i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            int digits = i > d0 && vpi_line_blank(s + i, n - i);
            if (!digits && !subs->nb)
                return vpi_subs_fail(f, name, l.number, "not a subtitle file: expected an "
                                     "SRT cue number, 'WEBVTT' or '[Script Info]'");
            if (!digits)
                return vpi_subs_fail(f, name, l.number, "expected a cue number or a timing "
                                     "line, found '%s'", quote(s, n, q, sizeof(q)));
            if (!vpi_lines_next(&l, &s, &n) || !has_arrow(s, n))
                return vpi_subs_fail(f, name, l.number, "expected a timing line "
                                     "(00:00:01,000 --> 00:00:02,500) after the cue number");
        }
        int64_t start, end;
        if (vpi_parse_timing(s, n, 1, ',', &start, &end, why, sizeof(why)))
            return vpi_subs_fail(f, name, l.number, "%s", why);
        VpiBuf text = { 0 };
        vpi_buf_add(&text, "", 0);
        while (vpi_lines_next(&l, &s, &n) && !vpi_line_blank(s, n)) {
            if (text.len)
                vpi_buf_add(&text, "\n", 1);
            vpi_buf_add(&text, s, n);
        }
        if (text.oom) {
            free(text.data);
            return AVERROR(ENOMEM);
        }
        char *c = vpi_subs_canon(text.data, text.len);
        free(text.data);
        int ret = vpi_subs_push(subs, start, end, c);
        if (ret < 0)
            return ret;
    }
    return 0;
}

void vpi_srt_write(const VpSubs *s, VpiBuf *b)
{
    for (int i = 0; i < s->nb; i++) {
        const VpiCue *c = &s->cues[i];
        vpi_buf_printf(b, "%d\n", i + 1);
        vpi_buf_time(b, c->start, ',');
        vpi_buf_str(b, " --> ");
        vpi_buf_time(b, c->end, ',');
        vpi_buf_str(b, "\n");
        vpi_buf_str(b, c->text);
        vpi_buf_str(b, c->text[0] ? "\n\n" : "\n");
    }
}
