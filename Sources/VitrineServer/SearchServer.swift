import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import VitrineCatalog
import VitrineEngine
import VitrineLLM
import VitrineModels

/// The search service over one data directory: routes, middleware and the background services,
/// assembled into a Hummingbird application.
///
/// ```swift
/// let store = try DataStore.openForReading(directory)
/// let server = try SearchServer(configuration: configuration, store: store, encoders: encoders, logger: logger)
/// try await server.makeApplication().runService()   // until SIGINT or SIGTERM
/// ```
public final class SearchServer: Sendable {
    public let configuration: ServerConfiguration
    public let service: SearchService
    public let metrics: ServerMetrics
    let writer: ProductWriter?
    let thumbnails: ThumbnailCache
    /// The web UI's stylesheet and script, read at start-up.
    let assets: WebUIAssets
    let logger: Logger
    /// Loads the encoders of the model a data directory records (after a reindex swapped it).
    public typealias EncoderLoader = @Sendable (DataStore) async throws -> CLIPEncoders
    let loader: EncoderLoader?
    private let reloading = Mutex(false)
    /// Loads the sentence model a data directory's text index records (after a text reindex, or
    /// an ingest that made the text index).
    public typealias TextEmbedderLoader = @Sendable (ModelRecord) async throws -> TextEmbedder
    let textLoader: TextEmbedderLoader?
    /// The weights of the sentence model last tried, so a failing load is logged once per model.
    private let textTried = Mutex<String?>(nil)

    /// - Parameter loader: how to load the new model's encoders when a `vitrine reindex` swaps the
    ///   directory's model under the running server; without one, queries answer 503
    ///   `model_changed` until a restart.
    /// - Throws: ``EngineError/noModelRecord(path:)`` when the directory records no model (nothing
    ///   was ever ingested), an ``EngineError/model(path:reason:)`` when the model lacks a tower, or
    ///   ``WebUIAssetsMissing`` when the web UI's files are not beside the binary.
    /// - Parameter reranker: the cross-encoder `rerank=true` runs (nil: such requests answer 400).
    /// - Parameter textEmbedder: the text index's sentence model (nil: `mode=text` answers 400,
    ///   hybrid fuses keyword and CLIP only); writes embed products' text with it when the data
    ///   directory has a text index.
    /// - Parameter textLoader: how to load the sentence model the text index records when it is not
    ///   the one served (nil: `mode=text` answers 503 `model_changed` until a restart).
    /// - Parameter queryModel: a text tower trained into the model's space that encodes text
    ///   queries in its place (a multilingual one); dropped when a reindex swaps the model.
    public init(configuration: ServerConfiguration, store: DataStore, encoders: CLIPEncoders, logger: Logger,
                loader: EncoderLoader? = nil, reranker: (any Reranker)? = nil, textEmbedder: TextEmbedder? = nil,
                textLoader: TextEmbedderLoader? = nil, queryModel: QueryModel? = nil, precision: ServingPrecision? = nil) throws {
        self.textLoader = textLoader
        guard let record = try store.catalog.modelRecord() else {
            throw EngineError.noModelRecord(path: store.catalog.backend.location)
        }
        guard let image = encoders.image, encoders.text != nil || queryModel != nil else {
            throw EngineError.model(path: encoders.directory.path, reason: "serving needs both the text and the image tower")
        }
        try queryModel?.check(dimension: record.dimension)
        assets = try WebUIAssets.load()
        self.configuration = configuration
        self.logger = logger
        self.loader = loader
        // With a loader, a reindex's swap waits for the new encoders: no query answers 503 meanwhile.
        if loader != nil { store.holdsModelSwaps = true }
        metrics = ServerMetrics()
        let metrics = metrics
        let parser = configuration.llm.map { llm in
            QueryParser(client: ChatClient(configuration: llm)) { outcome, duration, error in
                metrics.llmCall(outcome: outcome, duration: duration)
                // One line per call; the query is in the request's own line, the key nowhere.
                var metadata: Logger.Metadata = [
                    "event.action": "llm.understand", "event.outcome": .string(outcome == "ok" ? "success" : "failure"),
                    "vitrine.llm.outcome": .string(outcome), "vitrine.llm.model": .string(llm.model),
                    "event.duration": .stringConvertible(ECSLogHandler.nanoseconds(duration)),
                ]
                if let error { metadata["error.message"] = .string(error.description) }
                logger.log(level: outcome == "ok" ? .info : .warning, "query understanding by the LLM server", metadata: metadata)
            }
        }
        service = SearchService(store: store, encoders: encoders, configuration: configuration, metrics: metrics, reranker: reranker,
                                textEmbedder: textEmbedder, queryModel: queryModel, parser: parser,
                                precision: precision)
        writer = configuration.apiKeys.isEmpty ? nil : ProductWriter(
            storage: store.storage, reader: store.catalog, encoder: IngestEncoder(image), model: record, text: textEmbedder,
            configuration: configuration, logger: logger)
        thumbnails = ThumbnailCache(dataDirectory: store.directory, blobs: store.blobs, configuration: configuration, metrics: metrics, logger: logger)
        try? service.refresh()
        textTried.withLock { $0 = textEmbedder?.record.weightsSHA256 }
    }

    /// The backend of each role of the store served.
    public var backends: StoreBackends { service.store.backends }

    /// Every route and middleware. Middleware comes first: Hummingbird binds it to the routes
    /// added after it. Order, outermost first: request log (id, one line per request), metrics,
    /// CORS, errors (so every error leaves as the API's JSON shape and is counted with its status).
    public func makeRouter() -> Router<VitrineRequestContext> {
        let router = Router(context: VitrineRequestContext.self)
        router.add(middleware: RequestLogMiddleware(logger: logger))
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: CORSMiddleware(origins: configuration.corsOrigins))
        let routes = RouteTable()
        router.add(middleware: ErrorMiddleware(routes: routes))
        SearchRoutes(service: service, configuration: configuration).register(on: router)
        ProductRoutes(service: service, writer: writer, authorization: WriteAuthorization(keys: configuration.apiKeys),
                      configuration: configuration).register(on: router)
        ImageRoutes(blobs: service.store.blobs, thumbnails: thumbnails, timeout: configuration.requestTimeout).register(on: router)
        OperationsRoutes(service: service, metrics: metrics).register(on: router)
        WebUIRoutes(service: service, configuration: configuration, assets: assets).register(on: router)
        routes.set(router.routes.map { ($0.method.rawValue, $0.path.description) })
        return router
    }

    /// The application: HTTP/1.1 on the configured address, with the data poller and the writer's
    /// shutdown as services. `runService()` stops gracefully on SIGINT and SIGTERM: in-flight
    /// requests finish, then the writer (if open) checkpoints and lets its lock go.
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        // The largest body any route reads (a product write with its most images).
        let largestBody = configuration.maxUploadBytes * ProductRoutes.maxImages + 256 * 1024
        return Application(
            router: makeRouter(),
            // Idle connections close after 60 s; a body has the request time limit to arrive (408).
            server: .http1(configuration: .init(
                additionalChannelHandlers: [ChannelGuard(maxBodyBytes: largestBody)],
                idleTimeout: .seconds(60))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Vitrine"),
            services: [DataPoller(server: self)],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// When the data directory now serves another model (a reindex swapped it), loads that model's
    /// encoders and serves with them; queries answer 503 `model_changed` meanwhile. A failed load
    /// is logged and tried again at the next call. Returns whether a new model was adopted.
    @discardableResult
    public func reloadModelIfChanged() async -> Bool {
        guard let loader, service.modelChanged || service.store.pendingModel != nil else { return false }
        guard reloading.withLock({ (busy: inout Bool) -> Bool in
            if busy { return false }
            busy = true
            return true
        }) else { return false }
        defer { reloading.withLock { $0 = false } }
        let store = service.store
        let serving = store.pendingModel ?? store.model
        logger.notice("the data directory serves another model (reindexed): loading it", metadata: [
            "vitrine.model": .string(serving?.specifier ?? "unknown"), "vitrine.previous_model": .string(service.engine.model?.specifier ?? "unknown"),
        ])
        let start = ContinuousClock.now
        do {
            // The old index and encoders answer while the new ones load; then both switch together
            // (a query caught between the two steps waits for the second, see SearchService).
            let encoders = try await loader(store)
            try await Task.detached { try store.adoptPendingSwap() }.value
            if let query = service.queryModel {
                logger.warning("the query model was trained into the previous model's space: text queries now go through the new model's own text tower", metadata: [
                    "vitrine.query_model": .string(query.specifier)])
            }
            try service.adopt(encoders)
            if let writer, let image = encoders.image, let record = try store.catalog.modelRecord() {
                await writer.adopt(encoder: IngestEncoder(image), model: record)
            }
            logger.notice("serving the new model", metadata: [
                "vitrine.model": .string(serving?.specifier ?? "unknown"),
                "event.duration": .stringConvertible(ECSLogHandler.nanoseconds(ContinuousClock.now - start)),
            ])
            return true
        } catch {
            logger.error("loading the new model failed; the old one goes on serving until it loads", metadata: [
                "vitrine.model": .string(serving?.specifier ?? "unknown"), "error.message": .string(String(describing: error)),
            ])
            return false
        }
    }

    /// When the text index records another sentence model than the one served (a text reindex),
    /// or the data directory gained a text index, loads it and serves `mode=text` with it. Each
    /// model is tried once: a failed load is logged, and tried again only for another model.
    /// Returns whether a sentence model was adopted.
    @discardableResult
    public func reloadTextModelIfChanged() async -> Bool {
        guard let textLoader, let record = service.store.textIndex?.record.model else { return false }
        if let served = service.textEmbedder, served.record.sameEmbeddings(as: record) { return false }
        let fresh = textTried.withLock { (tried: inout String?) -> Bool in
            defer { tried = record.weightsSHA256 }
            return tried != record.weightsSHA256
        }
        guard fresh else { return false }
        logger.notice("the text index records another sentence model: loading it", metadata: [
            "vitrine.model": .string(record.specifier), "vitrine.previous_model": .string(service.textEmbedder?.record.specifier ?? "none"),
        ])
        do {
            let embedder = try await textLoader(record)
            guard embedder.record.sameEmbeddings(as: record) else {
                throw EngineError.textModelMismatch(data: service.store.directory.url.path, recorded: record.specifier, given: embedder.record.specifier)
            }
            service.adopt(textEmbedder: embedder)
            await writer?.adopt(text: embedder)
            logger.notice("serving the text index's new sentence model", metadata: ["vitrine.model": .string(record.specifier)])
            return true
        } catch {
            logger.error("loading the text index's sentence model failed; mode=text answers 503 until it loads", metadata: [
                "vitrine.model": .string(record.specifier), "error.message": .string(String(describing: error)),
            ])
            return false
        }
    }

    /// Lets go of the writer lock if a write took it (also done on graceful shutdown).
    public func shutdown() async {
        await writer?.close()
    }
}

/// Looks for another writer's commits every `refresh.intervalMilliseconds` (queries look too;
/// this keeps metrics and readiness current when nobody asks), loads a model a reindex swapped
/// in, and closes the writer on shutdown.
struct DataPoller: Service {
    let server: SearchServer

    func run() async throws {
        let interval = server.configuration.refreshInterval
        let service = server.service
        let logger = server.logger
        // Cancelled (ending the loop) when graceful shutdown starts.
        _ = try? await cancelWhenGracefulShutdown { () async throws -> Void in
            var failing = false
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                do {
                    try await Task.detached { try service.refresh() }.value
                    failing = false
                    await server.reloadModelIfChanged()
                    await server.reloadTextModelIfChanged()
                } catch {
                    if !failing { logger.warning("refreshing the data failed", metadata: ["error.message": .string(String(describing: error))]) }
                    failing = true
                }
            }
        }
        await server.shutdown()
    }
}
