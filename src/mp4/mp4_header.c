/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ftyp + moov + mdat header for samples whose sizes and places are all known up front, so
 * the moov can precede the media data in a single pass (fast start without a rewrite). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mathematics.h>
#include <libavutil/mem.h>

#include "util/internal.h"
#include "mp4.h"

#define MOVIE_TIMESCALE 1000

typedef struct Buf {
    uint8_t *p;
    size_t len, cap;
    int oom;
    size_t *co_at;   /* where each track's chunk offsets start (for the final move) */
    int nb_co;
} Buf;

static uint8_t *buf_grow(Buf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = av_realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *w = b->p + b->len;
    b->len += n;
    return w;
}

static void w16(Buf *b, uint16_t v) { uint8_t *p = buf_grow(b, 2); if (p) AV_WB16(p, v); }
static void w32(Buf *b, uint32_t v) { uint8_t *p = buf_grow(b, 4); if (p) AV_WB32(p, v); }
static void w64(Buf *b, uint64_t v) { uint8_t *p = buf_grow(b, 8); if (p) AV_WB64(p, v); }
static void wbytes(Buf *b, const void *d, size_t n)
{
    uint8_t *p = buf_grow(b, n);
    if (p && n)
        memcpy(p, d, n);
}
static void wtag(Buf *b, const char *t) { wbytes(b, t, 4); }

static size_t box_begin(Buf *b, const char *type)
{
    size_t at = b->len;
    w32(b, 0);
    wtag(b, type);
    return at;
}

static size_t fullbox_begin(Buf *b, const char *type, int version, uint32_t flags)
{
    size_t at = box_begin(b, type);
    w32(b, ((uint32_t)version << 24) | flags);
    return at;
}

static void box_end(Buf *b, size_t at)
{
    if (!b->oom)
        AV_WB32(b->p + at, (uint32_t)(b->len - at));
}

int vpi_mp4_out_push(VpiMp4OutTrack *t, const VpiMp4OutSample *s)
{
    if (t->nb == t->cap) {
        int64_t cap = t->cap ? t->cap * 2 : 1024;
        VpiMp4OutSample *n = realloc(t->s, (size_t)cap * sizeof(*n));
        if (!n)
            return AVERROR(ENOMEM);
        t->s = n;
        t->cap = cap;
    }
    t->s[t->nb++] = *s;
    return 0;
}

static const uint32_t unity_matrix[9] = { 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000 };

static void write_matrix(Buf *b)
{
    for (int i = 0; i < 9; i++)
        w32(b, unity_matrix[i]);
}

static int64_t media_duration(const VpiMp4OutTrack *t)
{
    int64_t d = 0;
    for (int64_t i = 0; i < t->nb; i++)
        d += t->s[i].duration;
    return d;
}

static int64_t movie_duration(const VpiMp4OutTrack *t)
{
    return av_rescale(t->presented, MOVIE_TIMESCALE, t->timescale);
}

/* 1 if sample @p i starts a chunk. */
static int chunk_starts(const VpiMp4OutTrack *t, int64_t i)
{
    return !i || t->s[i].pos != t->s[i - 1].pos + t->s[i - 1].size ||
           t->s[i].entry != t->s[i - 1].entry;
}

static void write_stbl(Buf *b, const VpiMp4OutTrack *t, int co64)
{
    size_t stbl = box_begin(b, "stbl");

    size_t stsd = fullbox_begin(b, "stsd", 0, 0);
    w32(b, (uint32_t)t->nb_entries);
    for (int e = 0; e < t->nb_entries; e++)
        wbytes(b, t->entries[e].data, t->entries[e].size);
    box_end(b, stsd);

    /* stts: runs of equal durations */
    size_t stts = fullbox_begin(b, "stts", 0, 0);
    size_t cnt_at = b->len;
    uint32_t runs = 0;
    w32(b, 0);
    for (int64_t i = 0; i < t->nb;) {
        int64_t j = i + 1;
        while (j < t->nb && t->s[j].duration == t->s[i].duration && j - i < UINT32_MAX)
            j++;
        w32(b, (uint32_t)(j - i));
        w32(b, t->s[i].duration);
        runs++;
        i = j;
    }
    if (!b->oom)
        AV_WB32(b->p + cnt_at, runs);
    box_end(b, stts);

    int any_cts = 0, neg_cts = 0;
    for (int64_t i = 0; i < t->nb; i++) {
        any_cts |= t->s[i].cts != 0;
        neg_cts |= t->s[i].cts < 0;
    }
    if (any_cts) {
        size_t ctts = fullbox_begin(b, "ctts", neg_cts ? 1 : 0, 0);
        cnt_at = b->len;
        runs = 0;
        w32(b, 0);
        for (int64_t i = 0; i < t->nb;) {
            int64_t j = i + 1;
            while (j < t->nb && t->s[j].cts == t->s[i].cts)
                j++;
            w32(b, (uint32_t)(j - i));
            w32(b, (uint32_t)t->s[i].cts);
            runs++;
            i = j;
        }
        if (!b->oom)
            AV_WB32(b->p + cnt_at, runs);
        box_end(b, ctts);
    }

    int all_key = 1;
    for (int64_t i = 0; i < t->nb && all_key; i++)
        all_key = t->s[i].key;
    if (!all_key) {
        size_t stss = fullbox_begin(b, "stss", 0, 0);
        cnt_at = b->len;
        runs = 0;
        w32(b, 0);
        for (int64_t i = 0; i < t->nb; i++)
            if (t->s[i].key) {
                w32(b, (uint32_t)(i + 1));
                runs++;
            }
        if (!b->oom)
            AV_WB32(b->p + cnt_at, runs);
        box_end(b, stss);
    }

    /* Chunks: runs of samples that follow each other in the file and share a sample entry
     * (stsc gives each chunk one entry). */
    uint32_t nchunks = 0;
    for (int64_t i = 0; i < t->nb; i++)
        nchunks += chunk_starts(t, i);

    size_t stsc = fullbox_begin(b, "stsc", 0, 0);
    cnt_at = b->len;
    runs = 0;
    w32(b, 0);
    uint32_t chunk = 0, prev_per = 0, prev_entry = UINT32_MAX;
    for (int64_t i = 0; i < t->nb;) {
        int64_t j = i + 1;
        while (j < t->nb && !chunk_starts(t, j))
            j++;
        chunk++;
        uint32_t per = (uint32_t)(j - i), entry = t->s[i].entry;
        if (per != prev_per || entry != prev_entry) {
            w32(b, chunk);
            w32(b, per);
            w32(b, entry + 1);
            runs++;
            prev_per = per;
            prev_entry = entry;
        }
        i = j;
    }
    if (!b->oom)
        AV_WB32(b->p + cnt_at, runs);
    box_end(b, stsc);

    size_t stsz = fullbox_begin(b, "stsz", 0, 0);
    w32(b, 0);
    w32(b, (uint32_t)t->nb);
    uint8_t *q = buf_grow(b, 4 * (size_t)t->nb);
    for (int64_t i = 0; q && i < t->nb; i++, q += 4)
        AV_WB32(q, t->s[i].size);
    box_end(b, stsz);

    size_t stco = fullbox_begin(b, co64 ? "co64" : "stco", 0, 0);
    w32(b, nchunks);
    if (b->co_at)
        b->co_at[b->nb_co++] = b->len;
    q = buf_grow(b, (co64 ? 8 : 4) * (size_t)nchunks);
    for (int64_t i = 0; q && i < t->nb; i++)
        if (chunk_starts(t, i)) {
            if (co64)
                AV_WB64(q, (uint64_t)t->s[i].pos);
            else
                AV_WB32(q, (uint32_t)t->s[i].pos);
            q += co64 ? 8 : 4;
        }
    box_end(b, stco);

    box_end(b, stbl);
}

static void write_trak(Buf *b, const VpiMp4OutTrack *t, uint32_t id, int co64)
{
    int64_t mdur = media_duration(t), pdur = movie_duration(t);
    int v1 = mdur > UINT32_MAX || pdur > UINT32_MAX;
    int video = t->kind == VPI_TRACK_VIDEO;

    size_t trak = box_begin(b, "trak");
    size_t tkhd = fullbox_begin(b, "tkhd", v1, 3);
    if (v1) {
        w64(b, 0);
        w64(b, 0);
        w32(b, id);
        w32(b, 0);
        w64(b, (uint64_t)pdur);
    } else {
        w32(b, 0);
        w32(b, 0);
        w32(b, id);
        w32(b, 0);
        w32(b, (uint32_t)pdur);
    }
    w64(b, 0);                   /* reserved */
    w16(b, 0);                   /* layer */
    w16(b, video ? 0 : 1);       /* alternate group */
    w16(b, video ? 0 : 0x0100);  /* volume */
    w16(b, 0);
    write_matrix(b);
    w32(b, video ? (uint32_t)t->width << 16 : 0);
    w32(b, video ? (uint32_t)t->height << 16 : 0);
    box_end(b, tkhd);

    /* One edit: the presentation starts at edit_media_time (B-frame delay, AAC priming). */
    size_t edts = box_begin(b, "edts");
    size_t elst = fullbox_begin(b, "elst", v1, 0);
    w32(b, 1);
    if (v1) {
        w64(b, (uint64_t)pdur);
        w64(b, (uint64_t)t->edit_media_time);
    } else {
        w32(b, (uint32_t)pdur);
        w32(b, (uint32_t)t->edit_media_time);
    }
    w32(b, 0x00010000);
    box_end(b, elst);
    box_end(b, edts);

    size_t mdia = box_begin(b, "mdia");
    size_t mdhd = fullbox_begin(b, "mdhd", v1, 0);
    if (v1) {
        w64(b, 0);
        w64(b, 0);
        w32(b, t->timescale);
        w64(b, (uint64_t)mdur);
    } else {
        w32(b, 0);
        w32(b, 0);
        w32(b, t->timescale);
        w32(b, (uint32_t)mdur);
    }
    w16(b, 0x55c4); /* "und" */
    w16(b, 0);
    box_end(b, mdhd);

    size_t hdlr = fullbox_begin(b, "hdlr", 0, 0);
    w32(b, 0);
    wtag(b, video ? "vide" : "soun");
    w32(b, 0);
    w32(b, 0);
    w32(b, 0);
    const char *name = video ? "VideoHandler" : "SoundHandler";
    wbytes(b, name, strlen(name) + 1);
    box_end(b, hdlr);

    size_t minf = box_begin(b, "minf");
    if (video) {
        size_t vmhd = fullbox_begin(b, "vmhd", 0, 1);
        w64(b, 0);
        box_end(b, vmhd);
    } else {
        size_t smhd = fullbox_begin(b, "smhd", 0, 0);
        w32(b, 0);
        box_end(b, smhd);
    }
    size_t dinf = box_begin(b, "dinf");
    size_t dref = fullbox_begin(b, "dref", 0, 0);
    w32(b, 1);
    size_t url = fullbox_begin(b, "url ", 0, 1);
    box_end(b, url);
    box_end(b, dref);
    box_end(b, dinf);
    write_stbl(b, t, co64);
    box_end(b, minf);
    box_end(b, mdia);
    box_end(b, trak);
}

static void write_all(Buf *b, VpiMp4OutTrack *tracks, int nb, int co64,
                      int64_t mdat_size, int quicktime)
{
    size_t ftyp = box_begin(b, "ftyp");
    if (quicktime) {
        /* A .mov says it is QuickTime (QTFF's major brand 'qt  '); the boxes below read
         * the same in both (version 0 sound description, no QuickTime-only atoms). */
        wtag(b, "qt  ");
        w32(b, 0x200);
        wtag(b, "qt  ");
    } else {
        wtag(b, "isom");
        w32(b, 0x200);
        wtag(b, "isom");
        wtag(b, "iso2");
        wtag(b, "avc1");
        wtag(b, "mp41");
    }
    box_end(b, ftyp);

    int64_t dur = 0;
    for (int i = 0; i < nb; i++)
        dur = FFMAX(dur, movie_duration(&tracks[i]));
    int v1 = dur > UINT32_MAX;
    size_t moov = box_begin(b, "moov");
    size_t mvhd = fullbox_begin(b, "mvhd", v1, 0);
    if (v1) {
        w64(b, 0);
        w64(b, 0);
        w32(b, MOVIE_TIMESCALE);
        w64(b, (uint64_t)dur);
    } else {
        w32(b, 0);
        w32(b, 0);
        w32(b, MOVIE_TIMESCALE);
        w32(b, (uint32_t)dur);
    }
    w32(b, 0x00010000); /* rate */
    w16(b, 0x0100);     /* volume */
    w16(b, 0);
    w64(b, 0);
    write_matrix(b);
    for (int i = 0; i < 6; i++)
        w32(b, 0);
    w32(b, (uint32_t)nb + 1); /* next track id */
    box_end(b, mvhd);
    for (int i = 0; i < nb; i++)
        write_trak(b, &tracks[i], (uint32_t)i + 1, co64);
    box_end(b, moov);

    if (mdat_size + 8 > UINT32_MAX) {
        w32(b, 1);
        wtag(b, "mdat");
        w64(b, (uint64_t)mdat_size + 16);
    } else {
        w32(b, (uint32_t)mdat_size + 8);
        wtag(b, "mdat");
    }
}

int vpi_mp4_build_header(VpiMp4OutTrack *tracks, int nb_tracks, int64_t mdat_size,
                         int quicktime, uint8_t **out, size_t *out_size)
{
    Buf b = { 0 };
    int co64 = 0;

    *out = NULL;
    *out_size = 0;
    for (int i = 0; i < nb_tracks; i++) {
        const VpiMp4OutTrack *t = &tracks[i];
        if (t->nb_entries < 1 || t->nb_entries > VPI_MP4_MAX_ENTRIES)
            return AVERROR_BUG;
        for (int64_t k = 0; k < t->nb; k++)
            if (t->s[k].entry >= t->nb_entries)
                return AVERROR_BUG;
    }
    /* The header's size does not depend on the offsets it holds, only on their width: it
     * is written with offsets into mdat's payload, which then move by the header's size. */
    if (!(b.co_at = calloc((size_t)nb_tracks + 1, sizeof(*b.co_at))))
        return AVERROR(ENOMEM);
    write_all(&b, tracks, nb_tracks, 0, mdat_size, quicktime);
    if (b.oom)
        goto oom;
    if ((int64_t)b.len + mdat_size > UINT32_MAX) {
        co64 = 1;
        b.len = 0;
        b.nb_co = 0;
        write_all(&b, tracks, nb_tracks, 1, mdat_size, quicktime);
        if (b.oom)
            goto oom;
    }
    uint64_t base = b.len;
    for (int i = 0; i < b.nb_co; i++) {
        uint8_t *p = b.p + b.co_at[i];
        uint32_t n = AV_RB32(p - 4);
        for (uint32_t k = 0; k < n; k++, p += co64 ? 8 : 4) {
            if (co64)
                AV_WB64(p, AV_RB64(p) + base);
            else
                AV_WB32(p, (uint32_t)(AV_RB32(p) + base));
        }
    }
    free(b.co_at);
    *out = b.p;
    *out_size = b.len;
    return 0;

oom:
    free(b.co_at);
    av_free(b.p);
    return AVERROR(ENOMEM);
}
