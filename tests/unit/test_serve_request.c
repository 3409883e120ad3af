/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job server's request parsers (servers/serve/request.c, route.c): what each accepts,
 * and the exact line a client gets for what it refuses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "route.h"
#include "test.h"

static char why[512];

static int spec(const char *body, VpUploadSpec *s, json_t **keep, char *opts)
{
    why[0] = 0;
    return sv_parse_upload_spec(body, strlen(body), s, keep, opts, 256, why, sizeof(why));
}

static void test_upload_spec(void)
{
    VpUploadSpec s;
    json_t *keep;
    char opts[256];

    CHECK_EQ(spec("{\"filename\": \"clip.mp4\", \"size\": 1000, \"sha256\": \"ab\", "
                  "\"part_size\": 1048576, \"options\": \"height=720&fps=15\"}",
                  &s, &keep, opts), 0);
    CHECK_STR(s.filename, "clip.mp4");
    CHECK_EQ(s.size, 1000);
    CHECK_STR(s.sha256, "ab");
    CHECK_EQ(s.part_size, 1048576);
    CHECK_STR(s.options, "height=720&fps=15");
    json_decref(keep);

    /* options as an object: numbers, strings and booleans in order */
    CHECK_EQ(spec("{\"filename\": \"a.mov\", \"size\": 1, \"options\": {\"height\": 480, "
                  "\"fps\": 12.5, \"preset\": \"fast\", \"audio\": false}}", &s, &keep, opts), 0);
    CHECK_STR(s.options, "height=480&fps=12.5&preset=fast&audio=false");
    CHECK(s.sha256 == NULL);
    CHECK_EQ(s.part_size, 0);
    json_decref(keep);

    CHECK_EQ(spec("{\"filename\": \"a.mov\", \"size\": 1, \"sha256\": null, \"options\": null}",
                  &s, &keep, opts), 0);
    CHECK(s.options == NULL && s.sha256 == NULL);
    json_decref(keep);

    static const struct { const char *body, *why; } bad[] = {
        { "", "the body is empty, a JSON object was expected" },
        { "[1]", "the body is not a JSON object" },
        { "{\"filename\": \"a\", ", "the body is not JSON: string or '}' expected near end "
          "of file (line 1, column 18)" },
        { "{\"size\": 3}", "\"filename\": required (the original's file name)" },
        { "{\"filename\": 3, \"size\": 3}", "\"filename\": must be a string" },
        { "{\"filename\": \"a\\u0000b\", \"size\": 3}", "the body is not JSON: \\u0000 is not "
          "allowed without JSON_ALLOW_NUL near '\"a\\u0000b\"' (line 1, column 23)" },
        { "{\"filename\": \"a\"}", "\"size\": required (the original's size in bytes)" },
        { "{\"filename\": \"a\", \"size\": 0}", "\"size\": must be an integer of at least 1" },
        { "{\"filename\": \"a\", \"size\": 1.5}", "\"size\": must be an integer of at least 1" },
        { "{\"filename\": \"a\", \"size\": \"3\"}",
          "\"size\": must be an integer of at least 1" },
        { "{\"filename\": \"a\", \"size\": 3, \"part_size\": -1}",
          "\"part_size\": must be an integer of at least 1" },
        { "{\"filename\": \"a\", \"size\": 3, \"sha\": \"x\"}", "unknown member \"sha\"" },
        { "{\"filename\": \"a\", \"size\": 3, \"fi\\nle\": 1}", "unknown member \"fi?le\"" },
        { "{\"filename\": \"a\", \"filename\": \"b\", \"size\": 3}",
          "the body is not JSON: duplicate object key near '\"filename\"' (line 1, column 28)" },
        { "{\"filename\": \"a\", \"size\": 3, \"options\": 5}",
          "\"options\": must be a string (\"height=720&fps=15\") or an object "
          "({\"height\": 720})" },
        { "{\"filename\": \"a\", \"size\": 3, \"options\": \"height\"}",
          "\"options\": \"height\" is not NAME=VALUE" },
        { "{\"filename\": \"a\", \"size\": 3, \"options\": \"Height=3\"}",
          "option \"Height\": not an option name (1-32 of a-z, 0-9, '_', '-')" },
        { "{\"filename\": \"a\", \"size\": 3, \"options\": \"height=\"}",
          "option \"height\": the value must be 1-256 bytes" },
        { "{\"filename\": \"a\", \"size\": 3, \"options\": {\"height\": [1]}}",
          "\"options\": \"height\" must be a string, number or boolean" },
        { "{\"filename\": \"a\", \"size\": 3, \"options\": {\"a\": {\"b\": {\"c\": {\"d\": "
          "{\"e\": {\"f\": {\"g\": {\"h\": 1}}}}}}}}}",
          "the body nests deeper than 8 levels" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        keep = (json_t *)1;
        CHECK_EQ(spec(bad[i].body, &s, &keep, opts), -1);
        CHECK(keep == NULL);
        CHECK(s.filename == NULL && s.options == NULL);
        CHECK_STR(why, bad[i].why);
    }
}

static void test_complete(void)
{
    VpPartRef *parts;
    int nb;
    const char *sha;
    json_t *keep;
    const char *good = "{\"parts\": [{\"part_number\": 1, \"etag\": \"\\\"e1\\\"\"}, "
                       "{\"part_number\": 2, \"etag\": \"e2\"}], \"sha256\": \"ff\"}";
    CHECK_EQ(sv_parse_complete(good, strlen(good), &parts, &nb, &sha, &keep, why, sizeof(why)),
             0);
    CHECK_EQ(nb, 2);
    CHECK_EQ(parts[0].part_number, 1);
    CHECK_STR(parts[0].etag, "\"e1\"");
    CHECK_EQ(parts[1].part_number, 2);
    CHECK_STR(parts[1].etag, "e2");
    CHECK_STR(sha, "ff");
    free(parts);
    json_decref(keep);

    static const struct { const char *body, *why; } bad[] = {
        { "{}", "\"parts\": required, an array of {\"part_number\", \"etag\"}" },
        { "{\"parts\": []}", "\"parts\": must list 1 to 1048576 parts" },
        { "{\"parts\": [1]}", "parts[0]: not an object {\"part_number\", \"etag\"}" },
        { "{\"parts\": [{\"part_number\": 1, \"etag\": \"a\"}, {\"etag\": \"b\"}]}",
          "parts[1]: \"part_number\": required, an integer 1..1048576" },
        { "{\"parts\": [{\"part_number\": 0, \"etag\": \"a\"}]}",
          "parts[0]: \"part_number\": required, an integer 1..1048576" },
        { "{\"parts\": [{\"part_number\": 1}]}",
          "parts[0]: \"etag\": required, the part's etag as its PUT answered" },
        { "{\"parts\": [{\"part_number\": 1, \"etag\": \"\"}]}",
          "parts[0]: \"etag\": required, the part's etag as its PUT answered" },
        { "{\"parts\": [{\"part_number\": 1, \"etag\": \"a\", \"size\": 3}]}",
          "parts[0]: unknown member \"size\"" },
        { "{\"parts\": [{\"part_number\": 1, \"etag\": \"a\"}], \"sha256\": 5}",
          "\"sha256\": must be a string" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        parts = (VpPartRef *)1;
        CHECK_EQ(sv_parse_complete(bad[i].body, strlen(bad[i].body), &parts, &nb, &sha, &keep,
                                   why, sizeof(why)), -1);
        CHECK(parts == NULL && keep == NULL && sha == NULL && nb == 0);
        CHECK_STR(why, bad[i].why);
    }
}

static void test_links_and_options_body(void)
{
    char path[64], buf[128];
    int64_t ttl;
    const char *b = "{\"path\": \"/api/v1/videos/3/proxy\", \"ttl\": 60}";
    CHECK_EQ(sv_parse_link_request(b, strlen(b), path, sizeof(path), &ttl, 3600, 86400, why,
                                   sizeof(why)), 0);
    CHECK_STR(path, "/api/v1/videos/3/proxy");
    CHECK_EQ(ttl, 60);
    b = "{\"path\": \"/\"}";
    CHECK_EQ(sv_parse_link_request(b, strlen(b), path, sizeof(path), &ttl, 3600, 86400, why,
                                   sizeof(why)), 0);
    CHECK_EQ(ttl, 3600);
    static const struct { const char *body, *why; } bad[] = {
        { "{}", "\"path\": required (the path to sign, \"/api/v1/videos/1/proxy\")" },
        { "{\"path\": \"api\"}", "\"path\": must start with '/' and hold no query" },
        { "{\"path\": \"/a?b=1\"}", "\"path\": must start with '/' and hold no query" },
        { "{\"path\": \"/a b\"}", "\"path\": holds a space or control character" },
        { "{\"path\": \"/a\", \"ttl\": 0}", "\"ttl\": must be an integer 1..86400 (seconds)" },
        { "{\"path\": \"/a\", \"ttl\": 86401}",
          "\"ttl\": must be an integer 1..86400 (seconds)" },
        { "{\"path\": \"/0123456789012345678901234567890123456789012345678901234567890123\"}",
          "\"path\": longer than 63 bytes" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        CHECK_EQ(sv_parse_link_request(bad[i].body, strlen(bad[i].body), path, sizeof(path),
                                       &ttl, 3600, 86400, why, sizeof(why)), -1);
        CHECK_STR(why, bad[i].why);
        CHECK_STR(path, "");
    }

    CHECK_EQ(sv_parse_options_body("", 0, buf, sizeof(buf), why, sizeof(why)), 0);
    CHECK_STR(buf, "");
    b = "{\"options\": {\"height\": 720}}";
    CHECK_EQ(sv_parse_options_body(b, strlen(b), buf, sizeof(buf), why, sizeof(why)), 0);
    CHECK_STR(buf, "height=720");
    b = "{\"option\": 1}";
    CHECK_EQ(sv_parse_options_body(b, strlen(b), buf, sizeof(buf), why, sizeof(why)), -1);
    CHECK_STR(why, "unknown member \"option\"");
}

static void test_query(void)
{
    char buf[24] = "";
    int limit = 0;
    int64_t v;
    CHECK_EQ(sv_options_add(buf, sizeof(buf), "height", "720", why, sizeof(why)), 0);
    CHECK_EQ(sv_options_add(buf, sizeof(buf), "fps", "15", why, sizeof(why)), 0);
    CHECK_STR(buf, "height=720&fps=15");
    /* one more does not fit: refused whole, the text as it was */
    CHECK_EQ(sv_options_add(buf, sizeof(buf), "crf", "28", why, sizeof(why)), -1);
    CHECK_STR(why, "the options are longer than 23 bytes");
    CHECK_STR(buf, "height=720&fps=15");
    CHECK_EQ(sv_options_add(buf, sizeof(buf), "a", "x&y=1", why, sizeof(why)), -1);
    CHECK_STR(why, "option \"a\": the value may not hold '&', '=' or control characters");
    CHECK_EQ(sv_options_add(buf, sizeof(buf), "", "1", why, sizeof(why)), -1);
    CHECK_STR(why, "option \"\": not an option name (1-32 of a-z, 0-9, '_', '-')");
    CHECK_EQ(sv_options_add(buf, sizeof(buf), "a\x1b[31m", "1", why, sizeof(why)), -1);
    CHECK_STR(why, "option \"a?[31m\": not an option name (1-32 of a-z, 0-9, '_', '-')");
    CHECK(sv_query_reserved("filename") && sv_query_reserved("sig") &&
          sv_query_reserved("cursor") && !sv_query_reserved("height"));

    CHECK_EQ(sv_parse_limit("1000", &limit, why, sizeof(why)), 0);
    CHECK_EQ(limit, 1000);
    CHECK_EQ(sv_parse_limit("1001", &limit, why, sizeof(why)), -1);
    CHECK_STR(why, "limit \"1001\": must be an integer 1..1000");
    CHECK_EQ(sv_parse_limit("0", &limit, why, sizeof(why)), -1);
    CHECK_EQ(sv_parse_limit("+5", &limit, why, sizeof(why)), -1);
    CHECK_EQ(sv_parse_limit("5 ", &limit, why, sizeof(why)), -1);
    CHECK_EQ(sv_parse_limit("99999999999999999999", &limit, why, sizeof(why)), -1);
    CHECK_EQ(limit, 1000);

    CHECK_EQ(sv_parse_status("failed", why, sizeof(why)), 0);
    CHECK_EQ(sv_parse_status("uploading", why, sizeof(why)), 0);
    CHECK_EQ(sv_parse_status("done", why, sizeof(why)), -1);
    CHECK_STR(why, "status \"done\": must be pending, running, completed, failed, cancelled "
              "or uploading");

    CHECK_EQ(sv_parse_length(NULL, &v), 0);
    CHECK_EQ(v, -1);
    CHECK_EQ(sv_parse_length("0", &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(sv_parse_length("123456789012345678", &v), 0);
    CHECK_EQ(v, 123456789012345678LL);
    CHECK_EQ(sv_parse_length("1234567890123456789", &v), -1);
    CHECK_EQ(sv_parse_length("-1", &v), -1);
    CHECK_EQ(sv_parse_length("", &v), -1);
    CHECK_EQ(sv_parse_decimal("12a", &v), -1);
}

static int range(const char *h, int64_t size, int64_t *first, int64_t *last)
{
    *first = *last = -7;
    return sv_parse_range(h, size, first, last);
}

static void test_range(void)
{
    int64_t a, b;
    CHECK_EQ(range(NULL, 100, &a, &b), SV_RANGE_WHOLE);
    CHECK_EQ(range("bytes=0-9", 100, &a, &b), SV_RANGE_PART);
    CHECK(a == 0 && b == 9);
    CHECK_EQ(range("bytes=90-", 100, &a, &b), SV_RANGE_PART);
    CHECK(a == 90 && b == 99);
    CHECK_EQ(range("bytes=-10", 100, &a, &b), SV_RANGE_PART);
    CHECK(a == 90 && b == 99);
    /* the last byte named past the end is the end; a suffix longer than the file is all */
    CHECK_EQ(range("bytes=50-1000", 100, &a, &b), SV_RANGE_PART);
    CHECK(a == 50 && b == 99);
    CHECK_EQ(range("bytes=-1000", 100, &a, &b), SV_RANGE_PART);
    CHECK(a == 0 && b == 99);
    CHECK_EQ(range("bytes=99-99", 100, &a, &b), SV_RANGE_PART);
    CHECK(a == 99 && b == 99);
    CHECK_EQ(range(" BYTES=1-2 ", 100, &a, &b), SV_RANGE_PART);
    CHECK(a == 1 && b == 2);
    CHECK_EQ(range("bytes=0-99999999999999999999", 100, &a, &b), SV_RANGE_PART);
    CHECK(a == 0 && b == 99);
    CHECK_EQ(range("bytes=-99999999999999999999", 100, &a, &b), SV_RANGE_PART);
    CHECK(a == 0 && b == 99);
    /* cannot be satisfied: 416 */
    CHECK_EQ(range("bytes=100-", 100, &a, &b), SV_RANGE_UNSATISFIABLE);
    CHECK_EQ(range("bytes=100-200", 100, &a, &b), SV_RANGE_UNSATISFIABLE);
    CHECK_EQ(range("bytes=-0", 100, &a, &b), SV_RANGE_UNSATISFIABLE);
    CHECK_EQ(range("bytes=0-", 0, &a, &b), SV_RANGE_UNSATISFIABLE);
    CHECK_EQ(range("bytes=-5", 0, &a, &b), SV_RANGE_UNSATISFIABLE);
    CHECK_EQ(range("bytes=99999999999999999999-", 100, &a, &b), SV_RANGE_UNSATISFIABLE);
    /* ignored: the whole file, 200 */
    static const char *const ignored[] = {
        "bytes=5-3", "bytes=0-1,5-6", "bytes=-", "bytes=", "items=0-1", "bytes=a-b",
        "bytes=1-2x", "bytes=--1", "bytes 0-1", "", "bytes=0-1, 3-4", "bytes = 1-2",
    };
    for (size_t i = 0; i < sizeof(ignored) / sizeof(*ignored); i++) {
        int r = range(ignored[i], 100, &a, &b);
        if (r != SV_RANGE_WHOLE)
            T_FAIL("Range \"%s\": %d, want whole (0)", ignored[i], r);
        test_checks++;
    }
}

static void test_etag(void)
{
    CHECK_EQ(sv_etag_match("\"abc\"", "\"abc\""), 1);
    CHECK_EQ(sv_etag_match("W/\"abc\"", "\"abc\""), 1);
    CHECK_EQ(sv_etag_match("\"x\", W/\"abc\"", "\"abc\""), 1);
    CHECK_EQ(sv_etag_match("  *  ", "\"abc\""), 1);
    CHECK_EQ(sv_etag_match("\"abcd\"", "\"abc\""), 0);
    CHECK_EQ(sv_etag_match("abc", "\"abc\""), 0);
    CHECK_EQ(sv_etag_match("\"x\" \"abc\"", "\"abc\""), 0);
    CHECK_EQ(sv_etag_match("\"x\", ", "\"x\""), 1);
    CHECK_EQ(sv_etag_match("\"unterminated", "\"unterminated\""), 0);
    CHECK_EQ(sv_etag_match(NULL, "\"abc\""), 0);
    CHECK_EQ(sv_etag_match("*, \"a\"", "\"a\""), 0);
}

static void test_route(void)
{
    int64_t n[2] = { -1, -1 };
    char tok[SV_TOKEN_MAX + 1];
    CHECK_EQ(sv_route_match("/api/v1/uploads/*/parts/#", "/api/v1/uploads/3f2a-_Z/parts/12",
                            n, tok), 1);
    CHECK_STR(tok, "3f2a-_Z");
    CHECK_EQ(n[0], 12);
    CHECK_EQ(sv_route_match("/api/v1/videos/#", "/api/v1/videos/", n, tok), 0);
    CHECK_EQ(sv_route_match("/api/v1/videos/#", "/api/v1/videos/1/", n, tok), 0);
    CHECK_EQ(sv_route_match("/api/v1/videos/#", "/api/v1/videos/-1", n, tok), 0);
    CHECK_EQ(sv_route_match("/api/v1/videos/#", "/api/v1/videos/999999999999999999", n, tok),
             1);
    CHECK_EQ(n[0], 999999999999999999LL);
    CHECK_EQ(sv_route_match("/api/v1/videos/#", "/api/v1/videos/1000000000000000000", n, tok),
             0);
    CHECK_EQ(sv_route_match("/api/v1/uploads/*", "/api/v1/uploads/a.b", n, tok), 0);
    CHECK_EQ(sv_route_match("/api/v1/uploads/*", "/api/v1/uploads/..", n, tok), 0);
    char longid[300] = "/u/";
    memset(longid + 3, 'a', SV_TOKEN_MAX);
    CHECK_EQ(sv_route_match("/u/*", longid, n, tok), 1);
    longid[3 + SV_TOKEN_MAX] = 'a';
    CHECK_EQ(sv_route_match("/u/*", longid, n, tok), 0);
    CHECK_EQ(sv_route_match("/", "/", n, tok), 1);
    CHECK_EQ(sv_route_match("/", "", n, tok), 0);
}

int main(void)
{
    test_upload_spec();
    test_complete();
    test_links_and_options_body();
    test_query();
    test_range();
    test_etag();
    test_route();
    TEST_END();
}
