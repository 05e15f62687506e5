import Foundation
import VitrineTensor

// sentence-transformers' model directory: `modules.json` lists the modules a text passes through,
// in order, each in its own folder (`path`). The ones a BERT-family text model uses:
//
//   Transformer  the encoder (folder "" for the directory itself): last hidden states per token
//   Pooling      the hidden states of a text become one vector (mean for all-MiniLM-L6-v2)
//   Dense        a linear layer and an activation (clip-ViT-B-32-multilingual-v1 projects 768
//                dimensions into CLIP's 512 with it, no bias, identity activation)
//   Normalize    L2 normalization
//
// A directory without modules.json is read as an encoder with mean pooling.

/// How the hidden states of a text's tokens become one vector: sentence-transformers' `Pooling`,
/// whose modes are concatenated in the order its config lists them.
public struct SentencePooling: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable, CaseIterable {
        /// The first token's state (`[CLS]`).
        case cls
        /// Each dimension's largest value over the tokens.
        case max
        /// The average over the tokens.
        case mean
        /// The sum over the tokens divided by the square root of their count.
        case meanSqrtLength = "mean_sqrt_len_tokens"
        /// The average weighted by position (1 for the first token, n for the last).
        case weightedMean = "weightedmean"
        /// The last token's state.
        case lastToken = "lasttoken"
    }

    public var modes: [Mode]

    public static let mean = SentencePooling(modes: [.mean])

    public init(modes: [Mode]) { self.modes = modes.isEmpty ? [.mean] : modes }

    /// Reads `1_Pooling/config.json`: `pooling_mode` (a mode or a list, sentence-transformers 6),
    /// else the older `pooling_mode_*_token(s)` flags in sentence-transformers' order.
    public init(contentsOf url: URL) throws {
        let json = try ConfigReader.object(contentsOf: url)
        func mode(_ name: String) throws -> Mode {
            guard let mode = Mode(rawValue: name) else {
                throw ModelError.unsupportedModel(path: url.path, reason: "pooling mode \"\(name)\"; the modes are \(Mode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return mode
        }
        if let name = json["pooling_mode"] as? String {
            self.init(modes: [try mode(name)])
        } else if let names = json["pooling_mode"] as? [String] {
            self.init(modes: try names.map(mode))
        } else {
            let legacy: [(String, Mode)] = [
                ("pooling_mode_cls_token", .cls), ("pooling_mode_max_tokens", .max), ("pooling_mode_mean_tokens", .mean),
                ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLength), ("pooling_mode_weightedmean_tokens", .weightedMean),
                ("pooling_mode_lasttoken", .lastToken),
            ]
            self.init(modes: legacy.filter { json[$0.0] as? Bool == true }.map(\.1))
        }
    }

    /// Width of the pooled vector over hidden states of `width`.
    public func outputWidth(_ width: Int) -> Int { modes.count * width }

    /// Pools `rows` hidden states of `width` (one text, no padding) into `out`
    /// (``outputWidth(_:)`` values).
    func pool(_ x: UnsafePointer<Float>, rows: Int, width w: Int, into out: UnsafeMutablePointer<Float>) {
        for (i, mode) in modes.enumerated() {
            let o = out + i * w
            switch mode {
            case .cls:
                o.update(from: x, count: w)
            case .lastToken:
                o.update(from: x + (rows - 1) * w, count: w)
            case .max:
                o.update(from: x, count: w)
                for r in 1..<max(rows, 1) {
                    let row = x + r * w
                    for j in 0..<w where row[j] > o[j] { o[j] = row[j] }
                }
            case .mean, .meanSqrtLength:
                o.update(repeating: 0, count: w)
                for r in 0..<rows { Kernels.add(x + r * w, to: o, count: w) }
                let divisor = mode == .mean ? Float(rows) : Float(rows).squareRoot()
                for j in 0..<w { o[j] /= divisor }
            case .weightedMean:
                o.update(repeating: 0, count: w)
                for r in 0..<rows {
                    let weight = Float(r + 1), row = x + r * w
                    for j in 0..<w { o[j] += weight * row[j] }
                }
                let total = Float(rows * (rows + 1) / 2)
                for j in 0..<w { o[j] /= total }
            }
        }
    }
}

/// sentence-transformers' `Dense` module: `activation(linear(x))`, its weights in the module's
/// folder (`model.safetensors`: `linear.weight`, `linear.bias`), at the model's precision.
public struct SentenceDense: Sendable {
    public enum Activation: String, Sendable, Equatable {
        case identity
        case tanh
    }

    let linear: Linear
    public let activation: Activation
    public var inFeatures: Int { linear.inFeatures }
    public var outFeatures: Int { linear.outFeatures }

    /// A Dense module's `config.json`: `in_features`, `out_features`, `bias`, and
    /// `activation_function` (a torch class path; Tanh when absent, as sentence-transformers has it).
    struct Config {
        var inFeatures: Int
        var outFeatures: Int
        var hasBias: Bool
        var activation: Activation

        init(directory: URL) throws {
            let url = directory.appendingPathComponent("config.json")
            let json = try ConfigReader.object(contentsOf: url)
            let r = ConfigReader(json: json, path: url.path)
            inFeatures = try r.int("in_features", default: 0)
            outFeatures = try r.int("out_features", default: 0)
            guard inFeatures > 0, outFeatures > 0 else {
                throw ModelError.malformedConfig(path: url.path, reason: "in_features and out_features must be positive")
            }
            hasBias = json["bias"] as? Bool ?? true
            let named = json["activation_function"] as? String ?? "torch.nn.modules.activation.Tanh"
            switch named.split(separator: ".").last.map(String.init) {
            case "Identity": activation = .identity
            case "Tanh": activation = .tanh
            default:
                throw ModelError.unsupportedModel(path: url.path, reason: "activation_function \"\(named)\"; Identity and Tanh are implemented")
            }
        }
    }

    /// Reads the module's config and its weights at `precision`.
    public init(directory: URL, precision: Precision) throws {
        let config = try Config(directory: directory)
        activation = config.activation
        let weights = WeightReader(checkpoint: try Checkpoint(directory: directory), precision: precision)
        linear = try weights.linear("linear", in: config.inFeatures, out: config.outFeatures, bias: config.hasBias)
    }

    /// `rows` vectors of ``inFeatures`` into `rows` of ``outFeatures``.
    func callAsFunction(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        linear(input, rows: rows, into: output, streamingUpTo: BERTModel.streamingRows)
        if activation == .tanh {
            for i in 0..<(rows * outFeatures) { output[i] = Foundation.tanh(output[i]) }
        }
    }
}

/// What `modules.json` says a text goes through after the encoder, read and checked.
public struct SentenceModules: Sendable {
    /// Where the encoder's files are: the directory itself, or the Transformer module's folder.
    public let encoderDirectory: URL
    public let pooling: SentencePooling
    public let dense: [SentenceDense]

    /// Reads `modules.json` of a sentence-transformers directory (a Transformer, a Pooling, any
    /// Dense and Normalize modules, in that order); without one, the encoder with mean pooling.
    public init(directory: URL, precision: Precision) throws {
        let url = directory.appendingPathComponent("modules.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            encoderDirectory = directory
            pooling = .mean
            dense = []
            return
        }
        guard let data = try? Data(contentsOf: url),
              let modules = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { throw ModelError.malformedConfig(path: url.path, reason: "not a JSON list of modules") }
        var encoder: URL?
        var pooling: SentencePooling?
        var dense: [SentenceDense] = []
        for (i, module) in modules.enumerated() {
            guard let type = module["type"] as? String else {
                throw ModelError.malformedConfig(path: url.path, reason: "module \(i) has no \"type\"")
            }
            let path = module["path"] as? String ?? ""
            guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                throw ModelError.malformedConfig(path: url.path, reason: "module \(i)'s path \"\(path)\" leaves the directory")
            }
            let folder = path.isEmpty ? directory : directory.appendingPathComponent(path)
            // The class name, whichever package path names it (sentence_transformers.models.Dense,
            // sentence_transformers.sentence_transformer.modules.dense.Dense, …).
            let name = type.split(separator: ".").last.map(String.init) ?? type
            switch (name, encoder, pooling) {
            case ("Transformer", nil, nil):
                encoder = folder
            case ("Pooling", .some, nil):
                pooling = try SentencePooling(contentsOf: folder.appendingPathComponent("config.json"))
            case ("Dense", .some, .some):
                dense.append(try SentenceDense(directory: folder, precision: precision))
            case ("Normalize", .some, _):
                break  // every embedding is L2-normalized at the end
            case ("Transformer", _, _), ("Pooling", _, _), ("Dense", _, _):
                throw ModelError.unsupportedModel(path: url.path, reason: "module \(i) (\(name)) is out of order; expected Transformer, Pooling, then Dense and Normalize")
            default:
                throw ModelError.unsupportedModel(path: url.path, reason: "module \(i) is a \(type); Transformer, Pooling, Dense and Normalize are implemented")
            }
        }
        guard let encoder else { throw ModelError.unsupportedModel(path: url.path, reason: "no Transformer module") }
        encoderDirectory = encoder
        self.pooling = pooling ?? .mean
        self.dense = dense
    }
}
