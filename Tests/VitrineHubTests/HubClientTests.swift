import Foundation
import Testing
@testable import VitrineHub

@Suite("Hub client against a fake hub")
struct HubClientTests {
    @Test("a fresh pull lays out the cache exactly as huggingface_hub does")
    func freshPullLayout() async throws {
        try await withFakeHub { hub, environment in
            let progress = ProgressLog()
            let snapshot = try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini", progress: progress.handler)

            let repoFolder = environment.cacheDirectory.appendingPathComponent("models--acme--clip-mini")
            #expect(snapshot.standardizedFileURL == repoFolder.appendingPathComponent("snapshots/\(HubFixture.commit)").standardizedFileURL)
            #expect(repoFolder.listing() == ["blobs", "refs", "snapshots"])

            // refs/main holds the bare commit hash, no newline.
            #expect(repoFolder.appendingPathComponent("refs/main").fileBytes == Array(HubFixture.commit.utf8))

            // One blob per wanted file, named by its etag; nothing partial left behind.
            #expect(repoFolder.appendingPathComponent("blobs").listing() == HubFixture.wanted.map(\.etag).sorted())
            #expect(HubFixture.weights.etag.count == 64 && HubFixture.config.etag.count == 40)

            // Snapshot entries are relative symlinks to the blobs, with the right bytes.
            #expect(snapshot.listing() == HubFixture.wanted.map(\.name).sorted())
            for file in HubFixture.wanted {
                let entry = snapshot.appendingPathComponent(file.name)
                #expect(entry.symlinkTarget == "../../blobs/\(file.etag)")
                #expect(entry.fileBytes == file.bytes)
            }

            // Foreign weights and READMEs are never requested.
            let requested = hub.fileRequests.map(\.path)
            for file in HubFixture.ignored {
                #expect(!requested.contains { $0.hasSuffix("/" + file.name) }, "fetched \(file.name)")
            }
            // Downloads are pinned to the commit, and the LFS file went through the CDN redirect.
            #expect(requested.contains("/acme/clip-mini/resolve/\(HubFixture.commit)/model.safetensors"))
            #expect(requested.contains("/cdn/\(HubFixture.weights.sha256)"))
            #expect(hub.requests.first?.uri == "/api/models/acme/clip-mini/revision/main?blobs=true")

            // Progress: each file started and finished, the weights with their full size.
            let events = progress.all
            for file in HubFixture.wanted {
                #expect(events.contains { $0.file == file.name && $0.phase == .started })
                #expect(events.contains { $0.file == file.name && $0.phase == .finished && $0.completedBytes == Int64(file.bytes.count) })
            }
            #expect(events.contains { $0.file == "model.safetensors" && $0.phase == .downloading && $0.totalBytes == 300_000 })
        }
    }

    @Test("a second pull lists the repo but requests no file")
    func secondPullIsCached() async throws {
        try await withFakeHub { hub, environment in
            let client = HubClient(environment: environment)
            let first = try await client.snapshot(repo: "acme/clip-mini")
            #expect(hub.fileRequests.count >= HubFixture.wanted.count)
            hub.clearRequests()

            let progress = ProgressLog()
            let second = try await client.snapshot(repo: "acme/clip-mini", progress: progress.handler)
            #expect(second == first)
            #expect(hub.fileRequests.isEmpty)
            #expect(hub.requests.count == 1)
            #expect(progress.all.isEmpty)
        }
    }

    @Test("a missing snapshot link is restored from its blob without a download")
    func relinksFromBlob() async throws {
        try await withFakeHub { hub, environment in
            let client = HubClient(environment: environment)
            let snapshot = try await client.snapshot(repo: "acme/clip-mini")
            try FileManager.default.removeItem(at: snapshot.appendingPathComponent("model.safetensors"))
            hub.clearRequests()
            _ = try await client.snapshot(repo: "acme/clip-mini")
            #expect(hub.fileRequests.isEmpty)
            #expect(snapshot.appendingPathComponent("model.safetensors").symlinkTarget == "../../blobs/\(HubFixture.weights.sha256)")
        }
    }

    @Test("offline mode resolves from the cache without any request")
    func offlineFromCache() async throws {
        try await withFakeHub { hub, environment in
            let online = try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            hub.clearRequests()
            var offline = environment
            offline.offline = true
            let resolved = try await HubClient(environment: offline).snapshot(repo: "acme/clip-mini")
            #expect(resolved == online)
            // A commit-hash revision needs no ref.
            let pinned = try await HubClient(environment: offline).snapshot(repo: "acme/clip-mini", revision: HubFixture.commit)
            #expect(pinned == online)
            #expect(hub.requests.isEmpty)
        }
    }

    @Test("offline mode names what is missing when the repo is not cached")
    func offlineNotCached() async throws {
        try await withFakeHub { hub, environment in
            var offline = environment
            offline.offline = true
            let error = await #expect(throws: HubError.self) {
                try await HubClient(environment: offline).snapshot(repo: "acme/clip-mini")
            }
            guard case .notCached(let repo, let revision, _, let missing) = error else {
                Issue.record("expected notCached, got \(String(describing: error))")
                return
            }
            #expect(repo == "acme/clip-mini" && revision == "main")
            #expect(missing.contains { $0.contains("refs/main") })
            #expect(error?.description.contains("HF_HUB_OFFLINE") == true)
            #expect(hub.requests.isEmpty)

            // Partially cached: the weights' link is gone, and the message says so.
            _ = try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            let snapshot = environment.cacheDirectory.appendingPathComponent("models--acme--clip-mini/snapshots/\(HubFixture.commit)")
            try FileManager.default.removeItem(at: snapshot.appendingPathComponent("model.safetensors"))
            let partial = await #expect(throws: HubError.self) {
                try await HubClient(environment: offline).snapshot(repo: "acme/clip-mini")
            }
            #expect(partial?.description.contains("snapshots/\(HubFixture.commit)/model.safetensors") == true)
        }
    }

    @Test("a dropped connection is resumed with a Range request")
    func resumeWithinRun() async throws {
        try await withFakeHub { hub, environment in
            hub.setFaults { $0.drop["model.safetensors"] = (afterBytes: 120_000, count: 1) }
            let snapshot = try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            #expect(snapshot.appendingPathComponent("model.safetensors").fileBytes == HubFixture.weights.bytes)
            // The Range header travels through the hub's redirect to the CDN, which honours it.
            let ranges = hub.fileRequests.filter { $0.path.hasPrefix("/cdn/") }.compactMap { $0.headers["range"] }
            #expect(ranges.count == 1)
            let start = ranges.first.flatMap { Int($0.dropFirst("bytes=".count).dropLast()) } ?? 0
            #expect(start > 0 && start <= 120_000, "resumed at \(ranges)")
        }
    }

    @Test("a download interrupted in one run resumes from its .incomplete file in the next")
    func resumeAcrossRuns() async throws {
        try await withFakeHub { hub, environment in
            hub.setFaults { $0.drop["model.safetensors"] = (afterBytes: 100_000, count: 1) }
            let impatient = HubClient(environment: environment, maxRetries: 0)
            let error = await #expect(throws: HubError.self) { try await impatient.snapshot(repo: "acme/clip-mini") }
            guard case .network(let endpoint, let repo, _) = error else {
                Issue.record("expected a network error, got \(String(describing: error))")
                return
            }
            #expect(endpoint == hub.endpoint && repo == "acme/clip-mini")

            let partial = environment.cacheDirectory.appendingPathComponent("models--acme--clip-mini/blobs/\(HubFixture.weights.sha256).incomplete")
            let partialSize = partial.fileBytes?.count ?? 0
            #expect(partialSize > 0 && partialSize <= 100_000)
            #expect(partial.fileBytes.map { $0 == Array(HubFixture.weights.bytes.prefix(partialSize)) } == true)
            // An unfinished pull must not move the ref.
            #expect(!FileManager.default.fileExists(atPath: environment.cacheDirectory.appendingPathComponent("models--acme--clip-mini/refs/main").path))

            hub.clearRequests()
            let progress = ProgressLog()
            let snapshot = try await impatient.snapshot(repo: "acme/clip-mini", progress: progress.handler)
            #expect(hub.fileRequests.compactMap { $0.headers["range"] } == ["bytes=\(partialSize)-", "bytes=\(partialSize)-"])
            #expect(hub.fileRequests.filter { $0.headers["range"] != nil }.map(\.path) == [
                "/acme/clip-mini/resolve/\(HubFixture.commit)/model.safetensors", "/cdn/\(HubFixture.weights.sha256)",
            ])
            #expect(snapshot.appendingPathComponent("model.safetensors").fileBytes == HubFixture.weights.bytes)
            #expect(progress.all.first { $0.file == "model.safetensors" }?.completedBytes == Int64(partialSize))
            #expect(!FileManager.default.fileExists(atPath: partial.path))
        }
    }

    @Test("a server that ignores Range restarts the file instead of corrupting it")
    func serverIgnoresRange() async throws {
        try await withFakeHub { hub, environment in
            hub.setFaults {
                $0.drop["model.safetensors"] = (afterBytes: 90_000, count: 1)
                $0.ignoreRange = true
            }
            let snapshot = try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            #expect(hub.fileRequests.contains { $0.headers["range"] != nil })
            #expect(snapshot.appendingPathComponent("model.safetensors").fileBytes == HubFixture.weights.bytes)
        }
    }

    @Test("corrupt bytes fail the sha256 check and leave no blob behind", arguments: [
        (HubFixture.weights, "sha256"), (HubFixture.config, "git blob sha1"),
    ])
    func checksumMismatch(file: FakeHub.File, algorithm: String) async throws {
        try await withFakeHub { hub, environment in
            hub.setFaults { $0.corrupt = [file.name] }
            let error = await #expect(throws: HubError.self) {
                try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            }
            guard case .checksumMismatch(let repo, let name, let algo, let expected, let actual) = error else {
                Issue.record("expected checksumMismatch, got \(String(describing: error))")
                return
            }
            #expect(repo == "acme/clip-mini" && name == file.name && algo == algorithm)
            #expect(expected == file.etag && actual != expected && actual.count == expected.count)
            #expect(error?.description.contains(expected) == true && error?.description.contains(actual) == true)

            let folder = environment.cacheDirectory.appendingPathComponent("models--acme--clip-mini")
            #expect(!folder.appendingPathComponent("blobs").listing().contains { $0.hasPrefix(file.etag) })
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("snapshots/\(HubFixture.commit)/\(file.name)").path))

            // Once the hub serves good bytes again, the pull succeeds.
            hub.setFaults { $0.corrupt = [] }
            let snapshot = try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            #expect(snapshot.appendingPathComponent(file.name).fileBytes == file.bytes)
        }
    }

    @Test("the token goes to the hub as Bearer, but not to a CDN on another host")
    func bearerToken() async throws {
        try await withFakeHub(token: "hf_secret") { hub, environment in
            hub.setFaults {
                $0.requiredToken = "hf_secret"
                $0.cdnHost = "localhost"  // another origin than 127.0.0.1
            }
            _ = try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            let hubRequests = hub.requests.filter { !$0.path.hasPrefix("/cdn/") }
            let cdnRequests = hub.requests.filter { $0.path.hasPrefix("/cdn/") }
            #expect(!hubRequests.isEmpty && !cdnRequests.isEmpty)
            #expect(hubRequests.allSatisfy { $0.headers["authorization"] == "Bearer hf_secret" })
            #expect(cdnRequests.allSatisfy { $0.headers["authorization"] == nil })
        }
    }

    @Test("a gated repo without a token says to set HF_TOKEN; a wrong token says so too")
    func gatedRepo() async throws {
        try await withFakeHub { hub, environment in
            hub.setFaults { $0.requiredToken = "hf_secret" }
            let error = await #expect(throws: HubError.self) {
                try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            }
            #expect(error == .accessDenied(repo: "acme/clip-mini", status: 401, tokenSent: false))
            #expect(error?.description.contains("HF_TOKEN") == true)

            var wrong = environment
            wrong.token = "hf_wrong"
            let denied = await #expect(throws: HubError.self) {
                try await HubClient(environment: wrong).snapshot(repo: "acme/clip-mini")
            }
            #expect(denied == .accessDenied(repo: "acme/clip-mini", status: 403, tokenSent: true))
        }
    }

    @Test("unknown repos and revisions are told apart")
    func notFound() async throws {
        try await withFakeHub { hub, environment in
            let client = HubClient(environment: environment)
            let missingRepo = await #expect(throws: HubError.self) { try await client.snapshot(repo: "acme/nope") }
            #expect(missingRepo == .repositoryNotFound(repo: "acme/nope", tokenSent: false))
            #expect(missingRepo?.description.contains("acme/nope") == true)
            let missingRevision = await #expect(throws: HubError.self) { try await client.snapshot(repo: "acme/clip-mini", revision: "v9") }
            #expect(missingRevision == .revisionNotFound(repo: "acme/clip-mini", revision: "v9"))
        }
    }

    @Test("a repo with only pytorch_model.bin is refused with a hint to convert")
    func pytorchOnly() async throws {
        try await withFakeHub { hub, environment in
            hub.add(FakeHub.Repo(id: "acme/old-bert", commit: HubFixture.commit, files: [
                HubFixture.config,
                FakeHub.File(name: "vocab.txt", bytes: Array("[PAD]\n[UNK]\n".utf8), lfs: false),
                FakeHub.File(name: "pytorch_model.bin", bytes: HubFixture.bytes(1000, seed: 3), lfs: true),
            ]))
            let error = await #expect(throws: HubError.self) {
                try await HubClient(environment: environment).snapshot(repo: "acme/old-bert")
            }
            #expect(error == .noSafetensors(repo: "acme/old-bert", revision: "main", found: ["pytorch_model.bin"]))
            let message = error?.description ?? ""
            #expect(message.contains("pytorch_model.bin") && message.contains("safetensors") && message.contains("convert"))
            #expect(hub.fileRequests.isEmpty)
        }
    }

    @Test("sharded safetensors: the index and every shard it names are fetched")
    func shardedWeights() async throws {
        try await withFakeHub { hub, environment in
            let shard1 = FakeHub.File(name: "model-00001-of-00002.safetensors", bytes: HubFixture.bytes(5000, seed: 21), lfs: true)
            let shard2 = FakeHub.File(name: "model-00002-of-00002.safetensors", bytes: HubFixture.bytes(4000, seed: 22), lfs: true)
            let index = FakeHub.File(name: "model.safetensors.index.json", bytes: Array("""
                {"metadata": {"total_size": 9000}, "weight_map": {"a.weight": "\(shard1.name)", "b.weight": "\(shard2.name)", "c.weight": "\(shard1.name)"}}
                """.utf8), lfs: false)
            hub.add(FakeHub.Repo(id: "acme/big", commit: HubFixture.commit, files: [HubFixture.config, index, shard1, shard2]))
            let snapshot = try await HubClient(environment: environment).snapshot(repo: "acme/big")
            #expect(snapshot.listing() == [HubFixture.config.name, shard1.name, shard2.name, index.name].sorted())
            #expect(snapshot.appendingPathComponent(shard2.name).fileBytes == shard2.bytes)

            var offline = environment
            offline.offline = true
            #expect(try await HubClient(environment: offline).snapshot(repo: "acme/big") == snapshot)
        }
    }

    @Test("an unreachable hub names the endpoint, and falls back to the cache when it can")
    func networkDown() async throws {
        try await withFakeHub { hub, environment in
            // A refused connection is only given up on when the listing timeout runs out.
            var environment = environment
            environment.metadataTimeout = .milliseconds(500)
            _ = try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            try await hub.shutdown()
            // A port nothing listens on any more.
            let cached = try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            #expect(cached.lastPathComponent == HubFixture.commit)

            let error = await #expect(throws: HubError.self) {
                try await HubClient(environment: environment).snapshot(repo: "acme/other")
            }
            guard case .network(let endpoint, let repo, _) = error else {
                Issue.record("expected a network error, got \(String(describing: error))")
                return
            }
            #expect(endpoint == hub.endpoint && repo == "acme/other")
            let message = error?.description ?? ""
            #expect(message.contains(hub.endpoint) && message.contains("HF_HUB_OFFLINE") && message.contains("local model directory"))
        }
    }

    @Test("ModelLocation: directories as is, repo ids pulled, anything else a clear error")
    func modelLocation() async throws {
        try await withFakeHub { hub, environment in
            let directory = HubFixture.scratchDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            #expect(try await ModelLocation.resolve(directory.path, environment: environment).standardizedFileURL == directory.standardizedFileURL)

            let pulled = try await ModelLocation.resolve("acme/clip-mini@\(HubFixture.commit)", environment: environment)
            #expect(pulled.lastPathComponent == HubFixture.commit)
            // A commit revision writes no ref.
            #expect(!FileManager.default.fileExists(atPath: environment.cacheDirectory.appendingPathComponent("models--acme--clip-mini/refs").path))

            for bad in ["./no/such/dir", "/no/such/dir", "clip-mini", "a/b/c", "acme/clip-mini@", "acme/clip--mini", "acme/../x", ""] {
                let error = await #expect(throws: HubError.self) { try await ModelLocation.resolve(bad, environment: environment) }
                guard case .invalidModelSpecifier = error else {
                    Issue.record("'\(bad)': expected invalidModelSpecifier, got \(String(describing: error))")
                    continue
                }
            }
            let file = directory.appendingPathComponent("config.json")
            try Data("{}".utf8).write(to: file)
            let notDirectory = await #expect(throws: HubError.self) { try await ModelLocation.resolve(file.path, environment: environment) }
            #expect(notDirectory?.description.contains("not a model directory") == true)
        }
    }
}
