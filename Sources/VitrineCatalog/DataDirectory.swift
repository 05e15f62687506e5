import Foundation

/// Layout of a data directory: `catalog.sqlite`, `index/`, `images/ab/cd/<sha256>.<ext>`,
/// `ingest/` and `writer.lock`. Only names paths; creates nothing.
public struct DataDirectory: Sendable, Equatable {
    /// The directory itself.
    public let url: URL

    public init(_ url: URL) {
        self.url = url.standardizedFileURL
    }

    /// The product catalog (SQLite): `url/catalog.sqlite`.
    public var catalogURL: URL { url.appendingPathComponent("catalog.sqlite") }
    /// The first vector index directory: `url/index`. The live one is the catalog's
    /// ``SQLiteCatalog/indexDirectoryName()`` (a reindex builds `index-<n>` beside it and swaps).
    public var indexURL: URL { url.appendingPathComponent("index", isDirectory: true) }

    /// The index directory called `name` (see ``isIndexDirectoryName(_:)``).
    public func indexURL(named name: String) -> URL { url.appendingPathComponent(name, isDirectory: true) }

    /// Whether `name` is a name an index directory may have: `index` or `index-<digits>`. The
    /// catalog stores the live one's name; anything else there (a path, `..`) is refused.
    public static func isIndexDirectoryName(_ name: String) -> Bool {
        isName(name, family: "index")
    }

    /// Whether `name` is a name the text index may have: `text` or `text-<digits>` (the products'
    /// text embeddings, beside the photos' index).
    public static func isTextIndexName(_ name: String) -> Bool {
        isName(name, family: "text")
    }

    /// `family` or `family-<digits>`.
    private static func isName(_ name: String, family: String) -> Bool {
        if name == family { return true }
        guard name.hasPrefix(family + "-") else { return false }
        let digits = name.utf8.dropFirst(family.utf8.count + 1)
        return !digits.isEmpty && digits.count <= 18 && digits.allSatisfy { (48...57).contains($0) }
    }
    /// The content-addressed image store: `url/images`.
    public var imagesURL: URL { url.appendingPathComponent("images", isDirectory: true) }
    /// Ingest reports and checkpoints: `url/ingest`.
    public var ingestURL: URL { url.appendingPathComponent("ingest", isDirectory: true) }
    /// The single-writer lock file: `url/writer.lock`.
    public var writerLockURL: URL { url.appendingPathComponent("writer.lock") }

    /// Whether the directory holds a catalog (`catalog.sqlite` exists).
    public var exists: Bool { FileManager.default.fileExists(atPath: catalogURL.path) }
}
