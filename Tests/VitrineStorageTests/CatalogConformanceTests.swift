import Foundation
import Testing
import VitrineCatalog

/// What every catalog backend must do alike (``Catalog``'s contract), run on SQLite and, when the
/// test server runs, on PostgreSQL.
@Suite struct CatalogConformanceTests {
    @Test(arguments: CatalogBackend.available)
    func productsRoundTripWithImagesAndExtra(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        let a = sampleProduct(
            "a-1", name: "Letní šaty 👗", description: "Lehké \"bavlněné\" šaty; 100% cotton",
            extra: ["label_source": "human", "note": "quote \" and \\ backslash"], images: 3, keyBase: 10)
        let b = sampleProduct("b/2", category: nil, categoryName: nil, market: nil, source: "folder:/photos", images: 1, keyBase: 20)
        try catalog.upsert([a, b], fingerprints: ["a-1": "fa", "b/2": "fb"], vectorSequence: 7)

        #expect(try catalog.product(id: "a-1") == a)
        #expect(try catalog.product(id: "b/2") == b)
        #expect(try catalog.product(id: "missing") == nil)
        let fetched = try catalog.products(ids: ["b/2", "missing", "a-1", "a-1"])
        #expect(fetched == ["a-1": a, "b/2": b])
        #expect(try catalog.products(ids: []).isEmpty)
        #expect(try catalog.counts() == (products: 2, images: 4))
        // Image order is the source order, whatever the image ids.
        #expect(try catalog.product(id: "a-1")?.images.map(\.id) == ["0", "1", "2"])
    }

    @Test(arguments: CatalogBackend.available)
    func imageOrderIsSourceOrderNotIdOrder(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        var product = sampleProduct("p", images: 0)
        product.images = ["z", "b", "m"].enumerated().map { ProductImage(id: $1, key: blobKey($0), width: 1, height: 1) }
        try catalog.upsert([product], fingerprints: [:], vectorSequence: 1)
        #expect(try catalog.product(id: "p")?.images.map(\.id) == ["z", "b", "m"])
        #expect(try catalog.imageKeys().map(\.image) == ["b", "m", "z"])
    }

    @Test(arguments: CatalogBackend.available)
    func upsertReplacesColumnsAndImageSet(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        try catalog.upsert([sampleProduct("p", images: 3, keyBase: 0), sampleProduct("q", images: 1, keyBase: 50)],
                           fingerprints: [:], vectorSequence: 1)
        var replacement = sampleProduct("p", name: "Renamed", category: "shoe", categoryName: "Shoes", images: 0)
        replacement.images = [ProductImage(id: "new", key: blobKey(99, ext: "png"), width: 5, height: 6)]
        try catalog.upsert([replacement], fingerprints: [:], vectorSequence: 2)

        #expect(try catalog.product(id: "p") == replacement)
        #expect(try catalog.counts() == (products: 2, images: 2))
        let keys = try catalog.imageKeys()
        #expect(keys.map { "\($0.product)/\($0.image)" } == ["p/new", "q/0"])
        #expect(try catalog.referencedBlobs() == [blobKey(99, ext: "png"), blobKey(50)])
    }

    @Test(arguments: CatalogBackend.available)
    func repeatedIDInOneBatchLastWins(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        let first = sampleProduct("p", name: "first", images: 2, keyBase: 0)
        let second = sampleProduct("p", name: "second", images: 2, keyBase: 10)
        try catalog.upsert([first, sampleProduct("q"), second], fingerprints: ["p": "f"], vectorSequence: 1)
        #expect(try catalog.product(id: "p") == second)
        #expect(try catalog.counts() == (products: 2, images: 4))
        #expect(try catalog.textSearch("first", limit: 5) == [])
        #expect(try catalog.textSearch("second", limit: 5) == ["p"])
    }

    @Test(arguments: CatalogBackend.available)
    func deleteReturnsRemovedProductsAndCascadesImages(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        let products = (0..<4).map { sampleProduct("p\($0)", images: $0 + 1, keyBase: $0 * 10) }
        try catalog.upsert(products, fingerprints: [:], vectorSequence: 3)
        let generation = try catalog.generation()

        let removed = try catalog.delete(ids: ["p2", "unknown", "p0", "p2"], vectorSequence: 9)
        #expect(removed == [products[2], products[0]])
        #expect(try catalog.allProductIDs() == ["p1", "p3"])
        #expect(try catalog.counts() == (products: 2, images: 2 + 4))
        #expect(Set(try catalog.imageKeys().map(\.product)) == ["p1", "p3"])
        #expect(try catalog.referencedBlobs() == Set([10, 11, 30, 31, 32, 33].map { blobKey($0) }))
        #expect(try catalog.vectorSequence() == 9)
        #expect(try catalog.generation() == generation + 1)
        // Deleting nothing known still records the sequence.
        #expect(try catalog.delete(ids: ["nope"], vectorSequence: 10).isEmpty)
        #expect(try catalog.vectorSequence() == 10)
    }

    @Test(arguments: CatalogBackend.available)
    func fingerprintsAndMarkStale(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        let products = ["a", "b", "c"].map { sampleProduct($0) }
        try catalog.upsert(products, fingerprints: ["a": "fa", "b": "fb"], vectorSequence: 1)
        #expect(try catalog.fingerprints(ids: ["a", "b", "c", "zz"]) == ["a": "fa", "b": "fb"])

        let generation = try catalog.generation()
        let lastCommit = try catalog.lastCommit()
        try catalog.markStale(ids: ["a", "zz"])
        #expect(try catalog.fingerprints(ids: ["a", "b", "c"]) == ["b": "fb"])
        #expect(try catalog.generation() == generation)
        #expect(try catalog.lastCommit() == lastCommit)
        // A stale product is still in the catalog.
        #expect(try catalog.product(id: "a") == products[0])

        try catalog.upsert([products[0]], fingerprints: ["a": "fa2"], vectorSequence: 2)
        #expect(try catalog.fingerprints(ids: ["a"]) == ["a": "fa2"])
    }

    @Test(arguments: CatalogBackend.available)
    func generationSequenceAndCommitTime(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        #expect(try catalog.generation() == 0)
        #expect(try catalog.vectorSequence() == 0)
        #expect(try catalog.lastCommit() == nil)
        #expect(try catalog.modelRecord() == nil)

        let before = Date()
        try catalog.upsert([sampleProduct("a")], fingerprints: [:], vectorSequence: 5)
        #expect(try catalog.generation() == 1)
        #expect(try catalog.vectorSequence() == 5)
        let committed = try #require(try catalog.lastCommit())
        #expect(committed.timeIntervalSince(before) > -1 && committed.timeIntervalSinceNow < 1)

        try catalog.upsert([], fingerprints: [:], vectorSequence: 6)
        #expect(try catalog.generation() == 2)
        try catalog.delete(ids: ["a"], vectorSequence: 7)
        #expect(try catalog.generation() == 3)
        try catalog.setVectorSequence(42)
        #expect(try catalog.generation() == 4)
        #expect(try catalog.vectorSequence() == 42)
        let record = ModelRecord(
            source: "openai/clip-vit-base-patch32", revision: "3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268",
            precision: "bf16", weightsSHA256: String(repeating: "ab", count: 32), dimension: 512)
        try catalog.setModelRecord(record)
        #expect(try catalog.generation() == 5)
        #expect(try catalog.modelRecord() == record)
        #expect(try catalog.vectorSequence() == 42)

        guard case .invalidArgument(let message)? = catalogError({ try catalog.setVectorSequence(UInt64.max) }) else {
            Issue.record("a sequence past Int64.max was accepted")
            return
        }
        #expect(message.hasPrefix("vector sequence \(UInt64.max) exceeds \(Int64.max)"))
        #expect(try catalog.generation() == 5)
    }

    @Test(arguments: CatalogBackend.available)
    func stateSurvivesReopening(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let product = sampleProduct("a", extra: ["k": "v"])
        do {
            let catalog = try fixture.open()
            try catalog.upsert([product], fingerprints: ["a": "f"], vectorSequence: 11)
            try catalog.close()
        }
        let reopened = try fixture.open()
        #expect(try reopened.product(id: "a") == product)
        #expect(try reopened.generation() == 1)
        #expect(try reopened.vectorSequence() == 11)
        #expect(try reopened.fingerprints(ids: ["a"]) == ["a": "f"])
    }

    @Test(arguments: CatalogBackend.available)
    func facetCounts(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        let products = [
            sampleProduct("1", category: "shoe", categoryName: "Shoes", market: "sk"),
            sampleProduct("2", category: "dress", categoryName: "Dresses", market: "cz"),
            sampleProduct("3", category: "shoe", categoryName: "Shoes", market: "cz"),
            sampleProduct("4", category: "bag", categoryName: nil, market: "hu"),
            sampleProduct("5", category: "dress", categoryName: "Dresses", market: "cz"),
            sampleProduct("6", category: nil, categoryName: nil, market: nil),
            sampleProduct("7", category: "shoe", categoryName: "Shoes", market: "sk"),
        ]
        try catalog.upsert(products, fingerprints: [:], vectorSequence: 1)
        #expect(try catalog.categories() == [
            FacetCount(value: "shoe", name: "Shoes", count: 3),
            FacetCount(value: "dress", name: "Dresses", count: 2),
            FacetCount(value: "bag", name: nil, count: 1),
        ])
        #expect(try catalog.markets() == [
            FacetCount(value: "cz", name: nil, count: 3),
            FacetCount(value: "sk", name: nil, count: 2),
            FacetCount(value: "hu", name: nil, count: 1),
        ])
        try catalog.delete(ids: ["1", "3", "7"], vectorSequence: 2)
        #expect(try catalog.categories().map(\.value) == ["dress", "bag"])
    }

    @Test(arguments: CatalogBackend.available)
    func idsBySourceAreSorted(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        let ids = ["m", "b", "z", "a", "k"]
        try catalog.upsert(
            ids.enumerated().map { sampleProduct($1, source: $0 % 2 == 0 ? "glami" : "folder:/x") },
            fingerprints: [:], vectorSequence: 1)
        #expect(try catalog.allProductIDs() == ids.sorted())
        #expect(try catalog.productIDs(source: "glami") == ["k", "m", "z"])
        #expect(try catalog.productIDs(source: "folder:/x") == ["a", "b"])
        #expect(try catalog.productIDs(source: "other").isEmpty)
    }

    @Test(arguments: CatalogBackend.available)
    func invalidProductsAreRefusedBeforeAnythingIsWritten(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        var duplicateImages = sampleProduct("dup", images: 0)
        duplicateImages.images = [
            ProductImage(id: "0", key: blobKey(1), width: 1, height: 1),
            ProductImage(id: "0", key: blobKey(2), width: 1, height: 1),
        ]
        var nul = sampleProduct("nul")
        nul.name = "bad\0name"
        var mismatched = sampleProduct("mis")
        mismatched.images[0].sha256 = String(repeating: "f", count: 64)
        for bad in [duplicateImages, nul, mismatched, sampleProduct("")] {
            guard case .invalidArgument(let message)? = catalogError({
                try catalog.upsert([sampleProduct("good"), bad], fingerprints: [:], vectorSequence: 1)
            }) else {
                Issue.record("product \(bad.id) was accepted")
                continue
            }
            #expect(message.contains("product \"\(bad.id)\""))
        }
        #expect(try catalog.counts() == (products: 0, images: 0))
        #expect(try catalog.generation() == 0)
    }

    @Test(arguments: CatalogBackend.available)
    func concurrentReadsWhileWriting(_ backend: CatalogBackend) async throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        try catalog.upsert((0..<50).map { sampleProduct("p\($0)", name: "batch 0") }, fingerprints: [:], vectorSequence: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for batch in 1...20 {
                    try catalog.upsert((0..<50).map { sampleProduct("p\($0)", name: "batch \(batch)") },
                                       fingerprints: [:], vectorSequence: UInt64(batch))
                }
            }
            for _ in 0..<3 {
                group.addTask {
                    for _ in 0..<40 {
                        // Each read is one snapshot: all 50 products, all from one batch.
                        let products = try catalog.products(ids: (0..<50).map { "p\($0)" })
                        #expect(products.count == 50)
                        #expect(Set(products.values.map(\.name)).count == 1)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try catalog.vectorSequence() == 20)
    }

    @Test(arguments: CatalogBackend.available)
    func aBatchOfThousandProductsRoundTrips(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        let products = (0..<1000).map {
            sampleProduct("item-\($0)", name: "Product \($0) dress", description: "cotton summer \($0 % 7)",
                          extra: ["label_source": "human"], images: 1 + $0 % 3, keyBase: $0 * 3)
        }
        let fingerprints = Dictionary(uniqueKeysWithValues: products.map { ($0.id, "f-\($0.id)") })
        try catalog.upsert(products, fingerprints: fingerprints, vectorSequence: 1)
        #expect(try catalog.counts() == (products: 1000, images: 2000 - 1))
        let ids = (0..<100).map { "item-\($0 * 7)" }
        let fetched = try catalog.products(ids: ids)
        #expect(fetched.count == 100)
        #expect(fetched["item-7"] == products[7])
        #expect(try catalog.fingerprints(ids: ids).count == 100)
        #expect(try catalog.imageEntries().count == 1999)
        #expect(try catalog.referencedBlobs().count == 1999)
    }

    /// Text that breaks naive SQL or JSON handling comes back byte for byte: quotes, backslashes,
    /// SQL, JSON, control characters, emoji, combining marks; ids that sort by bytes.
    @Test(arguments: CatalogBackend.available)
    func hostileTextRoundTripsExactly(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        let texts = [
            "O'Brien \"quoted\" \\ back\\slash", "'); DROP TABLE products; --", "Robert'); DELETE FROM images;--",
            "{\"json\": [1, 2]}", "tab\tnew\nline\rreturn\u{1}\u{1F}", "👗 šaty e\u{301} Ω", "%_ LIKE wildcards %%",
            "$1 $$dollar$$ :name ?", "\\x00 not a NUL", String(repeating: "long ", count: 2000),
        ]
        let products = texts.enumerated().map { index, text in
            sampleProduct("id \(index) \(text.prefix(40))", name: text, description: text, category: text, categoryName: text,
                          market: text, source: text, extra: [text: text, "k": text], images: 1, keyBase: index)
        }
        try catalog.upsert(products, fingerprints: Dictionary(uniqueKeysWithValues: products.map { ($0.id, $0.name) }),
                           vectorSequence: 1)
        let fetched = try catalog.products(ids: products.map(\.id))
        for product in products {
            #expect(fetched[product.id] == product, "\(product.id.prefix(30))")
        }
        #expect(try catalog.fingerprints(ids: products.map(\.id)).count == products.count)
        #expect(try catalog.allProductIDs() == products.map(\.id).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(try catalog.productIDs(source: texts[1]) == [products[1].id])
        #expect(Set(try catalog.categories().map(\.value)) == Set(texts))
        // Ids with a NUL are refused whole, by both backends, naming the field.
        var nul = sampleProduct("nul\0id")
        nul.extra = ["k": "v"]
        guard case .invalidArgument(let message)? = catalogError({ try catalog.upsert([nul], fingerprints: [:], vectorSequence: 2) }) else {
            Issue.record("an id with a NUL was accepted")
            return
        }
        #expect(message.contains("NUL"))
        #expect(try catalog.counts().products == products.count)
    }

    /// One writer at a time: a second lease is refused naming the holder's command and pid, and
    /// is granted once the first is released.
    @Test(arguments: CatalogBackend.available)
    func oneWriterAtATime(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        let first = try catalog.acquireWriterLease(holder: "vitrine ingest")
        guard case .locked(let path, let holder)? = catalogError({ _ = try catalog.acquireWriterLease(holder: "vitrine gc") }) else {
            Issue.record("a second writer was let in")
            return
        }
        #expect(holder.hasPrefix("vitrine ingest, pid \(getpid())"))
        #expect(fixture.location.hasPrefix(path) || path.hasPrefix(fixture.location) || path == DataDirectory(fixture.directory?.url ?? URL(fileURLWithPath: "/")).url.path)
        first.release()
        let second = try catalog.acquireWriterLease(holder: "vitrine gc")
        second.release()
    }

    /// A catalog opened for reading sees the writer's commits and refuses writes, naming itself.
    @Test(arguments: CatalogBackend.available)
    func aReaderSeesCommitsAndCannotWrite(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let writer = try fixture.open()
        try writer.upsert([sampleProduct("a")], fingerprints: [:], vectorSequence: 1)
        let reader = try fixture.open(readOnly: true)
        #expect(reader.isReadOnly)
        #expect(try reader.generation() == 1)
        let b = sampleProduct("b", name: "Modré šaty")
        try writer.upsert([b], fingerprints: [:], vectorSequence: 2)
        #expect(try reader.servingState().generation == 2)
        #expect(try reader.product(id: "b") == b)
        #expect(try reader.textSearch("modre", limit: 5) == ["b"])
        guard case .readOnly(let path)? = catalogError({ try reader.setVectorSequence(3) }) else {
            Issue.record("a read-only catalog accepted a write")
            return
        }
        #expect(fixture.location.contains(path) || path.contains(fixture.location.replacingOccurrences(of: "PostgreSQL ", with: "")))
        #expect(try writer.vectorSequence() == 2)
    }

    /// Index switches (reindex) and the model record commit together and advance the generation.
    @Test(arguments: CatalogBackend.available)
    func switchingIndexesIsOneCommit(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        let record = ModelRecord(source: "m", revision: nil, precision: "fp32", weightsSHA256: String(repeating: "cd", count: 32), dimension: 8)
        #expect(try catalog.indexDirectoryName() == "index")
        try catalog.switchIndex(directory: "index-2", model: record, vectorSequence: 17)
        #expect(try catalog.servingState() == ServingState(generation: 1, vectorSequence: 17, indexDirectory: "index-2", model: record))
        guard case .invalidArgument? = catalogError({ try catalog.switchIndex(directory: "../x", model: record, vectorSequence: 18) }) else {
            Issue.record("a bad index name was accepted")
            return
        }
        #expect(try catalog.integrityCheck() == [])
    }
}
