/// Turns decoded samples into 8-bit RGB exactly as transformers' `convert_to_rgb` does with a
/// Pillow image: anything with alpha (an alpha channel, or a tRNS chunk that libpng expanded into
/// one) is composited onto opaque white with `Image.alpha_composite` and the alpha dropped;
/// everything else goes through Pillow's `convert("RGB")`.
enum RGBConversion {
    static func rgb(from decoded: DecodedSamples) -> RGBImage {
        let count = decoded.width * decoded.height  // fits: checked when the buffer was sized
        var out = [UInt8](repeating: 0, count: count * 3)
        decoded.samples.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                switch decoded.layout {
                case .rgb:
                    _ = dst.initialize(from: src)
                case .gray:
                    for i in 0..<count {
                        let v = src[i]
                        dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v
                    }
                case .grayAlpha:
                    // Pillow's LA → RGBA replicates the gray, then composites like RGBA.
                    for i in 0..<count {
                        let v = onWhite(src[2 * i], alpha: src[2 * i + 1])
                        dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v
                    }
                case .rgba:
                    for i in 0..<count {
                        let a = src[4 * i + 3]
                        dst[3 * i] = onWhite(src[4 * i], alpha: a)
                        dst[3 * i + 1] = onWhite(src[4 * i + 1], alpha: a)
                        dst[3 * i + 2] = onWhite(src[4 * i + 2], alpha: a)
                    }
                case .invertedCMYK:
                    for i in 0..<count {
                        // Pillow reads 4-component JPEGs as "CMYK;I" (Adobe polarity: stored
                        // inverted), so the true ink is 255 - sample; the stored K is then the
                        // remaining light (255 - k).
                        let light = Int(src[4 * i + 3])
                        for c in 0..<3 {
                            let ink = 255 - Int(src[4 * i + c])
                            dst[3 * i + c] = clampToByte(light - divideBy255Rounded(ink * light))
                        }
                    }
                }
            }
        }
        return RGBImage(uncheckedWidth: decoded.width, height: decoded.height, pixels: out)
    }

    /// One channel of `Image.alpha_composite(white, pixel)`: Pillow's integer compositing with
    /// 7 extra bits of precision, specialised to an opaque white destination. With dst = 255 and
    /// dst alpha = 255 the output alpha is 255, so Pillow's blend coefficient for the source is
    /// exactly `alpha * 128` and the destination gets the rest of `255 * 128`.
    @inline(__always)
    static func onWhite(_ value: UInt8, alpha: UInt8) -> UInt8 {
        if alpha == 0 { return 255 }
        let precision: UInt32 = 7
        let sourceWeight = UInt32(alpha) << precision
        let whiteWeight = (255 << precision) - sourceWeight
        let blended = UInt32(value) * sourceWeight + 255 * whiteWeight + (0x80 << precision)
        // Pillow divides by 255 as (x + x >> 8) >> 8, then drops the precision bits.
        return UInt8(truncatingIfNeeded: (((blended >> 8) + blended) >> 8) >> precision)
    }

    /// `round(x / 255)` the way Pillow's MULDIV255 computes it for 0 ≤ x ≤ 255².
    @inline(__always)
    static func divideBy255Rounded(_ x: Int) -> Int {
        let t = x + 128
        return ((t >> 8) + t) >> 8
    }

    @inline(__always)
    static func clampToByte(_ v: Int) -> UInt8 {
        UInt8(clamping: v)
    }
}
