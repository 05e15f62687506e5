import Foundation
import HTTPTypes
import Hummingbird

/// Liveness, readiness, metrics and the API's description (the start page is `WebUIRoutes`).
struct OperationsRoutes {
    let service: SearchService
    let metrics: ServerMetrics

    func register(on router: Router<VitrineRequestContext>) {
        router.get("/healthz") { _, _ in try JSONCoding.response(HealthResponse(status: "ok")) }
        router.get("/readyz") { _, _ in
            // Each store is probed on a blocking thread with a bound: one that hangs makes the
            // probe answer 503 in time, naming what did not answer, instead of hanging the prober.
            let readiness = await service.readiness(limit: Self.probeLimit)
            var response = try JSONCoding.response(readiness, status: readiness.ready ? .ok : .serviceUnavailable)
            if !readiness.ready { response.headers[.retryAfter] = "5" }
            return response
        }
        router.get("/metrics") { _, _ in
            // The stores are probed at scrape time, so the data gauges and each store's state are
            // current whatever the poll interval.
            _ = await service.probe(limit: Self.probeLimit)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: service.reranker == nil ? OpenAPIDocument.jsonWithoutReranker : OpenAPIDocument.json)))
        }
        router.get("/docs") { _, _ in
            // Its own inline style and nothing else: no script, no frames, no sniffing.
            var response = html(DocsPage.html)
            response.headers[.xContentTypeOptions] = "nosniff"
            response.headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            return response
        }
    }

    /// The longest a probe or scrape waits for the stores.
    static let probeLimit: Duration = .seconds(5)

    func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
