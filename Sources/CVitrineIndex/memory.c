// Large buffers the index reads at random: the vectors, the bottom-layer neighbour lists, the
// visited marks and the quantized codes. A walk over a million 2 KiB rows touches a different
// 4 KiB page at nearly every distance, so with ordinary pages most distances also miss the TLB.
// Buffers of 2 MiB or more are therefore aligned to 2 MiB and offered to the kernel as transparent
// huge pages (madvise), which Debian's default ("madvise" mode) only grants to regions that ask.
// VITRINE_HUGE_PAGES=off keeps ordinary pages (to measure the difference).
#include "CVitrineIndex.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

static int huge_pages_wanted(void) {
    static int wanted = -1;
    if (wanted < 0) {
        const char *value = getenv("VITRINE_HUGE_PAGES");
        wanted = !(value != NULL && (strcmp(value, "off") == 0 || strcmp(value, "0") == 0));
    }
    return wanted;
}

void *vx_alloc_large(size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes < HUGE_PAGE) {
        return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    }
    size_t rounded = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    void *p = aligned_alloc(HUGE_PAGE, rounded);
#ifdef MADV_HUGEPAGE
    if (p != NULL && huge_pages_wanted()) (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

void vx_free_large(void *p) { free(p); }

int vx_huge_pages(void) { return huge_pages_wanted(); }
