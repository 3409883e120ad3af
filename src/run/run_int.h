/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the pipeline file reader and planner (run_plan.c) hand the executor (run_exec.c).
 * Never installed; the public face is vidpipe/run.h.
 *
 * A plan is a list of passes. Each pass is one decode of the input feeding actions (QC
 * analysers, measurements, the transcriber, encoders) through the filter chains the steps
 * before them built: the chains are lists of parts, each part the filter of one step, and
 * an action takes the first nvf video and naf audio parts. A part whose filter depends on
 * a measurement (loudnorm, vid.stab's transform, burned captions) is only used in passes
 * after the one that measures, which is what ends a pass. */
#ifndef VIDPIPE_RUN_INT_H
#define VIDPIPE_RUN_INT_H

#include <jansson.h>

#include "vidpipe/audio.h"
#include "vidpipe/cleanup.h"
#include "vidpipe/export.h"
#include "vidpipe/pipeline.h"
#include "vidpipe/qc.h"
#include "vidpipe/run.h"
#include "vidpipe/subtitles.h"
#include "vidpipe/transcribe.h"

#define VPI_RUN_MAX_STEPS 32
#define VPI_RUN_MAX_PRESETS 16
#define VPI_RUN_MAX_PASSES 16
#define VPI_RUN_MAX_ACTS 48
#define VPI_RUN_MAX_PARTS 32

typedef enum VpiStepKind {
    VPI_STEP_QC, VPI_STEP_CLEANUP, VPI_STEP_LOUDNORM, VPI_STEP_SUBTITLES, VPI_STEP_EXPORT,
    VPI_STEP_DELIVER, VPI_STEP_THUMB,
} VpiStepKind;

#define VPI_RUN_MAX_STILLS 8

typedef struct VpiStep {
    VpiStepKind kind;
    int number;                         /* 1-based, as messages say it */
    const char *name;                   /* "qc" */
    /* qc */
    VpQcSpec qc;
    int qc_stop;                        /* "fail": "stop" (1, default) or "warn" */
    /* cleanup */
    VpCleanupOpts cleanup;
    /* loudnorm */
    VpLoudnormOpts loudnorm;
    /* subtitles */
    VpTranscribeOpts tr;
    VpSubsBurnOpts burn;
    int burn_in;                        /* "burn": true */
    VpSubsFormat sidecar;               /* "format": srt (default) or vtt */
    /* export */
    const VpPreset *presets[VPI_RUN_MAX_PRESETS];
    int nb_presets;
    VpEncodeOpts enc;                   /* the encode table's "hw" */
    /* deliver */
    const char *to, *subs_to;           /* templates, relative to the file's folder */
    const char *stills_to;
    /* thumb */
    VpThumbOpts thumb;                  /* its path is set per input */
    const char *still;                  /* what its file is named after ("thumb", "sheet") */
    const char *ext;                    /* "jpg", "png", "webp" */
} VpiStep;

typedef enum VpiPartKind {
    VPI_PART_STAB,                      /* vid.stab's transform: needs the detect pass */
    VPI_PART_EQ, VPI_PART_DENOISE,
    VPI_PART_LOUDNORM,                  /* needs the measuring pass */
    VPI_PART_BURN,                      /* needs the transcribing pass */
} VpiPartKind;

typedef struct VpiPart {
    VpiPartKind kind;
    int video;                          /* 1: a video filter, 0: an audio filter */
    int step;                           /* index into steps */
} VpiPart;

typedef enum VpiActKind {
    VPI_ACT_QC, VPI_ACT_STAB_DETECT, VPI_ACT_LOUD_MEASURE, VPI_ACT_TRANSCRIBE, VPI_ACT_ENCODE,
    VPI_ACT_THUMB,                      /* in the last pass, before its encodes */
} VpiActKind;

typedef struct VpiAct {
    VpiActKind kind;
    int step;                           /* index into steps */
    int preset;                         /* ENCODE: index into the export step's presets, or
                                           -1 for the output of a pipeline without export */
    int vparts[VPI_RUN_MAX_PARTS], nb_vparts;   /* the chains this act sees, in order */
    int aparts[VPI_RUN_MAX_PARTS], nb_aparts;
} VpiAct;

typedef struct VpiPass {
    VpiAct acts[VPI_RUN_MAX_ACTS];
    int nb_acts;
    char labels[VPI_RUN_MAX_ACTS][48];  /* what the plan prints, in order */
    int nb_labels;
} VpiPass;

struct VpRunPipeline {
    char *name;                         /* the file, as messages name it */
    char *base;                         /* its folder */
    json_t *root;                       /* kept: option strings point into it */
    char *settings;                     /* canonical text */
    VpPresetSet *preset_set;
    VpiStep steps[VPI_RUN_MAX_STEPS];
    int nb_steps;
    VpiPart parts[VPI_RUN_MAX_PARTS];
    int nb_parts;
    VpiPass passes[VPI_RUN_MAX_PASSES];
    int nb_passes;
    int export_step, deliver_step, subs_step;   /* indices, or -1 */
    int stills[VPI_RUN_MAX_STILLS], nb_stills;  /* the thumb steps, in order */
    /* Where the media outputs and the stills are in an input's outputs, which are listed in
     * the order they are put in place: the stills are renamed with the last pass's encodes,
     * after them, or before the media when captions are muxed into the media afterwards. */
    int media_at, stills_at;
    int soft_subs;                      /* captions muxed as a track into the outputs */
    int media_outputs;                  /* encoded outputs per input (0: none) */
    int mux_only;                       /* no encode: the input muxed with its captions */
    const char *out_suffix;             /* the step an output without export is named after */
};

/* The output of encode act @p a (or the muxed input, @p a NULL) and the captions file, for
 * input @p in: malloc'd into @p buf. */
int vpi_run_output_path(const VpRunPipeline *pl, const VpRunOpts *o, const char *in,
                        int preset, char **path);
int vpi_run_sidecar_path(const VpRunPipeline *pl, const VpRunOpts *o, const char *in,
                         char **path);
/* The still of thumb step @p step (an index into steps). */
int vpi_run_still_path(const VpRunPipeline *pl, const VpRunOpts *o, const char *in, int step,
                       char **path);
/* "clip" for "raw/clip.mov". Malloc'd. */
char *vpi_run_item_name(const char *in);

#endif /* VIDPIPE_RUN_INT_H */
