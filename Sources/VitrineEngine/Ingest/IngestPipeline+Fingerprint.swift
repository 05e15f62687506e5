import Crypto
import Foundation
import VitrineCatalog
import VitrineCore

extension IngestPipeline {
    /// Hash of everything stored about a product: its record and its images' ids and bytes. Equal
    /// fingerprints mean a re-run has nothing to do for the product.
    static func fingerprint(_ product: Product, images: [(id: String, sha256: String)]) -> String {
        var hasher = SHA256()
        func field(_ text: String?) {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ; nil differs from "".
            guard let text else { hasher.update(data: Data([0xFF])); return }
            var length = UInt64(text.utf8.count).littleEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Data(text.utf8))
        }
        field(product.id); field(product.name); field(product.description); field(product.category)
        field(product.categoryName); field(product.market); field(product.source)
        for key in product.extra.keys.sorted() { field(key); field(product.extra[key]) }
        field("images")
        for image in images { field(image.id); field(image.sha256) }
        return Hex.encode(hasher.finalize())
    }
}
