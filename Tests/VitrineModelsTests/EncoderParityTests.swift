import Foundation
import Testing
import VitrineImage
@testable import VitrineModels

/// The whole path, file bytes or text in, embedding out (decode, preprocess, tokenize, encode),
/// against transformers + Pillow on the same inputs.
@Suite struct EncoderParityTests {
    static let imagesDirectory = Fixtures.root.appendingPathComponent("images")

    static func parityImages(_ directory: URL) throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(contentsOf: directory.appendingPathComponent("images.json")))
    }

    static func checkImages(model: URL, reference: URL, embeddings: String) throws {
        let encoder = try #require(try CLIPEncoders(directory: model).image)
        let files = try parityImages(reference)
        #expect(files.count >= 12)
        let decoder = ImageDecoder()
        let images = try files.map { try decoder.decode(contentsOf: imagesDirectory.appendingPathComponent($0)) }
        let got = encoder.embed(images: images)
        let want = try Fixtures.matrix(reference.appendingPathComponent(embeddings))
        CLIPParityTests.expectParity(got, want, files)
    }

    static func checkTexts(model: URL, reference: URL, embeddings: String) throws {
        let encoder = try #require(try CLIPEncoders(directory: model).text)
        let cases = try Fixtures.texts(reference.appendingPathComponent("texts.json"))
        let texts = cases.map(\.text).filter { !$0.allSatisfy(\.isWhitespace) }
        #expect(texts.count == cases.count - 1, "the empty text is the only one left out")
        for text in texts { #expect(encoder.tokenize(text).ids == cases.first { $0.text == text }!.ids) }
        let all = try Fixtures.matrix(reference.appendingPathComponent(embeddings))
        let want = texts.map { text in all[cases.firstIndex { $0.text == text }!] }
        // As a batch (one GEMM over all tokens) and one query at a time (the few-rows kernel).
        CLIPParityTests.expectParity(try encoder.embed(texts: texts), want, texts)
        CLIPParityTests.expectParity(try texts.map { try encoder.embed(texts: [$0])[0] }, want, texts)
    }

    @Test(arguments: [("tiny-clip-p32", "image-p32.npy"), ("tiny-clip-p16-vision", "image-p16.npy")])
    func imageFilesToEmbeddings(model: String, embeddings: String) throws {
        try Self.checkImages(model: Fixtures.model(model), reference: Fixtures.root.appendingPathComponent("embeddings"), embeddings: embeddings)
    }

    @Test(arguments: [("tiny-clip-p32", "text-p32.npy"), ("tiny-clip-text", "text-only.npy")])
    func textsToEmbeddings(model: String, embeddings: String) throws {
        try Self.checkTexts(model: Fixtures.model(model), reference: Fixtures.root.appendingPathComponent("embeddings"), embeddings: embeddings)
    }

    /// The lowest cosine between the tiny p32 model's image embeddings of the parity photos
    /// (through `encoders`, at whatever precision) and transformers' fp32 ones.
    static func worstImageCosine(_ encoders: CLIPEncoders) throws -> Float {
        let reference = Fixtures.root.appendingPathComponent("embeddings")
        let decoder = ImageDecoder()
        let images = try parityImages(reference).map { try decoder.decode(contentsOf: imagesDirectory.appendingPathComponent($0)) }
        let got = try #require(encoders.image).embed(images: images)
        let want = try Fixtures.matrix(reference.appendingPathComponent("image-p32.npy"))
        return zip(got, want).map { Closeness($0, $1).cosine }.min() ?? -1
    }

    /// bf16 weights are not exact; they must stay close to the reference (reported by the bench
    /// for real sizes) and be really stored at half size.
    @Test func bfloat16WeightsStayClose() throws {
        let encoders = try CLIPEncoders(directory: Fixtures.model("tiny-clip-p32"), precision: .bf16)
        #expect(encoders.model.precision == .bf16)
        let worst = try Self.worstImageCosine(encoders)
        #expect(worst > 0.999, "min cosine \(worst)")
        #expect(worst < 0.9999999, "bf16 rounding must show; if not, the weights were not rounded")
    }

    /// int8 weights and activations: close to the reference on both towers, whether texts go
    /// as a batch (oneDNN's GEMM) or one at a time (the few-rows kernel, the same int32 sums).
    /// Measured: min cosine 0.9998 (image) and 0.9997 (text) with 8-bit weights (VNNI), 0.9993 and
    /// 0.9992 with 7-bit ones (oneDNN without VNNI: `VITRINE_ISA=portable`).
    @Test func int8StaysClose() throws {
        let encoders = try CLIPEncoders(directory: Fixtures.model("tiny-clip-p32"), precision: .int8)
        #expect(encoders.model.precision == .int8)
        let worst = try Self.worstImageCosine(encoders)
        #expect(worst > 0.998, "image: min cosine \(worst)")
        let reference = Fixtures.root.appendingPathComponent("embeddings")
        #expect(worst < 0.99999, "int8 rounding must show; if not, nothing was quantized")

        let text = try #require(encoders.text)
        let cases = try Fixtures.texts(reference.appendingPathComponent("texts.json"))
        let texts = cases.map(\.text).filter { !$0.allSatisfy(\.isWhitespace) }
        let all = try Fixtures.matrix(reference.appendingPathComponent("text-p32.npy"))
        let wantTexts = texts.map { t in all[cases.firstIndex { $0.text == t }!] }
        for got in [try text.embed(texts: texts), try texts.map { try text.embed(texts: [$0])[0] }] {
            var worstText: Float = 1
            for (g, w) in zip(got, wantTexts) { worstText = min(worstText, Closeness(g, w).cosine) }
            #expect(worstText > 0.998, "text: min cosine \(worstText)")
            print("int8 tiny-clip-p32: image min cosine \(worst), text min cosine \(worstText)")
        }
    }

    @Test func emptyTextIsAnError() throws {
        let encoder = try #require(try CLIPEncoders(directory: Fixtures.model("tiny-clip-p32")).text)
        let error = #expect(throws: ModelError.self) { try encoder.embed(texts: ["  "]) }
        #expect(error?.description.contains("empty text") == true)
    }

    @Test func towerOnlyModelsHaveOneEncoder() throws {
        let vision = try CLIPEncoders(directory: Fixtures.model("tiny-clip-p16-vision"))
        #expect(vision.image != nil && vision.text == nil)
        let text = try CLIPEncoders(directory: Fixtures.model("tiny-clip-text"))
        #expect(text.image == nil && text.text != nil)
    }

    /// The full-size ViT-B/32 random checkpoint of `make_fixtures.sh --full`, when present.
    @Test(.enabled(if: Fixtures.full != nil)) func fullSizeViTB32FromFiles() throws {
        let dir = try #require(Fixtures.full)
        let model = dir.appendingPathComponent("clip-vit-base-patch32-random")
        try Self.checkImages(model: model, reference: dir, embeddings: "image.npy")
        try Self.checkTexts(model: model, reference: dir, embeddings: "text.npy")
    }
}
