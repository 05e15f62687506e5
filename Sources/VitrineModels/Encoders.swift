import Foundation
import VitrineImage
import VitrineTensor

/// Turns images into embeddings. CLIP's vision tower is one; other towers plug in behind the
/// same protocol.
public protocol ImageEncoder: Sendable {
    /// Length of the embeddings.
    var dimension: Int { get }
    /// L2-normalized embeddings, one per image, in order.
    func embed(images: [RGBImage]) throws -> [[Float]]
}

/// Turns texts into embeddings: CLIP's text tower (into the space of its photos), a sentence
/// model such as all-MiniLM-L6-v2 (texts to texts), or a multilingual student tower trained into
/// CLIP's space (clip-ViT-B-32-multilingual-v1), which then stands in for CLIP's text tower.
public protocol TextEncoder: Sendable {
    var dimension: Int { get }
    /// Tokens a text is cut to, special tokens included (77 for CLIP).
    var maxTokens: Int { get }
    /// Token ids as the model sees them, and whether the text was cut to fit.
    func tokenize(_ text: String) -> TokenizedText
    /// L2-normalized embeddings of tokenized texts, in order, computed in one pass.
    func embed(tokenIDs: [[Int32]]) throws -> [[Float]]
    /// L2-normalized embeddings, one per text, in order. Empty texts are an error.
    func embed(texts: [String]) throws -> [[Float]]
}

/// CLIP's image path: the model's own preprocessing, then the vision tower, batched.
public struct CLIPImageEncoder: ImageEncoder {
    public let tower: CLIPVisionTower
    public let preprocessor: ImagePreprocessor

    public var dimension: Int { tower.dimension }

    public init(tower: CLIPVisionTower, preprocessor: ImagePreprocessor, path: String) throws {
        let size = tower.config.imageSize
        guard let shape = preprocessor.fixedOutputShape, shape == (3, size, size) else {
            throw ModelError.malformedConfig(
                path: path, reason: "preprocessing must produce 3×\(size)×\(size) pixels for this model (set crop_size to \(size))")
        }
        self.tower = tower
        self.preprocessor = preprocessor
    }

    public func embed(images: [RGBImage]) -> [[Float]] {
        embed(prepared: images.map(preprocessor.resizeAndCrop))
    }

    /// Embeddings of images already resized and cropped (``ImagePreprocessor/resizeAndCrop(_:)``),
    /// for pipelines that prepare the next batch while this one is encoded.
    public func embed(prepared images: [RGBImage]) -> [[Float]] {
        let n = tower.pixelCount
        var pixels = [Float](repeating: 0, count: images.count * n)
        pixels.withUnsafeMutableBufferPointer { all in
            for (i, image) in images.enumerated() {
                preprocessor.normalize(image, into: UnsafeMutableBufferPointer(rebasing: all[(i * n)..<((i + 1) * n)]))
            }
        }
        return pixels.withUnsafeBufferPointer { tower.embed(pixels: $0, count: images.count) }
    }
}

/// CLIP's text path: the CLIP tokenizer (truncating to the model's context), then the text tower.
public struct CLIPTextEncoder: TextEncoder {
    public let tower: CLIPTextTower
    public let tokenizer: CLIPTokenizer

    public var dimension: Int { tower.dimension }
    public var maxTokens: Int { tower.config.maxPositions }

    public init(tower: CLIPTextTower, tokenizer: CLIPTokenizer) {
        self.tower = tower
        self.tokenizer = tokenizer
    }

    /// Token ids as the text tower sees them, and whether the text was cut to fit.
    public func tokenize(_ text: String) -> TokenizedText {
        tokenizer.encode(text, maxLength: tower.config.maxPositions)
    }

    public func embed(texts: [String]) throws -> [[Float]] {
        let ids = try texts.map { text in
            guard !text.allSatisfy(\.isWhitespace) else {
                throw ModelError.invalidInput(input: "\"\(text)\"", reason: "empty text")
            }
            return tokenize(text).ids
        }
        return try tower.embed(tokenIDs: ids)
    }

    public func embed(tokenIDs: [[Int32]]) throws -> [[Float]] {
        try tower.embed(tokenIDs: tokenIDs)
    }
}

/// The encoders a CLIP model directory provides: both towers for `clip`, one for the tower-only
/// model types.
public struct CLIPEncoders: Sendable {
    public let directory: URL
    public let model: CLIPModel
    public let image: CLIPImageEncoder?
    public let text: CLIPTextEncoder?

    /// Loads a Hugging Face model directory: `config.json`, the safetensors weights, and, for the
    /// towers present, `preprocessor_config.json` or `vocab.json` + `merges.txt`. Parity with
    /// transformers holds at `.fp32`; other precisions trade a little accuracy for memory and speed.
    public init(directory: URL, precision: Precision = .fp32, textPrecision: Precision? = nil) throws {
        self.directory = directory
        model = try CLIPModel(directory: directory, precision: precision, textPrecision: textPrecision)
        if let vision = model.vision {
            let url = directory.appendingPathComponent("preprocessor_config.json")
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw ModelError.missingFile(path: url.path, reason: "the image tower needs its preprocessing config")
            }
            image = try CLIPImageEncoder(tower: vision, preprocessor: ImagePreprocessor(contentsOf: url), path: url.path)
        } else {
            image = nil
        }
        text = try model.text.map { CLIPTextEncoder(tower: $0, tokenizer: try CLIPTokenizer(directory: directory)) }
    }
}

/// The fastest precision a text tower keeps its answers at: each candidate's embeddings of
/// ``queries`` against fp32's, the first whose lowest cosine reaches the threshold. A server
/// without `--precision` encodes queries so (photos keep the precision their index was built at).
public enum PrecisionCalibration {
    /// Shop queries in English and in GLAMI-1M's languages, short and long.
    public static let queries = [
        "red floral summer dress", "black leather boots for women", "men's slim-fit navy chinos", "white canvas sneakers",
        "oversized knit cardigan in oatmeal wool", "high-waisted wide-leg trousers", "gold hoop earrings",
        "vintage denim jacket, light wash", "linen shirt with mandarin collar", "waterproof hiking boots",
        "silk scarf with paisley print", "kids' yellow rain jacket", "evening clutch bag with chain strap",
        "striped cotton t-shirt", "pleated midi skirt in emerald green", "cashmere roll-neck sweater",
        "červené letní šaty", "kožené kozačky", "rochie de vară", "κόκκινο φόρεμα", "черна рокля", "kırmızı elbise",
        "vestido rojo de verano con flores", "a photo of a bag",
    ]

    /// The precision chosen and its lowest cosine to fp32 over ``queries``.
    public struct Choice: Sendable, Equatable {
        public var precision: Precision
        public var minCosine: Float
        public init(precision: Precision, minCosine: Float) {
            self.precision = precision
            self.minCosine = minCosine
        }
    }

    /// The first of `candidates` (fastest first) whose embeddings keep a cosine of at least
    /// `threshold` to fp32's on every calibration query, else fp32. `load` makes the tower at a
    /// precision; the fp32 one is released once measured.
    public static func fastest(candidates: [Precision] = [.int8, .bf16], threshold: Float = 0.999,
                               load: (Precision) throws -> any TextEncoder) throws -> Choice {
        let reference = try load(.fp32).embed(texts: queries)
        for precision in candidates where precision != .fp32 {
            let embeddings = try load(precision).embed(texts: queries)
            let worst = zip(embeddings, reference).map { a, b in zip(a, b).reduce(Float(0)) { $0 + $1.0 * $1.1 } }.min() ?? 1
            if worst >= threshold { return Choice(precision: precision, minCosine: worst) }
        }
        return Choice(precision: .fp32, minCosine: 1)
    }
}
