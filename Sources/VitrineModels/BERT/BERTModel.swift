import Foundation
import VitrineTensor

// A BERT encoder as transformers' `modeling_bert.py` computes it, with sentence-transformers'
// mean pooling on top (all-MiniLM-L6-v2), top to bottom: embeddings, post-norm blocks, pooling.
// The building blocks are CLIP's (TransformerEncoder.swift): Linear at the chosen precision,
// packed multi-head attention, layer norm, one Workspace per forward pass. A batch of texts is
// packed row after row, unpadded, so the attention mask of a batch is implicit: tokens attend
// within their own text, and the mean is over exactly its tokens.

/// One post-norm BERT block:
/// `x = norm1(x + out(attention(qkv(x))))`, then `x = norm2(x + fc2(gelu(fc1(x))))`.
/// DistilBERT's block is the same computation under other tensor names (in parentheses).
struct BERTLayer: Sendable {
    /// `attention.self.{query,key,value}` (`attention.{q,k,v}_lin`) stacked into one
    /// `[3 · width, width]` layer.
    let qkv: Linear
    let attentionOut: Linear    // attention.output.dense (attention.out_lin)
    let attentionNorm: LayerNorm // attention.output.LayerNorm (sa_layer_norm)
    let intermediate: Linear    // intermediate.dense (ffn.lin1)
    let output: Linear          // output.dense (ffn.lin2)
    let outputNorm: LayerNorm   // output.LayerNorm (output_layer_norm)

    init(_ weights: WeightReader, prefix p: String, config c: EncoderConfig, architecture: BERTConfig.Architecture) throws {
        let w = c.hiddenSize
        switch architecture {
        case .bert:
            qkv = try weights.stackedLinear(["query", "key", "value"].map { "\(p).attention.self.\($0)" }, width: w)
            attentionOut = try weights.linear("\(p).attention.output.dense", in: w, out: w)
            attentionNorm = try weights.layerNorm("\(p).attention.output.LayerNorm", width: w, eps: c.layerNormEps)
            intermediate = try weights.linear("\(p).intermediate.dense", in: w, out: c.intermediateSize)
            output = try weights.linear("\(p).output.dense", in: c.intermediateSize, out: w)
            outputNorm = try weights.layerNorm("\(p).output.LayerNorm", width: w, eps: c.layerNormEps)
        case .distilbert:
            qkv = try weights.stackedLinear(["q_lin", "k_lin", "v_lin"].map { "\(p).attention.\($0)" }, width: w)
            attentionOut = try weights.linear("\(p).attention.out_lin", in: w, out: w)
            attentionNorm = try weights.layerNorm("\(p).sa_layer_norm", width: w, eps: c.layerNormEps)
            intermediate = try weights.linear("\(p).ffn.lin1", in: w, out: c.intermediateSize)
            output = try weights.linear("\(p).ffn.lin2", in: c.intermediateSize, out: w)
            outputNorm = try weights.layerNorm("\(p).output_layer_norm", width: w, eps: c.layerNormEps)
        }
    }
}

/// A BERT or DistilBERT checkpoint in Hugging Face layout (`BertModel` or `DistilBertModel`
/// weights, with or without the `bert.` or `distilbert.` prefix of the task heads' checkpoints):
/// the last hidden states of a batch of texts, and their pooling as sentence-transformers does it
/// (for all-MiniLM-L6-v2, the mean over the text's tokens, L2-normalized). The pooler
/// (`pooler.dense`) is not used by that recipe and is not loaded here (``BERTCrossEncoder`` loads
/// it for its classification head).
public struct BERTModel: Sendable {
    public let directory: URL
    public let config: BERTConfig
    /// How the linear layers' weights are held (fp32 unless asked otherwise); the embeddings and
    /// layer norms stay fp32.
    public let precision: Precision

    let wordEmbedding: [Float]      // [vocab, width]
    let positionEmbedding: [Float]  // [maxPositions, width]
    let tokenTypeEmbedding: [Float] // [typeVocab, width]: type 0 for a single text and a pair's first; empty in DistilBERT
    let embeddingNorm: LayerNorm
    let layers: [BERTLayer]
    let attention: MultiHeadAttention

    /// Length of the embeddings (the hidden size, 384 for MiniLM-L6).
    public var dimension: Int { config.encoder.hiddenSize }

    /// Rows (tokens of a batch) up to which the linear layers stream weights rather than use GEMM:
    /// a few queries are tens of rows, where GEMM's packing costs as much as the product.
    static let streamingRows = 256

    /// Loads `config.json` and the safetensors weights of `directory`, keeping the linear layers'
    /// weights at `precision`.
    public init(directory: URL, precision: Precision = .fp32) throws {
        let config = try BERTConfig(contentsOf: directory.appendingPathComponent("config.json"))
        try self.init(directory: directory, config: config,
                      weights: WeightReader(checkpoint: try Checkpoint(directory: directory), precision: precision))
    }

    /// The encoder of a checkpoint already open (a task head's loader reads its own tensors from
    /// the same reader).
    init(directory: URL, config: BERTConfig, weights: WeightReader) throws {
        self.directory = directory
        self.precision = weights.precision
        self.config = config
        let m = Self.prefix(of: weights.checkpoint, architecture: config.architecture)
        let c = config.encoder, w = c.hiddenSize
        wordEmbedding = try weights.tensor("\(m)embeddings.word_embeddings.weight", shape: [config.vocabSize, w])
        positionEmbedding = try weights.tensor("\(m)embeddings.position_embeddings.weight", shape: [config.maxPositions, w])
        tokenTypeEmbedding = config.typeVocabSize == 0 ? []
            : try weights.tensor("\(m)embeddings.token_type_embeddings.weight", shape: [config.typeVocabSize, w])
        embeddingNorm = try weights.layerNorm("\(m)embeddings.LayerNorm", width: w, eps: c.layerNormEps)
        let blocks = config.architecture == .bert ? "encoder.layer" : "transformer.layer"
        layers = try (0..<c.layers).map {
            try BERTLayer(weights, prefix: "\(m)\(blocks).\($0)", config: c, architecture: config.architecture)
        }
        attention = MultiHeadAttention(width: w, heads: c.heads, causal: false, precision: weights.precision)
    }

    /// The tensor names' prefix: `bert.` (`distilbert.`) in a task head's checkpoint, none in a
    /// bare `BertModel`'s (`DistilBertModel`'s).
    static func prefix(of checkpoint: Checkpoint, architecture: BERTConfig.Architecture) -> String {
        let head = "\(architecture.rawValue)."
        return checkpoint.contains("\(head)embeddings.word_embeddings.weight") ? head : ""
    }

    /// L2-normalized mean-pooled embeddings of tokenized texts (`[CLS] … [SEP]`, at most
    /// `maxPositions` tokens each), all computed in one packed pass.
    public func embed(tokenIDs batch: [[Int32]]) throws -> [[Float]] {
        try pooled(tokenIDs: batch, pooling: .mean).map { vector in
            var vector = vector
            vector.withUnsafeMutableBufferPointer { Kernels.l2Normalize($0.baseAddress!, count: $0.count) }
            return vector
        }
    }

    /// Each text's last hidden states pooled into one vector (not normalized), in one packed pass.
    public func pooled(tokenIDs batch: [[Int32]], pooling: SentencePooling) throws -> [[Float]] {
        try encode(tokenIDs: batch, typeIDs: nil) { x, sequences in
            let w = config.encoder.hiddenSize
            return sequences.map { sequence in
                var vector = [Float](repeating: 0, count: pooling.outputWidth(w))
                vector.withUnsafeMutableBufferPointer { v in
                    pooling.pool(x + sequence.start * w, rows: sequence.length, width: w, into: v.baseAddress!)
                }
                return vector
            }
        } ?? []
    }

    /// Runs the encoder over a batch packed row after row and hands `body` the last hidden states
    /// (`[tokens, width]`) with each sequence's first row and length. `typeIDs`, when given, holds
    /// each token's segment (a pair's second text is type 1); otherwise every token is type 0.
    /// Nil for an empty batch.
    func encode<Result>(tokenIDs batch: [[Int32]], typeIDs: [[Int32]]?,
                        _ body: (UnsafePointer<Float>, [(start: Int, length: Int)]) throws -> Result) throws -> Result? {
        var sequences: [(start: Int, length: Int)] = []
        var start = 0
        for (i, ids) in batch.enumerated() {
            try ModelError.checkTokenIDs(ids, maxPositions: config.maxPositions, vocabSize: config.vocabSize)
            if let types = typeIDs?[i] {
                guard config.typeVocabSize > 0 else {
                    throw ModelError.invalidInput(input: "token type ids of sequence \(i)", reason: "\(config.architecture.rawValue) has no token types")
                }
                guard types.count == ids.count, types.allSatisfy({ $0 >= 0 && Int($0) < config.typeVocabSize }) else {
                    throw ModelError.invalidInput(input: "token type ids of sequence \(i)",
                                                  reason: "need \(ids.count) values in 0..<\(config.typeVocabSize)")
                }
            }
            sequences.append((start, ids.count))
            start += ids.count
        }
        guard start > 0 else { return nil }
        let tokens = start, w = config.encoder.hiddenSize
        let ws = Workspace(tokens: tokens, maxLength: sequences.map(\.length).max()!, config: config.encoder, attention: attention)
        let (hiddenStates, x) = Scratch.take(Float.self, count: tokens * w)
        defer { Scratch.give(hiddenStates) }

        // Embeddings: word + token type (BERT only) + position (transformers adds them in this
        // order), normed.
        wordEmbedding.withUnsafeBufferPointer { words in
            positionEmbedding.withUnsafeBufferPointer { positions in
                tokenTypeEmbedding.withUnsafeBufferPointer { types in
                    for (i, (ids, sequence)) in zip(batch, sequences).enumerated() {
                        for (position, id) in ids.enumerated() {
                            let row = x + (sequence.start + position) * w
                            row.update(from: words.baseAddress! + Int(id) * w, count: w)
                            if config.typeVocabSize > 0 {
                                let type = Int(typeIDs?[i][position] ?? 0)
                                Kernels.add(types.baseAddress! + type * w, to: row, count: w)
                            }
                            Kernels.add(positions.baseAddress! + position * w, to: row, count: w)
                        }
                    }
                }
            }
        }
        embeddingNorm(x, rows: tokens, into: x)

        for layer in layers {
            layer.qkv(x, rows: tokens, into: ws.qkv, streamingUpTo: Self.streamingRows)
            attention(qkv: ws.qkv, sequences: sequences, into: ws.attended, scratch: ws.scores)
            layer.attentionOut(ws.attended, rows: tokens, into: ws.normed, streamingUpTo: Self.streamingRows)
            layer.attentionNorm(x, plus: ws.normed, rows: tokens, into: x)

            if config.encoder.activation != .gelu || !Linear.geluFeedForward(layer.intermediate, layer.output, x, rows: tokens, into: ws.normed) {
                layer.intermediate(x, rows: tokens, into: ws.hidden, streamingUpTo: Self.streamingRows)
                activate(ws.hidden, count: tokens * config.encoder.intermediateSize)
                layer.output(ws.hidden, rows: tokens, into: ws.normed, streamingUpTo: Self.streamingRows)
            }
            layer.outputNorm(x, plus: ws.normed, rows: tokens, into: x)
        }

        return try body(x, sequences)
    }

    private func activate(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch config.encoder.activation {
        case .gelu: Kernels.gelu(x, count: count)
        case .geluTanh: Kernels.geluTanh(x, count: count)
        case .quickGELU: Kernels.quickGELU(x, count: count)
        }
    }
}
