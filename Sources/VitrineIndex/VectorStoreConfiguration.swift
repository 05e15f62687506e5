import Foundation

/// Settings of an ``EmbeddedVectorStore``.
public struct VectorStoreConfiguration: Sendable, Equatable {
    /// Length of every vector.
    public var dimension: Int
    public var metric: Metric
    public var algorithm: IndexAlgorithm
    /// Threads that link new vectors into the graph (a write batch is split among them).
    public var buildThreads: Int
    /// fsync every write batch before acknowledging it (turn off only for throwaway indexes).
    public var syncWrites: Bool
    /// Write a snapshot (and start a fresh log) when the log grows past this many bytes.
    public var checkpointBytes: Int
    /// Filters allowing at most this fraction of the vectors are answered by exact search over
    /// the allowed ones (cheaper than a graph walk that must skip most nodes).
    public var filterExactFraction: Double
    /// Filters allowing less than this fraction walk the graph through disallowed nodes without
    /// computing their distances (two-hop expansion); above it the plain walk is cheaper.
    public var filterTwoHopFraction: Double

    public init(
        dimension: Int, metric: Metric = .cosine, algorithm: IndexAlgorithm = .hnsw(HNSWParameters()),
        buildThreads: Int = ProcessInfo.processInfo.activeProcessorCount, syncWrites: Bool = true,
        checkpointBytes: Int = 512 << 20, filterExactFraction: Double = 0.02, filterTwoHopFraction: Double = 0.3
    ) {
        self.filterExactFraction = filterExactFraction
        self.filterTwoHopFraction = filterTwoHopFraction
        self.dimension = dimension
        self.metric = metric
        self.algorithm = algorithm
        self.buildThreads = buildThreads
        self.syncWrites = syncWrites
        self.checkpointBytes = checkpointBytes
    }
}
