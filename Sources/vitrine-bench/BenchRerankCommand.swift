import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineHub
import VitrineModels
import VitrineTensor

/// `vitrine-bench rerank`: the cross-encoder reranker through Vitrine's kernels: (query, product
/// text) pairs scored per second at each precision, and how far each reduced precision moves the
/// scores and the order from fp32.
struct BenchRerank: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank",
        abstract: "The cross-encoder reranker through Vitrine's kernels: pairs/s and agreement with fp32 per precision.",
        discussion: """
        Scores the pairs of --pairs (JSONL, one {"query", "text"} per line; bench/peers/text_peers.py \
        make-pairs writes a set from bench/sentences.txt) at fp32 and at each requested precision, \
        in batches of --batch pairs, each pair cut to --max-length tokens as sentence-transformers' \
        CrossEncoder does, repeating passes for --seconds after a warm-up pass.
        """
    )

    @Option(help: "The cross-encoder directory (BertForSequenceClassification, one label), or a hub repo id.")
    var model: String

    @Option(help: "Comma-separated weight precisions to measure; fp32 is always measured as the baseline.")
    var precision = "fp32"

    @Option(help: "The pairs to score (JSONL: {\"query\": …, \"text\": …} per line).")
    var pairs: String

    @Option(help: "Pairs per pass of the model.")
    var batch = 32

    @Option(name: .customLong("max-length"), help: "Tokens per pair, special tokens included.")
    var maxLength = 128

    @Option(help: "Seconds of measurement per precision.")
    var seconds = 3.0

    @Option(help: "Threads for the matrix products.")
    var threads = 2

    @Flag(help: "Print JSON for scripts (one line per precision).")
    var json = false

    struct Row: Codable {
        var precision: String
        var threads: Int
        var batch: Int
        var maxLength: Int
        var pairs: Int
        var meanTokens: Double
        var pairsPerSecond: Double
        var maxScoreDifferenceToFP32: Double
        var kendallTauToFP32: Double

        enum CodingKeys: String, CodingKey {
            case precision, threads, batch, pairs
            case maxLength = "max_length", meanTokens = "mean_tokens", pairsPerSecond = "pairs_per_second"
            case maxScoreDifferenceToFP32 = "max_score_difference_to_fp32", kendallTauToFP32 = "kendall_tau_to_fp32"
        }
    }

    struct Pair: Decodable { var query: String; var text: String }

    func validate() throws {
        _ = try BenchMiniLM.precisions(precision)
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard maxLength >= 8 else { throw ValidationError("--max-length must be at least 8") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() async throws {
        let precisions = try BenchMiniLM.precisions(precision)
        BLAS.threads = threads
        let list = try CLI.run { () throws -> [Pair] in
            let text = try String(contentsOf: URL(fileURLWithPath: pairs), encoding: .utf8)
            let lines = text.split(whereSeparator: \.isNewline).filter { !$0.allSatisfy(\.isWhitespace) }
            let decoded = try lines.enumerated().map { index, line in
                do { return try JSONDecoder().decode(Pair.self, from: Data(line.utf8)) } catch {
                    throw ModelError.invalidInput(input: "\(pairs) line \(index + 1)", reason: "not a {\"query\", \"text\"} object")
                }
            }
            guard !decoded.isEmpty else { throw ModelError.invalidInput(input: pairs, reason: "no pairs") }
            return decoded
        }
        let directory = try await CLI.run { try await ModelLocation.resolve(model, progress: ProgressBar().handler) }

        var baseline: [Float] = []
        for p in precisions {
            let reranker = try CLI.run { try BERTCrossEncoder(directory: directory, precision: p) }
            // Tokenizing is part of the work measured, as it is of CrossEncoder.predict.
            let batches = stride(from: 0, to: list.count, by: batch).map { Array(list[$0..<min($0 + batch, list.count)]) }
            func pass() throws -> [Float] {
                try batches.flatMap { chunk in try reranker.scores(pairs: chunk.map { ($0.query, $0.text) }, maxLength: maxLength) }
            }
            let scores = try CLI.run { try pass() }  // also the warm-up
            if p == .fp32 { baseline = scores }
            var passes = 0
            let start = Date()
            repeat {
                _ = try CLI.run { try pass() }
                passes += 1
            } while Date().timeIntervalSince(start) < seconds
            let elapsed = Date().timeIntervalSince(start)
            let tokens = list.reduce(0) { $0 + reranker.tokenize(query: $1.query, text: $1.text, maxLength: maxLength).ids.count }
            let row = Row(
                precision: p.rawValue, threads: threads, batch: batch, maxLength: maxLength, pairs: list.count,
                meanTokens: Double(tokens) / Double(list.count), pairsPerSecond: Double(passes * list.count) / elapsed,
                maxScoreDifferenceToFP32: Double(zip(scores, baseline).map { abs($0 - $1) }.max() ?? 0),
                kendallTauToFP32: Self.kendallTau(baseline, scores))
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(row), as: UTF8.self))
            } else {
                print(p.rawValue + String(format: ": %7.1f pairs/s (batch %d, %d pairs, %.1f tokens each, %d threads); to fp32: max score difference %.5f, Kendall tau %.4f",
                                          row.pairsPerSecond, batch, list.count, row.meanTokens, threads, row.maxScoreDifferenceToFP32, row.kendallTauToFP32))
            }
        }
    }

    /// Kendall's tau-a between two score lists over the pairs `a` does not tie.
    static func kendallTau(_ a: [Float], _ b: [Float]) -> Double {
        var concordant = 0, discordant = 0
        for i in a.indices {
            for j in a.indices where j > i && a[i] != a[j] {
                if (a[i] - a[j]) * (b[i] - b[j]) > 0 { concordant += 1 } else { discordant += 1 }
            }
        }
        return concordant + discordant == 0 ? 1 : Double(concordant - discordant) / Double(concordant + discordant)
    }
}
