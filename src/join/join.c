/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vp_joiner_run(): stream-copy joins of H.264 + AAC MP4 segments.
 *
 * Every sample's size and place is known from the input indexes before anything is written,
 * so the output's moov is computed first and the file is written in one pass: header, then
 * the segments' media data copied in large runs, with the few re-encoded AAC frames of each
 * join in between. The video is never decoded. Each run starts on a block boundary of the
 * output at the same offset modulo the block size as in its source, so that on a filesystem
 * that shares extents (XFS with reflink, btrfs) its whole blocks are cloned (FICLONERANGE),
 * not copied: the output's new blocks are then only the header's, the re-encoded frames' and
 * the few around in-band parameter sets. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/avutil.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mathematics.h>
#include <libavutil/mem.h>

#include "bitstream/bitstream.h"
#include "util/internal.h"
#include "join_internal.h"
#include "mp4/mp4.h"
#include "options/options.h"
#include "vidpipe/check.h"
#include "vidpipe/join.h"
#include "vidpipe/probe.h"

#define FRAME VPI_AAC_FRAME
/* Unused bytes between samples of one segment up to this size are copied along, so that a
 * segment becomes one or a few large copies. */
#define MERGE_GAP (256 << 10)
#define COPY_BUF (1 << 20)

/* A segment file, indexed once and kept in the joiner's cache while it stays unchanged. */
typedef struct Segment {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int fd;
    VpiMp4File *mp4;
    VpMediaInfo *info;
    uint64_t used;
    int temporary;   /* a --conform result: deleted after the run, never cached */
    VpiSeamCache *seams;   /* its audio decoded at earlier joins */
} Segment;

struct VpJoiner {
    VpJoinOpts opts;
    Segment **cache;
    int nb_cache;
    uint64_t clock;
    uint64_t run_clock;   /* segments used after this belong to the current run */
};

/* One segment's place in the output. */
typedef struct Part {
    Segment *seg;
    const VpiMp4Track *v;
    int64_t first;        /* first kept video sample (decode order) */
    int64_t keep_pts;     /* samples presented before this are dropped (open GOP) */
    int64_t p0;           /* first presented pts, source ticks */
    int64_t vd;           /* presented video length, source ticks */
    int64_t last_dur;     /* display time of the last presented frame, source ticks */
    int64_t nb_kept, nb_dropped;
    int64_t V;            /* output video start, output ticks (after the seam shift) */
    int64_t V_nominal;
    VpiSeamSeg audio;
    uint16_t entry;       /* its video sample entry in the output's stsd */
    uint8_t *prefix;      /* its SPS/PPS, put in front of each of its sync samples */
    size_t prefix_len;
} Part;

typedef struct Piece {
    int fd;               /* -1: bytes in mem, or zeros (mem NULL) */
    int64_t src, len;
    const uint8_t *mem;
} Piece;

typedef struct Item {
    int64_t src;
    uint32_t size;
    int video;
    int64_t index;        /* output sample index */
} Item;

#define O(...) VPI_OPT_ROW(VpJoinOpts, __VA_ARGS__)

static const VpiOption join_options[] = {
    O(conform, BOOL, 0, 0, 1, "re-encode segments that cannot be stream-copied"),
    /* Always 1: the moov is written before the media data. */
    O(faststart, INT, 1, 1, 1, "moov before mdat (always)"),
    O(max_cached_segments, INT, 16, 0, 4096, "segment indexes kept in the joiner's cache"),
    O(durable, BOOL, 1, 0, 1, "fsync each output before renaming it into place"),
    { NULL },
};
#undef O

const VpiOptTable vpi_join_options = { "join", join_options, NULL };

void vp_join_default_opts(VpJoinOpts *opts)
{
    memset(opts, 0, sizeof(*opts));
    vpi_opt_defaults(&vpi_join_options, opts);
}

int vp_joiner_new(const VpJoinOpts *opts, VpJoiner **out)
{
    VpJoinOpts def;
    char why[256];
    int ret;
    *out = NULL;
    if (!opts) {
        vp_join_default_opts(&def);
        opts = &def;
    }
    if ((ret = vpi_opt_check(&vpi_join_options, opts, why, sizeof(why))) < 0) {
        vpi_log(&opts->logger, VP_LOG_ERROR, "join options: %s", why);
        return ret;
    }
    VpJoiner *j = calloc(1, sizeof(*j));
    if (!j)
        return AVERROR(ENOMEM);
    j->opts = *opts;
    ret = vpi_log_register(&j->opts.logger);
    if (ret < 0) {
        free(j);
        return ret;
    }
    *out = j;
    return 0;
}

static void segment_free(Segment **ps)
{
    Segment *s = *ps;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->temporary && s->path)
        unlink(s->path);
    vpi_mp4_index_free(&s->mp4);
    vp_media_info_free(&s->info);
    vpi_seam_cache_free(&s->seams);
    free(s->path);
    free(s);
    *ps = NULL;
}

void vp_joiner_free(VpJoiner **pj)
{
    VpJoiner *j = pj ? *pj : NULL;
    if (!j)
        return;
    for (int i = 0; i < j->nb_cache; i++)
        segment_free(&j->cache[i]);
    free(j->cache);
    vpi_log_unregister(&j->opts.logger);
    free(j);
    *pj = NULL;
}

/* ---- segments ----------------------------------------------------------------------- */

/* The probe a join runs on a segment: its logger and cancel are the join's. */
static void segment_probe_opts(const VpJoinOpts *jo, VpProbeOpts *po)
{
    vp_probe_default_opts(po);
    po->count_packets = 0;
    po->gop_scan_packets = 48;
    po->logger = jo->logger;
    po->cancel = jo->cancel;
}

static int segment_open(const VpJoinOpts *jo, const char *path, int temporary, Segment **out,
                        char *why, size_t wsz)
{
    Segment *s = calloc(1, sizeof(*s));
    struct stat sb;
    int ret;

    *out = NULL;
    if (!s)
        return AVERROR(ENOMEM);
    s->fd = -1;
    s->temporary = temporary;
    if (!(s->path = strdup(path))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = vpi_input_check(path, &sb)) < 0)
        goto fail;
    if ((s->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        ret = AVERROR(errno);
        goto fail;
    }
    if (fstat(s->fd, &sb) < 0) {
        ret = AVERROR(errno);
        goto fail;
    }
    s->dev = sb.st_dev;
    s->ino = sb.st_ino;
    s->size = sb.st_size;
    s->mtime = sb.st_mtim;
    if ((ret = vpi_mp4_index(s->fd, &s->mp4, why, wsz)) < 0) {
        /* An MP4/MOV the index refuses keeps the index's reason, the one `check` gives
         * (vp_check_file): its tables are not handed to FFmpeg's demuxer, which would trust
         * them (20 bytes of stsz claiming 64 Mi samples cost it 600 MB). Another container:
         * the probe names what it is. */
        if (ret != VP_ERR_NOT_MEDIA)
            goto fail;
        VpProbeOpts po;
        segment_probe_opts(jo, &po);
        int pr = vp_probe_file(path, &po, &s->info);
        if (pr < 0) {
            ret = pr;
            why[0] = 0;
        }
        goto fail;
    }
    *out = s;
    return 0;

fail:
    if (!why[0])
        snprintf(why, wsz, "%s", vp_strerror(ret));
    s->temporary = 0; /* a failed open never deletes the caller's file */
    segment_free(&s);
    return ret;
}

static int same_file(const Segment *s, const struct stat *sb)
{
    return s->dev == sb->st_dev && s->ino == sb->st_ino && s->size == sb->st_size &&
           s->mtime.tv_sec == sb->st_mtim.tv_sec && s->mtime.tv_nsec == sb->st_mtim.tv_nsec;
}

/* The cached segment for @p path, indexed again when the file changed. */
static int segment_get(VpJoiner *j, const char *path, Segment **out, int *cached, char *why,
                       size_t wsz)
{
    struct stat sb;
    *cached = 0;
    if (stat(path, &sb) == 0) {
        for (int i = 0; i < j->nb_cache; i++) {
            Segment *s = j->cache[i];
            if (!strcmp(s->path, path)) {
                if (same_file(s, &sb)) {
                    s->used = ++j->clock;
                    *out = s;
                    *cached = 1;
                    return 0;
                }
                segment_free(&j->cache[i]);
                j->cache[i] = j->cache[--j->nb_cache];
                break;
            }
        }
    }
    int ret = segment_open(&j->opts, path, 0, out, why, wsz);
    if (ret < 0 || j->opts.max_cached_segments == 0)
        return ret;
    if (j->nb_cache == j->opts.max_cached_segments) {
        /* evict the least recently used segment that this run does not use */
        int lru = -1;
        for (int i = 0; i < j->nb_cache; i++)
            if (j->cache[i]->used <= j->run_clock &&
                (lru < 0 || j->cache[i]->used < j->cache[lru]->used))
                lru = i;
        if (lru < 0)
            return 0; /* all in use: this one stays uncached */
        segment_free(&j->cache[lru]);
        j->cache[lru] = j->cache[--j->nb_cache];
    }
    if (!j->cache) {
        j->cache = calloc((size_t)j->opts.max_cached_segments, sizeof(*j->cache));
        if (!j->cache)
            return 0; /* works uncached */
    }
    (*out)->used = ++j->clock;
    j->cache[j->nb_cache++] = *out;
    *cached = 1;
    return 0;
}

/* ---- what a stream copy needs beyond `check` ---------------------------------------- */

static int avcc_param_sets(const uint8_t *avcc, size_t size, int length_size, uint8_t **out,
                           size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (size < 7)
        return VP_ERR_CORRUPT;
    size_t total = 0, pos = 5;
    /* two passes: measure, then copy as length-prefixed NAL units */
    for (int pass = 0; pass < 2; pass++) {
        uint8_t *w = pass ? *out : NULL;
        pos = 5;
        for (int kind = 0; kind < 2; kind++) {
            if (pos >= size)
                return VP_ERR_CORRUPT;
            int n = kind ? avcc[pos] : avcc[pos] & 0x1f;
            pos++;
            for (int i = 0; i < n; i++) {
                if (pos + 2 > size)
                    return VP_ERR_CORRUPT;
                size_t len = AV_RB16(avcc + pos);
                pos += 2;
                if (pos + len > size)
                    return VP_ERR_CORRUPT;
                if (w) {
                    for (int b = length_size - 1; b >= 0; b--)
                        *w++ = (uint8_t)(len >> (8 * b));
                    memcpy(w, avcc + pos, len);
                    w += len;
                } else {
                    total += (size_t)length_size + len;
                }
                pos += len;
            }
        }
        if (!pass) {
            if (!total)
                return 0;
            if (!(*out = malloc(total)))
                return AVERROR(ENOMEM);
            *out_len = total;
        }
    }
    return 0;
}

/* The probe behind `check`'s verdict; only run when the indexes alone cannot show that a
 * segment fits (it decodes a few frames, which costs more than the join itself). */
static int segment_probe(const VpJoinOpts *jo, Segment *s)
{
    if (s->info)
        return 0;
    VpProbeOpts po;
    segment_probe_opts(jo, &po);
    return vp_probe_file(s->path, &po, &s->info);
}

static double frame_duration(const VpiMp4Track *v)
{
    /* the first sample's duration is the nominal one for constant-rate streams */
    return v->nb_samples ? (double)v->samples[0].duration / v->timescale : 0;
}

/* 1 if the indexes alone show that @p s can be copied after @p ref: the same picture
 * format (from the SPS), frame rate and audio format. 0 means "ask check". */
static int fits_by_index(const Segment *ref, const Segment *s)
{
    const VpiMp4Track *v = &s->mp4->video, *rv = &ref->mp4->video;
    const VpiMp4Track *a = &s->mp4->audio, *ra = &ref->mp4->audio;
    VpiH264Sps x, y;
    if (!v->avcc || !rv->avcc || vpi_avcc_first_sps(v->avcc, v->avcc_size, &x) < 0 ||
        vpi_avcc_first_sps(rv->avcc, rv->avcc_size, &y) < 0)
        return 0;
    if (x.width != y.width || x.height != y.height || x.chroma_format_idc != y.chroma_format_idc ||
        x.bit_depth_luma != y.bit_depth_luma || x.bit_depth_chroma != y.bit_depth_chroma ||
        !x.frame_mbs_only || !y.frame_mbs_only ||
        (int64_t)(x.sar_num ? x.sar_num : 1) * (y.sar_den ? y.sar_den : 1) !=
            (int64_t)(y.sar_num ? y.sar_num : 1) * (x.sar_den ? x.sar_den : 1))
        return 0;
    double fa = frame_duration(v), fb = frame_duration(rv);
    if (!(fa > 0 && fb > 0 && fabs(fa - fb) <= fb * 0.001))
        return 0;
    if ((a->kind == VPI_TRACK_AUDIO) != (ra->kind == VPI_TRACK_AUDIO))
        return a->kind != VPI_TRACK_AUDIO; /* a segment without audio gets silence */
    if (a->kind == VPI_TRACK_AUDIO &&
        (a->sample_rate != ra->sample_rate || a->channels != ra->channels ||
         a->object_type != ra->object_type || a->asc_size < 2 || ra->asc_size < 2 ||
         a->asc[0] != ra->asc[0] || a->asc[1] != ra->asc[1]))
        return 0;
    return 1;
}

/* 1 if the first sync sample of @p s is an IDR picture. */
static int starts_with_idr(const Segment *s)
{
    const VpiMp4Track *v = &s->mp4->video;
    int64_t i = 0;
    while (i < v->nb_samples && !v->samples[i].key)
        i++;
    if (i == v->nb_samples)
        return 0;
    const VpiMp4Sample *smp = &v->samples[i];
    uint8_t *data = malloc(smp->size ? smp->size : 1);
    VpiH264Frame f;
    int idr = 0;
    if (data && pread(s->fd, data, smp->size, smp->pos) == (ssize_t)smp->size &&
        vpi_h264_inspect(data, smp->size, v->nal_length_size, &f) == 0)
        idr = f.idr;
    free(data);
    return idr;
}

/* Reasons a segment cannot be copied into a join with @p ref that `check` does not list. */
static int copy_blocker(const Segment *ref, const Segment *s, char *why, size_t wsz)
{
    const VpiMp4Track *v = &s->mp4->video, *rv = &ref->mp4->video;
    const VpiMp4Track *a = &s->mp4->audio;
    char t[8];
    AV_WB32(t, v->fourcc);
    t[4] = 0;
    if (!v->avcc || !v->nal_length_size) {
        snprintf(why, wsz, "video is '%s', not H.264 in MP4 (avc1/avc3)", t);
        return 1;
    }
    if (v->nal_length_size != rv->nal_length_size) {
        snprintf(why, wsz, "H.264 NAL length size is %d bytes, the join needs %d",
                 v->nal_length_size, rv->nal_length_size);
        return 1;
    }
    /* After another segment, a stream that starts on a non-IDR I frame (open GOP) does not
     * restart the decoder's picture order: FFmpeg's decoder then outputs the previous
     * segment's last pictures late and players drop them. Only the first segment may. */
    if (s != ref && !starts_with_idr(s)) {
        snprintf(why, wsz, "video starts on a non-IDR picture (open GOP), which cannot follow "
                 "another segment by stream copy");
        return 1;
    }
    if (a->kind == VPI_TRACK_AUDIO) {
        AV_WB32(t, a->fourcc);
        if (a->fourcc != MKBETAG('m', 'p', '4', 'a') || a->object_type != 2) {
            snprintf(why, wsz, "audio is '%s' object type %d, the join needs AAC-LC", t,
                     a->object_type);
            return 1;
        }
        if ((int64_t)a->timescale != a->sample_rate) {
            snprintf(why, wsz, "audio timescale %u differs from its sample rate %d",
                     a->timescale, a->sample_rate);
            return 1;
        }
        for (int64_t i = 0; i + 1 < a->nb_samples; i++)
            if (a->samples[i].duration != FRAME) {
                snprintf(why, wsz, "AAC frame %" PRId64 " lasts %u samples, not 1024", i,
                         a->samples[i].duration);
                return 1;
            }
    }
    return 0;
}


/* ---- the video timeline ------------------------------------------------------------- */

static int64_t pts_of(const VpiMp4Sample *s)
{
    return s->dts + s->cts;
}

static int plan_part_video(Part *p)
{
    const VpiMp4Track *v = p->v;
    int64_t first = 0;
    while (first < v->nb_samples && !v->samples[first].key)
        first++;
    if (first == v->nb_samples)
        return VP_ERR_CORRUPT;
    p->first = first;
    p->keep_pts = pts_of(&v->samples[first]);
    /* A segment that starts on an open-GOP I frame: the B frames that precede it in display
     * order reference a picture of the GOP before, which is not in the file. */
    int64_t p0 = INT64_MAX, pend = INT64_MIN, last_pts = INT64_MIN;
    p->nb_kept = p->nb_dropped = 0;
    for (int64_t i = 0; i < v->nb_samples; i++) {
        const VpiMp4Sample *s = &v->samples[i];
        int64_t pts = pts_of(s);
        if (i < first || pts < p->keep_pts) {
            p->nb_dropped++;
            continue;
        }
        p->nb_kept++;
        p0 = FFMIN(p0, pts);
        if (pts + (int64_t)s->duration > pend)
            pend = pts + s->duration;
        if (pts > last_pts) {
            last_pts = pts;
            p->last_dur = s->duration;
        }
    }
    p->p0 = p0;
    /* presented length: to the end of the last frame, or as far as the frames reach */
    int64_t sum = 0;
    for (int64_t i = first; i < v->nb_samples; i++)
        if (pts_of(&v->samples[i]) >= p->keep_pts)
            sum += v->samples[i].duration;
    p->vd = FFMAX(sum, pend - p0);
    p->last_dur = p0 + p->vd - last_pts;
    return 0;
}

static int64_t lcm64(int64_t a, int64_t b)
{
    return a / av_gcd(a, b) * b;
}

static int64_t round_frame(int64_t x)
{
    return (x >= 0 ? (x + FRAME / 2) / FRAME : -((-x + FRAME / 2 - 1) / FRAME)) * FRAME;
}

/* ---- writing ------------------------------------------------------------------------ */

#define WRITEBACK_CHUNK ((int64_t)8 << 20)

static int pwrite_all(int fd, const uint8_t *p, size_t n, int64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return AVERROR(errno);
        }
        p += w;
        off += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_zeros(int fd, int64_t len, int64_t off)
{
    static const uint8_t zeros[4096];
    while (len > 0) {
        size_t n = (size_t)FFMIN(len, (int64_t)sizeof(zeros));
        int ret = pwrite_all(fd, zeros, n, off);
        if (ret < 0)
            return ret;
        off += (int64_t)n;
        len -= (int64_t)n;
    }
    return 0;
}

/* Copy @p len bytes at @p src of @p in to @p dst of @p out: in the kernel where it can
 * (copy_file_range), else by reads and writes. */
static int copy_range(int in, int64_t src, int64_t len, int out, int64_t dst, uint8_t **buf)
{
    loff_t off = src, doff = dst;
    while (len > 0) {
        ssize_t r = copy_file_range(in, &off, out, &doff, (size_t)FFMIN(len, 1 << 30), 0);
        if (r > 0) {
            len -= r;
            continue;
        }
        if (r == 0)
            return VP_ERR_TRUNCATED;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
            return AVERROR(errno);
        break; /* not supported here: plain reads and writes */
    }
    if (len > 0 && !*buf && !(*buf = malloc(COPY_BUF)))
        return AVERROR(ENOMEM);
    while (len > 0) {
        ssize_t r = pread(in, *buf, (size_t)FFMIN(len, COPY_BUF), off);
        if (r <= 0)
            return r < 0 ? AVERROR(errno) : VP_ERR_TRUNCATED;
        int ret = pwrite_all(out, *buf, (size_t)r, doff);
        if (ret < 0)
            return ret;
        off += r;
        doff += r;
        len -= r;
    }
    return 0;
}

/* Writing the output: where it is, and whether its filesystem clones. */
typedef struct Writer {
    int fd;
    int64_t block;
    int clone;            /* 0 once the filesystem said it cannot share extents */
    int64_t shared;       /* bytes cloned */
    uint8_t *buf;
} Writer;

/* Put @p len bytes at @p src of @p in at @p dst of the output. When both offsets sit at the
 * same place in a block, the whole blocks in between are cloned: the output then shares the
 * source's extents (XFS with reflink, btrfs; the fsync before the rename makes the clone
 * durable as it does a copy). copy_file_range clones such ranges by itself (measured on
 * Linux 6.18, XFS), but does not say whether it did; FICLONERANGE does, and that count is
 * the join's bytes_shared. Only the unaligned head and tail are copied. */
static int put_range(Writer *w, int in, int64_t src, int64_t len, int64_t dst)
{
    int64_t B = w->block;
    if (!w->clone || src % B != dst % B)
        return copy_range(in, src, len, w->fd, dst, &w->buf);
    int64_t head = FFMIN((B - src % B) % B, len);
    int64_t mid = (len - head) / B * B, done = 0;
    int ret = copy_range(in, src, head, w->fd, dst, &w->buf);
    if (ret < 0)
        return ret;
    while (done < mid) {
        int64_t n = FFMIN(mid - done, (int64_t)1 << 30);
        struct file_clone_range fcr = {
            .src_fd = in,
            .src_offset = (uint64_t)(src + head + done),
            .src_length = (uint64_t)n,
            .dest_offset = (uint64_t)(dst + head + done),
        };
        if (ioctl(w->fd, FICLONERANGE, &fcr) == 0) {
            done += n;
            w->shared += n;
            continue;
        }
        if (errno == EINTR)
            continue;
        /* EOPNOTSUPP, ENOTTY: this filesystem shares nothing (ext4, tmpfs, NFS); EXDEV (the
         * segment lies on another one), EINVAL, EPERM, ETXTBSY: copy this range only */
        if (errno == EOPNOTSUPP || errno == ENOTTY || errno == ENOSYS)
            w->clone = 0;
        else if (errno != EXDEV && errno != EINVAL && errno != EPERM && errno != ETXTBSY)
            return AVERROR(errno);
        break;
    }
    return copy_range(in, src + head + done, len - head - done, w->fd, dst + head + done,
                      &w->buf);
}

static int item_cmp(const void *a, const void *b)
{
    const Item *x = a, *y = b;
    return x->src < y->src ? -1 : x->src > y->src ? 1 : (x->video > y->video) - (x->video < y->video);
}

static int items_sorted(const Item *it, int64_t n)
{
    for (int64_t i = 1; i < n; i++)
        if (item_cmp(&it[i - 1], &it[i]) > 0)
            return 0;
    return 1;
}

/* Put a segment's items in file order. Its video samples (items[0, nv)) and its audio
 * frames (the rest) each come in their own order, which in an interleaved file is already
 * the file's: then one merge into @p tmp does it, else a sort. */
static void items_order(Item *items, int64_t nv, int64_t n, Item *tmp)
{
    if (!items_sorted(items, nv) || !items_sorted(items + nv, n - nv)) {
        items_order(items, nv, n, tmp);
        return;
    }
    int64_t i = 0, j = nv, k = 0;
    while (i < nv && j < n)
        tmp[k++] = item_cmp(&items[j], &items[i]) < 0 ? items[j++] : items[i++];
    while (i < nv)
        tmp[k++] = items[i++];
    while (j < n)
        tmp[k++] = items[j++];
    memcpy(items, tmp, (size_t)n * sizeof(*items));
}

typedef struct Layout {
    Piece *pieces;
    int64_t nb, cap;
    int64_t pos;       /* bytes laid out so far (mdat payload, which starts on a block) */
    int64_t block;     /* the output filesystem's block size */
    int64_t padding;   /* zeros laid out to put runs on their source's place in a block */
} Layout;

static int add_piece(Layout *l, int fd, int64_t src, int64_t len, const uint8_t *mem)
{
    if (len <= 0)
        return 0;
    Piece *last = l->nb ? &l->pieces[l->nb - 1] : NULL;
    if (last && fd >= 0 && last->fd == fd && last->src + last->len == src) {
        last->len += len;
    } else if (last && fd < 0 && !mem && last->fd < 0 && !last->mem) {
        last->len += len;
    } else {
        if (l->nb == l->cap) {
            int64_t cap = l->cap ? l->cap * 2 : 64;
            Piece *n = realloc(l->pieces, (size_t)cap * sizeof(*n));
            if (!n)
                return AVERROR(ENOMEM);
            l->pieces = n;
            l->cap = cap;
        }
        l->pieces[l->nb++] = (Piece){ fd, src, len, mem };
    }
    l->pos += len;
    return 0;
}

/* Zeros up to the next position that is @p at modulo the block size. */
static int pad_to(Layout *l, int64_t at)
{
    int64_t gap = ((at - l->pos) % l->block + l->block) % l->block;
    l->padding += gap;
    return add_piece(l, -1, 0, gap, NULL);
}

/* A run of a segment's bytes, [src, end): widened to whole blocks of its file (the bytes
 * around the samples come along unreferenced, as the gaps inside a run do), so that it
 * starts where a block of the output starts and ends where one ends. @p src is already a
 * block start, or (after in-band parameter sets) where the output is at src's place in a
 * block. */
static int add_run(Layout *l, const Segment *seg, int64_t src, int64_t end)
{
    int64_t B = l->block;
    int64_t wide = end + (B - end % B) % B;
    if (wide > seg->size)
        wide = end; /* the file's partial last block; whatever comes next pads */
    return add_piece(l, seg->fd, src, wide - src, NULL);
}

typedef struct Run {
    VpJoiner *j;
    const char *out_path;
    int quicktime;       /* out_path is a .mov: the QuickTime brand */
    Part *parts;
    int nb;
    Segment **temps;     /* conformed segments of this run */
    int nb_temps;
    VpiMp4OutTrack vt, at;
    VpiMp4Entry *ventries; /* the output's video sample entries */
    VpiMp4Entry aentry;
    VpiSeamPlan seams;
    int has_audio;
    int sample_rate;
    const VpiMp4Track *aref;
    Layout lay;
    char *why;
    size_t wsz;
    const char *const *names;
    int failed;          /* segment at fault, -1: output or internal */
    char *fail_path;     /* the file named by set_why (VpFailure.path), or NULL */
    size_t fail_path_size;
} Run;

static void set_why(Run *r, const char *path, const char *fmt, ...) VPI_PRINTF(3, 4);
static void set_why(Run *r, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r->why && r->wsz)
        snprintf(r->why, r->wsz, "%s: %s", path, msg);
    if (r->fail_path)
        vpi_strlcpy(r->fail_path, path, r->fail_path_size);
    for (int k = 0; k < r->nb; k++)
        if (path == r->names[k] || (r->parts[k].seg && path == r->parts[k].seg->path))
            r->failed = k;
}

/* Open every segment, and refuse (or conform) the ones a copy cannot take. */
static int load_parts(Run *r, const char *const *paths)
{
    char why[512];
    int ret;
    for (int k = 0; k < r->nb; k++) {
        int cached = 0;
        Segment *s = NULL;
        why[0] = 0;
        if (vpi_cancelled(&r->j->opts.cancel)) {
            set_why(r, r->out_path, "%s", vp_strerror(VP_ERR_CANCELLED));
            return VP_ERR_CANCELLED;
        }
        ret = segment_get(r->j, paths[k], &s, &cached, why, sizeof(why));
        if (ret < 0) {
            set_why(r, paths[k], "%s", why);
            return ret;
        }
        if (!cached)
            r->temps[r->nb_temps++] = s;  /* not kept by the cache: freed after the run */
        r->parts[k].seg = s;
        r->parts[k].v = &s->mp4->video;
    }
    Segment *ref = r->parts[0].seg;
    if (copy_blocker(ref, ref, why, sizeof(why))) {
        /* in check's words when check's rule is what fails (as for the segments after it) */
        VpCheckResult res = { 0 };
        if (segment_probe(&r->j->opts, ref) >= 0 && vp_check_requirements(ref->info, &res) > 0)
            vpi_check_reasons(&res, "the join", why, sizeof(why));
        vp_check_result_clear(&res);
        set_why(r, paths[0], "%s (the first segment sets the output's format; --conform "
                "re-encodes only the others)", why);
        return VP_ERR_NOT_JOINABLE;
    }
    for (int k = 1; k < r->nb; k++) {
        Segment *s = r->parts[k].seg;
        VpCheckResult res = { 0 };
        if (fits_by_index(ref, s) && !copy_blocker(ref, s, why, sizeof(why)))
            continue;
        if ((ret = segment_probe(&r->j->opts, r->parts[0].seg)) < 0) {
            set_why(r, paths[0], "%s", vp_strerror(ret));
            return ret;
        }
        if ((ret = segment_probe(&r->j->opts, s)) < 0) {
            set_why(r, paths[k], "%s", vp_strerror(ret));
            return ret;
        }
        if ((ret = vp_check_compare(ref->info, s->info, &res)) < 0) {
            set_why(r, paths[k], "%s", vp_strerror(ret));
            return ret;
        }
        int blocked = 0;
        if (res.nb_errors) {
            vpi_check_reasons(&res, "the join", why, sizeof(why));
            blocked = 1;
        } else if (copy_blocker(ref, s, why, sizeof(why))) {
            blocked = 1;
        }
        vp_check_result_clear(&res);
        if (!blocked)
            continue;
        if (!r->j->opts.conform) {
            set_why(r, paths[k], "%s (--conform re-encodes it)", why);
            return VP_ERR_NOT_JOINABLE;
        }
        /* --conform: re-encode this segment next to the output, then copy that. */
        char *tmp = NULL;
        VpiOutput o;
        if ((ret = vpi_output_begin(&o, r->out_path)) < 0) {
            set_why(r, r->out_path, "cannot create a temporary file: %s", vp_strerror(ret));
            return ret;
        }
        tmp = o.tmp_path;
        o.tmp_path = NULL;
        vpi_output_abort(&o);
        vpi_log(&r->j->opts.logger, VP_LOG_INFO, "%s: %s: re-encoding it to match %s",
                paths[k], why, paths[0]);
        char cwhy[512] = "";
        ret = vpi_conform(paths[k], ref->info, tmp, cwhy, sizeof(cwhy), &r->j->opts.logger,
                          &r->j->opts.cancel);
        Segment *c = NULL;
        if (ret >= 0)
            ret = segment_open(&r->j->opts, tmp, 1, &c, cwhy, sizeof(cwhy));
        if (ret < 0) {
            unlink(tmp);
            free(tmp);
            set_why(r, paths[k], "could not conform it: %s", cwhy[0] ? cwhy : vp_strerror(ret));
            return ret;
        }
        free(tmp);
        r->temps[r->nb_temps++] = c;
        r->parts[k].seg = c;
        r->parts[k].v = &c->mp4->video;
        if (copy_blocker(ref, c, why, sizeof(why))) {
            set_why(r, paths[k], "conformed copy still differs: %s", why);
            return VP_ERR_NOT_JOINABLE;
        }
    }
    return 0;
}

/* The timeline below rescales and adds up times from hostile files. The index keeps every
 * time of a track within vpi_mp4_max_seconds() of its file (fewer than 2^56 ticks; see
 * mp4.h); this checks what the segment's plan made of them against the same limit before
 * any of it is rescaled. A segment presents no more than its samples span (the longer of
 * their summed durations and their presentation extent), so the silence a join inserts
 * for it, up to its video's length, is bounded by the segment itself. */
static int part_in_range(const Part *p)
{
    const VpiMp4Track *v = p->v, *a = &p->seg->mp4->audio;
    int64_t max_s = vpi_mp4_max_seconds(p->seg->mp4->file_size);
    int64_t lim = max_s * (int64_t)v->timescale;
    int64_t span = FFMAX(v->media_duration, v->pts_end - v->pts_min);
    if (p->vd < 0 || p->vd > span || span > lim || p->p0 < -lim || p->p0 > lim ||
        p->last_dur < 0 || p->last_dur > lim || llabs(v->edit_media_time) > lim ||
        llabs(v->edit_dwell) > lim)
        return 0;
    if (a->kind == VPI_TRACK_AUDIO) {
        int64_t alim = max_s * (int64_t)a->timescale;
        if (a->nb_samples * (int64_t)FRAME > alim + FRAME || llabs(a->edit_media_time) > alim ||
            llabs(a->edit_dwell) > alim || a->edit_duration > alim)
            return 0;
    }
    return 1;
}

static int plan_timeline(Run *r, int64_t *T_out, int64_t *D_out)
{
    int64_t T = r->parts[0].v->timescale;
    for (int k = 0; k < r->nb; k++) {
        Part *p = &r->parts[k];
        int ret = plan_part_video(p);
        if (ret < 0) {
            set_why(r, p->seg->path, "video has no sync sample");
            return ret;
        }
        if (!part_in_range(p)) {
            set_why(r, p->seg->path, "timestamps out of range (more than %lld s)",
                    (long long)vpi_mp4_max_seconds(p->seg->mp4->file_size));
            return VP_ERR_CORRUPT;
        }
        if (p->nb_dropped)
            vpi_log(&r->j->opts.logger, VP_LOG_WARNING,
                    "%s: %" PRId64 " video frame%s before the first "
                    "decodable picture dropped (open GOP or no IDR at the start)",
                    p->seg->path, p->nb_dropped, p->nb_dropped == 1 ? "" : "s");
        int64_t l = lcm64(T, p->v->timescale);
        T = l <= INT32_MAX ? l : T;
    }
    *T_out = T;

    /* Audio reference: the first segment with audio. */
    r->aref = NULL;
    for (int k = 0; k < r->nb && !r->aref; k++)
        if (r->parts[k].seg->mp4->audio.kind == VPI_TRACK_AUDIO)
            r->aref = &r->parts[k].seg->mp4->audio;
    r->has_audio = r->aref != NULL;
    int sr = r->has_audio ? r->aref->sample_rate : 48000;
    r->sample_rate = sr;

    /* Audio of each segment in its own presentation time. */
    for (int k = 0; k < r->nb; k++) {
        Part *p = &r->parts[k];
        const VpiMp4Track *a = &p->seg->mp4->audio, *v = p->v;
        VpiSeamSeg *s = &p->audio;
        s->t = a->kind == VPI_TRACK_AUDIO ? a : NULL;
        s->fd = p->seg->fd;
        s->cache = &p->seg->seams;
        s->nominal = av_rescale(p->vd, sr, v->timescale);
        if (!s->t)
            continue;
        vpi_mp4_audio_span(v, a, p->p0, &s->a0, &s->real_start, &s->real_end);
        if (s->real_end <= s->real_start)
            s->t = NULL;
    }

    /* The output's own AAC priming: that of the first segment, whose frames then sit on the
     * output's frame grid as they are. */
    const VpiSeamSeg *s0 = &r->parts[0].audio;
    int64_t P0 = s0->t && s0->a0 <= 0 ? -s0->a0 : FRAME + ((FRAME - (s0->t ? s0->a0 : 0) % FRAME) % FRAME);

    /* Each segment's video goes where its AAC frames land on the output grid: at most half
     * a frame from its nominal place, so audio is copied and A/V stays locked. */
    int64_t V = 0, shift_prev = 0;
    for (int k = 0; k < r->nb; k++) {
        Part *p = &r->parts[k];
        VpiSeamSeg *s = &p->audio;
        p->V_nominal = V;
        int64_t Jstar = P0 + av_rescale(V, sr, T);
        int64_t eps = 0;
        if (s->t && k > 0) {
            int64_t bstar = Jstar + s->a0;
            int64_t base = round_frame(bstar);
            const int64_t cand[3] = { base, base + FRAME, base - FRAME };
            int64_t best = INT64_MAX;
            int64_t last = av_rescale(r->parts[k - 1].last_dur, T, r->parts[k - 1].v->timescale);
            for (int c = 0; c < 3; c++) {
                int64_t e = cand[c] - bstar;
                int64_t sh = av_rescale(e, T, sr);
                int64_t dur = last + sh - shift_prev;
                if (dur * 2 < last || dur > last * 2)
                    continue;
                if (best == INT64_MAX || llabs(e) < llabs(best))
                    best = e;
            }
            eps = best == INT64_MAX ? 0 : best;
            if (best == INT64_MAX)
                s->t = NULL; /* no place keeps the video sane: re-encode its audio */
        }
        s->J = Jstar + eps;
        s->base = s->J + s->a0;
        int64_t shift = av_rescale(eps, T, sr);
        p->V = V + shift;
        shift_prev = shift;
        /* each term is below 2^24 s (part_in_range): the sum is checked, never wraps */
        V += av_rescale(p->vd, T, p->v->timescale);
        if (V > VPI_MP4_MAX_SECONDS * T) {
            set_why(r, r->out_path, "the output would last more than %lld s",
                    (long long)VPI_MP4_MAX_SECONDS);
            return VP_ERR_TOO_LARGE;
        }
    }
    int64_t D = 0;
    for (int k = 0; k < r->nb; k++) {
        Part *p = &r->parts[k];
        const VpiMp4Sample *f = &p->v->samples[p->first];
        D = FFMAX(D, av_rescale(p->p0 - f->dts, T, p->v->timescale));
    }
    *D_out = D;
    return 0;
}

static int build_video(Run *r, int64_t T, int64_t D)
{
    VpiMp4OutTrack *vt = &r->vt;
    int ret;
    for (int attempt = 0; attempt < 8; attempt++) {
        vt->nb = 0;
        int64_t prev = INT64_MIN, bad = 0;
        for (int k = 0; k < r->nb && !bad; k++) {
            Part *p = &r->parts[k];
            const VpiMp4Track *v = p->v;
            for (int64_t i = p->first; i < v->nb_samples; i++) {
                const VpiMp4Sample *s = &v->samples[i];
                if (pts_of(s) < p->keep_pts)
                    continue;
                int64_t pts = p->V + D + av_rescale(pts_of(s) - p->p0, T, v->timescale);
                int64_t dts = p->V + D + av_rescale(s->dts - p->p0, T, v->timescale);
                if (prev != INT64_MIN && dts <= prev)
                    dts = prev + 1;
                if (dts > pts) {
                    bad = 1;
                    break;
                }
                if (pts - dts > INT32_MAX) {
                    set_why(r, p->seg->path, "a composition offset of %.1f s does not fit the "
                            "output's ctts", (double)(pts - dts) / T);
                    return VP_ERR_UNSUPPORTED;
                }
                VpiMp4OutSample o = { .size = s->size, .key = s->key, .cts = (int32_t)(pts - dts),
                                      .entry = p->entry };
                o.pos = dts; /* dts for now; positions come with the layout */
                if ((ret = vpi_mp4_out_push(vt, &o)) < 0)
                    return ret;
                prev = dts;
            }
        }
        if (!bad)
            break;
        /* Segments with deeper B-frame reordering after shallower ones: more delay. */
        D += av_rescale(r->parts[0].last_dur, T, r->parts[0].v->timescale);
        if (attempt == 7) {
            set_why(r, r->parts[0].seg->path, "cannot order the video timestamps");
            return AVERROR_BUG;
        }
    }
    int64_t dts0 = vt->s[0].pos;
    const Part *lp = &r->parts[r->nb - 1];
    int64_t end_pts = lp->V + D + av_rescale(lp->vd, T, lp->v->timescale);
    for (int64_t i = 0; i < vt->nb; i++) {
        /* the last sample lasts until the presentation ends, so that the media duration
         * covers the last presented frame even when it is not the last decoded one */
        int64_t next = i + 1 < vt->nb ? vt->s[i + 1].pos : FFMAX(vt->s[i].pos + 1, end_pts);
        if (next - vt->s[i].pos > UINT32_MAX) {
            set_why(r, r->out_path, "video frame %" PRId64 " would last %.1f s, longer than "
                    "the output's stts can say at time scale %" PRId64, i,
                    (double)(next - vt->s[i].pos) / T, T);
            return VP_ERR_UNSUPPORTED;
        }
        vt->s[i].duration = (uint32_t)(next - vt->s[i].pos);
    }
    (void)dts0;
    vt->kind = VPI_TRACK_VIDEO;
    vt->timescale = (uint32_t)T;
    vt->width = r->parts[0].v->width;
    vt->height = r->parts[0].v->height;
    vt->edit_media_time = D - vt->s[0].pos;
    vt->presented = end_pts - D;
    return 0;
}

/* Parameter sets: each distinct avcC (SPS/PPS) gets its own sample entry, and stsc points
 * every segment's chunks at its own, as ISO/IEC 14496-12 and QuickTime mean several sample
 * descriptions to be used; segments with equal avcC share one (intro + clip + outro: at most
 * three). Readers that follow sample entries (FFmpeg's decoder through its new-extradata side
 * data, QuickTime, GPAC) switch there. Readers that keep the first entry's parameter sets
 * (FFmpeg's demuxer-side parser, Chromium) need them in-band, so when there is more than one
 * entry every sync sample also carries its segment's SPS/PPS in front, the same bytes as its
 * entry: a decoder that starts at any keyframe (a seek) has the right ones either way.
 * docs/join.md has the measurements. */
static int assign_entries(Run *r)
{
    VpiMp4OutTrack *vt = &r->vt;
    int *owner = malloc((size_t)r->nb * sizeof(*owner));
    if (!owner || !(r->ventries = calloc((size_t)r->nb, sizeof(*r->ventries)))) {
        free(owner);
        return AVERROR(ENOMEM);
    }
    vt->nb_entries = 0;
    for (int k = 0; k < r->nb; k++) {
        Part *p = &r->parts[k];
        const VpiMp4Track *v = p->v;
        int e = 0;
        for (; e < vt->nb_entries; e++) {
            const VpiMp4Track *o = r->parts[owner[e]].v;
            if (o->avcc_size == v->avcc_size && !memcmp(o->avcc, v->avcc, v->avcc_size))
                break;
        }
        if (e == vt->nb_entries) {
            if (e == VPI_MP4_MAX_ENTRIES) {
                free(owner);
                set_why(r, p->seg->path, "more than %d different H.264 parameter sets in one "
                        "join", VPI_MP4_MAX_ENTRIES);
                return VP_ERR_UNSUPPORTED;
            }
            owner[e] = k;
            r->ventries[e] = (VpiMp4Entry){ v->entry, v->entry_size };
            vt->nb_entries++;
        }
        p->entry = (uint16_t)e;
    }
    vt->entries = r->ventries;
    free(owner);
    for (int k = 0; k < r->nb && vt->nb_entries > 1; k++) {
        Part *p = &r->parts[k];
        int ret = avcc_param_sets(p->v->avcc, p->v->avcc_size, p->v->nal_length_size,
                                  &p->prefix, &p->prefix_len);
        if (ret < 0) {
            set_why(r, p->seg->path, "malformed avcC (H.264 parameter sets)");
            return ret;
        }
    }
    return 0;
}

/* The re-encoded audio frames of slots [@p a, @p b), contiguous in the arena, as one piece
 * at the current end of the layout; sets their positions. */
static int add_encoded(Run *r, int64_t a, int64_t b)
{
    const VpiSeamPlan *sp = &r->seams;
    for (int64_t i = a; i < b; i++)
        r->at.s[i].pos = r->lay.pos + (int64_t)sp->frame[i] - sp->frame[a];
    int64_t len = sp->frame[b - 1] + sp->size[b - 1] - sp->frame[a];
    return add_piece(&r->lay, -1, 0, len, sp->arena + sp->frame[a]);
}

/* Lay the media data out: per segment the re-encoded audio frames before its first copied
 * one, its samples in file order, merged into large copies, then the re-encoded frames after
 * its last copied one; every track's samples thus lie in decode order. Sets every output
 * sample's position. */
static int layout(Run *r)
{
    Item *items = NULL, *tmp = NULL;
    int64_t vi = 0, cap = 0;
    int ret = 0;
    const VpiSeamPlan *sp = &r->seams;
    int64_t slot = 0;

    for (int k = 0; k < r->nb; k++) {
        Part *p = &r->parts[k];
        const VpiMp4Track *v = p->v, *a = p->audio.t;
        int64_t n = 0;
        int64_t need = p->nb_kept + (a ? a->nb_samples : 0);
        if (need > cap) {
            free(tmp);
            tmp = malloc((size_t)need * sizeof(*tmp));
            Item *ni = realloc(items, (size_t)need * sizeof(*ni));
            if (ni)
                items = ni;
            if (!ni || !tmp) {
                ret = AVERROR(ENOMEM);
                goto end;
            }
            cap = need;
        }
        for (int64_t i = p->first; i < v->nb_samples; i++) {
            const VpiMp4Sample *s = &v->samples[i];
            if (pts_of(s) < p->keep_pts)
                continue;
            items[n++] = (Item){ s->pos, s->size, 1, vi++ };
        }
        int64_t nv = n;
        /* the audio slots up to the end of this segment's span */
        int64_t span_end = k + 1 < r->nb ? r->parts[k + 1].audio.J : INT64_MAX;
        int64_t tail_start = -1, tail_end = -1;
        if (r->has_audio) {
            int64_t enc_start = -1;
            int copied = 0;
            for (; slot < sp->nb_slots && (slot * FRAME < span_end || k + 1 == r->nb); slot++) {
                if (sp->seg[slot] < 0) {
                    /* re-encoded frames are contiguous in the arena: one piece per run */
                    if (enc_start < 0)
                        enc_start = slot;
                    continue;
                }
                if (enc_start >= 0) {
                    if ((ret = add_encoded(r, enc_start, slot)) < 0)
                        goto end;
                    enc_start = -1;
                }
                copied = 1;
                if (sp->seg[slot] != k) {
                    ret = AVERROR_BUG;
                    goto end;
                }
                const VpiMp4Sample *s = &p->audio.t->samples[sp->frame[slot]];
                items[n++] = (Item){ s->pos, s->size, 0, slot };
            }
            /* Re-encoded frames after this segment's copied ones (the join to the next
             * segment, silence after short audio) go after its copied samples, so that the
             * audio samples lie in the file in decode order: Chromium's <video src> playback
             * loses frames stored before the ones preceding them (an AAC frame per such
             * frame, measured), FFmpeg does not. */
            if (enc_start >= 0 && copied) {
                tail_start = enc_start;
                tail_end = slot;
            } else if (enc_start >= 0 && (ret = add_encoded(r, enc_start, slot)) < 0) {
                goto end;
            }
        }
        items_order(items, nv, n, tmp);
        int64_t run_src = -1, run_end = -1;
        for (int64_t i = 0; i < n; i++) {
            Item *it = &items[i];
            int prefixed = it->video && p->prefix_len && r->vt.s[it->index].key;
            if (run_src >= 0 && (prefixed || it->src > run_end + MERGE_GAP || it->src < run_src)) {
                if ((ret = add_run(&r->lay, p->seg, run_src, run_end)) < 0)
                    goto end;
                run_src = -1;
            }
            if (prefixed) {
                if (r->vt.s[it->index].size > UINT32_MAX - p->prefix_len) {
                    ret = VP_ERR_TOO_LARGE;
                    goto end;
                }
                /* the sample keeps its place in a block; its parameter sets go just before */
                if ((ret = pad_to(&r->lay, it->src - (int64_t)p->prefix_len)) < 0)
                    goto end;
                r->vt.s[it->index].pos = r->lay.pos;
                r->vt.s[it->index].size += (uint32_t)p->prefix_len;
                if ((ret = add_piece(&r->lay, -1, 0, (int64_t)p->prefix_len, p->prefix)) < 0)
                    goto end;
                run_src = it->src;
                run_end = it->src;
            }
            if (run_src < 0) {
                if ((ret = pad_to(&r->lay, 0)) < 0)
                    goto end;
                run_src = it->src - it->src % r->lay.block;
                run_end = it->src;
            }
            int64_t out = r->lay.pos + (it->src - run_src);
            if (it->video) {
                if (!prefixed)
                    r->vt.s[it->index].pos = out;
            } else {
                r->at.s[it->index].pos = out;
            }
            run_end = FFMAX(run_end, it->src + it->size);
        }
        if (run_src >= 0 && (ret = add_run(&r->lay, p->seg, run_src, run_end)) < 0)
            goto end;
        if (tail_start >= 0 && (ret = add_encoded(r, tail_start, tail_end)) < 0)
            goto end;
    }
end:
    free(items);
    free(tmp);
    return ret;
}

static int build_audio(Run *r)
{
    VpiMp4OutTrack *at = &r->at;
    const VpiSeamPlan *sp = &r->seams;
    at->kind = VPI_TRACK_AUDIO;
    at->timescale = (uint32_t)r->sample_rate;
    r->aentry = (VpiMp4Entry){ r->aref->entry, r->aref->entry_size };
    at->entries = &r->aentry;
    at->nb_entries = 1;
    at->nb = 0;
    for (int64_t i = 0; i < sp->nb_slots; i++) {
        VpiMp4OutSample o = { .duration = FRAME, .key = 1 };
        if (sp->seg[i] >= 0)
            o.size = r->parts[sp->seg[i]].audio.t->samples[sp->frame[i]].size;
        else
            o.size = sp->size[i];
        int ret = vpi_mp4_out_push(at, &o);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* The block size of the filesystem that will hold @p path (its folder's). Above 64 KiB it is
 * not a block that can be shared but a transfer size (NFS reports its rsize, often 1 MiB),
 * and aligning to it would cost up to that much per run: 4096 then. */
static int64_t output_block(const char *path)
{
    char *dir = av_strdup(path);
    struct statvfs sv;
    int64_t b = 4096;
    if (dir && statvfs(dirname(dir), &sv) == 0 && sv.f_bsize >= 512 && sv.f_bsize <= (64 << 10) &&
        !(sv.f_bsize & (sv.f_bsize - 1)))
        b = (int64_t)sv.f_bsize;
    av_free(dir);
    return b;
}

static void shift_positions(VpiMp4OutTrack *t, int64_t by)
{
    for (int64_t i = 0; i < t->nb; i++)
        t->s[i].pos += by;
}

/* The header, followed by the zeros (inside mdat) that put the laid-out payload on a block
 * boundary of the file. The header's size depends on the offsets it holds (stco or co64),
 * so it is built again until the gap it leaves is the one its offsets assumed. */
static int build_header(Run *r, uint8_t **hdr, size_t *hdr_size, int64_t *gap)
{
    int64_t B = r->lay.block, g = 0;
    int ret;
    for (int attempt = 0; attempt < 4; attempt++) {
        VpiMp4OutTrack tracks[2] = { r->vt, r->at };
        if ((ret = vpi_mp4_build_header(tracks, r->has_audio ? 2 : 1, r->lay.pos + g,
                                        r->quicktime, hdr, hdr_size)) < 0)
            return ret;
        int64_t want = (B - (int64_t)*hdr_size % B) % B;
        if (want == g) {
            *gap = g;
            return 0;
        }
        av_freep(hdr);
        shift_positions(&r->vt, want - g);
        if (r->has_audio)
            shift_positions(&r->at, want - g);
        g = want;
    }
    return AVERROR_BUG;
}

static int write_output(Run *r, int64_t *bytes, int64_t *shared)
{
    uint8_t *hdr = NULL;
    size_t hdr_size = 0;
    int64_t gap = 0;
    VpiOutput o;
    Writer w = { .fd = -1, .block = r->lay.block, .clone = 1 };
    int ret;

    if ((ret = build_header(r, &hdr, &hdr_size, &gap)) < 0)
        return ret;
    if ((ret = vpi_output_begin(&o, r->out_path)) < 0) {
        set_why(r, r->out_path, "cannot create the output: %s", vp_strerror(ret));
        av_free(hdr);
        return ret;
    }
    if ((w.fd = open(o.tmp_path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0) {
        ret = AVERROR(errno);
        goto fail;
    }
    if ((ret = pwrite_all(w.fd, hdr, hdr_size, 0)) < 0 ||
        (ret = write_zeros(w.fd, gap, (int64_t)hdr_size)) < 0)
        goto fail;
    /* A durable output is fsynced before the rename. Starting the writeback of every few
     * megabytes while copying lets the disk work alongside the copy, so the final fsync
     * waits only for the tail instead of the whole file. Cloned ranges have nothing to
     * write back. */
    int64_t pos = (int64_t)hdr_size + gap, kicked = 0;
    for (int64_t i = 0; i < r->lay.nb; i++) {
        const Piece *pc = &r->lay.pieces[i];
        if (vpi_cancelled(&r->j->opts.cancel)) {
            ret = VP_ERR_CANCELLED;
            goto fail;
        }
        if (pc->fd >= 0)
            ret = put_range(&w, pc->fd, pc->src, pc->len, pos);
        else if (pc->mem)
            ret = pwrite_all(w.fd, pc->mem, (size_t)pc->len, pos);
        else
            ret = write_zeros(w.fd, pc->len, pos);
        if (ret < 0)
            goto fail;
        pos += pc->len;
        if (r->j->opts.durable && pos - kicked >= WRITEBACK_CHUNK) {
            sync_file_range(w.fd, kicked, pos - kicked, SYNC_FILE_RANGE_WRITE);
            kicked = pos;
        }
    }
    if (close(w.fd) < 0) {
        w.fd = -1;
        ret = AVERROR(errno);
        goto fail;
    }
    w.fd = -1;
    *bytes = pos;
    *shared = w.shared;
    o.no_sync = !r->j->opts.durable;
    if ((ret = vpi_output_commit(&o)) < 0) {
        set_why(r, r->out_path, "cannot finish the output: %s", vp_strerror(ret));
        goto end;
    }
    goto end;

fail:
    set_why(r, r->out_path, "writing failed: %s", vp_strerror(ret));
    if (w.fd >= 0)
        close(w.fd);
    vpi_output_abort(&o);
end:
    free(w.buf);
    av_free(hdr);
    return ret;
}

/* 0 for an ISO MP4 name (.mp4, .m4v), 1 for a QuickTime one (.mov), -1 for any other. */
static int output_kind(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot)
        return -1;
    if (!av_strcasecmp(dot, ".mp4") || !av_strcasecmp(dot, ".m4v"))
        return 0;
    return !av_strcasecmp(dot, ".mov") ? 1 : -1;
}

static int joiner_run(VpJoiner *j, const char *out_path, const char *const *segments, int nb,
                      VpJoinStats *stats, VpFailure *fail)
{
    char *why = fail ? fail->message : NULL;
    size_t why_size = fail ? sizeof(fail->message) : 0;
    Run r = { .j = j, .out_path = out_path, .nb = nb, .why = why, .wsz = why_size,
              .names = segments, .failed = -1, .fail_path = fail ? fail->path : NULL,
              .fail_path_size = fail ? sizeof(fail->path) : 0 };
    int64_t T = 0, D = 0, bytes = 0, shared = 0;
    int ret;

    if (why && why_size)
        why[0] = 0;
    if (stats)
        memset(stats, 0, sizeof(*stats));
    if (!j || !out_path || !segments || nb < 1) {
        if (why && why_size)
            snprintf(why, why_size, "join: need an output path and at least one segment");
        return AVERROR(EINVAL);
    }
    for (int k = 0; k < nb; k++)
        if (!segments[k]) {
            if (why && why_size)
                snprintf(why, why_size, "join: segment %d is NULL", k);
            return AVERROR(EINVAL);
        }
    /* Before anything is read or written: the rename would replace that segment. */
    if ((ret = vp_output_check_not_input(out_path, segments, nb)) < 0)
        goto end;
    /* The bytes are what the name says: never MP4 under .mkv. */
    if ((r.quicktime = output_kind(out_path)) < 0) {
        ret = VP_ERR_BAD_OPTION;
        if (why && why_size)
            snprintf(why, why_size, "%s: a join writes MP4 or QuickTime: name the output .mp4, "
                     ".m4v or .mov (Matroska and other containers are not supported)", out_path);
        goto end;
    }
    j->run_clock = j->clock;
    r.parts = calloc((size_t)nb, sizeof(*r.parts));
    r.temps = calloc((size_t)nb * 2, sizeof(*r.temps));
    if (!r.parts || !r.temps) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    int64_t t_start = vpi_now_us(), t_load, t_audio, t_write;
    if ((ret = load_parts(&r, segments)) < 0)
        goto end;
    t_load = vpi_now_us();
    if ((ret = plan_timeline(&r, &T, &D)) < 0)
        goto end;

    if ((ret = assign_entries(&r)) < 0)
        goto end;

    if ((ret = build_video(&r, T, D)) < 0)
        goto end;
    if (r.has_audio) {
        VpiSeamSeg *segs = calloc((size_t)nb, sizeof(*segs));
        if (!segs) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        for (int k = 0; k < nb; k++)
            segs[k] = r.parts[k].audio;
        const Part *lp = &r.parts[nb - 1];
        VpiSeamParams sp = {
            .sample_rate = r.sample_rate,
            .channels = r.aref->channels,
            .asc = r.aref->asc,
            .asc_size = r.aref->asc_size,
            .end = lp->audio.J + av_rescale(lp->vd, r.sample_rate, lp->v->timescale),
        };
        sp.bit_rate = r.aref->avg_bitrate;
        if (!sp.bit_rate && r.aref->media_duration > 0) {
            int64_t total = 0;
            for (int64_t i = 0; i < r.aref->nb_samples; i++)
                total += r.aref->samples[i].size;
            sp.bit_rate = av_rescale(total * 8, r.sample_rate, r.aref->media_duration);
        }
        char awhy[512] = "";
        ret = vpi_seam_plan(segs, nb, &sp, &r.seams, awhy, sizeof(awhy));
        free(segs);
        if (ret < 0) {
            set_why(&r, r.parts[0].seg->path, "audio: %s", awhy[0] ? awhy : vp_strerror(ret));
            goto end;
        }
        if ((ret = build_audio(&r)) < 0)
            goto end;
        r.at.edit_media_time = r.parts[0].audio.J;
        r.at.presented = sp.end - r.parts[0].audio.J;
    }
    t_audio = vpi_now_us();
    r.lay.block = output_block(out_path);
    if ((ret = layout(&r)) < 0)
        goto end;
    if ((ret = write_output(&r, &bytes, &shared)) < 0)
        goto end;
    t_write = vpi_now_us();
    vpi_log(&j->opts.logger, VP_LOG_DEBUG,
            "%s: segments %.1f ms, plan and audio seams %.1f ms, write %.1f ms",
            out_path, (t_load - t_start) / 1e3, (t_audio - t_load) / 1e3,
            (t_write - t_audio) / 1e3);

    if (stats) {
        stats->nb_segments = nb;
        stats->video_frames = r.vt.nb;
        stats->audio_frames = r.at.nb;
        stats->nb_audio_reencoded = (int)r.seams.nb_encoded;
        stats->duration = (double)r.vt.presented / (double)T;
        stats->bytes = bytes;
        stats->bytes_shared = shared;
        stats->bytes_written = bytes - shared;
        stats->bytes_padding = r.lay.padding;
        for (int k = 0; k < nb; k++) {
            stats->video_frames_dropped += r.parts[k].nb_dropped;
            if (r.parts[k].seg->temporary)
                stats->nb_conformed++;
        }
    }
    ret = 0;

end:
    if (ret < 0 && fail) {
        fail->input = r.failed;
        if (!why[0])
            snprintf(why, why_size, "%s: %s", out_path, vp_strerror(ret));
        if (!fail->path[0] && r.failed < 0)
            vpi_strlcpy(fail->path, out_path, sizeof(fail->path));
    }
    for (int i = 0; i < r.nb_temps; i++)
        segment_free(&r.temps[i]);
    free(r.temps);
    for (int k = 0; r.parts && k < nb; k++)
        free(r.parts[k].prefix);
    free(r.parts);
    free(r.ventries);
    free(r.vt.s);
    free(r.at.s);
    free(r.lay.pieces);
    vpi_seam_plan_free(&r.seams);
    return ret;
}

int vp_joiner_run(VpJoiner *j, const char *out_path, const char *const *segments, int nb,
                  VpJoinStats *stats, VpFailure *fail)
{
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    const VpLogger *prev = vpi_log_scope_enter(j ? &j->opts.logger : NULL);
    int ret = joiner_run(j, out_path, segments, nb, stats, fail);
    vpi_log_scope_leave(prev);
    if (ret < 0 && fail)
        fail->code = ret;
    return ret;
}
