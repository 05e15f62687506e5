import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineCore
import VitrineEngine
import VitrineIndex
import VitrineModels
import VitrineTensor

/// `vitrine-bench cluster`: text search on the cluster backends against the embedded ones, in one
/// run. Copies a synthetic catalog (`vitrine-bench catalog`) into the cluster backends given by
/// `--catalog`, `--blobs` and `--vectors` (the copy is `vitrine migrate`'s, timed), then runs
/// `--clients` threads of whole text searches (tokenize → text tower → vector search → catalog
/// lookup) for `--seconds` on each side, alternating, `--rounds` times, and reports requests/s,
/// p50 and p99 of each and their ratios.
struct BenchCluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Text search over the cluster backends against the embedded ones: requests/s, p50, p99 at N clients.")

    @OptionGroup var model: ModelOption

    @Option(help: "The embedded data directory to compare with (made by `vitrine-bench catalog`).")
    var embedded: String

    @OptionGroup var data: DataOption

    @Option(help: "Threads issuing searches at once.")
    var clients = 4

    @Option(help: "Seconds of timed searches per side and round.")
    var seconds = 15.0

    @Option(help: "Rounds (embedded then cluster in each).")
    var rounds = 2

    @Option(help: "A file of queries, one per line (default: bench/sentences.txt).")
    var queries = "bench/sentences.txt"

    @Option(help: "Results per search.")
    var k = 10

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        guard (1...64).contains(clients) else { throw ValidationError("--clients must be from 1 to 64") }
        guard seconds > 0, rounds >= 1 else { throw ValidationError("--seconds must be positive and --rounds at least 1") }
    }

    struct Side: Codable {
        var backends: String
        var requests: Int
        var requestsPerSecond: Double
        /// Milliseconds.
        var p50: Double
        var p99: Double
    }

    struct Report: Codable {
        var products: Int
        var vectors: Int
        var clients: Int
        var seconds: Double
        var copySeconds: Double?
        var embedded: [Side]
        var cluster: [Side]
        /// Cluster ÷ embedded, over all rounds.
        var requestsRatio: Double
        var p50Ratio: Double
        var p99Ratio: Double
    }

    func run() async throws {
        let report = try await CLI.run { () async throws -> Report in
            let lines = try String(contentsOfFile: queries, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw EngineError.invalidArgument("--queries \(queries) holds no query") }
            let local = try DataStore.openForReading(DataDirectory(URL(fileURLWithPath: embedded).standardizedFileURL))
            defer { try? local.close() }

            // The copy into the cluster backends, when they do not hold the catalog yet.
            let storage = try data.storage()
            var copySeconds: Double?
            do {
                let writer = try DataStore.openForWriting(storage, holder: "vitrine-bench cluster")
                defer { try? writer.close() }
                if try writer.catalog.counts().products < (try local.catalog.counts().products) {
                    log("copying \(try local.catalog.counts().products) products into \(writer.backends.catalog), \(writer.backends.blobs), \(writer.backends.vectors)")
                    let report = try Migration.run(from: local, to: writer)
                    copySeconds = report.seconds
                    log("copied in \(Int(report.seconds)) s (\(Int(Double(report.copied) / report.seconds)) products/s), verified")
                }
            }
            let remote = try DataStore.openForReading(storage)
            defer { try? remote.close() }

            let directory = try await model.resolve()
            let encoders = try CLIPEncoders(directory: directory, precision: model.precision)
            guard let text = encoders.text else { throw EngineError.model(path: directory.path, reason: "the model has no text tower") }
            // Nothing is written during the run: neither side asks the catalog to catch up per search.
            let engines = [local, remote].map { SearchEngine(store: $0, text: text, image: nil, refreshesPerQuery: false) }
            var sides: [[Side]] = [[], []]
            var latencies: [[Double]] = [[], []]
            var counts = [0, 0]
            for round in 1...rounds {
                for (index, engine) in engines.enumerated() {
                    _ = try load(engine, lines, seconds: min(2, seconds))  // warm-up
                    let times = try load(engine, lines, seconds: seconds)
                    let store = index == 0 ? local : remote
                    let side = Side(backends: "\(store.backends.catalog.kind)+\(store.backends.blobs.kind)+\(store.backends.vectors.kind)",
                                    requests: times.count, requestsPerSecond: Double(times.count) / seconds,
                                    p50: Self.percentile(times, 0.5), p99: Self.percentile(times, 0.99))
                    log("round \(round) \(side.backends): \(String(format: "%.1f", side.requestsPerSecond)) req/s, p50 \(String(format: "%.1f", side.p50)) ms, p99 \(String(format: "%.1f", side.p99)) ms")
                    sides[index].append(side)
                    latencies[index] += times
                    counts[index] += times.count
                }
            }
            return Report(
                products: try remote.catalog.counts().products, vectors: try remote.vectors?.count() ?? 0, clients: clients,
                seconds: seconds, copySeconds: copySeconds, embedded: sides[0], cluster: sides[1],
                requestsRatio: Double(counts[1]) / Double(max(counts[0], 1)),
                p50Ratio: Self.percentile(latencies[1], 0.5) / Self.percentile(latencies[0], 0.5),
                p99Ratio: Self.percentile(latencies[1], 0.99) / Self.percentile(latencies[0], 0.99))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("\(report.products) products, \(report.clients) clients, \(Int(report.seconds)) s per side and round")
            for (name, sides) in [("embedded", report.embedded), ("cluster", report.cluster)] {
                for side in sides {
                    print("\(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(side.backends): \(String(format: "%7.1f", side.requestsPerSecond)) req/s  p50 \(String(format: "%6.1f", side.p50)) ms  p99 \(String(format: "%6.1f", side.p99)) ms")
                }
            }
            print(String(format: "cluster ÷ embedded: req/s %.2f, p50 %.2f, p99 %.2f", report.requestsRatio, report.p50Ratio, report.p99Ratio))
        }
    }

    /// `clients` threads searching the queries in turn for `seconds`; each search's milliseconds.
    func load(_ engine: SearchEngine, _ queries: [String], seconds: Double) throws -> [Double] {
        let results = Collected()
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let group = DispatchGroup()
        let k = k
        for client in 0..<clients {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                var i = client * 7
                var mine: [Double] = []
                while ContinuousClock.now < deadline {
                    let start = ContinuousClock.now
                    do {
                        _ = try engine.search(text: queries[i % queries.count], page: SearchPage(k: k))
                    } catch {
                        results.fail(error)
                        return
                    }
                    mine.append((ContinuousClock.now - start) / .milliseconds(1))
                    i += 1
                }
                results.add(mine)
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        return try results.get()
    }

    /// The threads' latencies, or the first error one of them met.
    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var times: [Double] = []
        private var failure: (any Error)?

        func add(_ more: [Double]) { lock.withLock { times += more } }
        func fail(_ error: any Error) { lock.withLock { failure = failure ?? error } }
        func get() throws -> [Double] {
            try lock.withLock {
                if let failure { throw failure }
                return times
            }
        }
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    func log(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
