import Foundation
import Testing
@testable import VitrineHub

/// The cache must be one cache for Vitrine and Python's `huggingface_hub`.
@Suite("Hub cache shared with huggingface_hub")
struct HubInteropTests {
    /// Written by `Tests/Fixtures/hub/make_python_cache.py` with huggingface_hub's own helpers.
    static let pythonCache = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hub/python-cache", isDirectory: true)
    static let pythonCommit = "0123456789abcdef0123456789abcdef01234567"
    static let pythonFiles: [FakeHub.File] = [
        FakeHub.File(name: "config.json", bytes: Array("{\"model_type\": \"clip\"}\n".utf8), lfs: false),
        FakeHub.File(name: "tokenizer.json", bytes: Array("{\"version\": \"1.0\"}\n".utf8), lfs: false),
        FakeHub.File(name: "model.safetensors", bytes: Array((0..<16).flatMap { _ in (0...255).map(UInt8.init) }), lfs: true),
    ]

    /// The project's Python with huggingface_hub, when this machine has it.
    static let python: String? = {
        let candidates = [ProcessInfo.processInfo.environment["VITRINE_HF_PYTHON"], "/work/main/tools/.venv/bin/python"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    @Test("a cache written by huggingface_hub resolves offline")
    func readsPythonCacheOffline() async throws {
        let environment = HubEnvironment(cacheDirectory: Self.pythonCache, offline: true)
        let snapshot = try await HubClient(environment: environment).snapshot(repo: "acme/tiny-clip")
        #expect(snapshot.lastPathComponent == Self.pythonCommit)
        for file in Self.pythonFiles {
            #expect(snapshot.appendingPathComponent(file.name).fileBytes == file.bytes)
            // Python named each blob as we would: our etags are its etags.
            #expect(snapshot.appendingPathComponent(file.name).symlinkTarget == "../../blobs/\(file.etag)")
        }
        let viaLocation = try await ModelLocation.resolve("acme/tiny-clip", environment: environment)
        #expect(viaLocation == snapshot)
    }

    @Test("pulling a repo Python already cached downloads nothing")
    func reusesPythonBlobs() async throws {
        let hub = try await FakeHub.start()
        let scratch = HubFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let cache = scratch.appendingPathComponent("hub")
        try FileManager.default.copyItem(at: Self.pythonCache, to: cache)
        hub.add(FakeHub.Repo(id: "acme/tiny-clip", commit: Self.pythonCommit, files: Self.pythonFiles))

        let snapshot = try await HubClient(environment: HubEnvironment(endpoint: hub.endpoint, cacheDirectory: cache)).snapshot(repo: "acme/tiny-clip")
        let fileRequests = hub.fileRequests
        try await hub.shutdown()
        #expect(fileRequests.isEmpty)
        #expect(snapshot.appendingPathComponent("model.safetensors").fileBytes == Self.pythonFiles[2].bytes)
    }

    @Test("huggingface_hub reads the cache Vitrine wrote, offline", .enabled(if: python != nil, "needs Python with huggingface_hub"))
    func pythonReadsOurCache() async throws {
        try await withFakeHub { hub, environment in
            let snapshot = try await HubClient(environment: environment).snapshot(repo: "acme/clip-mini")
            let script = """
                from huggingface_hub import snapshot_download, hf_hub_download
                print(snapshot_download("acme/clip-mini", local_files_only=True))
                print(hf_hub_download("acme/clip-mini", "model.safetensors", local_files_only=True))
                """
            let output = try await Self.runPython(script, environment: [
                "HF_HUB_CACHE": environment.cacheDirectory.path, "HF_HUB_OFFLINE": "1",
            ])
            let lines = output.split(separator: "\n").map(String.init)
            #expect(lines.count == 2)
            #expect(lines.first.map { URL(fileURLWithPath: $0).standardizedFileURL } == snapshot.standardizedFileURL)
            #expect(lines.last == snapshot.appendingPathComponent("model.safetensors").path)
        }
    }

    @Test("what huggingface_hub downloads from the fake hub, Vitrine finds offline", .enabled(if: python != nil, "needs Python with huggingface_hub"))
    func weReadWhatPythonDownloaded() async throws {
        try await withFakeHub { hub, environment in
            let names = HubFixture.wanted.map { "\"\($0.name)\"" }.joined(separator: ", ")
            let script = """
                from huggingface_hub import hf_hub_download
                for name in [\(names)]:
                    hf_hub_download("acme/clip-mini", name)
                print("ok")
                """
            let output = try await Self.runPython(script, environment: [
                "HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": environment.cacheDirectory.path,
            ])
            #expect(output == "ok\n")
            // The fake hub played its part: Python fetched through it.
            #expect(hub.requests.contains { $0.path == "/cdn/\(HubFixture.weights.sha256)" })

            var offline = environment
            offline.offline = true
            let snapshot = try await HubClient(environment: offline).snapshot(repo: "acme/clip-mini")
            #expect(snapshot.lastPathComponent == HubFixture.commit)
            for file in HubFixture.wanted {
                #expect(snapshot.appendingPathComponent(file.name).symlinkTarget == "../../blobs/\(file.etag)")
                #expect(snapshot.appendingPathComponent(file.name).fileBytes == file.bytes)
            }
        }
    }

    /// Runs a script without blocking a concurrency thread; returns its standard output.
    static func runPython(_ script: String, environment extra: [String: String]) async throws -> String {
        let scratch = HubFixture.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python ?? "/usr/bin/false")
        process.arguments = ["-c", script]
        // A private HF_HOME keeps the user's token and settings out of the test.
        var environment = ["HF_HOME": scratch.path, "HF_HUB_DISABLE_TELEMETRY": "1", "PATH": "/usr/bin:/bin"]
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let stdout = scratch.appendingPathComponent("stdout")
        let stderr = scratch.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: stdout.path, contents: nil)
        FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        let errors = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "python failed: \(errors)")
        return (try? String(contentsOf: stdout, encoding: .utf8)) ?? ""
    }
}
