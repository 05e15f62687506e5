import Foundation
import VitrineTensor

/// sentence-transformers' text path for a BERT model such as all-MiniLM-L6-v2: the WordPiece
/// tokenizer, truncation at the model's `max_seq_length`, then ``BERTModel``'s mean pooling.
///
/// Its embeddings live in the sentence model's own space (text to text), not in a CLIP model's
/// joint space: it finds texts like a text, not images.
public struct BERTSentenceEncoder: TextEncoder {
    public let model: BERTModel
    public let tokenizer: BERTTokenizer
    /// Tokens per text, `[CLS]` and `[SEP]` included: `max_seq_length` of
    /// `sentence_bert_config.json` (256 for all-MiniLM-L6-v2), else the model's position count.
    public let maxLength: Int

    public var dimension: Int { model.dimension }

    /// Loads model, tokenizer and sentence-transformers' `max_seq_length` from `directory`.
    public init(directory: URL, precision: Precision = .fp32) throws {
        let model = try BERTModel(directory: directory, precision: precision)
        let tokenizer = try BERTTokenizer(directory: directory)
        var maxLength = model.config.maxPositions
        let sentenceConfig = directory.appendingPathComponent("sentence_bert_config.json")
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
        }
        self.init(model: model, tokenizer: tokenizer, maxLength: maxLength)
    }

    public init(model: BERTModel, tokenizer: BERTTokenizer, maxLength: Int) {
        self.model = model
        self.tokenizer = tokenizer
        self.maxLength = min(max(maxLength, 2), model.config.maxPositions)
    }

    /// Token ids as the model sees them, and whether the text was cut to fit.
    public func tokenize(_ text: String) -> TokenizedText {
        tokenizer.encode(text, maxLength: maxLength)
    }

    public func embed(texts: [String]) throws -> [[Float]] {
        let ids = try texts.map { text in
            guard !text.allSatisfy(\.isWhitespace) else {
                throw ModelError.invalidInput(input: "\"\(text)\"", reason: "empty text")
            }
            return tokenize(text).ids
        }
        return try model.embed(tokenIDs: ids)
    }
}
