import Foundation
import Testing
import VitrineCatalog
@testable import VitrineEngine
import VitrineIndex

/// Removing products: `delete`, `ingest --prune`, and what a concurrent reader sees meanwhile.
@Suite struct LifecycleTests {
    typealias F = EngineFixtures

    @Test func deleteRemovesFromCatalogAndIndexAndIgnoresUnknownIDs() async throws {
        let dir = try F.scratch()
        _ = try await F.ingest((0..<5).map { .item(F.item("p\($0)", photo: $0, images: 2)) }, into: dir)
        let writer = try DataStore.openForWriting(dir, holder: "test")
        let removed = try writer.delete(ids: ["p1", "p3", "nope"])
        #expect(removed.map(\.id) == ["p1", "p3"])
        #expect(removed.allSatisfy { $0.images.count == 2 })
        try writer.close()
        let store = try DataStore.openForReading(dir)
        #expect(try store.catalog.allProductIDs() == ["p0", "p2", "p4"])
        let keys = try store.keySets()
        #expect(keys.catalog == keys.index)
        #expect(keys.index.count == 6)
        #expect(try store.verify().isEmpty)
    }

    @Test func pruneRemovesOnlyWhatItsSourceNoLongerLists() async throws {
        let dir = try F.scratch()
        _ = try await F.ingest((0..<4).map { .item(F.item("a\($0)", photo: $0, source: "shop-a")) }, into: dir, source: "shop-a")
        _ = try await F.ingest([.item(F.item("b0", photo: 5, source: "shop-b"))], into: dir, source: "shop-b")
        let shrunk: [SourceEntry] = [0, 2].map { .item(F.item("a\($0)", photo: $0, source: "shop-a")) }

        let dry = try await F.ingest(shrunk, into: dir, prune: true, dryRun: true, source: "shop-a")
        #expect(dry.pruned == ["a1", "a3"])
        #expect(try DataStore.openForReading(dir).catalog.allProductIDs() == ["a0", "a1", "a2", "a3", "b0"])

        let real = try await F.ingest(shrunk, into: dir, prune: true, source: "shop-a")
        #expect(real.pruned == ["a1", "a3"])
        #expect(real.counts.unchanged == 2)
        let store = try DataStore.openForReading(dir)
        #expect(try store.catalog.allProductIDs() == ["a0", "a2", "b0"])
        #expect(try store.verify().isEmpty)

        // A rejected row without an id might be a listed product: pruning is skipped, not guessed.
        let withBadRow = shrunk.prefix(1) + [.rejected(ReaderRejection(location: "x.csv:3", reason: "bad row"))]
        let skipped = try await F.ingest(Array(withBadRow), into: dir, prune: true, source: "shop-a")
        #expect(skipped.pruned.isEmpty)
        #expect(skipped.pruneSkipped?.contains("x.csv:3") == true)
        #expect(try DataStore.openForReading(dir).catalog.allProductIDs() == ["a0", "a2", "b0"])
    }

    /// A reader searching in a loop while products are deleted and re-added in batches sees every
    /// batch whole: the set of products it finds is always one the writer committed.
    @Test func aConcurrentReaderSeesDeletesAsWholeChanges() async throws {
        let dir = try F.scratch()
        let groupA = (0..<6).map { "a\($0)" }, groupB = (0..<6).map { "b\($0)" }
        _ = try await F.ingest((groupA + groupB).enumerated().map { .item(F.item($1, photo: $0)) }, into: dir)
        let reader = try F.searchEngine(dir)
        let all = Set(groupA + groupB), onlyB = Set(groupB)
        let stop = Flag()
        let observer = Task.detached { () -> [Set<String>] in
            var seen: [Set<String>] = []
            while !stop.isSet {
                let ids = Set(try reader.search(text: "dress", page: SearchPage(k: 50)).results.map(\.id))
                seen.append(ids)
            }
            return seen
        }
        for _ in 0..<4 {
            let writer = try DataStore.openForWriting(dir, holder: "test")
            try writer.delete(ids: groupA)
            try writer.close()
            try await Task.sleep(for: .milliseconds(30))
            _ = try await F.ingest(groupA.enumerated().map { .item(F.item($1, photo: $0)) }, into: dir, batchSize: 6)
            try await Task.sleep(for: .milliseconds(30))
        }
        stop.set()
        let observed = try await observer.value
        #expect(observed.count > 10)
        for ids in observed { #expect(ids == all || ids == onlyB, "a partial state: \(ids.sorted())") }
        #expect(observed.contains(onlyB))
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
