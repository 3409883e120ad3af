/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Batch manifests: RFC 4180 quoting, headers, padding, path resolution, and one error line
 * with the line number for each kind of malformed input. */
#include <stdio.h>
#include <string.h>

#include "common/manifest.h"
#include "test.h"

static int parse(const char *text, const char *seg_base, const char *out_base, VpiManifest *m,
                 char *why)
{
    return vpi_manifest_parse(text, strlen(text), "m.csv", seg_base, out_base, m, why, 256);
}

static void test_rows(void)
{
    VpiManifest m;
    char why[256];
    const char *text =
        "\xef\xbb\xbf" "Output,Intro,Clip,Outro\r\n"
        "a.mp4,intro.mp4,clip a.mp4,outro.mp4\r\n"
        "\r\n"
        "\"b, the \"\"second\"\".mp4\" , \"in\"\"tro.mp4\",  (x) & caf\xc3\xa9 .mp4 ,,\r\n"
        ",,,\n"
        "\"multi\nline.mp4\",/abs/seg one.mp4,intro.mp4,\"\",two\"quote.mp4\r"
        "last.mp4,only.mp4";
    CHECK_EQ(parse(text, "base", "out", &m, why), 0);
    CHECK_EQ(m.has_header, 1);
    CHECK_EQ(m.nb_rows, 4);
    if (m.nb_rows != 4)
        return;
    CHECK_STR(m.rows[0].output, "out/a.mp4");
    CHECK_EQ(m.rows[0].nb_segments, 3);
    CHECK_STR(m.rows[0].segments[1], "base/clip a.mp4");
    CHECK_EQ(m.rows[0].line, 2);
    CHECK_STR(m.rows[1].output, "out/b, the \"second\".mp4");
    CHECK_EQ(m.rows[1].nb_segments, 2);
    CHECK_STR(m.rows[1].segments[0], "base/in\"tro.mp4");
    CHECK_STR(m.rows[1].segments[1], "base/(x) & caf\xc3\xa9 .mp4");
    CHECK_EQ(m.rows[1].line, 4);
    CHECK_STR(m.rows[2].output, "out/multi\nline.mp4");
    CHECK_EQ(m.rows[2].nb_segments, 3);
    CHECK_STR(m.rows[2].segments[0], "/abs/seg one.mp4");
    CHECK_STR(m.rows[2].segments[2], "base/two\"quote.mp4");
    CHECK_EQ(m.rows[2].line, 6);
    CHECK_STR(m.rows[3].output, "out/last.mp4");
    CHECK_EQ(m.rows[3].line, 8);
    /* Shared segments are stored once. */
    CHECK(m.rows[2].segments[1] == m.rows[0].segments[0]);
    CHECK_EQ(m.nb_unique_segments, 8);
    vpi_manifest_free(&m);

    /* No header, no bases: paths stay as written. */
    CHECK_EQ(parse("x.mp4,y.mp4\n", NULL, "", &m, why), 0);
    CHECK_EQ(m.has_header, 0);
    CHECK_STR(m.rows[0].output, "x.mp4");
    CHECK_STR(m.rows[0].segments[0], "y.mp4");
    vpi_manifest_free(&m);
    CHECK_EQ(parse("x.mp4,y.mp4\n", "/", "/o/", &m, why), 0);
    CHECK_STR(m.rows[0].output, "/o/x.mp4");
    CHECK_STR(m.rows[0].segments[0], "/y.mp4");
    vpi_manifest_free(&m);
}

static void test_errors(void)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        { "a.mp4,b.mp4\nc.mp4,\"open\n\nd", "m.csv:2: a quoted field is not closed" },
        { "a.mp4,\"b\"x.mp4\n", "m.csv:1: 'x' after a closing quote" },
        { "a.mp4,b.mp4\nonly.mp4,,\n", "m.csv:2: only.mp4: no segments" },
        { "a.mp4,b.mp4\n,b.mp4\n", "m.csv:2: the first field (the output) is empty" },
        { "output,seg\n", "m.csv:2: no rows" },
        { "", "m.csv:1: no rows" },
        { "\n\n,,\n", "m.csv:4: no rows" },
    };
    VpiManifest m;
    char why[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(parse(cases[i].text, NULL, NULL, &m, why) < 0);
        if (strncmp(why, cases[i].why, strlen(cases[i].why)))
            T_FAIL("case %zu: \"%s\" does not start with \"%s\"", i, why, cases[i].why);
        CHECK_EQ(m.nb_rows, 0);
        CHECK(m.rows == NULL);
    }
    const char nul[] = "a.mp4,b\0.mp4\n";
    CHECK(vpi_manifest_parse(nul, sizeof(nul) - 1, "m.csv", NULL, NULL, &m, why, 256) < 0);
    CHECK_STR(why, "m.csv:1: contains a NUL byte (not a text file)");

    char big[6000];
    memset(big, 'x', sizeof(big));
    memcpy(big, "o.mp4,", 6);
    big[sizeof(big) - 1] = 0;
    CHECK(parse(big, NULL, NULL, &m, why) < 0);
    CHECK_STR(why, "m.csv:1: a field is longer than 4095 bytes");
}

int main(void)
{
    test_rows();
    test_errors();
    TEST_END();
}
