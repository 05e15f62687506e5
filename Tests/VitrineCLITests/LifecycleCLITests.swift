import Foundation
import Testing

/// `reindex`, `gc`, `backup`, `restore` and `verify` as a user runs them, including a reindex
/// killed midway and stores damaged one at a time.
@Suite struct LifecycleCLITests {
    typealias Ingest = IngestCLITests

    static func json(_ run: IngestCLITests.Run) throws -> [String: Any] {
        #expect(run.status == 0, "\(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
    }

    static func search(_ data: URL) throws -> IngestCLITests.Run {
        try Ingest.run(["search", "a red dress", "--data", data.path, "--k", "3", "--json"])
    }

    /// A data directory with 8 photos ingested (copied per test, so each damages its own).
    static func ingested(_ root: URL) throws -> URL {
        let folder = try Ingest.photoFolder(count: 8, in: root)
        let data = root.appendingPathComponent("data")
        let r = try Ingest.ingest(folder, data)
        #expect(r.status == 0, "\(r.stderr)")
        return data
    }

    /// `ingest --prune` as a user runs it: a dry run lists what the shortened manifest no longer
    /// has and removes nothing; the real run removes exactly those; `--dry-run` alone is a usage error.
    @Test func ingestPruneThroughTheCLI() throws {
        let root = try Ingest.scratch()
        let data = root.appendingPathComponent("data")
        let manifest = try Ingest.twoPhotoManifest(count: 6, in: root)
        #expect(try Ingest.ingest(manifest, data).status == 0)
        let header = 1, kept = 4
        let lines = try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n").prefix(header + kept)
        try Data(lines.joined(separator: "\n").utf8).write(to: manifest)

        let dry = try Self.json(try Ingest.ingest(manifest, data, extra: ["--prune", "--dry-run", "--json"]))
        #expect(dry["pruned"] as? [String] == ["p4", "p5"])
        #expect(try Ingest.stats(data)["products"] as? Int == 6)
        let real = try Self.json(try Ingest.ingest(manifest, data, extra: ["--prune", "--json"]))
        #expect(real["pruned"] as? [String] == ["p4", "p5"])
        #expect(try Ingest.stats(data)["products"] as? Int == 4)
        #expect(try Ingest.run(["verify", "--data", data.path]).status == 0)
        let usage = try Ingest.ingest(manifest, data, extra: ["--dry-run"])
        #expect(usage.status == 2 && usage.stderr.contains("--dry-run goes with --prune"), "\(usage.stderr)")
    }

    @Test func aKilledReindexLeavesTheOldModelServingAndTheNextRunResumes() throws {
        let root = try Ingest.scratch()
        let data = try Self.ingested(root)
        let second = root.appendingPathComponent("model-2")
        let made = try Ingest.run(["model", "random", "--like", CLITests.tinyModel, "--out", second.path, "--seed", "7"])
        #expect(made.status == 0, "\(made.stderr)")
        let oldModel = try #require((try Ingest.stats(data))["model"] as? [String: Any])

        let killed = try Ingest.run(["reindex", "--data", data.path, "--model", second.path, "--batch-size", "2"],
                                    environment: ["VITRINE_FAULT": "reindex-after-batch:2"])
        #expect(killed.killed, "status \(killed.status): \(killed.stderr)")
        // Search works, on the old model.
        #expect(try Self.search(data).status == 0)
        let during = try #require((try Ingest.stats(data))["model"] as? [String: Any])
        #expect(during["weightsSHA256"] as? String == oldModel["weightsSHA256"] as? String)

        let resumed = try Self.json(try Ingest.run(["reindex", "--data", data.path, "--model", second.path, "--batch-size", "2", "--json"]))
        #expect(resumed["resumed"] as? Int == 4)
        #expect(resumed["embedded"] as? Int == 4)
        #expect(resumed["index_directory"] as? String == "index-1")
        let after = try #require((try Ingest.stats(data))["model"] as? [String: Any])
        #expect(after["source"] as? String == second.standardizedFileURL.path)
        #expect(try Self.search(data).status == 0)
        let verify = try Ingest.run(["verify", "--data", data.path])
        #expect(verify.status == 0, "\(verify.stderr)")

        // Killed right after its swap: the new index serves; gc removes the old directory.
        let third = try Ingest.run(["reindex", "--data", data.path, "--model", CLITests.tinyModel],
                                   environment: ["VITRINE_FAULT": "reindex-after-swap"])
        #expect(third.killed)
        let swapped = try #require((try Ingest.stats(data))["model"] as? [String: Any])
        #expect(swapped["weightsSHA256"] as? String == oldModel["weightsSHA256"] as? String)
        #expect(try Self.search(data).status == 0)
        let gc = try Self.json(try Ingest.run(["gc", "--data", data.path, "--json"]))
        #expect(gc["index_directories"] as? [String] == ["index-1"])
        #expect(!FileManager.default.fileExists(atPath: data.appendingPathComponent("index-1").path))
        #expect(try Ingest.run(["verify", "--data", data.path]).status == 0)
    }

    @Test func verifyFailsNamingEachDamagedStore() throws {
        let root = try Ingest.scratch()
        let pristine = try Self.ingested(root)
        #expect(try Ingest.run(["verify", "--data", pristine.path]).status == 0)
        let fm = FileManager.default
        func copy(_ name: String) throws -> URL {
            let target = root.appendingPathComponent(name)
            try fm.copyItem(at: pristine, to: target)
            return target
        }
        func expectFailure(_ data: URL, naming text: String) throws {
            let r = try Ingest.run(["verify", "--data", data.path])
            #expect(r.status == 1, "\(data.lastPathComponent): \(r.stderr)")
            #expect(r.stderr.contains(text), "\(data.lastPathComponent): expected \"\(text)\" in: \(r.stderr)")
        }
        func blobs(_ data: URL) throws -> [URL] {
            let images = data.appendingPathComponent("images")
            return try #require(fm.enumerator(atPath: images.path)).compactMap { $0 as? String }
                .filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") || $0.hasSuffix(".webp") }.sorted()
                .map { images.appendingPathComponent($0) }
        }

        // A flipped byte in an image file.
        let flipped = try copy("flipped")
        let blob = try #require(try blobs(flipped).first)
        var bytes = try Data(contentsOf: blob)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: blob)
        try expectFailure(flipped, naming: "\(blob.lastPathComponent) does not match its checksum")

        // An index entry gone: the index of a directory where one product was deleted.
        let dropped = try copy("index-entry")
        let donor = try copy("donor")
        #expect(try Ingest.run(["delete", "shoes/item_003", "--data", donor.path]).status == 0)
        try fm.removeItem(at: dropped.appendingPathComponent("index"))
        try fm.copyItem(at: donor.appendingPathComponent("index"), to: dropped.appendingPathComponent("index"))
        try expectFailure(dropped, naming: "catalog image shoes/item_003")

        // A catalog row gone: the catalog of that directory with the full index.
        let rowless = try copy("catalog-row")
        for suffix in ["", "-wal", "-shm"] {
            let name = "catalog.sqlite" + suffix
            try? fm.removeItem(at: rowless.appendingPathComponent(name))
            if fm.fileExists(atPath: donor.appendingPathComponent(name).path) {
                try fm.copyItem(at: donor.appendingPathComponent(name), to: rowless.appendingPathComponent(name))
            }
        }
        try expectFailure(rowless, naming: "vector shoes/item_003")

        // A truncated index snapshot.
        let truncated = try copy("snapshot")
        let snapshot = truncated.appendingPathComponent("index/snapshot.vidx")
        let whole = try Data(contentsOf: snapshot)
        try whole.prefix(whole.count / 2).write(to: snapshot)
        try expectFailure(truncated, naming: "snapshot.vidx")

        // Damaged catalog pages.
        let damaged = try copy("sqlite")
        let catalog = damaged.appendingPathComponent("catalog.sqlite")
        var pages = try Data(contentsOf: catalog)
        // Every page after the first (the schema) gets an invalid b-tree page type.
        let pageSize = Int(pages[16]) << 8 | Int(pages[17])
        for offset in stride(from: pageSize, to: pages.count, by: pageSize) { pages[offset] = 0x77 }
        try pages.write(to: catalog)
        try expectFailure(damaged, naming: "catalog.sqlite")
    }

    @Test func backupDuringAnIngestRestoresAndVerifiesAndGcCleansAfterDeletes() throws {
        let root = try Ingest.scratch()
        let data = try Self.ingested(root)
        // A second, slow ingest in another process (one image per batch) while the backup runs: long
        // enough (4,000 rows) that a loaded machine cannot finish it before the backup starts.
        let manifest = root.appendingPathComponent("more.csv")
        let photo = try #require(try FileManager.default.subpathsOfDirectory(atPath: root.appendingPathComponent("photos").path)
            .first { $0.hasSuffix(".jpg") })
        let rows = (0..<4000).map { "m\($0),more \($0),photos/\(photo)" }
        try Data((["id,name,image"] + rows).joined(separator: "\n").utf8).write(to: manifest)
        let writer = try Ingest.start(["ingest", manifest.path, "--data", data.path, "--model", CLITests.tinyModel, "--batch-size", "1"], quiet: true)
        defer { if writer.isRunning { kill(writer.processIdentifier, SIGKILL) }; writer.waitUntilExit() }
        while (try Ingest.stats(data))["products"] as? Int ?? 0 < 12 { usleep(20_000) }

        let backup = root.appendingPathComponent("backup")
        let taken = try Self.json(try Ingest.run(["backup", "--data", data.path, backup.path, "--json"]))
        let products = try #require(taken["products"] as? Int)
        #expect(products >= 12 && products < 4008)
        let restored = root.appendingPathComponent("restored")
        let report = try Self.json(try Ingest.run(["restore", backup.path, "--data", restored.path, "--json"]))
        #expect(report["products"] as? Int == products)
        #expect(try Ingest.run(["verify", "--data", restored.path]).status == 0)
        #expect(try Self.search(restored).status == 0)
        #expect(try Ingest.run(["restore", backup.path, "--data", restored.path]).status == 1)  // not empty

        kill(writer.processIdentifier, SIGKILL)
        writer.waitUntilExit()
        // Deleting the products whose photo nobody else has leaves files for gc.
        #expect(try Ingest.run(["delete", "shoes/item_001", "--data", restored.path]).status == 0)  // its PNG is its own
        let dry = try Self.json(try Ingest.run(["gc", "--data", restored.path, "--dry-run", "--json"]))
        let orphans = try #require(dry["blobs"] as? [String])
        #expect(orphans.count == 1 && orphans.allSatisfy { $0.hasSuffix(".png") })
        let blobsBefore = try #require((try Ingest.stats(restored))["blobs"] as? Int)
        let real = try Self.json(try Ingest.run(["gc", "--data", restored.path, "--json"]))
        #expect(real["blobs"] as? [String] == orphans)
        #expect((try Ingest.stats(restored))["blobs"] as? Int == blobsBefore - orphans.count)
        #expect(try Ingest.run(["verify", "--data", restored.path]).status == 0)
    }
}
