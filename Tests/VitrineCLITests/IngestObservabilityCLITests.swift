import Foundation
import Testing

/// What an ingest run tells operators: its metrics on `--metrics-address` while it runs, and one
/// ECS JSON line per committed batch with `--log-format json`.
struct IngestObservabilityCLITests {
    typealias Ingest = IngestCLITests

    /// The manifest is a named pipe the test writes row by row, so the run is caught mid-way:
    /// the metrics count the committed batches as they happen.
    @Test func metricsAndJSONLinesFollowTheRun() throws {
        let root = try Ingest.scratch()
        _ = try Ingest.photoFolder(count: 5, in: root)
        let files = try FileManager.default.subpathsOfDirectory(atPath: root.appendingPathComponent("photos").path)
            .filter { $0.contains(".") }.sorted()
        let manifest = root.appendingPathComponent("products.csv")
        #expect(mkfifo(manifest.path, 0o600) == 0)
        // Read and write ends at once, so neither open waits for the other.
        let pipe = open(manifest.path, O_RDWR)
        #expect(pipe >= 0)
        func write(_ text: String) { _ = text.withCString { Foundation.write(pipe, $0, strlen($0)) } }

        let port = try MilvusLiteProcess.freePort()
        let process = try Ingest.start(["ingest", manifest.path, "--data", root.appendingPathComponent("data").path,
                                        "--model", CLITests.tinyModel, "--batch-size", "1", "--log-format", "json",
                                        "--metrics-address", "127.0.0.1:\(port)"])
        defer { if process.isRunning { process.terminate() } }
        func metric(_ series: String) -> Double? {
            guard let text = try? Self.curl("http://127.0.0.1:\(port)/metrics") else { return nil }
            return text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        func eventually(_ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if condition() { return true }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return false
        }

        // Before any row: running, every outcome and error kind at 0.
        #expect(eventually { metric("vitrine_ingest_running") == 1 })
        for outcome in ["ingested", "updated", "unchanged", "failed"] {
            #expect(metric(#"vitrine_ingest_items_total{outcome="\#(outcome)"}"#) == 0)
        }
        #expect(metric(#"vitrine_ingest_errors_total{kind="insufficient_storage"}"#) == 0)

        // Three rows, one of them with a missing photo: two batches commit, one item fails.
        write("id,name,images\np0,product 0,photos/\(files[0])\np1,product 1,photos/missing.jpg\np2,product 2,photos/\(files[2])\n")
        #expect(eventually { metric(#"vitrine_ingest_items_total{outcome="ingested"}"#) == 2 },
                "\(String(describing: try? Self.curl("http://127.0.0.1:\(port)/metrics")))")
        #expect(metric(#"vitrine_ingest_items_total{outcome="failed"}"#) == 1)
        #expect(metric("vitrine_ingest_images_embedded_total") == 2)
        #expect(metric("vitrine_ingest_running") == 1)

        write("p3,product 3,photos/\(files[3])\n")
        close(pipe)
        let stderr = String(decoding: (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 3, "\(stderr)")
        // The listener is gone with the run.
        #expect(!MilvusLiteProcess.accepts(port))

        let lines = stderr.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(lines.count == stderr.split(separator: "\n").count, "every line is JSON: \(stderr)")
        #expect(lines.allSatisfy { $0["service.name"] as? String == "vitrine" && $0["event.dataset"] as? String == "vitrine.ingest"
                && $0["@timestamp"] is String && $0["log.level"] is String })
        let batches = lines.filter { $0["message"] as? String == "batch committed" }
        #expect(batches.map { $0["vitrine.ingest.batch"] as? Int } == [1, 2, 3])
        #expect(batches.map { $0["vitrine.ingest.ingested"] as? Int } == [1, 1, 1])
        #expect(batches.allSatisfy { (($0["event.duration"] as? Int) ?? 0) > 0 && $0["vitrine.data.generation"] is Int })
        let generations = batches.compactMap { $0["vitrine.data.generation"] as? Int }
        #expect(generations == generations.sorted() && Set(generations).count == 3)
        let finished = try #require(lines.last)
        #expect(finished["message"] as? String == "ingest finished")
        #expect(finished["vitrine.ingest.ingested"] as? Int == 3 && finished["vitrine.ingest.failed"] as? Int == 1)
    }

    @Test func anAddressInUseOrMalformedIsRefusedBeforeAnythingIsWritten() throws {
        let root = try Ingest.scratch()
        let photos = try Ingest.photoFolder(count: 2, in: root)
        let data = root.appendingPathComponent("data")
        let malformed = try Ingest.run(["ingest", photos.path, "--data", data.path, "--model", CLITests.tinyModel,
                                        "--metrics-address", "localhost"])
        #expect(malformed.status == 2 && malformed.stderr.contains("--metrics-address localhost"), "\(malformed.stderr)")

        // A port another process listens on.
        let blocker = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(blocker) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(blocker, $0, length) == 0 && listen(blocker, 1) == 0 && getsockname(blocker, $0, &length) == 0 }
        }
        #expect(listening)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let taken = try Ingest.run(["ingest", photos.path, "--data", data.path, "--model", CLITests.tinyModel,
                                    "--metrics-address", "127.0.0.1:\(port)"])
        #expect(taken.status != 0 && taken.stderr.contains("--metrics-address 127.0.0.1:\(port)"), "\(taken.stderr)")
        #expect(!FileManager.default.fileExists(atPath: data.appendingPathComponent("catalog.sqlite").path))
    }

    /// A run that fails keeps its listener for --metrics-linger seconds: the scrape sees the error
    /// and the run's end; then the port closes.
    @Test func aFailedRunShowsItsErrorWhileItLingers() throws {
        let root = try Ingest.scratch()
        let photos = try Ingest.photoFolder(count: 2, in: root)
        // A data directory that is a file: the run stops when it opens it.
        let data = root.appendingPathComponent("data")
        try Data("not a directory".utf8).write(to: data)
        let port = try MilvusLiteProcess.freePort()
        let started = Date()
        let process = try Ingest.start(["ingest", photos.path, "--data", data.path, "--model", CLITests.tinyModel,
                                        "--metrics-address", "127.0.0.1:\(port)", "--metrics-linger", "4"])
        defer { if process.isRunning { process.terminate() } }
        var errors: Double?
        var running: Double?
        while Date().timeIntervalSince(started) < 60, process.isRunning {
            if let text = try? Self.curl("http://127.0.0.1:\(port)/metrics") {
                let lines = text.split(separator: "\n")
                let counted = lines.filter { $0.hasPrefix("vitrine_ingest_errors_total{") }.compactMap { Double($0.split(separator: " ").last!) }
                if counted.reduce(0, +) > 0 {
                    errors = counted.reduce(0, +)
                    running = lines.first { $0.hasPrefix("vitrine_ingest_running ") }.flatMap { Double($0.split(separator: " ").last!) }
                    break
                }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(errors == 1 && running == 0)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(!MilvusLiteProcess.accepts(port))
    }

    /// The listener leaves SIGINT to the run: an interrupted ingest stops, listener and all.
    @Test func anInterruptStopsTheRunNotJustItsListener() throws {
        let root = try Ingest.scratch()
        let manifest = root.appendingPathComponent("products.csv")
        #expect(mkfifo(manifest.path, 0o600) == 0)
        let pipe = open(manifest.path, O_RDWR)
        defer { close(pipe) }
        let port = try MilvusLiteProcess.freePort()
        let process = try Ingest.start(["ingest", manifest.path, "--data", root.appendingPathComponent("data").path,
                                        "--model", CLITests.tinyModel, "--metrics-address", "127.0.0.1:\(port)"], quiet: true)
        defer { if process.isRunning { process.terminate() } }
        let deadline = Date().addingTimeInterval(60)
        while !MilvusLiteProcess.accepts(port), Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(MilvusLiteProcess.accepts(port))
        process.interrupt()
        let stopping = Date()
        while process.isRunning, Date().timeIntervalSince(stopping) < 15 { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!process.isRunning, "the ingest still runs 15 s after SIGINT")
    }

    static func curl(_ url: String) throws -> String {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-sf", "--max-time", "5", url]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        guard curl.terminationStatus == 0 else { throw CocoaError(.fileReadUnknown) }
        return text
    }
}
