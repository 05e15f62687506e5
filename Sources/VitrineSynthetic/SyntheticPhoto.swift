import Foundation
import VitrineImage

/// Photos without a dataset: a 28×28 grayscale PNG per seed, a seeded pattern, so no two seeds
/// give the same image (or the same content hash, which would make the blob store share them);
/// and a decoded photo-sized image for timing the encoder when no photo is at hand.
public enum SyntheticPhoto {
    /// Width and height in pixels (Fashion-MNIST's, the smallest real photos ingest sees).
    public static let side = 28

    /// The PNG of `seed`: the same bytes for the same seed on every machine.
    public static func png(seed: UInt64) throws -> Data {
        // xorshift64 gives the high bits; the low four follow the pixel index, so even two seeds
        // whose streams collided on a pixel still differ somewhere.
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        var pixels = [UInt8](repeating: 0, count: side * side)
        for i in pixels.indices {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            pixels[i] = UInt8(truncatingIfNeeded: (state >> 24) & 0xF0) | UInt8(i % 16)
        }
        return try PNGEncoder().encode(pixels: pixels, width: side, height: side, layout: .gray)
    }

    /// A `width` × `height` RGB image (at least 1 × 1): a horizontal ramp plus a hash of each
    /// byte's index, so the pixels vary as a photo's do and are the same on every run.
    public static func gradient(width: Int, height: Int) -> RGBImage {
        let pixels = (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: ($0 / 3 % width) + ($0 &* 2654435761) >> 28) }
        guard let image = RGBImage(width: width, height: height, pixels: pixels) else {
            preconditionFailure("a gradient of \(width) × \(height) pixels")
        }
        return image
    }
}
