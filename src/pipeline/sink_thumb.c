/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The still sink: one JPEG, PNG or WebP frame, or a contact sheet of evenly spaced frames, each tile
 * labelled with its time (a built-in bitmap font: no font files needed). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "options/options.h"
#include "sink.h"

#define MAX_TILES 400
#define MARGIN 4

typedef struct Tile {
    int64_t target_us;
    int64_t at_us;
    int done;
} Tile;

typedef struct ThumbCtx {
    VpThumbOpts o;
    enum AVCodecID codec;       /* what the file name's extension says: JPEG, PNG or WebP */
    int nb;
    Tile tiles[MAX_TILES];
    int tile_w, tile_h, sheet_w, sheet_h;
    AVFrame *sheet;
    AVFrame *last;              /* fallback when a tile's time is past the last picture */
    struct SwsContext *sws;
    int rotation;               /* the source's, turned upright when placed */
    AVFrame *turn;              /* the scaled picture before it is turned */
    VpiVideoChain vc;           /* the pictures' chain (VpThumbOpts.video_filters) */
} ThumbCtx;

#define O(...) VPI_OPT_ROW(VpThumbOpts, __VA_ARGS__)

static const VpiOption thumb_options[] = {
    O(at, DOUBLE, -1, -1, 1e9, "time of the frame, seconds (-1: 5 s, or the midpoint)"),
    O(width, INT, 320, 16, 4096, "width of the frame, of each tile"),
    O(cols, INT, 1, 1, MAX_TILES, "contact sheet columns"),
    O(rows, INT, 1, 1, MAX_TILES, "contact sheet rows"),
    O(quality, INT, 2, 1, 31, "JPEG quality, 1 (best) .. 31"),
    O(timestamps, BOOL, 1, 0, 1, "each sheet tile shows its time"),
    { NULL },
};
#undef O

static int check_thumb(const void *obj, char *err, size_t err_size)
{
    const VpThumbOpts *o = obj;
    if (!o->path || !*o->path) {
        snprintf(err, err_size, "path: a JPEG file is required");
        return VP_ERR_BAD_OPTION;
    }
    if (o->cols * o->rows > MAX_TILES) {
        snprintf(err, err_size, "cols: value %dx%d is more than %d tiles", o->cols, o->rows,
                 MAX_TILES);
        return VP_ERR_BAD_OPTION;
    }
    return 0;
}

const VpiOptTable vpi_thumb_options = { "thumb", thumb_options, check_thumb };

void vp_thumb_default_opts(VpThumbOpts *o)
{
    memset(o, 0, sizeof(*o));
    vpi_opt_defaults(&vpi_thumb_options, o);
}

/* 5x7 glyphs for "0123456789:.", one byte per row, bit 4 is the leftmost pixel. */
static const uint8_t glyphs[12][7] = {
    { 0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e }, { 0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e },
    { 0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f }, { 0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e },
    { 0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02 }, { 0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e },
    { 0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e }, { 0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 },
    { 0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e }, { 0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c },
    { 0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00 }, { 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c },
};

static void format_time(char *buf, size_t size, int64_t us)
{
    int64_t ds = (us + 50000) / 100000;  /* tenths */
    if (ds < 0)
        ds = 0;
    int64_t s = ds / 10;
    if (s >= 3600)
        snprintf(buf, size, "%d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
    else
        snprintf(buf, size, "%d:%02d.%d", (int)(s / 60), (int)(s % 60), (int)(ds % 10));
}

/* White text on a black box at the bottom-left of the tile at (x, y). */
static void draw_label(AVFrame *f, int x, int y, int w, int h, const char *text)
{
    int scale = w >= 240 ? 2 : 1;
    int gw = 6 * scale, pad = 2 * scale;
    int len = (int)strlen(text);
    int bw = len * gw + 2 * pad, bh = 7 * scale + 2 * pad;
    if (bw > w || bh > h)
        return;
    int bx = x, by = y + h - bh;
    for (int r = 0; r < bh; r++)
        memset(f->data[0] + (size_t)(by + r) * f->linesize[0] + bx, 16, (size_t)bw);
    for (int p = 1; p < 3; p++)
        for (int r = by / 2; r < (by + bh) / 2; r++)
            memset(f->data[p] + (size_t)r * f->linesize[p] + bx / 2, 128, (size_t)bw / 2);
    for (int i = 0; i < len; i++) {
        int g = text[i] == ':' ? 10 : text[i] == '.' ? 11 : text[i] - '0';
        if (g < 0 || g > 11)
            continue;
        for (int r = 0; r < 7 * scale; r++)
            for (int c = 0; c < 5 * scale; c++)
                if (glyphs[g][r / scale] & (0x10 >> (c / scale)))
                    f->data[0][(size_t)(by + pad + r) * f->linesize[0] + bx + pad + i * gw + c] =
                        235;
    }
}

static int validate(const VpThumbOpts *o, const VpLogger *lg)
{
    char why[256];
    int ret = vpi_opt_check(&vpi_thumb_options, o, why, sizeof(why));
    if (ret < 0)
        vpi_log(lg, VP_LOG_ERROR, "%s: thumbnail option %s", o->path ? o->path : "(output)", why);
    return ret;
}

/* The image format the name says (.jpg, .jpeg, .png, .webp; JPEG without an extension), or
 * AV_CODEC_ID_NONE: a PNG name never gets JPEG bytes. */
static enum AVCodecID codec_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot || dot == (slash ? slash + 1 : path))
        return AV_CODEC_ID_MJPEG;
    if (!av_strcasecmp(dot, ".jpg") || !av_strcasecmp(dot, ".jpeg"))
        return AV_CODEC_ID_MJPEG;
    if (!av_strcasecmp(dot, ".png"))
        return AV_CODEC_ID_PNG;
    if (!av_strcasecmp(dot, ".webp"))
        return AV_CODEC_ID_WEBP;
    return AV_CODEC_ID_NONE;
}

static int init(VpiSink *s, const VpiSource *src)
{
    ThumbCtx *c = s->priv;
    const VpSourceInfo *in = src->info;
    int ret;

    c->o = *(const VpThumbOpts *)s->opts;
    if ((ret = validate(&c->o, src->log)) < 0)
        return ret;
    c->o.path = s->path;
    if ((ret = vpi_video_chain_init(&c->vc, c->o.video_filters)) < 0)
        return ret;
    c->o.video_filters = NULL; /* the caller's string: c->vc has its own */
    s->every_picture = c->vc.chain != NULL;
    if ((c->codec = codec_of(s->path)) == AV_CODEC_ID_NONE) {
        vpi_log(src->log, VP_LOG_ERROR, "%s: a thumbnail is JPEG (.jpg, .jpeg), PNG (.png) "
                "or WebP (.webp); the extension names none of them", s->path);
        s->out_failed = 1;
        return VP_ERR_BAD_OPTION;
    }
    if (!avcodec_find_encoder(c->codec)) {
        vpi_log(src->log, VP_LOG_ERROR, "%s: this FFmpeg has no %s encoder", s->path,
                avcodec_get_name(c->codec));
        return VP_ERR_UNSUPPORTED;
    }
    if (!src->vst) {
        vpi_log(s->src->log, VP_LOG_VERBOSE, "%s: %s", in->path, vp_strerror(VP_ERR_NO_VIDEO));
        return VP_ERR_NO_VIDEO;
    }
    c->nb = c->o.cols * c->o.rows;
    /* As ffmpeg's -ss past the end: no picture, rather than the last one passed off as the
     * one asked for. */
    if (c->nb == 1 && c->o.at >= 0 && isfinite(in->duration) && c->o.at > in->duration) {
        vpi_log(src->log, VP_LOG_ERROR, "%s: the frame at %g s is past the end of %s (%.3f s)",
                s->path, c->o.at, in->path, in->duration);
        s->out_failed = 1;
        return VP_ERR_BAD_OPTION;
    }
    double dur = isfinite(in->duration) && in->duration > 0 ? in->duration : 10;
    if (c->nb == 1) {
        double at = c->o.at >= 0 ? c->o.at : dur > 5 ? 5 : dur / 2;
        c->tiles[0].target_us = (int64_t)(at * 1e6);
    } else {
        for (int i = 0; i < c->nb; i++)
            c->tiles[i].target_us = (int64_t)((i + 0.5) * dur / c->nb * 1e6);
    }
    double sar = in->sar.num > 0 && in->sar.den > 0 ? (double)in->sar.num / in->sar.den : 1;
    double dar = in->width * sar / (in->height > 0 ? in->height : 1);
    c->rotation = in->rotation;
    if (c->rotation == 90 || c->rotation == 270)
        dar = 1 / dar;
    c->tile_w = c->o.width & ~1;
    c->tile_h = 2 * (int)lrint(c->tile_w / dar / 2);
    if (c->tile_h < 2)
        c->tile_h = 2;
    int m = c->nb > 1 ? MARGIN : 0;
    c->sheet_w = c->o.cols * c->tile_w + (c->o.cols + 1) * m;
    c->sheet_h = c->o.rows * c->tile_h + (c->o.rows + 1) * m;
    if (!(c->sheet = av_frame_alloc()))
        return AVERROR(ENOMEM);
    c->sheet->format = AV_PIX_FMT_YUVJ420P;
    c->sheet->width = c->sheet_w;
    c->sheet->height = c->sheet_h;
    if ((ret = av_frame_get_buffer(c->sheet, 0)) < 0)
        return ret;
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < (p ? c->sheet_h / 2 : c->sheet_h); y++)
            memset(c->sheet->data[p] + (size_t)y * c->sheet->linesize[p], p ? 128 : 32,
                   (size_t)(p ? c->sheet_w / 2 : c->sheet_w));
    return 0;
}

/* Copy a w x h plane into @p dst turned clockwise by @p rot degrees. */
static void turn_plane(uint8_t *dst, int dls, const uint8_t *src, int sls, int w, int h, int rot)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v = src[(size_t)y * sls + x];
            if (rot == 90)
                dst[(size_t)x * dls + (h - 1 - y)] = v;
            else if (rot == 270)
                dst[(size_t)(w - 1 - x) * dls + y] = v;
            else
                dst[(size_t)(h - 1 - y) * dls + (w - 1 - x)] = v;
        }
}

static int place(VpiSink *s, ThumbCtx *c, int i, const AVFrame *f)
{
    int m = c->nb > 1 ? MARGIN : 0;
    int x = m + (i % c->o.cols) * (c->tile_w + m), y = m + (i / c->o.cols) * (c->tile_h + m);
    int sw = c->tile_w, sh = c->tile_h;
    if (c->rotation == 90 || c->rotation == 270) {
        sw = c->tile_h;
        sh = c->tile_w;
    }
    c->sws = sws_getCachedContext(c->sws, f->width, f->height, f->format, sw, sh,
                                  AV_PIX_FMT_YUVJ420P, SWS_BICUBIC, NULL, NULL, NULL);
    if (!c->sws) {
        vpi_log(s->src->log, VP_LOG_ERROR,
                "%s: cannot scale %dx%d %s pictures", s->path, f->width, f->height,
                av_get_pix_fmt_name(f->format));
        return VP_ERR_UNSUPPORTED;
    }
    uint8_t *dst[4] = {
        c->sheet->data[0] + (size_t)y * c->sheet->linesize[0] + x,
        c->sheet->data[1] + (size_t)(y / 2) * c->sheet->linesize[1] + x / 2,
        c->sheet->data[2] + (size_t)(y / 2) * c->sheet->linesize[2] + x / 2,
        NULL,
    };
    if (!c->rotation) {
        sws_scale(c->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst,
                  c->sheet->linesize);
    } else {
        if (!c->turn) {
            if (!(c->turn = av_frame_alloc()))
                return AVERROR(ENOMEM);
            c->turn->format = AV_PIX_FMT_YUVJ420P;
            c->turn->width = sw;
            c->turn->height = sh;
            int ret = av_frame_get_buffer(c->turn, 0);
            if (ret < 0)
                return ret;
        }
        sws_scale(c->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height,
                  c->turn->data, c->turn->linesize);
        for (int p = 0; p < 3; p++)
            turn_plane(dst[p], c->sheet->linesize[p], c->turn->data[p], c->turn->linesize[p],
                       p ? sw / 2 : sw, p ? sh / 2 : sh, c->rotation);
    }
    c->tiles[i].at_us = f->pts;
    c->tiles[i].done = 1;
    if (c->nb > 1 && c->o.timestamps) {
        char label[32];
        format_time(label, sizeof(label), f->pts);
        draw_label(c->sheet, x, y, c->tile_w, c->tile_h, label);
    }
    return 0;
}

static int64_t half_frame(VpiSink *s)
{
    return s->src->frame_dur_us ? s->src->frame_dur_us / 2 : 20000;
}

static int need_video(VpiSink *s, int64_t us)
{
    ThumbCtx *c = s->priv;
    int64_t win = 3 * half_frame(s);
    if (c->vc.chain)
        return 1; /* the chain's filters may remember the pictures before */
    for (int i = 0; i < c->nb; i++)
        if (!c->tiles[i].done && us >= c->tiles[i].target_us - win &&
            us <= c->tiles[i].target_us + win)
            return 1;
    return 0;
}

static int take_picture(void *opaque, AVFrame *f)
{
    VpiSink *s = opaque;
    ThumbCtx *c = s->priv;
    int ret;
    for (int i = 0; i < c->nb; i++)
        if (!c->tiles[i].done && f->pts >= c->tiles[i].target_us - half_frame(s))
            if ((ret = place(s, c, i, f)) < 0)
                return ret;
    av_frame_free(&c->last);
    if (!(c->last = av_frame_clone(f)))
        return AVERROR(ENOMEM);
    return 0;
}

static int on_video(VpiSink *s, AVFrame *f)
{
    ThumbCtx *c = s->priv;
    return vpi_video_chain_push(&c->vc, f, s->src, take_picture, s);
}

static int64_t next_seek(VpiSink *s)
{
    ThumbCtx *c = s->priv;
    for (int i = 0; i < c->nb; i++)
        if (!c->tiles[i].done)
            return c->tiles[i].target_us;
    return INT64_MIN;
}

/* The sheet (full-range YUV 4:2:0, as JPEG stores it) in the encoder's pixel format: RGB
 * for PNG, limited-range YUV for WebP. NULL and *ret < 0 on failure. */
static AVFrame *converted(ThumbCtx *c, enum AVPixelFormat fmt, int *ret)
{
    AVFrame *f = av_frame_alloc();
    struct SwsContext *sws = NULL;
    *ret = AVERROR(ENOMEM);
    if (!f)
        return NULL;
    f->format = fmt;
    f->width = c->sheet_w;
    f->height = c->sheet_h;
    if ((*ret = av_frame_get_buffer(f, 0)) < 0)
        goto fail;
    if (!(sws = sws_getContext(c->sheet_w, c->sheet_h, AV_PIX_FMT_YUVJ420P, c->sheet_w,
                               c->sheet_h, fmt, SWS_BICUBIC | SWS_ACCURATE_RND, NULL, NULL,
                               NULL))) {
        *ret = AVERROR(ENOMEM);
        goto fail;
    }
    sws_scale(sws, (const uint8_t *const *)c->sheet->data, c->sheet->linesize, 0, c->sheet_h,
              f->data, f->linesize);
    sws_freeContext(sws);
    return f;
fail:
    av_frame_free(&f);
    return NULL;
}

static int finish(VpiSink *s)
{
    ThumbCtx *c = s->priv;
    const AVCodec *codec = avcodec_find_encoder(c->codec);
    AVCodecContext *enc = NULL;
    AVPacket *pkt = NULL;
    AVFrame *pic = NULL;
    FILE *f = NULL;
    int ret;

    if ((ret = vpi_video_chain_flush(&c->vc, take_picture, s)) < 0)
        return ret;
    for (int i = 0; i < c->nb; i++)
        if (!c->tiles[i].done) {
            if (!c->last) {
                vpi_log(s->src->log, VP_LOG_VERBOSE,
                        "%s: no picture of %s could be decoded", s->path,
                        s->src->info->path);
                return VP_ERR_CORRUPT;
            }
            if ((ret = place(s, c, i, c->last)) < 0)
                return ret;
        }
    if (!codec)
        return VP_ERR_UNSUPPORTED;
    if (!(enc = avcodec_alloc_context3(codec)) || !(pkt = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    enc->opaque = (void *)s->src->log;
    enc->width = c->sheet_w;
    enc->height = c->sheet_h;
    enc->time_base = (AVRational){ 1, 25 };
    if (c->codec == AV_CODEC_ID_MJPEG) {
        enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = c->o.quality * FF_QP2LAMBDA;
        pic = av_frame_clone(c->sheet);
    } else {
        /* PNG is lossless; libwebp reads global_quality / FF_QP2LAMBDA as its 0..100
         * quality: qscale 2 (the default) is 92, 31 is 5. */
        enc->pix_fmt = c->codec == AV_CODEC_ID_PNG ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_YUV420P;
        if (c->codec == AV_CODEC_ID_WEBP) {
            enc->flags |= AV_CODEC_FLAG_QSCALE;
            enc->global_quality = (95 - (c->o.quality - 1) * 3) * FF_QP2LAMBDA;
        }
        pic = converted(c, enc->pix_fmt, &ret);
    }
    if (!pic) {
        ret = ret < 0 ? ret : AVERROR(ENOMEM);
        goto end;
    }
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0)
        goto end;
    pic->pts = 0;
    pic->quality = enc->global_quality;
    if ((ret = avcodec_send_frame(enc, pic)) < 0 || (ret = avcodec_send_frame(enc, NULL)) < 0 ||
        (ret = avcodec_receive_packet(enc, pkt)) < 0)
        goto end;
    if ((ret = vpi_sink_output_begin(s)) < 0)
        goto end;
    if (!(f = fopen(s->out.tmp_path, "wb"))) {
        ret = AVERROR(errno);
        s->out_failed = 1;
        goto end;
    }
    if (fwrite(pkt->data, 1, (size_t)pkt->size, f) != (size_t)pkt->size)
        ret = AVERROR(EIO);
    if (fclose(f) != 0 && ret >= 0)
        ret = AVERROR(errno);
    if (ret < 0) {
        s->out_failed = 1;
        vpi_log(s->src->log, VP_LOG_VERBOSE, "%s: cannot write: %s", s->path, vp_strerror(ret));
    }
end:
    av_frame_free(&pic);
    avcodec_free_context(&enc);
    av_packet_free(&pkt);
    return ret < 0 ? ret : 0;
}

static void close_sink(VpiSink *s)
{
    ThumbCtx *c = s->priv;
    av_frame_free(&c->sheet);
    av_frame_free(&c->last);
    av_frame_free(&c->turn);
    sws_freeContext(c->sws);
    c->sws = NULL;
    vpi_video_chain_free(&c->vc);
}

static int info(const VpiSink *s, VpOutputInfo *out)
{
    const ThumbCtx *c = s->priv;
    out->width = c->sheet_w;
    out->height = c->sheet_h;
    out->frames = c->nb;
    out->duration = NAN;
    out->at = c->tiles[0].at_us / 1e6;
    return 0;
}

const VpiSinkClass vpi_sink_thumb = {
    .name = "thumb",
    .priv_size = sizeof(ThumbCtx),
    .opts_size = sizeof(VpThumbOpts),
    .init = init,
    .need_video = need_video,
    .video = on_video,
    .next_seek = next_seek,
    .finish = finish,
    .close = close_sink,
    .info = info,
};

int vp_pipeline_add_thumb(VpPipeline *p, const VpThumbOpts *o)
{
    if (!o)
        return AVERROR(EINVAL);
    return vpi_pipeline_add_sink(p, "thumb", o, o->path, NULL);
}
