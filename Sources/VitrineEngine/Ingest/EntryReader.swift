import VitrineCatalog
import VitrineSources

/// The read stage: the reader's entries, up to the run's `--limit`, screened before anything is
/// fetched. Rejected rows, duplicate ids, products without (or with repeated) image ids and
/// records the catalog would refuse go to the ledger as failures; the rest go on.
struct EntryReader {
    private var iterator: AsyncThrowingStream<SourceEntry, Error>.Iterator
    private var remaining: Int?
    private var finished = false
    private let ledger: IngestLedger
    private let shard: Shard?

    init(_ reader: DatasetReader, limit: Int?, shard: Shard?, ledger: IngestLedger) {
        iterator = reader.entries().makeAsyncIterator()
        remaining = limit
        self.shard = shard
        self.ledger = ledger
    }

    /// Whether this run ingests `entry`: with a shard, only its products; a rejected row is
    /// reported by the shard of its id, or by shard 0 when it has none.
    private func isMine(_ entry: SourceEntry) -> Bool {
        guard let shard else { return true }
        switch entry {
        case .item(let item): return shard.contains(productID: item.product.id)
        case .rejected(let rejection): return rejection.id.map { shard.contains(productID: $0) } ?? (shard.index == 0)
        }
    }

    /// The items among the next `count` entries; `nil` at the end of the source or of the limit.
    mutating func next(_ count: Int) async throws -> [SourceItem]? {
        var entries: [SourceEntry] = []
        while entries.count < count, !finished {
            if let remaining, remaining <= 0 { finished = true; break }
            guard let entry = try await iterator.next() else { finished = true; break }
            guard isMine(entry) else { continue }
            if case .item = entry { remaining? -= 1 }
            entries.append(entry)
        }
        if entries.isEmpty { return nil }
        return entries.compactMap(screen)
    }

    /// The item of `entry` when it can be ingested; otherwise its failure is recorded.
    private func screen(_ entry: SourceEntry) -> SourceItem? {
        switch entry {
        case .rejected(let rejection):
            if let id = rejection.id { _ = ledger.claim(id) }
            ledger.fail(IngestFailure(id: rejection.id, location: rejection.location, reason: rejection.reason))
            return nil
        case .item(let item):
            ledger.count { $0.read += 1 }
            let id = item.product.id
            guard ledger.claim(id) else {
                ledger.fail(IngestFailure(id: id, location: item.images.first?.origin ?? item.product.source,
                                          reason: "duplicate product id \(id) in this source"))
                return nil
            }
            guard !item.images.isEmpty else {
                ledger.fail(IngestFailure(id: id, location: item.product.source, reason: "the product has no image"))
                return nil
            }
            guard Set(item.images.map(\.id)).count == item.images.count else {
                ledger.fail(IngestFailure(id: id, location: item.product.source, reason: "two images of the product have the same id"))
                return nil
            }
            do {
                try item.product.validate()
            } catch {
                ledger.fail(IngestFailure(id: id, location: item.product.source, reason: String(describing: error)))
                return nil
            }
            return item
        }
    }
}
