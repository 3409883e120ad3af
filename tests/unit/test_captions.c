/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The caption rules (src/subs/captions.c) on timed words made up here: line and cue limits,
 * words never split, balanced lines, cuts at pauses, sentence ends and the 7 s bound, the
 * 1 s minimum taken from the silence around a cue, no overlap; and the engine tokens that
 * are not words (src/subs/asr.c). */
#include <string.h>

#include "test.h"
#include "subs/asr.h"
#include "subs/captions.h"

#define MAXW 512

typedef struct Words {
    VpiWord w[MAXW];
    int n;
} Words;

/* Words of @p text, each @p word_ms long with @p gap_ms between, from @p start_ms. */
static int64_t say(Words *ws, const char *text, int64_t start_ms, int64_t word_ms,
                   int64_t gap_ms)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", text);
    int64_t t = start_ms;
    for (char *save = NULL, *p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
        VpiWord *w = &ws->w[ws->n++];
        w->start = t;
        w->end = t + word_ms;
        snprintf(w->text, sizeof(w->text), "%s", p);
        t = w->end + gap_ms;
    }
    return t - gap_ms;
}

static VpSubs *make(const Words *ws, int chars, int lines)
{
    VpiCaptionRules r;
    VpSubs *s = NULL;
    vpi_caption_rules_default(&r);
    r.max_chars = chars;
    r.max_lines = lines;
    CHECK_EQ(vp_subs_new(&s), 0);
    int n = vpi_captions_make(ws->w, ws->n, &r, s);
    CHECK_EQ(n, vp_subs_count(s));
    return s;
}

/* Every rule on every cue, and the words in order, each whole, none lost. */
static void check_rules(const Words *ws, const VpSubs *s, int chars, int lines, int strict_min)
{
    VpSubsCue c, prev = { 0 };
    char all[8192] = "", want[8192] = "";
    for (int i = 0; i < ws->n; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s", i ? " " : "",
                 ws->w[i].text);
    for (int i = 0; i < vp_subs_count(s); i++) {
        vp_subs_get(s, i, &c);
        int nl = 1, len = 0;
        for (const char *p = c.text; *p; p++) {
            if (*p == '\n') {
                CHECK_INT(len, <=, chars);
                nl++;
                len = 0;
            } else {
                len += ((unsigned char)*p & 0xC0) != 0x80;
            }
        }
        CHECK_INT(len, <=, chars);
        CHECK_INT(nl, <=, lines);
        CHECK_INT(c.end_ms - c.start_ms, <=, 7000);
        if (strict_min)
            CHECK_INT(c.end_ms - c.start_ms, >=, 1000);
        if (i)
            CHECK_INT(c.start_ms, >=, prev.end_ms);
        prev = c;
        char line[1024];
        snprintf(line, sizeof(line), "%s", c.text);
        for (char *p = line; *p; p++)
            if (*p == '\n')
                *p = ' ';
        snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? " " : "", line);
    }
    CHECK_STR(all, want);
}

static void cue_text(const VpSubs *s, int i, const char *want)
{
    VpSubsCue c = { 0 };
    CHECK_EQ(vp_subs_get(s, i, &c), 0);
    CHECK_STR(c.text, want);
}

int main(void)
{
    static Words ws;
    VpSubs *s;
    VpSubsCue c;

    /* A sentence of 46 characters at an even pace: one cue of two balanced lines (23 and
     * 22, not 42 and 3); 42 characters exactly are one line. */
    ws.n = 0;
    say(&ws, "we will all meet at the station early tomorrow", 1000, 300, 100);
    s = make(&ws, 42, 2);
    CHECK_EQ(vp_subs_count(s), 1);
    cue_text(s, 0, "we will all meet at the\nstation early tomorrow");
    vp_subs_get(s, 0, &c);
    CHECK_EQ(c.start_ms, 1000);
    CHECK_EQ(c.end_ms, 1000 + 9 * 300 + 8 * 100);
    check_rules(&ws, s, 42, 2, 1);
    vp_subs_free(&s);
    ws.n = 0;
    say(&ws, "we will meet at the station early tomorrow", 1000, 300, 100);
    s = make(&ws, 42, 2);
    cue_text(s, 0, "we will meet at the station early tomorrow");
    check_rules(&ws, s, 42, 2, 1);
    vp_subs_free(&s);

    /* A pause of 600 ms ends a cue even when the text would fit. */
    ws.n = 0;
    int64_t t = say(&ws, "hello there", 0, 400, 50);
    say(&ws, "general kenobi", t + 600, 400, 50);
    s = make(&ws, 42, 2);
    CHECK_EQ(vp_subs_count(s), 2);
    cue_text(s, 0, "hello there");
    cue_text(s, 1, "general kenobi");
    check_rules(&ws, s, 42, 2, 1);
    vp_subs_free(&s);

    /* A sentence end (an engine that punctuates) ends a cue; a 200 ms gap alone does not. */
    ws.n = 0;
    t = say(&ws, "it is done.", 0, 300, 200);
    say(&ws, "we go now", t + 200, 300, 200);
    s = make(&ws, 42, 2);
    CHECK_EQ(vp_subs_count(s), 2);
    cue_text(s, 0, "it is done.");
    vp_subs_free(&s);
    ws.n = 0;
    t = say(&ws, "it is done", 0, 300, 200);
    say(&ws, "we go now", t + 200, 300, 200);
    s = make(&ws, 42, 2);
    CHECK_EQ(vp_subs_count(s), 1);
    vp_subs_free(&s);

    /* Two minutes of fast talk without a pause: many cues, every rule held, every word. */
    ws.n = 0;
    t = 500;
    for (int i = 0; i < 40; i++)
        t = say(&ws, "the quick brown fox jumps over the lazy dog", t, 180, 40) + 40;
    CHECK_INT(ws.n, ==, 360);
    s = make(&ws, 42, 2);
    CHECK_INT(vp_subs_count(s), >=, 79 / 7);
    check_rules(&ws, s, 42, 2, 1);
    vp_subs_free(&s);
    /* Narrow lines, one a cue: more cues, the same rules. */
    s = make(&ws, 16, 1);
    CHECK_INT(vp_subs_count(s), >, 80);
    check_rules(&ws, s, 16, 1, 0);
    vp_subs_free(&s);

    /* Slow speech: 7 s is the most a cue shows, whatever fits. */
    ws.n = 0;
    say(&ws, "one two three four five six seven eight nine ten", 0, 900, 100);
    s = make(&ws, 42, 2);
    CHECK_INT(vp_subs_count(s), >=, 2);
    vp_subs_get(s, 0, &c);
    CHECK_INT(c.end_ms - c.start_ms, <=, 7000);
    check_rules(&ws, s, 42, 2, 1);
    vp_subs_free(&s);

    /* A short word alone stays 1 s when the silence after it allows; against the next
     * word it takes the silence before it instead, and never overlaps. */
    ws.n = 0;
    say(&ws, "yes", 2000, 200, 0);
    say(&ws, "and then we left", 4000, 300, 50);
    s = make(&ws, 42, 2);
    CHECK_EQ(vp_subs_count(s), 2);
    vp_subs_get(s, 0, &c);
    CHECK_EQ(c.start_ms, 2000);
    CHECK_EQ(c.end_ms, 3000);
    vp_subs_free(&s);
    ws.n = 0;
    say(&ws, "no", 3000, 200, 0);
    say(&ws, "said the man", 3700, 300, 50);
    s = make(&ws, 42, 2);
    CHECK_EQ(vp_subs_count(s), 2);
    vp_subs_get(s, 0, &c);
    CHECK_EQ(c.end_ms, 3700);
    CHECK_EQ(c.start_ms, 2700);
    check_rules(&ws, s, 42, 2, 1);
    vp_subs_free(&s);

    /* Words are never split: one longer than a line keeps a line of its own. */
    ws.n = 0;
    say(&ws, "a pneumonoultramicroscopicsilicovolcanoconiosis b", 0, 400, 50);
    s = make(&ws, 20, 2);
    for (int i = 0; i < vp_subs_count(s); i++) {
        vp_subs_get(s, i, &c);
        CHECK(!strstr(c.text, "pneumonoultramicroscopicsilicovolcanoconiosis") ||
              strstr(c.text, "\npneumonoultramicroscopicsilicovolcanoconiosis\n") ||
              !strcmp(c.text, "pneumonoultramicroscopicsilicovolcanoconiosis") ||
              strstr(c.text, "pneumonoultramicroscopicsilicovolcanoconiosis\n") == c.text ||
              strstr(c.text, "\npneumonoultramicroscopicsilicovolcanoconiosis"));
    }
    vp_subs_free(&s);

    /* UTF-8: characters, not bytes, fill a line (20 two-byte letters fit 20). */
    ws.n = 0;
    say(&ws, "ééééééééé ééééééééééé", 0, 400, 50);
    s = make(&ws, 21, 1);
    CHECK_EQ(vp_subs_count(s), 1);
    vp_subs_free(&s);

    /* Overlapping engine words and no words at all. */
    ws.n = 0;
    say(&ws, "over lapping", 1000, 500, 0);
    ws.w[1].start = 1300;
    s = make(&ws, 42, 2);
    CHECK_EQ(vp_subs_count(s), 1);
    vp_subs_free(&s);
    ws.n = 0;
    s = make(&ws, 42, 2);
    CHECK_EQ(vp_subs_count(s), 0);
    VpiCaptionRules bad;
    vpi_caption_rules_default(&bad);
    bad.max_lines = 0;
    CHECK(vpi_captions_make(ws.w, 0, &bad, s) < 0);
    vp_subs_free(&s);

    /* Engine tokens: markers are not words, alternates lose their number. */
    CHECK(!vpi_asr_is_word("<s>"));
    CHECK(!vpi_asr_is_word("</s>"));
    CHECK(!vpi_asr_is_word("<sil>"));
    CHECK(!vpi_asr_is_word("[NOISE]"));
    CHECK(!vpi_asr_is_word("++BREATH++"));
    CHECK(!vpi_asr_is_word(""));
    CHECK(vpi_asr_is_word("house"));
    char w[64];
    vpi_asr_word_text(w, sizeof(w), "probably(2)");
    CHECK_STR(w, "probably");
    vpi_asr_word_text(w, sizeof(w), "that(12)");
    CHECK_STR(w, "that");
    vpi_asr_word_text(w, sizeof(w), "(a)");
    CHECK_STR(w, "(a)");
    vpi_asr_word_text(w, sizeof(w), "x(y)");
    CHECK_STR(w, "x(y)");
    CHECK(vpi_asr_find(NULL) == &vpi_asr_pocketsphinx);
    CHECK(vpi_asr_find("pocketsphinx") == &vpi_asr_pocketsphinx);
    CHECK(!vpi_asr_find("nope"));

    TEST_END();
}
