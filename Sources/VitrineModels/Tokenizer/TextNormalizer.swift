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
    /// The reference's NFC (the `unicode-normalization-alignments` crate inside `tokenizers`) has
    /// Unicode 9.0 data, as measured over every combining mark and decomposition: to it, a scalar
    /// assigned later has no decomposition, combining class 0 and no compositions. So it never reorders a newer combining mark (U+0D3C, 10.0) or composes a newer
    /// pair (U+11935 U+11930 → U+11938, 13.0). Such a scalar behaves as a starter that composes with
    /// nothing, which blocks reordering and composition on either side of it; normalizing the runs
    /// between those scalars separately, and passing the scalars through, reproduces the reference.
    /// For scalars of 9.0 and older, Unicode's stability policy keeps today's NFC identical.
    ///
    /// One workaround the other way: the standard library's NFC takes U+0F73, U+0F75 and U+0F81
    /// for starters because their combining class is 0, but they decompose into combining marks
    /// that must be reordered with their neighbours (Swift 6.3 leaves `U+034B U+0F75` unsorted).
    /// Handing it their decompositions instead gives the correct, reference, result.
    private static func composed(_ word: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        // `_nfcCodeUnits` is the standard library's own NFC (the one String comparison uses);
        // Foundation's `precomposedStringWithCanonicalMapping` goes through NSString and ICU.
        byReferenceRuns(word, normalize: { String(decoding: $0._nfcCodeUnits, as: UTF8.self) }) { scalar in
            (0x0F73...0x0F81).contains(scalar.value) ? nonStarterDecompositions[scalar] : nil
        }
    }

    /// `scalars` normalized the way the reference's Unicode 9.0 tables do it: ASCII and the scalars
    /// those tables know gather into runs that `normalize` handles whole (`substitute` may put a
    /// scalar's replacement into the run instead); any other scalar ends the run and passes as is.
    static func byReferenceRuns<S: Sequence<Unicode.Scalar>>(
        _ scalars: S, normalize: (String) -> String,
        substitute: (Unicode.Scalar) -> [Unicode.Scalar]? = { _ in nil }
    ) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(scalars.underestimatedCount + 4)
        var run = String.UnicodeScalarView()
        func flushRun() {
            guard !run.isEmpty else { return }
            result.append(contentsOf: normalize(String(run)).unicodeScalars)
            run = String.UnicodeScalarView()
        }
        for scalar in scalars {
            if scalar.isASCII {
                run.append(scalar)
            } else if let replacement = substitute(scalar) {
                run.append(contentsOf: replacement)
            } else if isKnownToReferenceNFC(scalar) {
                run.append(scalar)
            } else {
                flushRun()
                result.append(scalar)
            }
        }
        flushRun()
        return result
    }

    /// The scalars with combining class 0 whose canonical decomposition starts with a non-starter.
    private static let nonStarterDecompositions: [Unicode.Scalar: [Unicode.Scalar]] = [
        "\u{0F73}": ["\u{0F71}", "\u{0F72}"],
        "\u{0F75}": ["\u{0F71}", "\u{0F74}"],
        "\u{0F81}": ["\u{0F71}", "\u{0F80}"],
    ]

    static func isKnownToReferenceNFC(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return age.major <= 8 || (age.major == 9 && age.minor == 0)
    }

    @inline(__always)
    private static func lowercasedASCII(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        (0x41...0x5A).contains(scalar.value) ? Unicode.Scalar(UInt8(scalar.value) | 0x20) : scalar
    }
}
