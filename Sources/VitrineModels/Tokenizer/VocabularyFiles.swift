#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads the two files of a byte-level BPE tokenizer in the Hugging Face layout.
///
/// `vocab.json` maps token spellings to ids; `merges.txt` lists merge rules, highest priority
/// first, one `left right` pair per line after an optional `#version` header. Both are parsed as
/// strictly as the `tokenizers` library parses them, so a file it rejects is rejected here too,
/// with the file and the reason in the error instead of a crash.
enum VocabularyFiles {
    /// One merge rule as written in `merges.txt`, with its 1-based line number for error messages.
    struct MergeLine {
        var left: String
        var right: String
        var line: Int
    }

    static func readVocabulary(_ url: URL) throws(TokenizerError) -> [String: Int32] {
        let data = try read(url)
        let decoded: [String: Int]
        do {
            decoded = try JSONDecoder().decode([String: Int].self, from: data)
        } catch {
            throw .malformedFile(path: url.path, reason: "expected a JSON object mapping tokens to integer ids (\(error))")
        }
        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(decoded.count)
        for (token, id) in decoded {
            guard let narrow = Int32(exactly: id), narrow >= 0 else {
                throw .malformedFile(path: url.path, reason: "token \(token.debugDescription) has id \(id), outside 0..<2^31")
            }
            vocabulary[token] = narrow
        }
        return vocabulary
    }

    static func readMerges(_ url: URL) throws(TokenizerError) -> [MergeLine] {
        let data = try read(url)
        guard let text = String(validating: data, as: UTF8.self) else {
            throw .malformedFile(path: url.path, reason: "not valid UTF-8")
        }
        // Split bytes, not Characters: the real CLIP merges.txt ends its lines with CRLF, which
        // Swift treats as one Character, and a token could begin with a combining mark.
        var lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // A final newline ends the last line; it does not start an empty one.
        if lines.last?.isEmpty == true { lines.removeLast() }

        var merges: [MergeLine] = []
        merges.reserveCapacity(lines.count)
        for (index, rawLine) in lines.enumerated() {
            let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            if line.starts(with: "#version".utf8) { continue }
            let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw .malformedFile(
                    path: url.path,
                    reason: "line \(index + 1) is \(String(decoding: line, as: UTF8.self).debugDescription), expected two tokens separated by one space"
                )
            }
            // Whole scalars on each side of an ASCII space, so the halves are valid UTF-8.
            merges.append(MergeLine(
                left: String(decoding: parts[0], as: UTF8.self),
                right: String(decoding: parts[1], as: UTF8.self),
                line: index + 1
            ))
        }
        return merges
    }

    private static func read(_ url: URL) throws(TokenizerError) -> Data {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw .unreadableFile(path: url.path, reason: "no such file")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw .unreadableFile(path: url.path, reason: "\(error)")
        }
    }
}
