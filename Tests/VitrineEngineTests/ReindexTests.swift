import Foundation
import Testing
import VitrineCatalog
@testable import VitrineEngine
import VitrineImage
import VitrineIndex
import VitrineModels
import VitrineSources

/// `reindex`: a second model's vectors are built beside the live index and swapped in while
/// readers search; an interrupted run leaves the old model serving and resumes.
@Suite struct ReindexTests {
    typealias F = EngineFixtures

    /// A second random checkpoint of the tiny architecture (another embedding space).
    static let second: (directory: URL, encoders: CLIPEncoders, record: ModelRecord) = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-reindex-model-\(UUID().uuidString.prefix(8))")
        do {
            try RandomCheckpoint.write(like: F.tinyModel, to: directory, seed: 7)
            let encoders = try CLIPEncoders(directory: directory)
            let record = try ModelIdentity.record(specifier: directory.path, directory: directory, precision: "fp32",
                                                  dimension: encoders.image!.dimension)
            return (directory, encoders, record)
        } catch {
            fatalError("second random checkpoint: \(error)")
        }
    }()

    static func catalog(_ count: Int) -> [SourceEntry] {
        (0..<count).map { .item(F.item("p\($0)", category: $0 % 2 == 0 ? "dress" : "shoe", photo: $0, images: $0 % 3 == 0 ? 2 : 1)) }
    }

    /// What the model computes for every stored image, one at a time (no batching in common with
    /// the reindex).
    static func expectedVectors(_ store: DataStore, encoders: CLIPEncoders) throws -> [VectorKey: [Float]] {
        let encoder = IngestEncoder(encoders.image!)
        var result: [VectorKey: [Float]] = [:]
        for entry in try store.catalog.imageEntries() {
            let image = try ImageDecoder().decode(try store.blobs.get(entry.key))
            result[VectorKey(product: entry.product, image: entry.image)] = encoder.embed([encoder.prepare(image)])[0]
        }
        return result
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    @Test func reindexSwapsModelsWhileASearchLoopRuns() async throws {
        let dir = try F.scratch()
        _ = try await F.ingest(Self.catalog(14), into: dir)
        let ids = Set((0..<14).map { "p\($0)" })
        let reader = try DataStore.openForReading(dir)
        let stop = Flag()
        struct Observed: Sendable { var searches = 0, afterSwap = 0, switches = 0; var errors: [String] = [] }
        // On a thread of its own: a busy loop on the cooperative pool (two threads here) would
        // starve the tasks it waits for.
        let loop = onThread { () -> Observed in
            var observed = Observed()
            var engine = SearchEngine(store: reader, text: F.encoders.text, image: F.encoders.image)
            let deadline = Date().addingTimeInterval(120)
            while !stop.isSet || observed.afterSwap < 3 {
                guard Date() < deadline else {
                    observed.errors.append("no search answered by the new model before the deadline")
                    return observed
                }
                do {
                    let results = try engine.search(text: "a summer dress", page: SearchPage(k: 5)).results
                    observed.searches += 1
                    if engine.model?.weightsSHA256 == Self.second.record.weightsSHA256 { observed.afterSwap += 1 }
                    if results.count != 5 || !results.allSatisfy({ ids.contains($0.id) }) {
                        observed.errors.append("unexpected results \(results.map(\.id))")
                    }
                } catch let change as ModelChangedError {
                    // What a server does: load the encoders of the model now served.
                    if change.serving.weightsSHA256 != Self.second.record.weightsSHA256 {
                        observed.errors.append("switched to an unexpected model \(change.serving.specifier)")
                    }
                    observed.switches += 1
                    engine = SearchEngine(store: reader, text: Self.second.encoders.text, image: Self.second.encoders.image)
                } catch {
                    observed.errors.append("\(error)")
                    if observed.errors.count > 5 { return observed }
                }
            }
            return observed
        }
        try await Task.sleep(for: .milliseconds(50))

        let writer = try DataStore.openForWriting(dir, holder: "test")
        var options = ReindexOptions()
        options.batchSize = 4
        let report = try Reindexer(store: writer, encoder: IngestEncoder(Self.second.encoders.image!),
                                   model: Self.second.record, options: options).run()
        #expect(report.images == 19)
        #expect(report.embedded == 19)
        #expect(report.resumed == 0 && report.copied == 0)
        #expect(report.previousIndexDirectory == "index" && report.indexDirectory == "index-1")
        #expect(report.removedPrevious)
        try writer.close()
        stop.set()
        let observed = await loop.value()
        #expect(observed.errors.isEmpty, "\(observed.errors.prefix(3))")
        #expect(observed.switches == 1)
        #expect(observed.searches > observed.afterSwap)  // searched on both sides of the swap
        #expect(reader.model?.weightsSHA256 == Self.second.record.weightsSHA256)
        #expect(!FileManager.default.fileExists(atPath: dir.indexURL.path))

        // The live vectors are the new model's embeddings of the stored images, not the old one's.
        let store = try DataStore.openForReading(dir)
        #expect(store.indexDirectoryName == "index-1")
        let newVectors = try Self.expectedVectors(store, encoders: Self.second.encoders)
        let oldVectors = try Self.expectedVectors(store, encoders: F.encoders)
        let live = try #require(store.vectors)
        #expect(Set(try live.keys()) == Set(newVectors.keys))
        for (key, expected) in newVectors {
            let stored = try #require(try live.vector(for: key))
            #expect(Self.maxDifference(stored, expected) < 1e-4, "\(key)")
            #expect(Self.maxDifference(stored, oldVectors[key]!) > 1e-2, "\(key) still has the old model's vector")
        }
        #expect(try store.verify().isEmpty)
        #expect(try store.catalog.modelRecord() == Self.second.record)

        // Ingest now takes the new model and refuses the old one.
        await #expect(throws: EngineError.self) { _ = try await F.ingest(Self.catalog(2), into: dir) }
    }

    @Test func anInterruptedReindexLeavesTheOldModelServingAndResumes() async throws {
        let dir = try F.scratch()
        _ = try await F.ingest(Self.catalog(10), into: dir)
        // A stored image that cannot be read stops the reindex partway (as a crash would).
        let entries = try DataStore.openForReading(dir).catalog.imageEntries()
        let late = try #require(entries.last)
        let blobs = try FileBlobStore(directory: dir.imagesURL)
        let bytes = try blobs.get(late.key)
        try Data("not an image".utf8).write(to: blobs.url(for: late.key))
        let before = try F.searchEngine(dir).search(text: "shoe", page: SearchPage(k: 5))

        var options = ReindexOptions()
        options.batchSize = 3
        let writer = try DataStore.openForWriting(dir, holder: "test")
        #expect(throws: LifecycleError.self) {
            _ = try Reindexer(store: writer, encoder: IngestEncoder(Self.second.encoders.image!), model: Self.second.record, options: options).run()
        }
        try writer.close()

        // The old model still serves, with the same answers; the build waits beside it.
        let reader = try F.searchEngine(dir)
        #expect(reader.model?.weightsSHA256 == (try F.modelRecord()).weightsSHA256)
        #expect(try reader.search(text: "shoe", page: SearchPage(k: 5)) == before)
        #expect(FileManager.default.fileExists(atPath: dir.indexURL(named: "index-1").appendingPathComponent(EmbeddedVectorSpace.markerName).path))

        // Repaired, the next run with the same target resumes from what was built.
        try bytes.write(to: blobs.url(for: late.key))
        let again = try DataStore.openForWriting(dir, holder: "test")
        let report = try Reindexer(store: again, encoder: IngestEncoder(Self.second.encoders.image!), model: Self.second.record, options: options).run()
        try again.close()
        #expect(report.images == entries.count)
        // The batches before the first image stored in the damaged file (photos are shared).
        let firstBad = try #require(entries.firstIndex { $0.key == late.key })
        #expect(report.resumed == firstBad / 3 * 3)
        #expect(report.resumed > 0)
        #expect(report.resumed + report.embedded == entries.count)
        #expect(report.indexDirectory == "index-1")
        #expect(!FileManager.default.fileExists(atPath: dir.indexURL(named: "index-1").appendingPathComponent(EmbeddedVectorSpace.markerName).path))
        let store = try DataStore.openForReading(dir)
        #expect(try store.verify().isEmpty)
        let expected = try Self.expectedVectors(store, encoders: Self.second.encoders)
        for (key, vector) in expected {
            #expect(Self.maxDifference(try #require(try store.vectors?.vector(for: key)), vector) < 1e-4, "\(key)")
        }
        // A reader made with the old model is refused rather than answering across spaces.
        #expect(throws: ModelChangedError.self) { try reader.search(text: "shoe") }
    }

    @Test func aBuildForAnotherTargetStartsOverAndTheSameModelOnlyRebuildsTheGraph() async throws {
        let dir = try F.scratch()
        _ = try await F.ingest(Self.catalog(6), into: dir)
        // A leftover build for another target (other graph parameters): removed, not resumed.
        let stale = dir.indexURL(named: "index-3")
        try FileManager.default.createDirectory(at: stale, withIntermediateDirectories: true)
        let otherTarget = ReindexBuild(model: Self.second.record, M: 5, efConstruction: 9, catalogGeneration: 0)
        try JSONEncoder().encode(otherTarget).write(to: stale.appendingPathComponent(EmbeddedVectorSpace.markerName))

        let old = try DataStore.openForReading(dir)
        let oldVectors = Dictionary(uniqueKeysWithValues: try old.vectors!.keys().map { ($0, try old.vectors!.vector(for: $0)!) })
        let writer = try DataStore.openForWriting(dir, holder: "test")
        var options = ReindexOptions()
        options.hnsw.M = 8
        options.hnsw.efConstruction = 50
        let report = try Reindexer(store: writer, encoder: IngestEncoder(F.encoders.image!), model: try F.modelRecord(), options: options).run()
        try writer.close()
        #expect(report.copied == oldVectors.count)
        #expect(report.embedded == 0)
        #expect(report.indexDirectory == "index-4")
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        let store = try DataStore.openForReading(dir)
        for (key, vector) in oldVectors {
            #expect(Self.maxDifference(try #require(try store.vectors?.vector(for: key)), vector) < 1e-6, "\(key)")
        }
        #expect(try store.verify().isEmpty)
    }
}

/// Runs `body` on a new thread (not the cooperative pool, which busy loops would starve).
func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> ThreadResult<T> {
    let result = ThreadResult<T>()
    let thread = Thread { result.set(body()) }
    thread.start()
    return result
}

final class ThreadResult<T: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: T?

    func set(_ value: T) {
        condition.withLock {
            self.value = value
            condition.broadcast()
        }
    }

    /// Waits for the thread's result without blocking a cooperative thread.
    func value() async -> T {
        while true {
            if let value = condition.withLock({ self.value }) { return value }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
