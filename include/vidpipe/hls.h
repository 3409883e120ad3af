/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file hls.h
 * Personalized HLS: intro + personal clip + outro as one HLS media playlist per person,
 * by stream copy, whose intro and outro segments are written once and shared by every
 * person (`vidpipe batch --hls OUT`, docs/join.md "Personalized HLS").
 *
 * Layout of @c OUT: @c shared/ holds the intro's and the outro's CMAF (fragmented MP4)
 * segments and init segments, in folders named from what made them (a changed intro gets
 * new names, an unchanged one is reused); @c NAME.m3u8 is one person's media playlist and
 * @c NAME/KEY/ holds that person's own segments (a fresh folder each time the person is
 * packaged, see vp_hls_packager_person()): the clip's, with the re-encoded AAC frames
 * that straddle the two joins, and an init segment when the clip's SPS/PPS differ from the
 * intro's and the outro's.
 */
#ifndef VIDPIPE_HLS_H
#define VIDPIPE_HLS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpHlsPackager VpHlsPackager;

/** Settings; fill with vp_hls_default_opts(), then override. */
typedef struct VpHlsOpts {
    double target;          /**< segment length aimed at, seconds (default 6, 1..60): a
                                 segment is the longest run of whole GOPs within it; a GOP
                                 longer than it is a segment of its own */
    int durable;            /**< 1 (default): fsync every file before renaming it into
                                 place; 0: skip the fsync (a kill still leaves no partial
                                 file under a final name) */
    VpLogger logger;        /**< where the packager logs (fn = NULL: the process default) */
    VpCancel cancel;        /**< stops a call between segments with VP_ERR_CANCELLED */
    double keep_old;        /**< seconds a redone person's previous segment folder stays
                                 after the new playlist replaced the one that listed it,
                                 for viewers still playing that one (default 3600,
                                 0..604800; 0: removed at once). Removed by the first call
                                 for that person, or the first packager opened on the
                                 output, after that time. */
} VpHlsOpts;

/** What one person cost. */
typedef struct VpHlsStats {
    int nb_segments;        /**< segments in the person's playlist */
    int nb_personal;        /**< of which the person's own */
    int nb_audio_reencoded; /**< AAC frames re-encoded at the joins */
    int64_t personal_bytes; /**< bytes of the person's own files (segments, init, playlist) */
    double duration;        /**< seconds the playlist lasts */
    int64_t shared_bytes;   /**< bytes of the shared files the playlist lists (the intro's
                                 and outro's segments and init segments), written once for
                                 everyone */
} VpHlsStats;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_hls_default_opts(VpHlsOpts *opts);

/**
 * Open a packager writing into @p out_dir (created) for @p intro and @p outro (both
 * required: NULL is refused with VP_ERR_BAD_OPTION), and write their shared segments into
 * @p out_dir/shared/ unless a previous run wrote them from the same files (path, size,
 * mtime) and settings. @p opts is
 * copied (NULL: defaults) and validated (VP_ERR_BAD_OPTION, a log line naming the field).
 * Both must be H.264 in MP4/MOV with AAC-LC audio (1024-sample frames), starting on a
 * keyframe that is shown first, with the same picture size and audio format.
 *
 * @param fail on failure, which file and why (input 0 the intro, 1 the outro, -1 an
 *             output), one line; may be NULL
 * @return 0 and *out (owned by the caller), or a negative error and NULL.
 *
 * Call from one thread; the shared segments are complete when it returns, so workers
 * started afterwards only read them. It also removes what earlier runs left in the people's
 * folders: an interrupted run's folder, which no playlist lists, and superseded folders
 * whose VpHlsOpts.keep_old has passed.
 */
VP_API int vp_hls_packager_new(const char *out_dir, const char *intro, const char *outro,
                               const VpHlsOpts *opts, VpHlsPackager **out, VpFailure *fail);

/**
 * Package one person: @p clip's segments into a fresh folder @p out_dir/@p name/KEY/ and
 * the playlist @p out_dir/@p name.m3u8, written last (atomically), so that the playlist
 * existing means the person is complete; then the person's other folders (an earlier run's)
 * are removed. A person redone is switched at once: the old playlist and the folder it
 * lists stay whole until the new playlist replaces it, also when the call fails or the
 * process is killed (its own folder then stays until the next call for @p name, or the next
 * vp_hls_packager_new() on @p out_dir). The replaced playlist's folder stays
 * VpHlsOpts.keep_old seconds for its viewers. @p name
 * must be a plain file name (no '/'). @p stats may be NULL.
 *
 * @param fail on failure, which file and why (input 1 the clip, -1 an output), one line
 * @return 0 or a negative error (VP_ERR_NOT_JOINABLE when the clip cannot follow the intro
 *         or precede the outro by stream copy). The playlist is absent after a failure.
 *
 * Thread-safe: several threads may package different names with one packager at once.
 */
VP_API int vp_hls_packager_person(VpHlsPackager *p, const char *clip, const char *name,
                                  VpHlsStats *stats, VpFailure *fail);

/**
 * What one person's playlist, @p out_dir/@p name.m3u8, is made of: @p own the bytes of the
 * playlist and of the person's own files it lists (segments, init segment), @p shared those
 * of the shared files it lists (under @c shared/), each file counted once. For a batch's
 * report (a person skipped as well as one done).
 *
 * @return 0 and both filled, or a negative error (AVERROR(ENOENT) when the playlist or a
 *         file it lists is missing, AVERROR_INVALIDDATA for a URI that leaves @p out_dir);
 *         @p own and @p shared are 0 then. Thread-safe.
 */
VP_API int vp_hls_playlist_bytes(const char *out_dir, const char *name, int64_t *own,
                                 int64_t *shared);

/** Free a packager; sets *p to NULL. Accepts NULL. */
VP_API void vp_hls_packager_free(VpHlsPackager **p);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_HLS_H */
