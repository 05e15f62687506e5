import Foundation
import VitrineCatalog
import VitrineIndex

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a backup holds, written beside it as `backup.json`.
public struct BackupManifest: Sendable, Codable, Equatable {
    public var format = 1
    /// The data directory backed up.
    public var source: String
    public var created: Date
    /// The catalog copy's generation and the index sequence it records; the index in the backup
    /// is the writer's at exactly that sequence.
    public var generation: UInt64
    public var vectorSequence: UInt64
    public var indexDirectory: String
    public var model: ModelRecord?
    public var products: Int
    public var images: Int
    public var vectors: Int
    public var blobs: Int
    /// Blobs hard-linked (same file system) and copied.
    public var linkedBlobs: Int
    public var copiedBlobs: Int
    /// Index entries at that sequence whose products the copied catalog no longer names (a delete
    /// commits the catalog before the index): left out, as searches would skip them.
    public var droppedVectors: Int
    /// Catalog copies taken: more than one when the writer checkpointed its index past the copy's
    /// sequence (or a reindex swapped) before the index was read.
    public var attempts: Int

    enum CodingKeys: String, CodingKey {
        case format, source, created, generation, vectorSequence = "vector_sequence", indexDirectory = "index_directory"
        case model, products, images, vectors, blobs, linkedBlobs = "linked_blobs", copiedBlobs = "copied_blobs"
        case droppedVectors = "dropped_vectors", attempts
    }
}

/// `vitrine backup`: a consistent copy of a data directory that a writer and readers are using.
///
/// Consistency: (1) SQLite's online backup copies the catalog as of one commit; that copy records
/// the index sequence S its products correspond to (the writer commits the catalog only after the
/// index has logged S). (2) A follower of the index replays the snapshot and log up to exactly S
/// (``EmbeddedVectorStore/init(following:configuration:through:)``) and is written out as a
/// snapshot. If the writer has already checkpointed past S (the files no longer hold S), or a
/// reindex swapped indexes meanwhile, the attempt starts over with a fresh catalog copy. (3) The
/// blobs the copied catalog references are hard-linked (immutable, content-addressed files) or
/// copied. The model record travels inside the catalog and in the manifest.
public enum Backup {
    public static let manifestName = "backup.json"

    /// Backs `source` up into `destination` (absent or an empty directory).
    ///
    /// - Throws: ``LifecycleError`` when the destination is not empty, or no consistent copy
    ///   could be taken in `attempts` tries; store errors naming the file otherwise. A failed backup
    ///   removes what it wrote.
    @discardableResult
    public static func create(from source: DataDirectory, to destination: URL, attempts: Int = 5) throws -> BackupManifest {
        guard source.exists else { throw EngineError.emptyDataDirectory(path: source.url.path) }
        let target = destination.standardizedFileURL
        let fm = FileManager.default
        if fm.fileExists(atPath: target.path) {
            guard (try? fm.contentsOfDirectory(atPath: target.path))?.isEmpty == true else {
                throw LifecycleError("backup destination \(target.path) exists and is not an empty directory")
            }
        }
        let catalog = try SQLiteCatalog(path: source.catalogURL, readOnly: true)
        defer { try? catalog.close() }
        let blobs = try FileBlobStore(directory: source.imagesURL)
        var reasons: [String] = []
        for attempt in 1...max(1, attempts) {
            try clear(target)
            do {
                if var manifest = try attemptBackup(source, catalog: catalog, blobs: blobs, to: target) {
                    manifest.attempts = attempt
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    encoder.dateEncodingStrategy = .iso8601
                    try encoder.encode(manifest).write(to: target.appendingPathComponent(manifestName), options: .atomic)
                    return manifest
                }
            } catch let error as RetryableBackup {
                reasons.append(error.reason)
                continue
            } catch {
                try? clear(target)
                throw error
            }
        }
        try? clear(target)
        throw LifecycleError("no consistent backup of \(source.url.path) in \(attempts) attempts: " + reasons.joined(separator: "; "))
    }

    /// Why an attempt must start over with a fresh catalog copy.
    struct RetryableBackup: Error {
        var reason: String
    }

    private static func attemptBackup(_ source: DataDirectory, catalog: SQLiteCatalog, blobs: FileBlobStore, to target: URL) throws -> BackupManifest? {
        let copy = DataDirectory(target)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try catalog.backup(to: copy.catalogURL)
        let copied = try SQLiteCatalog(path: copy.catalogURL)
        defer { try? copied.close() }
        let state = try copied.servingState()
        var manifest = BackupManifest(
            source: source.url.path, created: Date(), generation: state.generation, vectorSequence: state.vectorSequence,
            indexDirectory: state.indexDirectory, model: state.model, products: 0, images: 0, vectors: 0, blobs: 0,
            linkedBlobs: 0, copiedBlobs: 0, droppedVectors: 0, attempts: 1)

        if let model = state.model {
            let configuration = DataStore.indexConfiguration(dimension: model.dimension)
            let follower: EmbeddedVectorStore
            do {
                follower = try EmbeddedVectorStore(following: source.indexURL(named: state.indexDirectory),
                                                   configuration: configuration, through: state.vectorSequence)
            } catch VectorIndexError.notFound, VectorIndexError.io {
                // Gone since the catalog copy: a reindex swapped and removed it.
                throw RetryableBackup(reason: "index \(state.indexDirectory) was replaced during the backup")
            }
            let reached = try follower.lastSequence()
            guard reached == state.vectorSequence else {
                throw RetryableBackup(reason: "the index was at sequence \(reached), the catalog copy records \(state.vectorSequence)")
            }
            let indexURL = copy.indexURL(named: state.indexDirectory)
            try follower.exportSnapshot(to: indexURL)
            try follower.close()

            // Vectors of products a delete had removed from the catalog before the index caught up.
            let named = Set(try copied.imageKeys().map { VectorKey(product: $0.product, image: $0.image) })
            let index = try EmbeddedVectorStore(directory: indexURL, configuration: configuration)
            let extra = try index.keys().filter { !named.contains($0) }
            if !extra.isEmpty {
                let sequence = try index.delete(extra)
                try copied.setVectorSequence(sequence)
                manifest.vectorSequence = sequence
            }
            manifest.droppedVectors = extra.count
            manifest.vectors = try index.count()
            try index.close()
        }

        if let text = state.text {
            // The text index follows the catalog copy loosely (it has no sequence of its own in the
            // catalog): vectors of products the copy lacks go, products it lacks a vector for are
            // marked stale, so the restored directory's next ingest embeds them again.
            let configuration = DataStore.indexConfiguration(dimension: text.model.dimension)
            let follower: EmbeddedVectorStore
            do {
                follower = try EmbeddedVectorStore(following: source.indexURL(named: text.name), configuration: configuration)
            } catch VectorIndexError.notFound, VectorIndexError.io {
                throw RetryableBackup(reason: "text index \(text.name) was replaced during the backup")
            }
            let url = copy.indexURL(named: text.name)
            try follower.exportSnapshot(to: url)
            try follower.close()
            let products = Set(try copied.allProductIDs())
            let index = try EmbeddedVectorStore(directory: url, configuration: configuration)
            let keys = try index.keys()
            let extra = keys.filter { !products.contains($0.product) }
            if !extra.isEmpty { _ = try index.delete(extra) }
            let missing = products.subtracting(keys.map(\.product))
            if !missing.isEmpty { try copied.markStale(ids: missing.sorted()) }
            try index.close()
        }

        let copyBlobs = try FileBlobStore(directory: copy.imagesURL)
        for key in try copied.referencedBlobs().sorted() {
            let from = blobs.url(for: key)
            guard FileManager.default.fileExists(atPath: from.path) else {
                // A gc after a delete that the catalog copy predates, or real damage: look again.
                throw RetryableBackup(reason: "image \(from.path) referenced by the catalog copy is missing")
            }
            if try linkOrCopy(from, to: copyBlobs.url(for: key)) { manifest.linkedBlobs += 1 } else { manifest.copiedBlobs += 1 }
        }
        let counts = try copied.counts()
        (manifest.products, manifest.images) = (counts.products, counts.images)
        manifest.blobs = manifest.linkedBlobs + manifest.copiedBlobs
        manifest.generation = try copied.generation()
        return manifest
    }

    /// Hard-links `from` at `to` (blobs never change, so sharing the inode is safe), or copies it
    /// when the two are on different file systems. Returns whether it linked.
    static func linkOrCopy(_ from: URL, to: URL) throws -> Bool {
        let folder = to.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw LifecycleError("cannot create \(folder.path): \(error.localizedDescription)")
        }
        if link(from.path, to.path) == 0 { return true }
        let code = errno
        guard code == EXDEV || code == EPERM || code == EMLINK || code == ENOTSUP else {
            throw LifecycleError("cannot link \(from.path) to \(to.path): \(String(cString: strerror(code)))")
        }
        do {
            try FileManager.default.copyItem(at: from, to: to)
        } catch {
            throw LifecycleError("cannot copy \(from.path) to \(to.path): \(error.localizedDescription)")
        }
        return false
    }

    /// Empties `directory` (keeps the directory itself).
    static func clear(_ directory: URL) throws {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names {
            do {
                try fm.removeItem(at: directory.appendingPathComponent(name))
            } catch {
                throw LifecycleError("cannot remove \(directory.appendingPathComponent(name).path): \(error.localizedDescription)")
            }
        }
    }
}
