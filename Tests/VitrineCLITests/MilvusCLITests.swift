import Foundation
import Testing

/// Vectors in Milvus with the catalog in PostgreSQL and the photos in S3: `serve` as stateless
/// replicas, and outage drills in which the vector server itself is SIGKILLed and restarted.
@Suite(.enabled(if: Cluster.configured && Cluster.environment["VITRINE_TEST_MILVUS_URL"] != nil,
                "needs the test servers (scripts/servers.sh)"))
struct MilvusReplicaTests {
    typealias Ingest = IngestCLITests

    /// Two replicas over one cluster configuration (each with a data directory of its own, which
    /// keeps nothing but its lock file) answer alike; a product written through one, or by a
    /// separate ingest worker, is found through both within 2 s. Milvus at its default
    /// consistency (bounded).
    @Test func twoReplicasAnswerAlikeAndSeeEachOthersWrites() throws {
        let root = try Ingest.scratch()
        var cluster = Cluster(vectors: .milvus)
        cluster.consistency = nil
        let folder = try Ingest.photoFolder(count: 6, in: root)
        let worker = root.appendingPathComponent("worker")
        let first = try Ingest.run(["ingest", folder.path, "--data", worker.path, "--model", CLITests.tinyModel] + cluster.flags,
                                   environment: cluster.environment)
        #expect(first.status == 0, "\(first.stderr)")

        // Writes let go of the writer lock at once, so the ingest worker can take it after them.
        let environment = cluster.environment.merging(["VITRINE_API_KEYS": "replica-test-key", "VITRINE_REFRESH_INTERVAL_MILLISECONDS": "200",
                                                       "VITRINE_WRITER_IDLE_SECONDS": "0"]) { $1 }
        let replicas = try ["a", "b"].map { name in
            try ServedProcess(["serve", "--data", root.appendingPathComponent("replica-\(name)").path, "--port", "0"] + cluster.flags,
                              environment: environment)
        }
        defer { for replica in replicas { replica.stop() } }

        func results(_ replica: ServedProcess, _ query: String = "/api/v1/search?q=summer%20dress&k=20") throws -> [[String: Any]] {
            let response = try replica.get(query)
            guard response.status == 200 else { return [] }
            return (try JSONSerialization.jsonObject(with: response.body) as? [String: Any])?["results"] as? [[String: Any]] ?? []
        }
        func ids(_ replica: ServedProcess) throws -> Set<String> { Set(try results(replica).compactMap { $0["id"] as? String }) }

        let a = try results(replicas[0]), b = try results(replicas[1])
        #expect(a.count == 6)
        #expect(a.map { "\($0["id"]!) \($0["score"]!)" } == b.map { "\($0["id"]!) \($0["score"]!)" })

        // Written through replica a: found through both.
        let photo = try #require(FileManager.default.enumerator(atPath: folder.path)?.allObjects.compactMap { $0 as? String }
            .first { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") })
        let posted = try replicas[0].post("/api/v1/products", key: "replica-test-key",
                                          product: #"{"id": "posted-1", "name": "Red summer dress", "category": "dresses"}"#,
                                          image: folder.appendingPathComponent(photo))
        #expect(posted == 201)
        let written = Date()
        #expect(try eventually(seconds: 2, every: 0.05) { try ids(replicas[0]).contains("posted-1") && ids(replicas[1]).contains("posted-1") },
                "not searchable through both within 2 s")
        print("replicas: a product written through one replica was found through both after \(String(format: "%.2f", Date().timeIntervalSince(written))) s")

        // Written by a separate ingest worker: found through both.
        let more = try Ingest.twoPhotoManifest(count: 2, in: root.appendingPathComponent("more"))
        let second = try Ingest.run(["ingest", more.path, "--data", worker.path, "--model", CLITests.tinyModel] + cluster.flags,
                                    environment: cluster.environment)
        #expect(second.status == 0, "\(second.stderr)")
        let ingested = Date()
        #expect(try eventually(seconds: 2, every: 0.05) { try ids(replicas[0]).count == 9 && ids(replicas[1]).count == 9 },
                "the worker's products were not searchable through both within 2 s")
        print("replicas: a worker's ingest was found through both after \(String(format: "%.2f", Date().timeIntervalSince(ingested))) s")

        // A replica keeps nothing another needs: its data directory holds its writer lock file at most.
        for name in ["a", "b"] {
            let kept = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("replica-\(name)").path)) ?? []
            #expect(kept.allSatisfy { $0 == "writer.lock" }, "replica \(name) keeps \(kept)")
        }
    }
}

/// Outage drills with the vector server itself killed: a Milvus Lite server of the test's own
/// (scripts/servers.sh installs it), SIGKILLed under a search load and during an ingest, then
/// restarted on the same port and data. Searches answer 503 with Retry-After naming Milvus within
/// the request's time limit, `/readyz` names it, the replica recovers by itself, and the ingest's
/// rerun leaves catalog and Milvus agreeing (counts and `vitrine verify`).
@Suite(.enabled(if: Cluster.configured && Cluster.environment["VITRINE_TEST_MILVUS_LITE_BIN"] != nil,
                "needs the test servers (scripts/servers.sh)"))
struct MilvusOutageDrillTests {
    typealias Ingest = IngestCLITests

    @Test func searchesDuringAMilvusOutageAnswer503AndTheReplicaRecovers() throws {
        let root = try Ingest.scratch()
        let milvus = try MilvusLiteProcess(data: root.appendingPathComponent("milvus"))
        defer { milvus.kill() }
        var cluster = Cluster(vectors: .milvus)
        cluster.milvusURL = "milvus://127.0.0.1:\(milvus.port)"
        cluster.consistency = "strong&timeout=2"
        let data = root.appendingPathComponent("data")
        let folder = try Ingest.photoFolder(count: 4, in: root)
        let ingest = try Ingest.run(["ingest", folder.path, "--data", data.path, "--model", CLITests.tinyModel] + cluster.flags,
                                    environment: cluster.environment)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let server = try ServedProcess(["serve", "--data", data.path, "--port", "0"] + cluster.flags,
                                       environment: cluster.environment.merging(["VITRINE_LIMITS_REQUEST_TIMEOUT_SECONDS": "4"]) { $1 })
        defer { server.stop() }
        #expect(try server.get("/api/v1/search?q=dress&k=2").status == 200)

        // A search load from four clients across the outage: every answer is 200 or 503, none
        // a 500 or a hang past the time limit.
        let statuses = Statuses()
        let stop = Flag()
        let clients = (0..<4).map { _ in
            Thread {
                while !stop.isSet {
                    let started = Date()
                    let status = (try? server.getWithHeaders("/api/v1/search?q=dress&k=2").status) ?? -1
                    statuses.add(status, seconds: Date().timeIntervalSince(started))
                }
            }
        }
        for client in clients { client.start() }
        Thread.sleep(forTimeInterval: 1)
        milvus.kill()
        let down = try server.getWithHeaders("/api/v1/search?q=dress&k=2")
        #expect(down.status == 503 && down.headers.lowercased().contains("retry-after"), "\(down.status) \(down.headers)")
        #expect(String(decoding: down.body, as: UTF8.self).contains("Milvus milvus://127.0.0.1:\(milvus.port)"),
                "\(String(decoding: down.body, as: UTF8.self))")
        let notReady = try server.get("/readyz")
        #expect(notReady.status == 503 && String(decoding: notReady.body, as: UTF8.self).contains("Milvus"),
                "\(String(decoding: notReady.body, as: UTF8.self))")
        #expect(try server.get("/healthz").status == 200)
        Thread.sleep(forTimeInterval: 1)
        try milvus.restart()
        let back = try eventually(seconds: 30) { try server.get("/api/v1/search?q=dress&k=2").status == 200 }
        stop.set()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(back, "the replica did not recover after Milvus came back")
        #expect(try server.get("/readyz").status == 200)
        let seen = statuses.snapshot()
        #expect(seen.statuses.isSubset(of: [200, 503]), "statuses under load: \(seen.statuses)")
        #expect(seen.statuses.contains(503) && seen.statuses.contains(200))
        #expect(seen.slowest < 8, "the slowest answer took \(seen.slowest) s")
    }

    @Test func anIngestCutOffByAMilvusOutageResumesWithNothingLostOrDoubled() throws {
        let root = try Ingest.scratch()
        let milvus = try MilvusLiteProcess(data: root.appendingPathComponent("milvus"))
        defer { milvus.kill() }
        var cluster = Cluster(vectors: .milvus)
        cluster.milvusURL = "milvus://127.0.0.1:\(milvus.port)"
        cluster.consistency = "strong&timeout=2"
        let data = root.appendingPathComponent("data")
        let manifest = try Ingest.twoPhotoManifest(count: 40, in: root)
        let ingest = try Ingest.start(["ingest", manifest.path, "--data", data.path, "--model", CLITests.tinyModel, "--batch-size", "1"]
                                      + cluster.flags, environment: cluster.environment)
        let stderr = (ingest.standardError as! Pipe).fileHandleForReading
        Thread.sleep(forTimeInterval: 2)
        milvus.kill()
        let log = String(decoding: stderr.readDataToEndOfFile(), as: UTF8.self)
        _ = (ingest.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        ingest.waitUntilExit()
        if ingest.terminationStatus != 0 {
            #expect(ingest.terminationStatus == 1 && log.contains("Milvus milvus://127.0.0.1:\(milvus.port)"), "\(log)")
        }
        try milvus.restart()
        let resumed = try Ingest.run(["ingest", manifest.path, "--data", data.path, "--model", CLITests.tinyModel] + cluster.flags,
                                     environment: cluster.environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let stats = try cluster.stats(data)
        #expect(stats["products"] as? Int == 40 && stats["images"] as? Int == 80 && stats["vectors"] as? Int == 80, "\(stats)")
        let verify = try Ingest.run(["verify", "--data", data.path] + cluster.flags, environment: cluster.environment)
        #expect(verify.status == 0, "\(verify.stderr)")
    }
}

/// Status codes and the slowest answer seen by the load's threads.
final class Statuses: @unchecked Sendable {
    private let lock = NSLock()
    private var statuses = Set<Int>()
    private var slowest = 0.0

    func add(_ status: Int, seconds: Double) {
        lock.withLock {
            statuses.insert(status)
            slowest = max(slowest, seconds)
        }
    }

    func snapshot() -> (statuses: Set<Int>, slowest: Double) { lock.withLock { (statuses, slowest) } }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// A Milvus Lite server of a test's own on a free loopback port: SIGKILLed and restarted on the
/// same port and data directory (its log replays acknowledged writes).
final class MilvusLiteProcess {
    let data: URL
    let port: Int
    private var process: Process?

    init(data: URL) throws {
        self.data = data
        port = try Self.freePort()
        try start()
    }

    private func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Cluster.environment["VITRINE_TEST_MILVUS_LITE_BIN"]!)
        process.arguments = ["server", "--data-dir", data.path, "--host", "127.0.0.1", "--port", String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        // It opens its data before it binds: accepting connections means ready.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if Self.accepts(port) { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw MilvusLiteError(message: "Milvus Lite did not listen on \(port) within 60 s")
    }

    struct MilvusLiteError: Error { let message: String }

    func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    func restart() throws {
        kill()
        try start()
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw MilvusLiteError(message: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// 127.0.0.1:`port`.
    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return address
    }
}

extension ServedProcess {
    /// POST a product (record JSON and one photo) as multipart with curl; returns the status.
    func post(_ path: String, key: String, product: String, image: URL) throws -> Int {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30", "-H", "Authorization: Bearer \(key)",
                          "-F", "product=\(product);type=application/json", "-F", "image=@\(image.path)", base + path]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let status = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        return Int(status) ?? 0
    }
}

/// `ingest --shard i/n` on the cluster backends: two shard workers at once (each with a data
/// directory of its own), one killed midway and run again; catalog, photos and vectors then hold
/// every product exactly once, and `verify` finds them agreeing.
@Suite(.enabled(if: Cluster.configured && Cluster.environment["VITRINE_TEST_MILVUS_URL"] != nil,
                "needs the test servers (scripts/servers.sh)"))
struct ShardedIngestTests {
    typealias Ingest = IngestCLITests

    @Test func twoShardWorkersAtOnceOneKilledAndRerun() throws {
        let root = try Ingest.scratch()
        let cluster = Cluster(vectors: .milvus)
        let manifest = try Ingest.twoPhotoManifest(count: 30, in: root)
        func worker(_ shard: Int, fault: String? = nil) throws -> Process {
            try Ingest.start(["ingest", manifest.path, "--data", root.appendingPathComponent("worker-\(shard)").path,
                              "--model", CLITests.tinyModel, "--batch-size", "2", "--shard", "\(shard)/2"] + cluster.flags,
                             environment: cluster.environment.merging(fault.map { ["VITRINE_FAULT": $0] } ?? [:]) { $1 }, quiet: true)
        }
        let first = try worker(0)
        let second = try worker(1, fault: "after-index-upsert:4")
        var overlapped = false
        while first.isRunning || second.isRunning {
            if first.isRunning && second.isRunning { overlapped = true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(overlapped, "the two shard workers never ran at the same time")
        #expect(first.terminationStatus == 0)
        #expect(second.terminationReason == .uncaughtSignal, "the faulted worker was not killed: \(second.terminationStatus)")
        let partial = try cluster.stats(root.appendingPathComponent("worker-0"))
        #expect((partial["products"] as? Int ?? 0) < 30, "\(partial)")

        let rerun = try Ingest.run(["ingest", manifest.path, "--data", root.appendingPathComponent("worker-1").path,
                                    "--model", CLITests.tinyModel, "--batch-size", "2", "--shard", "1/2", "--json"] + cluster.flags,
                                   environment: cluster.environment)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let stats = try cluster.stats(root.appendingPathComponent("worker-0"))
        #expect(stats["products"] as? Int == 30 && stats["images"] as? Int == 60 && stats["vectors"] as? Int == 60, "\(stats)")
        let verify = try Ingest.run(["verify", "--data", root.appendingPathComponent("worker-0").path] + cluster.flags,
                                    environment: cluster.environment)
        #expect(verify.status == 0, "\(verify.stderr)")
        let bad = try Ingest.run(["ingest", manifest.path, "--data", root.appendingPathComponent("worker-0").path,
                                  "--model", CLITests.tinyModel, "--shard", "2/2"] + cluster.flags, environment: cluster.environment)
        #expect(bad.status == 2 && bad.stderr.contains("--shard 2/2"), "\(bad.stderr)")
    }
}
