/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON for user-written files (presets, QC specs), read with jansson; their fields are read
 * through the option tables (options/options_json.h). Never installed. */
#ifndef VIDPIPE_JSON_H
#define VIDPIPE_JSON_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "internal.h"

/* Parse @p len bytes (at most 1 MiB) with jansson: strict JSON, UTF-8 validated, integers
 * kept exact as json_int_t. On failure *out is NULL and @p err says what and where ("line 1,
 * column 27: ..."). Any value is accepted at the top; the caller checks its type. */
int vpi_json_parse(const char *text, size_t len, json_t **out, char *err, size_t err_size);
/* The same for the file @p path; @p err does not repeat the path (callers name it). */
int vpi_json_read_file(const char *path, json_t **out, char *err, size_t err_size);

#endif /* VIDPIPE_JSON_H */
