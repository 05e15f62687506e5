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
///
/// At ``Precision/int8`` the call is `attention_bf16` where the CPU has it (AMX): q, k, v and the
/// softmax weights rounded to bfloat16, products on tiles, sums in fp32. An int8 model's
/// projections already read their inputs at 8 bits; the other precisions keep fp32 attention.
public struct MultiHeadAttention: Sendable {
    public let width: Int
    public let heads: Int
    public let causal: Bool
    /// Whether the bf16 kernel runs where it exists (the int8 models).
    public let roundsToBF16: Bool
    public var headWidth: Int { width / heads }

    /// At most this many threads share one call (each needs its own scratch).
    public static let maxParts = 8
    /// Below this many multiply-adds (Σ length² · width) a call stays on one thread: waking
    /// another costs more than it saves.
    public static let parallelWork = 1 << 19

    public init(width: Int, heads: Int, causal: Bool, precision: Precision = .fp32) {
        precondition(heads > 0 && width % heads == 0, "width must be a multiple of heads")
        self.width = width
        self.heads = heads
        self.causal = causal
        roundsToBF16 = precision == .int8
    }

    /// The kernel this attention calls on the active level.
    var kernel: AttentionKernel {
        roundsToBF16 ? ActiveKernels.table.attention_bf16 ?? ActiveKernels.table.attention_f32! : ActiveKernels.table.attention_f32!
    }

    /// Floats of scratch one part needs for sequences up to `maxLength` tokens (a multiple of 16,
    /// so that every part's scratch keeps a buffer's 64-byte alignment).
    func partScratch(maxLength: Int) -> Int {
        var floats = maxLength
        if roundsToBF16 && ActiveKernels.table.attention_bf16 != nil {
            let longest = Int32(min(maxLength, Int(VT_ATTENTION_BF16_MAX_LENGTH)))
            floats = max(floats, vt_attention_bf16_scratch(longest, Int32(headWidth)))
        }
        return (floats + 15) / 16 * 16
    }

    /// Floats of scratch space `callAsFunction` needs for sequences up to `maxLength` tokens
    /// (best 64-byte aligned, as ``Scratch`` gives).
    public func scratchCount(maxLength: Int) -> Int { partScratch(maxLength: maxLength) * Self.maxParts }

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
            scratch: scratch, partScratch: partScratch(maxLength: longest), kernel: kernel)
        let work = present.reduce(0) { $0 + $1.length * $1.length } * width
        let parts = work < Self.parallelWork ? 1 : min(BLAS.threads, Self.maxParts, present.count * heads)
        if parts == 1 {
            call.run(part: 0, of: 1)
        } else {
            DispatchQueue.concurrentPerform(iterations: parts) { call.run(part: $0, of: parts) }
        }
    }
}

/// The signature of `attention_f32` and `attention_bf16`.
typealias AttentionKernel = @convention(c) (
    Int32, Int32, UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?, Int, Float, Int32,
    UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void

/// One attention call's (sequence, head) pairs, split into contiguous runs, one per part, each
/// with its own scratch. The pointers outlive every part: `concurrentPerform` returns only
/// when all have run.
private struct AttentionCall: @unchecked Sendable {
    let width: Int, heads: Int, causal: Bool
    let sequences: [(start: Int, length: Int)]
    let qkv: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    let partScratch: Int
    let kernel: AttentionKernel

    func run(part: Int, of parts: Int) {
        let d = width / heads, stride = 3 * width
        let scale = 1 / Float(d).squareRoot()
        let count = sequences.count * heads
        let scores = scratch + part * partScratch
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
