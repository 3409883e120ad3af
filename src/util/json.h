/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON for user-written files (presets, QC specs); their fields are read through the
 * option tables (options/options_json.h). Never installed. */
#ifndef VIDPIPE_JSON_H
#define VIDPIPE_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "internal.h"

typedef enum VpiJsonType {
    VPI_JSON_NULL, VPI_JSON_BOOL, VPI_JSON_NUMBER, VPI_JSON_STRING, VPI_JSON_ARRAY,
    VPI_JSON_OBJECT,
} VpiJsonType;

typedef struct VpiJson {
    VpiJsonType type;
    double num;                 /* numbers; booleans as 0/1 */
    char *str;                  /* strings */
    struct VpiJson *items;      /* arrays and objects */
    char **keys;                /* objects: one per item */
    int nb, cap;
} VpiJson;

/* Parse @p len bytes (at most 1 MiB, nesting at most 32). On failure *out is NULL and @p err
 * says what and at which byte. */
int vpi_json_parse(const char *text, size_t len, VpiJson **out, char *err, size_t err_size);
int vpi_json_read_file(const char *path, VpiJson **out, char *err, size_t err_size);
void vpi_json_free(VpiJson **v);
/* The member @p key of an object (the last one if repeated), or NULL. */
const VpiJson *vpi_json_get(const VpiJson *obj, const char *key);
void vpi_json_write_string(FILE *f, const char *s);

#endif /* VIDPIPE_JSON_H */
