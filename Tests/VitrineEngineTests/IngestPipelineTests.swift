import Foundation
import Testing
import VitrineCatalog
@testable import VitrineEngine
import VitrineIndex
import VitrineImage
import VitrineModels
import VitrineSources

@Suite struct IngestPipelineTests {
    typealias F = EngineFixtures

    @Test func ingestStoresEveryStoreAndSearchGroupsByProduct() async throws {
        let dir = try F.scratch()
        let entries: [SourceEntry] = (0..<10).map { .item(F.item("p\($0)", category: $0 % 2 == 0 ? "dress" : "shoe", photo: $0, images: 1 + $0 % 3)) }
        let report = try await F.ingest(entries, into: dir)
        #expect(report.counts.ingested == 10)
        #expect(report.counts.failed == 0)
        let imageCount = (0..<10).reduce(0) { $0 + 1 + $1 % 3 }
        #expect(report.counts.imagesEmbedded == imageCount)

        let engine = try F.searchEngine(dir)
        let stats = try engine.store.stats()
        #expect(stats.products == 10)
        #expect(stats.images == imageCount)
        #expect(stats.vectors == imageCount)
        #expect(stats.blobs == F.photos.count)  // content-addressed: equal photos stored once
        let keys = try engine.store.keySets()
        #expect(keys.catalog == keys.index)

        // Grouped by product: ids are unique and scores descend; every product is reachable.
        let all = try engine.search(text: "red dress", page: SearchPage(k: 20))
        #expect(all.results.count == 10)
        #expect(Set(all.results.map(\.id)).count == 10)
        #expect(all.results.map(\.score) == all.results.map(\.score).sorted(by: >))
        #expect(all.results.allSatisfy { $0.image.hasPrefix("/images/") })

        // A product's score is its best image: equal to the max over its images' exact cosines.
        let query = try F.encoders.text!.embed(texts: ["red dress"])[0]
        for result in all.results {
            let product = try #require(try engine.store.catalog.product(id: result.id))
            let best = try product.images.map { image -> Float in
                let v = try #require(try engine.store.vectors!.vector(for: VectorKey(product: result.id, image: image.id)))
                return zip(v, query).reduce(0) { $0 + $1.0 * $1.1 }
            }.max()!
            #expect(abs(best - result.score) < 1e-4, "\(result.id)")
            #expect(result.image == "/images/\(product.images.first { $0.id == imageID(result, product, query, engine) }!.key)")
        }

        // Paging continues where the first page ended.
        let first = try engine.search(text: "red dress", page: SearchPage(k: 4))
        let second = try engine.search(text: "red dress", page: SearchPage(k: 4, offset: 4))
        #expect(first.results.map(\.id) + second.results.map(\.id) == Array(all.results.prefix(8)).map(\.id))

        // Filters: category by id or by name, market.
        let shoes = try engine.search(text: "red dress", filter: SearchFilter(category: "shoe"), page: SearchPage(k: 20))
        #expect(Set(shoes.results.map(\.id)) == Set((0..<10).filter { $0 % 2 == 1 }.map { "p\($0)" }))
        let byName = try engine.search(text: "red dress", filter: SearchFilter(category: "Shoe"), page: SearchPage(k: 20))
        #expect(byName.results.map(\.id) == shoes.results.map(\.id))
        #expect(try engine.search(text: "x", filter: SearchFilter(category: "hats")).results.isEmpty)
        #expect(try engine.search(text: "x", filter: SearchFilter(market: "sk")).results.isEmpty)

        // More like this: never the product itself, nearest first.
        let similar = try engine.similar(to: "p3", page: SearchPage(k: 20))
        #expect(!similar.results.contains { $0.id == "p3" })
        #expect(similar.results.count == 9)
    }

    /// The image id whose vector scores `result` (the best of the product's images).
    private func imageID(_ result: SearchResult, _ product: Product, _ query: [Float], _ engine: SearchEngine) -> String {
        product.images.max { a, b in
            let va = (try? engine.store.vectors!.vector(for: VectorKey(product: product.id, image: a.id))) ?? nil
            let vb = (try? engine.store.vectors!.vector(for: VectorKey(product: product.id, image: b.id))) ?? nil
            let sa = zip(va ?? [], query).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            let sb = zip(vb ?? [], query).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            return sa < sb
        }?.id ?? ""
    }

    /// Products with many photos fill the first index window with few products: the search widens
    /// until the page is full, and the page equals the best products by their best photo.
    @Test func searchWidensWhenPhotosOfFewProductsFillTheWindow() async throws {
        let directory = try EngineFixtures.scratch()
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let items = (0..<12).map { SourceEntry.item(EngineFixtures.item("m\($0)", photo: $0, images: 8)) }
        _ = try await EngineFixtures.ingest(items, into: directory, batchSize: 16)
        let searches = Counter()
        let engine = SearchEngine(store: try DataStore.openForReading(directory), text: EngineFixtures.encoders.text,
                                  image: EngineFixtures.encoders.image, timings: SearchTimings(indexSearched: { _ in searches.add() }))
        // An index of chosen vectors over the same keys: every photo of m0…m2 lies nearer the
        // query (axis 0) than any photo of the others, so the first window (20) holds 3 products.
        let dimension = 4
        let index = try EmbeddedVectorStore(configuration: VectorStoreConfiguration(dimension: dimension, metric: .cosine, algorithm: .exact))
        var records: [VectorRecord] = []
        for product in 0..<12 {
            for image in 0..<8 {
                let near = product < 3 ? 0.99 - Float(image) * 0.001 : 0.5 - Float(product) * 0.01 - Float(image) * 0.001
                let vector = [near, (1 - near * near).squareRoot(), 0, 0]
                records.append(VectorRecord(key: VectorKey(product: "m\(product)", image: String(image)), vector: vector))
            }
        }
        _ = try index.upsert(records)
        #expect(SearchEngine.firstWindow < 3 * 8)
        let results = try engine.nearest([1, 0, 0, 0], filter: SearchFilter(), page: SearchPage(k: 10), excluding: nil, in: index)
        #expect(results.map(\.id) == (0..<10).map { "m\($0)" })
        #expect(searches.value >= 2)
        // Each product is scored by its best photo (image 0).
        for result in results {
            let product = try #require(try engine.store.catalog.product(id: result.id))
            #expect(result.image == "/images/\(product.images[0].key)")
        }
    }

    @Test func reRunSkipsUnchangedAndReEmbedsChanged() async throws {
        let dir = try F.scratch()
        let entries: [SourceEntry] = (0..<6).map { .item(F.item("p\($0)", photo: $0, images: 2)) }
        _ = try await F.ingest(entries, into: dir)
        let before = try DataStore.openForReading(dir).stats()

        let again = try await F.ingest(entries, into: dir)
        #expect(again.counts.unchanged == 6)
        #expect(again.counts.ingested == 0 && again.counts.updated == 0 && again.counts.imagesEmbedded == 0)
        let after = try DataStore.openForReading(dir).stats()
        #expect(after.vectorSequence == before.vectorSequence)
        #expect(after.products == before.products && after.vectors == before.vectors)

        // p1 renamed, p2 loses an image, p3 gets a different photo: 3 updated, 3 unchanged.
        var changed = entries
        changed[1] = .item(F.item("p1", name: "renamed", photo: 1, images: 2))
        changed[2] = .item(F.item("p2", photo: 2, images: 1))
        changed[3] = .item(F.item("p3", photo: 7, images: 2))
        let third = try await F.ingest(changed, into: dir)
        #expect(third.counts.updated == 3)
        #expect(third.counts.unchanged == 3)
        let store = try DataStore.openForReading(dir)
        #expect(try store.catalog.product(id: "p1")?.name == "renamed")
        #expect(try store.catalog.product(id: "p2")?.images.count == 1)
        #expect(try store.vectors!.contains(VectorKey(product: "p2", image: "1")) == false)
        let keys = try store.keySets()
        #expect(keys.catalog == keys.index)
        #expect(keys.index.count == 11)
    }

    @Test func badItemsAreReportedAndTheRestIngested() async throws {
        let dir = try F.scratch()
        let jpeg = F.photos[0]
        let broken: [SourceEntry] = [
            .item(F.item("good1")),
            .item(SourceItem(product: Product(id: "trunc", name: "truncated", source: "test"),
                             images: [SourceImage(id: "0", origin: "memory:trunc") { jpeg.prefix(jpeg.count / 3) }])),
            .item(SourceItem(product: Product(id: "text", name: "not an image", source: "test"),
                             images: [SourceImage(id: "0", origin: "memory:text") { Data("hello, world".utf8) }])),
            .item(SourceItem(product: Product(id: "missing", name: "missing", source: "test"),
                             images: [SourceImage(id: "0", origin: "/nowhere/x.jpg") { throw CocoaError(.fileNoSuchFile) }])),
            .item(SourceItem(product: Product(id: "noimage", name: "no image", source: "test"), images: [])),
            .rejected(ReaderRejection(location: "manifest.csv:7", reason: "wrong number of columns")),
            .item(F.item("good1", name: "duplicate")),
            .item(F.item("good2", photo: 2)),
        ]
        let report = try await F.ingest(broken, into: dir)
        #expect(report.counts.ingested == 2)
        #expect(report.counts.failed == 6)
        let byID = Dictionary(report.failures.compactMap { f in f.id.map { ($0, f) } }, uniquingKeysWith: { a, _ in a })
        #expect(byID["trunc"]?.location == "memory:trunc")
        #expect(byID["text"]?.reason.isEmpty == false)
        #expect(byID["missing"]?.location == "/nowhere/x.jpg")
        #expect(byID["noimage"]?.reason.contains("no image") == true)
        #expect(byID["good1"]?.reason.contains("duplicate") == true)
        #expect(report.failures.contains { $0.location == "manifest.csv:7" })
        let store = try DataStore.openForReading(dir)
        #expect(try store.catalog.allProductIDs() == ["good1", "good2"])
        #expect(try store.catalog.product(id: "good1")?.name == "product good1")  // the first occurrence wins
    }

    /// Images over the byte limit (refused as fetched) or the pixel limit (refused from the
    /// header, before decoding) fail their product alone, named with the limit in the report.
    /// The limits sit between the fixture photos' own sizes, so some pass and some don't.
    @Test(arguments: ["bytes", "pixels"])
    func oversizedImagesAreReportedAndSkipped(limit kind: String) async throws {
        let decoder = ImageDecoder()
        let sizes = try F.photos.map { kind == "bytes" ? $0.count : try decoder.decode($0).width * decoder.decode($0).height }
        let limit = sizes.sorted()[sizes.count / 2]  // the median: the larger half is over it
        let dir = try F.scratch()
        let entries: [SourceEntry] = F.photos.indices.map { .item(F.item("p\($0)", photo: $0)) }
        let report = try await F.ingest(entries, into: dir,
                                        maxImageBytes: kind == "bytes" ? limit : nil, maxPixels: kind == "pixels" ? limit : nil)
        let over = Set(sizes.indices.filter { sizes[$0] > limit }.map { "p\($0)" })
        #expect(!over.isEmpty && over.count < sizes.count)
        #expect(Set(report.failures.compactMap(\.id)) == over)
        for failure in report.failures {
            #expect(failure.reason.contains("more than the limit of \(limit)"), "\(failure.reason)")
        }
        #expect(report.counts.ingested == sizes.count - over.count)
        let store = try DataStore.openForReading(dir)
        #expect(Set(try store.catalog.allProductIDs()) == Set(sizes.indices.map { "p\($0)" }).subtracting(over))
        #expect(try store.verify().isEmpty)
    }

    @Test func limitCountsProductsInSourceOrder() async throws {
        let dir = try F.scratch()
        let entries: [SourceEntry] = (0..<9).map { .item(F.item("p\($0)", photo: $0)) }
        let report = try await F.ingest(entries, into: dir, batchSize: 2, limit: 5)
        #expect(report.counts.read == 5)
        #expect(try DataStore.openForReading(dir).catalog.allProductIDs() == ["p0", "p1", "p2", "p3", "p4"])
    }

    @Test func secondWriterIsRefusedNamingTheHolder() throws {
        let dir = try F.scratch()
        let first = try DataStore.openForWriting(dir, holder: "vitrine ingest first")
        defer { try? first.close() }
        #expect {
            _ = try DataStore.openForWriting(dir, holder: "vitrine ingest second")
        } throws: { error in
            String(describing: error).contains("vitrine ingest first")
        }
    }

    @Test func anotherModelIsRefused() async throws {
        let dir = try F.scratch()
        _ = try await F.ingest([.item(F.item("p0"))], into: dir)
        let store = try DataStore.openForWriting(dir, holder: "test")
        defer { try? store.close() }
        var other = try F.modelRecord()
        other.weightsSHA256 = String(repeating: "0", count: 64)
        other.source = "/elsewhere/model"
        #expect {
            _ = try IngestPipeline(store: store, encoder: IngestEncoder(F.encoders.image!), model: other)
        } throws: { error in
            guard case EngineError.modelMismatch = error else { return false }
            return String(describing: error).contains("/elsewhere/model")
        }
    }

    @Test func reconcileRemovesUncommittedVectorsAndMarksMissingOnesStale() async throws {
        let dir = try F.scratch()
        _ = try await F.ingest((0..<4).map { .item(F.item("p\($0)", photo: $0)) }, into: dir)
        // A crash after the index write and before the catalog commit: vectors the catalog
        // doesn't name, and a catalog image whose vector is gone.
        do {
            let store = try DataStore.openForWriting(dir, holder: "test")
            let vectors = try #require(store.vectors)
            let v = try #require(try vectors.vector(for: VectorKey(product: "p0", image: "0")))
            _ = try vectors.upsert([VectorRecord(key: VectorKey(product: "ghost", image: "0"), vector: v)])
            _ = try vectors.delete([VectorKey(product: "p1", image: "0")])
            store.abandon()
        }
        let reader = try DataStore.openForReading(dir)
        let engine = SearchEngine(store: reader, text: F.encoders.text, image: F.encoders.image)
        // Readers never show what the catalog doesn't name.
        #expect(!(try engine.search(text: "dress", page: SearchPage(k: 20)).results.contains { $0.id == "ghost" }))

        let writer = try DataStore.openForWriting(dir, holder: "test")
        #expect(writer.reconciliation == DataStore.Reconciliation(orphanVectors: 1, staleProducts: 1))
        try writer.close()
        // The next run re-embeds exactly the stale product.
        let report = try await F.ingest((0..<4).map { .item(F.item("p\($0)", photo: $0)) }, into: dir)
        #expect(report.counts.updated == 1)
        #expect(report.counts.unchanged == 3)
        let keys = try DataStore.openForReading(dir).keySets()
        #expect(keys.catalog == keys.index)
    }

    @Test func aReaderSeesAWritersCommitsWithoutReopening() async throws {
        let dir = try F.scratch()
        _ = try await F.ingest([.item(F.item("p0"))], into: dir)
        let engine = try F.searchEngine(dir)
        #expect(try engine.search(text: "dress", page: SearchPage(k: 10)).results.map(\.id) == ["p0"])
        _ = try await F.ingest((1..<5).map { .item(F.item("p\($0)", photo: $0)) }, into: dir)
        let results = try engine.search(text: "dress", page: SearchPage(k: 10)).results
        #expect(Set(results.map(\.id)) == ["p0", "p1", "p2", "p3", "p4"])
        #expect(try engine.store.stats().vectors == 5)
    }

    @Test func badQueriesAreRefused() async throws {
        let dir = try F.scratch()
        _ = try await F.ingest([.item(F.item("p0"))], into: dir)
        let engine = try F.searchEngine(dir)
        for bad in ["", "   ", String(repeating: "a", count: SearchEngine.maxQueryLength + 1)] {
            #expect(throws: EngineError.self) { try engine.search(text: bad) }
        }
        #expect(throws: EngineError.self) { try engine.search(text: "ok", page: SearchPage(k: 0)) }
        #expect(throws: EngineError.self) { try engine.search(text: "ok", page: SearchPage(k: 10, offset: -1)) }
        #expect(throws: EngineError.self) { try engine.similar(to: "nope") }
        #expect(throws: (any Error).self) { try engine.search(imageData: Data("not an image".utf8)) }
        // Over-long (in tokens, not characters) is answered and flagged.
        let long = try engine.search(text: Array(repeating: "dress", count: 100).joined(separator: " "))
        #expect(long.truncated)
        #expect(try !engine.search(text: "dress").truncated)
    }

    @Test func fingerprintCoversRecordAndImages() {
        let p = Product(id: "1", name: "ab", description: "c", source: "s")
        var q = p
        q.name = "a"
        q.description = "bc"
        let images: [(id: String, sha256: String)] = [("0", "aa")]
        #expect(IngestPipeline.fingerprint(p, images: images) != IngestPipeline.fingerprint(q, images: images))
        #expect(IngestPipeline.fingerprint(p, images: images) != IngestPipeline.fingerprint(p, images: [("0", "ab")]))
        #expect(IngestPipeline.fingerprint(p, images: images) == IngestPipeline.fingerprint(p, images: images))
        var r = p
        r.extra = ["label_source": "human"]
        #expect(IngestPipeline.fingerprint(p, images: images) != IngestPipeline.fingerprint(r, images: images))
    }
}

/// A thread-safe count.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
