import Foundation
import ZIPFoundation

/// A pull source of byte chunks: a file read piece by piece, or a zip member inflated as it is
/// read. Readers parse rows out of these chunks, so memory stays at a chunk or two whatever the
/// size of the file.
protocol ChunkSource: AnyObject {
    /// The next chunk, or nil at the end.
    func nextChunk() throws -> Data?
}

/// Reads a file in fixed-size chunks.
final class FileChunkSource: ChunkSource {
    private let handle: FileHandle
    private let path: String
    private let chunkSize: Int

    init(url: URL, chunkSize: Int = 64 * 1024) throws {
        path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw ReaderError.notFound(path: path) }
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw ReaderError.unreadable(path: path, reason: error.localizedDescription)
        }
        self.chunkSize = chunkSize
    }

    deinit { try? handle.close() }

    /// What one read(2) returns: on a pipe (a manifest streamed in), the rows written so far,
    /// rather than waiting for a whole chunk.
    func nextChunk() throws -> Data? {
        var data = Data(count: chunkSize)
        let count = data.withUnsafeMutableBytes { buffer in
            var count: Int
            repeat { count = read(handle.fileDescriptor, buffer.baseAddress, chunkSize) } while count < 0 && errno == EINTR
            return count
        }
        guard count >= 0 else {
            throw ReaderError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard count > 0 else { return nil }
        data.count = count
        return data
    }
}

/// Inflates one zip member on a thread of its own and hands the chunks over through a queue of
/// at most `capacity` chunks. ZIPFoundation only pushes a member's bytes into a callback; the
/// queue turns that into pulls without holding more than a few chunks in memory.
final class ZipMemberChunkSource: ChunkSource {
    /// Shared between the inflating thread and the reader; every field is guarded by `condition`.
    private final class Channel: @unchecked Sendable {
        let condition = NSCondition()
        var chunks: [Data] = []
        var finished = false
        var failure: (any Error)?
        var cancelled = false
    }

    private struct Cancelled: Error {}

    private let channel = Channel()

    /// Starts inflating `member` of the archive at `archiveURL`.
    init(archiveURL: URL, member: ZIPFoundation.Entry, capacity: Int = 4) {
        let channel = self.channel
        let box = UncheckedBox(member)
        let thread = Thread {
            do {
                let archive = try Archive(url: archiveURL, accessMode: .read)
                _ = try archive.extract(box.value, bufferSize: 64 * 1024, consumer: { data in
                    channel.condition.lock()
                    defer { channel.condition.unlock() }
                    while channel.chunks.count >= capacity && !channel.cancelled { channel.condition.wait() }
                    if channel.cancelled { throw Cancelled() }
                    channel.chunks.append(data)
                    channel.condition.broadcast()
                })
                channel.condition.lock()
                channel.finished = true
            } catch {
                channel.condition.lock()
                channel.finished = true
                if !(error is Cancelled) {
                    channel.failure = ReaderError.unreadable(
                        path: "\(archiveURL.path):\(box.value.path)", reason: String(describing: error))
                }
            }
            channel.condition.broadcast()
            channel.condition.unlock()
        }
        thread.start()
    }

    // A reader dropped before the end (the consumer stopped early) releases the thread.
    deinit {
        channel.condition.lock()
        channel.cancelled = true
        channel.condition.broadcast()
        channel.condition.unlock()
    }

    func nextChunk() throws -> Data? {
        channel.condition.lock()
        defer { channel.condition.unlock() }
        while channel.chunks.isEmpty && !channel.finished { channel.condition.wait() }
        if !channel.chunks.isEmpty {
            let chunk = channel.chunks.removeFirst()
            channel.condition.broadcast()
            return chunk
        }
        if let failure = channel.failure { throw failure }
        return nil
    }
}

/// Carries a value that is not `Sendable` (a ZIPFoundation entry: plain data, never mutated)
/// across a thread boundary.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Something that yields a reader's entries one at a time, synchronously (file I/O).
protocol EntryProducer: AnyObject {
    func next() throws -> SourceEntry?
}

/// Turns a producer into the stream ``DatasetReader/entries()`` returns. The stream pulls: the
/// producer reads the next row only when the consumer asks, so a slow pipeline never makes the
/// reader buffer the file.
func entryStream(_ make: @escaping @Sendable () throws -> any EntryProducer) -> AsyncThrowingStream<SourceEntry, Error> {
    let pump = EntryPump(make)
    return AsyncThrowingStream(unfolding: { try pump.next() })
}

/// Serializes calls to the producer, created on the first pull (so opening files happens when
/// reading starts, and errors surface in the stream).
private final class EntryPump: @unchecked Sendable {
    private let lock = NSLock()
    private let make: @Sendable () throws -> any EntryProducer
    private var producer: (any EntryProducer)?
    private var done = false

    init(_ make: @escaping @Sendable () throws -> any EntryProducer) { self.make = make }

    func next() throws -> SourceEntry? {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return nil }
        do {
            let current: any EntryProducer
            if let producer { current = producer } else {
                current = try make()
                producer = current
            }
            guard let entry = try current.next() else {
                done = true
                producer = nil
                return nil
            }
            return entry
        } catch {
            done = true
            producer = nil
            throw error
        }
    }
}
