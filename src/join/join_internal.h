/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The join engine's parts, shared between join.c (plan, video, file), join_audio.c (AAC
 * seams) and conform.c (re-encoding a segment that cannot be copied). Private. */
#ifndef VIDPIPE_JOIN_INTERNAL_H
#define VIDPIPE_JOIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mp4/mp4.h"
#include "vidpipe/common.h"

#define VPI_AAC_FRAME 1024

/* Decoded PCM of a segment that recurs from join to join (a batch's intro and outro),
 * kept by the segment's owner: the same frames of the same file decode to the same
 * samples, so a range decoded before is served from here. */
typedef struct VpiSeamCache VpiSeamCache;
void vpi_seam_cache_free(VpiSeamCache **c);

/* One segment's audio as the seam planner sees it. All positions are in samples. Output
 * media positions count from the first sample of the output's first AAC frame. */
typedef struct VpiSeamSeg {
    const VpiMp4Track *t;  /* NULL: the segment has no audio (silence) */
    int fd;
    VpiSeamCache **cache;  /* NULL: decode every time; else the owner's cache (made here) */
    int64_t a0;            /* segment presentation time of media sample 0 (-priming) */
    int64_t real_start;    /* segment presentation range holding real audio */
    int64_t real_end;
    int64_t nominal;       /* the segment's video length */
    int64_t J;             /* output media position of the segment's presentation time 0 */
    int64_t base;          /* output media position of its AAC frame 0 (multiple of 1024) */
} VpiSeamSeg;

/* The output audio: per 1024-sample slot either a copied frame or a re-encoded one. */
typedef struct VpiSeamPlan {
    int64_t nb_slots;
    int32_t *seg;          /* segment whose frame is copied, or -1: re-encoded */
    int64_t *frame;        /* copied: frame index in the segment; re-encoded: arena offset */
    uint32_t *size;        /* re-encoded: packet size */
    uint8_t *arena;
    size_t arena_len, arena_cap;
    int64_t nb_encoded;
} VpiSeamPlan;

typedef struct VpiSeamParams {
    int sample_rate, channels;
    int64_t bit_rate;
    const uint8_t *asc;    /* the output's AudioSpecificConfig */
    int asc_size;
    int64_t end;           /* output media position where the audio ends (J of "n") */
} VpiSeamParams;

/* Decide which AAC frames are copied and re-encode the others from the decoded segments.
 * On failure returns a negative error and writes a reason to @p why. */
int vpi_seam_plan(const VpiSeamSeg *segs, int nb, const VpiSeamParams *p, VpiSeamPlan *plan,
                  char *why, size_t why_size);
void vpi_seam_plan_free(VpiSeamPlan *plan);

/* Call @p fn with each file the HLS playlist @p text (NUL-terminated; modified) lists
 * (segments and EXT-X-MAP init segments), as a path relative to the playlist's folder,
 * percent-decoded, in order. Stops at @p fn's first nonzero return and returns it; else 0,
 * or AVERROR_INVALIDDATA for a URI that is not a relative path inside the folder (absolute,
 * "..", a scheme, a NUL). join_hls.c; fuzzed (fuzz/fuzz_hls_playlist.c). */
int vpi_hls_playlist_parse(char *text, int (*fn)(void *ctx, const char *rel), void *ctx);

/* Re-encode @p in (a file vidpipe cannot stream-copy into the join) to match @p ref
 * (resolution, frame rate, pixel format, audio rate and channels) into @p out_path.
 * Used by --conform. */
struct VpMediaInfo;
int vpi_conform(const char *in, const struct VpMediaInfo *ref, const char *out_path,
                char *why, size_t why_size, const VpLogger *lg, const VpCancel *cancel);

#endif /* VIDPIPE_JOIN_INTERNAL_H */
