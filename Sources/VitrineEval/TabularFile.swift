import Foundation
import VitrineSources

/// The three layouts evaluation files come in: JSON lines (`.jsonl`, `.ndjson`), CSV with a
/// header (`.csv`), or whitespace-separated TREC columns (anything else). Rows come back as the
/// wanted columns' text, with the line each was read from.
enum TabularFile {
    struct Row {
        var line: Int
        var values: [String]
    }

    /// `columns` lists, for each wanted value, the names it may have (JSON keys, CSV headers);
    /// `trecColumns` are its positions in a TREC line of exactly `trecFields` fields.
    static func rows(_ url: URL, columns: [[String]], trecFields: Int, trecColumns: [Int]) throws -> [Row] {
        let path = url.path
        let data: Data
        do { data = try withoutBOM(Data(contentsOf: url)) } catch {
            throw EvalError.empty(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        switch url.pathExtension.lowercased() {
        case "jsonl", "ndjson":
            return try jsonLines(data, path: path, columns: columns)
        case "csv":
            return try csv(data, path: path, columns: columns)
        default:
            guard let text = String(data: data, encoding: .utf8) else { throw EvalError.empty(path: path, reason: "is not UTF-8 text") }
            var rows: [Row] = []
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
                if fields.isEmpty { continue }
                guard fields.count == trecFields else {
                    throw EvalError.malformed(path: path, line: index + 1, reason: "expected \(trecFields) whitespace-separated fields, found \(fields.count)")
                }
                rows.append(Row(line: index + 1, values: trecColumns.map { fields[$0] }))
            }
            return rows
        }
    }

    /// The bytes without a leading UTF-8 byte order mark (spreadsheets write one).
    static func withoutBOM(_ data: Data) -> Data {
        data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data
    }

    /// Ids become whitespace-separated TREC columns: whitespace in one would shift the fields.
    static func checkID(_ id: String, path: String, line: Int, what: String) throws {
        guard !id.isEmpty, !id.contains(where: \.isWhitespace) else {
            throw EvalError.malformed(path: path, line: line, reason: "\(what) \"\(id)\" is empty or has whitespace, which a TREC file cannot hold")
        }
    }

    private static func jsonLines(_ data: Data, path: String, columns: [[String]]) throws -> [Row] {
        var rows: [Row] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw EvalError.malformed(path: path, line: index + 1, reason: "not a JSON object")
            }
            var values: [String] = []
            for names in columns {
                guard let value = names.lazy.compactMap({ object[$0] }).first else {
                    throw EvalError.malformed(path: path, line: index + 1, reason: "no \(names[0]) field (or \(names.dropFirst().joined(separator: ", ")))")
                }
                switch value {
                case let text as String: values.append(text)
                case let number as NSNumber: values.append(number.stringValue)
                default: throw EvalError.malformed(path: path, line: index + 1, reason: "\(names[0]) is neither text nor a number")
                }
            }
            rows.append(Row(line: index + 1, values: values))
        }
        return rows
    }

    private static func csv(_ data: Data, path: String, columns: [[String]]) throws -> [Row] {
        let records = CSVDocument.records(data)
        guard let header = records.first else { return [] }
        if let error = header.error { throw EvalError.malformed(path: path, line: header.line, reason: error) }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let positions = try columns.map { aliases in
            // The first accepted name the header has, in the order of preference.
            guard let position = aliases.lazy.compactMap({ names.firstIndex(of: $0) }).first else {
                throw EvalError.malformed(path: path, line: header.line, reason: "the header has no \(aliases[0]) column (or \(aliases.dropFirst().joined(separator: ", ")))")
            }
            return position
        }
        return try records.dropFirst().map { record in
            if let error = record.error { throw EvalError.malformed(path: path, line: record.line, reason: error) }
            guard record.fields.count == names.count else {
                throw EvalError.malformed(path: path, line: record.line, reason: "\(record.fields.count) fields, the header has \(names.count)")
            }
            return Row(line: record.line, values: positions.map { record.fields[$0] })
        }
    }
}
