/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file writer.h
 * Frames from memory to an H.264/HEVC file at the encoder's speed.
 *
 * vp_writer_write() copies a frame into a pooled buffer and returns; colour conversion,
 * encoding and muxing run on the writer's own threads, in parallel. The output is written
 * under a temporary name next to the destination and renamed into place by a successful
 * vp_writer_close(), with the index (moov) at the front of MP4/MOV files.
 *
 * Threads: a writer is driven by one thread at a time (write, write_audio, close); different
 * writers are independent. The writer's internal threads call the log callback only.
 */
#ifndef VIDPIPE_WRITER_H
#define VIDPIPE_WRITER_H

#include "common.h"
#include "probe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VpWriter VpWriter;

/** Layout of the frames given to vp_writer_write(). */
typedef enum VpPixelFormat {
    VP_PIX_BGR24 = 0,  /**< packed B,G,R bytes (OpenCV's default) */
    VP_PIX_RGB24,      /**< packed R,G,B bytes */
    VP_PIX_BGRA,       /**< packed B,G,R,A; alpha is ignored */
    VP_PIX_RGBA,       /**< packed R,G,B,A; alpha is ignored */
    VP_PIX_GRAY,       /**< one 8-bit luma plane, full range (0 black, 255 white) */
    VP_PIX_YUV420P,    /**< planar Y, U, V (4:2:0, limited range), planes back to back */
    VP_PIX_NV12,       /**< planar Y then interleaved UV (4:2:0, limited range) */
    VP_PIX_NB
} VpPixelFormat;

typedef enum VpVideoCodec {
    VP_CODEC_H264 = 0,
    VP_CODEC_HEVC,
    VP_CODEC_NB
} VpVideoCodec;

/** Which encoder family to use. */
typedef enum VpHwEncoder {
    VP_HW_AUTO = 0,        /**< try NVENC, VAAPI, QSV, VideoToolbox, then software */
    VP_HW_NONE,            /**< software only (libx264 / libx265) */
    VP_HW_NVENC,
    VP_HW_VAAPI,
    VP_HW_QSV,
    VP_HW_VIDEOTOOLBOX,
    VP_HW_NB
} VpHwEncoder;

/** Sample layout of vp_writer_write_audio() input: interleaved. */
typedef enum VpSampleFormat {
    VP_SAMPLE_S16 = 0,     /**< signed 16-bit */
    VP_SAMPLE_FLT,         /**< 32-bit float, nominal range [-1, 1] */
    VP_SAMPLE_NB
} VpSampleFormat;

/** Writer settings; fill with vp_writer_default_opts(), then override. */
typedef struct VpWriterOpts {
    int width, height;         /**< frame size in pixels (required; even for 4:2:0 inputs) */
    VpRational fps;            /**< frame rate, e.g. {30000, 1001} (default 30/1) */
    VpPixelFormat pix_fmt;     /**< input layout (default VP_PIX_BGR24) */
    VpVideoCodec codec;        /**< default VP_CODEC_H264 */
    int crf;                   /**< constant quality, 0..51, lower is better (default 23);
                                    ignored when bitrate is set */
    int64_t bitrate;           /**< target bits/s; 0 = constant quality (default) */
    const char *preset;        /**< x264-style speed preset: "ultrafast" .. "veryslow"
                                    (default "medium"); mapped for hardware encoders */
    int keyint;                /**< frames between keyframes; 0 = encoder default */
    VpHwEncoder hw;            /**< default VP_HW_AUTO */
    int queue_depth;           /**< frames buffered between write() and the encoder,
                                    2..256 (default 8); memory is about depth x 2 frames */
    int threads;               /**< encoder threads; 0 = the encoder's choice (default) */
    const char *encoder_params;/**< extra "key=value:key=value" passed to libx264/libx265
                                    as x264-params/x265-params; NULL = none */
    int audio_sample_rate;     /**< > 0 adds an AAC audio track (e.g. 48000); 0 = none */
    int audio_channels;        /**< 1..8 when audio is enabled (default 2) */
    VpSampleFormat audio_format; /**< default VP_SAMPLE_S16 */
    int64_t audio_bitrate;     /**< AAC bits/s (default 128000) */
    int worker_nice;           /**< how much lower than the opening thread the writer's
                                    threads (converter, encoder, the encoder's own threads)
                                    run, as a nice increment 0..19 (default 5); when above 0
                                    they also run SCHED_BATCH on Linux, so a worker that
                                    wakes never preempts a running caller. The caller's
                                    write() then wins the CPU, which keeps its latency low
                                    while encoding uses every core; 0 = equal. */
    VpLogger logger;           /**< where the writer logs (fn = NULL: the process default);
                                    kept until the writer is closed or aborted */
    /** Optional (fn = NULL: never): once it says stop, the writer fails with
     *  VP_ERR_CANCELLED within about one frame's encode: it is polled before each frame is
     *  converted and encoded, between the packets of the final flush, and by the muxer's
     *  I/O (it is the interrupt_callback of the writer's format context). write() and close()
     *  then return VP_ERR_CANCELLED and close() leaves no file, so a caller can cut short
     *  a long flush of a deep queue with a slow preset (a second Ctrl-C). Called from the
     *  writer's threads and the closing thread, concurrently: it must be thread-safe (read
     *  an atomic flag). Kept until the writer is closed or aborted. */
    VpCancel cancel;
} VpWriterOpts;

/** What a writer did; filled by vp_writer_close(). */
typedef struct VpWriterStats {
    int64_t frames;            /**< video frames encoded into the file */
    int64_t audio_samples;     /**< audio samples per channel written */
    char encoder[32];          /**< the encoder used: "libx264", "h264_nvenc", ... */
    double seconds;            /**< wall time from open to the end of close */
    double fps;                /**< frames / seconds */
    int64_t bytes;             /**< size of the finished file */
    int64_t blocked_writes;    /**< writes that had to wait for room in the queue */
} VpWriterStats;

/** Flags for vp_writer_write(). */
enum {
    /** Return AVERROR(EAGAIN) instead of waiting when the queue is full. */
    VP_WRITE_NONBLOCK = 1,
};

/** Fill @p opts with the defaults (width and height 0: the caller must set them).
 *  Thread-safe. */
VP_API void vp_writer_default_opts(VpWriterOpts *opts);

/** "bgr24", "rgb24", "bgra", "rgba", "gray", "yuv420p", "nv12"; NULL if out of range. */
VP_API const char *vp_pixel_format_name(VpPixelFormat fmt);
/** Parse a name as returned by vp_pixel_format_name(); returns the format or -1. */
VP_API int vp_pixel_format_from_name(const char *name);
/** "auto", "none", "nvenc", "vaapi", "qsv", "videotoolbox"; NULL if out of range. */
VP_API const char *vp_hw_encoder_name(VpHwEncoder hw);
/** Parse a name as returned by vp_hw_encoder_name(); returns the value or -1. */
VP_API int vp_hw_encoder_from_name(const char *name);

/**
 * Open a writer: validates @p opts, opens the encoder (trying hardware encoders first with
 * VP_HW_AUTO, logging at VP_LOG_INFO which encoder was chosen and why the others were not),
 * creates the temporary output file and starts the writer's threads.
 *
 * @param path  destination; the container follows the extension (.mp4, .mov, .mkv; other
 *              or no extension: MP4). Copied.
 * @param opts  settings (copied; strings too). Must not be NULL: width/height are required.
 * @param out   on success, a new writer owned by the caller, to be finished with
 *              vp_writer_close(); on failure set to NULL, nothing is left on disk
 * @param why   on failure, receives one line naming the file and the reason
 *              ("out.mp4: queue_depth: value 1 is out of range 2..256"); may be NULL
 * @return 0, or VP_ERR_BAD_OPTION, VP_ERR_CANCELLED (opts->cancel said stop),
 *         AVERROR_ENCODER_NOT_FOUND (the requested hardware encoder cannot be opened),
 *         AVERROR(EACCES)/AVERROR(ENOENT) (path not writable), AVERROR(ENOMEM), ...
 *
 * Thread-safe: any thread, concurrently with other writers.
 */
VP_API int vp_writer_open(const char *path, const VpWriterOpts *opts, VpWriter **out,
                          char *why, size_t why_size);

/**
 * Queue one frame. The frame is copied into a pooled buffer before the call returns, so the
 * caller may reuse @p data at once; conversion and encoding happen on the writer's threads.
 *
 * @param data    the frame in opts.pix_fmt. Packed formats: height rows of @p stride bytes.
 *                yuv420p: the Y plane (height rows of @p stride), then U and V (height/2
 *                rows of stride/2 each), back to back; nv12: Y then UV (height/2 rows of
 *                @p stride). Read only during the call; owned by the caller.
 * @param stride  bytes between rows (>= the row's size); 0 means tightly packed
 * @param flags   0, or VP_WRITE_NONBLOCK
 * @return 0 when queued. AVERROR(EAGAIN) when VP_WRITE_NONBLOCK is set and the queue is
 *         full (nothing queued; try again). A negative error if the writer has failed: the
 *         encoder's or the muxer's error, the same on every later call, with its message in
 *         vp_writer_error(); the frame is not queued.
 *
 * Call from one thread at a time (the thread that drives this writer).
 */
VP_API int vp_writer_write(VpWriter *w, const uint8_t *data, int stride, int flags);

/**
 * Like vp_writer_write() with explicit planes: @p planes[i] and @p strides[i] for each plane
 * of opts.pix_fmt (1 for packed and gray, 3 for yuv420p, 2 for nv12). Same ownership,
 * return values and threading.
 */
VP_API int vp_writer_write_planes(VpWriter *w, const uint8_t *const planes[],
                                  const int strides[], int flags);

/**
 * Queue interleaved PCM audio (opts.audio_format, opts.audio_channels) for the AAC track.
 * Requires opts.audio_sample_rate > 0. Samples are copied; @p pcm stays owned by the caller.
 * Audio is encoded on the caller's thread (AAC is cheap next to video) and muxed with the
 * video on the writer's thread. Returns 0, VP_ERR_BAD_OPTION when the writer has no audio
 * track, or the writer's error as vp_writer_write() does. Same threading as
 * vp_writer_write().
 */
VP_API int vp_writer_write_audio(VpWriter *w, const void *pcm, int nb_samples);

/**
 * The message for the writer's error, one line naming the file and the reason
 * ("out.mp4: writing failed: File too large"), or "" when there has been none. Valid until
 * the writer is closed. Call from the thread that drives the writer.
 */
VP_API const char *vp_writer_error(const VpWriter *w);

/**
 * The encoder the writer opened ("libx264", "h264_nvenc", ...): a string owned by the
 * writer, valid until it is closed. Any thread.
 */
VP_API const char *vp_writer_encoder(const VpWriter *w);

/**
 * Finish: flush every queued frame through the encoder, write the index, move it to the
 * front, fsync, and rename the file into place. On failure (including an earlier failure
 * that write() already reported, and opts.cancel saying stop before the file is in place:
 * VP_ERR_CANCELLED) the temporary file is removed and nothing is left.
 * Always frees the writer and sets *w to NULL; accepts NULL and *w == NULL (returns 0).
 *
 * @param stats  filled with what was written (also on failure, as far as it got); may be NULL
 * @param why    on failure, one line naming the file and the reason; may be NULL
 * @return 0, or the first error the writer met.
 *
 * Call from the thread that drives the writer. Blocks until the encoder is done.
 */
VP_API int vp_writer_close(VpWriter **w, VpWriterStats *stats, char *why, size_t why_size);

/**
 * Abandon the output: stop the threads, discard queued frames and remove the temporary
 * file. Frees the writer and sets *w to NULL; accepts NULL. Same threading as close.
 */
VP_API void vp_writer_abort(VpWriter **w);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_WRITER_H */
