import Foundation
import VitrineTensor

/// A cross-encoder reranker: transformers' `BertForSequenceClassification` with one label (the
/// architecture of cross-encoder/ms-marco-MiniLM-L-6-v2), scoring a query and a text read
/// together, as sentence-transformers' `CrossEncoder.predict` does:
///
/// 1. the pair is tokenized as `[CLS] query [SEP] text [SEP]`, token type 0 up to the first
///    `[SEP]` and 1 after it, cut to `maxLength` tokens by the `longest_first` rule (below);
/// 2. the BERT encoder runs over the pair (pairs of a batch packed unpadded, as the towers do);
/// 3. the pooler, `tanh(dense(h[CLS]))`, then the classifier, `dot(w, ·) + b`, give the logit;
/// 4. the score is the logit, or its sigmoid: sentence-transformers applies a sigmoid to a one-label
///    model unless its config names another activation (the ms-marco models name `Identity`).
public struct BERTCrossEncoder: Sendable {
    public let model: BERTModel
    public let tokenizer: BERTTokenizer
    /// Tokens per pair, special tokens included: the tokenizer's `model_max_length` (512 for the
    /// ms-marco models), at most the model's position count.
    public let maxLength: Int
    /// What turns the logit into the score.
    public let activation: ScoreActivation

    let pooler: Linear       // bert.pooler.dense
    let classifier: [Float]  // classifier.weight, [width]
    let classifierBias: Float

    /// The function applied to the classifier's logit.
    public enum ScoreActivation: String, Sendable, Equatable {
        case identity
        case sigmoid
    }

    /// Loads a `BertForSequenceClassification` checkpoint with one label from `directory`
    /// (config.json, safetensors weights, vocab.txt and tokenizer_config.json).
    public init(directory: URL, precision: Precision = .fp32) throws {
        let configURL = directory.appendingPathComponent("config.json")
        let json = try ConfigReader.object(contentsOf: configURL)
        let config = try BERTConfig(json: json, path: configURL.path)
        guard config.architecture == .bert else {
            throw ModelError.unsupportedModel(path: configURL.path, reason: "model_type \"\(config.architecture.rawValue)\"; a reranker is a BERT (BertForSequenceClassification)")
        }
        let labels = (json["id2label"] as? [String: Any])?.count ?? (json["num_labels"] as? Int) ?? 2
        guard labels == 1 else {
            throw ModelError.unsupportedModel(path: configURL.path, reason: "\(labels) labels; a reranker has one (a relevance score)")
        }
        activation = try Self.activation(json, path: configURL.path)

        let weights = WeightReader(checkpoint: try Checkpoint(directory: directory), precision: precision)
        let w = config.encoder.hiddenSize
        guard weights.checkpoint.contains("classifier.weight") else {
            throw ModelError.unsupportedModel(path: directory.path, reason: "no classifier.weight: not a sequence-classification checkpoint")
        }
        model = try BERTModel(directory: directory, config: config, weights: weights)
        let m = BERTModel.prefix(of: weights.checkpoint, architecture: .bert)
        pooler = try weights.linear("\(m)pooler.dense", in: w, out: w)
        classifier = try weights.tensor("classifier.weight", shape: [1, w])
        classifierBias = try weights.tensor("classifier.bias", shape: [1])[0]
        tokenizer = try BERTTokenizer(directory: directory)

        var maxLength = config.maxPositions
        let tokenizerConfig = directory.appendingPathComponent("tokenizer_config.json")
        if FileManager.default.fileExists(atPath: tokenizerConfig.path) {
            let settings = try ConfigReader.object(contentsOf: tokenizerConfig)
            // Tokenizers without a limit write a huge sentinel (1e30); the model's positions cap it.
            if let limit = settings["model_max_length"] as? Double, limit >= 4 {
                maxLength = Int(min(limit, Double(maxLength)))
            }
        }
        self.maxLength = maxLength
    }

    /// The activation sentence-transformers applies: `sentence_transformers.activation_fn` in
    /// config.json (version 4 on), else the older `sbert_ce_default_activation_function`, else a
    /// sigmoid (its default for one label).
    static func activation(_ json: [String: Any], path: String) throws -> ScoreActivation {
        let named = ((json["sentence_transformers"] as? [String: Any])?["activation_fn"] as? String)
            ?? (json["sbert_ce_default_activation_function"] as? String)
        guard let named else { return .sigmoid }
        switch named.split(separator: ".").last.map(String.init) {
        case "Identity": return .identity
        case "Sigmoid": return .sigmoid
        default: throw ModelError.unsupportedModel(path: path, reason: "activation \"\(named)\"; Identity and Sigmoid are implemented")
        }
    }

    /// The token ids and token types of a pair as `CrossEncoder` builds them, cut to `maxLength`
    /// tokens (at most ``maxLength``) by the fast tokenizers' `longest_first` rule. With a budget of
    /// `maxLength - 3` tokens for the two texts: when both fit, nothing is cut; when the shorter
    /// (the query on a tie) fits in half the budget, it stays whole and the longer fills the rest;
    /// otherwise the shorter keeps the budget's floor half and the longer its ceiling half. Each
    /// side loses tokens from its end.
    public func tokenize(query: String, text: String, maxLength requested: Int? = nil) -> (ids: [Int32], types: [Int32], truncated: Bool) {
        pair(pieces(query), pieces(text), maxLength: requested)
    }

    /// A text's tokens without `[CLS]` and `[SEP]`, whole: the cut needs both sides' true lengths.
    func pieces(_ text: String) -> ArraySlice<Int32> {
        tokenizer.encode(text, maxLength: .max).ids.dropFirst().dropLast()
    }

    /// Two sides' tokens as one pair, cut as ``tokenize(query:text:maxLength:)`` describes.
    func pair(_ q: ArraySlice<Int32>, _ t: ArraySlice<Int32>, maxLength requested: Int?) -> (ids: [Int32], types: [Int32], truncated: Bool) {
        let limit = min(max(requested ?? maxLength, 4), maxLength)
        let budget = limit - 3
        var keepQuery = q.count, keepText = t.count
        if q.count + t.count > budget {
            let queryIsShorter = q.count <= t.count
            let shorter = min(q.count, t.count)
            let (short, long) = 2 * shorter <= budget ? (shorter, budget - shorter) : (budget / 2, budget - budget / 2)
            (keepQuery, keepText) = queryIsShorter ? (short, long) : (long, short)
        }
        let ids = [tokenizer.clsTokenID] + q.prefix(keepQuery) + [tokenizer.sepTokenID] + t.prefix(keepText) + [tokenizer.sepTokenID]
        let types = [Int32](repeating: 0, count: keepQuery + 2) + [Int32](repeating: 1, count: keepText + 1)
        return (ids, types, keepQuery < q.count || keepText < t.count)
    }

    /// Scores of `text`s against `query` (one per text, in order), all pairs in one packed pass.
    /// `maxLength` cuts pairs shorter than the model allows (a reranker of product texts runs at
    /// 64 or 128 tokens for speed). A text given more than once (a catalog's variants often share
    /// one) is scored once.
    public func scores(query: String, texts: [String], maxLength: Int? = nil) throws -> [Float] {
        // Keyed by bytes: Swift's string equality joins canonically equivalent texts ("é" and
        // "e" + U+0301), which a cased tokenizer reads differently.
        var slots: [[UInt8]: Int] = [:]
        var distinct: [String] = []
        let slot = texts.map { text in
            let key = Array(text.utf8)
            if let known = slots[key] { return known }
            slots[key] = distinct.count
            distinct.append(text)
            return distinct.count - 1
        }
        let q = pieces(query)  // once for all the texts
        let encoded = distinct.map { pair(q, pieces($0), maxLength: maxLength) }
        let scored = try scores(tokenIDs: encoded.map(\.ids), typeIDs: encoded.map(\.types))
        return slot.map { scored[$0] }
    }

    /// Scores of (query, text) pairs, in order.
    public func scores(pairs: [(query: String, text: String)], maxLength: Int? = nil) throws -> [Float] {
        let encoded = pairs.map { tokenize(query: $0.query, text: $0.text, maxLength: maxLength) }
        return try scores(tokenIDs: encoded.map(\.ids), typeIDs: encoded.map(\.types))
    }

    /// Scores of tokenized pairs (`[CLS] a [SEP] b [SEP]` with their token types).
    public func scores(tokenIDs: [[Int32]], typeIDs: [[Int32]]) throws -> [Float] {
        guard tokenIDs.count == typeIDs.count else {
            throw ModelError.invalidInput(input: "token type ids", reason: "\(typeIDs.count) sequences for \(tokenIDs.count) pairs")
        }
        let w = model.dimension
        return try model.encode(tokenIDs: tokenIDs, typeIDs: typeIDs) { x, sequences in
            // The pooler reads each pair's [CLS] row.
            let first = UnsafeMutablePointer<Float>.allocate(capacity: sequences.count * w)
            let pooled = UnsafeMutablePointer<Float>.allocate(capacity: sequences.count * w)
            defer {
                first.deallocate()
                pooled.deallocate()
            }
            for (i, sequence) in sequences.enumerated() {
                (first + i * w).update(from: x + sequence.start * w, count: w)
            }
            pooler(first, rows: sequences.count, into: pooled)
            return classifier.withUnsafeBufferPointer { weight in
                (0..<sequences.count).map { i in
                    var logit: Float = 0
                    for j in 0..<w { logit += weight[j] * tanhf(pooled[i * w + j]) }
                    logit += classifierBias
                    switch activation {
                    case .identity: return logit
                    case .sigmoid: return 1 / (1 + expf(-logit))
                    }
                }
            }
        } ?? []
    }
}
