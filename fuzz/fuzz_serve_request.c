/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: what any client may send the job server and the server itself parses
 * (servers/serve/request.c, route.c): the JSON bodies of uploads, completes, links and
 * reprocess, query values, the Range and If-None-Match headers, request paths. The first
 * byte picks the parser, the rest is its input. Beyond not crashing, each parser's answer
 * must hold together: a range inside the file, options text of NAME=VALUE pairs, parts
 * numbered in range, a route's numbers and id of the shape the pattern asks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "a=b&c=d": every pair a valid name and a value without '&' or '='. */
static void check_options(const char *s)
{
    if (!s || !*s)
        return;
    const char *p = s;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p || eq == p + len - 1 || memchr(eq + 1, '=', len - (size_t)(eq - p) - 1))
            abort();
        for (const char *c = p; c < eq; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                  *c == '-'))
                abort();
        p += len;
        if (*p == '&' && !*++p)
            abort();
    }
}

static void fuzz_bodies(const char *in, size_t len)
{
    char why[512], opts[1024], path[256];
    VpUploadSpec spec;
    json_t *keep;
    if (sv_parse_upload_spec(in, len, &spec, &keep, opts, sizeof(opts), why, sizeof(why)) == 0) {
        if (!spec.filename || spec.size < 1 || spec.part_size < 0 || !keep)
            abort();
        check_options(spec.options);
        json_decref(keep);
    } else if (!why[0] || keep) {
        abort();
    }

    VpPartRef *parts;
    int nb;
    const char *sha;
    if (sv_parse_complete(in, len, &parts, &nb, &sha, &keep, why, sizeof(why)) == 0) {
        if (nb < 1 || !parts || !keep)
            abort();
        for (int i = 0; i < nb; i++)
            if (parts[i].part_number < 1 || parts[i].part_number > (1 << 20) ||
                !parts[i].etag || !parts[i].etag[0])
                abort();
        free(parts);
        json_decref(keep);
    } else if (parts || keep || sha || nb) {
        abort();
    }

    int64_t ttl;
    if (sv_parse_link_request(in, len, path, sizeof(path), &ttl, 3600, 86400, why,
                              sizeof(why)) == 0) {
        if (path[0] != '/' || strchr(path, '?') || ttl < 1 || ttl > 86400)
            abort();
    } else if (path[0]) {
        abort();
    }

    if (sv_parse_options_body(in, len, opts, sizeof(opts), why, sizeof(why)) == 0)
        check_options(opts);
    else if (opts[0])
        abort();
}

static void fuzz_query(const char *in, size_t len)
{
    /* KEY NUL VALUE NUL KEY NUL VALUE ... into one options text */
    char buf[64] = "", why[256];
    const char *p = in, *end = in + len;
    while (p < end) {
        const char *key = p;
        p += strlen(p) + 1;
        if (p >= end)
            break;
        const char *value = p;
        p += strlen(p) + 1;
        char before[sizeof(buf)];
        memcpy(before, buf, sizeof(buf));
        if (sv_options_add(buf, sizeof(buf), key, value, why, sizeof(why)) < 0 &&
            memcmp(before, buf, sizeof(buf)))
            abort();
        if (strlen(buf) >= sizeof(buf))
            abort();
        check_options(buf);
    }
    int limit = -1;
    if (sv_parse_limit(in, &limit, why, sizeof(why)) == 0 && (limit < 1 || limit > 1000))
        abort();
    sv_parse_status(in, why, sizeof(why));
    int64_t v;
    if (sv_parse_length(in, &v) == 0 && v < 0)
        abort();
    sv_query_reserved(in);
}

static void fuzz_headers(const uint8_t *data, size_t size)
{
    if (size < 6)
        return;
    /* a file size from the first 5 bytes: 0 .. 2^40 - 1 */
    int64_t fsize = 0;
    for (int i = 0; i < 5; i++)
        fsize = fsize << 8 | data[i];
    char *h = malloc(size - 5 + 1);
    if (!h)
        return;
    memcpy(h, data + 5, size - 5);
    h[size - 5] = 0;
    int64_t first = -1, last = -1;
    int r = sv_parse_range(h, fsize, &first, &last);
    if (r == SV_RANGE_PART) {
        if (first < 0 || first > last || last >= fsize)
            abort();
    } else if (r != SV_RANGE_WHOLE && r != SV_RANGE_UNSATISFIABLE) {
        abort();
    }
    /* the header as a list of tags, and as the tag itself */
    sv_etag_match(h, "\"5f3a-1c\"");
    sv_etag_match("\"5f3a-1c\", *", h);
    free(h);
}

static const char *const patterns[] = {
    "/api/v1/uploads/*/parts/#", "/api/v1/uploads/*", "/api/v1/videos/#/proxy",
    "/api/v1/jobs/#", "/#/#", "*", "#*#", "/",
};

/* The path is the pattern with 1-18 digits for '#' and 1-SV_TOKEN_MAX id characters for '*'
 * (ids stop at the first character that is not one: so "#*#" needs its numbers apart). */
static void fuzz_route(const char *path)
{
    for (size_t i = 0; i < sizeof(patterns) / sizeof(*patterns); i++) {
        int64_t nums[2] = { -1, -1 };
        char token[SV_TOKEN_MAX + 1] = "";
        int m = sv_route_match(patterns[i], path, nums, token);
        if (m != 0 && m != 1)
            abort();
        if (!m)
            continue;
        const char *pat = patterns[i];
        int k = 0;
        for (const char *c = pat; *c; c++) {
            if (*c == '#') {
                if (nums[k] < 0 || nums[k] >= 1000000000000000000LL)
                    abort();
                k++;
            } else if (*c == '*') {
                size_t n = strlen(token);
                if (n < 1 || n > SV_TOKEN_MAX || !strstr(path, token))
                    abort();
            }
        }
        if (!strcmp(pat, "/") && strcmp(path, "/"))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *in = malloc(size);
    if (!in)
        return 0;
    memcpy(in, data + 1, size - 1);
    in[size - 1] = 0;
    switch (data[0] % 4) {
    case 0: fuzz_bodies(in, size - 1); break;
    case 1: fuzz_query(in, size - 1); break;
    case 2: fuzz_headers(data + 1, size - 1); break;
    case 3: fuzz_route(in); break;
    }
    free(in);
    return 0;
}
