import Foundation
import VitrineCatalog
import VitrineIndex

// `vitrine verify`: each store checked on its own (SQLite's integrity check, the index files'
// checksums, the images' hashes), then against each other (keys, sequence numbers, model record).

extension DataStore {
    /// Disagreements between the stores and damage inside each, in words (empty when all is
    /// well): the catalog's own check (SQLite's `integrity_check`, PostgreSQL's key checks); a missing model record; the live index's
    /// files loaded afresh (every snapshot section and log record checksummed); catalog images
    /// without vectors and vectors no catalog image names; sequence numbers that differ; referenced
    /// blobs that are missing or whose bytes no longer hash to their key (`checksums`).
    ///
    /// A reader first catches up with the writer, so a writer committing meanwhile is not
    /// mistaken for a disagreement (a writer in the middle of a batch still may be: verify a
    /// quiescent directory for a definite answer).
    public func verify(checksums: Bool = true) throws -> [String] {
        try refresh()
        return try Self.verify(space, catalog: catalog, blobs: blobs, live: vectors, checksums: checksums)
    }

    /// ``verify(checksums:)`` without opening the data directory whole, so damage that would stop
    /// an open (a truncated snapshot, a catalog SQLite cannot read) is reported like any other
    /// problem, naming the file.
    ///
    /// - Throws: ``EngineError/emptyDataDirectory(path:)`` when there is no catalog at all.
    public static func verify(_ directory: DataDirectory, checksums: Bool = true) throws -> [String] {
        guard directory.exists else { throw EngineError.emptyDataDirectory(path: directory.url.path) }
        let catalog: SQLiteCatalog
        do {
            catalog = try SQLiteCatalog(path: directory.catalogURL, readOnly: true)
        } catch {
            return ["catalog \(directory.catalogURL.path): \(error)"]
        }
        defer { try? catalog.close() }
        let blobs = try FileBlobStore(directory: directory.imagesURL)
        return try verify(EmbeddedVectorSpace(root: directory.url), catalog: catalog, blobs: blobs, live: nil, checksums: checksums)
    }

    /// The checks; `live` is the index to compare with the catalog (nil: the one `space` opens afresh).
    static func verify(_ space: any VectorSpace, catalog: any Catalog, blobs: any BlobStore, live: (any VectorStore)?,
                       checksums: Bool) throws -> [String] {
        var problems: [String] = []
        let catalogPath = catalog.backend.kind == "sqlite" ? catalog.backend.location : catalog.backend.description
        do {
            for damage in try catalog.integrityCheck() { problems.append("catalog \(catalogPath): integrity check: \(damage)") }
        } catch {
            problems.append("catalog \(catalogPath): integrity check failed: \(error)")
        }
        let state: ServingState
        let named: Set<VectorKey>
        let referenced: Set<BlobKey>
        do {
            state = try catalog.servingState()
            named = Set(try catalog.imageKeys().map { VectorKey(product: $0.product, image: $0.image) })
            referenced = try catalog.referencedBlobs()
        } catch {
            problems.append("catalog \(catalogPath): cannot be read: \(error)")
            return problems
        }

        if let model = state.model {
            // The embedded index's files are loaded afresh, every checksum read.
            let index = space.kind == "embedded" ? space.location + "/" + state.indexDirectory : "\(state.indexDirectory) (\(space.location))"
            var files: (any VectorStore)?
            do {
                files = try space.open(state.indexDirectory, configuration: indexConfiguration(dimension: model.dimension), writer: false)
            } catch {
                problems.append("index \(index): \(error)")
            }
            defer { try? files?.close() }
            if let vectors = live ?? files {
                let stored = Set(try vectors.keys())
                for key in named.subtracting(stored).sorted().prefix(100) { problems.append("catalog image \(key) has no vector") }
                for key in stored.subtracting(named).sorted().prefix(100) { problems.append("vector \(key) is not in the catalog") }
                let indexSequence = try vectors.lastSequence()
                if state.vectorSequence != indexSequence {
                    problems.append("the catalog records index sequence \(state.vectorSequence), the index \(index) is at \(indexSequence)")
                }
            }
            if let text = state.text {
                let index = space.kind == "embedded" ? space.location + "/" + text.name : "\(text.name) (\(space.location))"
                do {
                    let vectors = try space.open(text.name, configuration: indexConfiguration(dimension: text.model.dimension), writer: false)
                    defer { try? vectors.close() }
                    let stored = Set(try vectors.keys().map(\.product))
                    let products = Set(named.map(\.product))
                    for id in products.subtracting(stored).sorted().prefix(100) { problems.append("product \(id) has no vector in the text index \(index)") }
                    for id in stored.subtracting(products).sorted().prefix(100) { problems.append("text vector \(id) is not in the catalog") }
                } catch {
                    problems.append("text index \(index): \(error)")
                }
            }
        } else if !named.isEmpty {
            problems.append("catalog \(catalogPath) has \(named.count) images but no model record (which model built the vectors is unknown)")
        }

        for key in referenced.sorted() {
            guard try blobs.contains(key) else { problems.append("image \(key) is missing from \(blobs.backend.location)"); continue }
            if checksums, HashedData(try blobs.get(key)).sha256 != key.sha256 {
                problems.append("image \(key) does not match its checksum (\(blobs.location(of: key)))")
            }
        }
        return problems
    }
}
