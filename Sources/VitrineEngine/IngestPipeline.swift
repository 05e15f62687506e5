import Crypto
import Foundation
import VitrineCatalog
import VitrineImage
import VitrineIndex
import VitrineModels

/// Settings of one ingest run.
public struct IngestOptions: Sendable {
    /// Images embedded per encoder pass (1...1000).
    public var batchSize = 64
    /// Read at most this many products from the source (rejected rows don't count).
    public var limit: Int?
    /// Image fetches in flight at once (files, zip members, downloads).
    public var concurrentLoads = 8
    /// Threads that decode and preprocess images.
    public var decodeThreads = ProcessInfo.processInfo.activeProcessorCount
    /// Images larger than this many bytes are refused.
    public var maxImageBytes = 50 << 20
    /// Images with more pixels than this are refused before decoding.
    public var maxPixels = 40_000_000
    /// After a full pass, remove the stored products of this source that it no longer lists.
    public var prune = false
    /// With `prune`: list what would be removed, remove nothing.
    public var dryRun = false

    public init() {}
}

/// The encoder side of ingest: the CLIP vision tower and its preprocessing, split so images are
/// resized and cropped (parallel, 8-bit) ahead of the batched forward pass.
public struct IngestEncoder: Sendable {
    public let encoder: CLIPImageEncoder
    public var dimension: Int { encoder.dimension }

    public init(_ encoder: CLIPImageEncoder) { self.encoder = encoder }

    /// The 8-bit image the tower's preprocessing will normalize (resized and cropped).
    public func prepare(_ image: RGBImage) -> RGBImage { encoder.preprocessor.resizeAndCrop(image) }

    /// Embeddings of prepared images, in order.
    public func embed(_ images: [RGBImage]) -> [[Float]] { encoder.embed(prepared: images) }
}

/// Counts an ingest reports as it goes and at the end.
public struct IngestCounts: Sendable, Codable, Equatable {
    /// Products read from the source (items, not rejected rows).
    public var read = 0
    /// New products stored.
    public var ingested = 0
    /// Products already stored with the same record and image bytes (skipped without decoding).
    public var unchanged = 0
    /// Stored products whose record or images changed (re-embedded).
    public var updated = 0
    /// Items and rows that could not be ingested (see the report's `failures`).
    public var failed = 0
    /// Images decoded and embedded.
    public var imagesEmbedded = 0
}

/// One item the run could not ingest, and why.
public struct IngestFailure: Error, Sendable, Codable, Equatable {
    public var id: String?
    public var location: String
    public var reason: String
}

/// The summary of a run, also written as JSON under `ingest/` in the data directory.
public struct IngestReport: Sendable, Codable {
    public var source: String
    public var dataDirectory: String
    public var model: String
    public var started: Date
    public var finished: Date
    public var seconds: Double
    public var counts: IngestCounts
    /// Embedded images per second of wall time.
    public var imagesPerSecond: Double
    public var reconciliation: Reconciled?
    public var failures: [IngestFailure]
    /// Products removed by `--prune` (or that would be, with `--dry-run`).
    public var pruned: [String]
    /// Why pruning was skipped, when it was asked for and not done.
    public var pruneSkipped: String?

    /// What opening the data directory repaired after an interrupted run.
    public struct Reconciled: Sendable, Codable, Equatable {
        public var orphanVectors: Int
        public var staleProducts: Int
    }

    enum CodingKeys: String, CodingKey {
        case source, dataDirectory = "data_directory", model, started, finished, seconds
        case ingested, unchanged, updated, failed, read, imagesEmbedded = "images_embedded"
        case imagesPerSecond = "images_per_second", reconciliation, failures, pruned
        case pruneSkipped = "prune_skipped"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source, forKey: .source)
        try c.encode(dataDirectory, forKey: .dataDirectory)
        try c.encode(model, forKey: .model)
        try c.encode(started, forKey: .started)
        try c.encode(finished, forKey: .finished)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(counts.read, forKey: .read)
        try c.encode(counts.ingested, forKey: .ingested)
        try c.encode(counts.unchanged, forKey: .unchanged)
        try c.encode(counts.updated, forKey: .updated)
        try c.encode(counts.failed, forKey: .failed)
        try c.encode(counts.imagesEmbedded, forKey: .imagesEmbedded)
        try c.encode(imagesPerSecond, forKey: .imagesPerSecond)
        try c.encodeIfPresent(reconciliation, forKey: .reconciliation)
        try c.encode(failures, forKey: .failures)
        try c.encode(pruned, forKey: .pruned)
        try c.encodeIfPresent(pruneSkipped, forKey: .pruneSkipped)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decode(String.self, forKey: .source)
        dataDirectory = try c.decode(String.self, forKey: .dataDirectory)
        model = try c.decode(String.self, forKey: .model)
        started = try c.decode(Date.self, forKey: .started)
        finished = try c.decode(Date.self, forKey: .finished)
        seconds = try c.decode(Double.self, forKey: .seconds)
        counts = IngestCounts(
            read: try c.decode(Int.self, forKey: .read), ingested: try c.decode(Int.self, forKey: .ingested),
            unchanged: try c.decode(Int.self, forKey: .unchanged), updated: try c.decode(Int.self, forKey: .updated),
            failed: try c.decode(Int.self, forKey: .failed), imagesEmbedded: try c.decode(Int.self, forKey: .imagesEmbedded))
        imagesPerSecond = try c.decode(Double.self, forKey: .imagesPerSecond)
        reconciliation = try c.decodeIfPresent(Reconciled.self, forKey: .reconciliation)
        failures = try c.decode([IngestFailure].self, forKey: .failures)
        pruned = try c.decodeIfPresent([String].self, forKey: .pruned) ?? []
        pruneSkipped = try c.decodeIfPresent(String.self, forKey: .pruneSkipped)
    }

    init(source: String, dataDirectory: String, model: String, started: Date, counts: IngestCounts,
         reconciliation: Reconciled?, failures: [IngestFailure], pruned: [String] = [], pruneSkipped: String? = nil) {
        self.source = source
        self.dataDirectory = dataDirectory
        self.model = model
        self.started = started
        finished = Date()
        seconds = finished.timeIntervalSince(started)
        self.counts = counts
        imagesPerSecond = seconds > 0 ? Double(counts.imagesEmbedded) / seconds : 0
        self.reconciliation = reconciliation
        self.failures = failures
        self.pruned = pruned
        self.pruneSkipped = pruneSkipped
    }
}

/// Ingest: source entries → image bytes (fetched in parallel) → content hashes → skip what is
/// stored unchanged → blob store → decode + resize (parallel) → batched CLIP forward pass →
/// index + catalog, batch by batch.
///
/// The next batch is read, fetched and decoded while the current one is encoded, and at most two
/// batches are in memory, whatever the size of the source.
///
/// **Crash safety.** A batch reaches the stores in this order: (1) blobs (content-addressed, so a
/// crash leaves at worst unreferenced files for `gc`), (2) the catalog marks the batch's stored
/// products stale (clears their fingerprints), (3) the index upserts the new vectors and deletes
/// replaced images' vectors, (4) one catalog transaction writes the records, their fingerprints and
/// the index's sequence number. A crash after (2) leaves stale products the next run re-embeds; a
/// crash after (3) leaves index entries the catalog does not name, which
/// ``DataStore/reconcile()`` deletes when the next writer opens the directory (the sequence numbers
/// differ). Searches drop hits the catalog does not name, so readers never see a half-written batch.
public final class IngestPipeline: @unchecked Sendable {
    public let store: DataStore
    public let encoder: IngestEncoder
    public let model: ModelRecord
    public let options: IngestOptions
    private let decoder: ImageDecoder
    private let faults = FaultInjection.fromEnvironment()

    /// - Throws: ``EngineError/modelMismatch(data:recorded:given:)`` when the directory's vectors
    ///   were built by another model (re-embedding is `vitrine reindex`'s job).
    public init(store: DataStore, encoder: IngestEncoder, model: ModelRecord, options: IngestOptions = IngestOptions()) throws {
        guard (1...1000).contains(options.batchSize) else {
            throw EngineError.invalidQuery("batch size must be between 1 and 1000, not \(options.batchSize)")
        }
        guard !options.prune || options.limit == nil else {
            throw EngineError.invalidQuery("pruning needs a full pass over the source: drop --limit")
        }
        guard store.isWriter else {
            throw EngineError.model(path: store.directory.url.path, reason: "ingest needs the data directory opened for writing")
        }
        if let recorded = try store.catalog.modelRecord(), recorded.weightsSHA256 != model.weightsSHA256 {
            throw EngineError.modelMismatch(data: store.directory.url.path, recorded: recorded.specifier, given: model.specifier)
        }
        guard model.dimension == encoder.dimension else {
            throw EngineError.model(path: model.source, reason: "the record says dimension \(model.dimension), the encoder makes \(encoder.dimension)")
        }
        self.store = store
        self.encoder = encoder
        self.model = model
        self.options = options
        decoder = ImageDecoder(maxPixels: options.maxPixels)
    }

    /// Runs the whole source. `progress` is called after every batch (and every skipped chunk)
    /// with the counts so far. Per-item problems land in the report; store failures (disk full,
    /// read-only directory) throw after everything committed so far is durable.
    public func run(_ reader: DatasetReader,
                    progress: @escaping @Sendable (IngestCounts) -> Void = { _ in }) async throws -> IngestReport {
        let reconciliation = store.reconciliation
        let started = Date()
        let vectors = try store.vectorStore(dimension: encoder.dimension)
        if try store.catalog.modelRecord() == nil {
            try store.catalog.setModelRecord(model)
        }
        let state = RunState()
        let entries = EntrySource(reader.entries(), limit: options.limit)

        // Prepare batch n+1 while batch n is encoded: one task ahead, no further.
        var next: Task<PreparedBatch, Error>? = Task { try await self.prepareBatch(entries, state: state, progress: progress) }
        while let pending = next {
            let batch = try await pending.value
            next = batch.isLast ? nil : Task { try await self.prepareBatch(entries, state: state, progress: progress) }
            do {
                try commit(batch, vectors: vectors, state: state)
            } catch {
                next?.cancel()
                _ = try? await next?.value
                throw error
            }
            progress(state.counts)
        }
        var pruned: [String] = []
        var pruneSkipped: String?
        if options.prune {
            (pruned, pruneSkipped) = try prune(source: reader.source, state: state)
        }
        try vectors.flush()
        let report = IngestReport(
            source: reader.source, dataDirectory: store.directory.url.path, model: model.specifier,
            started: started, counts: state.counts,
            reconciliation: reconciliation.isEmpty ? nil : .init(orphanVectors: reconciliation.orphanVectors, staleProducts: reconciliation.staleProducts),
            failures: state.failures, pruned: pruned, pruneSkipped: pruneSkipped)
        return report
    }

    /// The products of `source` the pass did not list, removed unless `dryRun`. A rejected row
    /// without a readable id might be a listed product, so pruning is then skipped, not guessed.
    private func prune(source: String, state: RunState) throws -> ([String], String?) {
        if let unnamed = state.failures.first(where: { $0.id == nil }) {
            return ([], "a row without a readable id was rejected (\(unnamed.location)); fix it or drop --prune")
        }
        let listed = state.seenIDs
        let gone = try store.catalog.productIDs(source: source).filter { !listed.contains($0) }
        if !options.dryRun, !gone.isEmpty {
            try store.delete(ids: gone)
        }
        return (gone, nil)
    }

    // MARK: Preparation (reading, fetching, hashing, decoding)

    /// An item whose images are fetched, stored and prepared for the encoder.
    struct PreparedItem {
        var product: Product
        var fingerprint: String
        var isUpdate: Bool
        /// Image ids the stored version had (their vectors are deleted when not reused).
        var previousImages: [String]
        var prepared: [RGBImage]
    }

    struct PreparedBatch {
        var items: [PreparedItem]
        var isLast: Bool
        var imageCount: Int { items.reduce(0) { $0 + $1.prepared.count } }
    }

    /// Reads entries until a batch's worth of images needs embedding (or the source ends).
    private func prepareBatch(_ entries: EntrySource, state: RunState,
                              progress: @Sendable (IngestCounts) -> Void) async throws -> PreparedBatch {
        var items: [PreparedItem] = []
        var images = 0
        while images < options.batchSize {
            try Task.checkCancellation()
            let chunk = try await entries.next(max(1, min(options.batchSize, 256)))
            if chunk.isEmpty {
                return PreparedBatch(items: items, isLast: true)
            }
            for item in try await prepare(chunk, state: state) {
                images += item.prepared.count
                items.append(item)
            }
            if items.isEmpty { progress(state.counts) }
        }
        return PreparedBatch(items: items, isLast: false)
    }

    /// Fetches, hashes and (when new or changed) decodes the images of a chunk of entries.
    private func prepare(_ chunk: [SourceEntry], state: RunState) async throws -> [PreparedItem] {
        var items: [SourceItem] = []
        for entry in chunk {
            switch entry {
            case .rejected(let rejection):
                if let id = rejection.id { _ = state.claim(id) }
                state.fail(IngestFailure(id: rejection.id, location: rejection.location, reason: rejection.reason))
            case .item(let item):
                state.counts.read += 1
                guard state.claim(item.product.id) else {
                    state.fail(IngestFailure(id: item.product.id, location: item.images.first?.origin ?? reader(item),
                                             reason: "duplicate product id \(item.product.id) in this source"))
                    continue
                }
                guard !item.images.isEmpty else {
                    state.fail(IngestFailure(id: item.product.id, location: reader(item), reason: "the product has no image"))
                    continue
                }
                guard Set(item.images.map(\.id)).count == item.images.count else {
                    state.fail(IngestFailure(id: item.product.id, location: reader(item), reason: "two images of the product have the same id"))
                    continue
                }
                do {
                    try Catalog.validate(item.product)
                } catch {
                    state.fail(IngestFailure(id: item.product.id, location: reader(item), reason: String(describing: error)))
                    continue
                }
                items.append(item)
            }
        }
        if items.isEmpty { return [] }

        let fetched = await fetch(items)
        let ids = items.map(\.product.id)
        let storedFingerprints = try store.catalog.fingerprints(ids: ids)
        let stored = try store.catalog.products(ids: ids)

        var toDecode: [(item: SourceItem, bytes: [Data], fingerprint: String)] = []
        for (item, result) in zip(items, fetched) {
            switch result {
            case .failure(let failure):
                state.fail(failure)
            case .success(let bytes):
                let fingerprint = Self.fingerprint(item.product, images: zip(item.images, bytes).map { ($0.id, Self.sha256($1)) })
                if storedFingerprints[item.product.id] == fingerprint {
                    state.counts.unchanged += 1
                } else {
                    toDecode.append((item, bytes, fingerprint))
                }
            }
        }
        if toDecode.isEmpty { return [] }

        let decoded = try await decodeAll(toDecode.map { ($0.item, $0.bytes) })
        var prepared: [PreparedItem] = []
        for (entry, result) in zip(toDecode, decoded) {
            switch result {
            case .failure(let failure):
                state.fail(failure)
            case .success(let images):
                var product = entry.item.product
                product.images = images.map(\.record)
                let previous = stored[product.id]
                prepared.append(PreparedItem(
                    product: product, fingerprint: entry.fingerprint, isUpdate: previous != nil,
                    previousImages: previous?.images.map(\.id) ?? [], prepared: images.map(\.prepared)))
            }
        }
        return prepared
    }

    private func reader(_ item: SourceItem) -> String { item.product.source }

    /// Fetches every image of `items`, `concurrentLoads` at a time; an item fails as a whole when
    /// one of its images cannot be fetched.
    private func fetch(_ items: [SourceItem]) async -> [Result<[Data], IngestFailure>] {
        let jobs = items.enumerated().flatMap { i, item in item.images.enumerated().map { (i, $0, $1) } }
        var bytes = items.map { [Data?](repeating: nil, count: $0.images.count) }
        var errors = [IngestFailure?](repeating: nil, count: items.count)
        let limit = options.maxImageBytes
        await withTaskGroup(of: (Int, Int, Result<Data, IngestFailure>).self) { group in
            var iterator = jobs.makeIterator()
            func addNext() -> Bool {
                guard let (item, slot, image) = iterator.next() else { return false }
                let id = items[item].product.id
                group.addTask {
                    do {
                        let data = try await image.load()
                        guard data.count <= limit else {
                            return (item, slot, .failure(IngestFailure(id: id, location: image.origin, reason: "image is \(data.count) bytes, more than the limit of \(limit)")))
                        }
                        return (item, slot, .success(data))
                    } catch {
                        return (item, slot, .failure(IngestFailure(id: id, location: image.origin, reason: String(describing: error))))
                    }
                }
                return true
            }
            for _ in 0..<max(1, options.concurrentLoads) where addNext() {}
            for await (item, slot, result) in group {
                switch result {
                case .success(let data): bytes[item][slot] = data
                case .failure(let failure): if errors[item] == nil { errors[item] = failure }
                }
                _ = addNext()
            }
        }
        return items.indices.map { i in
            if let error = errors[i] { return .failure(error) }
            return .success(bytes[i].map { $0 ?? Data() })
        }
    }

    struct DecodedImage {
        var record: ProductImage
        var prepared: RGBImage
    }

    /// Decodes, stores and prepares the images of each item on `decodeThreads` threads. An image
    /// that cannot be decoded fails its item; a store that cannot be written (disk full, read-only)
    /// fails the run, since every later item would fail the same way.
    private func decodeAll(_ work: [(item: SourceItem, bytes: [Data])]) async throws -> [Result<[DecodedImage], IngestFailure>] {
        let threads = max(1, min(options.decodeThreads, work.count))
        let results = UnsafeResults<Result<[DecodedImage], IngestFailure>>(count: work.count)
        let storeError = UnsafeResults<Error>(count: 1)
        let next = AtomicCounter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<threads {
                group.addTask {
                    while storeError[0] == nil {
                        let i = next.increment()
                        guard i < work.count else { return }
                        do {
                            results[i] = try self.decode(work[i].item, bytes: work[i].bytes)
                        } catch {
                            storeError[0] = error
                        }
                    }
                }
            }
        }
        if let error = storeError[0] { throw error }
        // Every slot is filled when no store error stopped the workers; a gap would be a bug, and
        // it fails its item rather than the process.
        return results.values.enumerated().map { i, result in
            result ?? .failure(IngestFailure(id: work[i].item.product.id, location: work[i].item.product.source, reason: "not decoded"))
        }
    }

    private func decode(_ item: SourceItem, bytes: [Data]) throws -> Result<[DecodedImage], IngestFailure> {
        var out: [DecodedImage] = []
        for (image, data) in zip(item.images, bytes) {
            let raw = [UInt8](data)
            let format: ImageFormat
            let decoded: RGBImage
            do {
                format = try decoder.probe(raw).format
                decoded = try decoder.decode(raw)
            } catch {
                return .failure(IngestFailure(id: item.product.id, location: image.origin, reason: String(describing: error)))
            }
            let key = try store.blobs.put(data, ext: Self.blobExtension(format))
            out.append(DecodedImage(
                record: ProductImage(id: image.id, key: key, width: decoded.width, height: decoded.height),
                prepared: encoder.prepare(decoded)))
        }
        return .success(out)
    }

    static func blobExtension(_ format: ImageFormat) -> String {
        switch format {
        case .jpeg: "jpg"
        case .png: "png"
        case .webp: "webp"
        }
    }

    // MARK: Commit (encode, index, catalog)

    private func commit(_ batch: PreparedBatch, vectors: EmbeddedVectorStore, state: RunState) throws {
        guard !batch.items.isEmpty else { return }
        try faults.reach(.afterBlobs)
        let updates = batch.items.filter(\.isUpdate).map(\.product.id)
        if !updates.isEmpty { try store.catalog.markStale(ids: updates) }
        try faults.reach(.afterMarkStale)

        let embeddings = encoder.embed(batch.items.flatMap(\.prepared))
        var records: [VectorRecord] = []
        records.reserveCapacity(embeddings.count)
        var stale: [VectorKey] = []
        var cursor = 0
        for item in batch.items {
            let attributes = Self.attributes(item.product)
            for image in item.product.images {
                records.append(VectorRecord(key: VectorKey(product: item.product.id, image: image.id),
                                            vector: embeddings[cursor], attributes: attributes))
                cursor += 1
            }
            let kept = Set(item.product.images.map(\.id))
            stale += item.previousImages.filter { !kept.contains($0) }.map { VectorKey(product: item.product.id, image: $0) }
        }
        var sequence = try vectors.upsert(records)
        try faults.reach(.afterIndexUpsert)
        if !stale.isEmpty {
            sequence = try vectors.delete(stale)
            try faults.reach(.afterIndexDelete)
        }
        try store.catalog.upsert(
            batch.items.map(\.product),
            fingerprints: Dictionary(uniqueKeysWithValues: batch.items.map { ($0.product.id, $0.fingerprint) }),
            vectorSequence: sequence)
        try faults.reach(.afterCatalogCommit)

        for item in batch.items {
            if item.isUpdate { state.counts.updated += 1 } else { state.counts.ingested += 1 }
        }
        state.counts.imagesEmbedded += embeddings.count
    }

    /// The attributes searches filter on.
    static func attributes(_ product: Product) -> [String: String] {
        var attributes: [String: String] = [:]
        if let category = product.category { attributes["category"] = category }
        if let market = product.market { attributes["market"] = market }
        return attributes
    }

    // MARK: Hashing

    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// Hash of everything stored about a product: its record and its images' ids and bytes. Equal
    /// fingerprints mean a re-run has nothing to do for the product.
    static func fingerprint(_ product: Product, images: [(id: String, sha256: String)]) -> String {
        var hasher = SHA256()
        func field(_ text: String?) {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ; nil differs from "".
            guard let text else { hasher.update(data: Data([0xFF])); return }
            var length = UInt64(text.utf8.count).littleEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Data(text.utf8))
        }
        field(product.id); field(product.name); field(product.description); field(product.category)
        field(product.categoryName); field(product.market); field(product.source)
        for key in product.extra.keys.sorted() { field(key); field(product.extra[key]) }
        field("images")
        for image in images { field(image.id); field(image.sha256) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

// MARK: - Run state

/// Counters and failures of a run. Touched by the preparing task and the committing loop, never
/// at the same moment for the same field except counts, hence the lock.
final class RunState: @unchecked Sendable {
    private let lock = NSLock()
    private var _counts = IngestCounts()
    private var _failures: [IngestFailure] = []
    private var seen = Set<String>()

    var counts: IngestCounts {
        get { lock.withLock { _counts } }
        _modify {
            lock.lock()
            defer { lock.unlock() }
            yield &_counts
        }
    }

    var failures: [IngestFailure] { lock.withLock { _failures } }

    func fail(_ failure: IngestFailure) {
        lock.withLock {
            _failures.append(failure)
            _counts.failed += 1
        }
    }

    /// False when `id` was already seen in this run (a duplicate in the source).
    func claim(_ id: String) -> Bool { lock.withLock { seen.insert(id).inserted } }

    /// Every product id the source listed in this run (items and rejected rows with an id).
    var seenIDs: Set<String> { lock.withLock { seen } }
}

/// The reader's stream, consumed by one preparing task at a time (the pipeline never runs two
/// preparations at once), with the run's `--limit`.
final class EntrySource: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<SourceEntry, Error>.Iterator
    private var remaining: Int?
    private var finished = false

    init(_ stream: AsyncThrowingStream<SourceEntry, Error>, limit: Int?) {
        iterator = stream.makeAsyncIterator()
        remaining = limit
    }

    /// Up to `count` entries; empty at the end of the source or of the limit.
    func next(_ count: Int) async throws -> [SourceEntry] {
        var out: [SourceEntry] = []
        while out.count < count, !finished {
            if let remaining, remaining <= 0 { finished = true; break }
            guard let entry = try await iterator.next() else { finished = true; break }
            if case .item = entry { remaining? -= 1 }
            out.append(entry)
        }
        return out
    }
}

/// Slots written by worker tasks at distinct indices.
final class UnsafeResults<T>: @unchecked Sendable {
    private var storage: [T?]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    subscript(i: Int) -> T? {
        get { lock.withLock { storage[i] } }
        set { lock.withLock { storage[i] = newValue } }
    }
    var values: [T?] { lock.withLock { storage } }
}

final class AtomicCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    /// Returns the value before incrementing.
    func increment() -> Int { lock.withLock { defer { value += 1 }; return value } }
}
