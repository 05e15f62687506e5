import Foundation
import Testing
import VitrineCatalog
@testable import VitrineEngine
import VitrineIndex
import VitrineSources

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

        // Without --prune a source that lists fewer products removes nothing.
        let plain = try await F.ingest(shrunk, into: dir, source: "shop-a")
        #expect(plain.pruned.isEmpty && plain.counts.unchanged == 2)
        #expect(try DataStore.openForReading(dir).catalog.allProductIDs() == ["a0", "a1", "a2", "a3", "b0"])

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

    /// A reader searching in a loop while products are removed and re-added in batches sees every
    /// batch whole: the set of products it finds is always one the writer committed. Removed by
    /// `delete`, or by an `ingest --prune` of the same source that no longer lists them.
    @Test(arguments: ["delete", "prune"])
    func aConcurrentReaderSeesRemovalsAsWholeChanges(removal: String) async throws {
        let dir = try F.scratch()
        let groupA = (0..<6).map { "a\($0)" }, groupB = (0..<6).map { "b\($0)" }
        let source = "shop"
        func entries(_ ids: [String], from offset: Int) -> [SourceEntry] {
            ids.enumerated().map { .item(F.item($1, photo: offset + $0, source: source)) }
        }
        _ = try await F.ingest(entries(groupA, from: 0) + entries(groupB, from: 6), into: dir, source: source)
        let reader = try F.searchEngine(dir)
        let all = Set(groupA + groupB), onlyB = Set(groupB)
        // The reader loops on a thread of its own: on the concurrency pool a blocking loop takes
        // one of its few threads, and two such loops (this test's two cases run in parallel)
        // would leave the writers none.
        let stop = Flag(), observations = Observations(), finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { finished.signal() }
            while !stop.isSet {
                do { observations.append(Set(try reader.search(text: "dress", page: SearchPage(k: 50)).results.map(\.id))) } catch {
                    observations.fail(error)
                    return
                }
                usleep(1_000)  // a reader, not a spinner: the rest of the suite shares these cores
            }
        }
        defer { stop.set() }  // also when a write throws
        for _ in 0..<4 {
            if removal == "delete" {
                let writer = try DataStore.openForWriting(dir, holder: "test")
                try writer.delete(ids: groupA)
                try writer.close()
            } else {
                let report = try await F.ingest(entries(groupB, from: 6), into: dir, prune: true, source: source)
                #expect(report.pruned == groupA)
            }
            try await Task.sleep(for: .milliseconds(30))
            _ = try await F.ingest(entries(groupA, from: 0), into: dir, batchSize: 6, source: source)
            try await Task.sleep(for: .milliseconds(30))
        }
        stop.set()
        await withCheckedContinuation { done in DispatchQueue.global().async { finished.wait(); done.resume() } }
        #expect(observations.error == nil, "the reader failed: \(String(describing: observations.error))")
        let observed = observations.sets
        #expect(observed.count > 10)
        for ids in observed { #expect(ids == all || ids == onlyB, "a partial state: \(ids.sorted())") }
        #expect(observed.contains(onlyB))
    }
}

/// What a reader thread saw: each search's set of product ids, or the error that stopped it.
final class Observations: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [Set<String>] = []
    private var failure: Error?
    var sets: [Set<String>] { lock.withLock { seen } }
    var error: Error? { lock.withLock { failure } }
    func append(_ ids: Set<String>) { lock.withLock { seen.append(ids) } }
    func fail(_ error: Error) { lock.withLock { failure = error } }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
