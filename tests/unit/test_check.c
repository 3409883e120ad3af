/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vp_check_compare on hand-built stream descriptions: errors, notes, and what is equal. */
#include "test.h"
#include "vidpipe/vidpipe.h"

static VpStreamInfo streams[2][2];

static VpMediaInfo make(int which, int with_audio)
{
    VpStreamInfo *v = &streams[which][0], *a = &streams[which][1];
    memset(streams[which], 0, sizeof(streams[which]));
    v->type = VP_STREAM_VIDEO;
    strcpy(v->codec, "h264");
    strcpy(v->profile, "High");
    v->level = 31;
    v->width = 720;
    v->height = 1260;
    v->sar = (VpRational){ 1, 1 };
    strcpy(v->pix_fmt, "yuv420p");
    strcpy(v->field_order, "progressive");
    v->r_frame_rate = v->avg_frame_rate = (VpRational){ 24, 1 };
    v->time_base = (VpRational){ 1, 12288 };
    v->starts_with_idr = 1;
    v->open_gop = 0;
    v->has_bframes = 1;
    v->extradata_crc = 0x1234;
    v->duration = 20.0;
    a->type = VP_STREAM_AUDIO;
    a->index = 1;
    strcpy(a->codec, "aac");
    strcpy(a->profile, "LC");
    a->sample_rate = 48000;
    a->channels = 2;
    strcpy(a->channel_layout, "stereo");
    a->duration = 20.0;
    VpMediaInfo mi = { 0 };
    mi.nb_streams = with_audio ? 2 : 1;
    mi.streams = streams[which];
    mi.video_index = 0;
    mi.audio_index = with_audio ? 1 : -1;
    return mi;
}

static const VpCheckDiff *find(const VpCheckResult *r, const char *field)
{
    for (int i = 0; i < r->nb_diffs; i++)
        if (!strcmp(r->diffs[i].field, field))
            return &r->diffs[i];
    return NULL;
}

int main(void)
{
    VpCheckResult r;
    VpMediaInfo ref = make(0, 1), f = make(1, 1);

    CHECK_EQ(vp_check_compare(&ref, &f, &r), 0);
    CHECK_EQ(r.nb_diffs, 0);
    vp_check_result_clear(&r);

    /* Cannot be joined by stream copy. */
    streams[1][0].width = 1280;
    streams[1][0].height = 720;
    streams[1][0].r_frame_rate = streams[1][0].avg_frame_rate = (VpRational){ 24000, 1001 };
    streams[1][1].sample_rate = 44100;
    CHECK_EQ(vp_check_compare(&ref, &f, &r), 3);
    const VpCheckDiff *d = find(&r, "video.resolution");
    CHECK(d != NULL);
    if (d) {
        CHECK_EQ(d->severity, VP_CHECK_ERROR);
        CHECK_STR(d->value, "1280x720");
        CHECK_STR(d->ref_value, "720x1260");
        CHECK_EQ(d->conformable, 1);
    }
    d = find(&r, "video.frame_rate");
    CHECK(d && d->severity == VP_CHECK_ERROR);
    if (d)
        CHECK_STR(d->value, "24000/1001 (23.976 fps)");
    d = find(&r, "audio.sample_rate");
    CHECK(d && !strcmp(d->value, "44100 Hz") && !strcmp(d->ref_value, "48000 Hz"));
    vp_check_result_clear(&r);
    CHECK_EQ(r.nb_diffs, 0);

    /* Handled by the join engine: notes only. */
    f = make(1, 1);
    strcpy(streams[1][0].profile, "Main");
    streams[1][0].level = 40;
    streams[1][0].extradata_crc = 0x9999;
    streams[1][0].time_base = (VpRational){ 1, 90000 };
    streams[1][0].open_gop = 1;
    streams[1][1].duration = 20.5;
    CHECK_EQ(vp_check_compare(&ref, &f, &r), 0);
    CHECK(find(&r, "video.profile") && find(&r, "video.level"));
    CHECK(find(&r, "video.parameter_sets") && find(&r, "video.time_base"));
    CHECK(find(&r, "video.open_gop") && find(&r, "audio.longer_than_video"));
    for (int i = 0; i < r.nb_diffs; i++)
        CHECK_EQ(r.diffs[i].severity, VP_CHECK_NOTE);
    vp_check_result_clear(&r);

    /* A segment that starts on a non-IDR frame cannot follow another by stream copy. */
    f = make(1, 1);
    streams[1][0].starts_with_idr = 0;
    CHECK_EQ(vp_check_compare(&ref, &f, &r), 1);
    d = find(&r, "video.start");
    CHECK(d && d->severity == VP_CHECK_ERROR && d->conformable);
    vp_check_result_clear(&r);

    /* Missing audio is a note (silence); missing video is an error. */
    f = make(1, 0);
    CHECK_EQ(vp_check_compare(&ref, &f, &r), 0);
    d = find(&r, "streams.audio");
    CHECK(d && d->severity == VP_CHECK_NOTE);
    vp_check_result_clear(&r);
    VpMediaInfo audio_only = make(1, 1);
    audio_only.video_index = -1;
    CHECK_EQ(vp_check_compare(&ref, &audio_only, &r), 1);
    CHECK(find(&r, "streams.video") != NULL);
    vp_check_result_clear(&r);

    /* Unknown SAR (0:1) equals 1:1; a real SAR difference is an error. */
    f = make(1, 1);
    streams[1][0].sar = (VpRational){ 0, 1 };
    CHECK_EQ(vp_check_compare(&ref, &f, &r), 0);
    vp_check_result_clear(&r);
    streams[1][0].sar = (VpRational){ 4, 3 };
    CHECK_EQ(vp_check_compare(&ref, &f, &r), 1);
    CHECK(find(&r, "video.sar") != NULL);
    vp_check_result_clear(&r);

    /* Not H.264: what the join needs, no meaningless follow-ups. */
    f = make(1, 1);
    strcpy(streams[1][0].codec, "hevc");
    strcpy(streams[1][1].channel_layout, "5.1");
    streams[1][1].channels = 6;
    CHECK_EQ(vp_check_compare(&ref, &f, &r), 2);
    d = find(&r, "video.codec");
    CHECK(d && d->requirement && !strcmp(d->value, "hevc") && !strcmp(d->ref_value, "H.264"));
    CHECK(find(&r, "audio.channels") != NULL);
    CHECK(find(&r, "video.profile") == NULL);
    vp_check_result_clear(&r);
    /* ... as the reference: named by vp_check_requirements(), not the H.264 file */
    CHECK_EQ(vp_check_compare(&f, &ref, &r), 1);
    CHECK(find(&r, "video.codec") == NULL && find(&r, "audio.channels") != NULL);
    vp_check_result_clear(&r);
    CHECK_EQ(vp_check_requirements(&f, &r), 1);
    CHECK(find(&r, "video.codec") != NULL);
    vp_check_result_clear(&r);

    /* Audio the join cannot copy, whatever the reference: named as what the join needs. */
    f = make(1, 1);
    strcpy(streams[1][1].codec, "pcm_s16le");
    streams[1][1].profile[0] = 0;
    CHECK_EQ(vp_check_compare(&ref, &f, &r), 1);
    d = find(&r, "audio.codec");
    CHECK(d && d->severity == VP_CHECK_ERROR && d->requirement && d->conformable);
    if (d) {
        CHECK_STR(d->value, "PCM (pcm_s16le)");
        CHECK_STR(d->ref_value, "AAC-LC");
    }
    vp_check_result_clear(&r);
    /* ... as the reference: its own requirement, not the other file's difference */
    CHECK_EQ(vp_check_compare(&f, &ref, &r), 0);
    CHECK_EQ(r.nb_diffs, 0);
    vp_check_result_clear(&r);
    CHECK_EQ(vp_check_requirements(&f, &r), 1);
    d = find(&r, "audio.codec");
    CHECK(d && d->requirement && !d->conformable);
    vp_check_result_clear(&r);
    CHECK_EQ(vp_check_requirements(&ref, &r), 0);
    CHECK_EQ(r.nb_diffs, 0);
    vp_check_result_clear(&r);
    /* both PCM: each file names its own */
    CHECK_EQ(vp_check_compare(&f, &f, &r), 1);
    vp_check_result_clear(&r);
    strcpy(streams[1][1].codec, "aac");
    strcpy(streams[1][1].profile, "HE-AAC");
    CHECK_EQ(vp_check_compare(&ref, &f, &r), 1);
    d = find(&r, "audio.codec");
    CHECK(d && !strcmp(d->value, "aac (HE-AAC)"));
    vp_check_result_clear(&r);
    CHECK(vp_check_requirements(NULL, &r) < 0);

    CHECK(vp_check_compare(NULL, &f, &r) < 0);
    TEST_END();
}
