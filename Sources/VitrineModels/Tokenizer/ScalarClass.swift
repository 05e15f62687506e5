/// The character classes of CLIP's pre-tokenizer pattern: `\p{L}`, `\p{N}` and `\s`.
///
/// The reference evaluates them with the Oniguruma engine inside the `tokenizers` library, which
/// was measured against every Unicode scalar: `\s` is exactly the Unicode `White_Space` property,
/// `\p{L}` and `\p{N}` are the letter and number general categories, and scalars assigned after
/// Unicode 16.0 count as unassigned (neither letter nor number) because that engine's tables are
/// older than the Swift standard library's. Classifying with `Unicode.Scalar.Properties` plus that
/// age cap reproduces the reference for all 1,112,064 scalars.
enum ScalarClass: UInt8 {
    case letter
    case number
    case whitespace
    /// Everything else: punctuation, symbols, marks, controls, emoji, unassigned scalars.
    case other

    init(_ scalar: Unicode.Scalar) {
        if scalar.isASCII {
            self = Self.ascii[Int(scalar.value)]
            return
        }
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = Self.isKnownToReference(properties) ? .letter : .other
        case .decimalNumber, .letterNumber, .otherNumber:
            self = Self.isKnownToReference(properties) ? .number : .other
        default:
            self = properties.isWhitespace ? .whitespace : .other
        }
    }

    /// Whether the reference's Unicode tables (16.0) know the scalar at all.
    private static func isKnownToReference(_ properties: Unicode.Scalar.Properties) -> Bool {
        guard let age = properties.age else { return false }
        return age.major < 16 || (age.major == 16 && age.minor == 0)
    }

    private static let ascii: [ScalarClass] = (0..<128).map { value in
        switch UInt8(value) {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): .letter
        case UInt8(ascii: "0")...UInt8(ascii: "9"): .number
        case 0x09...0x0D, 0x20: .whitespace
        default: .other
        }
    }
}
