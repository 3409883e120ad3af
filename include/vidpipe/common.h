/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file common.h
 * Conventions shared by every libvidpipe header: export macro, error codes, logging.
 *
 * Return values: every function returning int returns 0 (or a positive count) on success
 * and a negative error code on failure. Errors are either FFmpeg's AVERROR codes
 * (AVERROR(ENOENT), AVERROR_INVALIDDATA, ...), which pass through unchanged, or vidpipe's
 * own codes below. vp_strerror() describes both.
 */
#ifndef VIDPIPE_COMMON_H
#define VIDPIPE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  define VP_API __declspec(dllexport)
#elif defined(__GNUC__)
#  define VP_API __attribute__((visibility("default")))
#else
#  define VP_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * vidpipe's own error codes: X(name, value, message). Values are negative and lie outside
 * both -errno and FFmpeg's tag-based AVERROR range.
 */
#define VP_ERROR_TABLE(X)                                                              \
    X(VP_ERR_EMPTY_FILE,    -0x56500001, "file is empty")                                \
    X(VP_ERR_IS_DIRECTORY,  -0x56500002, "is a directory, not a media file")             \
    X(VP_ERR_NOT_MEDIA,     -0x56500003, "not a media file (no known container format)") \
    X(VP_ERR_TRUNCATED,     -0x56500004, "file is truncated (media data cut short)")     \
    X(VP_ERR_NO_VIDEO,      -0x56500005, "has no video stream")                          \
    X(VP_ERR_NO_AUDIO,      -0x56500006, "has no audio stream")                          \
    X(VP_ERR_TIMEOUT,       -0x56500007, "took too long to read (time bound reached)")   \
    X(VP_ERR_TOO_LARGE,     -0x56500008, "is too large to index (size bound reached)")   \
    X(VP_ERR_BAD_OPTION,    -0x56500009, "invalid option")                               \
    X(VP_ERR_NOT_JOINABLE,  -0x5650000a, "cannot be joined by stream copy")              \
    X(VP_ERR_NO_STREAMS,    -0x5650000b, "has no audio or video streams")                \
    X(VP_ERR_UNSUPPORTED,   -0x5650000c, "uses a feature vidpipe does not support")      \
    X(VP_ERR_CANCELLED,     -0x5650000d, "operation was cancelled")                      \
    X(VP_ERR_CORRUPT,       -0x5650000e, "media data is corrupt")                       \
    X(VP_ERR_NO_MOOV,       -0x5650000f, "MP4 has no moov box (unfinished or truncated)") \
    X(VP_ERR_NOT_REGULAR,   -0x56500010, "is not a regular file (pipe, device or socket)") \
    X(VP_ERR_OUTPUT_IS_INPUT, -0x56500011,                                               \
      "is the same file as an input; refusing to overwrite it")                        \
    X(VP_ERR_CONTAINER_CODEC, -0x56500012,                                               \
      "the output's container cannot hold this codec (choose another extension)")       \
    X(VP_ERR_BAD_CONFIG,    -0x56500013, "invalid configuration")                       \
    X(VP_ERR_BEHIND,        -0x56500014, "fell behind the live stream (reader too slow)") \
    X(VP_ERR_QC_FAILED,     -0x56500015, "failed a quality check")

/** vidpipe's own error codes (FFmpeg AVERROR codes are used alongside these). */
enum VpError {
#define VP_X_ENUM(name, value, msg) name = value,
    VP_ERROR_TABLE(VP_X_ENUM)
#undef VP_X_ENUM
};

/**
 * Short symbolic name of an error code ("VP_ERR_TRUNCATED", "ENOENT", "AVERROR_INVALIDDATA").
 * Returns a static string; never NULL. Thread-safe.
 */
VP_API const char *vp_err_name(int err);

/**
 * Human-readable message for an error code, for vidpipe's codes and FFmpeg's alike.
 * Returns a static string (or one in a thread-local buffer for unknown codes), valid until
 * the next call on the same thread; never NULL. Thread-safe.
 */
VP_API const char *vp_strerror(int err);

/**
 * Whether writing @p out would destroy one of the @p nb files in @p inputs. Every
 * libvidpipe entry point that writes a file checks its outputs with it before it writes
 * anything; a caller that writes files of its own (a report, a file from frames it read)
 * can do the same.
 *
 * @p out is one of the inputs when both exist and are the same file (the same device and
 * inode), however each is spelt: "a.mp4", "./a.mp4", "/abs/a.mp4", a symbolic link to it or
 * a hard link. A link given as the output is refused although the rename would only
 * replace the link: it names the input, and an input that is a link to the output would
 * lose its contents. An @p out that does not exist cannot be an input that exists, and an
 * input that does not exist is never read (opening it fails on its own), so nothing more
 * is compared then. NULL entries of @p inputs are skipped.
 *
 * @return 0, or VP_ERR_OUTPUT_IS_INPUT (nothing is logged: the caller names @p out, as in
 *         "out.mp4: " + vp_strerror()). Thread-safe; one stat() of @p out, and one per
 *         input when @p out exists.
 */
VP_API int vp_output_check_not_input(const char *out, const char *const *inputs, int nb);

/** Log levels, ordered like FFmpeg's: lower is more severe. */
enum VpLogLevel {
    VP_LOG_ERROR = 16,
    VP_LOG_WARNING = 24,
    VP_LOG_INFO = 32,
    VP_LOG_VERBOSE = 40,
    VP_LOG_DEBUG = 48,
};

/**
 * A log sink. @p msg is one line without the trailing newline; it is only valid during the
 * call. May be called from any libvidpipe thread, concurrently: the sink must be thread-safe.
 */
typedef void (*VpLogFn)(void *opaque, int level, const char *msg);

/**
 * A logger for one call or one context (dav1d's Dav1dLogger model), carried by every
 * options struct as its `logger` field, so a server running several jobs at once gets each
 * job's lines in its own sink.
 *
 * fn = NULL (the defaults' value) means the process-wide default logger set with
 * vp_set_log_callback(). Messages above @c level are dropped before formatting. FFmpeg's own
 * av_log messages about the work of that call (its demuxers, decoders and encoders, named
 * "[h264 @ 0x...] ...") reach the same logger only when @c level is VP_LOG_VERBOSE or more:
 * below that vidpipe reports outcomes itself. @c fn may be called from any thread the call
 * uses, concurrently for calls that share it: it must be thread-safe. @c opaque is the
 * caller's and must outlive the call (for a context, until it is freed).
 */
typedef struct VpLogger {
    VpLogFn fn;
    void *opaque;
    int level;      /**< the most verbose VpLogLevel delivered */
} VpLogger;

/**
 * A cancel callback, carried by every options struct as its `cancel` field. @c fn returns
 * non-zero once the work should stop; it is polled from the threads doing the work, often
 * (between packets, frames, items, and by FFmpeg while it waits in a read or a write: it is
 * installed as the interrupt_callback of every format context the library opens), so it
 * must be cheap, thread-safe and never block. A cancelled call returns VP_ERR_CANCELLED and
 * leaves no output behind. fn = NULL (the defaults' value): never cancelled.
 * Its signature is FFmpeg's AVIOInterruptCB's.
 */
typedef struct VpCancel {
    int (*fn)(void *opaque);
    void *opaque;
} VpCancel;

/**
 * Set the process-wide default logger: the one used by calls whose options carry no logger
 * (VpLogger.fn = NULL), and for FFmpeg messages that belong to no libvidpipe call (the
 * library itself never prints). Messages above @p max_level are dropped before formatting.
 * Passing fn = NULL silences the library and FFmpeg, except for the calls that carry their
 * own logger. FFmpeg's own av_log messages go to the sink only when @p max_level is
 * VP_LOG_VERBOSE or more (below that vidpipe reports outcomes itself). libvidpipe installs
 * its own av_log callback for the whole process (it routes each message to the logger of
 * the call it belongs to).
 * Call before starting work; not safe to call while other threads are inside libvidpipe
 * (per-call loggers are the thread-safe way).
 */
VP_API void vp_set_log_callback(VpLogFn fn, void *opaque, int max_level);

/**
 * Which file a call failed on, and why: the one out-parameter through which every entry
 * point that reads or writes several files (a join, a pipeline and the operations built on
 * it) reports the failure. Zeroed with code 0 and input -1 at the start of the call; filled
 * when it fails. The caller owns it; it is only written during the call.
 */
typedef struct VpFailure {
    int code;                   /**< the error the call returned; 0 when nothing failed */
    int input;                  /**< index of the input at fault (a join's segment), or -1
                                     when the fault is an output's or no single file's */
    char path[1024];            /**< the file at fault, input or output; "" when none */
    char message[1024];         /**< one line naming the file and the reason, for a person
                                     ("clip.mp4: video is 1280x720, the join needs ...") */
} VpFailure;

/** libvidpipe's version as "MAJOR.MINOR.PATCH". Static string; thread-safe. */
VP_API const char *vp_version(void);

#ifdef __cplusplus
}
#endif

#endif /* VIDPIPE_COMMON_H */
