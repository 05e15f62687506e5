import Foundation
import Testing
import VitrineCatalog

@Suite struct TextSearchConformanceTests {
    /// A catalog of a few products with Czech and English text.
    private func makeCatalog(_ fixture: CatalogFixture) throws -> any Catalog {
        let catalog = try fixture.open()
        try catalog.upsert([
            sampleProduct("dress-cz", name: "Letní šaty", description: "Lehké bavlněné šaty na léto"),
            sampleProduct("dress-en", name: "Red summer dress", description: "Cotton, knee length"),
            sampleProduct("shoe", name: "Leather boots", description: "Winter boots to go with any dress"),
            sampleProduct("bag", name: "Tote bag", description: "Canvas bag with a zip"),
        ], fingerprints: [:], vectorSequence: 1)
        return catalog
    }

    @Test(arguments: CatalogBackend.available)
    func findsByNameAndDescriptionWords(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try makeCatalog(fixture)
        #expect(try catalog.textSearch("boots", limit: 10) == ["shoe"])
        #expect(try catalog.textSearch("canvas", limit: 10) == ["bag"])
        #expect(try catalog.textSearch("COTTON", limit: 10) == ["dress-en"])
        // A name match outranks a description-only match.
        #expect(try catalog.textSearch("dress", limit: 10) == ["dress-en", "shoe"])
        #expect(try catalog.textSearch("dress", limit: 1) == ["dress-en"])
        #expect(try catalog.textSearch("dress", limit: 0) == [])
        #expect(try catalog.textSearch("umbrella", limit: 10) == [])
    }

    @Test(arguments: CatalogBackend.available)
    func diacriticsAreIgnored(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try makeCatalog(fixture)
        #expect(try catalog.textSearch("saty", limit: 10) == ["dress-cz"])
        #expect(try catalog.textSearch("šaty", limit: 10) == ["dress-cz"])
        #expect(try catalog.textSearch("LETNI", limit: 10) == ["dress-cz"])
        #expect(try catalog.textSearch("bavlnene", limit: 10) == ["dress-cz"])
    }

    /// GLAMI-1M's thirteen languages: a shopper types without diacritics (or in capitals) and finds
    /// the product; the catalog returns its text as written.
    static let languages: [(id: String, name: String, description: String, queries: [String])] = [
        ("cs", "Dámské kožené boty", "Pohodlné boty na podpatku", ["kozene boty", "DÁMSKÉ BOTY", "podpatku"]),
        ("sk", "Pánska zimná bunda", "Teplá bunda s kapucňou", ["zimna bunda", "kapucnou"]),
        ("ro", "Cămașă albă din bumbac", "Cămașă elegantă cu mânecă lungă", ["camasa alba", "maneca lunga", "CĂMAȘĂ"]),
        ("el", "Γυναικείο φόρεμα", "Καλοκαιρινό φόρεμα από βαμβάκι", ["φορεμα", "ΦΟΡΕΜΑ", "καλοκαιρινο βαμβακι"]),
        ("sl", "Ženski usnjeni čevlji", "Udobni čevlji za vsak dan", ["usnjeni cevlji", "ZENSKI"]),
        ("hr", "Ženska kožna torba", "Torba od prave kože", ["kozna torba", "koze"]),
        ("bg", "Дамска рокля", "Лятна рокля от памук", ["рокля", "РОКЛЯ", "лятна памук"]),
        ("lt", "Moteriška suknelė", "Vasarinė suknelė iš medvilnės", ["moteriska suknele", "medvilnes"]),
        ("hu", "Női bőrcipő", "Kényelmes cipő télre", ["noi borcipo", "kenyelmes"]),
        ("lv", "Sieviešu ziemas mētelis", "Silts mētelis ar kapuci", ["sieviesu metelis", "METELIS"]),
        ("et", "Naiste nahast käekott", "Suur käekott igaks päevaks", ["kaekott", "paevaks"]),
        ("tr", "Kadın deri çanta", "Günlük kullanım için çanta", ["kadin canta", "kadın çanta", "gunluk", "ÇANTA"]),
        ("es", "Camisón de algodón", "Camisón largo para dormir", ["camison algodon", "CAMISÓN"]),
    ]

    @Test(arguments: CatalogBackend.available)
    func thirteenLanguagesFoldDiacriticsAndShowTheOriginal(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        try catalog.upsert(Self.languages.map { sampleProduct($0.id, name: $0.name, description: $0.description, market: $0.id) },
                           fingerprints: [:], vectorSequence: 1)
        for language in Self.languages {
            for query in language.queries {
                #expect(try catalog.textSearch(query, limit: 10) == [language.id], "\(language.id): \(query)")
            }
            #expect(try catalog.product(id: language.id)?.name == language.name)
        }
    }

    @Test(arguments: CatalogBackend.available)
    func allWordsFirstThenAnyWord(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try makeCatalog(fixture)
        #expect(try catalog.textSearch("red dress", limit: 10) == ["dress-en"])
        #expect(try catalog.textSearch("winter dress", limit: 10) == ["shoe"])
        // No product has both words: products with either are returned.
        #expect(Set(try catalog.textSearch("tote boots", limit: 10)) == ["bag", "shoe"])
    }

    @Test(arguments: [
        "", "   ", "\"", "\"\"", "*", "dress*", "-", "-dress", "a:b", "name:dress", "NEAR(", "NEAR(dress boots",
        "(", ")", "dress)", "AND", "OR", "NOT", "dress AND", "OR boots", "^", "\"unterminated", "'", "{name}: x",
        "dress\0boots\"", "+", "\\", "★☆", "dress -- boots", "šaty\"*",
    ])
    func hostileQueriesDoNotThrow(query: String) throws {
      for backend in CatalogBackend.available {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try makeCatalog(fixture)
        let results = try catalog.textSearch(query, limit: 10)
        if FullTextQuery.words(query).isEmpty { #expect(results.isEmpty) }
        #expect(Set(results).isSubset(of: ["dress-cz", "dress-en", "shoe", "bag"]))
      }
    }

    @Test(arguments: CatalogBackend.available)
    func syntaxIsSearchedAsText(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try makeCatalog(fixture)
        // Operators and punctuation are words or separators, not FTS5 syntax.
        #expect(try catalog.textSearch("-dress", limit: 10) == ["dress-en", "shoe"])
        #expect(try catalog.textSearch("name:boots", limit: 10) == [])   // "name boots": no product has both
        #expect(try catalog.textSearch("\"tote\"", limit: 10) == ["bag"])
        #expect(try catalog.textSearch("dress*", limit: 10) == ["dress-en", "shoe"])
    }

    @Test(arguments: CatalogBackend.available)
    func indexFollowsUpdatesAndDeletes(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try makeCatalog(fixture)
        try catalog.upsert([sampleProduct("bag", name: "Leather satchel", description: "Brown")],
                           fingerprints: [:], vectorSequence: 2)
        #expect(try catalog.textSearch("tote", limit: 10) == [])
        #expect(try catalog.textSearch("satchel", limit: 10) == ["bag"])
        #expect(Set(try catalog.textSearch("leather", limit: 10)) == ["bag", "shoe"])
        // Re-upserting unchanged text keeps it findable (the trigger skips unchanged rows).
        try catalog.upsert([sampleProduct("bag", name: "Leather satchel", description: "Brown")],
                           fingerprints: [:], vectorSequence: 3)
        #expect(try catalog.textSearch("satchel", limit: 10) == ["bag"])
        try catalog.delete(ids: ["shoe"], vectorSequence: 4)
        #expect(try catalog.textSearch("boots", limit: 10) == [])
        #expect(try catalog.textSearch("leather", limit: 10) == ["bag"])
    }

    /// Filters narrow the matches by category and market, with values bound as data: a value
    /// that reads as SQL matches nothing rather than widening the search.
    @Test(arguments: CatalogBackend.available)
    func filtersNarrowTheMatches(_ backend: CatalogBackend) throws {
        let fixture = try backend.make()
        defer { fixture.dispose() }
        let catalog = try fixture.open()
        try catalog.upsert([
            sampleProduct("d1", name: "Red dress", category: "dress", market: "cz"),
            sampleProduct("d2", name: "Blue dress", category: "dress", market: "sk"),
            sampleProduct("s1", name: "Dress shoes", category: "shoe", market: "cz"),
            sampleProduct("b1", name: "Bag for a dress", category: "bag", market: "sk"),
        ], fingerprints: [:], vectorSequence: 1)
        let all = try catalog.textSearch("dress", limit: 10)
        #expect(Set(all) == ["d1", "d2", "s1", "b1"])
        #expect(Set(try catalog.textSearch("dress", limit: 10, filter: ProductFilter(categories: ["dress"]))) == ["d1", "d2"])
        #expect(Set(try catalog.textSearch("dress", limit: 10, filter: ProductFilter(categories: ["dress", "shoe"]))) == ["d1", "d2", "s1"])
        #expect(try catalog.textSearch("dress", limit: 10, filter: ProductFilter(market: "sk")) == all.filter { ["d2", "b1"].contains($0) })
        #expect(try catalog.textSearch("dress", limit: 10, filter: ProductFilter(categories: ["shoe"], market: "cz")) == ["s1"])
        #expect(try catalog.textSearch("dress", limit: 10, filter: ProductFilter(categories: [])) == [])
        #expect(try catalog.textSearch("dress", limit: 10, filter: ProductFilter(categories: ["dress' OR '1'='1"])) == [])
        #expect(try catalog.textSearch("dress", limit: 10, filter: ProductFilter(market: "cz' OR market <> '")) == [])
        // The any-word fallback is filtered too.
        #expect(try catalog.textSearch("red bag", limit: 10, filter: ProductFilter(market: "sk")) == ["b1"])
    }
}
