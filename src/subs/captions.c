/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Captions from timed words. A cue grows word by word and ends before the word that would
 * break a rule: too many lines, too long on screen, a pause (the speaker stopped: the next
 * words belong to a new thought), or after a word that ends a sentence. Its words are then
 * laid out in as few lines as fit, balanced (two lines of 30 and 12 characters read worse
 * than 21 and 21), and its times stretched to the minimum into the silence around it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>

#include "captions.h"

void vpi_caption_rules_default(VpiCaptionRules *r)
{
    r->max_chars = 42;
    r->max_lines = 2;
    r->min_ms = 1000;
    r->max_ms = 7000;
    r->pause_ms = 500;
}

/* Characters as a reader counts them: UTF-8 code points. */
static int text_chars(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Lines needed for words [a, b) with lines at most @p width wide (a longer word alone). */
static int lines_for(const int *len, int a, int b, int width)
{
    int lines = 0, cur = -1;
    for (int i = a; i < b; i++) {
        if (cur >= 0 && cur + 1 + len[i] <= width) {
            cur += 1 + len[i];
        } else {
            lines++;
            cur = len[i];
        }
    }
    return lines;
}

static int ends_sentence(const char *w)
{
    size_t n = strlen(w);
    return n && strchr(".?!", w[n - 1]);
}

/* Words [a, b) as lines of at most @p width, the narrowest width that needs no more lines
 * than @p width itself does. */
static int emit(const VpiWord *w, const int *len, int a, int b, int width, int64_t start,
                int64_t end, VpSubs *out)
{
    int lines = lines_for(len, a, b, width), total = 0;
    for (int i = a; i < b; i++)
        total += len[i] + (i > a);
    int best = width;
    for (int t = (total + lines - 1) / lines; t < width; t++)
        if (lines_for(len, a, b, t) <= lines) {
            best = t;
            break;
        }
    size_t size = 1;
    for (int i = a; i < b; i++)
        size += strlen(w[i].text) + 1;
    char *text = malloc(size), *p = text;
    if (!text)
        return AVERROR(ENOMEM);
    int cur = -1;
    for (int i = a; i < b; i++) {
        if (cur >= 0 && cur + 1 + len[i] <= best) {
            *p++ = ' ';
            cur += 1 + len[i];
        } else {
            if (cur >= 0)
                *p++ = '\n';
            cur = len[i];
        }
        size_t n = strlen(w[i].text);
        memcpy(p, w[i].text, n);
        p += n;
    }
    *p = 0;
    int ret = vp_subs_add(out, start, end, text);
    free(text);
    return ret;
}

int vpi_captions_make(const VpiWord *w, int nb, const VpiCaptionRules *r, VpSubs *out)
{
    if (r->max_chars < 1 || r->max_lines < 1 || r->min_ms < 0 || r->max_ms < r->min_ms ||
        r->max_ms < 1 || r->pause_ms < 0 || nb < 0)
        return AVERROR(EINVAL);
    if (!nb)
        return 0;
    int *len = malloc(nb * sizeof(*len));
    /* Cue k holds words [first[k], first[k + 1]). */
    int *first = malloc((nb + 1) * sizeof(*first));
    int64_t *cs = malloc(nb * sizeof(*cs)), *ce = malloc(nb * sizeof(*ce));
    int ret = 0, nb_cues = 0;
    if (!len || !first || !cs || !ce) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int i = 0; i < nb; i++)
        len[i] = text_chars(w[i].text);

    for (int i = 0; i < nb;) {
        int a = i++;
        /* How full a cue must be before a short pause (half the rule's) ends it too. */
        int soft = r->max_chars * r->max_lines * 3 / 5, chars = len[a];
        while (i < nb) {
            int64_t gap = w[i].start - w[i - 1].end;
            if (gap >= r->pause_ms || ends_sentence(w[i - 1].text) ||
                (gap >= r->pause_ms / 2 && chars >= soft) ||
                w[i].end - w[a].start > r->max_ms ||
                lines_for(len, a, i + 1, r->max_chars) > r->max_lines)
                break;
            chars += 1 + len[i++];
        }
        first[nb_cues] = a;
        cs[nb_cues] = w[a].start;
        ce[nb_cues] = w[i - 1].end > w[a].start ? w[i - 1].end : w[a].start;
        nb_cues++;
    }
    first[nb_cues] = nb;

    /* Times: no overlap first, then the minimum taken from the silence after the cue and
     * then before it, the maximum cut (only a single word can last longer). */
    for (int k = 0; k < nb_cues; k++) {
        int64_t prev_end = k ? ce[k - 1] : 0;
        int64_t next_start = k + 1 < nb_cues ? cs[k + 1] : INT64_MAX;
        if (cs[k] < prev_end)
            cs[k] = prev_end;
        if (ce[k] > next_start)
            ce[k] = next_start;
        if (ce[k] < cs[k])
            ce[k] = cs[k];
        if (ce[k] - cs[k] < r->min_ms)
            ce[k] = next_start - cs[k] < r->min_ms ? next_start : cs[k] + r->min_ms;
        if (ce[k] - cs[k] < r->min_ms)
            cs[k] = ce[k] - r->min_ms > prev_end ? ce[k] - r->min_ms : prev_end;
        if (ce[k] - cs[k] > r->max_ms)
            ce[k] = cs[k] + r->max_ms;
    }
    for (int k = 0; k < nb_cues; k++)
        if ((ret = emit(w, len, first[k], first[k + 1], r->max_chars, cs[k], ce[k], out)) < 0)
            goto end;
    ret = nb_cues;
end:
    free(len);
    free(first);
    free(cs);
    free(ce);
    return ret;
}
