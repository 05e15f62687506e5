import Foundation
import Testing
import VitrineCatalog
@testable import VitrineEngine
import VitrineIndex
import VitrineSources

/// `backup` and `restore`: a copy taken while a writer and readers are busy is the source's state
/// at one sequence number, and restores to a directory that verifies.
@Suite struct BackupTests {
    typealias F = EngineFixtures

    /// A source that takes its time, so a backup lands between its batches.
    struct SlowReader: DatasetReader {
        let list: [SourceEntry]
        let source = "slow"
        func entries() -> AsyncThrowingStream<SourceEntry, Error> {
            let list = list
            return AsyncThrowingStream { continuation in
                let task = Task {
                    for entry in list {
                        try? await Task.sleep(for: .milliseconds(15))
                        continuation.yield(entry)
                    }
                    continuation.finish()
                }
                continuation.onTermination = { _ in task.cancel() }
            }
        }
    }

    static func allResults(_ engine: SearchEngine, _ query: String) throws -> [SearchResult] {
        try engine.search(text: query, page: SearchPage(k: SearchPage.maxK)).results
    }

    @Test func aBackupTakenDuringAnIngestRestoresToTheSourceStateAtItsSequence() async throws {
        let source = try F.scratch()
        let total = 30
        // Two images per product now and then, and shared photos.
        let entries: [SourceEntry] = (0..<total).map { .item(F.item("p\($0)", photo: $0, images: $0 % 4 == 0 ? 2 : 1, source: "slow")) }
        _ = try await F.ingest(Array(entries.prefix(2)), into: source, source: "slow")
        let writer = try DataStore.openForWriting(source, holder: "test")
        var options = IngestOptions()
        options.batchSize = 2
        let pipeline = try IngestPipeline(store: writer, encoder: IngestEncoder(F.encoders.image!), model: try F.modelRecord(), options: options)
        let ingest = Task { try await pipeline.run(SlowReader(list: entries)) }

        // A reader searching all along.
        let reader = try F.searchEngine(source)
        let stop = Flag()
        let searches = onThread { () -> Int in
            var count = 0
            while !stop.isSet {
                guard (try? reader.search(text: "dress")) != nil else { return -1 }
                count += 1
            }
            return count
        }
        while try reader.store.catalog.counts().products < 8 { try await Task.sleep(for: .milliseconds(5)) }
        let backupURL = try F.scratch().url.appendingPathComponent("backup")
        let manifest = try Backup.create(from: source, to: backupURL)
        _ = try await ingest.value
        try writer.close()
        stop.set()
        #expect(await searches.value() > 0)

        #expect(manifest.products >= 8 && manifest.products < total, "the backup was not taken during the ingest")
        #expect(manifest.vectors == manifest.images)
        #expect(manifest.model?.weightsSHA256 == (try F.modelRecord()).weightsSHA256)
        let backedUp = try SQLiteCatalog(path: DataDirectory(backupURL).catalogURL, readOnly: true)
        let backedUpIDs = Set(try backedUp.allProductIDs())
        #expect(backedUpIDs.count == manifest.products)
        #expect(try backedUp.vectorSequence() == manifest.vectorSequence)

        let restored = try F.scratch()
        let report = try Backup.restore(backupURL, to: restored)
        #expect(report.products == manifest.products)
        #expect(try DataStore.verify(restored).isEmpty)

        // The source as it was at the backup's sequence: the products the backup's catalog holds,
        // with the vectors they had (the ingest only added products after it).
        let after = try DataStore.openForReading(source)
        let copy = try DataStore.openForReading(restored)
        #expect(Set(try copy.catalog.allProductIDs()) == backedUpIDs)
        let keys = try copy.keySets()
        #expect(keys.catalog == keys.index)
        for key in keys.index {
            #expect(try copy.vectors?.vector(for: key) == (try after.vectors?.vector(for: key)), "\(key)")
        }
        let sourceEngine = SearchEngine(store: after, text: F.encoders.text, image: F.encoders.image)
        let copyEngine = SearchEngine(store: copy, text: F.encoders.text, image: F.encoders.image)
        for query in ["dress", "red shoes", "a grey photo"] {
            let expected = try Self.allResults(sourceEngine, query).filter { backedUpIDs.contains($0.id) }
            #expect(try Self.allResults(copyEngine, query) == expected, "\(query)")
        }
    }

    /// A delete commits the catalog before the index: a backup in between leaves out the vectors
    /// the copied catalog no longer names, so the copy verifies.
    @Test func aBackupInTheMiddleOfADeleteLeavesOutTheDeletedVectors() async throws {
        let source = try F.scratch()
        _ = try await F.ingest((0..<5).map { .item(F.item("p\($0)", photo: $0, images: 2)) }, into: source)
        let writer = try DataStore.openForWriting(source, holder: "test")
        defer { try? writer.close() }
        // The first half of `delete(ids:)`: the catalog commit, before the index delete.
        try writer.catalog.delete(ids: ["p2"], vectorSequence: try writer.vectors!.lastSequence())

        let backupURL = try F.scratch().url.appendingPathComponent("backup")
        let manifest = try Backup.create(from: source, to: backupURL)
        #expect(manifest.droppedVectors == 2)
        #expect(manifest.vectors == 8)
        let restored = try F.scratch()
        try Backup.restore(backupURL, to: restored)
        #expect(try DataStore.verify(restored).isEmpty)
        #expect(try DataStore.openForReading(restored).catalog.allProductIDs() == ["p0", "p1", "p3", "p4"])
    }

    @Test func restoreRefusesANonEmptyDirectoryWithoutForceAndABackupThatIsNot() async throws {
        let source = try F.scratch()
        _ = try await F.ingest([.item(F.item("a", photo: 0)), .item(F.item("b", photo: 1))], into: source)
        let backupURL = try F.scratch().url.appendingPathComponent("backup")
        try Backup.create(from: source, to: backupURL)
        #expect(throws: LifecycleError.self) { try Backup.create(from: source, to: backupURL) }  // not empty

        let target = try F.scratch()
        _ = try await F.ingest([.item(F.item("other", photo: 3))], into: target)
        #expect(throws: LifecycleError.self) { try Backup.restore(backupURL, to: target) }
        #expect(try DataStore.openForReading(target).catalog.allProductIDs() == ["other"])
        try Backup.restore(backupURL, to: target, force: true)
        #expect(try DataStore.openForReading(target).catalog.allProductIDs() == ["a", "b"])
        #expect(throws: LifecycleError.self) { try Backup.restore(source.imagesURL, to: try F.scratch()) }
    }

    /// The index side of a consistent backup: a follower opened at a past sequence stops there,
    /// and cannot go back before the writer's last checkpoint.
    @Test func aFollowerOpenedThroughASequenceStopsThere() throws {
        let dir = try F.scratch().url.appendingPathComponent("index")
        let configuration = DataStore.indexConfiguration(dimension: 4)
        let writer = try EmbeddedVectorStore(directory: dir, configuration: configuration)
        for i in 0..<3 {
            _ = try writer.upsert([VectorRecord(key: VectorKey(product: "p\(i)"), vector: [1, Float(i), 0, 1])])
        }
        let past = try EmbeddedVectorStore(following: dir, configuration: configuration, through: 2)
        #expect(try past.lastSequence() == 2)
        #expect(try past.keys() == [VectorKey(product: "p0"), VectorKey(product: "p1")])
        let exported = dir.deletingLastPathComponent().appendingPathComponent("copy")
        try past.exportSnapshot(to: exported)
        let copy = try EmbeddedVectorStore(directory: exported, configuration: configuration)
        #expect(try copy.lastSequence() == 2 && copy.count() == 2)
        try writer.flush()  // checkpoint at 3: sequence 2 is gone from the files
        #expect(try EmbeddedVectorStore(following: dir, configuration: configuration, through: 2).lastSequence() == 3)
    }
}
