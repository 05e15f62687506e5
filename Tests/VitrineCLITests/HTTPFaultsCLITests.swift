import Foundation
import Testing

/// `vitrine serve` against clients that misbehave at the HTTP level, through raw sockets
/// (Tests/Fixtures/tools/http_probe.py): a client that closes mid-upload is not a server fault,
/// a dribbled body meets the request's time limit, `Expect: 100-continue` is answered, and a
/// request the parser rejects still gets the API's error shape.
@Suite struct HTTPFaultsCLITests {
    typealias Ingest = IngestCLITests

    static func probe(_ port: Int, _ arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", CLITests.fixtures.appendingPathComponent("tools/http_probe.py").path, String(port)] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func misbehavingClientsGetHonestAnswers() throws {
        let root = try Ingest.scratch()
        let data = try LifecycleCLITests.ingested(root)
        let server = try ServedProcess(["serve", "--data", data.path, "--port", "0"],
                                       environment: ["VITRINE_LIMITS_REQUEST_TIMEOUT_SECONDS": "3"])
        defer { server.stop() }
        let port = try #require(Int(server.base.split(separator: ":").last ?? ""))

        // A client gone mid-upload: counted as 499, never as a 500.
        for _ in 0..<3 { _ = try Self.probe(port, ["abort"]) }
        Thread.sleep(forTimeInterval: 0.5)
        let metrics = String(decoding: try server.get("/metrics").body, as: UTF8.self)
        let lines = metrics.split(separator: "\n").filter { $0.hasPrefix("vitrine_http_requests_total") }
        #expect(!lines.contains { $0.contains("status=\"500\"") }, "\(lines)")
        #expect(lines.contains { $0.contains("status=\"499\"") }, "\(lines)")

        // A body at a byte a second: 408 in the error shape once the 3 s limit passes.
        let dribble = try Self.probe(port, ["dribble"])
        let answer = dribble["response"] as? String ?? ""
        #expect(answer.hasPrefix("HTTP/1.1 408") && answer.contains("\"code\":\"timeout\""), "\(answer)")
        #expect((dribble["seconds"] as? Double ?? 99) < 10)

        // Expect: 100-continue is answered at once; a body larger than any route reads is refused
        // before it is sent.
        let expect = try Self.probe(port, ["expect", "2000000"])
        #expect((expect["response"] as? String ?? "").hasPrefix("HTTP/1.1 100 Continue"), "\(expect)")
        #expect((expect["seconds"] as? Double ?? 99) < 0.9)
        let huge = try Self.probe(port, ["expect", "900000000"])
        let refused = huge["response"] as? String ?? ""
        #expect(refused.hasPrefix("HTTP/1.1 413") && refused.contains("\"code\":\"payload_too_large\""), "\(refused)")

        // A 100 KB query string: an error in the API's shape, not an empty 400.
        let long = try Self.probe(port, ["longquery"])
        let text = long["response"] as? String ?? ""
        #expect(text.hasPrefix("HTTP/1.1 4") && text.contains("{\"error\":{"), "\(text.prefix(300))")
        #expect(try server.get("/healthz").status == 200)
    }
}
