import Foundation
import VitrineCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Content-addressed files: `<directory>/<sha[0..2]>/<sha[2..4]>/<sha256>.<ext>`.
///
/// ``put(_:ext:)`` takes ``HashedData``, so a key always names its content, and writes
/// atomically: a temporary file in the target directory, fsync, rename, then an fsync of the
/// directory so the rename survives a power cut. Readers therefore never see a partial blob.
/// Temporary files start with "." and are ignored by ``keys()``.
public final class FileBlobStore: BlobStore, @unchecked Sendable {
    /// The root of the store.
    public let directory: URL

    /// Opens (creating if needed) the store rooted at `directory`.
    public init(directory: URL) throws {
        self.directory = directory.standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        } catch {
            throw CatalogError.fromFoundation(error, path: self.directory.path, doing: "create directory")
        }
    }

    public var backend: StoreBackend { StoreBackend(kind: "files", location: directory.path) }

    public func location(of key: BlobKey) -> String { url(for: key).path }

    public func size(of key: BlobKey) throws -> Int? {
        var info = stat()
        guard stat(url(for: key).path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw CatalogError.fromErrno(errno, path: url(for: key).path, doing: "stat")
        }
        return Int(info.st_size)
    }

    /// Where the blob of `key` lives (for serving files); the file may not exist.
    public func url(for key: BlobKey) -> URL {
        let hex = key.sha256
        let first = String(hex.prefix(2))
        let second = String(hex.dropFirst(2).prefix(2))
        return directory
            .appendingPathComponent(first, isDirectory: true)
            .appendingPathComponent(second, isDirectory: true)
            .appendingPathComponent(key.description)
    }

    public func put(_ content: HashedData, ext: String) throws -> BlobKey {
        let key = try BlobKey(content, ext: ext)
        let target = url(for: key)
        // Same name means same bytes: an existing file is already the blob.
        if FileManager.default.fileExists(atPath: target.path) { return key }
        let folder = target.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw CatalogError.fromFoundation(error, path: folder.path, doing: "create directory")
        }
        let temporary = folder.appendingPathComponent(".\(key.description).\(UUID().uuidString).tmp")
        try writeDurably(content.data, to: temporary.path)
        if rename(temporary.path, target.path) != 0 {
            let code = errno
            unlink(temporary.path)
            throw CatalogError.fromErrno(code, path: target.path, doing: "rename")
        }
        syncDirectory(folder.path)
        return key
    }

    public func get(_ key: BlobKey) throws -> Data {
        let path = url(for: key).path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw CatalogError.blobNotFound(key) }
            throw CatalogError.fromErrno(errno, path: path, doing: "open")
        }
        defer { close(fd) }
        var result = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CatalogError.fromErrno(errno, path: path, doing: "read")
            }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return result
    }

    public func contains(_ key: BlobKey) throws -> Bool {
        FileManager.default.fileExists(atPath: url(for: key).path)
    }

    public func delete(_ key: BlobKey) throws {
        let path = url(for: key).path
        if unlink(path) != 0, errno != ENOENT {
            throw CatalogError.fromErrno(errno, path: path, doing: "delete")
        }
    }

    /// Every stored key, sorted. Files that are not blobs (temporary files, strays, blobs in the
    /// wrong folder) are skipped.
    public func keys() throws -> [BlobKey] {
        var keys: [BlobKey] = []
        for first in try entries(of: directory) where Self.isHexPair(first) {
            let firstURL = directory.appendingPathComponent(first, isDirectory: true)
            for second in try entries(of: firstURL) where Self.isHexPair(second) {
                let secondURL = firstURL.appendingPathComponent(second, isDirectory: true)
                for name in try entries(of: secondURL) {
                    guard let key = BlobKey(name), key.sha256.hasPrefix(first + second) else { continue }
                    keys.append(key)
                }
            }
        }
        return keys.sorted()
    }

    /// Removes temporary files a crashed `put` left behind; returns how many.
    @discardableResult
    public func removeLeftovers() throws -> Int {
        var removed = 0
        for first in try entries(of: directory) where Self.isHexPair(first) {
            let firstURL = directory.appendingPathComponent(first, isDirectory: true)
            for second in try entries(of: firstURL) where Self.isHexPair(second) {
                let secondURL = firstURL.appendingPathComponent(second, isDirectory: true)
                for name in try entries(of: secondURL) where name.hasPrefix(".") && name.hasSuffix(".tmp") {
                    if unlink(secondURL.appendingPathComponent(name).path) == 0 { removed += 1 }
                }
            }
        }
        return removed
    }

    // MARK: - Helpers

    private static func isHexPair(_ name: String) -> Bool {
        Hex.isLowercaseHex(name, count: 2)
    }

    /// Names in a directory; an absent directory has none.
    private func entries(of folder: URL) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            let mapped = CatalogError.fromFoundation(error, path: folder.path, doing: "list")
            if case .notFound = mapped { return [] }
            // A regular file where a folder should be is a stray, not a failure.
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return []
            }
            throw mapped
        }
    }

    private func writeDurably(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CatalogError.fromErrno(errno, path: path, doing: "create") }
        var failure: CatalogError?
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let written = write(fd, base + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = CatalogError.fromErrno(errno, path: path, doing: "write")
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(fd) != 0 {
            failure = CatalogError.fromErrno(errno, path: path, doing: "fsync")
        }
        if close(fd) != 0, failure == nil {
            failure = CatalogError.fromErrno(errno, path: path, doing: "close")
        }
        if let failure {
            unlink(path)
            throw failure
        }
    }

    /// Best effort: some file systems refuse fsync on directories, and the blob is already
    /// complete under its final name.
    private func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}
