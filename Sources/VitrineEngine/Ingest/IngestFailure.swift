/// One item the run could not ingest, and why.
public struct IngestFailure: Error, Sendable, Codable, Equatable {
    public var id: String?
    public var location: String
    public var reason: String
}
