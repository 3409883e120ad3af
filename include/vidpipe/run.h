/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file run.h
 * Declarative production pipelines (`vidpipe run PIPELINE.json`): a file names the inputs
 * and the steps (qc, cleanup, loudnorm, subtitles, export, deliver), each step with the
 * option names of its command. The library plans the passes: steps that can share one
 * decode of the input run in one pass of the pipeline engine; a step that needs the whole
 * input before the next can start (loudness measurement, stabilization analysis, captions
 * to burn in) ends a pass. docs/run.md has the file format and the planning rules.
 *
 *     {"inputs": "raw",
 *      "steps": [{"qc": {"max_duration": 600, "min_height": 720, "fail": "stop"}},
 *                {"loudnorm": {"i": -16}},
 *                {"export": {"presets": ["youtube", "tiktok"]}},
 *                {"deliver": {"to": "out/{preset}/{name}.mp4"}}]}
 */
#ifndef VIDPIPE_RUN_H
#define VIDPIPE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpRunPipeline VpRunPipeline;

/**
 * Read and check a pipeline file: every step, every option (through the option tables of
 * the commands), the order of the steps, the delivery templates; then plan the passes.
 * Relative paths in the file (inputs, a QC spec, preset files, delivery templates) are
 * relative to the file's folder.
 * @return 0 with *@p out (vp_run_pipeline_free()), or a negative error with *@p out NULL and
 *         @p fail's message one line naming the file, the step and the key:
 *         "p.json: step 3 (loudnorm): i: value -80 is out of range -70..-5"
 *         (VP_ERR_BAD_CONFIG; AVERROR(ENOENT) etc. when the file cannot be read).
 */
VP_API int vp_run_pipeline_load(const char *path, VpRunPipeline **out, VpFailure *fail);

/** The same on text in memory; @p name names it in messages and @p base_dir (NULL: the
 *  current folder) anchors its relative paths. The text is untrusted: any bytes are safe. */
VP_API int vp_run_pipeline_parse(const char *name, const char *text, size_t len,
                                 const char *base_dir, VpRunPipeline **out, VpFailure *fail);

VP_API void vp_run_pipeline_free(VpRunPipeline **pl);

/** The plan, one line per pass ("pass 1: decode IN -> qc, cleanup, loudnorm-measure"),
 *  then what follows the passes (muxing, captions, delivery), ending with
 *  "N passes for M steps". A malloc'd string (free()), or NULL without memory. */
VP_API char *vp_run_pipeline_plan(const VpRunPipeline *pl);

/** Passes and steps of the plan (either may be NULL). */
VP_API void vp_run_pipeline_counts(const VpRunPipeline *pl, int *passes, int *steps);

/** The canonical text of the pipeline (its JSON, keys sorted): what an output records
 *  having been made from, so that editing the file redoes the outputs. Valid until freed. */
VP_API const char *vp_run_pipeline_settings(const VpRunPipeline *pl);

/**
 * The inputs the file names ("inputs": a glob pattern, a folder, a list file of one path a
 * line, or an array of these), in order, without repeats.
 * @return 0 with *@p paths (malloc'd strings in a malloc'd array, vp_run_paths_free()),
 *         possibly none; or a negative error with @p fail naming the pattern or file
 *         (VP_ERR_BAD_CONFIG when the file has no "inputs", or a pattern matches nothing).
 */
VP_API int vp_run_pipeline_inputs(const VpRunPipeline *pl, char ***paths, size_t *nb,
                                  VpFailure *fail);
VP_API void vp_run_paths_free(char **paths, size_t nb);

struct VpQcReport; /* vidpipe/qc.h */

typedef struct VpRunOpts {
    const char *out_dir;        /**< where outputs go without a deliver step ("out") */
    int decode_threads;         /**< video decoder threads per pass; 0 = automatic */
    /** Optional, called from the thread running vp_run_item() as each pass goes: the
     *  input, the pass (1-based) of @p nb_passes, the position reached in it and the
     *  input's duration (NaN when unknown). */
    void (*progress)(void *opaque, const char *input, int pass, int nb_passes,
                     double done_s, double total_s);
    void *opaque;
    VpLogger logger;            /**< see common.h */
    VpCancel cancel;            /**< see common.h: every pass and the transcriber stop */
    /** Optional, called from the thread running vp_run_item() as each QC step is judged:
     *  the input, the step's number (1-based), 1 when a failure stops the input ("fail":
     *  "stop"), and what it found (valid during the call). With @c opaque. */
    void (*on_qc)(void *opaque, const char *input, int step, int stops,
                  const struct VpQcReport *report);
} VpRunOpts;

VP_API void vp_run_default_opts(VpRunOpts *opts);

/** The files one input gives, in the order they are put in place (the last one is in place
 *  only when every other is: an item is complete when it exists). Malloc'd, as
 *  vp_run_pipeline_inputs(); possibly none (a pipeline of checks only). */
VP_API int vp_run_item_outputs(const VpRunPipeline *pl, const char *input,
                               const VpRunOpts *opts, char ***paths, size_t *nb);

/**
 * Check that @p input can go through the pipeline without doing any work: it opens as
 * media, and has the streams its steps need (audio for loudnorm and subtitles, video for
 * cleanup's picture steps, burned captions and exports). 0, or a negative error with
 * @p fail's one line ("clip.mov: loudnorm (step 3) needs audio: has no audio stream").
 */
VP_API int vp_run_check_input(const VpRunPipeline *pl, const char *input, const VpRunOpts *opts,
                              VpFailure *fail);

/** What one input's run did. */
typedef struct VpRunResult {
    int passes;                 /**< decodes of the input made */
    int outputs;                /**< files put in place */
    int64_t bytes;              /**< their size */
    int qc_warnings;            /**< checks failed in QC steps whose "fail" is "warn" */
    int cues;                   /**< captions made; -1 without a subtitles step */
    int stop_step;              /**< VP_ERR_QC_FAILED: the QC step (1-based) that stopped */
    char stop_check[32];        /**< ...and its first failed check ("loudness") */
} VpRunResult;

/**
 * Run the pipeline on one input: the planned passes, then the muxing of soft captions and
 * the delivery. Every output is written under a temporary name and renamed into place only
 * when complete; intermediate files live in a temporary folder ($TMPDIR) removed at the end.
 * A QC step whose "fail" is "stop" and that fails stops the item before anything of its
 * pass is put in place: VP_ERR_QC_FAILED, @p fail naming the step and the check
 * ("clip.mov: qc (step 1) failed: duration: 0.50 s, shorter than the 1.00 s required").
 * @return 0, or a negative error with @p fail naming the file at fault (input 0, or an
 *         output, input -1) and the step. @p res (may be NULL) is filled either way.
 * Thread-safe: several inputs may run at once on one pipeline.
 */
VP_API int vp_run_item(const VpRunPipeline *pl, const char *input, const VpRunOpts *opts,
                       VpRunResult *res, VpFailure *fail);

/** The steps a pipeline file may hold, with their options, one line each, for
 *  `vidpipe run --list-steps` and the man page. A malloc'd string (free()), or NULL. */
VP_API char *vp_run_describe_steps(void);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_RUN_H */
