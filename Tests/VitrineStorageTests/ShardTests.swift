import Testing
import VitrineCatalog

/// `--shard i/n`: a product's shard is the first 8 bytes of its id's SHA-256 modulo n, the same
/// on every machine; shards are disjoint and cover the source.
struct ShardTests {
    /// Python's `int.from_bytes(hashlib.sha256(id.encode()).digest()[:8], "big") % 3` for these
    /// ids: the partition agrees with an independent implementation.
    @Test func thePartitionMatchesPythonsHashlib() {
        let ids = (0..<30).map { "p\($0)" } + ["šaty-7", "", "a/b"]
        let python = [1, 0, 1, 1, 2, 1, 1, 0, 1, 2, 1, 2, 1, 0, 0, 1, 1, 0, 1, 2, 1, 0, 1, 0, 1, 1, 1, 0, 2, 2, 0, 1, 2]
        #expect(ids.map { Shard.shard(of: $0, count: 3) } == python)
    }

    @Test func shardsAreDisjointAndCoverEveryID() throws {
        let shards = try (0..<4).map { try Shard(index: $0, count: 4) }
        for id in (0..<500).map({ "product-\($0)" }) {
            #expect(shards.filter { $0.contains(productID: id) }.count == 1)
        }
        #expect(try Shard(parsing: "3/4") == shards[3] && shards[3].description == "3/4")
    }

    @Test(arguments: ["4/4", "-1/4", "0/0", "1", "a/b", "1/2/3", "", "0/5000"])
    func badShardsAreRefused(text: String) {
        #expect(throws: CatalogError.self) { try Shard(parsing: text) }
    }
}
