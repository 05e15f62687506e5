import Foundation

/// The embedded vector store: an in-memory exact or HNSW index, made durable by a write-ahead log
/// and snapshots in a directory (`index/` of the data directory).
///
/// Writes: a batch is validated, appended to `wal.log` and fsynced (from then on it is durable and
/// its sequence number is returned), then applied in chunks under the write lock. Reads take the
/// read lock, so searches run in parallel and never see a half-applied chunk. One writer at a
/// time (writes are serialized; the directory is locked against other processes).
///
/// Open: load `snapshot.vidx` if present, replay the log's batches after the snapshot's sequence,
/// discard a torn tail. Damage anywhere else is a ``VectorIndexError/corrupted(file:reason:)``.
///
/// Followers: other processes (and other stores in this one) open the directory read-only with
/// ``init(following:configuration:)`` and catch up with the writer through ``refresh()``.
public final class EmbeddedVectorStore: VectorStore, @unchecked Sendable {
    public let dimension: Int
    public let metric: Metric
    public let configuration: VectorStoreConfiguration
    /// The directory, or nil for a memory-only store.
    public let directory: URL?
    /// Whether this store follows a writer (``init(following:configuration:)``): every write throws
    /// ``VectorIndexError/readOnly``.
    public let isReadOnly: Bool

    var index: MemoryIndex
    let lock = ReadWriteLock()
    /// Serializes writers (upsert, delete, flush, compact, close) and a follower's refreshes;
    /// readers never take it.
    let writer = NSLock()
    /// A follower's position in the log it follows (nil before the writer has created one).
    var followed: FollowedLog?
    private var log: WriteAheadLog?
    private var lockFile: Int32 = -1
    private(set) var isClosed = false

    /// Records applied per write-lock hold: bounds how long a search waits behind ingest.
    public var applyChunk = 512

    /// Attributes one record may carry (the file formats count them in 16 bits).
    public static let maxAttributes = 1024

    static let snapshotName = "snapshot.vidx"
    static let logName = "wal.log"
    static let lockName = "LOCK"

    /// A memory-only store (nothing is written to disk).
    public init(configuration: VectorStoreConfiguration) throws {
        try Self.validate(configuration)
        self.configuration = configuration
        dimension = configuration.dimension
        metric = configuration.metric
        directory = nil
        isReadOnly = false
        index = MemoryIndex(dimension: dimension, metric: metric, algorithm: configuration.algorithm)
        index.configureRouting(configuration)
    }

    /// Opens the store in `directory`, creating it if needed. An existing store must have the
    /// same dimension and metric; HNSW's `efSearch` is taken from `configuration`, the graph's
    /// construction parameters from the files.
    public init(directory: URL, configuration: VectorStoreConfiguration) throws {
        try Self.validate(configuration)
        self.configuration = configuration
        dimension = configuration.dimension
        metric = configuration.metric
        self.directory = directory
        isReadOnly = false
        let path = directory.path
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw VectorIndexError.io(file: path, operation: "create directory", errno: errno)
        }
        lockFile = try FileIO.open(path + "/" + Self.lockName, O_RDWR | O_CREAT)
        guard flock(lockFile, LOCK_EX | LOCK_NB) == 0 else {
            Foundation.close(lockFile)
            lockFile = -1
            throw VectorIndexError.locked(file: path + "/" + Self.lockName)
        }
        do {
            let snapshotPath = path + "/" + Self.snapshotName
            let logPath = path + "/" + Self.logName
            var efSearch: Int?
            if case .hnsw(let p) = configuration.algorithm { efSearch = p.efSearch }
            if FileIO.exists(snapshotPath) {
                index = try Snapshot.read(snapshotPath, efSearch: efSearch)
                guard index.dimension == dimension, index.metric == metric else {
                    throw VectorIndexError.incompatible(
                        file: snapshotPath,
                        reason: "index has dimension \(index.dimension) metric \(index.metric.rawValue), requested \(dimension) \(metric.rawValue)")
                }
            } else {
                index = MemoryIndex(dimension: dimension, metric: metric, algorithm: configuration.algorithm)
            }
            index.configureRouting(configuration)
            if FileIO.exists(logPath) {
                let snapshotSequence = index.sequence
                let index = self.index
                let configuration = configuration
                let opened = try WriteAheadLog.open(path: logPath, dimension: dimension, metric: metric,
                                                    sync: configuration.syncWrites) { batch in
                    guard batch.sequence > snapshotSequence else { return }  // already in the snapshot
                    try Self.apply(batch, to: index, configuration: configuration, chunk: .max, lock: nil)
                }
                guard opened.baseSequence <= snapshotSequence else {
                    throw VectorIndexError.corrupted(
                        file: logPath,
                        reason: "log starts after sequence \(opened.baseSequence) but the snapshot holds only up to \(snapshotSequence)")
                }
                log = opened
            } else {
                log = try WriteAheadLog.reset(path: logPath, dimension: dimension, metric: metric,
                                              base: index.sequence, sync: configuration.syncWrites)
            }
        } catch {
            // The store may be fully initialized by now (a snapshot of another metric), so its
            // deinit runs too: the descriptor is marked closed, or deinit would close its number
            // again, by then perhaps another file's.
            Foundation.close(lockFile)
            lockFile = -1
            throw error
        }
    }

    /// Closes the directory lock's descriptor, once.
    private func releaseDirectoryLock() {
        if lockFile >= 0 { Foundation.close(lockFile) }
        lockFile = -1
    }

    /// A follower over state already loaded by ``init(following:configuration:)``.
    init(following directory: URL, configuration: VectorStoreConfiguration, index: MemoryIndex, followed: FollowedLog?) {
        self.configuration = configuration
        dimension = configuration.dimension
        metric = configuration.metric
        self.directory = directory
        isReadOnly = true
        self.index = index
        self.followed = followed
    }

    deinit {
        log?.close()
        releaseDirectoryLock()
    }

    static func validate(_ configuration: VectorStoreConfiguration) throws {
        guard (1...65536).contains(configuration.dimension) else {
            throw VectorIndexError.invalidArgument("dimension must be in 1...65536, not \(configuration.dimension)")
        }
        if case .hnsw(let p) = configuration.algorithm { try p.validate() }
    }

    /// Applies a logged batch to `index`, validating it first (a log is input like any other).
    /// With a `lock`, searches may be running on `index`: upserts are applied `chunk` records per
    /// write-lock hold, so a search waits at most one chunk.
    static func apply(_ batch: LoggedBatch, to index: MemoryIndex, configuration: VectorStoreConfiguration,
                      chunk: Int, lock: ReadWriteLock?) throws {
        switch batch {
        case .upsert(let sequence, let records):
            for r in records {
                try Distance.validate(r.vector, dimension: configuration.dimension, metric: configuration.metric, key: r.key)
            }
            applyUpsert(records, sequence: sequence, to: index, threads: configuration.buildThreads, chunk: chunk, lock: lock)
        case .delete(let sequence, let keys):
            let body = {
                index.delete(keys)
                index.sequence = sequence
            }
            if let lock { lock.withWriteLock(body) } else { body() }
        }
    }

    /// Applies validated records in chunks; the batch's sequence is set with the last chunk.
    static func applyUpsert(_ records: [VectorRecord], sequence: UInt64, to index: MemoryIndex, threads: Int,
                            chunk: Int, lock: ReadWriteLock?) {
        var start = 0
        repeat {
            let end = start + min(max(chunk, 1), records.count - start)
            let last = end == records.count
            let body = {
                index.upsert(records[start..<end], threads: threads)
                if last { index.sequence = sequence }
            }
            if let lock { lock.withWriteLock(body) } else { body() }
            start = end
        } while start < records.count
    }

    // MARK: Writes

    public func upsert(_ records: [VectorRecord]) throws -> UInt64 {
        guard !isReadOnly else { throw VectorIndexError.readOnly }
        // Validate the whole batch before logging anything; vectors are normalized (cosine) as
        // they are copied into the index, so the batch is never copied.
        for r in records {
            try Distance.validate(r.vector, dimension: dimension, metric: metric, key: r.key)
            guard r.attributes.count <= Self.maxAttributes else {
                throw VectorIndexError.invalidArgument("\(r.key) has \(r.attributes.count) attributes, at most \(Self.maxAttributes) are stored")
            }
        }
        let prepared = records
        return try write { sequence in
            try log?.append(.upsert(sequence: sequence, records: prepared))
            Self.applyUpsert(prepared, sequence: sequence, to: index, threads: configuration.buildThreads,
                             chunk: applyChunk, lock: lock)
        }
    }

    public func delete(_ keys: [VectorKey]) throws -> UInt64 {
        guard !isReadOnly else { throw VectorIndexError.readOnly }
        return try write { sequence in
            try log?.append(.delete(sequence: sequence, keys: keys))
            lock.withWriteLock {
                index.delete(keys)
                index.sequence = sequence
            }
        }
    }

    /// Runs one write batch with the next sequence number, then checkpoints if the log is large.
    private func write(_ body: (UInt64) throws -> Void) throws -> UInt64 {
        writer.lock()
        defer { writer.unlock() }
        guard !isClosed else { throw VectorIndexError.closed }
        let sequence = index.sequence + 1
        try body(sequence)
        if let log, log.size > configuration.checkpointBytes { try checkpointLocked() }
        return sequence
    }

    // MARK: Reads

    public func search(_ query: [Float], k: Int, filter: VectorFilter? = nil) throws -> [SearchHit] {
        try search(query, k: k, filter: filter, ef: nil)
    }

    /// Search with an explicit `ef` (HNSW candidate list size) for this query.
    public func search(_ query: [Float], k: Int, filter: VectorFilter?, ef: Int?) throws -> [SearchHit] {
        guard k > 0 else { throw VectorIndexError.invalidArgument("k must be positive, not \(k)") }
        if let ef, ef < 1 { throw VectorIndexError.invalidArgument("ef must be positive, not \(ef)") }
        let prepared = try Distance.prepare(query, dimension: dimension, metric: metric, key: nil)
        return try lock.withReadLock {
            guard !isClosed else { throw VectorIndexError.closed }
            return index.search(prepared, k: k, filter: filter, ef: ef)
        }
    }

    /// The search path a filter would take (for benchmarks and diagnostics).
    public func searchRoute(for filter: VectorFilter?) -> String {
        lock.withReadLock {
            guard let filter else { return index.route(allowedCount: index.nodeCount, filtered: false).rawValue }
            let allowed = index.attributes.allowed(filter, live: index.live) { _ in Bitset() }
            return index.route(allowedCount: allowed.count, filtered: true).rawValue
        }
    }

    public func vector(for key: VectorKey) throws -> [Float]? {
        try lock.withReadLock {
            guard !isClosed else { throw VectorIndexError.closed }
            return index.vector(for: key)
        }
    }

    public func contains(_ key: VectorKey) throws -> Bool {
        try lock.withReadLock {
            guard !isClosed else { throw VectorIndexError.closed }
            return index.ids[key] != nil
        }
    }

    public func keys() throws -> [VectorKey] {
        try lock.withReadLock {
            guard !isClosed else { throw VectorIndexError.closed }
            return index.ids.keys.sorted()
        }
    }

    public func count() throws -> Int {
        try lock.withReadLock {
            guard !isClosed else { throw VectorIndexError.closed }
            return index.liveCount
        }
    }

    public func lastSequence() throws -> UInt64 {
        try lock.withReadLock {
            guard !isClosed else { throw VectorIndexError.closed }
            return index.sequence
        }
    }

    /// Makes room for `capacity` vectors up front (as hnswlib's `max_elements`), so a bulk load
    /// neither regrows nor over-allocates.
    public func reserveCapacity(_ capacity: Int) {
        lock.withWriteLock { index.reserveCapacity(capacity) }
    }

    /// Internal ids held, tombstones included (what compaction reclaims).
    public var storedCount: Int { lock.withReadLock { index.nodeCount } }

    /// Bytes held by vectors, graph, keys and attributes.
    public var memoryBytes: Int { lock.withReadLock { index.memoryBytes } }

    // MARK: Maintenance

    public func flush() throws {
        guard !isReadOnly else { throw VectorIndexError.readOnly }
        writer.lock()
        defer { writer.unlock() }
        guard !isClosed else { throw VectorIndexError.closed }
        try checkpointLocked()
    }

    /// Writes a snapshot and starts an empty log after it. Readers continue meanwhile (the
    /// snapshot is written under the read lock); writers wait on `writer`, held by the caller.
    private func checkpointLocked() throws {
        guard let directory else { return }
        let path = directory.path
        try lock.withReadLock {
            try Snapshot.write(index, to: path + "/" + Self.snapshotName, sync: configuration.syncWrites)
        }
        log?.close()
        log = try WriteAheadLog.reset(path: path + "/" + Self.logName, dimension: dimension, metric: metric,
                                      base: index.sequence, sync: configuration.syncWrites)
    }

    /// Writes the current state as a new store directory (snapshot and an empty log) that
    /// ``init(directory:configuration:)`` opens: exports a memory-only store, or copies a store.
    public func writeSnapshot(to target: URL) throws {
        guard !isReadOnly else { throw VectorIndexError.readOnly }
        try writeStoreDirectory(to: target)
    }

    /// The current state as a store directory at `target` (snapshot + empty log after it), taken
    /// under the writer lock so no batch lands halfway; shared by writers and followers' exports.
    func writeStoreDirectory(to target: URL) throws {
        writer.lock()
        defer { writer.unlock() }
        guard !isClosed else { throw VectorIndexError.closed }
        do {
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        } catch {
            throw VectorIndexError.io(file: target.path, operation: "create directory", errno: errno)
        }
        let sequence = try lock.withReadLock {
            try Snapshot.write(index, to: target.path + "/" + Self.snapshotName, sync: true)
            return index.sequence
        }
        _ = try WriteAheadLog.reset(path: target.path + "/" + Self.logName, dimension: dimension, metric: metric,
                                    base: sequence, sync: true)
    }

    /// Rebuilds the index from its live vectors, reclaiming tombstones, then checkpoints.
    /// Searches continue on the old index until the new one is swapped in; writers wait.
    public func compact() throws {
        guard !isReadOnly else { throw VectorIndexError.readOnly }
        writer.lock()
        defer { writer.unlock() }
        guard !isClosed else { throw VectorIndexError.closed }
        let fresh = lock.withReadLock { index.compacted(threads: configuration.buildThreads) }
        fresh.configureRouting(configuration)
        lock.withWriteLock { index = fresh }
        try checkpointLocked()
    }

    public func close() throws {
        writer.lock()
        defer { writer.unlock() }
        guard !isClosed else { return }
        if directory != nil, !isReadOnly { try checkpointLocked() }
        releaseLocked()
    }

    /// Closes without a checkpoint, as if the process died after the last acknowledged write
    /// (tests of recovery use it).
    public func abandon() {
        writer.lock()
        defer { writer.unlock() }
        releaseLocked()
    }

    /// Marks the store closed and lets go of the log and the directory lock; the caller holds
    /// the writer lock.
    private func releaseLocked() {
        lock.withWriteLock { isClosed = true }
        log?.close()
        log = nil
        followed = nil
        releaseDirectoryLock()
    }
}
