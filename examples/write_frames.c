/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Write a few seconds of generated BGR frames (as a computer-vision program would produce
 * them) to an H.264 MP4 with libvidpipe's frame writer.
 *
 *   write_frames OUT.mp4 [WIDTH HEIGHT FRAMES [PRESET [HW]]]
 *
 * Prints which encoder was used and how fast it ran. */
#include <stdio.h>
#include <stdlib.h>

#include <vidpipe/vidpipe.h>

static void log_line(void *opaque, int level, const char *msg)
{
    (void)opaque;
    (void)level;
    fprintf(stderr, "write_frames: %s\n", msg);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: write_frames OUT.mp4 [WIDTH HEIGHT FRAMES [PRESET [HW]]]\n");
        return 3;
    }
    VpWriterOpts o;
    vp_writer_default_opts(&o);
    o.width = argc > 3 ? atoi(argv[2]) : 640;
    o.height = argc > 3 ? atoi(argv[3]) : 360;
    int frames = argc > 4 ? atoi(argv[4]) : 90;
    if (argc > 5)
        o.preset = argv[5];
    if (argc > 6 && (int)(o.hw = vp_hw_encoder_from_name(argv[6])) < 0) {
        fprintf(stderr, "write_frames: unknown hardware choice %s\n", argv[6]);
        return 3;
    }
    o.pix_fmt = VP_PIX_BGR24;
    o.fps = (VpRational){ 30, 1 };
    vp_set_log_callback(log_line, NULL, VP_LOG_INFO);

    char why[512];
    VpWriter *w = NULL;
    if (vp_writer_open(argv[1], &o, &w, why, sizeof(why)) < 0) {
        fprintf(stderr, "write_frames: %s\n", why);
        return 4;
    }
    /* The frame buffer is reused at once: write() has copied it before returning. */
    int stride = o.width * 3;
    unsigned char *bgr = malloc((size_t)stride * o.height);
    if (!bgr) {
        vp_writer_abort(&w);
        return 4;
    }
    for (int n = 0; n < frames; n++) {
        for (int y = 0; y < o.height; y++) {
            unsigned char *p = bgr + (size_t)y * stride;
            for (int x = 0; x < o.width; x++, p += 3) {
                p[0] = (unsigned char)(x + n * 4);
                p[1] = (unsigned char)(y + n * 2);
                p[2] = (unsigned char)((x ^ y) + n);
            }
        }
        if (vp_writer_write(w, bgr, stride, 0) < 0) {
            /* The encoder or the disk failed: the message names the file and the reason. */
            fprintf(stderr, "write_frames: %s\n", vp_writer_error(w));
            break;
        }
    }
    free(bgr);

    VpWriterStats st;
    if (vp_writer_close(&w, &st, why, sizeof(why)) < 0) {
        fprintf(stderr, "write_frames: %s\n", why);
        return 4;
    }
    printf("%s: %lld frames, %s, %.1f fps, %lld bytes\n", argv[1], (long long)st.frames,
           st.encoder, st.fps, (long long)st.bytes);
    return 0;
}
