import COpenBLAS
import CVitrineKernels

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

    /// Whether OpenBLAS had fallen back to its oldest x86-64 kernels (Prescott, SSE3) at load and
    /// was made to choose again for this CPU: SkylakeX with AVX-512, Haswell with AVX2. That
    /// happens before `main`, in `CVitrineKernels` (openblas.c), when `OPENBLAS_CORETYPE` is
    /// unset: a release older than the CPU does not know it (Debian 12's 0.3.21 on Emerald Rapids
    /// ran fp32 products at a third of the rate).
    public static var kernelsRechosen: Bool { vt_openblas_kernels_rechosen() != 0 }

    /// The number of threads OpenBLAS uses for one product.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }
}
