import Foundation
import Testing
import VitrineCatalog
@testable import VitrineEngine
import VitrineIndex
import VitrineModels
import VitrineSources

/// Text search in keyword and hybrid mode: the fused ranking, its explanation, filters, paging,
/// `min_score`, reranking, and user text that looks like full-text syntax.
@Suite(.serialized) struct HybridSearchTests {
    static let names = [
        "Red summer dress", "Blue summer dress", "Leather ankle boots", "Leather handbag", "Wool winter coat",
        "Silk scarf", "Denim jacket", "Cotton t-shirt", "Linen trousers", "Running shoes", "Red leather belt", "Summer hat",
    ]

    /// A directory of the twelve products above, each with one photo (shoes and boots in "shoe").
    static func directory() async throws -> DataDirectory {
        let directory = try EngineFixtures.scratch()
        let items = names.enumerated().map { i, name in
            SourceEntry.item(EngineFixtures.item("p\(i)", name: name, category: name.contains("boots") || name.contains("shoes") ? "shoe" : "dress",
                                                 market: i % 2 == 0 ? "cz" : "sk", photo: i))
        }
        _ = try await EngineFixtures.ingest(items, into: directory)
        return directory
    }

    /// Each result's explanation holds its rank in each retriever's own ranking, and the fused
    /// score is Σ 1 / (60 + rank) over them, best first.
    @Test func hybridFusesTheRetrieversRankings() async throws {
        let directory = try await Self.directory()
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let engine = try EngineFixtures.searchEngine(directory)
        let query = "red leather"
        let keyword = try engine.store.catalog.textSearch(query, limit: 100)
        let clip = try engine.search(text: query, page: SearchPage(k: 100)).results.map(\.id)
        #expect(keyword == ["p10"] || Set(keyword) == ["p0", "p2", "p3", "p10"])
        let response = try engine.search(text: query, mode: .hybrid, page: SearchPage(k: 12), explain: true)
        #expect(response.results.count == 12)
        var expected: [(String, Double)] = []
        for id in Set(keyword + clip) {
            var score = 0.0
            if let rank = keyword.firstIndex(of: id) { score += 1 / (60 + Double(rank + 1)) }
            if let rank = clip.firstIndex(of: id) { score += 1 / (60 + Double(rank + 1)) }
            expected.append((id, score))
        }
        expected.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        #expect(response.results.map(\.id) == expected.map(\.0))
        for (result, (_, score)) in zip(response.results, expected) {
            let explain = try #require(result.explain)
            #expect(abs(explain.fused - score) < 1e-12)
            #expect(abs(Double(result.score) - score) < 1e-6)
            #expect(explain.retrievers[.keyword]?.rank == keyword.firstIndex(of: result.id).map { $0 + 1 })
            #expect(explain.retrievers[.clip]?.rank == clip.firstIndex(of: result.id).map { $0 + 1 })
            #expect(explain.retrievers[.clip]?.score != nil)
            #expect(explain.rerank == nil)
        }
        // Without explain, the same page without explanations.
        let plain = try engine.search(text: query, mode: .hybrid, page: SearchPage(k: 12))
        #expect(plain.results.map(\.id) == response.results.map(\.id))
        #expect(plain.results.allSatisfy { $0.explain == nil })
        // Weights: keyword alone (CLIP weighted 0) ranks the keyword matches first.
        var options = FusionOptions()
        options.weights[.clip] = 0
        let weighted = SearchEngine(store: engine.store, text: engine.text, image: engine.image, fusion: options)
        #expect(Array(try weighted.search(text: query, mode: .hybrid, page: SearchPage(k: 12)).results.prefix(keyword.count)).map(\.id) == keyword)
    }

    /// Keyword mode: full-text ranks scored 1 / (60 + rank), filters, paging and min_score on that
    /// score; no text tower needed.
    @Test func keywordModeFiltersPagesAndCutsOff() async throws {
        let directory = try await Self.directory()
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let engine = SearchEngine(store: try DataStore.openForReading(directory), text: nil, image: nil)
        let all = try engine.search(text: "summer", mode: .keyword, page: SearchPage(k: 10))
        #expect(Set(all.results.map(\.id)) == ["p0", "p1", "p11"])
        #expect(all.results.enumerated().allSatisfy { abs($0.element.score - Float(1 / (60 + Double($0.offset + 1)))) < 1e-7 })
        let first = try engine.search(text: "summer", mode: .keyword, page: SearchPage(k: 2))
        let second = try engine.search(text: "summer", mode: .keyword, page: SearchPage(k: 2, offset: 2))
        #expect((first.results + second.results).map(\.id) == all.results.map(\.id))
        // The same ranking, the other market's products left out.
        #expect(try engine.search(text: "summer", mode: .keyword, filter: SearchFilter(market: "sk")).results.map(\.id)
                == all.results.map(\.id).filter { ["p1", "p11"].contains($0) })
        #expect(try engine.search(text: "leather", mode: .keyword, filter: SearchFilter(category: "Shoe")).results.map(\.id) == ["p2"])
        #expect(try engine.search(text: "leather", mode: .keyword, filter: SearchFilter(category: "hats")).results.isEmpty)
        // min_score on the fused score: 1/61 passes the first rank only.
        let cut = try engine.search(text: "summer", mode: .keyword, page: SearchPage(k: 10, minScore: Float(1.0 / 61.5)))
        #expect(cut.results.map(\.id) == [all.results[0].id])
        // The photo shown is the product's first.
        #expect(all.results.allSatisfy { $0.image.hasPrefix("/images/") })
        // Modes that need the CLIP text tower say so.
        #expect(throws: EngineError.self) { try engine.search(text: "summer", mode: .hybrid) }
    }

    /// User text that is full-text syntax is searched as words: no error, nothing widened.
    @Test(arguments: ["\"", "*", "NEAR", "dress NEAR boots", ":", "name:dress", "(", "(dress", "\"unbalanced", "dress\" OR \"coat",
                      "!!!", "the a of", "-", "AND OR NOT", "dress*", "^dress", "{dress}", "'; DROP TABLE products; --"])
    func syntaxInUserTextIsPlainText(_ query: String) async throws {
        let directory = try await Self.directory()
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let engine = try EngineFixtures.searchEngine(directory)
        let keyword = try engine.search(text: query, mode: .keyword, page: SearchPage(k: 12))
        // Nothing matches more than the words allow: only products with one of the query's words.
        func words(_ text: String) -> Set<String> {
            Set(text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init))
        }
        let allowed = Set(Self.names.indices.filter { !words(Self.names[$0] + " a test product").isDisjoint(with: words(query)) }.map { "p\($0)" })
        #expect(Set(keyword.results.map(\.id)).isSubset(of: allowed))
        let hybrid = try engine.search(text: query, mode: .hybrid, page: SearchPage(k: 5))
        #expect(hybrid.results.count == 5)
        #expect(try engine.store.catalog.counts().products == 12)
    }

    /// The reranker reorders the top of the ranking by its scores, keeps the rest, and says so.
    @Test func rerankReordersTheTop() async throws {
        let directory = try await Self.directory()
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let plain = try EngineFixtures.searchEngine(directory)
        #expect(throws: EngineError.self) { try plain.search(text: "leather", mode: .hybrid, rerank: true) }
        var options = FusionOptions()
        options.rerankDepth = 6
        let engine = SearchEngine(store: plain.store, text: plain.text, image: plain.image, reranker: LengthReranker(), fusion: options)
        let before = try engine.search(text: "leather", mode: .hybrid, page: SearchPage(k: 12), explain: true)
        let after = try engine.search(text: "leather", mode: .hybrid, page: SearchPage(k: 12), explain: true, rerank: true)
        let top = Array(before.results.prefix(6))
        let texts = try top.map { TextEmbedder.text(of: try #require(try plain.store.catalog.product(id: $0.id))) }
        let order = zip(top, texts).enumerated().sorted { a, b in
            a.element.1.count != b.element.1.count ? a.element.1.count > b.element.1.count : a.offset < b.offset
        }.map(\.element.0.id)
        #expect(after.results.prefix(6).map(\.id) == order)
        #expect(after.results.dropFirst(6).map(\.id) == before.results.dropFirst(6).map(\.id))
        for result in after.results.prefix(6) {
            let text = TextEmbedder.text(of: try #require(try plain.store.catalog.product(id: result.id)))
            #expect(result.score == Float(text.count))
            #expect(result.explain?.rerank == Float(text.count))
        }
        #expect(after.results.dropFirst(6).allSatisfy { $0.explain?.rerank == nil })
        // Clip mode reranks too.
        let clip = try engine.search(text: "leather", mode: .clip, page: SearchPage(k: 3), rerank: true)
        #expect(clip.results.count == 3)
    }
}

/// Scores a text by its length in characters: an order a test can compute.
struct LengthReranker: Reranker {
    func scores(query: String, texts: [String], maxLength: Int?) throws -> [Float] {
        texts.map { Float($0.count) }
    }
}
