import Foundation
import VitrineCatalog
import VitrineImage
import VitrineIndex

/// Settings of a reindex.
public struct ReindexOptions: Sendable {
    /// Images embedded per encoder pass (1...1000).
    public var batchSize = 32
    /// The new graph's parameters (M, efConstruction; efSearch stays each reader's own).
    public var hnsw = HNSWParameters()
    /// Threads that decode and preprocess images.
    public var decodeThreads = ProcessInfo.processInfo.activeProcessorCount

    public init() {}
}

/// What a reindex did.
public struct ReindexReport: Sendable, Codable, Equatable {
    /// The model now serving (`--model` as recorded).
    public var model: String
    public var previousModel: String
    /// The live index directory now, and before.
    public var indexDirectory: String
    public var previousIndexDirectory: String
    /// Images in the catalog (vectors in the new index).
    public var images: Int
    /// Images decoded and embedded by the new model in this run.
    public var embedded: Int
    /// Vectors copied from the old index (same model and precision: only the graph changes).
    public var copied: Int
    /// Vectors an interrupted run had already built (resumed).
    public var resumed: Int
    public var seconds: Double
    /// Whether the old index directory was removed (else `vitrine gc` removes it).
    public var removedPrevious: Bool

    enum CodingKeys: String, CodingKey {
        case model, previousModel = "previous_model", indexDirectory = "index_directory"
        case previousIndexDirectory = "previous_index_directory", images, embedded, copied, resumed, seconds
        case removedPrevious = "removed_previous"
    }
}

/// The marker a reindex keeps beside the index it builds (``VectorSpace/marker(of:)``: a file
/// `reindex.json` in its directory, or its row of Milvus's meta collection): what the build is
/// for, so an interrupted run with the same target resumes and one with another target starts
/// over. Removed after the swap; an index beside the live one without it is retired.
struct ReindexBuild: Codable, Equatable {

    var model: ModelRecord
    var M: Int
    var efConstruction: Int
    /// The catalog's generation when the build began: any commit since (an ingest between two
    /// runs) may have changed images, so the build is not resumed.
    var catalogGeneration: UInt64

    func canResume(as target: ReindexBuild) -> Bool {
        model.sameEmbeddings(as: target.model) && model.precision == target.model.precision && M == target.M
            && efConstruction == target.efConstruction && catalogGeneration == target.catalogGeneration
    }
}

/// `vitrine reindex`: re-embeds every stored image with another model (or rebuilds the graph with
/// other parameters) into a new index directory beside the live one, then swaps.
///
/// The writer lock is held throughout, so the catalog does not change; readers go on searching
/// the old index. The swap is one catalog transaction (index directory name, model record,
/// sequence, generation): a reader's next refresh follows the new directory and sees the new model
/// (``SearchEngine`` then refuses queries embedded by the old one with ``ModelChangedError``).
/// Killed before the swap, nothing readers see has changed and the next run with the same target
/// resumes from the vectors already built; killed after it, the new index is live and the old
/// directory is left for `vitrine gc`.
public final class Reindexer: @unchecked Sendable {
    public let store: DataStore
    public let encoder: IngestEncoder
    public let model: ModelRecord
    public let options: ReindexOptions
    private let decoder = ImageDecoder()
    private let faults = FaultInjection.fromEnvironment()

    /// - Throws: ``EngineError/invalidArgument(_:)`` for a bad batch size or graph parameters,
    ///   ``EngineError/notWriter(path:)`` when the store is not the writer,
    ///   ``EngineError/model(path:reason:)`` when the record does not describe the encoder.
    public init(store: DataStore, encoder: IngestEncoder, model: ModelRecord, options: ReindexOptions = ReindexOptions()) throws {
        guard (1...1000).contains(options.batchSize) else {
            throw EngineError.invalidArgument("batch size must be between 1 and 1000, not \(options.batchSize)")
        }
        guard (2...256).contains(options.hnsw.M), options.hnsw.efConstruction >= 1 else {
            throw EngineError.invalidArgument("HNSW needs M in 2...256 and efConstruction ≥ 1, not M \(options.hnsw.M), efConstruction \(options.hnsw.efConstruction)")
        }
        guard store.isWriter else { throw EngineError.notWriter(path: store.directory.url.path) }
        try encoder.check(model)
        self.store = store
        self.encoder = encoder
        self.model = model
        self.options = options
    }

    /// Builds the new index, swaps it in and removes the old directory. `progress` gets (vectors in
    /// the new index, images in the catalog) after every batch.
    public func run(progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> ReindexReport {
        let started = Date()
        let catalog = store.catalog
        guard let previous = try catalog.modelRecord(), let live = store.vectors else {
            throw EngineError.noModelRecord(path: store.directory.url.path)
        }
        let liveName = store.indexDirectoryName
        let space = store.space
        // A swap that died before removing its marker leaves it on what is now the live index.
        if try space.marker(of: liveName) != nil { try space.setMarker(nil, of: liveName) }

        let target = ReindexBuild(model: model, M: options.hnsw.M, efConstruction: options.hnsw.efConstruction,
                                  catalogGeneration: try catalog.generation())
        let (buildName, resuming) = try prepareBuildDirectory(for: target, live: liveName)
        let configuration = VectorStoreConfiguration(dimension: model.dimension, metric: .cosine, algorithm: .hnsw(options.hnsw))
        let build = try space.open(buildName, configuration: configuration, writer: true)
        var swapped = false
        defer { if !swapped { build.abandon() } }

        let entries = try catalog.imageEntries()
        let already = resuming ? Set(try build.keys()) : []
        var report = ReindexReport(
            model: model.specifier, previousModel: previous.specifier, indexDirectory: buildName,
            previousIndexDirectory: liveName, images: entries.count, embedded: 0, copied: 0,
            resumed: 0, seconds: 0, removedPrevious: false)
        let wanted = Set(entries.map { VectorKey(product: $0.product, image: $0.image) })
        // Only a catalog edited behind the writer lock could leave these; keep the index exact anyway.
        let extra = already.filter { !wanted.contains($0) }
        if !extra.isEmpty { _ = try build.delete(extra.sorted()) }
        report.resumed = already.count - extra.count

        let todo = entries.filter { !already.contains(VectorKey(product: $0.product, image: $0.image)) }
        let copies = previous.sameEmbeddings(as: model) && previous.precision == model.precision
        var done = report.resumed
        progress(done, entries.count)
        var start = 0
        while start < todo.count {
            let batch = Array(todo[start..<min(start + options.batchSize, todo.count)])
            var vectors: [[Float]?] = Array(repeating: nil, count: batch.count)
            if copies {
                for (i, entry) in batch.enumerated() {
                    vectors[i] = try live.vector(for: VectorKey(product: entry.product, image: entry.image))
                }
                report.copied += vectors.compactMap { $0 }.count
            }
            let missing = batch.indices.filter { vectors[$0] == nil }
            if !missing.isEmpty {
                let embedded = encoder.embed(try prepare(missing.map { batch[$0] }))
                for (slot, vector) in zip(missing, embedded) { vectors[slot] = vector }
                report.embedded += missing.count
            }
            let records = zip(batch, vectors).map { entry, vector in
                var attributes: [String: String] = [:]
                if let category = entry.category { attributes["category"] = category }
                if let market = entry.market { attributes["market"] = market }
                return VectorRecord(key: VectorKey(product: entry.product, image: entry.image), vector: vector ?? [], attributes: attributes)
            }
            _ = try build.upsert(records)
            try faults.reach(.reindexAfterBatch)
            done += batch.count
            progress(done, entries.count)
            start += batch.count
        }

        // A snapshot, so readers load the new graph with its own parameters.
        try build.flush()
        try faults.reach(.reindexBeforeSwap)
        try catalog.switchIndex(directory: buildName, model: model, vectorSequence: try build.lastSequence())
        swapped = true
        try faults.reach(.reindexAfterSwap)
        try store.adoptIndex(build, name: buildName, model: model)
        try? space.setMarker(nil, of: buildName)
        // Readers still on the old index keep it (in memory, or until their next refresh finds the
        // new one) ; the old index goes.
        report.removedPrevious = (try? space.remove(liveName)) != nil
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// The directory to build in: an interrupted build for the same target (resumed), else a new
    /// `index-<n>`. Builds for other targets are removed (they can never be swapped in now).
    private func prepareBuildDirectory(for target: ReindexBuild, live: String) throws -> (String, Bool) {
        let space = store.space
        var chosen: String?
        var highest = 0
        for name in try space.indexNames() where DataDirectory.isIndexDirectoryName(name) {
            highest = max(highest, Int(name.dropFirst(6)) ?? 0)
            guard name != live else { continue }
            guard let data = try space.marker(of: name) else { continue }  // retired: gc's
            if chosen == nil, let build = try? JSONDecoder().decode(ReindexBuild.self, from: data), build.canResume(as: target) {
                chosen = name
            } else {
                do { try space.remove(name) } catch {
                    throw LifecycleError("cannot remove the abandoned reindex build \(name) (\(space.location)): \(error)")
                }
            }
        }
        if let chosen { return (chosen, true) }
        let name = "index-\(highest + 1)"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Atomic: a marker is whole or absent (a build without one is treated as retired).
        try space.setMarker(try encoder.encode(target), of: name)
        return (name, false)
    }

    /// Reads, decodes and prepares the images of `entries` on `decodeThreads` threads. A stored
    /// image that cannot be read or decoded stops the reindex (its product would lose its vector):
    /// the old index stays live.
    private func prepare(_ entries: [ImageEntry]) throws -> [RGBImage] {
        let blobs = store.blobs, decoder = decoder, encoder = encoder
        let results = try BlockingWork.map(count: entries.count, threads: options.decodeThreads) { i -> Result<RGBImage, LifecycleError> in
            let entry = entries[i]
            do {
                let image = try decoder.decode(try blobs.get(entry.key))
                return .success(encoder.prepare(image))
            } catch {
                return .failure(LifecycleError(
                    "image \(entry.image) of product \(entry.product) (\(blobs.location(of: entry.key))): \(error); "
                        + "the old index stays live: run `vitrine verify`, then re-ingest or delete the product", kind: .corrupted))
            }
        }
        return try results.map { try $0.get() }
    }
}
