/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Channels (src/live/): the parts behind include/vidpipe/channels.h. Private.
 *
 *   live_config.c    the config file: parse and validate (jansson), one error line per fault
 *   live_schedule.c  the timeline: episode parts, ad breaks, rotation, repeat, rebase
 *   live_ingest.c    one file made ready to play: probe, conform, loudness, keyframes, breaks
 *   live_producer.c  one channel's producer thread: restamp, AAC seams, silence, pacing, TS mux
 *   live_ring.c      the output: refcounted chunks, the ring, viewers (fan-out)
 *   live_hls.c       the HLS window cut from the same chunks, and its playlist
 *   live_channels.c  the public API: owns config, ingest, schedules, producers, reload
 *
 * Time: the channel clock counts 90 kHz ticks from the channel's origin (its configured
 * "start", or when the server started). Schedules, the producer's timestamps and the HLS
 * programme dates all derive from it, so nothing drifts: wall_us = origin_us + ticks * 100 / 9.
 */
#ifndef VIDPIPE_LIVE_H
#define VIDPIPE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "vidpipe/channels.h"
#include "vidpipe/common.h"

#define VPI_TICKS 90000                 /* channel clock rate */

static inline int64_t vpi_ticks_to_us(int64_t t)
{
    return t >= 0 ? (t * 100 + 4) / 9 : -((-t * 100 + 4) / 9);
}
static inline int64_t vpi_us_to_ticks(int64_t us)
{
    return us >= 0 ? (us * 9 + 50) / 100 : -((-us * 9 + 50) / 100);
}

/* ---- config (live_config.c) ------------------------------------------------------------ */

typedef struct VpiLiveItemCfg {
    char *file;              /* as written in the config */
    char *path;              /* resolved: absolute, or relative to the config's folder */
    char *title;             /* "title", or the file name without folder and extension */
    double *breaks;          /* seconds, strictly ascending, > 0 */
    int nb_breaks;
    int breaks_auto;         /* "breaks": "auto" */
} VpiLiveItemCfg;

/* The channel format ("format" key, or taken from the first episode when set == 0). */
typedef struct VpiLiveFormat {
    int set;
    int width, height;
    int fps_num, fps_den;
    int sample_rate, channels;
} VpiLiveFormat;

typedef struct VpiChannelCfg {
    int number;              /* 1..9999, unique */
    char *name;
    int has_start;
    int64_t start_us;        /* "start" (ISO 8601 UTC) when has_start */
    VpiLiveItemCfg *items;
    int nb_items;            /* >= 1 */
    VpiLiveItemCfg *ads;     /* title = file name; no breaks */
    int nb_ads;
    int ads_per_break;       /* default 2; 0 = breaks without ads are not cut */
    double loudness;         /* LUFS target, default -23 */
    int on_demand;           /* default 1 */
    double stop_after;       /* seconds after the last viewer before an on-demand producer
                                stops, default 30 */
    VpiLiveFormat format;
} VpiChannelCfg;

typedef struct VpiLiveConfig {
    char *path;              /* the config file */
    char *dir;               /* its folder: relative media paths start here */
    VpiChannelCfg *channels;
    int nb_channels;
} VpiLiveConfig;

/* Parse @p text (the contents of @p path, used for messages and relative paths). On error
 * returns VP_ERR_BAD_CONFIG and one line in @p why: "PATH: channels[0].items[1].breaks: must
 * be a list of seconds or \"auto\"" (JSON syntax errors: "PATH: line L column C: ..."). Unknown
 * keys are errors (a typo must not pass silently). @p cfg is zeroed first and freed on error. */
int vpi_live_config_parse(const char *path, const char *text, size_t len, VpiLiveConfig *cfg,
                          char *why, size_t why_size);
int vpi_live_config_load(const char *path, VpiLiveConfig *cfg, char *why, size_t why_size);
void vpi_live_config_free(VpiLiveConfig *cfg);
/* @p file resolved against @p dir (absolute paths kept). malloc'ed. */
char *vpi_live_resolve(const char *dir, const char *file);

/* ---- one playable file (live_ingest.c) ---------------------------------------------------- */

/* A file ready for playout, immutable once made; shared by schedules and producers
 * (atomic reference count). */
typedef struct VpiLiveMedia {
    int refs;                /* atomic; vpi_live_media_ref/unref (live_media.c); the
                                last unref frees the struct and every array in it */
    char *source;            /* the configured file (resolved path) */
    char *play_path;         /* the MP4 that playout reads: the source, or a cache file */
    int conformed;           /* play_path was re-encoded (format differed) */
    int normalized;          /* play_path's audio was loudness-normalised */
    int64_t duration;        /* ticks: video presentation span of play_path */
    int64_t *keys;           /* ticks from the first presented frame (= 0): sync samples */
    int nb_keys;
    int64_t max_gop;         /* ticks: longest distance between keys (and to the end) */
    int64_t reorder;         /* ticks: first video pts - first dts (B-frame delay) */
    int has_audio;
    double loudness;         /* integrated LUFS of the source's audio; NAN without audio */
    double bitrate;          /* bits/s of play_path */
    uint8_t *param_sets;     /* the avcC of play_path's video: a change between two
                                pieces is an HLS discontinuity */
    int param_sets_size;
    VpBreakPoint *auto_breaks;   /* found when asked (breaks: "auto") */
    int nb_auto_breaks;
} VpiLiveMedia;

typedef struct VpiLiveIngestOpts {
    const VpiLiveFormat *format;     /* the channel's (set == 1) */
    double loudness;                 /* target LUFS; items more than 1 LU off are normalised */
    const char *cache_dir;           /* created when missing */
    int want_breaks;                 /* fill auto_breaks */
    VpLogger logger;
    VpCancel cancel;
} VpiLiveIngestOpts;

/* Make @p path ready for a channel of @p o->format: probe and validate; when codec, size,
 * frame rate, audio rate or layout differ (vidpipe check's rules), or the container is not
 * MP4/MOV, re-encode (or remux) once into the cache; measure integrated loudness and
 * normalise the audio into the cache (video copied) when it is more than 1 LU from the
 * target; index keyframes and durations of the file playout will read. Cache files are
 * named from the source's path, size and mtime and the settings, written atomically, and
 * reused when present. On failure returns the error and one line naming the file in @p why.
 * Blocking (seconds to minutes); thread-safe. */
int vpi_live_ingest(const char *path, const VpiLiveIngestOpts *o, VpiLiveMedia **out,
                    char *why, size_t why_size);
/* The channel format a file has (for the first episode when no "format" key is given). */
int vpi_live_format_of(const char *path, VpiLiveFormat *fmt, char *why, size_t why_size);
/* Break points of a file (vp_channels_analyze): black + silent stretches, chapters. */
int vpi_live_find_breaks(const char *path, const VpLogger *lg, VpBreakPoint **points, int *nb,
                         char *why, size_t why_size);
/* live_media.c */
VpiLiveMedia *vpi_live_media_ref(VpiLiveMedia *m);
void vpi_live_media_unref(VpiLiveMedia **m);
/* The last key at or before @p t (ticks), or 0. */
int64_t vpi_live_media_key_before(const VpiLiveMedia *m, int64_t t);

/* ---- the timeline (live_schedule.c) ------------------------------------------------------ */

typedef struct VpiSchedEpisode {
    VpiLiveMedia *media;     /* a reference held by the schedule */
    const char *title;       /* copied */
    const char *file;        /* the configured file, copied */
    const double *breaks;    /* configured break points (seconds), copied; the cut of each
                                is media's last key at or before it; cuts at 0, at the end,
                                or equal to the previous cut are dropped */
    int nb_breaks;
} VpiSchedEpisode;

typedef struct VpiSchedAd {
    VpiLiveMedia *media;
    const char *title;
    const char *file;
} VpiSchedAd;

/* Where a schedule starts: its anchor, and the counters it continues from (zero for a
 * channel's first schedule; a rebuilt schedule continues the old one's). */
typedef struct VpiSchedAnchor {
    int64_t tick;            /* channel clock at the anchor */
    int episode;             /* episode index playing first (clamped into range) */
    int part;                /* its part */
    int in_break;            /* 1: the anchor is the start of the break after that part */
    int64_t brk;             /* breaks played before the anchor (ad rotation) */
} VpiSchedAnchor;

/* One stretch of one file played without a cut: a slot of the timeline. */
typedef struct VpiSlot {
    int64_t n;               /* sequence number from the anchor */
    int kind;                /* VP_PROG_EPISODE or VP_PROG_AD */
    int index;               /* episode or ad index in the schedule */
    int part;                /* episode part, or the ad's place in its break */
    VpiLiveMedia *media;     /* borrowed from the schedule (take a ref to keep it) */
    const char *title, *file;
    int64_t from, to;        /* ticks in the media: from is a key, to a cut or the end */
    double break_at;         /* configured break the part ends at, or -1 */
    int64_t start;           /* channel clock where it starts (nominal) */
    /* the state the next slot is computed from */
    int episode, ep_part, in_break, ad_pos;
    int64_t brk;
} VpiSlot;

typedef struct VpiSchedule VpiSchedule;

/* A schedule of @p nb_eps episodes (at least one) and @p nb_ads ads: each episode's parts
 * in order, after every cut @p ads_per_break ads (break b plays ads (b * ads_per_break + j)
 * mod nb_ads), then the next episode, repeating forever from @p anchor. Holds its own
 * references and copies. */
int vpi_schedule_new(const VpiSchedEpisode *eps, int nb_eps, const VpiSchedAd *ads, int nb_ads,
                     int ads_per_break, const VpiSchedAnchor *anchor, VpiSchedule **out);
void vpi_schedule_free(VpiSchedule **s);
/* The slot playing at channel clock @p tick (>= the anchor's): O(slots in one repeat
 * period), whatever the distance from the anchor. */
int vpi_schedule_at(const VpiSchedule *s, int64_t tick, VpiSlot *slot);
/* The slot after @p cur. */
void vpi_schedule_next(const VpiSchedule *s, const VpiSlot *cur, VpiSlot *next);
/* The anchor a rebuilt schedule needs to continue after @p cur ends: at the end of @p cur
 * when it is an episode part, or after the break @p cur is in when it is an ad (a break
 * that has started plays out with the ads it started with). */
void vpi_schedule_anchor_after(const VpiSchedule *s, const VpiSlot *cur, VpiSchedAnchor *a);

/* ---- chunks (live_chunk.c) ----------------------------------------------------------------- */

enum {
    VPI_CHUNK_KEY = 1,       /* starts with PAT, PMT and a video IDR with SPS/PPS in band */
    VPI_CHUNK_DISCONT = 2,   /* KEY, and the video's parameter sets differ from the
                                previous key's (an HLS discontinuity) */
};

/* Bytes of whole TS packets, immutable once pushed, shared by the ring, every viewer and
 * the HLS window (atomic reference count; the last unref frees). */
struct VpChunk {
    int refs;                /* atomic (__atomic builtins) */
    int flags;               /* VPI_CHUNK_* */
    int64_t pts;             /* channel clock of its first access unit (ticks) */
    int64_t seq;             /* position in its ring (or the HLS segment number) */
    size_t size;
    uint8_t data[];
};

/* A chunk of @p size bytes (uninitialised), reference count 1; NULL when out of memory. */
VpChunk *vpi_chunk_new(size_t size);

/* ---- the output: the ring and its viewers (live_ring.c) ------------------------------------ */

typedef struct VpiLiveOutOpts {
    double ring_seconds;     /* how much the ring keeps, >= 10 (default 15) */
    double burst_behind;     /* a new viewer starts at the latest key this far behind live
                                (default 2) */
    /* Called from the producer thread with every chunk pushed, after the ring has it (the
     * HLS window's feed); borrow the chunk (take a reference to keep it). */
    void (*on_chunk)(void *opaque, VpChunk *c);
    void *on_chunk_opaque;
    VpLogger logger;
} VpiLiveOutOpts;

typedef struct VpiLiveOut VpiLiveOut;

/* A new output (reference count 1). */
int vpi_liveout_new(const VpiLiveOutOpts *o, VpiLiveOut **out);
VpiLiveOut *vpi_liveout_ref(VpiLiveOut *o);
void vpi_liveout_unref(VpiLiveOut **o);
/* Producer thread: append @p size bytes of whole TS packets (copied into a new chunk)
 * stamped with the channel clock @p pts (ticks) of their first access unit; wakes viewers. */
int vpi_liveout_push(VpiLiveOut *o, const uint8_t *data, size_t size, int flags, int64_t pts);
/* The producer ended: viewers read what is left, then AVERROR_EOF. */
void vpi_liveout_end(VpiLiveOut *o);
/* A viewer (holds a reference to @p o). Its first chunk is the burst (burst_behind). */
int vpi_liveout_viewer_open(VpiLiveOut *o, VpViewerNotify fn, void *opaque, VpViewer **v);
/* As vp_viewer_next(): 1 with a reference, 0 nothing new, AVERROR_EOF, VP_ERR_BEHIND (the
 * viewer's next chunk left the ring). */
int vpi_liveout_viewer_next(VpViewer *v, VpChunk **c);
void vpi_liveout_viewer_close(VpViewer **v);
int vpi_liveout_viewers(VpiLiveOut *o);
int64_t vpi_liveout_bytes(VpiLiveOut *o);
/* Monotonic µs (vpi_now_us) when the last viewer closed, or 0 while viewers are open. */
int64_t vpi_liveout_idle_since(VpiLiveOut *o);

/* ---- the HLS window (live_hls.c) ----------------------------------------------------------- */

typedef struct VpiHlsOpts {
    int64_t origin_us;       /* wall time of channel tick 0 (EXT-X-PROGRAM-DATE-TIME) */
    double target;           /* EXT-X-TARGETDURATION, fixed for the playlist's life; a
                                segment ends at the last key that keeps it within target */
    int window;              /* segments in the playlist (default 6) */
    int keep;                /* segments kept after leaving the playlist, still served
                                (clients that loaded the previous playlist; default 4) */
    VpLogger logger;         /* a GOP longer than target, lost data (once each) */
} VpiHlsOpts;                /* target, window, keep: 0 means the default (target 6) */

typedef struct VpiHls VpiHls;

int vpi_hls_new(const VpiHlsOpts *o, VpiHls **out);
void vpi_hls_free(VpiHls **h);
/* Feed one chunk of the channel's stream (the ring's on_chunk); segments close at KEY
 * chunks. Producer thread; thread-safe against the readers below. */
void vpi_hls_add(VpiHls *h, VpChunk *c);
/* The media playlist with segment URIs "<uri_prefix><seq>.ts": EXT-X-TARGETDURATION,
 * EXT-X-MEDIA-SEQUENCE, EXT-X-DISCONTINUITY-SEQUENCE (right as the window slides),
 * EXT-X-PROGRAM-DATE-TIME per segment (never backwards), EXT-X-DISCONTINUITY only before a
 * segment that starts with a DISCONT chunk. *text malloc'ed.
 * @return 0, or AVERROR(EAGAIN) while fewer than 3 segments are complete. */
int vpi_hls_playlist(VpiHls *h, const char *uri_prefix, char **text);
/* Segment @p seq as one chunk (a reference); AVERROR(ENOENT) when not (or no longer) held. */
int vpi_hls_segment(VpiHls *h, int64_t seq, VpChunk **seg);

/* ---- one channel's producer (live_producer.c) --------------------------------------------- */

/* A piece handed to the producer: play media [from, to) so that @p from is presented at
 * channel clock @p start. */
typedef struct VpiPlayItem {
    VpiLiveMedia *media;     /* a reference the producer releases */
    int64_t from, to;        /* ticks in the media; from is a key */
    int64_t start;           /* channel clock */
} VpiPlayItem;

typedef struct VpiProducerSource {
    /* The piece playing at channel clock @p tick (the producer's first piece). */
    int (*first)(void *opaque, int64_t tick, VpiPlayItem *item);
    /* The piece after the one that started at @p prev_start. */
    int (*next)(void *opaque, int64_t prev_start, VpiPlayItem *item);
    /* @p media broke during playout (read error, corrupt data): leave it out from now on. */
    void (*failed)(void *opaque, VpiLiveMedia *media, const char *why);
    void *opaque;
} VpiProducerSource;

typedef struct VpiProducerOpts {
    const VpiLiveFormat *format;     /* copied */
    int64_t origin_us;               /* wall time of channel tick 0 */
    int64_t now_offset_us;           /* added to the wall clock */
    double preroll;                  /* start this many seconds behind live (burst; HLS
                                        window), default 8 */
    double lead;                     /* mux this far ahead of the wall clock, default 0.3 */
    int64_t reorder;                 /* ticks of B-frame delay the output's DTS allow for:
                                        the largest of the items' */
    VpiProducerSource source;
    VpiLiveOut *out;                 /* a reference is taken */
    VpLogger logger;
} VpiProducerOpts;

typedef struct VpiProducer VpiProducer;

/* Start the producer thread. It muxes until stopped, one MPEG-TS muxer for its whole life. */
int vpi_producer_start(const VpiProducerOpts *o, VpiProducer **out);
/* Stop it (joins the thread), end the output. */
void vpi_producer_stop(VpiProducer **p);

#endif /* VIDPIPE_LIVE_H */
