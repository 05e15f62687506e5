import ArgumentParser
import Foundation
import VitrineHub
import VitrineModels
import VitrineTensor

extension Precision: ExpressibleByArgument {}

/// `--model`: a local directory in Hugging Face layout, or a hub repo id (`owner/name[@rev]`).
public struct ModelOption: ParsableArguments {
    @Option(name: .customLong("model"), help: "A model directory in Hugging Face layout, or a hub repo id such as openai/clip-vit-base-patch32.")
    public var spec: String

    @Option(help: "Linear layers' precision: fp32 (exact, the default), bf16 (half the memory) or int8 (8-bit weights and activations through oneDNN, fastest).")
    public var precision: Precision = .fp32

    public init() {}

    public init(spec: String, precision: Precision) {
        self.spec = spec
        self.precision = precision
    }

    /// The local directory of the model, pulling a repo id into the Hugging Face cache once
    /// (honouring HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE and HF_HUB_OFFLINE).
    public func resolve() async throws -> URL {
        try await ModelLocation.resolve(spec, progress: ProgressBar().handler)
    }

    /// The model's encoders at the chosen precision.
    public func load() async throws -> CLIPEncoders {
        let directory = try await resolve()
        return try CLIPEncoders(directory: directory, precision: precision)
    }
}
