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
}
