/// Lowercase hexadecimal text of bytes: digests in keys, file names, ETags and messages.
///
/// The one hex encoder of the code base.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `[0xAB, 0x01]` → `"ab01"`; with a `separator`, `"ab 01"`.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes, separator: String = "") -> String
    where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * (2 + separator.utf8.count))
        for byte in bytes {
            if !out.isEmpty { out.append(contentsOf: separator.utf8) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` is exactly `count` lowercase hex digits (a SHA-256 is 64, a git SHA-1 40).
    public static func isLowercaseHex(_ text: some StringProtocol, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
