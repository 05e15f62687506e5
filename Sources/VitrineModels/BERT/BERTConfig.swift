import Foundation

/// A Hugging Face `config.json` of model type `bert` (as sentence-transformers' all-MiniLM-L6-v2
/// ships it) or `distilbert` (the multilingual student of clip-ViT-B-32-multilingual-v1), with
/// transformers' `BertConfig` or `DistilBertConfig` defaults for absent keys. The two are the same
/// post-norm encoder under other names; DistilBERT has no token-type embeddings and a fixed
/// layer-norm epsilon of 1e-12.
public struct BERTConfig: Sendable, Equatable {
    /// Which of the two checkpoint layouts (tensor names) the model has.
    public enum Architecture: String, Sendable, Equatable {
        case bert
        case distilbert
    }

    public var architecture: Architecture
    /// The transformer stack: `hidden_size`, `intermediate_size`, `num_hidden_layers`,
    /// `num_attention_heads`, `hidden_act` and `layer_norm_eps` (1e-12 for BERT); DistilBERT's
    /// `dim`, `hidden_dim`, `n_layers`, `n_heads` and `activation`.
    public var encoder: EncoderConfig
    public var vocabSize: Int
    /// Rows of the position embeddings: the longest input the model takes (512).
    public var maxPositions: Int
    /// Rows of the token-type (segment) embeddings; a single sentence is all type 0. None (0) in
    /// DistilBERT.
    public var typeVocabSize: Int
    public var padTokenID: Int

    public init(contentsOf url: URL) throws {
        try self.init(json: ConfigReader.object(contentsOf: url), path: url.path)
    }

    public init(json: [String: Any], path: String) throws {
        let r = ConfigReader(json: json, path: path)
        let modelType = try r.string("model_type", default: nil)
        guard let architecture = Architecture(rawValue: modelType) else {
            throw ModelError.unsupportedModel(path: path, reason: "model_type \"\(modelType)\"; expected bert or distilbert")
        }
        self.architecture = architecture
        let actName: String
        switch architecture {
        case .bert:
            // Relative position embeddings (`relative_key`, …) change the attention scores themselves.
            let positions = try r.string("position_embedding_type", default: "absolute")
            guard positions == "absolute" else {
                throw ModelError.unsupportedModel(path: path, reason: "position_embedding_type \"\(positions)\"; only absolute is implemented")
            }
            actName = try r.string("hidden_act", default: "gelu")
        case .distilbert:
            // Sinusoidal positions are a fixed table the checkpoint still stores; only learned
            // ones are implemented (every released DistilBERT).
            if json["sinusoidal_pos_embds"] as? Bool == true {
                throw ModelError.unsupportedModel(path: path, reason: "sinusoidal_pos_embds true; only learned position embeddings are implemented")
            }
            actName = try r.string("activation", default: "gelu")
        }
        guard let activation = Activation(configName: actName) else {
            throw ModelError.unsupportedModel(path: path, reason: "\(architecture == .bert ? "hidden_act" : "activation") \"\(actName)\"")
        }
        switch architecture {
        case .bert:
            encoder = EncoderConfig(
                hiddenSize: try r.int("hidden_size", default: 768),
                intermediateSize: try r.int("intermediate_size", default: 3072),
                layers: try r.int("num_hidden_layers", default: 12),
                heads: try r.int("num_attention_heads", default: 12),
                activation: activation,
                layerNormEps: Float(try r.double("layer_norm_eps", default: 1e-12))
            )
            vocabSize = try r.int("vocab_size", default: 30522)
            typeVocabSize = try r.int("type_vocab_size", default: 2)
        case .distilbert:
            encoder = EncoderConfig(
                hiddenSize: try r.int("dim", default: 768),
                intermediateSize: try r.int("hidden_dim", default: 3072),
                layers: try r.int("n_layers", default: 6),
                heads: try r.int("n_heads", default: 12),
                activation: activation,
                layerNormEps: 1e-12
            )
            vocabSize = try r.int("vocab_size", default: 30522)
            typeVocabSize = 0
        }
        maxPositions = try r.int("max_position_embeddings", default: 512)
        padTokenID = try r.int("pad_token_id", default: 0)
        let names = architecture == .bert ? ("hidden_size", "num_attention_heads") : ("dim", "n_heads")
        guard encoder.hiddenSize > 0, encoder.heads > 0, encoder.hiddenSize % encoder.heads == 0,
              encoder.intermediateSize > 0, encoder.layers >= 0
        else {
            throw ModelError.malformedConfig(
                path: path, reason: "\(names.0) \(encoder.hiddenSize) must be a positive multiple of \(names.1) \(encoder.heads)")
        }
        guard vocabSize > 0, maxPositions > 2, architecture == .distilbert || typeVocabSize > 0 else {
            throw ModelError.malformedConfig(path: path, reason: "vocab_size, max_position_embeddings and type_vocab_size must be positive")
        }
    }
}
