import CVitrineKernels
import Foundation

/// Element-wise and row-wise kernels of transformer inference, vectorized with `SIMD8<Float>`
/// (one AVX register). They work on caller-owned buffers and never allocate.
public enum Kernels {
    public typealias Vector = SIMD8<Float>
    public static let lanes = Vector.scalarCount

    /// Layer normalization of each of `rows` rows of `cols` values:
    /// `(x − mean) / sqrt(var + eps) · weight + bias`, with the biased variance as PyTorch uses.
    /// `input` and `output` may be the same buffer.
    public static func layerNorm(
        _ input: UnsafePointer<Float>, rows: Int, cols: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
        into output: UnsafeMutablePointer<Float>
    ) {
        let vectorEnd = cols - cols % lanes
        for r in 0..<rows {
            let x = input + r * cols
            let y = output + r * cols
            var sum = Vector.zero
            var i = 0
            while i < vectorEnd { sum += load(x + i); i += lanes }
            var mean = sum.sum()
            while i < cols { mean += x[i]; i += 1 }
            mean /= Float(cols)

            // Two passes (mean, then squared deviations) for accuracy on large activations.
            var squares = Vector.zero
            let meanVector = Vector(repeating: mean)
            i = 0
            while i < vectorEnd { let d = load(x + i) - meanVector; squares += d * d; i += lanes }
            var variance = squares.sum()
            while i < cols { let d = x[i] - mean; variance += d * d; i += 1 }
            variance /= Float(cols)

            let scale = 1 / (variance + eps).squareRoot()
            let scaleVector = Vector(repeating: scale)
            i = 0
            while i < vectorEnd {
                let normalized = (load(x + i) - meanVector) * scaleVector
                store(normalized * load(weight + i) + load(bias + i), y + i)
                i += lanes
            }
            while i < cols { y[i] = (x[i] - mean) * scale * weight[i] + bias[i]; i += 1 }
        }
    }

    /// ``layerNorm(_:rows:cols:weight:bias:eps:into:)`` of `x + s`, row by row in one pass, on the
    /// active instruction set's kernel. `output` may be `x` or `s`.
    public static func addLayerNorm(
        _ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, rows: Int, cols: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
        into output: UnsafeMutablePointer<Float>
    ) {
        ActiveKernels.table.add_layer_norm!(Int32(rows), Int32(cols), x, s, weight, bias, eps, output)
    }

    /// `x · sigmoid(1.702 · x)`, the activation of OpenAI's CLIP (`quick_gelu`), in place.
    public static func quickGELU(_ x: UnsafeMutablePointer<Float>, count: Int) {
        ActiveKernels.table.quick_gelu!(x, count)
    }

    /// The exact GELU, `0.5 · x · (1 + erf(x / √2))` (PyTorch's default `gelu`), in place.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        ActiveKernels.table.gelu_erf!(x, count)
    }

    /// The tanh approximation of GELU (`gelu_new`, `gelu_pytorch_tanh`), in place.
    public static func geluTanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let c: Float = 0.79788456080286535588  // sqrt(2 / pi)
        for i in 0..<count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + Foundation.tanh(c * (v + 0.044715 * v * v * v)))
        }
    }

    /// Softmax over the first `count` values of a row, in place, stable against overflow.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var sum: Float = 0
        for i in 0..<count {
            let e = Foundation.exp(x[i] - maximum)
            x[i] = e
            sum += e
        }
        let inverse = 1 / sum
        for i in 0..<count { x[i] *= inverse }
    }

    /// `accumulator += addend`, element-wise (residual connections).
    public static func add(_ addend: UnsafePointer<Float>, to accumulator: UnsafeMutablePointer<Float>, count: Int) {
        let vectorEnd = count - count % lanes
        var i = 0
        while i < vectorEnd { store(load(accumulator + i) + load(addend + i), accumulator + i); i += lanes }
        while i < count { accumulator[i] += addend[i]; i += 1 }
    }

    /// Scales `vector` to unit Euclidean length in place; a zero vector stays zero.
    public static func l2Normalize(_ vector: UnsafeMutablePointer<Float>, count: Int) {
        var sum: Float = 0
        for i in 0..<count { sum += vector[i] * vector[i] }
        guard sum > 0 else { return }
        let inverse = 1 / sum.squareRoot()
        for i in 0..<count { vector[i] *= inverse }
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
    }

    @inline(__always) static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
    }
}
