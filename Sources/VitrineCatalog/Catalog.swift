import Foundation

/// The catalog role of the storage boundary: products and their images, facets, full-text search,
/// and the bookkeeping that ties the catalog to the vector store (the vector sequence it is
/// consistent with, the generation readers poll, the model record, the live index's name).
///
/// Two implementations keep the same semantics: ``SQLiteCatalog`` (a file in the data directory)
/// and `PostgresCatalog` (module VitrinePostgres). Every write is one transaction that also
/// records the vector sequence it belongs to and advances the generation, so a product, its
/// images and the vector batch they name commit together. Calls block the calling thread; the
/// engine makes them from threads of its own, never from an event loop.
public protocol Catalog: AnyObject, Sendable {
    /// Which backend this is and where, for `vitrine stats` and `/readyz` (never a secret).
    var backend: StoreBackend { get }
    /// Whether this catalog was opened for reading only.
    var isReadOnly: Bool { get }

    /// Takes the one-writer lock of this catalog; throws ``CatalogError/locked(path:holder:)``
    /// naming the holder's command and pid when another writer holds it. With a `shard`, a
    /// catalog shared by machines (PostgreSQL) gives a lease on that shard alone: workers of other
    /// shards may hold theirs at once, and a whole-catalog writer waits for all of them (and they
    /// for it). A catalog that cannot share (SQLite) takes the whole lock either way.
    func acquireWriterLease(holder: String, shard: Shard?) throws -> any WriterLease

    // MARK: Products

    /// Inserts or replaces `batch` (each product's columns and whole image set) in one
    /// transaction, sets their fingerprints (absent = stale), records `vectorSequence` and
    /// advances the generation. The last of repeated ids wins. Validates every product first
    /// (``Product/validate()``): nothing is written when one is refused.
    func upsert(_ batch: [Product], fingerprints: [String: String], vectorSequence: UInt64) throws
    /// Removes these products and their images in one transaction, records `vectorSequence` and
    /// advances the generation; returns the removed products in the order of `ids`, each once.
    @discardableResult
    func delete(ids: [String], vectorSequence: UInt64) throws -> [Product]
    /// Clears the fingerprints of `ids` so the next ingest re-embeds them; the generation stays.
    func markStale(ids: [String]) throws

    /// The products with these ids (with images in position order), keyed by id.
    func products(ids: [String]) throws -> [String: Product]
    /// Stored fingerprints of these ids; stale and unknown ids are absent.
    func fingerprints(ids: [String]) throws -> [String: String]
    /// Ids of the products of `source`, sorted by their UTF-8 bytes.
    func productIDs(source: String) throws -> [String]
    /// Every product id, sorted by UTF-8 bytes.
    func allProductIDs() throws -> [String]
    /// Every (product, image) pair, sorted by product then image (UTF-8 bytes).
    func imageKeys() throws -> [(product: String, image: String)]
    /// Every image with its blob key and its product's filter attributes, in ``imageKeys()`` order.
    func imageEntries() throws -> [ImageEntry]
    /// Every blob key an image references.
    func referencedBlobs() throws -> Set<BlobKey>
    /// Numbers of products and images.
    func counts() throws -> (products: Int, images: Int)
    /// Categories with their product counts, most first, then by value.
    func categories() throws -> [FacetCount]
    /// Markets with their product counts, most first, then by value.
    func markets() throws -> [FacetCount]
    /// Product ids whose name or description match the words of `query` (user text, never query
    /// syntax), best first; products matching every word, else any word; only products `filter`
    /// passes. Empty for no words.
    func textSearch(_ query: String, limit: Int, filter: ProductFilter) throws -> [String]
    /// For a long-lived reader (a server): keep what ranking full-text search needs in memory,
    /// kept in step with the catalog, where the backend's own ranking reads it from storage at
    /// every query. Results stay the same. Does nothing where the backend ranks fast enough.
    func keepTextSearchInMemory()

    // MARK: Bookkeeping

    /// The vector sequence recorded by the last write; 0 for a new catalog.
    func vectorSequence() throws -> UInt64
    /// Advances by one on every committed change readers should see; 0 for a new catalog.
    func generation() throws -> UInt64
    /// Time of the last commit; nil for a new catalog.
    func lastCommit() throws -> Date?
    /// Records `sequence` alone (reconciliation) and advances the generation.
    func setVectorSequence(_ sequence: UInt64) throws
    /// The model that produced the vectors, or nil.
    func modelRecord() throws -> ModelRecord?
    /// Records the model that produced the vectors and advances the generation.
    func setModelRecord(_ record: ModelRecord) throws
    /// The live index's name: `index` until a reindex swaps in `index-<n>`.
    func indexDirectoryName() throws -> String
    /// Generation, sequence, index name, model and text index, read in one transaction.
    func servingState() throws -> ServingState
    /// Switches readers to another index, its model and its sequence in one commit.
    func switchIndex(directory: String, model: ModelRecord, vectorSequence: UInt64) throws
    /// Records the live text index and its model (nil: none), advancing the generation.
    func setTextIndex(_ record: TextIndexRecord?) throws
    /// The backend's own consistency check: empty when sound, else descriptions of the damage.
    func integrityCheck() throws -> [String]
    /// Lets go of connections; later calls throw.
    func close() throws
}

extension Catalog {
    /// The product with this id and its images, or nil.
    public func product(id: String) throws -> Product? {
        try products(ids: [id])[id]
    }
}

/// A writer's hold on a store, released explicitly or when the process ends.
extension Catalog {
    /// The whole-catalog lease.
    public func acquireWriterLease(holder: String) throws -> any WriterLease {
        try acquireWriterLease(holder: holder, shard: nil)
    }
}

public protocol WriterLease: AnyObject, Sendable {
    func release()
}

extension WriterLock: WriterLease {}

/// Which backend fills a role, and where: what `vitrine stats` and `/readyz` name. `location`
/// never holds a password or a secret key.
public struct StoreBackend: Sendable, Equatable, Codable, CustomStringConvertible {
    /// `sqlite`, `postgres`, `files`, `s3`, `embedded`, …
    public var kind: String
    /// A path, or a URL without credentials.
    public var location: String

    public init(kind: String, location: String) {
        self.kind = kind
        self.location = location
    }

    public var description: String { "\(kind) \(location)" }
}

extension Catalog {
    public func keepTextSearchInMemory() {}

    /// ``textSearch(_:limit:filter:)`` over every product.
    public func textSearch(_ query: String, limit: Int) throws -> [String] {
        try textSearch(query, limit: limit, filter: ProductFilter())
    }
}

/// Which products a catalog query may return: those in one of `categories` (ids) when given, and
/// in `market` when given. An empty `categories` passes nothing.
public struct ProductFilter: Sendable, Equatable {
    public var categories: [String]?
    public var market: String?

    public init(categories: [String]? = nil, market: String? = nil) {
        self.categories = categories
        self.market = market
    }
}
