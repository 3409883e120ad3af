/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file options.h
 * The option tables behind every settings struct (VpWriterOpts, VpProxyOpts, VpQcSpec):
 * one declarative table per struct gives each option's name, type, default, range and help,
 * and drives the CLI, JSON files, validation and the Python module alike.
 *
 * Frame rates and sizes are read by FFmpeg's parsers: "30", "29.97", "30000/1001", "ntsc";
 * "1280x720", "hd720". Errors have one form: "NAME: value V is out of range MIN..MAX",
 * "NAME: 'V' is not a frame rate (30, 29.97, 30000/1001, ntsc)".
 *
 * Threads: tables are immutable; every function is thread-safe on distinct structs.
 */
#ifndef VIDPIPE_OPTIONS_H
#define VIDPIPE_OPTIONS_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpOptionTable VpOptionTable;

/** The table of one settings struct: "writer" (VpWriterOpts), "proxy" (VpProxyOpts),
 *  "qc_spec" (VpQcSpec), "loudnorm" (VpLoudnormOpts), "cleanup" (VpCleanupOpts),
 *  "join" (VpJoinOpts), "replace_audio" (VpReplaceAudioOpts),
 *  "thumb" (VpThumbOpts), "pipeline" (VpPipelineOpts),
 *  "encode" (VpEncodeOpts), "probe" (VpProbeOpts),
 *  "batch" (VpBatchOpts), "qc" (VpQcOpts), "subs_burn" (VpSubsBurnOpts),
 *  "transcribe" (VpTranscribeOpts), "hls" (VpHlsOpts); NULL for an
 *  unknown name. Static: never freed. */
VP_API const VpOptionTable *vp_option_table(const char *name);

/** What one option is, for --help and man pages. Strings are static or in @p def. */
typedef struct VpOptionInfo {
    const char *name;           /**< "crf" */
    const char *help;           /**< one line */
    const char *type;           /**< "int", "double", "bool", "string", "enum", "rate",
                                     "size", "bitrate", "duration", ... */
    char def[64];               /**< the default as the parser reads it ("23", "30/1") */
    char range[96];             /**< "0..51", "ultrafast|...|veryslow"; "" when unbounded */
} VpOptionInfo;

/** Describe the option at @p index (0, 1, ...). Returns 0, AVERROR(ENOENT) past the end,
 *  or AVERROR(EINVAL) for a NULL table or info. */
VP_API int vp_option_info(const VpOptionTable *t, int index, VpOptionInfo *info);

/**
 * Set option @p name of @p obj (a struct of the table's type) from its text form, checking
 * its range. A `const char *` field (VpWriterOpts.preset, .encoder_params, ...) is set to
 * point into @p value, which must then outlive @p obj; `char[]` fields are copied.
 * @return 0, or VP_ERR_BAD_OPTION with one line in @p err ("crf: value 60 is out of range
 *         0..51"); AVERROR_OPTION_NOT_FOUND for an unknown name. @p obj is unchanged on error.
 */
VP_API int vp_option_set(const VpOptionTable *t, void *obj, const char *name,
                         const char *value, char *err, size_t err_size);

/** Check every option of @p obj against its range, then the table's cross-field rules.
 *  Returns 0, VP_ERR_BAD_OPTION with one line in @p err, or AVERROR(EINVAL) for a NULL
 *  table or struct. */
VP_API int vp_option_check(const VpOptionTable *t, const void *obj, char *err,
                           size_t err_size);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_OPTIONS_H */
