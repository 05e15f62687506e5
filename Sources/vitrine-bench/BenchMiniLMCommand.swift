import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineHub
import VitrineModels
import VitrineTensor

/// `vitrine-bench minilm`: all-MiniLM-L6-v2 (sentence-transformers' 6-layer BERT) through
/// Vitrine's own kernels at each weight precision: throughput, and how far each reduced precision
/// moves the real model's sentence embeddings from fp32 (issue 3: random weights lack the outlier
/// channels of trained ones, so the cosine is measured here too).
struct BenchMiniLM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "minilm",
        abstract: "all-MiniLM-L6-v2 through Vitrine's kernels: sentences/s and cosine to fp32 per precision.",
        discussion: """
        Embeds the sentences of --sentences (one per line; bench/sentences.txt holds 100 product \
        descriptions and queries) at fp32 and at each requested precision, in batches of --batch, \
        repeating passes for --seconds after a warm-up pass. The cosine of each sentence's embedding \
        to its fp32 embedding is summarized as min and mean. Get the model with tools/fetch_minilm.sh.
        """
    )

    @Option(help: "The all-MiniLM-L6-v2 directory (tools/fetch_minilm.sh prints it), or a hub repo id.")
    var model: String

    @Option(help: "Comma-separated weight precisions to measure; fp32 is always measured as the baseline.")
    var precision = "fp32,bf16"

    @Option(help: "Sentences to embed, one per line.")
    var sentences = "bench/sentences.txt"

    @Option(help: "Sentences per pass of the model.")
    var batch = 32

    @Option(help: "Seconds of measurement per precision.")
    var seconds = 3.0

    @Option(help: "Threads for the matrix products.")
    var threads = 2

    @Flag(help: "Print JSON for scripts.")
    var json = false

    struct Row: Codable {
        var precision: String
        var batch: Int
        var sentences: Int
        var meanTokens: Double
        var sentencesPerSecond: Double
        var minCosineToFP32: Double
        var meanCosineToFP32: Double
    }

    /// The requested precisions, fp32 first; an unknown name is a usage error naming the known ones.
    static func precisions(_ list: String) throws -> [Precision] {
        var result: [Precision] = [.fp32]
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !name.isEmpty {
            guard let p = Precision(rawValue: name) else {
                throw ValidationError("unknown precision \"\(name)\" in --precision; known: \(Precision.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !result.contains(p) { result.append(p) }
        }
        return result
    }

    func validate() throws {
        _ = try Self.precisions(precision)
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
    }

    func run() async throws {
        let precisions = try Self.precisions(precision)
        BLAS.threads = threads
        let texts = try CLI.run {
            let text = try String(contentsOf: URL(fileURLWithPath: sentences), encoding: .utf8)
            let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.allSatisfy(\.isWhitespace) }
            guard !lines.isEmpty else { throw ModelError.invalidInput(input: sentences, reason: "no sentences") }
            return lines
        }
        let directory = try await CLI.run { try await ModelLocation.resolve(model, progress: ProgressBar().handler) }

        var baseline: [[Float]] = []
        var rows: [Row] = []
        for p in precisions {
            let encoder = try CLI.run { try BERTSentenceEncoder(directory: directory, precision: p) }
            let batches = stride(from: 0, to: texts.count, by: batch).map { Array(texts[$0..<min($0 + batch, texts.count)]) }
            func pass() throws -> [[Float]] { try batches.flatMap { try encoder.embed(texts: $0) } }

            let embeddings = try CLI.run { try pass() }  // also the warm-up
            if p == .fp32 { baseline = embeddings }
            var passes = 0
            let start = Date()
            repeat {
                _ = try CLI.run { try pass() }
                passes += 1
            } while Date().timeIntervalSince(start) < seconds
            let elapsed = Date().timeIntervalSince(start)

            let cosines = zip(embeddings, baseline).map { a, b in
                var dot = 0.0, na = 0.0, nb = 0.0
                for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y) }
                return dot / (na * nb).squareRoot()
            }
            let tokens = texts.reduce(0) { $0 + encoder.tokenize($1).ids.count }
            let row = Row(
                precision: p.rawValue, batch: batch, sentences: texts.count,
                meanTokens: Double(tokens) / Double(texts.count),
                sentencesPerSecond: Double(passes * texts.count) / elapsed,
                minCosineToFP32: cosines.min() ?? 1, meanCosineToFP32: cosines.reduce(0, +) / Double(max(cosines.count, 1)))
            rows.append(row)
            if !json {
                print(p.rawValue + String(format: ": %7.1f sentences/s (batch %d, %d sentences, %.1f tokens each); cosine to fp32 min %.6f, mean %.6f",
                                          row.sentencesPerSecond, batch, texts.count, row.meanTokens, row.minCosineToFP32, row.meanCosineToFP32))
            }
        }
        if json {
            try CLI.printJSON(rows)
        }
    }
}
