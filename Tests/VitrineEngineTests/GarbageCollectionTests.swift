import Foundation
import Testing
import VitrineCatalog
@testable import VitrineEngine
import VitrineIndex

/// `gc`: exactly the unreferenced image files and index entries go; shared ones stay.
@Suite struct GarbageCollectionTests {
    typealias F = EngineFixtures

    @Test func gcRemovesExactlyTheOrphans() async throws {
        let dir = try F.scratch()
        // shared-a and shared-b show the same photo; gone-* have photos nobody else has.
        _ = try await F.ingest([
            .item(F.item("keep", photo: 0)),
            .item(F.item("gone-1", photo: 1)),
            .item(F.item("gone-2", photo: 4, images: 2)),
            .item(F.item("shared-a", photo: 3)),
            .item(F.item("shared-b", photo: 3)),
            .item(F.item("keep-2", photo: 2)),
        ], into: dir)

        let writer = try DataStore.openForWriting(dir, holder: "test")
        let removed = try writer.delete(ids: ["gone-1", "gone-2", "shared-a"])
        let sharedKey = try #require(try writer.catalog.product(id: "shared-b")?.images.first?.key)
        let stray = try writer.blobs.put(F.photos[6], ext: "webp")
        let vectors = try #require(writer.vectors)
        let ghostVector = try #require(try vectors.vector(for: VectorKey(product: "keep", image: "0")))
        let sequence = try vectors.upsert([VectorRecord(key: VectorKey(product: "ghost", image: "0"), vector: ghostVector)])
        try writer.catalog.setVectorSequence(sequence)  // an entry the catalog's bookkeeping accepts, no product names

        let expectedBlobs = Set(removed.flatMap { $0.images.map(\.key) }).subtracting([sharedKey]).union([stray])
        #expect(expectedBlobs.count == 4)  // gone-1's photo, gone-2's two, the stray one
        let expectedBytes = expectedBlobs.reduce(Int64(0)) { $0 + Int64((try? writer.blobs.get($1).count) ?? 0) }
        let blobsBefore = Set(try writer.blobs.keys())

        let dry = try writer.collectGarbage(dryRun: true)
        #expect(Set(dry.blobs) == Set(expectedBlobs.map(\.description)))
        #expect(dry.blobBytes == expectedBytes)
        #expect(dry.vectors == ["ghost/0"])
        #expect(Set(try writer.blobs.keys()) == blobsBefore)
        #expect(try vectors.contains(VectorKey(product: "ghost", image: "0")))

        let real = try writer.collectGarbage()
        #expect(Set(real.blobs) == Set(dry.blobs))
        #expect(real.vectors == ["ghost/0"])
        #expect(Set(try writer.blobs.keys()) == blobsBefore.subtracting(expectedBlobs))
        #expect(try writer.blobs.contains(sharedKey))
        let keys = try writer.keySets()
        #expect(keys.catalog == keys.index)
        #expect(try writer.verify().isEmpty)

        let again = try writer.collectGarbage()
        #expect(again.blobs.isEmpty && again.vectors.isEmpty && again.indexDirectories.isEmpty)
        try writer.close()

        let reader = try F.searchEngine(dir)
        let found = Set(try reader.search(text: "dress", page: SearchPage(k: 10)).results.map(\.id))
        #expect(found == ["keep", "keep-2", "shared-b"])
    }

    @Test func gcNeedsTheWriterAndRemovesRetiredIndexDirectories() async throws {
        let dir = try F.scratch()
        _ = try await F.ingest([.item(F.item("a", photo: 0))], into: dir)
        let reader = try DataStore.openForReading(dir)
        #expect(throws: EngineError.self) { try reader.collectGarbage() }

        // A directory beside the live index without a build marker is retired (a reindex died
        // after its swap); one with a marker is a build in progress and stays.
        let retired = dir.indexURL(named: "index-7")
        try FileManager.default.createDirectory(at: retired, withIntermediateDirectories: true)
        try Data(repeating: 1, count: 1000).write(to: retired.appendingPathComponent("snapshot.vidx"))
        let building = dir.indexURL(named: "index-8")
        try FileManager.default.createDirectory(at: building, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: building.appendingPathComponent(EmbeddedVectorSpace.markerName))

        let writer = try DataStore.openForWriting(dir, holder: "test")
        defer { try? writer.close() }
        let report = try writer.collectGarbage()
        #expect(report.indexDirectories == ["index-7"])
        #expect(report.indexBytes == 1000)
        #expect(!FileManager.default.fileExists(atPath: retired.path))
        #expect(FileManager.default.fileExists(atPath: building.path))
        #expect(FileManager.default.fileExists(atPath: dir.indexURL.path))
    }
}
