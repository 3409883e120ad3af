/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: user preset files and QC specs are untrusted JSON; reading them must not
 * crash, hang or leak, and a refused document must leave the set unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vidpipe/export.h"
#include "vidpipe/qc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    VpPresetSet *set = NULL;
    VpQcSpec spec, before;
    char err[256];

    if (!init) {
        vp_set_log_callback(NULL, NULL, 0);
        init = 1;
    }
    if (vp_preset_set_new(&set) < 0)
        return 0;
    int n = vp_preset_set_count(set);
    if (vp_preset_set_parse(set, (const char *)data, size, err, sizeof(err)) < 0) {
        if (vp_preset_set_count(set) != n || !err[0])
            abort();
    } else {
        for (int i = 0; i < vp_preset_set_count(set); i++) {
            const VpPreset *p = vp_preset_set_get(set, i);
            if (!p || vp_preset_set_find(set, p->name) == NULL || strlen(p->name) >= 32)
                abort();
        }
    }
    vp_preset_set_free(&set);

    vp_qc_default_spec(&spec);
    before = spec;
    if (vp_qc_spec_parse((const char *)data, size, &spec, err, sizeof(err)) < 0 &&
        memcmp(&spec, &before, sizeof(spec)))
        abort();
    return 0;
}
