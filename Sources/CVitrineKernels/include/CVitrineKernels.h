#ifndef VITRINE_KERNELS_H
#define VITRINE_KERNELS_H
#include <stdbool.h>

/// The instruction sets Vitrine's kernels are written for, from the least to the most capable.
/// Each level runs on every CPU that has it; one binary holds them all and picks at run time.
typedef enum {
    /// Portable C, compiled for the baseline target: any CPU.
    VT_ISA_PORTABLE = 0,
    /// AVX2 and FMA (Haswell, Zen 1–3 and later).
    VT_ISA_AVX2 = 1,
    /// AVX-512 F/BW/VL with VNNI (Ice Lake, Zen 4 and later): AVX2's kernels plus the int8 ones on vpdpbusd.
    VT_ISA_AVX512 = 2,
    /// AVX-512's kernels with the int8 product and the int8 models' attention on AMX tiles
    /// (Sapphire Rapids and later: AMX-INT8 and AMX-BF16), where the operating system grants the
    /// tile state (Linux 5.16 and later).
    VT_ISA_AMX = 3,
} vt_isa;

/// The most capable level this CPU runs (from CPUID, checked once).
vt_isa vt_isa_supported(void);
/// The level `VITRINE_ISA` asks for ("portable", "avx2", "avx512", "amx"): -1 when it is unset or empty,
/// -2 when it names none of them.
int vt_isa_requested(void);
/// The level the kernels run at: the requested one when it is valid and supported, capped at the
/// supported one otherwise.
vt_isa vt_isa_active(void);
/// "portable", "avx2", "avx512" or "amx".
const char *vt_isa_name(vt_isa isa);

/// One instruction set's kernels.
///
/// few_rows_*: y[m][n] = bias[n] + sum_k x[m][k] * w[n][k] for m < rows and n in [n_begin, n_end):
/// a linear layer for a few rows (a text query), reading each weight once from memory instead of
/// packing the whole matrix as a general GEMM does. `w` is row-major [n_total][k], `y` row-major
/// [rows][ldy]; `bias` may be NULL. The bf16 weights are the upper halves of binary32 floats,
/// widened on the fly. The s8 product takes quantized operands, y[m][n] = xs[m] · ws[n] ·
/// sum_k x[m][k] · w[n][k] + bias[n], with exact int32 sums, the same on every level bit for bit;
/// `wsum[n]` must be Σ_k w[n][k] over the whole row.
///
/// quantize_rows_s8: scales[r] = max_j |x[r][j]| / qmax and q[r][j] = round-to-nearest-even(
/// x[r][j] / scales[r]) clamped to [-qmax, qmax]; a row whose largest magnitude is below 1e-30 (or
/// NaN) gets scale 0 and all-zero bytes; qmax ≤ 127. The same bytes on every level for finite input.
///
/// dequantize_s32: y[r][j] = c[r][j] · xs[r] · ws[j] + bias[j] (bias may be NULL), an int32 GEMM
/// result back to floats with its row and column scales; `c` and `y` may be the same memory.
///
/// gemm_s8: the s8 product for many rows (a batch), the same sums and output as few_rows_s8 but
/// blocked for reuse; plain AVX2's only (the VNNI level has gemm_s8_packed, and without AVX2
/// oneDNN's GEMM is the one to use). `x` holds the input bytes widened to int16 by
/// vt_widen_s8_pairs, `ldx` int16 per row; `panel` is scratch for vt_gemm_s8_panel(k) int16, one
/// per concurrent caller.
///
/// gemm_s8_packed: the s8 product on the VNNI and AMX levels for any number of rows, the same
/// output as few_rows_s8 bit for bit; NULL below them. Where it exists, the layers use it for every int8
/// product. `x` holds the input rows flipped by vt_flip_s8_rows or quantized by quantize_rows_u8 (`ldx` ≥ 4 · ((k + 3) / 4) bytes
/// a row), `packed` the weights packed by vt_pack_s8_vnni, `wsum[n]` = Σ_k w[n][k]; n_begin is a
/// multiple of 16.
///
/// quantize_rows_u8: quantize_rows_s8 and vt_flip_s8_rows in one pass, the input step of
/// gemm_s8_packed (the same levels have it): the same scales, and u[r][j] = q[r][j] + 128 with
/// zeros up to the next multiple of 4 (`ldu` ≥ that), the same bytes for finite input.
///
/// attention_f32: one head of softmax(scale · q kᵀ) v over one sequence of `length` tokens, head
/// width `d`: row i of q, k and v starts at i · stride; out[i][t] goes to out + i · ldo + t. Under
/// `causal` row i sees tokens 0...i. `scores` is scratch for `length` floats. The AVX2 softmax
/// uses a polynomial e^x (relative error below 2e-7).
///
/// attention_bf16: attention_f32 with q, k, v and the softmax weights rounded to bfloat16 (sums
/// in fp32), on AMX tiles; NULL below the AMX level. The int8 models' attention. `scores` is
/// scratch for vt_attention_bf16_scratch(length, d) floats (best 64-byte aligned). Sequences
/// shorter than VT_ATTENTION_BF16_MIN_LENGTH or longer than VT_ATTENTION_BF16_MAX_LENGTH, and head
/// widths that are not a multiple of 32 up to VT_ATTENTION_BF16_MAX_D, go through the AVX-512 f32
/// kernel.
///
/// widen_bf16: dst[i] = src[i] widened to float. quick_gelu: x · sigmoid(1.702 · x) in place
/// (CLIP's). gelu_erf: 0.5 · x · (1 + erf(x / √2)) in place (BERT's), within 3e-7 · max(1, |x|)
/// (AVX2 and portable: 1.2e-7 relative to max(1, |gelu(x)|)).
///
/// add_layer_norm: row by row of `cols`, y = (t − mean(t)) / sqrt(var(t) + eps) · w + b with
/// t = x + s and the biased variance (a post-norm block's residual and norm); y may be x or s.
typedef struct {
    vt_isa isa;
    void (*few_rows_f32)(int rows, int k, int n_begin, int n_end, const float *x, const float *w,
                         const float *bias, float *y, int ldy);
    void (*few_rows_bf16)(int rows, int k, int n_begin, int n_end, const float *x, const unsigned short *w,
                          const float *bias, float *y, int ldy);
    void (*few_rows_s8)(int rows, int k, int n_begin, int n_end, const signed char *x, const float *xs,
                        const signed char *w, const int *wsum, const float *ws, const float *bias, float *y, int ldy);
    void (*quantize_rows_s8)(int rows, int k, const float *x, long ldx, signed char *q, long ldq,
                             float *scales, int qmax);
    void (*dequantize_s32)(int rows, int n, const int *c, long ldc, const float *xs, const float *ws,
                           const float *bias, float *y, long ldy);
    void (*gemm_s8)(int rows, int k, int n_begin, int n_end, const short *x, long ldx, const float *xs,
                    const signed char *w, const float *ws, const float *bias, float *y, int ldy, short *panel);
    void (*gemm_s8_packed)(int rows, int k, int n_begin, int n_end, const unsigned char *x, long ldx,
                           const float *xs, const signed char *packed, const int *wsum, const float *ws,
                           const float *bias, float *y, int ldy);
    void (*quantize_rows_u8)(int rows, int k, const float *x, long ldx, unsigned char *u, long ldu,
                             float *scales, int qmax);
    void (*attention_f32)(int length, int d, const float *q, const float *k, const float *v, long stride,
                          float scale, int causal, float *scores, float *out, long ldo);
    void (*attention_bf16)(int length, int d, const float *q, const float *k, const float *v, long stride,
                           float scale, int causal, float *scores, float *out, long ldo);
    void (*widen_bf16)(const unsigned short *src, float *dst, long count);
    void (*quick_gelu)(float *x, long count);
    void (*gelu_erf)(float *x, long count);
    void (*add_layer_norm)(int rows, int cols, const float *x, const float *s, const float *w, const float *b,
                           float eps, float *y);
} vt_kernels;

enum { VT_ATTENTION_BF16_MIN_LENGTH = 16, VT_ATTENTION_BF16_MAX_LENGTH = 256, VT_ATTENTION_BF16_MAX_D = 128 };
/// The floats of scratch attention_bf16 needs for one head of `length` tokens and width `d` (a
/// multiple of 16): its bf16 tiles of q, kᵀ, v and the weights, one block of scores and the row
/// sums; `length` when the f32 kernel takes the call.
static inline long vt_attention_bf16_scratch(int length, int d) {
    if (length < VT_ATTENTION_BF16_MIN_LENGTH || length > VT_ATTENTION_BF16_MAX_LENGTH || d % 32 != 0 ||
        d > VT_ATTENTION_BF16_MAX_D)
        return length > 0 ? length : 0;
    const long rows = (length + 15) / 16 * 16, keys = (length + 31) / 32 * 32;
    return rows * d / 2 + keys * d / 2 + rows * d / 2 + rows * keys / 2 + 16 * keys + rows + 256;
}

/// The kernels of `isa`, or NULL when this CPU cannot run them: what tests use to check every path.
const vt_kernels *vt_kernels_for(vt_isa isa);
/// The kernels of vt_isa_active().
const vt_kernels *vt_kernels_active(void);

/// The active level's kernels, for callers that want one call.
void vt_quantize_rows_s8(int rows, int k, const float *x, long ldx, signed char *q, long ldq,
                         float *scales, int qmax);
void vt_dequantize_s32(int rows, int n, const int *c, long ldc, const float *xs, const float *ws,
                       const float *bias, float *y, long ldy);
/// x[r][j] = q[r][j] as int16 for j < k, and x[r][k] = 0 when k is odd (ldx ≥ k + 1 then): the
/// input layout of gemm_s8.
void vt_widen_s8_pairs(int rows, int k, const signed char *q, long ldq, short *x, long ldx);
/// 1 when OpenBLAS had fallen back to its Prescott kernels at load and Vitrine had it choose
/// again for this CPU (openblas.c, before main), 0 otherwise.
int vt_openblas_kernels_rechosen(void);
/// Runs `iterations` rounds of 12 independent 256-bit FMAs (192 floating-point operations per
/// round) on registers alone and returns their sum (so the work cannot be skipped): a thread's
/// fp32 peak for benchmarks. Needs AVX2 and FMA (vt_isa_supported() ≥ VT_ISA_AVX2).
float vt_fma256_probe(long iterations);
/// The int16 a gemm_s8 panel holds for inner dimension k.
static inline long vt_gemm_s8_panel(int k) { return 32L * ((k + 1) / 2); }

/// A feed-forward block's first layer, its GELU and its output's quantization for the second
/// layer, on AMX (vt_isa_supported() ≥ VT_ISA_AMX; under 16 rows, through the VNNI kernel): u[r] and us[r] for r < rows are
/// what gemm_s8_packed over all n columns, gelu_erf and quantize_rows_u8 (qmax 127) give in
/// turn, bit for bit, but 32 rows at a time through `block` (scratch for 32 · n floats), so the
/// layer's float output never leaves the cache. Arguments as gemm_s8_packed's; `ldu` ≥
/// 4 · ((n + 3) / 4).
void vt_gemm_s8_amx_gelu_u8(int rows, int k, int n, const unsigned char *x, long ldx, const float *xs,
                            const signed char *packed, const int *wsum, const float *ws, const float *bias,
                            float *block, unsigned char *u, long ldu, float *us);
/// The bytes of row-major s8 weights [n][k] packed for gemm_s8_packed: panels of 16 output
/// columns (the last one padded with zero columns), each (k + 3) / 4 groups of 64 bytes, group g
/// holding w[16p + c][4g + b] at byte 4c + b (k padded with zeros).
static inline long vt_packed_s8_size(int n, int k) { return 64L * ((n + 15) / 16) * ((k + 3) / 4); }
/// Packs row-major [n][k] s8 weights into the vt_packed_s8_size(n, k) bytes at `packed`.
void vt_pack_s8_vnni(int n, int k, const signed char *w, signed char *packed);
/// u[r][j] = q[r][j] + 128 as unsigned bytes for j < k, and 0 up to the next multiple of 4: the
/// input layout of gemm_s8_packed.
void vt_flip_s8_rows(int rows, int k, const signed char *q, long ldq, unsigned char *u, long ldu);
#endif
