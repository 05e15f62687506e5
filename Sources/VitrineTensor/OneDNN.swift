import CDNNL
import CVitrineKernels
#if canImport(Glibc)
import Glibc
#endif

/// Integer matrix products through oneDNN (Debian's libdnnl), for the int8 linear layers.
///
/// oneDNN picks its kernels for the CPU at run time: VNNI (`vpdpbusd`) on AVX-512 VNNI or AVX-VNNI
/// parts, and `vpmaddubsw` + `vpmaddwd` on plain AVX2 (Zen 3). The latter adds byte pairs into
/// a saturating int16, so products are exact there only while |a₀b₀ + a₁b₁| ≤ 32767 with the
/// activations shifted to unsigned bytes: 7-bit weights. Vitrine has its own exact kernels for
/// AVX-512 VNNI (over packed weights) and plain AVX2 (blocked), so it uses oneDNN's int8 GEMM only
/// on a CPU without AVX2 (`Linear.int8WeightLimit` is 63 there).
///
/// `VITRINE_ISA=avx2` (or `portable`) caps oneDNN at AVX2 (or SSE 4.1, its least) with Vitrine's
/// own kernels, before its first call.
public enum OneDNN {
    /// The cap `VITRINE_ISA` asks for, applied once before oneDNN runs anything.
    private static let capped: Void = {
        switch vt_isa_requested() {
        case Int32(VT_ISA_PORTABLE.rawValue): _ = dnnl_set_max_cpu_isa(dnnl_cpu_isa_sse41)
        case Int32(VT_ISA_AVX2.rawValue): _ = dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2)
        default: break
        }
    }()

    /// The instruction set oneDNN's kernels use here, as oneDNN names it.
    public static var isaName: String {
        _ = capped
        let isa = dnnl_get_effective_cpu_isa()
        let names: [(dnnl_cpu_isa_t, String)] = [
            (dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"), (dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"),
            (dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"), (dnnl_cpu_isa_avx512_core, "avx512_core"),
            (dnnl_cpu_isa_avx2_vnni, "avx2_vnni"), (dnnl_cpu_isa_avx2, "avx2"), (dnnl_cpu_isa_avx, "avx"), (dnnl_cpu_isa_sse41, "sse41"),
        ]
        return names.first { $0.0 == isa }?.1 ?? "isa 0x\(String(isa.rawValue, radix: 16))"
    }

    /// True when oneDNN's int8 kernels here use VNNI (exact int32 accumulation for 8-bit weights).
    public static let hasVNNI: Bool = {
        _ = capped
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return isa & dnnl_cpu_isa_avx512_core_vnni.rawValue == dnnl_cpu_isa_avx512_core_vnni.rawValue
            || isa & dnnl_cpu_isa_avx2_vnni.rawValue == dnnl_cpu_isa_avx2_vnni.rawValue
    }()

    /// An experiment, off by default: `VITRINE_FP32_GEMM=onednn` sends fp32 linear layers with
    /// more than a few rows to `dnnl_sgemm` instead of OpenBLAS (attention stays on OpenBLAS).
    public static let fp32GEMM: Bool = getenv("VITRINE_FP32_GEMM").map { String(cString: $0) == "onednn" } ?? false

    /// The OpenMP threads oneDNN runs on follow OpenBLAS's count (both share the same cores).
    static func matchThreads() {
        _ = capped
        let wanted = Int32(BLAS.threads)
        if omp_get_max_threads() != wanted { omp_set_num_threads(wanted) }
    }

    /// `C[m][n] = Σ_k A[m][k] · B[n][k]` for row-major s8 `A` `[m, k]` and `B` `[n, k]` (that is,
    /// `A · Bᵀ`), into int32 `C` with row stride `ldc`. Returns false (and leaves `C` undefined)
    /// when oneDNN reports an error, so the caller can compute another way.
    public static func gemmS8(
        m: Int, n: Int, k: Int, a: UnsafePointer<Int8>, b: UnsafePointer<Int8>, c: UnsafeMutablePointer<Int32>, ldc: Int
    ) -> Bool {
        guard m > 0, n > 0, k > 0, m <= Int(Int32.max), n <= Int(Int32.max), k <= Int(Int32.max), ldc >= n else {
            return m == 0 || n == 0
        }
        matchThreads()
        var offset: Int32 = 0
        let status = dnnl_gemm_s8s8s32(
            CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "F")),
            Int64(m), Int64(n), Int64(k), 1, a, Int64(k), 0, b, Int64(k), 0, 0, c, Int64(ldc), &offset)
        return status == dnnl_success
    }

    /// `C = A · Bᵀ` in fp32 through oneDNN (row-major, `A` `[m, k]`, `B` `[n, k]`); false on error.
    public static func sgemm(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0
    ) -> Bool {
        matchThreads()
        let status = dnnl_sgemm(
            CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), Int64(m), Int64(n), Int64(k), 1, a, Int64(lda), b, Int64(ldb),
            beta, c, Int64(ldc))
        return status == dnnl_success
    }
}
