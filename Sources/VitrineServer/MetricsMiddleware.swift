import Hummingbird

/// Counts requests by route, method and status and records their latency. Runs outside the
/// error middleware's answer, so failed requests count with their final status.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = VitrineRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        // Unknown paths share one label so scanners cannot create series without bound.
        metrics.request(route: context.endpointPath ?? "NotFound", method: request.method.rawValue,
                        status: Int(response.status.code), duration: ContinuousClock.now - start)
        return response
    }
}
