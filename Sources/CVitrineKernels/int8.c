// int8 linear layers: symmetric per-row quantization, the int32 → float pass after an s8 GEMM,
// and the s8 products for few rows and for batches. AVX2 where the CPU has it, portable C
// otherwise (AVX-512 VNNI has its own product, vnni.c);
// both round to nearest even (the default rounding mode) so they give the same bytes.
#include "internal.h"
#include "avx2_math.h"
#include <math.h>

#define INLINE static inline __attribute__((always_inline)) AVX2

// Below this magnitude a row counts as zero: 127 / max would overflow to infinity.
#define TINY 1e-30f

float vt_quantize_scalar(float v, float inv, int qmax) {
    float r = nearbyintf(v * inv);
    if (!(r >= (float)-qmax)) r = (float)-qmax;  // also NaN
    if (r > (float)qmax) r = (float)qmax;
    return r;
}

void vt_quantize_rows_s8_portable(int rows, int k, const float *x, long ldx, signed char *q, long ldq,
                                   float *scales, int qmax) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        signed char *qr = q + r * ldq;
        float m = 0;
        for (int j = 0; j < k; j++) { float a = fabsf(xr[j]); if (a > m) m = a; }
        if (!(m >= TINY)) {  // zero row (or NaN)
            scales[r] = 0;
            for (int j = 0; j < k; j++) qr[j] = 0;
            continue;
        }
        const float inv = (float)qmax / m;
        scales[r] = m / (float)qmax;
        for (int j = 0; j < k; j++) qr[j] = (signed char)vt_quantize_scalar(xr[j], inv, qmax);
    }
}

INLINE float hmax256(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 void vt_quantize_rows_s8_avx2(int rows, int k, const float *x, long ldx, signed char *q, long ldq,
                                    float *scales, int qmax) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i hi = _mm256_set1_epi8((char)qmax), lo = _mm256_set1_epi8((char)-qmax);
    const int k8 = k & ~7, k32 = k & ~31;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        signed char *qr = q + r * ldq;
        __m256 mv = _mm256_setzero_ps();
        for (int j = 0; j < k8; j += 8) mv = _mm256_max_ps(mv, _mm256_andnot_ps(sign, _mm256_loadu_ps(xr + j)));
        float m = hmax256(mv);
        for (int j = k8; j < k; j++) { float a = fabsf(xr[j]); if (a > m) m = a; }
        if (!(m >= TINY)) {
            scales[r] = 0;
            for (int j = 0; j < k; j++) qr[j] = 0;
            continue;
        }
        const float inv = (float)qmax / m;
        scales[r] = m / (float)qmax;
        const __m256 iv = _mm256_set1_ps(inv);
        int j = 0;
        for (; j < k32; j += 32) {
            // cvtps rounds to nearest even; NaN and out-of-range become INT_MIN, clamped below.
            const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + j), iv));
            const __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + j + 8), iv));
            const __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + j + 16), iv));
            const __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + j + 24), iv));
            // Saturating packs work within 128-bit lanes; the permute restores element order.
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
            p = _mm256_permutevar8x32_epi32(p, order);
            p = _mm256_max_epi8(_mm256_min_epi8(p, hi), lo);
            _mm256_storeu_si256((__m256i *)(qr + j), p);
        }
        for (; j < k; j++) qr[j] = (signed char)vt_quantize_scalar(xr[j], inv, qmax);
    }
}

AVX2 void vt_dequantize_s32_avx2(int rows, int n, const int *c, long ldc, const float *xs, const float *ws,
                                 const float *bias, float *y, long ldy) {
    const int n8 = n & ~7;
    for (int r = 0; r < rows; r++) {
        const int *cr = c + r * ldc;
        float *yr = y + r * ldy;
        const __m256 s = _mm256_set1_ps(xs[r]);
        int j = 0;
        for (; j < n8; j += 8) {
            const __m256 v = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(cr + j)));
            const __m256 scale = _mm256_mul_ps(s, _mm256_loadu_ps(ws + j));
            const __m256 b = bias ? _mm256_loadu_ps(bias + j) : _mm256_setzero_ps();
            _mm256_storeu_ps(yr + j, _mm256_fmadd_ps(v, scale, b));
        }
        for (; j < n; j++) yr[j] = fmaf((float)cr[j], xs[r] * ws[j], bias ? bias[j] : 0.0f);
    }
}

void vt_dequantize_s32_portable(int rows, int n, const int *c, long ldc, const float *xs, const float *ws,
                                const float *bias, float *y, long ldy) {
    for (int r = 0; r < rows; r++) {
        const int *cr = c + r * ldc;
        float *yr = y + r * ldy;
        for (int j = 0; j < n; j++) yr[j] = fmaf((float)cr[j], xs[r] * ws[j], bias ? bias[j] : 0.0f);
    }
}

INLINE int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// The weight rows a few-rows kernel asks the cache for ahead of use. A group of rows is a short
// stretch of memory (k bytes per row) read as 2–4 interleaved streams, which the hardware
// prefetcher picks up too late on its own: prefetching 16 rows ahead took a text query's pass
// from 5.5 to 4.6 ms here (k = 512–2048).
#define PREFETCH_ROWS 16

INLINE __m256i load16_s8(const signed char *p) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
}

// Two weight rows against up to four input rows at a time, like the float kernel. Bytes are
// widened to int16 and multiplied with vpmaddwd: exact (no vpmaddubsw saturation), and the
// weight stream from memory, a quarter of fp32's, is what bounds the time.
AVX2 void vt_few_rows_s8_avx2(int rows, int k, int n_begin, int n_end, const signed char *x,
                              const float *xs, const signed char *w, const int *wsum, const float *ws,
                              const float *bias, float *y, int ldy) {
    (void)wsum;
    const int k16 = k & ~15;
    for (int n = n_begin; n < n_end; n += 2) {
        const int pair = n + 1 < n_end;
        const signed char *w0 = w + (long)n * k, *w1 = pair ? w0 + k : w0;
        for (int m0 = 0; m0 < rows; m0 += 4) {
            const int mb = rows - m0 < 4 ? rows - m0 : 4;
            __m256i a0[4], a1[4];
            for (int i = 0; i < 4; i++) { a0[i] = _mm256_setzero_si256(); a1[i] = _mm256_setzero_si256(); }
            for (int j = 0; j < k16; j += 16) {
                if (m0 == 0 && (j & 63) == 0) {
                    _mm_prefetch((const char *)(w0 + j + PREFETCH_ROWS * k), _MM_HINT_T0);
                    _mm_prefetch((const char *)(w1 + j + PREFETCH_ROWS * k), _MM_HINT_T0);
                }
                const __m256i v0 = load16_s8(w0 + j), v1 = load16_s8(w1 + j);
                for (int i = 0; i < mb; i++) {
                    const __m256i xv = load16_s8(x + (long)(m0 + i) * k + j);
                    a0[i] = _mm256_add_epi32(a0[i], _mm256_madd_epi16(xv, v0));
                    a1[i] = _mm256_add_epi32(a1[i], _mm256_madd_epi16(xv, v1));
                }
            }
            for (int i = 0; i < mb; i++) {
                const signed char *xr = x + (long)(m0 + i) * k;
                int s0 = hsum_epi32(a0[i]), s1 = hsum_epi32(a1[i]);
                for (int j = k16; j < k; j++) { s0 += xr[j] * w0[j]; s1 += xr[j] * w1[j]; }
                float *yr = y + (long)(m0 + i) * ldy;
                const float sx = xs[m0 + i];
                yr[n] = fmaf((float)s0, sx * ws[n], bias ? bias[n] : 0.0f);
                if (pair) yr[n + 1] = fmaf((float)s1, sx * ws[n + 1], bias ? bias[n + 1] : 0.0f);
            }
        }
    }
}

// Batches of rows on AVX2 without VNNI: the s8 product for many rows, exact with 8-bit weights.
// (oneDNN's AVX2 int8 GEMM adds byte pairs with vpmaddubsw into a saturating int16, so it is exact
// only for 7-bit weights, and on Zen 1 it ran batch 8 slower than batch 1.) Here both operands are
// int16 and vpmaddwd adds each pair of products into an int32 lane: |2 · 127 · 127| is far from
// overflow. Weights are packed 16 output columns at a time into a small panel, k pairs interleaved
// (w[n][2t], w[n][2t+1] for n = 0..15), so one broadcast input pair meets 16 columns in two
// instructions; six input rows by sixteen columns fill twelve accumulators.
#define GEMM_MR 6
#define GEMM_NR 16

void vt_widen_s8_pairs(int rows, int k, const signed char *q, long ldq, short *x, long ldx) {
    for (int r = 0; r < rows; r++) {
        const signed char *qr = q + r * ldq;
        short *xr = x + r * ldx;
        for (int j = 0; j < k; j++) xr[j] = qr[j];
        if (k & 1) xr[k] = 0;
    }
}

// Columns [n, n + cols) of the row-major weights, cols ≤ 16, as `kp` groups of 16 (column, pair)
// int16 pairs; missing columns and the odd k's pad are zero.
static void pack_panel(const signed char *w, int k, int kp, int n, int cols, short *panel) {
    for (int c = 0; c < GEMM_NR; c++) {
        short *dst = panel + 2 * c;
        if (c >= cols) {
            for (int t = 0; t < kp; t++) { dst[32 * t] = 0; dst[32 * t + 1] = 0; }
            continue;
        }
        const signed char *wr = w + (long)(n + c) * k;
        for (int t = 0; t < k / 2; t++) { dst[32 * t] = wr[2 * t]; dst[32 * t + 1] = wr[2 * t + 1]; }
        if (k & 1) { dst[32 * (kp - 1)] = wr[k - 1]; dst[32 * (kp - 1) + 1] = 0; }
    }
}

// `mb` (a constant after inlining) input rows from `m0` against the packed panel of columns
// [n, n + cols); the output gets xs[m] · ws[n] · sum + bias[n], as the few-rows kernels compute it.
INLINE void gemm_block(const int mb, int m0, int kp, const short *x, long ldx, const short *panel, int n, int cols,
                       const float *xs, const float *ws, const float *bias, float *y, int ldy) {
    __m256i acc[GEMM_MR][2];
    const short *xr[GEMM_MR];
    for (int i = 0; i < mb; i++) {
        acc[i][0] = _mm256_setzero_si256();
        acc[i][1] = _mm256_setzero_si256();
        xr[i] = x + (long)(m0 + i) * ldx;
    }
    for (int t = 0; t < kp; t++) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)(panel + 32 * t));
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(panel + 32 * t + 16));
        for (int i = 0; i < mb; i++) {
            const __m256i a = _mm256_broadcastd_epi32(_mm_loadu_si32(xr[i] + 2 * t));
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(a, b0));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(a, b1));
        }
    }
    for (int i = 0; i < mb; i++) {
        float *yr = y + (long)(m0 + i) * ldy + n;
        const float sx = xs[m0 + i];
        if (cols == GEMM_NR) {
            for (int h = 0; h < 2; h++) {
                const __m256 v = _mm256_cvtepi32_ps(acc[i][h]);
                const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(sx), _mm256_loadu_ps(ws + n + 8 * h));
                const __m256 b = bias ? _mm256_loadu_ps(bias + n + 8 * h) : _mm256_setzero_ps();
                _mm256_storeu_ps(yr + 8 * h, _mm256_fmadd_ps(v, scale, b));
            }
        } else {
            int sums[GEMM_NR];
            _mm256_storeu_si256((__m256i *)sums, acc[i][0]);
            _mm256_storeu_si256((__m256i *)(sums + 8), acc[i][1]);
            for (int c = 0; c < cols; c++) yr[c] = fmaf((float)sums[c], sx * ws[n + c], bias ? bias[n + c] : 0.0f);
        }
    }
}

// x: `rows` widened input rows of (k + 1) & ~1 int16 each (vt_widen_s8_pairs), row stride ldx;
// panel: scratch for 32 · ((k + 1) / 2) int16.
AVX2 void vt_gemm_s8_avx2(int rows, int k, int n_begin, int n_end, const short *x, long ldx, const float *xs,
                          const signed char *w, const float *ws, const float *bias, float *y, int ldy, short *panel) {
    const int kp = (k + 1) / 2;
    for (int n = n_begin; n < n_end; n += GEMM_NR) {
        const int cols = n_end - n < GEMM_NR ? n_end - n : GEMM_NR;
        pack_panel(w, k, kp, n, cols, panel);
        int m0 = 0;
        for (; m0 + GEMM_MR <= rows; m0 += GEMM_MR) gemm_block(GEMM_MR, m0, kp, x, ldx, panel, n, cols, xs, ws, bias, y, ldy);
        switch (rows - m0) {
        case 5: gemm_block(5, m0, kp, x, ldx, panel, n, cols, xs, ws, bias, y, ldy); break;
        case 4: gemm_block(4, m0, kp, x, ldx, panel, n, cols, xs, ws, bias, y, ldy); break;
        case 3: gemm_block(3, m0, kp, x, ldx, panel, n, cols, xs, ws, bias, y, ldy); break;
        case 2: gemm_block(2, m0, kp, x, ldx, panel, n, cols, xs, ws, bias, y, ldy); break;
        case 1: gemm_block(1, m0, kp, x, ldx, panel, n, cols, xs, ws, bias, y, ldy); break;
        default: break;
        }
    }
}
