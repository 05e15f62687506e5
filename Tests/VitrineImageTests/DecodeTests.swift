import Crypto
import Foundation
import VitrineCore
import VitrineTensor
import Testing
@testable import VitrineImage

@Suite struct DecodeTests {
    @Test func manifestCoversEveryKind() {
        let kinds = Set(Fixtures.manifest.map(\.kind))
        for kind in ["jpeg-baseline", "jpeg-progressive", "jpeg-cmyk", "jpeg-gray", "png-gray", "png-gray-alpha",
                     "png-rgba", "png-palette", "png-palette-trns", "png-rgb", "webp-lossy", "webp-lossy-alpha",
                     "webp-lossless", "png-gray-tiny", "jpeg-large", "png-rgb-16bit", "exif-orientation"] {
            #expect(kinds.contains(kind), "no fixture of kind \(kind)")
        }
        #expect(Fixtures.parity.count >= 12)
    }

    /// Decoded RGB equals transformers' convert_to_rgb of Pillow's image (upright for the
    /// orientation fixtures, high byte for 16-bit): byte for byte where a .npy is stored, by
    /// SHA-256 otherwise.
    @Test(arguments: Fixtures.manifest)
    func decodedPixelsMatchReference(_ entry: Fixtures.Entry) throws {
        let image = try ImageDecoder().decode(try entry.bytes())
        let upright = (entry.orientation ?? 1) >= 5
        #expect(image.width == (upright ? entry.height : entry.width))
        #expect(image.height == (upright ? entry.width : entry.height))
        if entry.decoded {
            let reference = try NPYArray(contentsOf: entry.decodedURL)
            #expect(reference.shape == [image.height, image.width, 3])
            let expected = reference.uint8
            let differing = zip(image.pixels, expected).filter { $0 != $1 }.count
            #expect(image.pixels.count == expected.count)
            #expect(differing == 0, "\(entry.file): \(differing) of \(expected.count) decoded bytes differ")
        }
        #expect(Hex.encode(SHA256.hash(data: image.pixels)) == entry.decoded_sha256, "\(entry.file): decoded bytes differ (SHA-256)")
    }

    @Test func sixteenBitPNGKeepsHighByte() throws {
        let entry = try #require(Fixtures.manifest.first { $0.kind == "png-rgb-16bit" })
        let image = try ImageDecoder().decode(try entry.bytes())
        let highBytes = try NPYArray(contentsOf: entry.decodedURL).uint8
        #expect(image.pixels == highBytes)
    }

    @Test func decodesFromDataAndURLAlike() throws {
        let entry = try #require(Fixtures.manifest.first { $0.file == "progressive.jpg" })
        let fromBytes = try ImageDecoder().decode(try entry.bytes())
        let fromData = try ImageDecoder().decode(try Data(contentsOf: entry.url))
        let fromURL = try ImageDecoder().decode(contentsOf: entry.url)
        #expect(fromBytes == fromData && fromData == fromURL)
    }

    /// The format comes from the magic bytes: a PNG renamed .jpg still decodes as PNG.
    @Test func sniffsFormatFromMagicBytes() throws {
        #expect(ImageFormat.sniff(try Fixtures.images.appendingPathComponent("gray.png").bytes()) == .png)
        #expect(ImageFormat.sniff(try Fixtures.images.appendingPathComponent("lossy.webp").bytes()) == .webp)
        #expect(ImageFormat.sniff(try Fixtures.images.appendingPathComponent("cmyk.jpg").bytes()) == .jpeg)
        let renamed = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-\(UUID()).jpg")
        try Data(contentsOf: Fixtures.images.appendingPathComponent("gray.png")).write(to: renamed)
        defer { try? FileManager.default.removeItem(at: renamed) }
        let image = try ImageDecoder().decode(contentsOf: renamed)
        #expect(image.width == 512 && image.height == 512)
    }
}

extension URL {
    func bytes() throws -> [UInt8] { [UInt8](try Data(contentsOf: self)) }
}
