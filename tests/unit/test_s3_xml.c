/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XML reader of S3's answers (src/service/s3_xml.c): what it hands out for S3's
 * documents, and what it refuses. */
#include <string.h>

#include <libavutil/bprint.h>
#include <libavutil/error.h>

#include "service/s3_xml.h"
#include "test.h"

static int collect(void *opaque, const char *path, const char *text, size_t len)
{
    AVBPrint *bp = opaque;
    CHECK_EQ(strlen(text), len);
    av_bprintf(bp, "%s=%s|", path, text);
    return 0;
}

static void expect(const char *xml, int ret, const char *seen)
{
    AVBPrint bp;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    CHECK_EQ(vpi_s3_xml_parse(xml, strlen(xml), collect, &bp), ret);
    if (seen)
        CHECK_STR(bp.str, seen);
    av_bprint_finalize(&bp, NULL);
}

static int stop_at_key(void *opaque, const char *path, const char *text, size_t len)
{
    (void)text;
    (void)len;
    (*(int *)opaque)++;
    return strstr(path, "Key") ? AVERROR(EINTR) : 0;
}

int main(void)
{
    expect("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
           "<IsTruncated>true</IsTruncated><Contents><Key>a&amp;b &lt;c&gt; &#x2F;&#47;"
           "&#xE9;&#x1F600;</Key><Size>3</Size></Contents>"
           "<NextContinuationToken>t+/=</NextContinuationToken></ListBucketResult>", 0,
           "ListBucketResult/IsTruncated=true|"
           "ListBucketResult/Contents/Key=a&b <c> //\xc3\xa9\xf0\x9f\x98\x80|"
           "ListBucketResult/Contents/Size=3|ListBucketResult/NextContinuationToken=t+/=|");
    /* prefixes dropped, CDATA kept raw, attributes skipped (with ">" inside), comments,
     * empty elements */
    expect("<!-- c --><s3:Error a='x>y' b=\"2\"><s3:Code><![CDATA[<A&B>]]></s3:Code>"
           "<Message/><?pi x?></s3:Error>\n", 0,
           "Error/Code=<A&B>|Error/Message=|");
    /* refused */
    expect("", AVERROR_INVALIDDATA, NULL);
    expect("<a>", AVERROR_INVALIDDATA, NULL);
    expect("<a></b>", AVERROR_INVALIDDATA, NULL);
    expect("<a></a><a></a>", AVERROR_INVALIDDATA, NULL);
    expect("<a></a>x", AVERROR_INVALIDDATA, NULL);
    expect("<a>&bogus;</a>", AVERROR_INVALIDDATA, NULL);
    expect("<a>&#0;</a>", AVERROR_INVALIDDATA, NULL);
    expect("<a>&#xD800;</a>", AVERROR_INVALIDDATA, NULL);
    expect("<a>&#x110000;</a>", AVERROR_INVALIDDATA, NULL);
    expect("<!DOCTYPE a><a/>", AVERROR_INVALIDDATA, NULL);
    expect("<a b='1></a>", AVERROR_INVALIDDATA, NULL);
    expect("<a:></a:>", AVERROR_INVALIDDATA, NULL);
    expect("<1a/>", AVERROR_INVALIDDATA, NULL);
    /* 32 levels are fine, 33 are not */
    {
        AVBPrint bp;
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
        for (int depth = 32; depth <= 33; depth++) {
            av_bprint_clear(&bp);
            for (int i = 0; i < depth; i++)
                av_bprintf(&bp, "<e>");
            for (int i = 0; i < depth; i++)
                av_bprintf(&bp, "</e>");
            AVBPrint seen;
            av_bprint_init(&seen, 0, AV_BPRINT_SIZE_UNLIMITED);
            CHECK_EQ(vpi_s3_xml_parse(bp.str, bp.len, collect, &seen),
                     depth == 32 ? 0 : AVERROR_INVALIDDATA);
            av_bprint_finalize(&seen, NULL);
        }
        av_bprint_finalize(&bp, NULL);
    }
    /* the callback stops the parse with its value */
    int n = 0;
    const char *x = "<r><Key>a</Key><Key>b</Key></r>";
    CHECK_EQ(vpi_s3_xml_parse(x, strlen(x), stop_at_key, &n), AVERROR(EINTR));
    CHECK_EQ(n, 1);
    TEST_END();
}
