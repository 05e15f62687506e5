import VitrineCatalog
import VitrineIndex

/// The committing side of ingest: one encoder pass over a batch, then its writes to the stores in
/// the order that makes every crash recoverable (see ``IngestPipeline``).
struct BatchCommitter: Sendable {
    let catalog: any Catalog
    let vectors: any VectorStore
    /// The text index and its sentence model, written after the photos' index.
    let text: (embedder: TextEmbedder, vectors: any VectorStore)?
    let encoder: IngestEncoder
    let faults: FaultInjection
    let ledger: IngestLedger

    /// Blocks for the encoder pass and the stores' writes; ``IngestPipeline`` calls it off the
    /// cooperative pool.
    func commit(_ batch: PreparedBatch) throws {
        guard !batch.items.isEmpty else { return }
        // (1) The blobs are already stored (by ``ImagePreparer``).
        try faults.reach(.afterBlobs)
        // (2) Products about to change lose their fingerprints: a crash from here on leaves them
        // stale, and the next run re-embeds them.
        let updates = batch.items.filter(\.isUpdate).map(\.product.id)
        if !updates.isEmpty { try catalog.markStale(ids: updates) }
        try faults.reach(.afterMarkStale)

        // (3) The index: new vectors, then the vectors of images a product no longer has. A crash
        // here leaves keys the catalog does not name; reconciliation deletes them.
        let embeddings = encoder.embed(batch.items.flatMap(\.pixels))
        var records: [VectorRecord] = []
        records.reserveCapacity(embeddings.count)
        var replaced: [VectorKey] = []
        var cursor = 0
        for item in batch.items {
            let attributes = Self.attributes(item.product)
            for image in item.product.images {
                records.append(VectorRecord(key: VectorKey(product: item.product.id, image: image.id),
                                            vector: embeddings[cursor], attributes: attributes))
                cursor += 1
            }
            let kept = Set(item.product.images.map(\.id))
            replaced += item.previousImages.filter { !kept.contains($0) }.map { VectorKey(product: item.product.id, image: $0) }
        }
        var sequence = try vectors.upsert(records)
        try faults.reach(.afterIndexUpsert)
        if !replaced.isEmpty {
            sequence = try vectors.delete(replaced)
            try faults.reach(.afterIndexDelete)
        }
        // (3b) The text index, one vector per product. After the photos' index, so a crash here has
        // moved the index's sequence past the catalog's and reconciliation runs.
        if let text {
            let products = batch.items.map(\.product)
            let embedded = try text.embedder.embed(products: products)
            _ = try text.vectors.upsert(zip(products, embedded).map(TextEmbedder.record))
        }
        // (4) One catalog transaction: records, fingerprints and the index's sequence number.
        try catalog.upsert(
            batch.items.map(\.product),
            fingerprints: Dictionary(uniqueKeysWithValues: batch.items.map { ($0.product.id, $0.fingerprint) }),
            vectorSequence: sequence)
        try faults.reach(.afterCatalogCommit)

        let updated = updates.count
        ledger.count {
            $0.updated += updated
            $0.ingested += batch.items.count - updated
            $0.imagesEmbedded += embeddings.count
        }
    }

    /// The attributes searches filter on.
    static func attributes(_ product: Product) -> [String: String] {
        var attributes: [String: String] = [:]
        if let category = product.category { attributes["category"] = category }
        if let market = product.market { attributes["market"] = market }
        return attributes
    }
}
