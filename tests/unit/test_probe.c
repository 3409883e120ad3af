/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vp_probe_file / vp_probe_buffer on generated media, bounds, and bad input. */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "test.h"
#include "vidpipe/vidpipe.h"

static char media[1024];

static const char *gen(const char *name, const char *args)
{
    static char path[8][1200];
    static int slot;
    char *p = path[slot++ % 8];
    char cmd[4096];
    snprintf(p, sizeof(path[0]), "%s/%s", media, name);
    struct stat sb;
    if (stat(p, &sb) == 0 && sb.st_size > 0)
        return p;
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -y %s '%s.tmp.%d.%s' && mv '%s.tmp.%d.%s' '%s'", args,
             p, (int)getpid(), strrchr(name, '.') + 1, p, (int)getpid(),
             strrchr(name, '.') + 1, p);
    if (t_sh(cmd) != 0) {
        fprintf(stderr, "could not generate %s\n", name);
        exit(1);
    }
    return p;
}

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return b;
}

int main(void)
{
    const char *m = getenv("VP_MEDIA");
    snprintf(media, sizeof(media), "%s", m ? m : "/tmp");
    mkdir(media, 0755);
    VpMediaInfo *mi = NULL;
    VpProbeOpts o;

    const char *mp4 = gen("tp_main.mp4",
        "-f lavfi -i testsrc2=s=320x240:r=24:d=3 -f lavfi -i sine=f=440:r=48000:d=3 "
        "-c:v libx264 -preset veryfast -bf 2 -g 24 -c:a aac -shortest");
    CHECK_EQ(vp_probe_file(mp4, NULL, &mi), 0);
    if (mi) {
        CHECK_STR(mi->path, mp4);
        CHECK(strstr(mi->format, "mp4") != NULL);
        CHECK_EQ(mi->nb_streams, 2);
        CHECK_EQ(mi->video_index, 0);
        CHECK_EQ(mi->audio_index, 1);
        const VpStreamInfo *v = &mi->streams[0], *a = &mi->streams[1];
        CHECK_EQ(v->type, VP_STREAM_VIDEO);
        CHECK_STR(v->codec, "h264");
        CHECK_EQ(v->width, 320);
        CHECK_EQ(v->height, 240);
        CHECK_EQ(v->r_frame_rate.num, 24);
        CHECK_EQ(v->r_frame_rate.den, 1);
        CHECK_EQ(v->nb_frames, 72);
        CHECK_EQ(v->nb_packets, 72);
        CHECK_EQ(v->nb_keyframes, 3);
        CHECK_EQ(v->keyint_min, 24);
        CHECK_EQ(v->keyint_max, 24);
        CHECK_EQ(v->starts_with_idr, 1);
        CHECK_EQ(v->has_bframes, 1);
        CHECK_EQ(v->open_gop, 0);
        CHECK_EQ(v->param_sets, VP_PARAMSETS_HEADER);
        CHECK(v->extradata_crc != 0);
        CHECK_NEAR(v->duration, 3.0, 1e-9);
        CHECK_EQ(a->type, VP_STREAM_AUDIO);
        CHECK_STR(a->codec, "aac");
        CHECK_EQ(a->sample_rate, 48000);
        CHECK_EQ(a->frame_size, 1024);
        CHECK_EQ(a->priming_samples, 1024);
        /* 3 s = 144000 samples + 1024 priming = 145024 = 141.6 frames -> 142 frames, the
         * rest of the last frame is padding. */
        CHECK_EQ(a->nb_packets, 142);
        CHECK_EQ(a->padding_samples, 142 * 1024 - 1024 - 144000);
    }

    /* The same bytes from memory give the same facts. */
    size_t size = 0;
    uint8_t *bytes = slurp(mp4, &size);
    VpMediaInfo *mb = NULL;
    CHECK(bytes != NULL);
    CHECK_EQ(vp_probe_buffer(bytes, size, "memory.mp4", NULL, &mb), 0);
    if (mi && mb) {
        CHECK_STR(mb->path, "memory.mp4");
        CHECK_EQ(mb->size, mi->size);
        CHECK_EQ(mb->streams[0].nb_packets, mi->streams[0].nb_packets);
        CHECK_EQ(mb->streams[0].extradata_crc, mi->streams[0].extradata_crc);
        CHECK_EQ(mb->streams[1].priming_samples, mi->streams[1].priming_samples);
    }
    vp_media_info_free(&mb);
    CHECK(mb == NULL);
    /* A truncated copy in memory: the sample table points past the end. */
    CHECK_EQ(vp_probe_buffer(bytes, size / 2, "half.mp4", NULL, &mb), VP_ERR_NO_MOOV);
    CHECK(mb == NULL);
    free(bytes);
    vp_media_info_free(&mi);
    vp_media_info_free(&mi); /* idempotent */

    /* Open GOPs (x264 open-gop) are recognised. */
    const char *og = gen("tp_opengop.mp4",
        "-f lavfi -i testsrc2=s=320x240:r=24:d=4 -c:v libx264 -preset veryfast "
        "-x264-params open-gop=1:keyint=24:min-keyint=24:scenecut=0 -bf 3");
    CHECK_EQ(vp_probe_file(og, NULL, &mi), 0);
    if (mi) {
        CHECK_EQ(mi->streams[0].open_gop, 1);
        CHECK_EQ(mi->streams[0].starts_with_idr, 1);
    }
    vp_media_info_free(&mi);

    /* Tags, chapters and colour, from a file and from memory (what the library owns is
     * freed by vp_media_info_free: the ASan run checks). */
    char meta[1100], margs[2048];
    snprintf(meta, sizeof(meta), "%s/tp_chapters.txt", media);
    FILE *mf = fopen(meta, "w");
    CHECK(mf != NULL);
    if (mf) {
        fputs(";FFMETADATA1\ntitle=Holiday\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\n"
              "title=Intro\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=500\nEND=1000\n", mf);
        fclose(mf);
    }
    snprintf(margs, sizeof(margs),
             "-f lavfi -i testsrc2=s=64x48:r=10:d=1 -i '%s' -map 0 -map_metadata 1 "
             "-map_chapters 1 -metadata:s:v:0 title=CamA -c:v libx264 -preset ultrafast "
             "-color_primaries bt2020 -color_trc arib-std-b67 -colorspace bt2020nc", meta);
    const char *tagged = gen("tp_tags.mkv", margs);
    for (int pass = 0; pass < 2; pass++) {
        size_t size = 0;
        uint8_t *buf = pass ? slurp(tagged, &size) : NULL;
        CHECK_EQ(pass ? vp_probe_buffer(buf, size, "mem.mkv", NULL, &mi)
                      : vp_probe_file(tagged, NULL, &mi), 0);
        free(buf);
        if (!mi)
            continue;
        CHECK(mi->nb_tags >= 1 && mi->tags);
        int title = 0;
        for (int i = 0; i < mi->nb_tags; i++)
            title += !strcmp(mi->tags[i].key, "title") && !strcmp(mi->tags[i].value, "Holiday");
        CHECK_EQ(title, 1);
        CHECK_EQ(mi->nb_chapters, 2);
        if (mi->nb_chapters == 2) {
            CHECK_NEAR(mi->chapters[0].start, 0.0, 1e-9);
            CHECK_NEAR(mi->chapters[0].end, 0.5, 1e-9);
            CHECK_STR(mi->chapters[0].title, "Intro");
            CHECK_NEAR(mi->chapters[1].end, 1.0, 1e-9);
            CHECK_STR(mi->chapters[1].title, "");
        }
        CHECK_STR(mi->streams[0].color_primaries, "bt2020");
        CHECK_STR(mi->streams[0].color_transfer, "arib-std-b67");
        CHECK_STR(mi->streams[0].color_space, "bt2020nc");
        CHECK(mi->streams[0].nb_tags >= 1 && !strcmp(mi->streams[0].tags[0].key, "title") &&
              !strcmp(mi->streams[0].tags[0].value, "CamA"));
        vp_media_info_free(&mi);
    }

    /* MPEG-TS: no index, packets are counted; parameter sets are in-band. */
    const char *ts = gen("tp_main.ts", "-f lavfi -i testsrc2=s=320x240:r=24:d=3 "
                         "-c:v libx264 -preset ultrafast -g 24 -f mpegts");
    CHECK_EQ(vp_probe_file(ts, NULL, &mi), 0);
    if (mi) {
        CHECK_EQ(mi->streams[0].nb_packets, 72);
        CHECK_EQ(mi->streams[0].nb_frames, 72);
        CHECK_EQ(mi->streams[0].nb_frames_counted, 1);
        CHECK_EQ(mi->streams[0].param_sets, VP_PARAMSETS_INBAND);
        CHECK_EQ(mi->audio_index, -1);
    }
    vp_media_info_free(&mi);
    /* Without counting, a TS has no packet count. */
    vp_probe_default_opts(&o);
    o.count_packets = 0;
    CHECK_EQ(vp_probe_file(ts, &o, &mi), 0);
    if (mi)
        CHECK_EQ(mi->streams[0].nb_packets, -1);
    vp_media_info_free(&mi);

    /* Bounds: a size bound and a time bound stop a long read with their own errors. */
    const char *big = gen("tp_big.ts", "-f lavfi -i testsrc2=s=640x480:r=30:d=20 "
                          "-c:v libx264 -preset ultrafast -qp 10 -f mpegts");
    vp_probe_default_opts(&o);
    o.max_bytes = 200000;
    CHECK_EQ(vp_probe_file(big, &o, &mi), VP_ERR_TOO_LARGE);
    CHECK(mi == NULL);
    vp_probe_default_opts(&o);
    o.timeout_ms = 1;
    CHECK_EQ(vp_probe_file(big, &o, &mi), VP_ERR_TIMEOUT);
    CHECK(mi == NULL);

    /* Bad options and bad input. */
    vp_probe_default_opts(&o);
    o.timeout_ms = -1;
    CHECK_EQ(vp_probe_file(mp4, &o, &mi), VP_ERR_BAD_OPTION);
    CHECK_EQ(vp_probe_file("/nonexistent/x.mp4", NULL, &mi), AVERROR(ENOENT));
    CHECK_EQ(vp_probe_file(media, NULL, &mi), VP_ERR_IS_DIRECTORY);
    CHECK_EQ(vp_probe_buffer((const uint8_t *)"", 0, "empty", NULL, &mi), VP_ERR_EMPTY_FILE);
    static const char text[] = "this is not a video, just text pretending to be one\n";
    CHECK_EQ(vp_probe_buffer((const uint8_t *)text, sizeof(text), "t.mp4", NULL, &mi),
             VP_ERR_NOT_MEDIA);
    CHECK(mi == NULL);
    TEST_END();
}
