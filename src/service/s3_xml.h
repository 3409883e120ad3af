/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A minimal reader of S3's XML answers (ListObjectsV2, CreateMultipartUpload,
 * CompleteMultipartUpload, DeleteObjects, Error): enough XML for what S3 writes, strict
 * about what it reads. Its input comes from the network: it is fuzzed
 * (fuzz/fuzz_s3_xml.c). Never installed. */
#ifndef VIDPIPE_SERVICE_S3_XML_H
#define VIDPIPE_SERVICE_S3_XML_H

#include <stddef.h>

/* Called for each element that holds no element, at its end tag: @p path names it from the
 * root by local names joined by "/" ("ListBucketResult/Contents/Key"; namespace prefixes
 * dropped), @p text is its text with entities and CDATA decoded (@p len bytes and a NUL:
 * a NUL byte or "&#0;" in the input is refused). Return 0 to go on, negative to stop the
 * parse with that value. */
typedef int (*VpiS3XmlFn)(void *opaque, const char *path, const char *text, size_t len);

/* Parse @p size bytes of @p xml: one root element, optional prolog ("<?xml ...?>"),
 * comments, processing instructions and whitespace around it; attributes are skipped.
 * @return 0, AVERROR_INVALIDDATA for malformed XML (a mismatched end tag, an unknown
 *         entity, elements deeper than 32, a name or a text over 64 KiB, anything after the
 *         root), AVERROR(ENOMEM), or the callback's negative value. Pure; any thread. */
int vpi_s3_xml_parse(const char *xml, size_t size, VpiS3XmlFn fn, void *opaque);

#endif
