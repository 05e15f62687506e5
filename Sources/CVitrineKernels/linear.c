#include "CVitrineKernels.h"
#include <immintrin.h>

bool vt_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

__attribute__((target("avx2,fma")))
static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Two weight rows against up to four input rows at a time: 8 accumulators, 2 weight and
// 1 input register, within AVX2's 16. The weight rows stay in L1 while every block of input
// rows passes over them, so each weight comes from memory once.
__attribute__((target("avx2,fma")))
void vt_linear_few_rows_f32(int rows, int k, int n_begin, int n_end,
                            const float *x, const float *w, const float *bias,
                            float *y, int ldy) {
    const int k8 = k & ~7;
    int n = n_begin;
    for (; n + 1 < n_end; n += 2) {
        const float *w0 = w + (long)n * k, *w1 = w0 + k;
        for (int m0 = 0; m0 < rows; m0 += 4) {
            const int mb = rows - m0 < 4 ? rows - m0 : 4;
            __m256 a0[4], a1[4];
            for (int i = 0; i < 4; i++) { a0[i] = _mm256_setzero_ps(); a1[i] = _mm256_setzero_ps(); }
            for (int j = 0; j < k8; j += 8) {
                const __m256 v0 = _mm256_loadu_ps(w0 + j), v1 = _mm256_loadu_ps(w1 + j);
                for (int i = 0; i < mb; i++) {
                    const __m256 xv = _mm256_loadu_ps(x + (long)(m0 + i) * k + j);
                    a0[i] = _mm256_fmadd_ps(xv, v0, a0[i]);
                    a1[i] = _mm256_fmadd_ps(xv, v1, a1[i]);
                }
            }
            for (int i = 0; i < mb; i++) {
                const float *xr = x + (long)(m0 + i) * k;
                float s0 = hsum(a0[i]), s1 = hsum(a1[i]);
                for (int j = k8; j < k; j++) { s0 += xr[j] * w0[j]; s1 += xr[j] * w1[j]; }
                float *yr = y + (long)(m0 + i) * ldy;
                yr[n] = s0 + (bias ? bias[n] : 0.0f);
                yr[n + 1] = s1 + (bias ? bias[n + 1] : 0.0f);
            }
        }
    }
    for (; n < n_end; n++) {
        const float *w0 = w + (long)n * k;
        for (int m = 0; m < rows; m++) {
            const float *xr = x + (long)m * k;
            __m256 acc = _mm256_setzero_ps();
            for (int j = 0; j < k8; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(xr + j), _mm256_loadu_ps(w0 + j), acc);
            float s = hsum(acc);
            for (int j = k8; j < k; j++) s += xr[j] * w0[j];
            y[(long)m * ldy + n] = s + (bias ? bias[n] : 0.0f);
        }
    }
}
