import CoreMetrics
import Hummingbird
import Logging
import Prometheus
import VitrineCore
import VitrineEngine

/// The metrics of one `vitrine ingest` run, served by its own listener (``IngestMetrics/serve(host:port:)``)
/// for Prometheus to scrape while the run lasts.
///
/// Series: `vitrine_ingest_running` (1 while the run reads and commits, 0 once it ended),
/// `vitrine_ingest_items_total{outcome}` (ingested, updated, unchanged, failed: the items read so
/// far, by what became of them), `vitrine_ingest_images_embedded_total`, and
/// `vitrine_ingest_errors_total{kind}` (errors that stopped the run, by ``ErrorKind``, snake case).
/// Every label value exists from the start at 0, so rates and alerts see a series, not nothing.
public final class IngestMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let running: CoreMetrics.Gauge
    private let images: CoreMetrics.Counter
    private let items: [String: CoreMetrics.Counter]

    public static let outcomes = ["ingested", "updated", "unchanged", "failed"]

    public init() {
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
        running = CoreMetrics.Gauge(label: "vitrine_ingest_running", factory: factory)
        running.record(0)
        images = CoreMetrics.Counter(label: "vitrine_ingest_images_embedded_total", factory: factory)
        var items: [String: CoreMetrics.Counter] = [:]
        for outcome in Self.outcomes {
            items[outcome] = CoreMetrics.Counter(label: "vitrine_ingest_items_total", dimensions: [("outcome", outcome)], factory: factory)
        }
        self.items = items
        for kind in ErrorKind.allCases { _ = errorCounter(kind) }
    }

    public func started() { running.record(1) }

    public func finished() { running.record(0) }

    /// The counts grew by `delta` (a committed batch, a skipped chunk, rejected items).
    public func counted(_ delta: IngestCounts) {
        for (outcome, count) in [("ingested", delta.ingested), ("updated", delta.updated), ("unchanged", delta.unchanged),
                                 ("failed", delta.failed)] where count > 0 {
            items[outcome]?.increment(by: Int64(count))
        }
        if delta.imagesEmbedded > 0 { images.increment(by: Int64(delta.imagesEmbedded)) }
    }

    /// The run stopped on `error`.
    public func stopped(by error: any Error) {
        errorCounter((error as? any VitrineError)?.kind ?? .internalFailure).increment()
    }

    private func errorCounter(_ kind: ErrorKind) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: "vitrine_ingest_errors_total", dimensions: [("kind", Self.label(kind))], factory: factory)
    }

    /// `insufficientStorage` → `insufficient_storage`.
    static func label(_ kind: ErrorKind) -> String {
        String(describing: kind).reduce(into: "") { text, character in
            if character.isUppercase { text += "_" + character.lowercased() } else { text.append(character) }
        }
    }

    public func exposition() -> String { registry.emitToString() }

    /// Serves `GET /metrics` on `host:port` until the returned listener is stopped. Returns once the
    /// port is bound; throws ``EngineError/invalidArgument(_:)`` naming the address when it cannot be.
    public func serve(host: String, port: Int) async throws -> MetricsListener {
        try await MetricsListener.start(host: host, port: port) { [self] in exposition() }
    }
}

/// A small HTTP listener with one route, `GET /metrics` (the Prometheus text format), for a
/// process that is not a server (an ingest run).
public final class MetricsListener: Sendable {
    private let task: Task<Void, any Error>
    /// The port it listens on (the one asked for, or the one the system chose for 0).
    public let port: Int

    private init(task: Task<Void, any Error>, port: Int) {
        self.task = task
        self.port = port
    }

    static func start(host: String, port: Int, exposition: @escaping @Sendable () -> String) async throws -> MetricsListener {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: exposition())))
        }
        var logger = Logger(label: "vitrine.ingest.metrics")
        logger.logLevel = .critical
        let (bound, bind) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "Vitrine"),
            onServerRunning: { channel in
                bind.yield(channel.localAddress?.port ?? port)
                bind.finish()
            },
            logger: logger)
        let task = Task {
            defer { bind.finish() }
            // No signal handling of its own: SIGINT and SIGTERM stay the ingest's (the run stops,
            // then the listener with it).
            try await application.runService(gracefulShutdownSignals: [])
        }
        var iterator = bound.makeAsyncIterator()
        guard let actual = await iterator.next() else {
            let reason: String
            do {
                try await task.value
                reason = "the listener stopped"
            } catch {
                reason = String(describing: error)
            }
            throw EngineError.invalidArgument("--metrics-address \(host):\(port): cannot listen there (\(reason))")
        }
        return MetricsListener(task: task, port: actual)
    }

    /// Stops listening and waits until the port is closed.
    public func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}
