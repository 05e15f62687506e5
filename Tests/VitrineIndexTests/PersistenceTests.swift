import Foundation
import Testing
@testable import VitrineIndex

@Suite struct PersistenceTests {
    let data = TestData.mixture(count: 1500, dimension: 16)
    var configuration: VectorStoreConfiguration {
        var c = TestData.hnsw(dimension: 16)
        c.syncWrites = true
        return c
    }

    func fill(_ store: EmbeddedVectorStore) throws {
        _ = try store.upsert(TestData.records(Array(data.vectors.prefix(1000)), labels: Array(data.labels.prefix(1000))))
        _ = try store.delete((0..<50).map(TestData.key))
        _ = try store.upsert(TestData.records(Array(data.vectors[1000..<1500]), labels: Array(data.labels[1000..<1500]), offset: 1000))
        _ = try store.upsert([VectorRecord(key: TestData.key(60), vector: data.vectors[7], attributes: ["cluster": "x"])])
    }

    func answers(_ store: EmbeddedVectorStore) throws -> [[SearchHit]] {
        try data.vectors.suffix(25).map { try store.search($0, k: 10) }
            + [try store.search(data.vectors[3], k: 10, filter: VectorFilter(["cluster": ["x", "2"]]))]
    }

    @Test func closeAndReopenGivesIdenticalResults() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        try fill(store)
        let expected = try answers(store)
        let keys = try store.keys()
        #expect(try store.lastSequence() == 4)
        try store.close()
        #expect(throws: VectorIndexError.closed) { try store.search(data.vectors[0], k: 1) }

        let reopened = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        #expect(try reopened.lastSequence() == 4)
        #expect(try reopened.keys() == keys)
        #expect(try answers(reopened) == expected)
        #expect(TestData.close(try reopened.vector(for: TestData.key(60)), TestData.normalized(data.vectors[7])))
        // Writes continue the sequence.
        #expect(try reopened.delete([TestData.key(70)]) == 5)
        try reopened.close()
    }

    @Test func logIsReplayedAfterACrashWithoutSnapshot() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        try fill(store)
        let expected = try answers(store)
        store.abandon()  // as if the process died: no snapshot was written
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("snapshot.vidx").path))

        let recovered = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        #expect(try recovered.lastSequence() == 4)
        #expect(try recovered.count() == 1450)
        // The graph is rebuilt in the same order from the same seed: same answers.
        let got = try answers(recovered)
        #expect(TestData.recall(got.map { $0.map(\.key) }, expected.map { $0.map(\.key) }) >= 0.98)

        // Snapshot then more logged writes, then crash: snapshot + log tail.
        try recovered.flush()
        #expect(try recovered.upsert([VectorRecord(key: TestData.key(9999), vector: data.vectors[9])]) == 5)
        recovered.abandon()
        let again = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        #expect(try again.lastSequence() == 5)
        #expect(try again.contains(TestData.key(9999)))
        try again.close()
    }

    @Test func exactStoresPersistToo() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let exact = VectorStoreConfiguration(dimension: 16, metric: .l2, algorithm: .exact, syncWrites: true)
        let store = try EmbeddedVectorStore(directory: directory, configuration: exact)
        try fill(store)
        let expected = try answers(store)
        try store.close()
        let reopened = try EmbeddedVectorStore(directory: directory, configuration: exact)
        #expect(try answers(reopened) == expected)
        #expect(try reopened.lastSequence() == 4)
        try reopened.close()
        #expect(throws: VectorIndexError.self) {
            try EmbeddedVectorStore(directory: directory, configuration: configuration)  // cosine ≠ l2
        }
    }

    /// A store refused after its snapshot was read (another metric) closes its directory lock
    /// once. Closing it a second time would close whatever descriptor took the number in between:
    /// here a thread writing to /dev/null on fresh descriptors sees EBADF, as a concurrent test's
    /// write-ahead log once did.
    @Test func aRefusedOpenClosesNoOtherDescriptor() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        _ = try store.upsert(TestData.records(Array(data.vectors.prefix(50))))
        try store.close()
        var l2 = configuration
        l2.metric = .l2
        let stop = Flag(), failures = Flag()
        let writer = Thread {
            let byte: [UInt8] = [0]
            while !stop.isSet {
                let fd = open("/dev/null", O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { continue }
                for _ in 0..<20 where write(fd, byte, 1) != 1 { failures.set() }
                close(fd)
            }
        }
        writer.start()
        defer { stop.set() }
        for _ in 0..<400 {
            #expect(throws: VectorIndexError.self) { try EmbeddedVectorStore(directory: directory, configuration: l2) }
            if failures.isSet { break }
        }
        stop.set()
        #expect(!failures.isSet, "a descriptor of another thread was closed under it")
    }

    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.withLock { value } }
        func set() { lock.withLock { value = true } }
    }

    @Test func largeLogsAreCheckpointedAutomatically() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var small = configuration
        small.checkpointBytes = 20_000
        let store = try EmbeddedVectorStore(directory: directory, configuration: small)
        for start in stride(from: 0, to: 1500, by: 100) {
            _ = try store.upsert(TestData.records(Array(data.vectors[start..<start + 100]), offset: start))
        }
        let log = directory.appendingPathComponent("wal.log").path
        let size = try FileManager.default.attributesOfItem(atPath: log)[.size] as! Int
        #expect(size < 20_000 + 100 * 16 * 4 + 2000)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("snapshot.vidx").path))
        let expected = try answers(store)
        store.abandon()
        let reopened = try EmbeddedVectorStore(directory: directory, configuration: small)
        #expect(try reopened.lastSequence() == 15)
        #expect(try reopened.count() == 1500)
        #expect(TestData.recall(try answers(reopened).map { $0.map(\.key) }, expected.map { $0.map(\.key) }) >= 0.98)
        reopened.abandon()
    }

    @Test func aSecondOpenOfTheSameDirectoryIsRefused() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        #expect(throws: VectorIndexError.locked(file: directory.path + "/LOCK")) {
            try EmbeddedVectorStore(directory: directory, configuration: configuration)
        }
        try store.close()
        var other = configuration
        other.dimension = 8
        #expect(throws: VectorIndexError.self) { try EmbeddedVectorStore(directory: directory, configuration: other) }
    }

    @Test func tornLogTailIsDiscardedAndEverythingBeforeItKept() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        try fill(store)
        store.abandon()
        let log = directory.appendingPathComponent("wal.log").path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: log))
        let offsets = recordOffsets(bytes)
        #expect(offsets.count == 4)
        // Cut inside the last record (header or payload) or add zeros: batches 1–3 survive.
        for cut in [offsets[3] + 5, offsets[3] + 20, bytes.count - 1] {
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: log))
            let recovered = try EmbeddedVectorStore(directory: directory, configuration: configuration)
            #expect(try recovered.lastSequence() == 3)
            #expect(TestData.close(try recovered.vector(for: TestData.key(60)), TestData.normalized(data.vectors[60])))
            #expect(try recovered.count() == 1450)
            recovered.abandon()
            // The torn tail was cut off: the next write lands after batch 3.
            #expect(try Data(contentsOf: URL(fileURLWithPath: log)).count == offsets[3])
        }
        try (bytes + Data(repeating: 0, count: 4096)).write(to: URL(fileURLWithPath: log))
        let zeroTail = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        #expect(try zeroTail.lastSequence() == 4)
        #expect(try zeroTail.upsert([VectorRecord(key: TestData.key(1), vector: data.vectors[2])]) == 5)
        zeroTail.abandon()
        #expect(try EmbeddedVectorStore(directory: directory, configuration: configuration).lastSequence() == 5)
    }

    /// Flipping any byte of either file, or truncating the snapshot anywhere, or truncating the
    /// log inside its header or a non-final record, must raise a typed error — never open with
    /// wrong contents.
    @Test func corruptionIsDetected() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        try fill(store)
        try store.flush()  // snapshot with sequence 4, empty log
        _ = try store.upsert([VectorRecord(key: TestData.key(5000), vector: data.vectors[11])])
        _ = try store.delete([TestData.key(100)])
        let expected = try answers(store)
        store.abandon()

        let snapshotURL = directory.appendingPathComponent("snapshot.vidx")
        let logURL = directory.appendingPathComponent("wal.log")
        let snapshot = try Data(contentsOf: snapshotURL)
        let log = try Data(contentsOf: logURL)

        func opensCorrupted(_ file: String) -> Bool {
            do {
                let s = try EmbeddedVectorStore(directory: directory, configuration: configuration)
                s.abandon()
                return false
            } catch let error as VectorIndexError {
                switch error {
                case .corrupted(let path, _), .unsupportedVersion(let path, _), .incompatible(let path, _):
                    return path.hasSuffix(file)
                default:
                    return false
                }
            } catch {
                return false
            }
        }

        // Snapshot: flip bytes spread over every section, and truncate at many offsets.
        var positions = Array(stride(from: 0, to: snapshot.count, by: max(1, snapshot.count / 97)))
        positions += [8, 12, 20, snapshot.count - 1, snapshot.count - 9]
        for position in positions {
            var damaged = snapshot
            damaged[position] ^= 0x20
            try damaged.write(to: snapshotURL)
            #expect(opensCorrupted("snapshot.vidx"), "flipped snapshot byte \(position) went unnoticed")
        }
        for length in [0, 7, 16, 40, snapshot.count / 3, snapshot.count / 2, snapshot.count - 8, snapshot.count - 1] {
            try snapshot.prefix(length).write(to: snapshotURL)
            #expect(opensCorrupted("snapshot.vidx"), "snapshot truncated to \(length) went unnoticed")
        }
        try snapshot.write(to: snapshotURL)

        // Log: flip every byte (it is small), truncate inside the header.
        for position in 0..<log.count {
            var damaged = log
            damaged[position] ^= 0x01
            try damaged.write(to: logURL)
            #expect(opensCorrupted("wal.log"), "flipped log byte \(position) went unnoticed")
        }
        for length in [0, 5, 8, 31] {
            try log.prefix(length).write(to: logURL)
            #expect(opensCorrupted("wal.log"), "log truncated to \(length) went unnoticed")
        }
        // A bad first record followed by a good one is corruption, not a torn tail.
        let offsets = recordOffsets(log)
        var middle = log
        middle[offsets[0] + 14] ^= 0xFF
        try middle.write(to: logURL)
        #expect(opensCorrupted("wal.log"))

        // Restored files open with the same answers as before the crash.
        try log.write(to: logURL)
        let intact = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        #expect(try intact.lastSequence() == 6)
        #expect(try answers(intact) == expected)
        intact.abandon()
    }

    /// Byte offsets where the log's records start.
    func recordOffsets(_ bytes: Data) -> [Int] {
        var offsets: [Int] = []
        var offset = WriteAheadLog.headerSize
        let b = [UInt8](bytes)
        while offset + 12 <= b.count {
            let length = Int(b[offset]) | Int(b[offset + 1]) << 8 | Int(b[offset + 2]) << 16 | Int(b[offset + 3]) << 24
            offsets.append(offset)
            offset += 12 + length
        }
        return offsets
    }
}
