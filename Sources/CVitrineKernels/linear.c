#include "internal.h"
#include "avx2_math.h"

#define INLINE static inline __attribute__((always_inline)) AVX2

// Weight loaders: eight weights as floats, and one weight as a float.
INLINE __m256 load8_f32(const float *p) { return _mm256_loadu_ps(p); }
INLINE float load1_f32(const float *p) { return *p; }
INLINE __m256 load8_bf16(const unsigned short *p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}
INLINE float load1_bf16(const unsigned short *p) {
    union { unsigned int u; float f; } v = { .u = (unsigned int)*p << 16 };
    return v.f;
}

// The kernel, once per weight type. Two weight rows against up to four input rows at a time:
// 8 accumulators, 2 weight and 1 input register, within AVX2's 16. The two weight rows stay in
// L1 while every block of input rows passes over them, so each weight comes from memory once.
#define FEW_ROWS_KERNEL(NAME, WTYPE, LOAD8, LOAD1)                                               \
AVX2 void NAME(int rows, int k, int n_begin, int n_end, const float *x, const WTYPE *w,         \
               const float *bias, float *y, int ldy) {                                          \
    const int k8 = k & ~7;                                                                      \
    int n = n_begin;                                                                            \
    for (; n + 1 < n_end; n += 2) {                                                             \
        const WTYPE *w0 = w + (long)n * k, *w1 = w0 + k;                                        \
        for (int m0 = 0; m0 < rows; m0 += 4) {                                                  \
            const int mb = rows - m0 < 4 ? rows - m0 : 4;                                       \
            __m256 a0[4], a1[4];                                                                \
            for (int i = 0; i < 4; i++) { a0[i] = _mm256_setzero_ps(); a1[i] = _mm256_setzero_ps(); } \
            for (int j = 0; j < k8; j += 8) {                                                   \
                const __m256 v0 = LOAD8(w0 + j), v1 = LOAD8(w1 + j);                            \
                for (int i = 0; i < mb; i++) {                                                  \
                    const __m256 xv = _mm256_loadu_ps(x + (long)(m0 + i) * k + j);              \
                    a0[i] = _mm256_fmadd_ps(xv, v0, a0[i]);                                     \
                    a1[i] = _mm256_fmadd_ps(xv, v1, a1[i]);                                     \
                }                                                                               \
            }                                                                                   \
            for (int i = 0; i < mb; i++) {                                                      \
                const float *xr = x + (long)(m0 + i) * k;                                       \
                float s0 = hsum8(a0[i]), s1 = hsum8(a1[i]);                                       \
                for (int j = k8; j < k; j++) { s0 += xr[j] * LOAD1(w0 + j); s1 += xr[j] * LOAD1(w1 + j); } \
                float *yr = y + (long)(m0 + i) * ldy;                                           \
                yr[n] = s0 + (bias ? bias[n] : 0.0f);                                           \
                yr[n + 1] = s1 + (bias ? bias[n + 1] : 0.0f);                                   \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
    for (; n < n_end; n++) {                                                                    \
        const WTYPE *w0 = w + (long)n * k;                                                      \
        for (int m = 0; m < rows; m++) {                                                        \
            const float *xr = x + (long)m * k;                                                  \
            __m256 acc = _mm256_setzero_ps();                                                   \
            for (int j = 0; j < k8; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(xr + j), LOAD8(w0 + j), acc); \
            float s = hsum8(acc);                                                                \
            for (int j = k8; j < k; j++) s += xr[j] * LOAD1(w0 + j);                            \
            y[(long)m * ldy + n] = s + (bias ? bias[n] : 0.0f);                                 \
        }                                                                                       \
    }                                                                                           \
}

FEW_ROWS_KERNEL(vt_few_rows_f32_avx2, float, load8_f32, load1_f32)
FEW_ROWS_KERNEL(vt_few_rows_bf16_avx2, unsigned short, load8_bf16, load1_bf16)

AVX2 void vt_widen_bf16_avx2(const unsigned short *src, float *dst, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, load8_bf16(src + i));
    for (; i < count; i++) dst[i] = load1_bf16(src + i);
}
