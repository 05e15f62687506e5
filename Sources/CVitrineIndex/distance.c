// Distance kernels. The generic versions are plain loops the compiler vectorizes for the baseline
// target; the AVX2 versions use four independent FMA accumulators so the loop is not bound by
// FMA latency. The choice is made once, at load time, from CPUID and VITRINE_ISA (the kernels'
// instruction set, see CVitrineKernels.h: `portable` keeps the generic versions).
#include "CVitrineIndex.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

static float dot_generic(const float *a, const float *b, size_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static float l2sq_generic(const float *a, const float *b, size_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1], d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
    }
    for (; i < n; i++) { float d = a[i] - b[i]; s0 += d * d; }
    return (s0 + s1) + (s2 + s3);
}

__attribute__((target("avx2,fma")))
static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
static float dot_avx2(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

__attribute__((target("avx2,fma")))
static float l2sq_avx2(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(d0, d0, s0); s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2); s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) { float d = a[i] - b[i]; s += d * d; }
    return s;
}

typedef float (*kernel_fn)(const float *, const float *, size_t);
static kernel_fn dot_impl = dot_generic;
static kernel_fn l2_impl = l2sq_generic;
static int avx2_enabled = 0;

__attribute__((constructor))
static void vx_select_kernels(void) {
    __builtin_cpu_init();
    const char *isa = getenv("VITRINE_ISA");
    const int portable = isa != NULL && strcmp(isa, "portable") == 0;
    if (!portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        dot_impl = dot_avx2;
        l2_impl = l2sq_avx2;
        avx2_enabled = 1;
    }
}

int vx_uses_avx2(void) { return avx2_enabled; }
float vx_dot(const float *a, const float *b, size_t n) { return dot_impl(a, b, n); }
float vx_l2sq(const float *a, const float *b, size_t n) { return l2_impl(a, b, n); }

float vx_dot_on(int avx2, const float *a, const float *b, size_t n) {
    __builtin_cpu_init();
    return avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? dot_avx2(a, b, n) : dot_generic(a, b, n);
}

float vx_l2sq_on(int avx2, const float *a, const float *b, size_t n) {
    __builtin_cpu_init();
    return avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? l2sq_avx2(a, b, n) : l2sq_generic(a, b, n);
}

// Prefetches the first 4 cache lines of a row; the hardware prefetcher follows the rest.
static inline void prefetch_row(const float *p) {
    const char *c = (const char *)p;
    __builtin_prefetch(c, 0, 3);
    __builtin_prefetch(c + 64, 0, 3);
    __builtin_prefetch(c + 128, 0, 3);
    __builtin_prefetch(c + 192, 0, 3);
}

// The AVX2 kernels are inlined into their own gather loops (no indirect call per row).
#define GATHER_LOOP(kernel, finish)                                          \
    prefetch_row(base + (size_t)ids[0] * dim);                              \
    for (size_t j = 0; j < count; j++) {                                    \
        if (j + 1 < count) prefetch_row(base + (size_t)ids[j + 1] * dim);   \
        float v = kernel(query, base + (size_t)ids[j] * dim, dim);          \
        out[j] = finish;                                                    \
    }

__attribute__((target("avx2,fma")))
static void gather_dot_avx2(const float *query, const float *base, size_t dim, const uint32_t *ids, size_t count, float *out) {
    GATHER_LOOP(dot_avx2, 1.0f - v)
}

__attribute__((target("avx2,fma")))
static void gather_l2_avx2(const float *query, const float *base, size_t dim, const uint32_t *ids, size_t count, float *out) {
    GATHER_LOOP(l2sq_avx2, v)
}

void vx_distances(const float *query, const float *base, size_t dim, int metric,
                  const uint32_t *ids, size_t count, float *out) {
    if (count == 0) return;
    if (avx2_enabled) {
        if (metric == 1) gather_l2_avx2(query, base, dim, ids, count, out);
        else gather_dot_avx2(query, base, dim, ids, count, out);
        return;
    }
    if (metric == 1) { GATHER_LOOP(l2sq_generic, v) }
    else { GATHER_LOOP(dot_generic, 1.0f - v) }
}

void vx_distances_rows(const float *query, const float *base, size_t dim, int metric,
                       size_t count, float *out) {
    kernel_fn f = metric == 1 ? l2_impl : dot_impl;
    for (size_t j = 0; j < count; j++) {
        float v = f(query, base + j * dim, dim);
        out[j] = metric == 1 ? v : 1.0f - v;
    }
}
