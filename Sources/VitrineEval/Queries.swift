import Foundation
import VitrineSources

/// One evaluation query: a text, or a photo (path relative to the query file's folder).
public struct EvalQuery: Sendable, Equatable, Codable {
    public enum Input: Sendable, Equatable, Codable {
        case text(String)
        case image(String)
    }

    public var id: String
    public var input: Input
    /// Optional: the slice the query is reported under (else its most relevant product's).
    public var category: String?
    public var market: String?

    public init(id: String, input: Input, category: String? = nil, market: String? = nil) {
        self.id = id
        self.input = input
        self.category = category
        self.market = market
    }

    /// Reads JSON lines (`{"id", "text"}` or `{"id", "image"}`, optional `category`, `market`)
    /// or CSV with those columns (`.csv`; one of text and image per row). Image paths are taken
    /// from the file's folder.
    public static func read(_ url: URL) throws -> [EvalQuery] {
        let path = url.path
        let data: Data
        do { data = TabularFile.withoutBOM(try Data(contentsOf: url)) } catch {
            throw EvalError.empty(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        var rows: [(line: Int, fields: [String: String])] = []
        if url.pathExtension.lowercased() == "csv" {
            let records = CSVDocument.records(data)
            if let header = records.first {
                if let error = header.error { throw EvalError.malformed(path: path, line: header.line, reason: error) }
                let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                for record in records.dropFirst() {
                    if let error = record.error { throw EvalError.malformed(path: path, line: record.line, reason: error) }
                    guard record.fields.count == names.count else {
                        throw EvalError.malformed(path: path, line: record.line, reason: "\(record.fields.count) fields, the header has \(names.count)")
                    }
                    rows.append((record.line, Dictionary(zip(names, record.fields), uniquingKeysWith: { a, _ in a })))
                }
            }
        } else {
            for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
                guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { continue }
                guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                    throw EvalError.malformed(path: path, line: index + 1, reason: "not a JSON object")
                }
                var fields: [String: String] = [:]
                for (key, value) in object {
                    if let text = value as? String { fields[key] = text }
                    else if let number = value as? NSNumber { fields[key] = number.stringValue }
                }
                rows.append((index + 1, fields))
            }
        }
        let folder = url.deletingLastPathComponent()
        var seen = Set<String>()
        var queries: [EvalQuery] = []
        for (line, fields) in rows {
            guard let id = fields["id"] ?? fields["qid"] else {
                throw EvalError.malformed(path: path, line: line, reason: "no id")
            }
            try TabularFile.checkID(id, path: path, line: line, what: "query id")
            guard seen.insert(id).inserted else { throw EvalError.duplicate(path: path, line: line, what: "query id \(id)") }
            let text = fields["text"].flatMap { $0.isEmpty ? nil : $0 }
            let image = fields["image"].flatMap { $0.isEmpty ? nil : $0 }
            let input: Input
            switch (text, image) {
            case (let text?, nil): input = .text(text)
            case (nil, let image?): input = .image(image.hasPrefix("/") ? image : folder.appendingPathComponent(image).path)
            case (.some, .some): throw EvalError.malformed(path: path, line: line, reason: "query \(id) has both a text and an image; give one")
            case (nil, nil): throw EvalError.malformed(path: path, line: line, reason: "query \(id) has neither a text nor an image")
            }
            queries.append(EvalQuery(id: id, input: input, category: fields["category"].flatMap { $0.isEmpty ? nil : $0 },
                                     market: fields["market"].flatMap { $0.isEmpty ? nil : $0 }))
        }
        guard !queries.isEmpty else { throw EvalError.empty(path: path, reason: "no queries") }
        return queries
    }
}
