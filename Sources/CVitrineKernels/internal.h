// The kernels of each instruction set, gathered into tables by isa.c. Not exported to Swift:
// callers go through a table (vt_kernels_for, vt_kernels_active) or the dispatching wrappers.
#ifndef VITRINE_KERNELS_INTERNAL_H
#define VITRINE_KERNELS_INTERNAL_H
#include "CVitrineKernels.h"

// Portable C (portable.c): what any x86-64 (or other) CPU runs, compiled for the baseline target.
void vt_few_rows_f32_portable(int rows, int k, int n_begin, int n_end, const float *x, const float *w,
                              const float *bias, float *y, int ldy);
void vt_few_rows_bf16_portable(int rows, int k, int n_begin, int n_end, const float *x, const unsigned short *w,
                               const float *bias, float *y, int ldy);
void vt_few_rows_s8_portable(int rows, int k, int n_begin, int n_end, const signed char *x, const float *xs,
                             const signed char *w, const int *wsum, const float *ws, const float *bias, float *y, int ldy);
void vt_widen_bf16_portable(const unsigned short *src, float *dst, long count);
void vt_attention_f32_portable(int length, int d, const float *q, const float *k, const float *v, long stride,
                               float scale, int causal, float *scores, float *out, long ldo);
void vt_quick_gelu_portable(float *x, long count);
void vt_gelu_erf_portable(float *x, long count);
void vt_quantize_rows_s8_portable(int rows, int k, const float *x, long ldx, signed char *q, long ldq,
                                  float *scales, int qmax);
void vt_dequantize_s32_portable(int rows, int n, const int *c, long ldc, const float *xs, const float *ws,
                                const float *bias, float *y, long ldy);

// AVX2 + FMA (linear.c, activations.c, int8.c).
void vt_few_rows_f32_avx2(int rows, int k, int n_begin, int n_end, const float *x, const float *w,
                          const float *bias, float *y, int ldy);
void vt_few_rows_bf16_avx2(int rows, int k, int n_begin, int n_end, const float *x, const unsigned short *w,
                           const float *bias, float *y, int ldy);
void vt_few_rows_s8_avx2(int rows, int k, int n_begin, int n_end, const signed char *x, const float *xs,
                         const signed char *w, const int *wsum, const float *ws, const float *bias, float *y, int ldy);
void vt_widen_bf16_avx2(const unsigned short *src, float *dst, long count);
void vt_attention_f32_avx2(int length, int d, const float *q, const float *k, const float *v, long stride,
                           float scale, int causal, float *scores, float *out, long ldo);
void vt_quick_gelu_avx2(float *x, long count);
void vt_gelu_erf_avx2(float *x, long count);
void vt_quantize_rows_s8_avx2(int rows, int k, const float *x, long ldx, signed char *q, long ldq,
                              float *scales, int qmax);
void vt_dequantize_s32_avx2(int rows, int n, const int *c, long ldc, const float *xs, const float *ws,
                            const float *bias, float *y, long ldy);
void vt_gemm_s8_avx2(int rows, int k, int n_begin, int n_end, const short *x, long ldx, const float *xs,
                     const signed char *w, const float *ws, const float *bias, float *y, int ldy, short *panel);


// AVX-512 with VNNI (vnni.c, activations.c): the int8 product over packed weights and GELU; the rest is AVX2's.
void vt_gelu_erf_avx512(float *x, long count);
void vt_attention_f32_avx512(int length, int d, const float *q, const float *k, const float *v, long stride,
                             float scale, int causal, float *scores, float *out, long ldo);
void vt_quantize_rows_u8_avx512(int rows, int k, const float *x, long ldx, unsigned char *u, long ldu,
                                float *scales, int qmax);
void vt_add_layer_norm_portable(int rows, int cols, const float *x, const float *s, const float *w, const float *b,
                                float eps, float *y);
void vt_add_layer_norm_avx2(int rows, int cols, const float *x, const float *s, const float *w, const float *b,
                            float eps, float *y);
void vt_add_layer_norm_avx512(int rows, int cols, const float *x, const float *s, const float *w, const float *b,
                              float eps, float *y);
void vt_gemm_s8_vnni(int rows, int k, int n_begin, int n_end, const unsigned char *x, long ldx,
                     const float *xs, const signed char *packed, const int *wsum, const float *ws,
                     const float *bias, float *y, int ldy);
// AMX (amx.c): the same product on tiles, over the same packed weights; fewer than 16 rows go to VNNI's.
void vt_gemm_s8_amx(int rows, int k, int n_begin, int n_end, const unsigned char *x, long ldx,
                    const float *xs, const signed char *packed, const int *wsum, const float *ws,
                    const float *bias, float *y, int ldy);
// Loads the tile configuration both AMX files use: all eight tiles 16 rows × 64 bytes.
void vt_amx_configure_tiles(void);
// Attention with bfloat16 operands on AMX tiles (amx_attention.c).
void vt_attention_bf16_amx(int length, int d, const float *q, const float *k, const float *v, long stride,
                           float scale, int causal, float *scratch, float *out, long ldo);

// Round to nearest even and clamp to [-qmax, qmax] (NaN to -qmax): the one rounding every path shares.
float vt_quantize_scalar(float v, float inv, int qmax);
#endif
