/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Personalized HLS (include/vidpipe/hls.h, docs/join.md "Personalized HLS"): the join of
 * intro + clip + outro as one CMAF media playlist per person, whose intro and outro
 * segments are written once and shared.
 *
 * One timeline per person, the join's: the intro's first presented frame at 0, the clip's
 * video where its AAC frames land on the intro's 1024-sample grid, the outro's where its
 * frames land on that grid too. The AAC frames whose MDCT window straddles a join are
 * re-encoded by the join's seam planner (join_seams.c) and go into the person's own
 * segments, so a shared segment carries only its source's own frames:
 *
 *   intro shared      frames whose window lies inside the intro's nominal span
 *   personal          the rest of the intro's frames, the clip, the outro's first frame(s)
 *   outro shared      frames whose window lies inside the outro's span, from its start on
 *
 * The outro's timestamps cannot depend on the person (its segments are shared), so they
 * start at 0 and the playlist puts EXT-X-DISCONTINUITY before it: players map its first
 * frame to where the playlist (and the person's last segment) ends, which the person's
 * timeline puts on the grid. The intro -> clip join keeps one timeline (no discontinuity;
 * other SPS/PPS get their own init segment, EXT-X-MAP).
 *
 * Segments are fragmented MP4 (one moof + mdat): samples are copied byte for byte from
 * the MP4 (no Annex B, no ADTS), each segment starts with a keyframe. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/mathematics.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>

#include "vidpipe/hls.h"
#include "join_internal.h"
#include "mp4/mp4.h"
#include "options/options.h"
#include "util/internal.h"

#define FRAME VPI_AAC_FRAME
#define VT 90000                 /* video timescale of every segment */
#define LAYOUT_VERSION "vidpipe-hls-2"

typedef struct Buf {
    uint8_t *d;
    size_t len, cap;
    int oom;
} Buf;

static void buf_need(Buf *b, size_t n)
{
    if (b->oom || b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    uint8_t *d = realloc(b->d, cap);
    if (!d) {
        b->oom = 1;
        return;
    }
    b->d = d;
    b->cap = cap;
}

static void put(Buf *b, const void *p, size_t n)
{
    buf_need(b, n);
    if (b->oom)
        return;
    memcpy(b->d + b->len, p, n);
    b->len += n;
}

static void put8(Buf *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}

static void put16(Buf *b, unsigned v)
{
    uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put(b, x, 2);
}

static void put32(Buf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    put(b, x, 4);
}

static void put64(Buf *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}

static void set32(Buf *b, size_t at, uint32_t v)
{
    if (b->oom)
        return;
    b->d[at] = (uint8_t)(v >> 24);
    b->d[at + 1] = (uint8_t)(v >> 16);
    b->d[at + 2] = (uint8_t)(v >> 8);
    b->d[at + 3] = (uint8_t)v;
}

static size_t box(Buf *b, const char *type)
{
    size_t at = b->len;
    put32(b, 0);
    put(b, type, 4);
    return at;
}

static size_t fullbox(Buf *b, const char *type, unsigned version, uint32_t flags)
{
    size_t at = box(b, type);
    put32(b, ((uint32_t)version << 24) | flags);
    return at;
}

static void box_end(Buf *b, size_t at)
{
    set32(b, at, (uint32_t)(b->len - at));
}

/* ---- one source file (intro, clip or outro) -------------------------------------------- */

typedef struct Src {
    char *path;
    int fd;
    struct stat sb;
    VpiMp4File *mp4;
    const VpiMp4Track *v, *a;     /* a: NULL without usable audio */
    int64_t n;                    /* video samples */
    int64_t *pts, *dts;           /* per sample, VT ticks, 0 = the first presented frame */
    int64_t end;                  /* VT ticks: the presented length */
    int64_t *cuts;                /* sample index where each segment starts; cuts[nb] = n */
    int nb_cuts;
    VpiSeamSeg seam;              /* audio in samples from the first presented frame */
} Src;

static void src_free(Src *s)
{
    if (!s)
        return;
    vpi_mp4_index_free(&s->mp4);
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s->pts);
    free(s->dts);
    free(s->cuts);
    memset(s, 0, sizeof(*s));
    s->fd = -1;
}

static void fail_set(VpFailure *f, int code, int input, const char *path, const char *fmt, ...)
    VPI_PRINTF(5, 6);
static void fail_set(VpFailure *f, int code, int input, const char *path, const char *fmt, ...)
{
    if (!f)
        return;
    va_list ap;
    f->code = code;
    f->input = input;
    snprintf(f->path, sizeof(f->path), "%s", path ? path : "");
    int n = snprintf(f->message, sizeof(f->message), "%s: ", path ? path : "");
    if (n < 0 || (size_t)n >= sizeof(f->message))
        return;
    va_start(ap, fmt);
    vsnprintf(f->message + n, sizeof(f->message) - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Segments: the longest runs of whole GOPs within @p target ticks (+0.1 %, so that NTSC
 * GOPs of 6.006 s make 6 s segments); a longer GOP is a segment of its own. */
static int src_cut(Src *s, int64_t target)
{
    int64_t lim = target + target / 1000;
    if (!(s->cuts = malloc((size_t)(s->n + 1) * sizeof(*s->cuts))))
        return AVERROR(ENOMEM);
    int nb = 0;
    int64_t start = 0, last_key = 0;
    s->cuts[nb++] = 0;
    for (int64_t i = 1; i <= s->n; i++) {
        if (i < s->n && !s->v->samples[i].key)
            continue;
        int64_t t = i < s->n ? s->pts[i] : s->end;
        if (t - s->pts[start] > lim && last_key > start) {
            s->cuts[nb++] = last_key;
            start = last_key;
        }
        last_key = i;
    }
    s->cuts[nb] = s->n;
    s->nb_cuts = nb;
    return 0;
}

static int src_open(const char *path, int input, int64_t target, Src *s, VpFailure *fail)
{
    char why[512] = "";
    int ret;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    if (!(s->path = strdup(path)))
        return AVERROR(ENOMEM);
    if ((ret = vpi_input_check(path, &s->sb)) < 0 ||
        (s->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(s->fd, &s->sb) < 0) {
        ret = ret < 0 ? ret : AVERROR(errno);
        fail_set(fail, ret, input, path, "%s", vp_strerror(ret));
        return ret;
    }
    if ((ret = vpi_mp4_index(s->fd, &s->mp4, why, sizeof(why))) < 0) {
        fail_set(fail, ret, input, path, "%s%s", why[0] ? why : vp_strerror(ret),
                 ret == VP_ERR_NOT_MEDIA ? " (personalized HLS copies MP4/MOV files)" : "");
        return ret;
    }
    s->v = &s->mp4->video;
    if (s->v->kind != VPI_TRACK_VIDEO || s->v->nb_samples < 1) {
        fail_set(fail, VP_ERR_NO_VIDEO, input, path, "%s", vp_strerror(VP_ERR_NO_VIDEO));
        return VP_ERR_NO_VIDEO;
    }
    if (!s->v->samples[0].key) {
        fail_set(fail, VP_ERR_NOT_JOINABLE, input, path,
                 "video does not start on a keyframe (a segment must)");
        return VP_ERR_NOT_JOINABLE;
    }
    const VpiMp4Track *v = s->v;
    s->n = v->nb_samples;
    if (!(s->pts = malloc((size_t)s->n * sizeof(*s->pts))) ||
        !(s->dts = malloc((size_t)s->n * sizeof(*s->dts))))
        return AVERROR(ENOMEM);
    int64_t d0 = v->samples[0].dts;
    for (int64_t i = 0; i < s->n; i++) {
        const VpiMp4Sample *x = &v->samples[i];
        s->pts[i] = av_rescale(x->dts + x->cts - v->pts_min, VT, v->timescale);
        s->dts[i] = av_rescale(x->dts - d0, VT, v->timescale);
    }
    if (s->pts[0] != 0) {
        fail_set(fail, VP_ERR_NOT_JOINABLE, input, path,
                 "video's first picture in decode order is not the first shown (open GOP)");
        return VP_ERR_NOT_JOINABLE;
    }
    s->end = av_rescale(v->pts_end - v->pts_min, VT, v->timescale);

    const VpiMp4Track *a = &s->mp4->audio;
    s->seam.fd = s->fd;
    if (a->kind == VPI_TRACK_AUDIO && a->nb_samples > 0) {
        if (a->object_type != 2 || a->max_duration != FRAME ||
            a->timescale != (uint32_t)a->sample_rate) {
            fail_set(fail, VP_ERR_NOT_JOINABLE, input, path,
                     "audio is not plain AAC-LC in frames of 1024 samples");
            return VP_ERR_NOT_JOINABLE;
        }
        s->a = a;
        s->seam.t = a;
        vpi_mp4_audio_span(v, a, v->pts_min, &s->seam.a0, &s->seam.real_start,
                           &s->seam.real_end);
        s->seam.nominal = av_rescale(s->end, a->sample_rate, VT);
        if (s->seam.real_end <= s->seam.real_start)
            s->a = s->seam.t = NULL;
    }
    return src_cut(s, target);
}

/* ---- writing files ----------------------------------------------------------------------- */

static int write_file(const char *path, const Buf *b, int durable)
{
    return b->oom ? AVERROR(ENOMEM) : vpi_output_write(path, b->d, b->len, !durable);
}

/* The init segment: ftyp + moov with one video and one audio track, no samples, mvex. */
static void build_init(Buf *b, const VpiMp4Track *v, const VpiMp4Track *a)
{
    static const uint32_t matrix[9] = { 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000 };
    size_t at = box(b, "ftyp");
    put(b, "iso6", 4);
    put32(b, 0);
    put(b, "iso6mp41", 8);
    box_end(b, at);

    size_t moov = box(b, "moov");
    at = fullbox(b, "mvhd", 0, 0);
    put32(b, 0);
    put32(b, 0);
    put32(b, 1000);
    put32(b, 0);
    put32(b, 0x10000);
    put16(b, 0x100);
    put16(b, 0);
    put64(b, 0);
    for (int i = 0; i < 9; i++)
        put32(b, matrix[i]);
    for (int i = 0; i < 6; i++)
        put32(b, 0);
    put32(b, 3);
    box_end(b, at);

    for (int k = 0; k < 2; k++) {
        const VpiMp4Track *t = k ? a : v;
        if (!t)
            continue;
        size_t trak = box(b, "trak");
        at = fullbox(b, "tkhd", 0, 3);
        put32(b, 0);
        put32(b, 0);
        put32(b, (uint32_t)k + 1);
        put32(b, 0);
        put32(b, 0);
        put64(b, 0);
        put16(b, 0);
        put16(b, (unsigned)k);
        put16(b, k ? 0x100 : 0);
        put16(b, 0);
        for (int i = 0; i < 9; i++)
            put32(b, matrix[i]);
        put32(b, k ? 0 : (uint32_t)t->width << 16);
        put32(b, k ? 0 : (uint32_t)t->height << 16);
        box_end(b, at);
        size_t mdia = box(b, "mdia");
        at = fullbox(b, "mdhd", 0, 0);
        put32(b, 0);
        put32(b, 0);
        put32(b, k ? (uint32_t)t->sample_rate : VT);
        put32(b, 0);
        put16(b, 0x55c4); /* "und" */
        put16(b, 0);
        box_end(b, at);
        at = fullbox(b, "hdlr", 0, 0);
        put32(b, 0);
        put(b, k ? "soun" : "vide", 4);
        put32(b, 0);
        put32(b, 0);
        put32(b, 0);
        put(b, k ? "SoundHandler" : "VideoHandler", 13);
        box_end(b, at);
        size_t minf = box(b, "minf");
        if (k) {
            at = fullbox(b, "smhd", 0, 0);
            put32(b, 0);
        } else {
            at = fullbox(b, "vmhd", 0, 1);
            put64(b, 0);
        }
        box_end(b, at);
        size_t dinf = box(b, "dinf");
        at = fullbox(b, "dref", 0, 0);
        put32(b, 1);
        size_t url = fullbox(b, "url ", 0, 1);
        box_end(b, url);
        box_end(b, at);
        box_end(b, dinf);
        size_t stbl = box(b, "stbl");
        at = fullbox(b, "stsd", 0, 0);
        put32(b, 1);
        put(b, t->entry, t->entry_size);
        box_end(b, at);
        at = fullbox(b, "stts", 0, 0);
        put32(b, 0);
        box_end(b, at);
        at = fullbox(b, "stsc", 0, 0);
        put32(b, 0);
        box_end(b, at);
        at = fullbox(b, "stsz", 0, 0);
        put32(b, 0);
        put32(b, 0);
        box_end(b, at);
        at = fullbox(b, "stco", 0, 0);
        put32(b, 0);
        box_end(b, at);
        box_end(b, stbl);
        box_end(b, minf);
        box_end(b, mdia);
        box_end(b, trak);
    }
    size_t mvex = box(b, "mvex");
    for (uint32_t id = 1; id <= (a ? 2u : 1u); id++) {
        at = fullbox(b, "trex", 0, 0);
        put32(b, id);
        put32(b, 1);
        put32(b, 0);
        put32(b, 0);
        put32(b, 0);
        box_end(b, at);
    }
    box_end(b, mvex);
    box_end(b, moov);
}

/* One audio frame of a media segment: where its bytes come from. */
typedef struct AFrame {
    int fd;                  /* -1: bytes in @p data */
    int64_t pos;
    const uint8_t *data;
    uint32_t size;
} AFrame;

/* A media segment: video samples [v0, v1) of @p s at @p voff ticks, the last one lasting
 * up to @p vend (when v1 is the source's end), and @p nb_a audio frames from tfdt @p a_t. */
typedef struct SegSpec {
    const Src *s;
    int64_t v0, v1, voff, vend;
    const AFrame *af;
    int64_t nb_a, a_t;
    uint32_t seq;
} SegSpec;

/* A segment is built in memory; one GOP longer than this (a hostile or odd file: one key
 * for minutes of video) is refused rather than allocated. */
#define MAX_SEGMENT_BYTES ((int64_t)512 << 20)

static const char *segment_why(int err)
{
    return err == VP_ERR_TOO_LARGE ? "a GOP holds more than 512 MiB (a segment is built in "
                                     "memory)"
           : err == AVERROR_INVALIDDATA ? "video timestamps do not fit a CMAF segment"
                                        : vp_strerror(err);
}

static int build_segment(Buf *b, const SegSpec *g)
{
    const Src *s = g->s;
    const VpiMp4Track *v = s->v;
    int64_t nv = g->v1 - g->v0, bytes = 0;
    for (int64_t i = g->v0; i < g->v1; i++)
        bytes += v->samples[i].size;
    for (int64_t i = 0; i < g->nb_a; i++)
        bytes += g->af[i].size;
    if (bytes > MAX_SEGMENT_BYTES)
        return VP_ERR_TOO_LARGE;
    size_t moof = box(b, "moof");
    size_t at = fullbox(b, "mfhd", 0, 0);
    put32(b, g->seq);
    box_end(b, at);

    size_t off_v, off_a = 0;
    size_t traf = box(b, "traf");
    at = fullbox(b, "tfhd", 0, 0x020000);
    put32(b, 1);
    box_end(b, at);
    at = fullbox(b, "tfdt", 1, 0);
    put64(b, (uint64_t)(g->voff + s->dts[g->v0]));
    box_end(b, at);
    at = fullbox(b, "trun", 1, 0x000f01);
    put32(b, (uint32_t)nv);
    off_v = b->len;
    put32(b, 0);
    for (int64_t i = g->v0; i < g->v1; i++) {
        int64_t dur;
        if (i + 1 < s->n)
            dur = s->dts[i + 1] - s->dts[i];
        else
            dur = FFMAX(1, g->vend - g->voff - s->pts[i]);
        int64_t cts = s->pts[i] - s->dts[i];
        if (dur < 0 || dur > UINT32_MAX || cts > INT32_MAX || cts < INT32_MIN)
            return AVERROR_INVALIDDATA;
        put32(b, (uint32_t)dur);
        put32(b, v->samples[i].size);
        put32(b, v->samples[i].key ? 0x02000000 : 0x01010000);
        put32(b, (uint32_t)(int32_t)cts);
    }
    box_end(b, at);
    box_end(b, traf);

    if (g->nb_a) {
        traf = box(b, "traf");
        at = fullbox(b, "tfhd", 0, 0x020000);
        put32(b, 2);
        box_end(b, at);
        at = fullbox(b, "tfdt", 1, 0);
        put64(b, (uint64_t)g->a_t);
        box_end(b, at);
        at = fullbox(b, "trun", 0, 0x000301);
        put32(b, (uint32_t)g->nb_a);
        off_a = b->len;
        put32(b, 0);
        for (int64_t i = 0; i < g->nb_a; i++) {
            put32(b, FRAME);
            put32(b, g->af[i].size);
        }
        box_end(b, at);
        box_end(b, traf);
    }
    box_end(b, moof);

    size_t mdat = box(b, "mdat");
    set32(b, off_v, (uint32_t)(b->len - moof));
    for (int64_t i = g->v0; i < g->v1; i++) {
        const VpiMp4Sample *x = &v->samples[i];
        buf_need(b, x->size);
        if (b->oom)
            return AVERROR(ENOMEM);
        int ret = vpi_pread_full(s->fd, b->d + b->len, x->size, x->pos);
        if (ret < 0)
            return ret;
        b->len += x->size;
    }
    if (g->nb_a)
        set32(b, off_a, (uint32_t)(b->len - moof));
    for (int64_t i = 0; i < g->nb_a; i++) {
        const AFrame *f = &g->af[i];
        buf_need(b, f->size);
        if (b->oom)
            return AVERROR(ENOMEM);
        if (f->fd >= 0) {
            int ret = vpi_pread_full(f->fd, b->d + b->len, f->size, f->pos);
            if (ret < 0)
                return ret;
        } else {
            memcpy(b->d + b->len, f->data, f->size);
        }
        b->len += f->size;
    }
    if (b->len - mdat > UINT32_MAX)
        return AVERROR(ERANGE);
    box_end(b, mdat);
    return b->oom ? AVERROR(ENOMEM) : 0;
}

/* ---- the packager -------------------------------------------------------------------------- */

/* The shared part of one source: its folder, its segments' durations and its audio. */
typedef struct Shared {
    Src src;
    int64_t bytes;           /* of its init segment and segments */
    char *dir;               /* OUT/shared/ROLE-KEY */
    char *uri;               /* shared/ROLE-KEY */
    int64_t a_first, a_end;  /* its own AAC frames in the shared segments: [a_first, a_end) */
    int64_t end;             /* VT ticks where its last frame ends in the shared segments */
} Shared;

struct VpHlsPackager {
    VpHlsOpts o;
    char *out;
    int64_t target;
    Shared intro, outro;
    int64_t P0;              /* output sample of the intro's presentation 0 */
    int64_t intro_base;      /* output slot of the intro's AAC frame 0 */
    int64_t intro_end_s;     /* output sample where the intro's shared frames end */
    int64_t bit_rate;
};

#define O(...) VPI_OPT_ROW(VpHlsOpts, __VA_ARGS__)
static const VpiOption hls_options[] = {
    O(target, DOUBLE, 6, 1, 60, "segment length aimed at, seconds"),
    O(durable, BOOL, 1, 0, 1, "fsync each file before renaming it into place"),
    O(keep_old, DOUBLE, 3600, 0, 604800,
      "seconds a redone person's old segments stay for viewers of the old playlist"),
    { NULL },
};
#undef O

/* Not in vp_option_table()'s registry yet (src/options/options.c): the CLI's --hls-target
 * is checked by this table when the packager opens. */
const VpiOptTable vpi_hls_options = { "hls", hls_options, NULL };

void vp_hls_default_opts(VpHlsOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_hls_options, o);
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* A folder's name: the source's identity, its role and the settings, so that a changed
 * file or setting gets new names and the old ones stay valid for old playlists. A person's
 * role names the shared folders its segments follow and precede (their seams differ). */
static int shared_key(const VpHlsPackager *pk, const Src *s, const char *role, char hex[17])
{
    struct AVSHA *sha = av_sha_alloc();
    uint8_t d[32];
    char *real = realpath(s->path, NULL);
    char buf[512];
    if (!sha) {
        free(real);
        return AVERROR(ENOMEM);
    }
    av_sha_init(sha, 256);
    const char *p = real ? real : s->path;
    av_sha_update(sha, (const uint8_t *)p, strlen(p) + 1);
    snprintf(buf, sizeof(buf), "%s %s %lld %lld.%09ld %lld", LAYOUT_VERSION, role,
             (long long)s->sb.st_size, (long long)s->sb.st_mtim.tv_sec,
             s->sb.st_mtim.tv_nsec, (long long)pk->target);
    av_sha_update(sha, (const uint8_t *)buf, strlen(buf) + 1);
    av_sha_final(sha, d);
    av_free(sha);
    free(real);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

static char *path_join(const char *a, const char *b)
{
    char *p;
    return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

static int cancelled(const VpHlsPackager *pk)
{
    return pk->o.cancel.fn && pk->o.cancel.fn(pk->o.cancel.opaque);
}

/* The audio frames of a shared source: the intro's from its first frame at or after its
 * presentation 0 to the last whose window ends inside its nominal span; the outro's from
 * its first frame whose window starts at or after its presentation 0 to its video's end. */
static void shared_audio(Shared *sh, int is_intro)
{
    const Src *s = &sh->src;
    const VpiSeamSeg *a = &s->seam;
    int64_t nb = s->a->nb_samples;
    int64_t lo = FFMAX(0, a->real_start);
    sh->a_first = FFMAX(0, ceil_div(lo - a->a0, FRAME));
    if (is_intro) {
        int64_t hi = FFMIN(a->nominal, a->real_end);
        sh->a_end = FFMIN(nb, floor_div(hi - a->a0 - 2 * FRAME, FRAME) + 1);
    } else {
        int64_t hi = FFMIN(a->nominal, a->real_end);
        sh->a_end = FFMIN(nb, ceil_div(hi - a->a0, FRAME));
    }
    if (sh->a_end < sh->a_first)
        sh->a_end = sh->a_first;
}

/* Audio frame j of a shared source plays at this many samples from its presentation 0. */
static int64_t frame_time(const Src *s, int64_t j)
{
    return j * FRAME + s->seam.a0;
}

/* Remove the files of @p dir whose names @p match. */
static void remove_matching(const char *dir, int (*match)(const char *name))
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (match(e->d_name)) {
            char *p = path_join(dir, e->d_name);
            if (p)
                unlink(p);
            free(p);
        }
    }
    closedir(d);
}

/* In a person's segment folder that a newer playlist has replaced: its mtime is when. */
#define SUPERSEDED ".superseded"

/* A file name the packager writes into a person's folder: N.m4s, init.mp4, the superseded
 * mark, or one of its temporaries. */
static int is_own_file(const char *n)
{
    size_t k = strspn(n, "0123456789");
    return (k && !strcmp(n + k, ".m4s")) || !strcmp(n, "init.mp4") ||
           !strcmp(n, SUPERSEDED) || vpi_output_is_temp_name(n);
}

/* A person's segment folder: KEY (16 hex digits) or KEY-N. */
static int is_key_dir(const char *n)
{
    size_t k = strspn(n, "0123456789abcdef");
    return k == 16 && (!n[k] || (n[k] == '-' && n[k + 1] && !n[k + 1 + strspn(n + k + 1,
                                                                       "0123456789")]));
}

/* Remove the packager's files from @p dir, then @p dir itself when that empties it
 * (anything else put there is left alone). */
static void remove_own_dir(const char *dir)
{
    remove_matching(dir, is_own_file);
    rmdir(dir);
}

/* Mark the segment folder @p dir superseded, now. */
static int mark_superseded(const char *dir)
{
    char *p = path_join(dir, SUPERSEDED);
    int fd = p ? open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
    int ret = fd >= 0 && futimens(fd, NULL) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    free(p);
    return ret;
}

/* Whether the segment folder @p dir was superseded less than @p keep seconds ago. */
static int superseded_within(const char *dir, double keep)
{
    struct stat sb;
    char *p = path_join(dir, SUPERSEDED);
    int r = p ? stat(p, &sb) : -1;
    free(p);
    return r == 0 && keep > 0 && difftime(time(NULL), sb.st_mtime) < keep;
}

/* What earlier runs of a person left in @p parent (OUT/NAME) besides @p keep, the folder
 * its playlist now lists: older segment folders, an interrupted redo's, and the files of
 * the layout before folders (OUT/NAME/N.m4s). @p listed, the folder the replaced playlist
 * listed ("" for none), is marked superseded and stays @p keep_old seconds, as do folders
 * superseded before that are still within their time. */
static void remove_previous(const char *parent, const char *keep, const char *listed,
                            double keep_old)
{
    DIR *d = opendir(parent);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, keep) || (!is_key_dir(e->d_name) && !is_own_file(e->d_name)))
            continue;
        char *p = path_join(parent, e->d_name);
        if (p && is_key_dir(e->d_name)) {
            int stays = keep_old > 0 && (!strcmp(e->d_name, listed) ? mark_superseded(p) == 0
                                                                   : superseded_within(p, keep_old));
            if (!stays)
                remove_own_dir(p);
        } else if (p) {
            unlink(p);
        }
        free(p);
    }
    closedir(d);
}

static int playlist_files(const char *pl, int (*fn)(void *ctx, const char *rel), void *ctx);

/* The person's segment folder a playlist lists: "NAME/KEY/..." gives KEY. */
typedef struct Listed {
    const char *name;
    char key[32];
} Listed;

static int find_listed(void *ctx, const char *rel)
{
    Listed *l = ctx;
    size_t n = strlen(l->name);
    if (strncmp(rel, l->name, n) || rel[n] != '/')
        return 0;
    const char *k = rel + n + 1;
    size_t kl = strcspn(k, "/");
    if (!k[kl] || kl >= sizeof(l->key))
        return 0;
    memcpy(l->key, k, kl);
    l->key[kl] = 0;
    if (is_key_dir(l->key))
        return 1;
    l->key[0] = 0;
    return 0;
}

/* What earlier runs left in every person's folder of @p out, also of people no run
 * packages again: an interrupted run's folder, which no playlist lists, and superseded
 * folders whose time is up. A person whose playlist exists but cannot be read is left
 * alone. */
static void sweep_people(const char *out, double keep_old)
{
    DIR *d = opendir(out);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "shared"))
            continue;
        char *person = path_join(out, e->d_name), *pl = NULL;
        Listed listed = { .name = e->d_name };
        if (!person || asprintf(&pl, "%s.m3u8", person) < 0) {
            free(person);
            break;
        }
        int r = playlist_files(pl, find_listed, &listed);
        DIR *pd = r >= 0 || r == AVERROR(ENOENT) ? opendir(person) : NULL;
        struct dirent *k;
        while (pd && (k = readdir(pd))) {
            if (!is_key_dir(k->d_name) || !strcmp(k->d_name, listed.key))
                continue;
            char *p = path_join(person, k->d_name);
            if (p && !superseded_within(p, keep_old))
                remove_own_dir(p);
            free(p);
        }
        if (pd)
            closedir(pd);
        free(pl);
        free(person);
    }
    closedir(d);
}

/* The size of @p dir/@p name. */
static int file_size(const char *dir, const char *name, int64_t *size)
{
    struct stat sb;
    char *p = path_join(dir, name);
    if (!p)
        return AVERROR(ENOMEM);
    int r = stat(p, &sb);
    free(p);
    if (r < 0)
        return AVERROR(errno);
    *size = (int64_t)sb.st_size;
    return 0;
}

/* Bytes of a shared folder's init segment and its @p nb segments. */
static int dir_bytes(const char *dir, int nb, int64_t *bytes)
{
    char name[32];
    *bytes = 0;
    for (int k = -1; k < nb; k++) {
        if (k < 0)
            snprintf(name, sizeof(name), "init.mp4");
        else
            snprintf(name, sizeof(name), "%d.m4s", k);
        int64_t size;
        int ret = file_size(dir, name, &size);
        if (ret < 0)
            return ret;
        *bytes += size;
    }
    return 0;
}

static int write_shared(VpHlsPackager *pk, Shared *sh, const char *role, int input,
                        VpFailure *fail)
{
    const Src *s = &sh->src;
    char hex[17], name[64];
    char *marker = NULL, *path = NULL;
    AFrame *af = NULL;
    Buf b = { 0 };
    int ret;
    struct stat sb;

    if ((ret = shared_key(pk, s, role, hex)) < 0)
        return ret;
    snprintf(name, sizeof(name), "shared/%s-%s", role, hex);
    if (!(sh->uri = strdup(name)) || !(sh->dir = path_join(pk->out, name)) ||
        !(marker = path_join(sh->dir, ".complete")))
        return AVERROR(ENOMEM);
    shared_audio(sh, input == 0);
    if (stat(marker, &sb) == 0) {
        vpi_log(&pk->o.logger, VP_LOG_INFO, "%s: its shared segments are in %s (reused)",
                s->path, sh->dir);
        free(marker);
        return dir_bytes(sh->dir, s->nb_cuts, &sh->bytes);
    }
    if ((ret = vpi_mkdir_p(sh->dir)) < 0) {
        fail_set(fail, ret, -1, sh->dir, "cannot create the folder: %s", vp_strerror(ret));
        goto end;
    }
    remove_matching(sh->dir, vpi_output_is_temp_name); /* a run killed while writing it */
    build_init(&b, s->v, s->a);
    if (!(path = path_join(sh->dir, "init.mp4"))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if ((ret = write_file(path, &b, pk->o.durable)) < 0) {
        fail_set(fail, ret, -1, path, "%s", vp_strerror(ret));
        goto end;
    }
    sh->bytes = (int64_t)b.len;
    if (!(af = calloc((size_t)FFMAX(1, sh->a_end - sh->a_first), sizeof(*af)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    int64_t j = sh->a_first;
    for (int k = 0; k < s->nb_cuts; k++) {
        if (cancelled(pk)) {
            ret = VP_ERR_CANCELLED;
            goto end;
        }
        int64_t v0 = s->cuts[k], v1 = s->cuts[k + 1];
        int64_t t1 = k + 1 < s->nb_cuts ? s->pts[v1] : INT64_MAX;
        int64_t nb_a = 0, a_t = 0;
        if (s->a) {
            int sr = s->a->sample_rate;
            a_t = frame_time(s, j);
            while (j < sh->a_end &&
                   (t1 == INT64_MAX || av_rescale(frame_time(s, j), VT, sr) < t1)) {
                const VpiMp4Sample *x = &s->a->samples[j];
                af[nb_a++] = (AFrame){ s->fd, x->pos, NULL, x->size };
                j++;
            }
        }
        SegSpec g = { s, v0, v1, 0, sh->end, af, nb_a, a_t, (uint32_t)k + 1 };
        b.len = 0;
        if ((ret = build_segment(&b, &g)) < 0) {
            fail_set(fail, ret, input, s->path, "%s", segment_why(ret));
            goto end;
        }
        free(path);
        snprintf(name, sizeof(name), "%d.m4s", k);
        if (!(path = path_join(sh->dir, name))) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        if ((ret = write_file(path, &b, pk->o.durable)) < 0) {
            fail_set(fail, ret, -1, path, "%s", vp_strerror(ret));
            goto end;
        }
        sh->bytes += (int64_t)b.len;
    }
    b.len = 0;
    put(&b, LAYOUT_VERSION "\n", sizeof(LAYOUT_VERSION));
    if ((ret = write_file(marker, &b, pk->o.durable)) < 0)
        fail_set(fail, ret, -1, marker, "%s", vp_strerror(ret));
    else
        vpi_log(&pk->o.logger, VP_LOG_INFO, "%s: %d shared segments written into %s",
                s->path, s->nb_cuts, sh->dir);
end:
    free(b.d);
    free(af);
    free(path);
    free(marker);
    return ret;
}

void vp_hls_packager_free(VpHlsPackager **pp)
{
    VpHlsPackager *pk = pp ? *pp : NULL;
    if (!pk)
        return;
    *pp = NULL;
    for (int k = 0; k < 2; k++) {
        Shared *sh = k ? &pk->outro : &pk->intro;
        src_free(&sh->src);
        free(sh->dir);
        free(sh->uri);
    }
    free(pk->out);
    free(pk);
}

int vp_hls_packager_new(const char *out_dir, const char *intro, const char *outro,
                        const VpHlsOpts *opts, VpHlsPackager **out, VpFailure *fail)
{
    VpHlsPackager *pk = NULL;
    int ret;
    *out = NULL;
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    if (!(pk = calloc(1, sizeof(*pk))))
        return AVERROR(ENOMEM);
    pk->intro.src.fd = pk->outro.src.fd = -1;
    if (opts)
        pk->o = *opts;
    else
        vp_hls_default_opts(&pk->o);
    const VpLogger *prev = vpi_log_scope_enter(&pk->o.logger);
    char why[256];
    if ((ret = vpi_opt_check(&vpi_hls_options, &pk->o, why, sizeof(why))) < 0) {
        vpi_log(&pk->o.logger, VP_LOG_ERROR, "hls options: %s", why);
        if (fail) {
            fail->code = ret;
            snprintf(fail->message, sizeof(fail->message), "hls options: %s", why);
        }
        goto fail;
    }
    if (!intro || !outro) {
        fail_set(fail, VP_ERR_BAD_OPTION, -1, out_dir,
                 "personalized HLS needs both an intro and an outro");
        ret = VP_ERR_BAD_OPTION;
        goto fail;
    }
    pk->target = (int64_t)(pk->o.target * VT + 0.5);
    if (!(pk->out = strdup(out_dir))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = src_open(intro, 0, pk->target, &pk->intro.src, fail)) < 0 ||
        (ret = src_open(outro, 1, pk->target, &pk->outro.src, fail)) < 0)
        goto fail;
    const Src *si = &pk->intro.src, *so = &pk->outro.src;
    for (int k = 0; k < 2; k++) {
        const Src *s = k ? so : si;
        if (!s->a) {
            fail_set(fail, VP_ERR_NOT_JOINABLE, k, s->path,
                     "has no audio; the shared segments of personalized HLS need AAC audio");
            ret = VP_ERR_NOT_JOINABLE;
            goto fail;
        }
    }
    if (so->a->sample_rate != si->a->sample_rate || so->a->channels != si->a->channels ||
        so->a->asc_size < 2 || so->a->asc[0] != si->a->asc[0] ||
        (so->a->asc[1] & 0xf8) != (si->a->asc[1] & 0xf8) || so->v->width != si->v->width ||
        so->v->height != si->v->height) {
        fail_set(fail, VP_ERR_NOT_JOINABLE, 1, so->path,
                 "its picture size or audio format differs from the intro's %s",
                 si->path);
        ret = VP_ERR_NOT_JOINABLE;
        goto fail;
    }
    /* the output grid: the intro's frames where they are (join.c's rule) */
    int64_t a0 = si->seam.a0;
    pk->P0 = a0 <= 0 ? -a0 : FRAME + ((FRAME - a0 % FRAME) % FRAME);
    pk->intro_base = (pk->P0 + a0) / FRAME;
    pk->bit_rate = si->a->avg_bitrate;
    if (!pk->bit_rate && si->a->media_duration > 0) {
        int64_t total = 0;
        for (int64_t i = 0; i < si->a->nb_samples; i++)
            total += si->a->samples[i].size;
        pk->bit_rate = av_rescale(total * 8, si->a->sample_rate, si->a->media_duration);
    }
    /* The intro's last frame is shown until the first grid place at or after its end for
     * a clip with the intro's AAC priming (FFmpeg's 1024 for every clip it encoded): the
     * clip then starts right where the intro's shared frames end, without a hole. A clip
     * with other priming starts at the next grid place after that (a hole of less than
     * one AAC frame; never an overlap, which would make a player drop pictures). */
    {
        int sr = si->a->sample_rate;
        int64_t e = pk->P0 + av_rescale(si->end, sr, VT);
        e += ((-(e + si->seam.a0)) % FRAME + FRAME) % FRAME;
        pk->intro_end_s = e;
        pk->intro.end = av_rescale(e - pk->P0, VT, sr);
        pk->outro.end = so->end;
    }
    if ((ret = write_shared(pk, &pk->intro, "intro", 0, fail)) < 0 ||
        (ret = write_shared(pk, &pk->outro, "outro", 1, fail)) < 0)
        goto fail;
    vpi_log_scope_leave(prev);
    sweep_people(pk->out, pk->o.keep_old);
    *out = pk;
    return 0;
fail:
    if (fail && !fail->code)
        fail_set(fail, ret, -1, out_dir, "%s", vp_strerror(ret));
    vpi_log_scope_leave(prev);
    vp_hls_packager_free(&pk);
    return ret;
}

/* ---- one person -------------------------------------------------------------------------- */

/* A URI for a name: unreserved characters as they are, the rest percent-encoded. */
static void put_uri(Buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            put8(b, c);
        } else {
            char h[4];
            snprintf(h, sizeof(h), "%%%02X", c);
            put(b, h, 3);
        }
    }
}

static void put_str(Buf *b, const char *s)
{
    put(b, s, strlen(s));
}

typedef struct Entry {       /* one playlist line group */
    int64_t dur;             /* VT ticks */
    const char *dir;         /* URI folder */
    int index;
    const char *map;         /* EXT-X-MAP URI before it, or NULL */
    int disc;
} Entry;

/* Two video tracks decode with one init segment when their sample entries are of one type
 * with the same parameter sets (avcC) and size; other boxes of the entry (FFmpeg's btrt,
 * the bit rate) do not matter to a decoder. */
static int same_entry(const VpiMp4Track *a, const VpiMp4Track *b)
{
    return a->fourcc == b->fourcc && a->width == b->width && a->height == b->height &&
           a->avcc && b->avcc && a->avcc_size == b->avcc_size &&
           !memcmp(a->avcc, b->avcc, a->avcc_size);
}

int vp_hls_packager_person(VpHlsPackager *pk, const char *clip, const char *name,
                           VpHlsStats *stats, VpFailure *fail)
{
    Src c;
    VpiSeamPlan plan = { 0 };
    Buf b = { 0 }, pl = { 0 };
    AFrame *af = NULL;
    Entry *ent = NULL;
    char *parent = NULL, *dir = NULL, *uri_dir = NULL, *path = NULL, *own_init = NULL;
    char *pl_path = NULL;
    char why[512] = "";
    VpHlsStats st = { 0 };
    int ret, made_dir = 0;
    const Src *si = &pk->intro.src, *so = &pk->outro.src;
    const VpLogger *prev = vpi_log_scope_enter(&pk->o.logger);

    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    memset(&c, 0, sizeof(c));
    c.fd = -1;
    if (!name[0] || strchr(name, '/') || !strcmp(name, "shared") || name[0] == '.') {
        fail_set(fail, VP_ERR_BAD_OPTION, -1, name, "not a plain file name for a person");
        ret = VP_ERR_BAD_OPTION;
        goto end;
    }
    if ((ret = src_open(clip, 1, pk->target, &c, fail)) < 0)
        goto end;
    if (c.v->width != si->v->width || c.v->height != si->v->height) {
        fail_set(fail, VP_ERR_NOT_JOINABLE, 1, clip, "video is %dx%d, the join needs %dx%d",
                 c.v->width, c.v->height, si->v->width, si->v->height);
        ret = VP_ERR_NOT_JOINABLE;
        goto end;
    }
    int sr = si->a->sample_rate;
    if (c.a && (c.a->sample_rate != sr || c.a->channels != si->a->channels ||
                c.a->asc[0] != si->a->asc[0] ||
                (c.a->asc[1] & 0xf8) != (si->a->asc[1] & 0xf8))) {
        fail_set(fail, VP_ERR_NOT_JOINABLE, 1, clip,
                 "audio is %d Hz, %d channels, the join needs %d Hz, %d channels (AAC-LC)",
                 c.a->sample_rate, c.a->channels, sr, si->a->channels);
        ret = VP_ERR_NOT_JOINABLE;
        goto end;
    }

    /* Where the clip and the outro go, in output samples (0 = the intro's AAC frame 0):
     * the first place at or after where the previous part ends at which the part's frames
     * sit on the grid; the previous part's last frame is shown that much longer (never
     * shorter: a shared frame cannot change, and an overlap would make a player drop the
     * frames it covers). */
    int64_t P0 = pk->P0;
    VpiSeamSeg seg[3] = { si->seam, c.seam, so->seam };
    seg[0].J = P0;
    seg[0].base = pk->intro_base * FRAME;
    int64_t Jc = pk->intro_end_s;
    if (c.a)
        Jc += ((-(Jc + c.seam.a0)) % FRAME + FRAME) % FRAME;
    seg[1].J = Jc;
    seg[1].base = Jc + c.seam.a0;
    int64_t Lc = av_rescale(c.end, sr, VT);
    int64_t Jo = Jc + Lc;
    Jo += ((-(Jo + so->seam.a0)) % FRAME + FRAME) % FRAME;
    /* The clip's last frame is the person's own: it may also be shortened, as the join
     * does, to the nearer grid place, by less than half its length, when it is the last
     * in decode order too (its duration then sets where the clip ends for a player). */
    int64_t pmax = 0;
    for (int64_t i = 0; i < c.n; i++)
        pmax = FFMAX(pmax, c.pts[i]);
    int64_t dl = av_rescale(c.end - c.pts[c.n - 1], sr, VT);
    if (c.pts[c.n - 1] == pmax && Jo - FRAME > Jc + Lc - dl / 2 &&
        (Jc + Lc) - (Jo - FRAME) < Jo - (Jc + Lc))
        Jo -= FRAME;
    seg[2].J = Jo;
    seg[2].base = Jo + so->seam.a0;
    int64_t Lo = av_rescale(so->end, sr, VT);
    VpiSeamParams sp = {
        .sample_rate = sr,
        .channels = si->a->channels,
        .bit_rate = pk->bit_rate,
        .asc = si->a->asc,
        .asc_size = si->a->asc_size,
        .end = Jo + Lo,
    };
    if ((ret = vpi_seam_plan(seg, 3, &sp, &plan, why, sizeof(why))) < 0) {
        fail_set(fail, ret, 1, clip, "audio: %s", why[0] ? why : vp_strerror(ret));
        goto end;
    }
    /* The slots the person's segments carry: after the intro's shared frames, before the
     * outro's. The planner must copy the same frames the shared segments hold. */
    int64_t sA = pk->intro_base + pk->intro.a_end, sB = seg[2].base / FRAME + pk->outro.a_first;
    if (sA > sB || sB > plan.nb_slots ||
        (sA > 0 && (plan.seg[sA - 1] != 0 || plan.frame[sA - 1] != pk->intro.a_end - 1)) ||
        (sB < plan.nb_slots && plan.seg[sB] != 2)) {
        fail_set(fail, AVERROR_BUG, 1, clip, "audio: the seams do not meet the shared "
                 "segments (slots %lld..%lld)", (long long)sA, (long long)sB);
        ret = AVERROR_BUG;
        goto end;
    }
    for (int64_t i = sA; i < sB; i++)
        st.nb_audio_reencoded += plan.seg[i] < 0;

    /* Video ticks of the person's timeline. */
    int64_t Vc = av_rescale(Jc - P0, VT, sr), Vo = av_rescale(Jo - P0, VT, sr);

    /* A fresh folder for every run, OUT/NAME/KEY (KEY-N when KEY exists: a redo of the same
     * clip, or a killed run's): a viewer of the playlist in place keeps reading the folder
     * it lists until the new playlist is renamed over it, and never a mix. */
    char key[17], sub[40], role[160];
    snprintf(role, sizeof(role), "person %s %s", pk->intro.uri, pk->outro.uri);
    if ((ret = shared_key(pk, &c, role, key)) < 0)
        goto end;
    if (!(parent = path_join(pk->out, name))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if ((ret = vpi_mkdir_p(parent)) < 0) {
        fail_set(fail, ret, -1, parent, "cannot create the folder: %s", vp_strerror(ret));
        goto end;
    }
    for (int n = 0;; n++) {
        if (n)
            snprintf(sub, sizeof(sub), "%s-%d", key, n);
        else
            snprintf(sub, sizeof(sub), "%s", key);
        free(dir);
        if (!(dir = path_join(parent, sub))) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        if (mkdir(dir, 0777) == 0)
            break;
        if (errno != EEXIST || n == 999) {
            ret = AVERROR(errno == EEXIST ? EMLINK : errno);
            fail_set(fail, ret, -1, dir, "cannot create the folder: %s", vp_strerror(ret));
            goto end;
        }
    }
    made_dir = 1;
    if (asprintf(&uri_dir, "%s/%s", name, sub) < 0) {
        uri_dir = NULL;
        ret = AVERROR(ENOMEM);
        goto end;
    }

    /* The clip's init segment: a shared one when its sample entries are the same. */
    const char *clip_map;
    char *own_map = NULL;
    if (same_entry(c.v, si->v)) {
        clip_map = NULL; /* the intro's, already in force */
    } else if (same_entry(c.v, so->v)) {
        if (asprintf(&own_map, "%s/init.mp4", pk->outro.uri) < 0) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        clip_map = own_map;
    } else {
        build_init(&b, c.v, si->a);
        if (!(own_init = path_join(dir, "init.mp4")) ||
            asprintf(&own_map, "%s/init.mp4", uri_dir) < 0) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        if ((ret = write_file(own_init, &b, pk->o.durable)) < 0) {
            fail_set(fail, ret, -1, own_init, "%s", vp_strerror(ret));
            free(own_map);
            goto end;
        }
        st.personal_bytes += (int64_t)b.len;
        clip_map = own_map;
    }

    /* The clip's segments, with the slots [sA, sB) shared out by time. */
    if (!(af = calloc((size_t)FFMAX(1, sB - sA), sizeof(*af)))) {
        ret = AVERROR(ENOMEM);
        free(own_map);
        goto end;
    }
    int64_t slot = sA;
    for (int k = 0; k < c.nb_cuts; k++) {
        if (cancelled(pk)) {
            ret = VP_ERR_CANCELLED;
            free(own_map);
            goto end;
        }
        int64_t v0 = c.cuts[k], v1 = c.cuts[k + 1];
        int last = k + 1 == c.nb_cuts;
        int64_t t1 = last ? INT64_MAX : Vc + c.pts[v1];
        int64_t nb_a = 0, a_t = slot * FRAME - P0;
        while (slot < sB && (last || av_rescale(slot * FRAME - P0, VT, sr) < t1)) {
            int sg = plan.seg[slot];
            if (sg >= 0) {
                const VpiSeamSeg *q = &seg[sg];
                const VpiMp4Sample *x = &q->t->samples[plan.frame[slot]];
                af[nb_a++] = (AFrame){ q->fd, x->pos, NULL, x->size };
            } else {
                af[nb_a++] = (AFrame){ -1, 0, plan.arena + plan.frame[slot], plan.size[slot] };
            }
            slot++;
        }
        SegSpec g = { &c, v0, v1, Vc, Vo, af, nb_a, a_t, (uint32_t)k + 1 };
        b.len = 0;
        if ((ret = build_segment(&b, &g)) < 0) {
            fail_set(fail, ret, 1, clip, "%s", segment_why(ret));
            free(own_map);
            goto end;
        }
        char nm[32];
        snprintf(nm, sizeof(nm), "%d.m4s", k);
        free(path);
        if (!(path = path_join(dir, nm))) {
            ret = AVERROR(ENOMEM);
            free(own_map);
            goto end;
        }
        if ((ret = write_file(path, &b, pk->o.durable)) < 0) {
            fail_set(fail, ret, -1, path, "%s", vp_strerror(ret));
            free(own_map);
            goto end;
        }
        st.personal_bytes += (int64_t)b.len;
    }

    /* The playlist. */
    int nb_e = si->nb_cuts + c.nb_cuts + so->nb_cuts;
    if (!(ent = calloc((size_t)nb_e, sizeof(*ent)))) {
        ret = AVERROR(ENOMEM);
        free(own_map);
        goto end;
    }
    int e = 0;
    char *intro_map = NULL, *outro_map = NULL;
    if (asprintf(&intro_map, "%s/init.mp4", pk->intro.uri) < 0)
        intro_map = NULL;
    if (asprintf(&outro_map, "%s/init.mp4", pk->outro.uri) < 0)
        outro_map = NULL;
    for (int k = 0; k < si->nb_cuts; k++) {
        int64_t t0 = si->pts[si->cuts[k]];
        int64_t t1 = k + 1 < si->nb_cuts ? si->pts[si->cuts[k + 1]] : pk->intro.end;
        ent[e++] = (Entry){ t1 - t0, pk->intro.uri, k, k ? NULL : intro_map, 0 };
    }
    for (int k = 0; k < c.nb_cuts; k++) {
        /* the first starts where the intro's last ends, the last ends where the outro
         * starts: the durations add up to the person's timeline exactly */
        int64_t t0 = k ? Vc + c.pts[c.cuts[k]] : pk->intro.end;
        int64_t t1 = k + 1 < c.nb_cuts ? Vc + c.pts[c.cuts[k + 1]] : Vo;
        ent[e++] = (Entry){ t1 - t0, uri_dir, k, k ? NULL : clip_map, 0 };
    }
    for (int k = 0; k < so->nb_cuts; k++) {
        int64_t t0 = so->pts[so->cuts[k]];
        int64_t t1 = k + 1 < so->nb_cuts ? so->pts[so->cuts[k + 1]] : so->end;
        ent[e++] = (Entry){ t1 - t0, pk->outro.uri, k, k ? NULL : outro_map, !k };
    }
    int64_t maxd = 0, total = 0;
    for (int k = 0; k < nb_e; k++) {
        maxd = FFMAX(maxd, (ent[k].dur + VT / 2) / VT);
        total += ent[k].dur;
    }
    char line[128];
    put_str(&pl, "#EXTM3U\n#EXT-X-VERSION:7\n");
    snprintf(line, sizeof(line), "#EXT-X-TARGETDURATION:%lld\n", (long long)FFMAX(1, maxd));
    put_str(&pl, line);
    put_str(&pl, "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                 "#EXT-X-INDEPENDENT-SEGMENTS\n");
    for (int k = 0; k < nb_e; k++) {
        if (ent[k].disc)
            put_str(&pl, "#EXT-X-DISCONTINUITY\n");
        if (ent[k].map) {
            put_str(&pl, "#EXT-X-MAP:URI=\"");
            put_uri(&pl, ent[k].map);
            put_str(&pl, "\"\n");
        }
        snprintf(line, sizeof(line), "#EXTINF:%.6f,\n", (double)ent[k].dur / VT);
        put_str(&pl, line);
        put_uri(&pl, ent[k].dir);
        snprintf(line, sizeof(line), "/%d.m4s\n", ent[k].index);
        put_str(&pl, line);
    }
    put_str(&pl, "#EXT-X-ENDLIST\n");
    free(intro_map);
    free(outro_map);
    free(own_map);
    if (asprintf(&pl_path, "%s/%s.m3u8", pk->out, name) < 0) {
        pl_path = NULL;
        ret = AVERROR(ENOMEM);
        goto end;
    }
    /* the folder the playlist about to be replaced lists, for its viewers */
    Listed listed = { .name = name };
    playlist_files(pl_path, find_listed, &listed);
    if ((ret = write_file(pl_path, &pl, pk->o.durable)) < 0) {
        fail_set(fail, ret, -1, pl_path, "%s", vp_strerror(ret));
        goto end;
    }
    st.personal_bytes += (int64_t)pl.len;
    made_dir = 0; /* listed now */
    remove_previous(parent, sub, listed.key, pk->o.keep_old);
    st.shared_bytes = pk->intro.bytes + pk->outro.bytes;
    st.nb_segments = nb_e;
    st.nb_personal = c.nb_cuts;
    st.duration = (double)total / VT;
    if (stats)
        *stats = st;
    ret = 0;
end:
    if (ret < 0 && fail && !fail->code)
        fail_set(fail, ret, -1, pl_path ? pl_path : name, "%s", vp_strerror(ret));
    if (made_dir) /* a failed run's folder, which no playlist lists */
        remove_own_dir(dir);
    vpi_seam_plan_free(&plan);
    src_free(&c);
    free(b.d);
    free(pl.d);
    free(af);
    free(ent);
    free(parent);
    free(dir);
    free(uri_dir);
    free(path);
    free(own_init);
    free(pl_path);
    vpi_log_scope_leave(prev);
    return ret;
}

/* ---- what a playlist is made of ----------------------------------------------------------- */

/* @p uri percent-decoded into @p out (of @p size); 0, or AVERROR_INVALIDDATA for a URI that
 * is not a relative path inside the output folder. */
static int uri_path(const char *uri, char *out, size_t size)
{
    size_t n = 0;
    for (const char *s = uri; *s; s++) {
        int c = (unsigned char)*s;
        if (c == '%' && av_isxdigit(s[1]) && av_isxdigit(s[2])) {
            char h[3] = { s[1], s[2], 0 };
            c = (int)strtol(h, NULL, 16);
            s += 2;
        }
        if (!c || n + 1 >= size)
            return AVERROR_INVALIDDATA;
        out[n++] = (char)c;
    }
    out[n] = 0;
    if (!n || out[0] == '/' || strstr(out, "://") || !strcmp(out, "..") ||
        !strncmp(out, "../", 3) || strstr(out, "/../") ||
        (n >= 3 && !strcmp(out + n - 3, "/..")))
        return AVERROR_INVALIDDATA;
    return 0;
}

int vpi_hls_playlist_parse(char *text, int (*fn)(void *ctx, const char *rel), void *ctx)
{
    int ret = 0;
    for (char *line = text, *next; line && *line && !ret; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        line[strcspn(line, "\r")] = 0;
        const char *uri = line;
        if (!strncmp(line, "#EXT-X-MAP:", 11)) {
            char *q = strstr(line, "URI=\"");
            char *e = q ? strchr(q + 5, '"') : NULL;
            if (!e)
                continue;
            *e = 0;
            uri = q + 5;
        } else if (!*line || *line == '#') {
            continue;
        }
        char rel[4096];
        if ((ret = uri_path(uri, rel, sizeof(rel))) == 0)
            ret = fn(ctx, rel);
    }
    return ret;
}

/* vpi_hls_playlist_parse() of the playlist file @p pl: AVERROR(errno) when it cannot be
 * read, AVERROR_INVALIDDATA above 64 MiB. */
static int playlist_files(const char *pl, int (*fn)(void *ctx, const char *rel), void *ctx)
{
    char *text = NULL;
    struct stat sb;
    int ret = 0;
    FILE *f = fopen(pl, "rb");

    if (!f || fstat(fileno(f), &sb) < 0) {
        ret = AVERROR(errno);
        goto end;
    }
    if (sb.st_size > 64 << 20) { /* a VOD playlist of 100 hours is 2 MB */
        ret = AVERROR_INVALIDDATA;
        goto end;
    }
    if (!(text = malloc((size_t)sb.st_size + 1))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    text[fread(text, 1, (size_t)sb.st_size, f)] = 0;
    ret = vpi_hls_playlist_parse(text, fn, ctx);
end:
    if (f)
        fclose(f);
    free(text);
    return ret;
}

typedef struct Sizes {
    const char *out_dir;
    char **seen;
    size_t nb_seen, cap;
    int64_t own, shared;
} Sizes;

static int add_size(void *ctx, const char *rel)
{
    Sizes *z = ctx;
    for (size_t i = 0; i < z->nb_seen; i++)
        if (!strcmp(z->seen[i], rel))
            return 0;
    if (z->nb_seen == z->cap) {
        size_t nc = z->cap ? 2 * z->cap : 64;
        char **ns = realloc(z->seen, nc * sizeof(*ns));
        if (!ns)
            return AVERROR(ENOMEM);
        z->seen = ns;
        z->cap = nc;
    }
    if (!(z->seen[z->nb_seen] = strdup(rel)))
        return AVERROR(ENOMEM);
    z->nb_seen++;
    int64_t size;
    int ret = file_size(z->out_dir, rel, &size);
    if (ret < 0)
        return ret;
    if (!strncmp(rel, "shared/", 7))
        z->shared += size;
    else
        z->own += size;
    return 0;
}

int vp_hls_playlist_bytes(const char *out_dir, const char *name, int64_t *own, int64_t *shared)
{
    Sizes z = { .out_dir = out_dir };
    struct stat sb;
    char *pl = NULL;
    int ret;

    *own = *shared = 0;
    if (asprintf(&pl, "%s/%s.m3u8", out_dir, name) < 0)
        return AVERROR(ENOMEM);
    if ((ret = stat(pl, &sb) < 0 ? AVERROR(errno) : 0) == 0 &&
        (ret = playlist_files(pl, add_size, &z)) == 0) {
        *own = z.own + (int64_t)sb.st_size;
        *shared = z.shared;
    }
    for (size_t i = 0; i < z.nb_seen; i++)
        free(z.seen[i]);
    free(z.seen);
    free(pl);
    return ret;
}
