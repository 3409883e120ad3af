/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The producer's endless AAC stream: `vidpipe join`'s seams (src/join/join_seams.c,
 * docs/join.md "Audio"), made to run forever, one frame at a time.
 *
 * The output has one 1024-sample grid counted from channel tick 0: slot i holds output
 * samples [1024 i, 1024 (i + 1)) and plays at tick 1024 i * 90000 / rate, computed from i
 * each time, so no rounding accumulates. An AAC frame's MDCT window spans two slots:
 * the packet put in slot i decodes (with the packet before it) to slot i, and its window
 * covers slots i and i + 1. A piece's frame j is copied into slot base / 1024 + j when that
 * window lies inside the piece's span and over its real audio; every other slot (one or
 * two at a boundary, all of a piece without audio) is encoded by FFmpeg's AAC encoder from
 * the signal the output should carry there: the pieces' decoded PCM end to end, silence
 * where there is none. The encoder starts two slots before the first slot it must fill,
 * so the encoded frames next to copied ones are made from the same signal over the slot
 * they share and the aliasing cancels.
 *
 * A piece's frames fit the grid only if its video moves by up to half a frame (10.7 ms at
 * 48 kHz): the video is moved, not the audio (vpi_live_audio_place), from the piece's
 * nominal start on the channel clock, so the shift never accumulates. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <libavutil/mem.h>

#include "live_audio.h"
#include "util/internal.h"

#define F VPI_AAC_FRAME
#define CTX_BEFORE 2            /* slots fed to a fresh encoder before the first it fills */
#define PCM_FRAMES 16           /* frames decoded at once into a piece's PCM cache */
#define HELD 8

struct VpiLiveAudio {
    VpiLiveAudioOpts o;
    int sr, ch;
    uint8_t asc[64];
    int asc_size;
    int64_t slot;               /* the next slot to put out */
    int64_t first_slot;

    AVCodecContext *enc;        /* open while a run of encoded slots lasts */
    AVFrame *frm;
    AVPacket *epkt;
    int64_t enc_in;             /* the next slot fed to the encoder */
    AVPacket *held[HELD];       /* encoded packets not yet put out, by slot */
    int64_t held_slot[HELD];
    int64_t nb_copied, nb_encoded;
};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t slot_tick(const VpiLiveAudio *a, int64_t i)
{
    return av_rescale(i * F, VPI_TICKS, a->sr);
}

static int open_encoder(VpiLiveAudio *a, AVCodecContext **out, char *why, size_t why_size)
{
    const AVCodec *enc = avcodec_find_encoder_by_name("aac");
    AVCodecContext *c;
    int ret;
    *out = NULL;
    if (!enc) {
        snprintf(why, why_size, "FFmpeg's AAC encoder is not available");
        return AVERROR_ENCODER_NOT_FOUND;
    }
    if (!(c = avcodec_alloc_context3(enc)))
        return AVERROR(ENOMEM);
    c->sample_rate = a->sr;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&c->ch_layout, a->ch);
    c->bit_rate = 64000 * a->ch;
    c->time_base = (AVRational){ 1, a->sr };
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(c, enc, NULL)) < 0 || c->frame_size != F) {
        snprintf(why, why_size, "opening the AAC encoder (%d Hz, %d channels): %s", a->sr,
                 a->ch, ret < 0 ? vp_strerror(ret) : "frame size is not 1024");
        avcodec_free_context(&c);
        return ret < 0 ? ret : VP_ERR_UNSUPPORTED;
    }
    *out = c;
    return 0;
}

int vpi_live_audio_new(const VpiLiveAudioOpts *o, VpiLiveAudio **out, uint8_t asc[64],
                       int *asc_size, char *why, size_t why_size)
{
    VpiLiveAudio *a = calloc(1, sizeof(*a));
    AVCodecContext *probe = NULL;
    int ret;
    *out = NULL;
    if (!a)
        return AVERROR(ENOMEM);
    a->o = *o;
    a->sr = o->sample_rate;
    a->ch = o->channels;
    if (!(a->frm = av_frame_alloc()) || !(a->epkt = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    /* the output's AudioSpecificConfig is the encoder's: every encoded frame fits it */
    if ((ret = open_encoder(a, &probe, why, why_size)) < 0)
        goto fail;
    if (probe->extradata_size < 2 || probe->extradata_size > 64) {
        snprintf(why, why_size, "the AAC encoder gave no AudioSpecificConfig");
        ret = AVERROR_BUG;
        goto fail;
    }
    a->asc_size = probe->extradata_size;
    memcpy(a->asc, probe->extradata, (size_t)a->asc_size);
    memcpy(asc, a->asc, (size_t)a->asc_size);
    *asc_size = a->asc_size;
    avcodec_free_context(&probe);
    *out = a;
    return 0;
fail:
    avcodec_free_context(&probe);
    vpi_live_audio_free(&a);
    return ret;
}

static void drop_held(VpiLiveAudio *a)
{
    for (int i = 0; i < HELD; i++)
        av_packet_free(&a->held[i]);
}

void vpi_live_audio_free(VpiLiveAudio **pa)
{
    VpiLiveAudio *a = pa ? *pa : NULL;
    if (!a)
        return;
    *pa = NULL;
    drop_held(a);
    avcodec_free_context(&a->enc);
    av_frame_free(&a->frm);
    av_packet_free(&a->epkt);
    free(a);
}

static int64_t round_frame(int64_t x)
{
    return floor_div(x + F / 2, F) * F;
}

void vpi_live_audio_place(const VpiLiveAudio *a, VpiLivePiece *pc, VpiLivePiece *prev)
{
    const VpiMp4Track *t = &pc->mp4->audio, *v = &pc->mp4->video;
    int sr = a->sr;
    pc->has_audio = t->kind == VPI_TRACK_AUDIO && t->nb_samples > 0 && t->sample_rate == sr &&
                    t->channels == a->ch && t->timescale == (uint32_t)sr &&
                    t->max_duration == F && t->asc_size >= 2;
    /* frames coded for another AudioSpecificConfig than the output's would be misread:
     * such audio is decoded and re-encoded whole */
    pc->copy = pc->has_audio && t->asc[0] == a->asc[0] &&
               (t->asc[1] & 0xf8) == (a->asc[1] & 0xf8);
    if (t->kind == VPI_TRACK_AUDIO && !pc->has_audio)
        vpi_log(&a->o.logger, VP_LOG_WARNING, "%s: audio is %d Hz, %d channels, %u/s frames "
                "of up to %u samples, not the channel's %d Hz, %d channels in frames of 1024: "
                "played silent", pc->item.media->source, t->sample_rate, t->channels,
                t->timescale, t->max_duration, sr, a->ch);

    int64_t Nstar = av_rescale(pc->start, sr, VPI_TICKS);
    int64_t f = av_rescale(pc->from, sr, VPI_TICKS);
    int64_t Jstar = Nstar - f;
    pc->nominal = av_rescale(pc->item.to, sr, VPI_TICKS);
    int64_t e = 0;
    if (pc->has_audio) {
        /* media sample m plays at piece time m + a0 (0 = the video's first presented
         * frame), from the two tracks' edit lists, as the join reads them */
        vpi_mp4_audio_span(v, t, pc->pts_min, &pc->a0, &pc->real_start, &pc->real_end);
        /* after the cut, a little of what follows (the seam's context), never more */
        pc->real_end = FFMIN(pc->real_end, pc->nominal + 2 * F);
        if (pc->real_end <= pc->real_start)
            pc->has_audio = pc->copy = 0;
    }
    /* Where the video goes. A client's decoder puts frames on its own 1/fps grid: a frame
     * made shorter than its neighbours can land on the slot of the one before it (FFmpeg:
     * "non monotonically increasing dts"), so the previous piece's last frame is never
     * shortened: of the grid positions within one AAC frame of the nominal place, the
     * first at or after the previous piece's shift; when all are before it, the previous
     * piece leaves out its last frame (last in decode order, so nothing refers to it),
     * which gives one frame of room, and the position nearest the nominal one is taken.
     * Either way the shift stays within one AAC frame of the nominal place, whatever
     * came before: nothing accumulates. */
    int contiguous = prev && prev->start + (prev->item.to - prev->from) == pc->start;
    int64_t prev_e = contiguous ? prev->eps_t : INT64_MIN;
    if (pc->copy) {
        int64_t bstar = Jstar + pc->a0, base = round_frame(bstar);
        int64_t best = INT64_MAX, nearest = INT64_MAX, latest = INT64_MIN;
        for (int c = -2; c <= 2; c++) {
            int64_t ec = base + c * F - bstar;
            if (llabs(ec) > F)
                continue;
            int64_t et = av_rescale(ec, VPI_TICKS, sr);
            if (!contiguous) {
                if (best == INT64_MAX || llabs(ec) < llabs(best))
                    best = ec;
                continue;
            }
            if (et >= prev_e && (best == INT64_MAX || ec < best))
                best = ec;
            if (et >= prev_e - prev->last_dur &&
                (nearest == INT64_MAX || llabs(ec) < llabs(nearest)))
                nearest = ec;
            latest = FFMAX(latest, ec);
        }
        if (best != INT64_MAX) {
            e = best;
        } else if (nearest != INT64_MAX && prev->v_next < prev->v_end - 1 &&
                   prev->v_end - prev->v_first > 1 && !prev->drop_last) {
            const VpiMp4Track *pv = &prev->mp4->video;
            const VpiMp4Sample *ls = &pv->samples[prev->v_end - 1];
            prev->drop_last = 1;
            prev->drop_t = av_rescale(ls->dts + ls->cts - prev->pts_min, VPI_TICKS,
                                      pv->timescale);
            prev->drop_dur = prev->last_dur;
            e = nearest;
        } else {
            e = latest;     /* the least shortening left */
        }
    } else if (contiguous) {
        e = av_rescale(prev_e, sr, VPI_TICKS);
    }
    pc->J = Jstar + e;
    pc->N = Nstar + e;
    pc->eps_t = !pc->copy && contiguous ? prev_e : av_rescale(e, VPI_TICKS, sr);
}

void vpi_live_audio_start(VpiLiveAudio *a, VpiLivePiece *first)
{
    first->first = 1;
    a->slot = a->first_slot = floor_div(first->N, F);
}

int64_t vpi_live_audio_next_pts(const VpiLiveAudio *a)
{
    return slot_tick(a, a->slot);
}

int64_t vpi_live_audio_oldest_needed(const VpiLiveAudio *a)
{
    int64_t s = a->enc ? FFMIN(a->enc_in, a->slot) : a->slot;
    return (s - CTX_BEFORE - 2) * F;
}

/* The piece playing output sample @p n (the first piece also owns what is before it). */
static VpiLivePiece *owner(const VpiLiveAudio *a, int64_t n, VpiLivePiece **next)
{
    VpiLivePiece *const *pc = a->o.pieces;
    int nb = *a->o.nb_pieces, k = 0;
    while (k + 1 < nb && pc[k + 1]->N <= n)
        k++;
    if (next)
        *next = k + 1 < nb ? pc[k + 1] : NULL;
    return pc[k];
}

/* Decode the piece's frames from the one holding media sample @p m on. */
static int pcm_fill(const VpiLiveAudio *a, VpiLivePiece *pc, int64_t m)
{
    const VpiMp4Track *t = &pc->mp4->audio;
    AVPacket *pkt = NULL;
    AVFrame *frm = NULL;
    int ret = 0;
    if (!pc->dec) {
        const AVCodec *dec = avcodec_find_decoder(AV_CODEC_ID_AAC);
        if (!dec)
            return AVERROR_DECODER_NOT_FOUND;
        if (!(pc->dec = avcodec_alloc_context3(dec)))
            return AVERROR(ENOMEM);
        if (!(pc->dec->extradata = av_mallocz((size_t)t->asc_size +
                                               AV_INPUT_BUFFER_PADDING_SIZE)))
            return AVERROR(ENOMEM);
        memcpy(pc->dec->extradata, t->asc, (size_t)t->asc_size);
        pc->dec->extradata_size = t->asc_size;
        pc->dec->request_sample_fmt = AV_SAMPLE_FMT_FLTP;
        if ((ret = avcodec_open2(pc->dec, dec, NULL)) < 0)
            return ret;
        for (int c = 0; c < a->ch; c++)
            if (!(pc->pcm[c] = av_malloc(PCM_FRAMES * F * sizeof(float))))
                return AVERROR(ENOMEM);
    }
    int64_t first = floor_div(m, F);
    int64_t last = FFMIN(first + PCM_FRAMES, t->nb_samples) - 1;
    pc->pcm_m0 = first * F;
    pc->pcm_len = 0;
    if (last < first)
        return 0;
    if (!(pkt = av_packet_alloc()) || !(frm = av_frame_alloc())) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    avcodec_flush_buffers(pc->dec);
    /* two frames before: the first decoded one lacks its overlap partner */
    for (int64_t j = FFMAX(0, first - 2); j <= last; j++) {
        const VpiMp4Sample *s = &t->samples[j];
        if (s->size == 0 || s->size > 65536) {
            ret = AVERROR_INVALIDDATA;
            goto end;
        }
        if ((ret = av_new_packet(pkt, (int)s->size)) < 0 ||
            (ret = vpi_live_piece_read(pc, s->pos, pkt->data, s->size)) < 0)
            goto end;
        ret = avcodec_send_packet(pc->dec, pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            goto end;
        ret = avcodec_receive_frame(pc->dec, frm);
        if (ret == AVERROR(EAGAIN))
            continue;
        if (ret < 0)
            goto end;
        if (frm->nb_samples != F || frm->format != AV_SAMPLE_FMT_FLTP ||
            frm->ch_layout.nb_channels != a->ch) {
            ret = AVERROR_INVALIDDATA;
            goto end;
        }
        if (j >= first) {
            for (int c = 0; c < a->ch; c++)
                memcpy(pc->pcm[c] + (j - first) * F, frm->extended_data[c], F * sizeof(float));
            pc->pcm_len = (j - first + 1) * F;
        }
        av_frame_unref(frm);
    }
    ret = 0;
end:
    av_packet_free(&pkt);
    av_frame_free(&frm);
    return ret;
}

/* What the output carries at piece time @p t of @p pc (join_seams.c's seg_sample): a gap of
 * up to two frames past the piece's audio, when that ends near its video, is filled by
 * mirroring its last samples (keeps the level); elsewhere silence where it has no audio. */
static void piece_sample(const VpiLiveAudio *a, VpiLivePiece *pc, int64_t t, float *v)
{
    for (int c = 0; c < a->ch; c++)
        v[c] = 0;
    if (!pc->has_audio || pc->broken)
        return;
    if (t >= pc->real_end && t - pc->real_end < 2 * F && pc->real_end >= pc->nominal - 2 * F)
        t = 2 * pc->real_end - 1 - t;
    if (t < pc->real_start || t >= pc->real_end)
        return;
    int64_t m = t - pc->a0;
    if (m < pc->pcm_m0 || m >= pc->pcm_m0 + pc->pcm_len) {
        int ret = pcm_fill(a, pc, m);
        if (ret < 0) {
            pc->broken = 1;
            vpi_log(&a->o.logger, VP_LOG_WARNING, "%s: audio frame near sample %lld cannot be "
                    "decoded (%s); silence from here", pc->item.media->source, (long long)m,
                    vp_strerror(ret));
            return;
        }
        if (m >= pc->pcm_m0 + pc->pcm_len)
            return;
    }
    for (int c = 0; c < a->ch; c++)
        v[c] = pc->pcm[c][m - pc->pcm_m0];
}

static int feed(VpiLiveAudio *a, int64_t s)
{
    int ret;
    /* every sample of the slot, and the encoder's look-ahead, needs its owner loaded */
    if ((ret = a->o.need(a->o.opaque, (s + 2) * F)) < 0)
        return ret;
    av_frame_unref(a->frm);
    a->frm->nb_samples = F;
    a->frm->format = AV_SAMPLE_FMT_FLTP;
    a->frm->sample_rate = a->sr;
    if ((ret = av_channel_layout_copy(&a->frm->ch_layout, &a->enc->ch_layout)) < 0 ||
        (ret = av_frame_get_buffer(a->frm, 0)) < 0)
        return ret;
    for (int64_t i = 0; i < F; i++) {
        int64_t n = s * F + i;
        VpiLivePiece *pc = owner(a, n, NULL);
        float v[8];
        piece_sample(a, pc, n - pc->J, v);
        for (int c = 0; c < a->ch; c++)
            ((float *)a->frm->extended_data[c])[i] = v[c];
    }
    a->frm->pts = s * F;
    if ((ret = avcodec_send_frame(a->enc, a->frm)) < 0)
        return ret;
    while ((ret = avcodec_receive_packet(a->enc, a->epkt)) >= 0) {
        int64_t slot = floor_div(a->epkt->pts, F);
        int h = (int)(((slot % HELD) + HELD) % HELD);
        if (slot >= a->slot) {
            av_packet_free(&a->held[h]);
            a->held[h] = av_packet_clone(a->epkt);
            a->held_slot[h] = slot;
            if (!a->held[h]) {
                av_packet_unref(a->epkt);
                return AVERROR(ENOMEM);
            }
        }
        av_packet_unref(a->epkt);
    }
    return ret == AVERROR(EAGAIN) ? 0 : ret;
}

static int encode_slot(VpiLiveAudio *a, int64_t i, AVPacket *pkt)
{
    char why[256] = "";
    int ret;
    if (!a->enc) {
        if ((ret = open_encoder(a, &a->enc, why, sizeof(why))) < 0)
            return ret;
        drop_held(a);
        a->enc_in = i - CTX_BEFORE;
    }
    int h = (int)(((i % HELD) + HELD) % HELD);
    while (!(a->held[h] && a->held_slot[h] == i)) {
        if (a->enc_in > i + HELD - 2) {
            vpi_log(&a->o.logger, VP_LOG_ERROR, "the AAC encoder gave no frame for slot %lld",
                    (long long)i);
            return AVERROR_BUG;
        }
        if ((ret = feed(a, a->enc_in++)) < 0)
            return ret;
    }
    av_packet_move_ref(pkt, a->held[h]);
    av_packet_free(&a->held[h]);
    a->nb_encoded++;
    return 0;
}

/* Frame j of @p pc copied into slot @p i, when its window lies in the piece's span and its
 * real audio. 1 when copied. */
static int try_copy(VpiLiveAudio *a, int64_t i, AVPacket *pkt)
{
    int64_t w0 = i * F, w1 = w0 + 2 * F;
    VpiLivePiece *next = NULL, *pc = owner(a, w0, &next);
    if (!pc->copy || pc->broken || !next)
        return 0;
    int64_t span0 = pc->first ? INT64_MIN : pc->N;
    if (w0 < span0 || w1 > next->N)
        return 0;
    int64_t h0 = FFMAX(w0, a->first_slot * F);
    if (h0 < w1 && (h0 < pc->J + pc->real_start || w1 > pc->J + pc->real_end))
        return 0;
    int64_t j = i - floor_div(pc->J + pc->a0, F);
    const VpiMp4Track *t = &pc->mp4->audio;
    if (j < 0 || j >= t->nb_samples)
        return 0;
    const VpiMp4Sample *s = &t->samples[j];
    int ret;
    if (s->size == 0 || s->size > 65536)
        ret = AVERROR_INVALIDDATA;
    else if ((ret = av_new_packet(pkt, (int)s->size)) >= 0)
        ret = vpi_live_piece_read(pc, s->pos, pkt->data, s->size);
    if (ret < 0) {
        av_packet_unref(pkt);
        pc->broken = 1;
        vpi_log(&a->o.logger, VP_LOG_WARNING, "%s: audio frame %lld: %s; silence from here",
                pc->item.media->source, (long long)j, vp_strerror(ret));
        return 0;
    }
    return 1;
}

int vpi_live_audio_next(VpiLiveAudio *a, AVPacket *pkt)
{
    int64_t i = a->slot;
    int ret;
    if ((ret = a->o.need(a->o.opaque, (i + 2) * F)) < 0)
        return ret;
    if ((ret = try_copy(a, i, pkt)) > 0) {
        /* a run of encoded slots ended: the next run starts a fresh encoder with its own
         * context */
        avcodec_free_context(&a->enc);
        drop_held(a);
        a->nb_copied++;
    } else if ((ret = encode_slot(a, i, pkt)) < 0) {
        return ret;
    }
    pkt->pts = pkt->dts = slot_tick(a, i);
    pkt->duration = slot_tick(a, i + 1) - pkt->pts;
    pkt->flags |= AV_PKT_FLAG_KEY;
    a->slot++;
    return 0;
}
