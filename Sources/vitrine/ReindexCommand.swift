import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineEngine
import VitrineIndex
import VitrineModels
import VitrineTensor

struct Reindex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-embed every stored image with another model (or rebuild the index with other parameters), or the products' text with another sentence model, then swap.",
        discussion: """
        The new index is built beside the live one while searches go on; one catalog commit then \
        swaps index and model record. Interrupted, searches keep the old index and the next run \
        with the same target resumes. Takes the writer lock. The same model with other --m / \
        --ef-construction copies the vectors and rebuilds only the graph. \
        --text-embedder M instead (re)builds the text index from the catalog's names and \
        descriptions without touching the photos (an interrupted build starts over); \
        --text-embedder none drops it.
        """)

    @OptionGroup var data: DataOption

    @Option(help: "The model to re-embed the photos with: a directory in Hugging Face layout, or a hub repo id such as openai/clip-vit-base-patch32.")
    var model: String?

    @Option(name: .customLong("text-embedder"), help: ArgumentHelp(
        "Rebuild the text index with this sentence model instead (a hub id such as \(TextEmbedderModel.defaultModel), or a directory), or none to drop it.",
        valueName: "model"))
    var textEmbedder: String?

    @Option(help: "Linear layers' precision: fp32 (exact, the default), bf16 or int8.")
    var precision: Precision = .fp32

    @Option(name: .customLong("batch-size"), help: "Images per encoder pass (1–1000).")
    var batchSize = 32

    @Option(name: .customLong("m"), help: "HNSW M of the new graph (links per node; 2–256).")
    var m = HNSWParameters().M

    @Option(name: .customLong("ef-construction"), help: "HNSW efConstruction of the new graph.")
    var efConstruction = HNSWParameters().efConstruction

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        guard (model == nil) != (textEmbedder == nil) else {
            throw ValidationError("give --model M (re-embed the photos) or --text-embedder M (re-embed the products' text), one per run")
        }
        guard (1...1000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 1000") }
        guard (2...256).contains(m) else { throw ValidationError("--m must be between 2 and 256") }
        guard efConstruction >= 1 else { throw ValidationError("--ef-construction must be at least 1") }
    }

    func run() async throws {
        if let textEmbedder { return try await reindexText(textEmbedder) }
        let model = ModelOption(spec: model!, precision: precision)
        let report = try await CLI.run { () async throws -> ReindexReport in
            let storage = try data.existingStorage()
            let directory = try await model.resolve()
            let encoders = try CLIPEncoders(directory: directory, precision: model.precision)
            guard let image = encoders.image else {
                throw EngineError.model(path: directory.path, reason: "the model has no image tower")
            }
            let record = try ModelIdentity.record(
                specifier: model.spec, directory: directory, precision: model.precision.rawValue, dimension: image.dimension)
            let store = try DataStore.openForWriting(storage, holder: "vitrine reindex \(model.spec)")
            defer { try? store.close() }
            var options = ReindexOptions()
            options.batchSize = batchSize
            options.hnsw.M = m
            options.hnsw.efConstruction = efConstruction
            let reindexer = try Reindexer(store: store, encoder: IngestEncoder(image), model: record, options: options)
            let view = ReindexProgressView()
            let report = try reindexer.run { done, total in view.update(done, total) }
            view.finish()
            return report
        }
        if json {
            try CLI.printJSON(report)
            return
        }
        CLI.say("reindexed \(report.images) images into \(report.indexDirectory) with \(report.model): "
              + "\(report.embedded) embedded, \(report.copied) copied, \(report.resumed) resumed, "
              + String(format: "%.1f s", report.seconds))
        if !report.removedPrevious {
            CLI.printNote("the old index \(report.previousIndexDirectory) could not be removed; `vitrine gc` will")
        }
    }

    /// `--text-embedder M`: the text index rebuilt (or dropped, for none), photos untouched.
    private func reindexText(_ specifier: String) async throws {
        let report = try await CLI.run { () async throws -> TextIndexReport in
            let storage = try data.existingStorage()
            let embedder = specifier.lowercased() == "none" ? nil : try await TextEmbedderModel.load(specifier, precision: precision)
            let store = try DataStore.openForWriting(storage, holder: "vitrine reindex --text-embedder \(specifier)")
            defer { try? store.close() }
            guard let embedder else { return try store.dropTextIndex() }
            let view = ReindexProgressView(unit: "products")
            let report = try store.buildTextIndex(with: embedder, batchSize: batchSize) { done, total in view.update(done, total) }
            view.finish()
            return report
        }
        if json {
            try CLI.printJSON(report)
        } else if let model = report.model {
            CLI.say("embedded the text of \(report.products) products into \(report.index ?? "") with \(model): " + String(format: "%.1f s", report.seconds))
        } else {
            CLI.say(report.previousIndex.map { "dropped the text index \($0)" } ?? "there was no text index")
        }
    }
}

/// A progress line on a terminal, a log line every ten seconds otherwise.
final class ReindexProgressView: @unchecked Sendable {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var last = Date.distantPast
    private let lock = NSLock()
    private let unit: String

    init(unit: String = "images") { self.unit = unit }

    func update(_ done: Int, _ total: Int) {
        lock.withLock {
            let now = Date()
            guard now.timeIntervalSince(last) >= (isTerminal ? 0.1 : 10) else { return }
            last = now
            let text = "reindex: \(done)/\(total) \(unit)"
            FileHandle.standardError.write(Data((isTerminal ? "\r\u{1B}[2K" + text : text + "\n").utf8))
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}
