import Crypto
import Foundation
import Synchronization
import Testing
import VitrineTensor
@testable import VitrineModels

/// The reranker's checkpoint (`tools/fetch_minilm.sh` builds it from the real all-MiniLM-L6-v2
/// weights with `tools/make_crossencoder_checkpoint.py`: MiniLM's encoder and pooler under a fixed
/// random classifier) and sentence-transformers' `CrossEncoder.predict` on it
/// (`tools/make_crossencoder_fixtures.py`: Tests/Fixtures/crossencoder).
enum CrossEncoderFixtures {
    /// `VITRINE_CROSSENCODER_DIR`, else `.fixtures-minilm/crossencoder` at the repository root.
    static let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["VITRINE_CROSSENCODER_DIR"]
        ?? MiniLMFixtures.directory.deletingLastPathComponent().appendingPathComponent("crossencoder").path)

    struct Pair: Decodable {
        let query: String
        let text: String
        let max_length: Int
        let input_ids: [Int32]
        let token_type_ids: [Int32]
        let truncated: Bool
    }

    static func pairs() throws -> [Pair] {
        try JSONDecoder().decode([Pair].self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("crossencoder/pairs.json")))
    }

    static func scores() throws -> [Float] {
        try JSONDecoder().decode([Double].self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("crossencoder/scores.json"))).map(Float.init)
    }

    static func requireDirectory() throws -> URL {
        let weights = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weights.path) else {
            throw ModelError.missingFile(path: directory.path, reason: "the reranker checkpoint is not built: run tools/fetch_minilm.sh")
        }
        return directory
    }

    /// Loaded once per precision.
    static func encoder(_ precision: Precision) throws -> BERTCrossEncoder {
        try cache.withLock { encoders in
            if let encoder = encoders[precision] { return encoder }
            let encoder = try BERTCrossEncoder(directory: requireDirectory(), precision: precision)
            encoders[precision] = encoder
            return encoder
        }
    }

    private static let cache = Mutex<[Precision: BERTCrossEncoder]>([:])
}

@Suite(.enabled(if: MiniLMFixtures.shouldRun, "VITRINE_ALLOW_MISSING_MINILM=1 and no weights"), .serialized)
struct CrossEncoderParityTests {
    /// The checkpoint is the one the reference scored: same bytes.
    @Test func checkpointIsTheOneTheReferenceScored() throws {
        let versions = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Fixtures.root.appendingPathComponent("crossencoder/versions.json"))) as! [String: Any]
        let data = try Data(contentsOf: CrossEncoderFixtures.requireDirectory().appendingPathComponent("model.safetensors"), options: .alwaysMapped)
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        #expect(digest == versions["checkpoint model.safetensors sha256"] as? String)
    }

    /// Pair tokenization equals the reference's token for token: `[CLS] q [SEP] t [SEP]`, the
    /// types, and `longest_first` truncation at 512 and at 64 tokens.
    @Test func pairsTokenizeAsTheReference() throws {
        let encoder = try CrossEncoderFixtures.encoder(.fp32)
        #expect(encoder.maxLength == 512)
        #expect(encoder.activation == .identity)
        var truncated = 0
        for pair in try CrossEncoderFixtures.pairs() {
            let ours = encoder.tokenize(query: pair.query, text: pair.text, maxLength: pair.max_length)
            #expect(ours.ids == pair.input_ids, "\(pair.max_length): \(pair.query.prefix(40)) | \(pair.text.prefix(40))")
            #expect(ours.types == pair.token_type_ids)
            #expect(ours.truncated == pair.truncated)
            if pair.truncated { truncated += 1 }
        }
        #expect(truncated >= 6)
    }

    /// Scores within 1e-4 of sentence-transformers', each pair alone and all in one packed batch.
    @Test func scoresEqualTheReference() throws {
        let encoder = try CrossEncoderFixtures.encoder(.fp32)
        let pairs = try CrossEncoderFixtures.pairs()
        let expected = try CrossEncoderFixtures.scores()
        try #require(pairs.count == expected.count)
        let batched = try encoder.scores(tokenIDs: pairs.map(\.input_ids), typeIDs: pairs.map(\.token_type_ids))
        var worst: Float = 0
        for (i, pair) in pairs.enumerated() {
            let alone = try encoder.scores(pairs: [(pair.query, pair.text)], maxLength: pair.max_length)[0]
            worst = max(worst, abs(alone - expected[i]), abs(batched[i] - expected[i]))
        }
        #expect(worst <= 1e-4, "largest difference \(worst)")
        // The scores are spread, so the comparison can tell pairs apart.
        #expect(Set(expected.map { ($0 * 1000).rounded() }).count > 20)
    }

    /// Texts given more than once are scored once and each gets its score, in the caller's order:
    /// the same numbers as the distinct texts scored alone.
    @Test func repeatedTextsGetTheirScores() throws {
        let encoder = try CrossEncoderFixtures.encoder(.fp32)
        let (a, b, c) = ("Floral summer dress. Red cotton, knee length.", "Leather ankle boots", "Denim jacket with four pockets")
        let distinct = try encoder.scores(query: "red summer dress", texts: [a, b, c])
        try #require(Set(distinct).count == 3)
        let repeated = try encoder.scores(query: "red summer dress", texts: [b, a, b, c, a, a])
        #expect(repeated == [distinct[1], distinct[0], distinct[1], distinct[2], distinct[0], distinct[0]])
    }

    /// The reduced precisions order pairs as fp32 does: Kendall's tau over every pair of pairs
    /// (a reranker's output is an order), and the largest score difference.
    @Test(arguments: [(Precision.bf16, 0.02, 0.95), (.int8, 0.1, 0.85)])
    func reducedPrecisionsStayClose(_ precision: Precision, largest: Float, tau: Double) throws {
        let reference = try CrossEncoderFixtures.encoder(.fp32)
        let reduced = try CrossEncoderFixtures.encoder(precision)
        let pairs = try CrossEncoderFixtures.pairs().filter { $0.max_length == 512 }
        let a = try reference.scores(tokenIDs: pairs.map(\.input_ids), typeIDs: pairs.map(\.token_type_ids))
        let b = try reduced.scores(tokenIDs: pairs.map(\.input_ids), typeIDs: pairs.map(\.token_type_ids))
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        var concordant = 0, discordant = 0
        for i in a.indices {
            for j in a.indices where j > i && a[i] != a[j] {
                if (a[i] - a[j]) * (b[i] - b[j]) > 0 { concordant += 1 } else { discordant += 1 }
            }
        }
        let kendall = Double(concordant - discordant) / Double(concordant + discordant)
        print("reranker \(precision): largest difference \(worst), Kendall tau \(kendall)")
        #expect(worst <= largest, "\(precision): largest difference \(worst)")
        #expect(kendall >= tau, "\(precision): Kendall tau \(kendall)")
    }

    /// A checkpoint that is not a one-label classifier is refused by name.
    @Test func otherHeadsAreRefused() throws {
        let source = try CrossEncoderFixtures.requireDirectory()
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-ce-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: copy) }
        for name in ["model.safetensors", "vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.createSymbolicLink(at: copy.appendingPathComponent(name), withDestinationURL: source.appendingPathComponent(name))
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as! [String: Any]
        config["id2label"] = ["0": "negative", "1": "positive"]
        try JSONSerialization.data(withJSONObject: config).write(to: copy.appendingPathComponent("config.json"))
        #expect(throws: ModelError.self) { _ = try BERTCrossEncoder(directory: copy) }
        // The MiniLM sentence model itself has no classifier.
        #expect(throws: ModelError.self) { _ = try BERTCrossEncoder(directory: MiniLMFixtures.requireDirectory()) }
        // Sigmoid when the config names no activation (sentence-transformers' one-label default).
        config["id2label"] = ["0": "LABEL_0"]
        config.removeValue(forKey: "sbert_ce_default_activation_function")
        try JSONSerialization.data(withJSONObject: config).write(to: copy.appendingPathComponent("config.json"))
        let sigmoid = try BERTCrossEncoder(directory: copy)
        #expect(sigmoid.activation == .sigmoid)
        let raw = try CrossEncoderFixtures.encoder(.fp32).scores(query: "red dress", texts: ["a red summer dress"])[0]
        let squashed = try sigmoid.scores(query: "red dress", texts: ["a red summer dress"])[0]
        #expect(abs(squashed - 1 / (1 + expf(-raw))) < 1e-6)
    }
}
