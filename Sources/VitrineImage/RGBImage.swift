/// An 8-bit RGB image: interleaved `R, G, B` bytes, row-major, no row padding.
///
/// This is the decoder's output and the resizer's input and output; `pixels.count` is always
/// `width * height * 3`.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes. Read-only outside the module so the count cannot drift from
    /// the dimensions; build a new image with ``init(width:height:pixels:)`` to change pixels.
    public internal(set) var pixels: [UInt8]

    /// Wraps existing pixels; returns `nil` if the dimensions are negative, overflow, or do not
    /// match `pixels.count`.
    public init?(width: Int, height: Int, pixels: [UInt8]) {
        guard width >= 0, height >= 0, let count = RGBImage.byteCount(width: width, height: height),
              count == pixels.count else { return nil }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// For internal producers that have already sized `pixels` correctly.
    init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
        assert(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// `width * height * 3`, or `nil` on overflow.
    static func byteCount(width: Int, height: Int, channels: Int = 3) -> Int? {
        let (area, o1) = width.multipliedReportingOverflow(by: height)
        let (bytes, o2) = area.multipliedReportingOverflow(by: channels)
        return o1 || o2 ? nil : bytes
    }
}
