// A residual connection and the layer norm after it, in one pass over each row (BERT's post-norm
// blocks): y = (t − mean) / sqrt(var + eps) · w + b with t = x + s, the biased variance taken
// over the deviations from the mean (two passes, as PyTorch computes it). The sums t go to y
// first and are read back from L1, so y may be x or s.
#include "internal.h"
#include "avx2_math.h"
#include "avx512_math.h"
#include <math.h>

void vt_add_layer_norm_portable(int rows, int cols, const float *x, const float *s, const float *w, const float *b,
                                float eps, float *y) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols, *sr = s + (long)r * cols;
        float *yr = y + (long)r * cols;
        float sum = 0;
        for (int j = 0; j < cols; j++) { yr[j] = xr[j] + sr[j]; sum += yr[j]; }
        const float mean = sum / (float)cols;
        float squares = 0;
        for (int j = 0; j < cols; j++) { const float d = yr[j] - mean; squares += d * d; }
        const float scale = 1.0f / sqrtf(squares / (float)cols + eps);
        for (int j = 0; j < cols; j++) yr[j] = (yr[j] - mean) * scale * w[j] + b[j];
    }
}

AVX2 void vt_add_layer_norm_avx2(int rows, int cols, const float *x, const float *s, const float *w, const float *b,
                                 float eps, float *y) {
    const int c8 = cols & ~7;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols, *sr = s + (long)r * cols;
        float *yr = y + (long)r * cols;
        __m256 acc = _mm256_setzero_ps();
        int j = 0;
        for (; j < c8; j += 8) {
            const __m256 t = _mm256_add_ps(_mm256_loadu_ps(xr + j), _mm256_loadu_ps(sr + j));
            _mm256_storeu_ps(yr + j, t);
            acc = _mm256_add_ps(acc, t);
        }
        float sum = hsum8(acc);
        for (; j < cols; j++) { yr[j] = xr[j] + sr[j]; sum += yr[j]; }
        const float mean = sum / (float)cols;
        const __m256 mv = _mm256_set1_ps(mean);
        acc = _mm256_setzero_ps();
        for (j = 0; j < c8; j += 8) {
            const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(yr + j), mv);
            acc = _mm256_fmadd_ps(d, d, acc);
        }
        float squares = hsum8(acc);
        for (; j < cols; j++) { const float d = yr[j] - mean; squares += d * d; }
        const float scale = 1.0f / sqrtf(squares / (float)cols + eps);
        const __m256 sv = _mm256_set1_ps(scale);
        for (j = 0; j < c8; j += 8) {
            const __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(yr + j), mv), sv);
            _mm256_storeu_ps(yr + j, _mm256_fmadd_ps(n, _mm256_loadu_ps(w + j), _mm256_loadu_ps(b + j)));
        }
        for (; j < cols; j++) yr[j] = (yr[j] - mean) * scale * w[j] + b[j];
    }
}

AVX512 void vt_add_layer_norm_avx512(int rows, int cols, const float *x, const float *s, const float *w,
                                     const float *b, float eps, float *y) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols, *sr = s + (long)r * cols;
        float *yr = y + (long)r * cols;
        __m512 acc = _mm512_setzero_ps();
        for (int j = 0; j < cols; j += 16) {
            const __mmask16 m = lanes16(cols - j);
            const __m512 t = _mm512_add_ps(_mm512_maskz_loadu_ps(m, xr + j), _mm512_maskz_loadu_ps(m, sr + j));
            _mm512_mask_storeu_ps(yr + j, m, t);
            acc = _mm512_add_ps(acc, t);
        }
        const float mean = _mm512_reduce_add_ps(acc) / (float)cols;
        const __m512 mv = _mm512_set1_ps(mean);
        acc = _mm512_setzero_ps();
        for (int j = 0; j < cols; j += 16) {
            const __mmask16 m = lanes16(cols - j);
            const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, yr + j), mv);
            acc = _mm512_fmadd_ps(d, d, acc);
        }
        const float scale = 1.0f / sqrtf(_mm512_reduce_add_ps(acc) / (float)cols + eps);
        const __m512 sv = _mm512_set1_ps(scale);
        for (int j = 0; j < cols; j += 16) {
            const __mmask16 m = lanes16(cols - j);
            const __m512 n = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, yr + j), mv), sv);
            _mm512_mask_storeu_ps(yr + j, m, _mm512_fmadd_ps(n, _mm512_maskz_loadu_ps(m, w + j), _mm512_maskz_loadu_ps(m, b + j)));
        }
    }
}
