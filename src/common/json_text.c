/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one rule for byte strings in vidpipe's JSON outputs; see json_text.h and docs/json.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"

/* Length of the valid UTF-8 sequence at @p p, or 0 when its first byte starts none. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
               c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    for (size_t k = 1; k < n; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    /* Overlong forms, UTF-16 surrogates (U+D800..DFFF) and code points above U+10FFFF. */
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
        (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
        return 0;
    return n;
}

int vpi_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (!n)
            return 0;
        p += n;
    }
    return 1;
}

json_t *vpi_json_text(const char *s)
{
    if (!s)
        return json_null();
    if (vpi_utf8_valid(s))
        return json_string(s);
    /* Each invalid byte (1 byte) becomes U+FFFD (3 bytes). */
    size_t len = strlen(s);
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *d = malloc(len * 3 + 1);
    if (!d)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (n) {
            memcpy(d + o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(d + o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        }
    }
    d[o] = 0;
    json_t *v = json_string(d);
    free(d);
    return v;
}

int vpi_json_set_text(json_t *obj, const char *key, const char *s)
{
    if (json_object_set_new(obj, key, vpi_json_text(s)) < 0)
        return -1;
    if (!s || vpi_utf8_valid(s))
        return 0;
    static const char digits[] = "0123456789abcdef";
    size_t len = strlen(s), klen = strlen(key);
    if (len > (SIZE_MAX - 1) / 2 || klen > SIZE_MAX - 8)
        return -1;
    char *hex = malloc(len * 2 + 1), *bkey = malloc(klen + 7);
    int ret = -1;
    if (!hex || !bkey)
        goto end;
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[(unsigned char)s[i] >> 4];
        hex[2 * i + 1] = digits[(unsigned char)s[i] & 15];
    }
    hex[2 * len] = 0;
    snprintf(bkey, klen + 7, "%s_bytes", key);
    ret = json_object_set_new(obj, bkey, json_string(hex));
end:
    free(hex);
    free(bkey);
    return ret;
}
