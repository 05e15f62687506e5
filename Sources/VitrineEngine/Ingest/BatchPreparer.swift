import Foundation
import VitrineCatalog
import VitrineSources

/// The preparing side of ingest, one batch at a time: read entries → fetch and hash their images
/// → skip products stored with the same fingerprint → decode, store and prepare the rest, until a
/// batch's worth of images needs embedding (or the source ends).
struct BatchPreparer: Sendable {
    let catalog: any Catalog
    let fetcher: ImageFetcher
    let preparer: ImagePreparer
    let batchSize: Int
    let ledger: IngestLedger

    /// The next batch from `entries`; `progress` hears of chunks that were all skipped or failed.
    func nextBatch(from entries: inout EntryReader, progress: (IngestCounts) -> Void) async throws -> PreparedBatch {
        var items: [PreparedBatch.Item] = []
        var images = 0
        while images < batchSize {
            try Task.checkCancellation()
            guard let chunk = try await entries.next(max(1, min(batchSize, 256))) else {
                return PreparedBatch(items: items, isLast: true)
            }
            for item in try await prepare(chunk) {
                images += item.pixels.count
                items.append(item)
            }
            if items.isEmpty { progress(ledger.counts) }
        }
        return PreparedBatch(items: items, isLast: false)
    }

    /// Fetches and hashes the images of `items`, and decodes those of new or changed products.
    private func prepare(_ items: [SourceItem]) async throws -> [PreparedBatch.Item] {
        if items.isEmpty { return [] }
        let fetched = await fetcher.fetch(items)
        let ids = items.map(\.product.id)
        let storedFingerprints = try catalog.fingerprints(ids: ids)
        let stored = try catalog.products(ids: ids)

        var changed: [(item: SourceItem, images: [HashedData], fingerprint: String)] = []
        for (item, result) in zip(items, fetched) {
            switch result {
            case .failure(let failure):
                ledger.fail(failure)
            case .success(let images):
                let fingerprint = IngestPipeline.fingerprint(item.product, images: zip(item.images, images).map { ($0.id, $1.sha256) })
                if storedFingerprints[item.product.id] == fingerprint {
                    ledger.count { $0.unchanged += 1 }
                } else {
                    changed.append((item, images, fingerprint))
                }
            }
        }
        if changed.isEmpty { return [] }

        let prepared = try await preparer.prepare(changed.map { ($0.item, $0.images) })
        var out: [PreparedBatch.Item] = []
        for (entry, result) in zip(changed, prepared) {
            switch result {
            case .failure(let failure):
                ledger.fail(failure)
            case .success(let images):
                var product = entry.item.product
                product.images = images.images
                let previous = stored[product.id]
                out.append(PreparedBatch.Item(
                    product: product, fingerprint: entry.fingerprint, isUpdate: previous != nil,
                    previousImages: previous?.images.map(\.id) ?? [], pixels: images.pixels))
            }
        }
        return out
    }
}
