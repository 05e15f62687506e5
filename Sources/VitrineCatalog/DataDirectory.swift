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
    /// The vector index directory: `url/index`.
    public var indexURL: URL { url.appendingPathComponent("index", isDirectory: true) }
    /// The content-addressed image store: `url/images`.
    public var imagesURL: URL { url.appendingPathComponent("images", isDirectory: true) }
    /// Ingest reports and checkpoints: `url/ingest`.
    public var ingestURL: URL { url.appendingPathComponent("ingest", isDirectory: true) }
    /// The single-writer lock file: `url/writer.lock`.
    public var writerLockURL: URL { url.appendingPathComponent("writer.lock") }

    /// Whether the directory holds a catalog (`catalog.sqlite` exists).
    public var exists: Bool { FileManager.default.fileExists(atPath: catalogURL.path) }
}
