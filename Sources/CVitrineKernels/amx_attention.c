// One head of attention on AMX tiles with bfloat16 operands, for the int8 models: their
// projections already read 8-bit inputs, and bf16 keeps 8 bits of each q, k, v and softmax weight.
//
// The f32 kernel spends its time on Q Kᵀ and P V (a few dozen keys: scalar broadcasts, loads and
// FMAs), where one tdpbf16ps does a 16 × 16 block of scores over 32 dimensions. So:
//   1. the operands go to bf16 in the tile layouts: Kᵀ as pairs of dimensions by 16 keys (a 16 × 16
//      transpose of 32-bit pairs), V as pairs of keys by 16 columns, Q and the weights as rows;
//   2. each block of 16 query rows gets its scores from the tiles, then an fp32 softmax on AVX-512
//      (max, e^(s − max) by exp16_nonpositive, sum) whose weights go back to bf16;
//   3. P V on tiles, scaled by each row's 1 / sum on the way out.
// All score blocks come before any P V: a tile load waits for earlier stores to reach the cache,
// and the weights' stores have drained by then. Sums are fp32 throughout (tdpbf16ps accumulates in
// fp32), so the only roundings are the operands' and the weights'. Under 16 tokens the f32 kernel
// is as fast (the conversions and the tiles' latency cost more than the few products) and takes them.
#include "internal.h"
#include "avx512_math.h"
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#define AMX_BF16 __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,amx-tile,amx-bf16")))

enum { SUM0 = 0, SUM1 = 1, SUM2 = 2, LEFT = 4, RIGHT0 = 5, RIGHT1 = 6, RIGHT2 = 7 };

// Sixteen floats to bf16, rounded to nearest even.
static inline __attribute__((always_inline)) AMX_BF16 __m256i bf16x16(__m512 x) {
    return (__m256i)_mm512_cvtneps_pbh(x);
}

// A 16 × 16 matrix of 32-bit values (one row a register) transposed in place: pairs within 128-bit
// lanes, then quadruples, then the 4 × 4 matrix of lanes.
static inline __attribute__((always_inline)) AMX_BF16 void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    // Now r[4a + m], lane l: rows 4a ... 4a + 3 of column 4l + m.
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), hi = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    for (int m = 0; m < 4; m++) {
        t[m] = _mm512_permutex2var_epi64(r[m], lo, r[m + 4]);
        t[m + 4] = _mm512_permutex2var_epi64(r[m], hi, r[m + 4]);
        t[m + 8] = _mm512_permutex2var_epi64(r[m + 8], lo, r[m + 12]);
        t[m + 12] = _mm512_permutex2var_epi64(r[m + 8], hi, r[m + 12]);
    }
    const __m512i low = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11), high = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
    for (int m = 0; m < 4; m++) {
        r[m] = _mm512_permutex2var_epi64(t[m], low, t[m + 8]);
        r[m + 4] = _mm512_permutex2var_epi64(t[m], high, t[m + 8]);
        r[m + 8] = _mm512_permutex2var_epi64(t[m + 4], low, t[m + 12]);
        r[m + 12] = _mm512_permutex2var_epi64(t[m + 4], high, t[m + 12]);
    }
}

// The scores of query rows r0 ... r0 + 15 against key blocks 0 ... blocks − 1, three blocks a pass
// (three accumulators share the query tile), into s (row stride lds floats).
static inline __attribute__((always_inline)) AMX_BF16 void score_block(int r0, int d, int blocks, const uint16_t *qb,
                                                                       const uint32_t *kt, float *s, int lds) {
    const int chunks = d / 32;
    for (int b = 0; b < blocks; b += 3) {
        const int n = blocks - b < 3 ? blocks - b : 3;
        _tile_zero(SUM0);
        _tile_zero(SUM1);
        _tile_zero(SUM2);
        for (int c = 0; c < chunks; c++) {
            _tile_loadd(LEFT, qb + (long)r0 * d + 32 * c, 2 * d);
            _tile_loadd(RIGHT0, kt + 256L * (b * chunks + c), 64);
            _tile_dpbf16ps(SUM0, LEFT, RIGHT0);
            if (n > 1) {
                _tile_loadd(RIGHT1, kt + 256L * ((b + 1) * chunks + c), 64);
                _tile_dpbf16ps(SUM1, LEFT, RIGHT1);
            }
            if (n > 2) {
                _tile_loadd(RIGHT2, kt + 256L * ((b + 2) * chunks + c), 64);
                _tile_dpbf16ps(SUM2, LEFT, RIGHT2);
            }
        }
        _tile_stored(SUM0, s + 16 * b, 4 * lds);
        if (n > 1) _tile_stored(SUM1, s + 16 * (b + 1), 4 * lds);
        if (n > 2) _tile_stored(SUM2, s + 16 * (b + 2), 4 * lds);
    }
}

AMX_BF16 void vt_attention_bf16_amx(int length, int d, const float *q, const float *k, const float *v, long stride,
                                    float scale, int causal, float *scratch, float *out, long ldo) {
    if (length <= 0) return;
    if (length < VT_ATTENTION_BF16_MIN_LENGTH || length > VT_ATTENTION_BF16_MAX_LENGTH || d % 32 != 0 ||
        d > VT_ATTENTION_BF16_MAX_D) {
        vt_attention_f32_avx512(length, d, q, k, v, stride, scale, causal, scratch, out, ldo);
        return;
    }
    const int chunks = d / 32, columns = d / 16;
    const int rows = (length + 15) / 16 * 16, keys = (length + 31) / 32 * 32;
    // The scratch, in the order of vt_attention_bf16_scratch (each part a multiple of 64 bytes: all
    // 64-byte aligned when the scratch is, though nothing needs it).
    // kt: tile (key block b, dimension chunk c) at 256 (b · chunks + c), row p = dimensions 2p, 2p + 1
    //     of the chunk for the block's 16 keys;
    // vt: tile (key chunk of 32, column block c) at 256 (chunk · columns + c), row p = keys 2p, 2p + 1
    //     of the chunk for 16 columns;
    // qb: the query rows (rows past the last repeat it); pb: the weights, `keys` a row;
    // s: one block's scores; o: one output tile.
    uint32_t *kt = (uint32_t *)scratch;
    uint32_t *vt = kt + (long)rows * d / 2;
    uint16_t *qb = (uint16_t *)(vt + (long)keys * d / 2);
    uint16_t *pb = qb + (long)rows * d;
    float *s = (float *)(pb + (long)rows * keys);
    float *inverse = s + 16L * keys;
    float *o = inverse + rows;

    for (int b = 0; b < rows / 16; b++) {
        for (int c = 0; c < chunks; c++) {
            __m512i r[16];
            for (int n = 0; n < 16; n++) {
                const int j = 16 * b + n;
                const float *kj = k + (long)j * stride + 32 * c;
                r[n] = j < length ? (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(kj + 16), _mm512_loadu_ps(kj))
                                  : _mm512_setzero_si512();
            }
            transpose16(r);
            for (int p = 0; p < 16; p++) _mm512_storeu_si512(kt + 256L * (b * chunks + c) + 16 * p, r[p]);
        }
    }
    // Two rows of V as bf16 (the first in the low half), then their columns interleaved.
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int j = 0; j < keys; j += 2) {
        for (int c = 0; c < columns; c++) {
            const __m512 first = j < length ? _mm512_loadu_ps(v + (long)j * stride + 16 * c) : _mm512_setzero_ps();
            const __m512 second = j + 1 < length ? _mm512_loadu_ps(v + (long)(j + 1) * stride + 16 * c) : _mm512_setzero_ps();
            const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(second, first);
            _mm512_storeu_si512(vt + 256L * ((j / 32) * columns + c) + 16 * ((j % 32) / 2),
                               _mm512_permutexvar_epi16(interleave, both));
        }
    }
    for (int i = 0; i < rows; i++) {
        const float *qi = q + (long)(i < length ? i : length - 1) * stride;
        for (int t = 0; t < d; t += 16) _mm256_storeu_si256((__m256i *)(qb + (long)i * d + t), bf16x16(_mm512_loadu_ps(qi + t)));
    }

    vt_amx_configure_tiles();
    const __m512 lanes = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 scaled = _mm512_set1_ps(scale);
    for (int r0 = 0; r0 < length; r0 += 16) {
        const int count = length - r0 < 16 ? length - r0 : 16;
        // The keys this block's rows see: all, or (causal) up to its last row.
        const int seen = causal ? r0 + count : length;
        const int seen16 = (seen + 15) / 16 * 16, seen32 = (seen + 31) / 32 * 32;
        score_block(r0, d, seen16 / 16, qb, kt, s, keys);
        // Softmax, four rows at a time: weights past what a row sees (and rows past the last) are 0.
        for (int i0 = 0; i0 < 16; i0 += 4) {
            int visible[4];
            __m512 largest[4], total[4];
            for (int r = 0; r < 4; r++) {
                visible[r] = i0 + r < count ? (causal ? r0 + i0 + r + 1 : length) : 0;
                largest[r] = _mm512_set1_ps(-INFINITY);
                total[r] = _mm512_setzero_ps();
            }
            for (int j = 0; j < seen16; j += 16) {
                const __m512 position = _mm512_add_ps(lanes, _mm512_set1_ps((float)j));
                for (int r = 0; r < 4; r++) {
                    const __mmask16 mask = _mm512_cmp_ps_mask(position, _mm512_set1_ps((float)visible[r]), _CMP_LT_OQ);
                    largest[r] = _mm512_mask_max_ps(largest[r], mask, largest[r], _mm512_loadu_ps(s + (long)(i0 + r) * keys + j));
                }
            }
            __m512 top[4];
            for (int r = 0; r < 4; r++) top[r] = _mm512_set1_ps(_mm512_reduce_max_ps(largest[r]) * scale);
            for (int j = 0; j < seen32; j += 16) {
                const __m512 position = _mm512_add_ps(lanes, _mm512_set1_ps((float)j));
                for (int r = 0; r < 4; r++) {
                    uint16_t *weights = pb + (long)(r0 + i0 + r) * keys + j;
                    if (j >= visible[r]) {
                        _mm256_storeu_si256((__m256i *)weights, _mm256_setzero_si256());
                        continue;
                    }
                    const __mmask16 mask = _mm512_cmp_ps_mask(position, _mm512_set1_ps((float)visible[r]), _CMP_LT_OQ);
                    const __m512 shifted = _mm512_fmsub_ps(_mm512_loadu_ps(s + (long)(i0 + r) * keys + j), scaled, top[r]);
                    const __m512 e = _mm512_maskz_mov_ps(mask, exp16_nonpositive(shifted));
                    total[r] = _mm512_add_ps(total[r], e);
                    _mm256_storeu_si256((__m256i *)weights, bf16x16(e));
                }
            }
            for (int r = 0; r < 4; r++) inverse[r0 + i0 + r] = visible[r] ? 1.0f / _mm512_reduce_add_ps(total[r]) : 0;
        }
    }
    for (int r0 = 0; r0 < length; r0 += 16) {
        const int count = length - r0 < 16 ? length - r0 : 16;
        const int seen32 = (causal ? r0 + count : length) + 31;
        // Two column blocks a pass (columns is even: d is a multiple of 32).
        for (int c = 0; c < columns; c += 2) {
            _tile_zero(SUM0);
            _tile_zero(SUM1);
            for (int chunk = 0; chunk < seen32 / 32; chunk++) {
                _tile_loadd(LEFT, pb + (long)r0 * keys + 32 * chunk, 2 * keys);
                _tile_loadd(RIGHT0, vt + 256L * (chunk * columns + c), 64);
                _tile_loadd(RIGHT1, vt + 256L * (chunk * columns + c + 1), 64);
                _tile_dpbf16ps(SUM0, LEFT, RIGHT0);
                _tile_dpbf16ps(SUM1, LEFT, RIGHT1);
            }
            for (int half = 0; half < 2; half++) {
                if (half == 0) _tile_stored(SUM0, o, 64);
                else _tile_stored(SUM1, o, 64);
                for (int i = 0; i < count; i++) {
                    _mm512_storeu_ps(out + (long)(r0 + i) * ldo + 16 * (c + half),
                                     _mm512_mul_ps(_mm512_loadu_ps(o + 16 * i), _mm512_set1_ps(inverse[r0 + i])));
                }
            }
        }
    }
    _tile_release();
}
