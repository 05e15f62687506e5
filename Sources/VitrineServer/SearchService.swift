import Foundation
import VitrineCatalog
import VitrineEngine
import VitrineModels

/// What the routes ask of the engine: searches, products, facets and the data's vital signs.
///
/// Every engine call runs on a blocking thread (``Deadline``) inside a bounded pool
/// (``ConcurrencyLimiter``): text queries and image queries have separate pools, so a burst of
/// uploads cannot starve text search, and a full pool answers 503 `busy` at once.
///
/// Text queries are encoded in batches (``QueryBatcher``, `limits.textBatchSize`): the queries
/// that arrive while the text tower runs share its next pass, then each searches the index and
/// the catalog on its own in the text pool.
public final class SearchService: Sendable {
    public let store: DataStore
    public let engine: SearchEngine
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let textPool: ConcurrencyLimiter
    let imagePool: ConcurrencyLimiter
    /// Nil when `limits.textBatchSize` is 1: each query is then encoded alone in a text slot.
    let textBatcher: QueryBatcher<SearchEngine.TextQuery, EncodedText>?

    /// A text query's embedding, and whether its text was cut to the model's context.
    struct EncodedText: Sendable {
        var vector: [Float]
        var truncated: Bool
    }

    public init(store: DataStore, encoders: CLIPEncoders, configuration: ServerConfiguration, metrics: ServerMetrics) {
        self.store = store
        engine = SearchEngine(store: store, text: encoders.text, image: encoders.image, maxPixels: configuration.maxPixels)
        self.configuration = configuration
        self.metrics = metrics
        textPool = ConcurrencyLimiter(name: "text search", slots: configuration.textEncodeSlots, queueLimit: configuration.textEncodeQueue) {
            metrics.rejected(pool: "text")
        }
        imagePool = ConcurrencyLimiter(name: "image search", slots: configuration.imageEncodeSlots, queueLimit: configuration.imageEncodeQueue) {
            metrics.rejected(pool: "image")
        }
        textBatcher = configuration.textBatchSize > 1 && encoders.text != nil ? QueryBatcher(
            name: "text search", maxBatch: configuration.textBatchSize, queueLimit: configuration.textEncodeQueue,
            encode: Self.encode, onReject: { metrics.rejected(pool: "text") }, onPass: { size, _ in metrics.textBatch(size: size) }) : nil
    }

    /// One pass of the text tower over a batch of queries (all of one engine, so one encoder).
    @Sendable static func encode(_ queries: [SearchEngine.TextQuery]) throws -> [EncodedText] {
        guard let encoder = queries.first?.encoder else { return [] }
        let tokens = queries.map { encoder.tokenize($0.text) }
        let vectors = try encoder.tower.embed(tokenIDs: tokens.map(\.ids))
        return zip(vectors, tokens).map { EncodedText(vector: $0, truncated: $1.truncated) }
    }

    // MARK: Queries

    func search(text: String, filter: SearchFilter, page: SearchPage) async throws -> SearchResponse {
        let engine = engine
        guard let textBatcher else {
            return try await timedEncode(text: true) {
                try await self.blocking(in: self.textPool) { try engine.search(text: text, filter: filter, page: page) }
            }
        }
        let start = ContinuousClock.now
        // The checks are cheap (no tokenizing), so a bad query is refused without queueing.
        let query = try engine.prepare(text: text, page: page)
        let encoded = try await timedEncode(text: true) { try await textBatcher.run(query, timeout: configuration.requestTimeout) }
        let left = configuration.requestTimeout - (ContinuousClock.now - start)
        return try await blocking(in: textPool, limit: left) {
            try engine.search(query, vector: encoded.vector, truncated: encoded.truncated, filter: filter, page: page)
        }
    }

    func search(image: Data, filter: SearchFilter, page: SearchPage) async throws -> SearchResponse {
        let engine = engine
        return try await timedEncode(text: false) {
            try await self.blocking(in: self.imagePool) { try engine.search(imageData: image, filter: filter, page: page) }
        }
    }

    func similar(to id: String, filter: SearchFilter, page: SearchPage) async throws -> SearchResponse {
        let engine = engine
        return try await blocking(in: textPool) { try engine.similar(to: id, filter: filter, page: page) }
    }

    func product(id: String) async throws -> Product {
        let engine = engine
        return try await blocking(in: textPool) { try engine.product(id: id) }
    }

    func categories() async throws -> [FacetCount] {
        let store = store
        return try await blocking(in: textPool) {
            try store.refresh()
            return try store.catalog.categories()
        }
    }

    func markets() async throws -> [FacetCount] {
        let store = store
        return try await blocking(in: textPool) {
            try store.refresh()
            return try store.catalog.markets()
        }
    }

    // MARK: State

    /// Catches up with another writer's commits and updates the data gauges.
    func refresh() throws {
        try store.refresh()
        metrics.update(try gauges())
    }

    func gauges() throws -> ServerMetrics.DataGauges {
        let counts = try store.catalog.counts()
        return ServerMetrics.DataGauges(
            products: counts.products, images: counts.images, vectors: try store.vectors?.count() ?? 0,
            generation: try store.catalog.generation(), lastCommit: try store.catalog.lastCommit())
    }

    /// What `/readyz` reports: ready when the model's towers, the index and the catalog are loaded.
    struct Readiness: Codable, Equatable {
        var ready: Bool
        var model: String?
        var products: Int
        var vectors: Int
        var generation: UInt64
        var problems: [String]
    }

    func readiness() -> Readiness {
        var problems: [String] = []
        if engine.text == nil { problems.append("the model has no text tower") }
        if engine.image == nil { problems.append("the model has no image tower") }
        if store.vectors == nil { problems.append("the data directory has no vector index yet (ingest has not committed)") }
        var gauges = ServerMetrics.DataGauges(products: 0, images: 0, vectors: 0, generation: 0)
        var model: String?
        do {
            try store.refresh()
            gauges = try self.gauges()
            model = try store.catalog.modelRecord()?.specifier
        } catch {
            problems.append("the catalog cannot be read: \(error)")
        }
        return Readiness(ready: problems.isEmpty, model: model, products: gauges.products, vectors: gauges.vectors,
                         generation: gauges.generation, problems: problems)
    }

    // MARK: Running engine work

    /// Runs `work` on a blocking thread holding a slot of `pool`; the slot is given back when the
    /// work ends, even if the request has timed out by then, so the pool bounds real work.
    func blocking<T: Sendable>(in pool: ConcurrencyLimiter, limit: Duration? = nil,
                               _ work: @escaping @Sendable () throws -> T) async throws -> T {
        let limit = limit ?? configuration.requestTimeout
        guard limit > .zero else { throw APIError.timeout }
        try await pool.acquire()
        do {
            try Task.checkCancellation()
        } catch {
            await pool.release()
            throw error
        }
        return try await Deadline.run(limit) {
            defer { Task { await pool.release() } }
            return try work()
        }
    }

    private func timedEncode<T>(text: Bool, _ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        let value = try await body()
        metrics.encoded(text: text, duration: ContinuousClock.now - start)
        return value
    }
}
