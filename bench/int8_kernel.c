// Vitrine's int8 products on AVX-512 VNNI and on AMX tiles (the kernel tables' gemm_s8_packed)
// against oneDNN's dnnl_gemm_s8s8s32 + vt_dequantize_s32 (what Vitrine ran before), one thread each, on the
// linear layers of CLIP ViT-B/32 and all-MiniLM-L6-v2, both starting from the same quantized
// bytes and ending in the same floats. Rounds alternate; the median rate of each is printed.
// Built and run by bench/int8-kernel.sh.
#include "CVitrineKernels.h"
#include "kernel_bench.h"
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int main(int argc, char **argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 5;
    const vt_kernels *table = vt_kernels_for(VT_ISA_AVX512), *amx = vt_kernels_for(VT_ISA_AMX);
    if (table == NULL || table->gemm_s8_packed == NULL) {
        fprintf(stderr, "int8_kernel: this CPU has no AVX-512 VNNI, so there is no packed kernel to measure\n");
        return 2;
    }
    if (amx == NULL) fprintf(stderr, "int8_kernel: no AMX here (the CPU lacks it or Linux refused the tile state): VNNI only\n");
    // (rows, k, n, what): a query's 7 tokens, 4 queries, 32 reranked pairs of ~24 tokens, 32 images.
    const struct { int m, k, n; const char *what; } shapes[] = {
        {7, 512, 1536, "CLIP text, 1 query: qkv"}, {7, 2048, 512, "CLIP text, 1 query: fc2"},
        {28, 512, 2048, "CLIP text, 4 queries: fc1"}, {28, 2048, 512, "CLIP text, 4 queries: fc2"},
        {774, 384, 1536, "MiniLM, 32 pairs: fc1"}, {774, 1536, 384, "MiniLM, 32 pairs: fc2"},
        {1600, 768, 2304, "CLIP image, 32 photos: qkv"}, {1600, 3072, 768, "CLIP image, 32 photos: fc2"},
    };
    printf("| layer | rows × k × n | Vitrine VNNI GMAC/s | Vitrine AMX GMAC/s | oneDNN GMAC/s | VNNI ÷ oneDNN | AMX ÷ oneDNN | same floats |\n");
    printf("|---|---|--:|--:|--:|--:|--:|---|\n");
    srand(1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int m = shapes[s].m, k = shapes[s].k, n = shapes[s].n;
        const long ldx = 4L * ((k + 3) / 4);
        signed char *w = malloc((size_t)n * k), *q = malloc((size_t)m * k);
        signed char *packed = aligned_alloc(64, (size_t)((vt_packed_s8_size(n, k) + 63) / 64 * 64));
        unsigned char *u = malloc((size_t)m * ldx);
        float *xs = malloc(sizeof(float) * m), *ws = malloc(sizeof(float) * n), *bias = malloc(sizeof(float) * n);
        float *y1 = malloc(sizeof(float) * m * n), *y2 = malloc(sizeof(float) * m * n), *y3 = malloc(sizeof(float) * m * n);
        int *wsum = calloc(n, sizeof(int)), *c = malloc(sizeof(int) * m * n);
        for (long i = 0; i < (long)n * k; i++) w[i] = (signed char)(rand() % 255 - 127);
        for (long i = 0; i < (long)m * k; i++) q[i] = (signed char)(rand() % 255 - 127);
        for (int i = 0; i < m; i++) xs[i] = 0.001f * (1 + rand() % 100);
        for (int i = 0; i < n; i++) {
            ws[i] = 0.001f * (1 + rand() % 100);
            bias[i] = 0.1f * (rand() % 100);
            for (int j = 0; j < k; j++) wsum[i] += w[(long)i * k + j];
        }
        vt_pack_s8_vnni(n, k, w, packed);
        const double gmac = (double)m * n * k * 1e-9;
        const int reps = (int)(0.3 / (gmac / 150)) + 1;  // about 0.3 s a round at 150 GMAC/s
        double ours[64], tiles[64], theirs[64];
        int offset = 0;
        for (int r = 0; r < rounds && r < 64; r++) {
            double t0 = now();
            for (int i = 0; i < reps; i++) {
                vt_flip_s8_rows(m, k, q, k, u, ldx);
                table->gemm_s8_packed(m, k, 0, n, u, ldx, xs, packed, wsum, ws, bias, y1, n);
            }
            ours[r] = gmac * reps / (now() - t0);
            tiles[r] = 0;
            if (amx != NULL) {
                t0 = now();
                for (int i = 0; i < reps; i++) {
                    vt_flip_s8_rows(m, k, q, k, u, ldx);
                    amx->gemm_s8_packed(m, k, 0, n, u, ldx, xs, packed, wsum, ws, bias, y3, n);
                }
                tiles[r] = gmac * reps / (now() - t0);
            }
            t0 = now();
            for (int i = 0; i < reps; i++) {
                dnnl_gemm_s8s8s32('N', 'T', 'F', m, n, k, 1, q, k, 0, w, k, 0, 0, c, n, &offset);
                vt_dequantize_s32(m, n, c, n, xs, ws, bias, y2, n);
            }
            theirs[r] = gmac * reps / (now() - t0);
        }
        const int count = rounds < 64 ? rounds : 64;
        qsort(ours, count, sizeof(double), by_value);
        qsort(tiles, count, sizeof(double), by_value);
        qsort(theirs, count, sizeof(double), by_value);
        const double a = ours[count / 2], t = tiles[count / 2], b = theirs[count / 2];
        const int same = memcmp(y1, y2, sizeof(float) * m * n) == 0 && (amx == NULL || memcmp(y3, y2, sizeof(float) * m * n) == 0);
        printf("| %s | %d × %d × %d | %.1f | %.1f | %.1f | %.2f× | %.2f× | %s |\n", shapes[s].what, m, k, n, a, t, b, a / b, t / b,
               same ? "yes" : "NO");
        free(w); free(q); free(packed); free(u); free(xs); free(ws); free(bias); free(y1); free(y2); free(y3); free(wsum); free(c);
    }
    return 0;
}
