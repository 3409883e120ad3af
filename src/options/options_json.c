/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Options from a JSON object: the one place that knows the JSON reader's value type, so
 * another reader only changes this file. */
#include <math.h>
#include <stdio.h>

#include <libavutil/error.h>

#include "options_json.h"

int vpi_opt_apply_json(const VpiOptTable *t, void *obj, const VpiJson *root, const char *what,
                       char *err, size_t err_size)
{
    char msg[256];
    if (!root || root->type != VPI_JSON_OBJECT) {
        snprintf(err, err_size, "%s must be a JSON object", what);
        return AVERROR_INVALIDDATA;
    }
    for (int i = 0; i < root->nb; i++) {
        const VpiJson *j = &root->items[i];
        VpiValue v = { VPI_VALUE_OTHER };
        switch (j->type) {
        case VPI_JSON_BOOL: v.type = VPI_VALUE_BOOL; v.i = j->num != 0; break;
        case VPI_JSON_STRING: v.type = VPI_VALUE_STRING; v.s = j->str; break;
        case VPI_JSON_NUMBER:
            if (j->num == floor(j->num) && fabs(j->num) < 9e15) {
                v.type = VPI_VALUE_INT;
                v.i = (int64_t)j->num;
            } else {
                v.type = VPI_VALUE_REAL;
                v.d = j->num;
            }
            break;
        default: break;
        }
        int ret = vpi_opt_set_value(t, obj, root->keys[i], &v, msg, sizeof(msg));
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
