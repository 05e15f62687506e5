import Foundation
import VitrineTensor
import Testing
@testable import VitrineImage

/// The Hugging Face CLIP preprocessor config the fixtures were made with
/// (openai/clip-vit-base-patch32), inline so the tests need no model directory.
let clipConfigJSON = """
{
  "crop_size": {"height": 224, "width": 224},
  "do_center_crop": true, "do_convert_rgb": true, "do_normalize": true, "do_rescale": true,
  "do_resize": true,
  "image_mean": [0.48145466, 0.4578275, 0.40821073],
  "image_processor_type": "CLIPImageProcessor",
  "image_std": [0.26862954, 0.26130258, 0.27577711],
  "resample": 3, "rescale_factor": 0.00392156862745098,
  "size": {"shortest_edge": 224}
}
"""

func clipPreprocessor() throws -> ImagePreprocessor {
    try ImagePreprocessor(config: JSONDecoder().decode(PreprocessorConfig.self, from: Data(clipConfigJSON.utf8)))
}

@Suite struct ParityTests {
    /// Decode + Pillow-exact resize + centre crop equals CLIPImageProcessorPil's uint8 image.
    @Test(arguments: Fixtures.parity)
    func resizedAndCroppedPixelsAreIdentical(_ entry: Fixtures.Entry) throws {
        let image = try ImageDecoder().decode(try entry.bytes())
        let prepared = try clipPreprocessor().resizeAndCrop(image)
        let reference = try NPYArray(contentsOf: entry.pixelsURL)
        #expect(reference.shape == [224, 224, 3])
        #expect(prepared.width == 224 && prepared.height == 224)
        let expected = reference.uint8
        let differing = zip(prepared.pixels, expected).filter { $0 != $1 }.count
        let worst = zip(prepared.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(differing == 0, "\(entry.file): \(differing) of \(expected.count) bytes differ (max by \(worst))")
    }

    /// The whole pipeline against the processor's float32 pixel_values.
    @Test(arguments: Fixtures.parity.filter(\.normalized))
    func pixelValuesMatchWithinTolerance(_ entry: Fixtures.Entry) throws {
        let image = try ImageDecoder().decode(try entry.bytes())
        let values = try clipPreprocessor().pixelValues(image)
        let reference = try NPYArray(contentsOf: entry.normalizedURL)
        #expect(reference.shape == [3, 224, 224])
        let expected = reference.float32
        #expect(values.count == expected.count)
        let maxDifference = zip(values, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxDifference <= 1e-5, "\(entry.file): max |difference| \(maxDifference)")
        print("\(entry.file): pixel_values max |difference| \(maxDifference)")
    }

    /// Normalisation alone, fed the reference uint8 crop: transformers rescales in float64 and
    /// normalises in float32, which the table reproduces exactly.
    @Test(arguments: Fixtures.parity.filter(\.normalized))
    func normalizationOfReferencePixelsIsExact(_ entry: Fixtures.Entry) throws {
        let crop = try #require(RGBImage(width: 224, height: 224, pixels: NPYArray(contentsOf: entry.pixelsURL).uint8))
        var values = [Float](repeating: .nan, count: 3 * 224 * 224)
        try values.withUnsafeMutableBufferPointer { try clipPreprocessor().normalize(crop, into: $0) }
        let expected = try NPYArray(contentsOf: entry.normalizedURL).float32
        let maxDifference = zip(values, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxDifference == 0, "\(entry.file): max |difference| \(maxDifference)")
    }

    @Test func shortestEdgeRoundingMatchesTransformers() throws {
        let p = try clipPreprocessor()
        // int(224 * long / short), truncated; the shorter side always becomes 224.
        #expect(p.resizedSize(width: 640, height: 427) == (224, 335))  // 335.74...
        #expect(p.resizedSize(width: 1024, height: 134) == (224, 1711))
        #expect(p.resizedSize(width: 300, height: 420) == (313, 224))
        #expect(p.resizedSize(width: 28, height: 28) == (224, 224))
    }

    @Test func centerCropPadsSmallImagesWithZeros() throws {
        // 2×1 image into a 4×3 crop: rows 1 (ceil(2/2)) and columns 1...2 (ceil(2/2)) hold it.
        let small = try #require(RGBImage(width: 2, height: 1, pixels: [10, 11, 12, 20, 21, 22]))
        let out = ImagePreprocessor.centerCrop(small, height: 3, width: 4)
        var expected = [UInt8](repeating: 0, count: 4 * 3 * 3)
        expected.replaceSubrange((1 * 4 + 1) * 3..<(1 * 4 + 3) * 3, with: [10, 11, 12, 20, 21, 22])
        #expect(out.pixels == expected)
        // 5 wide into 2: offset (5 - 2) // 2 = 1.
        let wide = try #require(RGBImage(width: 5, height: 1, pixels: (0..<15).map(UInt8.init)))
        #expect(ImagePreprocessor.centerCrop(wide, height: 1, width: 2).pixels == [3, 4, 5, 6, 7, 8])
    }
}
