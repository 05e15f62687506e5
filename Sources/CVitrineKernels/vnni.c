// The int8 product on AVX-512 VNNI for any number of rows, over weights packed once at load time.
//
// vpdpbusd multiplies 4 unsigned input bytes by 4 signed weight bytes and adds the four products
// into one int32 lane. Packed so that one 64-byte load holds 4 consecutive k of 16 output
// columns, a broadcast 4 input bytes meets 16 columns in one instruction and every lane keeps its
// own column's sum: no horizontal sums at the end, and the same code serves 1 row (a text query's
// token) and thousands (a batch of images). Inputs are made unsigned by adding 128 (x ^ 0x80);
// 128 · Σ_k w[n][k] comes off each column's sum again.
#include "internal.h"
#include "avx512_math.h"
#include <immintrin.h>
#include <string.h>

#ifndef PREFETCH_BYTES
#define PREFETCH_BYTES 2048
#endif
#define VNNI512 __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni")))
#define VNNI512_INLINE static inline __attribute__((always_inline)) VNNI512

void vt_pack_s8_vnni(int n, int k, const signed char *w, signed char *packed) {
    const int kq = (k + 3) / 4;
    memset(packed, 0, (size_t)vt_packed_s8_size(n, k));
    for (int c = 0; c < n; c++) {
        signed char *panel = packed + (long)(c / 16) * kq * 64 + 4 * (c % 16);
        const signed char *row = w + (long)c * k;
        for (int j = 0; j < k; j++) panel[64 * (j / 4) + j % 4] = row[j];
    }
}

void vt_flip_s8_rows(int rows, int k, const signed char *q, long ldq, unsigned char *u, long ldu) {
    const int padded = 4 * ((k + 3) / 4);
    for (int r = 0; r < rows; r++) {
        const signed char *qr = q + r * ldq;
        unsigned char *ur = u + r * ldu;
        for (int j = 0; j < k; j++) ur[j] = (unsigned char)(qr[j] ^ 0x80);
        for (int j = k; j < padded; j++) ur[j] = 0;
    }
}

// quantize_rows_s8 and vt_flip_s8_rows in one pass on sixteen lanes: the largest magnitude of
// the row, then each value times qmax / largest rounded to nearest even (cvtps), clamped, plus
// 128, narrowed to a byte. The same scale and products as the AVX2 quantizer, so the same bytes.
VNNI512 void vt_quantize_rows_u8_avx512(int rows, int k, const float *x, long ldx, unsigned char *u, long ldu,
                                        float *scales, int qmax) {
    const int padded = 4 * ((k + 3) / 4);
    const __m512i hi = _mm512_set1_epi32(qmax), lo = _mm512_set1_epi32(-qmax), offset = _mm512_set1_epi32(128);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        unsigned char *ur = u + r * ldu;
        __m512 mv = _mm512_setzero_ps();
        for (int j = 0; j < k; j += 16) {
            const __mmask16 mask = lanes16(k - j);
            mv = _mm512_max_ps(mv, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, xr + j)));
        }
        const float m = _mm512_reduce_max_ps(mv);
        if (!(m >= 1e-30f)) {  // a zero row (or NaN): zero bytes, as the s8 quantizers give, flipped
            scales[r] = 0;
            memset(ur, 128, (size_t)k);
            memset(ur + k, 0, (size_t)(padded - k));
            continue;
        }
        const __m512 inv = _mm512_set1_ps((float)qmax / m);
        scales[r] = m / (float)qmax;
        for (int j = 0; j < k; j += 16) {
            const __mmask16 mask = lanes16(k - j);
            // cvtps rounds to nearest even; NaN becomes INT_MIN and is clamped, as in the AVX2 pack.
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, xr + j), inv));
            q = _mm512_add_epi32(_mm512_max_epi32(_mm512_min_epi32(q, hi), lo), offset);
            _mm_mask_storeu_epi8(ur + j, mask, _mm512_cvtepi32_epi8(q));
        }
        for (int j = k; j < padded; j++) ur[j] = 0;
    }
}

// Rows [m0, m0 + mb) against `nb` (1 or 2) panels of 16 columns from column n, `cols` of them
// real; mb and nb are constants after inlining, so the accumulators stay in registers.
VNNI512_INLINE void block(const int mb, const int nb, const int prefetch, int m0, int kq, const unsigned char *x, long ldx,
                          const signed char *panel, long panel_stride, int n, int cols, const int *wsum,
                          const float *xs, const float *ws, const float *bias, float *y, int ldy) {
    __m512i acc[8][2];
    const unsigned char *xr[8];
    for (int i = 0; i < mb; i++) {
        xr[i] = x + (long)(m0 + i) * ldx;
        for (int p = 0; p < nb; p++) acc[i][p] = _mm512_setzero_si512();
    }
    const signed char *p0 = panel, *p1 = panel + panel_stride;
    for (int g = 0; g < kq; g++) {
        const __m512i w0 = _mm512_loadu_si512((const void *)(p0 + 64 * g));
        const __m512i w1 = nb > 1 ? _mm512_loadu_si512((const void *)(p1 + 64 * g)) : w0;
        if (prefetch) {
            _mm_prefetch((const char *)(p0 + 64 * g + PREFETCH_BYTES), _MM_HINT_T0);
            if (nb > 1) _mm_prefetch((const char *)(p1 + 64 * g + PREFETCH_BYTES), _MM_HINT_T0);
        }
        for (int i = 0; i < mb; i++) {
            int four;
            memcpy(&four, xr[i] + 4 * g, 4);
            const __m512i a = _mm512_set1_epi32(four);
            acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], a, w0);
            if (nb > 1) acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], a, w1);
        }
    }
    for (int p = 0; p < nb; p++) {
        const int real = cols - 16 * p;
        if (real <= 0) break;
        const __mmask16 mask = lanes16(real);
        const int c = n + 16 * p;
        const __m512i correction = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(mask, wsum + c), 7);
        const __m512 scale = _mm512_maskz_loadu_ps(mask, ws + c);
        const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + c) : _mm512_setzero_ps();
        for (int i = 0; i < mb; i++) {
            _mm512_mask_storeu_ps(y + (long)(m0 + i) * ldy + c, mask, finish16(acc[i][p], correction, xs[m0 + i], scale, b));
        }
    }
}

VNNI512_INLINE void rows_against(const int nb, int m_begin, int m_end, int kq, const unsigned char *x, long ldx,
                                 const signed char *panel, long panel_stride, int n, int cols, const int *wsum,
                                 const float *xs, const float *ws, const float *bias, float *y, int ldy) {
    int m = m_begin;
    if (m + 8 <= m_end) { block(8, nb, 1, m, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy); m += 8; }
    for (; m + 8 <= m_end; m += 8) block(8, nb, 0, m, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy);
    switch (m_end - m) {
    case 7: block(7, nb, m == m_begin, m, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy); break;
    case 6: block(6, nb, m == m_begin, m, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy); break;
    case 5: block(5, nb, m == m_begin, m, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy); break;
    case 4: block(4, nb, m == m_begin, m, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy); break;
    case 3: block(3, nb, m == m_begin, m, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy); break;
    case 2: block(2, nb, m == m_begin, m, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy); break;
    case 1: block(1, nb, m == m_begin, m, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy); break;
    default: break;
    }
}

// Input rows are taken in chunks whose bytes stay in the core's L2 cache while every panel of
// the column range passes over them; the chunk's pass over one panel pair reads it from L1.
#define CHUNK_BYTES (256 * 1024)

VNNI512 void vt_gemm_s8_vnni(int rows, int k, int n_begin, int n_end, const unsigned char *x, long ldx,
                             const float *xs, const signed char *packed, const int *wsum, const float *ws,
                             const float *bias, float *y, int ldy) {
    const int kq = (k + 3) / 4;
    const long panel_stride = 64L * kq;
    int chunk = (int)(CHUNK_BYTES / (ldx > 0 ? ldx : 1)) / 8 * 8;
    if (chunk < 8) chunk = 8;
    for (int m0 = 0; m0 < rows; m0 += chunk) {
        const int m1 = rows - m0 < chunk ? rows : m0 + chunk;
        for (int n = n_begin; n < n_end; n += 32) {
            const int cols = n_end - n < 32 ? n_end - n : 32;
            const signed char *panel = packed + (long)(n / 16) * panel_stride;
            if (cols > 16) rows_against(2, m0, m1, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy);
            else rows_against(1, m0, m1, kq, x, ldx, panel, panel_stride, n, cols, wsum, xs, ws, bias, y, ldy);
        }
    }
}
