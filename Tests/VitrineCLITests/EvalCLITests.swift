import Foundation
import Testing

/// `vitrine eval` as a user runs it: each mode over a data directory, the report's shape, run
/// files that score the same in `eval score` and in the reference libraries, A/B comparison,
/// floors, and bad input.
struct EvalCLITests {
    typealias Ingest = IngestCLITests

    /// A data directory of 10 photo products (manifest: names a keyword search can find), its
    /// queries (text and a photo) and judgements.
    static func setUp(_ root: URL) throws -> (data: URL, queries: URL, qrels: URL) {
        let folder = try Ingest.photoFolder(count: 10, in: root)
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { $0.contains(".") }.sorted()
        let colours = ["red", "blue", "green", "black", "white", "yellow", "pink", "brown", "grey", "orange"]
        let rows = files.prefix(10).enumerated().map { "p\($0.offset),\(colours[$0.offset]) summer dress,photos/\($0.element)" }
        let manifest = root.appendingPathComponent("products.csv")
        try Data((["id,name,images"] + rows).joined(separator: "\n").utf8).write(to: manifest)
        let data = root.appendingPathComponent("data")
        let ingest = try Ingest.run(["ingest", manifest.path, "--data", data.path, "--model", CLITests.tinyModel])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let queries = root.appendingPathComponent("queries.jsonl")
        try Data("""
            {"id": "red", "text": "red dress"}
            {"id": "blue", "text": "blue summer dress", "category": "summer"}
            {"id": "photo", "image": "photos/\(files[2])"}
            {"id": "none", "text": "violet coat"}

            """.utf8).write(to: queries)
        let qrels = root.appendingPathComponent("judgements.qrels")
        try Data("red 0 p0 2\nred 0 p3 0\nblue 0 p1 1\nphoto 0 p2 1\nnone 0 p9 0\n".utf8).write(to: qrels)
        return (data, queries, qrels)
    }

    static func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func modesRunFilesScoreAndCompare() throws {
        let root = try Ingest.scratch()
        let (data, queries, qrels) = try Self.setUp(root)
        let runs = root.appendingPathComponent("runs")
        let result = try CLITests.run(["eval", "--data", data.path, "--queries", queries.path, "--qrels", qrels.path,
                                       "--mode", "clip,keyword,hybrid", "--k", "5", "--json", "--run-out", runs.path])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Self.json(result.stdout)
        #expect(report["k"] as? Int == 5 && report["queries"] as? Int == 4)
        let modes = try #require(report["modes"] as? [[String: Any]])
        #expect(modes.map { $0["mode"] as? String } == ["clip", "keyword", "hybrid"])
        let keyword = modes[1]
        let metrics = try #require(keyword["metrics"] as? [String: Double])
        #expect(Set(metrics.keys) == ["recall@5", "precision@5", "mrr@5", "ndcg@5", "map@5", "hit_rate@5"])
        // Keyword search finds "red …" and "blue summer …" first; the photo it cannot answer; "none" has no relevant product.
        let perQuery = try #require(keyword["per_query"] as? [String: [String: Double]])
        #expect(perQuery["red"]?["mrr@5"] == 1 && perQuery["blue"]?["mrr@5"] == 1 && perQuery["photo"]?["mrr@5"] == 0)
        #expect(perQuery["none"]?["ndcg@5"] == 0)
        #expect(keyword["unsupported"] as? Int == 1)
        #expect(abs((metrics["mrr@5"] ?? 0) - 0.5) < 1e-12)
        let intervals = try #require(keyword["intervals"] as? [String: [String: Double]])
        #expect((intervals["mrr@5"]?["lower"] ?? 1) <= 0.5 && (intervals["mrr@5"]?["upper"] ?? 0) >= 0.5)
        let latency = try #require(keyword["latency_ms"] as? [String: Double])
        #expect((latency["p50"] ?? -1) >= 0 && (latency["p99"] ?? -1) >= (latency["p50"] ?? 0))
        let byCategory = try #require(keyword["by_category"] as? [String: [String: Any]])
        #expect(byCategory["summer"]?["queries"] as? Int == 1)
        let comparisons = try #require(report["comparisons"] as? [[String: Any]])
        #expect(comparisons.count == 18 && comparisons.allSatisfy { ($0["p_value"] as? Double).map { $0 > 0 && $0 <= 1 } == true })

        // The run files score the same in `eval score` (over the same judged queries).
        for mode in ["clip", "keyword", "hybrid"] {
            let run = runs.appendingPathComponent("\(mode).run")
            let scored = try CLITests.run(["eval", "score", "--qrels", qrels.path, "--k", "5", "--json", run.path])
            #expect(scored.status == 0, "\(scored.stderr)")
            let means = try #require((try Self.json(scored.stdout)[run.path] as? [String: Any])?["mean"] as? [String: Double])
            let reported = try #require(modes.first { $0["mode"] as? String == mode }?["metrics"] as? [String: Double])
            for (name, value) in reported { #expect(abs((means[name] ?? -1) - value) < 1e-12, "\(mode) \(name)") }
            // And in the reference libraries, when their venv is there (the test command installs it).
            if let reference = try Self.reference(qrels: qrels, run: run) {
                for library in ["pytrec_eval", "ranx"] {
                    let values = try #require((reference[library] as? [String: Any])?["mean"] as? [String: Double])
                    for (name, value) in reported { #expect(abs((values[name] ?? -1) - value) < 1e-9, "\(library) \(mode) \(name)") }
                }
            }
        }

        // A/B: the same report twice differs by nothing.
        let a = root.appendingPathComponent("a.json")
        try result.stdout.write(to: a)
        let compare = try CLITests.run(["eval", "compare", a.path, a.path, "--json"])
        #expect(compare.status == 0, "\(compare.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: compare.stdout) as? [[String: Any]])
        #expect(rows.count == 18 && rows.allSatisfy { $0["delta"] as? Double == 0 && $0["p_value"] as? Double == 1 })

        // Floors: met, then not.
        let met = try CLITests.run(["eval", "--data", data.path, "--queries", queries.path, "--qrels", qrels.path, "--mode", "keyword",
                                    "--k", "5", "--fail-below", "hit_rate@5=0.5", "--fail-below", "keyword:ndcg@05=0.4"])
        #expect(met.status == 0, "\(met.stderr)")
        let missed = try CLITests.run(["eval", "--data", data.path, "--queries", queries.path, "--qrels", qrels.path, "--mode", "keyword",
                                       "--k", "5", "--fail-below", "keyword:ndcg@5=0.9"])
        #expect(missed.status == 1 && missed.stderr.contains("keyword: ndcg@5 = 0.5000 is below 0.9000"), "\(missed.stderr)")
    }

    @Test func badInputIsNamedWithItsLine() throws {
        let root = try Ingest.scratch()
        let (data, queries, qrels) = try Self.setUp(root)
        func eval(_ extra: [String], queries: URL = queries, qrels: URL = qrels) throws -> CLITests.Run {
            try CLITests.run(["eval", "--data", data.path, "--queries", queries.path, "--qrels", qrels.path] + extra)
        }
        let broken = root.appendingPathComponent("broken.qrels")
        try Data("red 0 p0 1\nred 0 p1\n".utf8).write(to: broken)
        let malformed = try eval([], qrels: broken)
        #expect(malformed.status == 1 && malformed.stderr.contains("\(broken.path):2: expected 4 whitespace-separated fields, found 3"), "\(malformed.stderr)")
        let empty = root.appendingPathComponent("empty.jsonl")
        try Data().write(to: empty)
        let none = try eval([], queries: empty)
        #expect(none.status == 1 && none.stderr.contains("\(empty.path): no queries"), "\(none.stderr)")
        // Unknown ids: reported and counted, fatal only with --strict.
        let unknown = root.appendingPathComponent("unknown.qrels")
        try Data("red 0 p0 1\nred 0 nowhere 1\nghost 0 p1 1\n".utf8).write(to: unknown)
        let lenient = try eval(["--mode", "keyword", "--json"], qrels: unknown)
        #expect(lenient.status == 0, "\(lenient.stderr)")
        let warnings = try #require(try Self.json(lenient.stdout)["warnings"] as? [String: [String]])
        #expect(warnings["unknown_products"] == ["nowhere"] && warnings["judged_queries_without_query"] == ["ghost"])
        #expect(lenient.stderr.contains("1 judged products are not in the catalog (nowhere)"))
        let strict = try eval(["--mode", "keyword", "--strict"], qrels: unknown)
        #expect(strict.status == 1 && strict.stderr.contains("nowhere") && strict.stderr.contains("ghost"), "\(strict.stderr)")
        let badMode = try eval(["--mode", "bm25"])
        #expect(badMode.status == 2 && badMode.stderr.contains("--mode bm25"), "\(badMode.stderr)")
        let badFloor = try eval(["--fail-below", "ndcg@5=0.3"])
        #expect(badFloor.status == 2 && badFloor.stderr.contains("k = 10"), "\(badFloor.stderr)")
        let otherMode = try eval(["--mode", "keyword", "--fail-below", "clip:ndcg@10=0.3"])
        #expect(otherMode.status == 2 && otherMode.stderr.contains("clip is not among the modes run"), "\(otherMode.stderr)")
    }

    /// tools/eval_reference.py's values (pytrec_eval and ranx) for a run, or nil without its venv.
    static func reference(qrels: URL, run: URL) throws -> [String: Any]? {
        let root = CLITests.fixtures.deletingLastPathComponent().deletingLastPathComponent()
        let python = root.appendingPathComponent(".eval-venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else { return nil }
        let process = Process()
        process.executableURL = python
        process.arguments = [root.appendingPathComponent("tools/eval_reference.py").path, "--qrels", qrels.path, "--run", run.path, "--k", "5"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "eval_reference.py failed on \(run.path)")
        return try Self.json(data)
    }
}

/// `vitrine eval fashion-mnist`: the zero-shot protocol on Debian's Fashion-MNIST, its accuracy
/// and weighted F1 equal to scikit-learn's on the same predictions.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"),
                "needs Debian's dataset-fashion-mnist"))
struct ZeroShotCLITests {
    @Test func fashionMNISTScoresAsScikitLearnDoes() throws {
        let result = try CLITests.run(["eval", "fashion-mnist", "--model", CLITests.tinyModel, "--limit", "200", "--json", "--predictions"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try EvalCLITests.json(result.stdout)
        #expect(report["images"] as? Int == 200 && report["dataset"] as? String == "fashion-mnist/test")
        let predictions = try #require(report["predictions"] as? [[Int]])
        #expect(predictions.count == 200 && predictions.allSatisfy { $0.count == 11 && Set($0.dropFirst()) == Set(0..<10) })
        let classes = try #require(report["classes"] as? [[String: Any]])
        #expect(classes.map { $0["name"] as? String } == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"])
        #expect(classes.reduce(0) { $0 + ($1["support"] as? Int ?? 0) } == 200)

        let root = CLITests.fixtures.deletingLastPathComponent().deletingLastPathComponent()
        let python = root.appendingPathComponent(".eval-venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else { return }
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("zeroshot-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: predictions).write(to: input)
        let process = Process()
        process.executableURL = python
        process.arguments = [root.appendingPathComponent("tools/zeroshot_reference.py").path, input.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let reference = try EvalCLITests.json(data)
        for key in ["top1", "top5", "weighted_f1"] {
            #expect(abs((reference[key] as? Double ?? -1) - (report[key] as? Double ?? -2)) < 1e-12, "\(key)")
        }
    }
}

/// `vitrine eval glami`: GLAMI-1M's zero-shot protocol on a dataset in its exact layout.
struct GLAMIZeroShotCLITests {
    @Test func promptsAndAccuracyAsEvalClipComputesThem() throws {
        let root = try IngestCLITests.scratch()
        let dataset = root.appendingPathComponent("GLAMI-1M-dataset")
        try FileManager.default.createDirectory(at: dataset.appendingPathComponent("images"), withIntermediateDirectories: true)
        let header = "item_id,image_id,name,description,geo,category,category_name,label_source\n"
        let categories = ["womens-dresses", "mens-t-shirts-and-tanks", " women-s-bags ", "mens-and-womens-sneakers"]
        let photos = ["baseline.jpg", "gray.png", "lossy.webp", "cmyk.jpg", "orient_3.jpg", "rgb.png"]
        var rows: [String] = []
        for i in 0..<12 {
            let image = 500 + i
            rows.append("\(1000 + i),\(image),Item \(i),\"A \(categories[i % 4].trimmingCharacters(in: .whitespaces)) item\",cz,\(i % 4),\(categories[i % 4]),quality-human")
            try FileManager.default.copyItem(at: CLITests.fixtures.appendingPathComponent("images/\(photos[i % photos.count])"),
                                             to: dataset.appendingPathComponent("images/\(image).jpg"))
        }
        try Data((header + rows.joined(separator: "\n") + "\n").utf8).write(to: dataset.appendingPathComponent("GLAMI-1M-test.csv"))
        try Data(header.utf8).write(to: dataset.appendingPathComponent("GLAMI-1M-train.csv"))

        for withText in [false, true] {
            let result = try CLITests.run(["eval", "glami", "--dataset", dataset.path, "--model", CLITests.tinyModel, "--json", "--predictions"]
                                          + (withText ? ["--with-text"] : []))
            #expect(result.status == 0, "\(result.stderr)")
            let report = try EvalCLITests.json(result.stdout)
            #expect(report["images"] as? Int == 12)
            // The prompts eval_clip.py writes for these names (its transform run in Python).
            #expect(report["prompts"] as? [String] == [
                "A photo of a women's dresses, a type of fashion product",
                "A photo of a men's t shirts or tanks, a type of fashion product",
                "A photo of a women's bags, a type of fashion product",
                "A photo of a men's or women's sneakers, a type of fashion product",
            ])
            let predictions = try #require(report["predictions"] as? [[Int]])
            #expect(predictions.map { $0[0] } == (0..<12).map { $0 % 4 })
            let top1 = Double(predictions.filter { $0[1] == $0[0] }.count) / 12
            #expect(abs((report["top1"] as? Double ?? -1) - top1) < 1e-12)
            // Four classes: the true one is always in the top 5.
            #expect(report["top5"] as? Double == 1)
            let published = try #require(report["published"] as? [String: Double])
            #expect(published["ViT-B/32 top-1"] == (withText ? 0.320 : 0.291))
        }
        // Text → image retrieval: each item's name a query, the item its relevant product; then
        // the split ingested and evaluated in both modes.
        let set = root.appendingPathComponent("retrieval")
        let written = try CLITests.run(["eval", "glami-queries", "--dataset", dataset.path, "--out", set.path, "--limit", "10"])
        #expect(written.status == 0 && written.stdout.count > 0, "\(written.stderr)")
        let queryLines = try String(contentsOf: set.appendingPathComponent("queries.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(queryLines.count == 10 && queryLines.first == #"{"id":"1000","text":"Item 0"}"#)
        #expect(try String(contentsOf: set.appendingPathComponent("judgements.qrels"), encoding: .utf8).hasPrefix("1000 0 1000 1\n1001 0 1001 1\n"))
        let data = root.appendingPathComponent("data")
        let ingest = try CLITests.run(["ingest", dataset.path, "--data", data.path, "--model", CLITests.tinyModel, "--split", "test"])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let evaluated = try CLITests.run(["eval", "--data", data.path, "--queries", set.appendingPathComponent("queries.jsonl").path,
                                          "--qrels", set.appendingPathComponent("judgements.qrels").path, "--json", "--strict"])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let keyword = try #require((try EvalCLITests.json(evaluated.stdout)["modes"] as? [[String: Any]])?.last)
        // "Item 3" matches every name's "Item" and only one "3": bm25 puts the item first.
        #expect((keyword["metrics"] as? [String: Double])?["mrr@10"] == 1, "\(keyword)")

        let missing = try CLITests.run(["eval", "glami", "--dataset", root.appendingPathComponent("nowhere").path, "--model", CLITests.tinyModel])
        #expect(missing.status == 1 && missing.stderr.contains("nowhere"), "\(missing.stderr)")
    }
}
