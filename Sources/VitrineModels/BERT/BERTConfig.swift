import Foundation

/// A Hugging Face `config.json` of model type `bert` (as sentence-transformers' all-MiniLM-L6-v2
/// ships it), with transformers' `BertConfig` defaults for absent keys.
public struct BERTConfig: Sendable, Equatable {
    /// The transformer stack: `hidden_size`, `intermediate_size`, `num_hidden_layers`,
    /// `num_attention_heads`, `hidden_act` and `layer_norm_eps` (1e-12 for BERT).
    public var encoder: EncoderConfig
    public var vocabSize: Int
    /// Rows of the position embeddings: the longest input the model takes (512).
    public var maxPositions: Int
    /// Rows of the token-type (segment) embeddings; a single sentence is all type 0.
    public var typeVocabSize: Int
    public var padTokenID: Int

    public init(contentsOf url: URL) throws {
        try self.init(json: ConfigReader.object(contentsOf: url), path: url.path)
    }

    public init(json: [String: Any], path: String) throws {
        let r = ConfigReader(json: json, path: path)
        let modelType = try r.string("model_type", default: nil)
        guard modelType == "bert" else {
            throw ModelError.unsupportedModel(path: path, reason: "model_type \"\(modelType)\"; expected bert")
        }
        // Relative position embeddings (`relative_key`, …) change the attention scores themselves.
        let positions = try r.string("position_embedding_type", default: "absolute")
        guard positions == "absolute" else {
            throw ModelError.unsupportedModel(path: path, reason: "position_embedding_type \"\(positions)\"; only absolute is implemented")
        }
        let actName = try r.string("hidden_act", default: "gelu")
        guard let activation = Activation(configName: actName) else {
            throw ModelError.unsupportedModel(path: path, reason: "hidden_act \"\(actName)\"")
        }
        encoder = EncoderConfig(
            hiddenSize: try r.int("hidden_size", default: 768),
            intermediateSize: try r.int("intermediate_size", default: 3072),
            layers: try r.int("num_hidden_layers", default: 12),
            heads: try r.int("num_attention_heads", default: 12),
            activation: activation,
            layerNormEps: Float(try r.double("layer_norm_eps", default: 1e-12))
        )
        vocabSize = try r.int("vocab_size", default: 30522)
        maxPositions = try r.int("max_position_embeddings", default: 512)
        typeVocabSize = try r.int("type_vocab_size", default: 2)
        padTokenID = try r.int("pad_token_id", default: 0)
        guard encoder.hiddenSize > 0, encoder.heads > 0, encoder.hiddenSize % encoder.heads == 0,
              encoder.intermediateSize > 0, encoder.layers >= 0
        else {
            throw ModelError.malformedConfig(
                path: path, reason: "hidden_size \(encoder.hiddenSize) must be a positive multiple of num_attention_heads \(encoder.heads)")
        }
        guard vocabSize > 0, maxPositions > 2, typeVocabSize > 0 else {
            throw ModelError.malformedConfig(path: path, reason: "vocab_size, max_position_embeddings and type_vocab_size must be positive")
        }
    }
}
