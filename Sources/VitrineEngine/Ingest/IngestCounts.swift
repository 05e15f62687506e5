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
}
