/// Finds the special tokens a user typed, before the text goes through normalization and BPE.
///
/// CLIP has two, with different rules (their `normalized` flag in `tokenizer.json`):
/// `<|endoftext|>` is matched in the raw text, case-sensitively, before normalization;
/// `<|startoftext|>` is matched in the normalized (lowercased) text, so `<|StartOfText|>` counts.
/// Matches are leftmost and non-overlapping and need no word boundary, as in the reference.
enum SpecialTokenSplitter {
    enum Segment {
        /// A stretch of text between special tokens (never empty).
        case text(ArraySlice<Unicode.Scalar>)
        /// One occurrence of the special token.
        case token
    }

    static let endOfText = Array("<|endoftext|>".unicodeScalars)
    static let startOfText = Array("<|startoftext|>".unicodeScalars)

    /// Calls `body` with the segments of `text` around occurrences of `token`, in order, until
    /// `body` returns `false`.
    /// - Returns: `false` if `body` stopped early.
    @discardableResult
    static func forEachSegment(
        of text: ArraySlice<Unicode.Scalar>,
        splittingOn token: [Unicode.Scalar],
        _ body: (Segment) -> Bool
    ) -> Bool {
        var segmentStart = text.startIndex
        var position = text.startIndex
        let lastStart = text.endIndex - token.count
        while position <= lastStart {
            guard text[position] == token[0],
                  text[position..<(position + token.count)].elementsEqual(token) else {
                position += 1
                continue
            }
            if segmentStart < position, !body(.text(text[segmentStart..<position])) { return false }
            guard body(.token) else { return false }
            position += token.count
            segmentStart = position
        }
        if segmentStart < text.endIndex { return body(.text(text[segmentStart...])) }
        return true
    }
}
