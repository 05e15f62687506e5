import Foundation
import VitrineCatalog

/// Settings of one ingest run.
public struct IngestOptions: Sendable {
    /// Images embedded per encoder pass (1...1000).
    public var batchSize = 64
    /// Read at most this many products from the source (rejected rows don't count).
    public var limit: Int?
    /// Image fetches in flight at once (files, zip members, downloads).
    public var concurrentLoads = 8
    /// Threads that decode and preprocess images.
    public var decodeThreads = ProcessInfo.processInfo.activeProcessorCount
    /// Images larger than this many bytes are refused.
    public var maxImageBytes = 50 << 20
    /// Images with more pixels than this are refused before decoding.
    public var maxPixels = 40_000_000
    /// After a full pass, remove the stored products of this source that it no longer lists.
    public var prune = false
    /// With `prune`: list what would be removed, remove nothing.
    public var dryRun = false
    /// Ingest only the products of this shard (``Shard``); the others are skipped unread.
    public var shard: Shard?

    public init() {}
}
