import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A row-major float32 matrix in a `.npy` file (format version 1, 2 or 3; `<f4`; C order), for
/// vectors that do not fit in memory, read with `pread` in chunks or a row at a time (pages pass
/// through the page cache, never into the process's resident memory). NumPy's `np.load(path,
/// mmap_mode="r")` reads the same file.
public final class VectorFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    public let dimension: Int
    /// Bytes before the first row (the header).
    let dataOffset: Int
    private let descriptor: Int32

    /// Opens `path` and checks its header and length.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw errno == ENOENT ? VectorIndexError.notFound(file: path) : VectorIndexError.io(file: path, operation: "open", errno: errno)
        }
        do {
            var prefix = [UInt8](repeating: 0, count: 12)
            guard pread(fd, &prefix, 12, 0) == 12, prefix[0] == 0x93, Array(prefix[1...5]) == Array("NUMPY".utf8) else {
                throw VectorIndexError.corrupted(file: path, reason: "not a .npy file")
            }
            let major = prefix[6]
            let headerLength: Int, headerStart: Int
            switch major {
            case 1: headerLength = Int(prefix[8]) | Int(prefix[9]) << 8; headerStart = 10
            case 2, 3: headerLength = (0..<4).reduce(0) { $0 | Int(prefix[8 + $1]) << (8 * $1) }; headerStart = 12
            default: throw VectorIndexError.unsupportedVersion(file: path, version: UInt32(major))
            }
            guard headerLength > 0, headerLength < 1 << 20 else { throw VectorIndexError.corrupted(file: path, reason: "header length \(headerLength)") }
            var header = [UInt8](repeating: 0, count: headerLength)
            guard pread(fd, &header, headerLength, off_t(headerStart)) == headerLength else {
                throw VectorIndexError.corrupted(file: path, reason: "the header is cut short")
            }
            let text = String(decoding: header, as: UTF8.self)
            guard text.contains("'descr': '<f4'") else { throw VectorIndexError.incompatible(file: path, reason: "not little-endian float32 ('<f4')") }
            guard text.contains("'fortran_order': False") else { throw VectorIndexError.incompatible(file: path, reason: "not in C (row-major) order") }
            guard let open = text.range(of: "'shape': ("), let close = text[open.upperBound...].firstIndex(of: ")") else {
                throw VectorIndexError.corrupted(file: path, reason: "no shape in the header")
            }
            let shape = text[open.upperBound..<close].split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard shape.count == 2, let rows = shape[0], let columns = shape[1], rows >= 0, columns > 0 else {
                throw VectorIndexError.incompatible(file: path, reason: "expected a 2-D matrix, the shape is (\(text[open.upperBound..<close]))")
            }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw VectorIndexError.io(file: path, operation: "stat", errno: errno) }
            let expected = headerStart + headerLength + rows * columns * 4
            guard Int(info.st_size) >= expected else {
                throw VectorIndexError.corrupted(file: path, reason: "\(info.st_size) bytes, \(expected) expected for \(rows) × \(columns) floats")
            }
            count = rows
            dimension = columns
            dataOffset = headerStart + headerLength
            descriptor = fd
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// Reads the rows `rows` into `buffer` (`rows.count × dimension` floats).
    public func read(_ rows: Range<Int>, into buffer: UnsafeMutablePointer<Float>) throws {
        guard rows.lowerBound >= 0, rows.upperBound <= count else {
            throw VectorIndexError.invalidArgument("rows \(rows) of \(path), which has \(count)")
        }
        var done = 0
        let total = rows.count * dimension * 4
        let raw = UnsafeMutableRawPointer(buffer)
        while done < total {
            let n = pread(descriptor, raw + done, total - done, off_t(dataOffset + rows.lowerBound * dimension * 4 + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw VectorIndexError.io(file: path, operation: "read", errno: n < 0 ? errno : EIO) }
            done += n
        }
    }

    /// Calls `body(first row, rows)` for consecutive chunks of at most `rows` rows, in order.
    public func forEachChunk(rows: Int, _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        let step = max(1, rows)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: step * dimension)
        defer { buffer.deallocate() }
        for start in stride(from: 0, to: count, by: step) {
            let range = start..<min(count, start + step)
            try read(range, into: buffer)
            try body(start, UnsafeBufferPointer(start: buffer, count: range.count * dimension))
        }
    }

    /// Writes a `.npy` float32 matrix of `count × dimension` rows appended in order by `write`;
    /// `finish` checks the count and flushes. The header is written first, so the row count must
    /// be known up front.
    public final class Writer {
        public let path: String
        public let count: Int
        public let dimension: Int
        private let handle: FileHandle
        private var written = 0

        public init(path: String, count: Int, dimension: Int) throws {
            guard count >= 0, dimension > 0 else { throw VectorIndexError.invalidArgument("a \(count) × \(dimension) matrix") }
            self.path = path
            self.count = count
            self.dimension = dimension
            guard FileManager.default.createFile(atPath: path, contents: nil),
                  let handle = FileHandle(forWritingAtPath: path) else {
                throw VectorIndexError.io(file: path, operation: "create", errno: errno)
            }
            self.handle = handle
            var text = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(count), \(dimension)), }"
            // Version 1 header padded with spaces so the rows start on a 64-byte boundary.
            let unpadded = 10 + text.utf8.count + 1
            text += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
            var header: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
            let length = text.utf8.count
            header += [UInt8(length & 0xff), UInt8(length >> 8)] + Array(text.utf8)
            try handle.write(contentsOf: header)
        }

        /// Appends whole rows.
        public func write(_ rows: UnsafeBufferPointer<Float>) throws {
            guard rows.count % dimension == 0, written + rows.count / dimension <= count else {
                throw VectorIndexError.invalidArgument("\(rows.count) floats do not fit the rows left in \(path)")
            }
            try handle.write(contentsOf: UnsafeRawBufferPointer(rows))
            written += rows.count / dimension
        }

        /// Checks that every row was written, flushes to disk and closes.
        public func finish() throws {
            defer { try? handle.close() }
            guard written == count else { throw VectorIndexError.invalidArgument("\(path): \(written) of \(count) rows written") }
            try handle.synchronize()
        }
    }
}
