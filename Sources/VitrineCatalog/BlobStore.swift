import Foundation

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
        guard parts.count == 2, parts[0].utf8.count == 64,
              parts[0].utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
              Self.extensions.contains(String(parts[1])) else { return nil }
        sha256 = String(parts[0])
        ext = String(parts[1])
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

/// A store of immutable, content-addressed blobs (product images). The embedded default is
/// ``FileBlobStore``; an S3 store comes later behind the same protocol.
public protocol BlobStore: Sendable {
    /// Stores `data` (idempotent: the same bytes give the same key and are written once).
    /// `ext` must be one of ``BlobKey/extensions``.
    func put(_ data: Data, ext: String) throws -> BlobKey
    /// The bytes of `key`; throws ``CatalogError/blobNotFound(_:)`` when absent.
    func get(_ key: BlobKey) throws -> Data
    func contains(_ key: BlobKey) throws -> Bool
    /// Removes `key` (absent keys are ignored).
    func delete(_ key: BlobKey) throws
    /// Every stored key, sorted.
    func keys() throws -> [BlobKey]
}
