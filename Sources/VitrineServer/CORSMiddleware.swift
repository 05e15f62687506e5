import HTTPTypes
import Hummingbird

/// Cross-origin access for the origins the operator allows (`cors.origins`; `*` allows any), so a
/// shop's own front end can call the API. Preflight `OPTIONS` requests from an allowed origin are
/// answered here; other requests get `Access-Control-Allow-Origin` added. Requests from other
/// origins get no CORS headers (the browser then blocks them), and no origins means no CORS.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = VitrineRequestContext
    let origins: Set<String>
    let allowsAny: Bool

    static let allowedMethods = "GET, POST, PUT, DELETE, OPTIONS"
    static let allowedHeaders = "Accept, Authorization, Content-Type, X-Request-Id"
    static let exposedHeaders = "X-Request-Id, ETag"

    init(origins: [String]) {
        allowsAny = origins.contains("*")
        self.origins = Set(origins.filter { $0 != "*" })
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], let allowed = allowedValue(for: origin) else {
            var response = try await next(request, context)
            // The answer depends on the origin asked from: caches must keep one per origin.
            if !origins.isEmpty { response.headers[.vary] = "Origin" }
            return response
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = allowed
            headers[.accessControlAllowMethods] = Self.allowedMethods
            headers[.accessControlAllowHeaders] = Self.allowedHeaders
            headers[.accessControlMaxAge] = "600"
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = allowed
        response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        response.headers[.vary] = "Origin"
        return response
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, or nil when it is not allowed.
    func allowedValue(for origin: String) -> String? {
        if allowsAny { return "*" }
        return origins.contains(origin) ? origin : nil
    }
}
