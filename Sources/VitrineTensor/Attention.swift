import CVitrineKernels
import Dispatch

/// Multi-head scaled dot-product attention over packed query/key/value rows.
///
/// The input is the output of one fused QKV projection: each token's row holds its query, key
/// and value (`3 · width` floats), and each of those splits into `heads` slices of
/// `width / heads`. Sequences of different lengths sit back to back (a batch of texts cut at
/// their end-of-text tokens, or a batch of images), and tokens only attend within their own
/// sequence. The head slices are read in place through row strides: no transposes.
///
/// Each (sequence, head) is one call of the active kernels' `attention_f32`: the sequences here
/// are short (a query's 7 tokens, a product text's few dozen, an image's 50), where a GEMM
/// library's per-call overhead is several times the arithmetic. Large calls split their
/// (sequence, head) pairs across threads.
public struct MultiHeadAttention: Sendable {
    public let width: Int
    public let heads: Int
    public let causal: Bool
    public var headWidth: Int { width / heads }

    /// At most this many threads share one call (each needs its own scratch row).
    public static let maxParts = 8
    /// Below this many multiply-adds (Σ length² · width) a call stays on one thread: waking
    /// another costs more than it saves.
    public static let parallelWork = 1 << 19

    public init(width: Int, heads: Int, causal: Bool) {
        precondition(heads > 0 && width % heads == 0, "width must be a multiple of heads")
        self.width = width
        self.heads = heads
        self.causal = causal
    }

    /// Floats of scratch space `callAsFunction` needs for sequences up to `maxLength` tokens.
    public static func scratchCount(maxLength: Int) -> Int { maxLength * maxParts }

    /// - Parameters:
    ///   - qkv: `[tokens, 3 · width]`, the fused projection of all sequences.
    ///   - sequences: `(start, length)` of each sequence, in rows of `qkv`.
    ///   - output: `[tokens, width]`, each head's result in its slice of the row.
    ///   - scratch: at least `scratchCount(maxLength:)` floats, `maxLength` the longest sequence.
    public func callAsFunction(
        qkv: UnsafePointer<Float>,
        sequences: [(start: Int, length: Int)],
        into output: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let present = sequences.filter { $0.length > 0 }
        guard let longest = present.map(\.length).max() else { return }
        let call = AttentionCall(
            width: width, heads: heads, causal: causal, sequences: present, qkv: qkv, output: output,
            scratch: scratch, longest: longest)
        let work = present.reduce(0) { $0 + $1.length * $1.length } * width
        let parts = work < Self.parallelWork ? 1 : min(BLAS.threads, Self.maxParts, present.count * heads)
        if parts == 1 {
            call.run(part: 0, of: 1)
        } else {
            DispatchQueue.concurrentPerform(iterations: parts) { call.run(part: $0, of: parts) }
        }
    }
}

/// One attention call's (sequence, head) pairs, split into contiguous runs, one per part, each
/// with its own scratch row. The pointers outlive every part: `concurrentPerform` returns only
/// when all have run.
private struct AttentionCall: @unchecked Sendable {
    let width: Int, heads: Int, causal: Bool
    let sequences: [(start: Int, length: Int)]
    let qkv: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    let longest: Int

    func run(part: Int, of parts: Int) {
        let kernel = ActiveKernels.table.attention_f32!
        let d = width / heads, stride = 3 * width
        let scale = 1 / Float(d).squareRoot()
        let count = sequences.count * heads
        let scores = scratch + part * longest
        for item in (count * part / parts)..<(count * (part + 1) / parts) {
            let (start, length) = sequences[item / heads]
            let h = item % heads
            let rows = qkv + start * stride + h * d
            kernel(
                Int32(length), Int32(d), rows, rows + width, rows + 2 * width, stride, scale, causal ? 1 : 0, scores,
                output + start * width + h * d, width)
        }
    }
}
