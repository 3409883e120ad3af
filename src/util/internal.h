/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared between libvidpipe's source files; never installed. */
#ifndef VIDPIPE_INTERNAL_H
#define VIDPIPE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "vidpipe/common.h"

#if defined(__GNUC__)
#  define VPI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define VPI_PRINTF(a, b)
#endif

/* Log one line through @p lg, or through the process-wide default logger when @p lg is NULL
 * or has no fn (no-op when neither is set). */
void vpi_log(const VpLogger *lg, int level, const char *fmt, ...) VPI_PRINTF(3, 4);

/* Route FFmpeg's messages about the contexts of one call to @p lg: register it (it must stay
 * at this address until vpi_log_unregister) and set the `opaque` field of each
 * AVFormatContext and AVCodecContext the call opens to it. A logger without fn needs no
 * registration (its messages go to the default logger); both calls accept it. */
int vpi_log_register(const VpLogger *lg);
void vpi_log_unregister(const VpLogger *lg);

/* FFmpeg's messages from contexts without a logger (those FFmpeg creates itself) logged on
 * this thread go to @p lg until vpi_log_scope_leave(the returned previous one). Set by
 * every entry point that runs FFmpeg code, and once on each thread the library starts.
 * @p lg must stay alive until then. */
const VpLogger *vpi_log_scope_enter(const VpLogger *lg);
void vpi_log_scope_leave(const VpLogger *prev);

/* Whether the work should stop (a VpCancel without fn never stops). */
static inline int vpi_cancelled(const VpCancel *c)
{
    return c && c->fn && c->fn(c->opaque);
}

/* Fill @p fail (may be NULL): code @p err, the file at fault @p path (an input's index
 * @p input, or -1) and the one line "PATH: WHY" (WHY NULL: vp_strerror(err)). Returns
 * @p err, so that `return vpi_fail(...)` ends a failing call. */
int vpi_fail(VpFailure *fail, int input, const char *path, int err, const char *why);

/* Copy a C string into a fixed buffer, always terminated, truncating if needed. */
void vpi_strlcpy(char *dst, const char *src, size_t size);

#include "common/helpers.h"  /* vpi_now_us(), vpi_mkdir_p(), vpi_run() ... */

/* ---- inputs ---------------------------------------------------------------------------- */

struct stat;
/* Before opening an input: 0, or AVERROR(ENOENT/EACCES...), VP_ERR_IS_DIRECTORY,
 * VP_ERR_NOT_REGULAR (FIFOs and devices could block before any time bound applies) or
 * VP_ERR_EMPTY_FILE. Fills *sb. */
int vpi_input_check(const char *path, struct stat *sb);

/* vidpipe check's errors in @p res as one line for a person: "video.resolution is
 * 1280x720, WHO needs 720x1260; ..." (@p who: "the join", "the channel"). probe/check.c */
struct VpCheckResult;
void vpi_check_reasons(const struct VpCheckResult *res, const char *who, char *buf,
                       size_t size);

/* The one reason every command gives when avformat_open_input() refuses a file: @p err
 * itself, except AVERROR_INVALIDDATA, which becomes VP_ERR_NO_MOOV when the file starts as
 * an MP4/MOV does (a recording cut short before its moov was written) and VP_ERR_NOT_MEDIA
 * otherwise. @p head is the file's first @p head_size bytes, or NULL to read them from
 * @p path. */
int vpi_open_error(const char *path, const uint8_t *head, size_t head_size, int err);

/* Read exactly @p size bytes at @p pos of @p fd (retried on EINTR and short reads): 0,
 * AVERROR(errno), or VP_ERR_TRUNCATED when the file ends first. util/input.c */
int vpi_pread_full(int fd, void *dst, size_t size, int64_t pos);

/* Open the input @p path as every command does (after its own checks, e.g.
 * vpi_input_check): @p cancel as FFmpeg's interrupt callback (a read that blocks can be
 * cancelled), @p lg for FFmpeg's messages about it, and one reason for a refusal:
 * VP_ERR_CANCELLED when cancelled, else vpi_open_error's. *ic is NULL on failure. Finding
 * the stream info is left to the caller. */
struct AVFormatContext;
int vpi_open_input(struct AVFormatContext **ic, const char *path, const VpCancel *cancel,
                   const VpLogger *lg);

/* ---- atomic outputs ------------------------------------------------------------------ */

/* An output file is written under a temporary name in its destination folder and renamed
 * into place only when complete, so a crash or kill never leaves a file that looks done.
 * Temporary names are "<dir>/.<name>.vptmp-XXXXXX" (hidden, recognisable for clean-up). */
typedef struct VpiOutput {
    char *final_path;
    char *tmp_path;
    /* 1: rename without fsync. A kill still never exposes a partial file (the page cache
     * holds every byte written before the rename), but a power failure may. */
    int no_sync;
} VpiOutput;

/* Create the temporary file (mode 0666 minus the umask, as open() applies it) next to @p final_path. On success
 * o->tmp_path names an empty file the caller writes (e.g. with avio_open). */
int vpi_output_begin(VpiOutput *o, const char *final_path);
/* fsync the temporary file and rename it over the final name; frees @p o. */
int vpi_output_commit(VpiOutput *o);
/* What must be on a file before it takes its final name, for the outputs this thread
 * commits: vpi_output_commit() calls @p fn with the final and temporary names before the
 * fsync and the rename (the batch runner's made-from record, so that no file has its name
 * without it). NULL clears it. Per thread. */
void vpi_output_set_commit_hook(void (*fn)(void *opaque, const char *final_path,
                                           const char *tmp_path), void *opaque);
/* The whole file @p path is @p size bytes of @p data, written under a temporary name and
 * renamed into place (fsynced first unless @p no_sync): 0 or a negative error, and then
 * nothing is left. */
int vpi_output_write(const char *path, const void *data, size_t size, int no_sync);
/* Remove the temporary file (if any) and free @p o. Safe on a zeroed or finished output. */
void vpi_output_abort(VpiOutput *o);
/* 1 if @p name (a file name, not a path) is one of vidpipe's temporary names. */
int vpi_output_is_temp_name(const char *name);

#endif /* VIDPIPE_INTERNAL_H */
