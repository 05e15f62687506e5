import Foundation
@testable import VitrineHub

/// Fixtures shared by the hub tests: a CLIP-like repo and a scratch cache per test.
enum HubFixture {
    static let commit = "5f1e3b0c9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f"

    /// Deterministic pseudo-random bytes, so sizes are realistic without a stored fixture.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: x >> 33)
        }
    }

    static let config = FakeHub.File(name: "config.json", bytes: Array(#"{"model_type": "clip", "projection_dim": 512}"#.utf8), lfs: false)
    static let tokenizer = FakeHub.File(name: "tokenizer.json", bytes: Array(#"{"version": "1.0", "model": {"type": "BPE"}}"#.utf8), lfs: false)
    static let merges = FakeHub.File(name: "merges.txt", bytes: Array("#version: 0.2\nh e\nhe llo\n".utf8), lfs: false)
    static let weights = FakeHub.File(name: "model.safetensors", bytes: bytes(300_000, seed: 7), lfs: true)

    /// What a real CLIP repo also carries and we must not fetch.
    static let ignored: [FakeHub.File] = [
        FakeHub.File(name: "pytorch_model.bin", bytes: bytes(50_000, seed: 8), lfs: true),
        FakeHub.File(name: "tf_model.h5", bytes: bytes(40_000, seed: 9), lfs: true),
        FakeHub.File(name: "flax_model.msgpack", bytes: bytes(30_000, seed: 10), lfs: true),
        FakeHub.File(name: "onnx/model.onnx", bytes: bytes(20_000, seed: 11), lfs: true),
        FakeHub.File(name: "README.md", bytes: Array("# CLIP\n".utf8), lfs: false),
        FakeHub.File(name: ".gitattributes", bytes: Array("*.bin filter=lfs\n".utf8), lfs: false),
    ]

    static let wanted = [config, tokenizer, merges, weights]

    static func clipRepo(id: String = "acme/clip-mini") -> FakeHub.Repo {
        FakeHub.Repo(id: id, commit: commit, files: wanted + ignored)
    }

    static func scratchDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-hub-\(UUID().uuidString)", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Runs `body` with a started fake hub holding the CLIP-like repo and an empty cache; cleans up.
func withFakeHub(
    token: String? = nil,
    _ body: (FakeHub, HubEnvironment) async throws -> Void
) async throws {
    let hub = try await FakeHub.start()
    hub.add(HubFixture.clipRepo())
    let scratch = HubFixture.scratchDirectory()
    let environment = HubEnvironment(endpoint: hub.endpoint, token: token, cacheDirectory: scratch.appendingPathComponent("hub"))
    do {
        try await body(hub, environment)
    } catch {
        try? await hub.shutdown()
        try? FileManager.default.removeItem(at: scratch)
        throw error
    }
    try await hub.shutdown()
    try? FileManager.default.removeItem(at: scratch)
}

/// Collects progress reports from the downloading task.
final class ProgressLog: Sendable {
    private let events = Mutex<[DownloadProgress]>([])
    var handler: DownloadProgressHandler { { [self] event in self.events.withLock { $0.append(event) } } }
    var all: [DownloadProgress] { events.withLock { $0 } }
}

import Synchronization

extension URL {
    var fileBytes: [UInt8]? { (try? Data(contentsOf: self)).map(Array.init) }
    var symlinkTarget: String? { try? FileManager.default.destinationOfSymbolicLink(atPath: path) }
    func listing() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}
