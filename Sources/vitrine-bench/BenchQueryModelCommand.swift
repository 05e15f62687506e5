import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineHub
import VitrineModels
import VitrineTensor

/// `vitrine-bench query-model`: what a text query costs through a query model (such as the
/// multilingual clip-ViT-B-32-multilingual-v1) against the CLIP model's own text tower, one query
/// at a time as a server encodes them, at each precision.
struct BenchQueryModel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query-model",
        abstract: "Query encode latency at batch 1: a query model (--query-model) against the CLIP text tower, per precision.",
        discussion: """
        Encodes each query of --queries (one per line; bench/queries-multilingual.txt holds queries \
        in the 13 GLAMI-1M languages and English) alone, through both towers in turn, repeating for \
        --seconds per precision after a warm-up pass. Reports p50 and p99 per tower, tokens per \
        query, and the ratio of the p50s (the issue's target: at most 1.2). At reduced precisions, \
        each tower's cosine to its own fp32 embeddings.
        """
    )

    @Option(help: "The CLIP model (directory or hub id).")
    var model: String

    @Option(name: .customLong("query-model"), help: "The query model (directory or hub id).")
    var queryModel: String

    @Option(help: "Comma-separated weight precisions to measure.")
    var precision = "fp32,int8"

    @Option(help: "Queries, one per line.")
    var queries = "bench/queries-multilingual.txt"

    @Option(help: "Seconds of measurement per precision (and per length).")
    var seconds = 5.0

    @Option(help: ArgumentHelp("Also time both towers on token sequences of these lengths (special tokens included), the same for both: the towers' cost apart from their vocabularies.", valueName: "n,n,..."))
    var lengths = "8,16,32"

    @Option(help: "Threads for the matrix products.")
    var threads = 1

    @Flag(help: "Print JSON for scripts.")
    var json = false

    struct Row: Codable {
        var precision: String
        var queries: Int
        var clipTokens: Double
        var queryModelTokens: Double
        var clipP50Milliseconds: Double
        var clipP99Milliseconds: Double
        var queryModelP50Milliseconds: Double
        var queryModelP99Milliseconds: Double
        /// Query model p50 / CLIP text tower p50.
        var ratio: Double
        var clipMinCosineToFP32: Double
        var queryModelMinCosineToFP32: Double
        /// At equal lengths: tokens → (CLIP p50, query model p50, ratio) in milliseconds.
        var byLength: [LengthRow]
    }

    struct LengthRow: Codable {
        var tokens: Int
        var clipP50Milliseconds: Double
        var queryModelP50Milliseconds: Double
        var ratio: Double
    }

    /// p50s of both towers over sequences of `length` tokens (the first and last the towers' own
    /// framing ids, the rest spread over ids every vocabulary has).
    static func timeAtLength(_ length: Int, clip: any TextEncoder, clipFrame: [Int32], query: any TextEncoder, queryFrame: [Int32],
                             seconds: Double) throws -> LengthRow {
        // Ids below 1010: inside any vocabulary worth measuring.
        let middle: [Int32] = (0..<max(length - 2, 0)).map { i in Int32(10 + (i * 37) % 1000) }
        func sequence(_ frame: [Int32]) -> [Int32] { [frame[0]] + middle + [frame[frame.count - 1]] }
        let (a, b) = (sequence(clipFrame), sequence(queryFrame))
        _ = try clip.embed(tokenIDs: [a]); _ = try query.embed(tokenIDs: [b])
        var clipTimes: [Double] = [], queryTimes: [Double] = []
        let start = ContinuousClock.now
        repeat {
            var t0 = ContinuousClock.now
            _ = try clip.embed(tokenIDs: [a])
            clipTimes.append((ContinuousClock.now - t0) / .milliseconds(1))
            t0 = ContinuousClock.now
            _ = try query.embed(tokenIDs: [b])
            queryTimes.append((ContinuousClock.now - t0) / .milliseconds(1))
        } while ContinuousClock.now - start < .seconds(seconds)
        let (c, q) = (clipTimes.sorted()[clipTimes.count / 2], queryTimes.sorted()[queryTimes.count / 2])
        return LengthRow(tokens: length, clipP50Milliseconds: c, queryModelP50Milliseconds: q, ratio: q / c)
    }

    func validate() throws {
        _ = try BenchMiniLM.precisions(precision)
        guard lengths.split(separator: ",").allSatisfy({ Int($0).map { (3...77).contains($0) } ?? false }) else {
            throw ValidationError("--lengths takes token counts from 3 to 77 (CLIP's context), comma-separated")
        }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
    }

    func run() async throws {
        // fp32 is measured only when asked for: the reference embeddings are computed either way.
        let asked = Set(precision.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        let precisions = try BenchMiniLM.precisions(precision).filter { asked.contains($0.rawValue) }
        BLAS.threads = threads
        let texts = try CLI.run {
            let text = try String(contentsOf: URL(fileURLWithPath: queries), encoding: .utf8)
            let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.allSatisfy(\.isWhitespace) }
            guard !lines.isEmpty else { throw ModelError.invalidInput(input: queries, reason: "no queries") }
            return lines
        }
        let clipDirectory = try await CLI.run { try await ModelLocation.resolve(model, progress: ProgressBar().handler) }
        let queryDirectory = try await CLI.run { try await ModelLocation.resolve(queryModel, progress: ProgressBar().handler) }

        let reference = try CLI.run { () throws -> ([[Float]], [[Float]]) in
            guard let clip = try CLIPEncoders(directory: clipDirectory).text else {
                throw ModelError.unsupportedModel(path: clipDirectory.path, reason: "no text tower")
            }
            return (try clip.embed(texts: texts), try BERTSentenceEncoder(directory: queryDirectory).embed(texts: texts))
        }
        var rows: [Row] = []
        for p in precisions {
            let (clip, query) = try CLI.run { () throws -> (any TextEncoder, any TextEncoder) in
                guard let clip = try CLIPEncoders(directory: clipDirectory, precision: p).text else {
                    throw ModelError.unsupportedModel(path: clipDirectory.path, reason: "no text tower")
                }
                return (clip, try BERTSentenceEncoder(directory: queryDirectory, precision: p))
            }
            let clipTokens = texts.map { clip.tokenize($0).ids }, queryTokens = texts.map { query.tokenize($0).ids }
            // Warm-up, and the embeddings compared with fp32.
            let clipOut = try CLI.run { try clipTokens.map { try clip.embed(tokenIDs: [$0])[0] } }
            let queryOut = try CLI.run { try queryTokens.map { try query.embed(tokenIDs: [$0])[0] } }
            var clipTimes: [Double] = [], queryTimes: [Double] = []
            let start = ContinuousClock.now
            var round = 0
            repeat {
                for i in texts.indices {
                    // Alternate which tower goes first, so neither always finds the caches warm.
                    let order: [Bool] = round % 2 == 0 ? [true, false] : [false, true]
                    for isClip in order {
                        let t0 = ContinuousClock.now
                        _ = try CLI.run { isClip ? try clip.embed(tokenIDs: [clipTokens[i]]) : try query.embed(tokenIDs: [queryTokens[i]]) }
                        let ms = (ContinuousClock.now - t0) / .milliseconds(1)
                        if isClip { clipTimes.append(ms) } else { queryTimes.append(ms) }
                    }
                }
                round += 1
            } while ContinuousClock.now - start < .seconds(seconds)

            func percentile(_ values: [Double], _ q: Double) -> Double {
                let sorted = values.sorted()
                return sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.down)))]
            }
            func minCosine(_ a: [[Float]], _ b: [[Float]]) -> Double {
                zip(a, b).map { x, y in zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }.min() ?? 1
            }
            let clipFrame = clip.tokenize("a").ids, queryFrame = query.tokenize("a").ids
            let byLength = try CLI.run {
                try lengths.split(separator: ",").compactMap { Int($0) }.map {
                    try Self.timeAtLength($0, clip: clip, clipFrame: clipFrame, query: query, queryFrame: queryFrame, seconds: seconds / 2)
                }
            }
            let row = Row(
                precision: p.rawValue, queries: texts.count,
                clipTokens: Double(clipTokens.map(\.count).reduce(0, +)) / Double(texts.count),
                queryModelTokens: Double(queryTokens.map(\.count).reduce(0, +)) / Double(texts.count),
                clipP50Milliseconds: percentile(clipTimes, 0.5), clipP99Milliseconds: percentile(clipTimes, 0.99),
                queryModelP50Milliseconds: percentile(queryTimes, 0.5), queryModelP99Milliseconds: percentile(queryTimes, 0.99),
                ratio: percentile(queryTimes, 0.5) / percentile(clipTimes, 0.5),
                clipMinCosineToFP32: minCosine(clipOut, reference.0), queryModelMinCosineToFP32: minCosine(queryOut, reference.1),
                byLength: byLength)
            rows.append(row)
            if !json {
                print(p.rawValue + String(
                    format: ": CLIP text tower p50 %.2f ms, p99 %.2f ms (%.1f tokens); query model p50 %.2f ms, p99 %.2f ms (%.1f tokens); ratio %.2f; cosine to fp32 min %.5f / %.5f",
                    row.clipP50Milliseconds, row.clipP99Milliseconds, row.clipTokens, row.queryModelP50Milliseconds,
                    row.queryModelP99Milliseconds, row.queryModelTokens, row.ratio, row.clipMinCosineToFP32, row.queryModelMinCosineToFP32))
                for length in byLength {
                    print(String(format: "      %2d tokens each: CLIP text tower p50 %.2f ms, query model p50 %.2f ms, ratio %.2f",
                                 length.tokens, length.clipP50Milliseconds, length.queryModelP50Milliseconds, length.ratio))
                }
            }
        }
        if json { try CLI.printJSON(rows) }
    }
}
