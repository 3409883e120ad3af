/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The S3 storage (src/service/storage_s3.c) through the storage interface, against a real
 * s3rver behind tests/s3/s3_proxy.py (signature checks and faults), as started by
 * tests/s3/storage_s3_test.py, which passes VP_S3_SPEC (the storage), VP_S3_CTL (the proxy's
 * control URL) and VP_S3_WORK (a scratch folder). Without them: skipped. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>
#include <libavutil/time.h>

#include "service/storage.h"
#include "test.h"

static const char *spec, *ctl_url, *work;
static char scratch[4096];

static size_t to_buf(char *data, size_t size, size_t n, void *opaque)
{
    AVBPrint *bp = opaque;
    av_bprint_append_data(bp, data, (unsigned)(size * n));
    return size * n;
}

/* GET @p url; the body into @p bp. @return the HTTP status, or -1. */
static long http_get(const char *url, AVBPrint *bp)
{
    CURL *h = curl_easy_init();
    long status = -1;
    if (!h)
        return -1;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, bp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return status;
}

static size_t etag_header(char *data, size_t size, size_t n, void *opaque)
{
    char *etag = opaque;
    if (size * n > 5 && !strncasecmp(data, "etag:", 5)) {
        int len = (int)(size * n) - 5;
        snprintf(etag, 128, "%.*s", len, data + 5);
        etag[strcspn(etag, "\r\n")] = 0;
        memmove(etag, etag + strspn(etag, " "), strlen(etag + strspn(etag, " ")) + 1);
    }
    return size * n;
}

/* PUT @p data to @p url as a client would, the answer's ETag into @p etag (128 bytes). */
static long http_put(const char *url, const uint8_t *data, size_t size, char *etag)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    AVBPrint bp;
    long status = -1;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    etag[0] = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)size);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, etag_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, etag);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &bp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    av_bprint_finalize(&bp, NULL);
    return status;
}

static void faults(const char *query)
{
    char url[512];
    AVBPrint bp;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    snprintf(url, sizeof(url), "%s/%s", ctl_url, query);
    CHECK_EQ(http_get(url, &bp), 200);
    av_bprint_finalize(&bp, NULL);
}

static long long stat_of(const char *name)
{
    char url[512];
    AVBPrint bp;
    long long v = -1;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    snprintf(url, sizeof(url), "%s/stats", ctl_url);
    if (http_get(url, &bp) == 200) {
        json_t *j = json_loads(bp.str, 0, NULL);
        json_t *x = j ? json_object_get(j, name) : NULL;
        if (x && json_is_integer(x))
            v = json_integer_value(x);
        json_decref(j);
    }
    av_bprint_finalize(&bp, NULL);
    return v;
}

/* @p size bytes of a pattern that differs for each @p seed (and in every 16 bytes). */
static uint8_t *pattern(size_t size, unsigned seed)
{
    uint8_t *b = av_malloc(size ? size : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; b && i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (uint8_t)x;
    }
    return b;
}

static const char *write_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[4200];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", scratch, name);
    if (!(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size) {
        T_FAIL("cannot write %s", path);
    }
    if (f)
        fclose(f);
    return path;
}

/* The bytes behind @p fd (from its start) equal @p data? */
static int same_fd(int fd, const uint8_t *data, size_t size)
{
    uint8_t buf[65536];
    size_t off = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        if (off + (size_t)n > size || memcmp(buf, data + off, (size_t)n))
            return 0;
        off += (size_t)n;
    }
    return n == 0 && off == size;
}

static int same_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_RDONLY), r;
    if (fd < 0)
        return 0;
    r = same_fd(fd, data, size);
    close(fd);
    return r;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void check_object(VpiStorage *st, const char *key, const uint8_t *data, size_t size)
{
    VpiObject o;
    int ret = vpi_storage_open_read(st, key, &o);
    CHECK_EQ(ret, 0);
    if (ret < 0)
        return;
    CHECK_EQ(o.size, (long long)size);
    CHECK(o.mtime > 1700000000);
    CHECK(same_fd(o.fd, data, size));
    close(o.fd);
}

static void test_open_errors(void)
{
    char reason[512] = "";
    VpiStorage *st = NULL;
    char bad[1024];
    /* a bucket that is not there: the reason names it and S3's code */
    snprintf(bad, sizeof(bad), "s3://no-such-bucket%s", strchr(spec + 5, '/'));
    CHECK(vpi_storage_open(bad, &st, reason, sizeof(reason)) < 0);
    CHECK(st == NULL);
    fprintf(stderr, "no bucket: %s\n", reason);
    CHECK(strstr(reason, "NoSuchBucket") != NULL);
    CHECK(strstr(reason, "no-such-bucket") != NULL);

    snprintf(bad, sizeof(bad), "%s&colour=blue", spec);
    CHECK_EQ(vpi_storage_open(bad, &st, reason, sizeof(reason)), AVERROR(EINVAL));
    CHECK(strstr(reason, "unknown option \"colour\"") != NULL);
    CHECK_EQ(vpi_storage_open("s3://UPPER/x", &st, reason, sizeof(reason)), AVERROR(EINVAL));
    CHECK(strstr(reason, "bucket name") != NULL);
    CHECK_EQ(vpi_storage_open("s3://bucket/../x", &st, reason, sizeof(reason)),
             AVERROR(EINVAL));

    /* no credentials anywhere */
    char *id = av_strdup(getenv("AWS_ACCESS_KEY_ID")), *home = av_strdup(getenv("HOME"));
    char *secret = av_strdup(getenv("AWS_SECRET_ACCESS_KEY"));
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("HOME", scratch, 1);
    CHECK_EQ(vpi_storage_open(spec, &st, reason, sizeof(reason)), AVERROR(EINVAL));
    CHECK(strstr(reason, "no credentials") != NULL);
    /* ... then from a credentials file */
    char cred[4200];
    snprintf(cred, sizeof(cred), "%s/.aws", scratch);
    mkdir(cred, 0700);
    snprintf(cred, sizeof(cred), "%s/.aws/credentials", scratch);
    FILE *f = fopen(cred, "w");
    if (f) {
        fprintf(f, "[other]\naws_access_key_id = NOPE\n[default]\naws_access_key_id = %s\n"
                "aws_secret_access_key = %s\n", id, secret);
        fclose(f);
    }
    unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK_EQ(vpi_storage_open(spec, &st, reason, sizeof(reason)), 0);
    vpi_storage_close(&st);
    unlink(cred);
    snprintf(cred, sizeof(cred), "%s/.aws", scratch);
    rmdir(cred);
    setenv("AWS_ACCESS_KEY_ID", id, 1);
    setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
    setenv("HOME", home, 1);
    av_free(id);
    av_free(secret);
    av_free(home);
}

static void test_objects(VpiStorage *st)
{
    const size_t small = 300 * 1024 + 7, big = 13 * 1024 * 1024 + 11;  /* big: 3 parts */
    uint8_t *a = pattern(small, 1), *b = pattern(big, 2);
    char path[4200];
    int is_copy = 0;

    /* put: the local file is gone once stored */
    const char *src = write_file("a", a, small);
    CHECK_EQ(vpi_storage_put(st, "videos/1/original", src), 0);
    CHECK(!exists(src));
    check_object(st, "videos/1/original", a, small);

    /* replacing an object */
    uint8_t *a2 = pattern(small / 2, 3);
    CHECK_EQ(vpi_storage_put(st, "videos/1/original", write_file("a2", a2, small / 2)), 0);
    check_object(st, "videos/1/original", a2, small / 2);

    /* above multipart_above (6 MiB here): a multipart upload of 5 MiB parts */
    long long posts = stat_of("requests");
    CHECK_EQ(vpi_storage_put(st, "videos/1/big.mp4", write_file("b", b, big)), 0);
    CHECK(stat_of("requests") - posts >= 5);    /* create, 3 parts, complete */
    CHECK_EQ(vpi_storage_fetch(st, "videos/1/big.mp4", scratch, path, sizeof(path), &is_copy),
             0);
    CHECK_EQ(is_copy, 1);
    CHECK(!strncmp(path, scratch, strlen(scratch)));
    CHECK(same_file(path, b, big));
    unlink(path);

    /* missing objects */
    VpiObject o;
    CHECK_EQ(vpi_storage_open_read(st, "videos/9/none", &o), AVERROR(ENOENT));
    CHECK_EQ(vpi_storage_fetch(st, "videos/9/none", scratch, path, sizeof(path), &is_copy),
             AVERROR(ENOENT));
    CHECK(!exists(path));

    /* a presigned GET, fetched by a client that is not vidpipe (through the proxy, which
     * checks the query signature) */
    char *url = NULL;
    CHECK_EQ(vpi_storage_presign_get(st, "videos/1/original", 300, &url), 0);
    if (url) {
        AVBPrint bp;
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
        long long pre = stat_of("presigned");
        CHECK_EQ(http_get(url, &bp), 200);
        CHECK_EQ(bp.len, small / 2);
        CHECK(bp.len == small / 2 && !memcmp(bp.str, a2, small / 2));
        CHECK_EQ(stat_of("presigned") - pre, 1);
        CHECK(strstr(url, "/vidpipe-test/pfx/videos/1/original?") != NULL);
        av_bprint_finalize(&bp, NULL);
        av_free(url);
    }

    /* presigned for clients that reach the server by another name (public_endpoint) */
    VpiStorage *pub = NULL;
    char pspec[2048], reason[512];
    const char *port = strrchr(strstr(spec, "endpoint=") + 9, ':');
    snprintf(pspec, sizeof(pspec), "%s&public_endpoint=http://localhost%.*s/", spec,
             (int)strspn(port, ":0123456789"), port);
    CHECK_EQ(vpi_storage_open(pspec, &pub, reason, sizeof(reason)), 0);
    if (pub) {
        CHECK_EQ(vpi_storage_presign_get(pub, "videos/1/original", 60, &url), 0);
        CHECK(url && !strncmp(url, "http://localhost:", 17));
        AVBPrint bp;
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
        CHECK_EQ(url ? http_get(url, &bp) : 0, 200);
        CHECK(bp.len == small / 2 && !memcmp(bp.str, a2, small / 2));
        av_bprint_finalize(&bp, NULL);
        av_freep(&url);
        vpi_storage_close(&pub);
    }
    snprintf(pspec, sizeof(pspec), "%s&public_endpoint=ftp://x", spec);
    CHECK_EQ(vpi_storage_open(pspec, &pub, reason, sizeof(reason)), AVERROR(EINVAL));
    CHECK(strstr(reason, "endpoint ftp://x must be") != NULL);

    /* remove_prefix: all of videos/1/, nothing of videos/10/ */
    CHECK_EQ(vpi_storage_put(st, "videos/10/keep", write_file("k", a, 100)), 0);
    CHECK_EQ(vpi_storage_remove_prefix(st, "videos/1/"), 0);
    CHECK_EQ(vpi_storage_open_read(st, "videos/1/original", &o), AVERROR(ENOENT));
    CHECK_EQ(vpi_storage_open_read(st, "videos/1/big.mp4", &o), AVERROR(ENOENT));
    check_object(st, "videos/10/keep", a, 100);
    CHECK_EQ(vpi_storage_remove_prefix(st, "videos/1/"), 0);     /* none left: fine */

    /* more keys than one page of a listing holds is S3's 1000; 30 small ones at least go
     * through a DeleteObjects of several keys */
    for (int i = 0; i < 30; i++) {
        char key[64];
        snprintf(key, sizeof(key), "videos/10/t%d", i);
        CHECK_EQ(vpi_storage_put(st, key, write_file("t", a, 10 + i)), 0);
    }
    CHECK_EQ(vpi_storage_remove_prefix(st, "videos/10/"), 0);
    CHECK_EQ(vpi_storage_open_read(st, "videos/10/t29", &o), AVERROR(ENOENT));
    av_free(a);
    av_free(a2);
    av_free(b);
}

static void test_faults(VpiStorage *st)
{
    const size_t big = 7 * 1024 * 1024 + 3;
    uint8_t *b = pattern(big, 5), *s = pattern(40000, 6);
    char path[4200];
    int is_copy;
    VpiObject o;

    /* every 3rd request answered 503: retried with backoff, nothing lost */
    faults("faults?every503=3");
    CHECK_EQ(vpi_storage_put(st, "videos/2/original", write_file("s", s, 40000)), 0);
    CHECK_EQ(vpi_storage_put(st, "videos/2/big", write_file("b", b, big)), 0);
    check_object(st, "videos/2/original", s, 40000);
    CHECK(stat_of("injected_503") >= 2);
    faults("faults?every503=0");

    /* every 2nd download cut halfway: the fetch resumes with Range requests */
    long long ranges = stat_of("range_requests");
    faults("faults?drop_get=2");
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(vpi_storage_fetch(st, "videos/2/big", scratch, path, sizeof(path), &is_copy),
                 0);
        CHECK(same_file(path, b, big));
        unlink(path);
    }
    check_object(st, "videos/2/big", b, big);
    faults("faults?drop_get=0");
    CHECK(stat_of("dropped_get") >= 2);
    CHECK(stat_of("range_requests") - ranges >= 2);

    /* every 2nd upload body cut: the PUT is sent again */
    faults("faults?drop_put=2");
    CHECK_EQ(vpi_storage_put(st, "videos/2/original", write_file("s", s, 40000)), 0);
    CHECK_EQ(vpi_storage_put(st, "videos/2/third", write_file("s", s, 30000)), 0);
    faults("faults?drop_put=0");
    CHECK(stat_of("dropped_put") >= 1);
    check_object(st, "videos/2/third", s, 30000);

    /* a 4xx is not retried: one request, and the error says what */
    long long before = stat_of("requests");
    faults("faults?fail_next=400");
    const char *src = write_file("s", s, 1000);
    CHECK_EQ(vpi_storage_put(st, "videos/2/x", src), AVERROR(EINVAL));
    CHECK_EQ(stat_of("requests") - before, 1);
    CHECK(exists(src));             /* not stored: the file stays the caller's */
    unlink(src);

    /* 503 for ever: gives up after the retries (5 here) with an error */
    before = stat_of("requests");
    faults("faults?every503=1");
    CHECK_EQ(vpi_storage_open_read(st, "videos/2/original", &o), AVERROR(EIO));
    CHECK_EQ(stat_of("requests") - before, 6);
    faults("faults?every503=0");

    /* a server that goes silent: the request times out (timeout=1 here) and is sent again */
    VpiStorage *quick = NULL;
    char reason[512], qspec[2048];
    snprintf(qspec, sizeof(qspec), "%s&timeout=1", spec);
    reason[0] = 0;
    CHECK_EQ(vpi_storage_open(qspec, &quick, reason, sizeof(reason)), 0);
    if (!quick)
        fprintf(stderr, "%s\n", reason);
    if (quick) {
        faults("faults?stall_next=4");
        int64_t t0 = av_gettime_relative();
        check_object(quick, "videos/2/third", s, 30000);
        int64_t took = av_gettime_relative() - t0;
        CHECK_EQ(stat_of("stalled"), 1);
        CHECK(took >= 900000 && took < 3500000);   /* gave up after ~1 s, not the 4 s */
        vpi_storage_close(&quick);
    }

    CHECK_EQ(vpi_storage_remove_prefix(st, "videos/2/"), 0);
    av_free(b);
    av_free(s);
}

typedef struct Worker {
    VpiStorage *st;
    int id;
    int failures;
} Worker;

static void *worker_run(void *opaque)
{
    Worker *w = opaque;
    for (int i = 0; i < 6; i++) {
        char key[64], name[64], path[4200];
        size_t n = 5000 + 977 * (size_t)(w->id * 6 + i);
        uint8_t *d = pattern(n, 100 + w->id * 6 + i);
        int is_copy;
        snprintf(key, sizeof(key), "videos/5/w%d-%d", w->id, i);
        snprintf(name, sizeof(name), "w%d-%d", w->id, i);
        snprintf(path, sizeof(path), "%s/%s", scratch, name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(d, 1, n, f) != n)
            w->failures++;
        if (f)
            fclose(f);
        if (vpi_storage_put(w->st, key, path) < 0 ||
            vpi_storage_fetch(w->st, key, scratch, path, sizeof(path), &is_copy) < 0 ||
            !same_file(path, d, n))
            w->failures++;
        unlink(path);
        av_free(d);
    }
    return NULL;
}

/* One storage, several threads at once (the service's workers and HTTP threads): curl's
 * shared connections and DNS cache under their locks. */
static void test_threads(VpiStorage *st)
{
    pthread_t t[4];
    Worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (Worker){ st, i, 0 };
        pthread_create(&t[i], NULL, worker_run, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(w[i].failures, 0);
    }
    /* an empty object, and a key of every allowed kind of character */
    VpiObject o;
    CHECK_EQ(vpi_storage_put(st, "videos/5/empty", write_file("e", (const uint8_t *)"", 0)), 0);
    check_object(st, "videos/5/empty", (const uint8_t *)"", 0);
    CHECK_EQ(vpi_storage_put(st, "videos/5/a-b_c.d9", write_file("e", (const uint8_t *)"x", 1)),
             0);
    check_object(st, "videos/5/a-b_c.d9", (const uint8_t *)"x", 1);
    CHECK_EQ(vpi_storage_remove_prefix(st, "videos/5/"), 0);
    CHECK_EQ(vpi_storage_open_read(st, "videos/5/w3-5", &o), AVERROR(ENOENT));
}

static void sha_of(const uint8_t *a, size_t n, uint8_t out[32]);

typedef struct Racer {
    VpiStorage *st;
    pthread_barrier_t *go;
    const char *upload;
    int number;
    const uint8_t *data;
    size_t size;
    int ret;
} Racer;

static void *racer_run(void *opaque)
{
    Racer *r = opaque;
    char name[64], path[4200];
    snprintf(name, sizeof(name), "race-%s-%d", r->upload, r->number);
    snprintf(path, sizeof(path), "%s/%s", scratch, name);
    FILE *f = fopen(path, "wb");
    r->ret = f && fwrite(r->data, 1, r->size, f) == r->size ? 0 : -1;
    if (f)
        fclose(f);
    pthread_barrier_wait(r->go);
    if (r->ret == 0)
        r->ret = vpi_storage_put_part(r->st, r->upload, r->number, path);
    unlink(path);
    return NULL;
}

/* Two API nodes (two storages: no lock in common) take the first two parts of one upload at
 * the same instant, 8 times: each time one multipart upload wins, and composing works. */
static void test_two_nodes(VpiStorage *a)
{
    const size_t part = 5 * 1024 * 1024, last = 1000;
    uint8_t *all = pattern(part + last, 9), digest[32];
    VpiStorage *b = NULL;
    char reason[512];
    CHECK_EQ(vpi_storage_open(spec, &b, reason, sizeof(reason)), 0);
    if (!b)
        return;
    sha_of(all, part + last, digest);
    for (int i = 0; i < 8; i++) {
        char upload[16], key[64];
        pthread_barrier_t go;
        pthread_t t[2];
        snprintf(upload, sizeof(upload), "race%d", i);
        pthread_barrier_init(&go, NULL, 2);
        Racer r[2] = { { a, &go, upload, 1, all, part, 0 },
                       { b, &go, upload, 2, all + part, last, 0 } };
        for (int j = 0; j < 2; j++)
            pthread_create(&t[j], NULL, racer_run, &r[j]);
        for (int j = 0; j < 2; j++)
            pthread_join(t[j], NULL);
        pthread_barrier_destroy(&go);
        CHECK_EQ(r[0].ret, 0);
        CHECK_EQ(r[1].ret, 0);
        snprintf(key, sizeof(key), "videos/6/%d", i);
        reason[0] = 0;
        CHECK_EQ(vpi_storage_compose(a, upload, 2, key, part + last, digest, reason,
                                     sizeof(reason)), 0);
        if (reason[0])
            fprintf(stderr, "%s: %s\n", upload, reason);
        CHECK_EQ(vpi_storage_remove_parts(b, upload), 0);
    }
    fprintf(stderr, "two nodes: %lld conditional writes lost\n",
            stat_of("precondition_failed"));
    check_object(a, "videos/6/7", all, part + last);
    CHECK_EQ(vpi_storage_remove_prefix(a, "videos/6/"), 0);
    vpi_storage_close(&b);
    av_free(all);
}

static void sha_of(const uint8_t *a, size_t n, uint8_t out[32])
{
    struct AVSHA *sha = av_sha_alloc();
    av_sha_init(sha, 256);
    av_sha_update(sha, a, (unsigned)n);
    av_sha_final(sha, out);
    av_free(sha);
}

static void test_uploads(VpiStorage *st)
{
    const size_t part = 5 * 1024 * 1024, last = 123457, total = 2 * part + last;
    uint8_t *all = pattern(total, 7), *wrong = pattern(part, 8), digest[32], bad[32];
    char reason[512];
    VpiObject o;
    sha_of(all, total, digest);
    memcpy(bad, digest, 32);
    bad[5] ^= 1;

    /* parts in any order, part 2 first sent wrong then again right (a client's retry) */
    CHECK_EQ(vpi_storage_put_part(st, "u1", 3, write_file("p3", all + 2 * part, last)), 0);
    CHECK_EQ(vpi_storage_put_part(st, "u1", 1, write_file("p1", all, part)), 0);
    CHECK_EQ(vpi_storage_put_part(st, "u1", 2, write_file("p2", wrong, part)), 0);
    const char *p2 = write_file("p2", all + part, part);
    CHECK_EQ(vpi_storage_put_part(st, "u1", 2, p2), 0);
    CHECK(!exists(p2));

    /* a missing part, a wrong size, a wrong checksum: refused, nothing stored */
    reason[0] = 0;
    CHECK_EQ(vpi_storage_compose(st, "u1", 4, "videos/3/original", total, digest, reason,
                                 sizeof(reason)), AVERROR(ENOENT));
    CHECK_STR(reason, "part 4 is missing");
    CHECK_EQ(vpi_storage_compose(st, "u1", 3, "videos/3/original", total, bad, reason,
                                 sizeof(reason)), AVERROR(EBADMSG));
    fprintf(stderr, "bad checksum: %s\n", reason);
    CHECK(strstr(reason, "SHA-256 of the assembled file is ") != NULL);
    CHECK_EQ(vpi_storage_open_read(st, "videos/3/original", &o), AVERROR(ENOENT));
    CHECK_EQ(vpi_storage_compose(st, "u1", 3, "videos/3/original", total + 1, NULL, reason,
                                 sizeof(reason)), AVERROR(EBADMSG));
    CHECK(strstr(reason, "announced") != NULL);
    CHECK_EQ(vpi_storage_open_read(st, "videos/3/original", &o), AVERROR(ENOENT));

    /* the good checksum (with 503s on the way): stored whole, and composing again (a retry
     * after a crash) gives the same */
    faults("faults?every503=4");
    CHECK_EQ(vpi_storage_compose(st, "u1", 3, "videos/3/original", total, digest, reason,
                                 sizeof(reason)), 0);
    faults("faults?every503=0");
    check_object(st, "videos/3/original", all, total);
    CHECK_EQ(vpi_storage_compose(st, "u1", 3, "videos/3/original", total, digest, reason,
                                 sizeof(reason)), 0);
    check_object(st, "videos/3/original", all, total);
    CHECK_EQ(vpi_storage_remove_parts(st, "u1"), 0);
    check_object(st, "videos/3/original", all, total);
    CHECK_EQ(vpi_storage_remove_parts(st, "u1"), 0);        /* nothing left: fine */

    /* an upload with no part at all */
    CHECK_EQ(vpi_storage_compose(st, "u9", 1, "videos/9/original", 1, NULL, reason,
                                 sizeof(reason)), AVERROR(ENOENT));
    CHECK_STR(reason, "no part was stored");

    /* an upload abandoned half way: remove_parts leaves nothing (the driver lists the
     * bucket at the end) */
    CHECK_EQ(vpi_storage_put_part(st, "u2", 1, write_file("p1", all, part)), 0);
    CHECK_EQ(vpi_storage_remove_parts(st, "u2"), 0);
    CHECK_EQ(vpi_storage_compose(st, "u2", 1, "videos/4/original", part, NULL, reason,
                                 sizeof(reason)), AVERROR(ENOENT));

    /* parts sent by the client itself to presigned UploadPart URLs (through the proxy: it
     * checks their query signatures), recorded with the ETags S3 answered */
    long long pre = stat_of("presigned");
    char etags[3][128], *url = NULL;
    for (int i = 0; i < 3; i++) {
        size_t n = i < 2 ? part : last;
        CHECK_EQ(vpi_storage_presign_put_part(st, "u3", i + 1, 600, &url), 0);
        if (!url)
            break;
        CHECK(strstr(url, "partNumber=") != NULL && strstr(url, "uploadId=") != NULL);
        CHECK_EQ(http_put(url, all + (size_t)i * part, n, etags[i]), 200);
        CHECK(etags[i][0] == '"');
        av_freep(&url);
    }
    CHECK_EQ(stat_of("presigned") - pre, 3);
    CHECK_EQ(vpi_storage_record_part(st, "u3", 1, etags[0]), 0);
    CHECK_EQ(vpi_storage_record_part(st, "u3", 2, etags[1]), 0);
    CHECK_EQ(vpi_storage_compose(st, "u3", 3, "videos/3/direct", total, digest, reason,
                                 sizeof(reason)), AVERROR(ENOENT));
    CHECK_STR(reason, "part 3 is missing");
    /* an ETag that is not S3's: CompleteMultipartUpload refuses it */
    CHECK_EQ(vpi_storage_record_part(st, "u3", 3, "\"0123456789abcdef0123456789abcdef\""), 0);
    CHECK_EQ(vpi_storage_compose(st, "u3", 3, "videos/3/direct", total, digest, reason,
                                 sizeof(reason)), AVERROR(EINVAL));
    fprintf(stderr, "wrong etag: %s\n", reason);
    CHECK(strstr(reason, "400 InvalidPart") != NULL);
    CHECK_EQ(vpi_storage_open_read(st, "videos/3/direct", &o), AVERROR(ENOENT));
    CHECK_EQ(vpi_storage_record_part(st, "u3", 3, "not hex"), AVERROR(EINVAL));
    CHECK_EQ(vpi_storage_record_part(st, "u3", 3, etags[2]), 0);
    CHECK_EQ(vpi_storage_compose(st, "u3", 3, "videos/3/direct", total, digest, reason,
                                 sizeof(reason)), 0);
    check_object(st, "videos/3/direct", all, total);
    CHECK_EQ(vpi_storage_remove_parts(st, "u3"), 0);

    CHECK_EQ(vpi_storage_remove_prefix(st, "videos/3/"), 0);
    av_free(all);
    av_free(wrong);
}

int main(void)
{
    VpiStorage *st = NULL;
    char reason[512] = "";
    spec = getenv("VP_S3_SPEC");
    ctl_url = getenv("VP_S3_CTL");
    work = getenv("VP_S3_WORK");
    if (!spec || !ctl_url || !work)
        TEST_SKIP("run by tests/s3/storage_s3_test.py (VP_S3_SPEC, VP_S3_CTL, VP_S3_WORK)");
    snprintf(scratch, sizeof(scratch), "%s/local", work);
    mkdir(scratch, 0700);

    test_open_errors();
    CHECK_EQ(vpi_storage_open(spec, &st, reason, sizeof(reason)), 0);
    if (!st) {
        fprintf(stderr, "%s\n", reason);
        TEST_END();
    }
    CHECK(vpi_storage_staging_dir(st) == NULL);
    test_objects(st);
    test_faults(st);
    test_threads(st);
    test_uploads(st);
    test_two_nodes(st);
    vpi_storage_close(&st);
    curl_global_cleanup();
    TEST_END();
}
