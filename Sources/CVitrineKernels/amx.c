// The int8 product on AMX (Sapphire Rapids and later) over the VNNI level's packed weights.
//
// One tdpbusd multiplies a tile of 16 rows × 64 unsigned input bytes by a tile of 16 groups of
// 4 k × 16 columns of signed weights into 16 × 16 int32 sums: 16,384 multiply-adds, where one
// vpdpbusd does 64. The packed panels of vt_pack_s8_vnni are already that weight layout (a group
// of 4 k of 16 columns is one 64-byte tile row), and the flipped input rows are the input tile's,
// so the operands are loaded as they lie. The sums are exact, then go through the VNNI level's
// epilogue arithmetic: the same bits as every other level.
//
// A block is 32 rows × 32 columns: four accumulator tiles, two input tiles, two weight tiles (all
// eight). Fewer than 16 rows go to the VNNI kernel, which reads each weight once for them anyway.
#include "internal.h"
#include "avx512_math.h"
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AMX __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni,amx-tile,amx-int8")))

// The 64-byte tile configuration (palette 1): bytes per row and rows of each of the 8 tiles.
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
} tile_config;

enum { SUM00 = 0, SUM01 = 1, SUM10 = 2, SUM11 = 3, IN0 = 4, IN1 = 5, W0 = 6, W1 = 7 };

// The sums of one accumulator tile (16 rows, columns c...c+15, `cols` of them real) through the
// VNNI kernel's float step (finish16): row i's scale is xs[i], its output y + i · ldy + c.
AMX static void finish(const int32_t *sums, const float *xs, int c, int cols, const int *wsum,
                       const float *ws, const float *bias, float *y, int ldy) {
    const __mmask16 mask = lanes16(cols);
    const __m512i correction = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(mask, wsum + c), 7);
    const __m512 scale = _mm512_maskz_loadu_ps(mask, ws + c);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + c) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i++) {
        const __m512i sum = _mm512_loadu_si512((const void *)(sums + 16 * i));
        _mm512_mask_storeu_ps(y + (long)i * ldy + c, mask, finish16(sum, correction, xs[i], scale, b));
    }
}

// Copies the first `bytes` of `count` rows (from `src`, `stride` apart) into a zeroed 16 × 64 tile image.
static void tail_tile(unsigned char *tile, const void *src, long stride, int count, int bytes) {
    memset(tile, 0, 1024);
    for (int i = 0; i < count; i++) memcpy(tile + 64 * i, (const unsigned char *)src + i * stride, (size_t)bytes);
}

// Rows r0...r0+15 and r1...r1+15 (they may overlap; both exist) against the panel at `p0` (and
// `p1` when two panels): the sums over all k into the accumulator tiles.
AMX static void sum_block(int two_panels, int kq, const unsigned char *x0, const unsigned char *x1, long ldx,
                          const signed char *p0, const signed char *p1) {
    _tile_zero(SUM00); _tile_zero(SUM01); _tile_zero(SUM10); _tile_zero(SUM11);
    const int full = kq / 16, tail = kq % 16;
    // Tiles are not renamed: each load waits for the products that read its tile, so the loads
    // go between products that do not need them.
    if (two_panels) {
        for (int t = 0; t < full; t++) {
            _tile_loadd(IN0, x0 + 64 * t, ldx);
            _tile_loadd(W0, p0 + 1024L * t, 64);
            _tile_dpbusd(SUM00, IN0, W0);
            _tile_loadd(W1, p1 + 1024L * t, 64);
            _tile_dpbusd(SUM01, IN0, W1);
            _tile_loadd(IN1, x1 + 64 * t, ldx);
            _tile_dpbusd(SUM10, IN1, W0);
            _tile_dpbusd(SUM11, IN1, W1);
        }
    } else {
        for (int t = 0; t < full; t++) {
            _tile_loadd(IN0, x0 + 64 * t, ldx);
            _tile_loadd(W0, p0 + 1024L * t, 64);
            _tile_dpbusd(SUM00, IN0, W0);
            _tile_loadd(IN1, x1 + 64 * t, ldx);
            _tile_dpbusd(SUM10, IN1, W0);
        }
    }
    if (tail) {
        // The last k are fewer than 64: zero-padded copies, so nothing past the rows or the
        // panel is read and the padding adds nothing.
        _Alignas(64) unsigned char a0[1024], a1[1024], b0[1024], b1[1024];
        tail_tile(a0, x0 + 64 * full, ldx, 16, 4 * tail);
        tail_tile(a1, x1 + 64 * full, ldx, 16, 4 * tail);
        tail_tile(b0, p0 + 1024L * full, 64, tail, 64);
        _tile_loadd(IN0, a0, 64);
        _tile_loadd(IN1, a1, 64);
        _tile_loadd(W0, b0, 64);
        _tile_dpbusd(SUM00, IN0, W0);
        _tile_dpbusd(SUM10, IN1, W0);
        if (two_panels) {
            tail_tile(b1, p1 + 1024L * full, 64, tail, 64);
            _tile_loadd(W1, b1, 64);
            _tile_dpbusd(SUM01, IN0, W1);
            _tile_dpbusd(SUM11, IN1, W1);
        }
    }
}

// Every tile 16 rows of 64 bytes: the int8 products' configuration and attention's (amx_attention.c).
AMX void vt_amx_configure_tiles(void) {
    tile_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) {
        config.rows[t] = 16;
        config.bytes_per_row[t] = 64;
    }
    _tile_loadconfig(&config);
}

// Rows r0...r0+15 and r1...r1+15 (both exist; they may overlap) by columns [n_begin, n_end):
// row r's output goes to y + (r − y_row) · ldy. The block's 32 input rows (32 · k bytes) stay in
// L1 while the weight panels stream past them from L2.
AMX static void block_rows(int r0, int r1, int kq, int n_begin, int n_end, const unsigned char *x, long ldx,
                           const float *xs, const signed char *packed, const int *wsum, const float *ws,
                           const float *bias, float *y, int y_row, int ldy) {
    const long panel_stride = 64L * kq;
    _Alignas(64) int32_t sums[4][256];
    float *y0 = y + (long)(r0 - y_row) * ldy, *y1 = y + (long)(r1 - y_row) * ldy;
    for (int n = n_begin; n < n_end; n += 32) {
        const int cols = n_end - n < 32 ? n_end - n : 32;
        const int two = cols > 16;
        const signed char *p0 = packed + (long)(n / 16) * panel_stride, *p1 = p0 + panel_stride;
        sum_block(two, kq, x + (long)r0 * ldx, x + (long)r1 * ldx, ldx, p0, p1);
        _tile_stored(SUM00, sums[0], 64);
        _tile_stored(SUM10, sums[2], 64);
        finish(sums[0], xs + r0, n, cols, wsum, ws, bias, y0, ldy);
        finish(sums[2], xs + r1, n, cols, wsum, ws, bias, y1, ldy);
        if (two) {
            _tile_stored(SUM01, sums[1], 64);
            _tile_stored(SUM11, sums[3], 64);
            finish(sums[1], xs + r0, n + 16, cols - 16, wsum, ws, bias, y0, ldy);
            finish(sums[3], xs + r1, n + 16, cols - 16, wsum, ws, bias, y1, ldy);
        }
    }
}

AMX void vt_gemm_s8_amx(int rows, int k, int n_begin, int n_end, const unsigned char *x, long ldx,
                        const float *xs, const signed char *packed, const int *wsum, const float *ws,
                        const float *bias, float *y, int ldy) {
    if (rows < 16) {
        vt_gemm_s8_vnni(rows, k, n_begin, n_end, x, ldx, xs, packed, wsum, ws, bias, y, ldy);
        return;
    }
    vt_amx_configure_tiles();
    const int kq = (k + 3) / 4;
    // One pass over the weights per 32 rows. A block past the last row moves back so that its
    // 16-row tiles end at it: the rows computed twice get the same values twice.
    for (int m = 0; m < rows; m += 32) {
        int r0 = m, r1 = m + 16;
        if (r1 + 16 > rows) r1 = rows - 16;
        if (r0 + 16 > rows) r0 = rows - 16;
        block_rows(r0, r1, kq, n_begin, n_end, x, ldx, xs, packed, wsum, ws, bias, y, 0, ldy);
    }
    _tile_release();
}

AMX void vt_gemm_s8_amx_gelu_u8(int rows, int k, int n, const unsigned char *x, long ldx, const float *xs,
                                const signed char *packed, const int *wsum, const float *ws, const float *bias,
                                float *block, unsigned char *u, long ldu, float *us) {
    if (rows < 16) {  // too few rows for a tile: the three steps in turn, through the block
        vt_gemm_s8_vnni(rows, k, 0, n, x, ldx, xs, packed, wsum, ws, bias, block, n);
        vt_gelu_erf_avx512(block, (long)rows * n);
        vt_quantize_rows_u8_avx512(rows, n, block, n, u, ldu, us, 127);
        return;
    }
    vt_amx_configure_tiles();
    const int kq = (k + 3) / 4;
    for (int m = 0; m < rows; m += 32) {
        // The last block moves back to end at the last row (its rows exist: rows ≥ 16).
        const int base = m + 32 <= rows ? m : (rows >= 32 ? rows - 32 : 0);
        const int count = rows - base < 32 ? rows - base : 32;
        const int r1 = count == 32 ? base + 16 : rows - 16;
        block_rows(base, r1, kq, 0, n, x, ldx, xs, packed, wsum, ws, bias, block, base, n);
        vt_gelu_erf_avx512(block, (long)count * n);
        vt_quantize_rows_u8_avx512(count, n, block, n, u + (long)base * ldu, ldu, us + base, 127);
    }
    _tile_release();
}
