import Foundation
import Synchronization

/// Scratch memory for forward passes, kept between them.
///
/// A pass needs megabytes of temporaries (activations, quantized inputs), and the command-line
/// tools have glibc map every block of 1 MiB or more straight from the kernel, so that freed
/// memory goes back (see `CLI.main`). Fresh mappings cost a page fault and a zeroed page per
/// 4 KiB: on a batch of reranked pairs that was a fifth of the time. Buffers taken here come from
/// a process-wide free list instead, by power-of-two size class, and go back to it; the list keeps
/// at most ``retainedLimit`` bytes and frees the rest, so the memory kept stays bounded however
/// long the process runs.
public enum Scratch {
    /// Bytes the free list keeps at most; a buffer that does not fit is freed.
    public static let retainedLimit = 192 << 20
    /// Below this, buffers come from malloc's heap, which keeps them cheaply on its own.
    static let smallest = 64 << 10

    private struct FreeList: ~Copyable {
        var buffers: [Int: [UnsafeMutableRawPointer]] = [:]
        var retained = 0
    }

    private static let freeList = Mutex(FreeList())

    /// Calls `body` with room for `count` values of `T` (uninitialized), then takes it back.
    public static func with<T, R>(_ type: T.Type, count: Int, _ body: (UnsafeMutablePointer<T>) throws -> R) rethrows -> R {
        let (buffer, values) = take(T.self, count: count)
        defer { give(buffer) }
        return try body(values)
    }

    /// Room for `count` values of `T` (uninitialized), and the buffer to give back.
    public static func take<T>(_ type: T.Type, count: Int) -> (buffer: Buffer, values: UnsafeMutablePointer<T>) {
        let buffer = take(bytes: max(1, count) * MemoryLayout<T>.stride)
        return (buffer, buffer.pointer.bindMemory(to: T.self, capacity: max(1, count)))
    }

    /// A buffer of at least `bytes`, aligned to 64 bytes; hand it back with ``give(_:)``.
    public static func take(bytes: Int) -> Buffer {
        let size = sizeClass(bytes)
        if size >= smallest, let reused = freeList.withLock({ list -> UnsafeMutableRawPointer? in
            guard let pointer = list.buffers[size]?.popLast() else { return nil }
            list.retained -= size
            return pointer
        }) {
            return Buffer(pointer: reused, size: size)
        }
        return Buffer(pointer: UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64), size: size)
    }

    /// Returns a buffer from ``take(bytes:)``: kept for the next taker while the free list has
    /// room (true), freed otherwise.
    @discardableResult
    public static func give(_ buffer: Buffer) -> Bool {
        if buffer.size >= smallest {
            let kept = freeList.withLock { list -> Bool in
                guard list.retained + buffer.size <= retainedLimit else { return false }
                list.buffers[buffer.size, default: []].append(buffer.pointer)
                list.retained += buffer.size
                return true
            }
            if kept { return true }
        }
        buffer.pointer.deallocate()
        return false
    }

    /// Bytes the free list holds now (for tests).
    public static var retained: Int { freeList.withLock { $0.retained } }

    /// The power of two at or above `bytes`, at least 64.
    static func sizeClass(_ bytes: Int) -> Int {
        let wanted = max(64, bytes)
        return 1 << (Int.bitWidth - (wanted - 1).leadingZeroBitCount)
    }

    /// One taken buffer.
    public struct Buffer: @unchecked Sendable {
        public let pointer: UnsafeMutableRawPointer
        /// Its size class in bytes (at least what was asked for).
        public let size: Int
    }
}
