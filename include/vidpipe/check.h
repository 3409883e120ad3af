/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file check.h
 * Can these files be joined by stream copy? Compares probed files with a reference and
 * lists every difference, as a note (the join engine handles it) or an error (it cannot).
 */
#ifndef VIDPIPE_CHECK_H
#define VIDPIPE_CHECK_H

#include "common.h"
#include "probe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum VpCheckSeverity {
    VP_CHECK_NOTE = 0,   /**< differs, but a join handles it (e.g. other SPS/PPS) */
    VP_CHECK_ERROR = 1,  /**< a stream-copy join cannot handle it (e.g. other resolution) */
} VpCheckSeverity;

/** One difference between a file and the reference. */
typedef struct VpCheckDiff {
    VpCheckSeverity severity;
    char field[32];       /**< "video.resolution", "audio.sample_rate", "streams.audio" */
    char value[96];       /**< the file's value, as a person reads it */
    char ref_value[96];   /**< the reference's value */
    /** 1 if --conform (re-encoding this file to match the reference) can fix it. */
    int conformable;
    /**
     * 1 if this is not a difference from the reference but something no stream-copy join
     * takes, whatever the reference (video that is not H.264, audio that is not AAC-LC,
     * such as the PCM of a camera's .mov): @ref ref_value then says what the join needs
     * ("H.264", "AAC-LC").
     */
    int requirement;
    /**
     * 1 if this is not a difference from the reference but between two of the file's own
     * streams (audio.longer_than_video): @ref value then holds both of the file's values
     * ("audio 4.200 s, video 4.080 s") and @ref ref_value is empty.
     */
    int within_file;
} VpCheckDiff;

/** The differences of one file against the reference. */
typedef struct VpCheckResult {
    int nb_diffs;
    VpCheckDiff *diffs;   /**< owned by the result */
    int nb_errors;        /**< diffs with VP_CHECK_ERROR */
} VpCheckResult;

/**
 * Compare @p file with @p ref. Both stay owned by the caller and are only read.
 * On success fills @p res (the caller frees it with vp_check_result_clear()) and returns the
 * number of errors (0 = joinable with the reference). On failure returns
 * AVERROR(ENOMEM) and leaves @p res empty.
 * Besides the differences, @p res lists what @p file itself cannot be copied with
 * (vp_check_requirements(), marked VpCheckDiff.requirement); what @p ref cannot be copied
 * with is not listed: ask vp_check_requirements() for the reference.
 * A file compared with itself has no differences besides those. Thread-safe (no shared
 * state).
 */
VP_API int vp_check_compare(const VpMediaInfo *ref, const VpMediaInfo *file, VpCheckResult *res);

/**
 * What no stream-copy join takes in @p file, whatever the reference: video that is not
 * H.264, audio that is not AAC-LC. The same rule vp_check_compare() applies to its file
 * and `vidpipe join` applies to every segment, the first (the reference) included.
 * @p file stays owned by the caller.
 * On success fills @p res (free it with vp_check_result_clear()) with one VP_CHECK_ERROR
 * per unmet requirement, each with requirement = 1 and conformable = 0 (`join --conform`
 * re-encodes the segments after the reference, not the reference), and returns their
 * number (0: a join can copy it). On failure returns AVERROR(EINVAL) (no file) or
 * AVERROR(ENOMEM) and leaves @p res empty. Thread-safe (no shared state).
 */
VP_API int vp_check_requirements(const VpMediaInfo *file, VpCheckResult *res);

/**
 * What a stream-copy join requires of @p path by itself, before any comparison: for an
 * MP4/MOV file, its sample tables are read exactly as vp_joiner_run() reads them, with the
 * same limits (chunk offsets inside the file, sample counts the file can hold, durations
 * and composition offsets its size can carry, edit lists inside the media; docs/join.md,
 * "Hostile input"), so `check` and `join` refuse the same files for the same reason.
 * Files in other containers are not looked at here (0).
 *
 * @param why  on failure, receives the reason as one line without the path ("video track
 *             lasts 8053064 s, more than a file of 21769 bytes can present (3940 s)");
 *             may be NULL
 * @return 0, or a negative error (VP_ERR_CORRUPT, VP_ERR_TRUNCATED, VP_ERR_UNSUPPORTED,
 *         AVERROR(ENOENT), ...). Reads the file's moov only; thread-safe (no shared state).
 */
VP_API int vp_check_file(const char *path, char *why, size_t why_size);

/** Free the differences in @p res and zero it. Accepts an already cleared result. */
VP_API void vp_check_result_clear(VpCheckResult *res);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_CHECK_H */
