/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Timed words into captions: the caption rules of broadcast and web style guides (BBC, Netflix
 * timed text: at most 42 characters a line, at most 2 lines, 1 to 7 seconds on screen, never
 * two at once), words never split. Pure: no I/O, no engine; tests/unit/test_captions.c. */
#ifndef VIDPIPE_SUBS_CAPTIONS_H
#define VIDPIPE_SUBS_CAPTIONS_H

#include <stdint.h>

#include "vidpipe/subtitles.h"

/* One recognised word, times in ms from the start of the input. */
typedef struct VpiWord {
    int64_t start, end;
    char text[64];
} VpiWord;

typedef struct VpiCaptionRules {
    int max_chars;          /* a line's characters (UTF-8 code points) */
    int max_lines;          /* lines in a cue */
    int64_t min_ms, max_ms; /* a cue's time on screen */
    int64_t pause_ms;       /* a gap between words this long always ends a cue */
} VpiCaptionRules;

/* 42 characters, 2 lines, 1000..7000 ms, pauses of 500 ms. */
void vpi_caption_rules_default(VpiCaptionRules *r);

/* Append to @p out the captions of @p nb words (in time order; overlapping neighbours are
 * tolerated). A word longer than a line gets a line of its own. Returns the number of cues
 * added, or AVERROR(ENOMEM) / AVERROR(EINVAL) for rules out of range. */
int vpi_captions_make(const VpiWord *words, int nb, const VpiCaptionRules *rules, VpSubs *out);

#endif /* VIDPIPE_SUBS_CAPTIONS_H */
