import Foundation
import Testing

/// `vitrine ingest`, `search`, `stats`, `verify` as a user runs them, including processes killed
/// at every window between the stores' writes and at random moments.
@Suite struct IngestCLITests {
    static let photoNames = ["baseline.jpg", "gray.png", "lossy.webp", "cmyk.jpg", "orient_3.jpg", "gray_alpha.png",
                             "lossless.webp", "orient_6.png", "progressive.jpg", "palette.png", "alpha.webp", "orient_5.jpg"]

    struct Run {
        let status: Int32
        let killed: Bool
        let stdout: Data
        let stderr: String
    }

    /// Runs `vitrine` with `arguments`, or with `raw`, the program `arguments[0]`.
    static func run(_ arguments: [String], environment: [String: String] = [:], raw: Bool = false) throws -> Run {
        let process = try start(arguments, environment: environment, raw: raw)
        let stdout = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Run(status: process.terminationStatus, killed: process.terminationReason == .uncaughtSignal,
                   stdout: stdout, stderr: stderr)
    }

    static func start(_ arguments: [String], environment: [String: String] = [:], quiet: Bool = false, raw: Bool = false) throws -> Process {
        let process = Process()
        process.executableURL = raw ? URL(fileURLWithPath: arguments[0]) : try CLITests.binary()
        process.arguments = raw ? Array(arguments.dropFirst()) : arguments
        process.environment = CLITests.environment(environment)
        if quiet {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        } else {
            process.standardOutput = Pipe()
            process.standardError = Pipe()
        }
        try process.run()
        return process
    }

    static func scratch(_ name: String = #function) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vitrine-cli-\(name.filter(\.isLetter))-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A folder of `count` photos in two category folders (the folder reader's layout).
    static func photoFolder(count: Int, in root: URL) throws -> URL {
        let folder = root.appendingPathComponent("photos")
        for i in 0..<count {
            let name = photoNames[i % photoNames.count]
            let category = i % 2 == 0 ? "dresses" : "shoes"
            let target = folder.appendingPathComponent(category)
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            let ext = (name as NSString).pathExtension
            try FileManager.default.copyItem(at: CLITests.fixtures.appendingPathComponent("images/\(name)"),
                                             to: target.appendingPathComponent(String(format: "item_%03d.%@", i, ext)))
        }
        return folder
    }

    static func stats(_ data: URL) throws -> [String: Any] {
        let r = try run(["stats", "--data", data.path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
    }

    static func ingest(_ source: URL, _ data: URL, extra: [String] = [], environment: [String: String] = [:]) throws -> Run {
        try run(["ingest", source.path, "--data", data.path, "--model", CLITests.tinyModel, "--batch-size", "3"] + extra,
                environment: environment)
    }

    @Test func ingestThenSearchStatsAndVerify() throws {
        let root = try Self.scratch()
        let folder = try Self.photoFolder(count: 10, in: root)
        let data = root.appendingPathComponent("data")
        let r = try Self.ingest(folder, data, extra: ["--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(report["ingested"] as? Int == 10)
        #expect(report["failed"] as? Int == 0)
        let reports = try FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent("ingest").path)
        #expect(reports.contains { $0.hasPrefix("report-") && $0.hasSuffix(".json") })

        let stats = try Self.stats(data)
        #expect(stats["products"] as? Int == 10)
        #expect(stats["images"] as? Int == 10)
        #expect(stats["vectors"] as? Int == 10)

        let search = try Self.run(["search", "red floral summer dress", "--data", data.path, "--k", "3", "--json"])
        #expect(search.status == 0, "\(search.stderr)")
        let response = try #require(try JSONSerialization.jsonObject(with: search.stdout) as? [String: Any])
        #expect(response["query"] as? String == "red floral summer dress")
        #expect(response["truncated"] as? Bool == false)
        #expect(response["offset"] as? Int == 0)
        let results = try #require(response["results"] as? [[String: Any]])
        #expect(results.count == 3)
        for result in results {
            #expect(Set(result.keys) == ["id", "score", "name", "category", "market", "image"] || Set(result.keys) == ["id", "score", "name", "category", "image"])
            #expect((result["image"] as? String)?.hasPrefix("/images/") == true)
        }
        let byImage = try Self.run(["search", "--image", CLITests.image, "--data", data.path, "--category", "shoes", "--json"])
        #expect(byImage.status == 0, "\(byImage.stderr)")
        let imageResults = try #require((try JSONSerialization.jsonObject(with: byImage.stdout) as? [String: Any])?["results"] as? [[String: Any]])
        #expect(imageResults.count == 5)
        #expect(imageResults.allSatisfy { $0["category"] as? String == "shoes" })

        // Keyword and hybrid modes, explained; reranked by the reranker tests' cross-encoder.
        let name = try #require(results.first?["name"] as? String)
        let word = try #require(name.split { !$0.isLetter && !$0.isNumber }.first.map(String.init))
        let keyword = try Self.run(["search", word, "--data", data.path, "--mode", "keyword", "--explain", "--json"])
        #expect(keyword.status == 0, "\(keyword.stderr)")
        let keywordResults = try #require((try JSONSerialization.jsonObject(with: keyword.stdout) as? [String: Any])?["results"] as? [[String: Any]])
        #expect(keywordResults.contains { $0["name"] as? String == name })
        #expect(keywordResults.allSatisfy { (($0["explain"] as? [String: Any])?["retrievers"] as? [String: Any])?["keyword"] != nil })
        let crossEncoder = CLITests.fixtures.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".fixtures-minilm/crossencoder").path
        let reranked = try Self.run(["search", word, "--data", data.path, "--mode", "hybrid", "--rerank", "--reranker", crossEncoder, "--explain"])
        #expect(reranked.status == 0, "\(reranked.stderr)")
        #expect(String(decoding: reranked.stdout, as: UTF8.self).contains("rerank "))
        let noReranker = try Self.run(["search", word, "--data", data.path, "--rerank"])
        #expect(noReranker.status != 0 && noReranker.stderr.contains("--reranker"))
        let badReranker = try Self.run(["search", word, "--data", data.path, "--rerank", "--reranker", CLITests.tinyModel])
        #expect(badReranker.status != 0 && badReranker.stderr.contains("reranker"))
        let badMode = try Self.run(["search", word, "--data", data.path, "--mode", "vector"])
        #expect(badMode.status != 0)

        let verify = try Self.run(["verify", "--data", data.path])
        #expect(verify.status == 0, "\(verify.stderr)")

        // The same run again changes nothing.
        let again = try Self.ingest(folder, data, extra: ["--json"])
        #expect(again.status == 0)
        let second = try #require(try JSONSerialization.jsonObject(with: again.stdout) as? [String: Any])
        #expect(second["unchanged"] as? Int == 10)
        #expect(second["images_embedded"] as? Int == 0)
    }

    @Test func badImagesGiveExitThreeAndTheRestIsIngested() throws {
        let root = try Self.scratch()
        let folder = try Self.photoFolder(count: 4, in: root)
        try Data("not a jpeg at all".utf8).write(to: folder.appendingPathComponent("dresses/broken.jpg"))
        let jpeg = try Data(contentsOf: CLITests.fixtures.appendingPathComponent("images/baseline.jpg"))
        try jpeg.prefix(200).write(to: folder.appendingPathComponent("shoes/truncated.jpg"))
        let data = root.appendingPathComponent("data")
        let r = try Self.ingest(folder, data, extra: ["--json"])
        #expect(r.status == 3, "\(r.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(report["ingested"] as? Int == 4)
        #expect(report["failed"] as? Int == 2)
        let failures = try #require(report["failures"] as? [[String: Any]])
        #expect(Set(failures.compactMap { ($0["location"] as? String).map { ($0 as NSString).lastPathComponent } }) == ["broken.jpg", "truncated.jpg"])
        #expect(try Self.run(["verify", "--data", data.path]).status == 0)
    }

    @Test func aSecondWriterGetsAClearError() throws {
        let root = try Self.scratch()
        let folder = try Self.photoFolder(count: 2, in: root)
        let data = root.appendingPathComponent("data")
        // A long first run (many one-image batches from a manifest repeating two photos).
        let manifest = root.appendingPathComponent("many.csv")
        let photo = try #require(try FileManager.default.subpathsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".jpg") })
        let rows = (0..<100_000).map { "p\($0),product \($0),photos/\(photo)" }
        try Data((["id,name,image"] + rows).joined(separator: "\n").utf8).write(to: manifest)
        let first = try Self.start(["ingest", manifest.path, "--data", data.path, "--model", CLITests.tinyModel, "--batch-size", "1"], quiet: true)
        defer { kill(first.processIdentifier, SIGKILL); first.waitUntilExit() }
        // Wait until the first writer holds the lock (its catalog exists).
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: data.appendingPathComponent("catalog.sqlite").path) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        let second = try Self.ingest(folder, data)
        #expect(first.isRunning, "the first writer ended before the second started; the test proves nothing")
        #expect(second.status == 1)
        #expect(second.stderr.contains("locked by another writer"), "\(second.stderr)")
        #expect(second.stderr.contains("vitrine ingest \(manifest.path)"), "\(second.stderr)")
        #expect(second.stderr.contains("pid \(first.processIdentifier)"), "\(second.stderr)")
        // Readers are not writers: search works while the first run goes on.
        let search = try Self.run(["search", "dress", "--data", data.path, "--json"])
        #expect(search.status == 0, "\(search.stderr)")
    }

    /// A CSV manifest of `count` products (p0…) with two photos each, paths relative to it;
    /// the products in `single` keep only their first photo and are renamed (an update that
    /// drops an image, so its vector must leave the index).
    static func twoPhotoManifest(count: Int, in root: URL, single: Set<Int> = []) throws -> URL {
        let folder = root.appendingPathComponent("photos")
        if !FileManager.default.fileExists(atPath: folder.path) { _ = try photoFolder(count: count + 1, in: root) }
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") || $0.hasSuffix(".webp") }.sorted()
        let rows = (0..<count).map { i in
            let first = "photos/\(files[i % files.count])", second = "photos/\(files[(i + 1) % files.count])"
            return single.contains(i) ? "p\(i),renamed \(i),\(first)" : "p\(i),product \(i),\(first)|\(second)"
        }
        let manifest = root.appendingPathComponent("products.csv")
        try Data((["id,name,images"] + rows).joined(separator: "\n").utf8).write(to: manifest)
        return manifest
    }

    /// Every window between the stores: a first full run of two-photo products, then an update
    /// pass (renames, and five products drop a photo, so marking stale, upserting and deleting
    /// vectors all happen) killed at the point's second occurrence; then a re-run must leave
    /// catalog, index and image store agreeing.
    @Test(arguments: ["after-blobs", "after-mark-stale", "after-index-upsert", "after-index-delete", "after-catalog-commit"])
    func killedAtAFaultPointThenRerunIsConsistent(point: String) throws {
        let root = try Self.scratch("fault\(point)")
        let data = root.appendingPathComponent("data")
        let manifest = try Self.twoPhotoManifest(count: 9, in: root)
        #expect(try Self.ingest(manifest, data).status == 0)
        #expect(try Self.stats(data)["vectors"] as? Int == 18)
        _ = try Self.twoPhotoManifest(count: 9, in: root, single: [1, 2, 4, 5, 7])
        let killed = try Self.ingest(manifest, data, environment: ["VITRINE_FAULT": "\(point):2"])
        #expect(killed.killed, "\(point): \(killed.stderr)")
        // Readers work on the interrupted directory.
        let search = try Self.run(["search", "dress", "--data", data.path, "--json"])
        #expect(search.status == 0, "\(search.stderr)")
        let rerun = try Self.ingest(manifest, data)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let verify = try Self.run(["verify", "--data", data.path])
        #expect(verify.status == 0, "\(point): \(verify.stderr)")
        let stats = try Self.stats(data)
        #expect(stats["products"] as? Int == 9)
        #expect(stats["vectors"] as? Int == 4 * 2 + 5, "\(point): the dropped photos' vectors must be gone")
        // Nothing left to do.
        let third = try Self.ingest(manifest, data, extra: ["--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: third.stdout) as? [String: Any])
        #expect(report["unchanged"] as? Int == 9, "\(point)")
    }

    @Test func killedAtRandomMomentsThenRerunIsConsistent() throws {
        let root = try Self.scratch()
        let folder = try Self.photoFolder(count: 36, in: root)
        let data = root.appendingPathComponent("data")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            let process = try Self.start(["ingest", folder.path, "--data", data.path, "--model", CLITests.tinyModel, "--batch-size", "2"], quiet: true)
            Thread.sleep(forTimeInterval: Double.random(in: 0.3...2.0, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let rerun = try Self.ingest(folder, data)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let verify = try Self.run(["verify", "--data", data.path])
        #expect(verify.status == 0, "\(verify.stderr)")
        let stats = try Self.stats(data)
        #expect(stats["products"] as? Int == 36)
        #expect(stats["vectors"] as? Int == 36)
    }

    @Test func searchOnAMissingOrEmptyDirectoryExplainsWhatToDo() throws {
        let root = try Self.scratch()
        let r = try Self.run(["search", "dress", "--data", root.appendingPathComponent("none").path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("vitrine ingest"), "\(r.stderr)")
    }

    @Test func aDifferentModelIsRefusedForSearch() throws {
        let root = try Self.scratch()
        let folder = try Self.photoFolder(count: 2, in: root)
        let data = root.appendingPathComponent("data")
        #expect(try Self.ingest(folder, data).status == 0)
        // Same architecture, other weights.
        let other = root.appendingPathComponent("other-model").path
        let made = try Self.run(["model", "random", "--like", CLITests.tinyModel, "--out", other, "--seed", "7"])
        #expect(made.status == 0, "\(made.stderr)")
        let r = try Self.run(["search", "dress", "--data", data.path, "--model", other])
        #expect(r.status == 1)
        #expect(r.stderr.contains("is not the model that built"), "\(r.stderr)")
        let same = try Self.run(["search", "dress", "--data", data.path, "--model", CLITests.tinyModel])
        #expect(same.status == 0, "\(same.stderr)")
    }

    /// The done-when run of the catalog issue: 5,000 Fashion-MNIST images from Debian's package
    /// into a clean data directory, then searches (rankings are meaningless with random weights;
    /// the mechanics are not).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")))
    func fashionMNISTFiveThousandThenSearch() throws {
        let root = try Self.scratch()
        let data = root.appendingPathComponent("data")
        let r = try Self.run(["ingest", "/usr/share/datasets/fashion-mnist", "--data", data.path,
                              "--model", CLITests.tinyModel, "--limit", "5000", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(report["ingested"] as? Int == 5000)
        let stats = try Self.stats(data)
        #expect(stats["products"] as? Int == 5000)
        #expect(stats["images"] as? Int == 5000)
        #expect(stats["vectors"] as? Int == 5000)

        let search = try Self.run(["search", "ankle boot", "--data", data.path, "--json"])
        #expect(search.status == 0, "\(search.stderr)")
        let results = try #require((try JSONSerialization.jsonObject(with: search.stdout) as? [String: Any])?["results"] as? [[String: Any]])
        #expect(results.count == 10)
        let sneakers = try Self.run(["search", "white sneakers", "--data", data.path, "--category", "Sneaker", "--k", "20", "--json"])
        let filtered = try #require((try JSONSerialization.jsonObject(with: sneakers.stdout) as? [String: Any])?["results"] as? [[String: Any]])
        #expect(filtered.count == 20)
        #expect(filtered.allSatisfy { $0["category"] as? String == "Sneaker" })
        #expect(filtered.allSatisfy { ($0["name"] as? String)?.hasPrefix("Sneaker") == true })
        let byImage = try Self.run(["search", "--image", CLITests.fixtures.appendingPathComponent("images/tiny_fmnist.png").path,
                                    "--data", data.path, "--k", "3", "--json"])
        #expect(byImage.status == 0, "\(byImage.stderr)")
    }

    /// GLAMI-1M's layout as its zip unpacks: CSV columns, markets as filters, several rows.
    @Test func glamiFolderIngestsWithMarketsAndCategories() throws {
        let root = try Self.scratch()
        let dataset = root.appendingPathComponent("GLAMI-1M-dataset")
        let images = dataset.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        var csv = "item_id,image_id,name,description,geo,category,category_name,label_source\r\n"
        let markets = ["cz", "sk", "ro", "gr"]
        for i in 0..<8 {
            let photo = Self.photoNames.filter { $0.hasSuffix(".jpg") }[i % 4]
            try FileManager.default.copyItem(at: CLITests.fixtures.appendingPathComponent("images/\(photo)"),
                                             to: images.appendingPathComponent("\(1000 + i).jpg"))
            csv += "\(500 + i),\(1000 + i),\"Šaty, model \(i)\",\(i % 2 == 0 ? "\"\"" : "\"Letní \"\"květované\"\" šaty\""),\(markets[i % 4]),\(i % 2 == 0 ? 1 : 2),\(i % 2 == 0 ? "women-s-dresses" : "women-s-shoes"),quality-human\r\n"
        }
        try Data(csv.utf8).write(to: dataset.appendingPathComponent("GLAMI-1M-test.csv"))
        let data = root.appendingPathComponent("data")
        let r = try Self.run(["ingest", root.path, "--data", data.path, "--model", CLITests.tinyModel, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])?["ingested"] as? Int == 8)
        let search = try Self.run(["search", "květované šaty", "--data", data.path, "--market", "sk", "--json"])
        let results = try #require((try JSONSerialization.jsonObject(with: search.stdout) as? [String: Any])?["results"] as? [[String: Any]])
        #expect(Set(results.compactMap { $0["id"] as? String }) == ["501", "505"])
        #expect(results.allSatisfy { $0["market"] as? String == "sk" && $0["category"] as? String == "women-s-shoes" })
        #expect(results.allSatisfy { ($0["name"] as? String)?.hasPrefix("Šaty, model") == true })
    }

    /// A small tmpfs for the data directory, when this process may mount one (root in a sandbox,
    /// as here and in CI); nil elsewhere.
    static func mountSmallDisk(at url: URL, megabytes: Int) -> Bool {
        guard getuid() == 0 else { return false }
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return (try? run(["/bin/mount", "-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", url.path], raw: true))?.status == 0
    }

    /// Whether this process can mount a tmpfs (tried once, on a scratch folder): the disk-full
    /// test runs where it can and shows as skipped elsewhere, rather than passing unrun.
    static let canMountTmpfs: Bool = {
        guard let probe = try? scratch("mountprobe") else { return false }
        defer { try? FileManager.default.removeItem(at: probe) }
        let point = probe.appendingPathComponent("disk")
        guard mountSmallDisk(at: point, megabytes: 1) else { return false }
        _ = try? run(["/bin/umount", point.path], raw: true)
        return true
    }()

    @Test(.enabled(if: IngestCLITests.canMountTmpfs, "needs to mount a small tmpfs (root in a sandbox, as in CI)"))
    func diskFullAndReadOnlyGiveClearErrorsAndKeepWhatWasCommitted() throws {
        let root = try Self.scratch()
        let data = root.appendingPathComponent("disk")
        try #require(Self.mountSmallDisk(at: data, megabytes: 3), "mounting a tmpfs worked for the probe but not here")
        defer { _ = try? Self.run(["/bin/umount", data.path], raw: true) }
        let folder = try Self.photoFolder(count: 60, in: root)
        // Make every photo distinct (so the image store keeps growing): append the index as a trailer.
        for (i, path) in try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter({ $0.contains(".") }).sorted().enumerated() {
            let url = folder.appendingPathComponent(path)
            var bytes = try Data(contentsOf: url)
            bytes.append(contentsOf: Array(String(i).utf8))
            try bytes.write(to: url)
        }
        let full = try Self.ingest(folder, data)
        #expect(full.status == 1, "\(full.stderr)")
        #expect(full.stderr.contains("full") || full.stderr.contains("No space"), "\(full.stderr)")
        // What was committed stays searchable.
        let search = try Self.run(["search", "dress", "--data", data.path, "--json"])
        #expect(search.status == 0, "\(search.stderr)")
        let committed = try Self.stats(data)["products"] as? Int ?? -1
        #expect(committed > 0 && committed < 60, "\(committed)")

        // Room again: the run completes and the stores agree.
        #expect(try Self.run(["/bin/mount", "-o", "remount,size=64m", data.path], raw: true).status == 0)
        let rerun = try Self.ingest(folder, data)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try Self.run(["verify", "--data", data.path]).status == 0)
        #expect(try Self.stats(data)["products"] as? Int == 60)

        // Read-only: writers get a clear error, readers keep working.
        #expect(try Self.run(["/bin/mount", "-o", "remount,ro", data.path], raw: true).status == 0)
        let readOnly = try Self.ingest(folder, data)
        #expect(readOnly.status == 1)
        #expect(readOnly.stderr.contains("read-only"), "\(readOnly.stderr)")
        let stillSearchable = try Self.run(["search", "dress", "--data", data.path, "--json"])
        #expect(stillSearchable.status == 0, "\(stillSearchable.stderr)")
    }
}
