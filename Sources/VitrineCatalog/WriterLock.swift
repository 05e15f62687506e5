import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One writer per data directory: an exclusive, non-blocking `flock` on `url/writer.lock`.
///
/// The lock file holds a JSON description of the holder (pid, command, host, start time) so a
/// refused writer can say who holds it. `flock` locks belong to the open file description, so a
/// second ``acquire(_:holder:)`` in the same process is refused too, and the kernel drops the
/// lock when the holder dies: a crashed ingest never leaves a stale lock behind. The file itself
/// is never deleted (deleting it would let two writers lock two different inodes).
public final class WriterLock: @unchecked Sendable {
    /// What the lock file records about its holder.
    public struct Holder: Sendable, Equatable, Codable {
        public var pid: Int32
        public var command: String
        public var host: String
        public var since: Date

        /// This process, doing `command`.
        public static func thisProcess(command: String) -> Holder {
            Holder(pid: getpid(), command: command, host: WriterLock.hostName,
                   since: Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
        }

        /// "vitrine ingest, pid 4242, since 2026-11-25T17:03:00Z" (plus "on host h" when the
        /// holder runs on another machine, which a shared file system makes possible).
        public var summary: String {
            var text = "\(command), pid \(pid)"
            if host != WriterLock.hostName { text += " on host \(host)" }
            return text + ", since \(WriterLock.timestamp(since))"
        }
    }

    /// The lock file.
    public let url: URL
    /// What this lock wrote into the file.
    public let holder: Holder
    private let mutex = NSLock()
    private var descriptor: Int32

    private init(url: URL, holder: Holder, descriptor: Int32) {
        self.url = url
        self.holder = holder
        self.descriptor = descriptor
    }

    deinit { release() }

    /// Takes the writer lock of `directory`, creating the directory if needed.
    ///
    /// - Parameter holder: what the holder is doing, e.g. "vitrine ingest".
    /// - Throws: ``CatalogError/locked(path:holder:)`` when another writer (another process or
    ///   this one) holds it; ``CatalogError/readOnly(path:)`` when the directory is not writable.
    public static func acquire(_ directory: DataDirectory, holder: String) throws -> WriterLock {
        let dirPath = directory.url.path
        do {
            try FileManager.default.createDirectory(at: directory.url, withIntermediateDirectories: true)
        } catch {
            throw CatalogError.fromFoundation(error, path: dirPath, doing: "create directory")
        }
        let url = directory.writerLockURL
        let path = url.path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CatalogError.fromErrno(errno, path: path, doing: "open") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            defer { close(fd) }
            if code == EWOULDBLOCK || code == EAGAIN {
                throw CatalogError.locked(path: dirPath, holder: describeHolder(fd: fd))
            }
            throw CatalogError.fromErrno(code, path: path, doing: "flock")
        }
        let me = Holder.thisProcess(command: holder)
        do {
            try writeHolder(me, fd: fd, path: path)
        } catch {
            flock(fd, LOCK_UN)
            close(fd)
            throw error
        }
        return WriterLock(url: url, holder: me, descriptor: fd)
    }

    /// Releases the lock (idempotent). Also called on deinit.
    public func release() {
        mutex.lock()
        defer { mutex.unlock() }
        guard descriptor >= 0 else { return }
        // Clear the description first so nobody reads a released holder as current.
        _ = ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    /// Whether this object still holds the lock.
    public var isHeld: Bool {
        mutex.lock()
        defer { mutex.unlock() }
        return descriptor >= 0
    }

    /// Reads the holder of a lock file without taking it: nil when nobody holds the lock.
    /// Useful for status commands.
    public static func currentHolder(_ directory: DataDirectory) throws -> String? {
        let path = directory.writerLockURL.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw CatalogError.fromErrno(errno, path: path, doing: "open")
        }
        defer { close(fd) }
        // A shared lock succeeds exactly when no writer holds the exclusive one.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        return describeHolder(fd: fd)
    }

    // MARK: - File contents

    private static func writeHolder(_ holder: Holder, fd: Int32, path: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(holder)) ?? Data()
        guard ftruncate(fd, 0) == 0 else { throw CatalogError.fromErrno(errno, path: path, doing: "truncate") }
        var offset = 0
        while offset < data.count {
            let written = data.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress! + offset, raw.count - offset, off_t(offset))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw CatalogError.fromErrno(errno, path: path, doing: "write")
            }
            offset += written
        }
        _ = fsync(fd)
    }

    /// The holder's description from the file, or a generic one when the file is empty or not
    /// ours (e.g. locked by `flock(1)`, or a holder that has not written its record yet).
    private static func describeHolder(fd: Int32) -> String {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return "an unidentified process (the lock file names no holder)" }
        let data = Data(bytes[0..<count])
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        if let holder = try? decoder.decode(Holder.self, from: data) { return holder.summary }
        let text = String(decoding: data.prefix(200), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return "an unidentified process (lock file says: \(text))"
    }

    static var hostName: String {
        ProcessInfo.processInfo.hostName
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

extension CatalogError {
    /// Maps a Foundation file error to the catalog's cases (errno when it has one).
    static func fromFoundation(_ error: Error, path: String, doing action: String) -> CatalogError {
        if let catalogError = error as? CatalogError { return catalogError }
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return fromErrno(Int32(underlying.code), path: path, doing: action)
        }
        if nsError.domain == NSPOSIXErrorDomain { return fromErrno(Int32(nsError.code), path: path, doing: action) }
        if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case NSFileWriteNoPermissionError, NSFileReadNoPermissionError, NSFileWriteVolumeReadOnlyError:
                return .readOnly(path: path)
            case NSFileWriteOutOfSpaceError: return .diskFull(path: path)
            case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return .notFound(path: path)
            default: break
            }
        }
        return .io(path: path, reason: "\(action): \(error.localizedDescription)")
    }
}
