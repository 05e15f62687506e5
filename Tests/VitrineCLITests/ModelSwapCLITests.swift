import Foundation
import Synchronization
import Testing

/// A reindex to another model under a steady search load, through `vitrine serve` as users run it:
/// the server keeps answering with the old model's index and encoders until it has loaded the new
/// ones, then switches both at once, so no search fails — neither through a reindex that completes
/// nor through one killed midway and resumed.
@Suite struct ModelSwapCLITests {
    typealias Ingest = IngestCLITests

    @Test func aReindexUnderLoadFailsNoSearch() throws {
        let root = try Ingest.scratch()
        let data = try LifecycleCLITests.ingested(root)
        let second = root.appendingPathComponent("model-2")
        #expect(try Ingest.run(["model", "random", "--like", CLITests.tinyModel, "--out", second.path, "--seed", "7"]).status == 0)
        let server = try ServedProcess(["serve", "--data", data.path, "--port", "0"], environment: [:])
        defer { server.stop() }

        let load = SearchLoad(server: server)
        load.start()
        // Killed after its second batch reached the new index: the old model serves on.
        let killed = try Ingest.run(["reindex", "--data", data.path, "--model", second.path, "--batch-size", "2"],
                                    environment: ["VITRINE_FAULT": "reindex-after-batch:2"])
        #expect(killed.killed, "status \(killed.status): \(killed.stderr)")
        Thread.sleep(forTimeInterval: 1)
        let resumed = try Ingest.run(["reindex", "--data", data.path, "--model", second.path, "--batch-size", "2"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        // Until the server serves the new model, and a while after.
        let deadline = Date().addingTimeInterval(60)
        var switched = false
        while !switched, Date() < deadline {
            let ready = try server.get("/readyz")
            let model = (try? JSONSerialization.jsonObject(with: ready.body) as? [String: Any])?["model"] as? String
            switched = model == second.standardizedFileURL.path
            if !switched { Thread.sleep(forTimeInterval: 0.2) }
        }
        #expect(switched, "the server never served the new model")
        Thread.sleep(forTimeInterval: 1.5)
        let statuses = load.stop()
        #expect(statuses.count >= 20, "only \(statuses.count) searches ran")
        let failed = statuses.filter { $0 != 200 }
        #expect(failed.isEmpty, "\(failed.count) of \(statuses.count) searches failed: \(Set(failed))")
    }
}

/// Searches one after another on a thread of its own until stopped; the statuses, in order.
final class SearchLoad: @unchecked Sendable {
    let server: ServedProcess
    private let statuses = Mutex<[Int]>([])
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(server: ServedProcess) {
        self.server = server
    }

    func start() {
        Thread { [self] in
            var n = 0
            while !stopping.load(ordering: .relaxed) {
                let path = n % 2 == 0 ? "/api/v1/search?q=a%20red%20dress&k=3" : "/api/v1/products/dresses%2Fitem_000/similar?k=3"
                let status = (try? server.get(path).status) ?? 0
                statuses.withLock { $0.append(status) }
                n += 1
            }
            done.signal()
        }.start()
    }

    func stop() -> [Int] {
        stopping.store(true, ordering: .relaxed)
        done.wait()
        return statuses.withLock { $0 }
    }
}
