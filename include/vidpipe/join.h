/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file join.h
 * Seamless stream-copy joins of H.264/HEVC + AAC segments into one MP4.
 *
 * A VpJoiner keeps the index of every segment it has read, so the shared segments of a
 * batch (intro, outro) are read and indexed once per joiner, not once per output. Use one
 * joiner per thread.
 */
#ifndef VIDPIPE_JOIN_H
#define VIDPIPE_JOIN_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpJoiner VpJoiner;

/** Join settings; fill with vp_join_default_opts(), then override. */
typedef struct VpJoinOpts {
    int conform;            /**< re-encode segments that cannot be stream-copied to match
                                 the first segment (otherwise they are refused) */
    int faststart;          /**< moov before mdat (default 1) */
    int max_cached_segments;/**< indexes kept in the joiner's cache (default 16) */
    int durable;            /**< 1 (default): fsync each output before renaming it into
                                 place, so not even a power failure can leave a partial file
                                 under the final name; 0: skip the fsync (faster; a killed
                                 process still never leaves one) */
    VpLogger logger;        /**< where the joiner logs (fn = NULL: the process default);
                                 kept until vp_joiner_free() */
    VpCancel cancel;        /**< stops a run between samples and inside reads and writes
                                 with VP_ERR_CANCELLED, leaving no output */
} VpJoinOpts;

/** What a join did. */
typedef struct VpJoinStats {
    int nb_segments;
    int64_t video_frames;
    int64_t video_frames_dropped; /**< undecodable leading frames left out (open GOP) */
    int64_t audio_frames;
    int nb_conformed;       /**< segments that were re-encoded (--conform) */
    int nb_audio_reencoded; /**< AAC frames re-encoded around joins */
    double duration;        /**< seconds of output */
    int64_t bytes;          /**< size of the output file */
    int64_t bytes_shared;   /**< of those, bytes whose blocks the output shares with its
                                 segments (cloned with FICLONERANGE on XFS with reflink,
                                 btrfs; 0 on filesystems without shared extents) */
    int64_t bytes_written;  /**< bytes - bytes_shared: the bytes the join wrote or copied */
    int64_t bytes_padding;  /**< zeros inside mdat that put each run of a segment at its
                                 source's place in a block (part of bytes) */
} VpJoinStats;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_join_default_opts(VpJoinOpts *opts);

/**
 * Create a joiner. @p opts is copied (NULL: defaults) and validated (VP_ERR_BAD_OPTION with
 * a log line naming the field). On success *out is owned by the caller; on failure NULL.
 */
VP_API int vp_joiner_new(const VpJoinOpts *opts, VpJoiner **out);

/**
 * Join @p nb segments into @p out_path. The output is written to a temporary name in the
 * same folder and renamed into place only when complete; on failure nothing is left.
 * Strings are only read during the call. @p stats may be NULL.
 *
 * @param fail on failure, says which file: the segment at fault (fail->input is its
 *             index: unreadable, refused) or the output (input -1, path @p out_path: it
 *             could not be written, or it is one of the segments), and why, in one line
 *             ("clip.mp4: video is 1280x720, the join needs 720x1260"); may be NULL
 * @return 0, or a negative error (VP_ERR_NOT_JOINABLE, AVERROR(ENOENT), ...);
 *         VP_ERR_OUTPUT_IS_INPUT, before anything is read or written, when @p out_path is
 *         one of the segments (vp_output_check_not_input()).
 *
 * Not thread-safe on the same joiner; different joiners may run concurrently.
 */
VP_API int vp_joiner_run(VpJoiner *j, const char *out_path, const char *const *segments,
                         int nb, VpJoinStats *stats, VpFailure *fail);

/** Free a joiner and its cached indexes; sets *j to NULL. Accepts NULL. */
VP_API void vp_joiner_free(VpJoiner **j);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_JOIN_H */
