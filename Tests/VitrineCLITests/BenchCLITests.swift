import Foundation
import Testing

/// `vitrine-bench` at tiny sizes: each benchmark runs, and its JSON carries the fields the scripts
/// under `bench/` read (`index_peers.py`, `serve.sh` and `serve_peers.py`), so a change in shape
/// shows up here rather than in a broken peer run.
@Suite struct BenchCLITests {
    /// Runs the tool on a thread of its own: these runs take seconds, and a test blocking one of
    /// the few threads of the concurrency pool that long holds up every async test of the run.
    static func bench(_ arguments: [String]) async throws -> CLITests.Run {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try CLITests.run(arguments, tool: "vitrine-bench") })
            }
        }
    }

    static func object(_ run: CLITests.Run) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any], "\(run.stderr)")
    }

    @Test func indexRowsCarryTheFieldsThePeerScriptReads() async throws {
        let root = try IngestCLITests.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let r = try await Self.bench(["index", "--n", "800", "--dim", "16", "--queries", "40", "--clusters", "8", "--ef", "16,32",
                                "--threads", "1,2", "--build-threads", "1", "--filters", "--exact",
                                "--persist", root.appendingPathComponent("index").path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try CLITests.json(r.stdout)
        #expect(rows.allSatisfy { $0["library"] as? String == "vitrine" && $0["n"] as? Int == 800 && $0["dim"] as? Int == 16 })

        // ef × threads without a filter; `filter` and `ef_search` are present even when null.
        let searches = rows.filter { $0["ef_search"] is Int && $0["filter"] is NSNull }
        #expect(searches.count == 4)
        for row in searches {
            for key in ["threads", "recall_at_10", "queries_per_second", "build_seconds", "memory_bytes", "index_memory_bytes",
                        "m", "ef_construction", "build_threads", "k", "metric"] {
                #expect(row[key] != nil, "\(key) missing from \(row)")
            }
            #expect((row["recall_at_10"] as? Double ?? 0) > 0.5)
        }
        // One row per filter case, each naming its route and breaking no filter.
        let filtered = rows.filter { $0["filter"] is String }
        #expect(filtered.map { $0["filter"] as? String } == ["1%", "10%", "50%", "cluster"])
        #expect(filtered.allSatisfy { $0["violations"] as? Int == 0 && $0["route"] is String && $0["allowed_fraction"] is Double })
        // Exact search: no ef, recall 1 but for float ties.
        let exact = rows.filter { $0["algorithm"] as? String == "exact" }
        #expect(exact.count == 2)
        #expect(exact.allSatisfy { $0["ef_search"] is NSNull && ($0["recall_at_10"] as? Double ?? 0) > 0.95 })
        // The persistence row last.
        let persisted = try #require(rows.last)
        #expect(persisted["reopened_same_results"] as? Bool == true)
        #expect(persisted["snapshot_seconds"] is Double && persisted["load_seconds"] is Double)
    }

    @Test func ingestOfSyntheticProductsReportsBothRatesAndMemory() async throws {
        let r = try await Self.bench(["ingest", "--synthetic", "12", "--model", CLITests.tinyModel, "--batch-size", "4",
                                "--seconds", "0.2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try Self.object(r)
        #expect(report["source"] as? String == "synthetic:12")
        #expect(report["products"] as? Int == 12)
        #expect(report["images_embedded"] as? Int == 12)
        #expect(report["batch_size"] as? Int == 4)
        for key in ["model", "precision", "encoder_images_per_second", "ingest_images_per_second", "ratio", "ingest_seconds",
                    "peak_resident_bytes", "index_bytes", "peak_minus_index_bytes", "ingest_minus_index_bytes", "samples"] {
            #expect(report[key] != nil, "\(key) missing from \(report)")
        }
    }

    /// What `bench/peers/serve.sh` does: a catalog, then its export for the peer. The same seed
    /// gives the same catalog.
    @Test func catalogThenExportGiveTheSameCatalogForTheSameSeed() async throws {
        let root = try IngestCLITests.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let photos = ["baseline.jpg", "gray.png", "lossy.webp"].map { CLITests.fixtures.appendingPathComponent("images/\($0)").path }
        var exported: [String] = []
        for run in ["a", "b"] {
            let data = root.appendingPathComponent("data-\(run)"), out = root.appendingPathComponent("export-\(run)")
            let made = try await Self.bench(["catalog", "--model", CLITests.tinyModel, "--count", "30", "--centres", "6",
                                       "--data", data.path, "--json"] + photos.flatMap { ["--images", $0] })
            #expect(made.status == 0, "\(made.stderr)")
            let report = try Self.object(made)
            #expect(report["products"] as? Int == 30)
            #expect(report["photos"] as? Int == 3)
            // camelCase here, unlike the other reports (serve.sh reads none of it; people do).
            for key in ["data", "model", "centres", "noise", "seconds", "embedSeconds", "indexSeconds", "centreCosine",
                        "productToCentreCosine"] {
                #expect(report[key] != nil, "\(key) missing from \(report)")
            }
            let export = try await Self.bench(["export", "--data", data.path, "--out", out.path])
            #expect(export.status == 0, "\(export.stderr)")
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("vectors.npy").path))
            let lines = try String(contentsOf: out.appendingPathComponent("items.jsonl"), encoding: .utf8)
            exported.append(lines)
            let items = lines.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(items.count == 30)
            #expect(items.allSatisfy { item in ["product", "image", "name", "category", "market", "key"].allSatisfy { item[$0] is String } })
        }
        #expect(exported[0] == exported[1])
    }
}
