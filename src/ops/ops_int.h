/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The filter chains behind `vidpipe cleanup` and `vidpipe loudnorm`, for the commands
 * themselves and for `vidpipe run` (src/run/), which puts the same chains into passes it
 * plans itself. Never installed. */
#ifndef VIDPIPE_OPS_INT_H
#define VIDPIPE_OPS_INT_H

#include <stddef.h>

#include "ops/qc_int.h"
#include "vidpipe/audio.h"
#include "vidpipe/cleanup.h"

/* vid.stab's analysis, writing its transforms to @p trf (a path needing no escaping). */
void vpi_cleanup_detect_chain(const VpCleanupOpts *o, const char *trf, char *buf, size_t size);
/* The clean-up's chains: video (vid.stab's transform when @p trf is not NULL, then eq) and
 * audio (denoise); "" for none. */
void vpi_cleanup_chains(const VpCleanupOpts *o, const char *trf, char *vf, size_t vsize,
                        char *af, size_t asize);
/* A transforms file in $TMPDIR (or /tmp) whose name needs no escaping in a filter graph. */
int vpi_cleanup_trf(char *buf, size_t size);

/* loudnorm's second pass, from the first pass's measurement @p d: fills @p res (in_*, linear,
 * gain_db) and the chain. VP_ERR_NO_AUDIO when nothing was measured. */
int vpi_loudnorm_chain(const VpLoudnormOpts *o, const VpiQcData *d, VpLoudnormResult *res,
                       char *buf, size_t size);

#endif /* VIDPIPE_OPS_INT_H */
