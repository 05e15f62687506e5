import Foundation
import Testing

/// `--query-model`: a sentence-transformers text tower trained into the CLIP model's space encodes
/// text queries in place of CLIP's own, on search, embed and serve. The tower here is the
/// multilingual fixture's architecture (DistilBERT, mean pooling, dense) with its dense layer made
/// 32 wide to fit the tiny CLIP model, written with random weights by `vitrine model random`.
@Suite struct QueryModelCLITests {
    typealias Ingest = IngestCLITests

    /// The fixture's multilingual model with a dense layer of `width` outputs, random weights.
    static func queryModel(width: Int, in root: URL) throws -> URL {
        let like = root.appendingPathComponent("like-\(width)"), out = root.appendingPathComponent("query-\(width)")
        try FileManager.default.copyItem(at: CLITests.fixtures.appendingPathComponent("multilingual/model"), to: like)
        try JSONSerialization.data(withJSONObject: [
            "in_features": 768, "out_features": width, "bias": false, "activation_function": "torch.nn.modules.linear.Identity",
        ]).write(to: like.appendingPathComponent("2_Dense/config.json"))
        let random = try CLITests.run(["model", "random", "--like", like.path, "--out", out.path, "--seed", "5"])
        #expect(random.status == 0, "\(random.stderr)")
        return out
    }

    @Test func textQueriesGoThroughTheQueryModel() throws {
        let root = try Ingest.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = try Ingest.photoFolder(count: 6, in: root)
        let data = root.appendingPathComponent("data")
        let ingest = try Ingest.run(["ingest", folder.path, "--data", data.path, "--model", CLITests.tinyModel])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let query = try Self.queryModel(width: 32, in: root)
        #expect(FileManager.default.fileExists(atPath: query.appendingPathComponent("2_Dense/model.safetensors").path))

        // The query's embedding is the query model's: embed and search agree on it.
        let text = "červené letní šaty"
        let embedded = try CLITests.run(["embed", "--model", CLITests.tinyModel, "--query-model", query.path, "--text", text, "--json"])
        #expect(embedded.status == 0, "\(embedded.stderr)")
        let vector = try #require(try CLITests.json(embedded.stdout).first?["embedding"] as? [Double])
        let plainVector = try #require(try CLITests.json(
            try CLITests.run(["embed", "--model", CLITests.tinyModel, "--text", text, "--json"]).stdout).first?["embedding"] as? [Double])
        #expect(vector.count == 32 && plainVector.count == 32)
        #expect(zip(vector, plainVector).map { $0 * $1 }.reduce(0, +) < 0.99, "the query model's embedding, not CLIP's")

        let plain = try Ingest.run(["search", text, "--data", data.path, "--k", "6", "--json"])
        let through = try Ingest.run(["search", text, "--data", data.path, "--k", "6", "--json", "--query-model", query.path])
        #expect(plain.status == 0 && through.status == 0, "\(plain.stderr) \(through.stderr)")
        func scores(_ run: Ingest.Run) throws -> [String: Double] {
            let page = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
            let results = try #require(page["results"] as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: results.compactMap { r in (r["id"] as? String).map { ($0, r["score"] as? Double ?? .nan) } })
        }
        let (a, b) = (try scores(plain), try scores(through))
        #expect(a.count == 6 && b.count == 6)
        #expect(a != b, "scores of CLIP's text tower and of the query model differ")

        // A tower of another width is refused, naming both widths.
        let wide = try Self.queryModel(width: 48, in: root)
        let refused = try Ingest.run(["search", text, "--data", data.path, "--query-model", wide.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("48-dimensional") && refused.stderr.contains("32"), "\(refused.stderr)")

        // A server answers text queries through it and says so in /readyz.
        let served = try ServedProcess(["serve", "--data", data.path, "--port", "0", "--query-model", query.path, "--precision", "fp32"], environment: [:])
        defer { served.stop() }
        let ready = try served.get("/readyz")
        let readiness = try #require(try JSONSerialization.jsonObject(with: ready.body) as? [String: Any])
        #expect(ready.status == 200 && readiness["query_model"] as? String == query.path, "\(readiness)")
        let answer = try served.get("/api/v1/search?q=%C4%8Derven%C3%A9%20letn%C3%AD%20%C5%A1aty&k=6")
        #expect(answer.status == 200)
        let page = try #require(try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])
        let served6 = try #require(page["results"] as? [[String: Any]])
        for result in served6 {
            let id = try #require(result["id"] as? String)
            #expect(abs((result["score"] as? Double ?? 0) - (b[id] ?? -9)) < 1e-4, "the server's scores are the CLI's through the query model: \(result)")
        }
    }

    /// Without --precision a server encodes photos at the precision the data directory records and
    /// text queries at the fastest precision that keeps cosine 0.999 to fp32, and says so.
    @Test func serveChoosesTheQueryPrecision() throws {
        let root = try Ingest.scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = try Ingest.photoFolder(count: 3, in: root)
        let data = root.appendingPathComponent("data")
        #expect(try Ingest.run(["ingest", folder.path, "--data", data.path, "--model", CLITests.tinyModel, "--precision", "bf16"]).status == 0)
        for (flags, photos, queries) in [([], "bf16", nil), (["--precision", "fp32"], "fp32", "fp32")] as [([String], String, String?)] {
            let served = try ServedProcess(["serve", "--data", data.path, "--port", "0"] + flags, environment: [:])
            defer { served.stop() }
            let ready = try #require(try JSONSerialization.jsonObject(with: served.get("/readyz").body) as? [String: Any])
            let precision = try #require(ready["precision"] as? [String: Any])
            #expect(precision["photos"] as? String == photos, "\(flags): \(precision)")
            if let queries {
                #expect(precision["queries"] as? String == queries && precision["queries_min_cosine"] == nil)
            } else {
                #expect(["int8", "bf16", "fp32"].contains(precision["queries"] as? String ?? ""))
                #expect((precision["queries_min_cosine"] as? Double ?? 0) >= 0.999, "\(precision)")
            }
            #expect(try served.get("/api/v1/search?q=a%20photo").status == 200)
        }
    }
}
