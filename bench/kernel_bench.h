// What the one-thread kernel benchmarks (int8_kernel.c, attention_kernel.c) share: a monotonic
// clock in seconds and the comparison for taking medians with qsort.
#ifndef VITRINE_KERNEL_BENCH_H
#define VITRINE_KERNEL_BENCH_H
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
#endif
