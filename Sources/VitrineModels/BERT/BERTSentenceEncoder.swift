import Foundation
import VitrineTensor

/// sentence-transformers' text path for a BERT-family model, as its `modules.json` lays it out:
/// the WordPiece tokenizer with truncation at `max_seq_length`, the BERT or DistilBERT encoder,
/// the pooling, any dense layers, and L2 normalization.
///
/// all-MiniLM-L6-v2 (BERT, mean pooling) embeds product texts into a space of its own, where
/// texts find texts. clip-ViT-B-32-multilingual-v1 (multilingual cased DistilBERT, mean pooling,
/// a dense layer from 768 to 512 dimensions) embeds queries in fifty languages into the space of
/// CLIP ViT-B/32's photos: there it stands in for CLIP's English text tower.
public struct BERTSentenceEncoder: TextEncoder {
    public let model: BERTModel
    public let tokenizer: BERTTokenizer
    /// Tokens per text, `[CLS]` and `[SEP]` included: `max_seq_length` of
    /// `sentence_bert_config.json` (256 for all-MiniLM-L6-v2, 128 for the multilingual tower),
    /// else the model's position count.
    public let maxLength: Int
    /// Whether texts are lowercased before tokenization (`do_lower_case` of
    /// `sentence_bert_config.json`; the tokenizer's own casing rules apply either way).
    public let lowercasesInput: Bool
    public let pooling: SentencePooling
    public let dense: [SentenceDense]

    public var dimension: Int { dense.last?.outFeatures ?? pooling.outputWidth(model.dimension) }
    public var maxTokens: Int { maxLength }

    /// Loads the modules, encoder, tokenizer and sentence-transformers' `max_seq_length` from
    /// `directory`.
    public init(directory: URL, precision: Precision = .fp32) throws {
        let modules = try SentenceModules(directory: directory, precision: precision)
        let root = modules.encoderDirectory
        let model = try BERTModel(directory: root, precision: precision)
        let tokenizer = try BERTTokenizer(directory: root)
        var maxLength = model.config.maxPositions
        var lowercases = false
        let sentenceConfig = root.appendingPathComponent("sentence_bert_config.json")
        if let data = try? Data(contentsOf: sentenceConfig) {
            guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ModelError.malformedConfig(path: sentenceConfig.path, reason: "not a JSON object")
            }
            if let value = json["max_seq_length"] as? Int {
                guard value >= 2 else {
                    throw ModelError.malformedConfig(path: sentenceConfig.path, reason: "max_seq_length \(value) is below 2")
                }
                maxLength = min(value, maxLength)
            }
            lowercases = json["do_lower_case"] as? Bool ?? false
        }
        var width = modules.pooling.outputWidth(model.dimension)
        for (i, layer) in modules.dense.enumerated() {
            guard layer.inFeatures == width else {
                throw ModelError.malformedConfig(
                    path: directory.appendingPathComponent("modules.json").path,
                    reason: "dense module \(i) takes \(layer.inFeatures) features, the module before it gives \(width)")
            }
            width = layer.outFeatures
        }
        self.init(model: model, tokenizer: tokenizer, maxLength: maxLength, lowercasesInput: lowercases,
                  pooling: modules.pooling, dense: modules.dense)
    }

    public init(model: BERTModel, tokenizer: BERTTokenizer, maxLength: Int, lowercasesInput: Bool = false,
                pooling: SentencePooling = .mean, dense: [SentenceDense] = []) {
        self.model = model
        self.tokenizer = tokenizer
        self.maxLength = min(max(maxLength, 2), model.config.maxPositions)
        self.lowercasesInput = lowercasesInput
        self.pooling = pooling
        self.dense = dense
    }

    /// Whether `directory` holds a BERT-family model (its encoder's `config.json` says bert or
    /// distilbert), rather than a CLIP model.
    public static func isSentenceModel(_ directory: URL) -> Bool {
        let encoder = (try? SentenceModules(directory: directory, precision: .fp32))?.encoderDirectory ?? directory
        let type = (try? ConfigReader.object(contentsOf: encoder.appendingPathComponent("config.json")))?["model_type"] as? String
        return type.flatMap(BERTConfig.Architecture.init(rawValue:)) != nil
    }

    /// Token ids as the model sees them, and whether the text was cut to fit.
    public func tokenize(_ text: String) -> TokenizedText {
        tokenizer.encode(lowercasesInput ? text.lowercased() : text, maxLength: maxLength)
    }

    public func embed(texts: [String]) throws -> [[Float]] {
        let ids = try texts.map { text in
            guard !text.allSatisfy(\.isWhitespace) else {
                throw ModelError.invalidInput(input: "\"\(text)\"", reason: "empty text")
            }
            return tokenize(text).ids
        }
        return try embed(tokenIDs: ids)
    }

    /// L2-normalized embeddings of tokenized texts, computed in one packed pass.
    public func embed(tokenIDs batch: [[Int32]]) throws -> [[Float]] {
        var vectors = try model.pooled(tokenIDs: batch, pooling: pooling)
        for layer in dense where !vectors.isEmpty {
            let rows = vectors.count
            var input = vectors.flatMap { $0 }
            var output = [Float](repeating: 0, count: rows * layer.outFeatures)
            input.withUnsafeMutableBufferPointer { i in
                output.withUnsafeMutableBufferPointer { o in layer(i.baseAddress!, rows: rows, into: o.baseAddress!) }
            }
            vectors = (0..<rows).map { Array(output[($0 * layer.outFeatures)..<(($0 + 1) * layer.outFeatures)]) }
        }
        return vectors.map { vector in
            var vector = vector
            vector.withUnsafeMutableBufferPointer { Kernels.l2Normalize($0.baseAddress!, count: $0.count) }
            return vector
        }
    }
}
