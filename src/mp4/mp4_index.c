/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sample tables of an MP4 file, read straight from its moov: every sample's offset,
 * size, timestamps and sync flag, plus the sample entry bytes a writer copies verbatim.
 * Every count and offset comes from a hostile file: checked before use. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mathematics.h>
#include <libavutil/intfloat.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mathematics.h>

#include "bitstream/bitstream.h"
#include "util/internal.h"
#include "mp4.h"

#define MAX_MOOV (256 << 20)
#define MAX_SAMPLES (64 << 20)
#define TAG(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

typedef struct Box {
    uint32_t type;
    const uint8_t *data;   /* payload */
    size_t size;           /* payload size */
} Box;

/* Next child box of [*p, end); returns 1, 0 at the end, <0 if malformed. */
static int next_box(const uint8_t **p, const uint8_t *end, Box *b)
{
    size_t left = (size_t)(end - *p);
    if (left < 8)
        return 0;
    uint64_t size = AV_RB32(*p);
    size_t hdr = 8;
    b->type = AV_RB32(*p + 4);
    if (size == 1) {
        if (left < 16)
            return -1;
        size = AV_RB64(*p + 8);
        hdr = 16;
    } else if (size == 0) {
        size = left;
    }
    if (size < hdr || size > left)
        return -1;
    b->data = *p + hdr;
    b->size = (size_t)size - hdr;
    *p += size;
    return 1;
}

static int find_box(const uint8_t *data, size_t size, uint32_t type, Box *out)
{
    const uint8_t *p = data, *end = data + size;
    Box b;
    int r;
    while ((r = next_box(&p, end, &b)) > 0)
        if (b.type == type) {
            *out = b;
            return 1;
        }
    return r;
}

#define FAIL(...)                                  \
    do {                                           \
        snprintf(why, why_size, __VA_ARGS__);      \
        return VP_ERR_CORRUPT;                     \
    } while (0)

typedef struct Tables {
    Box stsd, stts, ctts, stss, stsc, stsz, stco;
    int co64, have_ctts, have_stss;
} Tables;

/* esds: ES_Descriptor > DecoderConfigDescriptor > DecoderSpecificInfo. */
static int desc_len(const uint8_t **p, const uint8_t *end, uint32_t *len)
{
    *len = 0;
    for (int i = 0; i < 4; i++) {
        if (*p >= end)
            return -1;
        uint8_t c = *(*p)++;
        *len = (*len << 7) | (c & 0x7f);
        if (!(c & 0x80))
            break;
    }
    return *len <= (size_t)(end - *p) ? 0 : -1;
}

static void parse_esds(const uint8_t *d, size_t size, VpiMp4Track *t)
{
    uint32_t len;
    if (size < 5)
        return;
    const uint8_t *p = d + 4, *end = d + size; /* version/flags */
    if (*p++ != 3 || desc_len(&p, end, &len) < 0)
        return;
    end = p + len;
    /* ES_Descriptor: ES_ID, flags, then what the flags announce */
    if (end - p < 3)
        return;
    uint8_t flags = p[2];
    size_t skip = 3 + (flags & 0x80 ? 2 : 0);
    if ((size_t)(end - p) <= skip)
        return;
    p += skip;
    if (flags & 0x40) {
        skip = 1 + (size_t)*p;
        if ((size_t)(end - p) <= skip)
            return;
        p += skip;
    }
    if (flags & 0x20) {
        if (end - p <= 2)
            return;
        p += 2;
    }
    if (*p++ != 4 || desc_len(&p, end, &len) < 0 || len < 13)
        return;
    const uint8_t *dc_end = p + len;
    t->avg_bitrate = AV_RB32(p + 9);
    p += 13;
    if (p >= dc_end || *p++ != 5 || desc_len(&p, dc_end, &len) < 0)
        return;
    if (len > sizeof(t->asc) || len < 2)
        return;
    memcpy(t->asc, p, len);
    t->asc_size = (int)len;
    static const int rates[13] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                   22050, 16000, 12000, 11025, 8000, 7350 };
    int aot = p[0] >> 3;
    int fi = ((p[0] & 7) << 1) | (p[1] >> 7);
    t->object_type = aot;
    if (fi < 13)
        t->sample_rate = rates[fi];
    int cc = (p[1] >> 3) & 0xf;
    if (cc >= 1 && cc <= 7)
        t->channels = cc == 7 ? 8 : cc;
}

/* An ISO AudioSampleEntry (version 0) in place of a QuickTime-form one: the join writes ISO
 * MP4, whose readers know neither the version 1/2 layouts (they would read QuickTime's
 * extra fields as child boxes) nor the 'wave' atom. Channel count, 16-bit sample size,
 * rate in 16.16 (0 above 65535 Hz, where only the AudioSpecificConfig can say it, as
 * FFmpeg's MP4 muxer writes it), then the esds as it was. */
static int iso_audio_entry(VpiMp4Track *t, uint16_t dref, const Box *esds)
{
    size_t size = 8 + 28 + 8 + esds->size; /* the esds lies in a moov of <= MAX_MOOV bytes */
    uint8_t *e = calloc(1, size);
    if (!e)
        return AVERROR(ENOMEM);
    AV_WB32(e, (uint32_t)size);
    AV_WB32(e + 4, TAG('m', 'p', '4', 'a'));
    AV_WB16(e + 14, dref);
    AV_WB16(e + 24, (uint16_t)t->channels);
    AV_WB16(e + 26, 16);
    if (t->sample_rate > 0 && t->sample_rate <= UINT16_MAX)
        AV_WB32(e + 32, (uint32_t)t->sample_rate << 16);
    AV_WB32(e + 36, (uint32_t)(8 + esds->size));
    AV_WB32(e + 40, TAG('e', 's', 'd', 's'));
    memcpy(e + 44, esds->data, esds->size);
    free(t->entry);
    t->entry = e;
    t->entry_size = size;
    return 0;
}

/* A sound sample description, ISO or QuickTime (QTFF, "Sound Sample Descriptions").
 * Common start: 6 reserved, 2 data reference index, 2 version, 2 revision, 4 vendor, then
 * for versions 0 and 1: 2 channels, 2 sample size, 2 compression id, 2 packet size, 4 rate
 * 16.16 (28 bytes); version 1 adds samples per packet and bytes per packet, frame and
 * sample (44 bytes); version 2 keeps 16 bytes of fixed values at 16, then the size of the
 * struct, the rate as a float64 at 32, the channel count as a uint32 at 40, and 20 more
 * bytes (64). Child atoms follow: the esds, or a 'wave' atom (frma, mp4a, esds,
 * terminator) that holds it. ISO files mark their AudioSampleEntryV1 by an stsd of version
 * 1 instead, and keep the 28-byte layout. */
static int parse_audio_entry(const uint8_t *payload, size_t size, int stsd_version,
                             VpiMp4Track *t, char *why, size_t why_size)
{
    if (size < 28)
        FAIL("audio sample entry is too short");
    int version = stsd_version == 0 ? AV_RB16(payload + 8) : 0;
    size_t skip = version == 1 ? 44 : version == 2 ? 64 : 28;
    if (size < skip)
        FAIL("audio sample entry of version %d is too short", version);
    if (version == 2) {
        double rate = av_int2double(AV_RB64(payload + 32));
        uint32_t channels = AV_RB32(payload + 40);
        /* a hostile float: NaN, infinities and absurd rates are unknown (0) */
        t->sample_rate = rate >= 1 && rate <= 16000000 ? (int)lrint(rate) : 0;
        t->channels = channels <= UINT16_MAX ? (int)channels : 0;
    } else {
        t->channels = AV_RB16(payload + 16);
        t->sample_rate = (int)(AV_RB32(payload + 24) >> 16);
    }

    Box esds, wave;
    const uint8_t *kids = payload + skip;
    size_t kids_size = size - skip;
    int in_wave = 0;
    if (find_box(kids, kids_size, TAG('e', 's', 'd', 's'), &esds) <= 0) {
        if (find_box(kids, kids_size, TAG('w', 'a', 'v', 'e'), &wave) <= 0 ||
            find_box(wave.data, wave.size, TAG('e', 's', 'd', 's'), &esds) <= 0)
            return 0; /* not MPEG-4 audio (PCM, ...): check names it */
        in_wave = 1;
    }
    parse_esds(esds.data, esds.size, t);
    if (t->fourcc == TAG('m', 'p', '4', 'a') && (version || in_wave))
        return iso_audio_entry(t, AV_RB16(payload + 6), &esds);
    return 0;
}

static int parse_stsd(const Box *stsd, VpiMp4Track *t, char *why, size_t why_size)
{
    if (stsd->size < 8)
        FAIL("stsd box is too short");
    uint32_t count = AV_RB32(stsd->data + 4);
    if (count != 1)
        FAIL("%u sample descriptions in one track (only 1 is supported)", count);
    const uint8_t *p = stsd->data + 8, *end = stsd->data + stsd->size;
    const uint8_t *start = p;
    Box e;
    if (next_box(&p, end, &e) <= 0)
        FAIL("stsd entry is malformed");
    t->fourcc = e.type;
    t->entry_size = (size_t)(p - start);
    if (!(t->entry = malloc(t->entry_size)))
        return AVERROR(ENOMEM);
    memcpy(t->entry, start, t->entry_size);
    size_t hdr = t->entry_size - e.size;
    const uint8_t *payload = t->entry + hdr;

    if (t->kind == VPI_TRACK_VIDEO) {
        /* VisualSampleEntry: 6 reserved, 2 dref, 16 pre-defined, w, h, ... 78 bytes */
        if (e.size < 78)
            FAIL("video sample entry is too short");
        t->width = AV_RB16(payload + 24);
        t->height = AV_RB16(payload + 26);
        Box avcc;
        if ((e.type == TAG('a', 'v', 'c', '1') || e.type == TAG('a', 'v', 'c', '3')) &&
            find_box(payload + 78, e.size - 78, TAG('a', 'v', 'c', 'C'), &avcc) > 0) {
            t->avcc = avcc.data;
            t->avcc_size = avcc.size;
            t->nal_length_size = vpi_avcc_length_size(avcc.data, avcc.size);
        }
    } else if (t->kind == VPI_TRACK_AUDIO) {
        return parse_audio_entry(payload, e.size, stsd->data[0], t, why, why_size);
    }
    return 0;
}

int64_t vpi_mp4_max_seconds(int64_t file_size)
{
    int64_t s = 3600 + (file_size > 0 ? file_size / 64 : 0);
    return s < VPI_MP4_MAX_SECONDS ? s : VPI_MP4_MAX_SECONDS;
}

static const char *kind_name(const VpiMp4Track *t)
{
    return t->kind == VPI_TRACK_VIDEO ? "video" : "audio";
}

/* The edit list, reduced to an optional empty edit (several add up) and one media edit.
 * Runs after build_samples(): edits are checked against the media they present. */
static int parse_elst(const Box *b, uint32_t movie_ts, VpiMp4Track *t, int64_t file_size,
                      char *why, size_t why_size)
{
    int64_t max_s = vpi_mp4_max_seconds(file_size);
    if (b->size < 8)
        FAIL("edit list is malformed");
    int version = b->data[0];
    uint32_t n = AV_RB32(b->data + 4);
    size_t esz = version == 1 ? 20 : 12;
    if (n > (b->size - 8) / esz)
        FAIL("edit list is malformed");
    const uint8_t *p = b->data + 8;
    for (uint32_t i = 0; i < n; i++, p += esz) {
        uint64_t dur = version == 1 ? AV_RB64(p) : AV_RB32(p);
        int64_t mt = version == 1 ? (int64_t)AV_RB64(p + 8) : (int32_t)AV_RB32(p + 4);
        /* Checked before rescaling: an edit longer than the file can present is no edit. */
        if (movie_ts && dur > (uint64_t)max_s * movie_ts)
            FAIL("edit list: an edit lasts %.0f s, more than a file of %lld bytes can present "
                 "(%lld s)", (double)dur / movie_ts, (long long)file_size, (long long)max_s);
        int64_t dur_media = movie_ts ? av_rescale((int64_t)dur, t->timescale, movie_ts) : 0;
        if (mt == -1) {
            if (t->has_edit) {
                /* an empty edit after a media edit: not a simple trim */
                snprintf(why, why_size, "edit list with several media edits is not supported");
                return VP_ERR_UNSUPPORTED;
            }
            t->edit_dwell += dur_media;
            if (t->edit_dwell > max_s * (int64_t)t->timescale)
                FAIL("edit list: empty edits last %.0f s, more than a file of %lld bytes can "
                     "present (%lld s)", (double)t->edit_dwell / t->timescale,
                     (long long)file_size, (long long)max_s);
            continue;
        }
        if (mt < 0)
            FAIL("edit list: media time %lld is negative", (long long)mt);
        if (mt > t->pts_end)
            FAIL("edit list starts at media time %lld, after the %s track's media ends (%lld)",
                 (long long)mt, kind_name(t), (long long)t->pts_end);
        if (t->has_edit) {
            snprintf(why, why_size, "edit list with several media edits is not supported");
            return VP_ERR_UNSUPPORTED;
        }
        t->has_edit = 1;
        t->edit_media_time = mt;
        t->edit_duration = dur ? dur_media : -1;
    }
    if (!t->has_edit && t->edit_dwell) {
        t->has_edit = 1;
        t->edit_duration = -1;
    }
    return 0;
}

/* Expand the compressed tables into one entry per sample. Every count is checked against
 * what the file can hold, and the tables' coverage against the sample count, before the
 * samples are allocated. */
static int build_samples(const Tables *tb, VpiMp4Track *t, int64_t file_size, char *why,
                         size_t why_size)
{
    const Box *sz = &tb->stsz, *st = &tb->stts, *co = &tb->stco, *sc = &tb->stsc;
    if (sz->size < 12)
        FAIL("stsz box is too short");
    uint32_t fixed = AV_RB32(sz->data + 4);
    uint32_t n = AV_RB32(sz->data + 8);
    if (!n)
        FAIL("a track has no samples (fragmented MP4 is not supported)");
    if (n > MAX_SAMPLES)
        FAIL("%u samples in one track (too many)", n);
    if (!fixed && n > (sz->size - 12) / 4)
        FAIL("stsz box lists more samples than it holds");
    if (fixed) {
        /* Samples of one size must fit the file. QuickTime sound descriptions count PCM
         * frames as samples of size 1, and its compressed formats pack a frame into as
         * little as 1/6 byte (MACE 6:1): those may claim up to 8 samples a byte. */
        uint64_t need = (uint64_t)fixed * n;
        if (fixed == 1 && t->kind == VPI_TRACK_AUDIO)
            need = ((uint64_t)n + 7) / 8;
        if (need > (uint64_t)file_size)
            FAIL("stsz lists %u %s samples of %u byte%s, more than a file of %lld bytes "
                 "holds", n, kind_name(t), fixed, fixed == 1 ? "" : "s", (long long)file_size);
    }

    if (st->size < 8)
        FAIL("stts box is too short");
    uint32_t ne = AV_RB32(st->data + 4);
    if (ne > (st->size - 8) / 8)
        FAIL("stts box is truncated");
    uint64_t covered = 0;
    for (uint32_t e = 0; e < ne && covered < n; e++)
        covered += AV_RB32(st->data + 8 + 8 * (size_t)e);
    if (covered < n)
        FAIL("stts covers %llu of %u samples", (unsigned long long)covered, n);

    if (co->size < 8 || sc->size < 8)
        FAIL("chunk tables are too short");
    uint32_t nchunks = AV_RB32(co->data + 4);
    size_t csz = tb->co64 ? 8 : 4;
    if (nchunks > (co->size - 8) / csz)
        FAIL("chunk offset table is truncated");
    uint32_t nsc = AV_RB32(sc->data + 4);
    if (nsc > (sc->size - 8) / 12 || !nsc)
        FAIL("sample-to-chunk table is malformed");
    covered = 0;
    for (uint32_t e = 0; e < nsc && covered < n; e++) {
        const uint8_t *r = sc->data + 8 + 12 * (size_t)e;
        uint32_t first = AV_RB32(r), per = AV_RB32(r + 4);
        uint32_t last = e + 1 < nsc ? AV_RB32(r + 12) : nchunks + 1;
        if (first < 1 || last < first || last > nchunks + 1 || !per)
            FAIL("sample-to-chunk table is malformed");
        covered += (uint64_t)(last - first) * per;
    }
    if (covered < n)
        FAIL("chunk tables cover %llu of %u samples", (unsigned long long)covered, n);

    if (!(t->samples = calloc(n, sizeof(*t->samples))))
        return AVERROR(ENOMEM);
    t->nb_samples = n;
    for (uint32_t i = 0; i < n; i++)
        t->samples[i].size = fixed ? fixed : AV_RB32(sz->data + 12 + 4 * (size_t)i);

    /* stts: at most 2^26 deltas of < 2^32, so the sum cannot overflow */
    int64_t dts = 0;
    uint32_t k = 0;
    for (uint32_t e = 0; e < ne && k < n; e++) {
        uint32_t cnt = AV_RB32(st->data + 8 + 8 * (size_t)e);
        uint32_t delta = AV_RB32(st->data + 12 + 8 * (size_t)e);
        for (uint32_t c = 0; c < cnt && k < n; c++, k++) {
            t->samples[k].dts = dts;
            t->samples[k].duration = delta;
            dts += delta;
        }
    }
    /* Some muxers give the last sample no duration: it lasts as long as the one before. */
    if (n > 1 && !t->samples[n - 1].duration) {
        t->samples[n - 1].duration = t->samples[n - 2].duration;
        dts += t->samples[n - 1].duration;
    }
    t->media_duration = dts;
    int64_t max_s = vpi_mp4_max_seconds(file_size);
    int64_t max_ticks = max_s * (int64_t)t->timescale;
    if (dts > max_ticks)
        FAIL("%s track lasts %.0f s, more than a file of %lld bytes can present (%lld s)",
             kind_name(t), (double)dts / t->timescale, (long long)file_size, (long long)max_s);
    for (uint32_t i = 0; i < n; i++)
        t->max_duration = FFMAX(t->max_duration, t->samples[i].duration);

    /* ctts */
    if (tb->have_ctts) {
        const Box *ct = &tb->ctts;
        if (ct->size < 8)
            FAIL("ctts box is too short");
        ne = AV_RB32(ct->data + 4);
        if (ne > (ct->size - 8) / 8)
            FAIL("ctts box is truncated");
        /* A frame of a track whose samples carry no duration counts as one second. */
        int64_t frame = t->max_duration ? t->max_duration : t->timescale;
        int64_t max_cts = VPI_MP4_MAX_REORDER * frame;
        k = 0;
        for (uint32_t e = 0; e < ne && k < n; e++) {
            uint32_t cnt = AV_RB32(ct->data + 8 + 8 * (size_t)e);
            int32_t off = (int32_t)AV_RB32(ct->data + 12 + 8 * (size_t)e);
            if (cnt && (off > max_cts || off < -max_cts))
                FAIL("%s sample %u has a composition offset of %d (%.1f s), more than "
                     "%d frames of reordering need", kind_name(t), k, off,
                     (double)off / t->timescale, VPI_MP4_MAX_REORDER);
            for (uint32_t c = 0; c < cnt && k < n; c++, k++)
                t->samples[k].cts = off;
        }
    }
    t->pts_min = INT64_MAX;
    t->pts_end = INT64_MIN;
    for (uint32_t i = 0; i < n; i++) {
        int64_t pts = t->samples[i].dts + t->samples[i].cts;
        t->pts_min = FFMIN(t->pts_min, pts);
        t->pts_end = FFMAX(t->pts_end, pts + t->samples[i].duration);
    }
    if (t->pts_end - t->pts_min > max_ticks)
        FAIL("%s track presents %.0f s, more than a file of %lld bytes can present (%lld s)",
             kind_name(t), (double)(t->pts_end - t->pts_min) / t->timescale,
             (long long)file_size, (long long)max_s);

    /* stss */
    if (tb->have_stss) {
        const Box *ss = &tb->stss;
        if (ss->size < 8)
            FAIL("stss box is too short");
        ne = AV_RB32(ss->data + 4);
        if (ne > (ss->size - 8) / 4)
            FAIL("stss box is truncated");
        for (uint32_t e = 0; e < ne; e++) {
            uint32_t idx = AV_RB32(ss->data + 8 + 4 * (size_t)e);
            if (idx >= 1 && idx <= n)
                t->samples[idx - 1].key = 1;
        }
    } else {
        for (uint32_t i = 0; i < n; i++)
            t->samples[i].key = 1;
    }

    /* stco/co64 + stsc (validated above). Offsets are compared without adding to them: a
     * 64-bit offset near the top of the range must not wrap past the check. */
    k = 0;
    for (uint32_t e = 0; e < nsc && k < n; e++) {
        const uint8_t *r = sc->data + 8 + 12 * (size_t)e;
        uint32_t first = AV_RB32(r), per = AV_RB32(r + 4);
        uint32_t last = e + 1 < nsc ? AV_RB32(r + 12) : nchunks + 1;
        for (uint32_t c = first; c < last && k < n; c++) {
            uint64_t pos = tb->co64 ? AV_RB64(co->data + 8 + 8 * (size_t)(c - 1))
                                    : AV_RB32(co->data + 8 + 4 * (size_t)(c - 1));
            for (uint32_t s = 0; s < per && k < n; s++, k++) {
                if (pos > (uint64_t)file_size || t->samples[k].size > (uint64_t)file_size - pos) {
                    snprintf(why, why_size, "file is truncated: %s sample %u lies past its end",
                             kind_name(t), k);
                    return VP_ERR_TRUNCATED;
                }
                t->samples[k].pos = (int64_t)pos;
                pos += t->samples[k].size;
            }
        }
    }
    return 0;
}

static int parse_trak(const Box *trak, uint32_t movie_ts, VpiMp4File *f, int64_t file_size,
                      char *why, size_t why_size)
{
    Box tkhd, mdia, mdhd, hdlr, minf, stbl, edts, elst;
    VpiMp4Track tmp = { 0 }, *t;
    Tables tb = { 0 };
    int ret;

    if (find_box(trak->data, trak->size, TAG('m', 'd', 'i', 'a'), &mdia) <= 0 ||
        find_box(mdia.data, mdia.size, TAG('h', 'd', 'l', 'r'), &hdlr) <= 0 || hdlr.size < 12)
        return 0; /* not a media track we use */
    uint32_t handler = AV_RB32(hdlr.data + 8);
    VpiTrackKind kind = handler == TAG('v', 'i', 'd', 'e') ? VPI_TRACK_VIDEO
                      : handler == TAG('s', 'o', 'u', 'n') ? VPI_TRACK_AUDIO
                      : VPI_TRACK_NONE;
    if (kind == VPI_TRACK_NONE)
        return 0;
    t = kind == VPI_TRACK_VIDEO ? &f->video : &f->audio;
    if (t->kind != VPI_TRACK_NONE)
        return 0; /* only the first track of each kind */
    tmp.kind = kind;
    if (find_box(trak->data, trak->size, TAG('t', 'k', 'h', 'd'), &tkhd) > 0 && tkhd.size >= 24)
        tmp.track_id = AV_RB32(tkhd.data + (tkhd.data[0] == 1 ? 20 : 12));
    if (find_box(mdia.data, mdia.size, TAG('m', 'd', 'h', 'd'), &mdhd) <= 0 || mdhd.size < 24)
        FAIL("track without a media header");
    tmp.timescale = AV_RB32(mdhd.data + (mdhd.data[0] == 1 ? 20 : 12));
    if (!tmp.timescale)
        FAIL("track timescale is 0");
    if (find_box(mdia.data, mdia.size, TAG('m', 'i', 'n', 'f'), &minf) <= 0 ||
        find_box(minf.data, minf.size, TAG('s', 't', 'b', 'l'), &stbl) <= 0)
        FAIL("track without a sample table");
    if (find_box(stbl.data, stbl.size, TAG('s', 't', 's', 'd'), &tb.stsd) <= 0 ||
        find_box(stbl.data, stbl.size, TAG('s', 't', 't', 's'), &tb.stts) <= 0 ||
        find_box(stbl.data, stbl.size, TAG('s', 't', 's', 'c'), &tb.stsc) <= 0 ||
        find_box(stbl.data, stbl.size, TAG('s', 't', 's', 'z'), &tb.stsz) <= 0)
        FAIL("sample table is incomplete");
    if (find_box(stbl.data, stbl.size, TAG('s', 't', 'c', 'o'), &tb.stco) <= 0) {
        if (find_box(stbl.data, stbl.size, TAG('c', 'o', '6', '4'), &tb.stco) <= 0)
            FAIL("sample table has no chunk offsets");
        tb.co64 = 1;
    }
    tb.have_ctts = find_box(stbl.data, stbl.size, TAG('c', 't', 't', 's'), &tb.ctts) > 0;
    tb.have_stss = find_box(stbl.data, stbl.size, TAG('s', 't', 's', 's'), &tb.stss) > 0;

    if ((ret = parse_stsd(&tb.stsd, &tmp, why, why_size)) < 0 ||
        (ret = build_samples(&tb, &tmp, file_size, why, why_size)) < 0 ||
        (find_box(trak->data, trak->size, TAG('e', 'd', 't', 's'), &edts) > 0 &&
         find_box(edts.data, edts.size, TAG('e', 'l', 's', 't'), &elst) > 0 &&
         (ret = parse_elst(&elst, movie_ts, &tmp, file_size, why, why_size)) < 0)) {
        free(tmp.entry);
        free(tmp.samples);
        return ret;
    }
    *t = tmp; /* avcc points into tmp.entry, which t now owns */
    return 0;
}

int vpi_mp4_index(int fd, VpiMp4File **out, char *why, size_t why_size)
{
    VpiMp4File *f = NULL;
    uint8_t *moov = NULL;
    struct stat sb;
    int ret = 0;

    *out = NULL;
    why[0] = 0;
    if (fstat(fd, &sb) < 0)
        ret = AVERROR(errno);
    else if (!S_ISREG(sb.st_mode))
        ret = VP_ERR_IS_DIRECTORY;
    else if (sb.st_size == 0)
        ret = VP_ERR_EMPTY_FILE;
    if (ret < 0) {
        snprintf(why, why_size, "%s", vp_strerror(ret));
        return ret;
    }

    /* Walk the top-level boxes to the moov. A file is read as MP4/MOV when its first box
     * is one of theirs, or when its boxes chain up to a moov (complete or cut short)
     * whatever the first one is: FFmpeg's demuxer reads such a file as MOV, so it must
     * meet these limits rather than go to a demuxer that trusts its tables. At most 2^20
     * boxes are walked (a pread each; a real file has a few, a fragmented one two per
     * fragment). */
    int64_t pos = 0, moov_size = -1, moov_pos = 0;
    int saw_moof = 0, known_first = -1, nb = 0;
    while (pos + 8 <= sb.st_size) {
        uint8_t h[16] = { 0 };
        if (pread(fd, h, 16, pos) < 8) {
            ret = AVERROR(errno ? errno : EIO);
            goto fail;
        }
        if (++nb > (1 << 20)) {
            ret = VP_ERR_CORRUPT;
            snprintf(why, why_size, "more than %d top-level boxes", 1 << 20);
            goto fail;
        }
        uint64_t size = AV_RB32(h);
        uint32_t type = AV_RB32(h + 4);
        int64_t hdr = 8;
        if (size == 1) {
            size = AV_RB64(h + 8);
            hdr = 16;
        } else if (size == 0) {
            size = (uint64_t)(sb.st_size - pos);
        }
        if (known_first < 0)
            known_first = type == TAG('f', 't', 'y', 'p') || type == TAG('m', 'o', 'o', 'v') ||
                          type == TAG('m', 'd', 'a', 't') || type == TAG('f', 'r', 'e', 'e') ||
                          type == TAG('w', 'i', 'd', 'e') || type == TAG('s', 'k', 'i', 'p');
        if (size < (uint64_t)hdr || size > (uint64_t)(sb.st_size - pos)) {
            if (!known_first && moov_size < 0 && type != TAG('m', 'o', 'o', 'v'))
                break; /* not a chain of boxes up to a moov: not MP4/MOV */
            if (type == TAG('m', 'o', 'o', 'v')) {
                ret = VP_ERR_TRUNCATED;
                snprintf(why, why_size, "'moov' box at %lld runs past the end of the file",
                         (long long)pos);
                goto fail;
            }
            if (moov_size < 0) {
                /* a recording cut before its moov was written: the reason every command
                 * gives for it (vp_strerror, as FFmpeg-opened inputs are named too) */
                ret = VP_ERR_NO_MOOV;
                snprintf(why, why_size, "%s", vp_strerror(ret));
                goto fail;
            }
            break;
        }
        if (type == TAG('m', 'o', 'o', 'f'))
            saw_moof = 1;
        if (type == TAG('m', 'o', 'o', 'v') && moov_size < 0) {
            moov_pos = pos + hdr;
            moov_size = (int64_t)size - hdr;
        }
        pos += (int64_t)size;
    }
    if (moov_size < 0 && known_first != 1) { /* -1: not even one box header (a tiny file) */
        ret = VP_ERR_NOT_MEDIA;
        snprintf(why, why_size, "not an MP4/MOV file");
        goto fail;
    }
    if (moov_size < 0) {
        ret = VP_ERR_NO_MOOV;
        snprintf(why, why_size, "%s", vp_strerror(ret));
        goto fail;
    }
    if (saw_moof) {
        ret = VP_ERR_UNSUPPORTED;
        snprintf(why, why_size, "fragmented MP4 is not supported");
        goto fail;
    }
    if (moov_size > MAX_MOOV) {
        ret = VP_ERR_TOO_LARGE;
        snprintf(why, why_size, "moov box of %lld bytes is too large", (long long)moov_size);
        goto fail;
    }
    if (!(moov = malloc((size_t)moov_size + 1)) || !(f = calloc(1, sizeof(*f)))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = vpi_pread_full(fd, moov, (size_t)moov_size, moov_pos)) < 0)
        goto fail;
    f->file_size = sb.st_size;

    Box mvhd, b;
    if (find_box(moov, (size_t)moov_size, TAG('m', 'v', 'h', 'd'), &mvhd) <= 0 || mvhd.size < 24) {
        ret = VP_ERR_CORRUPT;
        snprintf(why, why_size, "moov has no movie header");
        goto fail;
    }
    f->movie_timescale = AV_RB32(mvhd.data + (mvhd.data[0] == 1 ? 20 : 12));
    if (find_box(moov, (size_t)moov_size, TAG('m', 'v', 'e', 'x'), &b) > 0) {
        ret = VP_ERR_UNSUPPORTED;
        snprintf(why, why_size, "fragmented MP4 is not supported");
        goto fail;
    }
    const uint8_t *p = moov, *end = moov + moov_size;
    int r;
    while ((r = next_box(&p, end, &b)) > 0)
        if (b.type == TAG('t', 'r', 'a', 'k') &&
            (ret = parse_trak(&b, f->movie_timescale, f, sb.st_size, why, why_size)) < 0)
            goto fail;
    if (r < 0) {
        ret = VP_ERR_CORRUPT;
        snprintf(why, why_size, "moov box is malformed");
        goto fail;
    }
    if (f->video.kind == VPI_TRACK_NONE) {
        ret = VP_ERR_NO_VIDEO;
        snprintf(why, why_size, "%s", vp_strerror(ret));
        goto fail;
    }
    free(moov);
    *out = f;
    return 0;

fail:
    free(moov);
    vpi_mp4_index_free(&f);
    if (!why[0])
        snprintf(why, why_size, "%s", vp_strerror(ret));
    return ret;
}

void vpi_mp4_index_free(VpiMp4File **pf)
{
    VpiMp4File *f = pf ? *pf : NULL;
    if (!f)
        return;
    free(f->video.entry);
    free(f->video.samples);
    free(f->audio.entry);
    free(f->audio.samples);
    free(f);
    *pf = NULL;
}

size_t vpi_mp4_index_bytes(const VpiMp4File *f)
{
    return sizeof(*f) + f->video.entry_size + f->audio.entry_size +
           (size_t)(f->video.nb_samples + f->audio.nb_samples) * sizeof(VpiMp4Sample);
}

void vpi_mp4_audio_span(const VpiMp4Track *v, const VpiMp4Track *a, int64_t v_pts_min,
                        int64_t *a0, int64_t *real_start, int64_t *real_end)
{
    int64_t sr = a->sample_rate;
    /* where the video's presentation starts, in its media time */
    int64_t ov = v->has_edit ? v->edit_media_time - v->edit_dwell : 0;
    int64_t trim = av_rescale(v_pts_min - ov, sr, v->timescale);
    int64_t dwell = a->has_edit ? a->edit_dwell : 0;
    int64_t m = a->has_edit ? a->edit_media_time : 0;
    int64_t media_end = a->nb_samples * 1024;
    *a0 = dwell - m - trim;
    *real_start = dwell - trim;
    *real_end = (a->has_edit && a->edit_duration >= 0 ? dwell + a->edit_duration
                                                      : dwell - m + media_end) - trim;
    if (*real_end > *a0 + media_end)
        *real_end = *a0 + media_end;
}
