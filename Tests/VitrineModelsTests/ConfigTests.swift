import Foundation
import Testing
@testable import VitrineModels

@Suite struct ConfigTests {
    struct Expected: Decodable {
        let parameters: Int
        let tensors: Int
        let vision_hidden: Int
        let vision_layers: Int
        let patch_size: Int
        let text_hidden: Int
        let projection_dim: Int
    }

    /// The hub's CLIP ViT configs parse to the architecture transformers builds from them: the
    /// same tensors, the same parameter count (both counted by transformers in the fixtures).
    @Test(arguments: ["openai-clip-vit-base-patch32", "openai-clip-vit-base-patch16",
                      "openai-clip-vit-large-patch14", "patrickjohncyh-fashion-clip"])
    func hubConfigsGiveTransformersArchitecture(name: String) throws {
        let dir = Fixtures.root.appendingPathComponent("configs")
        let all = try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        let expected = try #require(all[name])
        let config = try CLIPConfig(contentsOf: dir.appendingPathComponent("\(name).json"))
        let vision = try #require(config.vision), text = try #require(config.text)
        #expect(vision.encoder.hiddenSize == expected.vision_hidden)
        #expect(vision.encoder.layers == expected.vision_layers)
        #expect(vision.patchSize == expected.patch_size)
        #expect(text.encoder.hiddenSize == expected.text_hidden)
        #expect(vision.projectionDim == expected.projection_dim && text.projectionDim == expected.projection_dim)
        let layout = CLIPCheckpointLayout.parameters(of: config)
        #expect(layout.count == expected.tensors)
        #expect(layout.reduce(0) { $0 + $1.shape.reduce(1, *) } == expected.parameters)
    }

    @Test func towerOnlyConfigs() throws {
        let vision = try CLIPConfig(contentsOf: Fixtures.model("tiny-clip-p16-vision").appendingPathComponent("config.json"))
        #expect(vision.modelType == "clip_vision_model" && vision.text == nil)
        #expect(vision.vision?.patchSize == 16 && vision.vision?.encoder.activation == .gelu)
        #expect(vision.isRandom)
        let text = try CLIPConfig(contentsOf: Fixtures.model("tiny-clip-text").appendingPathComponent("config.json"))
        #expect(text.modelType == "clip_text_model" && text.vision == nil)
        #expect(text.text?.poolsAtHighestTokenID == false)
        let legacy = try CLIPConfig(contentsOf: Fixtures.model("tiny-clip-p32").appendingPathComponent("config.json"))
        #expect(legacy.text?.poolsAtHighestTokenID == true)
    }

    @Test func unknownModelTypeIsAClearError() throws {
        let error = #expect(throws: ModelError.self) {
            try CLIPConfig(json: ["model_type": "bert"], path: "x/config.json")
        }
        #expect(error?.description.contains("model_type \"bert\"") == true)
        #expect(error?.description.hasPrefix("x/config.json") == true)
    }

    @Test func malformedValuesAreNamed() throws {
        let error = #expect(throws: ModelError.self) {
            try CLIPConfig(json: ["model_type": "clip_vision_model", "hidden_size": "wide"], path: "c.json")
        }
        #expect(error?.description.contains("hidden_size") == true)
        #expect(throws: ModelError.self) {
            try CLIPConfig(json: ["model_type": "clip_vision_model", "hidden_size": 100, "num_attention_heads": 12], path: "c.json")
        }
        #expect(throws: ModelError.self) {
            try CLIPConfig(json: ["model_type": "clip_vision_model", "hidden_act": "swish"], path: "c.json")
        }
        #expect(throws: ModelError.self) {
            try CLIPConfig(json: ["model_type": "clip_vision_model", "image_size": 224, "patch_size": 33], path: "c.json")
        }
    }
}
