import Foundation

/// The weights of a model directory: `model.safetensors`, or the shards listed by
/// `model.safetensors.index.json`. Tensors are looked up by name across all shards.
public struct Checkpoint: Sendable {
    public let directory: URL
    public let files: [SafetensorsFile]
    private let location: [String: Int]

    /// Opens the weights of a Hugging Face model directory.
    ///
    /// A directory that holds only PyTorch pickles (`pytorch_model.bin`) is refused with an
    /// error saying so: unpickling is arbitrary code execution, and safetensors is the format
    /// every current checkpoint ships.
    public init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        var names: [URL] = []
        if fm.fileExists(atPath: single.path) {
            names = [single]
        } else if fm.fileExists(atPath: index.path) {
            guard let data = try? Data(contentsOf: index),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = json["weight_map"] as? [String: String]
            else { throw ModelError.malformedWeights(path: index.path, reason: "no \"weight_map\" object") }
            for shard in Set(map.values).sorted() {
                guard !shard.contains("/"), !shard.hasPrefix(".") else {
                    throw ModelError.malformedWeights(path: index.path, reason: "shard name \(shard) leaves the directory")
                }
                names.append(directory.appendingPathComponent(shard))
            }
        } else {
            let pickles = ["pytorch_model.bin", "pytorch_model.bin.index.json"].filter {
                fm.fileExists(atPath: directory.appendingPathComponent($0).path)
            }
            if !pickles.isEmpty {
                throw ModelError.missingFile(
                    path: single.path,
                    reason: "the model ships only \(pickles[0]) (PyTorch pickle), which Vitrine does not load; convert it to safetensors (e.g. with transformers: model.save_pretrained(dir, safe_serialization=True))"
                )
            }
            throw ModelError.missingFile(path: single.path, reason: "no model.safetensors or model.safetensors.index.json")
        }
        let files = try names.map { try SafetensorsFile(url: $0) }
        var location: [String: Int] = [:]
        for (i, file) in files.enumerated() {
            for name in file.tensors.keys { location[name] = i }
        }
        self.files = files
        self.location = location
    }

    public var tensorNames: [String] { location.keys.sorted() }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    public func shape(_ name: String) -> [Int]? {
        location[name].flatMap { files[$0].tensors[name]?.shape }
    }

    /// The tensor as `Float`, checked against the shape the model expects.
    public func floats(_ name: String, shape expected: [Int]) throws -> [Float] {
        guard let i = location[name] else {
            throw ModelError.missingTensor(name: name, path: directory.path)
        }
        let actual = files[i].tensors[name]!.shape
        guard actual == expected else {
            throw ModelError.wrongShape(name: name, path: files[i].url.path, expected: expected, actual: actual)
        }
        return try files[i].floats(name)
    }
}
