#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The tokenizer of OpenAI's CLIP text tower, identical in output to transformers 5's
/// `CLIPTokenizer` called as `tokenizer(text, truncation=True, max_length=77)`.
///
/// transformers 5 runs the Hugging Face `tokenizers` pipeline, and so does this type, step by step:
/// 1. `<|endoftext|>` typed in the raw text becomes the end-of-text token (``SpecialTokenSplitter``).
/// 2. The rest is normalized: NFC, whitespace runs to one space, lowercase (``TextNormalizer``).
/// 3. `<|startoftext|>` in the normalized text becomes the start-of-text token.
/// 4. The text is cut into words, digits, punctuation runs and contractions (``PreTokenizer``).
/// 5. Each piece is byte-pair encoded over its UTF-8 bytes (``BytePairEncoder``).
/// 6. The ids are cut to `maxLength - 2` and framed by start- and end-of-text tokens.
///
/// Unlike OpenAI's original tokenizer and transformers 4's Python one, it does not repair mojibake
/// with `ftfy` and does not unescape HTML entities: `&amp;` stays five characters, as it does in the
/// reference. Callers who want that cleanup must do it before encoding.
///
/// Encoding never fails: every `String` has an encoding, and work stops as soon as the result is
/// known to be truncated, so a huge text costs little more than its first `maxLength` tokens.
/// The type is a value that shares its read-only tables; it is safe to use from many tasks at once.
public struct CLIPTokenizer: Sendable {
    /// CLIP's context length: the text tower's position embeddings hold 77 tokens.
    public static let contextLength = 77

    /// The id of `<|startoftext|>`, which opens every encoding.
    public let bosTokenID: Int32
    /// The id of `<|endoftext|>`, which closes every encoding (and is CLIP's padding token).
    public let eosTokenID: Int32
    /// The number of entries in the vocabulary, special tokens included (49,408 for CLIP).
    public let vocabularySize: Int

    private let encoder: BytePairEncoder

    /// Loads `vocab.json` and `merges.txt` from a model directory in the Hugging Face layout.
    /// - Throws: ``TokenizerError`` naming the file that is missing or malformed.
    public init(directory: URL) throws(TokenizerError) {
        try self.init(
            vocabURL: directory.appendingPathComponent("vocab.json"),
            mergesURL: directory.appendingPathComponent("merges.txt")
        )
    }

    /// Loads a byte-level BPE vocabulary and its merge rules.
    /// - Throws: ``TokenizerError`` naming the file that is missing or malformed, a merge whose token
    ///   is not in the vocabulary, or a vocabulary without `<|startoftext|>` and `<|endoftext|>`.
    public init(vocabURL: URL, mergesURL: URL) throws(TokenizerError) {
        let vocabulary = try VocabularyFiles.readVocabulary(vocabURL)
        let merges = try VocabularyFiles.readMerges(mergesURL)
        func special(_ token: [Unicode.Scalar]) throws(TokenizerError) -> Int32 {
            let spelling = String(String.UnicodeScalarView(token))
            guard let id = vocabulary[spelling] else {
                throw .missingSpecialToken(path: vocabURL.path, token: spelling)
            }
            return id
        }
        bosTokenID = try special(SpecialTokenSplitter.startOfText)
        eosTokenID = try special(SpecialTokenSplitter.endOfText)
        vocabularySize = vocabulary.count
        // CLIP's unknown token is `<|endoftext|>`; byte-level BPE never needs it with a full alphabet.
        encoder = try BytePairEncoder(
            vocabulary: vocabulary, merges: merges, mergesPath: mergesURL.path, unknownID: eosTokenID
        )
    }

    /// Encodes `text` as `[bos] + tokens + [eos]`, keeping the first `maxLength - 2` tokens.
    ///
    /// Empty or whitespace-only text encodes to `[bos, eos]`; whether that is acceptable is the
    /// caller's decision.
    /// - Parameter maxLength: the longest result, special tokens included; values below 2 act as 2.
    public func encode(_ text: String, maxLength: Int = CLIPTokenizer.contextLength) -> TokenizedText {
        let budget = max(maxLength, 2) - 2
        var content = ContentIDs(budget: budget)
        var word: [Unicode.Scalar] = []
        var normalized: [Unicode.Scalar] = []
        var bytes: [UInt8] = []

        // Whitespace separates pieces at every stage and is itself dropped, so the text can be
        // processed one whitespace-free word at a time and abandoned once the budget overflows.
        func flushWord() -> Bool {
            defer { word.removeAll(keepingCapacity: true) }
            guard !word.isEmpty else { return true }
            return SpecialTokenSplitter.forEachSegment(of: word[...], splittingOn: SpecialTokenSplitter.endOfText) { raw in
                guard case .text(let rawText) = raw else { return content.append(eosTokenID) }
                normalized.removeAll(keepingCapacity: true)
                TextNormalizer.appendNormalized(rawText, to: &normalized)
                return SpecialTokenSplitter.forEachSegment(of: normalized[...], splittingOn: SpecialTokenSplitter.startOfText) { segment in
                    guard case .text(let text) = segment else { return content.append(bosTokenID) }
                    return PreTokenizer.forEachPiece(in: text) { piece in
                        bytes.removeAll(keepingCapacity: true)
                        for scalar in piece { bytes.append(contentsOf: scalar.utf8) }
                        encoder.encode(bytes, into: &content.ids)
                        return !content.isOverflowing
                    }
                }
            }
        }

        var completed = true
        for scalar in text.unicodeScalars {
            if ScalarClass(scalar) == .whitespace {
                guard flushWord() else { completed = false; break }
            } else {
                word.append(scalar)
            }
        }
        if completed { _ = flushWord() }

        var ids = [bosTokenID]
        ids.append(contentsOf: content.ids.prefix(budget))
        ids.append(eosTokenID)
        return TokenizedText(ids: ids, truncated: content.isOverflowing)
    }
}

/// The ids between the start and end tokens, collected until one more than fits arrives.
private struct ContentIDs {
    var ids: [Int32] = []
    let budget: Int

    init(budget: Int) {
        self.budget = budget
        ids.reserveCapacity(min(budget, 256) + 1)
    }

    /// True once the text has more tokens than fit, which is all truncation needs to know.
    var isOverflowing: Bool { ids.count > budget }

    /// Appends `id`; returns whether there may still be room for more.
    mutating func append(_ id: Int32) -> Bool {
        ids.append(id)
        return !isOverflowing
    }
}
