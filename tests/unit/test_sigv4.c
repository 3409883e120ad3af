/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SigV4 signer (src/service/sigv4.c) against AWS's published expectations: cases of the
 * "Signature Version 4 Test Suite" (aws-sig-v4-test-suite: the .creq, .sts and .authz files
 * of each case; credentials AKIDEXAMPLE, 2015-08-30 12:36:00, us-east-1, service "service"),
 * and the presigned GET example of the S3 documentation ("Authenticating Requests: Using
 * Query Parameters"). The expected values are copied from those files, not computed here. */
#include <stdio.h>
#include <string.h>

#include <libavutil/mem.h>

#include "service/sigv4.h"
#include "test.h"

static const VpiSigv4Key suite_key = {
    .access_key = "AKIDEXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "service",
};
#define SUITE_DATE "20150830T123600Z"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define AUTHZ(signed_headers, sig) \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " \
    "SignedHeaders=" signed_headers ", Signature=" sig

typedef struct Case {
    const char *name;
    const char *method, *path;
    VpiSigv4Pair query[2];
    int nb_query;
    VpiSigv4Pair headers[6];
    int nb_headers;
    const char *body;
    const char *creq;           /* NULL where the case is checked by its signature alone */
    const char *sts;
    const char *authz;
} Case;

#define HOST { "Host", "example.amazonaws.com" }
#define DATE { "X-Amz-Date", SUITE_DATE }

static const Case cases[] = {
    {
        "get-vanilla", "GET", "/", { { 0 } }, 0, { HOST, DATE }, 2, "",
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\n" EMPTY_SHA256,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        AUTHZ("host;x-amz-date",
              "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    },
    {
        "get-vanilla-query-order-key-case", "GET", "/",
        { { "Param2", "value2" }, { "Param1", "value1" } }, 2, { HOST, DATE }, 2, "",
        "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA256,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
        AUTHZ("host;x-amz-date",
              "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    },
    {
        "post-x-www-form-urlencoded", "POST", "/", { { 0 } }, 0,
        { { "Content-Type", "application/x-www-form-urlencoded" }, HOST, DATE }, 3,
        "Param1=value1",
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
        "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "content-type;host;x-amz-date\n"
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
        AUTHZ("content-type;host;x-amz-date",
              "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    },
    {
        "get-vanilla-empty-query-key", "GET", "/", { { "Param1", "value1" } }, 1,
        { HOST, DATE }, 2, "", NULL, NULL,
        AUTHZ("host;x-amz-date",
              "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
    },
    {
        "post-vanilla", "POST", "/", { { 0 } }, 0, { HOST, DATE }, 2, "", NULL, NULL,
        AUTHZ("host;x-amz-date",
              "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    },
    {
        "post-header-key-sort", "POST", "/", { { 0 } }, 0,
        { HOST, { "My-Header1", "value1" }, DATE }, 3, "", NULL, NULL,
        AUTHZ("host;my-header1;x-amz-date",
              "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
    },
    {
        "post-header-value-case", "POST", "/", { { 0 } }, 0,
        { HOST, { "My-Header1", "VALUE1" }, DATE }, 3, "", NULL, NULL,
        AUTHZ("host;my-header1;x-amz-date",
              "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
    },
    {
        "get-unreserved", "GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", { { 0 } }, 0,
        { HOST, DATE }, 2, "", NULL, NULL,
        AUTHZ("host;x-amz-date",
              "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
    },
    {
        "get-space", "GET", "/example space/", { { 0 } }, 0, { HOST, DATE }, 2, "", NULL, NULL,
        AUTHZ("host;x-amz-date",
              "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
    },
    {
        "get-utf8", "GET", "/\xe1\x88\xb4", { { 0 } }, 0, { HOST, DATE }, 2, "", NULL, NULL,
        AUTHZ("host;x-amz-date",
              "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    },
    {
        "get-vanilla-utf8-query", "GET", "/", { { "\xe1\x88\xb4", "bar" } }, 1, { HOST, DATE },
        2, "", NULL, NULL,
        AUTHZ("host;x-amz-date",
              "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
    },
    {
        "get-vanilla-query-unreserved", "GET", "/",
        { { "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" } }, 1,
        { HOST, DATE }, 2, "", NULL, NULL,
        AUTHZ("host;x-amz-date",
              "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
    },
    {
        "get-header-value-trim", "GET", "/", { { 0 } }, 0,
        { HOST, { "My-Header1", " value1" }, { "My-Header2", "\"a   b   c\"" }, DATE }, 4, "",
        NULL, NULL,
        AUTHZ("host;my-header1;my-header2;x-amz-date",
              "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    },
    {
        "get-header-key-duplicate", "GET", "/", { { 0 } }, 0,
        { HOST, { "My-Header1", "value2" }, { "My-Header1", "value2" },
          { "My-Header1", "value1" }, DATE }, 5, "", NULL, NULL,
        AUTHZ("host;my-header1;x-amz-date",
              "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
    },
};

static void test_suite(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const Case *c = &cases[i];
        char hash[65];
        VpiSigv4Result res;
        vpi_sigv4_sha256_hex(c->body, strlen(c->body), hash);
        int ret = vpi_sigv4_sign(&suite_key, &(VpiSigv4Request){
            .method = c->method, .path = c->path, .query = c->query, .nb_query = c->nb_query,
            .headers = c->headers, .nb_headers = c->nb_headers, .payload_hash = hash,
            .amz_date = SUITE_DATE }, &res);
        CHECK_EQ(ret, 0);
        if (ret < 0)
            continue;
        fprintf(stderr, "%s\n", c->name);
        if (c->creq)
            CHECK_STR(res.canonical_request, c->creq);
        if (c->sts)
            CHECK_STR(res.string_to_sign, c->sts);
        CHECK_STR(res.authorization, c->authz);
        vpi_sigv4_result_free(&res);
    }
}

/* Changing any signed part changes the signature; an unsigned header cannot be slipped in. */
static void test_sensitivity(void)
{
    VpiSigv4Pair h[2] = { HOST, DATE };
    VpiSigv4Request r = { .method = "GET", .path = "/", .headers = h, .nb_headers = 2,
                          .payload_hash = EMPTY_SHA256, .amz_date = SUITE_DATE };
    VpiSigv4Result a, b;
    CHECK_EQ(vpi_sigv4_sign(&suite_key, &r, &a), 0);
    r.method = "PUT";
    CHECK_EQ(vpi_sigv4_sign(&suite_key, &r, &b), 0);
    CHECK(strcmp(a.signature, b.signature) != 0);
    vpi_sigv4_result_free(&b);
    r.method = "GET";
    VpiSigv4Key other = suite_key;
    other.region = "eu-west-1";
    CHECK_EQ(vpi_sigv4_sign(&other, &r, &b), 0);
    CHECK(strcmp(a.signature, b.signature) != 0);
    vpi_sigv4_result_free(&b);
    vpi_sigv4_result_free(&a);

    r.amz_date = "2015083";
    CHECK_EQ(vpi_sigv4_sign(&suite_key, &r, &a), AVERROR(EINVAL));
    CHECK(a.authorization == NULL);
    r.amz_date = SUITE_DATE;
    r.path = "no-slash";
    CHECK_EQ(vpi_sigv4_sign(&suite_key, &r, &a), AVERROR(EINVAL));
}

/* S3's presigned GET example: examplebucket/test.txt, expires in 86400 s. */
static void test_presign(void)
{
    static const VpiSigv4Key k = {
        .access_key = "AKIAIOSFODNN7EXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        .region = "us-east-1",
        .service = "s3",
    };
    char *url = NULL;
    char date[17];
    vpi_sigv4_amz_date(1369353600, date);       /* 2013-05-24T00:00:00Z */
    CHECK_STR(date, "20130524T000000Z");
    CHECK_EQ(vpi_sigv4_presign(&k, "GET", "https://examplebucket.s3.amazonaws.com",
                               "examplebucket.s3.amazonaws.com", "/test.txt", NULL, 0, NULL,
                               date, 86400, &url), 0);
    CHECK_STR(url, "https://examplebucket.s3.amazonaws.com/test.txt"
                   "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                   "&X-Amz-Credential="
                   "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                   "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                   "&X-Amz-Signature="
                   "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    av_free(url);
    CHECK_EQ(vpi_sigv4_presign(&k, "GET", "https://h", "h", "/t", NULL, 0, NULL, date, 0, &url),
             AVERROR(EINVAL));
    CHECK(url == NULL);
}

static void test_encode(void)
{
    AVBPrint bp;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    vpi_sigv4_uri_encode(&bp, "a b/c+d~e=f", 1);
    CHECK_STR(bp.str, "a%20b/c%2Bd~e%3Df");
    av_bprint_clear(&bp);
    vpi_sigv4_uri_encode(&bp, "a b/c", 0);
    CHECK_STR(bp.str, "a%20b%2Fc");
    av_bprint_clear(&bp);
    VpiSigv4Pair q[3] = { { "b", "2" }, { "a", "" }, { "continuation-token", "x/y=" } };
    CHECK_EQ(vpi_sigv4_canonical_query(&bp, q, 3), 0);
    CHECK_STR(bp.str, "a=&b=2&continuation-token=x%2Fy%3D");
    av_bprint_finalize(&bp, NULL);
}

int main(void)
{
    test_suite();
    test_sensitivity();
    test_presign();
    test_encode();
    TEST_END();
}
