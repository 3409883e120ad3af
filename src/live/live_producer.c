/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One channel's producer: a thread that plays the pieces its source hands out, one after
 * another, through one MPEG-TS muxer for its whole life, into the channel's ring.
 *
 * Video samples are read straight from each piece's MP4 (the index, pread), turned into
 * Annex B with the piece's own SPS/PPS before every IDR, and restamped onto the channel
 * clock. Audio is one endless AAC stream on a 1024-sample grid counted from channel tick 0;
 * each piece's frames are copied where they fit that grid, and only the frames straddling a
 * boundary (or carrying silence) are re-encoded (live_audio.c). Everything is paced against
 * the monotonic clock. docs/channels.md ("The stream") has the design and measurements. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>

#include "common/helpers.h"
#include "live.h"
#include "live_audio.h"
#include "mp4/mp4.h"
#include "util/internal.h"

#define MAX_PIECES 8            /* loaded at once: the one playing, its successors */
#define MAX_FAILURES 64         /* pieces in a row that fail before the producer gives up */
#define VIDEO_PID 0x100         /* the muxer's defaults (mpegts_start_pid, pmt_start_pid) */
#define AUDIO_PID 0x101
#define PMT_PID 0x1000
#define TS 188
#define MAX_DELAY_TICKS 45000   /* the muxer's max_delay (0.5 s): PCR = DTS - this */
/* An audio PES that starts this long after the last PCR gets one first: the gap is then
 * at most this plus one AAC frame (15 + 23.2 ms at 44.1 kHz) whatever the video does */
#define PCR_PERIOD 1350         /* 15 ms */
/* Channel ticks go out as TS timestamps plus this: a producer that starts its preroll
 * before the channel's origin (a server that just started) or within the muxer's delay
 * of it must not write negative times. */
#define TS_OFFSET ((int64_t)30 * VPI_TICKS)

struct VpiProducer {
    VpiProducerOpts o;
    VpiLiveFormat format;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* CLOCK_MONOTONIC: wakes a pacing wait on stop */
    int stop;

    /* wall clock = rt0 + (monotonic - mono0) + now_offset: it never steps */
    int64_t rt0, mono0;

    AVFormatContext *oc;
    uint8_t *avio_buf;
    uint8_t *pend;              /* TS bytes written since the last chunk was pushed */
    size_t pend_len, pend_cap;
    int pend_flags;
    int64_t pend_pts;
    int pend_open;
    int write_error;
    int64_t last_pcr;           /* 90 kHz base of the last PCR written, -1: none yet */
    int video_cc;

    VpiLivePiece *pc[MAX_PIECES];   /* pieces loaded, in play order */
    int nb_pc;
    int vk;                     /* index in pc of the piece whose video plays */
    int64_t src_prev_start;     /* the source's start of the last piece fetched */
    int have_prev;
    int failures;
    int64_t reorder;            /* R: every DTS is its PTS's origin minus R */
    int64_t last_dts;
    int have_dts;
    uint8_t *last_key_ps;       /* param_sets of the last KEY chunk's piece */
    int last_key_ps_size;
    int have_key;

    VpiLiveAudio *audio;
    AVPacket *pkt;
    uint8_t *vbuf;              /* one access unit in Annex B */
    size_t vbuf_cap;
};

static int64_t now_tick(const VpiProducer *p)
{
    int64_t wall = p->rt0 + (vpi_now_us() - p->mono0) + p->o.now_offset_us;
    return vpi_us_to_ticks(wall - p->o.origin_us);
}

static int stopping(VpiProducer *p)
{
    pthread_mutex_lock(&p->lock);
    int s = p->stop;
    pthread_mutex_unlock(&p->lock);
    return s;
}

/* Wait until @p tick is within the lead of the wall clock. 1 when stopped meanwhile. */
static int pace(VpiProducer *p, int64_t tick)
{
    int64_t lead = (int64_t)(p->o.lead * VPI_TICKS);
    for (;;) {
        int64_t ahead = tick - lead - now_tick(p);
        if (ahead <= 0)
            return stopping(p);
        int64_t us = vpi_ticks_to_us(ahead);
        if (us > 100000)
            us = 100000;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + us * 1000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_mutex_lock(&p->lock);
        if (!p->stop)
            pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        int s = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (s)
            return 1;
    }
}

/* ---- output: the muxer writes whole TS packets into pend; chunks are cut from it ------- */

static int ts_pid(const uint8_t *pkt)
{
    return ((pkt[1] & 0x1f) << 8) | pkt[2];
}

static int pend_append(VpiProducer *p, const uint8_t *buf, size_t size)
{
    if (p->pend_len + size > p->pend_cap) {
        size_t cap = p->pend_cap ? p->pend_cap : 65536;
        while (cap < p->pend_len + size)
            cap *= 2;
        uint8_t *n = realloc(p->pend, cap);
        if (!n)
            return p->write_error = AVERROR(ENOMEM);
        p->pend = n;
        p->pend_cap = cap;
    }
    memcpy(p->pend + p->pend_len, buf, size);
    p->pend_len += size;
    return 0;
}

static int64_t pes_pts(const uint8_t *pkt)
{
    int off = 4;
    if (pkt[3] & 0x20)
        off += 1 + pkt[4];
    const uint8_t *q = pkt + off;
    if (off + 14 > TS || q[0] || q[1] || q[2] != 1 || !(q[7] & 0x80))
        return -1;
    return ((int64_t)(q[9] >> 1 & 7) << 30) | (q[10] << 22) | ((q[11] >> 1) << 15) |
           (q[12] << 7) | (q[13] >> 1);
}

/* FFmpeg 5.1's muxer without a mux rate puts a PCR only into the PES packets of the PCR
 * stream (the video): one per frame, so 40 ms apart at 25 fps, and up to 61 ms across a
 * boundary whose video moved for the audio grid. So before each audio PES that starts
 * 15 ms or more after the last PCR, an adaptation-only packet on the video PID carries
 * one, with the muxer's own model (PCR = that PES's DTS - max_delay): packets go out in
 * DTS order, so it stays monotonic, and a packet without payload leaves the PID's
 * continuity counter alone (ISO/IEC 13818-1 2.4.3.3). */
static int add_pcr(VpiProducer *p, const uint8_t *pkt)
{
    int pid = ts_pid(pkt);
    if (pid == VIDEO_PID) {
        if (pkt[3] & 0x10)
            p->video_cc = pkt[3] & 15;
        if ((pkt[3] & 0x20) && pkt[4] >= 7 && (pkt[5] & 0x10)) {
            const uint8_t *q = pkt + 6;
            p->last_pcr = ((int64_t)q[0] << 25) | (q[1] << 17) | (q[2] << 9) | (q[3] << 1) |
                          (q[4] >> 7);
        }
        return 0;
    }
    if (pid != AUDIO_PID || !(pkt[1] & 0x40) || p->last_pcr < 0 || p->video_cc < 0)
        return 0;
    int64_t pts = pes_pts(pkt);
    if (pts < 0)
        return 0;
    int64_t pcr = (pts - MAX_DELAY_TICKS) & ((1LL << 33) - 1);
    int64_t gap = (pcr - p->last_pcr) & ((1LL << 33) - 1);
    if (gap < PCR_PERIOD || gap > (1LL << 32))
        return 0;
    uint8_t b[TS];
    memset(b, 0xff, sizeof(b));
    b[0] = 0x47;
    b[1] = VIDEO_PID >> 8;
    b[2] = VIDEO_PID & 0xff;
    b[3] = 0x20 | (uint8_t)p->video_cc;       /* adaptation field only */
    b[4] = 183;
    b[5] = 0x10;                              /* PCR */
    b[6] = (uint8_t)(pcr >> 25);
    b[7] = (uint8_t)(pcr >> 17);
    b[8] = (uint8_t)(pcr >> 9);
    b[9] = (uint8_t)(pcr >> 1);
    b[10] = (uint8_t)((pcr & 1) << 7 | 0x7e);
    b[11] = 0;
    p->last_pcr = pcr;
    return pend_append(p, b, TS);
}

static int avio_write_cb(void *opaque, uint8_t *buf, int size)
{
    VpiProducer *p = opaque;
    if (size % TS)
        return pend_append(p, buf, (size_t)size) < 0 ? p->write_error : size;
    for (int off = 0; off < size; off += TS) {
        if (buf[off] == 0x47 && add_pcr(p, buf + off) < 0)
            return p->write_error;
        if (pend_append(p, buf + off, TS) < 0)
            return p->write_error;
    }
    return size;
}

/* A KEY chunk starts with PAT, then PMT. The muxer writes its SDT first when that is due
 * at the same packet; move the PAT and PMT ahead of it (each PID keeps its own packet
 * order, so continuity counters are untouched). */
static void key_order(uint8_t *d, size_t len)
{
    size_t n = 0;
    while (n * TS < len && ts_pid(d + n * TS) != VIDEO_PID && ts_pid(d + n * TS) != AUDIO_PID)
        n++;
    if (n < 2 || n > 16)
        return;
    uint8_t tmp[16 * TS];
    size_t k = 0;
    for (int rank = 0; rank < 3; rank++)
        for (size_t i = 0; i < n; i++) {
            int pid = ts_pid(d + i * TS);
            int r = pid == 0 ? 0 : pid == PMT_PID ? 1 : 2;
            if (r == rank)
                memcpy(tmp + TS * k++, d + i * TS, TS);
        }
    memcpy(d, tmp, n * TS);
}

static int push_pending(VpiProducer *p)
{
    int ret = 0;
    if (p->oc)
        avio_flush(p->oc->pb);
    if (p->write_error)
        return p->write_error;
    if (p->pend_open && p->pend_len) {
        if (p->pend_flags & VPI_CHUNK_KEY)
            key_order(p->pend, p->pend_len);
        ret = vpi_liveout_push(p->o.out, p->pend, p->pend_len, p->pend_flags, p->pend_pts);
    }
    p->pend_len = 0;
    p->pend_open = 0;
    return ret == AVERROR_EOF ? 0 : ret;
}

static int open_muxer(VpiProducer *p, const uint8_t *asc, int asc_size)
{
    AVFormatContext *oc = NULL;
    int ret = avformat_alloc_output_context2(&oc, NULL, "mpegts", NULL);
    if (ret < 0)
        return ret;
    p->oc = oc;
    /* a multiple of 188: the callback sees whole packets (it copies whatever it gets) */
    if (!(p->avio_buf = av_malloc(TS * 64)))
        return AVERROR(ENOMEM);
    oc->pb = avio_alloc_context(p->avio_buf, TS * 64, 1, p, NULL, avio_write_cb, NULL);
    if (!oc->pb)
        return AVERROR(ENOMEM);
    oc->flags |= AVFMT_FLAG_CUSTOM_IO;

    AVStream *vs = avformat_new_stream(oc, NULL), *as = avformat_new_stream(oc, NULL);
    if (!vs || !as)
        return AVERROR(ENOMEM);
    vs->time_base = as->time_base = (AVRational){ 1, VPI_TICKS };
    vs->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    vs->codecpar->codec_id = AV_CODEC_ID_H264;
    vs->codecpar->width = p->format.width;
    vs->codecpar->height = p->format.height;
    as->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    as->codecpar->codec_id = AV_CODEC_ID_AAC;
    as->codecpar->sample_rate = p->format.sample_rate;
    av_channel_layout_default(&as->codecpar->ch_layout, p->format.channels);
    as->codecpar->frame_size = VPI_AAC_FRAME;
    /* the muxer writes ADTS headers from the AudioSpecificConfig */
    if (!(as->codecpar->extradata = av_mallocz((size_t)asc_size + AV_INPUT_BUFFER_PADDING_SIZE)))
        return AVERROR(ENOMEM);
    memcpy(as->codecpar->extradata, asc, (size_t)asc_size);
    as->codecpar->extradata_size = asc_size;

    /* FFmpeg 5.1's mpegts muxer, without a constant mux rate: PAT/PMT are written before
     * the first PES that starts at least pat_period after the last ones (PES start
     * before the next audio frame, so up to 21 ms later: 80 + 21 < 100 ms); PCR every
     * pcr_period on the video PID, inserted as PCR-only packets before other PES (its VBR
     * default is the largest multiple of the frame time below 100 ms: 80 ms at 25 fps).
     * pes_payload_size 0 (which it rounds up to 170 bytes) and a flush after each audio
     * packet: each AAC frame is its own PES at once, never held back to be merged with the
     * next (that would move audio bytes into a later chunk, and leave PCR gaps). */
    AVDictionary *d = NULL;
    av_dict_set(&d, "pat_period", "0.06", 0);
    av_dict_set(&d, "sdt_period", "0.5", 0);
    av_dict_set(&d, "pcr_period", "20", 0);
    av_dict_set(&d, "pes_payload_size", "0", 0);
    av_dict_set(&d, "max_delay", "500000", 0);
    av_dict_set(&d, "mpegts_copyts", "1", 0);     /* our timestamps as they are (+ TS_OFFSET) */
    av_dict_set(&d, "flush_packets", "0", 0);
    ret = avformat_write_header(oc, &d);
    if (ret >= 0 && av_dict_count(d))
        ret = AVERROR_OPTION_NOT_FOUND;     /* an option this FFmpeg does not know */
    av_dict_free(&d);
    if (ret < 0)
        return ret;
    p->pend_open = 1;           /* the header (PAT/PMT) goes out with the first chunk */
    p->pend_flags = 0;
    p->pend_pts = 0;
    return 0;
}

static void close_muxer(VpiProducer *p)
{
    if (!p->oc)
        return;
    if (p->oc->pb) {
        av_freep(&p->oc->pb->buffer);
        avio_context_free(&p->oc->pb);
    } else {
        av_freep(&p->avio_buf);
    }
    avformat_free_context(p->oc);
    p->oc = NULL;
}

/* ---- one piece: its file, its video ------------------------------------------------------ */

int vpi_live_piece_read(VpiLivePiece *pc, int64_t pos, uint8_t *dst, size_t size)
{
    return vpi_pread_full(pc->fd, dst, size, pos);
}

/* ticks from the first presented frame */
static int64_t v_ticks(const VpiLivePiece *pc, int64_t t)
{
    return av_rescale(t - pc->pts_min, VPI_TICKS, pc->mp4->video.timescale);
}

static int64_t sample_pts(const VpiLivePiece *pc, int64_t i)
{
    const VpiMp4Sample *s = &pc->mp4->video.samples[i];
    return v_ticks(pc, s->dts + s->cts);
}

static int64_t sample_dts(const VpiLivePiece *pc, int64_t i)
{
    return v_ticks(pc, pc->mp4->video.samples[i].dts);
}

/* The SPS and PPS of an avcC, each behind a 4-byte start code. */
static int avcc_to_annexb(const uint8_t *a, size_t n, uint8_t **out, size_t *out_size)
{
    uint8_t *o = malloc(n * 2 + 64);
    size_t len = 0, pos = 6;
    if (!o)
        return AVERROR(ENOMEM);
    if (n < 7 || a[0] != 1)
        goto bad;
    for (int kind = 0; kind < 2; kind++) {
        int count = a[5] & 0x1f;
        if (kind == 1) {
            if (pos >= n)
                goto bad;
            count = a[pos++];
        }
        for (int i = 0; i < count; i++) {
            if (pos + 2 > n)
                goto bad;
            size_t l = (size_t)(a[pos] << 8 | a[pos + 1]);
            pos += 2;
            if (l == 0 || l > n - pos)
                goto bad;
            memcpy(o + len, "\0\0\0\1", 4);
            memcpy(o + len + 4, a + pos, l);
            len += 4 + l;
            pos += l;
        }
    }
    *out = o;
    *out_size = len;
    return 0;
bad:
    free(o);
    return AVERROR_INVALIDDATA;
}

int vpi_live_piece_open(VpiPlayItem *item, VpiLivePiece *prev, const VpiLiveAudio *a,
                        int64_t reorder, VpiLivePiece **out, char *why, size_t why_size)
{
    VpiLivePiece *pc = calloc(1, sizeof(*pc));
    int ret;
    *out = NULL;
    if (!pc)
        return AVERROR(ENOMEM);
    pc->fd = -1;
    pc->item = *item;
    pc->first = !prev;
    pc->reorder = reorder;
    if (!item->media || !item->media->play_path) {
        snprintf(why, why_size, "no file to play");
        ret = AVERROR(EINVAL);
        goto fail;
    }
    if ((pc->fd = open(item->media->play_path, O_RDONLY | O_CLOEXEC)) < 0) {
        ret = AVERROR(errno);
        snprintf(why, why_size, "%s", vp_strerror(ret));
        goto fail;
    }
    if ((ret = vpi_mp4_index(pc->fd, &pc->mp4, why, why_size)) < 0)
        goto fail;
    const VpiMp4Track *v = &pc->mp4->video;
    if (v->kind != VPI_TRACK_VIDEO || !v->nb_samples || !v->avcc || v->nal_length_size < 1) {
        snprintf(why, why_size, "no H.264 video track");
        ret = VP_ERR_UNSUPPORTED;
        goto fail;
    }
    if ((ret = avcc_to_annexb(v->avcc, v->avcc_size, &pc->ps, &pc->ps_size)) < 0) {
        snprintf(why, why_size, "bad avcC (H.264 parameter sets)");
        goto fail;
    }
    pc->pts_min = v->pts_min;

    /* the key the piece starts at (ticks are rounded: allow 2 of them), and the first key
     * at or after its end */
    pc->v_first = -1;
    for (int64_t i = 0; i < v->nb_samples; i++)
        if (v->samples[i].key && sample_pts(pc, i) <= item->from + 2)
            pc->v_first = i;
    if (pc->v_first < 0) {
        for (int64_t i = 0; i < v->nb_samples && pc->v_first < 0; i++)
            if (v->samples[i].key)
                pc->v_first = i;
        if (pc->v_first < 0) {
            snprintf(why, why_size, "video has no keyframe");
            ret = AVERROR_INVALIDDATA;
            goto fail;
        }
    }
    pc->v_end = v->nb_samples;
    for (int64_t i = pc->v_first + 1; i < v->nb_samples; i++)
        if (v->samples[i].key && sample_pts(pc, i) >= item->to - 2) {
            pc->v_end = i;
            break;
        }
    pc->v_next = pc->v_first;
    pc->from = sample_pts(pc, pc->v_first);
    pc->start = item->start + (pc->from - item->from);
    pc->d_first = sample_dts(pc, pc->v_first);
    int64_t last = pc->from;
    pc->last_dur = 1;
    for (int64_t i = pc->v_first; i < pc->v_end; i++) {
        int64_t t = sample_pts(pc, i);
        if (t >= last) {
            last = t;
            pc->last_dur = FFMAX(1, av_rescale(v->samples[i].duration, VPI_TICKS, v->timescale));
        }
    }
    vpi_live_audio_place(a, pc, prev);
    *out = pc;
    return 0;

fail:
    pc->item.media = NULL;      /* the caller keeps its reference on failure */
    vpi_live_piece_close(&pc);
    return ret;
}

void vpi_live_piece_close(VpiLivePiece **ppc)
{
    VpiLivePiece *pc = ppc ? *ppc : NULL;
    if (!pc)
        return;
    *ppc = NULL;
    avcodec_free_context(&pc->dec);
    for (int c = 0; c < 8; c++)
        av_freep(&pc->pcm[c]);
    vpi_mp4_index_free(&pc->mp4);
    if (pc->fd >= 0)
        close(pc->fd);
    free(pc->ps);
    vpi_live_media_unref(&pc->item.media);
    free(pc);
}

/* Restamping. A sample presented at t (ticks from the media's first presented frame) plays
 * at pts = start + eps_t + (t - from). Decode times keep their spacing within the piece
 * and sit a constant R (the output's reorder allowance, >= every piece's B-frame delay)
 * before the piece's first pts:  dts = start + eps_t - R + (d - d_first).
 * Why pts >= dts: pts - dts = (t - d) - (from - d_first) + R; (from - d_first) is the
 * piece's own delay (its key's pts - dts) and t - d >= 0 in a stream whose delay that is
 * (the key is the frame with the largest pts - dts in a closed GOP of uniform decode
 * steps), so the difference is >= R - delay >= 0.
 * Why dts grows across a boundary (pieces of constant frame rate, ingest's guarantee):
 * with decode steps of one frame f, the previous piece's last dts is
 * start' + eps_t' - R + (n - 1) f where n f = its length = start - start', and the next
 * piece's first is start + eps_t - R; the difference is f + eps_t - eps_t', and both shifts
 * are below half an AAC frame (10.7 ms at 48 kHz) with the difference checked to keep
 * the previous frame between half and twice its length (vpi_live_audio_place), so it is
 * at least f / 2 > 0. The producer still checks every dts against the last one written. */
int64_t vpi_live_piece_next_dts(const VpiLivePiece *pc)
{
    return pc->start + pc->eps_t - pc->reorder + (sample_dts(pc, pc->v_next) - pc->d_first);
}

int vpi_live_piece_video(VpiLivePiece *pc, uint8_t **buf, size_t *cap, size_t *size,
                         int64_t *pts, int64_t *dts, int *key, char *why, size_t why_size)
{
    const VpiMp4Track *v = &pc->mp4->video;
    const VpiMp4Sample *s = &v->samples[pc->v_next];
    int nls = v->nal_length_size;
    /* Annex B is at most: AUD (6) + parameter sets + per NAL 4 bytes for >= 1 byte of
     * length prefix, i.e. 4x the sample for 1-byte prefixes */
    size_t need = 6 + pc->ps_size + (size_t)s->size * 4 + 16;
    uint8_t *raw = NULL;
    int ret;
    if (need > *cap) {
        uint8_t *n = realloc(*buf, need);
        if (!n)
            return AVERROR(ENOMEM);
        *buf = n;
        *cap = need;
    }
    if (!(raw = malloc(s->size ? s->size : 1)))
        return AVERROR(ENOMEM);
    if ((ret = vpi_live_piece_read(pc, s->pos, raw, s->size)) < 0) {
        snprintf(why, why_size, "video sample %" PRId64 ": %s", pc->v_next, vp_strerror(ret));
        goto end;
    }
    uint8_t *o = *buf;
    size_t len = 0;
    static const uint8_t aud[6] = { 0, 0, 0, 1, 9, 0xf0 };
    memcpy(o, aud, 6);
    len = 6;
    if (s->key) {
        memcpy(o + len, pc->ps, pc->ps_size);
        len += pc->ps_size;
    }
    size_t at = 0, nals = 0;
    while (at < s->size) {
        if (s->size - at < (size_t)nls)
            goto corrupt;
        size_t l = 0;
        for (int i = 0; i < nls; i++)
            l = l << 8 | raw[at + i];
        at += (size_t)nls;
        if (l == 0 || l > s->size - at)
            goto corrupt;
        int type = raw[at] & 0x1f;
        if (type != 9) {        /* its own AUD is already there */
            memcpy(o + len, "\0\0\0\1", 4);
            memcpy(o + len + 4, raw + at, l);
            len += 4 + l;
            nals++;
        }
        at += l;
    }
    if (!nals)
        goto corrupt;
    *size = len;
    *key = s->key;
    int64_t t = sample_pts(pc, pc->v_next);
    *pts = pc->start + pc->eps_t + (t - pc->from);
    if (pc->drop_last && t > pc->drop_t)
        *pts -= pc->drop_dur;
    *dts = vpi_live_piece_next_dts(pc);
    if (*dts > *pts)
        *dts = *pts;
    pc->v_next++;
    ret = 0;
    goto end;
corrupt:
    snprintf(why, why_size, "video sample %" PRId64 " is corrupt (bad NAL unit lengths)",
             pc->v_next);
    ret = AVERROR_INVALIDDATA;
end:
    free(raw);
    return ret;
}

/* ---- pieces ------------------------------------------------------------------------------ */

static void piece_fail(VpiProducer *p, VpiLivePiece *pc, const char *why)
{
    if (pc->broken)
        return;
    pc->broken = 1;
    vpi_log(&p->o.logger, VP_LOG_WARNING, "%s: %s; left out", pc->item.media->source, why);
    if (p->o.source.failed)
        p->o.source.failed(p->o.source.opaque, pc->item.media, why);
}

/* Fetch and open the next piece. 0, or a negative error when the source has none. */
static int load_next(VpiProducer *p)
{
    for (;;) {
        if (p->nb_pc == MAX_PIECES)
            return AVERROR_BUG;
        VpiPlayItem item = { 0 };
        int ret;
        if (!p->have_prev) {
            int64_t tick = now_tick(p) - (int64_t)(p->o.preroll * VPI_TICKS);
            ret = p->o.source.first(p->o.source.opaque, tick, &item);
            if (ret >= 0) {
                p->src_prev_start = item.start;
                /* start at the key at or before where the clock is in this piece */
                int64_t pos = item.from + (tick - item.start);
                int64_t key = vpi_live_media_key_before(item.media, pos);
                if (key > item.from && key < item.to) {
                    item.start += key - item.from;
                    item.from = key;
                }
                vpi_log(&p->o.logger, VP_LOG_INFO, "channel producer: starts at %.3f s of the "
                        "channel clock with %s from %.3f s (%.1f s behind live)",
                        item.start / (double)VPI_TICKS, item.media ? item.media->source : "?",
                        item.from / (double)VPI_TICKS, (tick - item.start) / (double)VPI_TICKS +
                        p->o.preroll);
            }
        } else {
            ret = p->o.source.next(p->o.source.opaque, p->src_prev_start, &item);
            if (ret >= 0)
                p->src_prev_start = item.start;
        }
        if (ret < 0) {
            vpi_log(&p->o.logger, VP_LOG_ERROR, "channel producer: no piece to play (%s)",
                    vp_strerror(ret));
            return ret;
        }
        p->have_prev = 1;

        VpiLivePiece *prev = p->nb_pc ? p->pc[p->nb_pc - 1] : NULL;
        VpiLivePiece *pc = NULL;
        char why[256] = "";
        ret = vpi_live_piece_open(&item, prev, p->audio, p->reorder, &pc, why, sizeof(why));
        if (ret >= 0) {
            p->pc[p->nb_pc++] = pc;
            p->failures = 0;
            return 0;
        }
        vpi_log(&p->o.logger, VP_LOG_WARNING, "%s: %s; left out",
                item.media ? item.media->source : "?", why[0] ? why : vp_strerror(ret));
        if (p->o.source.failed && item.media)
            p->o.source.failed(p->o.source.opaque, item.media, why[0] ? why : vp_strerror(ret));
        vpi_live_media_unref(&item.media);
        if (++p->failures >= MAX_FAILURES || ret == AVERROR(ENOMEM))
            return ret;
    }
}

/* The piece covering output audio sample @p n: loads pieces until one starts after it. */
static int ensure_audio_pieces(void *opaque, int64_t n)
{
    VpiProducer *p = opaque;
    while (!p->nb_pc || p->pc[p->nb_pc - 1]->N <= n) {
        int ret = load_next(p);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Drop pieces both streams are done with. */
static void release_pieces(VpiProducer *p)
{
    int64_t a_need = vpi_live_audio_oldest_needed(p->audio);
    while (p->nb_pc > 1 && p->vk > 0 && p->pc[1]->N <= a_need) {
        vpi_live_piece_close(&p->pc[0]);
        memmove(p->pc, p->pc + 1, (size_t)(p->nb_pc - 1) * sizeof(*p->pc));
        p->nb_pc--;
        p->vk--;
    }
}

/* ---- video ------------------------------------------------------------------------------- */

static int video_next(VpiProducer *p, VpiLivePiece **out)
{
    for (;;) {
        while (p->vk >= p->nb_pc) {
            int ret = load_next(p);
            if (ret < 0)
                return ret;
        }
        /* the next piece is placed before this one's last frames go out: its place may
         * ask this one to leave its last frame out (vpi_live_audio_place) */
        if (p->vk == p->nb_pc - 1) {
            int ret = load_next(p);
            if (ret < 0)
                return ret;
        }
        VpiLivePiece *pc = p->pc[p->vk];
        if (pc->drop_last && pc->v_next == pc->v_end - 1)
            pc->v_next++;
        if (!pc->broken && pc->v_next < pc->v_end) {
            *out = pc;
            return 0;
        }
        p->vk++;
    }
}

static int write_video(VpiProducer *p, VpiLivePiece *pc)
{
    int64_t pts, dts;
    size_t size = 0;
    int key = 0;
    char why[256] = "";
    int ret = vpi_live_piece_video(pc, &p->vbuf, &p->vbuf_cap, &size, &pts, &dts, &key,
                                   why, sizeof(why));
    if (ret < 0) {
        piece_fail(p, pc, why[0] ? why : vp_strerror(ret));
        return 0;
    }
    if (p->have_dts && dts <= p->last_dts) {
        /* only a piece whose B-frame delay exceeds the output's can get here */
        dts = p->last_dts + 1;
        if (dts > pts) {
            piece_fail(p, pc, "video decode times go back (B-frame delay larger than the "
                       "channel's)");
            return 0;
        }
    }
    if ((ret = push_pending(p)) < 0)
        return ret;
    int flags = 0;
    if (key) {
        flags = VPI_CHUNK_KEY;
        /* the parameter sets the file really carries (what media->param_sets records) */
        const uint8_t *ps = pc->mp4->video.avcc;
        int ps_size = (int)pc->mp4->video.avcc_size;
        if (p->have_key && (ps_size != p->last_key_ps_size ||
                            memcmp(ps, p->last_key_ps, (size_t)ps_size)))
            flags |= VPI_CHUNK_DISCONT;
        if (!p->have_key || (flags & VPI_CHUNK_DISCONT)) {
            uint8_t *c = malloc((size_t)ps_size + 1);
            if (!c)
                return AVERROR(ENOMEM);
            memcpy(c, ps, (size_t)ps_size);
            free(p->last_key_ps);
            p->last_key_ps = c;
            p->last_key_ps_size = ps_size;
        }
        p->have_key = 1;
        /* PAT and PMT ahead of the IDR (the muxer clears the flag once done) */
        int64_t f = 0;
        av_opt_get_int(p->oc->priv_data, "mpegts_flags", 0, &f);
        av_opt_set_int(p->oc->priv_data, "mpegts_flags", f | 1 /* resend_headers */, 0);
    }
    p->pend_open = 1;
    p->pend_flags = flags;
    p->pend_pts = pts;

    AVPacket *pkt = p->pkt;
    av_packet_unref(pkt);
    if ((ret = av_new_packet(pkt, (int)size)) < 0)
        return ret;
    memcpy(pkt->data, p->vbuf, size);
    pkt->stream_index = 0;
    pkt->pts = pts + TS_OFFSET;
    pkt->dts = dts + TS_OFFSET;
    pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
    ret = av_write_frame(p->oc, pkt);
    av_packet_unref(pkt);
    if (ret < 0)
        return p->write_error ? p->write_error : ret;
    avio_flush(p->oc->pb);
    p->last_dts = dts;
    p->have_dts = 1;
    return 0;
}

static int write_audio(VpiProducer *p)
{
    AVPacket *pkt = p->pkt;
    av_packet_unref(pkt);
    int ret = vpi_live_audio_next(p->audio, pkt);
    if (ret < 0)
        return ret;
    if (!p->pend_open) {
        p->pend_open = 1;
        p->pend_flags = 0;
        p->pend_pts = pkt->pts;
    }
    pkt->stream_index = 1;
    pkt->pts += TS_OFFSET;
    pkt->dts += TS_OFFSET;
    ret = av_write_frame(p->oc, pkt);
    av_packet_unref(pkt);
    /* the muxer rounds pes_payload_size up to 170 bytes and holds smaller AAC frames
     * (silence is 13 bytes) to merge them: flush so each frame is its own PES now */
    if (ret >= 0)
        ret = av_write_frame(p->oc, NULL);
    if (ret < 0)
        return p->write_error ? p->write_error : ret;
    avio_flush(p->oc->pb);
    return 0;
}

/* ---- the thread -------------------------------------------------------------------------- */

static int run(VpiProducer *p)
{
    int ret;
    char why[256] = "";
    uint8_t asc[64];
    int asc_size = 0;

    VpiLiveAudioOpts ao = {
        .sample_rate = p->format.sample_rate,
        .channels = p->format.channels,
        .pieces = (VpiLivePiece *const *)p->pc,
        .nb_pieces = &p->nb_pc,
        .need = ensure_audio_pieces,
        .opaque = p,
        .logger = p->o.logger,
    };
    if ((ret = vpi_live_audio_new(&ao, &p->audio, asc, &asc_size, why, sizeof(why))) < 0) {
        vpi_log(&p->o.logger, VP_LOG_ERROR, "channel producer: %s", why[0] ? why :
                vp_strerror(ret));
        return ret;
    }
    /* the first piece decides where the audio starts */
    if ((ret = load_next(p)) < 0)
        return ret;
    if ((ret = open_muxer(p, asc, asc_size)) < 0) {
        vpi_log(&p->o.logger, VP_LOG_ERROR, "channel producer: opening the MPEG-TS muxer: %s",
                vp_strerror(ret));
        return ret;
    }
    vpi_live_audio_start(p->audio, p->pc[0]);

    while (!stopping(p)) {
        VpiLivePiece *pc = NULL;
        if ((ret = video_next(p, &pc)) < 0)
            return ret;
        int64_t vdts = vpi_live_piece_next_dts(pc);
        if (p->have_dts && vdts <= p->last_dts)
            vdts = p->last_dts + 1;
        int64_t adts = vpi_live_audio_next_pts(p->audio);
        int64_t t = FFMIN(vdts, adts);
        if (pace(p, t))
            break;
        /* at equal times the video first: its PES carries the PCR that audio would
         * otherwise need an extra packet for */
        ret = adts < vdts ? write_audio(p) : write_video(p, pc);
        if (ret < 0)
            return ret;
        release_pieces(p);
    }
    return 0;
}

static void *thread_main(void *arg)
{
    VpiProducer *p = arg;
    const VpLogger *prev = vpi_log_scope_enter(&p->o.logger);
    int ret = run(p);
    if (ret < 0 && ret != AVERROR_EXIT)
        vpi_log(&p->o.logger, VP_LOG_ERROR, "channel producer stopped: %s", vp_strerror(ret));
    push_pending(p);
    vpi_liveout_end(p->o.out);
    vpi_log_scope_leave(prev);
    return NULL;
}

int vpi_producer_start(const VpiProducerOpts *o, VpiProducer **out)
{
    *out = NULL;
    if (!o || !o->out || !o->source.first || !o->source.next || !o->format ||
        o->format->sample_rate <= 0 || o->format->channels < 1 || o->format->channels > 8 ||
        !(o->preroll >= 0) || !(o->lead >= 0) || o->reorder < 0)
        return AVERROR(EINVAL);
    VpiProducer *p = calloc(1, sizeof(*p));
    if (!p)
        return AVERROR(ENOMEM);
    p->o = *o;
    p->format = *o->format;
    p->o.format = &p->format;
    p->reorder = o->reorder;
    p->o.out = vpi_liveout_ref(o->out);
    p->last_pcr = -1;
    p->video_cc = -1;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    p->mono0 = vpi_now_us();
    p->rt0 = (int64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (!(p->pkt = av_packet_alloc())) {
        vpi_producer_stop(&p);
        return AVERROR(ENOMEM);
    }
    int ret = pthread_create(&p->thread, NULL, thread_main, p);
    if (ret) {
        vpi_producer_stop(&p);
        return AVERROR(ret);
    }
    p->started = 1;
    *out = p;
    return 0;
}

void vpi_producer_stop(VpiProducer **pp)
{
    VpiProducer *p = pp ? *pp : NULL;
    if (!p)
        return;
    *pp = NULL;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (p->started)
        pthread_join(p->thread, NULL);
    else
        vpi_liveout_end(p->o.out);
    vpi_live_audio_free(&p->audio);
    for (int i = 0; i < p->nb_pc; i++)
        vpi_live_piece_close(&p->pc[i]);
    close_muxer(p);
    av_packet_free(&p->pkt);
    free(p->pend);
    free(p->vbuf);
    free(p->last_key_ps);
    vpi_liveout_unref(&p->o.out);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
