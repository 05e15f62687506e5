import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineHub
import VitrineModels

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Fetch models and make random-weight checkpoints.",
        subcommands: [Pull.self, Random.self]
    )

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a hub model into the Hugging Face cache, so later commands run offline.",
            discussion: "Prints the local directory of the model. Files already cached are not fetched again."
        )

        @Argument(help: "A hub repo id (owner/name, optionally @revision), e.g. openai/clip-vit-base-patch32 or sentence-transformers/clip-ViT-B-32-multilingual-v1.")
        var model: String

        func run() async throws {
            let directory = try await CLI.run { try await ModelLocation.resolve(model, progress: ProgressBar().handler) }
            // Check that what arrived loads, so a pull that "succeeds" is a usable model: a CLIP
            // model, or a BERT-family sentence model (a text index's, a reranker's or a query model).
            try CLI.run {
                if BERTSentenceEncoder.isSentenceModel(directory) {
                    _ = try BERTSentenceEncoder(directory: directory)
                } else {
                    _ = try CLIPEncoders(directory: directory)
                }
            }
            CLI.say(directory.path)
        }
    }

    struct Random: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a random-weight checkpoint with the architecture of a model directory.",
            discussion: """
            The result is a Hugging Face model directory whose config is marked \
            "vitrine_random_weights": true. Use it for benchmarks and to try the machinery where \
            trained weights cannot be had; its embeddings mean nothing.
            """
        )

        @Option(help: "A model directory (only its config.json and tokenizer files are read).")
        var like: String

        @Option(help: "The directory to write.")
        var out: String

        @Option(help: "Seed of the random weights.")
        var seed: UInt64 = 0

        @Option(help: "Storage type of the weights: f32, f16 or bf16.")
        var dtype: String = "f32"

        func run() async throws {
            let types: [String: SafetensorsFile.DType] = ["f32": .f32, "f16": .f16, "bf16": .bf16]
            guard let type = types[dtype.lowercased()] else {
                throw ValidationError("--dtype must be f32, f16 or bf16, not \(dtype)")
            }
            try CLI.run {
                try RandomCheckpoint.write(
                    like: URL(fileURLWithPath: like), to: URL(fileURLWithPath: out), seed: seed, dtype: type)
            }
            CLI.say("wrote a random-weight checkpoint like \(like) to \(out)")
        }
    }
}
