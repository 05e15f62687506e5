import Foundation

/// Which model produced the vectors of a data directory. Stored in the catalog so a search with
/// another model, or an ingest that would mix two models, can be refused.
public struct ModelRecord: Sendable, Equatable, Codable {
    /// Hub repo id or absolute directory path.
    public var source: String
    /// Hub commit; nil for directories.
    public var revision: String?
    /// Weight precision the encoder ran in: "fp32", "bf16", "int8"
    public var precision: String
    /// SHA-256 over the weight files (computed by the caller).
    public var weightsSHA256: String
    /// Embedding length.
    public var dimension: Int
    /// When the record was written.
    public var recordedAt: Date

    public init(
        source: String, revision: String?, precision: String, weightsSHA256: String, dimension: Int,
        recordedAt: Date = Date()
    ) {
        self.source = source
        self.revision = revision
        self.precision = precision
        self.weightsSHA256 = weightsSHA256
        self.dimension = dimension
        self.recordedAt = recordedAt
    }
}

/// A record a catalog keeps as JSON text with sorted keys (the same text for the same record).
public protocol StoredRecord: Codable {
    /// What the record is, for errors: "the model record of …".
    var what: String { get }
}

extension StoredRecord {
    /// The record as stored in a catalog.
    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else {
            throw CatalogError.invalidArgument("\(what) cannot be encoded as JSON")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The record a catalog stored as ``jsonText()``; `catalog` names the store, `kind` the record
    /// in the error.
    static func decoded(_ text: String, catalog: String, kind: String) throws -> Self {
        do {
            return try JSONDecoder().decode(Self.self, from: Data(text.utf8))
        } catch {
            throw CatalogError.corrupted(path: catalog, reason: "\(kind) is not valid JSON: \(error)")
        }
    }
}

extension ModelRecord: StoredRecord {
    public var what: String { "the model record of \(source)" }

    /// The record a catalog stored as ``jsonText()``; `catalog` names the store in the error.
    public init(jsonText text: String, catalog: String) throws {
        self = try Self.decoded(text, catalog: catalog, kind: "the model record")
    }
}

/// The text index: products' names and descriptions embedded by a sentence model, searched by a
/// query through the same model (`mode=text`). Recorded in the catalog beside the photo model.
public struct TextIndexRecord: Sendable, Equatable, Codable, StoredRecord {
    /// The index's name in the vector space: `text`, or `text-<n>` after the text model changed.
    public var name: String
    /// The sentence model that embedded the products.
    public var model: ModelRecord

    public init(name: String, model: ModelRecord) {
        self.name = name
        self.model = model
    }

    public var what: String { "the text index record of \(model.source)" }

    /// The record a catalog stored as ``jsonText()``; `catalog` names the store in the error.
    public init(jsonText text: String, catalog: String) throws {
        let record = try Self.decoded(text, catalog: catalog, kind: "the text index record")
        guard DataDirectory.isTextIndexName(record.name) else {
            throw CatalogError.corrupted(path: catalog, reason: "the text index name \"\(record.name)\" is not text or text-<n>")
        }
        self = record
    }
}

/// One value of a facet (category or market) and how many products carry it.
public struct FacetCount: Sendable, Equatable, Codable {
    /// Category id or market code.
    public var value: String
    /// Human-readable category name (one recorded for the id); nil for markets.
    public var name: String?
    /// Number of products.
    public var count: Int

    public init(value: String, name: String?, count: Int) {
        self.value = value
        self.name = name
        self.count = count
    }
}
