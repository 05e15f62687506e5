import Foundation

// What every catalog refuses and how it treats repeated ids: one set of rules, so the backends agree.

extension Product {
    /// `batch` without the earlier occurrences of repeated ids (the image sets are cleared once
    /// per batch, so a repeated product would insert its images twice).
    public static func lastOfEachID(_ batch: [Product]) -> [Product] {
        var last: [String: Int] = [:]
        for (index, product) in batch.enumerated() { last[product.id] = index }
        if last.count == batch.count { return batch }
        return batch.enumerated().compactMap { last[$1.id] == $0 ? $1 : nil }
    }

    /// Checks what ``Catalog/upsert(_:fingerprints:vectorSequence:)`` would refuse, so a pipeline
    /// can reject one bad record instead of failing its batch: an empty id, a NUL character in any
    /// text (SQLite's C strings would cut it there; PostgreSQL's text cannot hold one), two images
    /// with one id, negative sizes, or an image whose `sha256` differs from its key.
    public func validate() throws {
        let product = self
        func fail(_ reason: String) -> CatalogError {
            .invalidArgument("product \"\(product.id.replacingOccurrences(of: "\0", with: "\\0"))\": \(reason)")
        }
        guard !product.id.isEmpty else { throw fail("the id is empty") }
        let texts: [(String, String?)] = [
            ("id", product.id), ("name", product.name), ("description", product.description),
            ("category", product.category), ("category name", product.categoryName),
            ("market", product.market), ("source", product.source),
        ]
        for case let (field, text?) in texts where text.utf8.contains(0) {
            throw fail("the \(field) contains a NUL character")
        }
        for (key, value) in product.extra where key.utf8.contains(0) || value.utf8.contains(0) {
            throw fail("extra attribute \"\(key)\" contains a NUL character")
        }
        var imageIDs = Set<String>()
        for image in product.images {
            guard !image.id.utf8.contains(0) else { throw fail("an image id contains a NUL character") }
            guard imageIDs.insert(image.id).inserted else { throw fail("two images have the id \"\(image.id)\"") }
            guard image.width >= 0, image.height >= 0 else {
                throw fail("image \"\(image.id)\" has a negative size \(image.width)×\(image.height)")
            }
            guard image.sha256 == image.key.sha256 else {
                throw fail("image \"\(image.id)\" has sha256 \(image.sha256) but key \(image.key)")
            }
        }
    }
}
