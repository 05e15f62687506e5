// What the AVX-512 sources share (activations, attention, norms, the packed int8 kernels): the
// target attribute, e^x, the tail mask and the int8 float step.
#ifndef VITRINE_KERNELS_AVX512_MATH_H
#define VITRINE_KERNELS_AVX512_MATH_H
#include <immintrin.h>

#define AVX512 __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")))

// e^x = 2^k · e^r: k = round(x / ln 2) and r = x − k · ln 2 (ln 2 in two parts, so r is exact).
static inline __attribute__((always_inline)) AVX512 __m512 exp16_reduce(__m512 x, __m512 *k) {
    *k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_fnmadd_ps(*k, _mm512_set1_ps(0.693359375f), x);
    return _mm512_fnmadd_ps(*k, _mm512_set1_ps(-2.12194440e-4f), r);
}

// exp8 of avx2_math.h on sixteen lanes: the same reduction, polynomial and clamps.
static inline __attribute__((always_inline)) AVX512 __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 k;
    const __m512 r = exp16_reduce(x, &k);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512i exponent = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(exponent));
}

// e^x for x ≤ 0 (softmax's shifted scores, whose weights are then rounded to bf16): the same
// reduction, one degree less (within 5e-6 relative) and 2^k by vscalefps, which also takes x below
// about −87 to zero, so no clamp. 10–15% of the bf16 attention kernel's time at 37 tokens against exp16.
static inline __attribute__((always_inline)) AVX512 __m512 exp16_nonpositive(__m512 x) {
    __m512 k;
    const __m512 r = exp16_reduce(x, &k);
    __m512 p = _mm512_set1_ps(1.0f / 120);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

// The lanes of a 16-lane step that hold one of the `remaining` values left (all sixteen from 16 on).
static inline __attribute__((always_inline)) __mmask16 lanes16(long remaining) {
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1);
}

// The packed int8 kernels' float step for one row of 16 columns (VNNI's and AMX's alike):
// (sum − 128 · Σw) · (x scale · w scale) + bias, the few-rows kernels' arithmetic, so the same bits.
static inline __attribute__((always_inline)) AVX512 __m512 finish16(__m512i sum, __m512i correction, float xs,
                                                                    __m512 scale, __m512 bias) {
    const __m512 exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(sum, correction));
    return _mm512_fmadd_ps(exact, _mm512_mul_ps(_mm512_set1_ps(xs), scale), bias);
}
#endif
