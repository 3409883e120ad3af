/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* WebVTT (.vtt, W3C WebVTT 1 section 4): the "WEBVTT" line and its header (metadata such
 * as "Kind:" and "Language:", ignored), NOTE, STYLE and REGION blocks (skipped), cues with
 * an optional identifier, "[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm [settings]" and text. Cue
 * settings, identifiers, classes, voices and ruby are not in the model: the text stays. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "subs.h"


static int has_arrow(const char *s, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i++)
        if (!memcmp(s + i, "-->", 3))
            return 1;
    return 0;
}

static int starts_word(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    return n >= k && !memcmp(s, w, k) && (n == k || s[k] == ' ' || s[k] == '\t');
}

/* The character references WebVTT cue text uses (section 4.2.2 names these in its own
 * examples); others stay as written. */
static void decode_refs(VpiBuf *o, const char *s, size_t n)
{
    static const struct { const char *ref, *text; } refs[] = {
        { "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" }, { "&nbsp;", "\xC2\xA0" },
        { "&lrm;", "\xE2\x80\x8E" }, { "&rlm;", "\xE2\x80\x8F" },
    };
    for (size_t i = 0; i < n;) {
        size_t k;
        if (s[i] == '&') {
            for (k = 0; k < sizeof(refs) / sizeof(refs[0]); k++) {
                size_t rl = strlen(refs[k].ref);
                if (n - i >= rl && !memcmp(s + i, refs[k].ref, rl)) {
                    vpi_buf_str(o, refs[k].text);
                    i += rl;
                    break;
                }
            }
            if (k < sizeof(refs) / sizeof(refs[0]))
                continue;
        }
        vpi_buf_add(o, s + i, 1);
        i++;
    }
}

int vpi_vtt_parse(VpSubs *subs, const char *name, const char *data, size_t size,
                  VpFailure *f)
{
    VpiLines l;
    const char *s;
    size_t n;
    char why[256];
    vpi_lines_init(&l, data, size);
    /* the signature line (the detection found it), then the header up to a blank line */
    while (vpi_lines_next(&l, &s, &n) && vpi_line_blank(s, n))
        ;
    while (vpi_lines_next(&l, &s, &n) && !vpi_line_blank(s, n)) {
        if (has_arrow(s, n))
            return vpi_subs_fail(f, name, l.number, "a blank line must separate the WEBVTT "
                                 "header from the first cue");
    }
    while (vpi_lines_next(&l, &s, &n)) {
        if (vpi_line_blank(s, n))
            continue;
        if (starts_word(s, n, "NOTE") || starts_word(s, n, "STYLE") ||
            starts_word(s, n, "REGION")) {
            while (vpi_lines_next(&l, &s, &n) && !vpi_line_blank(s, n))
                ;
            continue;
        }
        if (!has_arrow(s, n)) {
            /* a cue identifier: the timing line follows */
            if (!vpi_lines_next(&l, &s, &n) || !has_arrow(s, n))
                return vpi_subs_fail(f, name, l.number, "expected a timing line "
                                     "(00:01.000 --> 00:02.500) after the cue identifier");
        }
        int64_t start, end;
        if (vpi_parse_timing(s, n, 0, '.', &start, &end, why, sizeof(why)))
            return vpi_subs_fail(f, name, l.number, "%s", why);
        VpiBuf text = { 0 };
        vpi_buf_add(&text, "", 0);
        while (vpi_lines_next(&l, &s, &n) && !vpi_line_blank(s, n)) {
            if (has_arrow(s, n)) {
                free(text.data);
                return vpi_subs_fail(f, name, l.number, "'-->' in a cue's text (a blank "
                                     "line missing before the next cue?)");
            }
            if (text.len)
                vpi_buf_add(&text, "\n", 1);
            decode_refs(&text, s, n);
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

void vpi_vtt_write(const VpSubs *s, VpiBuf *b)
{
    vpi_buf_str(b, "WEBVTT\n");
    for (int i = 0; i < s->nb; i++) {
        const VpiCue *c = &s->cues[i];
        vpi_buf_str(b, "\n");
        vpi_buf_time(b, c->start, '.');
        vpi_buf_str(b, " --> ");
        vpi_buf_time(b, c->end, '.');
        vpi_buf_str(b, "\n");
        for (const char *p = c->text; *p;) {
            char tag;
            int close, tl = vpi_model_tag(p, strnlen(p, 4), &tag, &close);
            if (tl) {
                vpi_buf_add(b, p, tl);
                p += tl;
                continue;
            }
            /* escaped, so no '-->' and no stray tag reaches the text */
            if (*p == '&')
                vpi_buf_str(b, "&amp;");
            else if (*p == '<')
                vpi_buf_str(b, "&lt;");
            else if (*p == '>')
                vpi_buf_str(b, "&gt;");
            else
                vpi_buf_add(b, p, 1);
            p++;
        }
        if (c->text[0])
            vpi_buf_str(b, "\n");
    }
}
