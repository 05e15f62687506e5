/// Counts an ingest reports as it goes and at the end.
public struct IngestCounts: Sendable, Codable, Equatable {
    /// Products read from the source (items, not rejected rows).
    public var read = 0
    /// New products stored.
    public var ingested = 0
    /// Products already stored with the same record and image bytes (skipped without decoding).
    public var unchanged = 0
    /// Stored products whose record or images changed (re-embedded).
    public var updated = 0
    /// Items and rows that could not be ingested (see the report's `failures`).
    public var failed = 0
    /// Images decoded and embedded.
    public var imagesEmbedded = 0

    public init(read: Int = 0, ingested: Int = 0, unchanged: Int = 0, updated: Int = 0, failed: Int = 0, imagesEmbedded: Int = 0) {
        self.read = read
        self.ingested = ingested
        self.unchanged = unchanged
        self.updated = updated
        self.failed = failed
        self.imagesEmbedded = imagesEmbedded
    }
}
