import Crypto
import Foundation
import VitrineCatalog
import VitrineCore

/// Which model built a data directory's vectors, and the check that a query uses the same one:
/// vectors of two different models live in unrelated spaces, so mixing them gives meaningless
/// neighbours rather than an error unless we refuse.
public enum ModelIdentity {
    /// SHA-256 over the model's weight files (`*.safetensors`, sorted by name; each file's name and
    /// bytes), read in 4 MB chunks. Computed once at ingest, stored in the model record.
    public static func weightsSHA256(directory: URL) throws -> String {
        let files = try weightFiles(in: directory)
        var hasher = SHA256()
        for file in files {
            hasher.update(data: Data(file.lastPathComponent.utf8))
            guard let handle = FileHandle(forReadingAtPath: file.path) else {
                throw EngineError.model(path: file.path, reason: "cannot read the weights")
            }
            defer { try? handle.close() }
            while true {
                let chunk = try handle.read(upToCount: 4 << 20) ?? Data()
                if chunk.isEmpty { break }
                hasher.update(data: chunk)
            }
        }
        return Hex.encode(hasher.finalize())
    }

    static func weightFiles(in directory: URL) throws -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let files = names.filter { $0.hasSuffix(".safetensors") }.sorted()
            .map { directory.appendingPathComponent($0) }
        guard !files.isEmpty else {
            throw EngineError.model(path: directory.path, reason: "no .safetensors weights in the directory")
        }
        return files
    }

    /// The record to store for a model given as `specifier` (what the user typed: a hub repo id or
    /// a directory) that resolved to `directory`. A hub snapshot's revision is its commit, the
    /// name of the snapshot directory.
    public static func record(specifier: String, directory: URL, precision: String, dimension: Int) throws -> ModelRecord {
        let isHubSnapshot = directory.deletingLastPathComponent().lastPathComponent == "snapshots"
        let source = isHubSnapshot ? hubRepo(specifier) : directory.standardizedFileURL.path
        return ModelRecord(
            source: source,
            revision: isHubSnapshot ? directory.lastPathComponent : nil,
            precision: precision,
            weightsSHA256: try weightsSHA256(directory: directory),
            dimension: dimension)
    }

    /// `owner/name@rev` → `owner/name`.
    static func hubRepo(_ specifier: String) -> String {
        String(specifier.split(separator: "@", maxSplits: 1).first ?? Substring(specifier))
    }

    /// Checks that the model at `directory` is the one that built the vectors: the same hub
    /// snapshot matches as is; anything else is hashed once (at start-up, not per query) and
    /// compared, so a copy of the same weights elsewhere matches too. Precision may differ: it
    /// changes embeddings by far less than any ranking cares about.
    public static func check(_ record: ModelRecord, specifier: String, directory: URL, data: URL) throws {
        let isHubSnapshot = directory.deletingLastPathComponent().lastPathComponent == "snapshots"
        let source = isHubSnapshot ? hubRepo(specifier) : directory.standardizedFileURL.path
        let revision = isHubSnapshot ? directory.lastPathComponent : nil
        // A hub snapshot is immutable; a directory may have been overwritten in place, so it is hashed.
        if isHubSnapshot && source == record.source && revision == record.revision { return }
        if try weightsSHA256(directory: directory) == record.weightsSHA256 { return }
        throw EngineError.modelMismatch(
            data: data.path, recorded: record.source + (record.revision.map { "@" + $0 } ?? ""), given: specifier)
    }
}

extension ModelRecord {
    /// What `--model` would have to say to load this model: the directory, or `repo@revision`.
    public var specifier: String { source + (revision.map { "@" + $0 } ?? "") }
}
