import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import VitrineEngine
@testable import VitrineServer

@Suite("operations routes")
struct OperationsRouteTests {
    @Test func healthReadinessPagesAndUnknownRoutes() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(try health.decode(HealthResponse.self).status == "ok")

            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok)
            let readiness = try ready.decode(SearchService.Readiness.self)
            #expect(readiness.ready)
            #expect(readiness.products == ServerFixtures.catalog.count)
            #expect(readiness.vectors == ServerFixtures.catalog.reduce(0) { $0 + $1.photos.count })
            #expect(readiness.model == ServerFixtures.tinyModel.standardizedFileURL.path)

            let home = try await client.execute(uri: "/", method: .get)
            #expect(home.status == .ok)
            #expect(home.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(home.text.contains("Vitrine"))

            let docs = try await client.execute(uri: "/docs", method: .get)
            #expect(docs.headers[.contentType]?.hasPrefix("text/html") == true)
            // Every operation of the document is on the page, and so are the schemas.
            for operation in OpenAPIDocument.operations {
                let expected: HTML = "<code>\(operation)</code>"
                #expect(docs.text.contains(expected.description), "\(operation)")
            }
            #expect(docs.text.contains("id=\"schema-SearchResponse\""))
            #expect(!docs.text.contains("<script"))
            #expect(docs.headers[.xContentTypeOptions] == "nosniff")
            #expect(docs.headers[.contentSecurityPolicy]?.hasPrefix("default-src 'none'") == true)

            let unknown = try await client.execute(uri: "/api/v2/nothing", method: .get)
            #expect(unknown.status == .notFound)
            #expect(try unknown.error().code == "not_found")
        }
    }

    @Test func requestIDsAreReturnedAndClientIDsKept() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            let made = try await client.execute(uri: "/healthz", method: .get)
            let id = try #require(made.headers[RequestLogMiddleware.header])
            #expect(id.count >= 16)
            let kept = try await client.execute(uri: "/healthz", method: .get, headers: [RequestLogMiddleware.header: "abc-123.X_y"])
            #expect(kept.headers[RequestLogMiddleware.header] == "abc-123.X_y")
            let replaced = try await client.execute(uri: "/healthz", method: .get, headers: [RequestLogMiddleware.header: "bad id\u{7F}"])
            #expect(replaced.headers[RequestLogMiddleware.header] != "bad id\u{7F}")
            // Errors carry it too.
            let error = try await client.execute(uri: "/api/v1/search", method: .get)
            #expect(error.headers[RequestLogMiddleware.header] != nil)
        }
    }

    @Test func theRequestLogIsOneECSLinePerRequest() async throws {
        let lines = LineCollector()
        var configuration = ServerConfiguration(dataDirectory: try await ServerFixtures.dataDirectory().url.path)
        configuration.writerIdle = .zero
        configuration.apiKeys = ["secret-key-that-never-reaches-a-log"]
        let logger = Logger(label: "vitrine.serve") { ECSLogHandler(label: $0) { lines.append($0) } }
        let store = try DataStore.openForReading(.init(URL(fileURLWithPath: configuration.dataDirectory)))
        let server = try SearchServer(configuration: configuration, store: store, encoders: ServerFixtures.encoders, logger: logger)
        let started = Date()
        try await ServerFixtures.test(server) { client in
            _ = try await client.execute(uri: "/api/v1/search?q=dress", method: .get, headers: [RequestLogMiddleware.header: "req-1"])
            _ = try await client.execute(uri: "/api/v1/products/none", method: .get, headers: [RequestLogMiddleware.header: "req-2"])
            _ = try await client.execute(uri: "/api/v1/products/none", method: .delete,
                                         headers: [RequestLogMiddleware.header: "req-3", .authorization: "Bearer secret-key-that-never-reaches-a-log"])
        }
        #expect(!lines.all.contains { $0.contains("secret-key-that-never-reaches-a-log") })
        let records = try lines.all.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        // Every line: the ECS base fields.
        for record in records {
            #expect(record["ecs.version"] as? String == ECSLogHandler.ecsVersion && record["service.name"] as? String == "vitrine")
            #expect(record["log.logger"] as? String == "vitrine.serve" && record["event.dataset"] as? String == "vitrine.serve")
            #expect(record["process.pid"] as? Int == Int(ProcessInfo.processInfo.processIdentifier))
            #expect(record["log.level"] is String && record["message"] is String)
            let stamp = try #require(record["@timestamp"] as? String)
            #expect(stamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(stamp)")
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let date = try #require(formatter.date(from: stamp))
            #expect(date.timeIntervalSince(started) > -1 && date.timeIntervalSinceNow < 1)
        }
        let requests = records.filter { $0["message"] as? String == "request" }
        #expect(requests.map { $0["http.request.id"] as? String } == ["req-1", "req-2", "req-3"])
        // Numbers stay numbers, so Elasticsearch maps them as such.
        #expect(requests.map { $0["http.response.status_code"] as? Int } == [200, 404, 404])
        #expect(requests.map { $0["vitrine.route"] as? String } == ["/api/v1/search", "/api/v1/products/{id}", "/api/v1/products/{id}"])
        #expect(requests.map { $0["http.request.method"] as? String } == ["GET", "GET", "DELETE"])
        #expect(requests.map { $0["url.path"] as? String } == ["/api/v1/search", "/api/v1/products/none", "/api/v1/products/none"])
        #expect(requests.allSatisfy { (($0["event.duration"] as? Int) ?? 0) > 0 })
        #expect(requests.map { $0["error.code"] as? String } == [nil, "not_found", "not_found"])
        #expect((requests[1]["error.message"] as? String)?.contains("none") == true)
    }

    @Test func corsPreflightAndHeadersForAllowedOriginsOnly() async throws {
        let server = try await ServerFixtures.server { $0.corsOrigins = ["https://shop.example"] }
        try await ServerFixtures.test(server) { client in
            let preflight = try await client.execute(uri: "/api/v1/search/image", method: .options, headers: [
                .origin: "https://shop.example", .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "content-type",
            ])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://shop.example")
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == true)
            #expect(preflight.headers[.accessControlAllowHeaders]?.lowercased().contains("content-type") == true)

            let simple = try await client.execute(uri: "/api/v1/search?q=dress", method: .get, headers: [.origin: "https://shop.example"])
            #expect(simple.headers[.accessControlAllowOrigin] == "https://shop.example")
            #expect(simple.headers[.vary] == "Origin")

            let foreign = try await client.execute(uri: "/api/v1/search?q=dress", method: .get, headers: [.origin: "https://evil.example"])
            #expect(foreign.headers[.accessControlAllowOrigin] == nil)
            // Every answer varies by origin, also one without CORS headers (a cache must not give
            // it to an allowed origin).
            #expect(foreign.headers[.vary] == "Origin")
            let none = try await client.execute(uri: "/api/v1/search?q=dress", method: .get)
            #expect(none.headers[.vary] == "Origin")
            let foreignPreflight = try await client.execute(uri: "/api/v1/search", method: .options, headers: [
                .origin: "https://evil.example", .accessControlRequestMethod: "GET",
            ])
            #expect(foreignPreflight.headers[.accessControlAllowOrigin] == nil)
        }
        let open = try await ServerFixtures.server { $0.corsOrigins = ["*"] }
        try await ServerFixtures.test(open) { client in
            let any = try await client.execute(uri: "/healthz", method: .get, headers: [.origin: "https://anyone.example"])
            #expect(any.headers[.accessControlAllowOrigin] == "*")
        }
    }

    @Test func metricsCountRequestsByRouteAndStatusAndReportTheData() async throws {
        let server = try await ServerFixtures.server()
        try await ServerFixtures.test(server) { client in
            for _ in 0..<3 { _ = try await client.execute(uri: "/api/v1/search?q=dress", method: .get) }
            _ = try await client.execute(uri: "/api/v1/search?q=", method: .get)
            _ = try await client.execute(uri: "/api/v1/products/nope", method: .get)
            _ = try await client.execute(uri: "/api/v1/search/image", method: .post, body: ByteBuffer(bytes: ServerFixtures.photo("gray.png")))
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = response.text
            func value(_ series: String) -> Double? {
                text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
            }
            #expect(value(#"vitrine_http_requests_total{route="/api/v1/search",method="GET",status="200"}"#) == 3)
            #expect(value(#"vitrine_http_requests_total{route="/api/v1/search",method="GET",status="400"}"#) == 1)
            #expect(value(#"vitrine_http_requests_total{route="/api/v1/products/{id}",method="GET",status="404"}"#) == 1)
            #expect(value(#"vitrine_http_request_duration_seconds_count{route="/api/v1/search",method="GET"}"#) == 4)
            #expect(text.contains(#"vitrine_http_request_duration_seconds_bucket{route="/api/v1/search",method="GET",le="0.05"}"#))
            // Encode latency is recorded for the queries that were encoded (not the empty one).
            #expect(value(#"vitrine_encode_duration_seconds_count{kind="text"}"#) == 3)
            #expect(value(#"vitrine_encode_duration_seconds_count{kind="image"}"#) == 1)
            #expect(value("vitrine_catalog_products") == Double(ServerFixtures.catalog.count))
            #expect(value("vitrine_index_vectors") == Double(ServerFixtures.catalog.reduce(0) { $0 + $1.photos.count }))
            #expect(value("vitrine_data_generation").map { $0 >= 1 } == true)
            let lastCommit = try #require(value("vitrine_last_commit_timestamp_seconds"))
            #expect(abs(lastCommit - Date().timeIntervalSince1970) < 600)
            // Three text searches and one image search reached the index.
            #expect(value(#"vitrine_index_search_duration_seconds_count{backend="embedded"}"#) == 4)
            // Each of them read its page of records from the catalog.
            #expect(value(#"vitrine_catalog_read_duration_seconds_count{backend="sqlite"}"#).map { $0 >= 4 } == true)
            // The stores answered the scrape's probe.
            #expect(value(#"vitrine_dependency_up{role="catalog",dependency="sqlite"}"#) == 1)
            #expect(value(#"vitrine_dependency_up{role="photos",dependency="files"}"#) == 1)
            #expect(value(#"vitrine_dependency_up{role="vectors",dependency="embedded"}"#) == 1)
            // Series a dashboard plots exist before anything happened to them.
            #expect(value(#"vitrine_busy_rejections_total{pool="text"}"#) == 0)
            #expect(value(#"vitrine_busy_rejections_total{pool="image"}"#) == 0)
        }
    }

    @Test func aFullPoolAnswersBusyInsteadOfQueueingWithoutBound() async throws {
        let pool = ConcurrencyLimiter(name: "image search", slots: 1, queueLimit: 1)
        try await pool.acquire()
        let waiter = Task { try await pool.acquire() }
        while await pool.waitingCount == 0 { await Task.yield() }
        await #expect(throws: APIError.self) { try await pool.acquire() }
        do {
            try await pool.acquire()
        } catch let error as APIError {
            #expect(error.status == .serviceUnavailable)
            #expect(error.code == "busy")
        }
        await pool.release()  // hands the slot to the waiter
        try await waiter.value
        await pool.release()
        try await pool.acquire()  // free again
    }
}

final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line.trimmingCharacters(in: .newlines)) } }
    var all: [String] { lock.withLock { lines } }
}
