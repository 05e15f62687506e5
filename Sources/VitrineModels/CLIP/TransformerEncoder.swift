import VitrineTensor

/// One pre-norm transformer block as CLIP uses it:
/// `x += attention(layerNorm1(x))`, then `x += fc2(act(fc1(layerNorm2(x))))`.
struct TransformerLayer: Sendable {
    let norm1: LayerNorm
    /// Query, key and value projections stacked into one `[3 · width, width]` layer, so the
    /// three come out of a single GEMM.
    let qkv: Linear
    let out: Linear
    let norm2: LayerNorm
    let fc1: Linear
    let fc2: Linear

    init(_ weights: WeightReader, prefix p: String, config c: EncoderConfig) throws {
        let w = c.hiddenSize
        norm1 = try weights.layerNorm("\(p).layer_norm1", width: w, eps: c.layerNormEps)
        qkv = try weights.stackedLinear(["q_proj", "k_proj", "v_proj"].map { "\(p).self_attn.\($0)" }, width: w)
        out = try weights.linear("\(p).self_attn.out_proj", in: w, out: w)
        norm2 = try weights.layerNorm("\(p).layer_norm2", width: w, eps: c.layerNormEps)
        fc1 = try weights.linear("\(p).mlp.fc1", in: w, out: c.intermediateSize)
        fc2 = try weights.linear("\(p).mlp.fc2", in: c.intermediateSize, out: w)
    }
}

/// A stack of transformer blocks over a batch of sequences packed row after row.
struct TransformerEncoder: Sendable {
    let config: EncoderConfig
    let layers: [TransformerLayer]
    let attention: MultiHeadAttention
    /// Up to this many rows, linear layers stream their weights instead of calling GEMM.
    let streamingRows: Int

    init(_ weights: WeightReader, prefix: String, config: EncoderConfig, causal: Bool, streamingRows: Int = Linear.fewRowsLimit) throws {
        self.config = config
        self.streamingRows = streamingRows
        layers = try (0..<config.layers).map {
            try TransformerLayer(weights, prefix: "\(prefix).layers.\($0)", config: config)
        }
        attention = MultiHeadAttention(width: config.hiddenSize, heads: config.heads, causal: causal, precision: weights.precision)
    }

    /// Runs every block over `x` (`[tokens, width]`) in place.
    func callAsFunction(_ x: UnsafeMutablePointer<Float>, sequences: [(start: Int, length: Int)], workspace ws: Workspace) {
        let tokens = sequences.reduce(0) { $0 + $1.length }
        let width = config.hiddenSize
        for layer in layers {
            layer.norm1(x, rows: tokens, into: ws.normed)
            layer.qkv(ws.normed, rows: tokens, into: ws.qkv, streamingUpTo: streamingRows)
            attention(qkv: ws.qkv, sequences: sequences, into: ws.attended, scratch: ws.scores)
            layer.out(ws.attended, rows: tokens, into: ws.normed, streamingUpTo: streamingRows)
            Kernels.add(ws.normed, to: x, count: tokens * width)

            layer.norm2(x, rows: tokens, into: ws.normed)
            layer.fc1(ws.normed, rows: tokens, into: ws.hidden, streamingUpTo: streamingRows)
            activate(ws.hidden, count: tokens * config.intermediateSize)
            layer.fc2(ws.hidden, rows: tokens, into: ws.normed, streamingUpTo: streamingRows)
            Kernels.add(ws.normed, to: x, count: tokens * width)
        }
    }

    private func activate(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch config.activation {
        case .quickGELU: Kernels.quickGELU(x, count: count)
        case .gelu: Kernels.gelu(x, count: count)
        case .geluTanh: Kernels.geluTanh(x, count: count)
        }
    }
}

/// Scratch buffers for one forward pass, sized once for the batch and reused by every layer;
/// taken from ``Scratch`` and given back to it, so the next pass finds them mapped.
final class Workspace {
    let normed: UnsafeMutablePointer<Float>
    let qkv: UnsafeMutablePointer<Float>
    let attended: UnsafeMutablePointer<Float>
    let hidden: UnsafeMutablePointer<Float>
    let scores: UnsafeMutablePointer<Float>
    private var buffers: [Scratch.Buffer] = []

    init(tokens: Int, maxLength: Int, config: EncoderConfig, attention: MultiHeadAttention) {
        let w = config.hiddenSize
        var buffers: [Scratch.Buffer] = []
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            let (buffer, values) = Scratch.take(Float.self, count: count)
            buffers.append(buffer)
            return values
        }
        normed = take(tokens * w)
        qkv = take(tokens * 3 * w)
        attended = take(tokens * w)
        hidden = take(tokens * config.intermediateSize)
        scores = take(attention.scratchCount(maxLength: maxLength))
        self.buffers = buffers
    }

    deinit { for buffer in buffers { Scratch.give(buffer) } }
}

/// A layer normalization's parameters.
struct LayerNorm: Sendable {
    let weight: [Float]
    let bias: [Float]
    let eps: Float

    func callAsFunction(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                Kernels.layerNorm(input, rows: rows, cols: w.count, weight: w.baseAddress!, bias: b.baseAddress!, eps: eps, into: output)
            }
        }
    }

    /// The norm of `residual + input`, row by row, in one pass (a post-norm block's residual
    /// connection and norm); `output` may be either.
    func callAsFunction(_ residual: UnsafePointer<Float>, plus input: UnsafePointer<Float>, rows: Int,
                        into output: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                Kernels.addLayerNorm(residual, input, rows: rows, cols: w.count, weight: w.baseAddress!, bias: b.baseAddress!,
                                     eps: eps, into: output)
            }
        }
    }
}

/// Reads named tensors of the shapes a model expects from a checkpoint.
struct WeightReader {
    let checkpoint: Checkpoint
    /// Storage of the linear layers' weights; everything else stays fp32.
    let precision: Precision

    func tensor(_ name: String, shape: [Int]) throws -> [Float] {
        try checkpoint.floats(name, shape: shape)
    }

    func linear(_ prefix: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true) throws -> Linear {
        let weight = try tensor("\(prefix).weight", shape: [outFeatures, inFeatures])
        let bias = hasBias ? try tensor("\(prefix).bias", shape: [outFeatures]) : nil
        return Linear(weight: weight, bias: bias, inFeatures: inFeatures, outFeatures: outFeatures, precision: precision)
    }

    /// Square layers over the same input (attention's query, key and value) as one layer of
    /// `prefixes.count` times the width: weights stacked by rows, biases end to end.
    func stackedLinear(_ prefixes: [String], width w: Int) throws -> Linear {
        Linear(
            weight: try prefixes.flatMap { try tensor("\($0).weight", shape: [w, w]) },
            bias: try prefixes.flatMap { try tensor("\($0).bias", shape: [w]) },
            inFeatures: w, outFeatures: prefixes.count * w, precision: precision)
    }

    func layerNorm(_ prefix: String, width: Int, eps: Float) throws -> LayerNorm {
        LayerNorm(weight: try tensor("\(prefix).weight", shape: [width]), bias: try tensor("\(prefix).bias", shape: [width]), eps: eps)
    }
}
