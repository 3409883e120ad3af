/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Byte strings (file names, error lines naming them) into JSON through jansson, by one rule
 * for every output that vidpipe writes (docs/json.md): bytes that are not UTF-8 become
 * U+FFFD in the value, and the exact bytes are kept in hex beside it. Compiled into the
 * library and into the CLI, so it includes nothing internal. Never installed. */
#ifndef VIDPIPE_JSON_TEXT_H
#define VIDPIPE_JSON_TEXT_H

#include <jansson.h>

/* 1 if @p s is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). */
int vpi_utf8_valid(const char *s);

/* A new JSON string for @p s with each byte that is not part of valid UTF-8 replaced by
 * U+FFFD; json_null() for NULL. Returns NULL only when out of memory. */
json_t *vpi_json_text(const char *s);

/* Set @p obj's member @p key to vpi_json_text(@p s) and, when @p s is not valid UTF-8, also
 * "<key>_bytes" to the bytes of @p s in lower-case hex. 0, or -1 when out of memory. */
int vpi_json_set_text(json_t *obj, const char *key, const char *s);

#endif /* VIDPIPE_JSON_TEXT_H */
