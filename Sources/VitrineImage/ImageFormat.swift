/// The encoded formats ``ImageDecoder`` reads, recognised by their magic bytes (never by a file
/// name or a declared content type).
public enum ImageFormat: String, Sendable, Equatable, CustomStringConvertible {
    case jpeg = "JPEG"
    case png = "PNG"
    case webp = "WebP"

    public var description: String { rawValue }

    /// The format whose signature starts `bytes`, or `nil`.
    public static func sniff<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> ImageFormat? where Bytes.Index == Int {
        func matches(_ signature: [UInt8], at offset: Int = 0) -> Bool {
            guard bytes.count >= offset + signature.count else { return false }
            let start = bytes.startIndex + offset
            return zip(bytes[start..<start + signature.count], signature).allSatisfy { $0 == $1 }
        }
        if matches([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if matches([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if matches(Array("RIFF".utf8)) && matches(Array("WEBP".utf8), at: 8) { return .webp }
        return nil
    }
}
