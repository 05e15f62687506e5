import Foundation
import Testing

/// The whole flow with the catalog in PostgreSQL and the photos in S3, the vectors in the data
/// directory or in Milvus: ingest, search, stats, delete, reindex, gc, verify, and `serve` with the
/// web UI, images and readiness; a killed ingest resumes; a dependency that is not there is named.
/// Runs when scripts/servers.sh started the servers (scripts/test.sh does).
@Suite(.enabled(if: Cluster.configured, "needs VITRINE_TEST_POSTGRES_URL and VITRINE_TEST_S3_ENDPOINT (scripts/servers.sh)"))
struct ClusterCLITests {
    typealias Ingest = IngestCLITests

    @Test(arguments: Cluster.vectorBackends)
    func theWholeFlowOnClusterBackends(vectors: Cluster.Vectors) throws {
        let root = try Ingest.scratch()
        let cluster = Cluster(vectors: vectors)
        let data = root.appendingPathComponent("data")
        let folder = try Ingest.photoFolder(count: 10, in: root)
        // The text index too (a second collection in Milvus), with the real all-MiniLM-L6-v2.
        let withText = CLITests.hasMiniLM
        let textFlags = withText ? ["--text-embedder", CLITests.minilm] : []
        let ingest = try Ingest.run(["ingest", folder.path, "--data", data.path, "--model", CLITests.tinyModel, "--batch-size", "3", "--json"]
                                    + textFlags + cluster.flags, environment: cluster.environment)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        // Nothing of the catalog or the photos lands in the data directory.
        #expect(!FileManager.default.fileExists(atPath: data.appendingPathComponent("catalog.sqlite").path))
        #expect(!FileManager.default.fileExists(atPath: data.appendingPathComponent("images").path))

        let stats = try cluster.stats(data)
        #expect(stats["products"] as? Int == 10 && stats["images"] as? Int == 10 && stats["vectors"] as? Int == 10)
        let backends = try #require(stats["backends"] as? [String: [String: String]])
        #expect(backends["catalog"]?["kind"] == "postgres" && backends["catalog"]?["location"]?.contains("schema=\(cluster.schema)") == true)
        #expect(backends["blobs"]?["kind"] == "s3" && backends["blobs"]?["location"]?.hasPrefix("s3://\(cluster.bucket)/photos") == true)
        #expect(backends["vectors"]?["kind"] == vectors.rawValue)
        if vectors == .milvus { #expect(backends["vectors"]?["location"] == "milvus://\(cluster.milvusAddress)/\(cluster.collection)") }
        let text = try Ingest.run(["stats", "--data", data.path] + cluster.flags, environment: cluster.environment)
        #expect(String(decoding: text.stdout, as: UTF8.self).contains("catalog   postgres postgres://"), "\(String(decoding: text.stdout, as: UTF8.self))")
        #expect(!String(decoding: text.stdout, as: UTF8.self).contains(cluster.environment["PGPASSWORD"]!))

        let search = try Ingest.run(["search", "a red dress", "--data", data.path, "--k", "3", "--json"] + cluster.flags,
                                    environment: cluster.environment)
        #expect(search.status == 0, "\(search.stderr)")
        let hits = try #require((try JSONSerialization.jsonObject(with: search.stdout) as? [String: Any])?["results"] as? [[String: Any]])
        #expect(hits.count == 3)
        if withText {
            #expect(stats["textVectors"] as? Int == 10, "\(stats)")
            // The recorded sentence model is loaded without naming it.
            let byText = try Ingest.run(["search", "a photo", "--mode", "text", "--data", data.path, "--k", "3", "--json"] + cluster.flags,
                                        environment: cluster.environment.merging(["VITRINE_TEXT_EMBEDDER": ""]) { $1 })
            #expect(byText.status == 0, "\(byText.stderr)")
            let textHits = (try JSONSerialization.jsonObject(with: byText.stdout) as? [String: Any])?["results"] as? [[String: Any]]
            #expect(textHits?.count == 3)
        }

        // A re-run skips everything unchanged.
        let again = try LifecycleCLITests.json(try Ingest.run(
            ["ingest", folder.path, "--data", data.path, "--model", CLITests.tinyModel, "--json"] + textFlags + cluster.flags, environment: cluster.environment))
        #expect(again["unchanged"] as? Int == 10, "\(again)")
        if withText {
            // Ingest without the sentence model the directory records would leave products out of the text index.
            let refused = try Ingest.run(["ingest", folder.path, "--data", data.path, "--model", CLITests.tinyModel] + cluster.flags,
                                         environment: cluster.environment)
            #expect(refused.status == 2 && refused.stderr.contains("--text-embedder"), "\(refused.stderr)")
        }

        let victim = try #require(hits.first?["id"] as? String)
        let deleted = try Ingest.run(["delete", victim, "--data", data.path] + cluster.flags, environment: cluster.environment)
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(try cluster.stats(data)["products"] as? Int == 9)

        let second = root.appendingPathComponent("model-2")
        #expect(try Ingest.run(["model", "random", "--like", CLITests.tinyModel, "--out", second.path, "--seed", "7"]).status == 0)
        let reindex = try Ingest.run(["reindex", "--data", data.path, "--model", second.path] + cluster.flags, environment: cluster.environment)
        #expect(reindex.status == 0, "\(reindex.stderr)")
        let gc = try LifecycleCLITests.json(try Ingest.run(["gc", "--data", data.path, "--json"] + cluster.flags, environment: cluster.environment))
        // The deleted product's photo is no longer referenced: it leaves the bucket.
        #expect((gc["blobs"] as? [String])?.count == 1, "\(gc)")
        #expect(gc["index_directories"] as? [String] == [])  // reindex removed the old index itself
        if withText {
            // The text index rebuilt alone: text-2 replaces text, the photos' index untouched.
            let textReindex = try LifecycleCLITests.json(try Ingest.run(
                ["reindex", "--data", data.path, "--text-embedder", CLITests.minilm, "--json"] + cluster.flags, environment: cluster.environment))
            #expect(textReindex["index"] as? String == "text-2" && textReindex["previous_index"] as? String == "text"
                    && textReindex["products"] as? Int == 9, "\(textReindex)")
        }
        let verify = try Ingest.run(["verify", "--data", data.path] + cluster.flags, environment: cluster.environment)
        #expect(verify.status == 0, "\(verify.stderr)")
        let after = try cluster.stats(data)
        #expect(after["products"] as? Int == 9 && after["blobs"] as? Int == 9 && after["vectors"] as? Int == 9)
        if withText { #expect(after["textVectors"] as? Int == 9, "\(after)") }

        // Backup copies a data directory whole: with remote roles it says what to use instead.
        let backup = try Ingest.run(["backup", root.appendingPathComponent("b").path, "--data", data.path] + cluster.flags,
                                    environment: cluster.environment)
        #expect(backup.status == 2 && backup.stderr.contains("vitrine migrate"), "\(backup.stderr)")
    }

    @Test(arguments: Cluster.vectorBackends)
    func serveOnClusterBackends(vectors: Cluster.Vectors) async throws {
        let root = try Ingest.scratch()
        let cluster = Cluster(vectors: vectors)
        let data = root.appendingPathComponent("data")
        let folder = try Ingest.photoFolder(count: 6, in: root)
        let ingest = try Ingest.run(["ingest", folder.path, "--data", data.path, "--model", CLITests.tinyModel] + cluster.flags,
                                    environment: cluster.environment)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let server = try ServedProcess(["serve", "--data", data.path, "--port", "0"] + cluster.flags, environment: cluster.environment)
        defer { server.stop() }

        let ready = try server.get("/readyz")
        #expect(ready.status == 200, "\(String(decoding: ready.body, as: UTF8.self))")
        let readiness = try #require(try JSONSerialization.jsonObject(with: ready.body) as? [String: Any])
        let backends = try #require(readiness["backends"] as? [String: [String: String]])
        #expect(backends["catalog"]?["kind"] == "postgres" && backends["blobs"]?["kind"] == "s3" && backends["vectors"]?["kind"] == vectors.rawValue)

        let page = try server.get("/?q=dress")
        #expect(page.status == 200)
        let html = String(decoding: page.body, as: UTF8.self)
        let image = try #require(html.range(of: #"/images/[0-9a-f]{64}\.(jpg|png|webp)"#, options: .regularExpression).map { String(html[$0]) })
        let photo = try server.get(image)
        #expect(photo.status == 200 && photo.body.count > 100)
        let thumbnail = try server.get(image + "?w=64")
        #expect(thumbnail.status == 200 && thumbnail.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        let search = try server.get("/api/v1/search?q=dress&k=3")
        #expect(search.status == 200)
    }

    @Test(arguments: Cluster.vectorBackends)
    func aKilledIngestResumesWithNothingLostOrDoubled(vectors: Cluster.Vectors) throws {
        let root = try Ingest.scratch()
        let cluster = Cluster(vectors: vectors)
        let data = root.appendingPathComponent("data")
        let manifest = try Ingest.twoPhotoManifest(count: 8, in: root)
        let killed = try Ingest.run(["ingest", manifest.path, "--data", data.path, "--model", CLITests.tinyModel, "--batch-size", "2"]
                                    + cluster.flags, environment: cluster.environment.merging(["VITRINE_FAULT": "after-index-upsert:2"]) { $1 })
        #expect(killed.killed, "status \(killed.status): \(killed.stderr)")
        let resumed = try Ingest.run(["ingest", manifest.path, "--data", data.path, "--model", CLITests.tinyModel, "--batch-size", "2"]
                                     + cluster.flags, environment: cluster.environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let stats = try cluster.stats(data)
        #expect(stats["products"] as? Int == 8 && stats["images"] as? Int == 16 && stats["vectors"] as? Int == 16, "\(stats)")
        let verify = try Ingest.run(["verify", "--data", data.path] + cluster.flags, environment: cluster.environment)
        #expect(verify.status == 0, "\(verify.stderr)")
    }

    @Test func badBackendSettingsAreNamed() throws {
        let root = try Ingest.scratch()
        let data = root.appendingPathComponent("data").path
        let cluster = Cluster()
        let unknown = try Ingest.run(["stats", "--data", data, "--catalog", "mongodb://x/y"], environment: cluster.environment)
        #expect(unknown.status == 2 && unknown.stderr.contains("--catalog") && unknown.stderr.contains("not a catalog backend"), "\(unknown.stderr)")
        let password = try Ingest.run(["stats", "--data", data, "--catalog", "postgres://u:hunter2@h/d"], environment: cluster.environment)
        #expect(password.status == 2 && password.stderr.contains("PGPASSWORD") && !password.stderr.contains("hunter2"), "\(password.stderr)")
        let badS3 = try Ingest.run(["stats", "--data", data, "--blobs", "s3://x"], environment: cluster.environment)
        #expect(badS3.status == 2 && badS3.stderr.contains("--blobs"), "\(badS3.stderr)")
        // Nothing listens on port 9: exit 1 naming PostgreSQL, within the bounded retries.
        let down = try Ingest.run(["stats", "--data", data, "--catalog", "postgres://vitrine@127.0.0.1:9/x?connect_timeout=1"],
                                  environment: cluster.environment)
        #expect(down.status == 1 && down.stderr.contains("PostgreSQL postgres://vitrine@127.0.0.1:9/x") && down.stderr.contains("unavailable"),
                "\(down.stderr)")
        var wrong = cluster.environment
        wrong["AWS_SECRET_ACCESS_KEY"] = "wrong-secret"
        let folder = try Ingest.photoFolder(count: 1, in: root)
        let refused = try Ingest.run(["ingest", folder.path, "--data", data, "--model", CLITests.tinyModel] + cluster.flags, environment: wrong)
        #expect(refused.status == 1 && refused.stderr.contains("refused the credentials") && !refused.stderr.contains("wrong-secret"),
                "\(refused.stderr)")
    }
}

/// One test's share of the test servers: a schema and a bucket of its own.
struct Cluster {
    static let environment = ProcessInfo.processInfo.environment
    static var configured: Bool {
        environment["VITRINE_TEST_POSTGRES_URL"] != nil && environment["VITRINE_TEST_S3_ENDPOINT"] != nil
    }

    /// Where the vectors go: the data directory, or Milvus (when scripts/servers.sh started it).
    enum Vectors: String, Sendable, CaseIterable {
        case embedded, milvus
    }

    static var vectorBackends: [Vectors] { environment["VITRINE_TEST_MILVUS_URL"] == nil ? [.embedded] : [.embedded, .milvus] }

    let schema = "cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    let bucket = "cli-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    let collection = "cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    var vectors = Vectors.embedded
    /// The Milvus to use (default: the test server) and the URL's consistency parameter (nil: the default).
    var milvusURL: String?
    var consistency: String? = "strong"

    init(vectors: Vectors = .embedded) {
        self.vectors = vectors
    }

    /// HOST:PORT of the test Milvus.
    var milvusAddress: String {
        String((Self.environment["VITRINE_TEST_MILVUS_URL"] ?? "").dropFirst("milvus://".count).prefix { $0 != "/" })
    }

    var flags: [String] {
        let env = Self.environment
        var flags = ["--catalog", "\(env["VITRINE_TEST_POSTGRES_URL"]!)?schema=\(schema)",
                     "--blobs", "s3://\(bucket)/photos?endpoint=\(env["VITRINE_TEST_S3_ENDPOINT"]!)"]
        if vectors == .milvus {
            flags += ["--vectors", "\(milvusURL ?? "milvus://\(milvusAddress)")/\(collection)" + (consistency.map { "?consistency=\($0)" } ?? "")]
        }
        return flags
    }

    var environment: [String: String] {
        let env = Self.environment
        return ["PGPASSWORD": env["VITRINE_TEST_POSTGRES_PASSWORD"] ?? "", "AWS_ACCESS_KEY_ID": env["VITRINE_TEST_S3_ACCESS_KEY"] ?? "",
                "AWS_SECRET_ACCESS_KEY": env["VITRINE_TEST_S3_SECRET_KEY"] ?? ""]
            .merging(env["VITRINE_TEST_MILVUS_TOKEN"].map { ["MILVUS_TOKEN": $0] } ?? [:]) { $1 }
    }

    func stats(_ data: URL) throws -> [String: Any] {
        let r = try IngestCLITests.run(["stats", "--data", data.path, "--json"] + flags, environment: environment)
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
    }
}

/// `vitrine serve` on a free port, its URL read from its "serving" log line; requests with curl.
final class ServedProcess: @unchecked Sendable {
    let process: Process
    let base: String
    /// What it logged up to its "serving" line.
    let startLog: String

    init(_ arguments: [String], environment: [String: String]) throws {
        process = try IngestCLITests.start(arguments, environment: environment)
        let stderr = (process.standardError as! Pipe).fileHandleForReading
        var seen = ""
        let deadline = Date().addingTimeInterval(60)
        var found: String?
        while found == nil, Date() < deadline {
            let chunk = stderr.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: #""url.full":"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                found = String(seen[range].dropFirst(12))
            }
        }
        guard let found else {
            process.terminate()
            throw ServeError(log: seen)
        }
        base = found
        startLog = seen
        // Keep reading its log, so a full pipe never blocks the server.
        Thread { while !stderr.availableData.isEmpty {} }.start()
    }

    struct ServeError: Error, CustomStringConvertible {
        let log: String
        var description: String { "vitrine serve did not start: \(log)" }
    }

    /// GET with curl, following redirects (a presigned photo).
    func get(_ path: String) throws -> (status: Int, body: Data) {
        let response = try getWithHeaders(path, followingRedirects: true)
        return (response.status, response.body)
    }

    func stop() {
        process.interrupt()
        process.waitUntilExit()
    }
}

/// `vitrine migrate` from a data directory to PostgreSQL + S3 and back, killed midway once.
@Suite(.enabled(if: Cluster.configured, "needs VITRINE_TEST_POSTGRES_URL and VITRINE_TEST_S3_ENDPOINT (scripts/servers.sh)"))
struct MigrateCLITests {
    typealias Ingest = IngestCLITests

    @Test(arguments: Cluster.vectorBackends)
    func aDirectoryMovesToClusterBackendsAndBackVerified(vectors: Cluster.Vectors) throws {
        let root = try Ingest.scratch()
        let cluster = Cluster(vectors: vectors)
        let source = root.appendingPathComponent("source")
        let manifest = try Ingest.twoPhotoManifest(count: 9, in: root)
        // With a text index: migrate copies its vectors too.
        let withText = CLITests.hasMiniLM
        let textFlags = withText ? ["--text-embedder", CLITests.minilm] : []
        #expect(try Ingest.ingest(manifest, source, extra: textFlags).status == 0)
        let photos = try #require(try Ingest.stats(source)["blobs"] as? Int)

        // The target's backends in a file, credentials included (as serve's config file holds them).
        let env = Cluster.environment
        let backends = root.appendingPathComponent("cluster.json")
        var file: [String: Any] = [
            "data": "cluster-data",
            "catalog": "\(env["VITRINE_TEST_POSTGRES_URL"]!)?schema=\(cluster.schema)",
            "blobs": "s3://\(cluster.bucket)/photos?endpoint=\(env["VITRINE_TEST_S3_ENDPOINT"]!)",
            "postgres": ["password": env["VITRINE_TEST_POSTGRES_PASSWORD"]!],
            "s3": ["accessKeyId": env["VITRINE_TEST_S3_ACCESS_KEY"]!, "secretAccessKey": env["VITRINE_TEST_S3_SECRET_KEY"]!],
        ]
        if vectors == .milvus {
            file["vectors"] = "milvus://\(cluster.milvusAddress)/\(cluster.collection)?consistency=strong"
            if let token = env["VITRINE_TEST_MILVUS_TOKEN"] { file["milvus"] = ["token": token] }
        }
        try JSONSerialization.data(withJSONObject: file).write(to: backends)

        // Killed after the second batch's photos and vectors, before its catalog commit.
        let killed = try Ingest.run(["migrate", "--from", source.path, "--to", backends.path, "--batch-size", "2"],
                                    environment: ["VITRINE_FAULT": "migrate-after-index:2"])
        #expect(killed.killed, "status \(killed.status): \(killed.stderr)")
        let resumed = try LifecycleCLITests.json(try Ingest.run(
            ["migrate", "--from", source.path, "--to", backends.path, "--batch-size", "2", "--json"]))
        #expect(resumed["alreadyThere"] as? Int == 2, "\(resumed)")
        #expect(resumed["copied"] as? Int == 7)
        #expect(resumed["products"] as? Int == 9 && resumed["images"] as? Int == 18 && resumed["vectors"] as? Int == 18)
        #expect(resumed["photosHashed"] as? Int == photos && resumed["queriesCompared"] as? Int == 18, "\(resumed)")
        if withText { #expect(resumed["textVectors"] as? Int == 9, "\(resumed)") }

        let data = root.appendingPathComponent("cluster-data")
        let stats = try cluster.stats(data)
        #expect(stats["products"] as? Int == 9 && stats["vectors"] as? Int == 18 && stats["blobs"] as? Int == photos, "\(stats)")
        let verify = try Ingest.run(["verify", "--data", data.path] + cluster.flags, environment: cluster.environment)
        #expect(verify.status == 0, "\(verify.stderr)")
        // The same search answers the same on both sides.
        let here = try Ingest.run(["search", "a red dress", "--data", source.path, "--json"])
        let there = try Ingest.run(["search", "a red dress", "--data", data.path, "--json"] + cluster.flags, environment: cluster.environment)
        #expect(here.status == 0 && there.status == 0, "\(there.stderr)")
        // Scores to 4 decimals (Milvus sums in another order), ties in id order (products sharing
        // a photo tie, and each engine breaks ties its own way).
        func ranked(_ run: IngestCLITests.Run) throws -> [String] {
            let results = try #require((try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])?["results"] as? [[String: Any]])
            return results.map { (String(format: "%.4f", ($0["score"] as? Double) ?? 0), "\($0["id"] ?? "")") }
                .sorted { ($0.0, $1.1) > ($1.0, $0.1) }.map { "\($0.1) \($0.0)" }
        }
        #expect(try ranked(here) == ranked(there))
        #expect(try ranked(here).count == 9)
        if withText {
            #expect(stats["textVectors"] as? Int == 9, "\(stats)")
            let textHere = try Ingest.run(["search", "a red dress", "--mode", "text", "--data", source.path, "--json"] + textFlags)
            let textThere = try Ingest.run(["search", "a red dress", "--mode", "text", "--data", data.path, "--json"] + textFlags + cluster.flags,
                                           environment: cluster.environment)
            #expect(textHere.status == 0 && textThere.status == 0, "\(textThere.stderr)")
            #expect(try ranked(textHere) == ranked(textThere))
        }

        // And back to a new directory, in one run.
        let back = root.appendingPathComponent("back")
        let returned = try LifecycleCLITests.json(try Ingest.run(["migrate", "--from", backends.path, "--to", back.path, "--json"]))
        #expect(returned["copied"] as? Int == 9 && returned["products"] as? Int == 9)
        if withText { #expect(returned["textVectors"] as? Int == 9, "\(returned)") }
        #expect(try Ingest.run(["verify", "--data", back.path]).status == 0)

        // A target holding products the source lacks is refused, naming them.
        let other = try Ingest.run(["migrate", "--from", try Ingest.photoFolderData(root).path, "--to", back.path])
        #expect(other.status == 1 && other.stderr.contains("products the source does not have"), "\(other.stderr)")
    }
}

extension IngestCLITests {
    /// A small data directory of its own (a folder of 2 photos ingested).
    static func photoFolderData(_ root: URL) throws -> URL {
        let sub = root.appendingPathComponent("other-\(UUID().uuidString.prefix(6))")
        let folder = try photoFolder(count: 2, in: sub)
        let data = sub.appendingPathComponent("data")
        #expect(try ingest(folder, data).status == 0)
        return data
    }
}

/// Outage drills: PostgreSQL and S3 behind a TCP proxy that the test kills (the server is gone),
/// freezes (it hangs) and starts again (it is back). The server answers 503 with Retry-After
/// naming the dependency, never 500 or a hang, stays up, and recovers by itself; an ingest cut off
/// exits 1 naming it and the next run completes with nothing lost or doubled.
@Suite(.enabled(if: Cluster.configured, "needs VITRINE_TEST_POSTGRES_URL and VITRINE_TEST_S3_ENDPOINT (scripts/servers.sh)"))
struct OutageDrillTests {
    typealias Ingest = IngestCLITests

    @Test func theServerAnswers503WhileADependencyIsDownAndRecovers() throws {
        let root = try Ingest.scratch()
        let cluster = Cluster()
        let env = Cluster.environment
        let postgres = try URLComponents(string: env["VITRINE_TEST_POSTGRES_URL"]!).map { ($0.host!, $0.port!) }!
        let s3 = try URLComponents(string: env["VITRINE_TEST_S3_ENDPOINT"]!).map { ($0.host!, $0.port!) }!
        let pgProxy = try TCPProxy(to: postgres.0, port: postgres.1)
        defer { pgProxy.kill() }
        let s3Proxy = try TCPProxy(to: s3.0, port: s3.1)
        defer { s3Proxy.kill() }
        let flags = ["--catalog", "postgres://vitrine@127.0.0.1:\(pgProxy.port)/\(env["VITRINE_TEST_POSTGRES_URL"]!.split(separator: "/").last!)?schema=\(cluster.schema)&timeout=2&connect_timeout=1",
                     "--blobs", "s3://\(cluster.bucket)/photos?endpoint=http://127.0.0.1:\(s3Proxy.port)&timeout=2"]
        let data = root.appendingPathComponent("data")
        let folder = try Ingest.photoFolder(count: 4, in: root)
        let ingest = try Ingest.run(["ingest", folder.path, "--data", data.path, "--model", CLITests.tinyModel] + flags, environment: cluster.environment)
        #expect(ingest.status == 0, "\(ingest.stderr)")

        let server = try ServedProcess(["serve", "--data", data.path, "--port", "0"] + flags,
                                       environment: cluster.environment.merging(["VITRINE_LIMITS_REQUEST_TIMEOUT_SECONDS": "4"]) { $1 })
        defer { server.stop() }
        let page = try server.get("/api/v1/search?q=dress&k=1")
        #expect(page.status == 200)
        let image = try #require(String(decoding: page.body, as: UTF8.self)
            .range(of: #"/images/[0-9a-f]{64}\.[a-z]+"#, options: .regularExpression).map { String(String(decoding: page.body, as: UTF8.self)[$0]) })

        // PostgreSQL gone: searches and readiness answer 503 naming it, quickly; liveness stays 200.
        pgProxy.kill()
        let started = Date()
        let down = try server.getWithHeaders("/api/v1/search?q=dress&k=1")
        #expect(down.status == 503 && down.headers.lowercased().contains("retry-after"), "\(down.status) \(down.headers)")
        #expect(String(decoding: down.body, as: UTF8.self).contains("PostgreSQL postgres://vitrine@127.0.0.1:\(pgProxy.port)"))
        #expect(Date().timeIntervalSince(started) < 10)
        let notReady = try server.get("/readyz")
        #expect(notReady.status == 503 && String(decoding: notReady.body, as: UTF8.self).contains("PostgreSQL"))
        #expect(try server.get("/healthz").status == 200)
        // The scrape says which store failed, and answers in time.
        #expect(try Self.dependencies(server) == ["catalog": 0, "photos": 1])
        // Back: the server recovers by itself.
        try pgProxy.restart()
        #expect(try eventually { try server.get("/api/v1/search?q=dress&k=1").status == 200 })
        #expect(try server.get("/readyz").status == 200)
        #expect(try Self.dependencies(server) == ["catalog": 1, "photos": 1])

        // S3 gone: the photo answers 503 naming S3; back, it is served again.
        s3Proxy.kill()
        let photoDown = try server.getWithHeaders(image)
        #expect(photoDown.status == 503 && String(decoding: photoDown.body, as: UTF8.self).contains("S3 s3://\(cluster.bucket)/photos"),
                "\(photoDown.status) \(String(decoding: photoDown.body, as: UTF8.self))")
        #expect(try server.get("/readyz").status == 503)
        #expect(try Self.dependencies(server) == ["catalog": 1, "photos": 0])
        try s3Proxy.restart()
        #expect(try eventually { try server.get(image).status == 200 })
        #expect(try Self.dependencies(server) == ["catalog": 1, "photos": 1])

        // PostgreSQL hangs (frozen, not gone): the request still answers 503 within its time limit.
        pgProxy.freeze()
        let hangStarted = Date()
        let hung = try server.getWithHeaders("/api/v1/search?q=dress&k=1")
        #expect(hung.status == 503, "\(hung.status) \(String(decoding: hung.body, as: UTF8.self))")
        #expect(Date().timeIntervalSince(hangStarted) < 8)
        let probe = Date()
        #expect(try server.get("/readyz").status == 503)
        #expect(Date().timeIntervalSince(probe) < 8)
        let scrape = Date()
        #expect(try Self.dependencies(server) == ["catalog": 0, "photos": 1])
        #expect(Date().timeIntervalSince(scrape) < 8)
        pgProxy.thaw()
        #expect(try eventually(seconds: 30) { try server.get("/api/v1/search?q=dress&k=1").status == 200 })
    }

    /// `vitrine_dependency_up` of the catalog (PostgreSQL) and the photos (S3) in a scrape.
    static func dependencies(_ server: ServedProcess) throws -> [String: Int] {
        let scrape = try server.get("/metrics")
        var up: [String: Int] = [:]
        for line in String(decoding: scrape.body, as: UTF8.self).split(separator: "\n") {
            for (role, backend) in [("catalog", "postgres"), ("photos", "s3")]
            where line.hasPrefix(#"vitrine_dependency_up{role="\#(role)",dependency="\#(backend)"} "#) {
                up[role] = Double(line.split(separator: " ").last!).map { Int($0) }
            }
        }
        return up
    }

    @Test func anIngestCutOffByAnOutageExitsNamingItAndTheNextRunCompletes() throws {
        let root = try Ingest.scratch()
        let cluster = Cluster()
        let env = Cluster.environment
        let postgres = try URLComponents(string: env["VITRINE_TEST_POSTGRES_URL"]!).map { ($0.host!, $0.port!) }!
        let proxy = try TCPProxy(to: postgres.0, port: postgres.1)
        defer { proxy.kill() }
        let flags = ["--catalog", "postgres://vitrine@127.0.0.1:\(proxy.port)/\(env["VITRINE_TEST_POSTGRES_URL"]!.split(separator: "/").last!)?schema=\(cluster.schema)&timeout=2&connect_timeout=1",
                     "--blobs", "s3://\(cluster.bucket)/photos?endpoint=\(env["VITRINE_TEST_S3_ENDPOINT"]!)"]
        let data = root.appendingPathComponent("data")
        let manifest = try Ingest.twoPhotoManifest(count: 40, in: root)
        // One product per batch, so the outage falls in the middle.
        let ingest = try Ingest.start(["ingest", manifest.path, "--data", data.path, "--model", CLITests.tinyModel, "--batch-size", "1"] + flags,
                                      environment: cluster.environment)
        let stderr = (ingest.standardError as! Pipe).fileHandleForReading
        Thread.sleep(forTimeInterval: 1.5)
        proxy.kill()
        let log = String(decoding: stderr.readDataToEndOfFile(), as: UTF8.self)
        _ = (ingest.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        ingest.waitUntilExit()
        if ingest.terminationStatus != 0 {
            #expect(ingest.terminationStatus == 1 && log.contains("PostgreSQL postgres://vitrine@127.0.0.1:\(proxy.port)"), "\(log)")
        }
        try proxy.restart()
        let resumed = try Ingest.run(["ingest", manifest.path, "--data", data.path, "--model", CLITests.tinyModel] + flags, environment: cluster.environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let r = try Ingest.run(["stats", "--data", data.path, "--json"] + flags, environment: cluster.environment)
        let stats = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(stats["products"] as? Int == 40 && stats["images"] as? Int == 80 && stats["vectors"] as? Int == 80, "\(stats)")
        let verify = try Ingest.run(["verify", "--data", data.path] + flags, environment: cluster.environment)
        #expect(verify.status == 0, "\(verify.stderr)")
    }

}

/// Polls `condition` every `interval` seconds until it holds or `seconds` pass (at least once).
func eventually(seconds: Double = 20, every interval: Double = 0.5, _ condition: () throws -> Bool) throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: interval)
    } while Date() < deadline
    return false
}

/// Tests/Fixtures/tools/tcp_proxy.py between Vitrine and a server: killed, frozen, thawed, restarted.
final class TCPProxy {
    let host: String
    let targetPort: Int
    private(set) var port = 0
    private var process: Process?

    init(to host: String, port: Int) throws {
        self.host = host
        targetPort = port
        try start(listening: 0)
    }

    private func start(listening: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", CLITests.fixtures.appendingPathComponent("tools/tcp_proxy.py").path,
                             String(listening), host, String(targetPort)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = ""
        while !line.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += String(decoding: chunk, as: UTF8.self)
        }
        guard let number = line.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            process.terminate()
            throw ProxyError(message: "the proxy did not start: \(line)")
        }
        port = number
        self.process = process
    }

    struct ProxyError: Error { let message: String }

    func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGCONT)
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    func freeze() { if let process { Foundation.kill(process.processIdentifier, SIGSTOP) } }
    func thaw() { if let process { Foundation.kill(process.processIdentifier, SIGCONT) } }

    func restart() throws {
        kill()
        try start(listening: port)
    }
}

extension ServedProcess {
    /// GET with curl, with the response headers too.
    func getWithHeaders(_ path: String, followingRedirects: Bool = false) throws -> (status: Int, headers: String, body: Data) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("serve-get-\(UUID().uuidString)")
        let headers = FileManager.default.temporaryDirectory.appendingPathComponent("serve-headers-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: file)
            try? FileManager.default.removeItem(at: headers)
        }
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-o", file.path, "-D", headers.path, "-w", "%{http_code}", "--max-time", "30"]
            + (followingRedirects ? ["-L"] : []) + [base + path]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let status = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        return (Int(status) ?? 0, (try? String(contentsOf: headers, encoding: .utf8)) ?? "", (try? Data(contentsOf: file)) ?? Data())
    }
}
