/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Soft subtitles: a video's video and audio packets copied into a new MP4 or Matroska file
 * beside one subtitle track per file. The tracks are made by libavcodec's own subtitle
 * encoders from ASS events (mov_text for MP4, SubRip or ASS for Matroska), so each carries
 * the sample description its container's readers expect (mov_text's TextSampleEntry, the
 * ASS header as Matroska's CodecPrivate). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "subs.h"

#define MAX_TRACKS 32

typedef struct SubPacket {
    int64_t start, dur;     /* ms */
    int track, order;
    AVPacket *pkt;
} SubPacket;

void vp_subs_mux_default_opts(VpSubsMuxOpts *opts)
{
    memset(opts, 0, sizeof(*opts));
}


static int cmp_packet(const void *a, const void *b)
{
    const SubPacket *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Encode every cue of @p s into packets of @p enc (time base 1/1000). */
static int encode_track(AVCodecContext *enc, const VpSubs *s, int track, int mp4,
                        SubPacket **pk, int *nb, int *cap)
{
    /* The muxers need each track in time order: the model keeps the file's order. */
    int *idx = s->nb ? malloc((size_t)s->nb * sizeof(*idx)) : NULL;
    if (s->nb && !idx)
        return AVERROR(ENOMEM);
    for (int i = 0; i < s->nb; i++)
        idx[i] = i;
    for (int i = 1; i < s->nb; i++) {   /* insertion sort: files are almost sorted */
        int v = idx[i], j = i;
        while (j > 0 && s->cues[idx[j - 1]].start > s->cues[v].start) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    int ret = 0;
    uint8_t *out = av_malloc(1 << 20);
    VpiBuf ev = { 0 };
    if (!out) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int i = 0; i < s->nb; i++) {
        const VpiCue *c = &s->cues[idx[i]];
        int64_t end = c->end;
        /* An MP4 text track shows one sample at a time: an overlap ends at the next cue. */
        if (mp4 && i + 1 < s->nb && s->cues[idx[i + 1]].start < end)
            end = s->cues[idx[i + 1]].start;
        if (end <= c->start)
            continue;
        ev.len = 0;
        vpi_buf_printf(&ev, "%d,0,Default,,0,0,0,,", i);
        vpi_ass_text(&ev, c->text);
        if (ev.oom) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        AVSubtitleRect rect = { .type = SUBTITLE_ASS, .ass = ev.data };
        AVSubtitleRect *rects[1] = { &rect };
        AVSubtitle sub = { .format = 1, .start_display_time = 0,
                           .end_display_time = (uint32_t)(end - c->start), .num_rects = 1,
                           .rects = rects, .pts = c->start * 1000 };
        int size = avcodec_encode_subtitle(enc, out, 1 << 20, &sub);
        if (size < 0) {
            ret = size;
            goto end;
        }
        if (*nb == *cap) {
            int nc = *cap ? *cap * 2 : 256;
            SubPacket *p = realloc(*pk, (size_t)nc * sizeof(*p));
            if (!p) {
                ret = AVERROR(ENOMEM);
                goto end;
            }
            *pk = p;
            *cap = nc;
        }
        AVPacket *pkt = av_packet_alloc();
        if (!pkt || (ret = av_new_packet(pkt, size)) < 0) {
            av_packet_free(&pkt);
            ret = ret < 0 ? ret : AVERROR(ENOMEM);
            goto end;
        }
        memcpy(pkt->data, out, size);
        pkt->flags |= AV_PKT_FLAG_KEY;
        (*pk)[(*nb)++] = (SubPacket){ c->start, end - c->start, track, *nb, pkt };
    }
end:
    av_free(out);
    free(ev.data);
    free(idx);
    return ret;
}

static int valid_lang(const char *l)
{
    return l && strlen(l) == 3 && l[0] >= 'a' && l[0] <= 'z' && l[1] >= 'a' && l[1] <= 'z' &&
           l[2] >= 'a' && l[2] <= 'z';
}

int vp_subs_mux(const char *video, const char *const *subs, int nb_subs, const char *out,
                const VpSubsMuxOpts *opts, VpFailure *fail)
{
    VpSubsMuxOpts defaults;
    AVFormatContext *ic = NULL, *oc = NULL;
    AVCodecContext *enc[MAX_TRACKS] = { 0 };
    VpSubs *list[MAX_TRACKS] = { 0 };
    SubPacket *pk = NULL;
    int nb_pk = 0, cap_pk = 0, next_pk = 0;
    int *map = NULL;
    AVPacket *pkt = NULL;
    VpiOutput o = { 0 };
    char why[1100];
    int ret = 0, registered = 0;
    if (!opts) {
        vp_subs_mux_default_opts(&defaults);
        opts = &defaults;
    }
    if (fail) {
        memset(fail, 0, sizeof(*fail));
        fail->input = -1;
    }
    const VpLogger *prev = vpi_log_scope_enter(&opts->logger);
    if (nb_subs < 1 || nb_subs > MAX_TRACKS) {
        snprintf(why, sizeof(why), "give 1 to %d subtitle files, not %d", MAX_TRACKS, nb_subs);
        ret = vpi_fail(fail, -1, out, VP_ERR_BAD_OPTION, why);
        goto end;
    }
    for (int i = 0; opts->langs && i < nb_subs; i++) {
        if (opts->langs[i] && !valid_lang(opts->langs[i])) {
            snprintf(why, sizeof(why), "language '%.32s' of %.900s is not three letters of "
                     "ISO 639-2 (eng, fra, deu)", opts->langs[i], subs[i]);
            ret = vpi_fail(fail, -1, out, VP_ERR_BAD_OPTION, why);
            goto end;
        }
    }
    const AVOutputFormat *ofmt = av_guess_format(NULL, out, NULL);
    int mp4 = ofmt && (!strcmp(ofmt->name, "mp4") || !strcmp(ofmt->name, "mov"));
    if (!ofmt || (!mp4 && strcmp(ofmt->name, "matroska"))) {
        ret = vpi_fail(fail, -1, out, VP_ERR_CONTAINER_CODEC,
                      "soft subtitles go into .mp4, .mov or .mkv");
        goto end;
    }
    {
        const char *inputs[MAX_TRACKS + 1];
        inputs[0] = video;
        for (int i = 0; i < nb_subs; i++)
            inputs[i + 1] = subs[i];
        if ((ret = vp_output_check_not_input(out, inputs, nb_subs + 1)) < 0) {
            vpi_fail(fail, -1, out, ret, NULL);
            goto end;
        }
    }
    for (int i = 0; i < nb_subs; i++) {
        VpFailure f;
        if ((ret = vp_subs_read(subs[i], &list[i], &f)) < 0) {
            if (fail) {
                *fail = f;
                fail->input = i + 1;
            }
            goto end;
        }
    }
    if ((ret = vpi_log_register(&opts->logger)) < 0)
        goto end;
    registered = 1;
    if ((ret = vpi_input_check(video, &(struct stat){ 0 })) < 0 ||
        (ret = vpi_open_input(&ic, video, &opts->cancel, &opts->logger)) < 0) {
        vpi_fail(fail, 0, video, ret, NULL);
        goto end;
    }
    if ((ret = avformat_find_stream_info(ic, NULL)) < 0) {
        vpi_fail(fail, 0, video, ret, NULL);
        goto end;
    }
    if ((ret = avformat_alloc_output_context2(&oc, ofmt, NULL, out)) < 0)
        goto out_fail;
    oc->interrupt_callback = ic->interrupt_callback;
    oc->opaque = (void *)&opts->logger;
    if (!(map = malloc(ic->nb_streams * sizeof(*map)))) {
        ret = AVERROR(ENOMEM);
        goto out_fail;
    }
    int nb_av = 0;
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        AVStream *is = ic->streams[i];
        enum AVMediaType t = is->codecpar->codec_type;
        map[i] = -1;
        if ((t != AVMEDIA_TYPE_VIDEO && t != AVMEDIA_TYPE_AUDIO) ||
            (is->disposition & AV_DISPOSITION_ATTACHED_PIC))
            continue;
        if (avformat_query_codec(ofmt, is->codecpar->codec_id, FF_COMPLIANCE_NORMAL) != 1) {
            snprintf(why, sizeof(why), "%s: %s", avcodec_get_name(is->codecpar->codec_id),
                     vp_strerror(VP_ERR_CONTAINER_CODEC));
            ret = vpi_fail(fail, -1, out, VP_ERR_CONTAINER_CODEC, why);
            goto end;
        }
        AVStream *os = avformat_new_stream(oc, NULL);
        if (!os || (ret = avcodec_parameters_copy(os->codecpar, is->codecpar)) < 0) {
            ret = ret < 0 ? ret : AVERROR(ENOMEM);
            goto out_fail;
        }
        os->codecpar->codec_tag = 0;
        os->time_base = is->time_base;
        os->disposition = is->disposition;
        av_dict_copy(&os->metadata, is->metadata, 0);
        map[i] = os->index;
        nb_av++;
    }
    if (!nb_av) {
        ret = vpi_fail(fail, 0, video, VP_ERR_NO_STREAMS, NULL);
        goto end;
    }
    for (int i = 0; i < nb_subs; i++) {
        enum AVCodecID id = mp4 ? AV_CODEC_ID_MOV_TEXT :
                            vp_subs_source_format(list[i]) == VP_SUBS_ASS ? AV_CODEC_ID_ASS
                                                                          : AV_CODEC_ID_SUBRIP;
        const AVCodec *codec = avcodec_find_encoder(id);
        VpiBuf hdr = { 0 };
        if (!codec || !(enc[i] = avcodec_alloc_context3(codec))) {
            ret = codec ? AVERROR(ENOMEM) : AVERROR_ENCODER_NOT_FOUND;
            goto out_fail;
        }
        vpi_ass_header(&hdr);
        enc[i]->subtitle_header = hdr.data ? av_malloc(hdr.len + 1) : NULL;
        if (hdr.oom || !enc[i]->subtitle_header) {
            free(hdr.data);
            ret = AVERROR(ENOMEM);
            goto out_fail;
        }
        memcpy(enc[i]->subtitle_header, hdr.data, hdr.len + 1);
        enc[i]->subtitle_header_size = (int)hdr.len;
        free(hdr.data);
        enc[i]->time_base = (AVRational){ 1, 1000 };
        enc[i]->opaque = (void *)&opts->logger;
        if ((ret = avcodec_open2(enc[i], codec, NULL)) < 0)
            goto out_fail;
        AVStream *os = avformat_new_stream(oc, NULL);
        if (!os || (ret = avcodec_parameters_from_context(os->codecpar, enc[i])) < 0) {
            ret = ret < 0 ? ret : AVERROR(ENOMEM);
            goto out_fail;
        }
        os->time_base = (AVRational){ 1, 1000 };
        os->disposition = i == 0 ? AV_DISPOSITION_DEFAULT : 0;
        const char *lang = opts->langs && opts->langs[i] ? opts->langs[i] : "und";
        if ((ret = av_dict_set(&os->metadata, "language", lang, 0)) < 0 ||
            (ret = encode_track(enc[i], list[i], os->index, mp4, &pk, &nb_pk, &cap_pk)) < 0)
            goto out_fail;
    }
    if (nb_pk)
        qsort(pk, nb_pk, sizeof(*pk), cmp_packet);
    if ((ret = vpi_output_begin(&o, out)) < 0)
        goto out_fail;
    if ((ret = avio_open2(&oc->pb, o.tmp_path, AVIO_FLAG_WRITE, &oc->interrupt_callback,
                          NULL)) < 0 ||
        (ret = avformat_write_header(oc, NULL)) < 0)
        goto out_fail;
    if (!(pkt = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto out_fail;
    }
    for (;;) {
        if (vpi_cancelled(&opts->cancel)) {
            ret = VP_ERR_CANCELLED;
            goto out_fail;
        }
        ret = av_read_frame(ic, pkt);
        int eof = ret == AVERROR_EOF;
        if (ret < 0 && !eof) {
            vpi_fail(fail, 0, video, ret, NULL);
            goto end;
        }
        /* the subtitles due before this packet, so the muxer need not buffer them */
        int64_t now_ms = INT64_MAX;
        if (!eof && pkt->dts != AV_NOPTS_VALUE)
            now_ms = av_rescale_q(pkt->dts, ic->streams[pkt->stream_index]->time_base,
                                  (AVRational){ 1, 1000 });
        while (next_pk < nb_pk && pk[next_pk].start <= now_ms) {
            SubPacket *sp = &pk[next_pk++];
            AVStream *os = oc->streams[sp->track];
            sp->pkt->pts = sp->pkt->dts = av_rescale_q(sp->start, (AVRational){ 1, 1000 },
                                                       os->time_base);
            sp->pkt->duration = av_rescale_q(sp->dur, (AVRational){ 1, 1000 }, os->time_base);
            sp->pkt->stream_index = sp->track;
            if ((ret = av_interleaved_write_frame(oc, sp->pkt)) < 0)
                goto out_fail;
        }
        if (eof)
            break;
        int si = pkt->stream_index;
        if (si >= (int)ic->nb_streams || map[si] < 0) {
            av_packet_unref(pkt);
            continue;
        }
        av_packet_rescale_ts(pkt, ic->streams[si]->time_base, oc->streams[map[si]]->time_base);
        pkt->stream_index = map[si];
        pkt->pos = -1;
        if ((ret = av_interleaved_write_frame(oc, pkt)) < 0)
            goto out_fail;
    }
    if ((ret = av_write_trailer(oc)) < 0 || (ret = avio_closep(&oc->pb)) < 0 ||
        (ret = vpi_output_commit(&o)) < 0)
        goto out_fail;
    ret = 0;
    goto end;
out_fail:
    vpi_fail(fail, -1, out, ret, NULL);
end:
    if (ret < 0 && ret != VP_ERR_CANCELLED &&
        (ret == AVERROR_EXIT || vpi_cancelled(&opts->cancel))) {
        /* the interrupt callback stopped a read or a write */
        ret = VP_ERR_CANCELLED;
        char where[sizeof(fail->path)];
        snprintf(where, sizeof(where), "%s", fail && fail->path[0] ? fail->path : out);
        vpi_fail(fail, fail ? fail->input : -1, where, ret, NULL);
    }
    if (oc && oc->pb)
        avio_closep(&oc->pb);
    vpi_output_abort(&o);
    av_packet_free(&pkt);
    for (int i = 0; i < nb_pk; i++)
        av_packet_free(&pk[i].pkt);
    free(pk);
    free(map);
    for (int i = 0; i < MAX_TRACKS; i++) {
        avcodec_free_context(&enc[i]);
        vp_subs_free(&list[i]);
    }
    avformat_free_context(oc);
    avformat_close_input(&ic);
    if (registered)
        vpi_log_unregister(&opts->logger);
    vpi_log_scope_leave(prev);
    return ret;
}
