/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON for user-written files (presets, QC specs), read with jansson, and the declarative
 * field tables. Never installed. */
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

/* One field of an option struct: drives defaults, JSON reading, range checks and help. */
typedef enum VpiFieldType {
    VPI_FIELD_INT, VPI_FIELD_INT64, VPI_FIELD_DOUBLE, VPI_FIELD_BOOL, VPI_FIELD_STR,
} VpiFieldType;

typedef struct VpiField {
    const char *name;
    const char *help;
    size_t offset;
    VpiFieldType type;
    double def;
    double min, max;
    const char *def_str;        /* VPI_FIELD_STR: default */
    size_t size;                /* VPI_FIELD_STR: the char array's size */
} VpiField;

void vpi_fields_defaults(const VpiField *fields, void *dst);
/* Apply the members of @p obj to @p dst; unknown members, wrong types and values out of
 * range are errors naming the field ("@p what: \"crf\" must be ..."). INT64 fields take
 * integers exactly (no detour through double), so values above 2^53 are kept or refused
 * as written. */
int vpi_fields_apply(const VpiField *fields, void *dst, const json_t *obj, const char *what,
                     char *err, size_t err_size);

/* Range-check every numeric field of @p src; VP_ERR_BAD_OPTION with @p err naming it. */
int vpi_fields_check(const VpiField *fields, const void *src, const char *what, char *err,
                     size_t err_size);

#endif /* VIDPIPE_JSON_H */
