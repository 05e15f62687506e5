#ifndef VITRINE_KERNELS_H
#define VITRINE_KERNELS_H
#include <stdbool.h>

/// True when this CPU runs the AVX2 + FMA kernels below.
bool vt_has_avx2_fma(void);

/// y[m][n] = bias[n] + sum_k x[m][k] * w[n][k] for m < rows and n in [n_begin, n_end):
/// a linear layer for a few rows (a text query), reading each weight once from memory instead
/// of packing the whole matrix as a general GEMM does. `w` is row-major [n_total][k], `y` is
/// row-major [rows][ldy]; `bias` may be NULL. Requires vt_has_avx2_fma().
void vt_linear_few_rows_f32(int rows, int k, int n_begin, int n_end,
                            const float *x, const float *w, const float *bias,
                            float *y, int ldy);
/// The same with bfloat16 weights (the upper halves of binary32 floats), widened on the fly:
/// half the bytes to stream, which is what bounds a text query.
void vt_linear_few_rows_bf16(int rows, int k, int n_begin, int n_end,
                             const float *x, const unsigned short *w, const float *bias,
                             float *y, int ldy);
/// dst[i] = bfloat16 src[i] widened to float, for i < count.
void vt_widen_bf16(const unsigned short *src, float *dst, long count);
/// x[i] = 0.5 · x[i] · (1 + erf(x[i] / √2)) in place (the exact GELU of BERT and PyTorch's
/// default `gelu`), with a vectorized erfc accurate to about 1e-7 relative.
void vt_gelu_erf(float *x, long count);
/// x[i] = x[i] · sigmoid(1.702 · x[i]) in place (CLIP's quick_gelu), with a vectorized e^x
/// accurate to a few units in the last place.
void vt_quick_gelu(float *x, long count);

/// Symmetric per-row quantization: scales[r] = max_j |x[r][j]| / qmax and
/// q[r][j] = round-to-nearest-even(x[r][j] / scales[r]) clamped to [-qmax, qmax]. A row whose
/// largest magnitude is below 1e-30 (or NaN) gets scale 0 and all-zero bytes. qmax ≤ 127.
void vt_quantize_rows_s8(int rows, int k, const float *x, long ldx, signed char *q, long ldq,
                         float *scales, int qmax);
/// y[r][j] = c[r][j] · xs[r] · ws[j] + bias[j] (bias may be NULL): an int32 GEMM result back to
/// floats with its row and column scales. `c` and `y` may be the same memory (ldc == ldy).
void vt_dequantize_s32(int rows, int n, const int *c, long ldc, const float *xs, const float *ws,
                       const float *bias, float *y, long ldy);
/// A few-rows linear layer on quantized operands: y[m][n] = xs[m] · ws[n] · sum_k x[m][k] · w[n][k]
/// + bias[n] for n in [n_begin, n_end), exact int32 sums. `x` is [rows][k], `w` [n_total][k].
/// Requires vt_has_avx2_fma().
void vt_linear_few_rows_s8(int rows, int k, int n_begin, int n_end, const signed char *x,
                           const float *xs, const signed char *w, const float *ws,
                           const float *bias, float *y, int ldy);
/// True when the CPU has AVX-512 VNNI with 256-bit vectors (AVX512VL, AVX512BW) and AVX2/FMA.
bool vt_has_avx512_vnni(void);
/// vt_linear_few_rows_s8 with vpdpbusd: the same result, bit for bit. `wsum[n]` must be
/// Σ_k w[n][k] over the whole row. Requires vt_has_avx512_vnni().
void vt_linear_few_rows_s8_vnni(int rows, int k, int n_begin, int n_end, const signed char *x,
                                const float *xs, const signed char *w, const int *wsum, const float *ws,
                                const float *bias, float *y, int ldy);
#endif
