/// CLIP's normalizer: Unicode NFC, whitespace runs to one space, then lowercase.
///
/// It is applied one whitespace-free word at a time, which gives the reference's result:
/// - NFC never composes across whitespace (no canonical composition involves a `White_Space`
///   scalar) and never turns whitespace into non-whitespace or back.
/// - Collapsing whitespace runs to a space cannot change token ids: the pre-tokenizer drops all
///   whitespace anyway, so whitespace only separates words, which splitting on it already does.
/// - Lowercasing maps each scalar by itself with its full Unicode lowercase mapping, as Rust's
///   `char::to_lowercase` does: `İ` becomes `i` + U+0307, `ẞ` becomes `ß`, and there is no
///   final-sigma rule (`Σ` is always `σ`). `Unicode.Scalar.Properties.lowercaseMapping` matches it
///   for every scalar. Lowercasing happens after NFC, so its output is not recomposed.
enum TextNormalizer {
    /// Appends the normalized form of `word`, which must contain no whitespace, to `output`.
    static func appendNormalized(_ word: ArraySlice<Unicode.Scalar>, to output: inout [Unicode.Scalar]) {
        if word.allSatisfy(\.isASCII) {
            // ASCII is already NFC; only the letters change.
            for scalar in word { output.append(lowercasedASCII(scalar)) }
            return
        }
        for scalar in composed(word) {
            if scalar.isASCII {
                output.append(lowercasedASCII(scalar))
            } else if scalar.properties.changesWhenLowercased {
                output.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                output.append(scalar)
            }
        }
    }

    /// The NFC form of `word`, as the reference computes it.
    ///
    /// The reference's NFC (Rust's `unicode-normalization`) does not compose U+11935 U+11930 into
    /// U+11938 (Dives Akuru), although Unicode does; it is the only difference across all scalars and
    /// their decompositions. U+11930 is a starter that composes with nothing else, so normalizing
    /// separately on each side of it reproduces that.
    private static func composed(_ word: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(word.count)
        var start = word.startIndex
        while start < word.endIndex {
            let searchFrom = word.index(after: start)
            let end = word[searchFrom...].firstIndex(of: uncomposedStarter) ?? word.endIndex
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: word[start..<end])
            // `_nfcCodeUnits` is the standard library's own NFC (the one String comparison uses);
            // Foundation's `precomposedStringWithCanonicalMapping` goes through NSString and ICU.
            let utf8 = String(piece)._nfcCodeUnits
            result.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
            start = end
        }
        return result
    }

    private static let uncomposedStarter = Unicode.Scalar(0x11930)!

    @inline(__always)
    private static func lowercasedASCII(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        (0x41...0x5A).contains(scalar.value) ? Unicode.Scalar(UInt8(scalar.value) | 0x20) : scalar
    }
}
