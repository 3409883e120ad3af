/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The internal helper library (curl's curlx model): the few helpers that libvidpipe, the
 * vidpipe CLI, the tests and the servers all need, compiled once into one static archive.
 * Never installed; the CLI reaches it through this folder alone, not the rest of src/.
 * Every function is safe to call from any thread; none prints. */
#ifndef VIDPIPE_HELPERS_H
#define VIDPIPE_HELPERS_H

#include <stddef.h>
#include <stdint.h>

/* ---- clock ------------------------------------------------------------------------------ */

/* Monotonic clock in microseconds (CLOCK_MONOTONIC: never steps with the wall clock). */
int64_t vpi_now_us(void);

/* ---- folders ---------------------------------------------------------------------------- */

/* mkdir -p with mode 0777 (the umask applies). 0, or a negative AVERROR: ENOTDIR when a
 * component exists and is not a folder, ENAMETOOLONG. Safe when other threads or processes
 * create the same folders at the same time. */
int vpi_mkdir_p(const char *path);

/* 1 if the file name @p name has a media extension (case-insensitive: video containers
 * .mp4 .mov .m4v .mkv .webm .avi .ts .mts .m2ts .mxf .mpg .mpeg .flv .3gp .wmv, audio
 * .m4a .mp3 .wav .aac .flac .ogg .opus) and is neither hidden nor a temporary (".name",
 * "name~", "~$name"). Every command that takes a folder takes the same files: one that
 * cannot serve (audio for a join) fails as an item with its reason, never silently
 * left out. */
int vpi_media_name(const char *name);

/* The media files of @p dir (not recursive): regular files (symlinks followed) whose names
 * pass vpi_media_name(), as "dir/name", in natural order ("clip9" before "clip10", by
 * strverscmp). On success *paths is a malloc'd array of *nb malloc'd strings (NULL and 0 for
 * none), freed with vpi_paths_free(). Returns 0, or a negative AVERROR (the folder cannot
 * be read, ENOMEM), leaving nothing allocated. */
int vpi_media_list(const char *dir, char ***paths, size_t *nb);
void vpi_paths_free(char **paths, size_t nb);

/* ---- parallel runner -------------------------------------------------------------------- */

/* The most workers one run may have. A worker is a thread (glibc reserves an 8 MiB stack,
 * of which it touches ~100 KiB) plus what its work holds open: a join worker keeps its
 * segments and its output open, ~4 descriptors. 256 workers stay inside the default soft
 * limit of 1024 descriptors, and are far past the point where more threads help on the
 * machines vidpipe runs on (the work is bound by cores or by the disk). */
#define VPI_MAX_JOBS 256

typedef struct VpiRunner {
    int jobs;                             /* 1..VPI_MAX_JOBS */
    /* Per-worker state, created from the calling thread before the workers start (NULL:
     * that worker is not started) and freed from it after they end. Both optional; without
     * worker_new every worker's state is NULL. */
    void *(*worker_new)(void *opaque);
    void (*worker_free)(void *opaque, void *worker);
    /* Does item @p i; called once per item, from worker threads. Required. */
    void (*run)(void *opaque, void *worker, size_t i);
    /* Optional: nonzero means take no more items (a cancel). */
    int (*stop)(void *opaque);
    void *opaque;
} VpiRunner;

/* Run items 0..@p nb-1 on r->jobs workers (fewer when there are fewer items), each taking
 * the next item not yet taken. Returns when all workers ended: the number of workers that
 * ran (fewer than asked when some could not be created; 0, with no worker made, when @p nb
 * is 0), or a negative AVERROR:
 * EINVAL when jobs is outside 1..VPI_MAX_JOBS or run is NULL (nothing runs: a job count is
 * never silently lowered), ENOMEM/EAGAIN when not one worker could start. */
int vpi_run(const VpiRunner *r, size_t nb);

/* ---- exit codes ------------------------------------------------------------------------- */

/* The CLI's exit codes (README, vidpipe(1)); the servers map failures the same way. */
enum {
    VPI_EXIT_OK = 0,
    VPI_EXIT_FAILED = 1,      /* a verdict was negative: not joinable, QC failed */
    VPI_EXIT_UNREADABLE = 2,  /* an input could not be read */
    VPI_EXIT_USAGE = 3,       /* bad command line (an output that is one of the inputs) */
    VPI_EXIT_ERROR = 4,       /* could not write output, or an internal error */
};

/* Where an error was met, when the caller knows. */
enum { VPI_AT_UNKNOWN = 0, VPI_AT_INPUT, VPI_AT_OUTPUT };

/* The exit code for error @p err (0 or positive: VPI_EXIT_OK) met at @p where. Errors that
 * only writing can cause (ENOSPC, EROFS, EDQUOT, EFBIG) and internal ones (ENOMEM,
 * VP_ERR_BAD_OPTION) are VPI_EXIT_ERROR wherever met; when the side is unknown, so are
 * ENOTDIR and EEXIST (creating an output's folder); the rest follow @p where (unknown
 * counts as input). */
int vpi_exit_code(int err, int where);

/* What made an output (the overwrite rule of vidpipe(1)): a SHA-256, in hex, of each
 * input's path, size and modification time and of @p settings (the options that shape the
 * output), recorded as the output's extended attribute user.vidpipe.made_from. A rerun
 * over many items skips an output whose record matches and redoes one whose record differs
 * or is missing (a file system without user attributes: always redone). */
#define VPI_MADE_FROM_SIZE 65
/* Returns 0, or a negative AVERROR when an input cannot be stat'ed. NULL inputs are
 * ignored. */
int vpi_made_from(const char *const *inputs, size_t nb, const char *settings,
                  char stamp[VPI_MADE_FROM_SIZE]);
/* Returns 0, or a negative AVERROR (ENOTSUP: the file system keeps no user attributes). */
int vpi_made_from_store(const char *path, const char *stamp);
/* 1 when @p path records @p stamp and is as it was when recorded (same size and
 * modification time), else 0 (another record, none, a changed file, or unreadable). */
int vpi_made_from_matches(const char *path, const char *stamp);

#endif /* VIDPIPE_HELPERS_H */
