// The portable kernels: plain C for the baseline target (the compiler vectorizes what it can), the
// same arithmetic as the AVX2 ones up to the order of float sums, and the same bytes where the
// result is integer (quantization, int8 sums).
#include "internal.h"
#include <math.h>

#define FEW_ROWS_PORTABLE(NAME, WTYPE, LOAD)                                                   \
void NAME(int rows, int k, int n_begin, int n_end, const float *x, const WTYPE *w,             \
          const float *bias, float *y, int ldy) {                                              \
    for (int n = n_begin; n < n_end; n++) {                                                    \
        const WTYPE *wn = w + (long)n * k;                                                     \
        for (int m = 0; m < rows; m++) {                                                       \
            const float *xm = x + (long)m * k;                                                 \
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                              \
            int j = 0;                                                                         \
            for (; j + 4 <= k; j += 4) {                                                       \
                s0 += xm[j] * LOAD(wn + j); s1 += xm[j + 1] * LOAD(wn + j + 1);                \
                s2 += xm[j + 2] * LOAD(wn + j + 2); s3 += xm[j + 3] * LOAD(wn + j + 3);        \
            }                                                                                  \
            for (; j < k; j++) s0 += xm[j] * LOAD(wn + j);                                     \
            y[(long)m * ldy + n] = (s0 + s1) + (s2 + s3) + (bias ? bias[n] : 0.0f);           \
        }                                                                                      \
    }                                                                                          \
}

static inline float load_f32(const float *p) { return *p; }
static inline float load_bf16(const unsigned short *p) {
    union { unsigned int u; float f; } v = { .u = (unsigned int)*p << 16 };
    return v.f;
}

FEW_ROWS_PORTABLE(vt_few_rows_f32_portable, float, load_f32)
FEW_ROWS_PORTABLE(vt_few_rows_bf16_portable, unsigned short, load_bf16)

void vt_few_rows_s8_portable(int rows, int k, int n_begin, int n_end, const signed char *x, const float *xs,
                             const signed char *w, const int *wsum, const float *ws, const float *bias, float *y, int ldy) {
    (void)wsum;
    for (int n = n_begin; n < n_end; n++) {
        const signed char *wn = w + (long)n * k;
        for (int m = 0; m < rows; m++) {
            const signed char *xm = x + (long)m * k;
            int s = 0;
            for (int j = 0; j < k; j++) s += xm[j] * wn[j];
            y[(long)m * ldy + n] = fmaf((float)s, xs[m] * ws[n], bias ? bias[n] : 0.0f);
        }
    }
}

void vt_widen_bf16_portable(const unsigned short *src, float *dst, long count) {
    for (long i = 0; i < count; i++) dst[i] = load_bf16(src + i);
}

void vt_quick_gelu_portable(float *x, long count) {
    for (long i = 0; i < count; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

void vt_gelu_erf_portable(float *x, long count) {
    for (long i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}
