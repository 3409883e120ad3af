/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* AAC seams. Each segment's AAC frames are copied where the output's 1024-sample frame
 * grid meets them exactly; only the frames whose MDCT window straddles a join (one or two
 * per join), or that must carry silence, are decoded from the sources, put end to end as
 * PCM and re-encoded. Why this is clean: frame i decodes to slot i from the windows of
 * frames i-1 and i (each window spans two slots). A copied frame next to a re-encoded one
 * still decodes right when the re-encoded frame was encoded from the same signal over the
 * slot they share (time-domain aliasing cancels), so re-encoded frames are fed with a few
 * frames of context on both sides. See docs/join.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/mem.h>

#include "util/internal.h"
#include "join_internal.h"

#define CTX_BEFORE 2   /* frames of context fed to the encoder before a region */
#define CTX_AFTER 2
#define FRAME VPI_AAC_FRAME

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Decoded PCM of one segment over media samples [m0, m0 + len). */
typedef struct Pcm {
    int channels;
    int64_t m0, len;
    float *ch[8];
} Pcm;

static void pcm_free(Pcm *p)
{
    for (int c = 0; c < 8; c++)
        av_freep(&p->ch[c]);
    memset(p, 0, sizeof(*p));
}

/* A few ranges per segment: a join needs the intro's end and the outro's start, and
 * the outro's range moves by a frame with the clip's length. */
#define CACHE_RANGES 4

struct VpiSeamCache {
    Pcm pcm[CACHE_RANGES];
    int next;
};

void vpi_seam_cache_free(VpiSeamCache **c)
{
    if (!*c)
        return;
    for (int i = 0; i < CACHE_RANGES; i++)
        pcm_free(&(*c)->pcm[i]);
    av_freep(c);
}

static int pcm_copy(Pcm *dst, const Pcm *src)
{
    *dst = (Pcm){ .channels = src->channels, .m0 = src->m0, .len = src->len };
    for (int c = 0; c < src->channels; c++) {
        if (!(dst->ch[c] = av_memdup(src->ch[c], (size_t)src->len * sizeof(float)))) {
            pcm_free(dst);
            return AVERROR(ENOMEM);
        }
    }
    return 0;
}

static const Pcm *cache_find(const VpiSeamCache *c, const Pcm *want)
{
    for (int i = 0; c && i < CACHE_RANGES; i++)
        if (c->pcm[i].len && c->pcm[i].m0 == want->m0 && c->pcm[i].len == want->len &&
            c->pcm[i].channels == want->channels)
            return &c->pcm[i];
    return NULL;
}

/* Keep a copy of @p pcm in the segment's cache; without memory it is simply not kept. */
static void cache_put(VpiSeamCache **pc, const Pcm *pcm)
{
    if (!*pc && !(*pc = av_mallocz(sizeof(**pc))))
        return;
    VpiSeamCache *c = *pc;
    pcm_free(&c->pcm[c->next]);
    if (pcm_copy(&c->pcm[c->next], pcm) == 0)
        c->next = (c->next + 1) % CACHE_RANGES;
}

static int read_packet(int fd, const VpiMp4Sample *s, AVPacket *pkt)
{
    int ret = av_new_packet(pkt, (int)s->size);
    return ret < 0 ? ret : vpi_pread_full(fd, pkt->data, s->size, s->pos);
}

/* Decode the frames of @p seg needed for media samples [m0, m1). */
static int decode_range(const VpiSeamSeg *seg, int channels, int64_t m0, int64_t m1, Pcm *out,
                        char *why, size_t why_size)
{
    const VpiMp4Track *t = seg->t;
    const AVCodec *dec = avcodec_find_decoder(AV_CODEC_ID_AAC);
    AVCodecContext *ctx = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frm = av_frame_alloc();
    int ret = 0;

    memset(out, 0, sizeof(*out));
    if (m0 < 0)
        m0 = 0;
    if (m1 > t->nb_samples * FRAME)
        m1 = t->nb_samples * FRAME;
    if (m1 <= m0)
        goto end;
    out->channels = channels;
    out->m0 = floor_div(m0, FRAME) * FRAME;
    int64_t first = out->m0 / FRAME, last = (m1 - 1) / FRAME;
    out->len = (last - first + 1) * FRAME;
    const Pcm *hit = seg->cache ? cache_find(*seg->cache, out) : NULL;
    if (hit) {
        ret = pcm_copy(out, hit);
        goto end;
    }
    for (int c = 0; c < channels; c++)
        if (!(out->ch[c] = av_calloc((size_t)out->len, sizeof(float)))) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
    if (!dec || !pkt || !frm || !(ctx = avcodec_alloc_context3(dec))) {
        ret = dec ? AVERROR(ENOMEM) : AVERROR_DECODER_NOT_FOUND;
        goto end;
    }
    if (!(ctx->extradata = av_mallocz((size_t)t->asc_size + AV_INPUT_BUFFER_PADDING_SIZE))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    memcpy(ctx->extradata, t->asc, (size_t)t->asc_size);
    ctx->extradata_size = t->asc_size;
    ctx->request_sample_fmt = AV_SAMPLE_FMT_FLTP;
    if ((ret = avcodec_open2(ctx, dec, NULL)) < 0)
        goto end;
    /* Two frames before the range: the first decoded frame lacks its overlap partner. */
    int64_t start = first >= 2 ? first - 2 : 0;
    for (int64_t j = start; j <= last; j++) {
        if ((ret = read_packet(seg->fd, &t->samples[j], pkt)) < 0)
            goto end;
        ret = avcodec_send_packet(ctx, pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            goto end;
        ret = avcodec_receive_frame(ctx, frm);
        if (ret == AVERROR(EAGAIN))
            continue;
        if (ret < 0)
            goto end;
        if (frm->nb_samples != FRAME || frm->format != AV_SAMPLE_FMT_FLTP ||
            frm->ch_layout.nb_channels != channels) {
            snprintf(why, why_size, "audio frame %lld decodes to %d samples of %d channels "
                     "(expected %d of %d)", (long long)j, frm->nb_samples,
                     frm->ch_layout.nb_channels, FRAME, channels);
            ret = VP_ERR_UNSUPPORTED;
            goto end;
        }
        if (j >= first)
            for (int c = 0; c < channels; c++)
                memcpy(out->ch[c] + (j - first) * FRAME, frm->extended_data[c],
                       FRAME * sizeof(float));
        av_frame_unref(frm);
    }
    if (seg->cache)
        cache_put(seg->cache, out);
    ret = 0;

end:
    if (ret < 0 && !why[0])
        snprintf(why, why_size, "decoding audio: %s", vp_strerror(ret));
    avcodec_free_context(&ctx);
    av_frame_free(&frm);
    av_packet_free(&pkt);
    if (ret < 0)
        pcm_free(out);
    return ret;
}

/* The sample of segment @p s at its presentation time @p t, from @p pcm; silence where
 * the segment has no audio. A join moved by up to one AAC frame can reach a little past a
 * segment's audio: that is filled by mirroring the last samples, which keeps the level. */
static float seg_sample(const VpiSeamSeg *s, const Pcm *pcm, int c, int64_t t)
{
    if (!s->t)
        return 0;
    if (t >= s->real_end && t - s->real_end < 2 * FRAME && s->real_end >= s->nominal - 2 * FRAME)
        t = 2 * s->real_end - 1 - t;
    if (t < s->real_start || t >= s->real_end)
        return 0;
    int64_t m = t - s->a0 - pcm->m0;
    if (m < 0 || m >= pcm->len)
        return 0;
    return pcm->ch[c][m];
}

/* Whose content is at output media position n. */
static int owner(const VpiSeamSeg *segs, int nb, int64_t n)
{
    int lo = 0, hi = nb - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (segs[mid].J <= n)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

typedef struct Encoder {
    AVCodecContext *ctx;
    AVFrame *frm;
    AVPacket *pkt;
    int64_t next_pts;
} Encoder;

static int encoder_open(Encoder *e, const VpiSeamParams *p, char *why, size_t why_size)
{
    const AVCodec *enc = avcodec_find_encoder_by_name("aac");
    int ret;
    if (!enc) {
        snprintf(why, why_size, "FFmpeg's AAC encoder is not available");
        return AVERROR_ENCODER_NOT_FOUND;
    }
    if (!(e->ctx = avcodec_alloc_context3(enc)) || !(e->frm = av_frame_alloc()) ||
        !(e->pkt = av_packet_alloc()))
        return AVERROR(ENOMEM);
    e->ctx->sample_rate = p->sample_rate;
    e->ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&e->ctx->ch_layout, p->channels);
    e->ctx->bit_rate = p->bit_rate > 0 ? p->bit_rate : 64000 * p->channels;
    e->ctx->time_base = (AVRational){ 1, p->sample_rate };
    e->ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    /* FFmpeg's "fast" quantizer search: five times the speed of its default "twoloop"
     * (0.16 against 0.8 ms a stereo frame, measured), and at higher rates the better
     * sounding of the two by its maintainers' account (the commit that once made it the
     * default). From 48 kb/s a channel (96 kb/s stereo; phones and cameras record 128 and
     * up) it is used; below, twoloop, which they found better at low rates. */
    AVDictionary *opts = NULL;
    if (e->ctx->bit_rate >= 48000 * p->channels)
        av_dict_set(&opts, "aac_coder", "fast", 0);
    ret = avcodec_open2(e->ctx, enc, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        snprintf(why, why_size, "opening the AAC encoder: %s", vp_strerror(ret));
        return ret;
    }
    /* The re-encoded frames go into a stream described by the output's
     * AudioSpecificConfig: object type, rate index and channel configuration must agree. */
    const uint8_t *a = e->ctx->extradata, *b = p->asc;
    if (e->ctx->extradata_size < 2 || p->asc_size < 2 || a[0] != b[0] ||
        (a[1] & 0xf8) != (b[1] & 0xf8) || e->ctx->frame_size != FRAME) {
        snprintf(why, why_size, "audio is not plain AAC-LC (AudioSpecificConfig %02x%02x): "
                 "its joins cannot be re-encoded", b[0], p->asc_size > 1 ? b[1] : 0);
        return VP_ERR_UNSUPPORTED;
    }
    return 0;
}

static void encoder_close(Encoder *e)
{
    avcodec_free_context(&e->ctx);
    av_frame_free(&e->frm);
    av_packet_free(&e->pkt);
}

static int arena_add(VpiSeamPlan *plan, const uint8_t *d, size_t n, int64_t *off)
{
    if (plan->arena_len + n > plan->arena_cap) {
        size_t cap = plan->arena_cap ? plan->arena_cap * 2 : 16384;
        while (cap < plan->arena_len + n)
            cap *= 2;
        uint8_t *a = av_realloc(plan->arena, cap);
        if (!a)
            return AVERROR(ENOMEM);
        plan->arena = a;
        plan->arena_cap = cap;
    }
    memcpy(plan->arena + plan->arena_len, d, n);
    *off = (int64_t)plan->arena_len;
    plan->arena_len += n;
    return 0;
}

/* Encoder output: keep the packets that land on slots [a, b] of the region whose first
 * fed sample (pts region_pts) is output position n0. */
static int take_packets(Encoder *e, VpiSeamPlan *plan, int64_t region_pts, int64_t n0,
                        int64_t a, int64_t b, int64_t *got)
{
    int ret;
    while ((ret = avcodec_receive_packet(e->ctx, e->pkt)) >= 0) {
        int64_t slot = floor_div(e->pkt->pts - region_pts + n0, FRAME);
        if (e->pkt->pts >= region_pts - FRAME && slot >= a && slot <= b &&
            plan->seg[slot] == -1 && plan->size[slot] == 0) {
            int64_t off;
            if ((ret = arena_add(plan, e->pkt->data, (size_t)e->pkt->size, &off)) < 0) {
                av_packet_unref(e->pkt);
                return ret;
            }
            plan->frame[slot] = off;
            plan->size[slot] = (uint32_t)e->pkt->size;
            (*got)++;
        }
        av_packet_unref(e->pkt);
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

static int encode_region(Encoder *e, const VpiSeamSeg *segs, int nb, const VpiSeamParams *p,
                         VpiSeamPlan *plan, int64_t a, int64_t b, char *why, size_t why_size)
{
    int64_t n0 = (a - CTX_BEFORE) * FRAME, n1 = (b + 1 + CTX_AFTER) * FRAME;
    Pcm pcm[2] = { 0 };
    int kseg[2] = { -1, -1 };
    int ret = 0;

    /* At most two segments meet in a region (a segment shorter than a region is handled
     * too, one segment at a time, by the loop below falling back to a fresh decode). */
    int64_t region_pts = e->next_pts, got = 0;
    for (int64_t f = 0; f * FRAME < n1 - n0; f++) {
        int64_t fs = n0 + f * FRAME;
        av_frame_unref(e->frm);
        e->frm->nb_samples = FRAME;
        e->frm->format = AV_SAMPLE_FMT_FLTP;
        e->frm->sample_rate = p->sample_rate;
        if ((ret = av_channel_layout_copy(&e->frm->ch_layout, &e->ctx->ch_layout)) < 0 ||
            (ret = av_frame_get_buffer(e->frm, 0)) < 0)
            goto end;
        for (int64_t i = 0; i < FRAME; i++) {
            int64_t n = fs + i;
            int k = owner(segs, nb, n);
            const VpiSeamSeg *s = &segs[k];
            float v[8] = { 0 };
            if (n >= segs[0].J && s->t) {
                int slot = kseg[0] == k ? 0 : kseg[1] == k ? 1 : -1;
                if (slot < 0) {
                    /* Decode what this region needs from segment k. */
                    slot = kseg[0] < 0 ? 0 : kseg[1] < 0 ? 1 : (kseg[0] = -1, pcm_free(&pcm[0]), 0);
                    int64_t t0 = FFMAX(n, s->J) - s->J, t1 = FFMIN(n1, k + 1 < nb ? segs[k + 1].J
                                                                                  : n1) - s->J;
                    int64_t lo = FFMIN(t0, s->real_end - 2 * FRAME);
                    ret = decode_range(s, p->channels, lo - s->a0, t1 - s->a0 + 1, &pcm[slot],
                                       why, why_size);
                    if (ret < 0)
                        goto end;
                    kseg[slot] = k;
                }
                for (int c = 0; c < p->channels; c++)
                    v[c] = seg_sample(s, &pcm[slot], c, n - s->J);
            }
            for (int c = 0; c < p->channels; c++)
                ((float *)e->frm->extended_data[c])[i] = v[c];
        }
        e->frm->pts = e->next_pts;
        e->next_pts += FRAME;
        if ((ret = avcodec_send_frame(e->ctx, e->frm)) < 0 ||
            (ret = take_packets(e, plan, region_pts, n0, a, b, &got)) < 0)
            goto end;
    }
    /* The encoder holds back a frame or two: push silence until the region is out. */
    for (int extra = 0; got < b - a + 1 && extra < 8; extra++) {
        av_frame_unref(e->frm);
        e->frm->nb_samples = FRAME;
        e->frm->format = AV_SAMPLE_FMT_FLTP;
        e->frm->sample_rate = p->sample_rate;
        if ((ret = av_channel_layout_copy(&e->frm->ch_layout, &e->ctx->ch_layout)) < 0 ||
            (ret = av_frame_get_buffer(e->frm, 0)) < 0)
            goto end;
        for (int c = 0; c < p->channels; c++)
            memset(e->frm->extended_data[c], 0, FRAME * sizeof(float));
        e->frm->pts = e->next_pts;
        e->next_pts += FRAME;
        if ((ret = avcodec_send_frame(e->ctx, e->frm)) < 0 ||
            (ret = take_packets(e, plan, region_pts, n0, a, b, &got)) < 0)
            goto end;
    }
    if (got != b - a + 1) {
        snprintf(why, why_size, "the AAC encoder returned %lld of %lld frames",
                 (long long)got, (long long)(b - a + 1));
        ret = AVERROR_BUG;
        goto end;
    }
    plan->nb_encoded += got;
    ret = 0;

end:
    pcm_free(&pcm[0]);
    pcm_free(&pcm[1]);
    return ret;
}

int vpi_seam_plan(const VpiSeamSeg *segs, int nb, const VpiSeamParams *p, VpiSeamPlan *plan,
                  char *why, size_t why_size)
{
    Encoder enc = { 0 };
    int ret = 0;

    memset(plan, 0, sizeof(*plan));
    if (p->end <= 0 || p->channels < 1 || p->channels > 8)
        return AVERROR(EINVAL);
    int64_t nslots = (p->end + FRAME - 1) / FRAME;
    plan->nb_slots = nslots;
    plan->seg = malloc((size_t)nslots * sizeof(*plan->seg));
    plan->frame = calloc((size_t)nslots, sizeof(*plan->frame));
    plan->size = calloc((size_t)nslots, sizeof(*plan->size));
    if (!plan->seg || !plan->frame || !plan->size) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    for (int64_t i = 0; i < nslots; i++)
        plan->seg[i] = -1;

    /* Copy a segment's frame where its whole window lies in the segment's own span (or in
     * what nobody hears: before the output starts, after it ends) and over real audio. */
    for (int k = 0; k < nb; k++) {
        const VpiSeamSeg *s = &segs[k];
        if (!s->t)
            continue;
        int64_t span0 = k == 0 ? INT64_MIN : s->J;
        int64_t span1 = k + 1 < nb ? segs[k + 1].J : INT64_MAX;
        int64_t real0 = s->J + s->real_start, real1 = s->J + s->real_end;
        for (int64_t j = 0; j < s->t->nb_samples; j++) {
            int64_t i = s->base / FRAME + j;
            if (i < 0 || i >= nslots)
                continue;
            int64_t w0 = i * FRAME, w1 = w0 + 2 * FRAME;
            if (w0 < span0 || w1 > span1)
                continue;
            /* the audible part of the window must be real audio */
            int64_t h0 = FFMAX(w0, FFMAX(s->J, segs[0].J)), h1 = FFMIN(w1, p->end);
            if (h0 < h1 && (h0 < real0 || h1 > real1))
                continue;
            plan->seg[i] = k;
            plan->frame[i] = j;
        }
    }

    /* Re-encode every run of slots nobody could copy. */
    for (int64_t i = 0; i < nslots;) {
        if (plan->seg[i] >= 0) {
            i++;
            continue;
        }
        int64_t a = i;
        while (i < nslots && plan->seg[i] < 0)
            i++;
        if (!enc.ctx && (ret = encoder_open(&enc, p, why, why_size)) < 0)
            goto fail;
        if ((ret = encode_region(&enc, segs, nb, p, plan, a, i - 1, why, why_size)) < 0)
            goto fail;
    }
    encoder_close(&enc);
    return 0;

fail:
    encoder_close(&enc);
    vpi_seam_plan_free(plan);
    return ret;
}

void vpi_seam_plan_free(VpiSeamPlan *plan)
{
    free(plan->seg);
    free(plan->frame);
    free(plan->size);
    av_free(plan->arena);
    memset(plan, 0, sizeof(*plan));
}
