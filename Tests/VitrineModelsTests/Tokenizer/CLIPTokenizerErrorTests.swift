import Foundation
import Testing
@testable import VitrineModels

/// Broken tokenizer files are reported with the file and the reason, never by a crash.
@Suite struct CLIPTokenizerErrorTests {
    /// A scratch model directory holding the given files.
    private func directory(_ files: [String: String]) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vitrine-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, content) in files {
            try Data(content.utf8).write(to: url.appendingPathComponent(name))
        }
        return url
    }

    /// A minimal valid vocabulary: the specials, `a`, `b` and their merge.
    private let vocab = #"{"<|startoftext|>": 0, "<|endoftext|>": 1, "a": 2, "b</w>": 3, "ab</w>": 4}"#
    private let merges = "#version: 0.2\na b</w>\n"

    private func loadError(_ files: [String: String]) throws -> TokenizerError? {
        let url = try directory(files)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try CLIPTokenizer(directory: url)
            return nil
        } catch {
            return error
        }
    }

    @Test func aMinimalVocabularyLoadsAndEncodes() throws {
        let url = try directory(["vocab.json": vocab, "merges.txt": merges])
        defer { try? FileManager.default.removeItem(at: url) }
        let tokenizer = try CLIPTokenizer(directory: url)
        #expect(tokenizer.encode("ab AB").ids == [0, 4, 4, 1])
        // `c` is not in this vocabulary: the reference substitutes its unknown token.
        #expect(tokenizer.encode("c").ids == [0, 1, 1])
    }

    /// The real CLIP merges.txt ends its lines with CRLF.
    @Test func mergesWithCRLFLineEndingsLoad() throws {
        let url = try directory(["vocab.json": vocab, "merges.txt": "#version: 0.2\r\na b</w>\r\n"])
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try CLIPTokenizer(directory: url).encode("ab").ids == [0, 4, 1])
    }

    @Test func missingFilesAreNamed() throws {
        let noVocab = try #require(try loadError(["merges.txt": merges]))
        #expect(noVocab.description.contains("vocab.json") && noVocab.description.contains("no such file"))
        let noMerges = try #require(try loadError(["vocab.json": vocab]))
        #expect(noMerges.description.contains("merges.txt") && noMerges.description.contains("no such file"))
    }

    @Test(arguments: ["", "[1, 2]", "{\"a\": \"one\"}", "{\"a\": 1.5}", "{\"a\": -3}", "{\"a\": 99999999999}", "{not json"])
    func malformedVocabularyIsNamed(content: String) throws {
        let error = try #require(try loadError(["vocab.json": content, "merges.txt": merges]))
        guard case .malformedFile = error else { Issue.record("unexpected \(error)"); return }
        #expect(error.description.contains("vocab.json"))
    }

    @Test(arguments: ["a b</w> extra\n", "ab\n", "a  b</w>\n", "#version: 0.2\n\na b</w>\n"])
    func malformedMergesAreNamed(content: String) throws {
        let error = try #require(try loadError(["vocab.json": vocab, "merges.txt": content]))
        guard case .malformedFile = error else { Issue.record("unexpected \(error)"); return }
        #expect(error.description.contains("merges.txt") && error.description.contains("line"))
    }

    @Test func mergesThatAreNotUTF8AreNamed() throws {
        let url = try directory(["vocab.json": vocab])
        defer { try? FileManager.default.removeItem(at: url) }
        try Data([0x61, 0x20, 0xFF, 0x0A]).write(to: url.appendingPathComponent("merges.txt"))
        #expect(throws: TokenizerError.malformedFile(path: url.appendingPathComponent("merges.txt").path, reason: "not valid UTF-8")) {
            try CLIPTokenizer(directory: url)
        }
    }

    @Test(arguments: [("a c</w>\n", "c</w>"), ("b</w> a\n", "b</w>a")])
    func mergesNamingUnknownTokensAreNamed(content: String, token: String) throws {
        let error = try #require(try loadError(["vocab.json": vocab, "merges.txt": content]))
        guard case .unknownMergeToken(_, let line, let named) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(line == 1 && named == token && error.description.contains("merges.txt"))
    }

    @Test func missingSpecialTokensAreNamed() throws {
        let error = try #require(try loadError(["vocab.json": #"{"<|startoftext|>": 0, "a": 2}"#, "merges.txt": ""]))
        #expect(error.description.contains("vocab.json") && error.description.contains("<|endoftext|>"))
    }
}
