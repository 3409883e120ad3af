/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* H.264/HEVC bitstream helpers: NAL unit walking, the few header fields read without
 * decoding (slice type, IDR, SPS picture format). Private to libvidpipe. */
#ifndef VIDPIPE_BITSTREAM_H
#define VIDPIPE_BITSTREAM_H

#include <stddef.h>
#include <stdint.h>

/* A packet's payload split into NAL units: either Annex B (start codes) or length-prefixed
 * (avcC/hvcC with nal_length_size bytes). */
typedef struct VpiNalIter {
    const uint8_t *p, *end;
    int length_size;       /* 0: Annex B; 1..4: length-prefixed */
} VpiNalIter;

void vpi_nal_iter_init(VpiNalIter *it, const uint8_t *data, size_t size, int length_size);
/* Returns 1 and sets *nal and *size to the next NAL unit, 0 at the end, <0 on malformed data. */
int vpi_nal_next(VpiNalIter *it, const uint8_t **nal, size_t *size);

/* Bits of a NAL unit's payload (RBSP): the first bytes, with emulation-prevention bytes
 * removed. Reading past the end returns zeros and sets overrun, so a parser can read a
 * whole header and check overrun once. */
typedef struct VpiBits {
    uint8_t buf[512];
    size_t size, pos; /* pos in bits */
    int overrun;
} VpiBits;
void vpi_bits_init(VpiBits *b, const uint8_t *payload, size_t size);
unsigned vpi_bits_u(VpiBits *b, int n);   /* n <= 32 */
unsigned vpi_bits_ue(VpiBits *b);         /* exp-Golomb ue(v) */
int vpi_bits_se(VpiBits *b);              /* exp-Golomb se(v) */

/* avcC: returns the NAL length size (1..4), or 0 if @p extradata is not avcC. */
int vpi_avcc_length_size(const uint8_t *extradata, size_t size);
/* hvcC: returns the NAL length size (1..4), or 0 if @p extradata is not hvcC. */
int vpi_hvcc_length_size(const uint8_t *extradata, size_t size);

/* The first slice's slice_type in an H.264 access unit, mapped to 0=P 1=B 2=I 3=SP 4=SI;
 * also reports whether the picture is IDR and carries a recovery point SEI.
 * Returns 0 on success, <0 if no slice was found. */
typedef struct VpiH264Frame {
    int slice_type;      /* -1 if not found */
    int idr;
    int recovery_point;  /* SEI recovery_point present */
    int has_sps, has_pps;
    int nal_ref_idc;
} VpiH264Frame;
int vpi_h264_inspect(const uint8_t *data, size_t size, int length_size, VpiH264Frame *out);

/* HEVC equivalent: slice_type 0=B 1=P 2=I as in the spec, idr for IDR_W_RADL/IDR_N_LP,
 * recovery_point for CRA/BLA (intra random access that is not IDR). */
int vpi_hevc_inspect(const uint8_t *data, size_t size, int length_size, VpiH264Frame *out);

/* What an H.264 SPS says about the pictures (enough to tell whether two streams fit one
 * track). sar 0/0: not given. */
typedef struct VpiH264Sps {
    int profile_idc, level_idc;
    int chroma_format_idc, bit_depth_luma, bit_depth_chroma;
    int frame_mbs_only;
    int width, height;
    int sar_num, sar_den;
} VpiH264Sps;

/* Parse an SPS NAL unit (with its header byte). Returns 0, or <0 if malformed. */
int vpi_h264_sps_parse(const uint8_t *nal, size_t size, VpiH264Sps *sps);
/* The first SPS of an avcC box. */
int vpi_avcc_first_sps(const uint8_t *avcc, size_t size, VpiH264Sps *sps);

#endif /* VIDPIPE_BITSTREAM_H */
