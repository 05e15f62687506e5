import Foundation
import Synchronization
import VitrineCatalog
import ZIPFoundation

/// Reads GLAMI-1M (https://github.com/glami/glami-1m) as its zips unpack, or straight from a zip.
///
/// Layout: `GLAMI-1M-dataset/GLAMI-1M-{test,train}.csv` and `GLAMI-1M-dataset/images/{image_id}.jpg`.
/// `url` is the `GLAMI-1M-dataset` folder, its parent, or a zip holding that layout (such as
/// `GLAMI-1M-dataset--test-only.zip`). Each CSV row (`item_id, image_id, name, description, geo,
/// category, category_name, label_source`) becomes one product with one image.
///
/// Rows that are malformed (wrong column count, not UTF-8, empty `item_id`, an `item_id` already
/// seen in this source, a `geo` outside GLAMI's 13 markets, an unusable `image_id`) come out as
/// ``SourceEntry/rejected(_:)`` with `file:line`; reading goes on.
///
/// Memory: one CSV chunk, plus the set of item ids seen (for duplicates). From a zip, the first
/// image load lists the archive's image members once (about half a kilobyte each); for the full
/// 1M-image archive, unpack it instead.
public struct GLAMIReader: DatasetReader {
    /// The markets (`geo`) of GLAMI-1M.
    public static let markets: Set<String> = ["cz", "sk", "ro", "gr", "si", "hu", "hr", "es", "lt", "lv", "tr", "ee", "bg"]
    static let columns = ["item_id", "image_id", "name", "description", "geo", "category", "category_name", "label_source"]

    private enum Layout: Sendable {
        case folder(URL)  // the GLAMI-1M-dataset folder
        case zip(GLAMIZip)
    }

    /// The URL as given.
    public let url: URL
    public let split: DatasetSplit
    public let source: String
    private let layout: Layout

    /// A reader of the dataset at `url` (nothing is read until ``entries()``).
    /// - Parameter split: which CSVs to read; `.all` reads test, then train.
    public init(url: URL, split: DatasetSplit = .all) {
        self.url = url
        self.split = split
        let absolute = url.standardizedFileURL
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: absolute.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            layout = .zip(GLAMIZip(url: absolute))
            source = "glami:" + absolute.path
        } else {
            let nested = absolute.appendingPathComponent("GLAMI-1M-dataset")
            let root = FileManager.default.fileExists(atPath: nested.path) ? nested : absolute
            layout = .folder(root)
            source = "glami:" + root.path
        }
    }

    /// File names of the CSVs to read, in order.
    var csvNames: [String] {
        switch split {
        case .test: ["GLAMI-1M-test.csv"]
        case .train: ["GLAMI-1M-train.csv"]
        case .all: ["GLAMI-1M-test.csv", "GLAMI-1M-train.csv"]
        }
    }

    public func entries() -> AsyncThrowingStream<SourceEntry, Error> {
        let layout = self.layout, source = self.source, names = csvNames, split = self.split
        return entryStream {
            switch layout {
            case .folder(let root):
                guard FileManager.default.fileExists(atPath: root.path) else { throw ReaderError.notFound(path: root.path) }
                let present = names.map { root.appendingPathComponent($0) }.filter { FileManager.default.fileExists(atPath: $0.path) }
                guard !present.isEmpty else {
                    throw ReaderError.invalidFormat(path: root.path, reason: "no \(names.joined(separator: " or ")) (split \(split.rawValue))")
                }
                let images = root.appendingPathComponent("images")
                let files = present.map { csv in
                    GLAMIRows.File(location: csv.path, open: { try FileChunkSource(url: csv) })
                }
                return GLAMIRows(files: files, source: source) { imageID in
                    let path = images.appendingPathComponent(imageID + ".jpg")
                    return SourceImage(id: imageID, origin: path.path) { try readFile(path) }
                }
            case .zip(let zip):
                let contents = try zip.contents()
                let files: [GLAMIRows.File] = names.compactMap { name in
                    guard let member = contents.csvs[name] else { return nil }
                    let box = UncheckedBox(member)
                    return GLAMIRows.File(location: "\(zip.url.path):\(member.path)", open: {
                        ZipMemberChunkSource(archiveURL: zip.url, member: box.value)
                    })
                }
                guard !files.isEmpty else {
                    throw ReaderError.invalidFormat(path: zip.url.path, reason: "the zip holds no \(names.joined(separator: " or ")) (split \(split.rawValue))")
                }
                return GLAMIRows(files: files, source: source) { imageID in
                    let member = contents.imagesPrefix + imageID + ".jpg"
                    return SourceImage(id: imageID, origin: "\(zip.url.path):\(member)") { try zip.load(member) }
                }
            }
        }
    }
}

/// Reads a whole file; a missing one is ``ReaderError/notFound(path:)``.
func readFile(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url)
    } catch {
        if !FileManager.default.fileExists(atPath: url.path) { throw ReaderError.notFound(path: url.path) }
        throw ReaderError.unreadable(path: url.path, reason: error.localizedDescription)
    }
}

/// Turns the rows of GLAMI's CSVs into entries, one file after the other.
private final class GLAMIRows: EntryProducer {
    struct File {
        var location: String
        var open: () throws -> any ChunkSource
    }

    private var files: [File]
    private let source: String
    private let image: (String) -> SourceImage
    private var current: (file: File, records: CSVRecordReader, columns: [Int])?
    private var seen: Set<String> = []

    init(files: [File], source: String, image: @escaping (String) -> SourceImage) {
        self.files = files
        self.source = source
        self.image = image
    }

    func next() throws -> SourceEntry? {
        while true {
            if current == nil {
                guard !files.isEmpty else { return nil }
                let file = files.removeFirst()
                let records = CSVRecordReader(source: try file.open())
                current = (file, records, try header(of: records, at: file.location))
            }
            guard let reading = current else { return nil }
            guard let record = try reading.records.next() else {
                current = nil
                continue
            }
            return entry(record, columns: reading.columns, location: "\(reading.file.location):\(record.line)")
        }
    }

    /// Column positions of GLAMI's columns, found by name in the header row.
    private func header(of records: CSVRecordReader, at location: String) throws -> [Int] {
        guard let record = try records.next(), record.error == nil, case .success(var names) = record.strings() else {
            throw ReaderError.invalidFormat(path: location, reason: "missing or unreadable header row")
        }
        if let first = names.first, first.hasPrefix("\u{FEFF}") { names[0] = String(first.dropFirst()) }
        let trimmed = names.map { $0.trimmingCharacters(in: .whitespaces) }
        var columns: [Int] = []
        for name in GLAMIReader.columns {
            guard let index = trimmed.firstIndex(of: name) else {
                throw ReaderError.invalidFormat(path: location, reason: "header has no \(name) column (columns: \(trimmed.joined(separator: ", ")))")
            }
            columns.append(index)
        }
        return columns + [trimmed.count]
    }

    private func entry(_ record: CSVRecord, columns: [Int], location: String) -> SourceEntry {
        func reject(_ reason: String, id: String? = nil) -> SourceEntry {
            .rejected(ReaderRejection(location: location, id: id, reason: reason))
        }
        let expected = columns[columns.count - 1]
        if let error = record.error { return reject("malformed CSV: \(error)") }
        guard record.fields.count == expected else {
            return reject("expected \(expected) columns, found \(record.fields.count)")
        }
        let values: [String]
        switch record.strings() {
        case .success(let strings): values = strings
        case .failure(let failure):
            let name = columns.firstIndex(of: failure.index).map { GLAMIReader.columns[$0] } ?? "column \(failure.index + 1)"
            return reject("\(name) is not valid UTF-8")
        }
        func value(_ column: Int) -> String { values[columns[column]] }
        let itemID = value(0), imageID = value(1), geo = value(4)
        guard !itemID.isEmpty else { return reject("empty item_id") }
        guard !seen.contains(itemID) else { return reject("duplicate item_id \(itemID)", id: itemID) }
        guard GLAMIReader.markets.contains(geo) else {
            return reject("unknown geo '\(geo)' (expected one of \(GLAMIReader.markets.sorted().joined(separator: " ")))", id: itemID)
        }
        // The image id becomes a file name: no separators, no dot-only names.
        guard !imageID.isEmpty, !imageID.contains("/"), !imageID.contains("\\"), imageID != ".", imageID != ".." else {
            return reject("unusable image_id '\(imageID)'", id: itemID)
        }
        seen.insert(itemID)
        let labelSource = value(7)
        let product = Product(
            id: itemID, name: value(2), description: value(3),
            category: value(5).isEmpty ? nil : value(5), categoryName: value(6).isEmpty ? nil : value(6),
            market: geo, source: source, extra: labelSource.isEmpty ? [:] : ["label_source": labelSource])
        return .item(SourceItem(product: product, images: [image(imageID)]))
    }
}

/// A GLAMI zip: where its CSVs and images are, and the image loads. Loads run in parallel, each
/// on an `Archive` of its own taken from a small pool (an `Archive` reads through one `FILE*`).
final class GLAMIZip: Sendable {
    struct Contents: @unchecked Sendable {
        var csvs: [String: ZIPFoundation.Entry] = [:]
        var imagesPrefix = ""
        var images: [String: ZIPFoundation.Entry] = [:]
    }

    /// Bigger members are refused: a zip bomb must not exhaust memory.
    static let maxImageBytes: UInt64 = 64 * 1024 * 1024

    let url: URL
    private let listing = Mutex<Contents?>(nil)
    private let pool = Mutex<[UncheckedBox<Archive>]>([])

    init(url: URL) { self.url = url }

    /// Lists the archive once: the CSVs (by file name) and the members of the `images/` folder
    /// beside them.
    func contents() throws -> Contents {
        try listing.withLock { listing in
            if let listing { return listing }
            guard FileManager.default.fileExists(atPath: url.path) else { throw ReaderError.notFound(path: url.path) }
            let archive = try openArchive()
            var contents = Contents()
            var all: [(String, ZIPFoundation.Entry)] = []
            for entry in archive where entry.type == .file {
                let path = entry.path
                let name = (path as NSString).lastPathComponent
                if name.hasPrefix("GLAMI-1M-"), name.hasSuffix(".csv"), contents.csvs[name] == nil {
                    contents.csvs[name] = entry
                    contents.imagesPrefix = (path as NSString).deletingLastPathComponent
                } else if path.contains("images/") {
                    all.append((path, entry))
                }
            }
            let prefix = contents.imagesPrefix.isEmpty ? "images/" : contents.imagesPrefix + "/images/"
            contents.imagesPrefix = prefix
            for (path, entry) in all where path.hasPrefix(prefix) { contents.images[path] = entry }
            listing = contents
            return contents
        }
    }

    func load(_ member: String) throws -> Data {
        guard let entry = try contents().images[member] else { throw ReaderError.notFound(path: "\(url.path):\(member)") }
        guard entry.uncompressedSize <= Self.maxImageBytes else {
            throw ReaderError.tooLarge(origin: "\(url.path):\(member)", limit: Int(Self.maxImageBytes))
        }
        let archive = try pool.withLock { $0.popLast() } ?? UncheckedBox(openArchive())
        var data = Data()
        do {
            _ = try archive.value.extract(entry) { chunk in
                guard UInt64(data.count + chunk.count) <= Self.maxImageBytes else {
                    throw ReaderError.tooLarge(origin: "\(url.path):\(member)", limit: Int(Self.maxImageBytes))
                }
                data.append(chunk)
            }
        } catch let error as ReaderError {
            throw error
        } catch {
            // The archive may be mid-read: it is not returned to the pool.
            throw ReaderError.unreadable(path: "\(url.path):\(member)", reason: String(describing: error))
        }
        pool.withLock { $0.append(archive) }
        return data
    }

    private func openArchive() throws -> Archive {
        do {
            return try Archive(url: url, accessMode: .read)
        } catch {
            throw ReaderError.unreadable(path: url.path, reason: "not a readable zip archive (\(error))")
        }
    }
}
