/// Multi-head scaled dot-product attention over packed query/key/value rows.
///
/// The input is the output of one fused QKV projection: each token's row holds its query, key
/// and value (`3 · width` floats), and each of those splits into `heads` slices of
/// `width / heads`. Sequences of different lengths sit back to back (a batch of texts cut at
/// their end-of-text tokens, or a batch of images), and tokens only attend within their own
/// sequence. The head slices are read in place through GEMM leading dimensions: no transposes.
public struct MultiHeadAttention: Sendable {
    public let width: Int
    public let heads: Int
    public let causal: Bool
    public var headWidth: Int { width / heads }

    public init(width: Int, heads: Int, causal: Bool) {
        precondition(heads > 0 && width % heads == 0, "width must be a multiple of heads")
        self.width = width
        self.heads = heads
        self.causal = causal
    }

    /// Floats of scratch space `callAsFunction` needs for sequences up to `maxLength` tokens.
    public static func scratchCount(maxLength: Int) -> Int { maxLength * maxLength }

    /// - Parameters:
    ///   - qkv: `[tokens, 3 · width]`, the fused projection of all sequences.
    ///   - sequences: `(start, length)` of each sequence, in rows of `qkv`.
    ///   - output: `[tokens, width]`, each head's result in its slice of the row.
    ///   - scratch: at least `scratchCount(maxLength:)` floats for the attention weights.
    public func callAsFunction(
        qkv: UnsafePointer<Float>,
        sequences: [(start: Int, length: Int)],
        into output: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let d = headWidth
        let stride = 3 * width
        let scale = 1 / Float(d).squareRoot()
        for (start, length) in sequences where length > 0 {
            let rows = qkv + start * stride
            for h in 0..<heads {
                let q = rows + h * d
                let k = rows + width + h * d
                let v = rows + 2 * width + h * d
                // weights[i][j] = scale · q_i · k_j
                BLAS.gemm(
                    m: length, n: length, k: d,
                    a: q, lda: stride, b: k, ldb: stride, transposeB: true,
                    c: scratch, ldc: length, alpha: scale
                )
                for i in 0..<length {
                    let row = scratch + i * length
                    // Under the causal mask token i sees 0...i; the masked weights become 0.
                    let visible = causal ? i + 1 : length
                    Kernels.softmax(row, count: visible)
                    if visible < length { (row + visible).update(repeating: 0, count: length - visible) }
                }
                BLAS.gemm(
                    m: length, n: d, k: length,
                    a: scratch, lda: length, b: v, ldb: stride,
                    c: output + start * width + h * d, ldc: width
                )
            }
        }
    }
}
