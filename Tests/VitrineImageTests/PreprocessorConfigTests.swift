import Foundation
import VitrineTensor
import Testing
@testable import VitrineImage

/// One row of Tests/Fixtures/pixels/variants.json: the processor run with other settings.
struct Variant: Decodable, Sendable, CustomTestStringConvertible {
    let file: String
    let name: String
    let pixels: String
    var testDescription: String { "\(file) \(name)" }

    static let all: [Variant] = {
        let url = Fixtures.root.appendingPathComponent("pixels/variants.json")
        return (try? JSONDecoder().decode([Variant].self, from: Data(contentsOf: url))) ?? []
    }()

    /// The CLIP config with this variant's `config` object laid over it, as transformers'
    /// `from_pretrained(dir, **overrides)` does.
    func configJSON() throws -> Data {
        let url = Fixtures.root.appendingPathComponent("pixels/variants.json")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]])
        let row = try #require(rows.first { $0["file"] as? String == file && $0["name"] as? String == name })
        var merged = try #require(try JSONSerialization.jsonObject(with: Data(clipConfigJSON.utf8)) as? [String: Any])
        for (key, value) in try #require(row["config"] as? [String: Any]) { merged[key] = value }
        return try JSONSerialization.data(withJSONObject: merged)
    }
}

@Suite struct PreprocessorConfigTests {
    /// Bilinear, exact-size (up in one axis, down in the other) and crop-with-padding, each
    /// against the processor's own uint8 output.
    @Test(arguments: Variant.all)
    func variantMatchesProcessor(_ variant: Variant) throws {
        #expect(Variant.all.count >= 4)
        let config = try JSONDecoder().decode(PreprocessorConfig.self, from: variant.configJSON())
        let preprocessor = try ImagePreprocessor(config: config)
        let image = try ImageDecoder().decode(contentsOf: Fixtures.images.appendingPathComponent(variant.file))
        let out = preprocessor.resizeAndCrop(image)
        let reference = try NPYArray(contentsOf: Fixtures.root.appendingPathComponent("pixels/\(variant.pixels)"))
        #expect(reference.shape == [out.height, out.width, 3])
        let differing = zip(out.pixels, reference.uint8).filter { $0 != $1 }.count
        #expect(out.pixels.count == reference.uint8.count)
        #expect(differing == 0, "\(variant.testDescription): \(differing) bytes differ")
        let shape = preprocessor.outputShape(width: image.width, height: image.height)
        #expect(shape.height == out.height && shape.width == out.width)
    }

    @Test func readsCLIPConfigFromFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("preprocessor_config-\(UUID()).json")
        try Data(clipConfigJSON.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let preprocessor = try ImagePreprocessor(contentsOf: url)
        #expect(preprocessor.config == PreprocessorConfig())  // the CLIP defaults
        #expect(preprocessor.filter == .bicubic)
        #expect(preprocessor.fixedOutputShape! == (3, 224, 224))
    }

    @Test func acceptsLegacyIntegerSizes() throws {
        let json = #"{"size": 256, "crop_size": 240, "image_mean": 0.5, "image_std": 0.5}"#
        let config = try JSONDecoder().decode(PreprocessorConfig.self, from: Data(json.utf8))
        #expect(config.size == .shortestEdge(256))
        #expect(config.cropSize == (240, 240))
        #expect(config.imageMean == [0.5, 0.5, 0.5])
        #expect(config.resample == 3 && config.doCenterCrop)
    }

    @Test(arguments: [
        (#"{"resample": 0}"#, "resample 0"),
        (#"{"resample": 1}"#, "resample 1"),
        (#"{"size": {"longest_edge": 300}}"#, "size must be"),
        (#"{"crop_size": {"height": 10}}"#, "crop_size"),
        (#"{"size": {"shortest_edge": 0}}"#, "shortest_edge must be positive"),
        (#"{"image_mean": [0.5, 0.5]}"#, "image_mean"),
        (#"{"do_convert_rgb": false}"#, "do_convert_rgb"),
    ])
    func rejectsWhatItCannotDo(_ json: String, _ reason: String) throws {
        #expect { () throws -> Void in
            let config = try JSONDecoder().decode(PreprocessorConfig.self, from: Data(json.utf8))
            _ = try ImagePreprocessor(config: config)
        } throws: { error in
            (error as? ImageError).map { "\($0)".contains(reason) } ?? false
        }
    }
}
