import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id (the client's `x-request-id` when it is short and plain, else a new
/// one), returns it in the `x-request-id` header, and logs one line per request in ECS names:
/// `http.request.id`, `http.request.method`, `url.path`, `vitrine.route` (the route's pattern),
/// `http.response.status_code`, `event.duration` (nanoseconds), and for an error answer its
/// `error.code` and `error.message`. Outermost, so it sees the final status of every request,
/// errors and unknown routes included. Never a header: API keys stay out of the log.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = VitrineRequestContext
    let logger: Logger

    static let header = HTTPField.Name("x-request-id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestID = Self.requestID(from: request.headers[Self.header])
        context.logger[metadataKey: "http.request.id"] = .string(context.requestID)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Should not happen (the error middleware answers every error), but never lose a line.
            let apiError = APIError(error)
            context.errorNote.record(apiError)
            response = apiError.response()
        }
        response.headers[Self.header] = context.requestID
        var metadata: Logger.Metadata = [
            "http.request.id": .string(context.requestID),
            "http.request.method": .string(request.method.rawValue),
            "url.path": .string(request.uri.path),
            "vitrine.route": .string(context.endpointPath ?? "NotFound"),
            "http.response.status_code": .stringConvertible(response.status.code),
            "event.duration": .stringConvertible(ECSLogHandler.nanoseconds(ContinuousClock.now - start)),
        ]
        if let error = context.errorNote.recorded {
            metadata["error.code"] = .string(error.code)
            metadata["error.message"] = .string(error.message)
        }
        logger.info("request", metadata: metadata)
        return response
    }

    /// Ids from clients are kept when they are 1…128 characters of `[A-Za-z0-9._-]` (so they are
    /// safe in logs and headers); otherwise a random one is made.
    static func requestID(from header: String?) -> String {
        if let header, (1...128).contains(header.utf8.count),
           header.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46 || $0 == 95 }) {
            return header
        }
        return UUID().uuidString.lowercased()
    }
}
