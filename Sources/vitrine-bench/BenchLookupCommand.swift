import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineCore
import VitrineEngine

/// `vitrine-bench lookup`: what the catalog adds to a search. Times, on one store, the catalog
/// lookup a results page makes (`products(ids:)` of k random products) and a whole "more like
/// this" search (the product's vector, the index, the lookup), no encoder involved; run it on the
/// same catalog in two backends (`vitrine migrate` copies one) and compare.
struct BenchLookup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lookup",
        abstract: "Time the catalog lookup of a results page and a whole similar-product search, on one store.")

    @OptionGroup var data: DataOption

    @Option(help: "Timed lookups and searches (each).")
    var queries = 2_000

    @Option(help: "Products per lookup (a results page).")
    var k = 10

    @Option(help: "Seed of the choice of products.")
    var seed: UInt64 = 1

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        guard queries >= 10 else { throw ValidationError("--queries must be at least 10") }
        guard (1...100).contains(k) else { throw ValidationError("--k must be from 1 to 100") }
    }

    struct Report: Codable {
        var catalog: String
        var products: Int
        var k: Int
        var queries: Int
        /// Milliseconds.
        var lookupP50: Double
        var lookupP99: Double
        var searchP50: Double
        var searchP99: Double
    }

    func run() async throws {
        let report = try CLI.run { () throws -> Report in
            let store = try DataStore.openForReading(try data.existingStorage())
            defer { try? store.close() }
            let ids = try store.catalog.allProductIDs()
            guard ids.count >= k else { throw EngineError.invalidArgument("the catalog holds \(ids.count) products, fewer than --k \(k)") }
            let engine = SearchEngine(store: store, text: nil, image: nil)
            var random = SplitMix64(seed: seed)
            func pick() -> String { ids[Int(random.next() % UInt64(ids.count))] }
            // Warm up: connections, caches, the index's pages.
            for _ in 0..<50 { _ = try store.catalog.products(ids: (0..<k).map { _ in pick() }) }
            var lookups: [Double] = []
            var searches: [Double] = []
            for _ in 0..<queries {
                let page = (0..<k).map { _ in pick() }
                let start = ContinuousClock.now
                _ = try store.catalog.products(ids: page)
                lookups.append((ContinuousClock.now - start) / .milliseconds(1))
            }
            for _ in 0..<queries {
                let id = pick()
                let start = ContinuousClock.now
                _ = try engine.similar(to: id, page: SearchPage(k: k))
                searches.append((ContinuousClock.now - start) / .milliseconds(1))
            }
            func percentile(_ values: [Double], _ p: Double) -> Double {
                let sorted = values.sorted()
                return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
            }
            return Report(catalog: store.catalog.backend.description, products: ids.count, k: k, queries: queries,
                          lookupP50: percentile(lookups, 0.5), lookupP99: percentile(lookups, 0.99),
                          searchP50: percentile(searches, 0.5), searchP99: percentile(searches, 0.99))
        }
        if json {
            try CLI.printJSON(report)
            return
        }
        print("\(report.catalog): \(report.products) products, \(report.queries) queries of \(report.k)")
        print(String(format: "lookup p50 %.3f ms, p99 %.3f ms; similar-product search p50 %.3f ms, p99 %.3f ms",
                     report.lookupP50, report.lookupP99, report.searchP50, report.searchP99))
    }
}
