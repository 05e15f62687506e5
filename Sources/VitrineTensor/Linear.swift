import CVitrineKernels
import Dispatch

/// A fully connected layer `y = x · Wᵀ + b`, with `W` stored `[outFeatures, inFeatures]` as in
/// PyTorch's `nn.Linear`, so checkpoints load without transposing.
public struct Linear: Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    /// Row-major `[outFeatures, inFeatures]`.
    public let weight: [Float]
    /// `[outFeatures]`, or `nil` for a layer without bias.
    public let bias: [Float]?

    public init(weight: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int) {
        precondition(weight.count == inFeatures * outFeatures, "Linear weight has the wrong size")
        precondition(bias.map { $0.count == outFeatures } ?? true, "Linear bias has the wrong size")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.weight = weight
        self.bias = bias
    }

    /// Applies the layer to `rows` input rows; `output` must hold `rows × outFeatures` floats.
    ///
    /// The bias is written first and the product accumulated onto it (`beta = 1`), which saves
    /// a separate pass over the output.
    public func callAsFunction(
        _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>
    ) {
        if rows <= Self.fewRowsLimit && Self.hasFewRowsKernel {
            fewRows(input, rows: rows, into: output)
            return
        }
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for r in 0..<rows {
                    (output + r * outFeatures).update(from: b.baseAddress!, count: outFeatures)
                }
            }
        }
        weight.withUnsafeBufferPointer { w in
            BLAS.gemm(
                m: rows, n: outFeatures, k: inFeatures,
                a: input, lda: inFeatures,
                b: w.baseAddress!, ldb: inFeatures, transposeB: true,
                c: output, ldc: outFeatures,
                beta: bias == nil ? 0 : 1
            )
        }
    }

    /// Up to this many rows (a text query's tokens) a layer is a matrix–vector product in
    /// disguise: GEMM would spend its time packing the weights, so a kernel that streams each
    /// weight row once does the work instead, the output columns split across threads.
    public static let fewRowsLimit = 16
    static let hasFewRowsKernel = vt_has_avx2_fma()

    private func fewRows(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        let parts = min(BLAS.threads, max(1, outFeatures / 256))
        weight.withUnsafeBufferPointer { w in
            (bias ?? []).withUnsafeBufferPointer { b in
                let call = FewRowsCall(
                    rows: rows, k: inFeatures, n: outFeatures, parts: parts, x: input, w: w.baseAddress!,
                    bias: bias == nil ? nil : b.baseAddress, y: output)
                if parts == 1 { call.run(part: 0) } else { DispatchQueue.concurrentPerform(iterations: parts) { call.run(part: $0) } }
            }
        }
    }
}

/// One few-rows product, split by output columns into `parts` (even-sized) ranges. The pointers
/// outlive every part: `concurrentPerform` returns only when all have run.
private struct FewRowsCall: @unchecked Sendable {
    let rows: Int, k: Int, n: Int, parts: Int
    let x: UnsafePointer<Float>
    let w: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
    let y: UnsafeMutablePointer<Float>

    func run(part: Int) {
        let begin = n * part / parts / 2 * 2
        let end = part == parts - 1 ? n : n * (part + 1) / parts / 2 * 2
        vt_linear_few_rows_f32(Int32(rows), Int32(k), Int32(begin), Int32(end), x, w, bias, y, Int32(n))
    }
}
