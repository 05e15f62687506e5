import Foundation

/// The summary of a run, also written as JSON under `ingest/` in the data directory.
public struct IngestReport: Sendable, Codable {
    public var source: String
    public var dataDirectory: String
    public var model: String
    public var started: Date
    public var finished: Date
    public var seconds: Double
    public var counts: IngestCounts
    /// Embedded images per second of wall time.
    public var imagesPerSecond: Double
    public var reconciliation: Reconciled?
    public var failures: [IngestFailure]
    /// Products removed by `--prune` (or that would be, with `--dry-run`).
    public var pruned: [String]
    /// Why pruning was skipped, when it was asked for and not done.
    public var pruneSkipped: String?

    /// What opening the data directory repaired after an interrupted run.
    public struct Reconciled: Sendable, Codable, Equatable {
        public var orphanVectors: Int
        public var staleProducts: Int
    }

    enum CodingKeys: String, CodingKey {
        case source, dataDirectory = "data_directory", model, started, finished, seconds
        case ingested, unchanged, updated, failed, read, imagesEmbedded = "images_embedded"
        case imagesPerSecond = "images_per_second", reconciliation, failures, pruned
        case pruneSkipped = "prune_skipped"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source, forKey: .source)
        try c.encode(dataDirectory, forKey: .dataDirectory)
        try c.encode(model, forKey: .model)
        try c.encode(started, forKey: .started)
        try c.encode(finished, forKey: .finished)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(counts.read, forKey: .read)
        try c.encode(counts.ingested, forKey: .ingested)
        try c.encode(counts.unchanged, forKey: .unchanged)
        try c.encode(counts.updated, forKey: .updated)
        try c.encode(counts.failed, forKey: .failed)
        try c.encode(counts.imagesEmbedded, forKey: .imagesEmbedded)
        try c.encode(imagesPerSecond, forKey: .imagesPerSecond)
        try c.encodeIfPresent(reconciliation, forKey: .reconciliation)
        try c.encode(failures, forKey: .failures)
        try c.encode(pruned, forKey: .pruned)
        try c.encodeIfPresent(pruneSkipped, forKey: .pruneSkipped)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decode(String.self, forKey: .source)
        dataDirectory = try c.decode(String.self, forKey: .dataDirectory)
        model = try c.decode(String.self, forKey: .model)
        started = try c.decode(Date.self, forKey: .started)
        finished = try c.decode(Date.self, forKey: .finished)
        seconds = try c.decode(Double.self, forKey: .seconds)
        counts = IngestCounts(
            read: try c.decode(Int.self, forKey: .read), ingested: try c.decode(Int.self, forKey: .ingested),
            unchanged: try c.decode(Int.self, forKey: .unchanged), updated: try c.decode(Int.self, forKey: .updated),
            failed: try c.decode(Int.self, forKey: .failed), imagesEmbedded: try c.decode(Int.self, forKey: .imagesEmbedded))
        imagesPerSecond = try c.decode(Double.self, forKey: .imagesPerSecond)
        reconciliation = try c.decodeIfPresent(Reconciled.self, forKey: .reconciliation)
        failures = try c.decode([IngestFailure].self, forKey: .failures)
        pruned = try c.decodeIfPresent([String].self, forKey: .pruned) ?? []
        pruneSkipped = try c.decodeIfPresent(String.self, forKey: .pruneSkipped)
    }

    init(source: String, dataDirectory: String, model: String, started: Date, counts: IngestCounts,
         reconciliation: Reconciled?, failures: [IngestFailure], pruned: [String] = [], pruneSkipped: String? = nil) {
        self.source = source
        self.dataDirectory = dataDirectory
        self.model = model
        self.started = started
        finished = Date()
        seconds = finished.timeIntervalSince(started)
        self.counts = counts
        imagesPerSecond = seconds > 0 ? Double(counts.imagesEmbedded) / seconds : 0
        self.reconciliation = reconciliation
        self.failures = failures
        self.pruned = pruned
        self.pruneSkipped = pruneSkipped
    }
}
