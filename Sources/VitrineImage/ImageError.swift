import VitrineCore

/// Why an image could not be decoded or preprocessed.
///
/// Every failure on untrusted input surfaces as one of these cases; the decoders never trap.
public enum ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The data has no bytes at all.
    case empty
    /// The first bytes match none of the supported formats (JPEG, PNG, WebP).
    case unknownFormat(leadingBytes: [UInt8])
    /// The header declares more pixels than the decoder accepts; nothing was decoded.
    case tooLarge(width: Int, height: Int, maxPixels: Int)
    /// The data ends before the image does.
    case truncated(ImageFormat, detail: String)
    /// The data is not a valid file of the format its magic bytes announce.
    case corrupt(ImageFormat, detail: String)
    /// A valid file using a feature VitrineImage does not decode (for example an animated WebP).
    case unsupported(ImageFormat, detail: String)
    /// The codec library could not allocate memory.
    case outOfMemory(ImageFormat)
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// A `preprocessor_config.json` asks for something ``ImagePreprocessor`` cannot do.
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .empty:
            return "image data is empty"
        case .unknownFormat(let bytes):
            let hex = Hex.encode(bytes, separator: " ")
            return "unknown image format (not JPEG, PNG or WebP); first bytes: \(hex.isEmpty ? "none" : hex)"
        case .tooLarge(let width, let height, let maxPixels):
            return "image is \(width)×\(height) pixels, more than the limit of \(maxPixels) pixels"
        case .truncated(let format, let detail):
            return "truncated \(format) data" + (detail.isEmpty ? "" : ": \(detail)")
        case .corrupt(let format, let detail):
            return "corrupt \(format) data" + (detail.isEmpty ? "" : ": \(detail)")
        case .unsupported(let format, let detail):
            return "unsupported \(format) feature" + (detail.isEmpty ? "" : ": \(detail)")
        case .outOfMemory(let format):
            return "out of memory while decoding \(format)"
        case .unreadable(let path, let reason):
            return "cannot read image file \(path): \(reason)"
        case .invalidConfiguration(let reason):
            return "invalid image preprocessor configuration: \(reason)"
        }
    }
}

extension ImageError: VitrineError {
    public var kind: ErrorKind {
        switch self {
        case .tooLarge: .tooLarge
        case .empty, .unknownFormat, .truncated, .corrupt, .unsupported: .unprocessable
        case .outOfMemory: .unavailable
        case .invalidConfiguration: .misconfigured
        case .unreadable: .internalFailure
        }
    }
}
