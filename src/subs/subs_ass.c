/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Advanced SubStation Alpha (.ass; SSA v4 .ssa reads the same way): the sections
 * [Script Info], [V4+ Styles] and [Events]; each "Dialogue:" line read through the
 * [Events] Format line (its Start, End and Text fields; Text is last and may hold commas).
 * Styles, positions and effects are not in the model; {\i1} {\b1} {\u1} become <i> <b> <u>,
 * "\N" a line break, "\h" a no-break space, "\{" and "\}" braces (libass's escapes). Times
 * are H:MM:SS.cc: writing rounds to the centisecond. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libavutil/error.h>

#include "subs.h"

#define ZWSP "\xE2\x80\x8B"

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* ASS text (one line of the file) into the model's raw text, before vpi_subs_canon. */
static void decode_text(VpiBuf *o, const char *s, size_t n)
{
    int closes = 1;     /* 0 once no '}' follows: "{{{{..." stays linear */
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[i + 1];
            if (c == 'N' || c == 'n') {
                vpi_buf_str(o, "\n");
                i++;
                continue;
            }
            if (c == 'h') {
                vpi_buf_str(o, "\xC2\xA0");
                i++;
                continue;
            }
            if (c == '{' || c == '}') {
                vpi_buf_add(o, &c, 1);
                i++;
                continue;
            }
            /* the writer's guard: a backslash that is only a backslash */
            if (n - i >= 4 && !memcmp(s + i + 1, ZWSP, 3)) {
                vpi_buf_str(o, "\\");
                i += 3;
                continue;
            }
        }
        if (s[i] == '{' && closes) {
            const char *e = memchr(s + i, '}', n - i);
            closes = e != NULL;
            if (e) {
                vpi_ass_overrides(o, s + i + 1, e - s - i - 1);
                i = e - s;
                continue;
            }
        }
        vpi_buf_add(o, s + i, 1);
    }
}

enum { SEC_OTHER, SEC_INFO, SEC_EVENTS };

int vpi_ass_parse(VpSubs *subs, const char *name, const char *data, size_t size,
                  VpFailure *f)
{
    VpiLines l;
    const char *s;
    size_t n;
    char why[256];
    int section = SEC_OTHER, seen_info = 0;
    /* Until a Format line says otherwise, the fields of ASS (v4+; SSA has Marked for
     * Layer, in the same place). */
    int nb_fields = 10, i_start = 1, i_end = 2, i_text = 9;
    vpi_lines_init(&l, data, size);
    while (vpi_lines_next(&l, &s, &n)) {
        trim(&s, &n);
        if (!n || s[0] == ';' || (n >= 2 && s[0] == '!' && s[1] == ':'))
            continue;
        if (s[0] == '[') {
            if (n >= 13 && !strncasecmp(s, "[Script Info]", 13)) {
                section = SEC_INFO;
                seen_info = 1;
            } else {
                section = n >= 8 && !strncasecmp(s, "[Events]", 8) ? SEC_EVENTS : SEC_OTHER;
            }
            continue;
        }
        const char *colon = memchr(s, ':', n);
        if (section == SEC_OTHER)
            continue;   /* styles, fonts, graphics, editors' own sections */
        if (!colon)
            return vpi_subs_fail(f, name, l.number, "expected 'Key: value' in the %s section",
                                 section == SEC_INFO ? "[Script Info]" : "[Events]");
        size_t kn = colon - s;
        const char *v = colon + 1;
        size_t vn = n - kn - 1;
        trim(&v, &vn);
        if (section == SEC_INFO)
            continue;
        if (kn == 6 && !strncasecmp(s, "Format", 6)) {
            int k = 0, fs = -1, fe = -1, ft = -1;
            for (size_t a = 0; a <= vn; k++) {
                const char *c = memchr(v + a, ',', vn - a);
                size_t b = c ? (size_t)(c - v) : vn;
                const char *fn = v + a;
                size_t fl = b - a;
                trim(&fn, &fl);
                if (fl == 5 && !strncasecmp(fn, "Start", 5))
                    fs = k;
                else if (fl == 3 && !strncasecmp(fn, "End", 3))
                    fe = k;
                else if (fl == 4 && !strncasecmp(fn, "Text", 4))
                    ft = k;
                if (!c)
                    break;
                a = b + 1;
                if (k > 64)
                    return vpi_subs_fail(f, name, l.number, "the Format line has more than "
                                         "64 fields");
            }
            if (fs < 0 || fe < 0 || ft < 0)
                return vpi_subs_fail(f, name, l.number, "the [Events] Format line names no "
                                     "%s field", fs < 0 ? "Start" : fe < 0 ? "End" : "Text");
            if (ft != k)
                return vpi_subs_fail(f, name, l.number, "the [Events] Format line must end "
                                     "with Text");
            nb_fields = k + 1;
            i_start = fs;
            i_end = fe;
            i_text = ft;
            continue;
        }
        if (!(kn == 8 && !strncasecmp(s, "Dialogue", 8)))
            continue;   /* Comment:, Picture:, Sound:, Movie:, Command: */
        /* the first nb_fields - 1 commas split the fields; Text is the rest */
        const char *fld[65];
        size_t fln[65];
        size_t a = 0;
        int k = 0;
        for (; k < nb_fields - 1; k++) {
            const char *c = memchr(v + a, ',', vn - a);
            if (!c)
                return vpi_subs_fail(f, name, l.number, "a Dialogue line has %d fields, the "
                                     "Format line %d", k + 1, nb_fields);
            fld[k] = v + a;
            fln[k] = (size_t)(c - v) - a;
            a = (size_t)(c - v) + 1;
        }
        fld[k] = v + a;
        fln[k] = vn - a;
        int64_t t[2];
        for (int e = 0; e < 2; e++) {
            const char *ts = fld[e ? i_end : i_start];
            size_t tn = fln[e ? i_end : i_start], used = 0;
            trim(&ts, &tn);
            const char *r = vpi_parse_time(ts, tn, 1, 2, &used, &t[e]);
            if (!r && used != tn)
                r = "unexpected text after the time";
            if (r) {
                snprintf(why, sizeof(why), "%s time '%.*s': %s", e ? "end" : "start",
                         (int)(tn > 40 ? 40 : tn), ts, r);
                return vpi_subs_fail(f, name, l.number, "%s", why);
            }
        }
        if (t[1] < t[0]) {
            VpiBuf x = { 0 };
            vpi_buf_printf(&x, "end time %d:%02d:%02d.%02d is before start %d:%02d:%02d.%02d",
                           (int)(t[1] / 3600000), (int)(t[1] / 60000 % 60),
                           (int)(t[1] / 1000 % 60), (int)(t[1] % 1000 / 10),
                           (int)(t[0] / 3600000), (int)(t[0] / 60000 % 60),
                           (int)(t[0] / 1000 % 60), (int)(t[0] % 1000 / 10));
            int r = vpi_subs_fail(f, name, l.number, "%s", x.oom ? "end before start" : x.data);
            free(x.data);
            return r;
        }
        VpiBuf raw = { 0 };
        vpi_buf_add(&raw, "", 0);
        decode_text(&raw, fld[i_text], fln[i_text]);
        if (raw.oom) {
            free(raw.data);
            return AVERROR(ENOMEM);
        }
        char *c = vpi_subs_canon(raw.data, raw.len);
        free(raw.data);
        int ret = vpi_subs_push(subs, t[0], t[1], c);
        if (ret < 0)
            return ret;
    }
    if (!seen_info)
        return vpi_subs_fail(f, name, 1, "no [Script Info] section");
    return 0;
}

void vpi_ass_header(VpiBuf *b)
{
    /* 384x288 is the resolution ASS assumes without one; players scale it to the video. */
    vpi_buf_str(b,
        "[Script Info]\n"
        "; Written by vidpipe\n"
        "ScriptType: v4.00+\n"
        "PlayResX: 384\n"
        "PlayResY: 288\n"
        "WrapStyle: 0\n"
        "ScaledBorderAndShadow: yes\n"
        "\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        "Style: Default,Arial,16,&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,0,0,0,0,100,100,"
        "0,0,1,1,0,2,10,10,10,1\n"
        "\n"
        "[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n");
}

void vpi_ass_text(VpiBuf *b, const char *text)
{
    for (const char *p = text; *p;) {
        char tag;
        int close, tl = vpi_model_tag(p, strnlen(p, 4), &tag, &close);
        if (tl) {
            char o[8] = { '{', '\\', tag, close ? '0' : '1', '}', 0 };
            vpi_buf_str(b, o);
            p += tl;
            continue;
        }
        if (*p == '\n') {
            vpi_buf_str(b, "\\N");
        } else if (*p == '{' || *p == '}') {
            vpi_buf_str(b, *p == '{' ? "\\{" : "\\}");
        } else if (*p == '\\' && (strchr("Nnh{}<", p[1]) && p[1])) {
            /* a backslash before what would make it an escape (a tag writes '{') */
            vpi_buf_str(b, "\\" ZWSP);
        } else if (*p == '\\' && !strncmp(p + 1, ZWSP, 3)) {
            vpi_buf_str(b, "\\" ZWSP);
        } else {
            vpi_buf_add(b, p, 1);
        }
        p++;
    }
}

static void ass_time(VpiBuf *b, int64_t ms)
{
    int64_t cs = vpi_round_cs(ms) / 10;
    vpi_buf_printf(b, "%lld:%02d:%02d.%02d", (long long)(cs / 360000), (int)(cs / 6000 % 60),
                   (int)(cs / 100 % 60), (int)(cs % 100));
}

void vpi_ass_write(const VpSubs *s, VpiBuf *b)
{
    vpi_ass_header(b);
    for (int i = 0; i < s->nb; i++) {
        vpi_buf_str(b, "Dialogue: 0,");
        ass_time(b, s->cues[i].start);
        vpi_buf_str(b, ",");
        ass_time(b, s->cues[i].end);
        vpi_buf_str(b, ",Default,,0,0,0,,");
        vpi_ass_text(b, s->cues[i].text);
        vpi_buf_str(b, "\n");
    }
}
