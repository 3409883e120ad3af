/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a client sends the job server, read by pure functions (no HTTP library, no state, no
 * I/O): the JSON bodies of the upload and link calls, the query values libmicrohttpd has
 * already split and decoded, and the Range and If-None-Match header values. Fuzzed by
 * fuzz/fuzz_serve_request.c, pinned by tests/unit/test_serve_request.c. Every parser that
 * refuses writes one line for the client into @p why (the JSON error's message). */
#ifndef VIDPIPE_SERVERS_SERVE_REQUEST_H
#define VIDPIPE_SERVERS_SERVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vidpipe/service.h"

/* ---- JSON bodies ------------------------------------------------------------------------ */

/* The body of POST /api/v1/uploads: {"filename": "clip.mp4", "size": N, "sha256": "hex"?,
 * "part_size": N?, "options": "height=720&fps=15" or {"height": 720, "fps": 15}?}. Unknown
 * members are refused (a typo must not be ignored). On success 0, @p spec filled with
 * strings that live in *keep (json_decref() it after use) and in @p options_buf (the
 * options as text); on failure -1 with *keep NULL and @p why set. */
int sv_parse_upload_spec(const char *body, size_t len, VpUploadSpec *spec, json_t **keep,
                         char *options_buf, size_t options_size, char *why, size_t why_size);

/* The body of POST /api/v1/uploads/{id}/complete: {"parts": [{"part_number": N, "etag":
 * "..."}, ...], "sha256": "hex"?}. On success 0, *parts a malloc'd array of *nb_parts (free()
 * it; its etags and *sha256 live in *keep); on failure -1, nothing allocated, @p why set. */
int sv_parse_complete(const char *body, size_t len, VpPartRef **parts, int *nb_parts,
                      const char **sha256, json_t **keep, char *why, size_t why_size);

/* The body of POST /api/v1/links: {"path": "/api/v1/videos/3/proxy", "ttl": SECONDS?}.
 * @p path receives the path (it must start with '/', have no query, at most @p path_size - 1
 * bytes), *ttl the lifetime (default @p ttl_default, 1..@p ttl_max). 0, or -1 and @p why. */
int sv_parse_link_request(const char *body, size_t len, char *path, size_t path_size,
                          int64_t *ttl, int64_t ttl_default, int64_t ttl_max, char *why,
                          size_t why_size);

/* An optional JSON body {"options": ...} (POST /api/v1/videos/{id}/reprocess): an empty body
 * is no options. Options go to @p buf as text ("" for none). 0, or -1 and @p why. */
int sv_parse_options_body(const char *body, size_t len, char *buf, size_t size, char *why,
                          size_t why_size);

/* ---- query values ----------------------------------------------------------------------- */

/* 1 if @p key is a query parameter the server itself reads (filename, status, limit,
 * cursor, expires, sig), so it is not a proxy option. */
int sv_query_reserved(const char *key);

/* Append the proxy override @p key = @p value to the options text @p buf ("height=720&fps=15",
 * the form VpUploadSpec.options takes; the library checks the names and values). The key is
 * 1..32 of [a-z0-9_-], the value 1..256 bytes with no '&', '=' or control character. 0, or
 * -1 and @p why ("option \"NAME\": ..."); @p buf is left unchanged then. */
int sv_options_add(char *buf, size_t size, const char *key, const char *value, char *why,
                   size_t why_size);

/* ?limit=: 1..1000 in decimal, nothing else. 0, or -1 and @p why. */
int sv_parse_limit(const char *s, int *limit, char *why, size_t why_size);

/* ?status=: pending, running, completed, failed, cancelled or uploading. 0, or -1 and @p why. */
int sv_parse_status(const char *s, char *why, size_t why_size);

/* A Content-Length value: 0..2^62 in decimal, nothing else; NULL is unknown (-1). 0 with
 * *length, or -1 (a value that is not a length). */
int sv_parse_length(const char *s, int64_t *length);

/* A decimal id in a query value or a signed link's expiry: 1..18 digits. 0 or -1. */
int sv_parse_decimal(const char *s, int64_t *v);

/* ---- headers ---------------------------------------------------------------------------- */

enum {
    SV_RANGE_WHOLE = 0,          /* no Range, or one to ignore (RFC 9110 14.2): answer 200 */
    SV_RANGE_PART = 1,           /* one satisfiable range: 206 with *first..*last */
    SV_RANGE_UNSATISFIABLE = -1, /* 416, with Content-Range "bytes *\/SIZE" */
};

/* The Range header @p h (NULL: none) against a file of @p size bytes: "bytes=A-B", "bytes=A-"
 * or "bytes=-N" (the last N bytes); B past the end is the end. A header that is not one of
 * these (another unit, a malformed one, B before A) is ignored, and so is a list of several
 * ranges: the whole file answers them (allowed by RFC 9110 14.2, and simpler for clients
 * than multipart/byteranges). A range starting at or past the end, or "bytes=-0", cannot be
 * satisfied. Returns one of the SV_RANGE_ values; *first and *last (inclusive) for PART. */
int sv_parse_range(const char *h, int64_t size, int64_t *first, int64_t *last);

/* 1 if the If-None-Match value @p h ("*", or a list of entity tags, weak or strong) names
 * @p etag (a quoted strong tag) under the weak comparison of RFC 9110 13.1.2, else 0. */
int sv_etag_match(const char *h, const char *etag);

#endif /* VIDPIPE_SERVERS_SERVE_REQUEST_H */
