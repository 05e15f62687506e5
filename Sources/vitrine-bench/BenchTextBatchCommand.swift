import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineCore
import VitrineModels
import VitrineSynthetic
import VitrineTensor

/// `vitrine-bench text-batch`: how long one pass of the text tower takes over B queries at once,
/// the number behind the server's query batching (a pass reads every weight once, whatever B is).
struct BenchTextBatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text-batch",
        abstract: "Text tower time per pass and queries/s at several batch sizes (tokenizing included).",
        discussion: """
        Queries are generated product descriptions ("navy striped linen shirt", 4–8 tokens), \
        different in every pass. Each batch size runs for --seconds after a warm-up pass.
        """
    )

    @OptionGroup var model: ModelOption

    @Option(help: "Comma-separated batch sizes (queries per pass).")
    var batch = "1,2,4,8,16"

    @Option(help: "Seconds of measurement per batch size.")
    var seconds = 3.0

    @Option(help: "Threads for the matrix products.")
    var threads = 2

    @Flag(help: "Print JSON for scripts.")
    var json = false

    struct Row: Codable {
        var batch: Int
        var meanTokens: Double
        var passMilliseconds: Double
        var queriesPerSecond: Double
    }

    /// The `--batch` sizes: checked before anything loads, used by `run`.
    private func batchSizes() throws -> [Int] { try CLI.integers(batch, option: "--batch", in: 1...256) }

    func validate() throws { _ = try batchSizes() }

    func run() async throws {
        let sizes = try batchSizes()
        BLAS.threads = threads
        let directory = try await CLI.run { try await model.resolve() }
        let encoders = try CLI.run { try CLIPEncoders(directory: directory, precision: model.precision) }
        guard let text = encoders.text else {
            CLI.printError("the model has no text tower")
            throw ExitCode.failure
        }
        var random = SplitMix64(seed: 7)
        let queries = (0..<4096).map { _ in SyntheticProducts.description(&random) }
        var rows: [Row] = []
        var cursor = 0
        for size in sizes {
            func next() -> [String] {
                defer { cursor = (cursor + size) % (queries.count - size) }
                return Array(queries[cursor..<cursor + size])
            }
            _ = try text.embed(texts: next())
            var passes = 0, tokens = 0
            let start = Date()
            repeat {
                let texts = next()
                tokens += texts.reduce(0) { $0 + text.tokenize($1).ids.count }
                _ = try text.embed(texts: texts)
                passes += 1
            } while Date().timeIntervalSince(start) < seconds
            let elapsed = Date().timeIntervalSince(start)
            let row = Row(batch: size, meanTokens: Double(tokens) / Double(passes * size),
                          passMilliseconds: 1000 * elapsed / Double(passes), queriesPerSecond: Double(passes * size) / elapsed)
            rows.append(row)
            if !json {
                print(String(format: "batch %3d: %7.2f ms per pass, %7.1f queries/s (%.1f tokens per query)",
                             size, row.passMilliseconds, row.queriesPerSecond, row.meanTokens))
            }
        }
        if json {
            try CLI.printJSON(rows)
        }
    }
}
