/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The join API: option validation, a joiner reused for many outputs (its cache stays
 * bounded and follows changed files), the MP4 index against hostile input, the SPS reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "bitstream/bitstream.h"
#include "join/join_internal.h"
#include "mp4/mp4.h"
#include "test.h"
#include "vidpipe/join.h"

static char dir[256];

static void make(const char *name, const char *args)
{
    char cmd[1024], path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y %s '%s'", args, path);
    if (t_sh(cmd) != 0)
        TEST_SKIP("ffmpeg could not make %s", name);
}

static int64_t frames_of(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ffprobe -v error -count_packets -select_streams v "
             "-show_entries stream=nb_read_packets -of csv=p=0 '%s'", path);
    FILE *p = popen(cmd, "r");
    long long n = -1;
    if (p) {
        if (fscanf(p, "%lld", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

/* A baseline-profile SPS NAL unit (with emulation prevention) for the SPS reader's limits:
 * picture size in macroblocks, cropping, pic_order_cnt_type. */
typedef struct SpsWriter {
    uint8_t rbsp[64], nal[96];
    size_t bits;
} SpsWriter;

static void put_u(SpsWriter *w, int n, uint64_t v)
{
    for (int i = n - 1; i >= 0; i--, w->bits++)
        if ((v >> i) & 1)
            w->rbsp[w->bits / 8] |= (uint8_t)(0x80 >> (w->bits % 8));
}

static void put_ue(SpsWriter *w, uint64_t v)
{
    int len = 0;
    while ((v + 1) >> (len + 1))
        len++;
    put_u(w, len, 0);
    put_u(w, len + 1, v + 1);
}

static size_t make_sps(uint8_t *out, unsigned poc_type, uint64_t w_mbs1, uint64_t h_map1,
                       const uint64_t crop[4])
{
    SpsWriter w = { 0 };
    put_u(&w, 8, 66);   /* profile_idc: baseline (no chroma_format_idc: 4:2:0) */
    put_u(&w, 8, 0);
    put_u(&w, 8, 30);   /* level_idc */
    put_ue(&w, 0);      /* seq_parameter_set_id */
    put_ue(&w, 0);      /* log2_max_frame_num_minus4 */
    put_ue(&w, poc_type);
    if (poc_type == 0)
        put_ue(&w, 0);  /* log2_max_pic_order_cnt_lsb_minus4 */
    put_ue(&w, 1);      /* max_num_ref_frames */
    put_u(&w, 1, 0);
    put_ue(&w, w_mbs1);
    put_ue(&w, h_map1);
    put_u(&w, 1, 1);    /* frame_mbs_only_flag */
    put_u(&w, 1, 1);    /* direct_8x8_inference_flag */
    put_u(&w, 1, crop != NULL);
    for (int i = 0; crop && i < 4; i++)
        put_ue(&w, crop[i]);
    put_u(&w, 1, 0);    /* vui_parameters_present_flag */
    put_u(&w, 1, 1);    /* rbsp_stop_one_bit */
    size_t n = 0, zeros = 0;
    out[n++] = 0x67;
    for (size_t i = 0; i < (w.bits + 7) / 8; i++) {
        if (zeros >= 2 && w.rbsp[i] <= 3) {
            out[n++] = 3;
            zeros = 0;
        }
        out[n++] = w.rbsp[i];
        zeros = w.rbsp[i] ? 0 : zeros + 1;
    }
    return n;
}

static int sps_size(unsigned poc_type, uint64_t w_mbs1, uint64_t h_map1, const uint64_t *crop,
                    int *width, int *height)
{
    uint8_t nal[96];
    VpiH264Sps sps;
    size_t n = make_sps(nal, poc_type, w_mbs1, h_map1, crop);
    int r = vpi_h264_sps_parse(nal, n, &sps);
    *width = sps.width;
    *height = sps.height;
    return r;
}

/* The header writer's chunk offsets, as an index reads them back: 32-bit (stco) for a small
 * mdat, 64-bit (co64) when the file passes 4 GiB, each the header's size past the offset
 * into mdat it was given. The file is sparse: only the header is written. */
static void header_offsets(const VpiMp4Track *v, int64_t mdat_size, int64_t hi_from)
{
    char path[600], why[256] = "";
    VpiMp4Entry e = { v->entry, v->entry_size };
    VpiMp4OutTrack t = { .kind = VPI_TRACK_VIDEO, .timescale = v->timescale, .entries = &e,
                         .nb_entries = 1, .width = v->width, .height = v->height };
    int64_t pos = 0;
    for (int64_t i = 0; i < v->nb_samples; i++) {
        /* every other sample far from its neighbour: a chunk each, some past 4 GiB */
        if (i == v->nb_samples / 2)
            pos = hi_from;
        VpiMp4OutSample o = { .pos = pos, .size = v->samples[i].size,
                              .duration = v->samples[i].duration, .cts = v->samples[i].cts,
                              .key = v->samples[i].key };
        CHECK_EQ(vpi_mp4_out_push(&t, &o), 0);
        pos += v->samples[i].size + (i % 2 ? 1000 : 0);
    }
    t.presented = t.s[t.nb - 1].duration * t.nb;
    uint8_t *hdr = NULL;
    size_t hsz = 0;
    CHECK_EQ(vpi_mp4_build_header(&t, 1, mdat_size, 0, &hdr, &hsz), 0);
    snprintf(path, sizeof(path), "%s/header_%lld.mp4", dir, (long long)mdat_size);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(hdr ? write(fd, hdr, hsz) : -1, (ssize_t)hsz);
    CHECK_EQ(ftruncate(fd, (off_t)(hsz + (size_t)mdat_size)), 0);
    VpiMp4File *mf = NULL;
    CHECK_EQ(vpi_mp4_index(fd, &mf, why, sizeof(why)), 0);
    if (mf) {
        CHECK_EQ(mf->video.nb_samples, t.nb);
        int64_t bad = 0;
        for (int64_t i = 0; i < t.nb && i < mf->video.nb_samples; i++)
            bad += mf->video.samples[i].pos != (int64_t)hsz + t.s[i].pos;
        CHECK_EQ(bad, 0);
    }
    vpi_mp4_index_free(&mf);
    close(fd);
    unlink(path);
    av_free(hdr);
    free(t.s);
}

int main(void)
{
    VpJoinOpts o;
    VpJoiner *j = NULL;
    VpJoinStats st;
    char why[512], out[512], a[512], b[512];
    VpFailure fail;

    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/vptest_join.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary directory");

    /* options */
    vp_join_default_opts(&o);
    CHECK_EQ(o.faststart, 1);
    CHECK_EQ(o.max_cached_segments, 16);
    CHECK_EQ(o.durable, 1);
    o.durable = 2;
    CHECK_EQ(vp_joiner_new(&o, &j), VP_ERR_BAD_OPTION);
    o.durable = 1;
    o.max_cached_segments = -1;
    CHECK_EQ(vp_joiner_new(&o, &j), VP_ERR_BAD_OPTION);
    CHECK(j == NULL);
    vp_join_default_opts(&o);
    o.conform = 7;
    CHECK_EQ(vp_joiner_new(&o, &j), VP_ERR_BAD_OPTION);
    vp_join_default_opts(&o);
    o.max_cached_segments = 2;
    CHECK_EQ(vp_joiner_new(&o, &j), 0);
    CHECK(j != NULL);

    make("a.mp4", "-f lavfi -i testsrc=s=160x120:r=24:d=1 -f lavfi -i sine=f=440:d=1 "
                  "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac");
    make("b.mp4", "-f lavfi -i testsrc2=s=160x120:r=24:d=0.5 -f lavfi -i sine=f=330:d=0.5 "
                  "-c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac");
    snprintf(a, sizeof(a), "%s/a.mp4", dir);
    snprintf(b, sizeof(b), "%s/b.mp4", dir);
    snprintf(out, sizeof(out), "%s/out.mp4", dir);

    /* bad arguments */
    CHECK_EQ(vp_joiner_run(j, out, NULL, 0, &st, &fail), AVERROR(EINVAL));
    CHECK_EQ(fail.code, AVERROR(EINVAL));
    /* The failing segment: its index, its path and the reason in one line. */
    const char *missing[] = { a, "/nonexistent/x.mp4" };
    CHECK_EQ(vp_joiner_run(j, out, missing, 2, &st, &fail), AVERROR(ENOENT));
    CHECK_EQ(fail.code, AVERROR(ENOENT));
    CHECK_EQ(fail.input, 1);
    CHECK_STR(fail.path, "/nonexistent/x.mp4");
    CHECK(strstr(fail.message, "/nonexistent/x.mp4: ") == fail.message);
    CHECK(access(out, F_OK) != 0);
    /* The failing output: no segment is at fault, the output is named. */
    char bad_out[600];
    snprintf(bad_out, sizeof(bad_out), "%s/no-such-folder/out.mp4", dir);
    const char *two[] = { a, a };
    CHECK_EQ(vp_joiner_run(j, bad_out, two, 2, &st, &fail), AVERROR(ENOENT));
    CHECK_EQ(fail.code, AVERROR(ENOENT));
    CHECK_EQ(fail.input, -1);
    CHECK_STR(fail.path, bad_out);
    CHECK(strstr(fail.message, bad_out) == fail.message);
    /* Success leaves it cleared. */
    CHECK_EQ(vp_joiner_run(j, out, two, 2, &st, &fail), 0);
    CHECK_EQ(fail.code, 0);
    CHECK_EQ(fail.input, -1);
    CHECK_STR(fail.path, "");
    unlink(out);

    /* one joiner, many outputs: same result every time */
    const char *segs[] = { a, b, a };
    for (int i = 0; i < 40; i++) {
        int r = vp_joiner_run(j, out, segs, 3, &st, &fail);
        CHECK_EQ(r, 0);
        if (r < 0) {
            fprintf(stderr, "%s\n", fail.message);
            break;
        }
        CHECK_EQ(st.nb_segments, 3);
        CHECK_EQ(st.video_frames, 24 + 12 + 24);
        CHECK_NEAR(st.duration, 2.5, 0.03);
        CHECK(st.nb_audio_reencoded >= 2 && st.nb_audio_reencoded <= 8);
    }
    CHECK_EQ(frames_of(out), 60);

    /* a changed file is indexed again, not served from the cache */
    make("b.mp4", "-f lavfi -i testsrc2=s=160x120:r=24:d=1 -f lavfi -i sine=f=330:d=1 "
                  "-c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac");
    CHECK_EQ(vp_joiner_run(j, out, segs, 3, &st, NULL), 0);
    CHECK_EQ(st.video_frames, 24 + 24 + 24);
    CHECK_EQ(frames_of(out), 72);
    vp_joiner_free(&j);
    CHECK(j == NULL);
    vp_joiner_free(&j);

    /* hostile input: every prefix and some corruptions of a valid file are refused or
     * read, never crash (ASan checks the reads) */
    FILE *f = fopen(a, "rb");
    static uint8_t buf[1 << 20];
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
        fclose(f);
    CHECK(n > 1000);
    char cut[512];
    snprintf(cut, sizeof(cut), "%s/cut.mp4", dir);
    int refused = 0;
    for (size_t len = 0; len < n; len += n / 97 + 1) {
        for (int flip = 0; flip < 2; flip++) {
            FILE *w = fopen(cut, "wb");
            if (!w)
                break;
            fwrite(buf, 1, len, w);
            if (flip && len > 64) {
                uint8_t junk[8] = { 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 1 };
                fseek(w, (long)(len / 2), SEEK_SET);
                fwrite(junk, 1, sizeof(junk), w);
            }
            fclose(w);
            int fd = open(cut, O_RDONLY);
            VpiMp4File *mf = NULL;
            int r = vpi_mp4_index(fd, &mf, why, sizeof(why));
            if (r < 0) {
                refused++;
                CHECK(why[0] != 0);
                CHECK(mf == NULL);
            }
            vpi_mp4_index_free(&mf);
            close(fd);
        }
    }
    CHECK(refused > 50);

    /* a file too short for one box header is not media, not an MP4 cut before its moov */
    FILE *jw = fopen(cut, "wb");
    if (jw) {
        fputs("junk\n", jw);
        fclose(jw);
    }
    int jfd = open(cut, O_RDONLY);
    VpiMp4File *jf = NULL;
    why[0] = 0;
    CHECK_EQ(vpi_mp4_index(jfd, &jf, why, sizeof(why)), VP_ERR_NOT_MEDIA);
    CHECK_STR(why, "not an MP4/MOV file");
    vpi_mp4_index_free(&jf);
    close(jfd);

    /* the SPS reader: sizes of a 160x120 stream (cropped from 160x128) */
    int fd = open(a, O_RDONLY);
    VpiMp4File *mf = NULL;
    CHECK_EQ(vpi_mp4_index(fd, &mf, why, sizeof(why)), 0);
    if (mf) {
        VpiH264Sps sps;
        CHECK_EQ(vpi_avcc_first_sps(mf->video.avcc, mf->video.avcc_size, &sps), 0);
        CHECK_EQ(sps.width, 160);
        CHECK_EQ(sps.height, 120);
        CHECK_EQ(sps.chroma_format_idc, 1);
        CHECK_EQ(mf->video.nb_samples, 24);
        CHECK_EQ(mf->audio.sample_rate, 44100);
        CHECK_EQ(mf->audio.object_type, 2);
        CHECK(mf->audio.has_edit && mf->audio.edit_media_time == 1024);
        header_offsets(&mf->video, 1 << 20, 500000);
        header_offsets(&mf->video, 5LL << 30, (4LL << 30) + 12345);
    }
    vpi_mp4_index_free(&mf);
    close(fd);

    /* the SPS reader's limits, as FFmpeg's decoder has them: cropping must leave a picture,
     * the coded picture must be one a decoder can allocate, pic_order_cnt_type is 0..2;
     * values that overflow an int in the crop arithmetic are refused, not wrapped */
    int w = 0, h = 0;
    CHECK_EQ(sps_size(2, 119, 67, (const uint64_t[4]){ 0, 0, 0, 4 }, &w, &h), 0);
    CHECK_EQ(w, 1920);
    CHECK_EQ(h, 1080);
    CHECK_EQ(sps_size(0, 3, 3, NULL, &w, &h), 0);
    CHECK_EQ(w, 64);
    CHECK_EQ(h, 64);
    CHECK_EQ(sps_size(2, 3, 3, (const uint64_t[4]){ 15, 16, 0, 0 }, &w, &h), 0);
    CHECK_EQ(w, 2);
    CHECK_EQ(sps_size(2, 3, 3, (const uint64_t[4]){ 16, 16, 0, 0 }, &w, &h), -1);
    CHECK_EQ(sps_size(2, 3, 3, (const uint64_t[4]){ 0, 0, 31, 1 }, &w, &h), -1);
    CHECK_EQ(sps_size(2, 3, 3, (const uint64_t[4]){ 1073741835, 0, 0, 0 }, &w, &h), -1);
    CHECK_EQ(sps_size(2, 3, 3, (const uint64_t[4]){ 0, 0, 2147483672u, 59 }, &w, &h), -1);
    CHECK_EQ(sps_size(2, 3, 3, (const uint64_t[4]){ 0xfffffffeu, 0xfffffffeu, 0, 0 }, &w, &h),
             -1);
    CHECK_EQ(sps_size(2, 0xfffffffeu, 3, NULL, &w, &h), -1);
    CHECK_EQ(sps_size(2, 1023, 1023, NULL, &w, &h), -1); /* 16384x16384: too large */
    CHECK_EQ(sps_size(5, 3, 3, NULL, &w, &h), -1);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    t_sh(cmd);
    TEST_END();
}
