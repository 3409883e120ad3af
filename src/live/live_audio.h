/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The producer's pieces and its endless AAC stream (live_producer.c, live_audio.c).
 * Private to the producer. */
#ifndef VIDPIPE_LIVE_AUDIO_H
#define VIDPIPE_LIVE_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "live.h"
#include "mp4/mp4.h"

#define VPI_AAC_FRAME 1024

/* One piece being played: its file, where its video goes on the channel clock and where
 * its audio lands on the output's AAC grid. Audio positions are output samples counted
 * from channel tick 0 (sample n plays at tick n * 90000 / rate). */
typedef struct VpiLivePiece {
    VpiPlayItem item;        /* owns the media reference */
    int fd;
    VpiMp4File *mp4;
    int broken;              /* a read failed: no more video, silence for its audio */
    int first;               /* the producer's first piece (owns the audio before it) */

    /* video (ticks) */
    int64_t from, start;     /* the key it starts at, and where that key is presented */
    int64_t eps_t;           /* the video moved this much so the audio frames fit the grid */
    int64_t reorder;         /* the output's B-frame allowance R */
    int64_t pts_min;         /* track timescale: the first presented frame (tick 0) */
    int64_t d_first;         /* decode time of the first sample, ticks from tick 0 */
    int64_t v_first, v_end, v_next;   /* samples in decode order */
    int64_t last_dur;        /* ticks the last presented frame lasts */
    int drop_last;           /* leave out the last sample in decode order (nothing refers
                                to it) and present what followed it one frame earlier:
                                room for the next piece without shortening a frame */
    int64_t drop_t, drop_dur;
    uint8_t *ps;             /* SPS/PPS in Annex B */
    size_t ps_size;

    /* audio (samples) */
    int has_audio;           /* real audio at the channel's rate and channels */
    int copy;                /* its frames may be copied (AAC-LC matching the output) */
    int64_t N;               /* output sample where the piece starts */
    int64_t J;               /* output sample of the piece's video tick 0 */
    int64_t a0;              /* piece time (from tick 0) of media sample 0 */
    int64_t real_start, real_end;   /* piece time holding real audio */
    int64_t nominal;         /* piece time where its video ends (item.to) */
    AVCodecContext *dec;     /* decoded PCM of frames [pcm_m0 / 1024, ...) */
    float *pcm[8];
    int64_t pcm_m0, pcm_len;
} VpiLivePiece;

typedef struct VpiLiveAudio VpiLiveAudio;

typedef struct VpiLiveAudioOpts {
    int sample_rate, channels;
    VpiLivePiece *const *pieces;     /* the producer's loaded pieces, in play order */
    const int *nb_pieces;
    /* Load pieces until the last one starts after output sample @p n. */
    int (*need)(void *opaque, int64_t n);
    void *opaque;
    VpLogger logger;
} VpiLiveAudioOpts;

/* A new audio stream; @p asc receives the AudioSpecificConfig of the output (FFmpeg's AAC
 * encoder at this rate and channel count). */
int vpi_live_audio_new(const VpiLiveAudioOpts *o, VpiLiveAudio **out, uint8_t asc[64],
                       int *asc_size, char *why, size_t why_size);
void vpi_live_audio_free(VpiLiveAudio **a);
/* Fill @p pc's audio fields and its video shift, placed after @p prev (NULL: the first). */
void vpi_live_audio_place(const VpiLiveAudio *a, VpiLivePiece *pc, VpiLivePiece *prev);
/* Start at the frame holding @p first's first sample. */
void vpi_live_audio_start(VpiLiveAudio *a, VpiLivePiece *first);
/* Channel tick of the next frame. */
int64_t vpi_live_audio_next_pts(const VpiLiveAudio *a);
/* The next frame (pts = dts in ticks, duration set). */
int vpi_live_audio_next(VpiLiveAudio *a, AVPacket *pkt);
/* The oldest output sample the stream may still read. */
int64_t vpi_live_audio_oldest_needed(const VpiLiveAudio *a);

/* live_producer.c */
int vpi_live_piece_open(VpiPlayItem *item, VpiLivePiece *prev, const VpiLiveAudio *a,
                        int64_t reorder, VpiLivePiece **out, char *why, size_t why_size);
void vpi_live_piece_close(VpiLivePiece **pc);
int64_t vpi_live_piece_next_dts(const VpiLivePiece *pc);
/* The next access unit in Annex B (AUD, SPS/PPS before an IDR, the NAL units). */
int vpi_live_piece_video(VpiLivePiece *pc, uint8_t **buf, size_t *cap, size_t *size,
                         int64_t *pts, int64_t *dts, int *key, char *why, size_t why_size);
/* Read @p size bytes at @p pos of the piece's file. */
int vpi_live_piece_read(VpiLivePiece *pc, int64_t pos, uint8_t *dst, size_t size);

#endif /* VIDPIPE_LIVE_AUDIO_H */
