import Foundation
import GRDB

// Products and images: writes (each one transaction that also advances the generation) and reads.
//
// Lists of ids are bound as one JSON array and expanded with `json_each`, so every query is a
// single cached statement whatever the number of ids, with no limit on bound variables.

extension SQLiteCatalog {
    // MARK: - Writes

    /// Inserts or replaces `products` in one transaction.
    ///
    /// Each product's columns and its whole image set are replaced; its fingerprint becomes
    /// `fingerprints[id]` (nil, i.e. stale, when absent). The recorded vector-store sequence is set
    /// to `vectorSequence` and the generation advances by one, even for an empty batch. When a
    /// batch names a product twice, the last one wins.
    ///
    /// - Throws: ``CatalogError/invalidArgument(_:)`` (see ``Product/validate()``) before anything is
    ///   written; ``CatalogError/diskFull(path:)``, ``CatalogError/readOnly(path:)``, ...
    public func upsert(_ batch: [Product], fingerprints: [String: String], vectorSequence: UInt64) throws {
        for product in batch { try product.validate() }
        let products = Product.lastOfEachID(batch)
        let sequence = try Self.storable(vectorSequence)
        let now = Date().timeIntervalSince1970
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let extras = try products.map { product -> String in
            if product.extra.isEmpty { return "{}" }
            guard let data = try? encoder.encode(product.extra) else {
                throw CatalogError.invalidArgument("product \(product.id): extra attributes cannot be encoded as JSON")
            }
            return String(decoding: data, as: UTF8.self)
        }
        let idList = try Self.jsonList(products.map(\.id))
        try write { db in
            let upsertProduct = try db.cachedStatement(sql: """
                INSERT INTO products(id, name, description, category, category_name, market, source,
                                     extra, fingerprint, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET
                    name = excluded.name, description = excluded.description,
                    category = excluded.category, category_name = excluded.category_name,
                    market = excluded.market, source = excluded.source, extra = excluded.extra,
                    fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
                """)
            let insertImage = try db.cachedStatement(sql: """
                INSERT INTO images(product_id, image_id, position, key, sha256, width, height)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            // One statement clears the old image sets of the whole batch.
            try db.cachedStatement(sql: "DELETE FROM images WHERE product_id IN (SELECT value FROM json_each(?))")
                .execute(arguments: [idList])
            for (product, extra) in zip(products, extras) {
                // Arguments are built to match the statements above: skip GRDB's per-call check.
                upsertProduct.setUncheckedArguments([
                    product.id, product.name, product.description, product.category, product.categoryName,
                    product.market, product.source, extra, fingerprints[product.id], now,
                ])
                try upsertProduct.execute()
                for (position, image) in product.images.enumerated() {
                    insertImage.setUncheckedArguments([
                        product.id, image.id, position, image.key.description, image.sha256, image.width, image.height,
                    ])
                    try insertImage.execute()
                }
            }
            try Self.recordCommit(db, vectorSequence: sequence)
        }
    }

    /// Removes the products with these ids and their images in one transaction, records
    /// `vectorSequence` and advances the generation.
    ///
    /// - Returns: the removed products with their images, in the order of `ids` (unknown ids are
    ///   ignored, repeated ids reported once).
    @discardableResult
    public func delete(ids: [String], vectorSequence: UInt64) throws -> [Product] {
        let sequence = try Self.storable(vectorSequence)
        let list = try Self.jsonList(ids)
        return try write { db in
            let found = try fetchProducts(db, idList: list)
            try db.execute(
                sql: "DELETE FROM products WHERE id IN (SELECT value FROM json_each(?))", arguments: [list])
            try Self.recordCommit(db, vectorSequence: sequence)
            var seen = Set<String>()
            return ids.compactMap { id in seen.insert(id).inserted ? found[id] : nil }
        }
    }

    /// Clears the fingerprints of `ids` so the next ingest re-embeds them (crash reconciliation).
    /// Advances neither the generation nor the commit time: what readers see does not change.
    public func markStale(ids: [String]) throws {
        let list = try Self.jsonList(ids)
        try write { db in
            try db.execute(
                sql: "UPDATE products SET fingerprint = NULL WHERE id IN (SELECT value FROM json_each(?))",
                arguments: [list])
        }
    }

    // MARK: - Reads

    /// The product with this id and its images, or nil.
    public func product(id: String) throws -> Product? {
        try products(ids: [id])[id]
    }

    /// The products with these ids (with images), keyed by id; unknown ids are absent.
    public func products(ids: [String]) throws -> [String: Product] {
        if ids.isEmpty { return [:] }
        let list = try Self.jsonList(ids)
        return try read { db in try fetchProducts(db, idList: list) }
    }

    /// Stored fingerprints of these ids; stale (cleared) and unknown ids are absent.
    public func fingerprints(ids: [String]) throws -> [String: String] {
        if ids.isEmpty { return [:] }
        let list = try Self.jsonList(ids)
        return try read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT id, fingerprint FROM products
                WHERE id IN (SELECT value FROM json_each(?)) AND fingerprint IS NOT NULL
                """)
            var result: [String: String] = [:]
            let rows = try Row.fetchCursor(statement, arguments: [list])
            while let row = try rows.next() {
                result[try row.decode(String.self, atIndex: 0)] = try row.decode(String.self, atIndex: 1)
            }
            return result
        }
    }

    /// Ids of the products of `source`, sorted by their UTF-8 bytes.
    public func productIDs(source: String) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT id FROM products WHERE source = ? ORDER BY id", arguments: [source])
        }
    }

    /// Every product id, sorted by UTF-8 bytes.
    public func allProductIDs() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT id FROM products ORDER BY id") }
    }

    /// Every (product id, image id) pair, sorted by product then image (UTF-8 byte order):
    /// what the vector index should hold, for reconciliation.
    public func imageKeys() throws -> [(product: String, image: String)] {
        try read { db in
            var keys: [(product: String, image: String)] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT product_id, image_id FROM images ORDER BY product_id, image_id")
            while let row = try rows.next() {
                keys.append((try row.decode(String.self, atIndex: 0), try row.decode(String.self, atIndex: 1)))
            }
            return keys
        }
    }

    /// Every blob key an image row references (for garbage collection of the blob store).
    public func referencedBlobs() throws -> Set<BlobKey> {
        try read { db in
            var keys = Set<BlobKey>()
            let rows = try String.fetchCursor(db, sql: "SELECT DISTINCT key FROM images")
            while let text = try rows.next() {
                guard let key = BlobKey(text) else {
                    throw CatalogError.corrupted(path: path, reason: "an image row has an invalid blob key \"\(text)\"")
                }
                keys.insert(key)
            }
            return keys
        }
    }

    /// Numbers of products and images.
    public func counts() throws -> (products: Int, images: Int) {
        try read { db in
            let row = try Row.fetchOne(db, sql: "SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM images)")
            guard let row else { return (0, 0) }
            return (try row.decode(Int.self, atIndex: 0), try row.decode(Int.self, atIndex: 1))
        }
    }

    /// Categories with their product counts, most products first, then by id. The name is one
    /// of the names recorded for the category (sources normally give one).
    public func categories() throws -> [FacetCount] {
        try facet(column: "category", nameColumn: "category_name")
    }

    /// Markets with their product counts, most products first, then by code.
    public func markets() throws -> [FacetCount] {
        try facet(column: "market", nameColumn: nil)
    }

    private func facet(column: String, nameColumn: String?) throws -> [FacetCount] {
        let name = nameColumn.map { "max(\($0))" } ?? "NULL"
        return try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(column), \(name), count(*) AS n FROM products
                WHERE \(column) IS NOT NULL GROUP BY \(column) ORDER BY n DESC, \(column)
                """)
            return try rows.map { row in
                FacetCount(
                    value: try row.decode(String.self, atIndex: 0), name: try row.decode(String?.self, atIndex: 1),
                    count: try row.decode(Int.self, atIndex: 2))
            }
        }
    }

    // MARK: - Helpers

    /// Products (with images) whose ids are in the JSON array `idList`.
    func fetchProducts(_ db: Database, idList: String) throws -> [String: Product] {
        let productStatement = try db.cachedStatement(sql: """
            SELECT id, name, description, category, category_name, market, source, extra
            FROM products WHERE id IN (SELECT value FROM json_each(?))
            """)
        let imageStatement = try db.cachedStatement(sql: """
            SELECT product_id, image_id, key, sha256, width, height FROM images
            WHERE product_id IN (SELECT value FROM json_each(?)) ORDER BY product_id, position
            """)
        var products: [String: Product] = [:]
        let decoder = JSONDecoder()
        let productRows = try Row.fetchCursor(productStatement, arguments: [idList])
        while let row = try productRows.next() {
            let id = try row.decode(String.self, atIndex: 0)
            let extraText = try row.decode(String.self, atIndex: 7)
            guard let extra = try? decoder.decode([String: String].self, from: Data(extraText.utf8)) else {
                throw CatalogError.corrupted(path: path, reason: "product \(id) has invalid extra JSON")
            }
            products[id] = Product(
                id: id, name: try row.decode(String.self, atIndex: 1),
                description: try row.decode(String.self, atIndex: 2),
                category: try row.decode(String?.self, atIndex: 3),
                categoryName: try row.decode(String?.self, atIndex: 4),
                market: try row.decode(String?.self, atIndex: 5),
                source: try row.decode(String.self, atIndex: 6), extra: extra)
        }
        let imageRows = try Row.fetchCursor(imageStatement, arguments: [idList])
        while let row = try imageRows.next() {
            let productID = try row.decode(String.self, atIndex: 0)
            let imageID = try row.decode(String.self, atIndex: 1)
            let keyText = try row.decode(String.self, atIndex: 2)
            guard let key = BlobKey(keyText) else {
                throw CatalogError.corrupted(
                    path: path, reason: "image \(imageID) of product \(productID) has an invalid blob key \"\(keyText)\"")
            }
            var image = ProductImage(
                id: imageID, key: key, width: try row.decode(Int.self, atIndex: 4),
                height: try row.decode(Int.self, atIndex: 5))
            image.sha256 = try row.decode(String.self, atIndex: 3)
            products[productID]?.images.append(image)
        }
        return products
    }

    /// `ids` as a JSON array, the single argument of the `json_each` queries.
    static func jsonList(_ ids: [String]) throws -> String {
        guard let data = try? JSONEncoder().encode(ids) else {
            throw CatalogError.invalidArgument("product ids cannot be encoded as JSON")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
