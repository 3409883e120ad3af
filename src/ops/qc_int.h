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

VpiQcData *vpi_sink_qc_data(VpiSink *s);
void vpi_qc_data_clear(VpiQcData *d);

#endif
