/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file qc.h
 * Quality control in one decode pass: integrity (every decode error, with its time),
 * resolution, duration bounds, audio sample and true peak, integrated loudness and loudness
 * range (EBU R128), black, silent and frozen stretches, and audio vs video length. Each check
 * passes or fails against a spec.
 */
#ifndef VIDPIPE_QC_H
#define VIDPIPE_QC_H

#include "common.h"
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a file must meet. vp_qc_default_spec() gives the defaults (see vidpipe-qc(1)). */
typedef struct VpQcSpec {
    int width, height;          /**< required resolution; 0 = any */
    double min_duration;        /**< seconds (default 1) */
    double max_duration;        /**< seconds; 0 = no bound (default 0) */
    int max_decode_errors;      /**< decode errors allowed (default 0) */
    double max_sample_peak;     /**< dBFS (default -1) */
    double max_true_peak;       /**< dBTP (default -1) */
    double min_loudness;        /**< integrated loudness, LUFS (default -28) */
    double max_loudness;        /**< LUFS (default -12) */
    double max_lra;             /**< loudness range, LU (default 20) */
    double max_black;           /**< longest black stretch allowed, seconds (default 2) */
    double black_min;           /**< shortest black stretch reported, seconds (default 0.5) */
    double black_pixel;         /**< a pixel is black below this luma, 0..1 (default 0.10) */
    double black_ratio;         /**< a picture is black when this share is (default 0.98) */
    double max_silence;         /**< longest silent stretch allowed, seconds (default 2) */
    double silence_min;         /**< shortest silent stretch reported, seconds (default 0.5) */
    double silence_db;          /**< silence is below this level, dBFS (default -60) */
    double max_freeze;          /**< longest frozen stretch allowed, seconds (default 2) */
    double freeze_min;          /**< shortest frozen stretch reported, seconds (default 0.5) */
    double freeze_noise;        /**< pictures differing less than this (mean, 0..1) are
                                     the same picture (default 0.001, i.e. -60 dB) */
    double max_av_diff;         /**< audio vs video length, seconds (default 0.5) */
    int require_audio;          /**< 1 (default): a file without audio fails */
    int min_width, min_height;  /**< smallest resolution allowed; 0 = any (default) */
} VpQcSpec;

/** Fill @p spec with the defaults. Thread-safe. */
VP_API void vp_qc_default_spec(VpQcSpec *spec);

/**
 * Read a spec from JSON text: an object whose members override the defaults already in
 * @p spec ({"width": 1920, "max_true_peak": -2}). Unknown members, wrong types and values
 * out of range are refused. The text is untrusted: any bytes are safe.
 * @return 0, or AVERROR_INVALIDDATA with @p err naming the field or byte; @p spec is left
 *         unchanged on failure. Thread-safe.
 */
VP_API int vp_qc_spec_parse(const char *text, size_t len, VpQcSpec *spec, char *err,
                            size_t err_size);

/** Like vp_qc_spec_parse() on a file's contents (AVERROR(ENOENT) etc. when unreadable). */
VP_API int vp_qc_spec_load(const char *path, VpQcSpec *spec, char *err, size_t err_size);

/** Print the spec's fields, one per line ("name  default  help"), for --help and man. */
VP_API void vp_qc_spec_describe(char *buf, size_t size);

typedef enum VpQcVerdict {
    VP_QC_PASS = 0,
    VP_QC_FAIL,
    VP_QC_NOT_APPLICABLE,       /**< e.g. loudness of a file without audio */
} VpQcVerdict;

/** A stretch of time, in seconds from the start. */
typedef struct VpQcStretch {
    double start, end;
} VpQcStretch;

typedef struct VpQcCheck {
    const char *name;           /**< "integrity", "resolution", "duration", "audio",
                                     "sample_peak", "true_peak", "loudness", "loudness_range",
                                     "black", "silence", "freeze", "av_length" */
    VpQcVerdict verdict;
    double value;               /**< the measurement (unit per check); NaN if none */
    char message[256];          /**< one line a person reads */
} VpQcCheck;

#define VP_QC_MAX_CHECKS 16

/** The outcome of vp_qc_run(). Free with vp_qc_report_free(). */
typedef struct VpQcReport {
    char *path;
    VpSourceInfo source;        /**< source.path == path */
    double video_duration;      /**< seconds of decoded pictures; NaN without video */
    double audio_duration;      /**< seconds of decoded audio; NaN without audio */
    double sample_peak;         /**< dBFS; -inf for digital silence, NaN without audio */
    double true_peak;           /**< dBTP */
    double loudness;            /**< integrated, LUFS */
    double lra;                 /**< loudness range, LU */
    VpQcStretch *black, *silence, *freeze, *corrupt;
    int nb_black, nb_silence, nb_freeze, nb_corrupt;
    VpDecodeError *errors;      /**< every decode error kept (at most 1000) */
    int nb_errors, nb_errors_total;
    float *momentary;           /**< momentary loudness (LUFS) every 0.1 s, for plots */
    int nb_momentary;
    VpQcCheck checks[VP_QC_MAX_CHECKS];
    int nb_checks, nb_failed;
    uint8_t *sheet;             /**< contact sheet JPEG (VpQcOpts.sheet), or NULL */
    size_t sheet_size;
} VpQcReport;

/** How vp_qc_run() works, apart from what it checks. */
typedef struct VpQcOpts {
    const VpPipelineOpts *pipeline; /**< decoding, logger and cancel (NULL: the defaults of
                                         vp_pipeline_default_opts()); read during the call */
    int sheet;                  /**< 1: the report carries a contact sheet (JPEG) of the
                                     file, from the same pass (default 0) */
} VpQcOpts;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_qc_default_opts(VpQcOpts *opts);

/**
 * Run every check on @p path in one decode pass.
 * @param spec NULL for the defaults (validated: VP_ERR_BAD_OPTION names the field)
 * @param opts NULL for the defaults (validated through the "qc" table: VP_ERR_BAD_OPTION
 *             with a log line naming the field)
 * @param out on success a new report owned by the caller; NULL on failure
 * @return 0 when the file could be read (whatever the verdicts: see nb_failed), or a
 *         negative error when it could not (AVERROR(ENOENT), VP_ERR_NOT_MEDIA, ...).
 *         A file with corrupt stretches is read: they are reported, decoding carries on.
 * Thread-safe: any number of runs may go on concurrently.
 */
VP_API int vp_qc_run(const char *path, const VpQcSpec *spec, const VpQcOpts *opts,
                     VpQcReport **out);

/** Free a report and set *r to NULL. Accepts NULL. */
VP_API void vp_qc_report_free(VpQcReport **r);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_QC_H */
