/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AWS Signature Version 4 (sigv4.h), following the four steps of AWS's "Signature Version 4
 * signing process": canonical request, string to sign, signing key, signature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/error.h>
#include <libavutil/hmac.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>

#include "service/sigv4.h"

static void hex_of(const uint8_t *b, int n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

int vpi_sigv4_sha256_hex(const void *data, size_t size, char hex[65])
{
    struct AVSHA *sha = av_sha_alloc();
    uint8_t d[32];
    if (!sha)
        return AVERROR(ENOMEM);
    av_sha_init(sha, 256);
    /* av_sha_update takes an unsigned int length (FFmpeg 5.1): feed it in slices */
    for (size_t off = 0; off < size;) {
        size_t n = size - off > (1u << 30) ? (1u << 30) : size - off;
        av_sha_update(sha, (const uint8_t *)data + off, (unsigned)n);
        off += n;
    }
    av_sha_final(sha, d);
    av_free(sha);
    hex_of(d, 32, hex);
    return 0;
}

void vpi_sigv4_amz_date(int64_t t, char buf[17])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

void vpi_sigv4_uri_encode(AVBPrint *bp, const char *s, int keep_slash)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (unreserved(*c) || (keep_slash && *c == '/'))
            av_bprint_chars(bp, (char)*c, 1);
        else
            av_bprintf(bp, "%%%02X", *c);
    }
}

typedef struct EncPair {
    char *name, *value;
} EncPair;

static char *encoded(const char *s)
{
    AVBPrint bp;
    char *out = NULL;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    vpi_sigv4_uri_encode(&bp, s ? s : "", 0);
    if (av_bprint_is_complete(&bp))
        av_bprint_finalize(&bp, &out);
    else
        av_bprint_finalize(&bp, NULL);
    return out;
}

static int cmp_pair(const void *a, const void *b)
{
    const EncPair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

int vpi_sigv4_canonical_query(AVBPrint *bp, const VpiSigv4Pair *query, int nb_query)
{
    EncPair *p;
    int ret = 0;
    if (nb_query <= 0)
        return 0;
    if (!(p = av_calloc(nb_query, sizeof(*p))))
        return AVERROR(ENOMEM);
    for (int i = 0; i < nb_query; i++)
        if (!(p[i].name = encoded(query[i].name)) || !(p[i].value = encoded(query[i].value))) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
    /* sorted by the encoded names, byte order (the suite's get-vanilla-query-order-*) */
    qsort(p, nb_query, sizeof(*p), cmp_pair);
    for (int i = 0; i < nb_query; i++)
        av_bprintf(bp, "%s%s=%s", i ? "&" : "", p[i].name, p[i].value);
    if (!av_bprint_is_complete(bp))
        ret = AVERROR(ENOMEM);
end:
    for (int i = 0; i < nb_query; i++) {
        av_free(p[i].name);
        av_free(p[i].value);
    }
    av_free(p);
    return ret;
}

typedef struct Header {
    char *name;                 /* lower case */
    const char *value;
    int order;
} Header;

static int cmp_header(const void *a, const void *b)
{
    const Header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->order - y->order;     /* stable: repeated names keep their order */
}

/* The value trimmed and each run of spaces or tabs folded to one space. */
static void append_value(AVBPrint *bp, const char *v)
{
    int space = 0, started = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = started;
            continue;
        }
        if (space)
            av_bprint_chars(bp, ' ', 1);
        av_bprint_chars(bp, *v, 1);
        space = 0;
        started = 1;
    }
}

static int hmac(const uint8_t *key, int key_len, const char *data, uint8_t out[32])
{
    AVHMAC *h = av_hmac_alloc(AV_HMAC_SHA256);
    int n;
    if (!h)
        return AVERROR(ENOMEM);
    n = av_hmac_calc(h, (const uint8_t *)data, (unsigned)strlen(data), key, (unsigned)key_len,
                     out, 32);
    av_hmac_free(h);
    return n == 32 ? 0 : AVERROR_BUG;
}

void vpi_sigv4_result_free(VpiSigv4Result *res)
{
    av_freep(&res->canonical_request);
    av_freep(&res->string_to_sign);
    av_freep(&res->signed_headers);
    av_freep(&res->authorization);
    res->signature[0] = 0;
}

int vpi_sigv4_sign(const VpiSigv4Key *k, const VpiSigv4Request *r, VpiSigv4Result *res)
{
    AVBPrint creq, sh, sts, key_text;
    Header *h = NULL;
    char date[9], hash[65];
    uint8_t kd[32];
    int ret = 0;

    memset(res, 0, sizeof(*res));
    if (!r->path || r->path[0] != '/' || !r->amz_date || strlen(r->amz_date) != 16 ||
        !r->method || !r->payload_hash || r->nb_headers < 0 || r->nb_query < 0)
        return AVERROR(EINVAL);
    snprintf(date, sizeof(date), "%.8s", r->amz_date);
    av_bprint_init(&creq, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&sh, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&sts, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&key_text, 0, AV_BPRINT_SIZE_UNLIMITED);

    /* 1. the canonical request */
    av_bprintf(&creq, "%s\n", r->method);
    vpi_sigv4_uri_encode(&creq, r->path, 1);
    av_bprint_chars(&creq, '\n', 1);
    if ((ret = vpi_sigv4_canonical_query(&creq, r->query, r->nb_query)) < 0)
        goto end;
    av_bprint_chars(&creq, '\n', 1);
    if (r->nb_headers && !(h = av_calloc(r->nb_headers, sizeof(*h)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int i = 0; i < r->nb_headers; i++) {
        if (!(h[i].name = av_strdup(r->headers[i].name))) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        for (char *c = h[i].name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c += 'a' - 'A';
        h[i].value = r->headers[i].value ? r->headers[i].value : "";
        h[i].order = i;
    }
    if (r->nb_headers)
        qsort(h, r->nb_headers, sizeof(*h), cmp_header);
    for (int i = 0; i < r->nb_headers; i++) {
        int same = i && !strcmp(h[i].name, h[i - 1].name);
        if (same) {
            av_bprint_chars(&creq, ',', 1);
        } else {
            if (i)
                av_bprint_chars(&creq, '\n', 1);
            av_bprintf(&creq, "%s:", h[i].name);
            av_bprintf(&sh, "%s%s", sh.len ? ";" : "", h[i].name);
        }
        append_value(&creq, h[i].value);
    }
    av_bprintf(&creq, "\n\n%s\n%s", sh.str, r->payload_hash);
    if (!av_bprint_is_complete(&creq) || !av_bprint_is_complete(&sh)) {
        ret = AVERROR(ENOMEM);
        goto end;
    }

    /* 2. the string to sign */
    if ((ret = vpi_sigv4_sha256_hex(creq.str, creq.len, hash)) < 0)
        goto end;
    av_bprintf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", r->amz_date, date,
               k->region, k->service, hash);

    /* 3. the signing key: HMAC chain over date, region, service, "aws4_request" */
    av_bprintf(&key_text, "AWS4%s", k->secret_key);
    if (!av_bprint_is_complete(&sts) || !av_bprint_is_complete(&key_text)) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if ((ret = hmac((const uint8_t *)key_text.str, (int)key_text.len, date, kd)) < 0 ||
        (ret = hmac(kd, 32, k->region, kd)) < 0 ||
        (ret = hmac(kd, 32, k->service, kd)) < 0 ||
        (ret = hmac(kd, 32, "aws4_request", kd)) < 0 ||
        /* 4. the signature */
        (ret = hmac(kd, 32, sts.str, kd)) < 0)
        goto end;
    hex_of(kd, 32, res->signature);

    res->authorization = av_asprintf("AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                                     "SignedHeaders=%s, Signature=%s", k->access_key, date,
                                     k->region, k->service, sh.str, res->signature);
    if (!res->authorization || (ret = av_bprint_finalize(&creq, &res->canonical_request)) < 0 ||
        (ret = av_bprint_finalize(&sts, &res->string_to_sign)) < 0 ||
        (ret = av_bprint_finalize(&sh, &res->signed_headers)) < 0) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
end:
    /* a finalized AVBPrint is left empty: finalizing again is harmless */
    av_bprint_finalize(&creq, NULL);
    av_bprint_finalize(&sts, NULL);
    av_bprint_finalize(&sh, NULL);
    memset(key_text.str, 0, key_text.len);
    av_bprint_finalize(&key_text, NULL);
    memset(kd, 0, sizeof(kd));
    for (int i = 0; h && i < r->nb_headers; i++)
        av_free(h[i].name);
    av_free(h);
    if (ret < 0)
        vpi_sigv4_result_free(res);
    return ret;
}

int vpi_sigv4_presign(const VpiSigv4Key *k, const char *method, const char *base,
                      const char *host, const char *path, const VpiSigv4Pair *query,
                      int nb_query, const char *session_token, const char *amz_date,
                      int expires, char **url)
{
    enum { EXTRA = 6 };
    VpiSigv4Pair *q;
    VpiSigv4Pair hosth = { "host", host };
    VpiSigv4Result res;
    AVBPrint bp;
    char credential[512], exp[16];
    int n = 0, ret;

    *url = NULL;
    if (expires < 1 || expires > 604800 || nb_query < 0 || !amz_date || strlen(amz_date) != 16)
        return AVERROR(EINVAL);
    if (snprintf(credential, sizeof(credential), "%s/%.8s/%s/%s/aws4_request", k->access_key,
                 amz_date, k->region, k->service) >= (int)sizeof(credential))
        return AVERROR(EINVAL);
    snprintf(exp, sizeof(exp), "%d", expires);
    if (!(q = av_calloc(nb_query + EXTRA, sizeof(*q))))
        return AVERROR(ENOMEM);
    for (int i = 0; i < nb_query; i++)
        q[n++] = query[i];
    q[n++] = (VpiSigv4Pair){ "X-Amz-Algorithm", "AWS4-HMAC-SHA256" };
    q[n++] = (VpiSigv4Pair){ "X-Amz-Credential", credential };
    q[n++] = (VpiSigv4Pair){ "X-Amz-Date", amz_date };
    q[n++] = (VpiSigv4Pair){ "X-Amz-Expires", exp };
    q[n++] = (VpiSigv4Pair){ "X-Amz-SignedHeaders", "host" };
    if (session_token)
        q[n++] = (VpiSigv4Pair){ "X-Amz-Security-Token", session_token };
    ret = vpi_sigv4_sign(k, &(VpiSigv4Request){
        .method = method, .path = path, .query = q, .nb_query = n, .headers = &hosth,
        .nb_headers = 1, .payload_hash = "UNSIGNED-PAYLOAD", .amz_date = amz_date }, &res);
    if (ret < 0) {
        av_free(q);
        return ret;
    }
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "%s", base);
    vpi_sigv4_uri_encode(&bp, path, 1);
    av_bprint_chars(&bp, '?', 1);
    if ((ret = vpi_sigv4_canonical_query(&bp, q, n)) >= 0) {
        av_bprintf(&bp, "&X-Amz-Signature=%s", res.signature);
        ret = av_bprint_is_complete(&bp) ? av_bprint_finalize(&bp, url) : AVERROR(ENOMEM);
    }
    av_bprint_finalize(&bp, NULL);
    vpi_sigv4_result_free(&res);
    av_free(q);
    return ret;
}
