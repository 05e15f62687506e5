// Kernels of the quantized index: blocked dot products (vectors against k-means centres) and
// integer scores of one-byte codes; the choice follows the distance kernels' (vx_uses_avx2).
#include "CVitrineIndex.h"
#include <immintrin.h>

// Every dot product of `na` rows of `a` with `nb` rows of `b` (both row-major, `dim` floats per
// row): out[i * nb + j] = a_i . b_j. Blocks of 32 rows of `b` stay in the L2 cache while pairs of
// rows of `a` pass over them in 2 x 4 tiles (eight accumulators, six loads per eight FMAs), so
// assigning millions of vectors to a thousand centres runs at GEMM-like speed.
static void dot_block_generic(const float *a, size_t na, const float *b, size_t nb, size_t dim, float *out) {
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++) out[i * nb + j] = vx_dot(a + i * dim, b + j * dim, dim);
}

__attribute__((target("avx2,fma")))
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
static void dot_block_avx2(const float *a, size_t na, const float *b, size_t nb, size_t dim, float *out) {
    const size_t dim8 = dim & ~(size_t)7;
    for (size_t jb = 0; jb < nb; jb += 32) {
        const size_t je = jb + 32 < nb ? jb + 32 : nb;
        size_t i = 0;
        for (; i + 2 <= na; i += 2) {
            const float *a0 = a + i * dim, *a1 = a0 + dim;
            size_t j = jb;
            for (; j + 4 <= je; j += 4) {
                const float *b0 = b + j * dim, *b1 = b0 + dim, *b2 = b1 + dim, *b3 = b2 + dim;
                __m256 s00 = _mm256_setzero_ps(), s01 = _mm256_setzero_ps(), s02 = _mm256_setzero_ps(), s03 = _mm256_setzero_ps();
                __m256 s10 = _mm256_setzero_ps(), s11 = _mm256_setzero_ps(), s12 = _mm256_setzero_ps(), s13 = _mm256_setzero_ps();
                for (size_t d = 0; d < dim8; d += 8) {
                    __m256 x0 = _mm256_loadu_ps(a0 + d), x1 = _mm256_loadu_ps(a1 + d);
                    __m256 y = _mm256_loadu_ps(b0 + d);
                    s00 = _mm256_fmadd_ps(x0, y, s00); s10 = _mm256_fmadd_ps(x1, y, s10);
                    y = _mm256_loadu_ps(b1 + d);
                    s01 = _mm256_fmadd_ps(x0, y, s01); s11 = _mm256_fmadd_ps(x1, y, s11);
                    y = _mm256_loadu_ps(b2 + d);
                    s02 = _mm256_fmadd_ps(x0, y, s02); s12 = _mm256_fmadd_ps(x1, y, s12);
                    y = _mm256_loadu_ps(b3 + d);
                    s03 = _mm256_fmadd_ps(x0, y, s03); s13 = _mm256_fmadd_ps(x1, y, s13);
                }
                float t[8] = {hsum8(s00), hsum8(s01), hsum8(s02), hsum8(s03), hsum8(s10), hsum8(s11), hsum8(s12), hsum8(s13)};
                for (size_t d = dim8; d < dim; d++) {
                    t[0] += a0[d] * b0[d]; t[1] += a0[d] * b1[d]; t[2] += a0[d] * b2[d]; t[3] += a0[d] * b3[d];
                    t[4] += a1[d] * b0[d]; t[5] += a1[d] * b1[d]; t[6] += a1[d] * b2[d]; t[7] += a1[d] * b3[d];
                }
                for (int c = 0; c < 4; c++) { out[i * nb + j + c] = t[c]; out[(i + 1) * nb + j + c] = t[4 + c]; }
            }
            for (; j < je; j++) {
                out[i * nb + j] = vx_dot(a0, b + j * dim, dim);
                out[(i + 1) * nb + j] = vx_dot(a1, b + j * dim, dim);
            }
        }
        for (; i < na; i++)
            for (size_t j = jb; j < je; j++) out[i * nb + j] = vx_dot(a + i * dim, b + j * dim, dim);
    }
}

void vx_dot_block(const float *a, size_t na, const float *b, size_t nb, size_t dim, float *out) {
    if (vx_uses_avx2()) dot_block_avx2(a, na, b, nb, dim, out);
    else dot_block_generic(a, na, b, nb, dim, out);
}

void vx_dot_block_on(int avx2, const float *a, size_t na, const float *b, size_t nb, size_t dim, float *out) {
    __builtin_cpu_init();
    if (avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) dot_block_avx2(a, na, b, nb, dim, out);
    else
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++) out[i * nb + j] = vx_dot_on(0, a + i * dim, b + j * dim, dim);
}

// Integer scores of one-byte codes against a query quantized to at most ±63:
// out[j] = sum_i query[i] * codes[j * dim + i], exact in 32 bits. With the query within ±63,
// vpmaddubsw's pairwise sums (at most 2 x 255 x 63 = 32130) never saturate, so the AVX2 loop is
// three instructions per 32 dimensions: multiply-add bytes to 16-bit pairs, pairs to 32 bits, add.
static void scan_u8_s8_generic(const int8_t *query, const uint8_t *codes, size_t dim, size_t count, int32_t *out) {
    for (size_t j = 0; j < count; j++) {
        const uint8_t *c = codes + j * dim;
        int32_t s = 0;
        for (size_t i = 0; i < dim; i++) s += (int32_t)query[i] * (int32_t)c[i];
        out[j] = s;
    }
}

__attribute__((target("avx2")))
static void scan_u8_s8_avx2(const int8_t *query, const uint8_t *codes, size_t dim, size_t count, int32_t *out) {
    const size_t dim32 = dim & ~(size_t)31;
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t j = 0; j < count; j++) {
        const uint8_t *c = codes + j * dim;
        if (j + 2 < count) {
            const char *next = (const char *)(codes + (j + 2) * dim);
            for (size_t b = 0; b < dim; b += 64) __builtin_prefetch(next + b, 0, 0);
        }
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        size_t i = 0;
        for (; i + 64 <= dim32; i += 64) {
            __m256i p0 = _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(c + i)), _mm256_loadu_si256((const __m256i *)(query + i)));
            __m256i p1 = _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(c + i + 32)), _mm256_loadu_si256((const __m256i *)(query + i + 32)));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, ones));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, ones));
        }
        for (; i < dim32; i += 32) {
            __m256i p = _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(c + i)), _mm256_loadu_si256((const __m256i *)(query + i)));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p, ones));
        }
        __m256i s = _mm256_add_epi32(s0, s1);
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
        int32_t total = _mm_cvtsi128_si32(t);
        for (; i < dim; i++) total += (int32_t)query[i] * (int32_t)c[i];
        out[j] = total;
    }
}

void vx_scan_u8_s8(const int8_t *query, const uint8_t *codes, size_t dim, size_t count, int32_t *out) {
    if (vx_uses_avx2()) scan_u8_s8_avx2(query, codes, dim, count, out);
    else scan_u8_s8_generic(query, codes, dim, count, out);
}

void vx_scan_u8_s8_on(int avx2, const int8_t *query, const uint8_t *codes, size_t dim, size_t count, int32_t *out) {
    __builtin_cpu_init();
    if (avx2 && __builtin_cpu_supports("avx2")) scan_u8_s8_avx2(query, codes, dim, count, out);
    else scan_u8_s8_generic(query, codes, dim, count, out);
}
