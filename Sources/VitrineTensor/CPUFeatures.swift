import CVitrineKernels

/// What this CPU can run, checked once: the hand-written kernels need AVX2 and FMA, and every
/// caller falls back to portable code without them.
enum CPUFeatures {
    static let avx2FMA = vt_has_avx2_fma()
}
