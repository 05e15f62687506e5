import Foundation
import Synchronization
import VitrineCatalog
import VitrineEngine
import VitrineLLM
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
///
/// After a `vitrine reindex` swapped models, the engine's encoders belong to the old model: its
/// queries answer 503 `model_changed` until ``adopt(_:)`` installs the new model's encoders
/// (``SearchServer`` loads them when its poller sees the change).
public final class SearchService: Sendable {
    public let store: DataStore
    /// The engine queries run on now; a request keeps the one it started with.
    public var engine: SearchEngine { current.withLock { $0 } }
    private let current: Mutex<SearchEngine>
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let textPool: ConcurrencyLimiter
    let imagePool: ConcurrencyLimiter
    /// Nil when `limits.textBatchSize` is 1: each query is then encoded alone in a text slot.
    let textBatcher: QueryBatcher<PendingText, EncodedText>?
    /// The cross-encoder `rerank=true` runs (`--reranker`), kept across model reloads.
    let reranker: (any Reranker)?
    /// The text index's sentence model (`--text-embedder`, or the one a reindex put behind the
    /// text index since), kept across CLIP model reloads.
    var textEmbedder: TextEmbedder? { currentText.withLock { $0 } }
    private let currentText: Mutex<TextEmbedder?>
    /// The text tower that encodes clip queries in place of the CLIP model's own (`--query-model`):
    /// paired with the model served at start, so a reindex to another model drops it.
    var queryModel: QueryModel? { currentQuery.withLock { $0 } }
    private let currentQuery: Mutex<QueryModel?>
    /// Query understanding through an LLM (`llm.url`), nil when off.
    let parser: QueryParser?
    /// The precisions photos and text queries are encoded at, as `/readyz` reports them.
    public let precision: ServingPrecision
    /// The catalog's categories and markets as the parser offers them, read at most every 30 s.
    private let facets = Mutex<(read: ContinuousClock.Instant, categories: [FacetValue], markets: [FacetValue])?>(nil)

    /// A text query waiting for the text tower, with the engine it was prepared by (a batch can
    /// straddle a model reload: each engine's queries go through its own encoder).
    struct PendingText: Sendable {
        var engine: SearchEngine
        var query: SearchEngine.TextQuery
    }

    /// A text query's embedding, and whether its text was cut to the model's context.
    struct EncodedText: Sendable {
        var vector: [Float]
        var truncated: Bool
    }

    /// Whether each query first catches up with another writer's commits. With the catalog in the
    /// data directory that is a local read, and the next request sees a commit; on a catalog
    /// server it would be a round trip per request, so there the poller does it every
    /// `refresh.intervalMilliseconds` and a commit is served within that interval.
    static func refreshesPerQuery(_ store: DataStore) -> Bool {
        store.backends.catalog.kind == SQLiteCatalog.kind
    }

    private static func engine(store: DataStore, encoders: CLIPEncoders, queryModel: QueryModel?, configuration: ServerConfiguration,
                               metrics: ServerMetrics, reranker: (any Reranker)?, textEmbedder: TextEmbedder?) -> SearchEngine {
        engine(store: store, text: queryModel?.encoder ?? encoders.text, image: encoders.image, configuration: configuration,
               metrics: metrics, reranker: reranker, textEmbedder: textEmbedder)
    }

    private static func engine(store: DataStore, text: (any TextEncoder)?, image: CLIPImageEncoder?, configuration: ServerConfiguration,
                               metrics: ServerMetrics, reranker: (any Reranker)?, textEmbedder: TextEmbedder?) -> SearchEngine {
        let vectors = store.backends.vectors.kind, catalog = store.backends.catalog.kind
        return SearchEngine(store: store, text: text, image: image, maxPixels: configuration.maxPixels,
                            refreshesPerQuery: refreshesPerQuery(store),
                            timings: SearchTimings(indexSearched: { metrics.indexSearched(backend: vectors, duration: $0) },
                                                   catalogRead: { metrics.catalogRead(backend: catalog, duration: $0) }),
                            reranker: reranker, fusion: configuration.fusion, textEmbedder: textEmbedder)
    }

    public init(store: DataStore, encoders: CLIPEncoders, configuration: ServerConfiguration, metrics: ServerMetrics,
                reranker: (any Reranker)? = nil, textEmbedder: TextEmbedder? = nil, queryModel: QueryModel? = nil,
                parser: QueryParser? = nil, precision: ServingPrecision? = nil) {
        self.store = store
        // A server ranks keyword searches in memory (SQLite; the same results as the catalog's own).
        store.catalog.keepTextSearchInMemory()
        self.precision = precision ?? ServingPrecision(photos: encoders.model.precision.rawValue, queries: encoders.model.precision.rawValue)
        self.reranker = reranker
        self.parser = parser
        currentText = Mutex(textEmbedder)
        currentQuery = Mutex(queryModel)
        current = Mutex(Self.engine(store: store, encoders: encoders, queryModel: queryModel, configuration: configuration, metrics: metrics,
                                    reranker: reranker, textEmbedder: textEmbedder))
        self.configuration = configuration
        self.metrics = metrics
        textPool = ConcurrencyLimiter(name: "text search", slots: configuration.textEncodeSlots, queueLimit: configuration.textEncodeQueue) {
            metrics.rejected(pool: "text")
        }
        imagePool = ConcurrencyLimiter(name: "image search", slots: configuration.imageEncodeSlots, queueLimit: configuration.imageEncodeQueue) {
            metrics.rejected(pool: "image")
        }
        textBatcher = configuration.textBatchSize > 1 && (encoders.text != nil || queryModel != nil) ? QueryBatcher(
            name: "text search", maxBatch: configuration.textBatchSize, queueLimit: configuration.textEncodeQueue,
            encode: Self.encode, onReject: { metrics.rejected(pool: "text") }, onPass: { size, _ in metrics.textBatch(size: size) }) : nil
    }

    /// One pass of the text tower over a batch of queries (one per engine, should a reload have
    /// left queries of two engines in the batch), answers in the order of `pending`.
    @Sendable static func encode(_ pending: [PendingText]) throws -> [EncodedText] {
        var answers = [EncodedText?](repeating: nil, count: pending.count)
        var left = Array(pending.indices)
        while let first = left.first {
            let engine = pending[first].engine
            let group = left.filter { pending[$0].engine === engine }
            left.removeAll { pending[$0].engine === engine }
            let encoder = pending[first].query.encoder
            let tokens = group.map { encoder.tokenize(pending[$0].query.text) }
            let vectors = try encoder.embed(tokenIDs: tokens.map(\.ids))
            for (index, (vector, token)) in zip(group, zip(vectors, tokens)) {
                answers[index] = EncodedText(vector: vector, truncated: token.truncated)
            }
        }
        return answers.map { $0! }
    }

    // MARK: The model

    /// Whether the data directory now serves another model than the engine's encoders belong to
    /// (a reindex swapped them), as of the store's last refresh.
    public var modelChanged: Bool {
        guard let serving = store.model, let loaded = engine.model else { return false }
        return !serving.sameEmbeddings(as: loaded)
    }

    /// Serves queries with `encoders` from now on (requests already running finish on the old
    /// engine), and with the new model's own text tower: a query model was trained into the old
    /// model's space. - Throws: ``EngineError/model(path:reason:)`` when a tower is missing or the
    /// embeddings do not fit the index.
    public func adopt(_ encoders: CLIPEncoders) throws {
        guard let text = encoders.text, encoders.image != nil else {
            throw EngineError.model(path: encoders.directory.path, reason: "serving needs both the text and the image tower")
        }
        if let serving = store.model, text.dimension != serving.dimension {
            throw EngineError.model(path: encoders.directory.path, reason: "it makes \(text.dimension)-dimensional embeddings, the index holds \(serving.dimension)")
        }
        currentQuery.withLock { $0 = nil }
        let engine = Self.engine(store: store, encoders: encoders, queryModel: nil, configuration: configuration, metrics: metrics,
                                 reranker: reranker, textEmbedder: textEmbedder)
        current.withLock { $0 = engine }
    }

    /// Answers `mode=text` with `embedder` from now on: a text reindex put another sentence model
    /// behind the text index, or an ingest made one. Requests already running finish on the old
    /// engine. While a CLIP model swap is half done the engine stays (its reload takes this
    /// embedder).
    func adopt(textEmbedder embedder: TextEmbedder) {
        currentText.withLock { $0 = embedder }
        let (store, configuration, metrics, reranker) = (store, configuration, metrics, reranker)
        current.withLock { engine in
            guard let loaded = engine.model, let serving = store.model, loaded.sameEmbeddings(as: serving) else { return }
            engine = Self.engine(store: store, text: engine.text, image: engine.image, configuration: configuration, metrics: metrics,
                                 reranker: reranker, textEmbedder: embedder)
        }
    }

    // MARK: Queries

    /// Runs `body` again when it met a model swap half adopted (the store serves the new index, the
    /// new engine is a moment away): for up to 2 s, as soon as the engines match.
    private func acrossModelSwap<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ModelChangedError {
            let deadline = ContinuousClock.now + .seconds(2)
            while ContinuousClock.now < deadline {
                if !modelChanged { return try await body() }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw error
        }
    }

    /// How a text query is run: its mode, whether to explain and rerank, and whether an LLM
    /// reads it first (nil: when the server has one).
    struct TextOptions: Sendable {
        var mode: SearchMode = .clip
        var explain = false
        var rerank = false
        var understand: Bool?
    }

    func search(text: String, filter: SearchFilter, page: SearchPage, options: TextOptions = TextOptions()) async throws -> SearchResponse {
        guard let parser, options.understand ?? true else {
            return try await acrossModelSwap { try await searchOnce(text: text, filter: filter, page: page, options: options) }
        }
        // Checked before the LLM is asked: a query the engine would refuse costs no call.
        _ = try SearchEngine.check(text)
        try page.validate()
        let (categories, markets) = await facetValues()
        let plainSearch: @Sendable () async throws -> SearchResponse = {
            try await self.acrossModelSwap { try await self.searchOnce(text: text, filter: filter, page: page, options: options) }
        }
        var understood: Understood
        var plain: Task<SearchResponse, any Error>?
        if let hit = parser.cached(text, categories: categories, markets: markets) {
            metrics.llmCacheHit()
            understood = hit
        } else {
            // The plain search runs while the LLM thinks: a fallback then answers at the budget,
            // not at the budget plus a search.
            plain = Task { try await plainSearch() }
            understood = await parser.understand(text, categories: categories, markets: markets)
            if understood.source == .fallback, understood.reason == "too_long" { metrics.llmFallback(reason: "too_long") }
        }
        let combined = filter.adding(understood)
        let searched = understood.searchText
        var response: SearchResponse
        if let plain, understood.source == .fallback || (searched == text && combined == filter) {
            response = try await plain.value
        } else {
            plain?.cancel()
            response = try await acrossModelSwap { try await searchOnce(text: searched, filter: combined, page: page, options: options) }
        }
        response.query = text
        response.understood = understood
        return response
    }

    /// The categories (most products first) and markets, cached for 30 s; none when the catalog
    /// cannot be read (the LLM then gets no facets to choose from, and the search goes on).
    private func facetValues() async -> ([FacetValue], [FacetValue]) {
        if let cached = facets.withLock({ $0 }), ContinuousClock.now - cached.read < .seconds(30) {
            return (cached.categories, cached.markets)
        }
        let categories = ((try? await self.categories()) ?? []).sorted { $0.count > $1.count }
            .map { FacetValue(value: $0.value, name: $0.name) }
        let markets = ((try? await self.markets()) ?? []).map { FacetValue(value: $0.value, name: $0.name) }
        facets.withLock { $0 = (ContinuousClock.now, categories, markets) }
        return (categories, markets)
    }

    private func searchOnce(text: String, filter: SearchFilter, page: SearchPage, options: TextOptions) async throws -> SearchResponse {
        let engine = engine
        // Refused before the query waits for the text tower (the engine would refuse it after).
        if options.rerank && engine.reranker == nil {
            throw APIError.badRequest("rerank=true needs a reranker: start the server with --reranker")
        }
        let run: @Sendable (EncodedQuery?) throws -> SearchResponse = { encoded in
            try engine.search(text: text, mode: options.mode, filter: filter, page: page, explain: options.explain,
                              rerank: options.rerank, vector: encoded)
        }
        // Keyword and text search need no CLIP text tower: straight to the pool.
        guard options.mode.retrievers.contains(.clip) else {
            return try await blocking(in: textPool) { try run(nil) }
        }
        guard let textBatcher else {
            return try await timedEncode(text: true) { try await self.blocking(in: self.textPool) { try run(nil) } }
        }
        let start = ContinuousClock.now
        // The checks are cheap (no tokenizing), so a bad query is refused without queueing.
        let query = try engine.prepare(text: text, page: page)
        let encoded = try await timedEncode(text: true) {
            try await textBatcher.run(PendingText(engine: engine, query: query), timeout: configuration.requestTimeout)
        }
        let left = configuration.requestTimeout - (ContinuousClock.now - start)
        return try await blocking(in: textPool, limit: left) {
            try run(EncodedQuery(vector: encoded.vector, truncated: encoded.truncated))
        }
    }

    func search(image: Data, filter: SearchFilter, page: SearchPage) async throws -> SearchResponse {
        try await acrossModelSwap { try await searchOnce(image: image, filter: filter, page: page) }
    }

    private func searchOnce(image: Data, filter: SearchFilter, page: SearchPage) async throws -> SearchResponse {
        let engine = engine
        return try await timedEncode(text: false) {
            try await self.blocking(in: self.imagePool) { try engine.search(imageData: image, filter: filter, page: page) }
        }
    }

    func similar(to id: String, filter: SearchFilter, page: SearchPage) async throws -> SearchResponse {
        try await acrossModelSwap { try await similarOnce(to: id, filter: filter, page: page) }
    }

    private func similarOnce(to id: String, filter: SearchFilter, page: SearchPage) async throws -> SearchResponse {
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
        var gauges = try Self.catalogGauges(store)
        gauges.vectors = try store.vectors?.count() ?? 0
        metrics.update(gauges)
    }

    /// The data gauges the catalog answers (all but the vector count).
    static func catalogGauges(_ store: DataStore) throws -> ServerMetrics.DataGauges {
        let counts = try store.catalog.counts()
        return ServerMetrics.DataGauges(products: counts.products, images: counts.images, vectors: 0,
                                        generation: try store.catalog.generation(), lastCommit: try store.catalog.lastCommit())
    }

    /// What `/readyz` reports: ready when the model's towers, the index and the catalog are loaded.
    struct Readiness: Codable, Equatable {
        var ready: Bool
        var model: String?
        /// The text tower clip queries go through when it is not the model's own (`--query-model`).
        var queryModel: String?
        /// The precisions photos and text queries are encoded at.
        var precision: ServingPrecision
        var products: Int
        var vectors: Int
        var generation: UInt64
        /// The backend of each role (catalog, photos, index).
        var backends: StoreBackends
        var problems: [String]

        enum CodingKeys: String, CodingKey {
            case ready, model, queryModel = "query_model", precision, products, vectors, generation, backends, problems
        }
    }

    /// The three stores a replica needs, as `vitrine_dependency_up` names them.
    enum StoreRole: String, CaseIterable, Sendable {
        case catalog, photos, vectors
    }

    /// What one probe of the stores found: the data's sizes as far as they answered, the model the
    /// catalog records, and each failing store's problem.
    struct StoreProbe: Sendable {
        var gauges = ServerMetrics.DataGauges(products: 0, images: 0, vectors: 0, generation: 0)
        var model: String?
        /// Whether there is an index to count (none before the first ingest commits).
        var hasIndex = true
        var problems: [StoreRole: String] = [:]
    }

    /// A key no photo has (the digest of no bytes), looked up by readiness probes.
    static let probeKey = try! BlobKey(HashedData(Data()), ext: "bin")

    /// Probes the catalog, the photo store and the vectors at once, each on a blocking thread of
    /// its own and within `limit`: a store that hangs is reported as not answering and holds up
    /// neither the others nor the prober. Records each store's state (`vitrine_dependency_up`)
    /// and, when the catalog answered, the data gauges.
    func probe(limit: Duration) async -> StoreProbe {
        let store = store
        async let catalog = Self.answer(within: limit, "the catalog") { () throws -> (ServerMetrics.DataGauges, String?) in
            try store.refresh()
            return (try Self.catalogGauges(store), try store.catalog.modelRecord()?.specifier)
        }
        async let vectors = Self.answer(within: limit, "the vector index") { try store.vectors?.count() }
        // One cheap request proves the photo store answers and takes the credentials.
        async let photos = Self.answer(within: limit, "the photo store") { _ = try store.blobs.contains(Self.probeKey) }

        var probe = StoreProbe()
        switch await catalog {
        case .success(let (gauges, model)): probe.gauges = gauges; probe.model = model
        case .failure(let problem): probe.problems[.catalog] = problem.description
        }
        switch await vectors {
        case .success(let count): probe.gauges.vectors = count ?? 0; probe.hasIndex = count != nil
        case .failure(let problem): probe.problems[.vectors] = problem.description
        }
        if case .failure(let problem) = await photos { probe.problems[.photos] = problem.description }

        let backends = store.backends
        for role in StoreRole.allCases {
            let backend = switch role { case .catalog: backends.catalog; case .photos: backends.blobs; case .vectors: backends.vectors }
            metrics.dependency(role: role.rawValue, backend: backend.kind, up: probe.problems[role] == nil)
        }
        if probe.problems[.catalog] == nil { metrics.update(probe.gauges) }
        return probe
    }

    /// Why a store failed a probe, in words for `/readyz`.
    struct ProbeProblem: Error, CustomStringConvertible {
        var description: String
    }

    private static func answer<T: Sendable>(within limit: Duration, _ store: String,
                                            _ work: @escaping @Sendable () throws -> T) async -> Result<T, ProbeProblem> {
        do {
            return .success(try await Deadline.run(limit) { try work() })
        } catch let error as APIError where error.code == APIError.timeout.code {
            return .failure(ProbeProblem(description: "\(store) did not answer within \(limit)"))
        } catch {
            return .failure(ProbeProblem(description: "\(store) cannot be read: \(error)"))
        }
    }

    func readiness(limit: Duration) async -> Readiness {
        let probe = await probe(limit: limit)
        var problems: [String] = []
        let engine = engine
        if engine.text == nil { problems.append("the model has no text tower") }
        if engine.image == nil { problems.append("the model has no image tower") }
        if !probe.hasIndex { problems.append("the data directory has no vector index yet (ingest has not committed)") }
        problems += StoreRole.allCases.compactMap { probe.problems[$0] }
        return Readiness(ready: problems.isEmpty, model: probe.model, queryModel: queryModel?.specifier, precision: precision,
                         products: probe.gauges.products, vectors: probe.gauges.vectors,
                         generation: probe.gauges.generation, backends: store.backends, problems: problems)
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

/// The precisions a server encodes at: photos (the image tower, as the data directory records
/// unless `--precision` says otherwise) and text queries (the text tower or query model; without
/// `--precision`, the fastest keeping the calibration queries within cosine 0.999 of fp32).
public struct ServingPrecision: Codable, Equatable, Sendable {
    public var photos: String
    public var queries: String
    /// The lowest cosine to fp32 over the calibration queries, when the server chose.
    public var queriesMinCosine: Float?

    public init(photos: String, queries: String, queriesMinCosine: Float? = nil) {
        self.photos = photos
        self.queries = queries
        self.queriesMinCosine = queriesMinCosine
    }

    enum CodingKeys: String, CodingKey {
        case photos, queries, queriesMinCosine = "queries_min_cosine"
    }
}
