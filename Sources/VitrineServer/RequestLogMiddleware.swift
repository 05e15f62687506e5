import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id (the client's `x-request-id` when it is short and plain, else a new
/// one), returns it in the `x-request-id` header, and logs one line per request: id, method,
/// path, route, status and duration. Outermost, so it sees the final status of every request,
/// errors and unknown routes included.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = VitrineRequestContext
    let logger: Logger

    static let header = HTTPField.Name("x-request-id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestID = Self.requestID(from: request.headers[Self.header])
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Should not happen (the error middleware answers every error), but never lose a line.
            response = APIError(error).response()
        }
        response.headers[Self.header] = context.requestID
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.info("request", metadata: [
            "request_id": .string(context.requestID),
            "method": .string(request.method.rawValue),
            "path": .string(request.uri.path),
            "route": .string(context.endpointPath ?? "NotFound"),
            "status": .stringConvertible(response.status.code),
            "duration_ms": .string(String(format: "%.2f", ms)),
        ])
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
