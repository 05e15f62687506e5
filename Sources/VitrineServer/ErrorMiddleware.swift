import Hummingbird
import Logging

/// Turns every error a route throws (and the framework's own, such as an unknown route) into the
/// API's error shape, `{"error": {"code", "message"}}`, with the status that says whose fault it
/// was. Server-side failures are logged with the underlying error; their message stays generic.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = VitrineRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError(error)
            if apiError.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": .string(String(describing: error)), "code": .string(apiError.code)])
            }
            return apiError.response()
        }
    }
}
