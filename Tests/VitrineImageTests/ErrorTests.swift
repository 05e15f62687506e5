import Foundation
import Testing
import VitrineCore
@testable import VitrineImage

@Suite struct ErrorTests {
    @Test func emptyData() {
        #expect(throws: ImageError.empty) { try ImageDecoder().decode([UInt8]()) }
    }

    @Test func unknownFormat() {
        let gif = Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0]
        #expect(throws: ImageError.unknownFormat(leadingBytes: Array(gif.prefix(8)))) { try ImageDecoder().decode(gif) }
        do {
            _ = try ImageDecoder().decode(gif)
        } catch {
            #expect("\(error)".contains("unknown image format"))
        }
    }

    @Test func missingFileIsUnreadable() {
        let url = URL(fileURLWithPath: "/nonexistent/vitrine.jpg")
        #expect { try ImageDecoder().decode(contentsOf: url) } throws: { error in
            guard case ImageError.unreadable(let path, _) = error else { return false }
            return path == url.path
        }
    }

    /// Every prefix cut at several offsets throws (or, past the pixel data, still decodes), and
    /// never crashes.
    @Test(arguments: Fixtures.photos)
    func truncatedFilesThrow(_ entry: Fixtures.Entry) throws {
        let bytes = try entry.bytes()
        let cuts = Set([1, 2, 3, 8, 12, 16, 30, 64, 100, bytes.count / 4, bytes.count / 2, bytes.count * 3 / 4, bytes.count - 40])
            .filter { $0 > 0 && $0 < bytes.count - 32 }
        for cut in cuts.sorted() {
            do {
                _ = try ImageDecoder().decode(Array(bytes[..<cut]))
                Issue.record("\(entry.file) cut at \(cut) of \(bytes.count) bytes decoded without error")
            } catch let error as ImageError {
                #expect(!error.description.isEmpty)
            }
        }
    }

    /// Flipped bytes after the signature: any ImageError or a decoded image is fine; a crash is not.
    @Test(arguments: Fixtures.photos)
    func corruptedBytesNeverCrash(_ entry: Fixtures.Entry) throws {
        let original = try entry.bytes()
        var rng = SplitMix64(seed: UInt64(original.count))
        for _ in 0..<12 {
            var bytes = original
            for _ in 0..<8 {
                let i = 8 + Int(rng.next() % UInt64(bytes.count - 8))
                bytes[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            }
            do {
                let image = try ImageDecoder().decode(bytes)
                #expect(image.pixels.count == image.width * image.height * 3)
            } catch is ImageError {
                // Rejected with a typed error: fine.
            }
        }
    }

    /// A JPEG whose SOF declares 50000×50000 is refused from the header, before any pixel buffer
    /// exists (decoding it would need 7.5 GB).
    @Test func jpegOverPixelLimitFailsBeforeDecoding() throws {
        var jpeg = try Fixtures.images.appendingPathComponent("orient_1.jpg").bytes()
        let sof = try #require((2..<jpeg.count - 9).first { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2) })
        jpeg.replaceSubrange(sof + 5..<sof + 9, with: [0xC3, 0x50, 0xC3, 0x50])  // height, width = 50000
        #expect(throws: ImageError.tooLarge(width: 50000, height: 50000, maxPixels: 40_000_000)) {
            try ImageDecoder().decode(jpeg)
        }
        #expect(try ImageDecoder().probe(jpeg) == (.jpeg, 50000, 50000))
    }

    @Test func pngOverPixelLimitFailsBeforeDecoding() throws {
        var png = try Fixtures.images.appendingPathComponent("gray.png").bytes()
        // IHDR data starts at 16; width and height are big-endian u32, then the CRC at 29.
        png.replaceSubrange(16..<24, with: [0, 0, 0xC3, 0x50, 0, 0, 0xC3, 0x50])
        let crc = CRC32.checksum(png[12..<29])
        png.replaceSubrange(29..<33, with: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: crc >> $0) })
        #expect(throws: ImageError.tooLarge(width: 50000, height: 50000, maxPixels: 40_000_000)) {
            try ImageDecoder().decode(png)
        }
    }

    /// The limit is checked on every format's header.
    @Test(arguments: ["gray.png", "lossless.webp", "alpha.webp", "progressive.jpg", "cmyk.jpg"])
    func everyFormatHonoursTheLimit(_ name: String) throws {
        let bytes = try Fixtures.images.appendingPathComponent(name).bytes()
        let size = try ImageDecoder().probe(bytes)
        #expect(throws: ImageError.tooLarge(width: size.width, height: size.height, maxPixels: 1000)) {
            try ImageDecoder(maxPixels: 1000).decode(bytes)
        }
    }

    @Test func limitIsConfigurable() throws {
        let bytes = try Fixtures.images.appendingPathComponent("large.jpg").bytes()
        #expect(throws: ImageError.tooLarge(width: 1600, height: 1110, maxPixels: 1_000_000)) {
            try ImageDecoder(maxPixels: 1_000_000).decode(bytes)
        }
        #expect(try ImageDecoder(maxPixels: 1600 * 1110).decode(bytes).width == 1600)
    }

    @Test func errorsNameTheirReason() throws {
        let jpeg = try Fixtures.images.appendingPathComponent("baseline.jpg").bytes()
        do {
            _ = try ImageDecoder().decode(Array(jpeg.prefix(jpeg.count / 2)))
            Issue.record("half a JPEG decoded")
        } catch let error as ImageError {
            guard case .truncated(.jpeg, _) = error else {
                Issue.record("expected truncated JPEG, got \(error)")
                return
            }
            #expect(error.description.contains("truncated JPEG"))
        }
        let png = try Fixtures.images.appendingPathComponent("rgb.png").bytes()
        #expect { try ImageDecoder().decode(Array(png.prefix(png.count / 2))) } throws: { error in
            if case ImageError.truncated(.png, _) = error { return true }
            return false
        }
    }

    @Test func unsupportedResampleIsAClearError() throws {
        var config = PreprocessorConfig()
        config.resample = 1  // LANCZOS
        #expect { try ImagePreprocessor(config: config) } throws: { error in
            "\(error)".contains("resample 1 is not supported")
        }
    }
}

/// PNG's CRC-32, to forge a valid IHDR.
enum CRC32 {
    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
