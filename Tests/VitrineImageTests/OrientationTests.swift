import Foundation
import Testing
@testable import VitrineImage

@Suite struct OrientationTests {
    /// A 3×2 image whose pixels are numbered 0...5 in the red channel, row-major.
    private let numbered = RGBImage(width: 3, height: 2, pixels: (0..<6).flatMap { [UInt8($0), 0, 0] })!

    private func reds(_ image: RGBImage) -> [UInt8] { stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] } }

    /// Stored:   0 1 2      The expected upright images below are written out by hand from the
    ///           3 4 5      EXIF 2.3 definitions of the eight orientations.
    @Test(arguments: [
        (1, 3, [0, 1, 2, 3, 4, 5]),
        (2, 3, [2, 1, 0, 5, 4, 3]),
        (3, 3, [5, 4, 3, 2, 1, 0]),
        (4, 3, [3, 4, 5, 0, 1, 2]),
        (5, 2, [0, 3, 1, 4, 2, 5]),
        (6, 2, [3, 0, 4, 1, 5, 2]),
        (7, 2, [5, 2, 4, 1, 3, 0]),
        (8, 2, [2, 5, 1, 4, 0, 3]),
    ])
    func appliesEachOrientation(_ tag: Int, _ width: Int, _ expected: [UInt8]) throws {
        let orientation = try #require(ExifOrientation(rawValue: tag))
        let upright = orientation.apply(to: numbered)
        #expect(upright.width == width)
        #expect(upright.height == 6 / width)
        #expect(reds(upright) == expected)
    }

    /// The tag is read from JPEG APP1, PNG eXIf and WebP EXIF alike (files written by Pillow).
    @Test(arguments: Fixtures.oriented)
    func readsTagFromFile(_ entry: Fixtures.Entry) throws {
        let bytes = try entry.bytes()
        let format = try #require(ImageFormat.sniff(bytes))
        let tag = bytes.withUnsafeBufferPointer { ExifOrientation.read(from: $0, format: format) }
        #expect(tag?.rawValue == entry.orientation)
    }

    @Test func canBeSwitchedOff() throws {
        let rotated = try Fixtures.images.appendingPathComponent("orient_6.png").bytes()
        let plain = try Fixtures.images.appendingPathComponent("orient_1.png").bytes()
        let stored = try ImageDecoder(appliesExifOrientation: false).decode(rotated)
        #expect(stored == (try ImageDecoder().decode(plain)))
        #expect(stored.width == 7 && stored.height == 5)
    }

    @Test func photosWithoutTagAreUntouched() throws {
        for name in ["baseline.jpg", "rgb.png", "lossy.webp"] {
            let bytes = try Fixtures.images.appendingPathComponent(name).bytes()
            let format = try #require(ImageFormat.sniff(bytes))
            let tag = bytes.withUnsafeBufferPointer { ExifOrientation.read(from: $0, format: format) }
            #expect(tag == nil || tag == .up, "\(name)")
        }
    }
}
