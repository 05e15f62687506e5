import Foundation
import Synchronization
import Testing
import VitrineTensor
@testable import VitrineModels

/// The multilingual query tower's fixtures (`tools/make_multilingual_fixtures.py`): the
/// architecture of sentence-transformers/clip-ViT-B-32-multilingual-v1 (cased DistilBERT, mean
/// pooling, dense 768 → 512) with a cased WordPiece vocabulary trained on the 13 GLAMI-1M
/// languages, transformers' fast tokenizer's ids, and sentence-transformers' embeddings of the
/// random weights `RandomCheckpoint` writes from the fixture's seed (written again here, 190 MB,
/// once per run).
enum MultilingualFixtures {
    static let root = Fixtures.root.appendingPathComponent("multilingual")
    static let model = root.appendingPathComponent("model")

    struct Row: Decodable { let text: String; let ids: [Int32]; let truncated: Bool }

    static func rows() throws -> [Row] {
        try JSONDecoder().decode([Row].self, from: Data(contentsOf: root.appendingPathComponent("tokens.json")))
    }

    static func embeddings() throws -> [[Float]] {
        try Fixtures.matrix(root.appendingPathComponent("embeddings.npy"))
    }

    static func seed() throws -> UInt64 {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("versions.json"))) as? [String: Any]
        return try #require((json?["seed"] as? NSNumber)?.uint64Value)
    }

    /// The random-weight model, written once per test run.
    static func weights() throws -> URL {
        try written.withLock { url in
            if let url { return url }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-multilingual-\(ProcessInfo.processInfo.processIdentifier)")
            try? FileManager.default.removeItem(at: directory)
            try RandomCheckpoint.write(like: model, to: directory, seed: seed())
            url = directory
            return directory
        }
    }

    /// Runs `work` on a thread of its own: writing 190 MB of random weights and loading them take
    /// seconds in a debug build, and on one of the test runner's two cooperative threads they
    /// would stall every other suite's timers and I/O meanwhile.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    private static let written = Mutex<URL?>(nil)

    static func encoder(_ precision: Precision) async throws -> BERTSentenceEncoder {
        try await offPool { try cachedEncoder(precision) }
    }

    private static func cachedEncoder(_ precision: Precision) throws -> BERTSentenceEncoder {
        try cache.withLock { encoders in
            if let encoder = encoders[precision] { return encoder }
            let encoder = try BERTSentenceEncoder(directory: weights(), precision: precision)
            encoders[precision] = encoder
            return encoder
        }
    }

    private static let cache = Mutex<[Precision: BERTSentenceEncoder]>([:])
}

@Suite(.serialized) struct MultilingualParityTests {
    /// The cased multilingual WordPiece tokenizer against transformers' fast tokenizer: case and
    /// accents kept, decomposed input left decomposed, CJK split, Greek, Cyrillic, Turkish dotted
    /// and dotless i, `[UNK]` for over-long words, truncation at `max_seq_length` 128.
    @Test func tokenIDsEqualTransformers() async throws {
        let encoder = try await MultilingualFixtures.encoder(.fp32)
        #expect(encoder.maxLength == 128 && encoder.maxTokens == 128)
        #expect(!encoder.tokenizer.basic.lowercase && !encoder.tokenizer.basic.stripAccents)
        let rows = try MultilingualFixtures.rows()
        #expect(rows.count >= 80)
        #expect(rows.contains { $0.truncated } && rows.contains { $0.ids.contains(encoder.tokenizer.unknownTokenID) })
        var identical = 0
        for row in rows {
            let got = encoder.tokenize(row.text)
            #expect(got.ids == row.ids && got.truncated == row.truncated,
                    "\(row.text.debugDescription)\nexpected \(row.ids)\ngot      \(got.ids)")
            if got.ids == row.ids { identical += 1 }
        }
        print("multilingual tokenizer: \(identical) of \(rows.count) texts token for token identical to transformers")
    }

    /// fp32 against sentence-transformers, one packed batch and each text alone (the streaming
    /// few-rows path): cosine ≥ 0.99999 per text.
    @Test(arguments: [true, false])
    func fp32EmbeddingsEqualSentenceTransformers(batched: Bool) async throws {
        let encoder = try await MultilingualFixtures.encoder(.fp32)
        #expect(encoder.dimension == 512)
        #expect(encoder.pooling == .mean && encoder.dense.count == 1 && encoder.dense[0].activation == .identity)
        let rows = try MultilingualFixtures.rows()
        let want = try MultilingualFixtures.embeddings()
        let got = batched ? try encoder.embed(tokenIDs: rows.map(\.ids)) : try rows.map { try encoder.embed(tokenIDs: [$0.ids])[0] }
        #expect(got.count == want.count)
        var worstCosine: Float = 1, worstDifference: Float = 0
        for (row, (g, w)) in zip(rows, zip(got, want)) {
            let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let closeness = Closeness(g, w.map { $0 / norm })
            #expect(closeness.cosine >= 0.99999 && closeness.maxDifference <= 1e-4, "\(row.text.debugDescription): \(closeness)")
            worstCosine = min(worstCosine, closeness.cosine)
            worstDifference = max(worstDifference, closeness.maxDifference)
        }
        print("multilingual fp32 (\(batched ? "one batch" : "one at a time")): min cosine \(worstCosine), max |difference| \(worstDifference) over \(rows.count) texts")
    }

    /// The reduced precisions on the same kernels as the other encoders, against fp32
    /// sentence-transformers (random weights lack the outliers trained ones have).
    @Test(arguments: Precision.allCases.filter { $0 != .fp32 })
    func reducedPrecisionKeepsCosine(precision: Precision) async throws {
        let encoder = try await MultilingualFixtures.encoder(precision)
        let rows = try MultilingualFixtures.rows()
        let want = try MultilingualFixtures.embeddings()
        let cosines = zip(try encoder.embed(tokenIDs: rows.map(\.ids)), want).map { Closeness($0, $1).cosine }
        for (row, cosine) in zip(rows, cosines) {
            #expect(cosine >= 0.99, "\(precision) \(row.text.debugDescription): cosine \(cosine)")
        }
        print("multilingual \(precision): min cosine \(cosines.min()!), mean \(cosines.reduce(0, +) / Float(cosines.count)) to fp32 sentence-transformers")
    }

    @Test func textsGoThroughTheTokenizer() async throws {
        let encoder = try await MultilingualFixtures.encoder(.fp32)
        let rows = try MultilingualFixtures.rows()
        let want = try MultilingualFixtures.embeddings()
        let got = try encoder.embed(texts: rows.prefix(4).map(\.text))
        for (g, w) in zip(got, want) { #expect(Closeness(g, w).cosine >= 0.99999) }
        #expect(throws: ModelError.self) { try encoder.embed(texts: [" \t"]) }
        #expect(BERTSentenceEncoder.isSentenceModel(MultilingualFixtures.model))
        #expect(!BERTSentenceEncoder.isSentenceModel(Fixtures.model("tiny-clip-p32")))
    }
}

/// How `modules.json`, the pooling and the dense module are read, on small files written here.
@Suite struct SentenceModulesTests {
    func folder(_ files: [String: Any]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-modules-\(UUID().uuidString)")
        for (path, value) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try JSONSerialization.data(withJSONObject: value).write(to: url)
        }
        return dir
    }

    @Test func poolingConfigsOldAndNew() throws {
        let dir = try folder([
            "old/config.json": ["word_embedding_dimension": 4, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true],
            "new/config.json": ["embedding_dimension": 4, "pooling_mode": ["max", "lasttoken"]],
            "one/config.json": ["pooling_mode": "weightedmean"],
            "none/config.json": ["word_embedding_dimension": 4],
            "bad/config.json": ["pooling_mode": "median"],
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try SentencePooling(contentsOf: dir.appendingPathComponent("old/config.json")).modes == [.cls, .mean])
        #expect(try SentencePooling(contentsOf: dir.appendingPathComponent("new/config.json")).modes == [.max, .lastToken])
        #expect(try SentencePooling(contentsOf: dir.appendingPathComponent("one/config.json")).modes == [.weightedMean])
        #expect(try SentencePooling(contentsOf: dir.appendingPathComponent("none/config.json")) == .mean)
        #expect(throws: ModelError.self) { try SentencePooling(contentsOf: dir.appendingPathComponent("bad/config.json")) }
    }

    /// Each mode over three tokens of width 2, against values worked out by hand.
    @Test func poolingModes() {
        let x: [Float] = [1, -2, 3, 4, -5, 0]  // rows (1, -2), (3, 4), (-5, 0)
        let expected: [SentencePooling.Mode: [Float]] = [
            .cls: [1, -2], .lastToken: [-5, 0], .max: [3, 4], .mean: [-1.0 / 3, 2.0 / 3],
            .meanSqrtLength: [-1 / Float(3).squareRoot(), 2 / Float(3).squareRoot()],
            .weightedMean: [(1 + 6 - 15) / 6.0, (-2 + 8 + 0) / 6.0],
        ]
        for (mode, want) in expected {
            var out = [Float](repeating: .nan, count: 2)
            x.withUnsafeBufferPointer { SentencePooling(modes: [mode]).pool($0.baseAddress!, rows: 3, width: 2, into: &out) }
            for (g, w) in zip(out, want) { #expect(abs(g - w) < 1e-6, "\(mode): \(out) against \(want)") }
        }
        var both = [Float](repeating: .nan, count: 4)
        x.withUnsafeBufferPointer { SentencePooling(modes: [.cls, .max]).pool($0.baseAddress!, rows: 3, width: 2, into: &both) }
        #expect(both == [1, -2, 3, 4])
    }

    @Test func modulesAreCheckedAndNamed() throws {
        let transformer = ["idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"] as [String: Any]
        let unknown = try folder(["modules.json": [transformer, ["path": "1_X", "type": "sentence_transformers.models.LSTM"]]])
        let backwards = try folder(["modules.json": [["path": "1_Pooling", "type": "sentence_transformers.models.Pooling"], transformer]])
        let escaping = try folder(["modules.json": [transformer, ["path": "../elsewhere", "type": "sentence_transformers.models.Pooling"]]])
        defer { for dir in [unknown, backwards, escaping] { try? FileManager.default.removeItem(at: dir) } }
        #expect { try SentenceModules(directory: unknown, precision: .fp32) } throws: { "\($0)".contains("LSTM") }
        #expect { try SentenceModules(directory: backwards, precision: .fp32) } throws: { "\($0)".contains("out of order") }
        #expect { try SentenceModules(directory: escaping, precision: .fp32) } throws: { "\($0)".contains("leaves the directory") }
    }

    /// A dense module whose input does not match the pooling's output is refused when loading.
    @Test func denseWidthMustMatch() throws {
        // The fixture's layout at a tiny width (16 wide, one layer), so writing it takes no time.
        let like = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-dense-like-\(UUID().uuidString)")
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-dense-\(UUID().uuidString)")
        defer { for dir in [like, copy] { try? FileManager.default.removeItem(at: dir) } }
        try FileManager.default.copyItem(at: MultilingualFixtures.model, to: like)
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: like.appendingPathComponent("config.json"))) as? [String: Any])
        config["dim"] = 16; config["hidden_dim"] = 32; config["n_layers"] = 1; config["n_heads"] = 2
        try JSONSerialization.data(withJSONObject: config).write(to: like.appendingPathComponent("config.json"))
        try JSONSerialization.data(withJSONObject: ["in_features": 16, "out_features": 8, "bias": true]).write(to: like.appendingPathComponent("2_Dense/config.json"))
        try RandomCheckpoint.write(like: like, to: copy, seed: 1)
        #expect(try BERTSentenceEncoder(directory: copy).dimension == 8)
        let dense = copy.appendingPathComponent("2_Dense/config.json")
        try JSONSerialization.data(withJSONObject: ["in_features": 700, "out_features": 8, "bias": true]).write(to: dense)
        #expect { try BERTSentenceEncoder(directory: copy) } throws: { "\($0)".contains("700") }
        try JSONSerialization.data(withJSONObject: ["in_features": 16, "out_features": 8, "bias": true,
                                                    "activation_function": "torch.nn.modules.activation.GELU"]).write(to: dense)
        #expect { try BERTSentenceEncoder(directory: copy) } throws: { "\($0)".contains("GELU") }
    }

    @Test func distilBERTConfig() throws {
        let config = try BERTConfig(contentsOf: MultilingualFixtures.model.appendingPathComponent("config.json"))
        #expect(config.architecture == .distilbert && config.typeVocabSize == 0)
        #expect(config.encoder == EncoderConfig(hiddenSize: 768, intermediateSize: 3072, layers: 6, heads: 12, activation: .gelu, layerNormEps: 1e-12))
        #expect { try BERTConfig(json: ["model_type": "distilbert", "sinusoidal_pos_embds": true], path: "c.json") } throws: {
            "\($0)".contains("sinusoidal")
        }
        #expect { try BERTConfig(json: ["model_type": "roberta"], path: "c.json") } throws: { "\($0)".contains("roberta") }
    }
}
