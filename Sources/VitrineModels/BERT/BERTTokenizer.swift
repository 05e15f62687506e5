import Foundation

/// The tokenizer of BERT models (all-MiniLM-L6-v2 among them), identical in output to
/// transformers 5's `BertTokenizer` called as `tokenizer(text, truncation=True, max_length=n)`.
///
/// The pipeline of the `tokenizers` library, step by step:
/// 1. Special tokens typed in the raw text (`[CLS]`, `[SEP]`, `[MASK]`, `[PAD]`, `[UNK]`, exactly
///    so spelled) become their ids.
/// 2. The rest goes through BERT's basic tokenization (``BERTBasicTokenizer``): cleaning, CJK
///    splitting, accent stripping and lowercasing for uncased models, punctuation splitting.
/// 3. Each piece becomes WordPiece tokens: greedily the longest vocabulary entry from the start,
///    then the longest `##`-prefixed entry from where it ended, and so on. A piece with no such
///    cover, or longer than 100 characters, becomes `[UNK]` as a whole.
/// 4. The ids are cut to `maxLength - 2` and framed by `[CLS]` and `[SEP]`.
///
/// Encoding never fails, and stops as soon as the result is known to be truncated. The type is a
/// value sharing read-only tables, safe to use from many tasks at once.
public struct BERTTokenizer: Sendable {
    /// BERT's position embeddings hold 512 tokens.
    public static let defaultMaxLength = 512
    /// Longer pieces are `[UNK]` without a search (the reference's `max_input_chars_per_word`).
    public static let maxCharactersPerWord = 100

    public let clsTokenID: Int32
    public let sepTokenID: Int32
    public let unknownTokenID: Int32
    public let padTokenID: Int32
    /// Lines of `vocab.txt` (30,522 for the uncased BERT vocabulary).
    public let vocabularySize: Int

    let basic: BERTBasicTokenizer
    /// Keyed by UTF-8 bytes: `String` equality is canonical equivalence, which would merge
    /// entries (and match pieces) that the reference keeps apart.
    private let vocabulary: [[UInt8]: Int32]
    /// Special tokens matched in the raw text, longest first.
    private let specialTokens: [(scalars: [Unicode.Scalar], id: Int32)]

    /// Loads `vocab.txt`, and the casing options of `tokenizer_config.json` when present
    /// (`do_lower_case`, `strip_accents`, `tokenize_chinese_chars`; uncased BERT's by default).
    /// - Throws: ``TokenizerError`` naming the file that is missing or malformed.
    public init(directory: URL) throws(TokenizerError) {
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        var config: [String: Any] = [:]
        if FileManager.default.fileExists(atPath: configURL.path) {
            guard let data = try? Data(contentsOf: configURL),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { throw .malformedFile(path: configURL.path, reason: "not a JSON object") }
            config = json
        }
        let lowercase = config["do_lower_case"] as? Bool ?? true
        try self.init(
            vocabURL: directory.appendingPathComponent("vocab.txt"),
            lowercase: lowercase,
            stripAccents: config["strip_accents"] as? Bool,
            splitsChineseCharacters: config["tokenize_chinese_chars"] as? Bool ?? true
        )
    }

    /// - Parameters:
    ///   - stripAccents: `nil` follows `lowercase`, as in the reference.
    /// - Throws: ``TokenizerError`` if `vocab.txt` is unreadable or lacks `[CLS]`, `[SEP]`, `[UNK]` or `[PAD]`.
    public init(vocabURL: URL, lowercase: Bool = true, stripAccents: Bool? = nil, splitsChineseCharacters: Bool = true) throws(TokenizerError) {
        let data: Data
        do { data = try Data(contentsOf: vocabURL) } catch {
            throw .unreadableFile(path: vocabURL.path, reason: FileManager.default.fileExists(atPath: vocabURL.path) ? "\(error)" : "no such file")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw .malformedFile(path: vocabURL.path, reason: "not valid UTF-8")
        }
        // One token per line, its id the line number; a line's trailing whitespace (a CR of CRLF
        // included) is not part of the token, and a repeated token keeps its last line.
        // Split scalars, not Characters: Swift takes CRLF for one Character, which is not "\n".
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var vocabulary: [[UInt8]: Int32] = [:]
        vocabulary.reserveCapacity(lines.count)
        for (index, line) in lines.enumerated() {
            var token = line
            while let last = token.last, last.properties.isWhitespace { token = token.dropLast() }
            vocabulary[Array(String(String.UnicodeScalarView(token)).utf8)] = Int32(index)
        }
        func special(_ spelling: String) throws(TokenizerError) -> Int32 {
            guard let id = vocabulary[Array(spelling.utf8)] else { throw .missingSpecialToken(path: vocabURL.path, token: spelling) }
            return id
        }
        clsTokenID = try special("[CLS]")
        sepTokenID = try special("[SEP]")
        unknownTokenID = try special("[UNK]")
        padTokenID = try special("[PAD]")
        vocabularySize = lines.count
        self.vocabulary = vocabulary
        specialTokens = ["[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]"].compactMap { spelling in
            vocabulary[Array(spelling.utf8)].map { (Array(spelling.unicodeScalars), $0) }
        }.sorted { $0.scalars.count > $1.scalars.count }
        basic = BERTBasicTokenizer(lowercase: lowercase, stripAccents: stripAccents ?? lowercase,
                                   splitsChineseCharacters: splitsChineseCharacters)
    }

    /// Encodes `text` as `[CLS] + tokens + [SEP]`, keeping the first `maxLength - 2` tokens.
    /// Empty or whitespace-only text encodes to `[CLS, SEP]`.
    /// - Parameter maxLength: the longest result, special tokens included; values below 2 act as 2.
    public func encode(_ text: String, maxLength: Int = BERTTokenizer.defaultMaxLength) -> TokenizedText {
        let budget = max(maxLength, 2) - 2
        var ids: [Int32] = []
        ids.reserveCapacity(min(budget, 256) + 1)
        var word: [Unicode.Scalar] = []

        // Appends the tokens of one word of the raw text; false once more than fit.
        func flushWord() -> Bool {
            defer { word.removeAll(keepingCapacity: true) }
            var rest = word[...]
            while !rest.isEmpty {
                // Text up to the next special token, then the special token itself.
                let match = firstSpecialToken(in: rest)
                let plain = rest[..<(match?.range.lowerBound ?? rest.endIndex)]
                let complete = basic.forEachPiece(of: plain) { piece in
                    appendWordPieces(of: piece, to: &ids)
                    return ids.count <= budget
                }
                guard complete else { return false }
                guard let match else { break }
                ids.append(match.id)
                guard ids.count <= budget else { return false }
                rest = rest[match.range.upperBound...]
            }
            return true
        }

        var completed = true
        for scalar in text.unicodeScalars {
            if BERTBasicTokenizer.isSeparator(scalar) {
                guard flushWord() else { completed = false; break }
            } else {
                word.append(scalar)
            }
        }
        if completed { _ = flushWord() }

        let truncated = ids.count > budget
        return TokenizedText(ids: [clsTokenID] + ids.prefix(budget) + [sepTokenID], truncated: truncated)
    }

    /// The leftmost special token spelled out in `scalars`, the longest at that position.
    private func firstSpecialToken(in scalars: ArraySlice<Unicode.Scalar>) -> (range: Range<Int>, id: Int32)? {
        guard !specialTokens.isEmpty, scalars.contains("[") else { return nil }
        for start in scalars.indices where scalars[start] == "[" {
            for token in specialTokens where scalars[start...].starts(with: token.scalars) {
                return (start..<(start + token.scalars.count), token.id)
            }
        }
        return nil
    }

    /// WordPiece: the greedy longest-match-first cover of `piece`, or `[UNK]`.
    private func appendWordPieces(of piece: [Unicode.Scalar], to ids: inout [Int32]) {
        guard piece.count <= Self.maxCharactersPerWord else { ids.append(unknownTokenID); return }
        var bytes: [UInt8] = []
        var boundaries = [0]  // byte offset where each scalar starts, and the end
        for scalar in piece {
            bytes.append(contentsOf: scalar.utf8)
            boundaries.append(bytes.count)
        }
        if let id = vocabulary[bytes] { ids.append(id); return }

        var found: [Int32] = []
        var key: [UInt8] = []
        var start = 0
        while start < piece.count {
            var end = piece.count
            var match: Int32?
            while end > start {
                key.removeAll(keepingCapacity: true)
                if start > 0 { key.append(contentsOf: [UInt8(ascii: "#"), UInt8(ascii: "#")]) }
                key.append(contentsOf: bytes[boundaries[start]..<boundaries[end]])
                if let id = vocabulary[key] { match = id; break }
                end -= 1
            }
            guard let match else { ids.append(unknownTokenID); return }
            found.append(match)
            start = end
        }
        ids.append(contentsOf: found)
    }
}
