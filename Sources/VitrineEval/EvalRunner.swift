import Foundation
import VitrineCatalog
import VitrineEngine
import VitrineImage

/// Runs each query through each search mode over a store and scores the rankings.
public struct EvalRunner: Sendable {
    /// A way of searching the store.
    public enum Mode: String, CaseIterable, Sendable {
        /// CLIP: the text (or the photo) through its tower, then the vector index.
        case clip
        /// The catalog's full-text search over names and descriptions (bm25; text queries only).
        case keyword
        /// The text index: the query through its sentence model against the products' names and
        /// descriptions (text queries only).
        case text
        /// The engine's hybrid search: keyword, text and CLIP rankings fused by Reciprocal Rank
        /// Fusion (``FusionOptions``: the top 100 of each, k = 60; text where the store has a text
        /// index). A photo query has the CLIP ranking alone.
        case hybrid
        /// Hybrid, then the engine's reranker (a cross-encoder) over the top of the ranking.
        case hybridRerank = "hybrid+rerank"
    }

    /// How deep the CLIP ranking of a photo query goes into the fusion.
    public static let fusionDepth = SearchPage.maxK

    public let engine: SearchEngine
    public let k: Int

    public init(engine: SearchEngine, k: Int) throws {
        guard (1...SearchPage.maxK).contains(k) else {
            throw EvalError.invalidArgument("--k must be between 1 and \(SearchPage.maxK), not \(k)")
        }
        self.engine = engine
        self.k = k
    }

    /// One mode's ranking of each query, the time each took, and how many it could not answer.
    public func run(_ mode: Mode, _ queries: [EvalQuery]) throws -> (run: Run, latencies: [Double], unsupported: Int) {
        var run = Run()
        var latencies: [Double] = []
        var unsupported = 0
        for query in queries {
            let started = ContinuousClock.now
            var ranked: [(product: String, score: Float)]
            switch (mode, query.input) {
            case (.clip, .text(let text)):
                ranked = try engine.search(text: text, page: SearchPage(k: k)).results.map { ($0.id, $0.score) }
            case (.clip, .image(let path)):
                guard let bytes = FileManager.default.contents(atPath: path) else {
                    throw EvalError.invalidArgument("query \(query.id): cannot read its image \(path)")
                }
                ranked = try engine.search(imageData: bytes, page: SearchPage(k: k)).results.map { ($0.id, $0.score) }
            case (.keyword, .text(let text)):
                // Scores 1 / (60 + rank): strictly decreasing, so they keep the ranking's order.
                ranked = try engine.search(text: text, mode: .keyword, page: SearchPage(k: k)).results.map { ($0.id, $0.score) }
            case (.text, .text(let text)):
                ranked = try engine.search(text: text, mode: .text, page: SearchPage(k: k)).results.map { ($0.id, $0.score) }
            case (.keyword, .image), (.text, .image):
                unsupported += 1
                ranked = []
            case (.hybrid, .text(let text)):
                ranked = try engine.search(text: text, mode: .hybrid, page: SearchPage(k: k)).results.map { ($0.id, $0.score) }
            case (.hybridRerank, .text(let text)):
                ranked = try engine.search(text: text, mode: .hybrid, page: SearchPage(k: k), rerank: true).results.map { ($0.id, $0.score) }
            case (.hybrid, .image(let path)), (.hybridRerank, .image(let path)):
                guard let bytes = FileManager.default.contents(atPath: path) else {
                    throw EvalError.invalidArgument("query \(query.id): cannot read its image \(path)")
                }
                let clip = try engine.search(imageData: bytes, page: SearchPage(k: Self.fusionDepth)).results.map(\.id)
                ranked = RankFusion.reciprocalRank([clip]).prefix(k).map { ($0.id, Float($0.score)) }
            }
            latencies.append((ContinuousClock.now - started) / .milliseconds(1))
            run.scores[query.id] = ranked
        }
        return (run, latencies, unsupported)
    }

    /// Evaluates `modes` on the queries that have judgements; the others, and judged products the
    /// catalog lacks, are reported in the warnings (errors with `strict`).
    public func evaluate(modes: [Mode], queries: [EvalQuery], judgements: Judgements, strict: Bool,
                         runs: ((Mode, Run) throws -> Void)? = nil) throws -> EvalReport {
        var warnings = EvalReport.Warnings()
        let queryIDs = Set(queries.map(\.id))
        warnings.judgedQueriesWithoutQuery = judgements.queries.filter { !queryIDs.contains($0) }
        warnings.queriesWithoutJudgements = queries.map(\.id).filter { judgements.grades[$0] == nil }
        let judged = Set(judgements.grades.values.flatMap(\.keys)).sorted()
        var known: [String: Product] = [:]
        for chunk in stride(from: 0, to: judged.count, by: 500) {
            known.merge(try engine.store.catalog.products(ids: Array(judged[chunk..<min(chunk + 500, judged.count)]))) { a, _ in a }
        }
        warnings.unknownProducts = judged.filter { known[$0] == nil }
        if strict, !warnings.judgedQueriesWithoutQuery.isEmpty || !warnings.unknownProducts.isEmpty {
            var named = warnings
            named.queriesWithoutJudgements = []
            throw EvalError.unknownIDs(Self.describe(named))
        }
        let evaluated = queries.filter { judgements.grades[$0.id] != nil }
        guard !evaluated.isEmpty else {
            throw EvalError.invalidArgument("no query has judgements: the qrels' query ids and the query file's ids do not meet")
        }
        let ids = Set(evaluated.map(\.id))

        // Each query's slice: its own category and market, else those of its best judged product.
        var category: [String: String] = [:], market: [String: String] = [:]
        for query in evaluated {
            let best = (judgements.grades[query.id] ?? [:]).filter { $0.value >= 1 && known[$0.key] != nil }
                .max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }
                .flatMap { known[$0.key] }
            category[query.id] = query.category ?? best.flatMap { $0.categoryName ?? $0.category }
            market[query.id] = query.market ?? best?.market
        }

        var results: [EvalReport.Mode] = []
        for mode in modes {
            let (run, latencies, unsupported) = try self.run(mode, evaluated)
            try runs?(mode, run)
            let scores = Scoring.score(run, judgements, cutoffs: [k], only: ids)
            results.append(EvalReport.mode(mode.rawValue, scores: scores, run: run, k: k, latencies: latencies, unsupported: unsupported,
                                           slices: (category, market)))
        }
        let order = judgements.queries.filter { ids.contains($0) }
        return EvalReport(k: k, queries: order.count, modes: results,
                          comparisons: EvalReport.comparisons(results, queries: order, k: k), warnings: warnings)
    }

    public static func describe(_ warnings: EvalReport.Warnings) -> String {
        var parts: [String] = []
        func list(_ ids: [String]) -> String { ids.prefix(5).joined(separator: ", ") + (ids.count > 5 ? ", …" : "") }
        if !warnings.judgedQueriesWithoutQuery.isEmpty {
            parts.append("\(warnings.judgedQueriesWithoutQuery.count) judged queries are not in the query file (\(list(warnings.judgedQueriesWithoutQuery)))")
        }
        if !warnings.queriesWithoutJudgements.isEmpty {
            parts.append("\(warnings.queriesWithoutJudgements.count) queries have no judgements (\(list(warnings.queriesWithoutJudgements)))")
        }
        if !warnings.unknownProducts.isEmpty {
            parts.append("\(warnings.unknownProducts.count) judged products are not in the catalog (\(list(warnings.unknownProducts)))")
        }
        return parts.joined(separator: "; ")
    }
}

extension EvalRunner {
    /// Names and 96-pixel PNG thumbnails of `ids`, for the HTML report. A photo that cannot be
    /// read or decoded is shown as a blank square; the report does not fail on it.
    public func gallery(_ ids: Set<String>) throws -> [String: EvalHTMLReport.Product] {
        let products = try engine.store.catalog.products(ids: ids.sorted())
        let decoder = ImageDecoder()
        var gallery: [String: EvalHTMLReport.Product] = [:]
        for (id, product) in products {
            var thumbnail: Data?
            if let key = product.images.first?.key, let image = try? decoder.decode(try engine.store.blobs.get(key)) {
                let side = 96
                let (w, h) = image.width >= image.height
                    ? (min(side, image.width), max(1, Int((Double(image.height) * Double(min(side, image.width)) / Double(image.width)).rounded())))
                    : (max(1, Int((Double(image.width) * Double(min(side, image.height)) / Double(image.height)).rounded())), min(side, image.height))
                if let small = image.resized(width: w, height: h) {
                    thumbnail = try? PNGEncoder().encode(pixels: small.pixels, width: w, height: h, layout: .rgb)
                }
            }
            gallery[id] = EvalHTMLReport.Product(name: product.name, thumbnail: thumbnail)
        }
        return gallery
    }
}
