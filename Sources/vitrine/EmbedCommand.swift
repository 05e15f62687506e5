import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineEngine
import VitrineImage
import VitrineModels

struct Embed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed texts and images with a CLIP model (texts with --query-model instead, when given).",
        discussion: """
        With --json, prints one JSON array: all texts first, then all images, each in the order \
        given, as {"input", "kind", "embedding"} or {"input", "kind", "error"}. Exit code 3 when \
        some inputs failed and the rest were embedded, 1 when none could be.
        """
    )

    @OptionGroup var model: ModelOption

    @Option(name: .customLong("query-model"), help: QueryModelLoader.help)
    var queryModel: String?

    @Option(name: .customLong("text"), help: "A text to embed (repeatable).")
    var texts: [String] = []

    @Option(name: .customLong("image"), help: "An image file to embed: JPEG, PNG or WebP (repeatable).")
    var images: [String] = []

    @Option(help: "Images embedded per batch.")
    var batch: Int = 32

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        guard !texts.isEmpty || !images.isEmpty else { throw ValidationError("give at least one --text or --image") }
        guard (1...1000).contains(batch) else { throw ValidationError("--batch must be between 1 and 1000") }
    }

    func run() async throws {
        let (encoders, query) = try await CLI.run { () async throws -> (CLIPEncoders, QueryModel?) in
            let encoders = try await model.load()
            let dimension = encoders.image?.dimension ?? encoders.text?.dimension ?? 0
            return (encoders, try await QueryModelLoader.load(queryModel, precision: model.precision, dimension: dimension))
        }
        var results: [EmbedResult] = []

        if !texts.isEmpty {
            if let text = query?.encoder ?? encoders.text {
                for input in texts {
                    results.append(EmbedResult(input: input, kind: .text) { try text.embed(texts: [input])[0] })
                }
            } else {
                results += texts.map { EmbedResult(input: $0, kind: .text, error: "the model has no text tower") }
            }
        }

        if !images.isEmpty {
            guard let image = encoders.image else {
                results += images.map { EmbedResult(input: $0, kind: .image, error: "the model has no image tower") }
                return try finish(results)
            }
            let decoder = ImageDecoder()
            for start in stride(from: 0, to: images.count, by: batch) {
                let paths = images[start..<min(start + batch, images.count)]
                var decoded: [(index: Int, image: RGBImage)] = []
                var slots: [EmbedResult] = []
                for path in paths {
                    do {
                        decoded.append((slots.count, try decoder.decode(contentsOf: URL(fileURLWithPath: path))))
                        slots.append(EmbedResult(input: path, kind: .image, error: nil))
                    } catch {
                        slots.append(EmbedResult(input: path, kind: .image, error: String(describing: error)))
                    }
                }
                let embeddings = image.embed(images: decoded.map(\.image))
                for (slot, embedding) in zip(decoded.map(\.index), embeddings) { slots[slot].embedding = embedding }
                results += slots
            }
        }
        try finish(results)
    }

    private func finish(_ results: [EmbedResult]) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            let data = (try? encoder.encode(results)) ?? Data("[]".utf8)
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            for r in results {
                if let e = r.embedding {
                    let head = e.prefix(4).map { String(format: "%.4f", $0) }.joined(separator: ", ")
                    CLI.say("\(r.kind.rawValue)\t\(r.input)\t\(e.count) dims\t[\(head), …]")
                }
            }
        }
        let failed = results.filter { $0.error != nil }
        for f in failed where !json { CLI.printError("\(f.input): \(f.error ?? "")") }
        if failed.count == results.count { throw ExitCode.failure }
        if !failed.isEmpty { throw CLI.partialSuccess }
    }
}

/// One line of `embed`'s output.
struct EmbedResult: Encodable {
    enum Kind: String, Encodable { case text, image }
    var input: String
    var kind: Kind
    var embedding: [Float]?
    var error: String?

    init(input: String, kind: Kind, error: String?) {
        self.input = input
        self.kind = kind
        self.error = error
    }

    init(input: String, kind: Kind, _ compute: () throws -> [Float]) {
        self.input = input
        self.kind = kind
        do { embedding = try compute() } catch { self.error = String(describing: error) }
    }

    enum CodingKeys: String, CodingKey { case input, kind, embedding, error }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(input, forKey: .input)
        try c.encode(kind, forKey: .kind)
        if let embedding { try c.encode(embedding, forKey: .embedding) } else { try c.encode(error ?? "", forKey: .error) }
    }
}
