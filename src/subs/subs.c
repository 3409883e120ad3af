/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cue list: the model the three formats read into and write from, its text form, and
 * the timing operations (shift, stretch, map). docs/subtitles.md says what converts how. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "subs.h"

/* A subtitle file of a feature film is about 100 KB; 64 MiB bounds a hostile one. */
#define SUBS_MAX_FILE (64 << 20)

/* ---- text buffers, lines, messages ---------------------------------------------------- */

void vpi_buf_add(VpiBuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n >= b->cap - b->len || !b->data) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len <= n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void vpi_buf_str(VpiBuf *b, const char *s)
{
    vpi_buf_add(b, s, strlen(s));
}

void vpi_buf_printf(VpiBuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        vpi_buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void vpi_lines_init(VpiLines *l, const char *data, size_t size)
{
    l->p = data;
    l->end = data + size;
    l->number = 0;
    if (size >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3))
        l->p += 3;
}

int vpi_lines_next(VpiLines *l, const char **s, size_t *n)
{
    if (l->p >= l->end)
        return 0;
    const char *nl = memchr(l->p, '\n', l->end - l->p);
    const char *e = nl ? nl : l->end;
    *s = l->p;
    *n = e - l->p;
    if (*n && e[-1] == '\r')
        (*n)--;
    l->p = nl ? nl + 1 : l->end;
    l->number++;
    return 1;
}

int vpi_line_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

int vpi_subs_fail(VpFailure *fail, const char *name, int line, const char *fmt, ...)
{
    if (fail) {
        char why[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        fail->code = AVERROR_INVALIDDATA;
        snprintf(fail->path, sizeof(fail->path), "%s", name);
        snprintf(fail->message, sizeof(fail->message), "%s:%d: %s", name, line, why);
    }
    return AVERROR_INVALIDDATA;
}

/* ---- times ---------------------------------------------------------------------------- */

const char *vpi_parse_time(const char *s, size_t n, int need_hours, int frac_digits,
                           size_t *used, int64_t *ms)
{
    int64_t f[3];
    int nf = 0;
    size_t i = 0;
    for (;;) {
        size_t d0 = i;
        int64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - d0 < 7)
            v = v * 10 + (s[i++] - '0');
        if (i == d0)
            return "a time has a number before each ':'";
        if (i < n && s[i] >= '0' && s[i] <= '9')
            return "a time field has too many digits";
        if (nf > 0 && i - d0 != 2)
            return "minutes and seconds have two digits";
        f[nf++] = v;
        if (i < n && s[i] == ':' && nf < 3) {
            i++;
            continue;
        }
        break;
    }
    if (nf < 2 || (need_hours && nf < 3))
        return need_hours ? "a time is H:MM:SS with a fraction" : "a time is [HH:]MM:SS.mmm";
    if (i >= n || (s[i] != ',' && s[i] != '.'))
        return "a time has a fraction of a second after ',' or '.'";
    i++;
    size_t d0 = i;
    int64_t frac = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - d0 < 3)
        frac = frac * 10 + (s[i++] - '0');
    size_t nd = i - d0;
    if (!nd || (frac_digits && nd != (size_t)frac_digits) ||
        (i < n && s[i] >= '0' && s[i] <= '9'))
        return frac_digits == 2 ? "a time has two digits of centiseconds"
                                : "a time has one to three digits of milliseconds";
    for (size_t k = nd; k < 3; k++)
        frac *= 10;
    int64_t h = nf == 3 ? f[0] : 0, m = f[nf - 2], sec = f[nf - 1];
    if (m > 59 || sec > 59)
        return m > 59 ? "minutes above 59" : "seconds above 59";
    *ms = ((h * 60 + m) * 60 + sec) * 1000 + frac;
    if (*ms > VP_SUBS_MAX_MS)
        return "past 100000 hours";
    *used = i;
    return NULL;
}

void vpi_buf_time(VpiBuf *b, int64_t ms, char sep)
{
    vpi_buf_printf(b, "%02lld:%02d:%02d%c%03d", (long long)(ms / 3600000),
                   (int)(ms / 60000 % 60), (int)(ms / 1000 % 60), sep, (int)(ms % 1000));
}

/* ---- the model's text ----------------------------------------------------------------- */

int vpi_model_tag(const char *s, size_t n, char *tag, int *close)
{
    if (n >= 3 && s[0] == '<' && strchr("ibu", s[1]) && s[1] && s[2] == '>') {
        *tag = s[1];
        *close = 0;
        return 3;
    }
    if (n >= 4 && s[0] == '<' && s[1] == '/' && strchr("ibu", s[2]) && s[2] && s[3] == '>') {
        *tag = s[2];
        *close = 1;
        return 4;
    }
    return 0;
}

void vpi_ass_overrides(VpiBuf *out, const char *s, size_t n)
{
    /* "\i1", "\b0", "\u1"; bold also as a weight ("\b700"). The rest (positions, colours,
     * fonts, karaoke, drawings) has no counterpart in SRT or WebVTT. */
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n || !strchr("ibu", s[i + 1]) || !s[i + 1])
            continue;
        char t = s[i + 1];
        size_t j = i + 2;
        int64_t v = 0;
        size_t d0 = j;
        while (j < n && s[j] >= '0' && s[j] <= '9' && j - d0 < 6)
            v = v * 10 + (s[j++] - '0');
        if (j == d0 || (j < n && s[j] != '\\' && s[j] != ' '))
            continue;   /* "\iclip", "\bord2", "\be1", "\u" alone: other tags */
        char tag[5] = { '<', 0, 0, 0, 0 };
        if (v) {
            tag[1] = t;
            tag[2] = '>';
        } else {
            tag[1] = '/';
            tag[2] = t;
            tag[3] = '>';
        }
        vpi_buf_str(out, tag);
    }
}

/* The open '<' (or '{') of the text written so far, and the barriers that keep those before
 * them from closing later: a '>' (or '}') that stays, a line end. Cutting the text removes
 * the entries past the cut, so that an opening freed again by the cut is judged again. */
typedef struct Mark {
    size_t pos;
    int barrier;
} Mark;

static void marks_cut(Mark *st, int *nb, size_t len)
{
    while (*nb && st[*nb - 1].pos >= len)
        (*nb)--;
}

/* The top opening, if no barrier hides it: its index, else -1. */
static int marks_open(const Mark *st, int nb)
{
    return nb && !st[nb - 1].barrier ? nb - 1 : -1;
}

char *vpi_subs_canon(const char *s, size_t n)
{
    /* One pass: when a '>' or '}' closes an opening, the tag is judged on the text written
     * so far, so that a tag which only forms once an inner one is dropped ("<<x>i>",
     * "{{\an1}\i1}") is judged too, and the result has no tag left to drop: reading it
     * again gives it unchanged (the fuzz target's check). */
    VpiBuf o = { 0 };
    Mark *lt = NULL, *br = NULL;
    int nlt = 0, nbr = 0;
    lt = malloc((2 * n + 2) * sizeof(*lt));
    br = malloc((2 * n + 2) * sizeof(*br));
    if (!lt || !br)
        goto oom;
    vpi_buf_add(&o, "", 0);
    for (size_t i = 0; i < n && !o.oom; i++) {
        unsigned char c = s[i];
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            continue;
        if (c == '\n') {
            lt[nlt++] = (Mark){ o.len, 1 };
            br[nbr++] = (Mark){ o.len, 1 };
        } else if (c == '<') {
            lt[nlt++] = (Mark){ o.len, 0 };
        } else if (c == '{') {
            br[nbr++] = (Mark){ o.len, 0 };
        }
        vpi_buf_add(&o, (const char *)&c, 1);
        if (o.oom)
            break;
        if (c == '>') {
            int top = marks_open(lt, nlt);
            size_t p = top >= 0 ? lt[top].pos : 0;
            const char *t = o.data + p + 1;
            size_t tn = top >= 0 ? o.len - p - 2 : 0, k;
            int close = tn && t[0] == '/';
            k = close;
            unsigned char c0 = k < tn ? t[k] : 0;
            int shape = top >= 0 && c0 && (c0 | 0x20) >= 'a' && (c0 | 0x20) <= 'z';
            if (top >= 0 && !close && c0 >= '0' && c0 <= '9') {
                /* WebVTT's karaoke timestamps, <00:01.500> */
                shape = 1;
                for (size_t d = 0; d < tn; d++)
                    shape &= (t[d] >= '0' && t[d] <= '9') || t[d] == ':' || t[d] == '.';
            }
            if (!shape) {
                lt[nlt++] = (Mark){ o.len - 1, 1 };
                continue;
            }
            size_t e = k;
            while (e < tn && t[e] != ' ' && t[e] != '.' && t[e] != '\t')
                e++;
            char name = e - k == 1 ? (char)(t[k] | 0x20) : 0;
            o.len = p;
            o.data[p] = 0;
            marks_cut(lt, &nlt, p);
            marks_cut(br, &nbr, p);
            if (name == 'i' || name == 'b' || name == 'u') {
                char tag[5] = { '<', 0, 0, 0, 0 };
                if (close) {
                    tag[1] = '/';
                    tag[2] = name;
                    tag[3] = '>';
                } else {
                    tag[1] = name;
                    tag[2] = '>';
                }
                vpi_buf_str(&o, tag);
                lt[nlt++] = (Mark){ o.len - 1, 1 };
            }
        } else if (c == '}') {
            int top = marks_open(br, nbr);
            if (top < 0 || o.data[br[top].pos + 1] != '\\') {
                br[nbr++] = (Mark){ o.len - 1, 1 };
                continue;
            }
            size_t q = br[top].pos;
            VpiBuf tags = { 0 };
            vpi_ass_overrides(&tags, o.data + q + 1, o.len - q - 2);
            if (tags.oom)
                goto oom;
            o.len = q;
            o.data[q] = 0;
            marks_cut(lt, &nlt, q);
            marks_cut(br, &nbr, q);
            if (tags.len) {
                vpi_buf_add(&o, tags.data, tags.len);
                lt[nlt++] = (Mark){ o.len - 1, 1 };
            }
            free(tags.data);
        }
    }
    free(lt);
    free(br);
    lt = br = NULL;
    if (o.oom)
        goto oom;
    /* lines trimmed, empty ones dropped: a blank line would end an SRT or WebVTT cue */
    char *r = malloc(o.len + 1);
    if (!r)
        goto oom;
    size_t rl = 0;
    const char *p = o.data, *end = o.data + o.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        const char *le = nl ? nl : end;
        const char *a = p, *z = le;
        while (a < z && (*a == ' ' || *a == '\t'))
            a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
            z--;
        if (z > a) {
            if (rl)
                r[rl++] = '\n';
            memcpy(r + rl, a, z - a);
            rl += z - a;
        }
        p = nl ? nl + 1 : end;
    }
    r[rl] = 0;
    free(o.data);
    return r;
oom:
    free(lt);
    free(br);
    free(o.data);
    return NULL;
}

/* ---- the list ------------------------------------------------------------------------- */

int vp_subs_new(VpSubs **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : AVERROR(ENOMEM);
}

void vp_subs_free(VpSubs **subs)
{
    if (!subs || !*subs)
        return;
    for (int i = 0; i < (*subs)->nb; i++)
        free((*subs)->cues[i].text);
    free((*subs)->cues);
    free(*subs);
    *subs = NULL;
}

int vpi_subs_push(VpSubs *s, int64_t start, int64_t end, char *text)
{
    if (!text)
        return AVERROR(ENOMEM);
    if (s->nb == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        VpiCue *c = cap > s->cap ? realloc(s->cues, (size_t)cap * sizeof(*c)) : NULL;
        if (!c) {
            free(text);
            return AVERROR(ENOMEM);
        }
        s->cues = c;
        s->cap = cap;
    }
    s->cues[s->nb++] = (VpiCue){ start, end, text };
    return 0;
}

int vp_subs_add(VpSubs *subs, int64_t start_ms, int64_t end_ms, const char *text)
{
    if (start_ms < 0 || end_ms < start_ms || end_ms > VP_SUBS_MAX_MS)
        return AVERROR(EINVAL);
    return vpi_subs_push(subs, start_ms, end_ms, vpi_subs_canon(text, strlen(text)));
}

int vp_subs_count(const VpSubs *subs)
{
    return subs->nb;
}

int vp_subs_get(const VpSubs *subs, int i, VpSubsCue *cue)
{
    if (i < 0 || i >= subs->nb)
        return AVERROR(EINVAL);
    cue->start_ms = subs->cues[i].start;
    cue->end_ms = subs->cues[i].end;
    cue->text = subs->cues[i].text;
    return 0;
}

VpSubsFormat vp_subs_source_format(const VpSubs *subs)
{
    return subs->format;
}

VpSubsFormat vp_subs_format_from_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return VP_SUBS_AUTO;
    if (!strcasecmp(dot, ".srt"))
        return VP_SUBS_SRT;
    if (!strcasecmp(dot, ".vtt"))
        return VP_SUBS_VTT;
    if (!strcasecmp(dot, ".ass") || !strcasecmp(dot, ".ssa"))
        return VP_SUBS_ASS;
    return VP_SUBS_AUTO;
}

const char *vp_subs_format_name(VpSubsFormat fmt)
{
    switch (fmt) {
    case VP_SUBS_SRT: return "srt";
    case VP_SUBS_VTT: return "vtt";
    case VP_SUBS_ASS: return "ass";
    default: return "auto";
    }
}

/* The first non-blank line, for the format's signature. */
static VpSubsFormat detect(const char *data, size_t size)
{
    VpiLines l;
    const char *s;
    size_t n;
    vpi_lines_init(&l, data, size);
    while (vpi_lines_next(&l, &s, &n)) {
        if (vpi_line_blank(s, n))
            continue;
        if (n >= 6 && !memcmp(s, "WEBVTT", 6) && (n == 6 || s[6] == ' ' || s[6] == '\t'))
            return VP_SUBS_VTT;
        if (n >= 13 && !strncasecmp(s, "[Script Info]", 13))
            return VP_SUBS_ASS;
        break;
    }
    return VP_SUBS_SRT;
}

int vp_subs_parse(const char *name, const void *data, size_t size, VpSubs **out,
                  VpFailure *fail)
{
    VpSubs *s = NULL;
    int ret;
    if (!name)
        name = "subtitles";
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    *out = NULL;
    if ((ret = vp_subs_new(&s)) < 0)
        return ret;
    s->format = detect(data, size);
    switch (s->format) {
    case VP_SUBS_VTT: ret = vpi_vtt_parse(s, name, data, size, fail); break;
    case VP_SUBS_ASS: ret = vpi_ass_parse(s, name, data, size, fail); break;
    default:          ret = vpi_srt_parse(s, name, data, size, fail); break;
    }
    if (ret < 0) {
        if (fail && !fail->message[0]) {
            fail->code = ret;
            snprintf(fail->path, sizeof(fail->path), "%s", name);
            snprintf(fail->message, sizeof(fail->message), "%s: %s", name, vp_strerror(ret));
        }
        vp_subs_free(&s);
        return ret;
    }
    *out = s;
    return 0;
}

static int fail_file(VpFailure *fail, const char *path, int err)
{
    if (fail) {
        fail->code = err;
        snprintf(fail->path, sizeof(fail->path), "%s", path);
        snprintf(fail->message, sizeof(fail->message), "%s: %s", path, vp_strerror(err));
    }
    return err;
}

int vp_subs_read(const char *path, VpSubs **out, VpFailure *fail)
{
    struct stat sb;
    char *data = NULL;
    int fd = -1, ret;
    *out = NULL;
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return fail_file(fail, path, AVERROR(errno));
    if (fstat(fd, &sb) < 0) {
        ret = fail_file(fail, path, AVERROR(errno));
        goto end;
    }
    if (S_ISDIR(sb.st_mode) || !S_ISREG(sb.st_mode)) {
        ret = fail_file(fail, path, S_ISDIR(sb.st_mode) ? VP_ERR_IS_DIRECTORY
                                                        : VP_ERR_NOT_REGULAR);
        goto end;
    }
    if (sb.st_size > SUBS_MAX_FILE) {
        ret = fail_file(fail, path, VP_ERR_TOO_LARGE);
        goto end;
    }
    size_t size = (size_t)sb.st_size, got = 0;
    if (!(data = malloc(size + 1))) {
        ret = fail_file(fail, path, AVERROR(ENOMEM));
        goto end;
    }
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = fail_file(fail, path, AVERROR(errno));
            goto end;
        }
        if (!r)
            break;  /* shrank while read: parse what is there */
        got += r;
    }
    ret = vp_subs_parse(path, data, got, out, fail);
end:
    free(data);
    if (fd >= 0)
        close(fd);
    return ret;
}

int vp_subs_write_buffer(const VpSubs *subs, VpSubsFormat fmt, char **buf, size_t *size)
{
    VpiBuf b = { 0 };
    *buf = NULL;
    switch (fmt) {
    case VP_SUBS_SRT: vpi_srt_write(subs, &b); break;
    case VP_SUBS_VTT: vpi_vtt_write(subs, &b); break;
    case VP_SUBS_ASS: vpi_ass_write(subs, &b); break;
    default: return AVERROR(EINVAL);
    }
    vpi_buf_add(&b, "", 0);
    if (b.oom) {
        free(b.data);
        return AVERROR(ENOMEM);
    }
    if (!(*buf = av_malloc(b.len + 1))) {
        free(b.data);
        return AVERROR(ENOMEM);
    }
    memcpy(*buf, b.data, b.len + 1);
    *size = b.len;
    free(b.data);
    return 0;
}

int vp_subs_write(const VpSubs *subs, const char *path, VpSubsFormat fmt, VpFailure *fail)
{
    char *text = NULL;
    size_t size = 0;
    int ret;
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    if (fmt == VP_SUBS_AUTO)
        fmt = vp_subs_format_from_name(path);
    if (fmt == VP_SUBS_AUTO) {
        if (fail) {
            fail->code = VP_ERR_BAD_OPTION;
            snprintf(fail->path, sizeof(fail->path), "%s", path);
            snprintf(fail->message, sizeof(fail->message),
                     "%s: no subtitle format: name it .srt, .vtt or .ass", path);
        }
        return VP_ERR_BAD_OPTION;
    }
    if ((ret = vp_subs_write_buffer(subs, fmt, &text, &size)) < 0)
        return fail_file(fail, path, ret);
    ret = vpi_output_write(path, text, size, 0);
    av_free(text);
    return ret < 0 ? fail_file(fail, path, ret) : 0;
}

/* ---- timing --------------------------------------------------------------------------- */

/* New times into tmp (validated) before any is changed; then cues ending before 0 dropped. */
static int retime(VpSubs *s, double a, double scale, int64_t b)
{
    /* t -> b + (t - a) * scale, rounded half away from zero; doubles hold every ms up to
     * VP_SUBS_MAX_MS (3.6e11 < 2^53) exactly. */
    int64_t *tmp = s->nb ? malloc(2 * (size_t)s->nb * sizeof(*tmp)) : NULL;
    if (s->nb && !tmp)
        return AVERROR(ENOMEM);
    for (int i = 0; i < s->nb; i++) {
        for (int k = 0; k < 2; k++) {
            double t = k ? s->cues[i].end : s->cues[i].start;
            double v = llround((t - a) * scale) + (double)b;
            if (!(v <= (double)VP_SUBS_MAX_MS) || !(v >= -(double)VP_SUBS_MAX_MS)) {
                free(tmp);
                return AVERROR(EINVAL);
            }
            tmp[2 * i + k] = (int64_t)v;
        }
    }
    int kept = 0, removed = 0;
    for (int i = 0; i < s->nb; i++) {
        int64_t st = tmp[2 * i], en = tmp[2 * i + 1];
        if (en < 0) {
            free(s->cues[i].text);
            removed++;
            continue;
        }
        s->cues[kept] = s->cues[i];
        s->cues[kept].start = st < 0 ? 0 : st;
        s->cues[kept].end = en;
        kept++;
    }
    s->nb = kept;
    free(tmp);
    return removed;
}

int vp_subs_shift(VpSubs *subs, int64_t offset_ms)
{
    if (offset_ms > VP_SUBS_MAX_MS || offset_ms < -VP_SUBS_MAX_MS)
        return AVERROR(EINVAL);
    return retime(subs, 0, 1, offset_ms);
}

int vp_subs_stretch(VpSubs *subs, double factor)
{
    if (!(factor > 0 && factor <= 1000))
        return AVERROR(EINVAL);
    return retime(subs, 0, factor, 0);
}

int vp_subs_map(VpSubs *subs, int64_t a1, int64_t b1, int64_t a2, int64_t b2)
{
    if (a1 == a2 || (b2 - b1 > 0) != (a2 - a1 > 0) || b1 == b2)
        return AVERROR(EINVAL);
    for (int k = 0; k < 4; k++) {
        int64_t v = k == 0 ? a1 : k == 1 ? b1 : k == 2 ? a2 : b2;
        if (v > VP_SUBS_MAX_MS || v < -VP_SUBS_MAX_MS)
            return AVERROR(EINVAL);
    }
    return retime(subs, (double)a1, (double)(b2 - b1) / (double)(a2 - a1), b1);
}
