/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RGB/gray to 4:2:0 YUV. libswscale's only fast path here (bgr24 to yuv420p) takes each
 * 2x2 block's chroma from its top-left pixel and runs scalar code; the rest of its RGB
 * inputs go through the generic scaler at ~3x the cost. These loops are written so the
 * compiler vectorises them, and are built for AVX2 and for the baseline, picked at load
 * time. Chroma is the mean of the 2x2 block. Arithmetic is Q15 fixed point; every result
 * lies in 16..240 by construction, so nothing needs clamping. */
#include <string.h>

#include "convert.h"

#define Q 15

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#  define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#  define MULTIVERSION
#endif

void vpi_yuv_matrix_init(VpiYuvMatrix *m, enum AVColorSpace cs)
{
    double kr = 0.299, kb = 0.114;
    if (cs == AVCOL_SPC_BT709) {
        kr = 0.2126;
        kb = 0.0722;
    }
    double kg = 1.0 - kr - kb, ys = 219.0 / 255.0, cs_ = 224.0 / 255.0, one = 1 << Q;
#define FIX(v) ((int32_t)((v) * one + ((v) < 0 ? -0.5 : 0.5)))
    m->yr = FIX(ys * kr);
    m->yg = FIX(ys * kg);
    m->yb = FIX(ys * kb);
    m->ur = FIX(-cs_ * kr / (2 * (1 - kb)));
    m->ug = FIX(-cs_ * kg / (2 * (1 - kb)));
    m->ub = FIX(cs_ * 0.5);
    m->vr = FIX(cs_ * 0.5);
    m->vg = FIX(-cs_ * kg / (2 * (1 - kr)));
    m->vb = FIX(-cs_ * kb / (2 * (1 - kr)));
#undef FIX
}

static int isa_cap = 3;

void vpi_convert_cap_isa(int level)
{
    isa_cap = level;
}

int vpi_convert_supported(enum AVPixelFormat src, enum AVPixelFormat dst)
{
    if (dst != AV_PIX_FMT_YUV420P && dst != AV_PIX_FMT_NV12)
        return 0;
    return src == AV_PIX_FMT_BGR24 || src == AV_PIX_FMT_RGB24 || src == AV_PIX_FMT_BGRA ||
           src == AV_PIX_FMT_RGBA || src == AV_PIX_FMT_GRAY8;
}

static inline __attribute__((always_inline)) void
luma_row(const uint8_t *restrict s, uint8_t *restrict d, int w, int bpp, int ro, int go,
         int bo, const VpiYuvMatrix *m)
{
    const int32_t yr = m->yr, yg = m->yg, yb = m->yb, bias = (16 << Q) + (1 << (Q - 1));
    for (int x = 0; x < w; x++) {
        const uint8_t *p = s + x * bpp;
        d[x] = (uint8_t)((yr * p[ro] + yg * p[go] + yb * p[bo] + bias) >> Q);
    }
}

static inline __attribute__((always_inline)) void
chroma_row(const uint8_t *restrict s0, const uint8_t *restrict s1, uint8_t *restrict u,
           uint8_t *restrict v, int cw, int bpp, int ro, int go, int bo, int nv12,
           const VpiYuvMatrix *m)
{
    const int32_t ur = m->ur, ug = m->ug, ub = m->ub, vr = m->vr, vg = m->vg, vb = m->vb;
    const int32_t bias = (128 << (Q + 2)) + (1 << (Q + 1));
    for (int x = 0; x < cw; x++) {
        const uint8_t *a = s0 + 2 * x * bpp, *b = s1 + 2 * x * bpp;
        int32_t r = a[ro] + a[bpp + ro] + b[ro] + b[bpp + ro];
        int32_t g = a[go] + a[bpp + go] + b[go] + b[bpp + go];
        int32_t bl = a[bo] + a[bpp + bo] + b[bo] + b[bpp + bo];
        uint8_t cu = (uint8_t)((ur * r + ug * g + ub * bl + bias) >> (Q + 2));
        uint8_t cv = (uint8_t)((vr * r + vg * g + vb * bl + bias) >> (Q + 2));
        if (nv12) {
            u[2 * x] = cu;
            u[2 * x + 1] = cv;
        } else {
            u[x] = cu;
            v[x] = cv;
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#  include <immintrin.h>
#  define HAVE_SSSE3_KERNEL 1

/* Offset of the second 16-byte load of an 8-pixel group: the groups are 24 or 32 bytes. */
#define HI_OFF(bpp) ((bpp) == 3 ? 8 : 16)

/* Packed 24/32-bit RGB/BGR(A), 16 pixels of two rows per step, 16-bit lanes with Q8 coefficients
 * (within half a code value of the Q15 path). Each 8-pixel group is read as two overlapping
 * 16-byte loads and pshufb gathers one channel into zero-extended 16-bit lanes. */
__attribute__((target("ssse3"))) static void
chan_masks(int bpp, int c, __m128i *lo, __m128i *hi)
{
    int8_t l[16], h[16];
    for (int i = 0; i < 8; i++) {
        int idx = bpp * i + c;
        l[2 * i] = idx <= 15 ? (int8_t)idx : -128;
        h[2 * i] = idx > 15 ? (int8_t)(idx - HI_OFF(bpp)) : -128;
        l[2 * i + 1] = h[2 * i + 1] = -128;
    }
    *lo = _mm_loadu_si128((const __m128i *)l);
    *hi = _mm_loadu_si128((const __m128i *)h);
}

typedef struct Rgb16 {
    __m128i r, g, b;
} Rgb16;

__attribute__((target("ssse3"))) static inline Rgb16
load8(const uint8_t *p, int bpp, const __m128i m[6])
{
    __m128i lo = _mm_loadu_si128((const __m128i *)p);
    __m128i hi = _mm_loadu_si128((const __m128i *)(p + HI_OFF(bpp)));
    Rgb16 v;
    v.r = _mm_or_si128(_mm_shuffle_epi8(lo, m[0]), _mm_shuffle_epi8(hi, m[1]));
    v.g = _mm_or_si128(_mm_shuffle_epi8(lo, m[2]), _mm_shuffle_epi8(hi, m[3]));
    v.b = _mm_or_si128(_mm_shuffle_epi8(lo, m[4]), _mm_shuffle_epi8(hi, m[5]));
    return v;
}

__attribute__((target("ssse3"))) static inline __m128i
luma8(Rgb16 v, __m128i yr, __m128i yg, __m128i yb)
{
    /* Unsigned 16-bit sums: at most 255 * 220 + 128. */
    __m128i s = _mm_add_epi16(_mm_add_epi16(_mm_mullo_epi16(v.r, yr), _mm_mullo_epi16(v.g, yg)),
                              _mm_add_epi16(_mm_mullo_epi16(v.b, yb), _mm_set1_epi16(128)));
    return _mm_add_epi16(_mm_srli_epi16(s, 8), _mm_set1_epi16(16));
}

__attribute__((target("ssse3"))) static inline __m128i
chroma8(__m128i r, __m128i g, __m128i b, __m128i cr, __m128i cg, __m128i cb)
{
    /* Signed 16-bit sums: at most 255 * 113 in magnitude. */
    __m128i s = _mm_add_epi16(_mm_add_epi16(_mm_mullo_epi16(r, cr), _mm_mullo_epi16(g, cg)),
                              _mm_add_epi16(_mm_mullo_epi16(b, cb), _mm_set1_epi16(128)));
    return _mm_add_epi16(_mm_srai_epi16(s, 8), _mm_set1_epi16(128));
}

/* Mean of 2x2 blocks: pairs of lanes across two 8-pixel groups of two rows. */
__attribute__((target("ssse3"))) static inline __m128i
mean4(__m128i a0, __m128i a1, __m128i b0, __m128i b1)
{
    __m128i s = _mm_add_epi16(_mm_hadd_epi16(a0, a1), _mm_hadd_epi16(b0, b1));
    return _mm_srli_epi16(_mm_add_epi16(s, _mm_set1_epi16(2)), 2);
}

/* Converts pixels [0, n) of a row pair, n a multiple of 16; returns n. */
__attribute__((target("ssse3"))) static inline __attribute__((always_inline)) int
pair_ssse3(const uint8_t *s0, const uint8_t *s1, uint8_t *y0, uint8_t *y1, uint8_t *u,
           uint8_t *v, int w, int bpp, int ro, int bo, int nv12, const VpiYuvMatrix *m)
{
    __m128i mk[6];
    chan_masks(bpp, ro, &mk[0], &mk[1]);
    chan_masks(bpp, 1, &mk[2], &mk[3]);
    chan_masks(bpp, bo, &mk[4], &mk[5]);
#define Q8(c) _mm_set1_epi16((int16_t)(((c) + (1 << (Q - 9))) >> (Q - 8)))
    const __m128i yr = Q8(m->yr), yg = Q8(m->yg), yb = Q8(m->yb);
    const __m128i ur = Q8(m->ur), ug = Q8(m->ug), ub = Q8(m->ub);
    const __m128i vr = Q8(m->vr), vg = Q8(m->vg), vb = Q8(m->vb);
#undef Q8
    int n = w & ~15;
    for (int x = 0; x < n; x += 16) {
        const int o = bpp * x, step = 8 * bpp;
        Rgb16 a0 = load8(s0 + o, bpp, mk), a1 = load8(s0 + o + step, bpp, mk);
        Rgb16 b0 = load8(s1 + o, bpp, mk), b1 = load8(s1 + o + step, bpp, mk);
        _mm_storeu_si128((__m128i *)(y0 + x),
                         _mm_packus_epi16(luma8(a0, yr, yg, yb), luma8(a1, yr, yg, yb)));
        _mm_storeu_si128((__m128i *)(y1 + x),
                         _mm_packus_epi16(luma8(b0, yr, yg, yb), luma8(b1, yr, yg, yb)));
        __m128i r = mean4(a0.r, a1.r, b0.r, b1.r);
        __m128i g = mean4(a0.g, a1.g, b0.g, b1.g);
        __m128i b = mean4(a0.b, a1.b, b0.b, b1.b);
        __m128i cu = chroma8(r, g, b, ur, ug, ub), cv = chroma8(r, g, b, vr, vg, vb);
        __m128i uv = _mm_packus_epi16(cu, cv); /* 8 U then 8 V */
        if (nv12) {
            _mm_storeu_si128((__m128i *)(u + x), _mm_unpacklo_epi8(uv, _mm_srli_si128(uv, 8)));
        } else {
            _mm_storel_epi64((__m128i *)(u + x / 2), uv);
            _mm_storel_epi64((__m128i *)(v + x / 2), _mm_srli_si128(uv, 8));
        }
    }
    return n;
}
/* The same in AVX2, 32 pixels per step. Two 8-pixel groups go into the two 128-bit lanes,
 * so a register holds 16 consecutive pixels in order; packs and hadds work per lane and
 * are put back in order with one 64-bit permute. */
#define SET2(lo, hi) _mm256_inserti128_si256(_mm256_castsi128_si256(lo), (hi), 1)

typedef struct Rgb16x2 {
    __m256i r, g, b;
} Rgb16x2;

__attribute__((target("avx2"))) static inline Rgb16x2
load16(const uint8_t *p, int bpp, const __m256i m[6])
{
    const int g = 8 * bpp, h = HI_OFF(bpp);
    __m256i lo = SET2(_mm_loadu_si128((const __m128i *)p),
                      _mm_loadu_si128((const __m128i *)(p + g)));
    __m256i hi = SET2(_mm_loadu_si128((const __m128i *)(p + h)),
                      _mm_loadu_si128((const __m128i *)(p + g + h)));
    Rgb16x2 v;
    v.r = _mm256_or_si256(_mm256_shuffle_epi8(lo, m[0]), _mm256_shuffle_epi8(hi, m[1]));
    v.g = _mm256_or_si256(_mm256_shuffle_epi8(lo, m[2]), _mm256_shuffle_epi8(hi, m[3]));
    v.b = _mm256_or_si256(_mm256_shuffle_epi8(lo, m[4]), _mm256_shuffle_epi8(hi, m[5]));
    return v;
}

__attribute__((target("avx2"))) static inline __m256i
luma16(Rgb16x2 v, __m256i yr, __m256i yg, __m256i yb)
{
    __m256i s = _mm256_add_epi16(
        _mm256_add_epi16(_mm256_mullo_epi16(v.r, yr), _mm256_mullo_epi16(v.g, yg)),
        _mm256_add_epi16(_mm256_mullo_epi16(v.b, yb), _mm256_set1_epi16(128)));
    return _mm256_add_epi16(_mm256_srli_epi16(s, 8), _mm256_set1_epi16(16));
}

__attribute__((target("avx2"))) static inline __m256i
chroma16(__m256i r, __m256i g, __m256i b, __m256i cr, __m256i cg, __m256i cb)
{
    __m256i s = _mm256_add_epi16(
        _mm256_add_epi16(_mm256_mullo_epi16(r, cr), _mm256_mullo_epi16(g, cg)),
        _mm256_add_epi16(_mm256_mullo_epi16(b, cb), _mm256_set1_epi16(128)));
    return _mm256_add_epi16(_mm256_srai_epi16(s, 8), _mm256_set1_epi16(128));
}

__attribute__((target("avx2"))) static inline __m256i
mean4x2(__m256i a0, __m256i a1, __m256i b0, __m256i b1)
{
    __m256i s = _mm256_add_epi16(_mm256_hadd_epi16(a0, a1), _mm256_hadd_epi16(b0, b1));
    s = _mm256_permute4x64_epi64(s, 0xD8);
    return _mm256_srli_epi16(_mm256_add_epi16(s, _mm256_set1_epi16(2)), 2);
}

__attribute__((target("avx2"))) static inline __attribute__((always_inline)) int
pair_avx2(const uint8_t *s0, const uint8_t *s1, uint8_t *y0, uint8_t *y1, uint8_t *u,
          uint8_t *v, int w, int bpp, int ro, int bo, int nv12, const VpiYuvMatrix *m)
{
    __m256i mk[6];
    for (int c = 0; c < 3; c++) {
        __m128i lo, hi;
        chan_masks(bpp, c == 0 ? ro : c == 1 ? 1 : bo, &lo, &hi);
        mk[2 * c] = SET2(lo, lo);
        mk[2 * c + 1] = SET2(hi, hi);
    }
#define Q8(c) _mm256_set1_epi16((int16_t)(((c) + (1 << (Q - 9))) >> (Q - 8)))
    const __m256i yr = Q8(m->yr), yg = Q8(m->yg), yb = Q8(m->yb);
    const __m256i ur = Q8(m->ur), ug = Q8(m->ug), ub = Q8(m->ub);
    const __m256i vr = Q8(m->vr), vg = Q8(m->vg), vb = Q8(m->vb);
#undef Q8
    const __m256i nv12_order = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14,
                                                7, 15, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13,
                                                6, 14, 7, 15);
    int n = w & ~31;
    for (int x = 0; x < n; x += 32) {
        const int o = bpp * x, step = 16 * bpp;
        Rgb16x2 a0 = load16(s0 + o, bpp, mk), a1 = load16(s0 + o + step, bpp, mk);
        Rgb16x2 b0 = load16(s1 + o, bpp, mk), b1 = load16(s1 + o + step, bpp, mk);
        __m256i ya = _mm256_packus_epi16(luma16(a0, yr, yg, yb), luma16(a1, yr, yg, yb));
        __m256i yb_ = _mm256_packus_epi16(luma16(b0, yr, yg, yb), luma16(b1, yr, yg, yb));
        _mm256_storeu_si256((__m256i *)(y0 + x), _mm256_permute4x64_epi64(ya, 0xD8));
        _mm256_storeu_si256((__m256i *)(y1 + x), _mm256_permute4x64_epi64(yb_, 0xD8));
        __m256i r = mean4x2(a0.r, a1.r, b0.r, b1.r);
        __m256i g = mean4x2(a0.g, a1.g, b0.g, b1.g);
        __m256i b = mean4x2(a0.b, a1.b, b0.b, b1.b);
        __m256i uv = _mm256_packus_epi16(chroma16(r, g, b, ur, ug, ub),
                                         chroma16(r, g, b, vr, vg, vb));
        if (nv12) {
            _mm256_storeu_si256((__m256i *)(u + x), _mm256_shuffle_epi8(uv, nv12_order));
        } else {
            uv = _mm256_permute4x64_epi64(uv, 0xD8);
            _mm_storeu_si128((__m128i *)(u + x / 2), _mm256_castsi256_si128(uv));
            _mm_storeu_si128((__m128i *)(v + x / 2), _mm256_extracti128_si256(uv, 1));
        }
    }
    return n;
}
#undef SET2

/* The same in AVX-512 (BW and VBMI), 64 pixels per step. One byte permute across two
 * 64-byte loads gathers a channel of 32 pixels into zero-extended 16-bit lanes; packs work
 * per 128-bit lane and are put back in order with one 64-bit permute. There is no 512-bit
 * hadd: pairs are summed with a multiply-add by 1 into 32-bit lanes and packed back, which
 * gives the same sums. Results are bit-identical to the AVX2 kernel. */
#define AVX512 __attribute__((target("avx512bw,avx512vbmi")))

typedef struct Rgb32x2 {
    __m512i r, g, b;
} Rgb32x2;

/* Byte indices of channel c of 32 pixels, one per 16-bit lane (odd bytes are zeroed). */
AVX512 static inline __m512i chan_index(int bpp, int c)
{
    int8_t idx[64];
    for (int i = 0; i < 32; i++) {
        idx[2 * i] = (int8_t)(bpp * i + c);
        idx[2 * i + 1] = 0;
    }
    return _mm512_loadu_si512(idx);
}

AVX512 static inline Rgb32x2 load32(const uint8_t *p, int bpp, const __m512i ix[3])
{
    /* 32 pixels are 96 or 128 bytes: the second load is masked to them, so nothing past
     * the last pixel is read. */
    const __mmask64 even = 0x5555555555555555ULL;
    __m512i a = _mm512_loadu_si512(p);
    __m512i b = _mm512_maskz_loadu_epi8(bpp == 3 ? 0xFFFFFFFFULL : ~0ULL, p + 64);
    Rgb32x2 v;
    v.r = _mm512_maskz_permutex2var_epi8(even, a, ix[0], b);
    v.g = _mm512_maskz_permutex2var_epi8(even, a, ix[1], b);
    v.b = _mm512_maskz_permutex2var_epi8(even, a, ix[2], b);
    return v;
}

AVX512 static inline __m512i
luma32(Rgb32x2 v, __m512i yr, __m512i yg, __m512i yb)
{
    __m512i s = _mm512_add_epi16(
        _mm512_add_epi16(_mm512_mullo_epi16(v.r, yr), _mm512_mullo_epi16(v.g, yg)),
        _mm512_add_epi16(_mm512_mullo_epi16(v.b, yb), _mm512_set1_epi16(128)));
    return _mm512_add_epi16(_mm512_srli_epi16(s, 8), _mm512_set1_epi16(16));
}

AVX512 static inline __m512i
chroma32(__m512i r, __m512i g, __m512i b, __m512i cr, __m512i cg, __m512i cb)
{
    __m512i s = _mm512_add_epi16(
        _mm512_add_epi16(_mm512_mullo_epi16(r, cr), _mm512_mullo_epi16(g, cg)),
        _mm512_add_epi16(_mm512_mullo_epi16(b, cb), _mm512_set1_epi16(128)));
    return _mm512_add_epi16(_mm512_srai_epi16(s, 8), _mm512_set1_epi16(128));
}

/* 2x2 means: a holds pixels 0-31 of both rows summed, b pixels 32-63; out in order. */
AVX512 static inline __m512i
mean4x4(__m512i a, __m512i b, __m512i order)
{
    const __m512i one = _mm512_set1_epi16(1);
    __m512i s = _mm512_packus_epi32(_mm512_madd_epi16(a, one), _mm512_madd_epi16(b, one));
    s = _mm512_permutexvar_epi64(order, s);
    return _mm512_srli_epi16(_mm512_add_epi16(s, _mm512_set1_epi16(2)), 2);
}

AVX512 static inline __attribute__((always_inline)) int
pair_avx512(const uint8_t *s0, const uint8_t *s1, uint8_t *y0, uint8_t *y1, uint8_t *u,
            uint8_t *v, int w, int bpp, int ro, int bo, int nv12, const VpiYuvMatrix *m)
{
    const __m512i mk[3] = { chan_index(bpp, ro), chan_index(bpp, 1), chan_index(bpp, bo) };
#define Q8(c) _mm512_set1_epi16((int16_t)(((c) + (1 << (Q - 9))) >> (Q - 8)))
    const __m512i yr = Q8(m->yr), yg = Q8(m->yg), yb = Q8(m->yb);
    const __m512i ur = Q8(m->ur), ug = Q8(m->ug), ub = Q8(m->ub);
    const __m512i vr = Q8(m->vr), vg = Q8(m->vg), vb = Q8(m->vb);
#undef Q8
    /* Packs interleave per 128-bit lane: qwords back in pixel order. */
    const __m512i order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);
    const __m512i nv12_order = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
    int n = w & ~63;
    for (int x = 0; x < n; x += 64) {
        const int o = bpp * x, step = 32 * bpp;
        Rgb32x2 a0 = load32(s0 + o, bpp, mk), a1 = load32(s0 + o + step, bpp, mk);
        Rgb32x2 b0 = load32(s1 + o, bpp, mk), b1 = load32(s1 + o + step, bpp, mk);
        __m512i ya = _mm512_packus_epi16(luma32(a0, yr, yg, yb), luma32(a1, yr, yg, yb));
        __m512i yb_ = _mm512_packus_epi16(luma32(b0, yr, yg, yb), luma32(b1, yr, yg, yb));
        _mm512_storeu_si512(y0 + x, _mm512_permutexvar_epi64(order, ya));
        _mm512_storeu_si512(y1 + x, _mm512_permutexvar_epi64(order, yb_));
        __m512i r = mean4x4(_mm512_add_epi16(a0.r, b0.r), _mm512_add_epi16(a1.r, b1.r), order);
        __m512i g = mean4x4(_mm512_add_epi16(a0.g, b0.g), _mm512_add_epi16(a1.g, b1.g), order);
        __m512i b = mean4x4(_mm512_add_epi16(a0.b, b0.b), _mm512_add_epi16(a1.b, b1.b), order);
        /* Per lane: 8 U then 8 V, lanes in order. */
        __m512i uv = _mm512_packus_epi16(chroma32(r, g, b, ur, ug, ub),
                                         chroma32(r, g, b, vr, vg, vb));
        if (nv12) {
            _mm512_storeu_si512(u + x, _mm512_shuffle_epi8(uv, nv12_order));
        } else {
            uv = _mm512_permutexvar_epi64(order, uv);
            _mm256_storeu_si256((__m256i *)(u + x / 2), _mm512_castsi512_si256(uv));
            _mm256_storeu_si256((__m256i *)(v + x / 2), _mm512_extracti64x4_epi64(uv, 1));
        }
    }
    return n;
}

/* One instance per pixel size, so bpp folds into the shuffles and strides. */
#define DEF_PAIR(isa, bpp)                                                                 \
    __attribute__((target(#isa))) static int                                               \
    pair_##isa##_##bpp(const uint8_t *s0, const uint8_t *s1, uint8_t *y0, uint8_t *y1,     \
                       uint8_t *u, uint8_t *v, int w, int ro, int bo, int nv12,             \
                       const VpiYuvMatrix *m)                                              \
    {                                                                                      \
        return pair_##isa(s0, s1, y0, y1, u, v, w, bpp, ro, bo, nv12, m);                  \
    }
DEF_PAIR(ssse3, 3)
DEF_PAIR(ssse3, 4)
DEF_PAIR(avx2, 3)
DEF_PAIR(avx2, 4)
#define DEF_PAIR512(bpp)                                                                   \
    AVX512 static int pair_avx512_##bpp(const uint8_t *s0, const uint8_t *s1, uint8_t *y0,  \
                                        uint8_t *y1, uint8_t *u, uint8_t *v, int w, int ro, \
                                        int bo, int nv12, const VpiYuvMatrix *m)            \
    {                                                                                      \
        return pair_avx512(s0, s1, y0, y1, u, v, w, bpp, ro, bo, nv12, m);                 \
    }
DEF_PAIR512(3)
DEF_PAIR512(4)
#undef AVX512
#endif

static inline __attribute__((always_inline)) void
packed_rows(const uint8_t *src, int ss, uint8_t *const dst[], const int ds[], int w, int y0,
            int y1, const VpiYuvMatrix *m, int nv12, int bpp, int ro, int go, int bo)
{
#ifdef HAVE_SSSE3_KERNEL
    if (y1 - y0 >= 2 && w >= 16 && isa_cap >= 1 && __builtin_cpu_supports("ssse3")) {
        const int use_avx2 = isa_cap >= 2 && __builtin_cpu_supports("avx2");
        const int use_avx512 = isa_cap >= 3 && __builtin_cpu_supports("avx512bw") &&
                               __builtin_cpu_supports("avx512vbmi");
        for (int y = y0; y + 1 < y1; y += 2) {
            const uint8_t *s0 = src + (size_t)y * ss, *s1 = s0 + ss;
            uint8_t *d0 = dst[0] + (size_t)y * ds[0], *d1 = d0 + ds[0];
            uint8_t *u = dst[1] + (size_t)(y / 2) * ds[1];
            uint8_t *v = nv12 ? NULL : dst[2] + (size_t)(y / 2) * ds[2];
            int n = 0;
            if (use_avx512 && w >= 64)
                n = bpp == 3 ? pair_avx512_3(s0, s1, d0, d1, u, v, w, ro, bo, nv12, m)
                             : pair_avx512_4(s0, s1, d0, d1, u, v, w, ro, bo, nv12, m);
            if (use_avx2 && w - n >= 32)
                n += (bpp == 3 ? pair_avx2_3 : pair_avx2_4)(
                    s0 + bpp * n, s1 + bpp * n, d0 + n, d1 + n, nv12 ? u + n : u + n / 2,
                    nv12 ? NULL : v + n / 2, w - n, ro, bo, nv12, m);
            if (w - n >= 16)
                n += (bpp == 3 ? pair_ssse3_3 : pair_ssse3_4)(
                    s0 + bpp * n, s1 + bpp * n, d0 + n, d1 + n, nv12 ? u + n : u + n / 2,
                    nv12 ? NULL : v + n / 2, w - n, ro, bo, nv12, m);
            if (n < w) {
                luma_row(s0 + n * bpp, d0 + n, w - n, bpp, ro, go, bo, m);
                luma_row(s1 + n * bpp, d1 + n, w - n, bpp, ro, go, bo, m);
                chroma_row(s0 + n * bpp, s1 + n * bpp, nv12 ? u + n : u + n / 2,
                           nv12 ? NULL : v + n / 2, (w - n) / 2, bpp, ro, go, bo, nv12, m);
            }
        }
        y0 = y1 - (y1 - y0) % 2;
    }
#endif
    for (int y = y0; y < y1; y += 2) {
        const uint8_t *s0 = src + (size_t)y * ss, *s1 = y + 1 < y1 ? s0 + ss : s0;
        luma_row(s0, dst[0] + (size_t)y * ds[0], w, bpp, ro, go, bo, m);
        if (y + 1 < y1)
            luma_row(s1, dst[0] + (size_t)(y + 1) * ds[0], w, bpp, ro, go, bo, m);
        uint8_t *u = dst[1] + (size_t)(y / 2) * ds[1];
        if (nv12)
            chroma_row(s0, s1, u, NULL, w / 2, bpp, ro, go, bo, 1, m);
        else
            chroma_row(s0, s1, u, dst[2] + (size_t)(y / 2) * ds[2], w / 2, bpp, ro, go, bo, 0,
                       m);
    }
}

#define DEF_PACKED(name, bpp, ro, go, bo)                                                   \
    MULTIVERSION static void name(const uint8_t *src, int ss, uint8_t *const dst[],          \
                                  const int ds[], int w, int y0, int y1,                     \
                                  const VpiYuvMatrix *m, int nv12)                           \
    {                                                                                        \
        packed_rows(src, ss, dst, ds, w, y0, y1, m, nv12, bpp, ro, go, bo);                  \
    }

DEF_PACKED(from_bgr24, 3, 2, 1, 0)
DEF_PACKED(from_rgb24, 3, 0, 1, 2)
DEF_PACKED(from_bgra, 4, 2, 1, 0)
DEF_PACKED(from_rgba, 4, 0, 1, 2)

MULTIVERSION static void from_gray(const uint8_t *src, int ss, uint8_t *const dst[],
                                   const int ds[], int w, int y0, int y1,
                                   const VpiYuvMatrix *m, int nv12)
{
    (void)m;
    /* Full-range gray to limited-range luma, neutral chroma. */
    const int32_t k = (int32_t)(219.0 / 255.0 * (1 << Q) + 0.5);
    const int32_t bias = (16 << Q) + (1 << (Q - 1));
    for (int y = y0; y < y1; y++) {
        const uint8_t *restrict s = src + (size_t)y * ss;
        uint8_t *restrict d = dst[0] + (size_t)y * ds[0];
        for (int x = 0; x < w; x++)
            d[x] = (uint8_t)((k * s[x] + bias) >> Q);
        if (y % 2 == 0) {
            memset(dst[1] + (size_t)(y / 2) * ds[1], 128, nv12 ? w : w / 2);
            if (!nv12)
                memset(dst[2] + (size_t)(y / 2) * ds[2], 128, w / 2);
        }
    }
}

void vpi_convert_to_420(enum AVPixelFormat src_fmt, const uint8_t *src, int src_stride,
                        enum AVPixelFormat dst_fmt, uint8_t *const dst[], const int dst_stride[],
                        int width, int y0, int y1, const VpiYuvMatrix *m)
{
    int nv12 = dst_fmt == AV_PIX_FMT_NV12;
    switch (src_fmt) {
    case AV_PIX_FMT_BGR24: from_bgr24(src, src_stride, dst, dst_stride, width, y0, y1, m, nv12);
        break;
    case AV_PIX_FMT_RGB24: from_rgb24(src, src_stride, dst, dst_stride, width, y0, y1, m, nv12);
        break;
    case AV_PIX_FMT_BGRA: from_bgra(src, src_stride, dst, dst_stride, width, y0, y1, m, nv12);
        break;
    case AV_PIX_FMT_RGBA: from_rgba(src, src_stride, dst, dst_stride, width, y0, y1, m, nv12);
        break;
    case AV_PIX_FMT_GRAY8: from_gray(src, src_stride, dst, dst_stride, width, y0, y1, m, nv12);
        break;
    default:
        break;
    }
}
