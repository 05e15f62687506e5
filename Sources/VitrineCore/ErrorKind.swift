/// What went wrong, in the user's terms: the one vocabulary every module's errors speak. The CLI
/// turns a kind into an exit code (``exitCode``) and the server into an HTTP status (``httpStatus``),
/// each in one place; an error type only says which kind each of its cases is.
public enum ErrorKind: Sendable, CaseIterable {
    /// A command-line option or request parameter out of its range (a batch size, `k`, an offset).
    case invalidArgument
    /// A request that cannot be used as given: an empty or over-long query, a malformed record.
    case invalidInput
    /// Content that is well-formed as a request but unusable: an image that does not decode, a
    /// product that cannot be ingested.
    case unprocessable
    /// The thing asked for does not exist: a product, a file, a repository.
    case notFound
    /// Input over a size limit.
    case tooLarge
    /// Another process holds what this one needs (the data directory's writer lock).
    case conflict
    /// Not now, later: nothing ingested yet, a model being swapped, out of memory, a time limit.
    case unavailable
    /// The disk is full.
    case insufficientStorage
    /// A model, configuration or installation that cannot work as set up (fix it, then retry).
    case misconfigured
    /// Another service failed or could not be reached (the Hugging Face Hub, an image's host).
    case dependency
    /// Stored data is damaged (a checksum, a schema newer than this build).
    case corrupted
    /// Anything else: an I/O failure or a bug. The log has the details.
    case internalFailure

    /// The process's exit code: 2 for usage errors (as for a bad flag), 1 for every other failure.
    /// (3, partial success, is a result, not an error.)
    public var exitCode: Int32 { self == .invalidArgument ? 2 : 1 }

    /// The HTTP status the API answers with.
    public var httpStatus: Int {
        switch self {
        case .invalidArgument, .invalidInput: 400
        case .unprocessable: 422
        case .notFound: 404
        case .tooLarge: 413
        case .conflict: 409
        case .unavailable: 503
        case .insufficientStorage: 507
        case .misconfigured, .corrupted, .internalFailure: 500
        case .dependency: 502
        }
    }
}

/// An error of Vitrine's: a message that names the input and the reason, and its kind.
public protocol VitrineError: Error, CustomStringConvertible {
    var kind: ErrorKind { get }
}
