/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RGB/gray to 4:2:0 YUV for the frame writer. Private to libvidpipe. */
#ifndef VIDPIPE_CONVERT_H
#define VIDPIPE_CONVERT_H

#include <stdint.h>

#include <libavutil/pixfmt.h>

/* Fixed-point (Q15) coefficients of one matrix, limited-range output. */
typedef struct VpiYuvMatrix {
    int32_t yr, yg, yb;
    int32_t ur, ug, ub;
    int32_t vr, vg, vb;
} VpiYuvMatrix;

/* BT.601 (SMPTE 170M) or BT.709 coefficients for full-range RGB in, limited-range YUV out. */
void vpi_yuv_matrix_init(VpiYuvMatrix *m, enum AVColorSpace cs);

/* 1 if vpi_convert_to_420() handles @p src to @p dst. */
int vpi_convert_supported(enum AVPixelFormat src, enum AVPixelFormat dst);

/* The widest kernels vpi_convert_to_420() may use, for tests that compare them: 0 scalar C,
 * 1 SSSE3, 2 AVX2, 3 AVX-512 (the default; each is used only when the CPU has it). Not
 * thread-safe: set it before converting. */
void vpi_convert_cap_isa(int level);

/* Convert rows [y0, y1) of a frame (y0, y1 even, or y1 == height) from packed
 * bgr24/rgb24/bgra/rgba or gray8 to yuv420p or nv12. Chroma is the mean of each 2x2 block.
 * Rows of different calls do not overlap, so slices may run on different threads. */
void vpi_convert_to_420(enum AVPixelFormat src_fmt, const uint8_t *src, int src_stride,
                        enum AVPixelFormat dst_fmt, uint8_t *const dst[], const int dst_stride[],
                        int width, int y0, int y1, const VpiYuvMatrix *m);

#endif /* VIDPIPE_CONVERT_H */
