import Foundation

/// BERT's basic tokenization, as the `tokenizers` library's `BertNormalizer` and
/// `BertPreTokenizer` do it, one whitespace-free word of the raw text at a time:
/// 1. Clean: drop NUL, U+FFFD and control characters (categories Cc, Cf, Co, except tab, line
///    feed and carriage return, which are whitespace); whitespace separates words. Categories
///    are the reference's, Unicode 8.0's (``referenceCategory(_:)``).
/// 2. Put spaces around CJK ideographs, so each becomes a word of its own.
/// 3. Strip accents (uncased models): NFD, then drop nonspacing marks (category Mn). Hangul
///    syllables decompose into jamo here, as they do in the reference.
/// 4. Lowercase, each scalar by its full Unicode mapping (`İ` → `i` + U+0307, no final sigma).
/// 5. Split on whitespace, and isolate every punctuation character (ASCII punctuation, which
///    includes symbols such as `$` and `+`, or a Unicode P* category) as a piece of its own.
///
/// Working a word at a time gives the reference's result: none of the steps acts across
/// whitespace, and the words are what a truncated encoding stops at.
struct BERTBasicTokenizer: Sendable {
    var lowercase: Bool
    var stripAccents: Bool
    var splitsChineseCharacters: Bool

    /// Whether `scalar` separates words in the raw text. Whitespace that is also a control
    /// character (VT, FF, NEL) is dropped by cleaning before the split and so joins its neighbours.
    static func isSeparator(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace && !isDropped(scalar)
    }

    /// Calls `body` with each piece of the normalized `word` (no separators in it) in order;
    /// stops early, returning false, when `body` does.
    func forEachPiece(of word: ArraySlice<Unicode.Scalar>, _ body: ([Unicode.Scalar]) -> Bool) -> Bool {
        var piece: [Unicode.Scalar] = []
        func flush() -> Bool {
            defer { piece.removeAll(keepingCapacity: true) }
            return piece.isEmpty || body(piece)
        }
        for scalar in normalized(word) {
            if scalar == " " || scalar.properties.isWhitespace {
                guard flush() else { return false }
            } else if Self.isPunctuation(scalar) {
                guard flush() else { return false }
                piece.append(scalar)
                guard flush() else { return false }
            } else {
                piece.append(scalar)
            }
        }
        return flush()
    }

    /// Steps 1–4 for one word of the raw text.
    func normalized(_ word: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        if word.allSatisfy(\.isASCII) {
            // ASCII has no accents and no ideographs: cleaning and lowercasing are all there is.
            return word.compactMap { scalar in
                Self.isDropped(scalar) ? nil : lowercase ? Self.lowercasedASCII(scalar) : scalar
            }
        }
        var cleaned: [Unicode.Scalar] = []
        cleaned.reserveCapacity(word.count + 2)
        for scalar in word where !Self.isDropped(scalar) {
            if splitsChineseCharacters && Self.isChineseCharacter(scalar) {
                cleaned.append(contentsOf: [" ", scalar, " "])
            } else {
                cleaned.append(scalar)
            }
        }
        if stripAccents {
            cleaned = Self.decomposed(cleaned).filter { Self.referenceCategory($0) != .nonspacingMark }
        }
        guard lowercase else { return cleaned }
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(cleaned.count)
        for scalar in cleaned {
            if scalar.isASCII {
                result.append(Self.lowercasedASCII(scalar))
            } else if scalar.properties.changesWhenLowercased {
                result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return result
    }

    /// Removed by cleaning: NUL, U+FFFD, and the "other" categories Cc, Cf and Co except the
    /// three whitespace controls (the reference's `is_control` leaves out Cn and Cs).
    static func isDropped(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0, 0xFFFD: return true
        case 0x09, 0x0A, 0x0D: return false
        default:
            switch referenceCategory(scalar) {
            case .control, .format, .privateUse: return true
            default: return false
            }
        }
    }

    /// The CJK Unified Ideographs blocks and their extensions A–E, and the compatibility
    /// ideographs: the reference's list. Hangul, kana and later extensions are not in it.
    static func isChineseCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// ASCII punctuation (`!` to `/`, `:` to `@`, `[` to `` ` ``, `{` to `~`), or any scalar of a
    /// Unicode punctuation category (Pc, Pd, Ps, Pe, Pi, Pf, Po).
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: return true
        case 0...0x7F: return false
        default:
            switch referenceCategory(scalar) {
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation:
                return true
            default:
                return false
            }
        }
    }

    /// The general category as the reference sees it. Its category tables (the
    /// `unicode_categories` crate) are Unicode 8.0's, as measured over every scalar
    /// (`tools/make_minilm_fixtures.py --all-scalars`): a scalar assigned later has no category
    /// there (it is neither dropped, punctuation nor a nonspacing mark), and seven scalars keep
    /// the category they had in 8.0. Whitespace and lowercasing come from Rust's current tables.
    static func referenceCategory(_ scalar: Unicode.Scalar) -> Unicode.GeneralCategory? {
        if let category = categoriesChangedSince8[scalar.value] { return category }
        guard let age = scalar.properties.age, age.major <= 8 else { return nil }
        return scalar.properties.generalCategory
    }

    private static let categoriesChangedSince8: [UInt32: Unicode.GeneralCategory] = [
        0x166D: .otherPunctuation,   // CANADIAN SYLLABICS CHI SIGN, So since 12.0
        0x111C9: .otherPunctuation,  // SHARADA SANDHI MARK, Mn since 11.0
        0x1734: .nonspacingMark,     // HANUNOO SIGN PAMUDPOD, Mc since 14.0
        0x1171E: .nonspacingMark,    // AHOM CONSONANT SIGN MEDIAL RA, Mc since 14.0
        0x1885: .otherLetter,        // MONGOLIAN LETTER ALI GALI BALUDA, Mn since 9.0
        0x1886: .otherLetter,        // MONGOLIAN LETTER ALI GALI THREE BALUDA, Mn since 9.0
        0xA9BD: .spacingMark,        // JAVANESE CONSONANT SIGN KERET, Mn since 12.0
    ]

    /// The NFD form of `scalars`, as the reference computes it: its normalization tables are
    /// Unicode 9.0's (see ``TextNormalizer``), so a scalar assigned later neither decomposes nor
    /// reorders and blocks reordering around it. Runs between such scalars are decomposed apart.
    static func decomposed(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        TextNormalizer.byReferenceRuns(scalars, normalize: \.decomposedStringWithCanonicalMapping)
    }

    @inline(__always)
    static func lowercasedASCII(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        (0x41...0x5A).contains(scalar.value) ? Unicode.Scalar(UInt8(scalar.value) | 0x20) : scalar
    }
}
