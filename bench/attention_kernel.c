// One thread of attention through the kernel tables: the f32 kernel (every level's) against AMX's
// bf16 kernel (the int8 models'), over every (sequence, head) of a batch as a forward pass calls
// them, on the shapes of the reranker, the CLIP image tower and the CLIP text tower. The batch's
// fused q, k, v rows are a few MB (they come from L2 or L3, as after the projection), and 8 MB of
// other memory is walked before each pass so that no pass finds them closer. Rounds alternate; the
// median time per (sequence, head) call of each kernel is printed, with the largest difference
// between their outputs. Built and run by bench/attention-kernel.sh.
#include "CVitrineKernels.h"
#include "kernel_bench.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>


typedef void (*attention_fn)(int, int, const float *, const float *, const float *, long, float, int, float *, float *, long);

// Every head of every sequence once: the seconds it took.
static double pass(attention_fn kernel, int sequences, int length, int heads, int d, int causal, const float *qkv,
                   float *scratch, float *out) {
    const int width = heads * d;
    const long stride = 3L * width;
    const float scale = 1.0f / sqrtf((float)d);
    const double start = now();
    for (int s = 0; s < sequences; s++) {
        for (int h = 0; h < heads; h++) {
            const float *q = qkv + (long)s * length * stride + (long)h * d;
            kernel(length, d, q, q + width, q + 2 * width, stride, scale, causal, scratch,
                   out + (long)s * length * width + (long)h * d, width);
        }
    }
    return now() - start;
}

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 7;
    const vt_kernels *amx = vt_kernels_for(VT_ISA_AMX);
    if (amx == NULL || amx->attention_bf16 == NULL) {
        fprintf(stderr, "attention_kernel: no AMX here (the CPU lacks AMX-BF16 or Linux refused the tile state)\n");
        return 2;
    }
    const struct { int sequences, length, heads, d, causal; const char *what; } shapes[] = {
        {32, 37, 12, 32, 0, "reranker (MiniLM), 32 pairs of 37 tokens"},
        {32, 70, 12, 32, 0, "reranker (MiniLM), 32 pairs of 70 tokens"},
        {32, 50, 12, 64, 0, "CLIP image tower, 32 photos"},
        {4, 10, 8, 64, 1, "CLIP text tower, 4 queries of 10 tokens"},
    };
    float *junk = calloc(1 << 21, sizeof(float));
    printf("| shape | f32 µs per head | bf16 µs per head | bf16 ÷ f32 | max |difference| (values within ±2) |\n");
    printf("|---|--:|--:|--:|--:|\n");
    srand(1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int n = shapes[s].sequences, length = shapes[s].length, heads = shapes[s].heads, d = shapes[s].d;
        const int causal = shapes[s].causal;
        const long tokens = (long)n * length, width = (long)heads * d;
        float *qkv = malloc(sizeof(float) * tokens * 3 * width);
        float *out32 = malloc(sizeof(float) * tokens * width), *out16 = malloc(sizeof(float) * tokens * width);
        // What either kernel needs: `length` floats for f32, the tiles' operands for bf16.
        float *scratch = aligned_alloc(64, (sizeof(float) * vt_attention_bf16_scratch(length, d) + 63) / 64 * 64);
        for (long i = 0; i < tokens * 3 * width; i++) qkv[i] = 4.0f * (float)((double)rand() / RAND_MAX) - 2.0f;
        const int calls = n * heads, passes = tokens * width < (1 << 20) ? 200 : 20;
        double *f32 = malloc(sizeof(double) * rounds), *bf16 = malloc(sizeof(double) * rounds);
        for (int r = 0; r < rounds; r++) {
            double t32 = 0, t16 = 0;
            for (int p = 0; p < passes; p++) {
                for (long i = 0; i < (1 << 21); i += 16) junk[i] += 1;
                t32 += pass(amx->attention_f32, n, length, heads, d, causal, qkv, scratch, out32);
                for (long i = 0; i < (1 << 21); i += 16) junk[i] += 1;
                t16 += pass(amx->attention_bf16, n, length, heads, d, causal, qkv, scratch, out16);
            }
            f32[r] = t32 / passes / calls * 1e6;
            bf16[r] = t16 / passes / calls * 1e6;
        }
        qsort(f32, rounds, sizeof(double), by_value);
        qsort(bf16, rounds, sizeof(double), by_value);
        double worst = 0;
        for (long i = 0; i < tokens * width; i++) worst = fmax(worst, fabs((double)out32[i] - out16[i]));
        printf("| %s | %.2f | %.2f | %.2f | %.4f |\n", shapes[s].what, f32[rounds / 2], bf16[rounds / 2],
               bf16[rounds / 2] / f32[rounds / 2], worst);
        free(qkv), free(out32), free(out16), free(scratch), free(f32), free(bf16);
    }
    printf("(%s; medians of %d alternating rounds; one thread)\n", "f32: the AVX-512 kernel, bf16: AMX tiles", rounds);
    return 0;
}
