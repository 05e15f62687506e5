import Foundation
import VitrineCatalog

/// One image of a source item, not yet stored: its id within the product, where it comes from
/// (for reports), and how to fetch its bytes. Fetching is deferred so the pipeline can bound how
/// many images are in memory at once and fetch them in parallel.
public struct SourceImage: Sendable {
    /// Id of the image within its product (GLAMI's `image_id`, or "0", "1", ... by position).
    public var id: String
    /// Where the bytes come from, for messages: a path, `zip:member`, a URL.
    public var origin: String
    /// Returns the encoded image bytes (JPEG/PNG/WebP). Throws ``ReaderError`` with the origin
    /// and the reason when missing, too large, unreachable, ...
    public var load: @Sendable () async throws -> Data

    public init(id: String, origin: String, load: @escaping @Sendable () async throws -> Data) {
        self.id = id
        self.origin = origin
        self.load = load
    }
}

/// A product as a source describes it: the record (``Product`` without stored images) and its
/// images to fetch.
public struct SourceItem: Sendable {
    /// The record; `images` is empty here and filled by the pipeline once the bytes are stored.
    public var product: Product
    public var images: [SourceImage]

    public init(product: Product, images: [SourceImage]) {
        self.product = product
        self.images = images
    }
}

/// What a reader yields: an item, or a row it could not read (malformed CSV row, non-UTF-8
/// text, missing id, ...) with where it was and why. Bad rows never stop a reader; only a
/// source that cannot be read at all (missing file, not a zip) throws.
public enum SourceEntry: Sendable {
    case item(SourceItem)
    case rejected(ReaderRejection)
}

/// A row or file a reader skipped, for the ingest report.
public struct ReaderRejection: Sendable, Equatable, Codable {
    /// Where: `file:line`, a path, a zip member.
    public var location: String
    /// The product id when it could be read, else nil.
    public var id: String?
    public var reason: String

    public init(location: String, id: String? = nil, reason: String) {
        self.location = location
        self.id = id
        self.reason = reason
    }
}

/// A dataset: GLAMI-1M, a folder of images, a CSV/JSONL manifest, Fashion-MNIST. A reader streams
/// its entries in a stable order (so `--limit N` takes the same N every run) and holds at most a
/// few rows in memory whatever the size of the source.
public protocol DatasetReader: Sendable {
    /// The `source` value the reader's products carry (e.g. `glami:/data/GLAMI-1M-dataset`):
    /// `ingest --prune` removes products of this source that the reader no longer lists.
    var source: String { get }
    /// The entries, in source order. The stream ends with an error only when the source as a
    /// whole is unreadable.
    func entries() -> AsyncThrowingStream<SourceEntry, Error>
    /// How many products the source lists, when it can tell cheaply (for a progress bar's ETA);
    /// nil when only a full read would tell.
    func expectedCount() -> Int?
}

extension DatasetReader {
    public func expectedCount() -> Int? { nil }
}
