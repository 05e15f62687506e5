import Foundation
import VitrineCatalog
import VitrineIndex
import VitrineModels

/// The sentence model of the text index (all-MiniLM-L6-v2 by default): it embeds each product's
/// name and description at ingest, and a query at search time (`mode=text`), into its own space,
/// where a paraphrase lands near the text it paraphrases.
public struct TextEmbedder: Sendable {
    public let encoder: BERTSentenceEncoder
    /// The model as the catalog records it (its source, revision, weights' hash, dimension).
    public let record: ModelRecord
    public var dimension: Int { encoder.dimension }

    public init(encoder: BERTSentenceEncoder, record: ModelRecord) {
        self.encoder = encoder
        self.record = record
    }

    /// Embeddings of the products' texts (``text(of:)``), in order.
    public func embed(products: [Product]) throws -> [[Float]] {
        products.isEmpty ? [] : try encoder.embed(texts: products.map(Self.text(of:)))
    }

    /// A query's embedding.
    public func embed(query: String) throws -> [Float] {
        try encoder.embed(texts: [query])[0]
    }

    /// What the text index holds of a product: its name, then its description (the reranker reads
    /// the same text).
    public static func text(of product: Product) -> String {
        let name = product.name.trimmingCharacters(in: .whitespacesAndNewlines)
        let description = product.description.trimmingCharacters(in: .whitespacesAndNewlines)
        let head = name.isEmpty ? product.id : name
        return description.isEmpty ? head : "\(head). \(description)"
    }

    /// The text index's key of a product: one vector per product, no image.
    public static func key(_ id: String) -> VectorKey { VectorKey(product: id, image: "") }

    /// A product's row in the text index, with the attributes searches filter on.
    static func record(_ product: Product, vector: [Float]) -> VectorRecord {
        VectorRecord(key: key(product.id), vector: vector, attributes: BatchCommitter.attributes(product))
    }

    /// Throws unless `record` describes this model's embeddings (the same weights and dimension).
    func check(against recorded: ModelRecord, data: String) throws {
        guard recorded.sameEmbeddings(as: record) else {
            throw EngineError.textModelMismatch(data: data, recorded: recorded.specifier, given: record.specifier)
        }
    }
}
