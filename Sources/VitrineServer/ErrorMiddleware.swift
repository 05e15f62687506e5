import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Turns every error a route throws (and the framework's own, such as an unknown route) into the
/// API's error shape, `{"error": {"code", "message"}}`, with the status that says whose fault it
/// was. Server-side failures are logged with the underlying error; their message stays generic.
/// A path that exists with other methods answers 405 with `Allow` (the framework says 404).
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = VitrineRequestContext
    var routes = RouteTable()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            // Raised by the router when no route matched (handlers throw APIError instead).
            let methods = routes.methods(forPath: request.uri.path)
            let apiError = methods.isEmpty ? APIError(error) : APIError(
                .methodNotAllowed, code: "method_not_allowed",
                "\(request.method.rawValue) is not supported here; use \(methods.joined(separator: ", "))",
                headers: [.allow: methods.joined(separator: ", ")])
            context.errorNote.record(apiError)
            return apiError.response()
        } catch where Self.isClientAbort(error) {
            // The client went away (closed mid-upload): not the server's fault, so neither a 500 in
            // the metrics nor an error in the log. 499 is nginx's status for it; nobody receives it.
            context.logger.info("client closed the connection", metadata: ["error.message": .string(String(describing: error))])
            return Response(status: .init(code: 499, reasonPhrase: "Client Closed Request"))
        } catch {
            let apiError = APIError(error)
            if apiError.status.code >= 500 {
                context.logger.error("request failed", metadata: [
                    "error.message": .string(String(describing: error)), "error.code": .string(apiError.code),
                ])
            }
            context.errorNote.record(apiError)
            return apiError.response()
        }
    }
}

extension ErrorMiddleware {
    /// Whether `error` means the client closed the connection while its request was being read.
    static func isClientAbort(_ error: any Error) -> Bool {
        if error is ClientClosedError { return true }
        if let error = error as? HTTPParserError { return error == .invalidEOFState }
        if let error = error as? ChannelError {
            switch error {
            case .ioOnClosedChannel, .eof, .inputClosed, .outputClosed, .alreadyClosed: return true
            default: return false
            }
        }
        if let error = error as? IOError { return [ECONNRESET, EPIPE].contains(error.errnoCode) }
        return false
    }
}

/// The router's (method, path pattern) pairs, filled once every route is registered, to tell
/// "no such path" (404) from "not with this method" (405).
final class RouteTable: Sendable {
    private let routes = Mutex<[(method: String, segments: [Substring])]>([])

    func set(_ routes: [(method: String, path: String)]) {
        self.routes.withLock { $0 = routes.map { ($0.method, $0.path.split(separator: "/")) } }
    }

    /// The methods of the routes whose pattern matches `path` (`{name}` matches one segment), sorted.
    func methods(forPath path: String) -> [String] {
        let segments = path.split(separator: "/")
        let matching = routes.withLock { routes in
            routes.filter { route in
                route.segments.count == segments.count && zip(route.segments, segments).allSatisfy { pattern, segment in
                    (pattern.hasPrefix("{") && pattern.hasSuffix("}")) || pattern == segment
                }
            }.map(\.method)
        }
        return Set(matching).sorted()
    }
}
