import Foundation
import Hummingbird

/// Liveness, readiness, metrics, the API's description and the start page.
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
        router.get("/") { _, _ in html(StartPage.html) }
    }

    func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The page at `/`: `Resources/index.html` of this module (the web UI replaces it).
enum StartPage {
    static let html: String = {
        guard let url = Bundle.module.url(forResource: "index", withExtension: "html", subdirectory: "Resources"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            return "<!doctype html><meta charset=utf-8><title>Vitrine</title><p>Vitrine is running. See <a href=\"/docs\">the API</a>."
        }
        return text
    }()
}
