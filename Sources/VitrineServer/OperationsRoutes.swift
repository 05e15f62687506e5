import Foundation
import Hummingbird

/// Liveness, readiness, metrics and the API's description (the start page is `WebUIRoutes`).
struct OperationsRoutes {
    let service: SearchService
    let metrics: ServerMetrics

    func register(on router: Router<VitrineRequestContext>) {
        router.get("/healthz") { _, _ in try JSONCoding.response(HealthResponse(status: "ok")) }
        router.get("/readyz") { _, _ in
            let readiness = await Task.detached { service.readiness() }.value
            return try JSONCoding.response(readiness, status: readiness.ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            // Data gauges are read at scrape time, so they are current whatever the poll interval.
            try? await Task.detached { try service.refresh() }.value
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.json)))
        }
        router.get("/docs") { _, _ in html(DocsPage.html) }
    }

    func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
