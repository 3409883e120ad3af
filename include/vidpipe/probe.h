/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file probe.h
 * What a media file is: container, streams, and the GOP and priming facts a joiner needs,
 * read from the container and the packets without decoding a picture.
 */
#ifndef VIDPIPE_PROBE_H
#define VIDPIPE_PROBE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A rational number; den == 0 means unknown. */
typedef struct VpRational {
    int num, den;
} VpRational;

typedef enum VpStreamType {
    VP_STREAM_UNKNOWN = 0,
    VP_STREAM_VIDEO,
    VP_STREAM_AUDIO,
    VP_STREAM_SUBTITLE,
    VP_STREAM_DATA,
    VP_STREAM_ATTACHMENT,
} VpStreamType;

/** Where H.264/HEVC parameter sets (SPS/PPS) are carried. */
typedef enum VpParamSets {
    VP_PARAMSETS_UNKNOWN = 0,
    VP_PARAMSETS_HEADER,  /**< only in the container's codec header (avcC/hvcC) */
    VP_PARAMSETS_INBAND,  /**< only in the packets (Annex B, e.g. MPEG-TS) */
    VP_PARAMSETS_BOTH,    /**< in the header and repeated in the packets */
} VpParamSets;

/** Returns "video", "audio", ... for a stream type. Static string. Thread-safe. */
VP_API const char *vp_stream_type_name(VpStreamType t);
/** Returns "header", "inband", "both" or "unknown". Static string. Thread-safe. */
VP_API const char *vp_param_sets_name(VpParamSets p);

/** Sentinel for "not known" in int64 fields. */
#define VP_UNKNOWN INT64_MIN

/** One metadata tag as the container stores it ("title", "creation_time", "encoder", ...).
 *  Both strings are NUL-terminated and never NULL; the value's bytes are not checked. */
typedef struct VpTag {
    char *key;
    char *value;
} VpTag;

/** One chapter: its span in seconds and its title ("" when it has none, never NULL). */
typedef struct VpChapter {
    double start;
    double end;
    char *title;
} VpChapter;

/** One stream of a probed file. Strings are empty ("") when unknown, never NULL. */
typedef struct VpStreamInfo {
    int index;                 /**< stream index in the container */
    VpStreamType type;
    char codec[32];            /**< FFmpeg codec name: "h264", "aac" */
    char codec_tag[32];        /**< container fourcc: "avc1", "mp4a", "[27][0][0][0]" */
    char profile[48];          /**< "High", "LC" */
    int level;                 /**< codec level (H.264: 31 = 3.1); -99 unknown */
    int64_t bit_rate;          /**< bits/s; 0 unknown */
    VpRational time_base;
    int64_t start_pts;         /**< in time_base units; VP_UNKNOWN if not known */
    double start_time;         /**< seconds; NaN if not known */
    double duration;           /**< seconds; NaN if not known */
    int64_t nb_frames;         /**< as the container says, else counted; -1 unknown */
    int nb_frames_counted;     /**< 1 if nb_frames was counted from packets */
    int64_t nb_packets;        /**< counted from the index or by reading; -1 unknown */
    char language[8];
    int disposition_default;

    /* video */
    int width, height;
    VpRational sar;            /**< sample aspect ratio; 0/1 unknown (FFmpeg convention) */
    VpRational dar;            /**< display aspect ratio */
    char pix_fmt[32];          /**< "yuv420p" */
    char field_order[16];      /**< "progressive", "tt", "bb", "tb", "bt" or "" */
    char color_range[8];       /**< "tv", "pc" (ffprobe color_range) */
    char color_space[16];      /**< matrix: "bt709", "bt2020nc" (ffprobe color_space) */
    char color_primaries[16];  /**< "bt709", "bt2020" (ffprobe color_primaries) */
    char color_transfer[24];   /**< "bt709", "smpte2084", "arib-std-b67" (color_transfer) */
    VpRational r_frame_rate;   /**< nominal frame rate ("r_frame_rate") */
    VpRational avg_frame_rate;
    double rotation;           /**< degrees, counter-clockwise, from the display matrix */
    int has_bframes;           /**< B-frames seen in the packets (1), not seen (0), -1 unknown */
    int video_delay;           /**< reorder depth from the bitstream (ffprobe has_b_frames) */
    int starts_with_idr;       /**< first packet is an IDR/keyframe: 1, 0, -1 unknown */
    int open_gop;              /**< a recovery point without IDR is followed by leading
                                    frames: 1, 0, -1 unknown */
    int keyint_min, keyint_max;/**< frames between keyframes (0 when one GOP only) */
    int64_t nb_keyframes;
    VpParamSets param_sets;
    uint32_t extradata_crc;    /**< CRC-32 of the codec header, 0 if none: equal headers */

    /* audio */
    int sample_rate;
    int channels;
    char channel_layout[64];   /**< "stereo", "5.1(side)" */
    char sample_fmt[16];
    int frame_size;            /**< samples per packet (AAC: 1024) */
    int64_t priming_samples;   /**< encoder delay the container records; -1 unknown */
    int64_t padding_samples;   /**< end padding the container records; -1 unknown */

    VpTag *tags;               /**< the stream's tags in container order (language too) */
    int nb_tags;
} VpStreamInfo;

/** A probed file. Owned by the caller with everything it points to (streams, tags,
 *  chapters); free with vp_media_info_free(). */
typedef struct VpMediaInfo {
    char *path;                /**< the path as given */
    char format[64];           /**< FFmpeg demuxer name: "mov,mp4,m4a,3gp,3g2,mj2" */
    char format_long[128];
    char major_brand[8];
    int64_t size;              /**< bytes */
    double duration;           /**< seconds; NaN if not known */
    double start_time;         /**< seconds; NaN if not known */
    int64_t bit_rate;          /**< bits/s; 0 unknown */
    int nb_streams;
    VpStreamInfo *streams;
    int video_index;           /**< first video stream, -1 none */
    int audio_index;           /**< first audio stream, -1 none */
    VpTag *tags;               /**< the container's tags in container order */
    int nb_tags;
    VpChapter *chapters;       /**< in container order */
    int nb_chapters;
} VpMediaInfo;

/** How much a probe may read, and what it counts. */
typedef struct VpProbeOpts {
    int count_packets;         /**< 1: count packets/frames when the container has no index
                                    (reads the whole file); 0: only use what the index says */
    int64_t max_bytes;         /**< read at most this many bytes (size bound); 0 = no bound */
    int timeout_ms;            /**< give up after this long (time bound); 0 = no bound */
    int gop_scan_packets;      /**< video packets whose data is inspected for GOP facts */
    VpLogger logger;           /**< where the probe logs (fn = NULL: the process default) */
    VpCancel cancel;           /**< stops the probe, even inside a read, with
                                    VP_ERR_CANCELLED */
} VpProbeOpts;

/** Fill @p opts with the defaults. Thread-safe. */
VP_API void vp_probe_default_opts(VpProbeOpts *opts);

/**
 * Probe one file.
 *
 * @param path  file to read; the string is copied
 * @param opts  options, or NULL for the defaults; validated (VP_ERR_BAD_OPTION)
 * @param out   on success *out is a new VpMediaInfo owned by the caller; on failure it is
 *              set to NULL and nothing is left allocated
 * @return 0, or a negative error: AVERROR(ENOENT), AVERROR(EACCES), VP_ERR_IS_DIRECTORY,
 *         VP_ERR_EMPTY_FILE, VP_ERR_NOT_MEDIA, VP_ERR_TRUNCATED, VP_ERR_TIMEOUT, ...
 *         A file without video is *not* an error here; callers that need video check
 *         video_index.
 *
 * Thread-safe: any number of probes may run concurrently on different threads.
 */
VP_API int vp_probe_file(const char *path, const VpProbeOpts *opts, VpMediaInfo **out);

/**
 * Probe a file from memory (used by the fuzzer and for tests). The buffer is only read
 * during the call; it stays owned by the caller. Same results and threading as
 * vp_probe_file(); info->path is set to @p name.
 */
VP_API int vp_probe_buffer(const uint8_t *data, size_t size, const char *name,
                           const VpProbeOpts *opts, VpMediaInfo **out);

/** Free a VpMediaInfo and set *info to NULL. Accepts NULL and *info == NULL. */
VP_API void vp_media_info_free(VpMediaInfo **info);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_PROBE_H */
