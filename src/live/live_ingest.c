/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ingest: one file made ready for a channel. Conform at ingest, copy at playout: a file the
 * channel cannot stream-copy (another codec, size, frame rate, audio rate or layout, a
 * container that is not MP4/MOV, a table the MP4 index refuses) is re-encoded once into the
 * cache in the channel's format; a file more than 1 LU from the channel's loudness target
 * gets its audio normalised into the cache with the video copied; then the file playout
 * reads is indexed (keyframes, durations, parameter sets) with the join's MP4 index, the
 * same reading the producer's copy relies on. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mathematics.h>
#include <libavutil/sha.h>

#include "bitstream/bitstream.h"
#include "join/join_internal.h"
#include "live.h"
#include "mp4/mp4.h"
#include "ops/qc_int.h"
#include "util/internal.h"
#include "vidpipe/audio.h"
#include "vidpipe/check.h"
#include "vidpipe/probe.h"

/* Part of every cache key: bump it when what a cache file holds changes (encoder settings,
 * record layout), so that old entries are no longer found. */
#define CACHE_VERSION "live-ingest-2"
/* Items further than this from the target are normalised (EBU R128 tolerance for live
 * programmes is +-1 LU). */
#define LOUDNESS_TOLERANCE 1.0
/* At or below this the measurement is the gate's floor: digital silence has no loudness to
 * bring up, and loudnorm would only amplify noise. */
#define LOUDNESS_FLOOR -69.0
/* Conformed files get a keyframe at least this often (seconds): the cut before a break and
 * the HLS segments can then land within this of where they should. */
#define CONFORM_GOP 2

/* ---- the channel format as a reference for vidpipe check's rules ------------------------ */

typedef struct FormatRef {
    VpMediaInfo info;
    VpStreamInfo st[2];
    char name[32];
} FormatRef;

/* The channel's format as the VpMediaInfo vp_check_compare() and vpi_conform() take: H.264
 * yuv420p progressive, square pixels, starting on an IDR; AAC-LC. @p with_audio = 0 leaves
 * the audio out (a file without audio keeps none). */
static void format_ref(const VpiLiveFormat *f, int with_audio, FormatRef *r)
{
    memset(r, 0, sizeof(*r));
    VpStreamInfo *v = &r->st[0], *a = &r->st[1];
    v->type = VP_STREAM_VIDEO;
    snprintf(v->codec, sizeof(v->codec), "h264");
    v->width = f->width;
    v->height = f->height;
    v->sar = (VpRational){ 1, 1 };
    snprintf(v->pix_fmt, sizeof(v->pix_fmt), "yuv420p");
    snprintf(v->field_order, sizeof(v->field_order), "progressive");
    v->r_frame_rate = v->avg_frame_rate = (VpRational){ f->fps_num, f->fps_den };
    v->starts_with_idr = 1;
    v->has_bframes = -1;
    v->open_gop = 0;
    v->keyint_max = f->fps_den > 0 ? (int)((int64_t)CONFORM_GOP * f->fps_num / f->fps_den) : 50;
    if (v->keyint_max < 1)
        v->keyint_max = 1;
    a->type = VP_STREAM_AUDIO;
    a->index = 1;
    snprintf(a->codec, sizeof(a->codec), "aac");
    snprintf(a->profile, sizeof(a->profile), "LC");
    a->sample_rate = f->sample_rate;
    a->channels = f->channels;
    a->bit_rate = f->channels > 2 ? 64000LL * f->channels : 128000;
    AVChannelLayout l;
    av_channel_layout_default(&l, f->channels > 0 ? f->channels : 2);
    av_channel_layout_describe(&l, a->channel_layout, sizeof(a->channel_layout));
    av_channel_layout_uninit(&l);
    snprintf(r->name, sizeof(r->name), "(channel format)");
    r->info.path = r->name;
    r->info.streams = r->st;
    r->info.nb_streams = with_audio ? 2 : 1;
    r->info.video_index = 0;
    r->info.audio_index = with_audio ? 1 : -1;
}

static int is_mp4(const VpMediaInfo *info)
{
    return !strncmp(info->format, "mov,mp4", 7);
}

/* "video.resolution is 640x480, the channel needs 320x240; ..." for vidpipe check's errors. */
static int format_differences(const VpMediaInfo *info, const VpiLiveFormat *f, char *buf,
                              size_t size)
{
    FormatRef ref;
    VpCheckResult res;
    format_ref(f, info->audio_index >= 0, &ref);
    int ret = vp_check_compare(&ref.info, info, &res);
    if (ret < 0)
        return ret;
    vpi_check_reasons(&res, "the channel", buf, size);
    vp_check_result_clear(&res);
    return ret;
}

int vpi_live_format_of(const char *path, VpiLiveFormat *fmt, char *why, size_t why_size)
{
    VpMediaInfo *info = NULL;
    int ret;

    memset(fmt, 0, sizeof(*fmt));
    char reason[512] = "";
    /* the index's limits before the probe's demuxer reads an MP4's tables */
    if ((ret = vp_check_file(path, reason, sizeof(reason))) < 0 && ret != VP_ERR_UNSUPPORTED) {
        snprintf(why, why_size, "%s: %s", path, reason[0] ? reason : vp_strerror(ret));
        return ret;
    }
    if ((ret = vp_probe_file(path, NULL, &info)) < 0) {
        snprintf(why, why_size, "%s: %s", path, vp_strerror(ret));
        return ret;
    }
    if (info->video_index < 0) {
        ret = VP_ERR_NO_VIDEO;
        snprintf(why, why_size, "%s: %s", path, vp_strerror(ret));
        goto end;
    }
    const VpStreamInfo *v = &info->streams[info->video_index];
    VpRational fr = v->r_frame_rate;
    if (!fr.den || !fr.num || (double)fr.num / fr.den > 240)
        fr = v->avg_frame_rate;
    if (v->width <= 0 || v->height <= 0 || !fr.num || !fr.den) {
        ret = VP_ERR_UNSUPPORTED;
        snprintf(why, why_size, "%s: video size or frame rate unknown", path);
        goto end;
    }
    fmt->width = v->width;
    fmt->height = v->height;
    fmt->fps_num = fr.num;
    fmt->fps_den = fr.den;
    /* A first episode without audio: the channel still carries sound (generated silence
     * for that episode), in the format broadcast uses. */
    fmt->sample_rate = 48000;
    fmt->channels = 2;
    if (info->audio_index >= 0) {
        const VpStreamInfo *a = &info->streams[info->audio_index];
        if (a->sample_rate > 0 && a->channels > 0) {
            fmt->sample_rate = a->sample_rate;
            fmt->channels = a->channels;
        }
    }
    fmt->set = 1;
end:
    vp_media_info_free(&info);
    return ret;
}

/* ---- the cache -------------------------------------------------------------------------- */

typedef struct Source {
    const char *path;          /* as given (messages) */
    char real[PATH_MAX];       /* resolved */
    int64_t size;
    struct timespec mtime;
} Source;

/* "<cache>/<stem>-<sha1 of key, 32 hex>.<ext>": the stem (the source's name, made safe)
 * lets a person see what a cache file is; the key decides what it is. */
static void cache_name(const char *dir, const Source *s, const char *kind, const char *extra,
                       const char *ext, char *out, size_t size)
{
    char key[PATH_MAX + 512], stem[48];
    uint8_t dig[20];
    struct AVSHA *sha = av_sha_alloc();

    snprintf(key, sizeof(key), "%s|%s|%s|%" PRId64 "|%lld.%09ld|%s", CACHE_VERSION, kind,
             s->real, s->size, (long long)s->mtime.tv_sec, s->mtime.tv_nsec, extra);
    memset(dig, 0, sizeof(dig));
    if (sha) {
        av_sha_init(sha, 160);
        av_sha_update(sha, (const uint8_t *)key, strlen(key));
        av_sha_final(sha, dig);
        av_free(sha);
    } else {
        /* FNV-1a: still a stable name when the hasher cannot be allocated */
        uint64_t h = 0xcbf29ce484222325ull;
        for (const char *p = key; *p; p++)
            h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
        AV_WB64(dig, h);
    }
    const char *base = strrchr(s->real, '/');
    base = base ? base + 1 : s->real;
    size_t n = 0;
    for (const char *p = base; *p && n + 1 < sizeof(stem) - 8; p++) {
        if (*p == '.' && !strchr(p + 1, '.'))
            break; /* the extension */
        unsigned char c = (unsigned char)*p;
        stem[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' ? (char)c : '_';
    }
    stem[n] = 0;
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    snprintf(out, size, "%s/%s-%s.%s", dir, n ? stem : "item", hex, ext);
}

/* Temporaries of @p final_path left by a process killed while writing it (a conform of a
 * long episode leaves a file of its size): untouched for an hour, no writer is alive. */
static void sweep_stale(const char *dir, const char *final_path)
{
    const char *base = strrchr(final_path, '/');
    base = base ? base + 1 : final_path;
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    struct dirent *e;
    time_t now = time(NULL);
    if (!d)
        return;
    while ((e = readdir(d))) {
        struct stat sb;
        char p[PATH_MAX + 300];
        if (e->d_name[0] != '.' || strncmp(e->d_name + 1, base, blen) ||
            !vpi_output_is_temp_name(e->d_name))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_mtime < now - 3600)
            unlink(p);
    }
    closedir(d);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
}

/* A small text record (a measurement) written atomically. */
static int record_write(const char *path, const char *text)
{
    return vpi_output_write(path, text, strlen(text), 0);
}

/* The record's text (at most 64 KiB, NUL-terminated, malloc'ed), or NULL. */
static char *record_read(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    int bad = ferror(f) || !feof(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

/* ---- measurements (cached per source) ----------------------------------------------------- */

static void pipeline_opts(const VpiLiveIngestOpts *o, VpPipelineOpts *po)
{
    vp_pipeline_default_opts(po);
    po->logger = o->logger;
    po->cancel = o->cancel;
}

/* Integrated loudness (EBU R128, LUFS) of @p path's audio: the QC analyser's measurement,
 * the one `vidpipe qc` and `vidpipe loudnorm` report. */
static int measure_loudness(const char *path, const VpiLiveIngestOpts *o, double *lufs)
{
    VpPipeline *p = NULL;
    VpiSink *sink = NULL;
    VpPipelineOpts po;
    VpiQcSinkOpts spec = { 0 };
    int ret;

    *lufs = NAN;
    pipeline_opts(o, &po);
    vp_qc_default_spec(&spec.spec);
    if ((ret = vp_pipeline_open(path, &po, &p)) < 0)
        return ret;
    if ((ret = vpi_pipeline_add_sink(p, "loudness", &spec, NULL, &sink)) >= 0 &&
        (ret = vp_pipeline_run(p)) >= 0) {
        VpiQcData *d = vpi_sink_qc_data(sink);
        *lufs = d->loudness;
        ret = isfinite(d->loudness) || d->loudness < 0 ? 0 : VP_ERR_NO_AUDIO;
    }
    vp_pipeline_close(&p);
    return ret;
}

static int cached_loudness(const Source *s, const VpiLiveIngestOpts *o, double *lufs)
{
    char path[PATH_MAX + 128], text[64];
    cache_name(o->cache_dir, s, "loudness", "", "loudness", path, sizeof(path));
    char *rec = record_read(path);
    if (rec) {
        char *end;
        double v = strtod(rec, &end);
        int ok = end != rec && *end == '\n' && (isfinite(v) || v < 0);
        free(rec);
        if (ok) {
            *lufs = v;
            return 0;
        }
    }
    int ret = measure_loudness(s->path, o, lufs);
    if (ret < 0)
        return ret;
    snprintf(text, sizeof(text), "%.6f\n", *lufs);
    /* A record that cannot be written costs the next ingest a pass, nothing more. */
    if (record_write(path, text) < 0)
        vpi_log(&o->logger, VP_LOG_WARNING, "%s: cannot write the cache record %s", s->path,
                path);
    return 0;
}

/* Break points of the source, cached as "at length reason" lines (cut_at is the play
 * file's, filled later). */
static int cached_breaks(const Source *s, const VpiLiveIngestOpts *o, VpBreakPoint **pts,
                         int *nb, char *why, size_t wsz)
{
    char path[PATH_MAX + 128];
    cache_name(o->cache_dir, s, "breaks", "", "breaks", path, sizeof(path));
    char *rec = record_read(path);
    *pts = NULL;
    *nb = 0;
    if (rec) {
        char *p = rec, *end;
        long n = strtol(p, &end, 10);
        int ok = end != p && *end == '\n' && n >= 0 && n <= 100000;
        VpBreakPoint *v = ok && n ? calloc((size_t)n, sizeof(*v)) : NULL;
        if (n && !v)
            ok = 0;
        p = end + (ok ? 1 : 0);
        for (long i = 0; ok && i < n; i++) {
            v[i].at = strtod(p, &end);
            ok = end != p && *end == ' ';
            p = end;
            v[i].length = ok ? strtod(p, &end) : 0;
            ok = ok && end != p && *end == ' ';
            p = end + 1;
            char *nl = ok ? strchr(p, '\n') : NULL;
            ok = ok && nl && isfinite(v[i].at) && isfinite(v[i].length);
            if (ok) {
                *nl = 0;
                vpi_strlcpy(v[i].reason, p, sizeof(v[i].reason));
                p = nl + 1;
            }
        }
        free(rec);
        if (ok) {
            *pts = v;
            *nb = (int)n;
            return 0;
        }
        free(v);
    }
    int ret = vpi_live_find_breaks(s->path, &o->logger, pts, nb, why, wsz);
    if (ret < 0)
        return ret;
    size_t cap = 32 + (size_t)*nb * (sizeof((*pts)->reason) + 64), len = 0;
    char *text = malloc(cap);
    if (!text)
        return 0;
    len += (size_t)snprintf(text, cap, "%d\n", *nb);
    for (int i = 0; i < *nb; i++) {
        char r[sizeof((*pts)->reason)];
        vpi_strlcpy(r, (*pts)[i].reason, sizeof(r));
        for (char *c = r; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        len += (size_t)snprintf(text + len, cap - len, "%.6f %.6f %s\n", (*pts)[i].at,
                                (*pts)[i].length, r);
    }
    if (record_write(path, text) < 0)
        vpi_log(&o->logger, VP_LOG_WARNING, "%s: cannot write the cache record %s", s->path,
                path);
    free(text);
    return 0;
}

/* ---- what playout copies ------------------------------------------------------------------ */

static int64_t pts_of(const VpiMp4Sample *s)
{
    return s->dts + s->cts;
}

static int first_key_is_idr(int fd, const VpiMp4Track *v)
{
    const VpiMp4Sample *s = &v->samples[0];
    uint8_t *data = malloc(s->size ? s->size : 1);
    VpiH264Frame f;
    int idr = 0;
    if (data && pread(fd, data, s->size, s->pos) == (ssize_t)s->size &&
        vpi_h264_inspect(data, s->size, v->nal_length_size, &f) == 0)
        idr = f.idr;
    free(data);
    return idr;
}

/* Why playout cannot stream-copy @p f into a channel of format @p fmt, in @p why; 0 when it
 * can. The join's rules for a segment after another (H.264 in avc1/avc3 starting on an IDR;
 * AAC-LC in 1024-sample frames whose timescale is the sample rate), and the channel's
 * size and audio format, which the probe has compared already but the index must agree. */
static int copy_blocker(int fd, const VpiMp4File *f, const VpiLiveFormat *fmt, char *why,
                        size_t wsz)
{
    const VpiMp4Track *v = &f->video, *a = &f->audio;
    char t[8];
    AV_WB32(t, v->fourcc);
    t[4] = 0;
    if (!v->avcc || !v->nal_length_size) {
        snprintf(why, wsz, "video is '%s', not H.264 in MP4 (avc1/avc3)", t);
        return 1;
    }
    if (!v->nb_samples || !v->samples[0].key) {
        snprintf(why, wsz, "video does not start on a keyframe");
        return 1;
    }
    if (!first_key_is_idr(fd, v)) {
        snprintf(why, wsz, "video starts on a non-IDR picture (open GOP)");
        return 1;
    }
    if (v->width != fmt->width || v->height != fmt->height) {
        snprintf(why, wsz, "video is %dx%d, the channel needs %dx%d", v->width, v->height,
                 fmt->width, fmt->height);
        return 1;
    }
    if (a->kind != VPI_TRACK_AUDIO || !a->nb_samples)
        return 0;
    AV_WB32(t, a->fourcc);
    if (a->fourcc != MKBETAG('m', 'p', '4', 'a') || a->object_type != 2) {
        snprintf(why, wsz, "audio is '%s' object type %d, the channel needs AAC-LC", t,
                 a->object_type);
        return 1;
    }
    if ((int64_t)a->timescale != a->sample_rate) {
        snprintf(why, wsz, "audio timescale %u differs from its sample rate %d", a->timescale,
                 a->sample_rate);
        return 1;
    }
    if (a->sample_rate != fmt->sample_rate || a->channels != fmt->channels) {
        snprintf(why, wsz, "audio is %d Hz %d channels, the channel needs %d Hz %d channels",
                 a->sample_rate, a->channels, fmt->sample_rate, fmt->channels);
        return 1;
    }
    for (int64_t i = 0; i + 1 < a->nb_samples; i++)
        if (a->samples[i].duration != VPI_AAC_FRAME) {
            snprintf(why, wsz, "AAC frame %" PRId64 " lasts %u samples, not %d", i,
                     a->samples[i].duration, VPI_AAC_FRAME);
            return 1;
        }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Fill @p m's timing from the index of its play file: presentation from the first
 * presented frame, the join's rule for the presented length (to the end of the last frame,
 * or the sum of the durations when that is longer). */
static int fill_timing(VpiLiveMedia *m, const VpiMp4File *f)
{
    const VpiMp4Track *v = &f->video;
    const int64_t ts = v->timescale;
    int64_t p0 = INT64_MAX, pend = INT64_MIN, sum = 0;
    int nb = 0;
    if (!ts || v->nb_samples > INT_MAX)
        return VP_ERR_UNSUPPORTED;
    for (int64_t i = 0; i < v->nb_samples; i++) {
        const VpiMp4Sample *s = &v->samples[i];
        p0 = FFMIN(p0, pts_of(s));
        pend = FFMAX(pend, pts_of(s) + (int64_t)s->duration);
        sum += s->duration;
        nb += s->key;
    }
    int64_t span = FFMAX(sum, pend - p0);
    m->duration = av_rescale(span, VPI_TICKS, ts);
    m->reorder = av_rescale(pts_of(&v->samples[0]) - v->samples[0].dts, VPI_TICKS, ts);
    if (!(m->keys = malloc((size_t)(nb ? nb : 1) * sizeof(*m->keys))))
        return AVERROR(ENOMEM);
    int k = 0;
    for (int64_t i = 0; i < v->nb_samples; i++)
        if (v->samples[i].key)
            m->keys[k++] = av_rescale(pts_of(&v->samples[i]) - p0, VPI_TICKS, ts);
    qsort(m->keys, (size_t)k, sizeof(*m->keys), cmp_i64);
    int w = 0;
    for (int i = 0; i < k; i++)
        if (!w || m->keys[i] != m->keys[w - 1])
            m->keys[w++] = m->keys[i];
    m->nb_keys = w;
    m->max_gop = 0;
    for (int i = 0; i < w; i++) {
        int64_t next = i + 1 < w ? m->keys[i + 1] : m->duration;
        m->max_gop = FFMAX(m->max_gop, next - m->keys[i]);
    }
    double seconds = (double)m->duration / VPI_TICKS;
    m->bitrate = seconds > 0 ? f->file_size * 8.0 / seconds : 0;
    return 0;
}

/* Index @p path; 1 when it can be copied as it is (*f kept), 0 with the reason when it
 * cannot, or an error (the index's reason in @p why). */
static int index_playable(const char *path, const VpiLiveFormat *fmt, VpiMp4File **f,
                          int *fd, char *why, size_t wsz)
{
    int ret;
    *f = NULL;
    why[0] = 0;
    if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        ret = AVERROR(errno);
        snprintf(why, wsz, "%s", vp_strerror(ret));
        return ret;
    }
    if ((ret = vpi_mp4_index(*fd, f, why, wsz)) < 0)
        return ret;
    return copy_blocker(*fd, *f, fmt, why, wsz) ? 0 : 1;
}

/* ---- remux: H.264 + AAC in another container ---------------------------------------------- */

/* Copy the video and the first audio of @p in (MKV, MPEG-TS, WebM... whose streams already
 * match the channel) into an MP4 at @p out_path, written atomically. Every timestamp moves
 * by the first presented video frame's, so that the video starts at 0 as in the files
 * vidpipe and ffmpeg write (an MPEG-TS starts at 1.4 s or anywhere); audio that starts
 * earlier is trimmed by the MP4's edit list, as priming is. Video frames are put on the
 * channel's frame grid and AAC frames 1024 samples apart from the first one's time, as
 * they are decoded: a container counting in milliseconds (Matroska) would otherwise give
 * them uneven durations (33 or 34 ms frames at 29.97 fps, AAC frames of 1008 or 1056
 * samples, which playout's copy refuses). */
static int remux_mp4(const char *in, const VpMediaInfo *info, const char *out_path,
                     const VpiLiveIngestOpts *o, char *why, size_t wsz)
{
    const AVRational frame = { o->format->fps_den, o->format->fps_num };
    AVFormatContext *ic = NULL, *oc = NULL;
    AVPacket *pkt = NULL;
    VpiOutput out;
    const AVIOInterruptCB cb = { o->cancel.fn, o->cancel.opaque };
    int ret, header = 0;
    int64_t a_next = AV_NOPTS_VALUE;

    memset(&out, 0, sizeof(out));
    const VpLogger *prev = vpi_log_scope_enter(&o->logger);
    if (!(ic = avformat_alloc_context())) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    ic->interrupt_callback = cb;
    if ((ret = avformat_open_input(&ic, in, NULL, NULL)) < 0 ||
        (ret = avformat_find_stream_info(ic, NULL)) < 0)
        goto end;
    const int vi = info->streams[info->video_index].index;
    const int ai = info->audio_index >= 0 ? info->streams[info->audio_index].index : -1;
    if (vi < 0 || vi >= (int)ic->nb_streams || ai >= (int)ic->nb_streams ||
        ic->streams[vi]->codecpar->codec_id != AV_CODEC_ID_H264 ||
        (ai >= 0 && ic->streams[ai]->codecpar->codec_id != AV_CODEC_ID_AAC)) {
        ret = VP_ERR_UNSUPPORTED;
        snprintf(why, wsz, "its streams changed since the probe");
        goto end;
    }
    if ((ret = vpi_output_begin(&out, out_path)) < 0 ||
        (ret = avformat_alloc_output_context2(&oc, NULL, "mp4", out.tmp_path)) < 0)
        goto end;
    oc->interrupt_callback = cb;
    const int in_idx[2] = { vi, ai };
    for (int i = 0; i < (ai >= 0 ? 2 : 1); i++) {
        AVStream *ist = ic->streams[in_idx[i]], *ost = avformat_new_stream(oc, NULL);
        if (!ost) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        if ((ret = avcodec_parameters_copy(ost->codecpar, ist->codecpar)) < 0)
            goto end;
        ost->codecpar->codec_tag = 0;
        ost->time_base = i ? (AVRational){ 1, ist->codecpar->sample_rate } : frame;
        ost->sample_aspect_ratio = ist->sample_aspect_ratio;
    }
    if ((ret = avio_open2(&oc->pb, out.tmp_path, AVIO_FLAG_WRITE, &oc->interrupt_callback,
                          NULL)) < 0 ||
        (ret = avformat_write_header(oc, NULL)) < 0)
        goto end;
    header = 1;
    const AVStream *vst = ic->streams[vi];
    const int64_t v0 = vst->start_time != AV_NOPTS_VALUE ? vst->start_time : 0;
    if (!(pkt = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    while ((ret = av_read_frame(ic, pkt)) >= 0) {
        int os = pkt->stream_index == vi ? 0 : pkt->stream_index == ai ? 1 : -1;
        if (os < 0) {
            av_packet_unref(pkt);
            continue;
        }
        AVStream *ist = ic->streams[pkt->stream_index], *ost = oc->streams[os];
        if (os == 1) {
            AVRational sr = { 1, ist->codecpar->sample_rate };
            int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            if (a_next == AV_NOPTS_VALUE) {
                if (t == AV_NOPTS_VALUE) {
                    av_packet_unref(pkt);
                    continue;
                }
                a_next = av_rescale_q(t, ist->time_base, sr) -
                         av_rescale_q(v0, vst->time_base, sr);
            }
            pkt->pts = pkt->dts = av_rescale_q(a_next, sr, ost->time_base);
            pkt->duration = av_rescale_q(VPI_AAC_FRAME, sr, ost->time_base);
            a_next += VPI_AAC_FRAME;
        } else {
            /* on the frame grid: 29.97 fps in milliseconds is 33 or 34 ms a frame; rounding
             * to the nearest frame is exact for a constant rate (errors <= 0.5 ms against
             * 33 ms frames) and makes two frames of a variable rate collide, which the
             * muxer refuses: such a file is conformed instead */
            if (pkt->pts != AV_NOPTS_VALUE)
                pkt->pts = av_rescale_q(av_rescale_q_rnd(pkt->pts - v0, ist->time_base, frame,
                                                         AV_ROUND_NEAR_INF),
                                        frame, ost->time_base);
            if (pkt->dts != AV_NOPTS_VALUE)
                pkt->dts = av_rescale_q(av_rescale_q_rnd(pkt->dts - v0, ist->time_base, frame,
                                                         AV_ROUND_NEAR_INF),
                                        frame, ost->time_base);
            pkt->duration = av_rescale_q(1, frame, ost->time_base);
        }
        pkt->stream_index = os;
        pkt->pos = -1;
        if ((ret = av_interleaved_write_frame(oc, pkt)) < 0)
            goto end;
    }
    if (ret != AVERROR_EOF)
        goto end;
    if ((ret = av_write_trailer(oc)) < 0)
        goto end;
    header = 0;
    if ((ret = avio_closep(&oc->pb)) < 0)
        goto end;
    ret = vpi_output_commit(&out);

end:
    if (ret < 0 && vpi_cancelled(&o->cancel))
        ret = VP_ERR_CANCELLED;
    if (ret < 0 && !why[0])
        snprintf(why, wsz, "%s", vp_strerror(ret));
    if (header)
        av_write_trailer(oc);
    if (oc)
        avio_closep(&oc->pb);
    avformat_free_context(oc);
    avformat_close_input(&ic);
    av_packet_free(&pkt);
    vpi_output_abort(&out);
    vpi_log_scope_leave(prev);
    return ret;
}

/* ---- ingest ------------------------------------------------------------------------------- */

static int fail_line(char *why, size_t wsz, const char *path, int ret, const char *reason)
{
    snprintf(why, wsz, "%s: %s", path, reason && *reason ? reason : vp_strerror(ret));
    return ret;
}

static void format_key(const VpiLiveFormat *f, char *buf, size_t size)
{
    snprintf(buf, size, "%dx%d@%d/%d|%dHz|%dch", f->width, f->height, f->fps_num, f->fps_den,
             f->sample_rate, f->channels);
}

int vpi_live_ingest(const char *path, const VpiLiveIngestOpts *o, VpiLiveMedia **out,
                    char *why, size_t why_size)
{
    VpMediaInfo *info = NULL;
    VpiMp4File *idx = NULL;
    VpiLiveMedia *m = NULL;
    Source src = { .path = path };
    char reason[1024], fkey[128], conform_path[PATH_MAX + 128], norm_path[PATH_MAX + 128];
    const char *play = path, *indexed = NULL; /* the file idx holds */
    int fd = -1, ret;
    struct stat sb;

    *out = NULL;
    reason[0] = 0;
    if (!path || !o || !o->format || !o->format->set || !o->cache_dir) {
        snprintf(why, why_size, "%s: ingest needs a channel format and a cache folder",
                 path ? path : "(null)");
        return AVERROR(EINVAL);
    }
    const VpiLiveFormat *fmt = o->format;
    format_key(fmt, fkey, sizeof(fkey));

    /* 1. what the file is */
    if ((ret = vpi_input_check(path, &sb)) < 0)
        return fail_line(why, why_size, path, ret, NULL);
    src.size = sb.st_size;
    src.mtime = sb.st_mtim;
    if (!realpath(path, src.real))
        vpi_strlcpy(src.real, path, sizeof(src.real));
    /* The index's limits before any demuxer reads an MP4's tables; a structure it does not
     * take (several sample descriptions, fragments) is conformed, not refused. */
    ret = vp_check_file(path, reason, sizeof(reason));
    int index_refused = ret == VP_ERR_UNSUPPORTED;
    if (ret < 0 && !index_refused)
        return fail_line(why, why_size, path, ret, reason);
    char index_reason[512];
    vpi_strlcpy(index_reason, reason, sizeof(index_reason));
    reason[0] = 0;
    VpProbeOpts po;
    vp_probe_default_opts(&po);
    po.logger = o->logger;
    po.cancel = o->cancel;
    if ((ret = vp_probe_file(path, &po, &info)) < 0)
        return fail_line(why, why_size, path, ret, NULL);
    if (info->video_index < 0) {
        ret = fail_line(why, why_size, path, VP_ERR_NO_VIDEO, NULL);
        goto end;
    }
    const int src_audio = info->audio_index >= 0;

    if (!(m = calloc(1, sizeof(*m))) || !(m->source = strdup(path))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    m->refs = 1;
    m->loudness = NAN;
    if ((ret = vpi_mkdir_p(o->cache_dir)) < 0) {
        snprintf(reason, sizeof(reason), "cannot create the cache folder %s: %s",
                 o->cache_dir, vp_strerror(ret));
        goto fail;
    }

    /* 2. the format: copy as it is, remux or conform once into the cache */
    if ((ret = format_differences(info, fmt, reason, sizeof(reason))) < 0)
        goto fail;
    if (!is_mp4(info) && !reason[0]) {
        /* the streams are the channel's: only the container is not */
        char rwhy[512] = "";
        cache_name(o->cache_dir, &src, "remux", "", "mp4", conform_path, sizeof(conform_path));
        if (!exists(conform_path)) {
            sweep_stale(o->cache_dir, conform_path);
            vpi_log(&o->logger, VP_LOG_INFO, "%s: remuxing into the cache (container is %s, "
                    "not MP4/MOV)", path, info->format);
            if ((ret = remux_mp4(path, info, conform_path, o, rwhy, sizeof(rwhy))) < 0) {
                if (ret == VP_ERR_CANCELLED)
                    goto fail;
                snprintf(reason, sizeof(reason), "container is %s, not MP4/MOV, and a remux "
                         "failed: %s", info->format, rwhy);
                ret = 0;
            }
        }
        if (!reason[0]) {
            ret = index_playable(conform_path, fmt, &idx, &fd, rwhy, sizeof(rwhy));
            if (ret == 1) {
                play = indexed = conform_path;
            } else {
                vpi_mp4_index_free(&idx);
                if (fd >= 0)
                    close(fd);
                fd = -1;
                unlink(conform_path);
                snprintf(reason, sizeof(reason), "container is %s, not MP4/MOV, and its "
                         "remuxed copy cannot be played: %s", info->format, rwhy);
            }
        }
    } else if (!is_mp4(info)) {
        char diffs[sizeof(reason)];
        vpi_strlcpy(diffs, reason, sizeof(diffs));
        snprintf(reason, sizeof(reason), "container is %s, not MP4/MOV; %.900s", info->format,
                 diffs);
    } else if (index_refused && !reason[0]) {
        snprintf(reason, sizeof(reason), "%s", index_reason);
    } else if (!reason[0]) {
        ret = index_playable(path, fmt, &idx, &fd, reason, sizeof(reason));
        indexed = path;
        if (ret < 0) {
            if (ret == VP_ERR_UNSUPPORTED) {
                ret = 0; /* conformed below; reason set by the index */
            } else {
                goto fail;
            }
        } else if (ret == 0) {
            vpi_mp4_index_free(&idx);
            close(fd);
            fd = -1;
        }
    }
    if (reason[0]) {
        cache_name(o->cache_dir, &src, "conform", fkey, "mp4", conform_path,
                   sizeof(conform_path));
        if (exists(conform_path)) {
            vpi_log(&o->logger, VP_LOG_VERBOSE, "%s: conformed before: %s", path, conform_path);
        } else {
            FormatRef ref;
            char cwhy[512] = "";
            sweep_stale(o->cache_dir, conform_path);
            vpi_log(&o->logger, VP_LOG_INFO, "%s: conforming into the cache (%s)", path, reason);
            format_ref(fmt, src_audio, &ref);
            int64_t t0 = vpi_now_us();
            if ((ret = vpi_conform(path, &ref.info, conform_path, cwhy, sizeof(cwhy),
                                   &o->logger, &o->cancel)) < 0) {
                snprintf(reason, sizeof(reason), "cannot conform it: %s",
                         cwhy[0] ? cwhy : vp_strerror(ret));
                goto fail;
            }
            vpi_log(&o->logger, VP_LOG_VERBOSE, "%s: conformed in %.1f s into %s", path,
                    (vpi_now_us() - t0) / 1e6, conform_path);
        }
        play = conform_path;
        m->conformed = 1;
        reason[0] = 0;
    }

    /* 3. loudness: measured on the source, matched to the channel's target */
    if (src_audio) {
        if ((ret = cached_loudness(&src, o, &m->loudness)) < 0) {
            snprintf(reason, sizeof(reason), "cannot measure its loudness: %s",
                     vp_strerror(ret));
            goto fail;
        }
        if (m->loudness > LOUDNESS_FLOOR &&
            fabs(m->loudness - o->loudness) > LOUDNESS_TOLERANCE) {
            char extra[256];
            snprintf(extra, sizeof(extra), "%s|%s|%.2f", m->conformed ? "conformed" : "source",
                     m->conformed ? fkey : "", o->loudness);
            cache_name(o->cache_dir, &src, "loudnorm", extra, "mp4", norm_path,
                       sizeof(norm_path));
            if (!exists(norm_path)) {
                sweep_stale(o->cache_dir, norm_path);
                vpi_log(&o->logger, VP_LOG_INFO,
                        "%s: normalising the loudness into the cache (%.1f LUFS, the channel's "
                        "target is %.1f)", path, m->loudness, o->loudness);
                VpLoudnormOpts lo;
                VpPipelineOpts pop;
                vp_loudnorm_default_opts(&lo);
                pipeline_opts(o, &pop);
                lo.pipeline = &pop;
                lo.i = o->loudness;
                /* EBU R128's ceiling; a range wide enough that programmes keep their
                 * dynamics in loudnorm's linear mode (one gain for the whole file) */
                lo.tp = -1;
                lo.lra = 20;
                const VpStreamInfo *a = &info->streams[info->audio_index];
                lo.audio_bitrate = a->bit_rate >= 64000 && a->bit_rate <= 512000 ? a->bit_rate
                                                                                 : 128000;
                if ((ret = vp_loudnorm(play, norm_path, &lo, NULL)) < 0) {
                    snprintf(reason, sizeof(reason), "cannot normalise its loudness: %s",
                             vp_strerror(ret));
                    goto fail;
                }
            }
            play = norm_path;
            m->normalized = 1;
        }
    }

    /* 4. the file playout reads */
    if (!idx || indexed != play) {
        vpi_mp4_index_free(&idx);
        if (fd >= 0)
            close(fd);
        ret = index_playable(play, fmt, &idx, &fd, reason, sizeof(reason));
        if (ret == 0)
            ret = VP_ERR_UNSUPPORTED;
        if (ret < 0) {
            char msg[sizeof(reason) + sizeof(conform_path) + 64];
            snprintf(msg, sizeof(msg), "%s%s: %s", play != path ? "its cache file " : "",
                     play != path ? play : "playout cannot copy it", reason);
            vpi_strlcpy(reason, msg, sizeof(reason));
            /* a cache file playout cannot use is of no use to the next ingest either */
            if (play != path)
                unlink(play);
            goto fail;
        }
    }
    if (!(m->play_path = strdup(play))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = fill_timing(m, idx)) < 0)
        goto fail;
    m->has_audio = idx->audio.kind == VPI_TRACK_AUDIO && idx->audio.nb_samples > 0;
    if (!(m->param_sets = malloc(idx->video.avcc_size))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    memcpy(m->param_sets, idx->video.avcc, idx->video.avcc_size);
    m->param_sets_size = (int)idx->video.avcc_size;

    /* 5. break points, when the channel asks for them */
    if (o->want_breaks) {
        char bwhy[1024] = "";
        ret = cached_breaks(&src, o, &m->auto_breaks, &m->nb_auto_breaks, bwhy, sizeof(bwhy));
        if (ret < 0) {
            vpi_strlcpy(why, bwhy, why_size);
            goto end;
        }
        for (int i = 0; i < m->nb_auto_breaks; i++) {
            VpBreakPoint *b = &m->auto_breaks[i];
            b->cut_at = (double)vpi_live_media_key_before(m, vpi_us_to_ticks(
                                                                 (int64_t)(b->at * 1e6))) /
                        VPI_TICKS;
        }
    }
    vpi_log(&o->logger, VP_LOG_VERBOSE,
            "%s: ready (%s, %.3f s, %d keyframes, longest GOP %.3f s, %.1f LUFS)", path,
            m->conformed ? (m->normalized ? "conformed, normalised" : "conformed")
                         : m->normalized ? "normalised" : "as it is",
            (double)m->duration / VPI_TICKS, m->nb_keys, (double)m->max_gop / VPI_TICKS,
            m->loudness);
    *out = m;
    m = NULL;
    ret = 0;
    goto end;

fail:
    /* a cancel is no fault of the file */
    fail_line(why, why_size, path, ret, ret == VP_ERR_CANCELLED ? NULL : reason);
end:
    vpi_live_media_unref(&m);
    vpi_mp4_index_free(&idx);
    if (fd >= 0)
        close(fd);
    vp_media_info_free(&info);
    return ret;
}

/* ---- the public analyser ------------------------------------------------------------------- */

int vp_channels_analyze(const char *path, const VpLogger *logger, VpBreakPoint **points,
                        int *nb, VpFailure *fail)
{
    char why[sizeof(fail->message)];
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    if (!points || !nb)
        return AVERROR(EINVAL);
    *points = NULL;
    *nb = 0;
    if (!path) {
        if (fail) {
            fail->code = AVERROR(EINVAL);
            snprintf(fail->message, sizeof(fail->message), "no file given");
        }
        return AVERROR(EINVAL);
    }
    why[0] = 0;
    int ret = vpi_live_find_breaks(path, logger, points, nb, why, sizeof(why));
    if (ret < 0 && fail) {
        fail->code = ret;
        fail->input = 0;
        vpi_strlcpy(fail->path, path, sizeof(fail->path));
        vpi_strlcpy(fail->message, why, sizeof(fail->message));
    }
    return ret;
}
