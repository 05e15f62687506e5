// One head of scaled dot-product attention over one sequence, for the short sequences of text
// queries and (query, product) pairs: a GEMM library's call overhead on a 24 × 24 × 32 product is
// several times the product itself, and there are sequences × heads × layers of them per pass.
// Each query row's scores, softmax and weighted sum of values stay in one small buffer.
#include "internal.h"
#include "avx2_math.h"
#include "avx512_math.h"
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

// The same head on AVX-512, four query rows at a time. kᵀ is copied once per call so that 16
// consecutive keys' values of one dimension are one load: a block of 16 scores is d FMAs with no
// horizontal sums, and each load serves four rows. Longer sequences or head widths that are not a
// multiple of 16 take the AVX2 kernel.
#define KT_FLOATS 8192
#define MAX_KEYS 256

AVX512 void vt_attention_f32_avx512(int length, int d, const float *q, const float *k, const float *v, long stride,
                                    float scale, int causal, float *scores, float *out, long ldo) {
    const int padded = (length + 15) & ~15;
    if (length <= 0 || d % 16 != 0 || (long)d * padded > KT_FLOATS || padded > MAX_KEYS) {
        vt_attention_f32_avx2(length, d, q, k, v, stride, scale, causal, scores, out, ldo);
        return;
    }
    _Alignas(64) float kt[KT_FLOATS];
    _Alignas(64) float p[4][MAX_KEYS];
    for (int t = 0; t < d; t++) {
        float *row = kt + (long)t * padded;
        for (int j = 0; j < length; j++) row[j] = k[(long)j * stride + t];
        for (int j = length; j < padded; j++) row[j] = 0;
    }
    const __m512 lanes = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int i0 = 0; i0 < length; i0 += 4) {
        // Rows past the last compute the last one again and are not stored: four rows always.
        const float *qr[4];
        int visible[4], most = 0;
        for (int r = 0; r < 4; r++) {
            const int i = i0 + r < length ? i0 + r : length - 1;
            qr[r] = q + (long)i * stride;
            visible[r] = causal ? i + 1 : length;
            if (visible[r] > most) most = visible[r];
        }
        __m512 largest[4];
        for (int r = 0; r < 4; r++) largest[r] = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < most; j += 16) {
            __m512 acc[4] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps() };
            for (int t = 0; t < d; t++) {
                const __m512 keys = _mm512_load_ps(kt + (long)t * padded + j);
                for (int r = 0; r < 4; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(qr[r][t]), keys, acc[r]);
            }
            const __m512 position = _mm512_add_ps(lanes, _mm512_set1_ps((float)j));
            for (int r = 0; r < 4; r++) {
                const __mmask16 seen = _mm512_cmp_ps_mask(position, _mm512_set1_ps((float)visible[r]), _CMP_LT_OQ);
                const __m512 s = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), seen, _mm512_mul_ps(acc[r], _mm512_set1_ps(scale)));
                _mm512_store_ps(p[r] + j, s);
                largest[r] = _mm512_max_ps(largest[r], s);
            }
        }
        // e^(s - max), zero for the keys a row does not see.
        float inverse[4];
        for (int r = 0; r < 4; r++) {
            const __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(largest[r]));
            __m512 total = _mm512_setzero_ps();
            for (int j = 0; j < most; j += 16) {
                const __mmask16 seen = _mm512_cmp_ps_mask(_mm512_add_ps(lanes, _mm512_set1_ps((float)j)),
                                                          _mm512_set1_ps((float)visible[r]), _CMP_LT_OQ);
                const __m512 e = _mm512_maskz_mov_ps(seen, exp16(_mm512_sub_ps(_mm512_load_ps(p[r] + j), top)));
                _mm512_store_ps(p[r] + j, e);
                total = _mm512_add_ps(total, e);
            }
            inverse[r] = 1.0f / _mm512_reduce_add_ps(total);
        }
        for (int t = 0; t < d; t += 16) {
            __m512 o[4] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps() };
            for (int j = 0; j < most; j++) {
                const __m512 values = _mm512_loadu_ps(v + (long)j * stride + t);
                for (int r = 0; r < 4; r++) o[r] = _mm512_fmadd_ps(_mm512_set1_ps(p[r][j]), values, o[r]);
            }
            for (int r = 0; r < 4 && i0 + r < length; r++) {
                _mm512_storeu_ps(out + (long)(i0 + r) * ldo + t, _mm512_mul_ps(o[r], _mm512_set1_ps(inverse[r])));
            }
        }
    }
}
