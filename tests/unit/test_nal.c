/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NAL unit walking and slice header reading on hand-made H.264/HEVC access units. */
#include "bitstream/bitstream.h"
#include "util/internal.h"
#include "test.h"

/* first_mb_in_slice = 0 ("1"), slice_type ue(v): I=7 "0001000", P=5 "00110", B=6 "00111". */
static const uint8_t idr_slice[] = { 0x65, 0x88, 0x80 };  /* 1 0001000 1...: IDR, I */
static const uint8_t p_slice[] = { 0x41, 0x9a, 0x00 };    /* 1 00110 10: P */
static const uint8_t b_slice[] = { 0x01, 0x9e, 0x00 };    /* 1 00111 10: B, nal_ref_idc 0 */
static const uint8_t sps[] = { 0x67, 0x64, 0x00, 0x1f };
static const uint8_t pps[] = { 0x68, 0xee, 0x3c, 0x80 };
/* SEI with payloadType 6 (recovery point), size 1. */
static const uint8_t sei_rp[] = { 0x06, 0x06, 0x01, 0x84, 0x80 };

static size_t annexb(uint8_t *out, const uint8_t *const *nals, const size_t *sizes, int n)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        static const uint8_t sc4[] = { 0, 0, 0, 1 }, sc3[] = { 0, 0, 1 };
        if (i % 2 == 0) {
            memcpy(out + o, sc4, 4);
            o += 4;
        } else {
            memcpy(out + o, sc3, 3);
            o += 3;
        }
        memcpy(out + o, nals[i], sizes[i]);
        o += sizes[i];
    }
    return o;
}

static size_t lenpref(uint8_t *out, const uint8_t *const *nals, const size_t *sizes, int n)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        out[o++] = 0;
        out[o++] = 0;
        out[o++] = (uint8_t)(sizes[i] >> 8);
        out[o++] = (uint8_t)sizes[i];
        memcpy(out + o, nals[i], sizes[i]);
        o += sizes[i];
    }
    return o;
}

int main(void)
{
    uint8_t buf[256];
    VpiH264Frame f;
    const uint8_t *nals[4] = { sps, pps, sei_rp, idr_slice };
    size_t sizes[4] = { sizeof(sps), sizeof(pps), sizeof(sei_rp), sizeof(idr_slice) };

    /* Annex B with mixed 3- and 4-byte start codes. */
    size_t n = annexb(buf, nals, sizes, 4);
    VpiNalIter it;
    const uint8_t *nal;
    size_t ns;
    int count = 0;
    vpi_nal_iter_init(&it, buf, n, 0);
    while (vpi_nal_next(&it, &nal, &ns) > 0) {
        CHECK(count < 4);
        if (count < 4) {
            CHECK_EQ(ns, sizes[count]);
            CHECK(!memcmp(nal, nals[count], ns));
        }
        count++;
    }
    CHECK_EQ(count, 4);
    CHECK_EQ(vpi_h264_inspect(buf, n, 0, &f), 0);
    CHECK_EQ(f.slice_type, 2);
    CHECK_EQ(f.idr, 1);
    CHECK_EQ(f.has_sps, 1);
    CHECK_EQ(f.has_pps, 1);
    CHECK_EQ(f.recovery_point, 1);

    /* Length-prefixed (avcC, 4 bytes), P and B slices. */
    const uint8_t *pn[1] = { p_slice };
    size_t ps[1] = { sizeof(p_slice) };
    n = lenpref(buf, pn, ps, 1);
    CHECK_EQ(vpi_h264_inspect(buf, n, 4, &f), 0);
    CHECK_EQ(f.slice_type, 0);
    CHECK_EQ(f.idr, 0);
    CHECK_EQ(f.has_sps, 0);
    const uint8_t *bn[1] = { b_slice };
    size_t bs[1] = { sizeof(b_slice) };
    n = lenpref(buf, bn, bs, 1);
    CHECK_EQ(vpi_h264_inspect(buf, n, 4, &f), 0);
    CHECK_EQ(f.slice_type, 1);
    CHECK_EQ(f.nal_ref_idc, 0);

    /* A length that runs past the end is malformed, not a crash. */
    uint8_t bad[] = { 0, 0, 1, 0, 0x65, 0x88 };
    vpi_nal_iter_init(&it, bad, sizeof(bad), 4);
    CHECK_EQ(vpi_nal_next(&it, &nal, &ns), -1);
    CHECK(vpi_h264_inspect(bad, sizeof(bad), 4, &f) < 0);
    /* No slice at all. */
    CHECK(vpi_h264_inspect(sps, sizeof(sps), 0, &f) < 0);

    /* Emulation prevention: 00 00 03 inside the slice header is removed before reading. */
    const uint8_t epb_slice[] = { 0x65, 0x00, 0x00, 0x03, 0x01 };
    /* first_mb_in_slice is then a long exp-Golomb code: 15 zeros, 1, 15 bits. */
    const uint8_t *en[1] = { epb_slice };
    size_t es[1] = { sizeof(epb_slice) };
    n = lenpref(buf, en, es, 1);
    CHECK(vpi_h264_inspect(buf, n, 4, &f) < 0); /* runs out of bits: reported, no crash */

    /* avcC / hvcC length sizes. */
    const uint8_t avcc[] = { 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0 };
    CHECK_EQ(vpi_avcc_length_size(avcc, sizeof(avcc)), 4);
    CHECK_EQ(vpi_avcc_length_size(sps, sizeof(sps)), 0);
    uint8_t hvcc[23] = { 1 };
    hvcc[21] = 0x0f;
    CHECK_EQ(vpi_hvcc_length_size(hvcc, sizeof(hvcc)), 4);

    /* HEVC: IDR_W_RADL (type 19) first slice, I slice (slice_type 2 = ue "011"). */
    /* 0xac = 1 0 1 011 00: first slice, no_output_of_prior_pics 0, pps 0, slice_type 2 */
    const uint8_t hevc_idr[] = { 19 << 1, 0x01, 0xac, 0x00 };
    const uint8_t *hn[1] = { hevc_idr };
    size_t hs[1] = { sizeof(hevc_idr) };
    n = lenpref(buf, hn, hs, 1);
    CHECK_EQ(vpi_hevc_inspect(buf, n, 4, &f), 0);
    CHECK_EQ(f.slice_type, 2);
    CHECK_EQ(f.idr, 1);
    /* CRA (type 21) is a random access point that is not IDR. */
    const uint8_t hevc_cra[] = { 21 << 1, 0x01, 0xac, 0x00 };
    hn[0] = hevc_cra;
    n = lenpref(buf, hn, hs, 1);
    CHECK_EQ(vpi_hevc_inspect(buf, n, 4, &f), 0);
    CHECK_EQ(f.idr, 0);
    CHECK_EQ(f.recovery_point, 1);
    TEST_END();
}
