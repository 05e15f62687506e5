import Foundation
import VitrineCatalog
import VitrineCore
import VitrineIndex

// `vitrine migrate`: a catalog moved between backends (a data directory to PostgreSQL + S3 and
// back, or any mix), resumable, and checked before it is called done.

/// How a migration runs.
public struct MigrationOptions: Sendable {
    /// Products copied per step (one catalog transaction, one index batch).
    public var batchSize = 256
    /// Stored vectors used as queries when comparing the two indexes' top 10.
    public var queries = 20
    /// Whether every photo in the target is read back and hashed.
    public var checksums = true

    public init() {}
}

/// What a migration did and what its verification compared.
public struct MigrationReport: Sendable, Codable, Equatable {
    /// Products written to the target in this run.
    public var copied = 0
    /// Products the target already held unchanged (an earlier, interrupted run copied them).
    public var alreadyThere = 0
    /// Photos uploaded to the target's store (the others were there already: same content, same key).
    public var photosCopied = 0
    public var vectorsCopied = 0
    /// Products whose text vectors were copied into the target's text index (0 without one).
    public var textVectors = 0
    /// What verification compared, equal on both sides when the migration succeeds.
    public var products = 0
    public var images = 0
    public var vectors = 0
    public var photosHashed = 0
    public var queriesCompared = 0
    public var seconds = 0.0
}

public enum Migration {
    /// Copies `source` (opened for reading) into `target` (opened for writing): products with their
    /// images, photos and vectors, in batches that each commit like an ingest batch (photos, then
    /// index, then the catalog with the index's sequence), so an interrupted run leaves a target
    /// that the next run completes: products whose fingerprint already matches are skipped.
    ///
    /// Then verifies, and throws a ``LifecycleError`` listing every difference instead of
    /// returning: equal counts of products, images and vectors; the same referenced photos, each
    /// read back from the target and hashed to its key (`checksums`); and the same top 10 from
    /// both indexes for `queries` stored vectors.
    ///
    /// - Throws: ``EngineError/modelMismatch(data:recorded:given:)`` when the target's vectors
    ///   come from another model; a ``LifecycleError`` when the target holds products the source
    ///   does not (it is not an earlier copy of it) or when verification fails.
    public static func run(from source: DataStore, to target: DataStore, options: MigrationOptions = MigrationOptions(),
                           progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> MigrationReport {
        let started = Date()
        guard target.isWriter else { throw EngineError.notWriter(path: target.directory.url.path) }
        guard options.batchSize > 0 else { throw EngineError.invalidArgument("--batch-size must be at least 1") }
        guard let model = try source.catalog.modelRecord(), let sourceVectors = source.vectors else {
            throw EngineError.noModelRecord(path: source.catalog.backend.location)
        }
        if let recorded = try target.catalog.modelRecord() {
            guard recorded.sameEmbeddings(as: model) else {
                throw EngineError.modelMismatch(data: target.catalog.backend.description, recorded: recorded.specifier, given: model.specifier)
            }
        } else {
            try target.catalog.setModelRecord(model)
        }
        let targetVectors = try target.vectorStore(dimension: model.dimension)

        let ids = try source.catalog.allProductIDs()
        let foreign = Set(try target.catalog.allProductIDs()).subtracting(ids)
        guard foreign.isEmpty else {
            throw LifecycleError(
                "the target \(target.catalog.backend) holds \(foreign.count) products the source does not have (e.g. \(foreign.sorted().prefix(3).joined(separator: ", "))): migrate into an empty target, or into an earlier copy of this source",
                kind: .conflict)
        }

        var report = MigrationReport()
        let faults = FaultInjection.fromEnvironment()
        var done = 0
        for start in stride(from: 0, to: ids.count, by: options.batchSize) {
            let chunk = Array(ids[start..<min(start + options.batchSize, ids.count)])
            let products = try source.catalog.products(ids: chunk)
            let fingerprints = try source.catalog.fingerprints(ids: chunk)
            let existing = try target.catalog.fingerprints(ids: chunk)
            let todo = chunk.compactMap { id -> Product? in
                if let fingerprint = fingerprints[id], existing[id] == fingerprint { return nil }
                return products[id]
            }
            report.alreadyThere += chunk.count - todo.count
            if !todo.isEmpty { try copy(todo, fingerprints: fingerprints, from: source, sourceVectors: sourceVectors,
                                        to: target, targetVectors: targetVectors, faults: faults, report: &report) }
            done += chunk.count
            progress(done, ids.count)
        }
        // The text index: its vectors copied (no sentence model is needed), built beside any the
        // target has and swapped in.
        if let text = source.textIndex {
            if let existing = target.textIndex?.record.model, !existing.sameEmbeddings(as: text.record.model) {
                throw EngineError.textModelMismatch(data: target.catalog.backend.description, recorded: existing.specifier,
                                                    given: text.record.model.specifier)
            }
            let built = try target.buildTextIndex(model: text.record.model, batchSize: max(options.batchSize, 64), progress: { _, _ in }) { products in
                try products.map { try text.vectors.vector(for: TextEmbedder.key($0.id)) }
            }
            report.textVectors = built.products
            try target.textIndex?.vectors.settle()
        }
        // A server may search rows it has not indexed yet through a stopgap (Milvus's interim
        // index): the comparison waits for the index searches after the migration will use.
        try targetVectors.settle()
        try verify(source, target, sourceVectors: sourceVectors, targetVectors: targetVectors, options: options, report: &report)
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// One batch: photos, then vectors (and the removal of images a product no longer has), then
    /// one catalog transaction naming the index's sequence.
    private static func copy(_ products: [Product], fingerprints: [String: String], from source: DataStore,
                             sourceVectors: any VectorStore, to target: DataStore, targetVectors: any VectorStore,
                             faults: FaultInjection, report: inout MigrationReport) throws {
        var records: [VectorRecord] = []
        for product in products {
            for image in product.images {
                if try !target.blobs.contains(image.key) {
                    let content = HashedData(try source.blobs.get(image.key))
                    guard content.sha256 == image.key.sha256 else {
                        throw LifecycleError("photo \(image.key) of product \(product.id) in the source (\(source.blobs.location(of: image.key))) does not match its checksum: run `vitrine verify` on the source", kind: .corrupted)
                    }
                    _ = try target.blobs.put(content, ext: image.key.ext)
                    report.photosCopied += 1
                }
                let key = VectorKey(product: product.id, image: image.id)
                guard let vector = try sourceVectors.vector(for: key) else {
                    throw LifecycleError("the source index has no vector for image \(key): run `vitrine verify` on the source", kind: .corrupted)
                }
                records.append(VectorRecord(key: key, vector: vector, attributes: BatchCommitter.attributes(product)))
            }
        }
        let previous = try target.catalog.products(ids: products.map(\.id))
        let dropped = products.flatMap { product -> [VectorKey] in
            let kept = Set(product.images.map(\.id))
            return (previous[product.id]?.images ?? []).filter { !kept.contains($0.id) }.map { VectorKey(product: product.id, image: $0.id) }
        }
        if !previous.isEmpty { try target.catalog.markStale(ids: Array(previous.keys)) }
        var sequence = records.isEmpty ? try targetVectors.lastSequence() : try targetVectors.upsert(records)
        if !dropped.isEmpty { sequence = try targetVectors.delete(dropped) }
        try faults.reach(.migrateAfterIndex)
        // The chunk's fingerprints: a catalog reads those of the products it is given.
        try target.catalog.upsert(products, fingerprints: fingerprints, vectorSequence: sequence)
        report.copied += products.count
        report.vectorsCopied += records.count
    }

    /// Whether two top-k lists agree: the same distances rank by rank (to 1e-4: another engine
    /// sums in another order), each key found by both at the same distance, and the same keys
    /// but for ties (equal vectors, such as a photo two products share, may come in either
    /// order, and a tie at the last rank may keep either).
    static func agree(_ a: [SearchHit], _ b: [SearchHit]) -> Bool {
        let tolerance: Float = 1e-4
        guard a.count == b.count, zip(a, b).allSatisfy({ abs($0.distance - $1.distance) <= tolerance }) else { return false }
        let distancesB = Dictionary(b.map { ($0.key, $0.distance) }, uniquingKeysWith: min)
        let keysA = Set(a.map(\.key))
        let last = a.last?.distance ?? 0
        for hit in a {
            if let other = distancesB[hit.key] {
                guard abs(other - hit.distance) <= tolerance else { return false }
            } else if abs(hit.distance - last) > tolerance {
                return false
            }
        }
        return b.filter { !keysA.contains($0.key) }.allSatisfy { abs($0.distance - last) <= tolerance }
    }

    private static func verify(_ source: DataStore, _ target: DataStore, sourceVectors: any VectorStore,
                               targetVectors: any VectorStore, options: MigrationOptions, report: inout MigrationReport) throws {
        var problems: [String] = []
        let (from, to) = (try source.catalog.counts(), try target.catalog.counts())
        let (vectorsFrom, vectorsTo) = (try sourceVectors.count(), try targetVectors.count())
        if from != to { problems.append("products/images: source \(from.products)/\(from.images), target \(to.products)/\(to.images)") }
        if vectorsFrom != vectorsTo { problems.append("vectors: source \(vectorsFrom), target \(vectorsTo)") }
        (report.products, report.images, report.vectors) = (to.products, to.images, vectorsTo)

        let referenced = try target.catalog.referencedBlobs()
        if referenced != (try source.catalog.referencedBlobs()) { problems.append("the two catalogs reference different photos") }
        for key in referenced.sorted() {
            if options.checksums {
                guard let data = try? target.blobs.get(key) else { problems.append("photo \(key) is missing from the target"); continue }
                if HashedData(data).sha256 != key.sha256 { problems.append("photo \(key) in the target does not match its checksum") }
                report.photosHashed += 1
            } else if try !target.blobs.contains(key) {
                problems.append("photo \(key) is missing from the target")
            }
        }

        // Stored vectors spread over the catalog as queries; a wide search so both sides are exact
        // at this size (an approximate search could differ by construction order alone).
        let keys = try source.catalog.imageKeys()
        let count = min(options.queries, keys.count)
        let ef = max(400, min(vectorsFrom, 4000))
        for i in 0..<count {
            let pair = keys[i * keys.count / max(count, 1)]
            guard let query = try sourceVectors.vector(for: VectorKey(product: pair.product, image: pair.image)) else { continue }
            let expected = try sourceVectors.search(query, k: 10, filter: nil, ef: ef)
            let found = try targetVectors.search(query, k: 10, filter: nil, ef: ef)
            if !Self.agree(expected, found) {
                problems.append("top 10 for the vector of \(pair.product)/\(pair.image): source \(expected.prefix(3).map(\.key.description))…, target \(found.prefix(3).map(\.key.description))…")
            }
            report.queriesCompared += 1
        }
        guard problems.isEmpty else {
            throw LifecycleError("the migration copied the data but verification found \(problems.count) difference(s): "
                                 + problems.prefix(20).joined(separator: "; "), kind: .corrupted)
        }
    }
}
