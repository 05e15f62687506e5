import Foundation

/// The activation function named by a config's `hidden_act`.
public enum Activation: String, Sendable, Codable {
    case quickGELU = "quick_gelu"
    case gelu = "gelu"
    case geluTanh = "gelu_new"

    init?(configName: String) {
        switch configName {
        case "quick_gelu": self = .quickGELU
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        default: return nil
        }
    }
}

/// A transformer stack's shape, shared by both towers.
public struct EncoderConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var activation: Activation
    public var layerNormEps: Float
}

/// `vision_config` of a CLIP model (`clip_vision_model`), with transformers' defaults.
public struct CLIPVisionConfig: Sendable, Equatable {
    public var encoder: EncoderConfig
    public var imageSize: Int
    public var patchSize: Int
    public var channels: Int
    public var projectionDim: Int

    public var gridSize: Int { imageSize / patchSize }
    /// Patches plus the class token.
    public var tokens: Int { gridSize * gridSize + 1 }
}

/// `text_config` of a CLIP model (`clip_text_model`), with transformers' defaults.
public struct CLIPTextConfig: Sendable, Equatable {
    public var encoder: EncoderConfig
    public var vocabSize: Int
    public var maxPositions: Int
    public var projectionDim: Int
    public var bosTokenID: Int
    public var eosTokenID: Int

    /// Configs written before transformers fixed `eos_token_id` say 2; with them transformers
    /// pools at the highest token id (the end-of-text token of CLIP's vocabulary) rather than at
    /// the first `eos_token_id`. The two differ only if a text contains end-of-text earlier.
    public var poolsAtHighestTokenID: Bool { eosTokenID == 2 }
}

/// A Hugging Face `config.json` of model type `clip`, `clip_vision_model` or `clip_text_model`.
public struct CLIPConfig: Sendable, Equatable {
    public var vision: CLIPVisionConfig?
    public var text: CLIPTextConfig?
    public var modelType: String
    /// Set by `vitrine model random`: the weights are random, for benchmarks and tests only.
    public var isRandom: Bool

    public init(contentsOf url: URL) throws {
        try self.init(json: ConfigReader.object(contentsOf: url), path: url.path)
    }

    public init(json: [String: Any], path: String) throws {
        let reader = ConfigReader(json: json, path: path)
        modelType = try reader.string("model_type", default: nil)
        isRandom = (json["vitrine_random_weights"] as? Bool) ?? false
        switch modelType {
        case "clip":
            let projection = try reader.int("projection_dim", default: 512)
            vision = try Self.vision(reader.section("vision_config", overrides: "vision_config_dict"), projection: projection)
            text = try Self.text(reader.section("text_config", overrides: "text_config_dict"), projection: projection)
        case "clip_vision_model":
            let r = json["vision_config"] != nil ? reader.section("vision_config", overrides: nil) : reader
            vision = try Self.vision(r, projection: r.int("projection_dim", default: 512))
        case "clip_text_model":
            let r = json["text_config"] != nil ? reader.section("text_config", overrides: nil) : reader
            text = try Self.text(r, projection: r.int("projection_dim", default: 512))
        default:
            throw ModelError.unsupportedModel(
                path: path, reason: "model_type \"\(modelType)\"; expected clip, clip_vision_model or clip_text_model")
        }
    }

    private static func encoder(_ r: ConfigReader, hidden: Int, intermediate: Int, layers: Int, heads: Int) throws -> EncoderConfig {
        let actName = try r.string("hidden_act", default: "quick_gelu")
        guard let activation = Activation(configName: actName) else {
            throw ModelError.unsupportedModel(path: r.path, reason: "hidden_act \"\(actName)\"")
        }
        let config = EncoderConfig(
            hiddenSize: try r.int("hidden_size", default: hidden),
            intermediateSize: try r.int("intermediate_size", default: intermediate),
            layers: try r.int("num_hidden_layers", default: layers),
            heads: try r.int("num_attention_heads", default: heads),
            activation: activation,
            layerNormEps: Float(try r.double("layer_norm_eps", default: 1e-5))
        )
        guard config.hiddenSize > 0, config.heads > 0, config.hiddenSize % config.heads == 0,
              config.intermediateSize > 0, config.layers >= 0
        else {
            throw ModelError.malformedConfig(
                path: r.path, reason: "hidden_size \(config.hiddenSize) must be a positive multiple of num_attention_heads \(config.heads)")
        }
        return config
    }

    private static func vision(_ r: ConfigReader, projection: Int) throws -> CLIPVisionConfig {
        let config = CLIPVisionConfig(
            encoder: try encoder(r, hidden: 768, intermediate: 3072, layers: 12, heads: 12),
            imageSize: try r.squareSize("image_size", default: 224),
            patchSize: try r.squareSize("patch_size", default: 32),
            channels: try r.int("num_channels", default: 3),
            projectionDim: projection
        )
        guard config.patchSize > 0, config.imageSize >= config.patchSize, config.imageSize % config.patchSize == 0,
              config.channels == 3
        else {
            throw ModelError.malformedConfig(
                path: r.path, reason: "image_size \(config.imageSize) must be a multiple of patch_size \(config.patchSize), with 3 channels")
        }
        return config
    }

    private static func text(_ r: ConfigReader, projection: Int) throws -> CLIPTextConfig {
        let config = CLIPTextConfig(
            encoder: try encoder(r, hidden: 512, intermediate: 2048, layers: 12, heads: 8),
            vocabSize: try r.int("vocab_size", default: 49408),
            maxPositions: try r.int("max_position_embeddings", default: 77),
            projectionDim: projection,
            bosTokenID: try r.int("bos_token_id", default: 49406),
            eosTokenID: try r.int("eos_token_id", default: 49407)
        )
        guard config.vocabSize > 0, config.maxPositions > 1 else {
            throw ModelError.malformedConfig(path: r.path, reason: "vocab_size and max_position_embeddings must be positive")
        }
        return config
    }
}

/// Typed access to a JSON config object, with transformers' defaults for absent or null keys.
struct ConfigReader {
    let json: [String: Any]
    let path: String

    /// The JSON object in the file at `url` (a `config.json`).
    static func object(contentsOf url: URL) throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError.missingFile(path: url.path, reason: "cannot read config.json")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.malformedConfig(path: url.path, reason: "not a JSON object")
        }
        return json
    }

    /// A nested config object; keys of the legacy `*_config_dict` object override it, as
    /// transformers does for older checkpoints.
    func section(_ key: String, overrides: String?) -> ConfigReader {
        var merged = json[key] as? [String: Any] ?? [:]
        if let overrides, let extra = json[overrides] as? [String: Any] {
            merged.merge(extra) { _, new in new }
        }
        return ConfigReader(json: merged, path: "\(path) (\(key))")
    }

    func int(_ key: String, default value: Int) throws -> Int {
        guard let raw = json[key], !(raw is NSNull) else { return value }
        guard let number = raw as? NSNumber, let n = Int(exactly: number.doubleValue) else {
            throw ModelError.malformedConfig(path: path, reason: "\(key) must be an integer, got \(raw)")
        }
        return n
    }

    func double(_ key: String, default value: Double) throws -> Double {
        guard let raw = json[key], !(raw is NSNull) else { return value }
        guard let number = raw as? NSNumber else {
            throw ModelError.malformedConfig(path: path, reason: "\(key) must be a number, got \(raw)")
        }
        return number.doubleValue
    }

    func string(_ key: String, default value: String?) throws -> String {
        guard let raw = json[key], !(raw is NSNull) else {
            guard let value else { throw ModelError.malformedConfig(path: path, reason: "no \(key)") }
            return value
        }
        guard let s = raw as? String else {
            throw ModelError.malformedConfig(path: path, reason: "\(key) must be a string, got \(raw)")
        }
        return s
    }

    /// A size given as one integer or as a square `[h, w]` pair.
    func squareSize(_ key: String, default value: Int) throws -> Int {
        if let pair = json[key] as? [NSNumber] {
            guard pair.count == 2, pair[0] == pair[1] else {
                throw ModelError.unsupportedModel(path: path, reason: "non-square \(key) \(pair)")
            }
            return pair[0].intValue
        }
        return try int(key, default: value)
    }
}
