/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The frame writer, checked through what a user gets: the decoded file (ffmpeg), its frame
 * count, size and colours, the error codes and messages, and what is left on disk. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/pixdesc.h>

#include "vidpipe/vidpipe.h"
#include "encode/convert.h"
#include "encode/encoder.h"
#include "test.h"

static char dir[256];

/* Eight solid patches (4 x 2) in the top half, a horizontal gradient in the bottom half. */
static const uint8_t patch_rgb[8][3] = {
    { 200, 30, 30 }, { 30, 200, 30 }, { 30, 30, 200 }, { 235, 235, 235 },
    { 20, 20, 20 }, { 128, 128, 128 }, { 220, 200, 40 }, { 40, 190, 210 },
};

static void scene_rgb(int w, int h, int x, int y, uint8_t rgb[3], int gray)
{
    if (y < h / 2) {
        int p = (y * 2 / (h / 2)) * 4 + x * 4 / w;
        memcpy(rgb, patch_rgb[p], 3);
    } else {
        rgb[0] = (uint8_t)(16 + x * 223 / (w - 1));
        rgb[1] = (uint8_t)(239 - x * 223 / (w - 1));
        rgb[2] = 128;
    }
    if (gray)
        rgb[0] = rgb[1] = rgb[2] = (uint8_t)((rgb[0] * 2 + rgb[1] * 5 + rgb[2]) / 8);
}

/* Reference YUV (limited range, BT.601 or BT.709) for the yuv inputs. */
static void rgb_to_yuv(const uint8_t rgb[3], int bt709, double *y, double *u, double *v)
{
    double kr = bt709 ? 0.2126 : 0.299, kb = bt709 ? 0.0722 : 0.114, kg = 1 - kr - kb;
    double r = rgb[0] / 255.0, g = rgb[1] / 255.0, b = rgb[2] / 255.0;
    double l = kr * r + kg * g + kb * b;
    *y = 16 + 219 * l;
    *u = 128 + 224 * (b - l) / (2 * (1 - kb));
    *v = 128 + 224 * (r - l) / (2 * (1 - kr));
}

static uint8_t clip8(double v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
}

/* Fill one frame of @p fmt (tightly packed, planes back to back) with the scene. */
static void make_frame(VpPixelFormat fmt, int w, int h, uint8_t *buf)
{
    int bt709 = w >= 1280 || h >= 720;
    uint8_t rgb[3];
    double yy, uu, vv;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            scene_rgb(w, h, x, y, rgb, fmt == VP_PIX_GRAY);
            switch (fmt) {
            case VP_PIX_BGR24:
                memcpy(buf + (y * w + x) * 3, (uint8_t[]){ rgb[2], rgb[1], rgb[0] }, 3);
                break;
            case VP_PIX_RGB24: memcpy(buf + (y * w + x) * 3, rgb, 3); break;
            case VP_PIX_BGRA:
                memcpy(buf + (y * w + x) * 4, (uint8_t[]){ rgb[2], rgb[1], rgb[0], 7 }, 4);
                break;
            case VP_PIX_RGBA:
                memcpy(buf + (y * w + x) * 4, (uint8_t[]){ rgb[0], rgb[1], rgb[2], 7 }, 4);
                break;
            case VP_PIX_GRAY: buf[y * w + x] = rgb[0]; break;
            case VP_PIX_YUV420P:
            case VP_PIX_NV12:
                rgb_to_yuv(rgb, bt709, &yy, &uu, &vv);
                buf[y * w + x] = clip8(yy);
                if (!(x & 1) && !(y & 1)) {
                    uint8_t *c = buf + w * h;
                    if (fmt == VP_PIX_NV12) {
                        c[(y / 2) * w + x] = clip8(uu);
                        c[(y / 2) * w + x + 1] = clip8(vv);
                    } else {
                        c[(y / 2) * (w / 2) + x / 2] = clip8(uu);
                        c[w * h / 4 + (y / 2) * (w / 2) + x / 2] = clip8(vv);
                    }
                }
                break;
            default: break;
            }
        }
    }
}

static size_t frame_bytes(VpPixelFormat fmt, int w, int h)
{
    switch (fmt) {
    case VP_PIX_BGR24: case VP_PIX_RGB24: return (size_t)w * h * 3;
    case VP_PIX_BGRA: case VP_PIX_RGBA: return (size_t)w * h * 4;
    case VP_PIX_GRAY: return (size_t)w * h;
    default: return (size_t)w * h * 3 / 2;
    }
}

/* Decode @p path to rgb24 with ffmpeg; returns the number of frames and sets *out. */
static int decode_rgb(const char *path, int w, int h, uint8_t **out)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -i '%s' -f rawvideo -pix_fmt rgb24 -",
             path);
    FILE *p = popen(cmd, "r");
    size_t fsize = (size_t)w * h * 3, cap = fsize * 8, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, cap - n, p);
        if (!r)
            break;
        n += r;
    }
    pclose(p);
    *out = buf;
    return n % fsize ? -1 : (int)(n / fsize);
}

/* Mean of channel @p c over a rectangle of a decoded rgb24 frame. */
static double mean(const uint8_t *f, int w, int x0, int y0, int x1, int y1, int c)
{
    double s = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            s += f[(y * w + x) * 3 + c];
    return s / ((x1 - x0) * (y1 - y0));
}

/* Compare decoded frame @p idx of @p path with the scene. */
static void check_colours(const char *what, const char *path, int w, int h, int nframes,
                          int gray)
{
    uint8_t *rgb = NULL;
    int n = decode_rgb(path, w, h, &rgb);
    if (n != nframes)
        T_FAIL("%s: decoded %d frames, wrote %d", what, n, nframes);
    const int tol = 5;
    for (int f = 0; f < n; f += n - 1 > 0 ? n - 1 : 1) {
        const uint8_t *fr = rgb + (size_t)f * w * h * 3;
        int pw = w / 4, ph = h / 4;
        for (int p = 0; p < 8; p++) {
            int px = (p % 4) * pw, py = (p / 4) * ph;
            uint8_t exp[3];
            scene_rgb(w, h, px + pw / 2, py + ph / 2, exp, gray);
            for (int c = 0; c < 3; c++) {
                double m = mean(fr, w, px + 4, py + 4, px + pw - 4, py + ph - 4, c);
                test_checks++;
                if (fabs(m - exp[c]) > tol)
                    T_FAIL("%s frame %d patch %d channel %d: mean %.1f, wrote %d", what, f, p,
                           c, m, exp[c]);
            }
        }
        for (int b = 0; b < 8; b++) {
            int x0 = b * w / 8 + 2, x1 = (b + 1) * w / 8 - 2;
            uint8_t e0[3], e1[3];
            scene_rgb(w, h, x0, h - 1, e0, gray);
            scene_rgb(w, h, x1 - 1, h - 1, e1, gray);
            for (int c = 0; c < 3; c++) {
                double m = mean(fr, w, x0, h / 2 + 4, x1, h - 4, c);
                double e = (e0[c] + e1[c]) / 2.0;
                test_checks++;
                if (fabs(m - e) > tol)
                    T_FAIL("%s frame %d gradient bin %d channel %d: mean %.1f, expected %.1f",
                           what, f, b, c, m, e);
            }
        }
    }
    free(rgb);
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : st.st_size;
}

/* Names in the test folder other than the ones a test expects: temporary files left over. */
static int count_files(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' || strstr(e->d_name, ".vptmp-"))
            n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

/* Top-level MP4 boxes in order: "moov" must come before "mdat". */
static int moov_first(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t h[8];
    int moov = -1, mdat = -1, i = 0;
    while (f && fread(h, 1, 8, f) == 8) {
        uint32_t size = (uint32_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
        if (!memcmp(h + 4, "moov", 4))
            moov = i;
        if (!memcmp(h + 4, "mdat", 4))
            mdat = i;
        if (size < 8 || fseek(f, size - 8, SEEK_CUR))
            break;
        i++;
    }
    if (f)
        fclose(f);
    return moov >= 0 && mdat >= 0 && moov < mdat;
}

static void base_opts(VpWriterOpts *o, VpPixelFormat fmt, int w, int h)
{
    vp_writer_default_opts(o);
    o->width = w;
    o->height = h;
    o->pix_fmt = fmt;
    o->preset = "ultrafast";
    o->crf = 12;
    o->hw = VP_HW_NONE;
    o->fps = (VpRational){ 25, 1 };
}

static void test_formats(int w, int h, int nframes)
{
    for (int fmt = 0; fmt < VP_PIX_NB; fmt++) {
        char path[400], why[512], what[64];
        snprintf(path, sizeof(path), "%s/%s_%dx%d.mp4", dir, vp_pixel_format_name(fmt), w, h);
        snprintf(what, sizeof(what), "%s %dx%d", vp_pixel_format_name(fmt), w, h);
        VpWriterOpts o;
        base_opts(&o, fmt, w, h);
        VpWriter *wr = NULL;
        int ret = vp_writer_open(path, &o, &wr, why, sizeof(why));
        CHECK_EQ(ret, 0);
        if (ret < 0) {
            T_FAIL("%s: %s", what, why);
            continue;
        }
        size_t fb = frame_bytes(fmt, w, h);
        uint8_t *buf = malloc(fb);
        make_frame(fmt, w, h, buf);
        for (int i = 0; i < nframes; i++)
            CHECK_EQ(vp_writer_write(wr, buf, 0, 0), 0);
        free(buf);
        VpWriterStats st;
        ret = vp_writer_close(&wr, &st, why, sizeof(why));
        CHECK_EQ(ret, 0);
        CHECK(wr == NULL);
        CHECK_EQ(st.frames, nframes);
        CHECK_STR(st.encoder, "libx264");
        CHECK_EQ(st.bytes, file_size(path));
        CHECK(moov_first(path));
        check_colours(what, path, w, h, nframes, fmt == VP_PIX_GRAY);
        unlink(path);
    }
}

/* A padded stride (a region of a larger image) and the planes API. Frames of 512 KB and
 * more are copied row by row with non-temporal stores: 642x360 also has a row tail. */
static void test_strides(int w, int h)
{
    const int stride = w * 3 + 40;
    char path[400], why[512];
    snprintf(path, sizeof(path), "%s/stride.mp4", dir);
    VpWriterOpts o;
    base_opts(&o, VP_PIX_BGR24, w, h);
    VpWriter *wr = NULL;
    CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), 0);
    uint8_t *tight = malloc((size_t)w * h * 3), *padded = malloc((size_t)stride * h);
    make_frame(VP_PIX_BGR24, w, h, tight);
    memset(padded, 0xEE, (size_t)stride * h);
    for (int y = 0; y < h; y++)
        memcpy(padded + y * stride, tight + y * w * 3, w * 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(vp_writer_write(wr, padded, stride, 0), 0);
    const uint8_t *planes[1] = { padded };
    const int strides[1] = { stride };
    CHECK_EQ(vp_writer_write_planes(wr, planes, strides, 0), 0);
    /* A stride shorter than a row is refused, and nothing is queued. */
    CHECK_EQ(vp_writer_write(wr, padded, w * 3 - 1, 0), AVERROR(EINVAL));
    CHECK_EQ(vp_writer_close(&wr, NULL, why, sizeof(why)), 0);
    check_colours("padded stride", path, w, h, 4, 0);
    free(tight);
    free(padded);
    unlink(path);
}

/* VP_WRITE_NONBLOCK: a full queue says EAGAIN and queues nothing; every frame that was
 * accepted is in the file. */
static void test_nonblock(void)
{
    const int w = 640, h = 360;
    char path[400], why[512];
    snprintf(path, sizeof(path), "%s/nonblock.mkv", dir);
    VpWriterOpts o;
    base_opts(&o, VP_PIX_BGR24, w, h);
    o.queue_depth = 2;
    o.preset = "slow";
    o.threads = 1;
    VpWriter *wr = NULL;
    CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), 0);
    uint8_t *buf = malloc((size_t)w * h * 3);
    make_frame(VP_PIX_BGR24, w, h, buf);
    int accepted = 0, again = 0;
    for (int i = 0; i < 40; i++) {
        int ret = vp_writer_write(wr, buf, 0, VP_WRITE_NONBLOCK);
        if (ret == AVERROR(EAGAIN))
            again++;
        else if (ret == 0)
            accepted++;
        else
            T_FAIL("write: %s", vp_strerror(ret));
    }
    CHECK_INT(again, >, 0);
    VpWriterStats st;
    CHECK_EQ(vp_writer_close(&wr, &st, why, sizeof(why)), 0);
    CHECK_EQ(st.frames, accepted);
    uint8_t *rgb = NULL;
    CHECK_EQ(decode_rgb(path, w, h, &rgb), accepted);
    free(rgb);
    free(buf);
    unlink(path);
}

static void expect_bad_option(const char *what, VpWriterOpts *o, const char *field)
{
    char path[400], why[512] = "";
    snprintf(path, sizeof(path), "%s/bad.mp4", dir);
    VpWriter *wr = (VpWriter *)(uintptr_t)1;
    int ret = vp_writer_open(path, o, &wr, why, sizeof(why));
    CHECK_EQ(ret, VP_ERR_BAD_OPTION);
    CHECK(wr == NULL);
    if (!strstr(why, field) || !strstr(why, path))
        T_FAIL("%s: message \"%s\" should name %s and the file", what, why, field);
    CHECK_EQ(count_files(), 0);
}

static void test_bad_options(void)
{
    VpWriterOpts o;
#define BAD(field, expr)                                                                   \
    do {                                                                                   \
        base_opts(&o, VP_PIX_BGR24, 64, 48);                                               \
        expr;                                                                              \
        expect_bad_option(#expr, &o, field);                                               \
    } while (0)
    BAD("width", o.width = 0);
    BAD("width", o.width = 63);
    BAD("height", o.height = 100000);
    BAD("fps", o.fps.den = 0);
    BAD("pix_fmt", o.pix_fmt = VP_PIX_NB);
    BAD("codec", o.codec = 7);
    BAD("crf", o.crf = 52);
    BAD("bitrate", o.bitrate = -1);
    BAD("preset", o.preset = "warp9");
    BAD("preset", o.preset = NULL);
    BAD("keyint", o.keyint = -5);
    BAD("hw", o.hw = 42);
    BAD("queue_depth", o.queue_depth = 1);
    BAD("threads", o.threads = -1);
    BAD("worker_nice", o.worker_nice = 20);
    BAD("worker_nice", o.worker_nice = -1);
    BAD("audio_channels", (o.audio_sample_rate = 48000, o.audio_channels = 0));
    BAD("audio_sample_rate", o.audio_sample_rate = 100);
#undef BAD
    char why[512];
    VpWriter *wr = NULL;
    CHECK_EQ(vp_writer_open("x.mp4", NULL, &wr, why, sizeof(why)), AVERROR(EINVAL));
    CHECK_EQ(vp_pixel_format_from_name("nv12"), VP_PIX_NV12);
    CHECK_EQ(vp_pixel_format_from_name("yuyv"), -1);
    CHECK_EQ(vp_hw_encoder_from_name("videotoolbox"), VP_HW_VIDEOTOOLBOX);
    CHECK_STR(vp_hw_encoder_name(VP_HW_NONE), "none");
}

static void test_open_errors(void)
{
    char path[400], why[512];
    VpWriterOpts o;
    VpWriter *wr = NULL;

    /* Unwritable destination: a folder that is a file. */
    snprintf(path, sizeof(path), "%s/plain", dir);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(path, sizeof(path), "%s/plain/out.mp4", dir);
    base_opts(&o, VP_PIX_BGR24, 64, 48);
    CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), AVERROR(ENOTDIR));
    CHECK(wr == NULL);
    if (!strstr(why, path) || !strstr(why, "Not a directory"))
        T_FAIL("unwritable path: message \"%s\"", why);
    snprintf(path, sizeof(path), "%s/plain", dir);
    unlink(path);

    /* The real encoder refusing its settings at open. */
    snprintf(path, sizeof(path), "%s/enc.mp4", dir);
    base_opts(&o, VP_PIX_BGR24, 64, 48);
    o.encoder_params = "crop-rect=0,0,1000,0";
    int ret = vp_writer_open(path, &o, &wr, why, sizeof(why));
    CHECK_INT(ret, <, 0);
    if (wr)
        vp_writer_abort(&wr);
    if (!strstr(why, path) || !strstr(why, "libx264 refused its settings") ||
        !strstr(why, "crop-rect=0,0,1000,0"))
        T_FAIL("encoder refusing: message \"%s\"", why);
    CHECK_EQ(count_files(), 0);

    /* Explicit hardware that is not there: one line saying which and why. */
    if (access("/dev/nvidia0", F_OK)) {
        base_opts(&o, VP_PIX_BGR24, 64, 48);
        o.hw = VP_HW_NVENC;
        ret = vp_writer_open(path, &o, &wr, why, sizeof(why));
        CHECK_EQ(ret, AVERROR_ENCODER_NOT_FOUND);
        if (!strstr(why, path) || !strstr(why, "hardware encoder nvenc unavailable") ||
            !strstr(why, "NVIDIA"))
            T_FAIL("--hw nvenc: message \"%s\"", why);
        CHECK_EQ(count_files(), 0);
    }
}

static char last_log[2048];
static void capture_log(void *opaque, int level, const char *msg)
{
    (void)opaque;
    if (level <= VP_LOG_INFO && strstr(msg, "encoder"))
        snprintf(last_log, sizeof(last_log), "%s", msg);
}

/* auto falls back to libx264 here, and says why each hardware family was passed over. */
static void test_auto_fallback(void)
{
    char path[400], why[512];
    snprintf(path, sizeof(path), "%s/auto.mp4", dir);
    VpWriterOpts o;
    base_opts(&o, VP_PIX_BGR24, 64, 48);
    o.hw = VP_HW_AUTO;
    vp_set_log_callback(capture_log, NULL, VP_LOG_INFO);
    VpWriter *wr = NULL;
    CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), 0);
    vp_set_log_callback(NULL, NULL, VP_LOG_INFO);
    uint8_t buf[64 * 48 * 3] = { 0 };
    CHECK_EQ(vp_writer_write(wr, buf, 0, 0), 0);
    VpWriterStats st;
    CHECK_EQ(vp_writer_close(&wr, &st, why, sizeof(why)), 0);
    if (access("/dev/dri", F_OK) && access("/dev/nvidia0", F_OK)) {
        CHECK_STR(st.encoder, "libx264");
        if (!strstr(last_log, "encoder libx264") || !strstr(last_log, "nvenc") ||
            !strstr(last_log, "VAAPI") || !strstr(last_log, "Quick Sync") ||
            !strstr(last_log, "videotoolbox"))
            T_FAIL("auto: log line \"%s\" should name the encoder and the others' reasons",
                   last_log);
    }
    unlink(path);
}

/* The one opener that the writer, the encode sink and --conform share, called directly:
 * hw=auto falls back to libx264 with each family's reason; an absent explicit family fails
 * with its reason and leaves nothing open; --conform's exact pixel format is kept, where the
 * writer's own choice (NV12) would be taken otherwise. */
static void test_opener(void)
{
    VpiEncoderSettings s;
    VpiEncoder e;
    char tried[1024], why[256];

    CHECK_EQ(vpi_x264_preset_index("ultrafast"), 0);
    CHECK_EQ(vpi_x264_preset_index("veryslow"), 8);
    CHECK_EQ(vpi_x264_preset_index("warp"), -1);
    CHECK_EQ(vpi_x264_preset_index(NULL), -1);

    vpi_encoder_default_settings(&s);
    s.width = 64;
    s.height = 48;
    s.fps = (AVRational){ 30, 1 };
    s.preset = "ultrafast";
    s.hw = VP_HW_AUTO;
    CHECK_EQ(vpi_encoder_open(&s, &e, tried, sizeof(tried), why, sizeof(why)), 0);
    CHECK_STR(e.ctx->codec->name, "libx264");
    CHECK_STR(e.family, "software");
    if (access("/dev/dri", F_OK) && access("/dev/nvidia0", F_OK) &&
        (!strstr(tried, "h264_nvenc: no NVIDIA driver") ||
         !strstr(tried, "h264_vaapi: no VAAPI device") || !strstr(tried, "h264_qsv: ")))
        T_FAIL("auto: reasons \"%s\"", tried);
    vpi_encoder_close(&e);
    CHECK(e.ctx == NULL);

    if (access("/dev/nvidia0", F_OK)) {
        s.hw = VP_HW_NVENC;
        CHECK_EQ(vpi_encoder_open(&s, &e, tried, sizeof(tried), why, sizeof(why)),
                 AVERROR_ENCODER_NOT_FOUND);
        CHECK(e.ctx == NULL && e.device == NULL);
        if (!strstr(why, "NVIDIA"))
            T_FAIL("nvenc: reason \"%s\"", why);
    }

    s.hw = VP_HW_NONE;
    s.input_format = AV_PIX_FMT_YUV422P;
    CHECK_EQ(vpi_encoder_open(&s, &e, tried, sizeof(tried), why, sizeof(why)), 0);
    CHECK_STR(av_get_pix_fmt_name(e.sw_format), "nv12");
    vpi_encoder_close(&e);
    s.exact_format = 1;
    CHECK_EQ(vpi_encoder_open(&s, &e, tried, sizeof(tried), why, sizeof(why)), 0);
    CHECK_STR(av_get_pix_fmt_name(e.sw_format), "yuv422p");
    vpi_encoder_close(&e);
    s.input_format = AV_PIX_FMT_RGB24;
    CHECK_EQ(vpi_encoder_open(&s, &e, tried, sizeof(tried), why, sizeof(why)),
             AVERROR_ENCODER_NOT_FOUND);
    if (!strstr(why, "libx264 does not take rgb24"))
        T_FAIL("exact rgb24: reason \"%s\"", why);
}

/* A source that is to keep its depth (cleanup) and an encoder that cannot: the format each
 * of this FFmpeg's H.264 encoders is fed for 10-bit input, and the one warning line. The
 * hardware encoders' descriptors are real (their devices are not needed to read them): none
 * takes 10-bit yuv420p, so with NVENC, VAAPI or QSV a 10-bit source comes out at 8 bits. */
static void test_depth_fallback(void)
{
    static const struct { const char *name; VpHwEncoder hw; const char *fmt; } enc[] = {
        { "h264_nvenc", VP_HW_NVENC, "yuv420p" },
        { "h264_vaapi", VP_HW_VAAPI, "nv12" },
        { "h264_qsv", VP_HW_QSV, "nv12" },
        { "libx264", VP_HW_NONE, "yuv420p10le" },
    };
    VpiEncoderSettings s;
    char line[512], want[512];
    int eight = 0;

    vpi_encoder_default_settings(&s);
    s.high_depth = 1;
    for (size_t i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
        const AVCodec *codec = avcodec_find_encoder_by_name(enc[i].name);
        if (!codec)
            continue;
        enum AVPixelFormat sw = vpi_encoder_sw_format(codec, enc[i].hw, &s);
        CHECK_STR(av_get_pix_fmt_name(sw), enc[i].fmt);
        int deep = av_pix_fmt_desc_get(sw)->comp[0].depth;
        line[0] = 0;
        CHECK_EQ(vpi_encoder_depth_note("out.mp4", 10, sw, enc[i].name, line, sizeof(line)),
                 deep < 10);
        if (deep < 10) {
            snprintf(want, sizeof(want), "out.mp4: the source has 10-bit samples; %s encodes "
                     "8 bits at most, so the output has 8", enc[i].name);
            CHECK_STR(line, want);
            eight++;
        } else {
            CHECK_STR(line, "");
        }
        /* Without keep-depth the layout the encoder takes best: 8 bits, no note asked. */
        s.high_depth = 0;
        CHECK(av_pix_fmt_desc_get(vpi_encoder_sw_format(codec, enc[i].hw, &s))->comp[0].depth
              == 8);
        s.high_depth = 1;
    }
    CHECK(eight > 0 || !avcodec_find_encoder_by_name("h264_qsv"));
    /* Deeper than libx264 goes: 12 bits become 10, said the same way. */
    CHECK_EQ(vpi_encoder_depth_note("out.mp4", 12, AV_PIX_FMT_YUV420P10, "libx264", line,
                                    sizeof(line)), 1);
    CHECK_STR(line, "out.mp4: the source has 12-bit samples; libx264 encodes 10 bits at most, "
                    "so the output has 10");
    CHECK_EQ(vpi_encoder_depth_note("out.mp4", 8, AV_PIX_FMT_NV12, "h264_qsv", line,
                                    sizeof(line)), 0);
}

/* The muxer failing mid-stream (the file size limit stands in for a full disk): the next
 * write() and close() return the error with its message, and nothing is left behind. */
static void test_write_failure(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { 200 * 1024, 200 * 1024 };
        setrlimit(RLIMIT_FSIZE, &rl);
        const int w = 320, h = 240;
        char path[400], why[512];
        snprintf(path, sizeof(path), "%s/full.mp4", dir);
        VpWriterOpts o;
        base_opts(&o, VP_PIX_BGR24, w, h);
        o.crf = 0;
        VpWriter *wr = NULL;
        if (vp_writer_open(path, &o, &wr, why, sizeof(why)) < 0)
            _exit(10);
        uint8_t *buf = malloc((size_t)w * h * 3);
        uint32_t seed = 1;
        int ret = 0, i;
        for (i = 0; i < 400 && ret == 0; i++) {
            for (int k = 0; k < w * h * 3; k++)
                buf[k] = (uint8_t)((seed = seed * 1664525 + 1013904223) >> 24);
            ret = vp_writer_write(wr, buf, 0, 0);
        }
        free(buf);
        if (ret != AVERROR(EFBIG))
            _exit(11);
        if (!strstr(vp_writer_error(wr), path) ||
            !strstr(vp_writer_error(wr), "File too large"))
            _exit(12);
        /* The same error on every later call. */
        if (vp_writer_write(wr, (uint8_t[320 * 240 * 3]){ 0 }, 0, 0) != AVERROR(EFBIG))
            _exit(13);
        ret = vp_writer_close(&wr, NULL, why, sizeof(why));
        if (ret != AVERROR(EFBIG) || !strstr(why, "File too large"))
            _exit(14);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_EQ(count_files(), 0);
}

static void test_abort(void)
{
    char path[400], why[512];
    snprintf(path, sizeof(path), "%s/abort.mp4", dir);
    VpWriterOpts o;
    base_opts(&o, VP_PIX_RGBA, 64, 48);
    VpWriter *wr = NULL;
    CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), 0);
    uint8_t buf[64 * 48 * 4] = { 0 };
    for (int i = 0; i < 5; i++)
        CHECK_EQ(vp_writer_write(wr, buf, 0, 0), 0);
    vp_writer_abort(&wr);
    CHECK(wr == NULL);
    CHECK_EQ(count_files(), 0);
    CHECK_EQ(vp_writer_close(&wr, NULL, NULL, 0), 0);
}

typedef struct CancelAt {
    volatile int flag;
    int64_t after_us;
} CancelAt;

static int cancel_flag(void *opaque)
{
    return __atomic_load_n(&((CancelAt *)opaque)->flag, __ATOMIC_RELAXED);
}

static void *cancel_later(void *opaque)
{
    CancelAt *c = opaque;
    usleep((useconds_t)c->after_us);
    __atomic_store_n(&c->flag, 1, __ATOMIC_RELAXED);
    return NULL;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The cancel cuts the final flush short: a deep queue of noise with "veryslow" takes
 * seconds to flush; set 100 ms into close(), the writer stops within a frame or two,
 * returns VP_ERR_CANCELLED, has encoded only part of the frames, and leaves no file. */
static void test_cancel_flush(void)
{
    char path[400], why[512];
    enum { W = 320, H = 240, N = 200 };
    snprintf(path, sizeof(path), "%s/cancel.mp4", dir);
    CancelAt c = { 0, 100000 };
    VpWriterOpts o;
    base_opts(&o, VP_PIX_YUV420P, W, H);
    o.preset = "veryslow";
    o.queue_depth = 256;
    o.threads = 2;
    o.cancel = (VpCancel){ cancel_flag, &c };
    VpWriter *wr = NULL;
    CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), 0);
    if (!wr)
        return;
    static uint8_t frame[W * H * 3 / 2];
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < sizeof(frame); k++) {
            seed = seed * 1664525u + 1013904223u;
            frame[k] = (uint8_t)(seed >> 24);
        }
        CHECK_EQ(vp_writer_write(wr, frame, 0, 0), 0);
    }
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, cancel_later, &c), 0);
    int64_t t0 = now_us();
    VpWriterStats st;
    int ret = vp_writer_close(&wr, &st, why, sizeof(why));
    double secs = (now_us() - t0) / 1e6;
    pthread_join(t, NULL);
    CHECK_EQ(ret, VP_ERR_CANCELLED);
    CHECK(strstr(why, "cancel.mp4: cancelled") != NULL);
    CHECK(st.frames < N);
    CHECK(secs < 2.0);
    printf("cancel: close returned after %.3f s with %lld of %d frames encoded\n", secs,
           (long long)st.frames, N);
    CHECK_EQ(count_files(), 0);

    /* Set before open: nothing is opened. */
    c.flag = 1;
    CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), VP_ERR_CANCELLED);
    CHECK(wr == NULL);
    CHECK_EQ(count_files(), 0);
    /* Set while frames are written: write() reports it. */
    c.flag = 0;
    CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), 0);
    c.flag = 1;
    int err = 0;
    for (int i = 0; i < 300 && !err; i++)
        err = vp_writer_write(wr, frame, 0, 0);
    CHECK_EQ(err, VP_ERR_CANCELLED);
    CHECK_EQ(vp_writer_close(&wr, NULL, NULL, 0), VP_ERR_CANCELLED);
    CHECK_EQ(count_files(), 0);
}

/* Nice value and scheduling policy of each of this process's threads other than the
 * caller, from /proc/self/task. */
static int worker_prios(pid_t self, int *nices, int *policies, int max)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == self)
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = 0;
        /* Fields after the ")" closing the name: state is field 3, nice field 19, the
         * scheduling policy field 41. */
        char *p = strrchr(buf, ')');
        int field = 2;
        nices[n] = policies[n] = -1;
        for (; p && *p && field <= 41; p++) {
            if (*p != ' ')
                continue;
            if (++field == 19)
                nices[n] = atoi(p + 1);
            else if (field == 41)
                policies[n] = atoi(p + 1);
        }
        n++;
    }
    closedir(d);
    return n;
}

/* Workers start worker_nice steps lower and, when lowered, SCHED_BATCH; the caller keeps
 * its own priority and policy. */
static void test_worker_priority(void)
{
    pid_t self = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    CHECK(errno == 0);
    int base_policy = sched_getscheduler(0);
    CHECK_EQ(base_policy, SCHED_OTHER);
    for (int nice = 0; nice <= 7; nice += 7) {
        char path[400], why[512];
        snprintf(path, sizeof(path), "%s/nice.mp4", dir);
        VpWriterOpts o;
        base_opts(&o, VP_PIX_BGR24, 64, 48);
        o.threads = 2; /* libx264 starts frame threads of its own */
        o.worker_nice = nice;
        VpWriter *wr = NULL;
        CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), 0);
        uint8_t buf[64 * 48 * 3] = { 0 };
        CHECK_EQ(vp_writer_write(wr, buf, 0, 0), 0);
        int nices[64], policies[64], n = worker_prios(self, nices, policies, 64);
        CHECK(n >= 4); /* converter, encoder, two x264 threads at least */
        for (int i = 0; i < n; i++) {
            CHECK_EQ(nices[i], base + nice > 19 ? 19 : base + nice);
            CHECK_EQ(policies[i], nice ? SCHED_BATCH : SCHED_OTHER);
        }
        /* the caller is left alone */
        CHECK_EQ(getpriority(PRIO_PROCESS, 0), base);
        CHECK_EQ(sched_getscheduler(0), base_policy);
        CHECK_EQ(vp_writer_close(&wr, NULL, why, sizeof(why)), 0);
        unlink(path);
    }
}

/* An AAC track from interleaved PCM, and HEVC. */
static void test_audio_hevc(void)
{
    char path[400], why[512], cmd[600], out[256] = "";
    snprintf(path, sizeof(path), "%s/av.mp4", dir);
    VpWriterOpts o;
    base_opts(&o, VP_PIX_BGR24, 64, 48);
    o.codec = VP_CODEC_HEVC;
    o.audio_sample_rate = 48000;
    o.audio_channels = 2;
    VpWriter *wr = NULL;
    CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), 0);
    uint8_t frame[64 * 48 * 3];
    make_frame(VP_PIX_BGR24, 64, 48, frame);
    int16_t pcm[1920 * 2];
    for (int i = 0; i < 25; i++) {
        for (int s = 0; s < 1920; s++)
            pcm[2 * s] = pcm[2 * s + 1] = (int16_t)(8000 * sin((i * 1920 + s) * 0.0576));
        CHECK_EQ(vp_writer_write(wr, frame, 0, 0), 0);
        CHECK_EQ(vp_writer_write_audio(wr, pcm, 1920), 0);
    }
    VpWriterStats st;
    CHECK_EQ(vp_writer_close(&wr, &st, why, sizeof(why)), 0);
    CHECK_STR(st.encoder, "libx265");
    CHECK_EQ(st.audio_samples, 48000);
    snprintf(cmd, sizeof(cmd), "ffprobe -v error -show_entries stream=codec_name,duration "
             "-of csv=p=0 '%s' | tr '\\n' ' '", path);
    FILE *p = popen(cmd, "r");
    if (!fgets(out, sizeof(out), p))
        out[0] = 0;
    pclose(p);
    double vdur = 0, adur = 0;
    char vc[16] = "", ac[16] = "";
    sscanf(out, "%15[^,],%lf %15[^,],%lf", vc, &vdur, ac, &adur);
    CHECK_STR(vc, "hevc");
    CHECK_STR(ac, "aac");
    CHECK_NEAR(vdur, 1.0, 0.05);
    CHECK_NEAR(adur, 1.0, 0.05);
    check_colours("hevc", path, 64, 48, 25, 0);
    /* A writer without audio refuses PCM. */
    base_opts(&o, VP_PIX_BGR24, 64, 48);
    CHECK_EQ(vp_writer_open(path, &o, &wr, why, sizeof(why)), 0);
    CHECK_EQ(vp_writer_write_audio(wr, pcm, 10), VP_ERR_BAD_OPTION);
    vp_writer_abort(&wr);
    unlink(path);
}

/* The converter against a double-precision reference, on random pixels, for widths that
 * exercise the AVX-512, AVX2, SSSE3 and scalar paths and their tails, both matrices, both
 * layouts, with each kernel level in turn: every level within 1.5 code values of the
 * reference, and the SIMD levels (same Q8 arithmetic) bit-identical to each other. */
static double converter_error(const uint8_t *src, int ss, int bpp, int ro, int w, int h,
                              int bt709, int nv12, const uint8_t *y, const uint8_t *u,
                              const uint8_t *v)
{
    double maxd = 0;
    for (int yy = 0; yy < h; yy++) {
        for (int x = 0; x < w; x++) {
            const uint8_t *p = src + yy * ss + x * bpp;
            uint8_t rgb[3] = { p[ro], p[1], p[2 - ro] };
            double ey, eu, ev;
            rgb_to_yuv(rgb, bt709, &ey, &eu, &ev);
            maxd = fmax(maxd, fabs(y[yy * w + x] - ey));
            if (!(x & 1) && !(yy & 1)) {
                double su = 0, sv = 0;
                for (int k = 0; k < 4; k++) {
                    const uint8_t *q = src + (yy + k / 2) * ss + (x + k % 2) * bpp;
                    uint8_t c[3] = { q[ro], q[1], q[2 - ro] };
                    double a, b, cc;
                    rgb_to_yuv(c, bt709, &a, &b, &cc);
                    su += b / 4;
                    sv += cc / 4;
                }
                int gu = nv12 ? u[(yy / 2) * w + x] : u[(yy / 2) * (w / 2) + x / 2];
                int gv = nv12 ? u[(yy / 2) * w + x + 1] : v[(yy / 2) * (w / 2) + x / 2];
                maxd = fmax(maxd, fmax(fabs(gu - su), fabs(gv - sv)));
            }
        }
    }
    return maxd;
}

static void test_converter(void)
{
    static const enum AVPixelFormat srcs[] = { AV_PIX_FMT_BGR24, AV_PIX_FMT_RGB24,
                                               AV_PIX_FMT_BGRA, AV_PIX_FMT_RGBA };
    static const int widths[] = { 2, 14, 16, 30, 32, 34, 48, 62, 64, 66, 100, 114, 178, 1282 };
    const int h = 6;
    uint32_t seed = 7;
    for (int si = 0; si < 4; si++)
    for (int wi = 0; wi < (int)(sizeof(widths) / sizeof(widths[0])); wi++)
    for (int bt709 = 0; bt709 < 2; bt709++)
    for (int nv12 = 0; nv12 < 2; nv12++) {
        int w = widths[wi], bpp = si < 2 ? 3 : 4, ss = w * bpp + 5;
        int ro = srcs[si] == AV_PIX_FMT_RGB24 || srcs[si] == AV_PIX_FMT_RGBA ? 0 : 2;
        size_t plane = (size_t)w * h;
        uint8_t *src = malloc((size_t)ss * h), *out[4];
        for (int i = 0; i < ss * h; i++)
            src[i] = (uint8_t)((seed = seed * 1664525 + 1013904223) >> 24);
        VpiYuvMatrix m;
        vpi_yuv_matrix_init(&m, bt709 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M);
        for (int level = 0; level < 4; level++) {
            /* y, then u (nv12: interleaved uv), then v, each a full plane */
            out[level] = calloc(3, plane);
            uint8_t *y = out[level], *u = y + plane, *v = u + plane;
            uint8_t *dst[3] = { y, u, v };
            int ds[3] = { w, nv12 ? w : w / 2, w / 2 };
            vpi_convert_cap_isa(level);
            /* Two slices, as the writer may convert on two threads. */
            enum AVPixelFormat df = nv12 ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P;
            vpi_convert_to_420(srcs[si], src, ss, df, dst, ds, w, 0, 2, &m);
            vpi_convert_to_420(srcs[si], src, ss, df, dst, ds, w, 2, h, &m);
            double maxd = converter_error(src, ss, bpp, ro, w, h, bt709, nv12, y, u, v);
            test_checks++;
            if (maxd > 1.5)
                T_FAIL("converter level %d %s w=%d %s %s: off by %.2f", level,
                       av_get_pix_fmt_name(srcs[si]), w, bt709 ? "bt709" : "bt601",
                       nv12 ? "nv12" : "yuv420p", maxd);
        }
        vpi_convert_cap_isa(3);
        for (int level = 2; level < 4; level++) {
            test_checks++;
            if (memcmp(out[level], out[1], 3 * plane))
                T_FAIL("converter level %d differs from SSSE3: %s w=%d %s %s", level,
                       av_get_pix_fmt_name(srcs[si]), w, bt709 ? "bt709" : "bt601",
                       nv12 ? "nv12" : "yuv420p");
        }
        free(src);
        for (int level = 0; level < 4; level++)
            free(out[level]);
    }
}

int main(void)
{
    snprintf(dir, sizeof(dir), "%s/vp_writer_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR")
                                                                         : "/tmp");
    if (!mkdtemp(dir))
        TEST_SKIP("cannot create a temporary folder");
    vp_set_log_callback(NULL, NULL, VP_LOG_INFO);

    test_converter();
    test_bad_options();
    test_open_errors();
    test_formats(160, 96, 5);    /* BT.601 */
    test_formats(1280, 720, 2);  /* BT.709 */
    test_strides(96, 64);
    test_strides(642, 360);
    test_nonblock();
    test_auto_fallback();
    test_opener();
    test_depth_fallback();
    test_write_failure();
    test_abort();
    test_cancel_flush();
    test_worker_priority();
    test_audio_hevc();

    if (rmdir(dir))
        T_FAIL("files left in %s", dir);
    TEST_END();
}
