import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineEngine
import VitrineLLM
import VitrineModels
import VitrineTensor

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search a data directory by text or by an example photo.",
        discussion: """
        Results are products (a product's best-matching image scores it), best first. With \
        --json, prints {"query", "truncated", "offset", "results": [{"id", "score", "name", \
        "category", "market", "image"}]}, the shape the HTTP API returns (with --explain, each \
        result's "explain": {"retrievers": {"keyword"|"text"|"clip": {"rank", "score"}}, "fused", "rerank"}).
        """
    )

    @Argument(help: "The text query.")
    var query: String?

    @Option(help: "Search by this photo instead (JPEG, PNG or WebP).")
    var image: String?

    @OptionGroup var data: DataOption

    @Option(help: "The model (default: the one recorded in the data directory; if given, it must be that model).")
    var model: String?

    @Option(help: "Linear layers' precision: fp32, bf16 or int8.")
    var precision: Precision = .fp32

    @Option(help: "Results per page (1–\(SearchPage.maxK)).")
    var k = 10

    @Option(help: "Skip this many results (paging).")
    var offset = 0

    @Option(help: "Only this category (id or name).")
    var category: String?

    @Option(help: "Only this market (e.g. cz, sk, ro).")
    var market: String?

    @Option(name: .customLong("min-score"), help: "Drop results with a lower score: the cosine similarity in clip and text mode, the fused score in keyword and hybrid mode.")
    var minScore: Float?

    @Option(help: "How a text query finds products: clip (the photos, through CLIP), keyword (names and descriptions, full text), text (names and descriptions, through the text index's sentence model) or hybrid (all three, fused by Reciprocal Rank Fusion).")
    var mode: SearchMode = .clip

    @Option(name: .customLong("text-embedder"), help: TextEmbedderModel.help)
    var textEmbedder: String?

    @Option(name: .customLong("query-model"), help: QueryModelLoader.help)
    var queryModel: String?

    @Option(name: .customLong("llm-url"), help: ArgumentHelp(
        "An OpenAI-compatible chat server that reads the query into a query and filters first (base URL, e.g. http://127.0.0.1:8081/v1; key in VITRINE_LLM_API_KEY). Off by default.",
        valueName: "url"))
    var llmURL: String?

    @Option(name: .customLong("llm-model"), help: ArgumentHelp("The model the --llm-url server is asked for.", valueName: "name"))
    var llmModel: String?

    @Option(name: .customLong("llm-budget"), help: ArgumentHelp("Milliseconds the LLM may take before the query is searched as typed (default 1500).", valueName: "ms"))
    var llmBudget: Int?

    @Option(help: ArgumentHelp("Comma-separated words no result may mention.", valueName: "words"))
    var exclude: String?

    @Flag(help: "Rerank the top of the results with the --reranker cross-encoder over each product's name and description.")
    var rerank = false

    @Option(help: ArgumentHelp("The cross-encoder --rerank runs: a hub id such as cross-encoder/ms-marco-MiniLM-L-6-v2, or a directory.", valueName: "model"))
    var reranker: String?

    @Flag(help: "Show each result's rank and score per retriever (and the reranker's score).")
    var explain = false

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        guard (query == nil) != (image == nil) else { throw ValidationError("give a text query or --image PATH (one of them)") }
        guard (1...SearchPage.maxK).contains(k) else { throw ValidationError("--k must be between 1 and \(SearchPage.maxK)") }
        guard (0...SearchPage.maxOffset).contains(offset) else { throw ValidationError("--offset must be between 0 and \(SearchPage.maxOffset)") }
        if rerank && reranker == nil { throw ValidationError("--rerank needs --reranker MODEL (a cross-encoder)") }
        if image != nil && (mode != .clip || rerank) { throw ValidationError("an image query searches the photos only: --mode and --rerank apply to text queries") }
    }

    func run() async throws {
        let response = try await CLI.run { () async throws -> SearchResponse in
            let store = try DataStore.openForReading(try data.storage())
            // Keyword search reads the catalog only: no model to load.
            let photosOnly = image != nil || mode == .clip
            let encoders = (mode == .keyword || mode == .text) && image == nil ? nil
                : try await RecordedModel.load(store: store, specifier: model, precision: precision)
            let text = photosOnly ? nil : try await TextEmbedderModel.load(textEmbedder, store: store, precision: precision)
            let tower = encoders == nil || image != nil ? nil
                : try await QueryModelLoader.load(queryModel, precision: precision, dimension: store.model?.dimension ?? 0)
            let ranker = try await RerankerModel.load(reranker, precision: precision)
            let engine = SearchEngine(store: store, text: tower?.encoder ?? encoders?.text, image: encoders?.image, reranker: ranker,
                                      textEmbedder: text)
            var filter = SearchFilter(category: category, market: market,
                                      exclude: (exclude ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
            let page = SearchPage(k: k, offset: offset, minScore: minScore)
            var understood: Understood?
            if let llmURL, let query, image == nil {
                let llm = try LLMConfiguration.parse(url: llmURL, model: llmModel, apiKey: ProcessInfo.processInfo.environment["VITRINE_LLM_API_KEY"],
                                                     budgetMilliseconds: llmBudget, structuredOutput: nil)
                let categories = try store.catalog.categories().sorted { $0.count > $1.count }.map { FacetValue(value: $0.value, name: $0.name) }
                let markets = try store.catalog.markets().map { FacetValue(value: $0.value, name: $0.name) }
                let parsed = await QueryParser(client: ChatClient(configuration: llm)) { outcome, duration, error in
                    if let error { CLI.printNote("the LLM server failed (\(outcome), \(duration)): \(error); searching the query as typed") }
                }.understand(query, categories: categories, markets: markets)
                filter = filter.adding(parsed)
                understood = parsed
            }
            if let image {
                let path = (image as NSString).expandingTildeInPath
                guard let bytes = FileManager.default.contents(atPath: path) else {
                    throw EngineError.invalidQuery("cannot read image \(image)")
                }
                return try engine.search(imageData: bytes, filter: filter, page: page)
            }
            var response = try engine.search(text: understood?.searchText ?? query ?? "", mode: mode, filter: filter, page: page,
                                             explain: explain, rerank: rerank)
            if let understood {
                response.query = query ?? ""
                response.understood = understood
            }
            return response
        }
        if json {  // one line, in the API's field order: a result page, not a report
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(response) + Data("\n".utf8))
            return
        }
        if let understood = response.understood, understood.source != .fallback {
            let parts = [understood.category.map { "category \(understood.categoryName ?? $0)" }, understood.market.map { "market \($0)" },
                         understood.exclude.isEmpty ? nil : "not \(understood.exclude.joined(separator: ", "))"].compactMap { $0 }
            CLI.say("understood: \"\(CLI.visible(understood.searchText, all: true))\"" + (parts.isEmpty ? "" : "; " + parts.joined(separator: "; ")))
        }
        if response.truncated { CLI.printNote("the query was cut to the model's token limit (77 for CLIP)") }
        if response.results.isEmpty { CLI.say("no results") }
        for (i, r) in response.results.enumerated() {
            // Catalog text is escaped whole, newlines included: one result, one line.
            let where_ = [r.category, r.market].compactMap { $0 }.map { CLI.visible($0, all: true) }.joined(separator: ", ")
            CLI.say(String(format: "%3d. %.4f  ", response.offset + i + 1, r.score)
                    + "\(CLI.visible(r.id, all: true))  \(CLI.visible(r.name, all: true))" + (where_.isEmpty ? "" : "  (\(where_))"))
            if let explanation = r.explain {
                var parts = Retriever.allCases.compactMap { retriever in
                    explanation.retrievers[retriever].map { hit in
                        "\(retriever.rawValue) #\(hit.rank)" + (hit.score.map { String(format: " (%.4f)", $0) } ?? "")
                    }
                }
                parts.append(String(format: "fused %.5f", explanation.fused))
                if let rerank = explanation.rerank { parts.append(String(format: "rerank %.4f", rerank)) }
                CLI.say("       " + parts.joined(separator: ", "))
            }
        }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Counts of a data directory: products, images, vectors, blobs, and the model that built it.")

    @OptionGroup var data: DataOption

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let stats = try CLI.run { () throws -> DataStats in
            let store = try DataStore.openForReading(try data.storage())
            defer { try? store.close() }
            return try store.stats()
        }
        if json {
            try CLI.printJSON(stats)
            return
        }
        CLI.say("products  \(stats.products)")
        CLI.say("images    \(stats.images)")
        CLI.say("vectors   \(stats.vectors)")
        CLI.say("blobs     \(stats.blobs)")
        CLI.say("generation \(stats.generation), index sequence \(stats.vectorSequence)")
        if let model = stats.model {
            CLI.say("model     \(model.specifier) (\(model.precision), \(model.dimension) dimensions, weights sha256 \(model.weightsSHA256.prefix(12))…)")
        }
        if let text = stats.textModel {
            CLI.say("text      \(stats.textVectors ?? 0) products embedded by \(text.specifier) (\(text.precision), \(text.dimension) dimensions)")
        }
        if let backends = stats.backends {
            CLI.say("catalog   \(backends.catalog)")
            CLI.say("photos    \(backends.blobs)")
            CLI.say("index     \(backends.vectors)")
        }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check each store (SQLite integrity, index and image checksums, model record) and that they agree; exit 1 on any problem.")

    @OptionGroup var data: DataOption

    @Flag(name: .customLong("skip-checksums"), help: "Don't re-hash the stored images.")
    var skipChecksums = false

    func run() async throws {
        let problems = try CLI.run { () throws -> [String] in
            let storage = try data.storage()
            if storage.isEmbedded { return try DataStore.verify(storage.directory, checksums: !skipChecksums) }
            // With a remote role, the stores are opened as a reader and checked against each other.
            let store = try DataStore.openForReading(storage)
            defer { try? store.close() }
            return try store.verify(checksums: !skipChecksums)
        }
        guard problems.isEmpty else {
            for problem in problems { CLI.printError(problem) }
            throw ExitCode.failure
        }
        CLI.say("ok: catalog, index and images agree")
    }
}
