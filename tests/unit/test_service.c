/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job service through its public API (vidpipe/service.h): a resumable upload in parts
 * with a wrong etag and a wrong checksum refused, its job run by a worker thread to
 * completion with the seed's result shape, media opened, a whole-body upload with overrides,
 * a text file failing at once with one attempt, cancel, delete removing every file, the
 * drain handing a running job back, and a restart picking it up. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libavutil/sha.h>
#include <libavutil/mem.h>

#include "test.h"
#include "vidpipe/service.h"

static char dir[512];

static const char *path_in(const char *name)
{
    static char path[8][700];
    static int i;
    char *p = path[i++ % 8];
    snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
    return p;
}

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n ? n : 1);
    if (buf && fread(buf, 1, n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = n;
    return buf;
}

static void sha256_hex(const uint8_t *data, size_t size, char hex[65])
{
    struct AVSHA *sha = av_sha_alloc();
    uint8_t d[32];
    av_sha_init(sha, 256);
    av_sha_update(sha, data, (unsigned)size);
    av_sha_final(sha, d);
    av_free(sha);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static json_t *parse(char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    CHECK(j != NULL);
    free(text);
    return j;
}

static VpService *open_service(int workers, int64_t lease_ms)
{
    VpServiceOpts o;
    VpService *s = NULL;
    VpFailure f;
    vp_service_default_opts(&o);
    o.data_dir = path_in("data");
    o.tmp_dir = path_in("tmp");
    /* tests/pg/run_with_pg.sh: the same test on a PostgreSQL database. */
    o.db = getenv("VP_TEST_DB");
    o.workers = workers;
    o.lease_ms = lease_ms;
    o.part_size = 1 << 20;
    o.max_upload = 64 << 20;
    CHECK_EQ(vp_service_open(&o, &s, &f), 0);
    if (!s)
        fprintf(stderr, "open: %s\n", f.message);
    return s;
}

/* Poll job @p id until it leaves pending/running (or 60 s); its JSON. */
static json_t *wait_job(VpService *s, int64_t id, const char *until)
{
    char *text;
    VpFailure f;
    for (int i = 0; i < 600; i++) {
        CHECK_EQ(vp_service_job_json(s, id, &text, &f), 0);
        json_t *j = parse(text);
        const char *st = json_string_value(json_object_get(j, "status"));
        if (until ? !strcmp(st, until) : strcmp(st, "pending") && strcmp(st, "running"))
            return j;
        json_decref(j);
        usleep(100000);
    }
    CHECK(!"job did not finish in 60 s");
    return json_object();
}

static int send_body(VpServiceBody *b, const uint8_t *data, size_t size, char **json,
                     VpFailure *f)
{
    int ret = 0;
    /* In pieces, as a server hands them over. */
    for (size_t off = 0; off < size && ret >= 0; off += 65536)
        ret = vp_service_body_write(b, data + off, size - off < 65536 ? size - off : 65536, f);
    if (ret < 0) {
        vp_service_body_abort(&b);
        return ret;
    }
    return vp_service_body_finish(&b, json, f);
}

static int count_files(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

int main(void)
{
    char cmd[2048], sha[65], *text;
    VpServiceBody *b;
    VpFailure f;
    size_t size;
    int64_t vid, jid;

    snprintf(dir, sizeof(dir), "%s/vp-service-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") :
             "/tmp");
    if (!mkdtemp(dir))
        return 1;
    /* ~1.6 MB: two parts of 1 MiB. */
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y -f lavfi -i "
             "testsrc2=size=320x240:rate=25:d=6 -f lavfi -i sine=f=440:d=6 -c:v libx264 "
             "-preset ultrafast -b:v 2M -pix_fmt yuv420p -c:a aac -shortest '%s'",
             path_in("clip.mp4"));
    if (t_sh(cmd) != 0)
        TEST_SKIP("ffmpeg could not make the test clip");
    uint8_t *clip = slurp(path_in("clip.mp4"), &size);
    CHECK(clip && size > (1 << 20) && size < (2 << 20));
    sha256_hex(clip, size, sha);

    VpService *s = open_service(1, 3000);
    if (!s)
        return 1;

    /* ---- a resumable upload ---- */
    VpUploadSpec spec = { .filename = "../../etc/passwd", .size = (int64_t)size };
    CHECK_EQ(vp_service_upload_create(s, &spec, &text, &f), AVERROR(EINVAL));
    CHECK_STR(f.message, "filename \"../../etc/passwd\": must be a name, not a path");
    spec.filename = "clip.mp4";
    spec.size = 65 << 20;
    CHECK_EQ(vp_service_upload_create(s, &spec, &text, &f), AVERROR(EFBIG));
    CHECK_EQ(vp_service_http_status(f.code), 413);
    spec.size = (int64_t)size;
    spec.options = "height=999999";
    CHECK_EQ(vp_service_upload_create(s, &spec, &text, &f), VP_ERR_BAD_OPTION);
    CHECK(strstr(f.message, "height") != NULL);
    spec.options = "thumb_path=/etc/x";
    CHECK_EQ(vp_service_upload_create(s, &spec, &text, &f), VP_ERR_BAD_OPTION);
    CHECK(strstr(f.message, "cannot be set per video") != NULL);
    spec.options = NULL;
    CHECK_EQ(vp_service_upload_create(s, &spec, &text, &f), 0);
    json_t *up = parse(text);
    char upload_id[40];
    snprintf(upload_id, sizeof(upload_id), "%s",
             json_string_value(json_object_get(up, "upload_id")));
    vid = json_integer_value(json_object_get(up, "video_id"));
    CHECK_EQ(json_integer_value(json_object_get(up, "parts_count")), 2);
    CHECK_EQ(json_integer_value(json_object_get(up, "part_size")), 1 << 20);
    json_decref(up);

    /* While uploading the video lists as such and has no media. */
    CHECK_EQ(vp_service_videos_json(s, "uploading", 0, NULL, &text, &f), 0);
    json_t *list = parse(text);
    CHECK_EQ(json_array_size(json_object_get(list, "videos")), 1);
    json_decref(list);
    VpServiceMedia m;
    CHECK_EQ(vp_service_media_open(s, vid, VP_MEDIA_ORIGINAL, &m, &f), AVERROR(ENOENT));

    CHECK_EQ(vp_service_part_begin(s, upload_id, 3, -1, &b, &f), AVERROR(EINVAL));
    CHECK(strstr(f.message, "part 3 is out of range 1..2") != NULL);
    CHECK_EQ(vp_service_part_begin(s, upload_id, 1, 5, &b, &f), AVERROR(EINVAL));
    CHECK(strstr(f.message, "part 1 must be 1048576 bytes, not 5") != NULL);
    CHECK_EQ(vp_service_part_begin(s, "nope", 1, -1, &b, &f), AVERROR(ENOENT));
    CHECK_EQ(vp_service_http_status(f.code), 404);
    /* Part 2 first; then part 1 broken off mid-body (a lost connection): not listed. */
    CHECK_EQ(vp_service_part_begin(s, upload_id, 2, -1, &b, &f), 0);
    CHECK_EQ(send_body(b, clip + (1 << 20), size - (1 << 20), &text, &f), 0);
    json_t *p2 = parse(text);
    char etag2[48];
    snprintf(etag2, sizeof(etag2), "%s", json_string_value(json_object_get(p2, "etag")));
    json_decref(p2);
    CHECK_EQ(vp_service_part_begin(s, upload_id, 1, -1, &b, &f), 0);
    CHECK_EQ(vp_service_body_write(b, clip, 1000, &f), 0);
    vp_service_body_abort(&b);
    CHECK_EQ(count_files(path_in("data/staging")), 0);
    CHECK_EQ(vp_service_upload_get(s, upload_id, &text, &f), 0);
    up = parse(text);
    CHECK_EQ(json_array_size(json_object_get(up, "parts")), 1);
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(json_object_get(up, "parts"), 0),
                                                "part_number")), 2);
    json_decref(up);
    /* A part too long is refused while it arrives. */
    CHECK_EQ(vp_service_part_begin(s, upload_id, 1, -1, &b, &f), 0);
    CHECK_EQ(send_body(b, clip, (1 << 20) + 1, &text, &f), AVERROR(EINVAL));
    CHECK(strstr(f.message, "part 1 is longer than its 1048576 bytes") != NULL);
    CHECK_EQ(vp_service_part_begin(s, upload_id, 1, 1 << 20, &b, &f), 0);
    CHECK_EQ(send_body(b, clip, 1 << 20, &text, &f), 0);
    json_t *p1 = parse(text);
    char etag1[48];
    snprintf(etag1, sizeof(etag1), "%s", json_string_value(json_object_get(p1, "etag")));
    json_decref(p1);

    VpPartRef refs[2] = { { 1, etag1 }, { 2, "\"0123\"" } };
    CHECK_EQ(vp_service_upload_complete(s, upload_id, refs, 2, sha, &text, &f), AVERROR(EBADMSG));
    CHECK(strstr(f.message, "part 2: etag") != NULL);
    refs[1].etag = etag2;
    CHECK_EQ(vp_service_upload_complete(s, upload_id, refs, 1, sha, &text, &f), AVERROR(EINVAL));
    char bad[65];
    memcpy(bad, sha, 65);
    bad[0] = bad[0] == '0' ? '1' : '0';
    CHECK_EQ(vp_service_upload_complete(s, upload_id, refs, 2, bad, &text, &f), AVERROR(EBADMSG));
    CHECK(strstr(f.message, "SHA-256 of the assembled file is") != NULL);
    CHECK_EQ(vp_service_http_status(f.code), 422);
    CHECK_EQ(count_files(path_in("data/objects/videos")), 1);   /* the video's folder, empty */
    CHECK_EQ(vp_service_upload_complete(s, upload_id, refs, 2, sha, &text, &f), 0);
    json_t *ids = parse(text);
    CHECK_EQ(json_integer_value(json_object_get(ids, "video_id")), vid);
    jid = json_integer_value(json_object_get(ids, "job_id"));
    json_decref(ids);
    /* A second complete answers the same and starts nothing. */
    CHECK_EQ(vp_service_upload_complete(s, upload_id, refs, 2, sha, &text, &f), 0);
    ids = parse(text);
    CHECK_EQ(json_integer_value(json_object_get(ids, "job_id")), jid);
    json_decref(ids);
    CHECK_EQ(count_files(path_in("data/uploads")), 0);

    json_t *job = wait_job(s, jid, NULL);
    CHECK_STR(json_string_value(json_object_get(job, "status")), "completed");
    CHECK_EQ(json_integer_value(json_object_get(job, "attempts")), 1);
    CHECK_EQ(json_integer_value(json_object_get(job, "progress")), 100);
    json_t *res = json_object_get(job, "result");
    CHECK_STR(json_string_value(json_object_get(res, "status")), "success");
    CHECK(json_is_string(json_object_get(res, "proxy_path")));
    CHECK(json_is_string(json_object_get(res, "thumbnail_path")));
    json_t *meta = json_object_get(res, "metadata");
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(meta, "original"), "width")), 320);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(meta, "original"),
                                                "file_size_bytes")), (long long)size);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(meta, "proxy"), "height")), 480);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(meta, "thumbnail"), "width")),
             320);
    CHECK(json_is_number(json_object_get(job, "duration_seconds")));
    json_decref(job);

    CHECK_EQ(vp_service_media_open(s, vid, VP_MEDIA_PROXY, &m, &f), 0);
    CHECK(m.size > 1000);
    CHECK_STR(m.content_type, "video/mp4");
    CHECK_STR(m.filename, "clip-proxy.mp4");
    close(m.fd);
    CHECK_EQ(vp_service_media_open(s, vid, VP_MEDIA_ORIGINAL, &m, &f), 0);
    CHECK_EQ(m.size, (long long)size);
    close(m.fd);

    /* ---- a whole body with overrides; reprocess replaces the outputs ---- */
    CHECK_EQ(vp_service_video_begin(s, "small.mp4", "height=240&fps=15", -1, &b, &f), 0);
    CHECK_EQ(send_body(b, clip, size, &text, &f), 0);
    ids = parse(text);
    int64_t vid2 = json_integer_value(json_object_get(ids, "video_id"));
    int64_t jid2 = json_integer_value(json_object_get(ids, "job_id"));
    json_decref(ids);
    job = wait_job(s, jid2, NULL);
    CHECK_STR(json_string_value(json_object_get(job, "status")), "completed");
    meta = json_object_get(json_object_get(job, "result"), "metadata");
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(meta, "proxy"), "height")), 240);
    json_decref(job);
    CHECK_EQ(vp_service_video_reprocess(s, vid2, "height=120", &text, &f), 0);
    ids = parse(text);
    int64_t jid3 = json_integer_value(json_object_get(ids, "job_id"));
    CHECK(json_is_true(json_object_get(ids, "queued")));
    json_decref(ids);
    job = wait_job(s, jid3, NULL);
    CHECK_STR(json_string_value(json_object_get(job, "status")), "completed");
    json_decref(job);
    snprintf(cmd, sizeof(cmd), "%s/%lld", path_in("data/objects/videos"), (long long)vid2);
    /* original + one job's folder: the old one goes once the new result is recorded */
    for (int i = 0; i < 100 && count_files(cmd) != 2; i++)
        usleep(50000);
    CHECK_EQ(count_files(cmd), 2);

    /* ---- a text file: accepted, its job fails at once ---- */
    static const char textfile[] = "this is not a video, just some text\n";
    CHECK_EQ(vp_service_video_begin(s, "notes.mp4", NULL, -1, &b, &f), 0);
    CHECK_EQ(send_body(b, (const uint8_t *)textfile, sizeof(textfile) - 1, &text, &f), 0);
    ids = parse(text);
    int64_t jid4 = json_integer_value(json_object_get(ids, "job_id"));
    json_decref(ids);
    job = wait_job(s, jid4, NULL);
    CHECK_STR(json_string_value(json_object_get(job, "status")), "failed");
    CHECK_EQ(json_integer_value(json_object_get(job, "attempts")), 1);
    CHECK(strstr(json_string_value(json_object_get(job, "error")), "not a media file") != NULL);
    json_decref(job);

    /* ---- metrics ---- */
    VpServiceMetrics mt;
    CHECK_EQ(vp_service_metrics(s, &mt), 0);
    CHECK_EQ(mt.jobs[2], 3);
    CHECK_EQ(mt.jobs[3], 1);
    CHECK_EQ(mt.workers, 1);
    CHECK_EQ(mt.duration_counts[VP_SERVICE_DURATION_BUCKETS], 3);
    CHECK(mt.upload_bytes >= (int64_t)(2 * size));

    /* ---- delete: every file of the video goes ---- */
    CHECK_EQ(vp_service_video_delete(s, vid2, &f), 0);
    CHECK_EQ(access(cmd, F_OK), -1);
    CHECK_EQ(vp_service_video_delete(s, vid2, &f), AVERROR(ENOENT));
    CHECK_EQ(vp_service_job_json(s, jid3, &text, &f), AVERROR(ENOENT));

    /* ---- drain: a running job goes back to the queue, a restart runs it ---- */
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y -f lavfi -i "
             "testsrc2=size=1280x720:rate=30:d=20 -c:v libx264 -preset ultrafast "
             "-pix_fmt yuv420p '%s'", path_in("long.mp4"));
    CHECK_EQ(t_sh(cmd), 0);
    uint8_t *longclip = slurp(path_in("long.mp4"), &size);
    CHECK_EQ(vp_service_video_begin(s, "long.mp4", NULL, -1, &b, &f), 0);
    CHECK_EQ(send_body(b, longclip, size, &text, &f), 0);
    ids = parse(text);
    int64_t jid5 = json_integer_value(json_object_get(ids, "job_id"));
    int64_t vid5 = json_integer_value(json_object_get(ids, "video_id"));
    json_decref(ids);
    json_decref(wait_job(s, jid5, "running"));
    vp_service_drain(s, 0);
    CHECK_EQ(vp_service_video_begin(s, "late.mp4", NULL, -1, &b, &f), AVERROR(ESHUTDOWN));
    CHECK_EQ(vp_service_http_status(f.code), 503);
    job = wait_job(s, jid5, "pending");
    CHECK_EQ(json_integer_value(json_object_get(job, "attempts")), 0);
    json_decref(job);
    vp_service_close(&s);
    CHECK(!s);
    CHECK_EQ(count_files(path_in("tmp/")), 1);      /* the worker's scratch folder, */
    snprintf(cmd, sizeof(cmd), "find '%s' -type f | grep -q .", path_in("tmp"));
    CHECK(t_sh(cmd) != 0);                          /* empty */

    /* As if the first attempt had stored its outputs and died before completing (kill -9):
     * the attempt that completes removes them. */
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%lld/j%lld-1' && echo junk > '%s/%lld/j%lld-1/proxy.mp4'",
             path_in("data/objects/videos"), (long long)vid5, (long long)jid5,
             path_in("data/objects/videos"), (long long)vid5, (long long)jid5);
    CHECK_EQ(t_sh(cmd), 0);
    s = open_service(1, 3000);
    job = wait_job(s, jid5, NULL);
    CHECK_STR(json_string_value(json_object_get(job, "status")), "completed");
    CHECK_EQ(json_integer_value(json_object_get(job, "attempts")), 1);
    json_decref(job);
    snprintf(cmd, sizeof(cmd), "%s/%lld/j%lld-1", path_in("data/objects/videos"),
             (long long)vid5, (long long)jid5);
    CHECK_EQ(access(cmd, F_OK), -1);
    snprintf(cmd, sizeof(cmd), "%s/%lld/j%lld-2/proxy.mp4", path_in("data/objects/videos"),
             (long long)vid5, (long long)jid5);
    CHECK_EQ(access(cmd, F_OK), 0);

    /* ---- cancel a pending job ---- */
    CHECK_EQ(vp_service_video_reprocess(s, vid, NULL, &text, &f), 0);
    ids = parse(text);
    int64_t jid6 = json_integer_value(json_object_get(ids, "job_id"));
    json_decref(ids);
    CHECK_EQ(vp_service_job_cancel(s, jid6, &text, &f), 0);
    job = parse(text);
    CHECK_STR(json_string_value(json_object_get(job, "status")), "cancelled");
    json_decref(job);
    /* The earlier result still serves the proxy. */
    CHECK_EQ(vp_service_media_open(s, vid, VP_MEDIA_THUMBNAIL, &m, &f), 0);
    CHECK_STR(m.content_type, "image/jpeg");
    close(m.fd);
    vp_service_close(&s);

    free(clip);
    free(longclip);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    t_sh(cmd);
    TEST_END();
}
