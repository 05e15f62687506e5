import Foundation
import Testing
import VitrineCore
@testable import VitrineIndex

/// Read-only followers beside a writer on the same directory.
@Suite struct FollowerTests {
    static let dimension = 8

    /// Small checkpoints, so writers checkpoint by themselves every few batches.
    var configuration: VectorStoreConfiguration {
        var c = TestData.hnsw(dimension: Self.dimension, efConstruction: 40, threads: 1)
        c.checkpointBytes = 16 << 10
        return c
    }

    /// What a store holds, down to the bits: vector and attributes of every live key.
    struct Entry: Equatable {
        var vector: [Float]
        var attributes: [String: String]
    }

    static func contents(_ store: EmbeddedVectorStore) -> [VectorKey: Entry] {
        store.lock.withReadLock {
            let index = store.index
            var out: [VectorKey: Entry] = [:]
            for (key, id) in index.ids {
                out[key] = Entry(vector: index.vectors.vector(Int(id)), attributes: index.attributes.values(of: Int(id)))
            }
            return out
        }
    }

    /// Random records over `keys` possible keys (so batches replace earlier vectors).
    static func records(_ count: Int, keys: Int, random: inout SplitMix64) -> [VectorRecord] {
        (0..<count).map { _ in
            let i = Int(random.next() % UInt64(keys))
            let vector = (0..<dimension).map { _ in Float(random.nextGaussian()) }
            return VectorRecord(key: TestData.key(i), vector: vector, attributes: ["colour": String(random.next() % 5)])
        }
    }

    static func expectSameState(_ follower: EmbeddedVectorStore, _ writer: EmbeddedVectorStore,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try follower.lastSequence() == writer.lastSequence(), sourceLocation: sourceLocation)
        #expect(contents(follower) == contents(writer), sourceLocation: sourceLocation)
    }

    /// Size, modification time and inode of every file in `directory`.
    static func fileStates(_ directory: URL) throws -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            var info = stat()
            #expect(stat(directory.path + "/" + name, &info) == 0)
            out[name] = [Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_ino)]
        }
        return out
    }

    /// Byte offsets where the log's records start.
    static func recordOffsets(_ bytes: [UInt8]) -> [Int] {
        var offsets: [Int] = []
        var offset = WriteAheadLog.headerSize
        while offset + 12 <= bytes.count {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            offsets.append(offset)
            offset += 12 + length
        }
        return offsets
    }

    /// Cuts the file at `length` in place (same inode).
    static func truncate(_ path: String, to length: Int) {
        #expect(Foundation.truncate(path, off_t(length)) == 0)
    }

    /// Writes `bytes` at `offset` in place (same inode, as the writer's appends).
    static func write(_ bytes: some Sequence<UInt8>, to path: String, at offset: Int) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data(bytes))
    }

    @Test func followerSeesUpsertsAndDeletesAfterRefresh() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SplitMix64(seed: 11)
        let writer = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        _ = try writer.upsert(Self.records(200, keys: 1000, random: &random))

        let follower = try EmbeddedVectorStore(following: directory, configuration: configuration)
        #expect(follower.isReadOnly && !writer.isReadOnly)
        try Self.expectSameState(follower, writer)
        #expect(try follower.refresh() == false)

        let gone = Array(try writer.keys().prefix(20))
        let goneVectors = try gone.map { try #require(try writer.vector(for: $0)) }
        let added = [VectorRecord(key: VectorKey(product: "new", image: "a"), vector: [1, 2, 3, 4, 5, 6, 7, 8], attributes: ["colour": "9"])]
        _ = try writer.upsert(added)
        _ = try writer.delete(gone)
        // Not seen until refreshed.
        #expect(try !follower.contains(added[0].key))
        #expect(try follower.contains(gone[0]))

        #expect(try follower.refresh() == true)
        try Self.expectSameState(follower, writer)
        #expect(try follower.search(added[0].vector, k: 1).first?.key == added[0].key)
        #expect(try follower.search(added[0].vector, k: 5, filter: VectorFilter(["colour": ["9"]])).map(\.key) == [added[0].key])
        for (key, vector) in zip(gone, goneVectors) {
            #expect(try !follower.contains(key))
            #expect(try !follower.search(vector, k: 10).contains { $0.key == key })
        }
        #expect(try follower.refresh() == false)
        #expect(try follower.refresh() == false)
        try writer.close()
    }

    @Test func followerSeesCheckpointsAndCompaction() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SplitMix64(seed: 12)
        var c = configuration
        c.checkpointBytes = 512 << 20  // checkpoints only when asked
        let writer = try EmbeddedVectorStore(directory: directory, configuration: c)
        _ = try writer.upsert(Self.records(300, keys: 400, random: &random))
        let follower = try EmbeddedVectorStore(following: directory, configuration: c)

        try writer.flush()
        _ = try writer.upsert(Self.records(30, keys: 400, random: &random))
        #expect(try follower.refresh() == true)
        try Self.expectSameState(follower, writer)
        #expect(follower.followed?.reader.baseSequence == 1)  // follows the new log

        _ = try writer.delete(Array(try writer.keys().prefix(100)))
        #expect(writer.storedCount > (try writer.count()))
        try writer.compact()
        #expect(try follower.refresh() == true)
        try Self.expectSameState(follower, writer)
        #expect(follower.storedCount == writer.storedCount)  // tombstones reclaimed here too

        // Appends after the checkpoint are applied in place.
        _ = try writer.upsert(Self.records(10, keys: 400, random: &random))
        let before = follower.followed.map(ObjectIdentifier.init)
        #expect(try follower.refresh() == true)
        #expect(follower.followed.map(ObjectIdentifier.init) == before)
        try Self.expectSameState(follower, writer)

        // Several checkpoints between two refreshes.
        for _ in 0..<3 {
            _ = try writer.upsert(Self.records(5, keys: 400, random: &random))
            try writer.flush()
        }
        #expect(try follower.refresh() == true)
        try Self.expectSameState(follower, writer)
        #expect(try follower.refresh() == false)
        try writer.close()
    }

    /// Random batches, deletes, automatic and explicit checkpoints and compactions, refreshed at
    /// random points: after every refresh the follower holds exactly the writer's state.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomInterleavingsEndEqual(seed: UInt64) throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SplitMix64(seed: seed)
        let writer = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        _ = try writer.upsert(Self.records(5, keys: 300, random: &random))
        let follower = try EmbeddedVectorStore(following: directory, configuration: configuration)
        var refreshes = 0, checkpointsSeen = 0
        for _ in 0..<150 {
            let roll = random.next() % 100
            if roll < 60 {
                _ = try writer.upsert(Self.records(1 + Int(random.next() % 30), keys: 300, random: &random))
            } else if roll < 85 {
                let keys = (0..<1 + Int(random.next() % 10)).map { _ in TestData.key(Int(random.next() % 300)) }
                _ = try writer.delete(keys)
            } else if roll < 94 {
                try writer.flush()
            } else {
                try writer.compact()
            }
            if random.next() % 3 == 0 {
                let sequence = try follower.lastSequence()
                let log = follower.followed.map(ObjectIdentifier.init)
                let changed = try follower.refresh()
                let reloaded = follower.followed.map(ObjectIdentifier.init) != log
                let advanced = try follower.lastSequence() != sequence
                #expect(changed == (reloaded || advanced))
                if reloaded { checkpointsSeen += 1 }
                refreshes += 1
                try Self.expectSameState(follower, writer)
            }
        }
        try follower.refresh()
        try Self.expectSameState(follower, writer)
        #expect(refreshes > 20 && checkpointsSeen > 3)
        // A follower opened now agrees too.
        try Self.expectSameState(try EmbeddedVectorStore(following: directory, configuration: configuration), writer)
        try writer.close()
    }

    /// A record cut short, or whose checksum fails at the very end of the log, is an append in
    /// progress: the follower stops before it, leaves the file alone and applies it once whole.
    @Test func tornTailIsLeftForTheNextRefresh() throws {
        let source = TestData.temporaryDirectory()
        let scratch = TestData.temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(at: source)
            try? FileManager.default.removeItem(at: scratch)
        }
        var random = SplitMix64(seed: 13)
        var c = configuration
        c.checkpointBytes = 512 << 20
        let writer = try EmbeddedVectorStore(directory: source, configuration: c)
        _ = try writer.upsert(Self.records(50, keys: 100, random: &random))
        _ = try writer.delete((0..<10).map(TestData.key))
        let atTwo = Self.contents(writer)
        _ = try writer.upsert(Self.records(40, keys: 100, random: &random))
        let atThree = Self.contents(writer)
        writer.abandon()

        let log = [UInt8](try Data(contentsOf: source.appendingPathComponent("wal.log")))
        let offsets = Self.recordOffsets(log)
        #expect(offsets.count == 3)
        let path = scratch.appendingPathComponent("wal.log").path
        // Header of the third record and a few bytes of its payload.
        try Data(log.prefix(offsets[2] + 12 + 5)).write(to: URL(fileURLWithPath: path))
        let follower = try EmbeddedVectorStore(following: scratch, configuration: c)
        #expect(try follower.lastSequence() == 2)
        #expect(Self.contents(follower) == atTwo)
        #expect(try Self.fileStates(scratch)["wal.log"]?[0] == offsets[2] + 17)  // not truncated

        // Only part of the record's header.
        Self.truncate(path, to: offsets[2] + 7)
        #expect(try follower.refresh() == false)
        // All but the last byte.
        try Self.write(log[offsets[2]..<log.count - 1], to: path, at: offsets[2])
        #expect(try follower.refresh() == false)
        // Complete length, but the last byte not yet what the writer wrote: a checksum mismatch
        // at the end is still an append in progress.
        try Self.write([log[log.count - 1] ^ 0x5A], to: path, at: log.count - 1)
        #expect(try follower.refresh() == false)
        #expect(try follower.lastSequence() == 2)
        #expect(Self.contents(follower) == atTwo)
        try Self.write([log[log.count - 1]], to: path, at: log.count - 1)
        #expect(try follower.refresh() == true)
        #expect(try follower.lastSequence() == 3)
        #expect(Self.contents(follower) == atThree)
        #expect(try Self.fileStates(scratch)["wal.log"]?[0] == log.count)

        // A zero-filled tail (a crash mid-append) is not damage either.
        try Self.write([UInt8](repeating: 0, count: 4096), to: path, at: log.count)
        #expect(try follower.refresh() == false)
        #expect(try EmbeddedVectorStore(following: scratch, configuration: c).lastSequence() == 3)
    }

    /// Damage with more records after it is corruption, for a follower as for the writer.
    @Test func damageBeforeTheEndIsCorruption() throws {
        let source = TestData.temporaryDirectory()
        let scratch = TestData.temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(at: source)
            try? FileManager.default.removeItem(at: scratch)
        }
        var random = SplitMix64(seed: 14)
        var c = configuration
        c.checkpointBytes = 512 << 20
        let writer = try EmbeddedVectorStore(directory: source, configuration: c)
        for _ in 0..<3 { _ = try writer.upsert(Self.records(20, keys: 100, random: &random)) }
        writer.abandon()
        let log = [UInt8](try Data(contentsOf: source.appendingPathComponent("wal.log")))
        let offsets = Self.recordOffsets(log)
        let path = scratch.appendingPathComponent("wal.log").path

        func isCorrupted(_ body: () throws -> Void) -> Bool {
            do {
                try body()
                return false
            } catch VectorIndexError.corrupted(let file, _) {
                return file == path
            } catch {
                return false
            }
        }
        var damaged = log
        damaged[offsets[1] + 30] ^= 0x01
        try Data(damaged).write(to: URL(fileURLWithPath: path))
        #expect(isCorrupted { _ = try EmbeddedVectorStore(following: scratch, configuration: c) })

        // Found by a refresh: the batch before it stays applied, the state stays usable.
        try Data(log.prefix(offsets[1])).write(to: URL(fileURLWithPath: path))
        let follower = try EmbeddedVectorStore(following: scratch, configuration: c)
        #expect(try follower.lastSequence() == 1)
        try Self.write(damaged[offsets[1]...], to: path, at: offsets[1])
        #expect(isCorrupted { try follower.refresh() })
        #expect(try follower.lastSequence() == 1)
        #expect(try follower.count() == (try follower.keys().count))
        // Repaired, it catches up.
        try Self.write(log[offsets[1]...], to: path, at: offsets[1])
        #expect(try follower.refresh() == true)
        #expect(try follower.lastSequence() == 3)
    }

    /// The checkpoint race: the writer renames the new snapshot, then the new log. A follower
    /// between the two renames sees the new snapshot with the old log, and must end consistent.
    @Test func snapshotNewerThanLogBetweenTheTwoRenames() throws {
        let source = TestData.temporaryDirectory()
        let scratch = TestData.temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(at: source)
            try? FileManager.default.removeItem(at: scratch)
        }
        var random = SplitMix64(seed: 15)
        var c = configuration
        c.checkpointBytes = 512 << 20
        let writer = try EmbeddedVectorStore(directory: source, configuration: c)
        _ = try writer.upsert(Self.records(40, keys: 100, random: &random))
        try writer.flush()
        _ = try writer.upsert(Self.records(40, keys: 100, random: &random))
        _ = try writer.delete((0..<30).map(TestData.key))
        let oldLog = try Data(contentsOf: source.appendingPathComponent("wal.log"))
        let atThree = Self.contents(writer)
        try writer.flush()
        _ = try writer.upsert(Self.records(40, keys: 100, random: &random))
        let atFour = Self.contents(writer)
        writer.abandon()

        let fm = FileManager.default
        try fm.copyItem(at: source.appendingPathComponent("snapshot.vidx"), to: scratch.appendingPathComponent("snapshot.vidx"))
        try oldLog.write(to: scratch.appendingPathComponent("wal.log"))
        let follower = try EmbeddedVectorStore(following: scratch, configuration: c)
        #expect(try follower.lastSequence() == 3)
        #expect(Self.contents(follower) == atThree)
        #expect(try follower.refresh() == false)

        // The writer's second rename.
        try fm.copyItem(at: source.appendingPathComponent("wal.log"), to: scratch.appendingPathComponent("wal.log.tmp"))
        #expect(rename(scratch.appendingPathComponent("wal.log.tmp").path, scratch.appendingPathComponent("wal.log").path) == 0)
        #expect(try follower.refresh() == true)
        #expect(try follower.lastSequence() == 4)
        #expect(Self.contents(follower) == atFour)

        // A log beyond its snapshot is never left by a checkpoint: reported, and the state kept.
        let older = TestData.temporaryDirectory()
        defer { try? fm.removeItem(at: older) }
        try fm.copyItem(at: source.appendingPathComponent("wal.log"), to: older.appendingPathComponent("wal.log"))
        #expect(throws: VectorIndexError.corrupted(
            file: older.path + "/wal.log", reason: "log starts after sequence 3 but the snapshot holds only up to 0")) {
            _ = try EmbeddedVectorStore(following: older, configuration: c)
        }
        // A store that goes backwards (replaced under the follower) is reported, not followed.
        try oldLog.write(to: scratch.appendingPathComponent("wal.log.tmp"))
        #expect(rename(scratch.appendingPathComponent("wal.log.tmp").path, scratch.appendingPathComponent("wal.log").path) == 0)
        #expect(throws: VectorIndexError.corrupted(
            file: scratch.path + "/wal.log", reason: "the store went back from sequence 4 to 3 (replaced?); open the follower again")) {
            try follower.refresh()
        }
        #expect(try follower.lastSequence() == 4)
        #expect(Self.contents(follower) == atFour)
    }

    @Test func followerNeverModifiesFiles() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SplitMix64(seed: 16)
        let writer = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        _ = try writer.upsert(Self.records(100, keys: 200, random: &random))
        try writer.flush()
        _ = try writer.upsert(Self.records(10, keys: 200, random: &random))
        let before = try Self.fileStates(directory)

        let follower = try EmbeddedVectorStore(following: directory, configuration: configuration)
        #expect(try follower.refresh() == false)
        _ = try follower.search([1, 0, 0, 0, 0, 0, 0, 0], k: 3)
        #expect(throws: VectorIndexError.readOnly) { try follower.flush() }
        try follower.close()
        #expect(try Self.fileStates(directory) == before)
        try writer.close()
    }

    @Test func writesOnAFollowerThrowReadOnly() throws {
        let directory = TestData.temporaryDirectory()
        let target = TestData.temporaryDirectory().appendingPathComponent("copy")
        defer {
            try? FileManager.default.removeItem(at: directory)
            try? FileManager.default.removeItem(at: target.deletingLastPathComponent())
        }
        var random = SplitMix64(seed: 17)
        let writer = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        let records = Self.records(10, keys: 20, random: &random)
        _ = try writer.upsert(records)
        let follower = try EmbeddedVectorStore(following: directory, configuration: configuration)
        #expect(throws: VectorIndexError.readOnly) { try follower.upsert(records) }
        // Read-only is reported before anything about the batch.
        #expect(throws: VectorIndexError.readOnly) { try follower.upsert([VectorRecord(key: TestData.key(0), vector: [1])]) }
        #expect(throws: VectorIndexError.readOnly) { try follower.delete([records[0].key]) }
        #expect(throws: VectorIndexError.readOnly) { try follower.flush() }
        #expect(throws: VectorIndexError.readOnly) { try follower.compact() }
        #expect(throws: VectorIndexError.readOnly) { try follower.writeSnapshot(to: target) }
        #expect(!FileManager.default.fileExists(atPath: target.path))
        #expect(VectorIndexError.readOnly.description.contains("read-only"))
        #expect(try follower.count() == (try writer.count()))
        // A writer is always current; a memory-only store has nothing to follow.
        #expect(try writer.refresh() == false)
        #expect(try EmbeddedVectorStore(configuration: configuration).refresh() == false)
        try follower.close()
        #expect(throws: VectorIndexError.closed) { try follower.refresh() }
        #expect(throws: VectorIndexError.closed) { try follower.search(records[0].vector, k: 1) }
        try writer.close()
    }

    /// A writer still takes the directory's lock while followers are open; followers take none.
    @Test func writerLocksWhileFollowersExist() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SplitMix64(seed: 18)
        let first = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        _ = try first.upsert(Self.records(10, keys: 20, random: &random))
        let followers = try (0..<3).map { _ in try EmbeddedVectorStore(following: directory, configuration: configuration) }
        try first.close()
        let writer = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        #expect(throws: VectorIndexError.locked(file: directory.path + "/LOCK")) {
            try EmbeddedVectorStore(directory: directory, configuration: configuration)
        }
        _ = try writer.upsert(Self.records(10, keys: 20, random: &random))
        for follower in followers {
            #expect(try follower.refresh() == true)
            try Self.expectSameState(follower, writer)
        }
        try writer.close()
    }

    @Test func missingOrEmptyDirectoryIsNotFound() throws {
        let parent = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: parent) }
        let missing = parent.appendingPathComponent("missing")
        #expect(throws: VectorIndexError.notFound(file: missing.path)) {
            try EmbeddedVectorStore(following: missing, configuration: configuration)
        }
        #expect(!FileManager.default.fileExists(atPath: missing.path))  // not created
        #expect(throws: VectorIndexError.notFound(file: parent.path)) {
            try EmbeddedVectorStore(following: parent, configuration: configuration)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)

        // Dimension or metric unlike the files: named.
        let writer = try EmbeddedVectorStore(directory: parent, configuration: configuration)
        var other = configuration
        other.dimension = 4
        #expect(throws: VectorIndexError.incompatible(
            file: parent.path + "/wal.log", reason: "log is for dimension 8 metric cosine, index is 4 cosine")) {
            try EmbeddedVectorStore(following: parent, configuration: other)
        }
        try writer.close()
    }

    /// A writer thread upserts, deletes and checkpoints while a follower thread refreshes and
    /// searches: no errors, sequences never go back, and the end states are equal.
    @Test func followerKeepsUpWithAConcurrentWriter() throws {
        let directory = TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = self.configuration
        let writer = try EmbeddedVectorStore(directory: directory, configuration: configuration)
        writer.applyChunk = 16
        var seedRandom = SplitMix64(seed: 19)
        _ = try writer.upsert(Self.records(50, keys: 1500, random: &seedRandom))
        let follower = try EmbeddedVectorStore(following: directory, configuration: configuration)
        let shared = SharedCounts()

        // Threads of their own: the tests' task pool may be busy with other suites.
        let done = DispatchGroup()
        done.enter()
        Thread.detachNewThread {
            defer { shared.update { $0.writing = false }; done.leave() }
            var random = SplitMix64(seed: 20)
            let deadline = Date().addingTimeInterval(1.5)
            do {
                var batches = 0
                while Date() < deadline || batches < 50 {
                    _ = try writer.upsert(Self.records(1 + Int(random.next() % 40), keys: 1500, random: &random))
                    if random.next() % 4 == 0 {
                        _ = try writer.delete((0..<5).map { _ in TestData.key(Int(random.next() % 1500)) })
                    }
                    if random.next() % 25 == 0 { try writer.flush() }
                    if random.next() % 80 == 0 { try writer.compact() }
                    batches += 1
                }
                shared.update { $0.batches = batches }
            } catch {
                shared.update { $0.errors.append("writer: \(error)") }
            }
        }
        done.enter()
        Thread.detachNewThread {
            defer { done.leave() }
            var random = SplitMix64(seed: 21)
            do {
                var sequence = try follower.lastSequence()
                var refreshes = 0, reloads = 0
                while shared.read({ $0.writing }) {
                    let log = follower.followed.map(ObjectIdentifier.init)
                    if try follower.refresh() { refreshes += 1 }
                    if follower.followed.map(ObjectIdentifier.init) != log { reloads += 1 }
                    let now = try follower.lastSequence()
                    if now < sequence { shared.update { $0.errors.append("sequence went back from \(sequence) to \(now)") } }
                    sequence = now
                    let query = (0..<Self.dimension).map { _ in Float(random.nextGaussian()) }
                    let hits = try follower.search(query, k: 5)
                    if hits.count != min(5, try follower.count()) || !zip(hits, hits.dropFirst()).allSatisfy({ $0.distance <= $1.distance }) {
                        shared.update { $0.errors.append("bad hits \(hits)") }
                    }
                }
                shared.update {
                    $0.refreshes = refreshes
                    $0.reloads = reloads
                }
            } catch {
                shared.update { $0.errors.append("follower: \(error)") }
            }
        }
        done.wait()
        let counts = shared.read { $0 }
        #expect(counts.errors.isEmpty, "\(counts.errors.prefix(5))")
        #expect(counts.batches >= 50 && counts.refreshes > 5 && counts.reloads > 0,
                "\(counts.batches) batches, \(counts.refreshes) refreshes, \(counts.reloads) reloads")
        try follower.refresh()
        try Self.expectSameState(follower, writer)
        try writer.close()
    }
}

/// What the threads of the concurrent test report, behind a lock.
private final class SharedCounts: @unchecked Sendable {
    struct Counts {
        var writing = true
        var batches = 0
        var refreshes = 0
        var reloads = 0
        var errors: [String] = []
    }
    private let lock = NSLock()
    private var counts = Counts()

    func update(_ body: (inout Counts) -> Void) { lock.withLock { body(&counts) } }
    func read<T>(_ body: (Counts) -> T) -> T { lock.withLock { body(counts) } }
}
