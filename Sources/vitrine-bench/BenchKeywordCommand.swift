import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineEngine

/// `vitrine-bench keyword`: the keyword retriever's two rankings over one SQLite catalog, query by
/// query in the same run: FTS5's own (`bm25()` in SQL, what a one-off `vitrine search` uses) and
/// the in-memory index a server keeps (`SQLiteCatalog.keepTextSearchInMemory()`). Both must give
/// the same ids in the same order; the report counts any query where they do not.
struct BenchKeyword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyword",
        abstract: "Time keyword search ranked by FTS5 against the in-memory index, on one SQLite catalog.")

    @OptionGroup var data: DataOption

    @Option(help: "Queries, one per line.")
    var queries = "bench/sentences.txt"

    @Option(help: "Keep the first N words of each query (0: whole lines).")
    var words = 3

    @Option(help: "Products each search returns (the hybrid depth is 100).")
    var limit = 100

    @Option(help: "Rounds over the queries; the figures are of all rounds.")
    var rounds = 3

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        guard words >= 0 else { throw ValidationError("--words must be 0 or more") }
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
    }

    struct Side: Codable {
        /// Milliseconds per search.
        var mean: Double
        var p50: Double
        var p99: Double
    }

    struct Report: Codable {
        var products: Int
        var queries: Int
        var words: Int
        var limit: Int
        var searches: Int
        /// Seconds to build the in-memory index, and what it added to the resident set (MB).
        var buildSeconds: Double
        var memoryMB: Double
        var fts5: Side
        var memory: Side
        /// FTS5's mean over the in-memory index's.
        var speedup: Double
        /// Searches whose ids differed between the two rankings (must be 0).
        var mismatches: Int
    }

    func run() async throws {
        let report = try CLI.run { () throws -> Report in
            let directory = try data.existingStorage().directory
            let lines = try String(contentsOfFile: queries, encoding: .utf8).split(separator: "\n")
                .map { line in line.split(separator: " ").prefix(words == 0 ? Int.max : words).joined(separator: " ") }
                .filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw ValidationError("\(queries) holds no queries") }
            let fts5 = try SQLiteCatalog(path: directory.catalogURL, readOnly: true)
            let memory = try SQLiteCatalog(path: directory.catalogURL, readOnly: true)
            defer {
                try? fts5.close()
                try? memory.close()
            }
            let products = try fts5.counts().products
            let before = residentSetBytes()
            let start = ContinuousClock.now
            try memory.buildTextSearchInMemory()
            let buildSeconds = (ContinuousClock.now - start).seconds
            let memoryMB = Double(residentSetBytes() - before) / 1e6

            // Warm up both (pages of the FTS5 index in the cache), then alternate query by query.
            for line in lines {
                _ = try fts5.textSearch(line, limit: limit)
                _ = try memory.textSearch(line, limit: limit)
            }
            var times: (fts5: [Double], memory: [Double]) = ([], [])
            var mismatches = 0
            for _ in 0..<rounds {
                for line in lines {
                    var start = ContinuousClock.now
                    let expected = try fts5.textSearch(line, limit: limit)
                    times.fts5.append((ContinuousClock.now - start) / .milliseconds(1))
                    start = ContinuousClock.now
                    let found = try memory.textSearch(line, limit: limit)
                    times.memory.append((ContinuousClock.now - start) / .milliseconds(1))
                    if found != expected { mismatches += 1 }
                }
            }
            func side(_ values: [Double]) -> Side {
                let sorted = values.sorted()
                return Side(mean: values.reduce(0, +) / Double(values.count), p50: sorted[sorted.count / 2],
                            p99: sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)])
            }
            let a = side(times.fts5), b = side(times.memory)
            return Report(products: products, queries: lines.count, words: words, limit: limit, searches: times.fts5.count,
                          buildSeconds: buildSeconds, memoryMB: memoryMB, fts5: a, memory: b, speedup: a.mean / b.mean, mismatches: mismatches)
        }
        if json {
            try CLI.printJSON(report)
            return
        }
        print("\(report.products) products, \(report.queries) queries of \(report.words == 0 ? "whole lines" : "\(report.words) words"), limit \(report.limit), \(report.searches) searches a side")
        print(String(format: "in-memory index: built in %.2f s, %.1f MB resident", report.buildSeconds, report.memoryMB))
        for (name, side) in [("FTS5 bm25", report.fts5), ("in memory", report.memory)] {
            print(String(format: "%@: mean %.3f ms, p50 %.3f ms, p99 %.3f ms", name, side.mean, side.p50, side.p99))
        }
        print(String(format: "FTS5 / in memory: %.1f×; searches whose results differ: %d", report.speedup, report.mismatches))
    }
}
