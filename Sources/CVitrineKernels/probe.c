// What one thread's fp32 units can do at most: 256-bit FMAs on registers alone, twelve
// independent chains (more than latency × pipes on every AVX2 core), no loads. No fp32 kernel,
// GEMM or otherwise, runs faster; benchmarks divide by it to say how close to the metal they are.
#include "internal.h"
#include "avx2_math.h"

AVX2 float vt_fma256_probe(long iterations) {
    __m256 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps(1.0f + 1e-3f * i);
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (long n = 0; n < iterations; n++) {
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
    }
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    return hsum8(s);
}
