/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seek_check FILE [FRAMES]: does a viewer who seeks into FILE see the right pictures?
 *
 * Decodes FILE's video once from the start (the reference), then, for every sync sample and
 * for the middle of every GOP, opens FILE afresh (as `ffmpeg -ss T -i FILE` does), seeks
 * there, decodes FRAMES frames (default 4) from the seek point on, and compares each with the
 * frame of the same pts from the sequential decode. Counts every message FFmpeg logs at
 * error level (demuxer, parser, decoder). Prints one line per problem and a summary; exits 0
 * when every seek gave identical pictures and FFmpeg logged no error, 1 otherwise, 2 when
 * FILE cannot be read. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>

#define MAX_SEEKS 600

static int nb_errors;

static void log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    (void)avcl;
    if (level > AV_LOG_ERROR)
        return;
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, vl);
    if (nb_errors++ < 20)
        fprintf(stderr, "ffmpeg: %s", line);
}

typedef struct Frame {
    int64_t pts;
    uint64_t hash;
} Frame;

typedef struct Ctx {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    int vi;
} Ctx;

static uint64_t frame_hash(const AVFrame *f)
{
    uint64_t h = 1469598103934665603ull;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    for (int p = 0; p < 4 && f->data[p]; p++) {
        int w = p && d ? AV_CEIL_RSHIFT(f->width, d->log2_chroma_w) : f->width;
        int hgt = p && d ? AV_CEIL_RSHIFT(f->height, d->log2_chroma_h) : f->height;
        for (int y = 0; y < hgt; y++) {
            const uint8_t *row = f->data[p] + (ptrdiff_t)y * f->linesize[p];
            for (int x = 0; x < w; x++)
                h = (h ^ row[x]) * 1099511628211ull;
        }
    }
    return h;
}

static void ctx_close(Ctx *c)
{
    avcodec_free_context(&c->dec);
    avformat_close_input(&c->fmt);
    av_packet_free(&c->pkt);
    av_frame_free(&c->frame);
}

static int ctx_open(Ctx *c, const char *path)
{
    memset(c, 0, sizeof(*c));
    if (avformat_open_input(&c->fmt, path, NULL, NULL) < 0 ||
        avformat_find_stream_info(c->fmt, NULL) < 0)
        return -1;
    c->vi = av_find_best_stream(c->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (c->vi < 0)
        return -1;
    for (unsigned i = 0; i < c->fmt->nb_streams; i++)
        if ((int)i != c->vi)
            c->fmt->streams[i]->discard = AVDISCARD_ALL;
    AVStream *st = c->fmt->streams[c->vi];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec || !(c->dec = avcodec_alloc_context3(codec)) ||
        avcodec_parameters_to_context(c->dec, st->codecpar) < 0)
        return -1;
    c->dec->thread_count = 1;
    if (avcodec_open2(c->dec, codec, NULL) < 0 || !(c->pkt = av_packet_alloc()) ||
        !(c->frame = av_frame_alloc()))
        return -1;
    return 0;
}

/* Decodes from where the demuxer stands; calls @p on_frame for each frame until it returns
 * nonzero or the file ends. Collects the pts of sync packets into @p keys when given. */
static int decode(Ctx *c, int (*on_frame)(void *, const AVFrame *), void *opaque, int64_t *keys,
                  int *nb_keys, int max_keys)
{
    int eof = 0, stop = 0;
    while (!stop) {
        if (!eof) {
            int r = av_read_frame(c->fmt, c->pkt);
            if (r < 0) {
                eof = 1;
                avcodec_send_packet(c->dec, NULL);
            } else {
                if (c->pkt->stream_index == c->vi) {
                    if (keys && (c->pkt->flags & AV_PKT_FLAG_KEY) && *nb_keys < max_keys &&
                        c->pkt->pts != AV_NOPTS_VALUE)
                        keys[(*nb_keys)++] = c->pkt->pts;
                    avcodec_send_packet(c->dec, c->pkt);
                }
                av_packet_unref(c->pkt);
            }
        }
        for (;;) {
            int r = avcodec_receive_frame(c->dec, c->frame);
            if (r == AVERROR_EOF)
                return 0;
            if (r < 0)
                break;
            stop = on_frame(opaque, c->frame);
            av_frame_unref(c->frame);
            if (stop)
                break;
        }
    }
    return 0;
}

typedef struct Ref {
    Frame *f;
    int nb, cap;
} Ref;

static int collect(void *opaque, const AVFrame *f)
{
    Ref *r = opaque;
    if (r->nb == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->f = realloc(r->f, (size_t)r->cap * sizeof(*r->f));
        if (!r->f) {
            fprintf(stderr, "seek_check: out of memory\n");
            exit(2);
        }
    }
    r->f[r->nb++] = (Frame){ f->best_effort_timestamp, frame_hash(f) };
    return 0;
}

typedef struct Seek {
    const Ref *ref;
    int64_t target;
    int want, got, bad;
    double tb;
} Seek;

static int check_frame(void *opaque, const AVFrame *f)
{
    Seek *s = opaque;
    int64_t pts = f->best_effort_timestamp;
    if (pts < s->target)
        return 0; /* decoded on the way to the target, not shown (ffmpeg -ss drops these) */
    uint64_t h = frame_hash(f);
    int found = 0;
    for (int i = 0; i < s->ref->nb && !found; i++)
        if (s->ref->f[i].pts == pts) {
            found = 1;
            if (s->ref->f[i].hash != h) {
                printf("seek to %.3f s: the frame at %.3f s differs from the sequential "
                       "decode\n", s->target * s->tb, pts * s->tb);
                s->bad++;
            }
        }
    if (!found) {
        printf("seek to %.3f s: a frame at %.3f s that the sequential decode does not have\n",
               s->target * s->tb, pts * s->tb);
        s->bad++;
    }
    return ++s->got >= s->want;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: seek_check FILE [FRAMES]\n");
        return 2;
    }
    const char *path = argv[1];
    int want = argc > 2 ? atoi(argv[2]) : 4;
    av_log_set_callback(log_cb);

    Ctx c;
    Ref ref = { 0 };
    static int64_t keys[MAX_SEEKS];
    int nb_keys = 0;
    if (ctx_open(&c, path) < 0) {
        fprintf(stderr, "seek_check: %s: cannot open its video\n", path);
        return 2;
    }
    double tb = av_q2d(c.fmt->streams[c.vi]->time_base);
    decode(&c, collect, &ref, keys, &nb_keys, MAX_SEEKS / 2);
    ctx_close(&c);
    int seq_errors = nb_errors;
    if (!ref.nb) {
        fprintf(stderr, "seek_check: %s: no video frame decoded\n", path);
        return 2;
    }
    qsort(keys, (size_t)nb_keys, sizeof(*keys), cmp64);
    int64_t last_pts = ref.f[0].pts;
    for (int i = 0; i < ref.nb; i++)
        last_pts = ref.f[i].pts > last_pts ? ref.f[i].pts : last_pts;

    /* every sync sample, and the middle of every GOP (a seek between keyframes) */
    static int64_t targets[MAX_SEEKS];
    int nb_targets = 0;
    for (int i = 0; i < nb_keys; i++) {
        int64_t next = i + 1 < nb_keys ? keys[i + 1] : last_pts;
        targets[nb_targets++] = keys[i];
        if (next - keys[i] > 1)
            targets[nb_targets++] = keys[i] + (next - keys[i]) / 2;
    }

    int bad = 0, seeks = 0;
    /* Last first: a decoder that has not yet seen a segment's first picture is the case
     * that fails when parameter sets are missing. */
    for (int i = nb_targets - 1; i >= 0; i--) {
        Seek s = { &ref, targets[i], want, 0, 0, tb };
        int before = nb_errors;
        if (ctx_open(&c, path) < 0) {
            printf("seek to %.3f s: cannot open the file again\n", targets[i] * tb);
            bad++;
            ctx_close(&c);
            continue;
        }
        if (avformat_seek_file(c.fmt, c.vi, INT64_MIN, targets[i], targets[i], 0) < 0) {
            printf("seek to %.3f s: the demuxer refused the seek\n", targets[i] * tb);
            bad++;
        } else {
            decode(&c, check_frame, &s, NULL, NULL, 0);
            if (!s.got) {
                printf("seek to %.3f s: no frame decoded\n", targets[i] * tb);
                bad++;
            }
        }
        if (nb_errors > before)
            printf("seek to %.3f s: FFmpeg logged %d error(s)\n", targets[i] * tb,
                   nb_errors - before);
        bad += s.bad;
        seeks++;
        ctx_close(&c);
    }
    printf("seek_check: %s: %d frames, %d seeks, %d wrong frames or failed seeks, %d FFmpeg "
           "errors (%d in the sequential decode)\n", path, ref.nb, seeks, bad, nb_errors,
           seq_errors);
    free(ref.f);
    return bad || nb_errors ? 1 : 0;
}
