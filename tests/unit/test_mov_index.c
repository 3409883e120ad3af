/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MP4 index on QuickTime sound sample descriptions: version 1 (AAC in a 'wave' atom,
 * 24-bit PCM) and version 2 (rate above 65535 Hz), read right, offered to the writer as an
 * ISO version-0 'mp4a' entry, and every byte of such an entry corrupted without a bad read. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mp4/mp4.h"
#include "test.h"

static char dir[256];
static uint8_t buf[1 << 20];

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static void make(const char *name, const char *args)
{
    char cmd[1024], path[512];
    path_of(path, sizeof(path), name);
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y %s '%s'", args, path);
    if (t_sh(cmd) != 0)
        TEST_SKIP("ffmpeg could not make %s", name);
}

static VpiMp4File *index_of(const char *name)
{
    char path[512], why[256];
    VpiMp4File *f = NULL;
    path_of(path, sizeof(path), name);
    int fd = open(path, O_RDONLY);
    int r = fd < 0 ? -1 : vpi_mp4_index(fd, &f, why, sizeof(why));
    if (r < 0)
        T_FAIL("%s: cannot index it: %s", name, fd < 0 ? "cannot open" : why);
    if (fd >= 0)
        close(fd);
    return f;
}

static size_t load(const char *name)
{
    char path[512];
    path_of(path, sizeof(path), name);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
        fclose(f);
    return n;
}

/* Offset of the audio sample entry (its size field) in buf, from the 'stsd' whose first
 * entry has type @p fourcc; 0 if none. */
static size_t entry_offset(size_t n, const char *fourcc)
{
    for (size_t i = 4; i + 20 <= n; i++)
        if (!memcmp(buf + i, "stsd", 4) && !memcmp(buf + i + 16, fourcc, 4))
            return i + 12;
    return 0;
}

/* The sound description version the file holds (what ffmpeg's muxer chose). */
static int file_entry_version(const char *name, const char *fourcc)
{
    size_t n = load(name), e = entry_offset(n, fourcc);
    return e && e + 18 <= n ? buf[e + 16] << 8 | buf[e + 17] : -1;
}

static int has_box_type(const uint8_t *p, size_t n, const char *type)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (!memcmp(p + i, type, 4))
            return 1;
    return 0;
}

/* @p mov's audio entry, as the index offers it, is the ISO form of @p mp4's. */
static void check_iso_form(const VpiMp4Track *mov, const VpiMp4Track *mp4, int channels, int rate)
{
    CHECK_EQ(mov->fourcc, mp4->fourcc);
    CHECK_EQ(mov->sample_rate, rate);
    CHECK_EQ(mov->channels, channels);
    CHECK_EQ(mov->object_type, 2);
    CHECK_EQ(mov->asc_size, mp4->asc_size);
    CHECK(mov->asc_size >= 2 && !memcmp(mov->asc, mp4->asc, (size_t)mov->asc_size));
    const uint8_t *e = mov->entry;
    CHECK(mov->entry_size >= 44 && !memcmp(e + 4, "mp4a", 4) && !memcmp(e + 40, "esds", 4));
    if (mov->entry_size < 44)
        return;
    CHECK_EQ((e[16] << 8) | e[17], 0);                          /* version 0 */
    CHECK_EQ((e[24] << 8) | e[25], channels);
    CHECK_EQ((e[26] << 8) | e[27], 16);
    CHECK_EQ(((uint32_t)e[32] << 8) | e[33], rate <= 65535 ? rate : 0);
    CHECK(!has_box_type(e, mov->entry_size, "wave"));
    /* ffmpeg's MP4 entry for the same stream is this one, then a 'btrt' box; but it keeps
     * the channel count at its ISO template value, 2 */
    CHECK_INT(mov->entry_size, <=, mp4->entry_size);
    CHECK(mov->entry_size <= mp4->entry_size && !memcmp(e + 4, mp4->entry + 4, 20) &&
          !memcmp(e + 26, mp4->entry + 26, mov->entry_size - 26));
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/vptest_mov.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary directory");

    const char *v = "-f lavfi -i testsrc=s=160x120:r=24:d=0.5";
    const char *vc = "-c:v libx264 -preset ultrafast -pix_fmt yuv420p";
    char args[1024], src[512];
    /* AAC 48 kHz mono, copied into a .mov: version 1, esds inside 'wave' */
    snprintf(args, sizeof(args), "%s -f lavfi -i sine=d=0.5:sample_rate=48000 %s -c:a aac", v,
             vc);
    make("a.mp4", args);
    path_of(src, sizeof(src), "a.mp4");
    snprintf(args, sizeof(args), "-i '%s' -c copy", src);
    make("a.mov", args);
    /* AAC 96 kHz stereo: the rate does not fit 16.16, ffmpeg writes version 2 */
    snprintf(args, sizeof(args), "%s -f lavfi -i sine=d=0.5:sample_rate=96000 %s -c:a aac "
             "-ac 2", v, vc);
    make("b.mp4", args);
    path_of(src, sizeof(src), "b.mp4");
    snprintf(args, sizeof(args), "-i '%s' -c copy", src);
    make("b.mov", args);
    /* PCM without an esds: 24-bit (version 1 'in24'), 96 kHz 3 channels (version 2 'lpcm') */
    snprintf(args, sizeof(args), "%s -f lavfi -i sine=d=0.5:sample_rate=44100 %s "
             "-c:a pcm_s24le -ac 2", v, vc);
    make("c.mov", args);
    snprintf(args, sizeof(args), "%s -f lavfi -i sine=d=0.5:sample_rate=96000 %s "
             "-c:a pcm_s24le -ac 3", v, vc);
    make("d.mov", args);

    CHECK_EQ(file_entry_version("a.mov", "mp4a"), 1);
    CHECK_EQ(file_entry_version("b.mov", "mp4a"), 2);
    CHECK_EQ(file_entry_version("c.mov", "in24"), 1);
    CHECK_EQ(file_entry_version("d.mov", "lpcm"), 2);

    VpiMp4File *a = index_of("a.mp4"), *am = index_of("a.mov");
    VpiMp4File *b = index_of("b.mp4"), *bm = index_of("b.mov");
    VpiMp4File *c = index_of("c.mov"), *d = index_of("d.mov");
    if (a && am)
        check_iso_form(&am->audio, &a->audio, 1, 48000);
    if (b && bm)
        check_iso_form(&bm->audio, &b->audio, 2, 96000);
    if (am && a)
        CHECK_EQ(am->audio.nb_samples, a->audio.nb_samples);
    /* PCM: rate and channels from the QuickTime fields; the entry stays as it was */
    if (c) {
        CHECK_EQ(c->audio.fourcc, 0x696e3234u); /* in24 */
        CHECK_EQ(c->audio.sample_rate, 44100);
        CHECK_EQ(c->audio.channels, 2);
        CHECK_EQ(c->audio.object_type, 0);
        CHECK_EQ(c->audio.asc_size, 0);
    }
    if (d) {
        CHECK_EQ(d->audio.fourcc, 0x6c70636du); /* lpcm */
        CHECK_EQ(d->audio.sample_rate, 96000);
        CHECK_EQ(d->audio.channels, 3);
        size_t n = load("d.mov"), e = entry_offset(n, "lpcm");
        CHECK(e && d->audio.entry_size <= n - e &&
              !memcmp(d->audio.entry, buf + e, d->audio.entry_size));
    }
    vpi_mp4_index_free(&a);
    vpi_mp4_index_free(&am);
    vpi_mp4_index_free(&b);
    vpi_mp4_index_free(&bm);
    vpi_mp4_index_free(&c);
    vpi_mp4_index_free(&d);

    /* Hostile: every byte of a version 1 and a version 2 entry (wave, esds, their sizes)
     * set to 0x00, 0x7f and 0xff; each file is refused with a reason or read, and ASan
     * checks the reads. */
    const char *hostile[] = { "a.mov", "b.mov" };
    char cut[512], why[256];
    path_of(cut, sizeof(cut), "x.mov");
    int refused = 0, read_ok = 0;
    for (int h = 0; h < 2; h++) {
        size_t n = load(hostile[h]), e = entry_offset(n, "mp4a");
        CHECK(e > 0 && n < sizeof(buf));
        size_t len = e ? (size_t)buf[e] << 24 | buf[e + 1] << 16 | buf[e + 2] << 8 | buf[e + 3]
                       : 0;
        CHECK(len > 100 && e + len <= n);
        for (size_t i = e; len <= n - e && i < e + len; i++) {
            static const uint8_t vals[] = { 0x00, 0x7f, 0xff };
            uint8_t keep = buf[i];
            for (size_t k = 0; k < sizeof(vals); k++) {
                buf[i] = vals[k];
                FILE *w = fopen(cut, "wb");
                if (!w)
                    break;
                fwrite(buf, 1, n, w);
                fclose(w);
                int fd = open(cut, O_RDONLY);
                VpiMp4File *mf = NULL;
                int r = vpi_mp4_index(fd, &mf, why, sizeof(why));
                if (r < 0) {
                    refused++;
                    CHECK(why[0] != 0 && mf == NULL);
                } else {
                    read_ok++;
                    CHECK(mf->audio.kind != VPI_TRACK_AUDIO ||
                          (mf->audio.entry && mf->audio.entry_size >= 8));
                }
                vpi_mp4_index_free(&mf);
                close(fd);
            }
            buf[i] = keep;
        }
    }
    CHECK(refused > 10);
    CHECK(read_ok > 100);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    t_sh(cmd);
    TEST_END();
}
