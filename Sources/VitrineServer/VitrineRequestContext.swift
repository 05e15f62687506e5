import Hummingbird
import Synchronization

/// The per-request context of Vitrine's routes: Hummingbird's core plus the request id that the
/// log line, the `x-request-id` header and error reports share.
public struct VitrineRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's `x-request-id` when it sent a sensible one, else one made here.
    public var requestID: String
    /// Where the error middleware leaves the error a request was answered with, for its log line
    /// (the context travels down the middleware chain, this note back up).
    var errorNote = ErrorNote()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        requestID = ""
    }
}

/// The code and message of the error a request was answered with, if any.
final class ErrorNote: Sendable {
    private let error = Mutex<(code: String, message: String)?>(nil)

    func record(_ apiError: APIError) { error.withLock { $0 = (apiError.code, apiError.message) } }

    var recorded: (code: String, message: String)? { error.withLock { $0 } }
}
