/// The GPT-2 byte-level alphabet: one printable Unicode scalar per byte value.
///
/// Byte-level BPE vocabularies (GPT-2, CLIP) spell their tokens in this alphabet so that every byte
/// sequence, including control bytes and fragments of multi-byte UTF-8, has a printable spelling.
/// Bytes that are already visible Latin-1 characters stand for themselves; the remaining 68 bytes
/// (controls, space, DEL, NBSP, soft hyphen) are moved, in byte order, to U+0100 and up.
enum ByteLevelAlphabet {
    /// The scalar that spells each byte, indexed by byte value.
    static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var nextMoved: UInt32 = 256
        for byte in 0...255 {
            if isVisible(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(nextMoved)!
                nextMoved += 1
            }
        }
        return table
    }()

    /// The vocabulary spelling of a single byte, optionally with the end-of-word suffix.
    static func token(for byte: UInt8, suffix: String = "") -> String {
        String(Character(scalars[Int(byte)])) + suffix
    }

    /// `!`…`~`, `¡`…`¬` and `®`…`ÿ`: the bytes whose Latin-1 character is visible.
    private static func isVisible(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }
}
