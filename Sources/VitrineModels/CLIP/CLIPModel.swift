import Foundation
import VitrineTensor

// CLIP's two towers, as transformers' `modeling_clip.py` computes them, top to bottom:
// configuration comes from CLIPConfig.swift, the shared transformer blocks from
// TransformerEncoder.swift. Both towers embed a batch at once: all sequences are packed into one
// `[tokens, width]` matrix so every linear layer is a single GEMM over the whole batch.

/// The image tower: patch embedding, class token, position embeddings, pre-layernorm, encoder
/// blocks, post-layernorm of the class token, projection into the joint space.
public struct CLIPVisionTower: Sendable {
    public let config: CLIPVisionConfig
    let classEmbedding: [Float]         // [width]
    let patchEmbedding: Linear          // the convolution as [width, 3 · patch · patch], no bias
    let positionEmbedding: [Float]      // [tokens, width]
    let preNorm: LayerNorm
    let encoder: TransformerEncoder
    let postNorm: LayerNorm
    let projection: Linear?             // [projection, width], absent in a bare CLIPVisionModel

    /// Length of the embeddings this tower returns.
    public var dimension: Int { projection?.outFeatures ?? config.encoder.hiddenSize }

    init(_ weights: WeightReader, config: CLIPVisionConfig) throws {
        self.config = config
        let w = config.encoder.hiddenSize, p = config.patchSize
        let m = "vision_model"
        classEmbedding = try weights.tensor("\(m).embeddings.class_embedding", shape: [w])
        patchEmbedding = Linear(
            weight: try weights.tensor("\(m).embeddings.patch_embedding.weight", shape: [w, config.channels, p, p]),
            bias: nil, inFeatures: config.channels * p * p, outFeatures: w, precision: weights.precision)
        positionEmbedding = try weights.tensor("\(m).embeddings.position_embedding.weight", shape: [config.tokens, w])
        preNorm = try weights.layerNorm("\(m).pre_layrnorm", width: w, eps: config.encoder.layerNormEps)
        encoder = try TransformerEncoder(weights, prefix: "\(m).encoder", config: config.encoder, causal: false)
        postNorm = try weights.layerNorm("\(m).post_layernorm", width: w, eps: config.encoder.layerNormEps)
        projection = weights.checkpoint.contains("visual_projection.weight")
            ? try weights.linear("visual_projection", in: w, out: config.projectionDim, bias: false) : nil
    }

    /// Floats of one image's `pixel_values`: `[3, imageSize, imageSize]`.
    public var pixelCount: Int { config.channels * config.imageSize * config.imageSize }

    /// L2-normalized embeddings of `count` images whose `pixel_values` lie back to back in `pixels`.
    public func embed(pixels: UnsafeBufferPointer<Float>, count: Int) -> [[Float]] {
        precondition(pixels.count == count * pixelCount, "pixel buffer does not hold \(count) images")
        guard count > 0 else { return [] }
        let w = config.encoder.hiddenSize, t = config.tokens
        let rows = count * t
        let ws = Workspace(tokens: rows, maxLength: t, config: config.encoder, attention: encoder.attention)
        let (xBuffer, x) = Scratch.take(Float.self, count: rows * w)
        defer { Scratch.give(xBuffer) }

        // Patch embedding as one GEMM: unfold every patch into a row (channel, y, x order, the
        // layout of the convolution's weight). Row 0 of each image stays zero and becomes the
        // class token's slot, so the product lands directly in place.
        let patchLength = patchEmbedding.inFeatures
        let (patchesBuffer, patches) = Scratch.take(Float.self, count: rows * patchLength)
        defer { Scratch.give(patchesBuffer) }
        unfoldPatches(pixels, count: count, into: patches)
        patchEmbedding(patches, rows: rows, into: x)

        classEmbedding.withUnsafeBufferPointer { cls in
            positionEmbedding.withUnsafeBufferPointer { pos in
                for image in 0..<count {
                    let tokens = x + image * t * w
                    tokens.update(from: cls.baseAddress!, count: w)
                    Kernels.add(pos.baseAddress!, to: tokens, count: t * w)
                }
            }
        }
        preNorm(x, rows: rows, into: x)
        encoder(x, sequences: (0..<count).map { (start: $0 * t, length: t) }, workspace: ws)

        return (0..<count).map { image in
            postNorm(x + image * t * w, rows: 1, into: ws.normed)
            return project(ws.normed, with: projection, width: w)
        }
    }

    private func unfoldPatches(_ pixels: UnsafeBufferPointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) {
        let p = config.patchSize, grid = config.gridSize, size = config.imageSize, c = config.channels
        let patchLength = c * p * p
        let src = pixels.baseAddress!
        for image in 0..<count {
            let imageRows = out + image * config.tokens * patchLength
            imageRows.update(repeating: 0, count: patchLength)
            let plane = src + image * pixelCount
            for gy in 0..<grid {
                for gx in 0..<grid {
                    var dst = imageRows + (1 + gy * grid + gx) * patchLength
                    for channel in 0..<c {
                        for y in 0..<p {
                            let row = plane + channel * size * size + (gy * p + y) * size + gx * p
                            dst.update(from: row, count: p)
                            dst += p
                        }
                    }
                }
            }
        }
    }
}

/// The text tower: token and position embeddings, causal encoder blocks, final layernorm,
/// pooling at the end-of-text token, projection into the joint space.
public struct CLIPTextTower: Sendable {
    public let config: CLIPTextConfig
    let tokenEmbedding: [Float]     // [vocab, width]
    let positionEmbedding: [Float]  // [maxPositions, width]
    let encoder: TransformerEncoder
    let finalNorm: LayerNorm
    let projection: Linear?         // [projection, width], absent in a bare CLIPTextModel

    public var dimension: Int { projection?.outFeatures ?? config.encoder.hiddenSize }

    /// Rows (tokens of a batch) up to which the linear layers stream weights rather than use GEMM.
    static let streamingRows = 256

    init(_ weights: WeightReader, config: CLIPTextConfig) throws {
        self.config = config
        let w = config.encoder.hiddenSize
        let m = "text_model"
        tokenEmbedding = try weights.tensor("\(m).embeddings.token_embedding.weight", shape: [config.vocabSize, w])
        positionEmbedding = try weights.tensor("\(m).embeddings.position_embedding.weight", shape: [config.maxPositions, w])
        // A batch of queries is tens of rows: streaming the weights beats GEMM's packing there.
        encoder = try TransformerEncoder(weights, prefix: "\(m).encoder", config: config.encoder, causal: true,
                                         streamingRows: Self.streamingRows)
        finalNorm = try weights.layerNorm("\(m).final_layer_norm", width: w, eps: config.encoder.layerNormEps)
        projection = weights.checkpoint.contains("text_projection.weight")
            ? try weights.linear("text_projection", in: w, out: config.projectionDim, bias: false) : nil
    }

    /// The position whose hidden state becomes the text's embedding, as transformers picks it:
    /// the highest token id for legacy configs (`eos_token_id` 2), else the first end-of-text.
    public func pooledPosition(_ ids: [Int32]) -> Int {
        if config.poolsAtHighestTokenID {
            var best = 0
            for (i, id) in ids.enumerated() where id > ids[best] { best = i }
            return best
        }
        return ids.firstIndex(of: Int32(config.eosTokenID)) ?? 0
    }

    /// L2-normalized embeddings of tokenized texts (with BOS and EOS, at most `maxPositions`).
    ///
    /// Under the causal mask the pooled token's state depends only on the tokens before it, so
    /// each text is computed only up to its pooled position: exact, and never padded to 77.
    public func embed(tokenIDs batch: [[Int32]]) throws -> [[Float]] {
        let w = config.encoder.hiddenSize
        var sequences: [(start: Int, length: Int)] = []
        var start = 0
        for ids in batch {
            try ModelError.checkTokenIDs(ids, maxPositions: config.maxPositions, vocabSize: config.vocabSize)
            let length = pooledPosition(ids) + 1
            sequences.append((start, length))
            start += length
        }
        guard start > 0 else { return [] }
        let maxLength = sequences.map(\.length).max()!
        let ws = Workspace(tokens: start, maxLength: maxLength, config: config.encoder, attention: encoder.attention)
        let (xBuffer, x) = Scratch.take(Float.self, count: start * w)
        defer { Scratch.give(xBuffer) }

        tokenEmbedding.withUnsafeBufferPointer { tokens in
            positionEmbedding.withUnsafeBufferPointer { positions in
                for (ids, sequence) in zip(batch, sequences) {
                    for position in 0..<sequence.length {
                        let row = x + (sequence.start + position) * w
                        row.update(from: tokens.baseAddress! + Int(ids[position]) * w, count: w)
                        Kernels.add(positions.baseAddress! + position * w, to: row, count: w)
                    }
                }
            }
        }
        encoder(x, sequences: sequences, workspace: ws)

        return sequences.map { sequence in
            finalNorm(x + (sequence.start + sequence.length - 1) * w, rows: 1, into: ws.normed)
            return project(ws.normed, with: projection, width: w)
        }
    }
}

/// Projects a pooled state into the joint space (or keeps it) and L2-normalizes it.
private func project(_ pooled: UnsafeMutablePointer<Float>, with projection: Linear?, width: Int) -> [Float] {
    var embedding: [Float]
    if let projection {
        embedding = [Float](repeating: 0, count: projection.outFeatures)
        embedding.withUnsafeMutableBufferPointer { projection(pooled, rows: 1, into: $0.baseAddress!) }
    } else {
        embedding = Array(UnsafeBufferPointer(start: pooled, count: width))
    }
    embedding.withUnsafeMutableBufferPointer { Kernels.l2Normalize($0.baseAddress!, count: $0.count) }
    return embedding
}

/// A CLIP checkpoint in Hugging Face layout, with whichever towers its config declares.
public struct CLIPModel: Sendable {
    public let directory: URL
    public let config: CLIPConfig
    public let vision: CLIPVisionTower?
    public let text: CLIPTextTower?

    /// How the linear layers' weights are held (fp32 unless asked otherwise).
    public let precision: Precision

    /// Loads `config.json` and the safetensors weights of `directory`, keeping the linear
    /// layers' weights at `precision` (the text tower's at `textPrecision` when given); with
    /// `textOnly`, the text tower alone.
    public init(directory: URL, precision: Precision = .fp32, textPrecision: Precision? = nil, textOnly: Bool = false) throws {
        self.directory = directory
        self.precision = precision
        config = try CLIPConfig(contentsOf: directory.appendingPathComponent("config.json"))
        let checkpoint = try Checkpoint(directory: directory)
        vision = textOnly ? nil : try config.vision.map { try CLIPVisionTower(WeightReader(checkpoint: checkpoint, precision: precision), config: $0) }
        text = try config.text.map { try CLIPTextTower(WeightReader(checkpoint: checkpoint, precision: textPrecision ?? precision), config: $0) }
    }
}
