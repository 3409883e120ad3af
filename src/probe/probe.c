/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vp_probe_file(): container and stream facts without decoding pictures. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/crc.h>
#include <libavutil/display.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/pixdesc.h>

#include "bitstream/bitstream.h"
#include "options/options.h"
#include "util/internal.h"
#include "vidpipe/probe.h"

/* find_stream_info reads at most this much; FFmpeg's default is 5 MB, which ffprobe uses
 * too (5,000,000 bytes), so values agree with ffprobe's. */
#define PROBE_SIZE 5000000

const char *vp_stream_type_name(VpStreamType t)
{
    switch (t) {
    case VP_STREAM_VIDEO: return "video";
    case VP_STREAM_AUDIO: return "audio";
    case VP_STREAM_SUBTITLE: return "subtitle";
    case VP_STREAM_DATA: return "data";
    case VP_STREAM_ATTACHMENT: return "attachment";
    default: return "unknown";
    }
}

const char *vp_param_sets_name(VpParamSets p)
{
    switch (p) {
    case VP_PARAMSETS_HEADER: return "header";
    case VP_PARAMSETS_INBAND: return "inband";
    case VP_PARAMSETS_BOTH: return "both";
    default: return "unknown";
    }
}

#define O(...) VPI_OPT_ROW(VpProbeOpts, __VA_ARGS__)

static const VpiOption probe_options[] = {
    O(count_packets, BOOL, 1, 0, 1, "count packets when the container has no index"),
    O(max_bytes, INT64, (double)((int64_t)64 << 30), 0, 9.3e18,
      "read at most this many bytes (0: no bound)"),
    O(timeout_ms, INT, 60000, 0, INT32_MAX, "give up on a file after MS ms (0: never)"),
    O(gop_scan_packets, INT, 600, 0, INT32_MAX, "video packets inspected for GOP facts"),
    { NULL },
};
#undef O

const VpiOptTable vpi_probe_options = { "probe", probe_options, NULL };

void vp_probe_default_opts(VpProbeOpts *opts)
{
    memset(opts, 0, sizeof(*opts));
    vpi_opt_defaults(&vpi_probe_options, opts);
}

static void free_tags(VpTag *tags, int nb)
{
    for (int i = 0; i < nb; i++) {
        free(tags[i].key);
        free(tags[i].value);
    }
    free(tags);
}

void vp_media_info_free(VpMediaInfo **info)
{
    if (!info || !*info)
        return;
    VpMediaInfo *mi = *info;
    if (mi->streams)
        for (int i = 0; i < mi->nb_streams; i++)
            free_tags(mi->streams[i].tags, mi->streams[i].nb_tags);
    for (int i = 0; i < mi->nb_chapters; i++)
        free(mi->chapters[i].title);
    free(mi->chapters);
    free_tags(mi->tags, mi->nb_tags);
    free(mi->path);
    free(mi->streams);
    free(mi);
    *info = NULL;
}

typedef struct ProbeCtx {
    const VpProbeOpts *opts;
    int64_t deadline_us;
    int timed_out;
    int cancelled;          /* opts->cancel said stop (from the interrupt callback) */
    /* memory input */
    const uint8_t *buf;
    size_t buf_size, buf_pos;
} ProbeCtx;

static int interrupt_cb(void *opaque)
{
    ProbeCtx *pc = opaque;
    if (vpi_cancelled(&pc->opts->cancel)) {
        pc->cancelled = 1;
        return 1;
    }
    if (pc->deadline_us && vpi_now_us() > pc->deadline_us) {
        pc->timed_out = 1;
        return 1;
    }
    return 0;
}

static int mem_read(void *opaque, uint8_t *dst, int size)
{
    ProbeCtx *pc = opaque;
    size_t left = pc->buf_size - pc->buf_pos;
    if (!left)
        return AVERROR_EOF;
    if ((size_t)size > left)
        size = (int)left;
    memcpy(dst, pc->buf + pc->buf_pos, (size_t)size);
    pc->buf_pos += (size_t)size;
    return size;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence)
{
    ProbeCtx *pc = opaque;
    int64_t pos;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)pc->buf_size;
    case SEEK_SET: pos = offset; break;
    case SEEK_CUR: pos = (int64_t)pc->buf_pos + offset; break;
    case SEEK_END: pos = (int64_t)pc->buf_size + offset; break;
    default: return AVERROR(EINVAL);
    }
    if (pos < 0 || pos > (int64_t)pc->buf_size)
        return AVERROR(EINVAL);
    pc->buf_pos = (size_t)pos;
    return pos;
}

static double ts_seconds(int64_t ts, AVRational tb)
{
    return ts == AV_NOPTS_VALUE ? NAN : ts * av_q2d(tb);
}

static const char *field_order_name(enum AVFieldOrder fo)
{
    switch (fo) {
    case AV_FIELD_PROGRESSIVE: return "progressive";
    case AV_FIELD_TT: return "tt";
    case AV_FIELD_BB: return "bb";
    case AV_FIELD_TB: return "tb";
    case AV_FIELD_BT: return "bt";
    default: return "";
    }
}

/* Apple's gapless tag: " 00000000 00000840 000001C0 0000000000046E00" = priming, padding. */
static void parse_itunsmpb(AVDictionary *md, VpStreamInfo *si)
{
    AVDictionaryEntry *e = av_dict_get(md, "iTunSMPB", NULL, 0);
    unsigned zero, priming, padding;
    if (e && sscanf(e->value, " %x %x %x", &zero, &priming, &padding) == 3) {
        si->priming_samples = priming;
        si->padding_samples = padding;
    }
}

/* Copies every tag of @p md; *out stays NULL for none. On ENOMEM what was copied is kept in
 * *out / *nb so the caller's one free path releases it. */
static int copy_tags(const AVDictionary *md, VpTag **out, int *nb)
{
    const AVDictionaryEntry *e = NULL;
    int n = av_dict_count(md);

    *out = NULL;
    *nb = 0;
    if (n <= 0)
        return 0;
    *out = calloc((size_t)n, sizeof(**out));
    if (!*out)
        return AVERROR(ENOMEM);
    while (*nb < n && (e = av_dict_get(md, "", e, AV_DICT_IGNORE_SUFFIX))) {
        VpTag *t = &(*out)[*nb];
        t->key = strdup(e->key);
        t->value = strdup(e->value);
        if (t->key || t->value)
            (*nb)++;
        if (!t->key || !t->value)
            return AVERROR(ENOMEM);
    }
    return 0;
}

static int copy_chapters(const AVFormatContext *fc, VpMediaInfo *mi)
{
    if (!fc->nb_chapters)
        return 0;
    /* nb_chapters is an unsigned int the demuxer grew one by one; calloc checks the product */
    if (fc->nb_chapters > INT_MAX)
        return AVERROR_INVALIDDATA;
    mi->chapters = calloc(fc->nb_chapters, sizeof(*mi->chapters));
    if (!mi->chapters)
        return AVERROR(ENOMEM);
    for (unsigned i = 0; i < fc->nb_chapters; i++) {
        const AVChapter *ch = fc->chapters[i];
        const AVDictionaryEntry *e = av_dict_get(ch->metadata, "title", NULL, 0);
        VpChapter *c = &mi->chapters[i];
        c->start = ch->time_base.den ? ts_seconds(ch->start, ch->time_base) : NAN;
        c->end = ch->time_base.den ? ts_seconds(ch->end, ch->time_base) : NAN;
        c->title = strdup(e ? e->value : "");
        if (!c->title)
            return AVERROR(ENOMEM);
        mi->nb_chapters++;
    }
    return 0;
}

static void fill_stream(AVFormatContext *fc, AVStream *st, VpStreamInfo *si)
{
    AVCodecParameters *par = st->codecpar;
    const char *name;
    AVDictionaryEntry *e;

    si->index = st->index;
    switch (par->codec_type) {
    case AVMEDIA_TYPE_VIDEO:
        si->type = (st->disposition & AV_DISPOSITION_ATTACHED_PIC) ? VP_STREAM_ATTACHMENT
                                                                   : VP_STREAM_VIDEO;
        break;
    case AVMEDIA_TYPE_AUDIO: si->type = VP_STREAM_AUDIO; break;
    case AVMEDIA_TYPE_SUBTITLE: si->type = VP_STREAM_SUBTITLE; break;
    case AVMEDIA_TYPE_DATA: si->type = VP_STREAM_DATA; break;
    case AVMEDIA_TYPE_ATTACHMENT: si->type = VP_STREAM_ATTACHMENT; break;
    default: si->type = VP_STREAM_UNKNOWN; break;
    }
    vpi_strlcpy(si->codec, avcodec_get_name(par->codec_id), sizeof(si->codec));
    if (par->codec_tag) {
        char tag[AV_FOURCC_MAX_STRING_SIZE];
        av_fourcc_make_string(tag, par->codec_tag);
        vpi_strlcpy(si->codec_tag, tag, sizeof(si->codec_tag));
    }
    name = avcodec_profile_name(par->codec_id, par->profile);
    vpi_strlcpy(si->profile, name ? name : "", sizeof(si->profile));
    si->level = par->level;
    si->bit_rate = par->bit_rate;
    si->time_base = (VpRational){ st->time_base.num, st->time_base.den };
    si->start_pts = st->start_time == AV_NOPTS_VALUE ? VP_UNKNOWN : st->start_time;
    si->start_time = ts_seconds(st->start_time, st->time_base);
    si->duration = ts_seconds(st->duration, st->time_base);
    si->nb_frames = st->nb_frames ? st->nb_frames : -1;
    si->nb_packets = -1;
    if ((e = av_dict_get(st->metadata, "language", NULL, 0)))
        vpi_strlcpy(si->language, e->value, sizeof(si->language));
    si->disposition_default = !!(st->disposition & AV_DISPOSITION_DEFAULT);
    si->has_bframes = -1;
    si->starts_with_idr = -1;
    si->open_gop = -1;
    si->priming_samples = -1;
    si->padding_samples = -1;
    if (par->extradata_size > 0)
        si->extradata_crc = av_crc(av_crc_get_table(AV_CRC_32_IEEE_LE), 0, par->extradata,
                                   (size_t)par->extradata_size);

    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
        si->width = par->width;
        si->height = par->height;
        AVRational sar = av_guess_sample_aspect_ratio(fc, st, NULL);
        si->sar = (VpRational){ sar.num, sar.den };
        if (sar.num && par->width && par->height) {
            AVRational dar;
            av_reduce(&dar.num, &dar.den, (int64_t)par->width * sar.num,
                      (int64_t)par->height * sar.den, 1024 * 1024);
            si->dar = (VpRational){ dar.num, dar.den };
        }
        name = av_get_pix_fmt_name(par->format);
        vpi_strlcpy(si->pix_fmt, name ? name : "", sizeof(si->pix_fmt));
        vpi_strlcpy(si->field_order, field_order_name(par->field_order), sizeof(si->field_order));
        name = av_color_range_name(par->color_range);
        vpi_strlcpy(si->color_range, name && par->color_range ? name : "", sizeof(si->color_range));
        name = av_color_space_name(par->color_space);
        vpi_strlcpy(si->color_space, name && par->color_space != AVCOL_SPC_UNSPECIFIED ? name : "",
                    sizeof(si->color_space));
        name = av_color_primaries_name(par->color_primaries);
        vpi_strlcpy(si->color_primaries,
                    name && par->color_primaries != AVCOL_PRI_UNSPECIFIED ? name : "",
                    sizeof(si->color_primaries));
        name = av_color_transfer_name(par->color_trc);
        vpi_strlcpy(si->color_transfer, name && par->color_trc != AVCOL_TRC_UNSPECIFIED ? name : "",
                    sizeof(si->color_transfer));
        si->r_frame_rate = (VpRational){ st->r_frame_rate.num, st->r_frame_rate.den };
        si->avg_frame_rate = (VpRational){ st->avg_frame_rate.num, st->avg_frame_rate.den };
        si->video_delay = par->video_delay;
        const uint8_t *dm = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
        if (dm) {
            double r = av_display_rotation_get((const int32_t *)dm);
            si->rotation = isnan(r) ? 0 : r;
        }
    } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
        si->sample_rate = par->sample_rate;
        si->channels = par->ch_layout.nb_channels;
        if (par->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC)
            av_channel_layout_describe(&par->ch_layout, si->channel_layout,
                                       sizeof(si->channel_layout));
        name = av_get_sample_fmt_name(par->format);
        vpi_strlcpy(si->sample_fmt, name ? name : "", sizeof(si->sample_fmt));
        si->frame_size = par->frame_size;
        if (par->initial_padding > 0)
            si->priming_samples = par->initial_padding;
        if (par->trailing_padding > 0)
            si->padding_samples = par->trailing_padding;
        parse_itunsmpb(st->metadata, si);
        if (si->priming_samples < 0)
            parse_itunsmpb(fc->metadata, si);
    }
}

/* GOP statistics over keyframe flags in decode order. */
typedef struct GopStats {
    int64_t n, last_key, nb_keys;
    int min, max;
} GopStats;

static void gop_add(GopStats *g, int key)
{
    if (key) {
        if (g->nb_keys) {
            int len = (int)(g->n - g->last_key);
            if (!g->min || len < g->min)
                g->min = len;
            if (len > g->max)
                g->max = len;
        }
        g->last_key = g->n;
        g->nb_keys++;
    }
    g->n++;
}

/* Per video stream state while scanning packet data. */
typedef struct ScanState {
    int is_h264, is_hevc, length_size;
    int64_t scanned;
    int seen_first;
    int bframes;
    int inband_ps;
    int64_t last_rap_pts;   /* pts of the latest non-IDR random access point */
    int open_gop;
    int keys;               /* keyframes scanned */
    int done;               /* two whole GOPs seen: enough for every GOP fact */
} ScanState;

static void scan_video_packet(ScanState *ss, VpStreamInfo *si, const AVPacket *pkt)
{
    VpiH264Frame f;
    int r = -1;

    if (ss->is_h264)
        r = vpi_h264_inspect(pkt->data, (size_t)pkt->size, ss->length_size, &f);
    else if (ss->is_hevc)
        r = vpi_hevc_inspect(pkt->data, (size_t)pkt->size, ss->length_size, &f);

    /* The leading pictures of an open GOP follow its random access point in decode order,
     * so by the third keyframe two complete GOPs (and their leading frames) were seen. */
    if ((pkt->flags & AV_PKT_FLAG_KEY) && ++ss->keys >= 3) {
        ss->done = 1;
        return;
    }
    if (!ss->seen_first) {
        ss->seen_first = 1;
        if (r == 0)
            si->starts_with_idr = f.idr;
        else if (!ss->is_h264 && !ss->is_hevc)
            si->starts_with_idr = !!(pkt->flags & AV_PKT_FLAG_KEY);
        else
            si->starts_with_idr = 0;
    }
    if (r == 0) {
        if (f.has_sps || f.has_pps)
            ss->inband_ps = 1;
        if (f.slice_type == 1)
            ss->bframes = 1;
        if (f.slice_type == 2 && !f.idr && ((pkt->flags & AV_PKT_FLAG_KEY) || f.recovery_point))
            ss->last_rap_pts = pkt->pts;
        else if (f.idr)
            ss->last_rap_pts = AV_NOPTS_VALUE;
        else if (ss->last_rap_pts != AV_NOPTS_VALUE && pkt->pts != AV_NOPTS_VALUE &&
                 pkt->pts < ss->last_rap_pts)
            ss->open_gop = 1; /* a leading picture after a non-IDR random access point */
    }
    ss->scanned++;
}

/* An MP4 whose sample table points past the end of the file lost part of its mdat. */
static int index_past_eof(AVFormatContext *fc, int64_t file_size)
{
    if (file_size <= 0)
        return 0;
    for (unsigned i = 0; i < fc->nb_streams; i++) {
        AVStream *st = fc->streams[i];
        int n = avformat_index_get_entries_count(st);
        for (int k = n - 1; k >= 0 && k >= n - 8; k--) {
            const AVIndexEntry *ie = avformat_index_get_entry(st, k);
            if (ie && ie->pos + ie->size > file_size)
                return 1;
        }
    }
    return 0;
}

static int is_mp4_family(const AVFormatContext *fc)
{
    return fc->iformat && strstr(fc->iformat->name, "mp4");
}

static int probe_streams(AVFormatContext *fc, ProbeCtx *pc, VpMediaInfo *mi)
{
    const VpProbeOpts *o = pc->opts;
    int ret = 0;
    int n = (int)fc->nb_streams;
    ScanState *ss = NULL;
    GopStats *gs = NULL;
    int64_t *pkts = NULL, *first_skip = NULL;
    uint8_t *audio_seen = NULL;
    AVPacket *pkt = NULL;

    mi->streams = calloc((size_t)(n ? n : 1), sizeof(*mi->streams));
    ss = calloc((size_t)(n ? n : 1), sizeof(*ss));
    gs = calloc((size_t)(n ? n : 1), sizeof(*gs));
    pkts = calloc((size_t)(n ? n : 1), sizeof(*pkts));
    first_skip = calloc((size_t)(n ? n : 1), sizeof(*first_skip));
    audio_seen = calloc((size_t)(n ? n : 1), 1);
    pkt = av_packet_alloc();
    if (!mi->streams || !ss || !gs || !pkts || !first_skip || !audio_seen || !pkt) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    mi->nb_streams = n;
    mi->video_index = mi->audio_index = -1;

    int have_index = is_mp4_family(fc);
    for (int i = 0; i < n; i++) {
        AVStream *st = fc->streams[i];
        VpStreamInfo *si = &mi->streams[i];
        fill_stream(fc, st, si);
        if ((ret = copy_tags(st->metadata, &si->tags, &si->nb_tags)) < 0)
            goto end;
        if (si->type == VP_STREAM_VIDEO && mi->video_index < 0)
            mi->video_index = i;
        if (si->type == VP_STREAM_AUDIO && mi->audio_index < 0)
            mi->audio_index = i;
        AVCodecParameters *par = st->codecpar;
        ss[i].is_h264 = par->codec_id == AV_CODEC_ID_H264;
        ss[i].is_hevc = par->codec_id == AV_CODEC_ID_HEVC;
        ss[i].length_size = ss[i].is_h264 ? vpi_avcc_length_size(par->extradata,
                                                                 (size_t)par->extradata_size)
                          : ss[i].is_hevc ? vpi_hvcc_length_size(par->extradata,
                                                                 (size_t)par->extradata_size)
                          : 0;
        ss[i].last_rap_pts = AV_NOPTS_VALUE;
        first_skip[i] = -1;
        if (have_index && avformat_index_get_entries_count(st) <= 0 &&
            (si->type == VP_STREAM_VIDEO || si->type == VP_STREAM_AUDIO))
            have_index = 0;
    }

    /* The MP4 sample table lists every packet with its keyframe flag: count from it. */
    if (have_index) {
        for (int i = 0; i < n; i++) {
            AVStream *st = fc->streams[i];
            int cnt = avformat_index_get_entries_count(st);
            for (int k = 0; k < cnt; k++) {
                const AVIndexEntry *ie = avformat_index_get_entry(st, k);
                gop_add(&gs[i], ie->flags & AVINDEX_KEYFRAME);
            }
            pkts[i] = cnt;
        }
    }

    /* Read packets: the first ones for GOP/priming facts, all of them to count when there
     * is no index. */
    int need_all = !have_index && o->count_packets;
    int64_t video_left = o->gop_scan_packets;
    int64_t audio_first_left = 0;
    for (int i = 0; i < n; i++)
        if (mi->streams[i].type == VP_STREAM_AUDIO)
            audio_first_left++;
    while (need_all || video_left > 0 || audio_first_left > 0) {
        ret = av_read_frame(fc, pkt);
        if (ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (ret < 0) {
            if (pc->timed_out || pc->cancelled)
                goto end;
            /* A read error in the middle: what was counted so far stands, but the counts
             * are incomplete. */
            vpi_log(&pc->opts->logger, VP_LOG_WARNING,
                    "%s: read error after %" PRId64 " bytes: %s", mi->path,
                    avio_tell(fc->pb), vp_strerror(ret));
            ret = VP_ERR_TRUNCATED;
            goto end;
        }
        int i = pkt->stream_index;
        if (i >= 0 && i < n) {
            VpStreamInfo *si = &mi->streams[i];
            if (!have_index) {
                pkts[i]++;
                gop_add(&gs[i], pkt->flags & AV_PKT_FLAG_KEY);
            }
            if (si->type == VP_STREAM_VIDEO && !ss[i].done &&
                ss[i].scanned < o->gop_scan_packets) {
                scan_video_packet(&ss[i], si, pkt);
                if (i == mi->video_index)
                    video_left = ss[i].done ? 0 : video_left - 1;
            } else if (si->type == VP_STREAM_AUDIO && !audio_seen[i]) {
                audio_seen[i] = 1;
                size_t sz = 0;
                const uint8_t *sd = av_packet_get_side_data(pkt, AV_PKT_DATA_SKIP_SAMPLES, &sz);
                /* MP4 edit lists become skip side data; formats without them record
                 * nothing, which is unknown rather than zero. */
                first_skip[i] = sd && sz >= 4 ? (int64_t)AV_RL32(sd) : have_index ? 0 : -1;
                audio_first_left--;
            }
        }
        av_packet_unref(pkt);
        if (o->max_bytes && avio_tell(fc->pb) > o->max_bytes) {
            ret = VP_ERR_TOO_LARGE;
            goto end;
        }
        if (mi->video_index < 0 && !need_all && audio_first_left <= 0)
            break;
    }

    for (int i = 0; i < n; i++) {
        VpStreamInfo *si = &mi->streams[i];
        AVStream *st = fc->streams[i];
        if (have_index || o->count_packets)
            si->nb_packets = pkts[i];
        if (si->nb_frames < 0 && si->nb_packets >= 0 &&
            (si->type == VP_STREAM_VIDEO || si->type == VP_STREAM_AUDIO)) {
            si->nb_frames = si->nb_packets;
            si->nb_frames_counted = 1;
        }
        if (si->type == VP_STREAM_VIDEO) {
            if (si->nb_packets >= 0 || ss[i].scanned) {
                si->nb_keyframes = gs[i].nb_keys;
                si->keyint_min = gs[i].min;
                si->keyint_max = gs[i].max;
            }
            if (ss[i].scanned) {
                si->has_bframes = ss[i].bframes ? 1 : (si->video_delay > 0 ? -1 : 0);
                si->open_gop = ss[i].open_gop;
            }
            if (ss[i].is_h264 || ss[i].is_hevc) {
                /* Annex B extradata (MPEG-TS) is what the parser found in the packets, so
                 * only avcC/hvcC counts as a header. */
                int header = ss[i].length_size > 0;
                if (header && ss[i].inband_ps)
                    si->param_sets = VP_PARAMSETS_BOTH;
                else if (header)
                    si->param_sets = VP_PARAMSETS_HEADER;
                else if (ss[i].inband_ps)
                    si->param_sets = VP_PARAMSETS_INBAND;
            }
        } else if (si->type == VP_STREAM_AUDIO) {
            if (si->priming_samples < 0 && first_skip[i] >= 0)
                si->priming_samples = first_skip[i];
            /* An edit list that ends before the last decoded sample records the padding. */
            if (si->padding_samples < 0 && si->priming_samples >= 0 && si->frame_size > 0 &&
                si->nb_packets > 0 && st->duration != AV_NOPTS_VALUE && si->sample_rate > 0 &&
                have_index) {
                int64_t dur = av_rescale_q(st->duration, st->time_base,
                                           (AVRational){ 1, si->sample_rate });
                int64_t pad = si->nb_packets * si->frame_size - si->priming_samples - dur;
                if (pad >= 0 && pad < 2 * si->frame_size)
                    si->padding_samples = pad;
            }
        }
    }
    ret = 0;

end:
    av_packet_free(&pkt);
    free(audio_seen);
    free(first_skip);
    free(pkts);
    free(gs);
    free(ss);
    return ret;
}

static int probe_open(const char *path, ProbeCtx *pc, VpMediaInfo **out)
{
    VpMediaInfo *mi = NULL;
    AVFormatContext *fc = NULL;
    AVIOContext *pb = NULL;
    AVDictionary *fopts = NULL;
    int ret;
    int64_t file_size = -1;

    *out = NULL;
    mi = calloc(1, sizeof(*mi));
    if (!mi || !(mi->path = strdup(path))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    mi->duration = mi->start_time = NAN;
    mi->video_index = mi->audio_index = -1;

    if (!pc->buf) {
        struct stat sb;
        if ((ret = vpi_input_check(path, &sb)) < 0)
            goto fail;
        file_size = sb.st_size;
    } else {
        if (!pc->buf_size) {
            ret = VP_ERR_EMPTY_FILE;
            goto fail;
        }
        file_size = (int64_t)pc->buf_size;
    }

    if (!(fc = avformat_alloc_context())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    fc->interrupt_callback.callback = interrupt_cb;
    fc->interrupt_callback.opaque = pc;
    fc->opaque = (void *)&pc->opts->logger;
    fc->probesize = PROBE_SIZE;
    if (pc->buf) {
        uint8_t *iobuf = av_malloc(32768);
        if (!iobuf || !(pb = avio_alloc_context(iobuf, 32768, 0, pc, mem_read, NULL, mem_seek))) {
            av_free(iobuf);
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        fc->pb = pb;
    }
    /* As ffprobe does: find every program of an MPEG-TS, not only the first PMT's. */
    av_dict_set(&fopts, "scan_all_pmts", "1", 0);
    ret = avformat_open_input(&fc, pc->buf ? NULL : path, NULL, &fopts);
    if (ret < 0) {
        fc = NULL; /* freed by avformat_open_input on failure */
        if (pc->timed_out)
            ret = VP_ERR_TIMEOUT;
        else if (ret == AVERROR_INVALIDDATA)
            ret = vpi_open_error(path, pc->buf, pc->buf ? pc->buf_size : 0, ret);
        goto fail;
    }
    ret = avformat_find_stream_info(fc, NULL);
    if (ret < 0) {
        if (pc->timed_out) {
            ret = VP_ERR_TIMEOUT;
            goto fail;
        }
        /* Not fatal: ffprobe carries on with what the header said. */
        vpi_log(&pc->opts->logger, VP_LOG_WARNING,
                "%s: could not find stream parameters: %s", path,
                vp_strerror(ret));
    }

    av_dict_free(&fopts);
    vpi_strlcpy(mi->format, fc->iformat->name, sizeof(mi->format));
    vpi_strlcpy(mi->format_long, fc->iformat->long_name, sizeof(mi->format_long));
    AVDictionaryEntry *e = av_dict_get(fc->metadata, "major_brand", NULL, 0);
    if (e)
        vpi_strlcpy(mi->major_brand, e->value, sizeof(mi->major_brand));
    mi->size = file_size >= 0 ? file_size : (fc->pb ? avio_size(fc->pb) : -1);
    mi->duration = fc->duration == AV_NOPTS_VALUE ? NAN : fc->duration / (double)AV_TIME_BASE;
    mi->start_time = fc->start_time == AV_NOPTS_VALUE ? NAN
                                                      : fc->start_time / (double)AV_TIME_BASE;
    mi->bit_rate = fc->bit_rate;
    if ((ret = copy_tags(fc->metadata, &mi->tags, &mi->nb_tags)) < 0 ||
        (ret = copy_chapters(fc, mi)) < 0)
        goto fail;

    if (is_mp4_family(fc) && index_past_eof(fc, mi->size)) {
        ret = VP_ERR_TRUNCATED;
        goto fail;
    }
    ret = probe_streams(fc, pc, mi);
    if (ret < 0) {
        if (pc->timed_out)
            ret = VP_ERR_TIMEOUT;
        goto fail;
    }
    if (mi->video_index < 0 && mi->audio_index < 0) {
        ret = VP_ERR_NO_STREAMS;
        goto fail;
    }

    avformat_close_input(&fc);
    if (pb) {
        av_freep(&pb->buffer);
        avio_context_free(&pb);
    }
    *out = mi;
    return 0;

fail:
    avformat_close_input(&fc);
    if (pb) {
        av_freep(&pb->buffer);
        avio_context_free(&pb);
    }
    av_dict_free(&fopts);
    vp_media_info_free(&mi);
    return ret;
}

/* probe_open with the call's logger registered, and a cancel reported as such whatever
 * FFmpeg made of the interrupted read. */
static int probe_run(const char *path, ProbeCtx *pc, VpMediaInfo **out)
{
    int ret = vpi_log_register(&pc->opts->logger);
    if (ret < 0)
        return ret;
    const VpLogger *prev = vpi_log_scope_enter(&pc->opts->logger);
    ret = probe_open(path, pc, out);
    if (ret < 0 && pc->cancelled)
        ret = VP_ERR_CANCELLED;
    vpi_log_scope_leave(prev);
    vpi_log_unregister(&pc->opts->logger);
    return ret;
}

/* The options of one call (defaults when NULL, kept in @p def), checked, and its deadline. */
static int probe_begin(ProbeCtx *pc, const VpProbeOpts *opts, VpProbeOpts *def)
{
    if (!opts) {
        vp_probe_default_opts(def);
        opts = def;
    }
    int ret = vpi_opt_check_log(&vpi_probe_options, opts, &opts->logger, "probe options");
    if (ret < 0)
        return ret;
    pc->opts = opts;
    pc->deadline_us = opts->timeout_ms ? vpi_now_us() + (int64_t)opts->timeout_ms * 1000 : 0;
    return 0;
}

int vp_probe_file(const char *path, const VpProbeOpts *opts, VpMediaInfo **out)
{
    VpProbeOpts def;
    ProbeCtx pc = { 0 };
    int ret;

    *out = NULL;
    if (!path)
        return AVERROR(EINVAL);
    if ((ret = probe_begin(&pc, opts, &def)) < 0)
        return ret;
    return probe_run(path, &pc, out);
}

int vp_probe_buffer(const uint8_t *data, size_t size, const char *name,
                    const VpProbeOpts *opts, VpMediaInfo **out)
{
    VpProbeOpts def;
    ProbeCtx pc = { 0 };
    int ret;

    *out = NULL;
    if (!data && size)
        return AVERROR(EINVAL);
    if ((ret = probe_begin(&pc, opts, &def)) < 0)
        return ret;
    static const uint8_t empty[1];
    pc.buf = data ? data : empty;
    pc.buf_size = size;
    return probe_run(name ? name : "(memory)", &pc, out);
}
