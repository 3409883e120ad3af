/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: subtitle files (SRT, WebVTT, ASS) come from anyone. Parsing must never read
 * past the input, and what it accepts must round-trip: written in each of the three formats
 * and read again, it gives the same cues (ASS: times to the centisecond). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/mem.h>

#include "subs/subs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const VpSubs *a, const VpSubs *b, int cs, VpSubsFormat fmt)
{
    if (vp_subs_count(a) != vp_subs_count(b)) {
        fprintf(stderr, "%s: %d cues, then %d\n", vp_subs_format_name(fmt), vp_subs_count(a),
                vp_subs_count(b));
        abort();
    }
    for (int i = 0; i < vp_subs_count(a); i++) {
        VpSubsCue x, y;
        vp_subs_get(a, i, &x);
        vp_subs_get(b, i, &y);
        int64_t xs = cs ? vpi_round_cs(x.start_ms) : x.start_ms;
        int64_t xe = cs ? vpi_round_cs(x.end_ms) : x.end_ms;
        if (xs != y.start_ms || xe != y.end_ms || strcmp(x.text, y.text)) {
            fprintf(stderr, "%s: cue %d: %lld-%lld \"%s\" became %lld-%lld \"%s\"\n",
                    vp_subs_format_name(fmt), i, (long long)xs, (long long)xe, x.text,
                    (long long)y.start_ms, (long long)y.end_ms, y.text);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VpSubs *s = NULL;
    if (vp_subs_parse("fuzz", data, size, &s, NULL) < 0)
        return 0;
    for (VpSubsFormat fmt = VP_SUBS_SRT; fmt <= VP_SUBS_ASS; fmt++) {
        char *text = NULL;
        size_t n = 0;
        VpSubs *back = NULL;
        VpFailure f;
        if (vp_subs_write_buffer(s, fmt, &text, &n) < 0)
            break;
        if (vp_subs_parse("written", text, n, &back, &f) < 0) {
            fprintf(stderr, "%s written, refused: %s\n%s\n", vp_subs_format_name(fmt),
                    f.message, text);
            abort();
        }
        if (vp_subs_source_format(back) != fmt)
            abort();
        same(s, back, fmt == VP_SUBS_ASS, fmt);
        vp_subs_free(&back);
        av_free(text);
    }
    vp_subs_free(&s);
    return 0;
}
