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

#endif /* VIDPIPE_OPTIONS_OPTIONS_JSON_H */
