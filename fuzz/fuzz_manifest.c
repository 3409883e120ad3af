/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: a hostile batch manifest gives rows or one error line, never a crash, a hang
 * or a leak; every row it gives is well formed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VpiManifest m;
    char why[512];

    /* The first byte picks the bases, so both resolution paths are reached. */
    int bases = size ? data[0] & 3 : 0;
    const char *seg_base = bases & 1 ? "in dir" : NULL;
    const char *out_base = bases & 2 ? "/out/" : "";
    int ret = vpi_manifest_parse((const char *)data, size, "fuzz.csv", seg_base, out_base, &m,
                                 why, sizeof(why));
    if (ret < 0) {
        if (!strchr(why, ':') || strchr(why, '\n') == why)
            abort(); /* every error is one line naming the file */
        return 0;
    }
    if (m.nb_rows < 1)
        abort();
    for (int i = 0; i < m.nb_rows; i++) {
        const VpiManifestRow *r = &m.rows[i];
        if (!r->output || !r->output[0] || r->nb_segments < 1 || r->line < 1)
            abort();
        for (int k = 0; k < r->nb_segments; k++)
            if (!r->segments[k] || !r->segments[k][0])
                abort();
    }
    vpi_manifest_free(&m);
    return 0;
}
