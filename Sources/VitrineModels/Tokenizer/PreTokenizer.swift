/// CLIP's pre-tokenizer: cuts normalized text into the pieces that byte-pair encoding sees.
///
/// The reference runs two regex splits in sequence. The first keeps the matches of
/// `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
/// and drops what lies between them (whitespace). The second is the byte-level GPT-2 pattern,
/// applied to each piece; it leaves every piece alone except the two special-token spellings,
/// which it cuts into `<|`, the letters, and `|>`. Those spellings reach this stage only when they
/// were not recognized as special tokens earlier, e.g. `<|ENDOFTEXT|>` lowercased by normalization.
///
/// The regex alternatives are tried in order at each position, first match wins, and the search
/// resumes after it; this scanner does the same over Unicode scalars, without a regex engine.
enum PreTokenizer {
    /// Calls `body` with each piece of `text`, in order, until `body` returns `false`.
    /// - Returns: `false` if `body` stopped the scan.
    @discardableResult
    static func forEachPiece(
        in text: ArraySlice<Unicode.Scalar>,
        _ body: (ArraySlice<Unicode.Scalar>) -> Bool
    ) -> Bool {
        var position = text.startIndex
        let end = text.endIndex
        while position < end {
            let scalar = text[position]

            if scalar == "<", let name = specialTokenName(in: text[position...]) {
                // `<|` + name + `|>`, cut the way the byte-level pattern cuts it.
                let nameStart = position + 2, nameEnd = nameStart + name.count
                guard body(text[position..<nameStart]), body(text[nameStart..<nameEnd]),
                      body(text[nameEnd..<nameEnd + 2]) else { return false }
                position = nameEnd + 2
                continue
            }
            if scalar == "'", let length = contractionLength(in: text[position...]) {
                guard body(text[position..<position + length]) else { return false }
                position += length
                continue
            }

            let kind = ScalarClass(scalar)
            var next = position + 1
            switch kind {
            case .whitespace:
                position = next
                continue
            case .number:
                break  // `[\p{N}]`: one scalar per piece
            case .letter, .other:
                while next < end, ScalarClass(text[next]) == kind { next += 1 }
            }
            guard body(text[position..<next]) else { return false }
            position = next
        }
        return true
    }

    private static let specialTokenNames: [[Unicode.Scalar]] = [
        Array("startoftext".unicodeScalars), Array("endoftext".unicodeScalars),
    ]

    /// The name inside `<|name|>` if `text` starts with one of the two special-token spellings.
    private static func specialTokenName(in text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar]? {
        for name in specialTokenNames {
            let length = name.count + 4
            guard text.count >= length else { continue }
            let start = text.startIndex
            if text[start + 1] == "|", text[start + length - 2] == "|", text[start + length - 1] == ">",
               text[(start + 2)..<(start + 2 + name.count)].elementsEqual(name) {
                return name
            }
        }
        return nil
    }

    /// The length of `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll` or `'d` at the start of `text`, if any.
    private static func contractionLength(in text: ArraySlice<Unicode.Scalar>) -> Int? {
        let start = text.startIndex
        guard text.count >= 2 else { return nil }
        switch text[start + 1] {
        case "s", "t", "m", "d":
            return 2
        case "r", "v":
            return text.count >= 3 && text[start + 2] == "e" ? 3 : nil
        case "l":
            return text.count >= 3 && text[start + 2] == "l" ? 3 : nil
        default:
            return nil
        }
    }
}
