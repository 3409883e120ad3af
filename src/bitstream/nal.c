/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* H.264/HEVC NAL unit walking and the few header fields vidpipe reads without decoding. */
#include <string.h>

#include "bitstream.h"
#include "util/internal.h"

void vpi_nal_iter_init(VpiNalIter *it, const uint8_t *data, size_t size, int length_size)
{
    it->p = data;
    it->end = data + size;
    it->length_size = length_size;
}

static const uint8_t *find_start_code(const uint8_t *p, const uint8_t *end)
{
    while (end - p >= 3) {
        if (p[2] > 1)
            p += 3;
        else if (p[0] == 0 && p[1] == 0 && p[2] == 1)
            return p;
        else
            p++;
    }
    return end;
}

int vpi_nal_next(VpiNalIter *it, const uint8_t **nal, size_t *size)
{
    if (it->length_size) {
        if (it->end - it->p < it->length_size)
            return 0;
        uint32_t len = 0;
        for (int i = 0; i < it->length_size; i++)
            len = (len << 8) | *it->p++;
        if (len > (size_t)(it->end - it->p))
            return -1;
        *nal = it->p;
        *size = len;
        it->p += len;
        return 1;
    }
    const uint8_t *sc = find_start_code(it->p, it->end);
    if (sc == it->end)
        return 0;
    const uint8_t *start = sc + 3;
    const uint8_t *next = find_start_code(start, it->end);
    const uint8_t *stop = next;
    /* trailing zero bytes belong to the next (4-byte) start code */
    while (stop > start && stop[-1] == 0 && next != it->end)
        stop--;
    *nal = start;
    *size = (size_t)(stop - start);
    it->p = next;
    return 1;
}

int vpi_avcc_length_size(const uint8_t *extradata, size_t size)
{
    if (!extradata || size < 7 || extradata[0] != 1)
        return 0;
    return (extradata[4] & 3) + 1;
}

int vpi_hvcc_length_size(const uint8_t *extradata, size_t size)
{
    /* hvcC starts with configurationVersion 1; Annex B extradata starts with 0 0 (0) 1. */
    if (!extradata || size < 23 || extradata[0] != 1)
        return 0;
    return (extradata[21] & 3) + 1;
}

void vpi_bits_init(VpiBits *b, const uint8_t *payload, size_t size)
{
    size_t n = 0, zeros = 0;
    for (size_t i = 0; i < size && n < sizeof(b->buf); i++) {
        if (zeros >= 2 && payload[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = payload[i] == 0 ? zeros + 1 : 0;
        b->buf[n++] = payload[i];
    }
    b->size = n;
    b->pos = 0;
    b->overrun = 0;
}

static unsigned bits_u1(VpiBits *b)
{
    if (b->pos >= b->size * 8) {
        b->overrun = 1;
        return 0;
    }
    unsigned v = (b->buf[b->pos >> 3] >> (7 - (b->pos & 7))) & 1;
    b->pos++;
    return v;
}

unsigned vpi_bits_u(VpiBits *b, int n)
{
    unsigned v = 0;
    while (n-- > 0)
        v = (v << 1) | bits_u1(b);
    return v;
}

unsigned vpi_bits_ue(VpiBits *b)
{
    int zeros = 0;
    while (!bits_u1(b) && !b->overrun)
        if (++zeros > 31) {
            b->overrun = 1;
            return 0;
        }
    if (b->overrun)
        return 0;
    return ((1u << zeros) - 1) + vpi_bits_u(b, zeros);
}

int vpi_bits_se(VpiBits *b)
{
    unsigned v = vpi_bits_ue(b);
    return v & 1 ? (int)((v + 1) / 2) : -(int)(v / 2);
}

/* SEI payloads of one H.264 SEI NAL: look for recovery_point (payloadType 6). */
static int h264_sei_has_recovery(const uint8_t *nal, size_t size)
{
    uint8_t rbsp[256];
    size_t n = 0, zeros = 0;
    for (size_t i = 1; i < size && n < sizeof(rbsp); i++) {
        if (zeros >= 2 && nal[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = nal[i] == 0 ? zeros + 1 : 0;
        rbsp[n++] = nal[i];
    }
    size_t p = 0;
    while (p < n && rbsp[p] != 0x80) {
        unsigned type = 0, len = 0;
        while (p < n && rbsp[p] == 0xff)
            type += rbsp[p++];
        if (p >= n)
            break;
        type += rbsp[p++];
        while (p < n && rbsp[p] == 0xff)
            len += rbsp[p++];
        if (p >= n)
            break;
        len += rbsp[p++];
        if (type == 6)
            return 1;
        p += len;
    }
    return 0;
}

int vpi_h264_inspect(const uint8_t *data, size_t size, int length_size, VpiH264Frame *out)
{
    VpiNalIter it;
    const uint8_t *nal;
    size_t nsize;
    int r;

    memset(out, 0, sizeof(*out));
    out->slice_type = -1;
    vpi_nal_iter_init(&it, data, size, length_size);
    while ((r = vpi_nal_next(&it, &nal, &nsize)) > 0) {
        if (!nsize)
            continue;
        int type = nal[0] & 0x1f;
        switch (type) {
        case 7: out->has_sps = 1; break;
        case 8: out->has_pps = 1; break;
        case 6:
            if (h264_sei_has_recovery(nal, nsize))
                out->recovery_point = 1;
            break;
        case 1:
        case 5: {
            if (out->slice_type >= 0)
                break;
            VpiBits br;
            vpi_bits_init(&br, nal + 1, nsize - 1);
            vpi_bits_ue(&br); /* first_mb_in_slice */
            unsigned st = vpi_bits_ue(&br);
            if (br.overrun || st > 9)
                return -1;
            out->slice_type = (int)(st % 5);
            out->idr = type == 5;
            out->nal_ref_idc = (nal[0] >> 5) & 3;
            break;
        }
        default: break;
        }
    }
    return out->slice_type >= 0 ? 0 : -1;
}

int vpi_hevc_inspect(const uint8_t *data, size_t size, int length_size, VpiH264Frame *out)
{
    VpiNalIter it;
    const uint8_t *nal;
    size_t nsize;
    int r;

    memset(out, 0, sizeof(*out));
    out->slice_type = -1;
    vpi_nal_iter_init(&it, data, size, length_size);
    while ((r = vpi_nal_next(&it, &nal, &nsize)) > 0) {
        if (nsize < 3)
            continue;
        int type = (nal[0] >> 1) & 0x3f;
        if (type == 33)
            out->has_sps = 1;
        else if (type == 34)
            out->has_pps = 1;
        if (type > 21 || out->slice_type >= 0 || (type > 9 && type < 16))
            continue;
        VpiBits br;
        vpi_bits_init(&br, nal + 2, nsize - 2);
        if (vpi_bits_u(&br, 1) != 1)
            continue; /* only the first slice segment of a picture */
        if (type >= 16)
            vpi_bits_u(&br, 1); /* no_output_of_prior_pics_flag */
        vpi_bits_ue(&br); /* slice_pic_parameter_set_id */
        /* Assumes num_extra_slice_header_bits == 0, which every common encoder writes. */
        unsigned st = vpi_bits_ue(&br);
        if (br.overrun || st > 2)
            return -1;
        static const int map[3] = { 1, 0, 2 }; /* HEVC B=0 P=1 I=2 -> vidpipe P=0 B=1 I=2 */
        out->slice_type = map[st];
        out->idr = type == 19 || type == 20;
        out->recovery_point = type >= 16 && type <= 21 && !out->idr;
        out->nal_ref_idc = 1;
    }
    return out->slice_type >= 0 ? 0 : -1;
}
