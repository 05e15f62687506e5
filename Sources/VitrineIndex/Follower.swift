import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Read-only followers: a store that serves what the writer of a directory has committed, in this
/// process or another, and catches up on demand.
///
/// A follower holds the log it follows open. Appends show up as a longer file: the new records are
/// applied in place (nothing is copied). A checkpoint shows up as another file at `wal.log` (the
/// writer renames a fresh log over it after renaming the new snapshot into place): the follower
/// loads that snapshot and log into a new index and swaps it in.
extension EmbeddedVectorStore {
    /// Opens the store in `directory` read-only, beside its writer in this or another process.
    ///
    /// Loads the snapshot and replays the log as the writer's open does, but takes no lock and
    /// never creates, writes or truncates a file: a batch the writer is still appending is left
    /// for the next ``refresh()``. Writes throw ``VectorIndexError/readOnly``; ``close()`` writes
    /// no checkpoint.
    ///
    /// Pass the writer's configuration. Dimension and metric must match the files; `efSearch` and
    /// the filter routing are this reader's own; the graph's construction parameters come from the
    /// snapshot (or from `configuration` for batches logged before the writer's first checkpoint).
    ///
    /// - Throws: ``VectorIndexError/notFound(file:)`` when the directory holds neither a snapshot
    ///   nor a log (the writer has not created the index yet; the caller decides whether to wait),
    ///   otherwise ``VectorIndexError/corrupted(file:reason:)``,
    ///   ``VectorIndexError/incompatible(file:reason:)`` or ``VectorIndexError/io(file:operation:errno:)``
    ///   naming the file.
    public convenience init(following directory: URL, configuration: VectorStoreConfiguration) throws {
        try Self.validate(configuration)
        let (index, followed) = try Self.loadFollowerState(directory.path, configuration: configuration)
        self.init(following: directory, configuration: configuration, index: index, followed: followed)
    }

    /// Opens the store in `directory` read-only at a past state: the writer's at `sequence`, when
    /// the files still hold it (a consistent backup pairs the index with a catalog copy that
    /// recorded `sequence`).
    ///
    /// Batches after `sequence` are not applied. The files cannot go back before their snapshot,
    /// so when the writer has checkpointed past `sequence` the store holds the snapshot's state,
    /// and when the writer has not logged `sequence` yet it holds the last batch logged: check
    /// ``lastSequence()``. ``refresh()`` goes on from there as usual.
    public convenience init(following directory: URL, configuration: VectorStoreConfiguration, through sequence: UInt64) throws {
        try Self.validate(configuration)
        let (index, followed) = try Self.loadFollowerState(directory.path, configuration: configuration, through: sequence)
        self.init(following: directory, configuration: configuration, index: index, followed: followed)
    }

    /// Catches up with the writer: applies the batches appended to the log since the last refresh
    /// or, when the writer has checkpointed since (a new snapshot and log), loads those into a new
    /// index and swaps it in. Never goes back: the state after a refresh is the writer's at some
    /// sequence at least the previous one, and holds every batch the writer had logged when the
    /// refresh began (except one whose append had not finished).
    ///
    /// Cheap when nothing changed: one `stat` of the log. Searches on other threads go on during a
    /// refresh; appended batches are applied in chunks under the write lock (as the writer applies
    /// them), a reloaded index is swapped in at once. Refreshes are serialized.
    ///
    /// A writer store is always current: ``refresh()`` returns false.
    ///
    /// - Returns: whether anything changed: batches were applied or a checkpoint was loaded.
    /// - Throws: ``VectorIndexError/corrupted(file:reason:)`` for a damaged log or snapshot, or
    ///   when the directory's store went back to an earlier sequence (replaced under the
    ///   follower: open a new one); the state before the refresh is kept (batches applied before a
    ///   damaged one stay applied).
    @discardableResult
    public func refresh() throws -> Bool {
        guard isReadOnly, let directory else { return false }
        writer.lock()
        defer { writer.unlock() }
        guard !isClosed else { throw VectorIndexError.closed }
        let logPath = directory.path + "/" + Self.logName
        var info = stat()
        guard stat(logPath, &info) == 0 else {
            let code = errno
            if code == ENOENT, followed == nil { return false }  // the writer has not created its log yet
            throw VectorIndexError.io(file: logPath, operation: "stat", errno: code)
        }
        if let followed, followed.reader.identity == FileIdentity(info) {
            let size = Int(info.st_size)
            guard size != followed.offset else { return false }
            guard size > followed.offset else {
                throw VectorIndexError.corrupted(
                    file: logPath, reason: "log shrank to \(size) bytes, below the \(followed.offset) already applied")
            }
            let before = index.sequence
            try followed.catchUp(index, limit: size, configuration: configuration, chunk: applyChunk, lock: lock)
            return index.sequence != before
        }
        // Another file at the path: the writer checkpointed, or created its log.
        let previous = index.sequence
        let (fresh, log) = try Self.loadFollowerState(directory.path, configuration: configuration)
        guard fresh.sequence >= previous else {
            throw VectorIndexError.corrupted(
                file: logPath,
                reason: "the store went back from sequence \(previous) to \(fresh.sequence) (replaced?); open the follower again")
        }
        lock.withWriteLock {
            index = fresh
            followed = log
        }
        return true
    }

    /// Writes the state this follower serves as a new store directory `target` (snapshot and an
    /// empty log) that ``init(directory:configuration:)`` opens: a copy of the writer's store at
    /// this follower's sequence, for backups. Writes nothing in the followed directory.
    public func exportSnapshot(to target: URL) throws {
        guard isReadOnly, let directory else {
            throw VectorIndexError.invalidArgument("exportSnapshot copies a follower's state; a writer uses writeSnapshot(to:)")
        }
        guard target.standardizedFileURL.path != directory.standardizedFileURL.path else {
            throw VectorIndexError.invalidArgument("cannot export \(directory.path) over itself")
        }
        try writeStoreDirectory(to: target)
    }

    /// Loads what a follower serves: the log first, then the snapshot, then the log's batches
    /// after the snapshot's sequence.
    ///
    /// Why this order: a checkpoint renames the snapshot into place before the new log, so a
    /// snapshot opened after the log is at least as new as the log's base. If it is newer (the
    /// writer checkpointed in between), the log we hold ends at or before it and adds nothing; the
    /// next refresh sees the newer log.
    static func loadFollowerState(_ path: String, configuration: VectorStoreConfiguration,
                                  through: UInt64 = .max) throws -> (MemoryIndex, FollowedLog?) {
        let logPath = path + "/" + logName
        let snapshotPath = path + "/" + snapshotName
        var efSearch: Int?
        if case .hnsw(let p) = configuration.algorithm { efSearch = p.efSearch }
        var attempt = 0
        while true {
            attempt += 1
            var reader: WriteAheadLog.Reader?
            do {
                reader = try WriteAheadLog.Reader.open(path: logPath, dimension: configuration.dimension, metric: configuration.metric)
            } catch VectorIndexError.io(_, _, let code) where code == ENOENT {
                reader = nil
            }
            let index: MemoryIndex
            if FileIO.exists(snapshotPath) {
                index = try Snapshot.read(snapshotPath, efSearch: efSearch)
                guard index.dimension == configuration.dimension, index.metric == configuration.metric else {
                    throw VectorIndexError.incompatible(
                        file: snapshotPath,
                        reason: "index has dimension \(index.dimension) metric \(index.metric.rawValue), requested \(configuration.dimension) \(configuration.metric.rawValue)")
                }
            } else if reader != nil {
                index = MemoryIndex(dimension: configuration.dimension, metric: configuration.metric, algorithm: configuration.algorithm)
            } else {
                throw VectorIndexError.notFound(file: path)
            }
            index.configureRouting(configuration)
            guard let reader else { return (index, nil) }
            guard reader.baseSequence <= index.sequence else {
                // A writer's checkpoint never shows this (see above); files replaced behind its back
                // might, for a moment. Look again before calling it damage.
                if attempt < 3 { continue }
                throw VectorIndexError.corrupted(
                    file: logPath,
                    reason: "log starts after sequence \(reader.baseSequence) but the snapshot holds only up to \(index.sequence)")
            }
            let followed = FollowedLog(reader: reader)
            try followed.catchUp(index, limit: try reader.size(), configuration: configuration, chunk: .max, lock: nil,
                                 through: through)
            return (index, followed)
        }
    }
}

/// Where a follower stands in the log it follows.
final class FollowedLog {
    let reader: WriteAheadLog.Reader
    /// End of the last record read: always a record boundary.
    private(set) var offset: Int
    /// Sequence of the last record read (the log's base before any).
    private(set) var last: UInt64

    init(reader: WriteAheadLog.Reader) {
        self.reader = reader
        offset = WriteAheadLog.headerSize
        last = reader.baseSequence
    }

    /// Applies the complete records in `offset..<limit` that are newer than `index` (a log can
    /// begin inside the snapshot), stopping before a record the writer is still appending.
    /// Batches after `through` are left unread (a follower opened at a past state).
    func catchUp(_ index: MemoryIndex, limit: Int, configuration: VectorStoreConfiguration, chunk: Int,
                 lock: ReadWriteLock?, through: UInt64 = .max) throws {
        struct Reached: Error {}
        do {
            _ = try reader.scan(from: offset, limit: limit, after: last, damagedTailIsIncomplete: true) { batch, end in
                if batch.sequence > through { throw Reached() }
                if batch.sequence > index.sequence {
                    try EmbeddedVectorStore.apply(batch, to: index, configuration: configuration, chunk: chunk, lock: lock)
                }
                // Advance record by record: damage further on keeps what was applied.
                offset = end
                last = batch.sequence
            }
        } catch is Reached {}
    }
}
