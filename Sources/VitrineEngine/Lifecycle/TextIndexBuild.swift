import Foundation
import VitrineCatalog
import VitrineIndex

/// What building the text index did (`vitrine reindex --text-embedder M`, or ingest's one-time
/// upgrade of a data directory that had none).
public struct TextIndexReport: Sendable, Codable, Equatable {
    /// The sentence model now embedding products' text (nil: the text index was dropped).
    public var model: String?
    public var previousModel: String?
    /// The live text index now, and before.
    public var index: String?
    public var previousIndex: String?
    /// Products embedded.
    public var products: Int
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case model, previousModel = "previous_model", index, previousIndex = "previous_index", products, seconds
    }
}

extension DataStore {
    /// Embeds every product's text with `embedder` into a new text index beside the live one
    /// (`text`, or `text-<n>`), then records it in the catalog in one commit and removes the old
    /// one. Photos are not touched. Readers go on with the old text index until the commit.
    /// Killed before the commit, the partial build is retired: the next build (or `gc`) removes it.
    /// `progress` gets (products embedded, products in the catalog).
    @discardableResult
    public func buildTextIndex(with embedder: TextEmbedder, batchSize: Int = 64,
                               progress: (Int, Int) -> Void = { _, _ in }) throws -> TextIndexReport {
        try buildTextIndex(model: embedder.record, batchSize: batchSize, progress: progress) { products in
            try embedder.embed(products: products).map(Optional.some)
        }
    }

    /// The build with vectors from `vectors` (one per product, nil: left out), by `model`: an
    /// embedder's, or another store's text index copied (migrate).
    func buildTextIndex(model: ModelRecord, batchSize: Int, progress: (Int, Int) -> Void,
                        vectors: ([Product]) throws -> [[Float]?]) throws -> TextIndexReport {
        guard isWriter else { throw EngineError.notWriter(path: directory.url.path) }
        guard (1...1000).contains(batchSize) else {
            throw EngineError.invalidArgument("batch size must be between 1 and 1000, not \(batchSize)")
        }
        let started = Date()
        let previous = textIndex?.record
        // Builds that died before their commit are retired: nothing can resume them.
        var highest = 0
        for name in try space.indexNames() where DataDirectory.isTextIndexName(name) {
            highest = max(highest, name == "text" ? 1 : Int(name.dropFirst(5)) ?? 0)
            if name != previous?.name { try space.remove(name) }
        }
        let name = highest == 0 ? "text" : "text-\(highest + 1)"
        let build = try space.open(name, configuration: Self.indexConfiguration(dimension: model.dimension), writer: true)
        var adopted = false
        defer { if !adopted { build.abandon() } }

        let ids = try catalog.allProductIDs()
        progress(0, ids.count)
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(start + batchSize, ids.count)])
            let products = try catalog.products(ids: chunk)
            let batch = chunk.compactMap { products[$0] }
            let records = zip(batch, try vectors(batch)).compactMap { product, vector in
                vector.map { TextEmbedder.record(product, vector: $0) }
            }
            if !records.isEmpty { _ = try build.upsert(records) }
            start += chunk.count
            progress(start, ids.count)
        }
        try build.flush()
        let record = TextIndexRecord(name: name, model: model)
        try catalog.setTextIndex(record)
        adopted = true
        try adoptTextIndex(build, record: record)
        if let previous { try? space.remove(previous.name) }
        return TextIndexReport(model: model.specifier, previousModel: previous?.model.specifier, index: name,
                               previousIndex: previous?.name, products: ids.count, seconds: Date().timeIntervalSince(started))
    }

    /// Stops embedding products' text: the catalog forgets the text index, which is removed.
    @discardableResult
    public func dropTextIndex() throws -> TextIndexReport {
        guard isWriter else { throw EngineError.notWriter(path: directory.url.path) }
        guard let live = textIndex else {
            return TextIndexReport(model: nil, previousModel: nil, index: nil, previousIndex: nil, products: 0, seconds: 0)
        }
        try catalog.setTextIndex(nil)
        forgetTextIndex()
        try? space.remove(live.record.name)
        return TextIndexReport(model: nil, previousModel: live.record.model.specifier, index: nil, previousIndex: live.record.name,
                               products: 0, seconds: 0)
    }
}
