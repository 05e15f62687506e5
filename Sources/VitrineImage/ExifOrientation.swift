/// The EXIF orientation tag (0x0112): how the stored pixels must be turned to appear upright.
///
/// ``ImageDecoder`` applies it by default, as browsers and phone galleries do, so a photo shot
/// in portrait is embedded upright. **This deviates from the reference**: Pillow's `Image.open`
/// and transformers' `CLIPImageProcessorPil` ignore the tag. Parity fixtures carry no rotation
/// tag, so both agree on them; for rotated uploads, Vitrine embeds what a shopper sees.
public enum ExifOrientation: Int, Sendable, CaseIterable {
    case up = 1
    case upMirrored = 2
    case down = 3
    case downMirrored = 4
    /// Mirrored along the top-left to bottom-right diagonal (transpose).
    case leftMirrored = 5
    /// Stored rotated; displayed after a 90° clockwise turn.
    case right = 6
    /// Mirrored along the other diagonal (transverse).
    case rightMirrored = 7
    /// Stored rotated; displayed after a 90° counter-clockwise turn.
    case left = 8

    /// Whether the upright image has width and height swapped.
    public var swapsAxes: Bool { rawValue >= 5 }

    /// Returns `image` turned upright.
    public func apply(to image: RGBImage) -> RGBImage {
        if self == .up { return image }
        let w = image.width, h = image.height
        let outW = swapsAxes ? h : w, outH = swapsAxes ? w : h
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outH {
                    for x in 0..<outW {
                        // The stored pixel that lands at (x, y) once upright.
                        let (sx, sy): (Int, Int) = switch self {
                        case .up: (x, y)
                        case .upMirrored: (w - 1 - x, y)
                        case .down: (w - 1 - x, h - 1 - y)
                        case .downMirrored: (x, h - 1 - y)
                        case .leftMirrored: (y, x)
                        case .right: (y, h - 1 - x)
                        case .rightMirrored: (w - 1 - y, h - 1 - x)
                        case .left: (w - 1 - y, x)
                        }
                        let s = (sy * w + sx) * 3, d = (y * outW + x) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: outW, height: outH, pixels: out)
    }

    /// The orientation recorded in the file's EXIF block (JPEG APP1, PNG `eXIf`, WebP `EXIF`), or
    /// `nil` when there is none or it is malformed. Reads only metadata; never throws.
    public static func read(from bytes: UnsafeBufferPointer<UInt8>, format: ImageFormat) -> ExifOrientation? {
        let reader = ByteReader(bytes)
        let tiff: Range<Int>? = switch format {
        case .jpeg: reader.jpegExif()
        case .png: reader.pngExif()
        case .webp: reader.webpExif()
        }
        guard let tiff else { return nil }
        return reader.orientation(inTIFF: tiff).flatMap(ExifOrientation.init(rawValue:))
    }
}

/// Bounds-checked reads over the encoded file, for locating and parsing the EXIF block.
private struct ByteReader {
    let bytes: UnsafeBufferPointer<UInt8>
    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func u8(_ i: Int) -> Int? { i >= 0 && i < bytes.count ? Int(bytes[i]) : nil }

    func u16(_ i: Int, bigEndian: Bool) -> Int? {
        guard let a = u8(i), let b = u8(i + 1) else { return nil }
        return bigEndian ? a << 8 | b : b << 8 | a
    }

    func u32(_ i: Int, bigEndian: Bool) -> Int? {
        guard let a = u16(i, bigEndian: bigEndian), let b = u16(i + 2, bigEndian: bigEndian) else { return nil }
        return bigEndian ? a << 16 | b : b << 16 | a
    }

    func hasPrefix(_ ascii: String, at i: Int) -> Bool {
        let p = Array(ascii.utf8)
        guard i >= 0, i + p.count <= bytes.count else { return false }
        return p.indices.allSatisfy { bytes[i + $0] == p[$0] }
    }

    /// A segment `start..<start+length`, if it lies inside the data.
    func range(_ start: Int, _ length: Int) -> Range<Int>? {
        guard start >= 0, length >= 0, length <= bytes.count - start else { return nil }
        return start..<(start + length)
    }

    /// Skips an optional "Exif\0\0" prefix in front of the TIFF header.
    func tiff(in r: Range<Int>) -> Range<Int> {
        hasPrefix("Exif\0\0", at: r.lowerBound) && r.count >= 6 ? (r.lowerBound + 6)..<r.upperBound : r
    }

    /// JPEG: walk the marker segments up to the first scan, looking for APP1 "Exif\0\0".
    func jpegExif() -> Range<Int>? {
        var i = 2
        while let marker0 = u8(i), marker0 == 0xFF, let marker = u8(i + 1) {
            if marker == 0xFF { i += 1; continue }  // fill byte
            if marker == 0xDA || marker == 0xD9 { return nil }  // scan or end: no EXIF before pixels
            if (0xD0...0xD7).contains(marker) || marker == 0x01 { i += 2; continue }  // no length
            guard let length = u16(i + 2, bigEndian: true), length >= 2,
                  let segment = range(i + 4, length - 2) else { return nil }
            if marker == 0xE1, hasPrefix("Exif\0\0", at: segment.lowerBound) {
                return tiff(in: segment)
            }
            i = segment.upperBound
        }
        return nil
    }

    /// PNG: walk the chunks for `eXIf`.
    func pngExif() -> Range<Int>? {
        var i = 8
        while let length = u32(i, bigEndian: true), let data = range(i + 8, length) {
            if hasPrefix("eXIf", at: i + 4) { return tiff(in: data) }
            if hasPrefix("IEND", at: i + 4) { return nil }
            i = data.upperBound + 4  // CRC
        }
        return nil
    }

    /// WebP: walk the RIFF chunks for `EXIF`.
    func webpExif() -> Range<Int>? {
        var i = 12
        while let length = u32(i + 4, bigEndian: false), let data = range(i + 8, length) {
            if hasPrefix("EXIF", at: i) { return tiff(in: data) }
            i = data.upperBound + (length & 1)  // chunks are padded to even sizes
        }
        return nil
    }

    /// The value of tag 0x0112 in IFD0 of the TIFF structure at `tiff`.
    func orientation(inTIFF tiff: Range<Int>) -> Int? {
        let base = tiff.lowerBound
        let bigEndian: Bool
        if hasPrefix("MM", at: base) { bigEndian = true } else if hasPrefix("II", at: base) { bigEndian = false } else { return nil }
        guard u16(base + 2, bigEndian: bigEndian) == 42,
              let ifd = u32(base + 4, bigEndian: bigEndian),
              let count = u16(base + ifd, bigEndian: bigEndian) else { return nil }
        for entry in 0..<count {
            let e = base + ifd + 2 + entry * 12
            guard e + 12 <= tiff.upperBound, let tag = u16(e, bigEndian: bigEndian) else { return nil }
            if tag == 0x0112 {
                guard u16(e + 2, bigEndian: bigEndian) == 3 else { return nil }  // SHORT
                return u16(e + 8, bigEndian: bigEndian)
            }
        }
        return nil
    }
}
