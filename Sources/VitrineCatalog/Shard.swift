import Crypto
import Foundation

/// One of `count` disjoint parts of a source, `index` in `0..<count` (`vitrine ingest --shard
/// i/n`): a product belongs to the shard its id hashes to, the same on every machine, so `n`
/// workers given `0/n` … `n-1/n` ingest every product exactly once between them. All workers of a
/// source must use the same `n`.
public struct Shard: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, count <= 4096, index >= 0, index < count else {
            throw CatalogError.invalidArgument("--shard \(index)/\(count): expected i/n with n from 1 to 4096 and i from 0 to n-1")
        }
        self.index = index
        self.count = count
    }

    /// Parses `i/n`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw CatalogError.invalidArgument("--shard \"\(text)\": expected i/n, such as 0/4")
        }
        try self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// Whether product `id` belongs to this shard: the first 8 bytes of its id's SHA-256, modulo
    /// the count.
    public func contains(productID id: String) -> Bool {
        Self.shard(of: id, count: count) == index
    }

    /// The shard of `id` among `count`.
    public static func shard(of id: String, count: Int) -> Int {
        let digest = Array(SHA256.hash(data: Data(id.utf8)))
        let prefix = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Int(prefix % UInt64(count))
    }
}
