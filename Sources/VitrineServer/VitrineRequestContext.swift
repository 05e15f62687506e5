import Hummingbird

/// The per-request context of Vitrine's routes: Hummingbird's core plus the request id that the
/// log line, the `x-request-id` header and error reports share.
public struct VitrineRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's `x-request-id` when it sent a sensible one, else one made here.
    public var requestID: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        requestID = ""
    }
}
