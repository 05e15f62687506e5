import Crypto
import Foundation
import VitrineCore

/// How a blob's name (its etag) commits to its content. LFS files are named by the SHA-256 of
/// their bytes; small files kept in git itself are named by their git blob id, the SHA-1 of
/// `"blob <size>\0"` followed by the bytes.
enum BlobDigest: Sendable, Equatable {
    case sha256
    case gitBlobSHA1

    /// The digest an etag is, or `nil` when it is not a hash we can check.
    init?(etag: String) {
        if Hex.isLowercaseHex(etag, count: 64) {
            self = .sha256
        } else if Hex.isLowercaseHex(etag, count: 40) {
            self = .gitBlobSHA1
        } else {
            return nil
        }
    }

    var name: String {
        switch self {
        case .sha256: "sha256"
        case .gitBlobSHA1: "git blob sha1"
        }
    }

    /// Hashes a file in fixed-size chunks, so a multi-gigabyte blob never sits in memory.
    func hex(ofFileAt url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        switch self {
        case .sha256:
            var hasher = SHA256()
            try Self.forEachChunk(handle) { hasher.update(data: $0) }
            return Hex.encode(hasher.finalize())
        case .gitBlobSHA1:
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: 0)
            var hasher = Insecure.SHA1()
            hasher.update(data: Data("blob \(size)\0".utf8))
            try Self.forEachChunk(handle) { hasher.update(data: $0) }
            return Hex.encode(hasher.finalize())
        }
    }

    /// The etag of in-memory bytes (small files, tests).
    func hex(of data: Data) -> String {
        switch self {
        case .sha256:
            return Hex.encode(SHA256.hash(data: data))
        case .gitBlobSHA1:
            var hasher = Insecure.SHA1()
            hasher.update(data: Data("blob \(data.count)\0".utf8))
            hasher.update(data: data)
            return Hex.encode(hasher.finalize())
        }
    }

    private static func forEachChunk(_ handle: FileHandle, _ body: (Data) -> Void) throws {
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            body(chunk)
        }
    }
}
