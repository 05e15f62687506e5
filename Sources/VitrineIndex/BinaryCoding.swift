import Foundation

/// Little-endian encoding of the index files' fields into a byte buffer.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    mutating func floats(_ p: UnsafePointer<Float>, count: Int) {
        UnsafeRawBufferPointer(start: p, count: count * 4).withMemoryRebound(to: UInt8.self) { bytes.append(contentsOf: $0) }
    }
    mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }
}

/// Bounds-checked little-endian decoding; running out of bytes is corruption of `file`, reported
/// with `what` was being read.
struct ByteReader {
    let bytes: [UInt8]
    var offset: Int
    let file: String

    init(_ bytes: [UInt8], file: String, offset: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int, _ what: String) throws -> Int {
        guard n >= 0, n <= remaining else {
            throw VectorIndexError.corrupted(file: file, reason: "truncated while reading \(what) at byte \(offset)")
        }
        defer { offset += n }
        return offset
    }

    private mutating func integer<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        let at = try take(MemoryLayout<T>.size, what)
        return bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
    }

    mutating func u8(_ what: String) throws -> UInt8 { try integer(UInt8.self, what) }
    mutating func u16(_ what: String) throws -> UInt16 { try integer(UInt16.self, what) }
    mutating func u32(_ what: String) throws -> UInt32 { try integer(UInt32.self, what) }
    mutating func u64(_ what: String) throws -> UInt64 { try integer(UInt64.self, what) }

    mutating func string(_ what: String) throws -> String {
        let length = Int(try u32(what))
        let at = try take(length, what)
        guard let s = String(validating: bytes[at..<at + length], as: UTF8.self) else {
            throw VectorIndexError.corrupted(file: file, reason: "\(what) is not UTF-8")
        }
        return s
    }

    mutating func floats(into p: UnsafeMutablePointer<Float>, count: Int, _ what: String) throws {
        let at = try take(count * 4, what)
        bytes.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(p).copyMemory(from: raw.baseAddress! + at, byteCount: count * 4)
        }
    }

    mutating func bytes(_ n: Int, _ what: String) throws -> ArraySlice<UInt8> {
        let at = try take(n, what)
        return bytes[at..<at + n]
    }
}

/// Thin wrappers over file-descriptor calls that report failures as ``VectorIndexError/io``.
enum FileIO {
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let fd = Foundation.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw VectorIndexError.io(file: path, operation: "open", errno: errno) }
        return fd
    }

    static func writeAll(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int, path: String) throws {
        var done = 0
        while done < count {
            let n = Foundation.write(fd, p + done, min(count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw VectorIndexError.io(file: path, operation: "write", errno: errno)
            }
            done += n
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0.baseAddress!, $0.count, path: path) }
    }

    /// Reads exactly `count` bytes unless the file ends first; returns how many were read.
    static func readFully(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ count: Int, path: String) throws -> Int {
        var done = 0
        while done < count {
            let n = Foundation.read(fd, p + done, min(count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw VectorIndexError.io(file: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads up to `count` bytes at `offset` without moving the file position; fewer only when
    /// the file ends first. Returns how many were read.
    static func readFully(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ count: Int, at offset: Int, path: String) throws -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, p + done, min(count - done, 1 << 30), off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw VectorIndexError.io(file: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads up to `count` bytes at `offset` (fewer when the file ends first).
    static func read(_ fd: Int32, count: Int, at offset: Int, path: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = count == 0 ? 0 : try bytes.withUnsafeMutableBytes { try readFully(fd, $0.baseAddress!, count, at: offset, path: path) }
        if n < count { bytes.removeLast(count - n) }
        return bytes
    }

    static func status(_ fd: Int32, path: String) throws -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw VectorIndexError.io(file: path, operation: "stat", errno: errno) }
        return info
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw VectorIndexError.io(file: path, operation: "stat", errno: errno) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let n = try bytes.withUnsafeMutableBytes { try readFully(fd, $0.baseAddress!, $0.count, path: path) }
        if n < bytes.count { bytes.removeLast(bytes.count - n) }
        return bytes
    }

    static func sync(_ fd: Int32, path: String) throws {
        guard fsync(fd) == 0 else { throw VectorIndexError.io(file: path, operation: "fsync", errno: errno) }
    }

    /// Makes a rename or file creation in `directory` durable.
    static func syncDirectory(_ directory: String) throws {
        let fd = try open(directory, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try sync(fd, path: directory)
    }

    static func rename(_ from: String, _ to: String) throws {
        guard Foundation.rename(from, to) == 0 else { throw VectorIndexError.io(file: to, operation: "rename", errno: errno) }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

/// Which file a descriptor or path refers to (device and inode): tells a follower that a new log
/// was renamed over the one it holds.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
