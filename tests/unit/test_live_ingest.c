/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Channel ingest (src/live/live_ingest.c, live_breaks.c): files that match the channel are
 * played as they are; another size, frame rate, sample rate or container is conformed once
 * into the cache (and found there the next time); a loud file is normalised; a file
 * without audio keeps none; broken and missing files fail with one line; black + silent
 * gaps and chapters are found as break points at the right times. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "live/live.h"
#include "test.h"
#include "util/internal.h"
#include "vidpipe/probe.h"
#include "vidpipe/qc.h"

static char dir[512], cache[600];

/* ---- a logger that keeps the lines ---------------------------------------------------- */

typedef struct Log {
    pthread_mutex_t lock;
    char text[16384];
    size_t len;
    int cancel_on_conform;      /* cancel the call a while after it says it conforms */
    int polls;                  /* cancel polls since then */
    int cancelled;
} Log;

static void log_fn(void *opaque, int level, const char *msg)
{
    Log *l = opaque;
    if (level > VP_LOG_INFO)
        return;
    pthread_mutex_lock(&l->lock);
    int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof(l->text) - l->len)
        l->len += (size_t)n;
    if (l->cancel_on_conform && strstr(msg, "conforming into the cache"))
        l->polls = 1;
    pthread_mutex_unlock(&l->lock);
}

static int cancel_fn(void *opaque)
{
    Log *l = opaque;
    pthread_mutex_lock(&l->lock);
    /* a few hundred polls in: the encoder is running, its temporary file exists */
    if (l->polls && ++l->polls > 300)
        l->cancelled = 1;
    int c = l->cancelled;
    pthread_mutex_unlock(&l->lock);
    return c;
}

static Log lg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void log_reset(void)
{
    pthread_mutex_lock(&lg.lock);
    lg.len = 0;
    lg.text[0] = 0;
    lg.cancel_on_conform = lg.cancelled = lg.polls = 0;
    pthread_mutex_unlock(&lg.lock);
}

static int log_count(const char *needle)
{
    int n = 0;
    for (const char *p = lg.text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- media ------------------------------------------------------------------------------ */

static const char *media(const char *name)
{
    static char path[8][700];
    static int i;
    char *p = path[i++ % 8];
    snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
    return p;
}

static void make(const char *name, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y %s '%s'", args, media(name));
    if (t_sh(cmd) != 0)
        TEST_SKIP("ffmpeg could not make %s", name);
}

#define VIDEO(size, rate) "-f lavfi -i testsrc2=size=" size ":rate=" rate ":d=4 "
#define TONE(rate, gain) "-f lavfi -i sine=f=1000:sample_rate=" rate ":d=4 -af volume=" gain " "
#define H264 "-c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p "
#define AAC "-c:a aac -b:a 96k -ac 2 "

static VpiLiveFormat channel = { 1, 320, 240, 25, 1, 48000, 2 };

static VpiLiveIngestOpts opts(double loudness)
{
    VpiLiveIngestOpts o;
    memset(&o, 0, sizeof(o));
    o.format = &channel;
    o.loudness = loudness;
    o.cache_dir = cache;
    o.logger = (VpLogger){ log_fn, &lg, VP_LOG_INFO };
    o.cancel = (VpCancel){ cancel_fn, &lg };
    return o;
}

static double qc_loudness(const char *path)
{
    VpQcReport *r = NULL;
    if (vp_qc_run(path, NULL, NULL, &r) < 0)
        return NAN;
    double l = r->loudness;
    vp_qc_report_free(&r);
    return l;
}

static int in_cache(const char *path)
{
    return path && !strncmp(path, cache, strlen(cache)) && path[strlen(cache)] == '/';
}

/* Files in the cache (temporaries included) whose names contain @p part. */
static int cache_files(const char *part)
{
    DIR *d = opendir(cache);
    int n = 0;
    struct dirent *e;
    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' || strstr(e->d_name, "vptmp"))
            n += !part || strstr(e->d_name, part) != NULL;
    closedir(d);
    return n;
}

/* The probe of @p path: video size and frame rate, audio rate and channels. */
static void probe_format(const char *path, VpiLiveFormat *f, int *has_audio)
{
    char why[512];
    memset(f, 0, sizeof(*f));
    *has_audio = 0;
    CHECK_EQ(vpi_live_format_of(path, f, why, sizeof(why)), 0);
    VpMediaInfo *info = NULL;
    if (vp_probe_file(path, NULL, &info) == 0) {
        *has_audio = info->audio_index >= 0;
        vp_media_info_free(&info);
    }
}

static VpiLiveMedia *ingest(const char *path, double loudness, int want_breaks, int expect)
{
    VpiLiveIngestOpts o = opts(loudness);
    VpiLiveMedia *m = NULL;
    char why[1024] = "";
    o.want_breaks = want_breaks;
    int ret = vpi_live_ingest(path, &o, &m, why, sizeof(why));
    CHECK_EQ(ret, expect);
    if (ret < 0 && expect >= 0)
        fprintf(stderr, "  %s\n", why);
    return m;
}

static void check_timing(const VpiLiveMedia *m, double seconds)
{
    CHECK_NEAR((double)m->duration / VPI_TICKS, seconds, 0.05);
    CHECK(m->nb_keys >= 1);
    CHECK_EQ(m->keys[0], 0);
    for (int i = 1; i < m->nb_keys; i++)
        CHECK(m->keys[i] > m->keys[i - 1]);
    CHECK(m->max_gop > 0 && m->max_gop <= 2 * VPI_TICKS);
    CHECK(m->reorder >= 0 && m->reorder < VPI_TICKS);
    CHECK(m->param_sets_size > 7 && m->param_sets && m->param_sets[0] == 1);
    CHECK(m->bitrate > 10000);
}

/* The audio of a file the ingest wrote (re-encoded: normalised or conformed) ends where its
 * video does, as its edit list says: the encoder's padding after the last real sample is
 * not audio (a copy that says it is plays silence before the next item, a level dip). */
static void check_audio_end(const char *path)
{
    VpMediaInfo *info = NULL;
    if (vp_probe_file(path, NULL, &info) < 0) {
        CHECK(!"probe");
        return;
    }
    CHECK(info->video_index >= 0 && info->audio_index >= 0);
    if (info->video_index >= 0 && info->audio_index >= 0) {
        double v = info->streams[info->video_index].duration;
        double a = info->streams[info->audio_index].duration;
        fprintf(stderr, "%s: video %.4f s, audio %.4f s\n", path, v, a);
        CHECK_NEAR(a, v, 0.0015);   /* the movie time scale is 1 ms */
    }
    vp_media_info_free(&info);
}

/* ---- the cases ---------------------------------------------------------------------------- */

static double target;   /* the matching file's loudness: the channel's target */

static void test_matching(void)
{
    make("match.mp4", VIDEO("320x240", "25") TONE("48000", "-6dB") H264 AAC);
    target = qc_loudness(media("match.mp4"));
    CHECK(isfinite(target));
    log_reset();
    VpiLiveMedia *m = ingest(media("match.mp4"), target + 0.5, 0, 0);
    if (!m)
        return;
    CHECK_STR(m->source, media("match.mp4"));
    CHECK_STR(m->play_path, media("match.mp4"));
    CHECK_EQ(m->conformed, 0);
    CHECK_EQ(m->normalized, 0);
    CHECK_EQ(m->has_audio, 1);
    CHECK_NEAR(m->loudness, target, 0.2);
    check_timing(m, 4.0);
    /* -g 25: a keyframe every second, no B-frames (ultrafast) */
    CHECK_EQ(m->nb_keys, 4);
    CHECK_EQ(m->keys[1], VPI_TICKS);
    CHECK_EQ(m->max_gop, VPI_TICKS);
    CHECK_EQ(m->reorder, 0);
    CHECK_EQ(log_count("conforming"), 0);
    CHECK_EQ(log_count("normalising"), 0);
    vpi_live_media_unref(&m);

    VpiLiveFormat f;
    char why[256];
    CHECK_EQ(vpi_live_format_of(media("match.mp4"), &f, why, sizeof(why)), 0);
    CHECK_EQ(f.set, 1);
    CHECK_EQ(f.width, 320);
    CHECK_EQ(f.height, 240);
    CHECK_EQ(f.fps_num, 25);
    CHECK_EQ(f.fps_den, 1);
    CHECK_EQ(f.sample_rate, 48000);
    CHECK_EQ(f.channels, 2);
}

static void test_conform_size_rate(void)
{
    make("big30.mp4", VIDEO("480x360", "30") TONE("48000", "-6dB") H264 AAC);
    log_reset();
    int64_t t0 = vpi_now_us();
    VpiLiveMedia *m = ingest(media("big30.mp4"), target, 0, 0);
    double first = (vpi_now_us() - t0) / 1e6;
    if (!m)
        return;
    CHECK_EQ(m->conformed, 1);
    CHECK_EQ(m->normalized, 0);
    CHECK(in_cache(m->play_path));
    char line[1024];
    snprintf(line, sizeof(line), "%s: conforming into the cache (video.resolution is 480x360, "
             "the channel needs 320x240; video.frame_rate is 30 fps, the channel needs 25 fps)\n",
             media("big30.mp4"));
    CHECK_STR(lg.text, line);
    VpiLiveFormat f;
    int has_audio;
    probe_format(m->play_path, &f, &has_audio);
    CHECK_EQ(f.width, 320);
    CHECK_EQ(f.height, 240);
    CHECK_EQ(f.fps_num, 25);
    CHECK_EQ(f.fps_den, 1);
    CHECK_EQ(f.sample_rate, 48000);
    CHECK_EQ(f.channels, 2);
    CHECK_EQ(has_audio, 1);
    check_timing(m, 4.0);
    CHECK(m->nb_keys >= 2); /* a keyframe at least every 2 s */

    /* the second ingest finds the cache file: no encode, the file untouched */
    struct stat before, after;
    CHECK_EQ(stat(m->play_path, &before), 0);
    char *play = strdup(m->play_path);
    vpi_live_media_unref(&m);
    log_reset();
    t0 = vpi_now_us();
    m = ingest(media("big30.mp4"), target, 0, 0);
    double second = (vpi_now_us() - t0) / 1e6;
    if (!m) {
        free(play);
        return;
    }
    CHECK_STR(m->play_path, play);
    CHECK_EQ(m->conformed, 1);
    CHECK_EQ(stat(m->play_path, &after), 0);
    CHECK_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    CHECK_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    CHECK_EQ(after.st_ino, before.st_ino);
    CHECK_EQ(log_count("conforming"), 0);
    fprintf(stderr, "conform + measure: %.2f s, again from the cache: %.3f s\n", first, second);
    CHECK(second < first / 2);
    free(play);
    vpi_live_media_unref(&m);

    /* the same file touched is another file: conformed again, under another name */
    t_sh("sleep 0.01");
    char cmd[800];
    snprintf(cmd, sizeof(cmd), "touch '%s'", media("big30.mp4"));
    CHECK_EQ(t_sh(cmd), 0);
    log_reset();
    m = ingest(media("big30.mp4"), target, 0, 0);
    CHECK_EQ(log_count("conforming into the cache"), 1);
    vpi_live_media_unref(&m);
}

static void test_conform_sample_rate(void)
{
    make("a44.mp4", VIDEO("320x240", "25") TONE("44100", "-6dB") H264 AAC);
    log_reset();
    VpiLiveMedia *m = ingest(media("a44.mp4"), target, 0, 0);
    if (!m)
        return;
    CHECK_EQ(m->conformed, 1);
    CHECK_EQ(log_count("audio.sample_rate is 44100 Hz, the channel needs 48000 Hz"), 1);
    VpiLiveFormat f;
    int has_audio;
    probe_format(m->play_path, &f, &has_audio);
    CHECK_EQ(f.sample_rate, 48000);
    CHECK_EQ(f.channels, 2);
    CHECK_EQ(f.width, 320);
    CHECK_EQ(m->has_audio, 1);
    check_timing(m, 4.0);
    check_audio_end(m->play_path);
    vpi_live_media_unref(&m);
}

static void test_loud(void)
{
    make("loud.mp4", VIDEO("320x240", "25") TONE("48000", "4dB") H264 AAC);
    log_reset();
    VpiLiveMedia *m = ingest(media("loud.mp4"), target, 0, 0);
    if (!m)
        return;
    CHECK_NEAR(m->loudness, target + 10, 0.5);
    CHECK_EQ(m->normalized, 1);
    CHECK_EQ(m->conformed, 0);
    CHECK(in_cache(m->play_path));
    CHECK_EQ(log_count("normalising the loudness into the cache"), 1);
    double after = qc_loudness(m->play_path);
    fprintf(stderr, "loud: %.2f LUFS -> %.2f LUFS (target %.2f)\n", m->loudness, after, target);
    CHECK_NEAR(after, target, 1.0);
    VpiLiveFormat f;
    int has_audio;
    probe_format(m->play_path, &f, &has_audio);
    CHECK_EQ(f.sample_rate, 48000);
    CHECK_EQ(f.channels, 2);
    CHECK_EQ(f.width, 320);
    /* the video is copied: the same parameter sets, the same keyframes */
    VpiLiveMedia *src = ingest(media("match.mp4"), target, 0, 0);
    if (src) {
        CHECK_EQ(m->nb_keys, src->nb_keys);
        CHECK_EQ(m->param_sets_size, src->param_sets_size);
        vpi_live_media_unref(&src);
    }
    check_timing(m, 4.0);
    check_audio_end(m->play_path);
    vpi_live_media_unref(&m);

    /* a quiet file is brought up */
    make("quiet.mp4", VIDEO("320x240", "25") TONE("48000", "-16dB") H264 AAC);
    VpiLiveMedia *q = ingest(media("quiet.mp4"), target, 0, 0);
    if (q) {
        CHECK_NEAR(q->loudness, target - 10, 0.5);
        CHECK_EQ(q->normalized, 1);
        after = qc_loudness(q->play_path);
        fprintf(stderr, "quiet: %.2f LUFS -> %.2f LUFS (target %.2f)\n", q->loudness, after,
                target);
        CHECK_NEAR(after, target, 1.0);
        probe_format(q->play_path, &f, &has_audio);
        CHECK_EQ(f.sample_rate, 48000);
        vpi_live_media_unref(&q);
    }

    /* the second time the normalised file is in the cache */
    log_reset();
    m = ingest(media("loud.mp4"), target, 0, 0);
    CHECK_EQ(log_count("normalising"), 0);
    CHECK(m && m->normalized);
    vpi_live_media_unref(&m);
}

/* Another codec (a camera's .mov: MPEG-4 part 2 and PCM) is conformed; B-frames are not a
 * reason to: they are copied, and the index says how far they delay the pictures. */
static void test_codecs(void)
{
    make("camera.mov", VIDEO("320x240", "25") TONE("48000", "-6dB")
         "-c:v mpeg4 -q:v 5 -c:a pcm_s16le -ac 2 ");
    log_reset();
    VpiLiveMedia *m = ingest(media("camera.mov"), target, 0, 0);
    if (m) {
        CHECK_EQ(m->conformed, 1);
        CHECK_EQ(log_count("video.codec is mpeg4, the channel needs H.264; audio.codec is PCM "
                           "(pcm_s16le), the channel needs AAC-LC)"), 1);
        CHECK_EQ(m->has_audio, 1);
        check_timing(m, 4.0);
        vpi_live_media_unref(&m);
    }

    make("bframes.mp4", VIDEO("320x240", "25") TONE("48000", "-6dB")
         "-c:v libx264 -preset veryfast -bf 3 -g 50 -pix_fmt yuv420p " AAC);
    log_reset();
    m = ingest(media("bframes.mp4"), target, 0, 0);
    if (m) {
        CHECK_EQ(m->conformed, 0);
        CHECK_STR(m->play_path, media("bframes.mp4"));
        CHECK(m->reorder > 0);
        CHECK_EQ(m->nb_keys, 2);
        CHECK_EQ(m->keys[1], 2 * VPI_TICKS);
        CHECK_EQ(m->max_gop, 2 * VPI_TICKS);
        check_timing(m, 4.0);
        vpi_live_media_unref(&m);
    }
}

static void test_video_only(void)
{
    make("silent.mp4", VIDEO("320x240", "25") H264);
    log_reset();
    VpiLiveMedia *m = ingest(media("silent.mp4"), target, 0, 0);
    if (!m)
        return;
    CHECK_EQ(m->has_audio, 0);
    CHECK(isnan(m->loudness));
    CHECK_EQ(m->conformed, 0);
    CHECK_EQ(m->normalized, 0);
    CHECK_STR(m->play_path, media("silent.mp4"));
    check_timing(m, 4.0);
    vpi_live_media_unref(&m);

    /* conformed, it still has no audio track */
    make("silent30.mp4", VIDEO("480x360", "30") H264);
    m = ingest(media("silent30.mp4"), target, 0, 0);
    if (!m)
        return;
    CHECK_EQ(m->conformed, 1);
    CHECK_EQ(m->has_audio, 0);
    VpiLiveFormat f;
    int has_audio = -1;
    probe_format(m->play_path, &f, &has_audio);
    CHECK_EQ(has_audio, 0);
    CHECK_EQ(f.width, 320);
    vpi_live_media_unref(&m);
}

/* H.264 + AAC in another container is remuxed: the same frames and keyframes, AAC frames
 * 1024 samples apart; another format in another container is conformed. */
static void test_containers(void)
{
    static const char *const names[] = { "ep.mkv", "ep.ts" };
    static const char *const formats[] = { "matroska,webm", "mpegts" };
    for (int i = 0; i < 2; i++) {
        char line[1024];
        make(names[i], VIDEO("320x240", "25") TONE("48000", "-6dB") H264 AAC);
        log_reset();
        VpiLiveMedia *m = ingest(media(names[i]), target, 0, 0);
        if (!m)
            continue;
        CHECK_EQ(m->conformed, 0);
        CHECK(in_cache(m->play_path));
        snprintf(line, sizeof(line), "%s: remuxing into the cache (container is %s, not "
                 "MP4/MOV)\n", media(names[i]), formats[i]);
        CHECK_STR(lg.text, line);
        CHECK_EQ(m->has_audio, 1);
        CHECK_EQ(m->nb_keys, 4); /* -g 25 kept: copied, not encoded */
        CHECK_EQ(m->max_gop, VPI_TICKS);
        check_timing(m, 4.0);
        VpiLiveFormat f;
        int has_audio;
        probe_format(m->play_path, &f, &has_audio);
        CHECK_EQ(f.sample_rate, 48000);
        CHECK_EQ(f.fps_num, 25);
        CHECK_EQ(f.fps_den, 1);
        CHECK_NEAR(qc_loudness(m->play_path), target, 0.3);
        /* an MPEG-TS starts at 1.4 s: the copy starts at 0, the audio with the video */
        VpMediaInfo *info = NULL;
        CHECK_EQ(vp_probe_file(m->play_path, NULL, &info), 0);
        if (info && info->video_index >= 0 && info->audio_index >= 0) {
            double vs = info->streams[info->video_index].start_time;
            double as = info->streams[info->audio_index].start_time;
            CHECK_NEAR(vs, 0, 0.001);
            CHECK_NEAR(as, vs, 0.03);
        }
        vp_media_info_free(&info);
        vpi_live_media_unref(&m);
        log_reset();
        m = ingest(media(names[i]), target, 0, 0);
        CHECK_EQ(log_count("remuxing"), 0);
        vpi_live_media_unref(&m);
    }

    /* 29.97 fps in Matroska's milliseconds: back on the frame grid (3003 ticks a frame; the
     * milliseconds would put the keyframe after 60 frames at 2.002 s = 180180 ticks off by
     * up to 45 ticks, and make frame durations alternate) */
    make("ntsc.mkv", "-f lavfi -i testsrc2=size=320x240:rate=30000/1001:d=4 "
         TONE("48000", "-6dB") "-c:v libx264 -preset veryfast -bf 3 -g 60 -pix_fmt yuv420p "
         AAC);
    VpiLiveFormat keep = channel;
    channel.fps_num = 30000;
    channel.fps_den = 1001;
    log_reset();
    VpiLiveMedia *n = ingest(media("ntsc.mkv"), target, 0, 0);
    channel = keep;
    if (n) {
        CHECK_EQ(n->conformed, 0);
        CHECK_EQ(log_count("remuxing into the cache"), 1);
        CHECK_EQ(n->nb_keys, 2);
        CHECK_EQ(n->keys[1], 180180);
        CHECK_EQ(n->reorder % 3003, 0);
        CHECK(n->reorder > 0);
        CHECK_EQ(n->duration, 120 * 3003);
        vpi_live_media_unref(&n);
    }

    make("big.mkv", VIDEO("480x360", "25") TONE("48000", "-6dB") H264 AAC);
    log_reset();
    VpiLiveMedia *m = ingest(media("big.mkv"), target, 0, 0);
    if (!m)
        return;
    CHECK_EQ(m->conformed, 1);
    CHECK(in_cache(m->play_path));
    CHECK_EQ(log_count("conforming into the cache (container is matroska,webm, not MP4/MOV; "
                       "video.resolution is 480x360, the channel needs 320x240)"), 1);
    CHECK_EQ(m->has_audio, 1);
    check_timing(m, 4.0);
    vpi_live_media_unref(&m);
}

static void test_broken(void)
{
    char why[1024], want[1024], cmd[1400];
    VpiLiveIngestOpts o = opts(target);
    VpiLiveMedia *m = NULL;

    /* missing */
    int ret = vpi_live_ingest(media("missing.mp4"), &o, &m, why, sizeof(why));
    CHECK_EQ(ret, AVERROR(ENOENT));
    snprintf(want, sizeof(want), "%s: no such file or directory", media("missing.mp4"));
    CHECK_STR(why, want);
    CHECK(m == NULL);

    /* truncated: cut before its moov (at the end, as ffmpeg writes it) */
    snprintf(cmd, sizeof(cmd), "head -c 20000 '%s' > '%s'", media("match.mp4"),
             media("cut.mp4"));
    CHECK_EQ(t_sh(cmd), 0);
    ret = vpi_live_ingest(media("cut.mp4"), &o, &m, why, sizeof(why));
    CHECK_EQ(ret, VP_ERR_NO_MOOV);
    snprintf(want, sizeof(want), "%s: MP4 has no moov box (unfinished or truncated)",
             media("cut.mp4"));
    CHECK_STR(why, want);
    CHECK(m == NULL);

    /* not media at all */
    FILE *f = fopen(media("junk.mp4"), "w");
    if (f) {
        for (int i = 0; i < 400; i++)
            fputs("this is not a video, only some text.\n", f);
        fclose(f);
    }
    ret = vpi_live_ingest(media("junk.mp4"), &o, &m, why, sizeof(why));
    CHECK_EQ(ret, VP_ERR_NOT_MEDIA);
    snprintf(want, sizeof(want), "%s: not a media file (no known container format)",
             media("junk.mp4"));
    CHECK_STR(why, want);

    /* a folder */
    ret = vpi_live_ingest(dir, &o, &m, why, sizeof(why));
    CHECK_EQ(ret, VP_ERR_IS_DIRECTORY);
    snprintf(want, sizeof(want), "%s: is a directory, not a media file", dir);
    CHECK_STR(why, want);

    /* a conform that fails (cancelled while it encodes) leaves nothing in the cache */
    make("fail30.mp4", VIDEO("480x360", "30") TONE("48000", "-6dB") H264 AAC);
    log_reset();
    lg.cancel_on_conform = 1;
    ret = vpi_live_ingest(media("fail30.mp4"), &o, &m, why, sizeof(why));
    CHECK_EQ(ret, VP_ERR_CANCELLED);
    snprintf(want, sizeof(want), "%s: operation was cancelled", media("fail30.mp4"));
    CHECK_STR(why, want);
    CHECK(lg.polls > 300);
    CHECK(m == NULL);
    CHECK_EQ(cache_files("fail30"), 0);
    CHECK_EQ(cache_files("vptmp"), 0);

    /* what a killed conform left (a temporary untouched for two hours) goes the next time;
     * a recent one (a conform running in another process) stays */
    log_reset();
    VpiLiveMedia *ok = ingest(media("fail30.mp4"), target, 0, 0);
    CHECK(ok && ok->conformed);
    if (ok) {
        const char *base = strrchr(ok->play_path, '/') + 1;
        char old[1200], recent[1200];
        snprintf(old, sizeof(old), "%s/.%s.vptmp-aaaaaa", cache, base);
        snprintf(recent, sizeof(recent), "%s/.%s.vptmp-bbbbbb", cache, base);
        unlink(ok->play_path);
        vpi_live_media_unref(&ok);
        FILE *t1 = fopen(old, "w"), *t2 = fopen(recent, "w");
        if (t1)
            fclose(t1);
        if (t2)
            fclose(t2);
        snprintf(cmd, sizeof(cmd), "touch -d '2 hours ago' '%s'", old);
        CHECK_EQ(t_sh(cmd), 0);
        ok = ingest(media("fail30.mp4"), target, 0, 0);
        CHECK(ok != NULL);
        CHECK(access(old, F_OK) != 0);
        CHECK_EQ(access(recent, F_OK), 0);
        unlink(recent);
        vpi_live_media_unref(&ok);
    }
    log_reset();
}

static void test_breaks(void)
{
    /* 3 s of programme, 1 s black and silent, 4 s of programme; chapters at 0 and 6 s */
    FILE *f = fopen(media("chapters.txt"), "w");
    if (!f)
        TEST_SKIP("cannot write %s", media("chapters.txt"));
    fputs(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=6000\ntitle=Intro\n"
          "[CHAPTER]\nTIMEBASE=1/1000\nSTART=6000\nEND=8000\ntitle=Part 2\n", f);
    fclose(f);
    char args[2048];
    snprintf(args, sizeof(args),
             "-f lavfi -i testsrc2=size=320x240:rate=25:d=3 "
             "-f lavfi -i color=black:size=320x240:rate=25:d=1 "
             "-f lavfi -i testsrc2=size=320x240:rate=25:d=4 "
             "-f lavfi -i sine=f=440:sample_rate=48000:d=3 "
             "-f lavfi -i anullsrc=r=48000:cl=mono:d=1 "
             "-f lavfi -i sine=f=440:sample_rate=48000:d=4 "
             "-i '%s' -map_metadata 6 -map_chapters 6 "
             "-filter_complex '[0:v][3:a][1:v][4:a][2:v][5:a]concat=n=3:v=1:a=1[v][a]' "
             "-map '[v]' -map '[a]' " H264 AAC,
             media("chapters.txt"));
    make("episode.mp4", args);

    VpBreakPoint *b = NULL;
    int nb = 0;
    char why[1024];
    CHECK_EQ(vpi_live_find_breaks(media("episode.mp4"), NULL, &b, &nb, why, sizeof(why)), 0);
    CHECK_EQ(nb, 2);
    for (int i = 0; i < nb; i++)
        fprintf(stderr, "break %d: at %.3f cut %.3f length %.3f %s\n", i, b[i].at, b[i].cut_at,
                b[i].length, b[i].reason);
    if (nb == 2) {
        CHECK_NEAR(b[0].at, 3.5, 0.1);
        CHECK_NEAR(b[0].length, 1.0, 0.15);
        CHECK_NEAR(b[0].cut_at, 3.0, 0.001);
        CHECK_STR(b[0].reason, "black+silence");
        CHECK_NEAR(b[1].at, 6.0, 0.001);
        CHECK_NEAR(b[1].cut_at, 6.0, 0.001);
        CHECK_NEAR(b[1].length, 0, 0);
        CHECK_STR(b[1].reason, "chapter: Part 2");
    }

    /* the same through ingest, and through the public call */
    VpiLiveMedia *m = ingest(media("episode.mp4"), target, 1, 0);
    if (m) {
        CHECK_EQ(m->nb_auto_breaks, nb);
        for (int i = 0; i < nb && i < m->nb_auto_breaks; i++) {
            CHECK_NEAR(m->auto_breaks[i].at, b[i].at, 1e-5);
            CHECK_NEAR(m->auto_breaks[i].cut_at, b[i].cut_at, 1e-3);
            CHECK_STR(m->auto_breaks[i].reason, b[i].reason);
        }
        vpi_live_media_unref(&m);
    }
    /* and again from the cache record */
    m = ingest(media("episode.mp4"), target, 1, 0);
    if (m) {
        CHECK_EQ(m->nb_auto_breaks, nb);
        for (int i = 0; i < nb && i < m->nb_auto_breaks; i++) {
            CHECK_NEAR(m->auto_breaks[i].at, b[i].at, 1e-5);
            CHECK_NEAR(m->auto_breaks[i].length, b[i].length, 1e-5);
            CHECK_STR(m->auto_breaks[i].reason, b[i].reason);
        }
        vpi_live_media_unref(&m);
    }
    free(b);

    VpFailure fail;
    b = NULL;
    CHECK_EQ(vp_channels_analyze(media("episode.mp4"), NULL, &b, &nb, &fail), 0);
    CHECK_EQ(nb, 2);
    CHECK_EQ(fail.code, 0);
    free(b);
    CHECK_EQ(vp_channels_analyze(media("nothing.mp4"), NULL, &b, &nb, &fail), AVERROR(ENOENT));
    CHECK(b == NULL);
    CHECK_EQ(nb, 0);
    CHECK_EQ(fail.code, AVERROR(ENOENT));
    CHECK_STR(fail.path, media("nothing.mp4"));
    char want[1024];
    snprintf(want, sizeof(want), "%s: no such file or directory", media("nothing.mp4"));
    CHECK_STR(fail.message, want);

    /* a programme without gaps or chapters has no break */
    CHECK_EQ(vpi_live_find_breaks(media("match.mp4"), NULL, &b, &nb, why, sizeof(why)), 0);
    CHECK_EQ(nb, 0);
    free(b);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/vptest_live_ingest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        TEST_SKIP("cannot make a temporary folder");
    snprintf(cache, sizeof(cache), "%s/cache", dir);

    test_matching();
    test_conform_size_rate();
    test_conform_sample_rate();
    test_loud();
    test_codecs();
    test_video_only();
    test_containers();
    test_broken();
    test_breaks();

    char cmd[700];
    if (!test_failures) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        t_sh(cmd);
    } else {
        fprintf(stderr, "media and cache kept in %s\n", dir);
    }
    TEST_END();
}
