import Foundation
import VitrineCatalog
import VitrineIndex

/// What `vitrine gc` found (and removed, unless a dry run).
public struct GarbageReport: Sendable, Codable, Equatable {
    /// Nothing was removed: the lists say what would be.
    public var dryRun: Bool
    /// Image files no catalog image references.
    public var blobs: [String]
    /// Their size in bytes.
    public var blobBytes: Int64
    /// Index entries (`product/image`) no catalog image names.
    public var vectors: [String]
    /// Index directories no longer live (left by a reindex that stopped after its swap).
    public var indexDirectories: [String]
    /// Their size in bytes.
    public var indexBytes: Int64
    /// Temporary files of interrupted image writes.
    public var temporaryFiles: Int

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run", blobs, blobBytes = "blob_bytes", vectors
        case indexDirectories = "index_directories", indexBytes = "index_bytes", temporaryFiles = "temporary_files"
    }
}

extension DataStore {
    /// Removes what no product references: image files no catalog image names (after deletes,
    /// or written by an ingest that died before its commit), index entries no catalog image names,
    /// retired index directories and temporary files. With `dryRun`, lists them and removes
    /// nothing.
    ///
    /// Needs the writer (the lock keeps an ingest from adding a reference to a blob about to go).
    /// Readers see no change: searches only return what the catalog names, and the catalog is not
    /// touched except for the index's new sequence number.
    public func collectGarbage(dryRun: Bool = false) throws -> GarbageReport {
        guard isWriter else {
            throw EngineError.notWriter(path: directory.url.path)
        }
        var report = GarbageReport(dryRun: dryRun, blobs: [], blobBytes: 0, vectors: [], indexDirectories: [],
                                   indexBytes: 0, temporaryFiles: 0)

        let referenced = try catalog.referencedBlobs()
        let orphanBlobs = try blobs.keys().filter { !referenced.contains($0) }
        report.blobs = orphanBlobs.map(\.description)
        report.blobBytes = try orphanBlobs.reduce(0) { $0 + Int64(try blobs.size(of: $1) ?? 0) }

        var orphanVectors: [VectorKey] = []
        if let vectors {
            let named = Set(try catalog.imageKeys().map { VectorKey(product: $0.product, image: $0.image) })
            orphanVectors = try vectors.keys().filter { !named.contains($0) }
            report.vectors = orphanVectors.map(\.description)
        }
        var orphanText: [VectorKey] = []
        if let text = textIndex?.vectors {
            let products = Set(try catalog.allProductIDs())
            orphanText = try text.keys().filter { !products.contains($0.product) }
            report.vectors += orphanText.map { "text:\($0.product)" }
        }

        let retired = try retiredIndexes()
        report.indexDirectories = retired
        report.indexBytes = retired.reduce(0) { $0 + (space.size(of: $1) ?? 0) }

        guard !dryRun else { return report }
        if let vectors, !orphanVectors.isEmpty {
            // Index first, then the catalog records its sequence: the stores agree again.
            let sequence = try vectors.delete(orphanVectors)
            try catalog.setVectorSequence(sequence)
        }
        if let text = textIndex?.vectors, !orphanText.isEmpty { _ = try text.delete(orphanText) }
        for key in orphanBlobs { try blobs.delete(key) }
        for name in retired {
            do { try space.remove(name) } catch {
                throw LifecycleError("cannot remove the retired index \(name) (\(space.location)): \(error)")
            }
        }
        report.temporaryFiles = try blobs.removeLeftovers()
        return report
    }

    /// Indexes beside the live one that no reindex is building (a build in progress carries its
    /// marker and is kept for `reindex` to resume), and text indexes beside the live one (a text
    /// build runs under the writer lock gc holds, so none is in progress).
    func retiredIndexes() throws -> [String] {
        let live = indexDirectoryName
        let liveText = textIndex?.record.name
        return try space.indexNames().filter { name in
            if DataDirectory.isTextIndexName(name) { return name != liveText }
            guard DataDirectory.isIndexDirectoryName(name), name != live else { return false }
            return try space.marker(of: name) == nil
        }
    }
}
