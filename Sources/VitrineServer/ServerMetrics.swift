import CoreMetrics
import Foundation
import Metrics
import Prometheus
import VitrineEngine

/// The service's metrics, recorded through swift-metrics into a Prometheus registry of this
/// server's own (no global bootstrap, so several servers — tests — can live in one process).
///
/// Series: `vitrine_http_requests_total{route,method,status}`,
/// `vitrine_http_request_duration_seconds{route,method}` (histogram),
/// `vitrine_encode_duration_seconds{kind}` (histogram, text or image),
/// `vitrine_text_batch_size` (histogram of queries per text-tower pass),
/// `vitrine_index_search_duration_seconds{backend}` (histogram of vector searches, `embedded` or
/// `milvus`), `vitrine_catalog_read_duration_seconds{backend}` (histogram of a search's reads of
/// product records, `sqlite` or `postgres`), `vitrine_busy_rejections_total{pool}` (text, image or thumbnail, from 0),
/// `vitrine_thumbnails_generated_total`, and gauges set at each scrape: `vitrine_catalog_products`,
/// `vitrine_catalog_images`, `vitrine_index_vectors`, `vitrine_data_generation`,
/// `vitrine_last_commit_timestamp_seconds`, `vitrine_dependency_up{role,dependency}` (1 when the
/// last probe of that store answered, else 0; role catalog, photos or vectors, dependency the
/// backend's kind); with query understanding on, `vitrine_llm_requests_total{outcome}`,
/// `vitrine_llm_request_duration_seconds` (histogram), `vitrine_llm_fallbacks_total{reason}` and
/// `vitrine_llm_cache_hits_total`.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let thumbnails: CoreMetrics.Counter
    private let textEncode: CoreMetrics.Timer
    private let imageEncode: CoreMetrics.Timer
    private let textBatchSize: CoreMetrics.Recorder

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Latencies of a search service: 1 ms … 10 s, with a bound at the search objective (60 ms,
        // deploy/prometheus/rules) so quantiles near it are not interpolated across 50…100 ms.
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
            .milliseconds(30), .milliseconds(50), .milliseconds(60), .milliseconds(100), .milliseconds(200), .milliseconds(500),
            .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        // A search in the embedded index, or a read of a page of records from SQLite, takes well
        // under a millisecond; the same on a server is a round trip of a few.
        let dependencyBuckets: [Duration] = [
            .microseconds(100), .microseconds(200), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(500),
            .seconds(1), .seconds(5),
        ]
        factory.durationHistogramBuckets["vitrine_index_search_duration_seconds"] = dependencyBuckets
        factory.durationHistogramBuckets["vitrine_catalog_read_duration_seconds"] = dependencyBuckets
        factory.valueHistogramBuckets["vitrine_text_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        // An LLM call: tens of milliseconds to its budget (1.5 s by default).
        factory.durationHistogramBuckets["vitrine_llm_request_duration_seconds"] = [
            .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(500), .seconds(1), .milliseconds(1500),
            .seconds(2), .seconds(5),
        ]
        self.factory = factory
        thumbnails = CoreMetrics.Counter(label: "vitrine_thumbnails_generated_total", factory: factory)
        textEncode = CoreMetrics.Timer(label: "vitrine_encode_duration_seconds", dimensions: [("kind", "text")], factory: factory)
        imageEncode = CoreMetrics.Timer(label: "vitrine_encode_duration_seconds", dimensions: [("kind", "image")], factory: factory)
        textBatchSize = CoreMetrics.Recorder(label: "vitrine_text_batch_size", aggregate: true, factory: factory)
        // Series that exist from the start, so rates and dashboards show 0 rather than nothing.
        for pool in ["text", "image", "thumbnail"] {
            _ = CoreMetrics.Counter(label: "vitrine_busy_rejections_total", dimensions: [("pool", pool)], factory: factory)
        }
    }

    /// One finished request. `route` is the route's pattern (`/api/v1/products/{id}`), never the
    /// raw path, so the number of series stays bounded.
    func request(route: String, method: String, status: Int, duration: Duration) {
        CoreMetrics.Counter(label: "vitrine_http_requests_total", dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory)
            .increment()
        CoreMetrics.Timer(label: "vitrine_http_request_duration_seconds", dimensions: [("route", route), ("method", method)], factory: factory)
            .record(duration: duration)
    }

    func encoded(text: Bool, duration: Duration) {
        (text ? textEncode : imageEncode).record(duration: duration)
    }

    /// One pass of the text tower over `size` batched queries.
    func textBatch(size: Int) {
        textBatchSize.record(size)
    }

    /// One search of the vector index (`backend` is the index's kind: `embedded`, `milvus`).
    func indexSearched(backend: String, duration: Duration) {
        CoreMetrics.Timer(label: "vitrine_index_search_duration_seconds", dimensions: [("backend", backend)], factory: factory)
            .record(duration: duration)
    }

    /// One read of product records by a search (`backend` is the catalog's kind: `sqlite`, `postgres`).
    func catalogRead(backend: String, duration: Duration) {
        CoreMetrics.Timer(label: "vitrine_catalog_read_duration_seconds", dimensions: [("backend", backend)], factory: factory)
            .record(duration: duration)
    }

    /// The outcome of the last probe of a store: `role` catalog, photos or vectors, `backend` its kind.
    func dependency(role: String, backend: String, up: Bool) {
        CoreMetrics.Gauge(label: "vitrine_dependency_up", dimensions: [("role", role), ("dependency", backend)], factory: factory)
            .record(up ? 1 : 0)
    }

    func thumbnailGenerated() { thumbnails.increment() }

    /// One call to the LLM server: its outcome (`ok`, `timeout`, `http_error`, `unreachable`,
    /// `invalid`) and how long it took. Every outcome but `ok` is also a fallback.
    func llmCall(outcome: String, duration: Duration) {
        CoreMetrics.Counter(label: "vitrine_llm_requests_total", dimensions: [("outcome", outcome)], factory: factory).increment()
        CoreMetrics.Timer(label: "vitrine_llm_request_duration_seconds", factory: factory).record(duration: duration)
        if outcome != "ok" { llmFallback(reason: outcome) }
    }

    /// A text query searched as typed although query understanding is on.
    func llmFallback(reason: String) {
        CoreMetrics.Counter(label: "vitrine_llm_fallbacks_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// A query understood from the cache, without a call.
    func llmCacheHit() {
        CoreMetrics.Counter(label: "vitrine_llm_cache_hits_total", factory: factory).increment()
    }

    func rejected(pool: String) {
        CoreMetrics.Counter(label: "vitrine_busy_rejections_total", dimensions: [("pool", pool)], factory: factory).increment()
    }

    /// Sizes of the data as the server sees it now.
    struct DataGauges {
        var products: Int
        var images: Int
        var vectors: Int
        var generation: UInt64
        var lastCommit: Date?
    }

    func update(_ gauges: DataGauges) {
        CoreMetrics.Gauge(label: "vitrine_catalog_products", factory: factory).record(gauges.products)
        CoreMetrics.Gauge(label: "vitrine_catalog_images", factory: factory).record(gauges.images)
        CoreMetrics.Gauge(label: "vitrine_index_vectors", factory: factory).record(gauges.vectors)
        CoreMetrics.Gauge(label: "vitrine_data_generation", factory: factory).record(Double(gauges.generation))
        CoreMetrics.Gauge(label: "vitrine_last_commit_timestamp_seconds", factory: factory).record(gauges.lastCommit?.timeIntervalSince1970 ?? 0)
    }

    /// The Prometheus text exposition of every series.
    func exposition() -> String { registry.emitToString() }
}
