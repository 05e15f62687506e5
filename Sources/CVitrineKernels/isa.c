// Which kernels run: the most capable instruction set this CPU has, or less when VITRINE_ISA asks
// for it (to test every path on one machine, or to compare them in a benchmark).
#include "internal.h"
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static bool has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static bool has_avx512(void) {
    __builtin_cpu_init();
    return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

// AMX needs the CPU's tiles with int8 and bf16 products (CPUID 7: EDX bits 24, 25 and 22) and the kernel's leave: Linux keeps a
// thread's tile data out of its saved state until the process asks for it (arch_prctl
// ARCH_REQ_XCOMP_PERM for XTILEDATA, Linux 5.16 and later; idempotent). Without that leave a tile
// instruction is an invalid opcode, so a refusal means no AMX level. (Linux also refuses when a
// thread already has an alternate signal stack too small for the tile state's signal frame,
// about 11 KB; once granted, it refuses such stacks instead.)
static bool has_amx(void) {
#if defined(__x86_64__) && defined(__linux__)
    unsigned eax, ebx, ecx, edx;
    if (!has_avx512() || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    if (!(edx & (1u << 24)) || !(edx & (1u << 25)) || !(edx & (1u << 22))) return false;
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return false;
#endif
}

vt_isa vt_isa_supported(void) {
    static int level = -1;
    int known = __atomic_load_n(&level, __ATOMIC_ACQUIRE);
    if (known < 0) {
        known = has_amx() ? VT_ISA_AMX : has_avx512() ? VT_ISA_AVX512 : has_avx2() ? VT_ISA_AVX2 : VT_ISA_PORTABLE;
        __atomic_store_n(&level, known, __ATOMIC_RELEASE);
    }
    return (vt_isa)known;
}

static const char *const names[] = { "portable", "avx2", "avx512", "amx" };

const char *vt_isa_name(vt_isa isa) {
    return isa >= VT_ISA_PORTABLE && isa <= VT_ISA_AMX ? names[isa] : "unknown";
}

int vt_isa_requested(void) {
    const char *value = getenv("VITRINE_ISA");
    if (value == NULL || value[0] == '\0') return -1;
    for (int i = VT_ISA_PORTABLE; i <= VT_ISA_AMX; i++) {
        if (strcmp(value, names[i]) == 0) return i;
    }
    return -2;
}

vt_isa vt_isa_active(void) {
    const vt_isa supported = vt_isa_supported();
    const int requested = vt_isa_requested();
    return requested >= 0 && requested < (int)supported ? (vt_isa)requested : supported;
}

static const vt_kernels portable = {
    VT_ISA_PORTABLE, vt_few_rows_f32_portable, vt_few_rows_bf16_portable, vt_few_rows_s8_portable,
    vt_quantize_rows_s8_portable, vt_dequantize_s32_portable, NULL, NULL, NULL, vt_attention_f32_portable, NULL, vt_widen_bf16_portable,
    vt_quick_gelu_portable, vt_gelu_erf_portable, vt_add_layer_norm_portable,
};

static const vt_kernels avx2 = {
    VT_ISA_AVX2, vt_few_rows_f32_avx2, vt_few_rows_bf16_avx2, vt_few_rows_s8_avx2,
    vt_quantize_rows_s8_avx2, vt_dequantize_s32_avx2, vt_gemm_s8_avx2, NULL, NULL, vt_attention_f32_avx2, NULL, vt_widen_bf16_avx2,
    vt_quick_gelu_avx2, vt_gelu_erf_avx2, vt_add_layer_norm_avx2,
};

// The AVX-512 levels differ only in their int8 product (VNNI's vpdpbusd or AMX's tiles) and in
// AMX's bf16 attention.
#define AVX512_KERNELS(level, gemm_s8_packed, attention_bf16)                                           \
    {                                                                                                    \
        level, vt_few_rows_f32_avx2, vt_few_rows_bf16_avx2, vt_few_rows_s8_avx2,                         \
        vt_quantize_rows_s8_avx2, vt_dequantize_s32_avx2, NULL, gemm_s8_packed, vt_quantize_rows_u8_avx512, \
        vt_attention_f32_avx512, attention_bf16, vt_widen_bf16_avx2, vt_quick_gelu_avx2, vt_gelu_erf_avx512, \
        vt_add_layer_norm_avx512,                                                                        \
    }

static const vt_kernels avx512 = AVX512_KERNELS(VT_ISA_AVX512, vt_gemm_s8_vnni, NULL);
static const vt_kernels amx = AVX512_KERNELS(VT_ISA_AMX, vt_gemm_s8_amx, vt_attention_bf16_amx);

const vt_kernels *vt_kernels_for(vt_isa isa) {
    if (isa > vt_isa_supported()) return NULL;
    switch (isa) {
    case VT_ISA_PORTABLE: return &portable;
    case VT_ISA_AVX2: return &avx2;
    case VT_ISA_AVX512: return &avx512;
    case VT_ISA_AMX: return &amx;
    }
    return NULL;
}

// Chosen on first use; VITRINE_ISA is read then, once.
static const vt_kernels *active;

const vt_kernels *vt_kernels_active(void) {
    const vt_kernels *chosen = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (chosen == NULL) {
        chosen = vt_kernels_for(vt_isa_active());
        __atomic_store_n(&active, chosen, __ATOMIC_RELEASE);
    }
    return chosen;
}

void vt_quantize_rows_s8(int rows, int k, const float *x, long ldx, signed char *q, long ldq,
                         float *scales, int qmax) {
    vt_kernels_active()->quantize_rows_s8(rows, k, x, ldx, q, ldq, scales, qmax);
}

void vt_dequantize_s32(int rows, int n, const int *c, long ldc, const float *xs, const float *ws,
                       const float *bias, float *y, long ldy) {
    vt_kernels_active()->dequantize_s32(rows, n, c, ldc, xs, ws, bias, y, ldy);
}
