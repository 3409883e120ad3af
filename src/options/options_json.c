/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Options from a JSON object: the one place that knows the JSON reader's value type, so
 * another reader only changes this file. */
#include <math.h>
#include <stdio.h>

#include <libavutil/error.h>

#include "options_json.h"

VpiValue vpi_value_of_json(const json_t *j)
{
    VpiValue v = { VPI_VALUE_OTHER };
    if (json_is_boolean(j)) {
        v.type = VPI_VALUE_BOOL;
        v.i = json_is_true(j);
    } else if (json_is_string(j)) {
        v.type = VPI_VALUE_STRING;
        v.s = json_string_value(j);
    } else if (json_is_integer(j)) {
        /* exact: a JSON integer as written, past 2^53 too */
        v.type = VPI_VALUE_INT;
        v.i = (int64_t)json_integer_value(j);
    } else if (json_is_real(j)) {
        double d = json_real_value(j);
        /* a real with no fraction that fits ("5e6") counts as an integer; 2^63 is exact
         * as a double, and anything at or past it does not fit an int64_t */
        if (d == floor(d) && d < 9223372036854775808.0 && d >= -9223372036854775808.0) {
            v.type = VPI_VALUE_INT;
            v.i = (int64_t)d;
        } else {
            v.type = VPI_VALUE_REAL;
            v.d = d;
        }
    }
    return v;
}

int vpi_opt_apply_json(const VpiOptTable *t, void *obj, const json_t *root, const char *what,
                       char *err, size_t err_size)
{
    char msg[256];
    const char *key;
    json_t *j;
    if (!json_is_object(root)) {
        snprintf(err, err_size, "%s must be a JSON object", what);
        return AVERROR_INVALIDDATA;
    }
    json_object_foreach((json_t *)root, key, j) {
        VpiValue v = vpi_value_of_json(j);
        int ret = vpi_opt_set_value(t, obj, key, &v, msg, sizeof(msg));
        if (ret < 0) {
            snprintf(err, err_size, "%s: %s", what, msg);
            return AVERROR_INVALIDDATA;
        }
    }
    int ret = vpi_opt_check(t, obj, msg, sizeof(msg));
    if (ret < 0) {
        snprintf(err, err_size, "%s: %s", what, msg);
        return AVERROR_INVALIDDATA;
    }
    return 0;
}
