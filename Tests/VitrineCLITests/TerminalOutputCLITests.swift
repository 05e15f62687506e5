import Foundation
import Testing

/// Catalog text reaches the operator's terminal escaped: a product whose name, id or category holds
/// escape sequences (retitle the window, clear the screen, a C1 CSI, a bell) is printed with those
/// characters made visible, never raw; JSON output stays exact.
@Suite struct TerminalOutputCLITests {
    typealias Ingest = IngestCLITests

    @Test func controlCharactersInCatalogTextAreEscapedInTextOutput() throws {
        let root = try Ingest.scratch()
        let folder = try Ingest.photoFolder(count: 2, in: root)
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }.sorted()
        let hostile = "dress \u{1B}]0;pwned\u{07}\u{1B}[2J\u{9B}31m red"
        let rows = [
            "id,name,category,images",
            "\"evil\u{1B}[1Aid\",\"\(hostile)\",\"cat\u{1B}[5m\",photos/\(files[0])",
            "plain,plain dress,dresses,photos/\(files[1])",
        ]
        let manifest = root.appendingPathComponent("products.csv")
        try Data(rows.joined(separator: "\n").utf8).write(to: manifest)
        let data = root.appendingPathComponent("data")
        let ingest = try Ingest.ingest(manifest, data)
        #expect(ingest.status == 0, "\(ingest.stderr)")

        let search = try Ingest.run(["search", "red dress", "--data", data.path, "--k", "5"])
        #expect(search.status == 0, "\(search.stderr)")
        let text = String(decoding: search.stdout, as: UTF8.self)
        let raw: [Unicode.Scalar] = ["\u{1B}", "\u{07}", "\u{9B}"]
        #expect(!text.unicodeScalars.contains { raw.contains($0) }, "\(text.debugDescription)")
        #expect(text.contains(#"dress \x1B]0;pwned\x07\x1B[2J\x9B31m red"#), "\(text)")
        #expect(text.contains(#"evil\x1B[1Aid"#) && text.contains(#"cat\x1B[5m"#))

        // An error naming the product escapes it too.
        let missing = try Ingest.run(["delete", "nope\u{1B}[2J", "--data", data.path])
        #expect(!missing.stderr.unicodeScalars.contains("\u{1B}") && !String(decoding: missing.stdout, as: UTF8.self).unicodeScalars.contains("\u{1B}"))

        // JSON keeps the text exact (JSON escapes control characters itself).
        let json = try Ingest.run(["search", "red dress", "--data", data.path, "--k", "5", "--json"])
        let results = try #require((try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])?["results"] as? [[String: Any]])
        #expect(results.contains { $0["name"] as? String == hostile })
    }
}
