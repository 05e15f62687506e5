/// The key of a stored vector: a catalog product and one of its images (a product can have several
/// photos). Product ids are the catalog's ids, strings or 64-bit numbers written in decimal.
public struct VectorKey: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var product: String
    public var image: String

    public init(product: String, image: String = "") {
        self.product = product
        self.image = image
    }

    /// A key from a numeric product id (stored as its decimal text, so both kinds share one space).
    public init(product: Int64, image: String = "") {
        self.init(product: String(product), image: image)
    }

    public var description: String { image.isEmpty ? product : "\(product)/\(image)" }

    public static func < (a: VectorKey, b: VectorKey) -> Bool {
        (a.product, a.image) < (b.product, b.image)
    }
}

/// One vector to store, with the attributes filters can select on (category, language, market, …).
public struct VectorRecord: Sendable, Equatable {
    public var key: VectorKey
    public var vector: [Float]
    public var attributes: [String: String]

    public init(key: VectorKey, vector: [Float], attributes: [String: String] = [:]) {
        self.key = key
        self.vector = vector
        self.attributes = attributes
    }
}

/// A search result: the key and its distance to the query (smaller is closer).
///
/// Distances by metric: cosine `1 − cos`, inner product `1 − a·b`, L2 the squared Euclidean
/// distance. ``score`` turns them into "larger is better" similarities.
public struct SearchHit: Sendable, Equatable {
    public var key: VectorKey
    public var distance: Float
    public var metric: Metric

    public init(key: VectorKey, distance: Float, metric: Metric) {
        self.key = key
        self.distance = distance
        self.metric = metric
    }

    /// Cosine similarity, inner product, or the negated squared distance for L2.
    public var score: Float { metric == .l2 ? -distance : 1 - distance }
}

/// The vector role of the storage boundary: vectors keyed by ``VectorKey``, embedded
/// (``EmbeddedVectorStore``) or remote (`MilvusVectorStore`). Ingest's committer and `vitrine migrate`
/// write through it; calls block the calling thread, like the other roles'.
///
/// Every applied write batch returns a sequence number that is durable when returned and strictly
/// increasing, so the catalog can record the last one it saw and ingest can reconcile the two
/// stores after a crash. Implementations are safe to call from many tasks at once.
public protocol VectorStore: Sendable {
    /// Length of every stored vector.
    var dimension: Int { get }
    /// How distances are measured.
    var metric: Metric { get }

    /// Inserts or replaces `records` (a replaced key's old vector is never returned again) and
    /// returns the batch's sequence number. The batch is validated first: one bad record (wrong
    /// dimension, NaN, zero vector under cosine) rejects the whole batch with a typed error.
    func upsert(_ records: [VectorRecord]) throws -> UInt64
    /// Deletes `keys` (unknown keys are ignored) and returns the batch's sequence number.
    func delete(_ keys: [VectorKey]) throws -> UInt64
    /// The `k` nearest live vectors to `query` that pass `filter`, closest first; `ef` widens an
    /// approximate search (nil: the index's default).
    func search(_ query: [Float], k: Int, filter: VectorFilter?, ef: Int?) throws -> [SearchHit]
    /// The stored vector of `key` (normalized when the metric is cosine), for "more like this".
    func vector(for key: VectorKey) throws -> [Float]?
    /// Whether `key` has a live vector.
    func contains(_ key: VectorKey) throws -> Bool
    /// The keys of all live vectors, sorted.
    func keys() throws -> [VectorKey]
    /// Number of live vectors.
    func count() throws -> Int
    /// Sequence number of the last applied batch (0 for a new store).
    func lastSequence() throws -> UInt64
    /// Makes everything applied so far fast to load (a checkpoint); durability does not depend on it.
    func flush() throws
    /// Flushes, then waits until searches see everything applied so far through the index they will
    /// use from now on (a server that indexes in the background, Milvus, builds its graph first),
    /// so a comparison or a recall measurement made next measures the index, not a stopgap.
    /// Throws ``VectorIndexError/unavailable(dependency:reason:)`` after `timeout` seconds.
    func settle(timeout: Double) throws
    /// Flushes and releases the store; later calls throw ``VectorIndexError/closed``.
    func close() throws
    /// A reader's catch-up with writes made by another process; returns whether anything changed
    /// (a server-side store always shows the latest state and returns false).
    @discardableResult
    func refresh() throws -> Bool
    /// Lets go without a checkpoint, as if the process died after the last acknowledged write.
    func abandon()
}

extension VectorStore {
    /// A store that indexes as it writes is settled once flushed.
    public func settle(timeout: Double) throws { try flush() }

    public func settle() throws { try settle(timeout: 600) }
}

extension Metric {
    /// A validated copy of `vector` as every store keeps it: of length `dimension`, finite, and
    /// (cosine) scaled to unit length. `key` names the vector in errors.
    public func prepare(_ vector: [Float], dimension: Int, key: VectorKey?) throws -> [Float] {
        try Distance.prepare(vector, dimension: dimension, metric: self, key: key)
    }
}
