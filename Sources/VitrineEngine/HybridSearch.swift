import Foundation
import VitrineCatalog
import VitrineIndex
import VitrineModels

/// How a text query finds products.
public enum SearchMode: String, Sendable, CaseIterable, Codable {
    /// The query through the CLIP text tower against the photos; scores are cosine similarities.
    case clip
    /// Full-text search over names and descriptions (FTS5's bm25 in a SQLite catalog, `ts_rank_cd`
    /// in PostgreSQL); scores are the ranks' Reciprocal Rank Fusion scores, `1 / (k + rank)`.
    case keyword
    /// The query through the text index's sentence model (all-MiniLM-L6-v2) against the products'
    /// names and descriptions; scores are cosine similarities.
    case text
    /// Keyword, text and CLIP rankings fused by Reciprocal Rank Fusion (text only where the data
    /// directory has a text index); scores are the fused scores, `Σ weight / (k + rank)` over the
    /// retrievers that found the product.
    case hybrid

    /// The retrievers a mode fuses.
    public var retrievers: [Retriever] {
        switch self {
        case .clip: [.clip]
        case .keyword: [.keyword]
        case .text: [.text]
        case .hybrid: [.keyword, .text, .clip]
        }
    }
}

/// One source of a ranking.
public enum Retriever: String, Sendable, CaseIterable, Codable, CodingKeyRepresentable {
    case keyword
    case text
    case clip
}

/// How rankings are fused and reranked.
public struct FusionOptions: Sendable, Equatable {
    /// The Reciprocal Rank Fusion constant.
    public var k: Double = RankFusion.defaultK
    /// Each retriever's weight (1 when absent).
    public var weights: [Retriever: Double] = [:]
    /// Products each retriever contributes (more when the page reaches deeper).
    public var depth = 100
    /// Products of the fused ranking the reranker reorders.
    public var rerankDepth = 32
    /// Tokens of a (query, product text) pair the reranker reads.
    public var rerankMaxLength = 128

    public init() {}

    func validate() throws {
        guard k > 0, k.isFinite else { throw EngineError.invalidArgument("the fusion constant k must be positive, not \(k)") }
        for (retriever, weight) in weights where !(weight >= 0 && weight.isFinite) {
            throw EngineError.invalidArgument("the weight of \(retriever.rawValue) must be zero or positive, not \(weight)")
        }
        guard (1...1000).contains(depth) else { throw EngineError.invalidArgument("the fusion depth must be between 1 and 1000, not \(depth)") }
        guard (1...SearchPage.maxK * 4).contains(rerankDepth) else {
            throw EngineError.invalidArgument("the rerank depth must be between 1 and \(SearchPage.maxK * 4), not \(rerankDepth)")
        }
        guard rerankMaxLength >= 8 else { throw EngineError.invalidArgument("the reranker's token limit must be at least 8, not \(rerankMaxLength)") }
    }
}

/// Why a product ranks where it does (`explain=true`): its place in each retriever's ranking, the
/// fused score, and the reranker's score when it reranked.
public struct SearchExplanation: Sendable, Codable, Equatable {
    public struct Hit: Sendable, Codable, Equatable {
        /// 1-based rank in that retriever's ranking.
        public var rank: Int
        /// The retriever's own score where it has one (the cosine similarity of CLIP and text).
        public var score: Float?
    }
    /// The retrievers that found the product (absent: it was not in that retriever's top `depth`).
    public var retrievers: [Retriever: Hit]
    /// The fused score (Reciprocal Rank Fusion).
    public var fused: Double
    /// The reranker's score, when the page was reranked and the product was in its top.
    public var rerank: Float?
}

/// Scores (query, product text) pairs; larger is more relevant.
public protocol Reranker: Sendable {
    func scores(query: String, texts: [String], maxLength: Int?) throws -> [Float]
}

extension BERTCrossEncoder: Reranker {}

extension SearchEngine {
    /// A text search in `mode`. `vector` is the query's CLIP embedding when the caller has it
    /// already (a server batches the text tower); otherwise it is computed when the mode needs it.
    /// With `rerank`, the top ``FusionOptions/rerankDepth`` products of the ranking are reordered
    /// by the reranker over `name. description`, and their score becomes the reranker's.
    /// `page.minScore` applies to the mode's score before reranking (cosine for `clip` and `text`,
    /// the fused score otherwise). Hybrid leaves out the text retriever when the data directory has
    /// no text index (or the engine no text embedder); `text` mode then throws.
    public func search(text query: String, mode: SearchMode, filter: SearchFilter = .init(), page: SearchPage = .init(),
                       explain: Bool = false, rerank: Bool = false, vector given: EncodedQuery? = nil) throws -> SearchResponse {
        if mode == .clip && !explain && !rerank {
            if let given {
                return try search(prepare(text: query, page: page), vector: given.vector, truncated: given.truncated, filter: filter, page: page)
            }
            return try search(text: query, filter: filter, page: page)
        }
        try page.validate()
        try fusion.validate()
        let trimmed = try Self.check(query)
        if rerank && reranker == nil {
            throw EngineError.invalidArgument("reranking needs a reranker model; none is loaded (--reranker)")
        }
        let textIndex = try textRetriever(required: mode == .text)
        let retrievers = mode.retrievers.filter { $0 != .text || textIndex != nil }
        var encoded = given
        if retrievers.contains(.clip), encoded == nil {
            let prepared = try prepare(text: query, page: page)
            let tokens = prepared.encoder.tokenize(prepared.text)
            encoded = EncodedQuery(vector: try prepared.encoder.embed(tokenIDs: [tokens.ids])[0], truncated: tokens.truncated)
        }
        guard let resolved = try resolve(filter) else {
            return SearchResponse(query: query, truncated: encoded?.truncated ?? false, offset: page.offset, results: [])
        }
        // A ranking fused with others goes `fusion.depth` deep; one alone only as deep as the page
        // (or the reranker) reads: its order is the answer.
        let depth = retrievers.count == 1 ? max(page.offset + page.k, rerank ? fusion.rerankDepth : 0)
            : max(fusion.depth, page.offset + page.k, rerank ? fusion.rerankDepth : 0)

        // Each retriever's ranking.
        var rankings: [[String]] = []
        var clipHits: [String: SearchHit] = [:]
        var textHits: [String: SearchHit] = [:]
        for retriever in retrievers {
            switch retriever {
            case .keyword:
                let categories = resolved.conditions["category"].map { Array($0).sorted() }
                let market = resolved.conditions["market"]?.first
                rankings.append(try store.catalog.textSearch(trimmed, limit: depth, filter: ProductFilter(categories: categories, market: market)))
            case .clip:
                // Ids and best hits only: the catalog is read for the page, not for the whole ranking.
                let hits = try nearestProducts(encoded!.vector, filter: resolved, wanted: depth)
                for hit in hits { clipHits[hit.id] = hit.hit }
                rankings.append(hits.map(\.id))
            case .text:
                let (embedder, vectors) = textIndex!
                let vector = try embedder.embed(query: trimmed)
                let hits = try widening(vector, filter: resolved, in: vectors, wanted: depth) { ranked in
                    (Array(ranked.prefix(depth)), ranked.count >= depth)
                }
                for hit in hits { textHits[hit.id] = hit.hit }
                rankings.append(hits.map(\.id))
            }
        }
        let weights = retrievers.map { fusion.weights[$0] ?? 1 }
        var ranked = RankFusion.reciprocalRank(rankings, weights: weights, k: fusion.k).map { (id: $0.id, score: $0.score, rerank: Float?.none) }
        // The mode's own score: the cosine of CLIP or text when it is alone, the fused score otherwise.
        func score(_ id: String, fused: Double) -> Float {
            switch mode {
            case .clip: Self.displayScore(clipHits[id]!)
            case .text: Self.displayScore(textHits[id]!)
            case .keyword, .hybrid: Float(fused)
            }
        }
        if let minScore = page.minScore { ranked.removeAll { score($0.id, fused: $0.score) < minScore } }

        var products: [String: Product] = [:]
        let excluded = filter.excludedWords
        if !excluded.isEmpty {
            // Exclusions read each ranked product's text: the catalog is read for the whole ranking.
            products = try self.products(ids: ranked.map(\.id))
            ranked.removeAll { entry in products[entry.id].map { SearchFilter.mentions($0, excluded) } ?? false }
        }
        if rerank, let reranker, !ranked.isEmpty {
            let top = Array(ranked.prefix(fusion.rerankDepth))
            let unread = top.map(\.id).filter { products[$0] == nil }
            if !unread.isEmpty { products.merge(try self.products(ids: unread)) { a, _ in a } }
            let texts = top.map { products[$0.id].map(TextEmbedder.text(of:)) ?? "" }
            let scores = try reranker.scores(query: trimmed, texts: texts, maxLength: fusion.rerankMaxLength)
            // Best reranker score first; ties keep the fused order.
            let reordered = zip(top, scores).enumerated()
                .sorted { $0.element.1 != $1.element.1 ? $0.element.1 > $1.element.1 : $0.offset < $1.offset }
                .map { (id: $0.element.0.id, score: $0.element.0.score, rerank: Float?.some($0.element.1)) }
            ranked = reordered + ranked.dropFirst(top.count)
        }

        let pageIDs = ranked.dropFirst(page.offset).prefix(page.k)
        let missing = pageIDs.map(\.id).filter { products[$0] == nil }
        if !missing.isEmpty { products.merge(try self.products(ids: missing)) { a, _ in a } }
        // Each retriever's rank of a product, for the explanations.
        let positions: [[String: Int]] = !explain ? [] : rankings.map { ranking in
            var first: [String: Int] = [:]
            for (index, id) in ranking.enumerated() where first[id] == nil { first[id] = index + 1 }
            return first
        }
        let results: [SearchResult] = pageIDs.compactMap { entry in
            // A product deleted since its retriever ranked it is skipped, as the vector path does.
            guard let product = products[entry.id] else { return nil }
            // The photo CLIP matched best, else the product's first.
            let matched = clipHits[entry.id].flatMap { hit in product.images.first { $0.id == hit.key.image } }
            guard let image = (matched ?? product.images.first).map({ "/images/\($0.key)" }) else { return nil }
            var result = SearchResult(id: product.id, score: entry.rerank ?? score(entry.id, fused: entry.score), name: product.name,
                                      category: product.categoryName ?? product.category, market: product.market, image: image)
            if explain {
                var hits: [Retriever: SearchExplanation.Hit] = [:]
                for (retriever, position) in zip(retrievers, positions) {
                    guard let rank = position[entry.id] else { continue }
                    let own: SearchHit? = switch retriever {
                    case .clip: clipHits[entry.id]
                    case .text: textHits[entry.id]
                    case .keyword: nil
                    }
                    hits[retriever] = SearchExplanation.Hit(rank: rank, score: own.map(Self.displayScore))
                }
                result.explain = SearchExplanation(retrievers: hits, fused: entry.score, rerank: entry.rerank)
            }
            return result
        }
        return SearchResponse(query: query, truncated: encoded?.truncated ?? false, offset: page.offset, results: results)
    }

    /// The text embedder and the text index it matches, or nil when there is none to search (no
    /// text index, no embedder, or a reindex has put another sentence model behind the index since
    /// this engine was made). With `required` (`mode=text`), nil is an error naming what is missing.
    func textRetriever(required: Bool) throws -> (TextEmbedder, any VectorStore)? {
        try catchUp()
        let data = store.directory.url.path
        guard let index = store.textIndex else {
            guard !required else {
                throw EngineError.invalidArgument(
                    "mode text needs a text index, and data directory \(data) has none: build it with `vitrine reindex --text-embedder M` (or ingest with one)")
            }
            return nil
        }
        guard let textEmbedder else {
            guard !required else {
                throw EngineError.invalidArgument("mode text needs the text index's sentence model (\(index.record.model.specifier)), and none is loaded (--text-embedder)")
            }
            return nil
        }
        guard index.record.model.sameEmbeddings(as: textEmbedder.record) else {
            guard !required else { throw ModelChangedError(data: data, serving: index.record.model, loaded: textEmbedder.record) }
            return nil
        }
        return (textEmbedder, index.vectors)
    }

    /// The `wanted` products nearest to `vector` (fewer when the index has fewer), best first, each
    /// with its best photo's hit: ``widening(_:filter:in:wanted:excluding:minScore:_:)`` without
    /// reading the catalog, for a ranking that is fused before any page is cut.
    /// The caller has caught up with the writer (``textRetriever(required:)`` does, first).
    func nearestProducts(_ vector: [Float], filter resolved: VectorFilter, wanted: Int) throws -> [(id: String, hit: SearchHit)] {
        guard let vectors = try servingIndex(requireModel: true) else { return [] }
        return try widening(vector, filter: resolved, in: vectors, wanted: wanted) { ranked in
            (Array(ranked.prefix(wanted)), ranked.count >= wanted)
        }
    }


    /// The query without surrounding whitespace, or ``EngineError/invalidQuery(_:)`` when it is
    /// empty or too long.
    public static func check(_ query: String) throws -> String {
        let trimmed = query.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw EngineError.invalidQuery("the query is empty") }
        guard query.count <= maxQueryLength else {
            throw EngineError.invalidQuery("the query is \(query.count) characters long; the limit is \(maxQueryLength)")
        }
        return trimmed
    }
}

/// A text query's CLIP embedding, and whether the tokenizer cut the query.
public struct EncodedQuery: Sendable {
    public var vector: [Float]
    public var truncated: Bool
    public init(vector: [Float], truncated: Bool) {
        self.vector = vector
        self.truncated = truncated
    }
}
