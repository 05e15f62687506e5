import Foundation
import GRDB
import Testing
import VitrineCore
@testable import VitrineCatalog

/// The in-memory keyword index against its reference, FTS5's own matching and bm25 ranking over
/// the same catalog: the same ids in the same order, for every query.
@Suite struct KeywordIndexTests {
    /// Words of a catalog in several scripts, with the cases FTS5's tokenizer decides: apostrophes
    /// and hyphens inside words (phrases of two tokens), digits, Greek final sigma, Turkish dotted
    /// and dotless i, German sharp s in both cases, Czech marks, Cyrillic, CJK, full-width letters.
    static let vocabulary = [
        "red", "navy", "black", "white", "floral", "striped", "linen", "cotton", "wool", "silk", "leather", "denim",
        "dress", "shirt", "t-shirt", "jeans", "jacket", "coat", "skirt", "boots", "sneakers", "bag", "scarf", "hat",
        "men's", "women's", "kid's", "slim-fit", "v-neck", "3/4", "xl", "42", "2024", "summer", "winter", "the", "with", "for",
        "šaty", "letní", "bavlněné", "modré", "ΦΟΡΕΜΑ", "φόρεμα", "ΟΔΟΣ", "İSTANBUL", "ıspanak", "kız", "Straße", "STRAẞE",
        "платье", "ПЛАТЬЕ", "连衣裙", "夏季", "ｄｒｅｓｓ", "Ørsted", "łódź", "đuro", "naïve", "café", "œuvre", "ﬁt", "½",
    ]

    /// A catalog of `count` products whose names and descriptions are drawn from ``vocabulary``
    /// with punctuation between words, some repeated, some empty.
    static func makeCatalog(_ url: URL, count: Int, seed: UInt64) throws -> SQLiteCatalog {
        let catalog = try SQLiteCatalog(path: url)
        var random = SplitMix64(seed: seed)
        func text(_ words: Int) -> String {
            (0..<words).map { _ in
                let word = vocabulary[Int(random.next() % UInt64(vocabulary.count))]
                let separator = [" ", " ", " ", ", ", ". ", " - ", "/", " (", ") "][Int(random.next() % 9)]
                return word + separator
            }.joined()
        }
        let categories: [String?] = ["dress", "shoes", "bags", nil]
        let markets: [String?] = ["cz", "gr", "tr", nil]
        let products = (0..<count).map { index in
            Product(id: String(format: "p%05d", index), name: text(1 + Int(random.next() % 6)),
                    description: random.next() % 7 == 0 ? "" : text(Int(random.next() % 30)),
                    category: categories[Int(random.next() % 4)], categoryName: nil, market: markets[Int(random.next() % 4)],
                    source: "test", extra: [:], images: [ProductImage(id: "0", key: blobKey(index), width: 10, height: 10)])
        }
        for start in stride(from: 0, to: products.count, by: 500) {
            try catalog.upsert(Array(products[start..<min(start + 500, products.count)]), fingerprints: [:], vectorSequence: UInt64(start + 1))
        }
        return catalog
    }

    static func build(_ catalog: SQLiteCatalog) throws -> KeywordIndex {
        try catalog.pool.read { try KeywordIndex.build($0, path: catalog.path) }
    }

    /// The keyword retriever's two tiers, in memory: all words, else any.
    static func search(_ index: KeywordIndex, _ query: String, limit: Int, filter: ProductFilter) -> [String]? {
        let terms = FullTextQuery.terms(query)
        guard !terms.all.isEmpty else { return [] }
        return index.search(terms, limit: limit, filter: filter)
    }

    @Test func ranksAsFTS5Does() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let catalog = try Self.makeCatalog(DataDirectory(dir.url).catalogURL, count: 3000, seed: 7)
        defer { try? catalog.close() }
        // The build checks its vocabulary against FTS5's, term by term: it is not refused.
        let index = try Self.build(catalog)
        #expect(index.ids.count == 3000)

        var random = SplitMix64(seed: 11)
        let filters = [ProductFilter(), ProductFilter(categories: ["dress"]), ProductFilter(categories: ["shoes", "bags"], market: "gr"),
                       ProductFilter(market: "tr"), ProductFilter(categories: ["absent"])]
        var compared = 0
        var anyWord = 0
        for round in 0..<600 {
            var words = (0..<(1 + Int(random.next() % 4))).map { _ in Self.vocabulary[Int(random.next() % UInt64(Self.vocabulary.count))] }
            if round % 5 == 0 { words = words.map { $0.uppercased() } }
            if round % 7 == 0 { words.append("umbrella") }
            let query = words.joined(separator: " ")
            let limit = [1, 10, 100, 1000][round % 4]
            let filter = filters[round % filters.count]
            let expected = try catalog.textSearch(query, limit: limit, filter: filter)
            guard let found = Self.search(index, query, limit: limit, filter: filter) else {
                // Left to FTS5: only a query with a character no product has.
                let known = Set(Self.vocabulary.flatMap { TextFolding.fold($0).unicodeScalars })
                #expect(query.unicodeScalars.contains { $0.value >= 0x80 && !known.contains($0) }, "\(query)")
                continue
            }
            #expect(found == expected, "\(query) limit \(limit) filter \(filter)")
            compared += 1
            let terms = FullTextQuery.terms(query)
            if !terms.any.isEmpty, index.search(terms.all, all: true, limit: limit, categories: filter.categories, market: filter.market) == [] {
                anyWord += 1
            }
        }
        #expect(compared > 500)
        #expect(anyWord > 50, "the any-word tier is exercised")
    }

    /// Every score, to the last bit: FTS5's bm25 of each matching row against the index's.
    @Test func scoresAreFTS5sBm25() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let catalog = try Self.makeCatalog(DataDirectory(dir.url).catalogURL, count: 1000, seed: 8)
        defer { try? catalog.close() }
        let index = try Self.build(catalog)
        var random = SplitMix64(seed: 12)
        var scored = 0
        for round in 0..<200 {
            let words = (0..<(1 + Int(random.next() % 3))).map { _ in Self.vocabulary[Int(random.next() % UInt64(Self.vocabulary.count))] }
            let all = round % 2 == 0
            let expected = try catalog.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT p.id, bm25(products_fts, 2.0, 1.0) FROM products_fts JOIN products p ON p.doc = products_fts.rowid
                    WHERE products_fts MATCH ? ORDER BY 2, p.doc
                    """, arguments: [FullTextQuery.match(words, operator: all ? "AND" : "OR")])
                    .map { (id: $0[0] as String, score: -($0[1] as Double)) }
            }
            let found = try #require(index.ranked(words, all: all, limit: 1000, categories: nil, market: nil), "\(words)")
            #expect(found.map(\.id) == expected.map(\.id), "\(words)")
            #expect(found.map(\.score) == expected.map(\.score), "\(words)")
            scored += found.count
        }
        #expect(scored > 10_000)
    }

    @Test func queriesWithCharactersNoProductHasAreLeftToFTS5() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let catalog = try Self.makeCatalog(DataDirectory(dir.url).catalogURL, count: 50, seed: 3)
        defer { try? catalog.close() }
        let index = try Self.build(catalog)
        #expect(index.search(["dress", "ꙮ"], all: false, limit: 10, categories: nil, market: nil) == nil)
        // Punctuation alone tokenizes to nothing: FTS5 decides what such a phrase matches.
        #expect(index.search(["—"], all: false, limit: 10, categories: nil, market: nil) == nil)
        #expect(index.search(["dress"], all: false, limit: 10, categories: nil, market: nil) != nil)
    }

    @Test func aBuildThatDisagreesWithFTS5IsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let catalog = try Self.makeCatalog(DataDirectory(dir.url).catalogURL, count: 20, seed: 5)
        defer { try? catalog.close() }
        // A row in the full-text index that no product holds.
        try catalog.write { db in
            try db.execute(sql: "INSERT INTO products_fts(rowid, name, description) VALUES (999999, 'phantom', '')")
        }
        #expect(throws: KeywordIndex.Refused.self) { try Self.build(catalog) }
    }

    @Test func aServerCatalogSearchesInMemoryAndFollowsWrites() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        let url = DataDirectory(dir.url).catalogURL
        let writer = try Self.makeCatalog(url, count: 200, seed: 9)
        defer { try? writer.close() }
        let reader = try SQLiteCatalog(path: url, readOnly: true)
        defer { try? reader.close() }
        let before = try reader.textSearch("red dress", limit: 50)
        reader.keepTextSearchInMemory()
        #expect(waitForIndex(reader, generation: try reader.generation()))
        #expect(try reader.textSearch("red dress", limit: 50) == before)

        // A write is seen by the next search (FTS5 answers while the index is rebuilt).
        try writer.upsert([Product(id: "new", name: "Zebra dress", description: "zebra", category: nil, categoryName: nil, market: nil,
                                   source: "test", extra: [:], images: [ProductImage(id: "0", key: blobKey(123456), width: 10, height: 10)])], fingerprints: [:], vectorSequence: 9999)
        #expect(try reader.textSearch("zebra", limit: 5) == ["new"])
        #expect(waitForIndex(reader, generation: try reader.generation()))
        #expect(try reader.textSearch("zebra", limit: 5) == ["new"])
        try writer.delete(ids: ["new"], vectorSequence: 10000)
        #expect(try reader.textSearch("zebra", limit: 5) == [])
    }

    /// Searches until the catalog's in-memory index holds `generation` (a search starts a build
    /// when the last ended long enough ago); false after 30 s.
    private func waitForIndex(_ catalog: SQLiteCatalog, generation: UInt64) -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            _ = try? catalog.textSearch("dress", limit: 1)
            if catalog.keywordMemory.withLock({ $0.index?.generation }) == generation { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }
}
