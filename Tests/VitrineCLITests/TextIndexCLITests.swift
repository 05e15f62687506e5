import Foundation
import Testing

/// The text index from the command line: ingest with a sentence model, stats, and a server that
/// loads the recorded model by default, or starts without a reranker or sentence model it cannot
/// load (named in its log) and keeps answering clip searches.
@Suite(.enabled(if: CLITests.hasMiniLM)) struct TextIndexCLITests {
    typealias Ingest = IngestCLITests

    @Test func serveLoadsTheRecordedSentenceModelOrGoesOnWithoutIt() throws {
        let root = try Ingest.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = try Ingest.photoFolder(count: 6, in: root)
        let data = root.appendingPathComponent("data")
        let ingest = try Ingest.run(["ingest", folder.path, "--data", data.path, "--model", CLITests.tinyModel, "--text-embedder", CLITests.minilm])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let stats = try Ingest.run(["stats", "--data", data.path])
        #expect(String(decoding: stats.stdout, as: UTF8.self).contains("text      6 products embedded by \(CLITests.minilm)"),
                "\(String(decoding: stats.stdout, as: UTF8.self))")

        // By default the recorded sentence model (no flag, no variable).
        do {
            let served = try ServedProcess(["serve", "--data", data.path, "--port", "0"], environment: ["VITRINE_TEXT_EMBEDDER": ""])
            defer { served.stop() }
            #expect(try served.get("/api/v1/search?q=a%20photo&mode=text").status == 200)
        }

        // A sentence model and a reranker that cannot be loaded: named in the log, the rest serves.
        let missing = root.appendingPathComponent("no-such-model").path
        let degraded = try ServedProcess(["serve", "--data", data.path, "--port", "0", "--text-embedder", missing, "--reranker", missing],
                                         environment: [:])
        defer { degraded.stop() }
        #expect(degraded.startLog.contains("the reranker cannot be loaded") && degraded.startLog.contains("sentence model cannot be loaded"),
                "\(degraded.startLog)")
        #expect(degraded.startLog.contains(missing))
        #expect(try degraded.get("/api/v1/search?q=a%20photo").status == 200)
        #expect(try degraded.get("/api/v1/search?q=a%20photo&mode=keyword").status == 200)
        let text = try degraded.get("/api/v1/search?q=a%20photo&mode=text")
        #expect(text.status == 400 && String(decoding: text.body, as: UTF8.self).contains("--text-embedder"))
        #expect(try degraded.get("/api/v1/search?q=a%20photo&mode=hybrid&rerank=true").status == 400)
    }
}
