import Crypto
import Foundation
import VitrineCore

/// The key of a stored blob: the SHA-256 of its bytes and a file extension from a fixed list,
/// written `<sha256>.<ext>`. A key is never a path a client controls: parsing accepts exactly
/// 64 lowercase hex digits, a dot and a known extension.
public struct BlobKey: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let sha256: String
    public let ext: String

    /// Extensions a blob may carry (the image formats Vitrine decodes, plus `bin`).
    public static let extensions: Set<String> = ["jpg", "png", "webp", "bin"]

    /// Parses `<64 hex>.<ext>`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, Hex.isLowercaseHex(parts[0], count: 64),
              Self.extensions.contains(String(parts[1])) else { return nil }
        sha256 = String(parts[0])
        ext = String(parts[1])
    }

    /// The key of `content` stored with extension `ext`; throws
    /// ``CatalogError/invalidArgument(_:)`` for an extension not in ``extensions``.
    public init(_ content: HashedData, ext: String) throws {
        guard Self.extensions.contains(ext) else {
            throw CatalogError.invalidArgument(
                "blob extension \"\(ext)\" is not one of \(Self.extensions.sorted().joined(separator: ", "))")
        }
        sha256 = content.sha256
        self.ext = ext
    }

    public var description: String { "\(sha256).\(ext)" }

    /// The media type of the blob's bytes, from its extension (what `Content-Type` says of it,
    /// whether the server or the object store sends it).
    public var mediaType: String {
        switch ext {
        case "jpg": "image/jpeg"
        case "png": "image/png"
        case "webp": "image/webp"
        default: "application/octet-stream"
        }
    }

    public static func < (a: BlobKey, b: BlobKey) -> Bool { a.description < b.description }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let key = BlobKey(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a blob key: \(text)"))
        }
        self = key
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Bytes with their SHA-256, hashed once when made. Ingest needs the digest (for the product's
/// fingerprint) before it knows the file extension, and a store needs it for the key; the only
/// way to make one is from the bytes, so a key made from it always names its content.
public struct HashedData: Sendable {
    public let data: Data
    /// 64 lowercase hex digits.
    public let sha256: String

    public init(_ data: Data) {
        self.data = data
        sha256 = Hex.encode(SHA256.hash(data: data))
    }
}

/// The blob role of the storage boundary: immutable, content-addressed blobs (product photos and
/// their thumbnails). ``FileBlobStore`` keeps them in the data directory, `S3BlobStore` (module
/// VitrineS3) in a bucket. Calls block the calling thread.
public protocol BlobStore: Sendable {
    /// Which backend this is and where (never a secret).
    var backend: StoreBackend { get }
    /// Stores `content` (idempotent: the same bytes give the same key and are written once).
    /// `ext` must be one of ``BlobKey/extensions``.
    func put(_ content: HashedData, ext: String) throws -> BlobKey
    /// The bytes of `key`; throws ``CatalogError/blobNotFound(_:)`` when absent.
    func get(_ key: BlobKey) throws -> Data
    func contains(_ key: BlobKey) throws -> Bool
    /// The stored size of `key` in bytes, nil when absent.
    func size(of key: BlobKey) throws -> Int?
    /// Where `key` is kept, for messages: a path or a URL (without credentials).
    func location(of key: BlobKey) -> String
    /// Removes `key` (absent keys are ignored).
    func delete(_ key: BlobKey) throws
    /// Every stored key, sorted.
    func keys() throws -> [BlobKey]
    /// Removes what interrupted writes left behind (temporary files, unfinished uploads) and
    /// returns how many; the blobs themselves are untouched.
    func removeLeftovers() throws -> Int
    func derived(named name: String) throws -> Data?
    func storeDerived(_ data: Data, named name: String) throws
    func directURL(for key: BlobKey) -> URL?
}

extension BlobStore {
    /// A file derived from blobs (a thumbnail), stored beside them under `name` so every replica
    /// makes it once; nil when absent or when the store keeps no derived files (the default).
    public func derived(named name: String) throws -> Data? { nil }
    /// Stores a derived file under `name` (the default keeps nothing).
    public func storeDerived(_ data: Data, named name: String) throws {}
    /// A URL a client may fetch `key` from directly (a presigned S3 URL), or nil to have the
    /// server send the bytes (the default).
    public func directURL(for key: BlobKey) -> URL? { nil }

    /// Stores `data`, hashing it first.
    public func put(_ data: Data, ext: String) throws -> BlobKey {
        try put(HashedData(data), ext: ext)
    }
}
