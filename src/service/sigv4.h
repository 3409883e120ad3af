/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AWS Signature Version 4 (docs/serve.md, "S3 storage"): the canonical request, the string to
 * sign, the signing key and the Authorization header, and presigned URLs carrying the same
 * signature in X-Amz-* query parameters. Written on libavutil's SHA-256 and HMAC; checked
 * against AWS's published test suite (tests/unit/test_sigv4.c). Never installed.
 *
 * Paths and query parameters are given raw (not percent-encoded): the signer encodes them
 * once, as S3 wants (RFC 3986 unreserved characters kept, "/" kept in paths), and the same
 * text is what the caller puts on the wire (vpi_sigv4_uri_encode), so the two never differ.
 * Paths are not normalized ("." and ".." stay): S3 keys are taken literally. */
#ifndef VIDPIPE_SERVICE_SIGV4_H
#define VIDPIPE_SERVICE_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/bprint.h>

typedef struct VpiSigv4Pair {
    const char *name;
    const char *value;
} VpiSigv4Pair;

typedef struct VpiSigv4Key {
    const char *access_key;
    const char *secret_key;
    const char *region;         /* "us-east-1" */
    const char *service;        /* "s3" */
} VpiSigv4Key;

typedef struct VpiSigv4Request {
    const char *method;         /* "GET" */
    const char *path;           /* raw, starting with "/" */
    const VpiSigv4Pair *query;  /* raw names and values; any order */
    int nb_query;
    /* Every header to sign, names in any case, including "host" and "x-amz-date" (the
     * signer does not add them); values are trimmed and inner runs of spaces folded. A
     * name given twice is signed as one header with the values joined by ",". */
    const VpiSigv4Pair *headers;
    int nb_headers;
    const char *payload_hash;   /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;       /* "20150830T123600Z" (vpi_sigv4_amz_date) */
} VpiSigv4Request;

typedef struct VpiSigv4Result {
    char *canonical_request;    /* av_malloc'ed */
    char *string_to_sign;       /* av_malloc'ed */
    char *signed_headers;       /* "host;x-amz-date", av_malloc'ed */
    char signature[65];         /* hex */
    char *authorization;        /* the Authorization header's value, av_malloc'ed */
} VpiSigv4Result;

/* Sign @p r with @p k.
 * @return 0 with *res filled (vpi_sigv4_result_free), AVERROR(EINVAL) for a malformed
 *         request (no path, a date that is not 16 characters) or AVERROR(ENOMEM); *res is
 *         then empty. Pure; any thread. */
int vpi_sigv4_sign(const VpiSigv4Key *k, const VpiSigv4Request *r, VpiSigv4Result *res);
void vpi_sigv4_result_free(VpiSigv4Result *res);

/* A presigned URL: @p base ("https://host[:port]", no trailing "/") + the encoded @p path +
 * the query (@p query plus X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders
 * and, when @p session_token is set, -Security-Token) + X-Amz-Signature. Only "host" is
 * signed (@p host: what the client will send in Host) and the payload is UNSIGNED-PAYLOAD,
 * as S3 presigning does. @p expires is in seconds (1..604800).
 * @return 0 with *url av_malloc'ed (the caller av_frees it), or a negative AVERROR. */
int vpi_sigv4_presign(const VpiSigv4Key *k, const char *method, const char *base,
                      const char *host, const char *path, const VpiSigv4Pair *query,
                      int nb_query, const char *session_token, const char *amz_date,
                      int expires, char **url);

/* "YYYYMMDDTHHMMSSZ" of @p t (seconds since the epoch, UTC) into @p buf (17 bytes). */
void vpi_sigv4_amz_date(int64_t t, char buf[17]);

/* Append @p s percent-encoded as SigV4 wants: A-Z a-z 0-9 - . _ ~ kept, "/" kept when
 * @p keep_slash, every other byte as %XX (upper-case hex). */
void vpi_sigv4_uri_encode(AVBPrint *bp, const char *s, int keep_slash);

/* Append the canonical query string of @p query (encoded, sorted by name then value,
 * "name=value" joined by "&"; the same text serves as the URL's query). */
int vpi_sigv4_canonical_query(AVBPrint *bp, const VpiSigv4Pair *query, int nb_query);

/* Lower-case hex of SHA-256 of @p data (65 bytes with the NUL). */
int vpi_sigv4_sha256_hex(const void *data, size_t size, char hex[65]);

#endif
