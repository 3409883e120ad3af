/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include "internal.h"
#include "join_internal.h"
int vpi_conform(const char *in, const struct VpMediaInfo *ref, const char *out_path,
                char *why, size_t why_size)
{
    (void)in; (void)ref; (void)out_path;
    snprintf(why, why_size, "not yet");
    return VP_ERR_UNSUPPORTED;
}
