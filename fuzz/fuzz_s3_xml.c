/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the XML of S3's answers (src/service/s3_xml.c) comes from the network. The
 * reader must never read past its input, and what it hands out must hold: paths of 1..32
 * non-empty local names, texts of the length it says with no NUL inside, an accepted
 * document gives the same elements when parsed again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Seen {
    unsigned long hash;
    int count;
} Seen;

static int on_element(void *opaque, const char *path, const char *text, size_t len)
{
    Seen *s = opaque;
    size_t plen = strlen(path);
    int depth = 1;
    if (!plen || path[0] == '/' || path[plen - 1] == '/' || strstr(path, "//") ||
        strlen(text) != len)
        abort();
    for (const char *c = path; *c; c++) {
        depth += *c == '/';
        if (*c == ':' || *c == '<' || *c == '>')
            abort();
    }
    if (depth > 32)
        abort();
    for (const char *c = path; *c; c++)
        s->hash = s->hash * 31 + (unsigned char)*c;
    for (size_t i = 0; i < len; i++)
        s->hash = s->hash * 33 + (unsigned char)text[i];
    s->count++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Seen a = { 0 }, b = { 0 };
    int ra = vpi_s3_xml_parse((const char *)data, size, on_element, &a);
    int rb = vpi_s3_xml_parse((const char *)data, size, on_element, &b);
    if (ra > 0 || ra != rb || a.hash != b.hash || a.count != b.count)
        abort();
    if (ra == 0 && !a.count)
        abort();                /* an accepted document has a root */
    return 0;
}
