/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The C side of bench/writer.sh: one measurement per run, on frames loaded into memory
 * first, so every contender encodes the same pictures and none pays for reading them.
 *
 *   bench_writer MODE RAW_BGR24 WIDTH HEIGHT FRAMES PRESET OUT
 *
 * MODE  vidpipe  vp_writer_write() of each frame, then vp_writer_close()
 *       pipe     ffmpeg CLI reading raw bgr24 frames from a pipe, same encoder settings
 *       floor    libx264 alone on frames converted to yuv420p beforehand (packets dropped)
 *       direct   the loop a C programmer writes with libavcodec: sws_scale each frame to
 *                yuv420p, then encode it, on the calling thread (packets dropped)
 *
 * RAW_BGR24 holds K frames; they are played forwards then backwards (no cut at the loop)
 * until FRAMES are written. Prints one line: "MODE fps p50_us p99_us full_pct cpu_ms" where
 * the latencies are those of the per-frame call (write() or the pipe write) while the queue
 * had room, full_pct is the share of calls that found the queue full, and cpu_ms the CPU
 * time per frame of every thread and child process involved (steady on a shared machine,
 * where fps is not). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include <vidpipe/vidpipe.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds used so far by this process and its reaped children (the ffmpeg CLI). */
static double cpu_s(void)
{
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec +
           (a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
            b.ru_stime.tv_usec) * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, int n, double p)
{
    if (n <= 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

/* Frame i of the ping-pong sequence over k frames. */
static int seq(int i, int k)
{
    if (k == 1)
        return 0;
    int period = 2 * (k - 1), m = i % period;
    return m < k ? m : period - m;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: bench_writer vidpipe|pipe|floor|direct RAW W H FRAMES PRESET OUT\n");
        return 3;
    }
    const char *mode = argv[1], *raw = argv[2], *preset = argv[6], *out = argv[7];
    vp_set_log_callback(NULL, NULL, 0); /* FFmpeg quiet too: x264 prints stats otherwise */
    int w = atoi(argv[3]), h = atoi(argv[4]), frames = atoi(argv[5]);
    size_t fsize = (size_t)w * h * 3;

    FILE *f = fopen(raw, "rb");
    if (!f) {
        fprintf(stderr, "bench_writer: %s: %s\n", raw, strerror(errno));
        return 2;
    }
    fseek(f, 0, SEEK_END);
    int k = (int)(ftell(f) / (long)fsize);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = k > 0 ? malloc(fsize * k) : NULL;
    if (!data || fread(data, fsize, k, f) != (size_t)k) {
        fprintf(stderr, "bench_writer: %s: cannot read %d frames\n", raw, k);
        return 2;
    }
    fclose(f);

    double *lat = calloc(frames, sizeof(*lat));
    int nlat = 0, full = 0;
    double t0, t1, c0, c1;

    if (!strcmp(mode, "vidpipe")) {
        VpWriterOpts o;
        vp_writer_default_opts(&o);
        o.width = w;
        o.height = h;
        o.preset = preset;
        o.hw = VP_HW_NONE;
        char why[512];
        VpWriter *wr = NULL;
        t0 = now_s();
        c0 = cpu_s();
        if (vp_writer_open(out, &o, &wr, why, sizeof(why)) < 0) {
            fprintf(stderr, "bench_writer: %s\n", why);
            return 4;
        }
        for (int i = 0; i < frames; i++) {
            const uint8_t *src = data + fsize * seq(i, k);
            double a = now_s();
            int ret = vp_writer_write(wr, src, w * 3, VP_WRITE_NONBLOCK);
            if (ret == AVERROR(EAGAIN)) {
                full++;
                ret = vp_writer_write(wr, src, w * 3, 0);
            } else {
                lat[nlat++] = now_s() - a;
            }
            if (ret < 0) {
                fprintf(stderr, "bench_writer: %s\n", vp_writer_error(wr));
                return 4;
            }
        }
        VpWriterStats st;
        if (vp_writer_close(&wr, &st, why, sizeof(why)) < 0) {
            fprintf(stderr, "bench_writer: %s\n", why);
            return 4;
        }
        t1 = now_s();
        c1 = cpu_s();
    } else if (!strcmp(mode, "pipe")) {
        int fds[2];
        char size[32];
        snprintf(size, sizeof(size), "%dx%d", w, h);
        signal(SIGPIPE, SIG_IGN);
        t0 = now_s();
        c0 = cpu_s();
        if (pipe(fds) < 0)
            return 4;
        pid_t pid = fork();
        if (pid == 0) {
            dup2(fds[0], 0);
            close(fds[0]);
            close(fds[1]);
            execlp("ffmpeg", "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo",
                   "-pix_fmt", "bgr24", "-s", size, "-r", "30", "-i", "pipe:0",
                   "-c:v", "libx264", "-preset", preset, "-crf", "23", "-pix_fmt", "yuv420p",
                   "-movflags", "+faststart", out, (char *)NULL);
            _exit(127);
        }
        close(fds[0]);
        for (int i = 0; i < frames; i++) {
            double a = now_s();
            if (write_all(fds[1], data + fsize * seq(i, k), fsize) < 0) {
                fprintf(stderr, "bench_writer: ffmpeg pipe: %s\n", strerror(errno));
                return 4;
            }
            lat[nlat++] = now_s() - a;
        }
        close(fds[1]);
        int status;
        waitpid(pid, &status, 0);
        t1 = now_s();
        c1 = cpu_s();
        if (!WIFEXITED(status) || WEXITSTATUS(status)) {
            fprintf(stderr, "bench_writer: ffmpeg failed\n");
            return 4;
        }
    } else if (!strcmp(mode, "floor") || !strcmp(mode, "direct")) {
        /* floor: converted before the clock starts, what the encoder alone can do.
         * direct: each frame converted in the loop, into one of a few frames. */
        const int direct = !strcmp(mode, "direct"), nyuv = direct ? 4 : k;
        AVFrame **yuv = calloc(nyuv, sizeof(*yuv));
        struct SwsContext *sws = sws_getContext(w, h, AV_PIX_FMT_BGR24, w, h,
                                                AV_PIX_FMT_YUV420P, SWS_BILINEAR, 0, 0, 0);
        /* The matrix vidpipe uses at this size, so both encode the same pictures. */
        const int *m = sws_getCoefficients(w >= 1280 || h >= 720 ? SWS_CS_ITU709
                                                                  : SWS_CS_ITU601);
        sws_setColorspaceDetails(sws, m, 1, m, 0, 0, 1 << 16, 1 << 16);
        for (int i = 0; i < nyuv; i++) {
            yuv[i] = av_frame_alloc();
            yuv[i]->format = AV_PIX_FMT_YUV420P;
            yuv[i]->width = w;
            yuv[i]->height = h;
            av_frame_get_buffer(yuv[i], 0);
            const uint8_t *src[1] = { data + fsize * i };
            int stride[1] = { w * 3 };
            if (!direct)
                sws_scale(sws, src, stride, 0, h, yuv[i]->data, yuv[i]->linesize);
        }
        const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
        AVCodecContext *c = avcodec_alloc_context3(codec);
        c->width = w;
        c->height = h;
        c->time_base = (AVRational){ 1, 30 };
        c->framerate = (AVRational){ 30, 1 };
        c->pix_fmt = AV_PIX_FMT_YUV420P;
        av_opt_set(c->priv_data, "preset", preset, 0);
        av_opt_set_int(c->priv_data, "crf", 23, 0);
        AVPacket *pkt = av_packet_alloc();
        t0 = now_s();
        c0 = cpu_s();
        if (avcodec_open2(c, codec, NULL) < 0)
            return 4;
        for (int i = 0; i <= frames; i++) {
            AVFrame *fr = NULL;
            if (i < frames && direct) {
                /* libx264 copies its input, so the frame is free again after the call */
                fr = yuv[i % nyuv];
                if (av_frame_make_writable(fr) < 0)
                    return 4;
                const uint8_t *src[1] = { data + fsize * seq(i, k) };
                int stride[1] = { w * 3 };
                sws_scale(sws, src, stride, 0, h, fr->data, fr->linesize);
                fr->pts = i;
            } else if (i < frames) {
                fr = yuv[seq(i, k)];
                fr->pts = i;
            }
            if (avcodec_send_frame(c, fr) < 0)
                return 4;
            while (avcodec_receive_packet(c, pkt) >= 0)
                av_packet_unref(pkt);
        }
        t1 = now_s();
        c1 = cpu_s();
        sws_freeContext(sws);
        avcodec_free_context(&c);
        av_packet_free(&pkt);
        for (int i = 0; i < nyuv; i++)
            av_frame_free(&yuv[i]);
        free(yuv);
    } else {
        fprintf(stderr, "bench_writer: unknown mode %s\n", mode);
        return 3;
    }

    double p50 = percentile(lat, nlat, 0.50) * 1e6, p99 = percentile(lat, nlat, 0.99) * 1e6;
    printf("%s %.1f %.0f %.0f %.1f %.2f\n", mode, frames / (t1 - t0), p50, p99,
           100.0 * full / frames, (c1 - c0) * 1e3 / frames);
    free(lat);
    free(data);
    return 0;
}
