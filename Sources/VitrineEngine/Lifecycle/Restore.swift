import Foundation
import VitrineCatalog
import VitrineIndex

/// What `vitrine restore` did.
public struct RestoreReport: Sendable, Codable, Equatable {
    public var backup: String
    public var data: String
    public var products: Int
    public var images: Int
    public var vectors: Int
    public var blobs: Int
    public var vectorSequence: UInt64
}

extension Backup {
    /// Copies the backup at `backup` into the data directory `target`, then verifies the result.
    ///
    /// `target` must be absent or empty, unless `force`: then its contents are replaced. Either
    /// way the target's writer lock is held throughout, so no ingest runs into a half-restored
    /// directory (readers of the target should be stopped first). Blobs are hard-linked when the
    /// backup is on the same file system, else copied.
    ///
    /// - Throws: ``LifecycleError`` when `backup` is not a backup, `target` is not empty (without
    ///   `force`), or the restored directory fails `verify` (the problems are listed).
    @discardableResult
    public static func restore(_ backup: URL, to target: DataDirectory, force: Bool = false) throws -> RestoreReport {
        let source = DataDirectory(backup)
        guard source.exists else {
            throw LifecycleError("\(source.url.path) is not a Vitrine backup: it has no catalog.sqlite")
        }
        let fm = FileManager.default
        let existing = (try? fm.contentsOfDirectory(atPath: target.url.path)) ?? []
        guard existing.isEmpty || force else {
            throw LifecycleError("data directory \(target.url.path) is not empty: restore into an empty directory, or pass --force to replace its contents")
        }
        let lock = try WriterLock.acquire(target, holder: "vitrine restore \(source.url.path)")
        defer { lock.release() }
        let lockName = target.writerLockURL.lastPathComponent
        for name in existing where name != lockName {
            do {
                try fm.removeItem(at: target.url.appendingPathComponent(name))
            } catch {
                throw LifecycleError("cannot remove \(target.url.appendingPathComponent(name).path): \(error.localizedDescription)")
            }
        }

        let catalog = try SQLiteCatalog(path: source.catalogURL, readOnly: true)
        let state = try catalog.servingState()
        try catalog.close()
        try copy(source.catalogURL, to: target.catalogURL)
        for suffix in ["-wal"] where fm.fileExists(atPath: source.catalogURL.path + suffix) {
            try copy(URL(fileURLWithPath: source.catalogURL.path + suffix), to: URL(fileURLWithPath: target.catalogURL.path + suffix))
        }
        let indexURL = source.indexURL(named: state.indexDirectory)
        if fm.fileExists(atPath: indexURL.path) {
            try copy(indexURL, to: target.indexURL(named: state.indexDirectory))
        }
        if let text = state.text, fm.fileExists(atPath: source.indexURL(named: text.name).path) {
            try copy(source.indexURL(named: text.name), to: target.indexURL(named: text.name))
        }
        let from = try FileBlobStore(directory: source.imagesURL)
        let to = try FileBlobStore(directory: target.imagesURL)
        var blobCount = 0
        for key in try from.keys() {
            _ = try linkOrCopy(from.url(for: key), to: to.url(for: key))
            blobCount += 1
        }

        let problems = try DataStore.verify(target)
        guard problems.isEmpty else {
            throw LifecycleError("the restored data directory \(target.url.path) fails verification: "
                                 + problems.prefix(10).joined(separator: "; "))
        }
        let store = try DataStore.openForReading(target)
        let stats = try store.stats()
        return RestoreReport(
            backup: source.url.path, data: target.url.path, products: stats.products, images: stats.images,
            vectors: stats.vectors, blobs: blobCount, vectorSequence: stats.vectorSequence)
    }

    private static func copy(_ from: URL, to: URL) throws {
        do {
            try FileManager.default.copyItem(at: from, to: to)
        } catch {
            throw LifecycleError("cannot copy \(from.path) to \(to.path): \(error.localizedDescription)")
        }
    }
}
