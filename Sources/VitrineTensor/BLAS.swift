import COpenBLAS
import Foundation

/// Matrix products through OpenBLAS, for row-major `Float` matrices.
///
/// Every model in Vitrine spends nearly all of its time here, so the wrapper stays thin: it
/// names the operands the way the models think of them and forwards to `cblas_sgemm`.
public enum BLAS {
    /// `C = alpha · op(A) · op(B) + beta · C`, all row-major.
    ///
    /// - Parameters:
    ///   - m: rows of `op(A)` and `C`.
    ///   - n: columns of `op(B)` and `C`.
    ///   - k: columns of `op(A)`, rows of `op(B)`.
    ///   - lda, ldb, ldc: row strides in elements, so a matrix can be a view into a wider one.
    @inlinable
    public static func gemm(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc)
        )
    }

    /// The kernel family OpenBLAS runs ("Haswell", "Zen", "SkylakeX", …).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Chooses OpenBLAS's kernels again when it fell back to its oldest x86-64 ones. OpenBLAS
    /// picks them at load by CPU model, and a release older than the CPU does not know it:
    /// Debian 12's 0.3.21 runs its Prescott (SSE3) kernels on Emerald Rapids, where SkylakeX's
    /// AVX-512 ones run fp32 products at several times the rate. When the pick was Prescott, the
    /// CPU has AVX-512 (or AVX2) and `OPENBLAS_CORETYPE` is unset, the library's own
    /// re-initialization (`gotoblas_dynamic_quit` and `gotoblas_dynamic_init`, found at run time:
    /// builds without run-time dispatch lack them and keep their pick) runs once with that
    /// variable set to SkylakeX (or Haswell). It happens before the first product: at the first
    /// layer built, or at the start of the command-line tools. `OPENBLAS_CORETYPE` set by the
    /// user is left alone.
    public static func chooseKernels() { _ = kernelsChosen }

    private static let kernelsChosen: Void = {
        guard getenv("OPENBLAS_CORETYPE") == nil, coreName.lowercased() == "prescott" else { return }
        let family = InstructionSet.supported >= .avx512 ? "SkylakeX" : InstructionSet.supported >= .avx2 ? "Haswell" : nil
        guard let family,
              let quit = dlsym(nil /* RTLD_DEFAULT: every loaded library */, "gotoblas_dynamic_quit"),
              let initialize = dlsym(nil, "gotoblas_dynamic_init")
        else { return }
        typealias Hook = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", family, 1)
        unsafeBitCast(quit, to: Hook.self)()
        unsafeBitCast(initialize, to: Hook.self)()
        unsetenv("OPENBLAS_CORETYPE")
    }()

    /// The number of threads OpenBLAS uses for one product.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }
}
