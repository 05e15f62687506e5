#ifndef CVITRINE_INDEX_H
#define CVITRINE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Dot product of two float vectors of length n (AVX2+FMA when the CPU has it and VITRINE_ISA
/// does not ask for `portable`).
float vx_dot(const float *a, const float *b, size_t n);

/// Squared Euclidean distance of two float vectors of length n.
float vx_l2sq(const float *a, const float *b, size_t n);

/// Distances from `query` to rows `ids[0..<count]` of the row-major matrix `base` (row stride
/// `dim` floats), written to `out`. metric 0 = 1 - dot (cosine on normalized rows and inner
/// product), 1 = squared L2. The next row is prefetched while the current one is computed, which
/// is where graph search spends its time: random rows, each a cache miss.
void vx_distances(const float *query, const float *base, size_t dim, int metric,
                  const uint32_t *ids, size_t count, float *out);

/// Distances from `query` to `count` consecutive rows starting at `base` (exact search).
void vx_distances_rows(const float *query, const float *base, size_t dim, int metric,
                       size_t count, float *out);

/// Integer scores of `count` one-byte codes against a query quantized to int8 within ±63:
/// out[j] = sum_i query[i] * codes[j * dim + i] (exact; vpmaddubsw on AVX2 without saturation).
void vx_scan_u8_s8(const int8_t *query, const uint8_t *codes, size_t dim, size_t count, int32_t *out);
/// vx_scan_u8_s8 on a chosen path (`avx2` non-zero: the AVX2 kernel where the CPU has it).
void vx_scan_u8_s8_on(int avx2, const int8_t *query, const uint8_t *codes, size_t dim, size_t count, int32_t *out);

/// Every dot product of `na` rows of `a` with `nb` rows of `b` (row-major, `dim` floats each):
/// out[i * nb + j] = a_i . b_j, cache-blocked (assigning vectors to k-means centres).
void vx_dot_block(const float *a, size_t na, const float *b, size_t nb, size_t dim, float *out);
/// vx_dot_block on a chosen path (`avx2` non-zero: the AVX2/FMA kernel where the CPU has it).
void vx_dot_block_on(int avx2, const float *a, size_t na, const float *b, size_t nb, size_t dim, float *out);

/// A 64-byte-aligned buffer of `bytes`; from 2 MiB up, aligned to 2 MiB and advised as
/// transparent huge pages (unless VITRINE_HUGE_PAGES=off), so random reads across it miss the TLB
/// less. NULL when memory is exhausted. Release with vx_free_large.
void *vx_alloc_large(size_t bytes);
void vx_free_large(void *p);
/// Whether large buffers ask for huge pages (VITRINE_HUGE_PAGES is not `off`), for reports.
int vx_huge_pages(void);

/// Hints the CPU to fetch the first cache lines of a vector (or a neighbour list).
static inline void vx_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// CRC32C (Castagnoli), continuing from `crc` (pass 0 to start). Uses the SSE4.2 instruction
/// when available, else a table-driven software loop.
uint32_t vx_crc32c(uint32_t crc, const void *data, size_t length);

/// Whether the AVX2/FMA distance kernels are in use (for reports).
int vx_uses_avx2(void);

/// vx_dot and vx_l2sq on a chosen path: `avx2` non-zero for the AVX2/FMA kernels (only where the
/// CPU has them), zero for the portable ones. For tests of every path.
float vx_dot_on(int avx2, const float *a, const float *b, size_t n);
float vx_l2sq_on(int avx2, const float *a, const float *b, size_t n);

/// A one-byte spin lock per graph node, for parallel index construction. Critical sections are
/// a few dozen instructions (copy or edit one neighbour list), so spinning beats a futex.
static inline void vx_spin_lock(uint8_t *lock) {
    while (__atomic_exchange_n(lock, (uint8_t)1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(lock, __ATOMIC_RELAXED)) { __builtin_ia32_pause(); }
    }
}
static inline void vx_spin_unlock(uint8_t *lock) { __atomic_store_n(lock, (uint8_t)0, __ATOMIC_RELEASE); }

/// Atomically adds `value` to `*counter` and returns the previous value (work distribution).
static inline uint64_t vx_fetch_add(uint64_t *counter, uint64_t value) {
    return __atomic_fetch_add(counter, value, __ATOMIC_RELAXED);
}

#ifdef __cplusplus
}
#endif
#endif
