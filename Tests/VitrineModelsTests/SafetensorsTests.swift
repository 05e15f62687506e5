import Foundation
import Testing
import VitrineTensor
@testable import VitrineModels

@Suite struct SafetensorsTests {
    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test(arguments: [SafetensorsFile.DType.f32, .f16, .bf16])
    func roundTripsEveryFloatType(dtype: SafetensorsFile.DType) throws {
        let dir = try temporaryDirectory()
        let url = dir.appendingPathComponent("model.safetensors")
        // Values exactly representable in all three types.
        let values: [Float] = [0, 1, -2, 0.5, 3.25, -0.125, 1024, 0.0078125]
        try SafetensorsWriter.write([.init(name: "w", shape: [2, 4], values: values)], dtype: dtype, to: url)
        let file = try SafetensorsFile(url: url)
        #expect(file.tensors["w"]?.dtype == dtype)
        #expect(file.tensors["w"]?.shape == [2, 4])
        #expect(try file.floats("w") == values)
    }

    @Test func float16ReferenceWeightsDecode() throws {
        // transformers stored the fixture in F16; its layer norm weights are 1 + 0.1·N(0,1).
        let file = try SafetensorsFile(url: Fixtures.model("tiny-clip-p32").appendingPathComponent("model.safetensors"))
        let info = try #require(file.tensors["vision_model.pre_layrnorm.weight"])
        #expect(info.dtype == .f16 && info.shape == [64])
        let w = try file.floats("vision_model.pre_layrnorm.weight")
        let mean = w.reduce(0, +) / Float(w.count)
        #expect(abs(mean - 1) < 0.05)
    }

    @Test func truncatedFileIsDetected() throws {
        let source = Fixtures.model("tiny-clip-p32").appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: source)
        let dir = try temporaryDirectory()
        for cut in [4, 100, bytes.count / 2, bytes.count - 1] {
            let url = dir.appendingPathComponent("cut.safetensors")
            try bytes.prefix(cut).write(to: url)
            let error = #expect(throws: ModelError.self) { try SafetensorsFile(url: url) }
            #expect(error?.description.contains("cut.safetensors") == true)
            #expect(error?.description.contains("truncated") == true, "\(String(describing: error))")
        }
    }

    @Test func garbageHeaderIsDetected() throws {
        let dir = try temporaryDirectory()
        let url = dir.appendingPathComponent("bad.safetensors")
        var bytes = Data([16, 0, 0, 0, 0, 0, 0, 0])
        bytes.append(contentsOf: Array("not json at all!".utf8))
        try bytes.write(to: url)
        let error = #expect(throws: ModelError.self) { try SafetensorsFile(url: url) }
        #expect(error?.description.contains("JSON") == true)
    }

    @Test func shardedCheckpointLoadsLikeASingleFile() throws {
        let dir = try temporaryDirectory()
        try SafetensorsWriter.write([.init(name: "a", shape: [2], values: [1, 2])], to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafetensorsWriter.write([.init(name: "b", shape: [1], values: [3])], dtype: .bf16, to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let index = #"{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let checkpoint = try Checkpoint(directory: dir)
        #expect(checkpoint.files.count == 2)
        #expect(try checkpoint.floats("a", shape: [2]) == [1, 2])
        #expect(try checkpoint.floats("b", shape: [1]) == [3])
        #expect(throws: ModelError.wrongShape(name: "a", path: dir.appendingPathComponent("model-00001-of-00002.safetensors").path, expected: [3], actual: [2])) {
            try checkpoint.floats("a", shape: [3])
        }
        #expect(throws: ModelError.missingTensor(name: "c", path: dir.path)) { try checkpoint.floats("c", shape: [1]) }
    }

    @Test func pickleOnlyRepositoryIsRefusedClearly() throws {
        let dir = try temporaryDirectory()
        try Data([0x80, 0x02]).write(to: dir.appendingPathComponent("pytorch_model.bin"))
        let error = #expect(throws: ModelError.self) { try Checkpoint(directory: dir) }
        #expect(error?.description.contains("pytorch_model.bin") == true)
        #expect(error?.description.contains("safetensors") == true)
    }

    @Test func configThatDisagreesWithWeightsNamesTheTensor() throws {
        let dir = try temporaryDirectory()
        let source = Fixtures.model("tiny-clip-p32")
        for name in ["model.safetensors", "config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        var vision = config["vision_config"] as! [String: Any]
        vision["intermediate_size"] = 300
        config["vision_config"] = vision
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        let error = #expect(throws: ModelError.self) { try CLIPModel(directory: dir) }
        #expect(error?.description.contains("vision_model.encoder.layers.0.mlp.fc1.weight") == true, "\(String(describing: error))")
    }

    @Test func missingTensorIsNamed() throws {
        let dir = try temporaryDirectory()
        let source = Fixtures.model("tiny-clip-p16-vision")
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let file = try SafetensorsFile(url: source.appendingPathComponent("model.safetensors"))
        let kept = try file.tensors.keys.filter { $0 != "vision_model.post_layernorm.bias" }.map {
            SafetensorsWriter.Tensor(name: $0, shape: file.tensors[$0]!.shape, values: try file.floats($0))
        }
        try SafetensorsWriter.write(kept, to: dir.appendingPathComponent("model.safetensors"))
        #expect(throws: ModelError.missingTensor(name: "vision_model.post_layernorm.bias", path: dir.path)) {
            try CLIPModel(directory: dir)
        }
    }

    @Test func randomCheckpointHasTheArchitectureOfItsModel() throws {
        let dir = try temporaryDirectory()
        try RandomCheckpoint.write(like: Fixtures.model("tiny-clip-p32"), to: dir, seed: 7)
        let model = try CLIPModel(directory: dir)
        #expect(model.config.isRandom)
        #expect(model.vision?.dimension == 32 && model.text?.dimension == 32)
        let source = try Checkpoint(directory: Fixtures.model("tiny-clip-p32"))
        let written = try Checkpoint(directory: dir)
        #expect(written.tensorNames == source.tensorNames)
        for name in source.tensorNames { #expect(written.shape(name) == source.shape(name), "\(name)") }
        // Reproducible from the seed, different across seeds.
        let again = try temporaryDirectory(), other = try temporaryDirectory()
        try RandomCheckpoint.write(like: Fixtures.model("tiny-clip-p32"), to: again, seed: 7)
        try RandomCheckpoint.write(like: Fixtures.model("tiny-clip-p32"), to: other, seed: 8)
        let name = "vision_model.encoder.layers.1.mlp.fc2.weight"
        let shape = try #require(source.shape(name))
        #expect(try Checkpoint(directory: again).floats(name, shape: shape) == written.floats(name, shape: shape))
        #expect(try Checkpoint(directory: other).floats(name, shape: shape) != written.floats(name, shape: shape))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("vocab.json").path))
        // transformers' strict configs reject 1 where a float is declared: the source's numbers
        // must survive as written.
        let config = try String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(config.contains("\"initializer_factor\": 1.0"))
    }
}
