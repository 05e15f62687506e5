import Foundation
import VitrineCatalog
import VitrineIndex

/// The three stores opened together: the catalog, the image store and the vector index, for the one
/// writer (ingest) or for a reader (search, serve). Each role is a protocol (``Catalog``,
/// ``BlobStore``, ``VectorStore`` in a ``VectorSpace``) filled by the backend ``StorageLocation``
/// names: all three in the data directory by default, the catalog in PostgreSQL, the photos in S3
/// and the vectors in Milvus when configured.
///
/// The stores are separate, so a batch reaches them in an order that makes every crash
/// window recoverable (see ``IngestPipeline``): blobs first (content-addressed, harmless if
/// orphaned), then the catalog marks the batch's products stale, then the index, then the catalog
/// commit that records the index's sequence number. When a writer opens a directory whose catalog
/// and index disagree on that number, ``reconcile()`` repairs the difference before anything else.
public final class DataStore: @unchecked Sendable {
    public let storage: StorageLocation
    /// The data directory (the index, and the roles not moved out).
    public var directory: DataDirectory { storage.directory }
    public let catalog: any Catalog
    public let blobs: any BlobStore
    /// Where the indexes live (the data directory's folders, or Milvus collections).
    public let space: any VectorSpace
    /// The live index. Nil until the first ingest has fixed the dimension (a reader of an empty
    /// directory). A reader's refresh replaces it when a reindex swapped indexes.
    public var vectors: (any VectorStore)? { stateLock.withLock { liveVectors } }
    private var liveVectors: (any VectorStore)?
    /// The model that built the vectors this store serves, as of the last open or refresh.
    public var model: ModelRecord? { stateLock.withLock { servedModel } }
    private var servedModel: ModelRecord?
    /// The live index directory's name (`index`, or `index-<n>` after a reindex).
    public var indexDirectoryName: String { stateLock.withLock { indexName } }
    private var indexName: String
    /// The text index (products' names and descriptions through a sentence model) and its record,
    /// when the store has one.
    public var textIndex: (vectors: any VectorStore, record: TextIndexRecord)? {
        stateLock.withLock { liveText }
    }
    private var liveText: (vectors: any VectorStore, record: TextIndexRecord)?
    public let isWriter: Bool
    /// The shard this writer holds a lease on, beside other shards' writers (nil: the whole store).
    public private(set) var shard: Shard?
    private let writerLeases: [any WriterLease]
    private var seenGeneration: UInt64
    /// A reindex's swap to another model that a reader holds back (``holdsModelSwaps``).
    private var heldSwap: ServingState?
    private var holdSwaps = false
    /// What opening for writing repaired (empty for readers and consistent directories).
    public private(set) var reconciliation = Reconciliation()
    /// Serializes refreshes (one may load a whole index).
    private let refreshLock = NSLock()
    /// Guards the fields a refresh replaces; held only to read or assign them.
    private let stateLock = NSLock()

    /// HNSW with the index's defaults; cosine because CLIP embeddings are compared by angle.
    public static func indexConfiguration(dimension: Int) -> VectorStoreConfiguration {
        VectorStoreConfiguration(dimension: dimension, metric: .cosine, algorithm: .hnsw(HNSWParameters()))
    }

    private init(storage: StorageLocation, catalog: any Catalog, blobs: any BlobStore, space: any VectorSpace,
                 vectors: (any VectorStore)?, text: (any VectorStore)?, state: ServingState, writerLeases: [any WriterLease]) {
        self.storage = storage
        self.catalog = catalog
        self.blobs = blobs
        self.space = space
        liveVectors = vectors
        if let text, let record = state.text { liveText = (text, record) }
        servedModel = state.model
        indexName = state.indexDirectory
        self.writerLeases = writerLeases
        isWriter = !writerLeases.isEmpty
        seenGeneration = state.generation
    }

    /// Opens `directory` as its one writer, creating it if needed. `holder` names this process in
    /// the lock ("vitrine ingest"), so a second writer's error says who holds it.
    public static func openForWriting(_ directory: DataDirectory, holder: String) throws -> DataStore {
        try openForWriting(StorageLocation(directory: directory), holder: holder)
    }

    /// Opens the stores of `storage` as their one writer. The data directory's lock is always
    /// taken (it guards the index); a PostgreSQL catalog's advisory lock too, so writers on other
    /// machines sharing that catalog wait their turn.
    ///
    /// With a `shard` and every role on a server (PostgreSQL, S3, Milvus), the catalog's lease is
    /// the shard's alone: writers of other shards work at the same time (each with a data
    /// directory of its own), and opening reconciles this shard's products with their vectors
    /// every time, since sequence numbers no longer tell one writer's batches from another's.
    /// Otherwise the whole lock is taken, and shards run one after another.
    public static func openForWriting(_ storage: StorageLocation, holder: String, shard requested: Shard? = nil) throws -> DataStore {
        let shard = storage.sharesWriters ? requested : nil
        var leases: [any WriterLease] = [try WriterLock.acquire(storage.directory, holder: holder)]
        do {
            let catalog = try storage.openCatalog(readOnly: false)
            do {
                if storage.catalog != .embedded { leases.append(try catalog.acquireWriterLease(holder: holder, shard: shard)) }
                let blobs = try storage.openBlobs(create: true)
                let state = try catalog.servingState()
                let space = try storage.openVectorSpace()
                do {
                    var vectors: (any VectorStore)?
                    if let record = state.model {
                        vectors = try space.open(state.indexDirectory, configuration: indexConfiguration(dimension: record.dimension), writer: true)
                    }
                    var text: (any VectorStore)?
                    if let record = state.text {
                        text = try space.open(record.name, configuration: indexConfiguration(dimension: record.model.dimension), writer: true)
                    }
                    let store = DataStore(storage: storage, catalog: catalog, blobs: blobs, space: space, vectors: vectors,
                                          text: text, state: state, writerLeases: leases)
                    store.shard = shard
                    if vectors != nil { store.reconciliation = try store.reconcile() }
                    return store
                } catch {
                    space.close()
                    throw error
                }
            } catch {
                try? catalog.close()
                throw error
            }
        } catch {
            for lease in leases.reversed() { lease.release() }
            throw error
        }
    }

    /// Opens `directory` for reading beside a writer (in this process or another). Throws
    /// ``EngineError/emptyDataDirectory(path:)`` when nothing was ever ingested.
    public static func openForReading(_ directory: DataDirectory) throws -> DataStore {
        try openForReading(StorageLocation(directory: directory))
    }

    /// Opens the stores of `storage` for reading beside a writer.
    public static func openForReading(_ storage: StorageLocation) throws -> DataStore {
        guard storage.catalogMayExist else { throw EngineError.emptyDataDirectory(path: storage.directory.url.path) }
        let catalog: any Catalog
        do {
            catalog = try storage.openCatalog(readOnly: true)
        } catch CatalogError.notFound(let what) where storage.catalog != .embedded {
            throw EngineError.emptyCatalog(location: what)
        }
        do {
            let blobs = try storage.openBlobs(create: false)
            let space = try storage.openVectorSpace()
            do {
                let (state, vectors, text) = try follow(space, catalog: catalog)
                return DataStore(storage: storage, catalog: catalog, blobs: blobs, space: space, vectors: vectors, text: text,
                                 state: state, writerLeases: [])
            } catch {
                space.close()
                throw error
            }
        } catch {
            try? catalog.close()
            throw error
        }
    }

    /// The catalog's serving state and readers of the indexes it names (photos, text). A reindex
    /// may swap indexes and remove the old one between reading the name and opening it: then the
    /// name has changed, so read it again.
    private static func follow(_ space: any VectorSpace, catalog: any Catalog,
                               keepingText current: (vectors: any VectorStore, record: TextIndexRecord)? = nil)
        throws -> (ServingState, (any VectorStore)?, (any VectorStore)?) {
        var attempt = 0
        while true {
            attempt += 1
            let state = try catalog.servingState()
            do {
                let vectors = try state.model.map {
                    try space.open(state.indexDirectory, configuration: indexConfiguration(dimension: $0.dimension), writer: false)
                }
                var text: (any VectorStore)?
                if let record = state.text {
                    if let current, current.record == record {
                        _ = try current.vectors.refresh()
                        text = current.vectors
                    } else {
                        text = try space.open(record.name, configuration: indexConfiguration(dimension: record.model.dimension), writer: false)
                    }
                }
                return (state, vectors, text)
            } catch {
                if attempt < 3 {
                    let now = try catalog.servingState()
                    if now.indexDirectory != state.indexDirectory || now.text != state.text { continue }
                }
                throw error
            }
        }
    }

    /// A reader's text index after the catalog moved to `state`: the same one refreshed, another
    /// opened, or none.
    private func followText(_ state: ServingState) throws {
        let current = stateLock.withLock { liveText }
        guard let record = state.text else {
            stateLock.withLock { liveText = nil }
            return
        }
        if let current, current.record == record {
            try current.vectors.refresh()
            return
        }
        let opened = try space.open(record.name, configuration: Self.indexConfiguration(dimension: record.model.dimension), writer: false)
        stateLock.withLock { liveText = (opened, record) }
    }

    /// The writer's index, created on first use with the model's dimension.
    public func vectorStore(dimension: Int) throws -> any VectorStore {
        if let vectors = liveVectors {
            guard vectors.dimension == dimension else {
                throw EngineError.model(path: directory.url.path, reason: "the index holds \(vectors.dimension)-dimensional vectors, the model makes \(dimension)")
            }
            return vectors
        }
        let store = try space.open(indexDirectoryName, configuration: Self.indexConfiguration(dimension: dimension), writer: true)
        stateLock.withLock { liveVectors = store }
        return store
    }

    /// The writer's side of a reindex's swap, after the catalog switched to `name`: the new index
    /// becomes the live one and the old is let go without a checkpoint (it is retired).
    func adoptIndex(_ store: any VectorStore, name: String, model: ModelRecord) throws {
        let old = stateLock.withLock { () -> (any VectorStore)? in
            defer {
                liveVectors = store
                indexName = name
                servedModel = model
            }
            return liveVectors
        }
        old?.abandon()
        let generation = try catalog.generation()
        stateLock.withLock { seenGeneration = generation }
    }

    /// The writer's side of a text index build, after the catalog recorded `record`: the new text
    /// index becomes the live one and the old one is let go without a checkpoint (it is retired).
    func adoptTextIndex(_ store: any VectorStore, record: TextIndexRecord) throws {
        let old = stateLock.withLock { () -> (any VectorStore)? in
            defer { liveText = (store, record) }
            return liveText?.vectors
        }
        old?.abandon()
        let generation = try catalog.generation()
        stateLock.withLock { seenGeneration = generation }
    }

    /// The writer's side of dropping the text index, after the catalog forgot it.
    func forgetTextIndex() {
        let old = stateLock.withLock { () -> (any VectorStore)? in
            defer { liveText = nil }
            return liveText?.vectors
        }
        old?.abandon()
    }

    /// The index and the model it serves, taken together (a refresh on another thread may swap
    /// both): a search embeds with the model's encoders and searches that index.
    public func servingView() -> (vectors: (any VectorStore)?, model: ModelRecord?) {
        stateLock.withLock { (liveVectors, servedModel) }
    }

    /// A reader's catch-up: when the catalog's generation moved, the index follows the writer's
    /// log so both show the newer state (the index is refreshed after the catalog is read, and the
    /// writer commits the catalog after the index, so the index is never behind what the catalog
    /// names). Returns whether anything changed. Cheap when nothing did: one small query.
    ///
    /// When a reindex has swapped indexes (the catalog names another index directory), the store
    /// follows the new one and ``model`` becomes the new model: a caller holding encoders of the
    /// old one must reload them (``SearchEngine`` refuses to search with them, throwing
    /// ``ModelChangedError``). Searches already running finish on the old index.
    @discardableResult
    public func refresh() throws -> Bool {
        guard !isWriter else { return false }
        refreshLock.lock()
        defer { refreshLock.unlock() }
        let state = try catalog.servingState()
        let (current, name, seen) = stateLock.withLock { (liveVectors, indexName, seenGeneration) }
        guard state.generation != seen else { return false }
        if let current, state.indexDirectory == name {
            try current.refresh()
            try followText(state)
            stateLock.withLock {
                servedModel = state.model
                seenGeneration = state.generation
            }
        } else if let next = state.model, let served = stateLock.withLock({ holdSwaps ? servedModel : nil }),
                  !next.sameEmbeddings(as: served) {
            // Another model: held back until the caller has its encoders (the old index stays in
            // memory, frozen; what the catalog no longer names is skipped by searches).
            try followText(state)
            stateLock.withLock {
                heldSwap = state
                seenGeneration = state.generation
            }
        } else if state.model != nil {
            // Opening loads a whole index: searches go on meanwhile on the one they hold.
            let (opened, vectors, text) = try Self.follow(space, catalog: catalog, keepingText: stateLock.withLock { liveText })
            stateLock.withLock {
                (liveVectors, servedModel, indexName) = (vectors, opened.model, opened.indexDirectory)
                liveText = text.flatMap { vectors in opened.text.map { (vectors, $0) } }
                seenGeneration = opened.generation
            }
        } else {
            try followText(state)
            stateLock.withLock { seenGeneration = state.generation }
        }
        return true
    }

    /// Whether a reader holds back a reindex's swap to another model: it keeps serving the old
    /// index and model, reports the new one as ``pendingModel``, and swaps at
    /// ``adoptPendingSwap()``, once its caller has the new model's encoders. A server sets it, so
    /// no query ever finds the index and its encoders from two different models.
    public var holdsModelSwaps: Bool {
        get { stateLock.withLock { holdSwaps } }
        set { stateLock.withLock { holdSwaps = newValue } }
    }

    /// The model of a swap held back, if any.
    public var pendingModel: ModelRecord? { stateLock.withLock { heldSwap?.model } }

    /// Serves the held swap's index and model from now on (opening the new index first, while
    /// searches go on with the old one). Does nothing when no swap is held.
    public func adoptPendingSwap() throws {
        refreshLock.lock()
        defer { refreshLock.unlock() }
        guard stateLock.withLock({ heldSwap }) != nil else { return }
        let (opened, vectors, text) = try Self.follow(space, catalog: catalog, keepingText: stateLock.withLock { liveText })
        stateLock.withLock {
            (liveVectors, servedModel, indexName) = (vectors, opened.model, opened.indexDirectory)
            liveText = text.flatMap { vectors in opened.text.map { (vectors, $0) } }
            seenGeneration = opened.generation
            heldSwap = nil
        }
    }

    /// The generation this store last saw (a reader's view of the writer's commits).
    public var generation: UInt64 {
        stateLock.withLock { seenGeneration }
    }

    /// What reconciliation found and did.
    public struct Reconciliation: Sendable, Equatable {
        /// Index entries no catalog image names (removed from the index).
        public var orphanVectors = 0
        /// Products with an image the index lacks (marked stale: the next ingest re-embeds them).
        public var staleProducts = 0
        public var isEmpty: Bool { orphanVectors == 0 && staleProducts == 0 }
    }

    /// Makes catalog and index agree after a crash between their writes: index entries the
    /// catalog does not name are deleted, catalog products whose images lack vectors are marked
    /// stale, and the catalog records the index's sequence. Runs only when the two sequence numbers
    /// differ (an interrupted batch); the full key comparison is linear in the catalog.
    @discardableResult
    public func reconcile() throws -> Reconciliation {
        guard isWriter, let vectors = liveVectors else { return Reconciliation() }
        let indexSequence = try vectors.lastSequence()
        // A shard's writer compares its own products every time (other shards' writers move the
        // sequence numbers too) and leaves theirs alone.
        if shard == nil, indexSequence == (try catalog.vectorSequence()) { return Reconciliation() }
        let mine: (VectorKey) -> Bool = { [shard] key in shard?.contains(productID: key.product) ?? true }
        let named = Set(try catalog.imageKeys().map { VectorKey(product: $0.product, image: $0.image) }.filter(mine))
        let stored = Set(try vectors.keys().filter(mine))
        var result = Reconciliation()
        let orphans = stored.subtracting(named).sorted()
        if !orphans.isEmpty {
            _ = try vectors.delete(orphans)
            result.orphanVectors = orphans.count
        }
        var missing = Set(named.subtracting(stored).map(\.product))
        // The text index is written after the photos' (and deleted from after them), so a batch it
        // holds half of has moved the photos' sequence too, and reconciliation runs.
        if let text = textIndex?.vectors {
            let products = Set(named.map(\.product))
            let storedText = try text.keys().filter(mine)
            let orphanText = storedText.filter { !products.contains($0.product) }.sorted()
            if !orphanText.isEmpty {
                _ = try text.delete(orphanText)
                result.orphanVectors += orphanText.count
            }
            missing.formUnion(products.subtracting(storedText.map(\.product)))
        }
        if !missing.isEmpty {
            try catalog.markStale(ids: missing.sorted())
            result.staleProducts = missing.count
        }
        try catalog.setVectorSequence(try vectors.lastSequence())
        return result
    }

    /// Live counts of the three stores, and which backend fills each role.
    public func stats() throws -> DataStats {
        let counts = try catalog.counts()
        return DataStats(
            products: counts.products, images: counts.images, vectors: try vectors?.count() ?? 0,
            blobs: try blobs.keys().count, generation: try catalog.generation(),
            vectorSequence: try vectors?.lastSequence() ?? 0, lastCommit: try catalog.lastCommit(),
            model: try catalog.modelRecord(), textVectors: try textIndex?.vectors.count(), textModel: textIndex?.record.model,
            backends: backends)
    }

    /// The backend of each role: what `stats` and `/readyz` name.
    public var backends: StoreBackends {
        StoreBackends(catalog: catalog.backend, blobs: blobs.backend, vectors: StoreBackend(kind: space.kind, location: space.location))
    }

    /// Removes products from catalog and index; their images stay in the store until `gc` (another
    /// product may share them). Readers see the removal whole: the catalog transaction is what
    /// results are drawn from, and it commits first; a crash before the index catches up leaves
    /// vectors no product names, which searches skip and the next writer's reconciliation deletes.
    /// Returns the removed products (unknown ids are ignored).
    @discardableResult
    public func delete(ids: [String]) throws -> [Product] {
        guard isWriter else { throw EngineError.notWriter(path: directory.url.path) }
        guard let vectors = liveVectors else { return [] }
        let removed = try catalog.delete(ids: ids, vectorSequence: try vectors.lastSequence())
        let keys = removed.flatMap { product in product.images.map { VectorKey(product: product.id, image: $0.id) } }
        if !keys.isEmpty {
            let sequence = try vectors.delete(keys)
            if let text = textIndex?.vectors { _ = try text.delete(removed.map { TextEmbedder.key($0.id) }) }
            try catalog.setVectorSequence(sequence)
        }
        return removed
    }

    /// Lets go of the directory without a checkpoint, as if the process died after its last
    /// acknowledged write (tests of recovery use it).
    public func abandon() {
        vectors?.abandon()
        textIndex?.vectors.abandon()
        space.close()
        for lease in writerLeases.reversed() { lease.release() }
    }

    /// Checkpoints and closes the index, then lets go of the writer lock.
    public func close() throws {
        defer {
            space.close()
            for lease in writerLeases.reversed() { lease.release() }
            try? catalog.close()
        }
        if isWriter {
            try vectors?.close()
            try textIndex?.vectors.close()
        }
    }
}

/// What `vitrine stats` reports.
public struct DataStats: Sendable, Codable, Equatable {
    public var products: Int
    public var images: Int
    public var vectors: Int
    /// Files in the image store (more than `images` when products share a photo less, or
    /// unreferenced blobs await `vitrine gc`).
    public var blobs: Int
    public var generation: UInt64
    public var vectorSequence: UInt64
    public var lastCommit: Date?
    public var model: ModelRecord?
    /// Products in the text index, and the sentence model that embedded them (absent without one).
    public var textVectors: Int?
    public var textModel: ModelRecord?
    public var backends: StoreBackends?
}

/// Which backend fills each role.
public struct StoreBackends: Sendable, Codable, Equatable {
    public var catalog: StoreBackend
    public var blobs: StoreBackend
    public var vectors: StoreBackend
}
