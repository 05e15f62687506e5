import Foundation
import VitrineCatalog
import VitrineImage
import VitrineIndex
import VitrineLLM
import VitrineModels

/// Narrowing of a search: category (id or name, as the catalog has either) and market.
public struct SearchFilter: Sendable, Equatable {
    public var category: String?
    public var market: String?
    /// Words a product must not mention: a product whose name or description has a word starting
    /// with one of them (case and diacritics folded) is left out ("boots, not ankle").
    public var exclude: [String]

    public init(category: String? = nil, market: String? = nil, exclude: [String] = []) {
        self.category = category
        self.market = market
        self.exclude = exclude
    }

    /// This filter with what an LLM understood: the request's own category and market win over
    /// the understood ones, and exclusions add up.
    public func adding(_ understood: Understood) -> SearchFilter {
        SearchFilter(category: category ?? understood.category, market: market ?? understood.market, exclude: exclude + understood.exclude)
    }

    /// The exclusions as folded, lowercased words (empty ones dropped).
    var excludedWords: [String] {
        exclude.flatMap { FullTextQuery.words(TextFolding.fold($0).lowercased()) }
    }

    /// Whether `product` mentions one of `words` (``excludedWords``) at the start of a word of its
    /// name or description.
    static func mentions(_ product: Product, _ words: [String]) -> Bool {
        guard !words.isEmpty else { return false }
        let text = TextFolding.fold(product.name + " " + product.description).lowercased()
        let tokens = text.split { !$0.isLetter && !$0.isNumber }
        return tokens.contains { token in words.contains { token.hasPrefix($0) } }
    }
}

/// Paging and cut-off of a search.
public struct SearchPage: Sendable, Equatable {
    public var k: Int
    public var offset: Int
    /// Drop results whose cosine similarity is below this.
    public var minScore: Float?

    public static let maxK = 100
    public static let maxOffset = 10_000

    public init(k: Int = 10, offset: Int = 0, minScore: Float? = nil) {
        self.k = k
        self.offset = offset
        self.minScore = minScore
    }

    public func validate() throws {
        guard (1...Self.maxK).contains(k) else { throw EngineError.invalidArgument("k must be between 1 and \(Self.maxK), not \(k)") }
        guard (0...Self.maxOffset).contains(offset) else {
            throw EngineError.invalidArgument("offset must be between 0 and \(Self.maxOffset), not \(offset)")
        }
        if let minScore, !(minScore >= -1 && minScore <= 1) {
            throw EngineError.invalidArgument("min_score must be between -1 and 1, not \(minScore)")
        }
    }
}

/// One product in a result list: the shape `vitrine search --json` prints and the HTTP API returns.
public struct SearchResult: Sendable, Codable, Equatable {
    public var id: String
    /// The mode's score: the cosine similarity of the product's best-matching image to the query
    /// (CLIP), the fused score (keyword, hybrid), or the reranker's score when reranked.
    public var score: Float
    public var name: String
    /// The category's name when the catalog has one, else its id.
    public var category: String?
    public var market: String?
    /// Path of the product's best-matching image: `/images/{key}`.
    public var image: String
    /// Each retriever's rank and score, when asked for (`explain`).
    public var explain: SearchExplanation? = nil
}

/// A page of results.
public struct SearchResponse: Sendable, Codable, Equatable {
    /// The query as given (text), or a description of it (`image:…`, `similar:ID`).
    public var query: String
    /// Whether the text query was cut to the model's 77 tokens.
    public var truncated: Bool
    public var offset: Int
    public var results: [SearchResult]
    /// What an LLM understood the request to ask for, when one was asked (a server with `llm.url`).
    public var understood: Understood? = nil
}

/// The query path: text → tokenizer → text tower (or image → image tower, or a stored product's
/// vector) → index search with filters → catalog records, grouped by product (a product's best
/// image scores it), paged.
public final class SearchEngine: @unchecked Sendable {
    public let store: DataStore
    public let text: (any TextEncoder)?
    public let image: CLIPImageEncoder?
    /// The model the encoders belong to (the store's when the engine was made). After a reindex
    /// swapped models, queries throw ``ModelChangedError``: make a new engine with the new
    /// model's encoders (``DataStore/model``).
    public let model: ModelRecord?
    private let decoder: ImageDecoder
    /// Whether each query first catches up with the writer's commits (a reader's one small catalog
    /// query, a round trip on PostgreSQL). A server over a catalog server turns it off: its poller
    /// refreshes every interval, so every replica sees a write within that interval.
    public let refreshesPerQuery: Bool
    /// Told how long each search of the vector index and each read of product records took (a
    /// server's latency histograms of its dependencies).
    let timings: SearchTimings
    /// Reorders the top of a text search's ranking when asked (`rerank`); nil when none is loaded.
    public let reranker: (any Reranker)?
    /// How the rankings are fused and reranked.
    public let fusion: FusionOptions
    /// The sentence model of the text index, for `mode=text` and hybrid's text retriever (nil: none).
    public let textEmbedder: TextEmbedder?

    /// Longest text query accepted, in characters (the tokenizer would cut it to 77 tokens anyway;
    /// this bounds the work spent on a hostile one).
    public static let maxQueryLength = 1000

    public init(store: DataStore, text: (any TextEncoder)?, image: CLIPImageEncoder?, maxPixels: Int = 40_000_000,
                refreshesPerQuery: Bool = true, timings: SearchTimings = SearchTimings(),
                reranker: (any Reranker)? = nil, fusion: FusionOptions = FusionOptions(), textEmbedder: TextEmbedder? = nil) {
        self.store = store
        self.textEmbedder = textEmbedder
        self.reranker = reranker
        self.fusion = fusion
        self.refreshesPerQuery = refreshesPerQuery
        self.timings = timings
        self.text = text
        self.image = image
        model = store.model
        decoder = ImageDecoder(maxPixels: maxPixels)
    }

    // MARK: Queries

    public func search(text query: String, filter: SearchFilter = .init(), page: SearchPage = .init()) throws -> SearchResponse {
        let prepared = try prepare(text: query, page: page)
        let tokens = prepared.encoder.tokenize(prepared.text)
        let vector = try prepared.encoder.embed(tokenIDs: [tokens.ids])[0]
        return try search(prepared, vector: vector, truncated: tokens.truncated, filter: filter, page: page)
    }

    /// A text query that passed the checks, ready for the text tower: the first half of
    /// ``search(text:filter:page:)``, for callers that encode several queries in one pass.
    public struct TextQuery: Sendable {
        /// The query as given.
        public let query: String
        /// What the tokenizer reads: the query without surrounding whitespace.
        public let text: String
        public let encoder: any TextEncoder
    }

    /// Checks a text query and the page (empty, too long, bad k/offset) without encoding it.
    public func prepare(text query: String, page: SearchPage) throws -> TextQuery {
        try page.validate()
        let trimmed = try Self.check(query)
        guard let text else { throw EngineError.model(path: store.directory.url.path, reason: "the model has no text tower") }
        return TextQuery(query: query, text: trimmed, encoder: text)
    }

    /// The second half of a text search: the page of products nearest to the query's embedding.
    public func search(_ query: TextQuery, vector: [Float], truncated: Bool, filter: SearchFilter, page: SearchPage) throws -> SearchResponse {
        let results = try nearest(vector, filter: filter, page: page, excluding: nil)
        return SearchResponse(query: query.query, truncated: truncated, offset: page.offset, results: results)
    }

    /// Search by an uploaded photo's bytes (JPEG, PNG or WebP).
    public func search(imageData: Data, filter: SearchFilter = .init(), page: SearchPage = .init()) throws -> SearchResponse {
        try page.validate()
        guard let image else { throw EngineError.model(path: store.directory.url.path, reason: "the model has no image tower") }
        let decoded = try decoder.decode(imageData)
        let vector = image.embed(images: [decoded])[0]
        let results = try nearest(vector, filter: filter, page: page, excluding: nil)
        return SearchResponse(query: "image:\(decoded.width)x\(decoded.height)", truncated: false, offset: page.offset, results: results)
    }

    /// "More like this": products whose images are nearest to the product's first image.
    public func similar(to id: String, filter: SearchFilter = .init(), page: SearchPage = .init()) throws -> SearchResponse {
        try page.validate()
        try catchUp()
        // A stored vector and the index it is searched in must come from the same model.
        let vectors = try servingIndex(requireModel: false)
        guard let product = try store.catalog.product(id: id), let first = product.images.first,
              let vectors,
              let vector = try vectors.vector(for: VectorKey(product: id, image: first.id)) else {
            throw EngineError.unknownProduct(id)
        }
        let results = try nearest(vector, filter: filter, page: page, excluding: id, in: vectors)
        return SearchResponse(query: "similar:\(id)", truncated: false, offset: page.offset, results: results)
    }

    /// A product record, or ``EngineError/unknownProduct(_:)``.
    public func product(id: String) throws -> Product {
        try catchUp()
        guard let product = try store.catalog.product(id: id) else { throw EngineError.unknownProduct(id) }
        return product
    }

    /// The records of `ids` that the catalog has, timed for ``timings``.
    func products(ids: [String]) throws -> [String: Product] {
        let started = ContinuousClock.now
        defer { timings.catalogRead?(ContinuousClock.now - started) }
        return try store.catalog.products(ids: ids)
    }

    /// Catches up with the writer's commits (readers only; cheap when nothing changed).
    public func refresh() throws { try store.refresh() }

    func catchUp() throws {
        if refreshesPerQuery { try store.refresh() }
    }

    // MARK: Nearest products

    /// The page of products nearest to `vector`. The index returns images; several images of one
    /// product collapse into its best, and hits the catalog does not name (a batch a writer has
    /// indexed but not yet committed) are dropped. The first window asks for twice the images the
    /// page needs (at least 20): on a server every row returned costs a fetch of its fields, so a
    /// wider window is paid by every search. When grouping leaves too few products, the search
    /// widens (×4) until the page is full or the index is exhausted; results stay exact.
    func nearest(_ vector: [Float], filter: SearchFilter, page: SearchPage, excluding: String?,
                 in index: (any VectorStore)? = nil) throws -> [SearchResult] {
        var vectors = index
        if vectors == nil {
            try catchUp()
            vectors = try servingIndex(requireModel: true)
        }
        guard let vectors else { return [] }
        guard let resolved = try resolve(filter) else { return [] }
        let excluded = filter.excludedWords
        let wanted = page.offset + page.k + (excluding == nil ? 0 : 1)
        return try widening(vector, filter: resolved, in: vectors, wanted: wanted, excluding: excluding, minScore: page.minScore) { ranked in
            // Records are read best first and only as many as the page needs (a few more when the
            // catalog lacks some): reading all `n` would cost more than the index search itself.
            var results: [SearchResult] = []
            var cursor = 0
            while results.count < wanted && cursor < ranked.count {
                let chunk = Array(ranked[cursor..<min(cursor + wanted - results.count, ranked.count)])
                cursor += chunk.count
                let products = try products(ids: chunk.map(\.id))
                for (id, hit) in chunk {
                    guard let product = products[id], let image = product.images.first(where: { $0.id == hit.key.image }),
                          !SearchFilter.mentions(product, excluded) else { continue }
                    results.append(SearchResult(
                        id: id, score: Self.displayScore(hit), name: product.name, category: product.categoryName ?? product.category,
                        market: product.market, image: "/images/\(image.key)"))
                }
            }
            return (Array(results.dropFirst(page.offset).prefix(page.k)), results.count >= wanted)
        }
    }

    /// Searches the index for `wanted` products: each window's images collapse into their
    /// products (a product scored by its best image, best first, equal scores by id), and `accept`
    /// turns them into the answer and says whether it is complete. The first window is twice
    /// `wanted` images (at least ``firstWindow``); an incomplete answer widens the window ×4 until
    /// it is complete or the index is exhausted. The index's size is asked only when the search
    /// must widen: on a server (Milvus) it is a query of its own, dearer than the search.
    func widening<Answer>(_ vector: [Float], filter: VectorFilter, in vectors: any VectorStore, wanted: Int,
                          excluding: String? = nil, minScore: Float? = nil,
                          _ accept: ([(id: String, hit: SearchHit)]) throws -> (answer: Answer, complete: Bool)) throws -> Answer {
        let vectorFilter = filter.conditions.isEmpty ? nil : filter
        var total: Int?
        var n = max(Self.firstWindow, wanted * 2)
        while true {
            let started = ContinuousClock.now
            let hits = try vectors.search(vector, k: n, filter: vectorFilter, ef: nil)
            timings.indexSearched?(ContinuousClock.now - started)
            var best: [String: SearchHit] = [:]
            for hit in hits where hit.key.product != excluding {
                if let minScore, hit.score < minScore { continue }
                if best[hit.key.product].map({ hit.score > $0.score }) ?? true { best[hit.key.product] = hit }
            }
            let ranked = best.sorted { $0.value.score > $1.value.score || ($0.value.score == $1.value.score && $0.key < $1.key) }
                .map { (id: $0.key, hit: $0.value) }
            let (answer, complete) = try accept(ranked)
            if complete || hits.count < n { return answer }
            let size = try total ?? vectors.count()
            total = size
            if n >= size { return answer }
            n = min(n * 4, size)
        }
    }

    /// The fewest images the first index search of a page asks for.
    static let firstWindow = 20

    /// The category ids a filter value selects: the category with exactly that id when there is
    /// one (so `dress` never mixes in a category named "Dress"), else those with exactly that name,
    /// else those whose id or name equals it ignoring case.
    public static func categoryIDs(matching value: String, in categories: [FacetCount]) -> [String] {
        if categories.contains(where: { $0.value == value }) { return [value] }
        let named = categories.filter { $0.name == value }.map(\.value)
        if !named.isEmpty { return named }
        let wanted = value.lowercased()
        return categories.filter { $0.value.lowercased() == wanted || $0.name?.lowercased() == wanted }.map(\.value)
    }

    /// A hit's score as results show it: a cosine computed in float rounds to a hair above 1 for
    /// a vector against itself, which reads as a bug, so cosine scores are clamped to [-1, 1].
    static func displayScore(_ hit: SearchHit) -> Float {
        hit.metric == .cosine ? min(1, max(-1, hit.score)) : hit.score
    }

    /// The index the store serves. With `requireModel`, the query was embedded by this engine's
    /// encoders: if a reindex has swapped in another model, searching would compare vectors of two
    /// unrelated spaces, so it throws ``ModelChangedError`` instead.
    func servingIndex(requireModel: Bool) throws -> (any VectorStore)? {
        let (vectors, serving) = store.servingView()
        if requireModel, let model, let serving, !serving.sameEmbeddings(as: model) {
            throw ModelChangedError(data: store.directory.url.path, serving: serving, loaded: model)
        }
        return vectors
    }

    /// The index filter for `filter`: a category given by id or by name (case-insensitive) selects
    /// every id it names. Nil when nothing can match (the answer is empty, not an error); no
    /// conditions when the filter is empty.
    func resolve(_ filter: SearchFilter) throws -> VectorFilter? {
        var conditions: [String: Set<String>] = [:]
        if let category = filter.category?.trimmingCharacters(in: .whitespaces), !category.isEmpty {
            let ids = Self.categoryIDs(matching: category, in: try store.catalog.categories())
            guard !ids.isEmpty else { return nil }
            conditions["category"] = Set(ids)
        }
        if let market = filter.market?.trimmingCharacters(in: .whitespaces), !market.isEmpty {
            conditions["market"] = [market.lowercased()]
        }
        return VectorFilter(conditions)
    }
}

/// Callbacks told how long a search spent in each store it reads (a server's latency histograms,
/// which tell a slow vector server from a slow catalog).
public struct SearchTimings: Sendable {
    /// One search of the vector index.
    public var indexSearched: (@Sendable (Duration) -> Void)?
    /// One read of product records from the catalog.
    public var catalogRead: (@Sendable (Duration) -> Void)?

    public init(indexSearched: (@Sendable (Duration) -> Void)? = nil, catalogRead: (@Sendable (Duration) -> Void)? = nil) {
        self.indexSearched = indexSearched
        self.catalogRead = catalogRead
    }
}
