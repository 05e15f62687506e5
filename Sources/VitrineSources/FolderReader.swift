import Foundation
import VitrineCatalog

/// Reads a folder of product photos, recursively, in sorted path order.
///
/// Every `.jpg`, `.jpeg`, `.png` or `.webp` file (any case) is a product with one image (id "0"):
/// - id: the path relative to the folder, without extension (`dresses/red_dress`);
/// - name: the file name without extension, `_` and `-` read as spaces (`red dress`);
/// - category: the first folder below the root for nested files, else nil;
/// - a sidecar beside the image with the same base name overrides or adds fields:
///   `red_dress.json` (keys `name`, `description`, `category`, `category_name`, `market`, `id`;
///   any other key goes to `extra`) or `red_dress.txt` (the description).
///
/// Hidden files and folders are skipped, and so are symbolic links that lead outside the root;
/// symbolic links to folders are not followed (no cycles). Memory: one directory listing per
/// level of the current path.
public struct FolderReader: DatasetReader {
    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp"]
    /// Sidecars are read whole; bigger ones are rejected.
    static let maxSidecarBytes = 1024 * 1024

    public let url: URL
    public let source: String

    public init(url: URL) {
        self.url = url.standardizedFileURL
        source = "folder:" + self.url.path
    }

    public func entries() -> AsyncThrowingStream<SourceEntry, Error> {
        let root = url, source = self.source
        return entryStream {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
                throw ReaderError.notFound(path: root.path)
            }
            guard isDirectory.boolValue else { throw ReaderError.invalidFormat(path: root.path, reason: "not a folder") }
            return try FolderWalk(root: root, source: source)
        }
    }
}

private final class FolderWalk: EntryProducer {
    private let root: URL
    private let realRoot: String
    private let source: String
    /// Per level of the walk: the remaining sorted names of a folder and its path relative to the root.
    private var stack: [(relative: [String], names: ArraySlice<String>)] = []
    private var seenIDs: Set<String> = []

    init(root: URL, source: String) throws {
        self.root = root
        self.source = source
        realRoot = root.resolvingSymlinksInPath().path
        stack = [([], try Self.list(root)[...])]
    }

    private static func list(_ folder: URL) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw ReaderError.unreadable(path: folder.path, reason: error.localizedDescription)
        }
    }

    func next() throws -> SourceEntry? {
        while let top = stack.last {
            guard let name = top.names.first else {
                stack.removeLast()
                continue
            }
            stack[stack.count - 1].names = top.names.dropFirst()
            let relative = top.relative + [name]
            let file = relative.reduce(root) { $0.appendingPathComponent($1) }
            let path = file.path

            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  let type = attributes[.type] as? FileAttributeType else { continue }
            var isLink = false
            if type == .typeSymbolicLink {
                let target = file.resolvingSymlinksInPath().path
                guard target == realRoot || target.hasPrefix(realRoot + "/") else { continue }
                isLink = true
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                if isLink { continue }
                do {
                    stack.append((relative, try Self.list(file)[...]))
                } catch {
                    return .rejected(ReaderRejection(location: path, reason: String(describing: error)))
                }
                continue
            }
            let ext = file.pathExtension.lowercased()
            guard FolderReader.imageExtensions.contains(ext) else { continue }
            return entry(file: file, relative: relative)
        }
        return nil
    }

    private func entry(file: URL, relative: [String]) -> SourceEntry {
        let base = file.deletingPathExtension()
        var relativeID = relative
        relativeID[relativeID.count - 1] = base.lastPathComponent
        let stem = base.lastPathComponent
        let name = stem.replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: "-", with: " ")
            .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        var product = Product(
            id: relativeID.joined(separator: "/"), name: name.isEmpty ? stem : name,
            category: relative.count > 1 ? relative[0] : nil, source: source)

        let json = base.appendingPathExtension("json"), text = base.appendingPathExtension("txt")
        do {
            if FileManager.default.fileExists(atPath: json.path) {
                try applyJSON(sidecar: json, to: &product)
            } else if FileManager.default.fileExists(atPath: text.path) {
                let bytes = try Self.readSidecar(text)
                guard let description = String(validating: bytes, as: UTF8.self) else {
                    throw ReaderError.invalidFormat(path: text.path, reason: "not valid UTF-8")
                }
                product.description = description.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        } catch {
            return .rejected(ReaderRejection(location: file.path, id: product.id, reason: "sidecar: \(error)"))
        }
        guard !product.id.isEmpty else {
            return .rejected(ReaderRejection(location: file.path, reason: "empty id"))
        }
        guard seenIDs.insert(product.id).inserted else {
            return .rejected(ReaderRejection(location: file.path, id: product.id, reason: "duplicate product id \(product.id) (another image with the same name)"))
        }
        let image = SourceImage(id: "0", origin: file.path) { try readFile(file) }
        return .item(SourceItem(product: product, images: [image]))
    }

    private static func readSidecar(_ url: URL) throws -> Data {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        guard size <= FolderReader.maxSidecarBytes else { throw ReaderError.tooLarge(origin: url.path, limit: FolderReader.maxSidecarBytes) }
        return try readFile(url)
    }

    private func applyJSON(sidecar: URL, to product: inout Product) throws {
        let data = try Self.readSidecar(sidecar)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ReaderError.invalidFormat(path: sidecar.path, reason: "not valid JSON")
        }
        guard let fields = object as? [String: Any] else {
            throw ReaderError.invalidFormat(path: sidecar.path, reason: "not a JSON object")
        }
        for (key, value) in fields {
            let text = jsonText(value)
            switch key {
            case "id": if let text, !text.isEmpty { product.id = text }
            case "name": if let text { product.name = text }
            case "description": product.description = text ?? ""
            case "category": product.category = text
            case "category_name": product.categoryName = text
            case "market": product.market = text
            default: if let text { product.extra[key] = text }
            }
        }
    }
}

/// A JSON value as text: strings as they are, numbers and booleans printed, arrays and objects
/// as compact JSON; null is nil.
func jsonText(_ value: Any) -> String? {
    switch value {
    case let string as String: return string
    case is NSNull: return nil
    case let number as NSNumber:
        // JSONSerialization gives booleans as NSNumber too.
        if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
        return number.stringValue
    default:
        guard JSONSerialization.isValidJSONObject(value),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { return String(describing: value) }
        return String(decoding: data, as: UTF8.self)
    }
}
