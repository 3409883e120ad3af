/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QC report a person reads: verdict first, failed checks first, a loudness plot and a
 * timeline of the stretches found. */
#ifndef VIDPIPE_TOOLS_QC_HTML_H
#define VIDPIPE_TOOLS_QC_HTML_H

#include "vidpipe/qc.h"

/* Write the report for @p in to @p path (atomically), with the report's contact sheet
 * embedded when it has one. Returns 0 or a negative AVERROR. */
int qc_html_write(const char *path, const char *in, const VpQcReport *r);

#endif
