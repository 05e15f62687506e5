import Foundation
import Testing
@testable import VitrineCatalog

/// A fresh directory under the system temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vitrine-catalog-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func cleanup() {
        // Tests may have made parts read-only.
        chmod(url.path, 0o755)
        try? FileManager.default.removeItem(at: url)
    }
}

/// A syntactically valid blob key derived from a small number (tests of the catalog need keys,
/// not blobs).
func blobKey(_ n: Int, ext: String = "jpg") -> BlobKey {
    let hex = String(format: "%064x", n)
    guard let key = BlobKey("\(hex).\(ext)") else { fatalError("test key \(hex) invalid") }
    return key
}

func sampleProduct(
    _ id: String, name: String? = nil, description: String = "", category: String? = "dress",
    categoryName: String? = "Dresses", market: String? = "cz", source: String = "glami",
    extra: [String: String] = [:], images: Int = 2, keyBase: Int = 0
) -> Product {
    Product(
        id: id, name: name ?? "Product \(id)", description: description, category: category,
        categoryName: categoryName, market: market, source: source, extra: extra,
        images: (0..<images).map { ProductImage(id: "\($0)", key: blobKey(keyBase + $0), width: 100 + $0, height: 200) })
}

/// Runs `body` and returns the `CatalogError` it threw (nil when it did not throw one).
func catalogError(_ body: () throws -> Void) -> CatalogError? {
    do {
        try body()
        return nil
    } catch let error as CatalogError {
        return error
    } catch {
        Issue.record("expected a CatalogError, got \(type(of: error)): \(error)")
        return nil
    }
}

/// Whether the tests run as root, which ignores file permissions.
var runningAsRoot: Bool { getuid() == 0 }
