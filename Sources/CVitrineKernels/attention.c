// One head of scaled dot-product attention over one sequence, for the short sequences of text
// queries and (query, product) pairs: a GEMM library's call overhead on a 24 × 24 × 32 product is
// several times the product itself, and there are sequences × heads × layers of them per pass.
// Each query row's scores, softmax and weighted sum of values stay in one small buffer.
#include "internal.h"
#include "avx2_math.h"
#include <math.h>

AVX2 void vt_attention_f32_avx2(int length, int d, const float *q, const float *k, const float *v, long stride,
                                float scale, int causal, float *scores, float *out, long ldo) {
    const int d8 = d & ~7;
    for (int i = 0; i < length; i++) {
        const int visible = causal ? i + 1 : length;
        const float *qi = q + (long)i * stride;
        float largest = -INFINITY;
        for (int j = 0; j < visible; j++) {
            const float *kj = k + (long)j * stride;
            __m256 acc = _mm256_setzero_ps();
            int t = 0;
            for (; t < d8; t += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(qi + t), _mm256_loadu_ps(kj + t), acc);
            float s = hsum8(acc);
            for (; t < d; t++) s += qi[t] * kj[t];
            s *= scale;
            scores[j] = s;
            if (s > largest) largest = s;
        }
        // e^(s - max): the largest weight is 1, nothing overflows.
        const __m256 top = _mm256_set1_ps(largest);
        __m256 total = _mm256_setzero_ps();
        int j = 0;
        for (; j + 8 <= visible; j += 8) {
            const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + j), top));
            _mm256_storeu_ps(scores + j, e);
            total = _mm256_add_ps(total, e);
        }
        float sum = hsum8(total);
        for (; j < visible; j++) { scores[j] = expf(scores[j] - largest); sum += scores[j]; }
        const float inverse = 1.0f / sum;
        float *oi = out + (long)i * ldo;
        int t = 0;
        for (; t + 32 <= d; t += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
            for (int j2 = 0; j2 < visible; j2++) {
                const float *vj = v + (long)j2 * stride + t;
                const __m256 p = _mm256_set1_ps(scores[j2]);
                a0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vj), a0);
                a1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vj + 8), a1);
                a2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vj + 16), a2);
                a3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vj + 24), a3);
            }
            const __m256 s = _mm256_set1_ps(inverse);
            _mm256_storeu_ps(oi + t, _mm256_mul_ps(a0, s));
            _mm256_storeu_ps(oi + t + 8, _mm256_mul_ps(a1, s));
            _mm256_storeu_ps(oi + t + 16, _mm256_mul_ps(a2, s));
            _mm256_storeu_ps(oi + t + 24, _mm256_mul_ps(a3, s));
        }
        for (; t + 8 <= d; t += 8) {
            __m256 a = _mm256_setzero_ps();
            for (int j2 = 0; j2 < visible; j2++) a = _mm256_fmadd_ps(_mm256_set1_ps(scores[j2]), _mm256_loadu_ps(v + (long)j2 * stride + t), a);
            _mm256_storeu_ps(oi + t, _mm256_mul_ps(a, _mm256_set1_ps(inverse)));
        }
        for (; t < d; t++) {
            float a = 0;
            for (int j2 = 0; j2 < visible; j2++) a += scores[j2] * v[(long)j2 * stride + t];
            oi[t] = a * inverse;
        }
    }
}

void vt_attention_f32_portable(int length, int d, const float *q, const float *k, const float *v, long stride,
                               float scale, int causal, float *scores, float *out, long ldo) {
    for (int i = 0; i < length; i++) {
        const int visible = causal ? i + 1 : length;
        const float *qi = q + (long)i * stride;
        float largest = -INFINITY;
        for (int j = 0; j < visible; j++) {
            const float *kj = k + (long)j * stride;
            float s = 0;
            for (int t = 0; t < d; t++) s += qi[t] * kj[t];
            scores[j] = s * scale;
            if (scores[j] > largest) largest = scores[j];
        }
        float sum = 0;
        for (int j = 0; j < visible; j++) { scores[j] = expf(scores[j] - largest); sum += scores[j]; }
        const float inverse = 1.0f / sum;
        float *oi = out + (long)i * ldo;
        for (int t = 0; t < d; t++) oi[t] = 0;
        for (int j = 0; j < visible; j++) {
            const float *vj = v + (long)j * stride;
            for (int t = 0; t < d; t++) oi[t] += scores[j] * vj[t];
        }
        for (int t = 0; t < d; t++) oi[t] *= inverse;
    }
}
