import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineEngine
import VitrineEval
import VitrineImage
import VitrineModels
import VitrineSources
import VitrineTensor

extension EvalRunner.Mode: ExpressibleByArgument {}
extension SearchMode: ExpressibleByArgument {}

struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure search quality: run judged queries through each search mode and report standard metrics.",
        subcommands: [Run.self, Score.self, Compare.self, FashionMNIST.self, GLAMI.self, GLAMIQueries.self],
        defaultSubcommand: Run.self
    )

    /// `--fail-below ndcg@10=0.3` (every mode, every run file) or `keyword:ndcg@10=0.75` (one
    /// mode): a metric and its floor.
    struct Floor: ExpressibleByArgument {
        var mode: String?
        var metric: String
        var k: Int
        var value: Double

        init?(argument: String) {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = Double(parts[1]), value.isFinite else { return nil }
            var name = parts[0]
            if let colon = name.firstIndex(of: ":") {
                mode = String(name[..<colon])
                name = String(name[name.index(after: colon)...])
            }
            guard let (metric, k) = RetrievalMetric.parse(name) else { return nil }
            self.metric = metric.name(k)  // ndcg@010 is ndcg@10
            self.k = k
            self.value = value
        }
    }

    /// The floors `values` (mode or file → metric → value) fall below, in words.
    static func failures(_ floors: [Floor], _ values: [(String, [String: Double])]) -> [String] {
        var failures: [String] = []
        for floor in floors {
            for (name, metrics) in values where floor.mode == nil || floor.mode == name {
                guard let value = metrics[floor.metric] else {
                    failures.append("\(name): \(floor.metric) was not computed (give --k \(floor.metric.split(separator: "@").last!))")
                    continue
                }
                if value < floor.value { failures.append("\(name): \(floor.metric) = \(format(value)) is below \(format(floor.value))") }
            }
        }
        return failures
    }

    static func format(_ value: Double) -> String { String(format: "%.4f", value) }

    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
    }

    static func readReport(_ path: String) throws -> EvalReport {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(EvalReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw EvalError.empty(path: path, reason: "is not a report of `vitrine eval --json` (\(error))")
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run judged queries through each mode over a store (the default subcommand).",
            discussion: """
            Queries: JSON lines {"id", "text"} or {"id", "image": PATH} (optional "category", \
            "market"), or CSV with those columns. Judgements (qrels): TREC `qid 0 product_id \
            relevance`, or JSON lines / CSV with qid, product_id, relevance. Relevant = relevance \
            ≥ 1. Reports recall, precision, MRR, nDCG, MAP and hit rate at k (trec_eval's \
            definitions, docs/eval-metrics.md) with 95% bootstrap intervals, per category and \
            market, each mode's p50/p99 latency, and paired randomization tests between modes. \
            Exit 1 when a --fail-below floor is not met.
            """
        )

        @OptionGroup var data: DataOption

        @Option(help: "The queries (.jsonl or .csv).")
        var queries: String

        @Option(help: "The judgements (TREC qrels, .jsonl or .csv).")
        var qrels: String

        @Option(help: ArgumentHelp("Comma-separated modes: \(EvalRunner.Mode.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "modes"))
        var mode = "clip,keyword"

        @Option(help: "The cutoff k of every metric (1–\(SearchPage.maxK)).")
        var k = 10

        @Option(help: "The model (default: the one recorded in the data directory).")
        var model: String?

        @Option(help: "Linear layers' precision: fp32, bf16 or int8.")
        var precision: Precision = .fp32

        @Option(help: ArgumentHelp("The cross-encoder the hybrid+rerank mode runs: a hub id such as cross-encoder/ms-marco-MiniLM-L-6-v2, or a directory.", valueName: "model"))
        var reranker: String?

        @Option(name: .customLong("text-embedder"), help: TextEmbedderModel.help)
        var textEmbedder: String?

        @Option(name: .customLong("query-model"), help: QueryModelLoader.help)
        var queryModel: String?

        @Option(name: .customLong("weight"), help: ArgumentHelp(
            "A retriever's weight in hybrid's fusion: keyword=W, text=W or clip=W (default 1 each; 0 leaves it out). Repeatable.",
            valueName: "retriever=w"))
        var weights: [String] = []

        @Option(name: .customLong("run-out"), help: "Write each mode's ranking to DIR/MODE.run (TREC run files, for trec_eval).")
        var runOut: String?

        @Option(name: .customLong("fail-below"), help: ArgumentHelp("Exit 1 when a mode's metric is below the value: ndcg@10=0.3 for every mode, keyword:ndcg@10=0.75 for one (repeatable).", valueName: "[mode:]metric=value"))
        var failBelow: [Floor] = []

        @Flag(help: "Judged queries missing from the query file, or judged products missing from the catalog, are errors.")
        var strict = false

        @Option(help: ArgumentHelp("Also write the report as a self-contained HTML page (charts, breakdowns, the worst queries with their results).", valueName: "file.html"))
        var report: String?

        @Flag(help: "Print the report as JSON.")
        var json = false

        /// The fusion with `--weight` applied.
        func fusion() throws -> FusionOptions {
            var fusion = FusionOptions()
            for text in weights {
                let parts = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, let retriever = Retriever(rawValue: parts[0]), let weight = Double(parts[1]), weight >= 0, weight.isFinite else {
                    throw ValidationError("--weight \(text): give RETRIEVER=W with RETRIEVER one of \(Retriever.allCases.map(\.rawValue).joined(separator: ", ")) and W ≥ 0")
                }
                fusion.weights[retriever] = weight
            }
            return fusion
        }

        func modes() throws -> [EvalRunner.Mode] {
            try mode.split(separator: ",").map { name in
                guard let mode = EvalRunner.Mode(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--mode \(name): not one of \(EvalRunner.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return mode
            }
        }

        func validate() throws {
            guard (1...SearchPage.maxK).contains(k) else { throw ValidationError("--k must be between 1 and \(SearchPage.maxK)") }
            guard !(try modes()).isEmpty else { throw ValidationError("--mode names no mode") }
            _ = try fusion()
            for floor in failBelow where floor.k != k {
                throw ValidationError("--fail-below \(floor.metric): the report has metrics at k = \(k) only")
            }
            let names = try modes().map(\.rawValue)
            if try modes().contains(.hybridRerank), reranker == nil {
                throw ValidationError("--mode hybrid+rerank needs --reranker MODEL (a cross-encoder)")
            }
            for floor in failBelow {
                if let mode = floor.mode, !names.contains(mode) {
                    throw ValidationError("--fail-below \(mode):\(floor.metric): \(mode) is not among the modes run (\(names.joined(separator: ", ")))")
                }
            }
        }

        func run() async throws {
            let evaluation = try await CLI.run { () async throws -> EvalReport in
                let queryList = try EvalQuery.read(URL(fileURLWithPath: queries))
                let judgements = try Judgements.read(URL(fileURLWithPath: qrels))
                let store = try DataStore.openForReading(try data.storage())
                let encoders = try await RecordedModel.load(store: store, specifier: model, precision: precision)
                let ranker = try await RerankerModel.load(reranker, precision: precision)
                let text = try await TextEmbedderModel.load(textEmbedder, store: store, precision: precision)
                let query = try await QueryModelLoader.load(queryModel, precision: precision, dimension: store.model?.dimension ?? 0)
                let runner = try EvalRunner(engine: SearchEngine(store: store, text: query?.encoder ?? encoders.text, image: encoders.image,
                                                                 reranker: ranker,
                                                                 fusion: try fusion(), textEmbedder: text), k: k)
                let folder = runOut.map { URL(fileURLWithPath: $0) }
                if let folder { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
                let evaluation = try runner.evaluate(modes: try modes(), queries: queryList, judgements: judgements, strict: strict) { mode, run in
                    guard let folder else { return }
                    try Data(try run.trecText(tag: "vitrine-\(mode.rawValue)").utf8).write(to: folder.appendingPathComponent("\(mode.rawValue).run"))
                }
                if let report {
                    let products = try runner.gallery(EvalHTMLReport.productsShown(evaluation, judgements: judgements))
                    let page = EvalHTMLReport.render(evaluation, queries: queryList, judgements: judgements, products: products)
                    try Data(page.utf8).write(to: URL(fileURLWithPath: report))
                }
                return evaluation
            }
            if evaluation.warnings != EvalReport.Warnings() { CLI.printNote(EvalRunner.describe(evaluation.warnings)) }
            if json { try Eval.printJSON(evaluation) } else { CLI.say(Self.table(evaluation)) }
            let failures = Eval.failures(failBelow, evaluation.modes.map { ($0.mode, $0.metrics) })
            if !failures.isEmpty {
                CLI.printError("below the floor: " + failures.joined(separator: "; "))
                throw ExitCode.failure
            }
        }

        static func table(_ report: EvalReport) -> String {
            let names = EvalReport.metricNames(report.k)
            var lines = ["\(report.queries) judged queries, k = \(report.k)",
                         "mode      " + names.map { $0.padding(toLength: 24, withPad: " ", startingAt: 0) }.joined() + "p50 ms   p99 ms"]
            for mode in report.modes {
                var line = mode.mode.padding(toLength: 10, withPad: " ", startingAt: 0)
                for name in names {
                    let interval = mode.intervals[name].map { " [\(Eval.format($0.lower))–\(Eval.format($0.upper))]" } ?? ""
                    line += (Eval.format(mode.metrics[name] ?? 0) + interval).padding(toLength: 24, withPad: " ", startingAt: 0)
                }
                line += String(format: "%-9.1f%.1f", mode.latencyMs.p50, mode.latencyMs.p99)
                if mode.unsupported > 0 { line += "  (\(mode.unsupported) queries it cannot answer, scored 0)" }
                lines.append(line)
            }
            for comparison in report.comparisons where comparison.metric == "ndcg@\(report.k)" {
                lines.append("\(comparison.a) − \(comparison.b): ndcg@\(report.k) \(comparison.delta >= 0 ? "+" : "")\(Eval.format(comparison.delta)), p = \(Eval.format(comparison.pValue))")
            }
            return lines.joined(separator: "\n")
        }
    }

    struct Score: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score TREC run files against judgements (what trec_eval -c computes, docs/eval-metrics.md).")

        @Option(help: "The judgements (TREC qrels, .jsonl or .csv).")
        var qrels: String

        @Argument(help: "TREC run files (qid Q0 product_id rank score tag).")
        var runs: [String]

        @Option(help: "A cutoff (repeatable; default 10).")
        var k: [Int] = [10]

        @Option(name: .customLong("fail-below"), help: ArgumentHelp("Exit 1 when a run's metric is below the value (repeatable).", valueName: "metric=value"))
        var failBelow: [Floor] = []

        @Flag(help: "Print JSON: per run, the means and each query's values.")
        var json = false

        func validate() throws {
            guard !runs.isEmpty else { throw ValidationError("give at least one run file") }
            guard k.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--k must be at least 1") }
            for floor in failBelow {
                guard floor.mode == nil else { throw ValidationError("--fail-below: a run file has no mode; give metric=value") }
                guard k.contains(floor.k) else { throw ValidationError("--fail-below \(floor.metric): give --k \(floor.k) too") }
            }
        }

        func run() async throws {
            let scored = try CLI.run { () throws -> [String: Scores] in
                let judgements = try Judgements.read(URL(fileURLWithPath: qrels))
                var scored: [String: Scores] = [:]
                for path in runs { scored[path] = Scoring.score(try VitrineEval.Run.read(URL(fileURLWithPath: path)), judgements, cutoffs: k) }
                return scored
            }
            if json {
                try Eval.printJSON(scored)
            } else {
                let names = k.flatMap { EvalReport.metricNames($0) }
                for path in runs {
                    CLI.say(path + " (\(scored[path]!.queries.count) queries)")
                    for name in names { CLI.say("  " + name.padding(toLength: 14, withPad: " ", startingAt: 0) + Eval.format(scored[path]!.mean[name]!)) }
                }
            }
            let failures = Eval.failures(failBelow, runs.map { ($0, scored[$0]!.mean) })
            if !failures.isEmpty {
                CLI.printError("below the floor: " + failures.joined(separator: "; "))
                throw ExitCode.failure
            }
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two reports of `vitrine eval --json` (A/B): each mode's metrics, their difference and its significance.")

        @Argument(help: "Report A.")
        var a: String

        @Argument(help: "Report B.")
        var b: String

        @Flag(help: "Print JSON.")
        var json = false

        struct Row: Codable {
            var mode: String
            var metric: String
            var a: Double
            var b: Double
            var delta: Double
            /// Paired over the queries both reports scored.
            var pValue: Double
            var queries: Int
        }

        func run() async throws {
            let rows = try CLI.run { () throws -> [Row] in
                let (first, second) = (try Eval.readReport(a), try Eval.readReport(b))
                guard first.k == second.k else {
                    throw EvalError.invalidArgument("\(a) has metrics at k = \(first.k), \(b) at k = \(second.k)")
                }
                var rows: [Row] = []
                for modeA in first.modes {
                    guard let modeB = second.modes.first(where: { $0.mode == modeA.mode }) else { continue }
                    let shared = modeA.perQuery.keys.filter { modeB.perQuery[$0] != nil }.sorted()
                    for metric in EvalReport.metricNames(first.k) {
                        let x = shared.map { modeA.perQuery[$0]?[metric] ?? 0 }, y = shared.map { modeB.perQuery[$0]?[metric] ?? 0 }
                        // Means over the queries both scored, so the difference and its test are of one set.
                        let (meanA, meanB) = shared.isEmpty ? (0, 0) : (x.reduce(0, +) / Double(shared.count), y.reduce(0, +) / Double(shared.count))
                        rows.append(Row(mode: modeA.mode, metric: metric, a: meanA, b: meanB, delta: meanB - meanA,
                                        pValue: Scoring.pairedPValue(y, x), queries: shared.count))
                    }
                }
                guard !rows.isEmpty else { throw EvalError.invalidArgument("\(a) and \(b) have no mode in common") }
                return rows
            }
            if json { try Eval.printJSON(rows); return }
            CLI.say("mode      metric        A        B        B − A     p")
            for row in rows {
                CLI.say(row.mode.padding(toLength: 10, withPad: " ", startingAt: 0) + row.metric.padding(toLength: 14, withPad: " ", startingAt: 0)
                        + "\(Eval.format(row.a))   \(Eval.format(row.b))   \(row.delta >= 0 ? "+" : "")\(Eval.format(row.delta))   \(Eval.format(row.pValue))"
                        + (row.pValue < 0.05 ? " *" : ""))
            }
        }
    }

    struct FashionMNIST: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fashion-mnist",
            abstract: "Zero-shot classification of Fashion-MNIST (FashionCLIP's protocol): class names as prompts, top-1, top-5, weighted F1.",
            discussion: """
            Reads the dataset as Debian's dataset-fashion-mnist installs it. Each class name \
            fills the template ("a photo of a {}"); an image's class is the nearest prompt. \
            Weighted F1 averages the classes' F1 by their support, as scikit-learn's \
            f1_score(average="weighted").
            """)

        @OptionGroup var model: ModelOption

        @Option(help: "The dataset's directory.")
        var dir = FashionMNISTReader.defaultDirectory.path

        @Option(help: "Which split: test, train or all.")
        var split: DatasetSplit = .test

        @Option(help: "The prompt; {} stands for the class name.")
        var template = "a photo of a {}"

        @OptionGroup var options: ZeroShotOptions

        func validate() throws {
            guard template.contains("{}") else { throw ValidationError("--template must contain {} where the class name goes") }
        }

        func run() async throws {
            var report = try await CLI.run { () async throws -> ZeroShotReport in
                let directory = try await model.resolve()
                let encoders = try CLIPEncoders(directory: directory, precision: model.precision)
                guard let image = encoders.image else {
                    throw EngineError.model(path: directory.path, reason: "zero-shot classification needs both towers")
                }
                let tower = try await QueryModelLoader.load(options.queryModel, precision: model.precision, dimension: image.dimension)
                guard let text: any TextEncoder = tower?.encoder ?? encoders.text else {
                    throw EngineError.model(path: directory.path, reason: "zero-shot classification needs both towers")
                }
                let started = Date()
                let reader = FashionMNISTReader(directory: URL(fileURLWithPath: dir), split: split)
                var batch = EmbeddingBatch(image: image, size: options.batchSize)
                var labels: [Int] = []
                for try await entry in reader.entries() {
                    guard case .item(let item) = entry, let label = item.product.category.flatMap(Int.init),
                          let photo = item.images.first else { continue }
                    try batch.add(try await photo.load())
                    labels.append(label)
                    if let limit = options.limit, labels.count >= limit { break }
                }
                let embeddings = batch.finish()
                guard !embeddings.isEmpty else { throw EvalError.empty(path: dir, reason: "no images in the \(split) split") }
                let names = FashionMNISTReader.classNames
                return try ZeroShot.classify(embeddings: embeddings, labels: labels, classNames: names,
                                             prompts: names.map { template.replacingOccurrences(of: "{}", with: $0) }, text: text,
                                             dataset: "fashion-mnist/\(split)", model: tower.map { "\(model.spec) + \($0.specifier)" } ?? model.spec, template: template, started: started)
            }
            if !options.predictions { report.predictions = nil }
            try Eval.print(report, json: options.json)
        }
    }

    static func print(_ report: ZeroShotReport, json: Bool) throws {
        if json { try printJSON(report); return }
        CLI.say("\(report.dataset), \(report.images) images, \(report.model), \"\(report.template)\"")
        CLI.say("top-1 \(format(report.top1))   top-5 \(format(report.top5))   weighted F1 \(format(report.weightedF1))   macro F1 \(format(report.macroF1))   (\(String(format: "%.1f", report.seconds)) s)")
        for (name, value) in (report.published ?? [:]).sorted(by: { $0.key < $1.key }) {
            CLI.say("  published (pretrained \(name)): \(format(value))")
        }
        for c in report.classes where c.support > 0 || c.predicted > 0 {
            CLI.say("  " + c.name.padding(toLength: 24, withPad: " ", startingAt: 0) + "F1 \(format(c.f1))  precision \(format(c.precision))  recall \(format(c.recall))  support \(c.support)")
        }
    }

    struct GLAMI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "glami",
            abstract: "GLAMI-1M's zero-shot category classification, as its eval_clip.py runs it: top-1 and top-5 accuracy beside the published figures.",
            discussion: """
            The dataset as it unpacks (the folder with GLAMI-1M-test.csv and images/, or the zip). \
            Categories are the split's category names in order of first appearance, each in \
            "A photo of a …, a type of fashion product" (the name made readable as eval_clip.py \
            does). --with-text adds each item's name and description: eval_clip.py sums the \
            image embedding with an M-CLIP XLM-RoBERTa text embedding; here the model's own \
            text tower embeds them (77 tokens), and both are scaled to unit length before the sum.
            """)

        @OptionGroup var model: ModelOption

        @Option(help: "The GLAMI-1M dataset folder or zip.")
        var dataset: String

        @Option(help: "Which split: test (the protocol's), train or all.")
        var split: DatasetSplit = .test

        @Flag(name: .customLong("with-text"), help: "Image + text: add the name and description to the image (see above).")
        var withText = false

        @OptionGroup var options: ZeroShotOptions

        func run() async throws {
            var report = try await CLI.run { () async throws -> ZeroShotReport in
                let started = Date()
                let directory = try await model.resolve()
                let encoders = try CLIPEncoders(directory: directory, precision: model.precision)
                guard let image = encoders.image else {
                    throw EngineError.model(path: directory.path, reason: "zero-shot classification needs both towers")
                }
                let tower = try await QueryModelLoader.load(options.queryModel, precision: model.precision, dimension: image.dimension)
                guard let text: any TextEncoder = tower?.encoder ?? encoders.text else {
                    throw EngineError.model(path: directory.path, reason: "zero-shot classification needs both towers")
                }
                let reader = GLAMIReader(url: URL(fileURLWithPath: (dataset as NSString).expandingTildeInPath), split: split)
                var batch = EmbeddingBatch(image: image, size: options.batchSize)
                var words: [String] = [], names: [String] = [], labels: [Int] = []
                var index: [String: Int] = [:]
                for try await entry in reader.entries() {
                    guard case .item(let item) = entry, let category = item.product.categoryName, let photo = item.images.first else { continue }
                    let label = index[category] ?? names.count
                    if label == names.count { index[category] = label; names.append(category) }
                    try batch.add(try await photo.load())
                    words.append(item.product.name + " " + item.product.description)
                    labels.append(label)
                    if let limit = options.limit, labels.count >= limit { break }
                }
                var embeddings = batch.finish()
                guard !embeddings.isEmpty else { throw EvalError.empty(path: dataset, reason: "no items with a category name and a photo in the \(split) split") }
                if withText {
                    let texts = try stride(from: 0, to: words.count, by: options.batchSize).flatMap { try text.embed(texts: Array(words[$0..<min($0 + options.batchSize, words.count)])) }
                    embeddings = zip(embeddings, texts).map { ZeroShot.combined($0, $1) }
                }
                var report = try ZeroShot.classify(embeddings: embeddings, labels: labels, classNames: names, prompts: names.map(ZeroShot.glamiPrompt),
                                                   text: text, dataset: "glami-1m/\(split)" + (withText ? " image+text" : " image"),
                                                   model: tower.map { "\(model.spec) + \($0.specifier)" } ?? model.spec,
                                                   template: "A photo of a {}, a type of fashion product", started: started)
                // The GLAMI-1M paper's CLIP ViT-B/32 zero-shot figures (the issue's references).
                report.published = withText ? ["ViT-B/32 top-1": 0.320, "ViT-B/32 top-5": 0.733] : ["ViT-B/32 top-1": 0.291, "ViT-B/32 top-5": 0.719]
                return report
            }
            if !options.predictions { report.predictions = nil }
            try Eval.print(report, json: options.json)
        }
    }

    struct GLAMIQueries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "glami-queries",
            abstract: "Text → image retrieval on GLAMI-1M (the protocol of Marqo's fashion benchmarks): write queries and judgements for `vitrine eval`.",
            discussion: """
            Each item of the split becomes a text query (its name, or its description) whose one \
            relevant product is the item itself. Ingest the same split, then: vitrine eval --data \
            DIR --queries OUT/queries.jsonl --qrels OUT/judgements.qrels. Items with an empty \
            field are skipped and counted.
            """)

        enum Field: String, ExpressibleByArgument, CaseIterable { case name, description }

        @Option(help: "The GLAMI-1M dataset folder or zip.")
        var dataset: String

        @Option(help: "Where to write queries.jsonl and judgements.qrels.")
        var out: String

        @Option(help: "The query text: name or description.")
        var field: Field = .name

        @Option(help: "Which split: test (the protocol's), train or all.")
        var split: DatasetSplit = .test

        @Option(help: "At most this many queries (the first items).")
        var limit: Int?

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let (written, skipped) = try await CLI.run { () async throws -> (Int, Int) in
                let reader = GLAMIReader(url: URL(fileURLWithPath: (dataset as NSString).expandingTildeInPath), split: split)
                var queries = "", qrels = ""
                var (written, skipped) = (0, 0)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                for try await entry in reader.entries() {
                    guard case .item(let item) = entry else { continue }
                    let text = (field == .name ? item.product.name : item.product.description).trimmingCharacters(in: .whitespacesAndNewlines)
                    guard !text.isEmpty else { skipped += 1; continue }
                    let line = try encoder.encode(["id": item.product.id, "text": text])
                    queries += String(decoding: line, as: UTF8.self) + "\n"
                    qrels += "\(item.product.id) 0 \(item.product.id) 1\n"
                    written += 1
                    if let limit, written >= limit { break }
                }
                guard written > 0 else { throw EvalError.empty(path: dataset, reason: "no item of the \(split) split has a \(field.rawValue)") }
                let folder = URL(fileURLWithPath: out)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try Data(queries.utf8).write(to: folder.appendingPathComponent("queries.jsonl"))
                try Data(qrels.utf8).write(to: folder.appendingPathComponent("judgements.qrels"))
                return (written, skipped)
            }
            CLI.say("\(written) queries (\(field.rawValue)s) and their judgements in \(out)" + (skipped > 0 ? "; \(skipped) items without a \(field.rawValue) skipped" : ""))
        }
    }

    /// Photos decoded and embedded `size` at a time, so only the embeddings stay in memory
    /// (GLAMI-1M's test split is 100k photos).
    struct EmbeddingBatch {
        let image: CLIPImageEncoder
        let size: Int
        let decoder = ImageDecoder()
        var pending: [RGBImage] = []
        var embeddings: [[Float]] = []

        init(image: CLIPImageEncoder, size: Int) {
            self.image = image
            self.size = size
        }

        mutating func add(_ bytes: Data) throws {
            pending.append(try decoder.decode(bytes))
            if pending.count == size { flush() }
        }

        mutating func flush() {
            guard !pending.isEmpty else { return }
            embeddings += image.embed(images: pending)
            pending.removeAll(keepingCapacity: true)
        }

        mutating func finish() -> [[Float]] {
            flush()
            return embeddings
        }
    }

    /// What the zero-shot protocols share: how many items, batch size, output.
    struct ZeroShotOptions: ParsableArguments {
        @Option(help: "Classify at most this many items (the first ones).")
        var limit: Int?

        @Option(name: .customLong("batch-size"), help: "Images per encoder pass (1–1000).")
        var batchSize = 64

        @Flag(name: .customLong("predictions"), help: "With --json, list each item's true class and the classes best first.")
        var predictions = false

        @Option(name: .customLong("query-model"), help: QueryModelLoader.help)
        var queryModel: String?

        @Flag(help: "Print the report as JSON.")
        var json = false

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
            guard (1...1000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 1000") }
        }
    }
}
