/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the QC analyser sink measures, for qc.c to judge. Never installed. */
#ifndef VIDPIPE_QC_INT_H
#define VIDPIPE_QC_INT_H

#include "pipeline/sink.h"
#include "vidpipe/qc.h"

typedef struct VpiQcData {
    int done;
    double video_end, audio_end;        /* seconds; NaN when absent */
    double sample_peak, true_peak;      /* linear (1.0 = full scale); NaN when absent */
    double loudness, lra;               /* LUFS, LU */
    VpQcStretch *black, *freeze, *silence;
    int nb_black, nb_freeze, nb_silence;
    float *momentary;
    int nb_momentary;
} VpiQcData;

/* The options of the "qc" and "loudness" sinks: what to judge by, and the chains the
 * decoded pictures and sound go through before they are measured (NULL: none), so that a
 * check can see the media as earlier steps of `vidpipe run` make it. */
typedef struct VpiQcSinkOpts {
    VpQcSpec spec;
    const char *video_filters, *audio_filters;
} VpiQcSinkOpts;

VpiQcData *vpi_sink_qc_data(VpiSink *s);

/* The report of a "qc" sink after its pipeline ran (vp_qc_run()'s judging), for @p path. */
int vpi_qc_report_make(VpPipeline *p, VpiSink *sink, const char *path, const VpQcSpec *spec,
                       VpQcReport **out);
void vpi_qc_data_clear(VpiQcData *d);

#endif
