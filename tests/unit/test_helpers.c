/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The internal helper library: the parallel runner, the media folder lister, mkdir -p under
 * races, the clock and the error -> exit code map. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "common/helpers.h"
#include "test.h"
#include "vidpipe/vidpipe.h"

/* ---- runner ------------------------------------------------------------------------------ */

#define NB_ITEMS 1000

typedef struct RunCtx {
    atomic_int calls[NB_ITEMS];
    atomic_int workers_made, workers_freed, fail_after;
    atomic_int running, max_running;
    atomic_int stop_at;       /* stop() answers 1 once this many items ran (0: never) */
    atomic_int done;
    atomic_int bad_worker;    /* items run with another state than their worker's */
} RunCtx;

static void run_item(void *opaque, void *worker, size_t i)
{
    RunCtx *c = opaque;
    int now = atomic_fetch_add(&c->running, 1) + 1, max;
    if (worker != c) /* CHECK() counts without locks: only the main thread uses it */
        atomic_fetch_add(&c->bad_worker, 1);
    while ((max = atomic_load(&c->max_running)) < now &&
           !atomic_compare_exchange_weak(&c->max_running, &max, now))
        ;
    usleep(200); /* long enough for every worker to be busy at once */
    atomic_fetch_add(&c->calls[i], 1);
    atomic_fetch_add(&c->done, 1);
    atomic_fetch_sub(&c->running, 1);
}

static void *worker_new(void *opaque)
{
    RunCtx *c = opaque;
    int fa = atomic_load(&c->fail_after);
    if (fa && atomic_load(&c->workers_made) >= fa)
        return NULL;
    atomic_fetch_add(&c->workers_made, 1);
    return c;
}

static void worker_free(void *opaque, void *worker)
{
    RunCtx *c = opaque;
    if (worker != c)
        atomic_fetch_add(&c->bad_worker, 1);
    atomic_fetch_add(&c->workers_freed, 1);
}

static int stop(void *opaque)
{
    RunCtx *c = opaque;
    int at = atomic_load(&c->stop_at);
    return at && atomic_load(&c->done) >= at;
}

static int run(RunCtx *c, int jobs, size_t nb)
{
    VpiRunner r = { .jobs = jobs, .worker_new = worker_new, .worker_free = worker_free,
                    .run = run_item, .stop = stop, .opaque = c };
    return vpi_run(&r, nb);
}

static void test_runner(void)
{
    static RunCtx c;

    /* Every item exactly once, on as many workers as asked (fewer only for fewer items). */
    const int counts[] = { 1, 2, 256 };
    for (int k = 0; k < 3; k++) {
        memset(&c, 0, sizeof(c));
        CHECK_EQ(run(&c, counts[k], NB_ITEMS), counts[k]);
        CHECK_EQ(atomic_load(&c.workers_made), counts[k]);
        CHECK_EQ(atomic_load(&c.workers_freed), counts[k]);
        for (int i = 0; i < NB_ITEMS; i++)
            CHECK_EQ(atomic_load(&c.calls[i]), 1);
        CHECK_INT(atomic_load(&c.max_running), <=, counts[k]);
        CHECK_EQ(atomic_load(&c.bad_worker), 0);
        if (counts[k] == 2)
            CHECK_EQ(atomic_load(&c.max_running), 2);
    }
    memset(&c, 0, sizeof(c));
    CHECK_EQ(run(&c, 8, 3), 3);
    memset(&c, 0, sizeof(c));
    CHECK_EQ(run(&c, 8, 0), 0);
    CHECK_EQ(atomic_load(&c.workers_made), 0);

    /* 300 is above the cap: refused, nothing runs, not quietly run on fewer threads. */
    memset(&c, 0, sizeof(c));
    CHECK_EQ(run(&c, 300, NB_ITEMS), AVERROR(EINVAL));
    CHECK_EQ(run(&c, 0, NB_ITEMS), AVERROR(EINVAL));
    CHECK_EQ(run(&c, VPI_MAX_JOBS + 1, NB_ITEMS), AVERROR(EINVAL));
    CHECK_EQ(atomic_load(&c.workers_made), 0);
    CHECK_EQ(atomic_load(&c.done), 0);

    /* Workers whose state cannot be made are not started; the others do every item. */
    memset(&c, 0, sizeof(c));
    atomic_store(&c.fail_after, 3);
    CHECK_EQ(run(&c, 8, NB_ITEMS), 3);
    CHECK_EQ(atomic_load(&c.done), NB_ITEMS);
    CHECK_EQ(atomic_load(&c.workers_freed), 3);
    memset(&c, 0, sizeof(c));
    atomic_store(&c.fail_after, -1); /* none can be made */
    CHECK_EQ(run(&c, 4, NB_ITEMS), AVERROR(ENOMEM));
    CHECK_EQ(atomic_load(&c.done), 0);

    /* stop(): no item is taken after it says so (those in flight finish). */
    memset(&c, 0, sizeof(c));
    atomic_store(&c.stop_at, 10);
    CHECK_EQ(run(&c, 2, NB_ITEMS), 2);
    CHECK_INT(atomic_load(&c.done), >=, 10);
    CHECK_INT(atomic_load(&c.done), <=, 11);
}

/* ---- lister ------------------------------------------------------------------------------ */

static void touch(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
}

static void test_lister(const char *tmp)
{
    char dir[1024], sub[2048], **paths = NULL;
    size_t nb = 0;
    snprintf(dir, sizeof(dir), "%s/list", tmp);
    CHECK_EQ(mkdir(dir, 0777), 0);

    const char *media[] = { "clip10.MOV", "clip9.mp4", "clip1.mkv", "Bob.M4V", "anna.mp4",
                            "song.flac", "x.ts" };
    const char *other[] = { ".hidden.mp4", "._clip9.mp4", ".clip9.mp4.vptmp-Ab12Cd",
                            "clip9.mp4~", "~$clip9.mp4", "clip9.mp4.part", "notes.txt",
                            "README", "noext." };
    for (size_t i = 0; i < sizeof(media) / sizeof(*media); i++)
        touch(dir, media[i]);
    for (size_t i = 0; i < sizeof(other) / sizeof(*other); i++)
        touch(dir, other[i]);
    snprintf(sub, sizeof(sub), "%s/folder.mp4", dir); /* a folder is not a clip */
    CHECK_EQ(mkdir(sub, 0777), 0);
    snprintf(sub, sizeof(sub), "%s/link.mp4", dir);   /* a link to a clip is one */
    CHECK_EQ(symlink("anna.mp4", sub), 0);
    snprintf(sub, sizeof(sub), "%s/dangling.mp4", dir);
    CHECK_EQ(symlink("nowhere.mp4", sub), 0);

    CHECK_EQ(vpi_media_list(dir, &paths, &nb), 0);
    /* strverscmp: numbers by value (clip9 < clip10), otherwise byte order (B < a). */
    const char *want[] = { "Bob.M4V", "anna.mp4", "clip1.mkv", "clip9.mp4", "clip10.MOV",
                           "link.mp4", "song.flac", "x.ts" };
    CHECK_EQ(nb, sizeof(want) / sizeof(*want));
    for (size_t i = 0; i < nb && i < sizeof(want) / sizeof(*want); i++) {
        char p[2048];
        snprintf(p, sizeof(p), "%s/%s", dir, want[i]);
        CHECK_STR(paths[i], p);
    }
    vpi_paths_free(paths, nb);

    CHECK(vpi_media_name("a.Mp4"));
    CHECK(vpi_media_name("a.b.mov"));
    CHECK(!vpi_media_name(".mp4"));
    CHECK(!vpi_media_name("mp4"));
    CHECK(!vpi_media_name(""));

    /* An empty folder: no paths, no error; a missing one: its errno. */
    snprintf(sub, sizeof(sub), "%s/folder.mp4", dir);
    CHECK_EQ(vpi_media_list(sub, &paths, &nb), 0);
    CHECK_EQ(nb, 0);
    CHECK(paths == NULL);
    snprintf(sub, sizeof(sub), "%s/missing", dir);
    CHECK_EQ(vpi_media_list(sub, &paths, &nb), AVERROR(ENOENT));
    CHECK(paths == NULL);
}

/* ---- mkdir -p ---------------------------------------------------------------------------- */

typedef struct MkdirRace {
    const char *path;
    pthread_barrier_t *go;
    int ret;
} MkdirRace;

static void *mkdir_thread(void *arg)
{
    MkdirRace *m = arg;
    pthread_barrier_wait(m->go);
    m->ret = vpi_mkdir_p(m->path);
    return NULL;
}

static void test_mkdir(const char *tmp)
{
    char path[4096], file[4096];
    struct stat sb;

    /* 16 threads create the same deep path at once, many times: every one succeeds. */
    for (int round = 0; round < 20; round++) {
        pthread_t th[16];
        MkdirRace m[16];
        pthread_barrier_t go;
        snprintf(path, sizeof(path), "%s/race%d/a/b//c/d/e/", tmp, round);
        pthread_barrier_init(&go, NULL, 16);
        for (int t = 0; t < 16; t++) {
            m[t] = (MkdirRace){ path, &go, 1 };
            CHECK_EQ(pthread_create(&th[t], NULL, mkdir_thread, &m[t]), 0);
        }
        for (int t = 0; t < 16; t++) {
            pthread_join(th[t], NULL);
            CHECK_EQ(m[t].ret, 0);
        }
        pthread_barrier_destroy(&go);
        CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
    }
    CHECK_EQ(vpi_mkdir_p(path), 0); /* exists: fine */

    /* A file in the way is an error, at the end or in the middle. */
    snprintf(file, sizeof(file), "%s/afile", tmp);
    touch(tmp, "afile");
    CHECK_EQ(vpi_mkdir_p(file), AVERROR(ENOTDIR));
    snprintf(path, sizeof(path), "%s/afile/sub", tmp);
    CHECK_EQ(vpi_mkdir_p(path), AVERROR(ENOTDIR));
    CHECK_EQ(vpi_mkdir_p(""), AVERROR(ENOENT));
}

/* ---- exit codes and clock ---------------------------------------------------------------- */

static void test_exit_codes(void)
{
    /* README: 0 ok, 1 negative verdict, 2 input unreadable, 3 bad command line, 4 output or
     * internal error. */
    CHECK_EQ(vpi_exit_code(0, VPI_AT_UNKNOWN), 0);
    CHECK_EQ(vpi_exit_code(5, VPI_AT_OUTPUT), 0);
    CHECK_EQ(vpi_exit_code(VP_ERR_NOT_JOINABLE, VPI_AT_INPUT), 1);
    CHECK_EQ(vpi_exit_code(AVERROR(ENOENT), VPI_AT_INPUT), 2);
    CHECK_EQ(vpi_exit_code(AVERROR(ENOENT), VPI_AT_UNKNOWN), 2);
    CHECK_EQ(vpi_exit_code(AVERROR(ENOENT), VPI_AT_OUTPUT), 4);
    CHECK_EQ(vpi_exit_code(AVERROR_INVALIDDATA, VPI_AT_INPUT), 2);
    CHECK_EQ(vpi_exit_code(VP_ERR_TRUNCATED, VPI_AT_UNKNOWN), 2);
    CHECK_EQ(vpi_exit_code(VP_ERR_OUTPUT_IS_INPUT, VPI_AT_OUTPUT), 3);
    CHECK_EQ(vpi_exit_code(VP_ERR_OUTPUT_IS_INPUT, VPI_AT_INPUT), 3);
    const int output_only[] = { AVERROR(ENOSPC), AVERROR(EROFS), AVERROR(EDQUOT),
                                AVERROR(EFBIG), AVERROR(ENOMEM), VP_ERR_BAD_OPTION };
    for (int i = 0; i < 6; i++)
        for (int where = VPI_AT_UNKNOWN; where <= VPI_AT_OUTPUT; where++)
            CHECK_EQ(vpi_exit_code(output_only[i], where), 4);
    CHECK_EQ(vpi_exit_code(AVERROR(ENOTDIR), VPI_AT_UNKNOWN), 4);
    CHECK_EQ(vpi_exit_code(AVERROR(ENOTDIR), VPI_AT_INPUT), 2);
    CHECK_EQ(vpi_exit_code(AVERROR(EEXIST), VPI_AT_UNKNOWN), 4);

    int64_t a = vpi_now_us();
    usleep(20000);
    int64_t b = vpi_now_us();
    CHECK_INT(b - a, >=, 20000);
    CHECK_INT(b - a, <, 5000000);
}

/* The made_from record: the same inputs and settings match; another setting, an input
 * touched (mtime), an input resized or the output rewritten in place do not. */
static void test_made_from(const char *tmp)
{
    char in[1024], out[1024], stamp[VPI_MADE_FROM_SIZE], other[VPI_MADE_FROM_SIZE];
    snprintf(in, sizeof(in), "%s/in.mp4", tmp);
    snprintf(out, sizeof(out), "%s/out.mp4", tmp);
    touch(tmp, "in.mp4");
    touch(tmp, "out.mp4");
    const char *ins[2] = { in, NULL };

    CHECK_EQ(vpi_made_from(ins, 2, "crf=23\n", stamp), 0);
    CHECK_EQ((int)strlen(stamp), 64);
    CHECK_EQ(vpi_made_from_matches(out, stamp), 0);     /* no record yet */
    int ret = vpi_made_from_store(out, stamp);
    if (ret == AVERROR(ENOTSUP)) {
        fprintf(stderr, "no user attributes on %s: the record tests are skipped\n", tmp);
        return;
    }
    CHECK_EQ(ret, 0);
    CHECK_EQ(vpi_made_from_matches(out, stamp), 1);
    CHECK_EQ(vpi_made_from(ins, 2, "crf=23\n", other), 0);
    CHECK_STR(other, stamp);
    CHECK_EQ(vpi_made_from(ins, 2, "crf=24\n", other), 0);
    CHECK_EQ(vpi_made_from_matches(out, other), 0);

    struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000000000, 5 } };
    CHECK_EQ(utimensat(AT_FDCWD, in, ts, 0), 0);      /* an input touched */
    CHECK_EQ(vpi_made_from(ins, 2, "crf=23\n", other), 0);
    CHECK(strcmp(other, stamp) != 0);

    /* The output rewritten in place keeps its attribute, not its size. */
    int fd = open(out, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_EQ(write(fd, "x", 1), 1);
        close(fd);
    }
    CHECK_EQ(vpi_made_from_matches(out, stamp), 0);

    const char *missing[1] = { "/nonexistent/vp.mp4" };
    CHECK_EQ(vpi_made_from(missing, 1, NULL, other), AVERROR(ENOENT));
}

int main(void)
{
    char tmp[] = "/tmp/vp_helpers.XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_runner();
    test_lister(tmp);
    test_mkdir(tmp);
    test_exit_codes();
    test_made_from(tmp);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    TEST_END();
}
