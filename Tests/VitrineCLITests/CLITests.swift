import Foundation
import Testing

/// The `vitrine` command as a user runs it: output shape, exit codes, error lines.
@Suite struct CLITests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let tinyModel = fixtures.appendingPathComponent("models/tiny-clip-p32").path
    static let image = fixtures.appendingPathComponent("images/baseline.jpg").path
    /// The real all-MiniLM-L6-v2 (tools/fetch_minilm.sh): `VITRINE_MINILM_DIR`, else `.fixtures-minilm/` at the root.
    static let minilm = ProcessInfo.processInfo.environment["VITRINE_MINILM_DIR"]
        ?? fixtures.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".fixtures-minilm/all-MiniLM-L6-v2").path
    /// Whether the text index parts run: the weights are there, or their absence is not allowed.
    static var hasMiniLM: Bool {
        FileManager.default.fileExists(atPath: minilm + "/model.safetensors") || ProcessInfo.processInfo.environment["VITRINE_ALLOW_MISSING_MINILM"] != "1"
    }

    struct Run {
        let status: Int32
        let stdout: Data
        let stderr: String
    }

    /// The binary SwiftPM built beside this test bundle: `vitrine` or `vitrine-bench`.
    static func binary(_ name: String = "vitrine") throws -> URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "\(name) binary near \(Bundle.main.bundleURL.path)"])
    }

    /// The tests' environment for the binary: no text index unless a test names a sentence model
    /// (ingest's default, all-MiniLM-L6-v2 from the hub, is not reachable offline).
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(["VITRINE_TEXT_EMBEDDER": "none"]) { $1 }.merging(extra) { $1 }
    }

    static func run(_ arguments: [String], tool: String = "vitrine", environment extra: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = try binary(tool)
        process.arguments = arguments
        process.environment = environment(extra)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    static func json(_ data: Data) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    }

    @Test func embedPrintsTextsThenImagesInOrder() throws {
        let r = try Self.run(["embed", "--model", Self.tinyModel, "--image", Self.image,
                              "--text", "red floral summer dress", "--text", "white sneakers", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let items = try Self.json(r.stdout)
        #expect(items.map { $0["input"] as? String } == ["red floral summer dress", "white sneakers", Self.image])
        #expect(items.map { $0["kind"] as? String } == ["text", "text", "image"])
        for item in items {
            let embedding = try #require(item["embedding"] as? [Double])
            #expect(embedding.count == 32)
            #expect(abs(embedding.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
        }
    }

    @Test func someBadInputsGiveExitThreeAndErrorEntries() throws {
        let r = try Self.run(["embed", "--model", Self.tinyModel, "--text", "", "--text", "dress",
                              "--image", "/no/such/photo.jpg", "--image", Self.image, "--json"])
        #expect(r.status == 3)
        let items = try Self.json(r.stdout)
        #expect(items.count == 4)
        #expect((items[0]["error"] as? String)?.contains("empty text") == true)
        #expect(items[1]["embedding"] != nil)
        #expect((items[2]["error"] as? String)?.contains("/no/such/photo.jpg") == true)
        #expect(items[3]["embedding"] != nil)
    }

    @Test func allInputsFailingGivesExitOne() throws {
        let notAnImage = Self.fixtures.appendingPathComponent("tokenizer/cases.json").path
        let r = try Self.run(["embed", "--model", Self.tinyModel, "--image", notAnImage])
        #expect(r.status == 1)
        #expect(r.stderr.contains(notAnImage) && r.stderr.contains("unknown image format"), "\(r.stderr)")
    }

    /// `VITRINE_ISA` forces the kernels' instruction set: the portable path gives the embeddings
    /// of the default (best) path, at fp32 and at int8; a value that names no level, or one above
    /// this CPU, stops every command with a usage error naming the variable.
    @Test func forcedKernelPathsGiveTheSameEmbeddings() throws {
        let inputs = ["embed", "--model", Self.tinyModel, "--image", Self.image, "--text", "red floral summer dress",
                      "--text", "a long query that takes more than sixteen tokens to say what the shopper wants to find today", "--json"]
        for precision in ["fp32", "int8"] {
            let best = try Self.run(inputs + ["--precision", precision])
            let portable = try Self.run(inputs + ["--precision", precision], environment: ["VITRINE_ISA": "portable"])
            #expect(best.status == 0 && portable.status == 0, "\(best.stderr) \(portable.stderr)")
            for (a, b) in zip(try Self.json(best.stdout), try Self.json(portable.stdout)) {
                let x = try #require(a["embedding"] as? [Double]), y = try #require(b["embedding"] as? [Double])
                let cosine = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
                // int8 quantizes the weights to 7 bits on the portable path (oneDNN without VNNI) unless the CPU has VNNI.
                #expect(cosine >= (precision == "fp32" ? 0.99999 : 0.998), "\(precision) \(a["input"] ?? ""): cosine \(cosine)")
            }
        }
        let bogus = try Self.run(inputs, environment: ["VITRINE_ISA": "sse9"])
        #expect(bogus.status == 2 && bogus.stderr.contains("VITRINE_ISA=\"sse9\"") && bogus.stderr.contains("portable, avx2, avx512 or amx"), "\(bogus.stderr)")
        let cpu = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        if !cpu.contains("avx512_vnni") {
            let above = try Self.run(inputs, environment: ["VITRINE_ISA": "avx512"])
            #expect(above.status == 2 && above.stderr.contains("VITRINE_ISA=avx512 asks for more than this CPU has"), "\(above.stderr)")
        }
    }

    @Test func missingModelIsOneLineNamingIt() throws {
        let r = try Self.run(["embed", "--model", "/nowhere/model", "--text", "dress"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains("/nowhere/model"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func modelOfTheWrongTypeIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(#"{"model_type": "bert"}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        let r = try Self.run(["embed", "--model", dir.path, "--text", "dress"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("bert") && r.stderr.contains("config.json"), "\(r.stderr)")
    }

    @Test func noInputsIsAUsageError() throws {
        let r = try Self.run(["embed", "--model", Self.tinyModel])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--text"), "\(r.stderr)")
    }

    /// `vitrine-bench minilm` names the precisions it knows (so int8 shows up once `Precision` has it).
    @Test func benchMiniLMRejectsUnknownPrecisions() throws {
        let r = try Self.run(["minilm", "--model", Self.tinyModel, "--precision", "fp32,fp64"], tool: "vitrine-bench")
        #expect(r.status == 2)
        #expect(r.stderr.contains("unknown precision \"fp64\"") && r.stderr.contains("fp32, bf16"), "\(r.stderr)")
    }

    /// A list option with an item that is no number, or out of range, is a usage error naming
    /// the item, before any model is loaded (it used to be dropped silently).
    @Test(arguments: [(["embed", "--batch", "1,x,8"], "--batch", "\"x\""),
                      (["text-batch", "--batch", "4,300"], "--batch", "\"300\""),
                      (["index", "--ef", "16,-1"], "--ef", "\"-1\"")])
    func benchListOptionsNameTheBadItem(arguments: [String], option: String, item: String) throws {
        let r = try Self.run(arguments + (arguments[0] == "index" ? [] : ["--model", "/nonexistent-model"]), tool: "vitrine-bench")
        #expect(r.status == 2)
        #expect(r.stderr.contains(option) && r.stderr.contains(item), "\(r.stderr)")
    }

    @Test func benchMiniLMRefusesANonBERTModel() throws {
        let sentences = FileManager.default.temporaryDirectory.appendingPathComponent("minilm-cli-\(UUID().uuidString).txt")
        try "red dress\n".write(to: sentences, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: sentences) }
        let r = try Self.run(["minilm", "--model", Self.tinyModel, "--sentences", sentences.path, "--seconds", "0.1"], tool: "vitrine-bench")
        #expect(r.status == 1)
        #expect(r.stderr.contains("expected bert"), "\(r.stderr)")
    }

    @Test func randomModelIsUsable() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-rand-\(UUID().uuidString)")
        let made = try Self.run(["model", "random", "--like", Self.tinyModel, "--out", dir.path, "--seed", "3", "--dtype", "bf16"])
        #expect(made.status == 0, "\(made.stderr)")
        let r = try Self.run(["embed", "--model", dir.path, "--text", "dress", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try Self.json(r.stdout).first?["embedding"] as? [Double])?.count == 32)
    }
}
