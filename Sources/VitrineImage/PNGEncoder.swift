import CImageCodecs
import Foundation

/// Encodes 8-bit pixels as PNG (lossless, non-interlaced), through libpng.
///
/// Decoding the result with ``ImageDecoder`` gives back the same samples (gray replicated to RGB).
public struct PNGEncoder: Sendable {
    /// The sample layouts the encoder writes.
    public enum Layout: Sendable {
        case gray, grayAlpha, rgb, rgba

        /// Bytes per pixel.
        public var channels: Int {
            switch self {
            case .gray: 1
            case .grayAlpha: 2
            case .rgb: 3
            case .rgba: 4
            }
        }

        fileprivate var native: vitrine_layout {
            switch self {
            case .gray: VITRINE_LAYOUT_GRAY
            case .grayAlpha: VITRINE_LAYOUT_GRAY_ALPHA
            case .rgb: VITRINE_LAYOUT_RGB
            case .rgba: VITRINE_LAYOUT_RGBA
            }
        }
    }

    public init() {}

    /// Encodes `pixels`, row-major without padding: `width * height * layout.channels` bytes.
    /// - Throws: ``ImageError/invalidConfiguration(_:)`` when the size does not match the
    ///   dimensions, ``ImageError/outOfMemory(_:)``, or ``ImageError/corrupt(_:detail:)`` with
    ///   libpng's message when libpng refuses the image.
    public func encode(pixels: [UInt8], width: Int, height: Int, layout: Layout) throws -> Data {
        guard width > 0, height > 0, width <= Int(UInt32.max), height <= Int(UInt32.max),
              let expected = RGBImage.byteCount(width: width, height: height, channels: layout.channels),
              pixels.count == expected else {
            throw ImageError.invalidConfiguration(
                "PNG encoder: \(pixels.count) bytes do not make a \(width)×\(height) image of \(layout.channels) channel(s)")
        }
        var output: UnsafeMutablePointer<UInt8>?
        var outputSize = 0
        var message = [CChar](repeating: 0, count: 160)
        let status = pixels.withUnsafeBufferPointer { buffer in
            vitrine_png_encode(buffer.baseAddress, buffer.count, UInt32(width), UInt32(height),
                               Int32(layout.native.rawValue), &output, &outputSize, &message, message.count)
        }
        defer { vitrine_png_free(output) }
        switch UInt32(bitPattern: status) {
        case VITRINE_CODEC_OK.rawValue:
            guard let output else { throw ImageError.outOfMemory(.png) }
            return Data(bytes: output, count: outputSize)
        case VITRINE_CODEC_NO_MEMORY.rawValue:
            throw ImageError.outOfMemory(.png)
        default:
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageError.corrupt(.png, detail: "cannot encode: " + (text.isEmpty ? "status \(status)" : text))
        }
    }
}
