// CRC32C (Castagnoli polynomial, reflected 0x82F63B78), the checksum of the index files.
// The SSE4.2 crc32 instruction does 8 bytes per cycle-ish; the table loop is the fallback.
#include "CVitrineIndex.h"
#include <string.h>
#include <nmmintrin.h>

static uint32_t table[256];
static int have_sse42 = 0;

__attribute__((constructor))
static void vx_crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
    __builtin_cpu_init();
    have_sse42 = __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8; n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}

static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t n) {
    while (n--) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

uint32_t vx_crc32c(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    crc = ~crc;
    crc = have_sse42 ? crc_hw(crc, p, length) : crc_sw(crc, p, length);
    return ~crc;
}
