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
/// `vitrine_busy_rejections_total{pool}`, `vitrine_thumbnails_generated_total`, and gauges set
/// at each scrape: `vitrine_catalog_products`, `vitrine_catalog_images`, `vitrine_index_vectors`,
/// `vitrine_data_generation`, `vitrine_last_commit_timestamp_seconds`.
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
        // Latencies of a search service: 1 ms … 10 s.
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
            .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(500),
            .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        factory.valueHistogramBuckets["vitrine_text_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        self.factory = factory
        thumbnails = CoreMetrics.Counter(label: "vitrine_thumbnails_generated_total", factory: factory)
        textEncode = CoreMetrics.Timer(label: "vitrine_encode_duration_seconds", dimensions: [("kind", "text")], factory: factory)
        imageEncode = CoreMetrics.Timer(label: "vitrine_encode_duration_seconds", dimensions: [("kind", "image")], factory: factory)
        textBatchSize = CoreMetrics.Recorder(label: "vitrine_text_batch_size", aggregate: true, factory: factory)
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

    func thumbnailGenerated() { thumbnails.increment() }

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
