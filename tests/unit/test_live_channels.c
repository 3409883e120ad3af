/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The channels API's epochs (src/live/live_channels.c): a reload that changes the ads
 * changes the schedule once, after every new ad was tried, and only from the first break
 * that had not started when the reload came; what the guide said about the time before
 * that stays as it was, with or without a producer running. Media made with ffmpeg
 * lavfi; the new ads are at 44.1 kHz, so their ingest (conform + loudness) takes a while
 * after vp_channels_reload() returns. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "test.h"
#include "vidpipe/channels.h"

static char dir[512];

typedef struct Log {
    pthread_mutex_t lock;
    int changes;                /* "schedule changes" lines */
} Log;

static Log lg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void log_fn(void *opaque, int level, const char *msg)
{
    Log *l = opaque;
    (void)level;
    pthread_mutex_lock(&l->lock);
    if (strstr(msg, "schedule changes"))
        l->changes++;
    pthread_mutex_unlock(&l->lock);
}

static int changes(void)
{
    pthread_mutex_lock(&lg.lock);
    int n = lg.changes;
    pthread_mutex_unlock(&lg.lock);
    return n;
}

static void make(const char *name, double seconds, int rate)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=25:d=%.2f "
             "-f lavfi -i sine=f=440:sample_rate=%d:d=%.2f -c:v libx264 -preset ultrafast "
             "-g 25 -pix_fmt yuv420p -c:a aac -b:a 96k -ac 2 -t %.2f '%s/%s'",
             seconds, rate, seconds, seconds, dir, name);
    if (t_sh(cmd) != 0)
        TEST_SKIP("ffmpeg could not make %s", name);
}

static void write_config(const char *ads, int64_t start_us)
{
    char path[700], when[64];
    time_t t = (time_t)(start_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(path, sizeof(path), "%s/ch.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        TEST_SKIP("cannot write %s", path);
    fprintf(f, "{\"channels\": [{\"number\": 1, \"name\": \"Epochs\", \"start\": \"%s\", "
               "\"items\": [{\"file\": \"ep.mp4\", \"breaks\": [1.5]}], \"ads\": [%s], "
               "\"ads_per_break\": 2, \"on_demand\": true}]}\n", when, ads);
    fclose(f);
}

static int64_t wall_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* The guide from the channel's start for 60 s. */
static int guide(VpChannels *c, int64_t origin, VpProgramme **items, int *nb)
{
    int ret = vp_channel_schedule(c, 1, origin, origin + 60000000, items, nb);
    CHECK_EQ(ret, 0);
    return ret;
}

/* Every break has its two ads: a part cut at a break point is followed by an ad. */
static int breaks_whole(const VpProgramme *p, int nb)
{
    for (int i = 0; i + 2 < nb; i++)
        if (p[i].kind == VP_PROG_EPISODE && p[i].break_at >= 0 &&
            (p[i + 1].kind != VP_PROG_AD || p[i + 2].kind != VP_PROG_AD))
            return 0;
    return 1;
}

static int same(const VpProgramme *a, const VpProgramme *b)
{
    return a->kind == b->kind && a->start_us == b->start_us && a->stop_us == b->stop_us &&
           !strcmp(a->file, b->file);
}

static int has_file(const VpProgramme *p, int nb, const char *file)
{
    for (int i = 0; i < nb; i++)
        if (!strcmp(p[i].file, file))
            return 1;
    return 0;
}

static void test_reload_epoch(void)
{
    make("ep.mp4", 3.0, 48000);
    make("adA.mp4", 1.0, 48000);
    make("adB.mp4", 1.2, 44100);
    make("adC.mp4", 1.4, 44100);
    /* the channel started 20 s ago: its first breaks are past */
    int64_t origin = (wall_now() / 1000000 - 20) * 1000000;
    write_config("\"adA.mp4\"", origin);

    char path[700], cache[700];
    snprintf(path, sizeof(path), "%s/ch.json", dir);
    snprintf(cache, sizeof(cache), "%s/cache", dir);
    VpChannelsOpts o;
    vp_channels_default_opts(&o);
    o.cache_dir = cache;
    o.logger = (VpLogger){ log_fn, &lg, VP_LOG_INFO };
    VpChannels *c = NULL;
    VpFailure fail;
    memset(&fail, 0, sizeof(fail));
    int ret = vp_channels_open(path, &o, &c, &fail);
    CHECK_EQ(ret, 0);
    if (ret < 0) {
        fprintf(stderr, "  %s\n", fail.message);
        return;
    }
    VpChannelInfo ci = { 0 };
    for (int i = 0; i < 300 && !ci.ready; i++) {
        CHECK_EQ(vp_channels_info(c, 0, &ci), 0);
        if (!ci.ready)
            usleep(50000);
    }
    CHECK(ci.ready);
    VpProgramme *before = NULL, *during = NULL, *after = NULL;
    int nb_before = 0, nb_during = 0, nb_after = 0;
    if (!ci.ready || guide(c, origin, &before, &nb_before) < 0)
        goto end;
    CHECK(nb_before > 10);
    CHECK(breaks_whole(before, nb_before));
    CHECK(!has_file(before, nb_before, "adB.mp4"));

    /* the ads change to two files never ingested: while they are, the guide stays */
    write_config("\"adB.mp4\", \"adC.mp4\"", origin);
    int changes0 = changes();
    int64_t reload_us = wall_now();
    CHECK_EQ(vp_channels_reload(c, &fail), 0);
    if (guide(c, origin, &during, &nb_during) < 0)
        goto end;
    CHECK(breaks_whole(during, nb_during));
    if (!has_file(during, nb_during, "adB.mp4")) {
        CHECK_EQ(nb_during, nb_before);
        for (int i = 0; i < nb_during && i < nb_before; i++)
            CHECK(same(&during[i], &before[i]));
    }

    /* once they are in, the guide changes once, from a break that had not started */
    for (int i = 0; i < 400; i++) {
        free(after);
        after = NULL;
        if (guide(c, origin, &after, &nb_after) < 0 || has_file(after, nb_after, "adB.mp4"))
            break;
        usleep(50000);
    }
    CHECK(has_file(after, nb_after, "adB.mp4"));
    CHECK(breaks_whole(after, nb_after));
    CHECK_EQ(changes() - changes0, 1);
    int k = 0;
    while (k < nb_after && k < nb_before && same(&after[k], &before[k]))
        k++;
    CHECK(k < nb_after);
    if (k < nb_after) {
        fprintf(stderr, "reload at %.3f s of the channel; the guide changes from %.3f s (%s)\n",
                (reload_us - origin) / 1e6, (after[k].start_us - origin) / 1e6, after[k].file);
        /* nothing that had started changes, and the change is at a break's start */
        CHECK(after[k].start_us >= reload_us);
        CHECK(k > 0 && after[k - 1].kind == VP_PROG_EPISODE && after[k - 1].break_at >= 0);
        CHECK_EQ(after[k].kind, VP_PROG_AD);
    }
    for (int i = k; i < nb_after; i++)
        CHECK(strcmp(after[i].file, "adA.mp4"));
end:
    free(before);
    free(during);
    free(after);
    vp_channels_close(&c);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/vptest_live_channels.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        TEST_SKIP("cannot make a temporary folder");
    test_reload_epoch();
    char cmd[700];
    if (!test_failures) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        t_sh(cmd);
    } else {
        fprintf(stderr, "media and cache kept in %s\n", dir);
    }
    TEST_END();
}
