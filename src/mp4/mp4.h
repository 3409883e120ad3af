/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MP4 sample tables: reading them from a file (mp4_index.c) and writing a moov for copied
 * samples (mp4_write.c). Private to libvidpipe. */
#ifndef VIDPIPE_MP4_H
#define VIDPIPE_MP4_H

#include <stddef.h>
#include <stdint.h>

/* What a file can present (docs/join.md, "Hostile input"). A file of N bytes may last at
 * most vpi_mp4_max_seconds(N): one hour, plus one second per 64 bytes beyond that (512
 * bit/s; only still pictures go lower, and they get the hour), never more than 2^24 s
 * (194 days). Every duration, timestamp and edit of an index lies within that span of its
 * track's timescale (< 2^32), so it has fewer than 2^56 ticks, and rescaling it to any
 * timescale below 2^32 cannot overflow. */
#define VPI_MP4_MAX_SECONDS ((int64_t)1 << 24)
int64_t vpi_mp4_max_seconds(int64_t file_size);

/* An H.264 frame is presented at most 16 frames after its place in decode order (the
 * largest DPB), and decode times are shifted by at most 16 frames more: no composition
 * offset of a real stream exceeds 32 of its longest frames. */
#define VPI_MP4_MAX_REORDER 32

/* One sample of an input track, in decode order. */
typedef struct VpiMp4Sample {
    int64_t pos;          /* byte offset in the file */
    int64_t dts;          /* media timescale */
    int32_t cts;          /* composition offset: pts = dts + cts */
    uint32_t size;
    uint32_t duration;
    uint8_t key;          /* sync sample (stss, or every sample without stss) */
} VpiMp4Sample;

typedef enum VpiTrackKind { VPI_TRACK_NONE = 0, VPI_TRACK_VIDEO, VPI_TRACK_AUDIO } VpiTrackKind;

typedef struct VpiMp4Track {
    VpiTrackKind kind;
    uint32_t track_id;
    uint32_t timescale;        /* mdhd */
    uint32_t fourcc;           /* sample entry type: 'avc1', 'avc3', 'mp4a' */
    uint8_t *entry;            /* the whole first sample entry box (size, type, payload) */
    size_t entry_size;

    /* Edit list reduced to: an optional empty edit, then one media edit. Media timescale. */
    int has_edit;
    int64_t edit_dwell;        /* presentation time before the media edit starts */
    int64_t edit_media_time;   /* first presented media time */
    int64_t edit_duration;     /* presented length; -1: to the end of the media */

    /* video */
    int width, height;
    const uint8_t *avcc;       /* points into entry */
    size_t avcc_size;
    int nal_length_size;

    /* audio */
    int sample_rate, channels; /* from the AudioSpecificConfig when there is one */
    uint8_t asc[64];           /* AudioSpecificConfig (esds DecoderSpecificInfo) */
    int asc_size;
    int object_type;           /* 2 = AAC LC */
    uint32_t avg_bitrate;

    VpiMp4Sample *samples;
    int64_t nb_samples;
    int64_t media_duration;    /* sum of sample durations */
    uint32_t max_duration;     /* the longest sample */
    int64_t pts_min, pts_end;  /* presentation of the samples: first pts, last pts + duration */
} VpiMp4Track;

typedef struct VpiMp4File {
    uint32_t movie_timescale;
    VpiMp4Track video, audio;  /* the first track of each kind; kind NONE if absent */
    int64_t file_size;
} VpiMp4File;

/* Read the sample tables of @p path (opened as @p fd). Fragmented files, several sample
 * descriptions per track, inconsistent tables and tables beyond the limits above (sample
 * counts the file cannot hold, offsets outside it, spans it cannot present, composition
 * offsets no reordering needs, edits outside the media) are refused. On failure returns a
 * negative error and writes one line (without the path) to @p why. */
int vpi_mp4_index(int fd, VpiMp4File **out, char *why, size_t why_size);
void vpi_mp4_index_free(VpiMp4File **f);

/* Where AAC track @p a's samples play against video track @p v, as both edit lists say, in
 * samples of @p a (1024 per frame), counted from the video's first presented frame, whose
 * media time (in @p v's timescale) is @p v_pts_min: media sample m plays at m + *a0, and
 * real audio (not priming, not padding past the edit) covers [*real_start, *real_end).
 * The join and the channel producer both place audio with it. */
void vpi_mp4_audio_span(const VpiMp4Track *v, const VpiMp4Track *a, int64_t v_pts_min,
                        int64_t *a0, int64_t *real_start, int64_t *real_end);
/* Heap bytes held by an index (for the joiner's cache accounting). */
size_t vpi_mp4_index_bytes(const VpiMp4File *f);

/* ---- writing -------------------------------------------------------------------------- */

/* One sample of an output track. pos is relative to the start of the mdat payload. */
typedef struct VpiMp4OutSample {
    int64_t pos;
    uint32_t size;
    uint32_t duration;    /* dts delta to the next sample (the last one: its own length) */
    int32_t cts;
    uint16_t entry;       /* its sample entry: index into VpiMp4OutTrack.entries */
    uint8_t key;
} VpiMp4OutSample;

/* A sample entry box (size, type, payload), copied into stsd verbatim. */
typedef struct VpiMp4Entry {
    const uint8_t *data;
    size_t size;
} VpiMp4Entry;

/* Sample entries one track may carry (stsc indexes them from 1 in 32 bits; the samples
 * here in 16). */
#define VPI_MP4_MAX_ENTRIES 65535

typedef struct VpiMp4OutTrack {
    VpiTrackKind kind;
    uint32_t timescale;
    const VpiMp4Entry *entries; /* stsd, in order; samples refer to them by index */
    int nb_entries;
    int width, height;         /* tkhd, video only */
    int64_t edit_media_time;   /* first presented media time (0: none needed) */
    int64_t presented;         /* presented duration, media timescale */
    VpiMp4OutSample *s;
    int64_t nb, cap;
} VpiMp4OutTrack;

int vpi_mp4_out_push(VpiMp4OutTrack *t, const VpiMp4OutSample *s);

/* Serialize ftyp + moov + mdat header for @p tracks, whose samples lie in an mdat payload
 * of @p mdat_size bytes written right after. A chunk never spans two sample entries: stsc
 * points each chunk at its samples' entry. @p quicktime: the ftyp of a .mov ('qt  '), else
 * of an ISO MP4 ('isom'). On success *buf (av_malloc'd) holds the header bytes and *size its
 * length: the mdat payload starts at offset *size in the file. */
int vpi_mp4_build_header(VpiMp4OutTrack *tracks, int nb_tracks, int64_t mdat_size,
                         int quicktime, uint8_t **buf, size_t *size);

#endif /* VIDPIPE_MP4_H */
