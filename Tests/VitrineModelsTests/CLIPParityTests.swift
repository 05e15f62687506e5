import Foundation
import Testing
import VitrineTensor
@testable import VitrineModels

/// The CLIP towers against transformers' outputs on the same random-weight checkpoints
/// (written by `tools/make_fixtures.sh`). Acceptance: cosine ≥ 0.99999, max |difference| ≤ 1e-4.
@Suite struct CLIPParityTests {
    /// Images whose reference `pixel_values` are stored, so the towers are tested apart from
    /// preprocessing.
    static func referencePixels() throws -> (files: [String], pixels: [Float]) {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.root.appendingPathComponent("normalized").path)
            .filter { $0.hasSuffix(".npy") }.sorted()
        var pixels: [Float] = []
        for file in files {
            pixels += try NPYArray(contentsOf: Fixtures.root.appendingPathComponent("normalized/\(file)")).floats()
        }
        return (files.map { String($0.dropLast(4)) }, pixels)
    }

    static func imageRows(_ name: String, files: [String], directory: URL = Fixtures.root.appendingPathComponent("embeddings")) throws -> [[Float]] {
        let order = try JSONDecoder().decode([String].self, from: Data(contentsOf: directory.appendingPathComponent("images.json")))
        let rows = try Fixtures.matrix(directory.appendingPathComponent(name))
        return try files.map { file in try #require(order.firstIndex(of: file).map { rows[$0] }, "\(file) has no reference embedding") }
    }

    static func expectParity(_ got: [[Float]], _ want: [[Float]], _ labels: [String]) {
        #expect(got.count == want.count)
        for (label, (g, w)) in zip(labels, zip(got, want)) {
            let closeness = Closeness(g, w)
            #expect(closeness.isParity, "\(label): \(closeness)")
        }
    }

    @Test(arguments: [("tiny-clip-p32", "image-p32.npy"), ("tiny-clip-p16-vision", "image-p16.npy")])
    func visionTowerOnReferencePixels(model: String, embeddings: String) throws {
        let tower = try #require(try CLIPModel(directory: Fixtures.model(model)).vision)
        let (files, pixels) = try Self.referencePixels()
        #expect(files.count >= 3)
        let got = pixels.withUnsafeBufferPointer { tower.embed(pixels: $0, count: files.count) }
        Self.expectParity(got, try Self.imageRows(embeddings, files: files), files)
    }

    /// Batching must not change results: each image alone equals the batch.
    @Test func visionBatchEqualsSingles() throws {
        let tower = try #require(try CLIPModel(directory: Fixtures.model("tiny-clip-p32")).vision)
        let (files, pixels) = try Self.referencePixels()
        let batch = pixels.withUnsafeBufferPointer { tower.embed(pixels: $0, count: files.count) }
        for i in files.indices {
            let single = pixels[(i * tower.pixelCount)..<((i + 1) * tower.pixelCount)].withUnsafeBufferPointer {
                tower.embed(pixels: $0, count: 1)
            }
            #expect(Closeness(single[0], batch[i]).maxDifference < 1e-6)
        }
    }

    @Test(arguments: [("tiny-clip-p32", "text-p32.npy"), ("tiny-clip-text", "text-only.npy")])
    func textTowerOnReferenceTokenIDs(model: String, embeddings: String) throws {
        let tower = try #require(try CLIPModel(directory: Fixtures.model(model)).text)
        let texts = try Fixtures.texts(Fixtures.root.appendingPathComponent("embeddings/texts.json"))
        #expect(texts.contains { $0.ids.count == 77 }, "a truncated text is among the fixtures")
        // All texts in one batch of different lengths, each cut at its end-of-text token.
        let got = try tower.embed(tokenIDs: texts.map(\.ids))
        let want = try Fixtures.matrix(Fixtures.root.appendingPathComponent("embeddings/\(embeddings)"))
        Self.expectParity(got, want, texts.map(\.text))
    }

    @Test func textTowerRejectsBadTokenIDs() throws {
        let tower = try #require(try CLIPModel(directory: Fixtures.model("tiny-clip-p32")).text)
        #expect(throws: ModelError.self) { try tower.embed(tokenIDs: [[49406, 60000, 49407]]) }
        #expect(throws: ModelError.self) { try tower.embed(tokenIDs: [[]]) }
        #expect(throws: ModelError.self) { try tower.embed(tokenIDs: [[Int32](repeating: 320, count: 78)]) }
    }

    /// The full-size ViT-B/32 of `make_fixtures.sh --full` (600 MB, not committed): runs when
    /// `.fixtures-full/` or `VITRINE_FULL_FIXTURES` is present.
    @Test(.enabled(if: Fixtures.full != nil)) func fullSizeViTB32() throws {
        let dir = try #require(Fixtures.full)
        let model = try CLIPModel(directory: dir.appendingPathComponent("clip-vit-base-patch32-random"))
        let (files, pixels) = try Self.referencePixels()
        let got = pixels.withUnsafeBufferPointer { model.vision!.embed(pixels: $0, count: files.count) }
        Self.expectParity(got, try Self.imageRows("image.npy", files: files, directory: dir), files)
        let texts = try Fixtures.texts(dir.appendingPathComponent("texts.json"))
        let text = try model.text!.embed(tokenIDs: texts.map(\.ids))
        Self.expectParity(text, try Fixtures.matrix(dir.appendingPathComponent("text.npy")), texts.map(\.text))
    }
}
