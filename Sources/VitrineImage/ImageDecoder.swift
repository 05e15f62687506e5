import Foundation

/// Decodes JPEG, PNG and WebP bytes into an upright 8-bit ``RGBImage``.
///
/// The pixels equal what transformers' `convert_to_rgb` makes of the Pillow image that
/// `PIL.Image.open` returns for the same file: JPEG through libjpeg-turbo with its default
/// (islow IDCT, fancy upsampling) settings, CMYK read with Adobe polarity and converted with
/// Pillow's formula, gray replicated, and every kind of transparency composited onto white.
///
/// Deviations from the reference, on purpose:
/// - EXIF orientation is applied (see ``ExifOrientation``); Pillow ignores it.
/// - 16-bit PNG samples keep their high byte. Pillow does the same for RGB(A) but clips 16-bit
///   gray to 255 instead; 16-bit files are outside the parity fixtures.
/// - Animated WebP is rejected rather than reduced to its first frame.
///
/// The decoder is a value with no shared state; use one from any number of tasks.
public struct ImageDecoder: Sendable {
    /// Images whose header declares more pixels than this are refused before any pixel is decoded.
    public var maxPixels: Int
    /// Whether to turn images upright according to their EXIF orientation tag.
    public var appliesExifOrientation: Bool

    public init(maxPixels: Int = 40_000_000, appliesExifOrientation: Bool = true) {
        self.maxPixels = maxPixels
        self.appliesExifOrientation = appliesExifOrientation
    }

    /// Decodes an encoded image; the format is recognised from its magic bytes.
    /// - Throws: ``ImageError`` when the data is empty, of unknown format, over ``maxPixels``,
    ///   truncated, corrupt or uses an unsupported feature.
    public func decode(_ bytes: [UInt8]) throws -> RGBImage {
        try bytes.withUnsafeBufferPointer { try decode(buffer: $0) }
    }

    /// Decodes an encoded image held in `data`.
    public func decode(_ data: Data) throws -> RGBImage {
        try data.withUnsafeBytes { raw in
            try decode(buffer: raw.bindMemory(to: UInt8.self))
        }
    }

    /// Reads and decodes the image file at `url`.
    public func decode(contentsOf url: URL) throws -> RGBImage {
        let data: Data
        do {
            // Read, not mapped: a file truncated while mapped would fault instead of throwing.
            data = try Data(contentsOf: url)
        } catch {
            throw ImageError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        return try decode(data)
    }

    /// The format and the declared size, from the header only (no pixels are decoded).
    public func probe(_ bytes: [UInt8]) throws -> (format: ImageFormat, width: Int, height: Int) {
        try bytes.withUnsafeBufferPointer { buffer in
            let format = try Self.format(of: buffer)
            let header = try NativeCodecs.header(buffer, format: format)
            return (format, header.width, header.height)
        }
    }

    private func decode(buffer: UnsafeBufferPointer<UInt8>) throws -> RGBImage {
        let format = try Self.format(of: buffer)
        let samples = try NativeCodecs.decode(buffer, format: format, maxPixels: maxPixels)
        let image = RGBConversion.rgb(from: samples)
        guard appliesExifOrientation,
              let orientation = ExifOrientation.read(from: buffer, format: format) else { return image }
        return orientation.apply(to: image)
    }

    private static func format(of buffer: UnsafeBufferPointer<UInt8>) throws -> ImageFormat {
        guard !buffer.isEmpty else { throw ImageError.empty }
        guard let format = ImageFormat.sniff(buffer) else {
            throw ImageError.unknownFormat(leadingBytes: Array(buffer.prefix(8)))
        }
        return format
    }
}
