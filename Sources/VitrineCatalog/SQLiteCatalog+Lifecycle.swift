import Foundation
import GRDB

// What the lifecycle commands (reindex, backup, verify) read from the catalog as a whole.

/// One stored image with what its vector is filed under: the key of its blob and the product's
/// filter attributes.
public struct ImageEntry: Sendable, Equatable {
    public var product: String
    public var image: String
    public var key: BlobKey
    public var category: String?
    public var market: String?

    public init(product: String, image: String, key: BlobKey, category: String?, market: String?) {
        self.product = product
        self.image = image
        self.key = key
        self.category = category
        self.market = market
    }
}

extension SQLiteCatalog {
    /// Every image of every product, sorted by product then image (UTF-8 byte order), with its
    /// blob key and the product's category and market: what re-embedding needs.
    public func imageEntries() throws -> [ImageEntry] {
        try read { db in
            var entries: [ImageEntry] = []
            let rows = try Row.fetchCursor(db, sql: """
                SELECT i.product_id, i.image_id, i.key, p.category, p.market
                FROM images i JOIN products p ON p.id = i.product_id
                ORDER BY i.product_id, i.image_id
                """)
            while let row = try rows.next() {
                let product = try row.decode(String.self, atIndex: 0)
                let image = try row.decode(String.self, atIndex: 1)
                let text = try row.decode(String.self, atIndex: 2)
                guard let key = BlobKey(text) else {
                    throw CatalogError.corrupted(path: path, reason: "image \(image) of product \(product) has an invalid blob key \"\(text)\"")
                }
                entries.append(ImageEntry(
                    product: product, image: image, key: key,
                    category: try row.decode(String?.self, atIndex: 3), market: try row.decode(String?.self, atIndex: 4)))
            }
            return entries
        }
    }

    /// Copies the catalog to a new SQLite file at `destination` with SQLite's online backup: the
    /// copy is one committed state, taken while writers and readers go on.
    ///
    /// - Throws: ``CatalogError/invalidArgument(_:)`` when `destination` exists, otherwise the
    ///   translated SQLite error naming the file.
    public func backup(to destination: URL) throws {
        let target = destination.standardizedFileURL.path
        guard !FileManager.default.fileExists(atPath: target) else {
            throw CatalogError.invalidArgument("\(target) already exists; a catalog backup is written to a new file")
        }
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: target)
        } catch {
            throw Self.translate(error, path: target)
        }
        do {
            // The whole copy in one step: pool readers work on a snapshot, so the copy is the state
            // of one commit even while the writer goes on.
            try pool.backup(to: queue)
            try queue.close()
        } catch {
            try? queue.close()
            throw Self.translate(error, path: target)
        }
    }

    /// SQLite's own check of the file (`PRAGMA integrity_check`): an empty list when the database
    /// is sound, else SQLite's descriptions of the damage (at most 100).
    public func integrityCheck() throws -> [String] {
        try read { db in
            let rows = try String.fetchAll(db, sql: "PRAGMA integrity_check(100)")
            return rows == ["ok"] ? [] : rows
        }
    }
}
