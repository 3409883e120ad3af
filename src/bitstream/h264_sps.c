/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The H.264 sequence parameter set fields that decide whether two streams can share one
 * output track: picture size, chroma format, bit depth, frame/field coding, aspect ratio.
 * Lets the joiner accept a segment from its index alone, without probing (decoding). */
#include <limits.h>
#include <string.h>

#include "bitstream.h"
#include "util/internal.h"

static void scaling_list(VpiBits *b, int size)
{
    int last = 8, next = 8;
    for (int j = 0; j < size && !b->overrun; j++) {
        if (next) /* delta_scale is -128..127 in a valid stream, up to +-2^31 in another */
            next = (int)(((last + (int64_t)vpi_bits_se(b)) % 256 + 256) % 256);
        last = next ? next : last;
    }
}

int vpi_h264_sps_parse(const uint8_t *nal, size_t size, VpiH264Sps *s)
{
    static const int sar_table[17][2] = {
        { 0, 1 }, { 1, 1 }, { 12, 11 }, { 10, 11 }, { 16, 11 }, { 40, 33 }, { 24, 11 },
        { 20, 11 }, { 32, 11 }, { 80, 33 }, { 18, 11 }, { 15, 11 }, { 64, 33 }, { 160, 99 },
        { 4, 3 }, { 3, 2 }, { 2, 1 },
    };
    VpiBits b;

    memset(s, 0, sizeof(*s));
    if (size < 4 || (nal[0] & 0x1f) != 7)
        return -1;
    vpi_bits_init(&b, nal + 1, size - 1);
    s->profile_idc = (int)vpi_bits_u(&b, 8);
    vpi_bits_u(&b, 8);
    s->level_idc = (int)vpi_bits_u(&b, 8);
    vpi_bits_ue(&b);
    s->chroma_format_idc = 1;
    switch (s->profile_idc) {
    case 100: case 110: case 122: case 244: case 44: case 83: case 86: case 118: case 128:
    case 138: case 139: case 134: case 135: {
        /* ue(v) values reach 2^32 - 2: range-checked before they become ints */
        unsigned chroma = vpi_bits_ue(&b);
        if (chroma > 3)
            return -1;
        s->chroma_format_idc = (int)chroma;
        if (chroma == 3)
            vpi_bits_u(&b, 1);
        unsigned luma = vpi_bits_ue(&b), chroma_depth = vpi_bits_ue(&b);
        if (luma > 6 || chroma_depth > 6)
            return -1; /* bit depths are 8..14 */
        s->bit_depth_luma = 8 + (int)luma;
        s->bit_depth_chroma = 8 + (int)chroma_depth;
        vpi_bits_u(&b, 1);
        if (vpi_bits_u(&b, 1))
            for (int i = 0; i < (s->chroma_format_idc != 3 ? 8 : 12); i++)
                if (vpi_bits_u(&b, 1))
                    scaling_list(&b, i < 6 ? 16 : 64);
        break;
    }
    default:
        s->bit_depth_luma = s->bit_depth_chroma = 8;
    }
    vpi_bits_ue(&b); /* log2_max_frame_num_minus4 */
    unsigned poc = vpi_bits_ue(&b);
    if (poc == 0) {
        vpi_bits_ue(&b);
    } else if (poc == 1) {
        vpi_bits_u(&b, 1);
        vpi_bits_se(&b);
        vpi_bits_se(&b);
        unsigned n = vpi_bits_ue(&b);
        if (n > 255)
            return -1;
        for (unsigned i = 0; i < n; i++)
            vpi_bits_se(&b);
    } else if (poc != 2) {
        return -1; /* pic_order_cnt_type is 0, 1 or 2 */
    }
    vpi_bits_ue(&b); /* max_num_ref_frames */
    vpi_bits_u(&b, 1);
    /* Every value below comes from the file: sizes are computed in 64 bits and checked
     * before they become ints. */
    uint64_t w_mbs = (uint64_t)vpi_bits_ue(&b) + 1, h_map = (uint64_t)vpi_bits_ue(&b) + 1;
    s->frame_mbs_only = (int)vpi_bits_u(&b, 1);
    if (!s->frame_mbs_only)
        vpi_bits_u(&b, 1);
    vpi_bits_u(&b, 1);
    uint64_t cl = 0, cr = 0, ct = 0, cb = 0;
    if (vpi_bits_u(&b, 1)) {
        cl = vpi_bits_ue(&b);
        cr = vpi_bits_ue(&b);
        ct = vpi_bits_ue(&b);
        cb = vpi_bits_ue(&b);
    }
    /* The coded picture must be one a decoder can allocate: FFmpeg refuses one of
     * (w + 128) * (h + 128) >= INT_MAX / 8 samples (av_image_check_size). */
    uint64_t coded_w = 16 * w_mbs, coded_h = 16 * h_map * (uint64_t)(2 - s->frame_mbs_only);
    if (coded_w > INT_MAX / 8 || coded_h > INT_MAX / 8 ||
        (coded_w + 128) * (coded_h + 128) >= INT_MAX / 8)
        return -1;
    /* Cropping is counted in chroma samples (and field pairs); it must leave at least one
     * row and column of the coded picture, or the SPS is invalid (FFmpeg: "crop values
     * invalid"). */
    uint64_t sub_w = s->chroma_format_idc == 1 || s->chroma_format_idc == 2 ? 2 : 1;
    uint64_t sub_h = s->chroma_format_idc == 1 ? 2 : 1;
    uint64_t cux = s->chroma_format_idc ? sub_w : 1;
    uint64_t cuy = (s->chroma_format_idc ? sub_h : 1) * (uint64_t)(2 - s->frame_mbs_only);
    if ((cl + cr) * cux >= coded_w || (ct + cb) * cuy >= coded_h)
        return -1;
    s->width = (int)(coded_w - (cl + cr) * cux);
    s->height = (int)(coded_h - (ct + cb) * cuy);
    s->sar_num = s->sar_den = 0;
    if (vpi_bits_u(&b, 1) && vpi_bits_u(&b, 1)) { /* vui_parameters_present_flag, aspect_ratio_info_present_flag */
        unsigned idc = vpi_bits_u(&b, 8);
        if (idc == 255) {
            s->sar_num = (int)vpi_bits_u(&b, 16);
            s->sar_den = (int)vpi_bits_u(&b, 16);
        } else if (idc < 17) {
            s->sar_num = sar_table[idc][0];
            s->sar_den = sar_table[idc][1];
        }
    }
    if (b.overrun || s->width <= 0 || s->height <= 0)
        return -1;
    return 0;
}

int vpi_avcc_first_sps(const uint8_t *avcc, size_t size, VpiH264Sps *s)
{
    if (size < 8 || (avcc[5] & 0x1f) < 1)
        return -1;
    size_t len = (size_t)avcc[6] << 8 | avcc[7];
    if (8 + len > size)
        return -1;
    return vpi_h264_sps_parse(avcc + 8, len, s);
}
