import Foundation
import VitrineCatalog
import VitrineIndex

/// Indexes as directories of one folder (the data directory): `index/`, `index-2/`, … (and the
/// text index, `text/`, `text-2/`, …), each an
/// ``EmbeddedVectorStore``, a build's marker a file `reindex.json` inside.
public struct EmbeddedVectorSpace: VectorSpace {
    public let root: URL
    public static let markerName = "reindex.json"

    public init(root: URL) {
        self.root = root
    }

    public var kind: String { "embedded" }
    public var location: String { root.path }

    public func url(of name: String) -> URL {
        root.appendingPathComponent(name, isDirectory: true)
    }

    public func open(_ name: String, configuration: VectorStoreConfiguration, writer: Bool) throws -> any VectorStore {
        writer ? try EmbeddedVectorStore(directory: url(of: name), configuration: configuration)
            : try EmbeddedVectorStore(following: url(of: name), configuration: configuration)
    }

    public func exists(_ name: String) throws -> Bool {
        FileManager.default.fileExists(atPath: url(of: name).path)
    }

    public func indexNames() throws -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { DataDirectory.isIndexDirectoryName($0) || DataDirectory.isTextIndexName($0) }.sorted()
    }

    public func marker(of name: String) throws -> Data? {
        FileManager.default.contents(atPath: url(of: name).appendingPathComponent(Self.markerName).path)
    }

    public func setMarker(_ marker: Data?, of name: String) throws {
        let file = url(of: name).appendingPathComponent(Self.markerName)
        do {
            if let marker {
                try FileManager.default.createDirectory(at: url(of: name), withIntermediateDirectories: true)
                try marker.write(to: file, options: .atomic)
            } else if FileManager.default.fileExists(atPath: file.path) {
                try FileManager.default.removeItem(at: file)
            }
        } catch {
            throw LifecycleError("cannot \(marker == nil ? "remove" : "write") \(file.path): \(error.localizedDescription)")
        }
    }

    public func remove(_ name: String) throws {
        let folder = url(of: name)
        guard FileManager.default.fileExists(atPath: folder.path) else { return }
        do { try FileManager.default.removeItem(at: folder) } catch {
            throw LifecycleError("cannot remove the index directory \(folder.path): \(error.localizedDescription)")
        }
    }

    public func size(of name: String) -> Int64? {
        guard let files = FileManager.default.enumerator(at: url(of: name), includingPropertiesForKeys: [.fileSizeKey]) else { return nil }
        var total: Int64 = 0
        for case let file as URL in files {
            total += Int64((try? file.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0)
        }
        return total
    }

    public func close() {}
}
