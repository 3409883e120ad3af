/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the subtitle files (subs.c, subs_srt.c, subs_vtt.c, subs_ass.c, subs_mux.c) share. */
#ifndef VIDPIPE_SUBS_H
#define VIDPIPE_SUBS_H

#include <stddef.h>
#include <stdint.h>

#include "vidpipe/subtitles.h"
#include "util/internal.h"

typedef struct VpiCue {
    int64_t start, end;         /* ms */
    char *text;                 /* the model's form (vpi_subs_canon) */
} VpiCue;

struct VpSubs {
    VpiCue *cues;
    int nb, cap;
    VpSubsFormat format;
};

/* A growing text; a failed allocation sets oom and makes every later append a no-op. */
typedef struct VpiBuf {
    char *data;
    size_t len, cap;
    int oom;
} VpiBuf;

void vpi_buf_add(VpiBuf *b, const char *s, size_t n);
void vpi_buf_str(VpiBuf *b, const char *s);
void vpi_buf_printf(VpiBuf *b, const char *fmt, ...) VPI_PRINTF(2, 3);

/* The lines of a file: BOM skipped, "\n" and "\r\n" ends, numbered from 1. */
typedef struct VpiLines {
    const char *p, *end;
    int number;                 /* of the line last returned */
} VpiLines;

void vpi_lines_init(VpiLines *l, const char *data, size_t size);
/* The next line (without its end) in *s, *n; 0 at the end of the file. */
int vpi_lines_next(VpiLines *l, const char **s, size_t *n);
/* Whether a line holds only spaces and tabs. */
int vpi_line_blank(const char *s, size_t n);

/* "NAME:LINE: reason" into fail (may be NULL); returns AVERROR_INVALIDDATA. */
int vpi_subs_fail(VpFailure *fail, const char *name, int line, const char *fmt, ...)
    VPI_PRINTF(4, 5);

/* A time "[H:]MM:SS[.,]F": at most @p max_fields fields (2: hours optional, 3 needed when
 * @p need_hours), @p frac_digits fraction digits (0: 1 to 3). *used: the bytes read. Returns
 * NULL, or why it is not one. */
const char *vpi_parse_time(const char *s, size_t n, int need_hours, int frac_digits,
                           size_t *used, int64_t *ms);
/* "START --> END[ anything]" (SRT, WebVTT) into *start, *end: NULL, or the reason in
 * @p why ("end time 00:00:01,000 is before start 00:00:03,000", times written with @p sep). */
const char *vpi_parse_timing(const char *s, size_t n, int need_hours, char sep,
                             int64_t *start, int64_t *end, char *why, size_t why_size);
/* "HH:MM:SS" + sep + "mmm" (sep ',' SRT, '.' WebVTT). */
void vpi_buf_time(VpiBuf *b, int64_t ms, char sep);

/* Bring @p n bytes of cue text to the model's form (a malloc'd string, NULL when out of
 * memory): controls and CR dropped, <i> <b> <u> (any case, WebVTT classes) and ASS's
 * {\i1} {\b1} {\u1} ... become <i> </i> ..., any other <tag> or {\...} block is dropped,
 * lines trimmed, empty lines dropped. Idempotent: what it returns, it returns unchanged. */
char *vpi_subs_canon(const char *s, size_t n);
/* The model's tags for the ASS override tags of a block's inside ("\i1\b0\pos(1,2)"). */
void vpi_ass_overrides(VpiBuf *out, const char *s, size_t n);
/* Length of the model tag at s (which has n bytes left): 3 ("<i>") or 4 ("</i>"), else 0;
 * *tag the letter, *close 1 for an end tag. */
int vpi_model_tag(const char *s, size_t n, char *tag, int *close);

/* Append a cue whose text is already in the model's form (taken over: freed on failure). */
int vpi_subs_push(VpSubs *s, int64_t start, int64_t end, char *text);

int vpi_srt_parse(VpSubs *s, const char *name, const char *data, size_t size, VpFailure *f);
int vpi_vtt_parse(VpSubs *s, const char *name, const char *data, size_t size, VpFailure *f);
int vpi_ass_parse(VpSubs *s, const char *name, const char *data, size_t size, VpFailure *f);
void vpi_srt_write(const VpSubs *s, VpiBuf *b);
void vpi_vtt_write(const VpSubs *s, VpiBuf *b);
void vpi_ass_write(const VpSubs *s, VpiBuf *b);
/* ASS's pieces, for the muxer's ASS and mov_text tracks: the header up to "[Events]"'s
 * Format line, and one cue's Text field. */
void vpi_ass_header(VpiBuf *b);
void vpi_ass_text(VpiBuf *b, const char *text);
/* The nearest centisecond, in ms (ASS's clock). */
static inline int64_t vpi_round_cs(int64_t ms)
{
    return (ms + 5) / 10 * 10;
}

#endif /* VIDPIPE_SUBS_H */
