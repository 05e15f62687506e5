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

/// A store of immutable, content-addressed blobs (product images). The embedded default is
/// ``FileBlobStore``; an S3 store comes later behind the same protocol.
public protocol BlobStore: Sendable {
    /// Stores `content` (idempotent: the same bytes give the same key and are written once).
    /// `ext` must be one of ``BlobKey/extensions``.
    func put(_ content: HashedData, ext: String) throws -> BlobKey
    /// The bytes of `key`; throws ``CatalogError/blobNotFound(_:)`` when absent.
    func get(_ key: BlobKey) throws -> Data
    func contains(_ key: BlobKey) throws -> Bool
    /// Removes `key` (absent keys are ignored).
    func delete(_ key: BlobKey) throws
    /// Every stored key, sorted.
    func keys() throws -> [BlobKey]
}

extension BlobStore {
    /// Stores `data`, hashing it first.
    public func put(_ data: Data, ext: String) throws -> BlobKey {
        try put(HashedData(data), ext: ext)
    }
}
