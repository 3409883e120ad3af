/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The personalized HLS API (vidpipe/hls.h): option and name checks with their messages, the
 * shared segments written once and reused, one packager used by several threads at once
 * (every person complete, the same clip giving the same bytes), a person redone into a
 * fresh folder (the old one removed after the switch, kept when the redo fails), a clip
 * that cannot follow the intro, cancel. The playlists and files themselves are judged by
 * tests/cli/cli_batch_hls.sh. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "test.h"
#include "vidpipe/hls.h"

static char dir[256];

static void make(const char *name, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y %s '%s/%s'", args, dir, name);
    if (t_sh(cmd) != 0)
        TEST_SKIP("ffmpeg could not make %s", name);
}

static char *path(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static long long mtime_ns(const char *p)
{
    struct stat sb;
    return stat(p, &sb) ? -1 : (long long)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

typedef struct Job {
    VpHlsPackager *pk;
    int first, nb;
    int failed;
} Job;

static void *worker(void *arg)
{
    Job *j = arg;
    for (int i = j->first; i < j->first + j->nb; i++) {
        char name[32];
        VpHlsStats st;
        VpFailure f;
        snprintf(name, sizeof(name), "p%02d", i);
        if (vp_hls_packager_person(j->pk, path("clip.mp4"), name, &st, &f) < 0 ||
            st.nb_personal != 2 || st.nb_audio_reencoded < 1 || st.personal_bytes <= 0)
            j->failed++;
    }
    return NULL;
}

static int stop_now(void *opaque)
{
    (void)opaque;
    return 1;
}

int main(void)
{
    snprintf(dir, sizeof(dir), "%s/vp-hls-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    const char *av = "-f lavfi -i testsrc2=s=64x96:r=24:d=%s -f lavfi -i sine=f=%s:r=48000:d=%s "
                     "-c:v libx264 -preset ultrafast -g 24 -pix_fmt yuv420p -c:a aac";
    char args[512];
    snprintf(args, sizeof(args), av, "2", "440", "2");
    make("intro.mp4", args);
    snprintf(args, sizeof(args), av, "1", "660", "1");
    make("outro.mp4", args);
    snprintf(args, sizeof(args), av, "1.5", "880", "1.5");
    make("clip.mp4", args);
    make("wide.mp4", "-f lavfi -i testsrc2=s=96x64:r=24:d=1 -c:v libx264 -preset ultrafast "
                     "-pix_fmt yuv420p");

    VpHlsOpts o;
    VpFailure f;
    VpHlsPackager *pk = NULL;
    vp_hls_default_opts(&o);
    CHECK_NEAR(o.target, 6, 0);
    CHECK_EQ(o.durable, 1);
    CHECK_NEAR(o.keep_old, 3600, 0);

    /* options and arguments */
    o.target = 0.5;
    CHECK_EQ(vp_hls_packager_new(path("out"), path("intro.mp4"), path("outro.mp4"), &o, &pk, &f),
             VP_ERR_BAD_OPTION);
    CHECK(pk == NULL);
    CHECK(strstr(f.message, "hls options: target: value 0.5 is out of range 1..60") != NULL);
    o.target = 0.0 / 0.0;
    CHECK_EQ(vp_hls_packager_new(path("out"), path("intro.mp4"), path("outro.mp4"), &o, &pk, &f),
             VP_ERR_BAD_OPTION);
    vp_hls_default_opts(&o);
    o.target = 1;
    CHECK_EQ(vp_hls_packager_new(path("out"), NULL, path("outro.mp4"), &o, &pk, &f),
             VP_ERR_BAD_OPTION);
    CHECK(strstr(f.message, "needs both an intro and an outro") != NULL);
    CHECK(!exists(path("out")));
    CHECK_EQ(vp_hls_packager_new(path("out"), path("wide.mp4"), path("outro.mp4"), &o, &pk, &f),
             VP_ERR_NOT_JOINABLE);
    CHECK_EQ(f.input, 0);
    CHECK(strstr(f.message, "wide.mp4: has no audio") != NULL);

    /* the shared segments, written once */
    CHECK_EQ(vp_hls_packager_new(path("out"), path("intro.mp4"), path("outro.mp4"), &o, &pk, &f),
             0);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "test $(ls -d '%s'/out/shared/intro-* '%s'/out/shared/outro-* | "
             "wc -l) = 2", dir, dir);
    CHECK_EQ(t_sh(cmd), 0);
    snprintf(cmd, sizeof(cmd), "ls '%s'/out/shared/intro-*/0.m4s > '%s/seg0'", dir, dir);
    t_sh(cmd);
    char seg0[512] = "";
    FILE *fp = fopen(path("seg0"), "r");
    if (fp) {
        if (!fgets(seg0, sizeof(seg0), fp))
            seg0[0] = 0;
        fclose(fp);
    }
    seg0[strcspn(seg0, "\n")] = 0;
    long long m0 = mtime_ns(seg0);
    CHECK(m0 > 0);
    VpHlsPackager *again = NULL;
    CHECK_EQ(vp_hls_packager_new(path("out"), path("intro.mp4"), path("outro.mp4"), &o, &again,
                                 &f), 0);
    CHECK_EQ(mtime_ns(seg0), m0);
    vp_hls_packager_free(&again);
    CHECK(again == NULL);

    /* names */
    const char *bad[] = { "", "a/b", ".hidden", "shared" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        CHECK_EQ(vp_hls_packager_person(pk, path("clip.mp4"), bad[i], NULL, &f),
                 VP_ERR_BAD_OPTION);
        CHECK(strstr(f.message, "not a plain file name") != NULL);
    }

    /* one packager, four threads, twelve people (the 1.5 s clip: two 1 s-target segments) */
    pthread_t th[4];
    Job jobs[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (Job){ pk, t * 3, 3, 0 };
        pthread_create(&th[t], NULL, worker, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ(jobs[t].failed, 0);
    }
    for (int i = 0; i < 12; i++) {
        char p[64];
        snprintf(p, sizeof(p), "out/p%02d.m3u8", i);
        CHECK(exists(path(p)));
        snprintf(cmd, sizeof(cmd), "cd '%s/out' && cmp -s p%02d/*/0.m4s p00/*/0.m4s", dir, i);
        CHECK_EQ(t_sh(cmd), 0);
    }

    /* A person redone gets a fresh folder; the old one, marked superseded, stays for the
     * old playlist's viewers (keep_old, an hour by default). A redo that fails leaves the
     * old playlist and folder as they were. */
    snprintf(cmd, sizeof(cmd), "cd '%s/out' && ls p01 > ../before && grep -q \"^p01/$(cat "
             "../before)/0.m4s$\" p01.m3u8", dir);
    CHECK_EQ(t_sh(cmd), 0);
    VpHlsStats st;
    int64_t own, shared;
    CHECK_EQ(vp_hls_packager_person(pk, path("clip.mp4"), "p01", &st, &f), 0);
    /* what the playlist is made of: the person's own files as written, the shared ones */
    CHECK_EQ(vp_hls_playlist_bytes(path("out"), "p01", &own, &shared), 0);
    CHECK_EQ(own, st.personal_bytes);
    CHECK_EQ(shared, st.shared_bytes);
    CHECK(shared > 0);
    CHECK_EQ(vp_hls_playlist_bytes(path("out"), "nobody", &own, &shared), AVERROR(ENOENT));
    CHECK_EQ(own, 0);
    snprintf(cmd, sizeof(cmd), "printf '#EXTM3U\\n../intro.mp4\\n' > '%s/out/up.m3u8'", dir);
    CHECK_EQ(t_sh(cmd), 0);
    CHECK_EQ(vp_hls_playlist_bytes(path("out"), "up", &own, &shared), AVERROR_INVALIDDATA);
    snprintf(cmd, sizeof(cmd), "cd '%s/out' && ls p01 > ../after && test $(wc -l < ../after) = 2 "
             "&& grep -qx \"$(cat ../before)\" ../after && test -e p01/$(cat ../before)/.superseded "
             "&& n=$(grep -vx \"$(cat ../before)\" ../after) && ! test -e p01/$n/.superseded "
             "&& grep -q \"^p01/$n/0.m4s$\" p01.m3u8 && cmp -s p01/$n/0.m4s p00/*/0.m4s", dir);
    CHECK_EQ(t_sh(cmd), 0);

    /* a clip that cannot follow the intro */
    CHECK_EQ(vp_hls_packager_person(pk, path("wide.mp4"), "wide", NULL, &f), VP_ERR_NOT_JOINABLE);
    CHECK_EQ(f.input, 1);
    CHECK(strstr(f.message, "wide.mp4: video is 96x64, the join needs 64x96") != NULL);
    CHECK(!exists(path("out/wide.m3u8")));
    vp_hls_packager_free(&pk);

    /* cancel */
    o.cancel = (VpCancel){ stop_now, NULL };
    CHECK_EQ(vp_hls_packager_new(path("out"), path("intro.mp4"), path("outro.mp4"), &o, &pk, &f),
             0); /* reused: nothing to cancel */
    CHECK_EQ(vp_hls_packager_person(pk, path("clip.mp4"), "late", NULL, &f), VP_ERR_CANCELLED);
    CHECK(!exists(path("out/late.m3u8")));
    snprintf(cmd, sizeof(cmd), "cd '%s/out' && cp p02.m3u8 ../p02.m3u8 && ls p02 > ../before",
             dir);
    CHECK_EQ(t_sh(cmd), 0);
    CHECK_EQ(vp_hls_packager_person(pk, path("clip.mp4"), "p02", NULL, &f), VP_ERR_CANCELLED);
    snprintf(cmd, sizeof(cmd), "cd '%s/out' && cmp -s p02.m3u8 ../p02.m3u8 && ls p02 > ../after "
             "&& cmp -s ../before ../after && test -s p02/$(cat ../after)/0.m4s", dir);
    CHECK_EQ(t_sh(cmd), 0);
    vp_hls_packager_free(&pk);
    vp_hls_packager_free(&pk);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    t_sh(cmd);
    TEST_END();
}
