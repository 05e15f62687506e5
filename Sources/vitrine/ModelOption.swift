import ArgumentParser
import Foundation
import VitrineModels

/// `--model`: a local directory in Hugging Face layout, or a hub repo id (`owner/name[@rev]`).
struct ModelOption: ParsableArguments {
    @Option(name: .customLong("model"), help: "A model directory in Hugging Face layout, or a hub repo id such as openai/clip-vit-base-patch32.")
    var spec: String

    /// The local directory of the model, downloading it into the Hugging Face cache if needed.
    func resolve() async throws -> URL {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: spec, isDirectory: &isDirectory), isDirectory.boolValue {
            return URL(fileURLWithPath: spec)
        }
        throw ModelError.missingFile(path: spec, reason: "no such model directory")
    }
}
