import Foundation
import ZIPFoundation

/// Which part of a dataset with splits to read.
public enum DatasetSplit: String, Sendable, Codable, CaseIterable {
    case test, train, all
}

/// Settings for ``DatasetFormat/makeReader(url:options:)``; each reader uses the ones that apply.
public struct ReaderOptions: Sendable {
    /// Manifest columns.
    public var manifestMapping: ManifestMapping
    /// Limits for manifest images given as URLs.
    public var downloadPolicy: DownloadPolicy
    /// Manifest image paths may be absolute or leave the manifest's folder.
    public var allowsPathsOutsideManifestFolder: Bool
    /// GLAMI-1M and Fashion-MNIST splits.
    public var split: DatasetSplit

    public init(manifestMapping: ManifestMapping = ManifestMapping(), downloadPolicy: DownloadPolicy = DownloadPolicy(),
                allowsPathsOutsideManifestFolder: Bool = false, split: DatasetSplit = .all) {
        self.manifestMapping = manifestMapping
        self.downloadPolicy = downloadPolicy
        self.allowsPathsOutsideManifestFolder = allowsPathsOutsideManifestFolder
        self.split = split
    }
}

/// The kinds of dataset ingest reads. Raw values are the names the CLI takes.
public enum DatasetFormat: String, Sendable, CaseIterable, Codable {
    case glami
    case folder
    case manifest
    case fashionMNIST = "fashion-mnist"

    static let fashionMNISTFiles = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]

    /// Guesses the format of `url`:
    /// - a zip holding `GLAMI-1M-*.csv`, or a folder with `GLAMI-1M-*.csv` in it or in its
    ///   `GLAMI-1M-dataset` subfolder → ``glami``;
    /// - a folder with Fashion-MNIST's gzipped IDX files (a split's pair is enough) → ``fashionMNIST``;
    /// - a `.csv`, `.jsonl`, `.ndjson` or `.json` file → ``manifest``;
    /// - any other folder → ``folder``.
    /// - Throws: ``ReaderError`` when `url` does not exist or is a file of none of these kinds.
    public static func detect(_ url: URL) throws -> DatasetFormat {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: url.path, isDirectory: &isDirectory) else { throw ReaderError.notFound(path: url.path) }
        if isDirectory.boolValue {
            for folder in [url, url.appendingPathComponent("GLAMI-1M-dataset")] {
                let names = (try? fileManager.contentsOfDirectory(atPath: folder.path)) ?? []
                if names.contains(where: { $0.hasPrefix("GLAMI-1M-") && $0.hasSuffix(".csv") }) { return .glami }
            }
            let names = Set((try? fileManager.contentsOfDirectory(atPath: url.path)) ?? [])
            let train = fashionMNISTFiles[0...1].allSatisfy(names.contains), test = fashionMNISTFiles[2...3].allSatisfy(names.contains)
            if train || test { return .fashionMNIST }
            return .folder
        }
        switch url.pathExtension.lowercased() {
        case "csv", "jsonl", "ndjson", "json": return .manifest
        case "zip":
            let archive: Archive
            do {
                archive = try Archive(url: url, accessMode: .read)
            } catch {
                throw ReaderError.unreadable(path: url.path, reason: "not a readable zip archive (\(error))")
            }
            for entry in archive {
                let name = (entry.path as NSString).lastPathComponent
                if name.hasPrefix("GLAMI-1M-") && name.hasSuffix(".csv") { return .glami }
            }
            throw ReaderError.invalidFormat(path: url.path, reason: "a zip without GLAMI-1M-*.csv; only GLAMI-1M zips are read (unpack other archives into a folder)")
        default:
            throw ReaderError.invalidFormat(path: url.path, reason: "not a dataset: expected a folder, a GLAMI-1M zip, or a .csv/.jsonl/.json manifest")
        }
    }

    /// A reader of this format for `url`.
    public func makeReader(url: URL, options: ReaderOptions = ReaderOptions()) throws -> any DatasetReader {
        switch self {
        case .glami:
            return GLAMIReader(url: url, split: options.split)
        case .folder:
            return FolderReader(url: url)
        case .manifest:
            return ManifestReader(url: url, mapping: options.manifestMapping, download: options.downloadPolicy,
                                  allowsPathsOutsideFolder: options.allowsPathsOutsideManifestFolder)
        case .fashionMNIST:
            return FashionMNISTReader(directory: url, split: options.split)
        }
    }
}
