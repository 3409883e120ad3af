/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file channels.h
 * TV-style channels: schedules of episodes with ad breaks, played out by stream copy through
 * one long-lived MPEG-TS muxer per channel, shared by every viewer (docs/channels.md).
 *
 * A VpChannels holds every channel of one config file. Opening it reads and validates the
 * config and starts ingest (probe, conform, loudness) in background threads; each channel
 * goes on air once the items it needs are ready. A channel's producer (a thread) starts
 * with its first viewer (or at once for channels that run always), restamps the items'
 * packets onto one channel clock, paces them against a monotonic clock and pushes MPEG-TS
 * into a ring of refcounted chunks. Viewers of the continuous stream read chunks from the
 * ring; HLS clients read the same bytes cut into segments at keyframes.
 *
 * Times: wall times are microseconds since the Unix epoch (UTC); positions and durations
 * in seconds as doubles where they are only reported.
 *
 * Threads: every function may be called from any thread unless said otherwise; the
 * object serialises internally. Nothing blocks for long: calls that would wait for a
 * producer return AVERROR(EAGAIN) instead.
 */
#ifndef VIDPIPE_CHANNELS_H
#define VIDPIPE_CHANNELS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpChannels VpChannels;
typedef struct VpViewer VpViewer;
typedef struct VpChunk VpChunk;

/** Settings of vp_channels_open(). Fill with vp_channels_default_opts(), then override. */
typedef struct VpChannelsOpts {
    const char *cache_dir;   /**< conformed and normalised items; NULL: "<config>.cache"
                                  next to the config file */
    int ingest_threads;      /**< items ingested at once (default 2) */
    int64_t now_offset_us;   /**< added to the wall clock (tests and benchmarks that
                                  want a schedule position now); default 0 */
    VpLogger logger;         /**< one line per event: item ingested, left out, viewer
                                  dropped, producer started/stopped */
} VpChannelsOpts;

VP_API void vp_channels_default_opts(VpChannelsOpts *opts);

/**
 * Read and validate @p config_path, then start ingest in the background.
 * A bad config fails here with one line in @p fail->message naming the file, the key and
 * what is wrong ("ch.json: channels[0].items[1].breaks: must be a list of seconds or
 * \"auto\""); nothing is started then. Missing or broken media files are not config
 * errors: they are left out with a log line when ingest reaches them.
 * On success *out owns everything; free it with vp_channels_close().
 */
VP_API int vp_channels_open(const char *config_path, const VpChannelsOpts *opts,
                            VpChannels **out, VpFailure *fail);

/**
 * Re-read the config file (SIGHUP). On a bad config the running config is kept and the
 * error is returned with @p fail filled. Channels whose items or ads changed switch at
 * their next boundary that has not started; viewers stay connected. Channels removed from
 * the config end their viewers' streams; new ones appear.
 */
VP_API int vp_channels_reload(VpChannels *c, VpFailure *fail);

/**
 * Replace channel @p number's ad list (PUT /api/channels/N/ads). Each file is absolute or
 * relative to the config file's folder. Every file is validated (and conformed and
 * loudness-matched into the cache) before the list is switched, synchronously: on a bad
 * file nothing changes and @p fail names it (fail->path, fail->message). The new list is
 * used from the next break that has not started. May take seconds (conforming).
 * @return 0, AVERROR(ENOENT) for an unknown channel, or the error.
 */
VP_API int vp_channels_set_ads(VpChannels *c, int number, const char *const *files, int nb,
                               VpFailure *fail);

/** Stop every producer, end every viewer, join all threads, free. *c is set to NULL. */
VP_API void vp_channels_close(VpChannels **c);

/** Channels in config order. */
VP_API int vp_channels_count(const VpChannels *c);

typedef struct VpChannelInfo {
    int number;
    char name[256];
    int ready;               /**< 1 once on air (ingest of what it needs is done) */
    int running;             /**< 1 while its producer runs */
    int viewers;             /**< continuous-stream viewers now */
    int64_t bytes_out;       /**< TS bytes produced since the producer started */
    double bitrate;          /**< average of the items, bits/s (for HDHomeRun and logs) */
} VpChannelInfo;

/** Channel at @p index (0 .. count-1). @return 0 or AVERROR(EINVAL). */
VP_API int vp_channels_info(const VpChannels *c, int index, VpChannelInfo *info);
/** Index of channel @p number, or AVERROR(ENOENT). */
VP_API int vp_channels_find(const VpChannels *c, int number);

/** What the schedule API reports for one programme (an episode part or one ad). */
typedef struct VpProgramme {
    int kind;                /**< VP_PROG_EPISODE or VP_PROG_AD */
    char title[256];
    char file[1024];         /**< the configured file (not the cache copy) */
    int64_t start_us, stop_us;   /**< wall times */
    double from, to;         /**< position in the file where this part starts and is cut
                                  (seconds; the real cut at a keyframe) */
    double break_at;         /**< the configured break point this part ends at, or -1 */
} VpProgramme;

enum { VP_PROG_EPISODE = 0, VP_PROG_AD = 1 };

/**
 * The programme on channel @p number at wall time @p t_us, and the episode part that ends
 * at the next break (its stop_us is when the break starts, its @c to the real cut time in
 * the file, its @c break_at the configured break point): the API's "next_break".
 * @p next_part_before_break may be NULL; its kind is -1 when no break is ahead.
 * @return 0, AVERROR(ENOENT) (no such channel) or AVERROR(EAGAIN) (not on air yet).
 */
VP_API int vp_channel_now(VpChannels *c, int number, int64_t t_us, VpProgramme *now,
                          VpProgramme *next_part_before_break);

/**
 * Programmes overlapping [@p from_us, @p to_us), in order, in a malloc'ed array the caller
 * frees with free(). Bounded to 100000 entries.
 */
VP_API int vp_channel_schedule(VpChannels *c, int number, int64_t from_us, int64_t to_us,
                               VpProgramme **items, int *nb);

/** Wall clock used by the channels (the system clock plus opts.now_offset_us). */
VP_API int64_t vp_channels_now_us(const VpChannels *c);

/** A break point found by vp_channels_analyze(). */
typedef struct VpBreakPoint {
    double at;               /**< seconds into the file where the break goes */
    double cut_at;           /**< the keyframe at or before it where playout cuts */
    double length;           /**< length of the black + silent stretch (0 for a chapter) */
    char reason[64];         /**< "black+silence" or "chapter: <title>" */
} VpBreakPoint;

/**
 * Find break points in @p path the way "breaks": "auto" does: black and silent stretches
 * (the QC analysers' black and silence detectors) and chapter markers. *points is a
 * malloc'ed array the caller frees. @p fail names the file on error.
 */
VP_API int vp_channels_analyze(const char *path, const VpLogger *logger, VpBreakPoint **points,
                               int *nb, VpFailure *fail);

/* ---- the continuous stream ------------------------------------------------------------ */

/** Called from a producer thread when new chunks are in the ring. Must not block; it
 *  typically wakes an event loop. */
typedef void (*VpViewerNotify)(void *opaque);

/**
 * Become a viewer of channel @p number: starts its producer if it is not running. The
 * viewer's first chunk is the burst: from the latest keyframe at least 2 s behind live
 * (PAT, PMT, then the IDR), so a player shows a picture at once.
 * @p notify (may be NULL) is called after chunks arrive.
 * @return 0, AVERROR(ENOENT), AVERROR(EAGAIN) (not on air yet).
 */
VP_API int vp_viewer_open(VpChannels *c, int number, VpViewerNotify notify, void *opaque,
                          VpViewer **out);

/**
 * The viewer's next chunk, in order. @return 1 and *chunk (a reference the caller must
 * release with vp_chunk_unref), 0 when there is nothing new yet, AVERROR_EOF when the channel ended (closed, removed), or VP_ERR_BEHIND when the viewer
 * fell out of the ring (too slow): the caller drops it.
 */
VP_API int vp_viewer_next(VpViewer *v, VpChunk **chunk);

/** Close a viewer (the producer stops a configured time after its last viewer). Once it
 *  returns, the viewer's notify is not running and is not called again (the caller may free
 *  what its opaque points to). */
VP_API void vp_viewer_close(VpViewer **v);

VP_API const uint8_t *vp_chunk_data(const VpChunk *ch, size_t *size);
VP_API VpChunk *vp_chunk_ref(VpChunk *ch);
VP_API void vp_chunk_unref(VpChunk **ch);

/* ---- HLS --------------------------------------------------------------------------------- */

/**
 * The live media playlist of channel @p number (RFC 8216), with segment URIs
 * "@p uri_prefix<seq>.ts". Starts the producer if needed and counts as viewer activity.
 * *text is malloc'ed (caller frees).
 * @return 0, AVERROR(ENOENT), AVERROR(EAGAIN) (fewer than 3 segments made yet).
 */
VP_API int vp_channel_hls_playlist(VpChannels *c, int number, const char *uri_prefix,
                                   char **text);

/** Segment @p seq of channel @p number as one chunk (a reference; unref it).
 *  @return 0, AVERROR(ENOENT) (no channel, or the segment left the window). */
VP_API int vp_channel_hls_segment(VpChannels *c, int number, int64_t seq, VpChunk **seg);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_CHANNELS_H */
