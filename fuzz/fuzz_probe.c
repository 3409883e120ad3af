/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: probing a hostile file must not crash, hang or leak. */
#include <stddef.h>
#include <stdint.h>

#include "vidpipe/check.h"
#include "vidpipe/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    VpProbeOpts opts;
    VpMediaInfo *mi = NULL;

    if (!init) {
        vp_set_log_callback(NULL, NULL, 0);
        init = 1;
    }
    vp_probe_default_opts(&opts);
    opts.timeout_ms = 2000;
    opts.max_bytes = 16 << 20;
    if (vp_probe_buffer(data, size, "fuzz", &opts, &mi) == 0) {
        VpCheckResult res;
        if (vp_check_compare(mi, mi, &res) >= 0)
            vp_check_result_clear(&res);
        vp_media_info_free(&mi);
    }
    return 0;
}
