import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineEngine
import VitrineModels
import VitrineTensor

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search a data directory by text or by an example photo.",
        discussion: """
        Results are products (a product's best-matching image scores it), best first. With \
        --json, prints {"query", "truncated", "offset", "results": [{"id", "score", "name", \
        "category", "market", "image"}]}, the shape the HTTP API returns.
        """
    )

    @Argument(help: "The text query.")
    var query: String?

    @Option(help: "Search by this photo instead (JPEG, PNG or WebP).")
    var image: String?

    @OptionGroup var data: DataOption

    @Option(help: "The model (default: the one recorded in the data directory; if given, it must be that model).")
    var model: String?

    @Option(help: "Linear layers' precision: fp32, bf16 or int8.")
    var precision: Precision = .fp32

    @Option(help: "Results per page (1–\(SearchPage.maxK)).")
    var k = 10

    @Option(help: "Skip this many results (paging).")
    var offset = 0

    @Option(help: "Only this category (id or name).")
    var category: String?

    @Option(help: "Only this market (e.g. cz, sk, ro).")
    var market: String?

    @Option(name: .customLong("min-score"), help: "Drop results with a lower cosine similarity.")
    var minScore: Float?

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        guard (query == nil) != (image == nil) else { throw ValidationError("give a text query or --image PATH (one of them)") }
        guard (1...SearchPage.maxK).contains(k) else { throw ValidationError("--k must be between 1 and \(SearchPage.maxK)") }
        guard (0...SearchPage.maxOffset).contains(offset) else { throw ValidationError("--offset must be between 0 and \(SearchPage.maxOffset)") }
    }

    func run() async throws {
        let response = try await CLI.run { () async throws -> SearchResponse in
            let store = try DataStore.openForReading(try data.storage())
            let encoders = try await RecordedModel.load(store: store, specifier: model, precision: precision)
            let engine = SearchEngine(store: store, text: encoders.text, image: encoders.image)
            let filter = SearchFilter(category: category, market: market)
            let page = SearchPage(k: k, offset: offset, minScore: minScore)
            if let image {
                let path = (image as NSString).expandingTildeInPath
                guard let bytes = FileManager.default.contents(atPath: path) else {
                    throw EngineError.invalidQuery("cannot read image \(image)")
                }
                return try engine.search(imageData: bytes, filter: filter, page: page)
            }
            return try engine.search(text: query ?? "", filter: filter, page: page)
        }
        if json {  // one line, in the API's field order: a result page, not a report
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(response) + Data("\n".utf8))
            return
        }
        if response.truncated { CLI.printNote("the query was cut to the model's 77 tokens") }
        if response.results.isEmpty { CLI.say("no results") }
        for (i, r) in response.results.enumerated() {
            // Catalog text is escaped whole, newlines included: one result, one line.
            let where_ = [r.category, r.market].compactMap { $0 }.map { CLI.visible($0, all: true) }.joined(separator: ", ")
            CLI.say(String(format: "%3d. %.4f  ", response.offset + i + 1, r.score)
                    + "\(CLI.visible(r.id, all: true))  \(CLI.visible(r.name, all: true))" + (where_.isEmpty ? "" : "  (\(where_))"))
        }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Counts of a data directory: products, images, vectors, blobs, and the model that built it.")

    @OptionGroup var data: DataOption

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let stats = try CLI.run { () throws -> DataStats in
            let store = try DataStore.openForReading(try data.storage())
            defer { try? store.close() }
            return try store.stats()
        }
        if json {
            try CLI.printJSON(stats)
            return
        }
        CLI.say("products  \(stats.products)")
        CLI.say("images    \(stats.images)")
        CLI.say("vectors   \(stats.vectors)")
        CLI.say("blobs     \(stats.blobs)")
        CLI.say("generation \(stats.generation), index sequence \(stats.vectorSequence)")
        if let model = stats.model {
            CLI.say("model     \(model.specifier) (\(model.precision), \(model.dimension) dimensions, weights sha256 \(model.weightsSHA256.prefix(12))…)")
        }
        if let backends = stats.backends {
            CLI.say("catalog   \(backends.catalog)")
            CLI.say("photos    \(backends.blobs)")
            CLI.say("index     \(backends.vectors)")
        }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check each store (SQLite integrity, index and image checksums, model record) and that they agree; exit 1 on any problem.")

    @OptionGroup var data: DataOption

    @Flag(name: .customLong("skip-checksums"), help: "Don't re-hash the stored images.")
    var skipChecksums = false

    func run() async throws {
        let problems = try CLI.run { () throws -> [String] in
            let storage = try data.storage()
            if storage.isEmbedded { return try DataStore.verify(storage.directory, checksums: !skipChecksums) }
            // With a remote role, the stores are opened as a reader and checked against each other.
            let store = try DataStore.openForReading(storage)
            defer { try? store.close() }
            return try store.verify(checksums: !skipChecksums)
        }
        guard problems.isEmpty else {
            for problem in problems { CLI.printError(problem) }
            throw ExitCode.failure
        }
        CLI.say("ok: catalog, index and images agree")
    }
}
