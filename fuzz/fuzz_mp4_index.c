/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the MP4 index (vpi_mp4_index) on hostile bytes must not crash, hang, leak or
 * allocate beyond what the file can hold, and what it accepts must keep the limits its
 * users rely on (mp4.h): every sample inside the file, every time within the file's span,
 * composition offsets within reordering, edits inside the media. A broken promise aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bitstream/bitstream.h"
#include "mp4/mp4.h"
#include "vidpipe/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define require(cond)                                                            \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fuzz_mp4_index: broken: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                             \
        }                                                                        \
    } while (0)

static void touch_track(const VpiMp4Track *t, int64_t file_size)
{
    if (t->kind == VPI_TRACK_NONE)
        return;
    int64_t lim = vpi_mp4_max_seconds(file_size) * (int64_t)t->timescale;
    int64_t max_cts = VPI_MP4_MAX_REORDER * (int64_t)(t->max_duration ? t->max_duration
                                                                       : t->timescale);
    require(t->nb_samples > 0 && t->timescale > 0);
    require(t->media_duration >= 0 && t->media_duration <= lim);
    require(t->pts_end - t->pts_min <= lim);
    int64_t dts = 0;
    for (int64_t i = 0; i < t->nb_samples; i++) {
        const VpiMp4Sample *s = &t->samples[i];
        require(s->pos >= 0 && s->pos <= file_size && s->size <= file_size - s->pos);
        require(s->dts == dts);
        require(s->duration <= t->max_duration);
        require(s->cts <= max_cts && s->cts >= -max_cts);
        require(s->dts + s->cts >= t->pts_min && s->dts + s->cts + s->duration <= t->pts_end);
        dts += s->duration;
    }
    require(dts == t->media_duration);
    if (t->has_edit) {
        require(t->edit_dwell >= 0 && t->edit_dwell <= lim);
        require(t->edit_media_time >= 0 && t->edit_media_time <= t->pts_end);
        require(t->edit_duration >= -1 && t->edit_duration <= lim + 1);
    }
    if (t->avcc) {
        VpiH264Sps sps;
        if (vpi_avcc_first_sps(t->avcc, t->avcc_size, &sps) == 0)
            require(sps.width > 0 && sps.height > 0 &&
                    ((int64_t)sps.width + 128) * (sps.height + 128) < INT32_MAX / 8);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    char why[512];
    VpiMp4File *f = NULL;

    if (!init) {
        vp_set_log_callback(NULL, NULL, 0);
        init = 1;
    }
    int fd = memfd_create("fuzz_mp4_index", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    for (size_t done = 0; done < size;) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            close(fd);
            return 0;
        }
        done += (size_t)w;
    }
    if (vpi_mp4_index(fd, &f, why, sizeof(why)) == 0) {
        require(f && f->file_size == (int64_t)size);
        require(f->video.kind == VPI_TRACK_VIDEO);
        touch_track(&f->video, f->file_size);
        touch_track(&f->audio, f->file_size);
        require(vpi_mp4_index_bytes(f) > 0);
    } else {
        require(!f && why[0]);
    }
    vpi_mp4_index_free(&f);
    close(fd);
    return 0;
}
