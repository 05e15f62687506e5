import VitrineCore

/// One item the run could not ingest, and why.
public struct IngestFailure: VitrineError, Sendable, Codable, Equatable {
    public var id: String?
    public var location: String
    public var reason: String

    public init(id: String?, location: String, reason: String) {
        self.id = id
        self.location = location
        self.reason = reason
    }

    public var description: String { "\(location): \(reason)" }

    /// The item, not the run, is at fault.
    public var kind: ErrorKind { .unprocessable }
}
