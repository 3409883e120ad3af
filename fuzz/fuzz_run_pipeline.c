/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: pipeline files (vidpipe run) are untrusted JSON whose steps, options and
 * delivery templates are read by our own code; reading them must not crash, hang or leak;
 * a refused file has one line of reason; an accepted one has a plan ending in "N passes
 * for M steps" and output names for an input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vidpipe/vidpipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    VpRunPipeline *pl = NULL;
    VpFailure f;

    if (!init) {
        vp_set_log_callback(NULL, NULL, 0);
        init = 1;
    }
    if (vp_run_pipeline_parse("fuzz.json", (const char *)data, size, "/nonexistent", &pl,
                              &f) < 0) {
        if (pl || !f.message[0] || strchr(f.message, '\n'))
            abort();
        return 0;
    }
    char *plan = vp_run_pipeline_plan(pl);
    int passes, steps;
    vp_run_pipeline_counts(pl, &passes, &steps);
    char last[64];
    snprintf(last, sizeof(last), "%d pass%s for %d step%s\n", passes, passes == 1 ? "" : "es",
             steps, steps == 1 ? "" : "s");
    if (!plan || strlen(plan) < strlen(last) || strcmp(plan + strlen(plan) - strlen(last), last))
        abort();
    free(plan);
    VpRunOpts o;
    vp_run_default_opts(&o);
    char **paths = NULL;
    size_t nb = 0;
    if (vp_run_item_outputs(pl, "in/clip.mov", &o, &paths, &nb) >= 0)
        vp_run_paths_free(paths, nb);
    if (vp_run_pipeline_inputs(pl, &paths, &nb, &f) >= 0)
        vp_run_paths_free(paths, nb);
    vp_run_pipeline_free(&pl);
    return 0;
}
