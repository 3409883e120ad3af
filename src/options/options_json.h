/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef VIDPIPE_OPTIONS_OPTIONS_JSON_H
#define VIDPIPE_OPTIONS_OPTIONS_JSON_H

#include "options.h"
#include "util/json.h"

/* Set the members of the JSON object @p root as options of @p obj, then check the whole
 * struct (ranges and the table's cross-field rules). Unknown members and wrong types are
 * errors. Returns 0 or AVERROR_INVALIDDATA with "@p what: NAME: ..." in @p err; @p obj may
 * be partly set on failure: apply to a copy. */
int vpi_opt_apply_json(const VpiOptTable *t, void *obj, const json_t *root, const char *what,
                       char *err, size_t err_size);

/* A JSON value as the option tables take it (a string, a boolean, an integer, a real;
 * anything else is VPI_VALUE_OTHER, refused by every option). The string is borrowed from
 * @p j. A real with no fraction that fits is an integer ("5e6"). */
VpiValue vpi_value_of_json(const json_t *j);

#endif /* VIDPIPE_OPTIONS_OPTIONS_JSON_H */
