import Foundation
import VitrineCore

/// The parameter names and shapes of a CLIP checkpoint in transformers' layout, derived from its
/// config alone.
public enum CLIPCheckpointLayout {
    public static func parameters(of config: CLIPConfig) -> [(name: String, shape: [Int])] {
        var list: [(String, [Int])] = []
        func encoder(_ prefix: String, _ c: EncoderConfig) {
            let w = c.hiddenSize
            for i in 0..<c.layers {
                let p = "\(prefix).encoder.layers.\(i)"
                for n in ["layer_norm1", "layer_norm2"] { list += [("\(p).\(n).weight", [w]), ("\(p).\(n).bias", [w])] }
                for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                    list += [("\(p).self_attn.\(n).weight", [w, w]), ("\(p).self_attn.\(n).bias", [w])]
                }
                list += [("\(p).mlp.fc1.weight", [c.intermediateSize, w]), ("\(p).mlp.fc1.bias", [c.intermediateSize])]
                list += [("\(p).mlp.fc2.weight", [w, c.intermediateSize]), ("\(p).mlp.fc2.bias", [w])]
            }
        }
        if let v = config.vision {
            let w = v.encoder.hiddenSize
            list += [
                ("vision_model.embeddings.class_embedding", [w]),
                ("vision_model.embeddings.patch_embedding.weight", [w, v.channels, v.patchSize, v.patchSize]),
                ("vision_model.embeddings.position_embedding.weight", [v.tokens, w]),
                ("vision_model.pre_layrnorm.weight", [w]), ("vision_model.pre_layrnorm.bias", [w]),
            ]
            encoder("vision_model", v.encoder)
            list += [("vision_model.post_layernorm.weight", [w]), ("vision_model.post_layernorm.bias", [w])]
            list.append(("visual_projection.weight", [v.projectionDim, w]))
        }
        if let t = config.text {
            let w = t.encoder.hiddenSize
            list += [
                ("text_model.embeddings.token_embedding.weight", [t.vocabSize, w]),
                ("text_model.embeddings.position_embedding.weight", [t.maxPositions, w]),
            ]
            encoder("text_model", t.encoder)
            list += [("text_model.final_layer_norm.weight", [w]), ("text_model.final_layer_norm.bias", [w])]
            list.append(("text_projection.weight", [t.projectionDim, w]))
        }
        if config.vision != nil && config.text != nil { list.append(("logit_scale", [])) }
        return list
    }
}

/// Writes a random-weight checkpoint with the architecture of an existing model directory, for
/// benchmarks and demos where real weights cannot be had. Its config is marked
/// `"vitrine_random_weights": true` so nothing mistakes it for a trained model.
public enum RandomCheckpoint {
    /// Files copied unchanged from the source directory when present.
    static let companionFiles = [
        "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "vocab.json", "merges.txt", "vocab.txt",
    ]

    public static func write(like source: URL, to destination: URL, seed: UInt64, dtype: SafetensorsFile.DType = .f32) throws {
        let configURL = source.appendingPathComponent("config.json")
        let modelType = try ConfigReader.object(contentsOf: configURL)["model_type"] as? String
        if let modelType, BERTConfig.Architecture(rawValue: modelType) != nil {
            return try writeSentenceModel(like: source, to: destination, seed: seed, dtype: dtype)
        }
        let config = try CLIPConfig(contentsOf: configURL)
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        var generator = NormalGenerator(seed: seed)
        try writeWeights(CLIPCheckpointLayout.parameters(of: config), generator: &generator, dtype: dtype,
                         to: destination.appendingPathComponent("model.safetensors"))
        try markConfig(configURL, seed: seed, into: destination)
        try copy(companionFiles, from: source, to: destination)
    }

    /// Random values for each parameter, written as one safetensors file: layer-norm weights near
    /// 1, small biases, embeddings of half a unit, linear weights scaled by their fan-in to keep
    /// activations near unit variance.
    static func writeWeights(_ parameters: [(name: String, shape: [Int])], generator: inout NormalGenerator,
                             dtype: SafetensorsFile.DType, to url: URL) throws {
        let tensors = parameters.map { name, shape in
            let count = shape.reduce(1, *)
            let values: [Float]
            if name == "logit_scale" {
                values = [2.6592]
            } else if name.lowercased().contains("norm") && name.hasSuffix(".weight") {
                values = (0..<count).map { _ in 1 + 0.1 * generator.next() }
            } else if name.hasSuffix(".bias") {
                values = (0..<count).map { _ in 0.05 * generator.next() }
            } else if name.contains("embedding") {
                values = (0..<count).map { _ in 0.5 * generator.next() }
            } else {
                let fanIn = Float(count / max(shape.first ?? 1, 1))
                let scale = 1 / fanIn.squareRoot()
                values = (0..<count).map { _ in scale * generator.next() }
            }
            return SafetensorsWriter.Tensor(name: name, shape: shape, values: values)
        }
        try SafetensorsWriter.write(tensors, dtype: dtype, metadata: ["format": "pt"], to: url)
    }

    /// Marks the copy of `configURL` as random by adding two keys to the original text.
    /// Re-serializing would turn 1.0 into 1, which transformers' strict config classes reject.
    static func markConfig(_ configURL: URL, seed: UInt64, into destination: URL) throws {
        let original = String(decoding: try Data(contentsOf: configURL), as: UTF8.self)
        guard let close = original.lastIndex(of: "}") else {
            throw ModelError.malformedConfig(path: configURL.path, reason: "not a JSON object")
        }
        let marked = original[..<close].trimmingCharacters(in: .whitespacesAndNewlines)
            + ",\n  \"vitrine_random_weights\": true,\n  \"vitrine_random_seed\": \(seed)\n}\n"
        try Data(marked.utf8).write(to: destination.appendingPathComponent("config.json"), options: .atomic)
    }

    /// Copies the files of `names` that `source` has (relative paths; folders are made).
    static func copy(_ names: [String], from source: URL, to destination: URL) throws {
        let fm = FileManager.default
        for name in names {
            let from = source.appendingPathComponent(name), to = destination.appendingPathComponent(name)
            guard fm.fileExists(atPath: from.path), from.standardizedFileURL != to.standardizedFileURL else { continue }
            try fm.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? fm.removeItem(at: to)
            try fm.copyItem(at: from.resolvingSymlinksInPath(), to: to)
        }
    }
}

/// Standard normal samples from a seeded SplitMix64 stream (Box–Muller), reproducible across
/// machines.
struct NormalGenerator {
    private var bits: SplitMix64
    private var spare: Float?

    init(seed: UInt64) { bits = SplitMix64(seed: seed) }

    private mutating func uniform() -> Double {
        (Double(bits.next() >> 11) + 0.5) / Double(1 << 53)  // in (0, 1)
    }

    mutating func next() -> Float {
        if let s = spare { spare = nil; return s }
        let r = (-2 * Foundation.log(uniform())).squareRoot(), theta = 2 * Double.pi * uniform()
        spare = Float(r * Foundation.sin(theta))
        return Float(r * Foundation.cos(theta))
    }
}
