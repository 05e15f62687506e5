import Foundation
import Synchronization
import Testing
import VitrineTensor
@testable import VitrineModels

/// The real all-MiniLM-L6-v2 weights (`tools/fetch_minilm.sh`, never committed) and the reference
/// outputs of `tools/make_minilm_fixtures.py` (transformers' tokenizer and BertModel, mean pooled).
enum MiniLMFixtures {
    /// `VITRINE_MINILM_DIR`, else `.fixtures-minilm/all-MiniLM-L6-v2` at the repository root.
    static let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["VITRINE_MINILM_DIR"]
        ?? Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".fixtures-minilm/all-MiniLM-L6-v2").path)

    static var isPresent: Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent("model.safetensors").path)
    }

    /// Missing weights fail the tests (scripts/test.sh fetches them first); only
    /// `VITRINE_ALLOW_MISSING_MINILM=1` turns the suite off instead.
    static var shouldRun: Bool {
        isPresent || ProcessInfo.processInfo.environment["VITRINE_ALLOW_MISSING_MINILM"] != "1"
    }

    static func requireDirectory() throws -> URL {
        guard isPresent else {
            throw ModelError.missingFile(
                path: directory.path,
                reason: "all-MiniLM-L6-v2 is not fetched: run tools/fetch_minilm.sh (or set VITRINE_ALLOW_MISSING_MINILM=1 to skip these tests)")
        }
        return directory
    }

    struct Sentence: Decodable { let text: String; let ids: [Int32]; let truncated: Bool }

    static func sentences() throws -> [Sentence] {
        try JSONDecoder().decode([Sentence].self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("minilm/sentences.json")))
    }

    static func embeddings() throws -> [[Float]] {
        try Fixtures.matrix(Fixtures.root.appendingPathComponent("minilm/embeddings.npy"))
    }

    /// Loaded once per precision: reading 90 MB of weights is the slow part.
    static func encoder(_ precision: Precision) throws -> BERTSentenceEncoder {
        try cache.withLock { encoders in
            if let encoder = encoders[precision] { return encoder }
            let encoder = try BERTSentenceEncoder(directory: requireDirectory(), precision: precision)
            encoders[precision] = encoder
            return encoder
        }
    }

    private static let cache = Mutex<[Precision: BERTSentenceEncoder]>([:])
}

/// all-MiniLM-L6-v2 (a 6-layer BERT) through Vitrine's own kernels against transformers, and the
/// reduced precisions' cosine to fp32 on real weights, outlier channels and all (issue 3).
@Suite(.enabled(if: MiniLMFixtures.shouldRun, "VITRINE_ALLOW_MISSING_MINILM=1 and no weights"), .serialized)
struct MiniLMParityTests {
    @Test func tokenIDsEqualTransformers() throws {
        let encoder = try MiniLMFixtures.encoder(.fp32)
        #expect(encoder.maxLength == 256, "max_seq_length of sentence_bert_config.json")
        let sentences = try MiniLMFixtures.sentences()
        #expect(sentences.count >= 24)
        #expect(sentences.contains { $0.truncated } && sentences.contains { $0.ids.count > 128 && !$0.truncated })
        var identical = 0
        for sentence in sentences {
            let got = encoder.tokenize(sentence.text)
            #expect(got.ids == sentence.ids && got.truncated == sentence.truncated,
                    "\(sentence.text.debugDescription)\nexpected \(sentence.ids)\ngot      \(got.ids)")
            if got.ids == sentence.ids { identical += 1 }
        }
        print("MiniLM tokenizer: \(identical) of \(sentences.count) sentences token for token identical to transformers")
    }

    /// fp32 against transformers, the batch packed in one pass and each sentence alone (the
    /// streaming few-rows path): cosine ≥ 0.99999 and max |difference| ≤ 1e-5 per sentence, ten
    /// times tighter than the CLIP fixtures' 1e-4 (measured: 1.5e-7).
    @Test(arguments: [true, false])
    func fp32EmbeddingsEqualTransformers(batched: Bool) throws {
        let encoder = try MiniLMFixtures.encoder(.fp32)
        let sentences = try MiniLMFixtures.sentences()
        let want = try MiniLMFixtures.embeddings()
        let got = batched
            ? try encoder.model.embed(tokenIDs: sentences.map(\.ids))
            : try sentences.map { try encoder.model.embed(tokenIDs: [$0.ids])[0] }
        #expect(got.count == want.count)
        var worstCosine: Float = 1, worstDifference: Float = 0
        for (sentence, (g, w)) in zip(sentences, zip(got, want)) {
            let closeness = Closeness(g, w)
            #expect(closeness.cosine >= 0.99999 && closeness.maxDifference <= 1e-5, "\(sentence.text.debugDescription): \(closeness)")
            worstCosine = min(worstCosine, closeness.cosine)
            worstDifference = max(worstDifference, closeness.maxDifference)
        }
        print("MiniLM fp32 (\(batched ? "one batch" : "one at a time")): min cosine \(worstCosine), max |difference| \(worstDifference) over \(sentences.count) sentences")
    }

    /// Each reduced precision's sentence embeddings against fp32 transformers: the issue's
    /// target is cosine ≥ 0.995 for every sentence, on every kernel path. 8-bit int8 weights (VNNI,
    /// or Vitrine's AVX2 batch kernel) keep it with room; the 7 bits of oneDNN without VNNI (the
    /// portable path) measured 0.99524 on the worst of the 26 sentences (Zen 1), just inside.
    @Test(arguments: Precision.allCases.filter { $0 != .fp32 })
    func reducedPrecisionKeepsCosine(precision: Precision) throws {
        let encoder = try MiniLMFixtures.encoder(precision)
        let sentences = try MiniLMFixtures.sentences()
        let want = try MiniLMFixtures.embeddings()
        let got = try encoder.model.embed(tokenIDs: sentences.map(\.ids))
        let cosines = zip(got, want).map { Closeness($0, $1).cosine }
        let bound: Float = 0.995
        for (sentence, cosine) in zip(sentences, cosines) {
            #expect(cosine >= bound, "\(precision) \(sentence.text.debugDescription): cosine \(cosine)")
        }
        let mean = cosines.reduce(0, +) / Float(cosines.count)
        print("MiniLM \(precision): min cosine \(cosines.min()!), mean \(mean) to fp32 transformers over \(sentences.count) sentences")
    }

    @Test func textEncoderEmbedsThroughTheTokenizer() throws {
        let encoder = try MiniLMFixtures.encoder(.fp32)
        let sentences = try MiniLMFixtures.sentences()
        let want = try MiniLMFixtures.embeddings()
        let got = try encoder.embed(texts: sentences.prefix(3).map(\.text))
        for (g, w) in zip(got, want) { #expect(Closeness(g, w).isParity) }
        #expect(encoder.dimension == 384)
        #expect(throws: ModelError.self) { try encoder.embed(texts: [" \n"]) }
        #expect(throws: ModelError.self) { try encoder.model.embed(tokenIDs: [[101, 30522, 102]]) }
        #expect(throws: ModelError.self) { try encoder.model.embed(tokenIDs: [[Int32](repeating: 1000, count: 513)]) }
    }
}

/// The WordPiece tokenizer's rules on the real uncased vocabulary, beyond the parity sentences.
@Suite(.enabled(if: MiniLMFixtures.shouldRun, "VITRINE_ALLOW_MISSING_MINILM=1 and no weights"))
struct BERTTokenizerTests {
    static func tokenizer() throws -> BERTTokenizer {
        try BERTTokenizer(directory: MiniLMFixtures.requireDirectory())
    }

    @Test func specialTokensAndVocabulary() throws {
        let t = try Self.tokenizer()
        #expect((t.clsTokenID, t.sepTokenID, t.unknownTokenID, t.padTokenID) == (101, 102, 100, 0))
        #expect(t.vocabularySize == 30522)
        #expect(t.encode("") == TokenizedText(ids: [101, 102], truncated: false))
        #expect(t.encode(" \t\n\u{3000}\u{0B}") == TokenizedText(ids: [101, 102], truncated: false))
        // Typed special tokens keep their ids; other spellings are ordinary text.
        #expect(t.encode("red [MASK] dress").ids == [101, 2417, 103, 4377, 102])
    }

    /// The reference's 100-character limit is on the piece, in Unicode scalars.
    @Test func longPiecesAreUnknown() throws {
        let t = try Self.tokenizer()
        #expect(t.encode(String(repeating: "a", count: 100)).ids.count > 3)
        #expect(t.encode(String(repeating: "a", count: 101)).ids == [101, 100, 102])
    }

    /// Shorter limits keep a prefix of the content and still end with `[SEP]`.
    @Test(arguments: [0, 1, 2, 3, 5, 10, 128, 256, 512])
    func otherMaximumLengths(maxLength: Int) throws {
        let t = try Self.tokenizer()
        let text = "a photo of a " + String(repeating: "very ", count: 300) + "red dress"
        let full = t.encode(text, maxLength: 10_000)
        #expect(!full.truncated)
        let content = full.ids.dropFirst().dropLast()
        let budget = max(maxLength, 2) - 2
        let got = t.encode(text, maxLength: maxLength)
        #expect(got.ids == [101] + content.prefix(budget) + [102])
        #expect(got.truncated == (content.count > budget))
    }
}

/// The tokenizer on a small vocabulary written here: needs no fetched files, so it always runs.
@Suite struct BERTTokenizerVocabularyTests {
    static func tokenizer(_ lines: [String], separator: String, lowercase: Bool = true) throws -> BERTTokenizer {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bert-vocab-\(UUID().uuidString).txt")
        try (lines.joined(separator: separator) + separator).write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        return try BERTTokenizer(vocabURL: url, lowercase: lowercase)
    }

    static let lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red", "dress", "##es", "cafe", "!", "中"]

    @Test(arguments: ["\n", "\r\n"])
    func linesAreTokensWhateverTheLineEnd(separator: String) throws {
        let t = try Self.tokenizer(Self.lines, separator: separator)
        #expect(t.vocabularySize == Self.lines.count)
        #expect(t.encode("Red DRESSES!").ids == [2, 5, 6, 7, 9, 3])
        #expect(t.encode("Café 中red").ids == [2, 8, 10, 5, 3])
        #expect(t.encode("reddress blue").ids == [2, 1, 1, 3], "no cover, and no entry: [UNK] each")
        #expect(t.encode("[MASK][SEP]red").ids == [2, 4, 3, 5, 3])
    }

    @Test func casedVocabularyKeepsCaseAndAccents() throws {
        let t = try Self.tokenizer(Self.lines + ["Café"], separator: "\n", lowercase: false)
        #expect(t.encode("Café red").ids == [2, 11, 5, 3])
    }

    @Test func missingSpecialTokenIsNamed() throws {
        #expect(throws: TokenizerError.self) { try Self.tokenizer(["[PAD]", "[UNK]", "red"], separator: "\n") }
    }
}

/// BERT's basic tokenization against the reference for every Unicode scalar, probed as `a`,
/// the scalar, `b`: which scalars are dropped, separate words, stand alone (punctuation, CJK),
/// or change (lowercase, NFD and accent stripping). The table is written by
/// `tools/make_minilm_fixtures.py --all-scalars` into `.fixtures-minilm/scalars.json` (330 KB,
/// not committed); the test runs where it is present.
@Suite struct BERTBasicTokenizerScalarTests {
    static let table = MiniLMFixtures.directory.deletingLastPathComponent().appendingPathComponent("scalars.json")

    struct Table: Decodable {
        let ranges: [String: [[UInt32]]]
        let explicit: [String: [String]]
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: table.path)))
    func everyScalarMatchesTheReference() throws {
        let table = try JSONDecoder().decode(Table.self, from: Data(contentsOf: Self.table))
        var expected: [UInt32: [String]] = [:]
        for (kind, ranges) in table.ranges {
            for range in ranges {
                for v in range[0]...range[1] {
                    let c = String(Unicode.Scalar(v)!)
                    expected[v] = switch kind {
                    case "dropped": ["ab"]
                    case "separator": ["a", "b"]
                    default: ["a", c, "b"]
                    }
                }
            }
        }
        for (key, pieces) in table.explicit { expected[UInt32(key)!] = pieces }

        let basic = BERTBasicTokenizer(lowercase: true, stripAccents: true, splitsChineseCharacters: true)
        var mismatches: [String] = []
        var checked = 0
        for v in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(v) else { continue }
            let want = expected[v] ?? ["a" + String(scalar) + "b"]
            var got: [String] = []
            var word: [Unicode.Scalar] = []
            func flush() {
                _ = basic.forEachPiece(of: word[...]) { got.append(String(String.UnicodeScalarView($0))); return true }
                word.removeAll()
            }
            for s in ["a", scalar, "b"] as [Unicode.Scalar] {
                if BERTBasicTokenizer.isSeparator(s) { flush() } else { word.append(s) }
            }
            flush()
            checked += 1
            // Compare scalar by scalar: String equality is canonical equivalence.
            if got.map({ Array($0.unicodeScalars) }) != want.map({ Array($0.unicodeScalars) }) {
                mismatches.append(String(format: "U+%04X", v) + " (\(scalar.properties.generalCategory), Unicode \(scalar.properties.age.map { "\($0.major).\($0.minor)" } ?? "unassigned")): want \(want.map(\.unicodeScalars).map { $0.map { String($0.value, radix: 16) } }) got \(got.map(\.unicodeScalars).map { $0.map { String($0.value, radix: 16) } })")
            }
        }
        print("BERT basic tokenization: \(checked - mismatches.count) of \(checked) scalars as the reference"
              + (mismatches.isEmpty ? "" : "; mismatches:\n" + mismatches.prefix(60).joined(separator: "\n")))
        #expect(mismatches.isEmpty, "\(mismatches.count) scalars differ")
    }
}
