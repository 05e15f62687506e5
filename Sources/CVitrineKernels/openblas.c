// OpenBLAS picks its kernels when it loads, by CPU model, and a release older than the CPU does
// not know it: Debian 12's 0.3.21 runs its Prescott (SSE3) kernels on Emerald Rapids, where
// SkylakeX's AVX-512 ones run fp32 products at several times the rate. When the pick was
// Prescott, the CPU has AVX-512 (or AVX2) and OPENBLAS_CORETYPE is unset, the library's own
// selection runs again with that variable set to SkylakeX (or Haswell).
//
// This runs as a constructor: after the shared libraries' own (OpenBLAS's has run), before main,
// while no other thread reads the environment or calls a product. The library is reached through
// dlsym, so nothing links against its internal functions: a build without run-time dispatch
// (no gotoblas_dynamic_init) or no OpenBLAS at all keeps what it has.
#include "internal.h"
#include <dlfcn.h>
#include <stdlib.h>
#include <strings.h>

static int chosen = 0;

__attribute__((constructor)) static void choose_openblas_kernels(void) {
    if (getenv("OPENBLAS_CORETYPE") != NULL) return;
    char *(*core_name)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
    void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (core_name == NULL || quit == NULL || init == NULL || strcasecmp(core_name(), "prescott") != 0) return;
    const vt_isa level = vt_isa_supported();
    const char *family = level >= VT_ISA_AVX512 ? "SkylakeX" : level >= VT_ISA_AVX2 ? "Haswell" : NULL;
    if (family == NULL) return;
    setenv("OPENBLAS_CORETYPE", family, 1);
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
    chosen = 1;
}

int vt_openblas_kernels_rechosen(void) { return chosen; }
