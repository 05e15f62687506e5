import Foundation
import VitrineCatalog

/// Reads a product manifest: a CSV file with a header row, a JSONL file (one JSON object per
/// line), or a JSON file holding an array of objects.
///
/// Columns are picked by a ``ManifestMapping``; unmapped ones go to ``Product/extra``. Each
/// image reference is a path relative to the manifest's folder or an http(s) URL fetched, on
/// load, under a ``DownloadPolicy``. Several image columns, or a list, give several images
/// with ids "0", "1", ... in order.
///
/// Rows without an id or an image, with an id seen before, or with an unusable image reference
/// (absolute path, or a path leaving the manifest's folder unless ``allowsPathsOutsideFolder``,
/// a scheme other than http/https) are rejected with `file:line` and the reason.
///
/// The reader owns an HTTP client once a URL is loaded; call ``shutdown()`` when done.
/// Memory: one row at a time for CSV and JSONL; a `.json` array is parsed whole.
public struct ManifestReader: DatasetReader {
    enum Format: Sendable { case csv, jsonLines, jsonArray }

    public let url: URL
    public let mapping: ManifestMapping
    public let downloader: ImageDownloader
    /// Whether image paths may be absolute or lead out of the manifest's folder.
    public let allowsPathsOutsideFolder: Bool
    public let source: String
    let format: Format

    /// A reader of the manifest at `url`; `.jsonl`/`.ndjson` are JSON lines, `.json` an array,
    /// anything else CSV.
    public init(url: URL, mapping: ManifestMapping = ManifestMapping(), download: DownloadPolicy = DownloadPolicy(),
                allowsPathsOutsideFolder: Bool = false) {
        self.url = url.standardizedFileURL
        self.mapping = mapping
        self.downloader = ImageDownloader(policy: download)
        self.allowsPathsOutsideFolder = allowsPathsOutsideFolder
        source = "manifest:" + self.url.path
        switch self.url.pathExtension.lowercased() {
        case "jsonl", "ndjson": format = .jsonLines
        case "json": format = .jsonArray
        default: format = .csv
        }
    }

    /// Stops the HTTP client used for URL images (if any was started).
    public func shutdown() async throws { try await downloader.shutdown() }

    public func entries() -> AsyncThrowingStream<SourceEntry, Error> {
        let rows = ManifestRows(reader: self)
        let url = self.url, format = self.format
        return entryStream {
            switch format {
            case .csv: return try CSVManifest(url: url, rows: rows)
            case .jsonLines: return JSONLinesManifest(lines: LineReader(source: try FileChunkSource(url: url)), path: url.path, rows: rows)
            case .jsonArray: return try JSONArrayManifest(url: url, rows: rows)
            }
        }
    }

    /// Where an image reference leads: a file inside the manifest's folder, or a URL.
    enum ImageReference: Equatable {
        case file(URL)
        case remote(String)
    }

    /// Checks a reference without touching the file system or the network.
    func resolve(_ reference: String, origin: String) -> Result<ImageReference, ReaderError> {
        let lowered = reference.lowercased()
        if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") {
            guard let parsed = URL(string: reference), let host = parsed.host, !host.isEmpty else {
                return .failure(.badImageReference(origin: reference, reason: "not a valid URL"))
            }
            return .success(.remote(reference))
        }
        if reference.contains("://") {
            return .failure(.badImageReference(origin: reference, reason: "only http and https URLs are fetched"))
        }
        let folder = url.deletingLastPathComponent()
        if reference.hasPrefix("/") {
            guard allowsPathsOutsideFolder else {
                return .failure(.badImageReference(origin: reference, reason: "absolute paths are not allowed (paths are relative to \(folder.path))"))
            }
            return .success(.file(URL(fileURLWithPath: reference).standardizedFileURL))
        }
        let file = folder.appendingPathComponent(reference).standardizedFileURL
        guard allowsPathsOutsideFolder || Self.isInside(file.path, folder.path) else {
            return .failure(.badImageReference(origin: reference, reason: "leads outside the manifest's folder \(folder.path)"))
        }
        return .success(.file(file))
    }

    static func isInside(_ path: String, _ folder: String) -> Bool {
        let base = folder.hasSuffix("/") ? folder : folder + "/"
        return path.hasPrefix(base)
    }

    /// The image for a checked reference. Files are re-checked after resolving symbolic links.
    func image(id: String, reference: ImageReference) -> SourceImage {
        switch reference {
        case .remote(let address):
            let downloader = self.downloader
            return SourceImage(id: id, origin: address) { try await downloader.download(address) }
        case .file(let file):
            let folder = url.deletingLastPathComponent()
            let confined = !allowsPathsOutsideFolder
            return SourceImage(id: id, origin: file.path) {
                if confined, FileManager.default.fileExists(atPath: file.path),
                   !Self.isInside(file.resolvingSymlinksInPath().path, folder.resolvingSymlinksInPath().path) {
                    throw ReaderError.badImageReference(origin: file.path, reason: "a symbolic link leading outside the manifest's folder")
                }
                return try readFile(file)
            }
        }
    }
}

/// A manifest row's values: text, or a list (a JSON array).
enum ManifestValue {
    case text(String)
    case list([String])
    case absent
}

/// Turns rows (column → value) into entries; shared by the three file formats.
final class ManifestRows: @unchecked Sendable {
    private let reader: ManifestReader
    private var seen: Set<String> = []

    init(reader: ManifestReader) { self.reader = reader }

    func entry(_ row: [String: ManifestValue], location: String) -> SourceEntry {
        let mapping = reader.mapping
        func text(_ column: String) -> String? {
            guard case .text(let value) = row[column] ?? .absent else { return nil }
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? nil : trimmed
        }
        guard let id = text(mapping.id) else {
            return .rejected(ReaderRejection(location: location, reason: "no id (column \(mapping.id))"))
        }
        guard !seen.contains(id) else {
            return .rejected(ReaderRejection(location: location, id: id, reason: "duplicate id \(id)"))
        }
        var references: [String] = mapping.imageColumns.compactMap { text($0) }
        for column in mapping.imageListColumns {
            switch row[column] ?? .absent {
            case .list(let items): references += items
            case .text(let value): references += Self.splitList(value)
            case .absent: break
            }
        }
        references = references.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !references.isEmpty else {
            let columns = (mapping.imageColumns + mapping.imageListColumns).joined(separator: ", ")
            return .rejected(ReaderRejection(location: location, id: id, reason: "no image (columns \(columns))"))
        }
        var images: [SourceImage] = []
        for (index, reference) in references.enumerated() {
            switch reader.resolve(reference, origin: location) {
            case .success(let resolved): images.append(reader.image(id: String(index), reference: resolved))
            case .failure(let error): return .rejected(ReaderRejection(location: location, id: id, reason: error.description))
            }
        }
        var extra: [String: String] = [:]
        let mapped = mapping.mappedColumns
        for (column, value) in row where !mapped.contains(column) {
            switch value {
            case .text(let text) where !text.isEmpty: extra[column] = text
            case .list(let items): extra[column] = jsonText(items)
            default: break
            }
        }
        seen.insert(id)
        let product = Product(
            id: id, name: text(mapping.name) ?? id, description: text(mapping.description) ?? "",
            category: text(mapping.category), categoryName: text(mapping.categoryName), market: text(mapping.market),
            source: reader.source, extra: extra)
        return .item(SourceItem(product: product, images: images))
    }

    /// A list cell of a CSV: a JSON array, or items separated by `|` or `;`.
    static func splitList(_ value: String) -> [String] {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("["), let data = trimmed.data(using: .utf8),
           let array = try? JSONSerialization.jsonObject(with: data) as? [Any] {
            return array.compactMap { jsonText($0) }
        }
        return trimmed.split(whereSeparator: { $0 == "|" || $0 == ";" }).map(String.init)
    }

    /// A JSON object's fields as manifest values.
    static func values(of object: [String: Any]) -> [String: ManifestValue] {
        var row: [String: ManifestValue] = [:]
        for (key, value) in object {
            if let array = value as? [Any] {
                row[key] = .list(array.compactMap { jsonText($0) })
            } else if let text = jsonText(value) {
                row[key] = .text(text)
            }
        }
        return row
    }
}

private final class CSVManifest: EntryProducer {
    private let records: CSVRecordReader
    private let header: [String]
    private let path: String
    private let rows: ManifestRows

    init(url: URL, rows: ManifestRows) throws {
        records = CSVRecordReader(source: try FileChunkSource(url: url))
        path = url.path
        self.rows = rows
        guard let first = try records.next(), first.error == nil, case .success(var names) = first.strings() else {
            throw ReaderError.invalidFormat(path: url.path, reason: "missing or unreadable header row")
        }
        if let head = names.first, head.hasPrefix("\u{FEFF}") { names[0] = String(head.dropFirst()) }
        header = names.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func next() throws -> SourceEntry? {
        guard let record = try records.next() else { return nil }
        let location = "\(path):\(record.line)"
        if let error = record.error {
            return .rejected(ReaderRejection(location: location, reason: "malformed CSV: \(error)"))
        }
        guard record.fields.count == header.count else {
            return .rejected(ReaderRejection(location: location, reason: "expected \(header.count) columns, found \(record.fields.count)"))
        }
        switch record.strings() {
        case .failure(let failure):
            return .rejected(ReaderRejection(location: location, reason: "column \(header[failure.index]) is not valid UTF-8"))
        case .success(let values):
            var row: [String: ManifestValue] = [:]
            for (name, value) in zip(header, values) { row[name] = .text(value) }
            return rows.entry(row, location: location)
        }
    }
}

private final class JSONLinesManifest: EntryProducer {
    private let lines: LineReader
    private let path: String
    private let rows: ManifestRows

    init(lines: LineReader, path: String, rows: ManifestRows) {
        self.lines = lines
        self.path = path
        self.rows = rows
    }

    func next() throws -> SourceEntry? {
        while let line = try lines.next() {
            let number = line.line, bytes = line.bytes
            let location = "\(path):\(number)"
            guard let bytes else { return .rejected(ReaderRejection(location: location, reason: "line too long")) }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            guard String(validating: bytes, as: UTF8.self) != nil else {
                return .rejected(ReaderRejection(location: location, reason: "not valid UTF-8"))
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)), let fields = object as? [String: Any] else {
                return .rejected(ReaderRejection(location: location, reason: "not a JSON object"))
            }
            return rows.entry(ManifestRows.values(of: fields), location: location)
        }
        return nil
    }
}

private final class JSONArrayManifest: EntryProducer {
    private var objects: ArraySlice<Any>
    private var index = 0
    private let path: String
    private let rows: ManifestRows

    init(url: URL, rows: ManifestRows) throws {
        let data = try readFile(url)
        guard let array = (try? JSONSerialization.jsonObject(with: data)) as? [Any] else {
            throw ReaderError.invalidFormat(path: url.path, reason: "not a JSON array of objects")
        }
        objects = array[...]
        path = url.path
        self.rows = rows
    }

    func next() throws -> SourceEntry? {
        guard let object = objects.popFirst() else { return nil }
        defer { index += 1 }
        let location = "\(path)[\(index)]"
        guard let fields = object as? [String: Any] else {
            return .rejected(ReaderRejection(location: location, reason: "not a JSON object"))
        }
        return rows.entry(ManifestRows.values(of: fields), location: location)
    }
}
