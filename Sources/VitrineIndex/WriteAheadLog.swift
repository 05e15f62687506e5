import Foundation

/// One logged write batch.
enum LoggedBatch: Equatable {
    case upsert(sequence: UInt64, records: [VectorRecord])
    case delete(sequence: UInt64, keys: [VectorKey])

    var sequence: UInt64 {
        switch self {
        case .upsert(let s, _), .delete(let s, _): s
        }
    }
}

/// The write-ahead log `wal.log`: every write batch is appended and fsynced before it is applied
/// and acknowledged, so an acknowledged batch survives a crash.
///
/// Format (little-endian), version 1:
/// - header, 32 bytes: magic `VTRNWAL\0`, version u32, metric u8, 3 zero bytes, dimension u32,
///   base sequence u64 (the snapshot it follows), CRC32C of the previous 28 bytes.
/// - records: payload length u32, payload CRC32C u32, CRC32C of those 8 bytes u32, payload
///   (sequence u64, operation u8 — 1 upsert, 2 delete — count u32, entries).
///
/// Recovery: a record cut short by the end of the file (or a zero-filled tail) is the torn write
/// of a batch that was never acknowledged; it is discarded and the file truncated there. Any
/// other damage — a bad checksum, a sequence gap — is reported as corruption, because skipping it
/// would silently lose acknowledged batches. A follower reads through ``Reader`` too, but never
/// truncates, and also waits at a bad checksum in the very last record (an append caught half-done).
final class WriteAheadLog {
    static let magic: [UInt8] = Array("VTRNWAL\0".utf8)
    static let version: UInt32 = 1
    static let headerSize = 32
    static let recordHeaderSize = 12

    let path: String
    let dimension: Int
    let metric: Metric
    private(set) var baseSequence: UInt64
    private(set) var lastSequence: UInt64
    private(set) var size: Int
    private var fd: Int32
    let syncWrites: Bool

    private init(path: String, fd: Int32, dimension: Int, metric: Metric, base: UInt64, last: UInt64, size: Int, sync: Bool) {
        self.path = path
        self.fd = fd
        self.dimension = dimension
        self.metric = metric
        baseSequence = base
        lastSequence = last
        self.size = size
        syncWrites = sync
    }

    deinit { if fd >= 0 { Foundation.close(fd) } }

    static func header(dimension: Int, metric: Metric, base: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.raw(magic)
        w.u32(version)
        w.u8(metric.code)
        w.raw([0, 0, 0])
        w.u32(UInt32(dimension))
        w.u64(base)
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Replaces the log with an empty one following `base` (after a snapshot): written aside,
    /// fsynced, renamed over, directory fsynced.
    static func reset(path: String, dimension: Int, metric: Metric, base: UInt64, sync: Bool) throws -> WriteAheadLog {
        let temporary = path + ".tmp"
        let out = try FileIO.open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try FileIO.writeAll(out, header(dimension: dimension, metric: metric, base: base), path: temporary)
            if sync { try FileIO.sync(out, path: temporary) }
        } catch {
            Foundation.close(out)
            throw error
        }
        Foundation.close(out)
        try FileIO.rename(temporary, path)
        if sync { try FileIO.syncDirectory((path as NSString).deletingLastPathComponent) }
        let fd = try FileIO.open(path, O_WRONLY | O_APPEND)
        return WriteAheadLog(path: path, fd: fd, dimension: dimension, metric: metric, base: base, last: base,
                             size: headerSize, sync: sync)
    }

    /// Opens an existing log, hands every complete batch to `replay` in order, discards a torn
    /// tail, and returns the log ready for appending.
    static func open(path: String, dimension: Int, metric: Metric, sync: Bool,
                     replay: (LoggedBatch) throws -> Void) throws -> WriteAheadLog {
        let name = (path as NSString).lastPathComponent
        let reader = try Reader.open(path: path, dimension: dimension, metric: metric)
        let size = try reader.size()
        let (validEnd, last) = try reader.scan(from: headerSize, limit: size, after: reader.baseSequence,
                                               damagedTailIsIncomplete: false) { batch, _ in try replay(batch) }
        let fd = try FileIO.open(path, O_WRONLY | O_APPEND)
        if validEnd < size {
            // Drop the torn tail so new records follow the last complete one.
            guard ftruncate(fd, off_t(validEnd)) == 0 else {
                Foundation.close(fd)
                throw VectorIndexError.io(file: path, operation: "truncate torn tail of \(name)", errno: errno)
            }
            if sync { try FileIO.sync(fd, path: path) }
        }
        return WriteAheadLog(path: path, fd: fd, dimension: dimension, metric: metric, base: reader.baseSequence,
                             last: last, size: validEnd, sync: sync)
    }

    /// Appends a batch and makes it durable.
    func append(_ batch: LoggedBatch) throws {
        let payload = Self.encode(batch, dimension: dimension)
        var record = ByteWriter()
        record.u32(UInt32(payload.count))
        record.u32(CRC32C.checksum(payload))
        record.u32(CRC32C.checksum(record.bytes))
        record.raw(payload)
        try FileIO.writeAll(fd, record.bytes, path: path)
        if syncWrites {
            guard fdatasync(fd) == 0 else { throw VectorIndexError.io(file: path, operation: "fdatasync", errno: errno) }
        }
        size += record.bytes.count
        lastSequence = batch.sequence
    }

    func close() {
        if fd >= 0 { Foundation.close(fd) }
        fd = -1
    }

    // MARK: Encoding

    static func encode(_ batch: LoggedBatch, dimension: Int) -> [UInt8] {
        var w = ByteWriter()
        w.u64(batch.sequence)
        switch batch {
        case .upsert(_, let records):
            w.bytes.reserveCapacity(16 + records.count * (dimension * 4 + 32))
            w.u8(1)
            w.u32(UInt32(records.count))
            for record in records {
                w.string(record.key.product)
                w.string(record.key.image)
                w.u16(UInt16(record.attributes.count))
                for (name, value) in record.attributes.sorted(by: { $0.key < $1.key }) {
                    w.string(name)
                    w.string(value)
                }
                record.vector.withUnsafeBufferPointer { w.floats($0.baseAddress!, count: dimension) }
            }
        case .delete(_, let keys):
            w.u8(2)
            w.u32(UInt32(keys.count))
            for key in keys {
                w.string(key.product)
                w.string(key.image)
            }
        }
        return w.bytes
    }

    static func decode(_ payload: [UInt8], dimension: Int, file: String) throws -> LoggedBatch {
        var r = ByteReader(payload, file: file)
        let sequence = try r.u64("sequence")
        let operation = try r.u8("operation")
        let count = Int(try r.u32("count"))
        switch operation {
        case 1:
            guard count <= r.remaining / (dimension * 4) else {
                throw VectorIndexError.corrupted(file: file, reason: "batch \(sequence) claims \(count) records")
            }
            var records: [VectorRecord] = []
            records.reserveCapacity(count)
            for _ in 0..<count {
                let key = VectorKey(product: try r.string("product id"), image: try r.string("image id"))
                var attributes: [String: String] = [:]
                for _ in 0..<Int(try r.u16("attribute count")) {
                    let name = try r.string("attribute name")
                    attributes[name] = try r.string("attribute value")
                }
                var vector = [Float](repeating: 0, count: dimension)
                try vector.withUnsafeMutableBufferPointer { try r.floats(into: $0.baseAddress!, count: dimension, "vector") }
                records.append(VectorRecord(key: key, vector: vector, attributes: attributes))
            }
            guard r.remaining == 0 else { throw VectorIndexError.corrupted(file: file, reason: "batch \(sequence) has trailing bytes") }
            return .upsert(sequence: sequence, records: records)
        case 2:
            guard count <= r.remaining / 8 else {
                throw VectorIndexError.corrupted(file: file, reason: "batch \(sequence) claims \(count) keys")
            }
            var keys: [VectorKey] = []
            keys.reserveCapacity(count)
            for _ in 0..<count {
                keys.append(VectorKey(product: try r.string("product id"), image: try r.string("image id")))
            }
            guard r.remaining == 0 else { throw VectorIndexError.corrupted(file: file, reason: "batch \(sequence) has trailing bytes") }
            return .delete(sequence: sequence, keys: keys)
        default:
            throw VectorIndexError.corrupted(file: file, reason: "batch \(sequence) has unknown operation \(operation)")
        }
    }
}

extension WriteAheadLog {
    /// A log file read record by record through a read-only descriptor. The writer's recovery and
    /// a follower's catch-up share it; it never changes the file (truncating a torn tail is the
    /// writer's business).
    final class Reader {
        let path: String
        let dimension: Int
        /// The sequence of the snapshot this log follows.
        let baseSequence: UInt64
        /// The file held open. Holding it keeps its inode number from being reused after a
        /// checkpoint renames a new log over the path, so comparing identities is reliable.
        let identity: FileIdentity
        private let fd: Int32

        private init(path: String, fd: Int32, dimension: Int, baseSequence: UInt64, identity: FileIdentity) {
            self.path = path
            self.fd = fd
            self.dimension = dimension
            self.baseSequence = baseSequence
            self.identity = identity
        }

        deinit { Foundation.close(fd) }

        /// Opens the log and checks its header against the index's dimension and metric.
        static func open(path: String, dimension: Int, metric: Metric) throws -> Reader {
            let fd = try FileIO.open(path, O_RDONLY)
            do {
                let identity = FileIdentity(try FileIO.status(fd, path: path))
                let bytes = try FileIO.read(fd, count: headerSize, at: 0, path: path)
                func corrupt(_ reason: String) -> VectorIndexError { .corrupted(file: path, reason: reason) }
                guard bytes.count == headerSize else { throw corrupt("header truncated (\(bytes.count) of \(headerSize) bytes)") }
                guard Array(bytes[0..<8]) == magic else { throw corrupt("not a Vitrine write-ahead log (bad magic)") }
                var r = ByteReader(bytes, file: path, offset: 8)
                let version = try r.u32("version")
                var c = ByteReader(bytes, file: path, offset: 28)
                guard CRC32C.checksum(Array(bytes[0..<28])) == (try c.u32("header checksum")) else {
                    throw corrupt("header checksum mismatch")
                }
                guard version == WriteAheadLog.version else { throw VectorIndexError.unsupportedVersion(file: path, version: version) }
                let metricCode = try r.u8("metric")
                _ = try r.bytes(3, "padding")
                let fileDimension = Int(try r.u32("dimension"))
                let base = try r.u64("base sequence")
                guard Metric(code: metricCode) == metric, fileDimension == dimension else {
                    throw VectorIndexError.incompatible(
                        file: path, reason: "log is for dimension \(fileDimension) metric \(Metric(code: metricCode)?.rawValue ?? "?"), index is \(dimension) \(metric.rawValue)")
                }
                return Reader(path: path, fd: fd, dimension: dimension, baseSequence: base, identity: identity)
            } catch {
                Foundation.close(fd)
                throw error
            }
        }

        /// The file's current length.
        func size() throws -> Int { Int(try FileIO.status(fd, path: path).st_size) }

        /// Hands every complete record between `offset` (a record boundary) and `limit` to `body`
        /// in order, with the offset just past it, checking that sequences continue from `last`.
        ///
        /// Stops early, without error, at a record cut short by `limit` or a zero-filled tail: an
        /// append in progress, or one a crash interrupted (never acknowledged). A record failing
        /// its checksum is corruption, unless `damagedTailIsIncomplete` and the damaged bytes reach
        /// `limit`: a follower may read a record the writer has not finished writing.
        /// - Returns: the offset after the last record handed over, and its sequence.
        func scan(from offset: Int, limit: Int, after last: UInt64, damagedTailIsIncomplete: Bool,
                  _ body: (LoggedBatch, Int) throws -> Void) throws -> (end: Int, last: UInt64) {
            func corrupt(_ reason: String) -> VectorIndexError { .corrupted(file: path, reason: reason) }
            var offset = offset
            var last = last
            while limit - offset >= recordHeaderSize {
                let head = try FileIO.read(fd, count: recordHeaderSize, at: offset, path: path)
                guard head.count == recordHeaderSize else { break }  // the file shrank: cut short
                var h = ByteReader(head, file: path)
                let length = Int(try h.u32("record length"))
                let payloadCRC = try h.u32("record checksum")
                let headerCRC = try h.u32("record header checksum")
                guard CRC32C.checksum(Array(head[0..<8])) == headerCRC else {
                    if try isZero(from: offset, to: limit) { break }  // zero-filled tail of an interrupted append
                    if damagedTailIsIncomplete, offset + recordHeaderSize == limit { break }
                    throw corrupt("record header at byte \(offset) has a bad checksum")
                }
                let start = offset + recordHeaderSize
                guard length <= limit - start else { break }  // payload cut short: never acknowledged
                let payload = try FileIO.read(fd, count: length, at: start, path: path)
                guard payload.count == length else { break }
                guard CRC32C.checksum(payload) == payloadCRC else {
                    if damagedTailIsIncomplete, start + length == limit { break }
                    throw corrupt("record at byte \(offset) has a bad checksum")
                }
                let batch = try decode(payload, dimension: dimension, file: path)
                guard batch.sequence == last + 1 else {
                    throw corrupt("record at byte \(offset) has sequence \(batch.sequence), expected \(last + 1)")
                }
                try body(batch, start + length)
                last = batch.sequence
                offset = start + length
            }
            return (offset, last)
        }

        /// Whether the file holds only zeros in `start..<end` (read in bounded pieces).
        private func isZero(from start: Int, to end: Int) throws -> Bool {
            var position = start
            while position < end {
                let piece = try FileIO.read(fd, count: min(end - position, 1 << 20), at: position, path: path)
                guard !piece.isEmpty else { return true }
                guard piece.allSatisfy({ $0 == 0 }) else { return false }
                position += piece.count
            }
            return true
        }
    }
}
