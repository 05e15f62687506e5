import Dispatch
import Foundation
import Synchronization

/// CPU-bound work that blocks (decoding, resizing, a forward pass), on Dispatch's threads rather
/// than Swift's cooperative pool: a cooperative thread stuck for milliseconds per image starves
/// every other task of the process, and the pool has only as many threads as cores.
enum BlockingWork {
    /// `body` on a thread of its own; the caller's task waits without holding a thread. Not a
    /// Dispatch queue: Dispatch's pool on Linux is as wide as the CPU and does not start a job while
    /// its threads compute, so a forward pass would queue behind a decode instead of overlapping it.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// `body(0) ... body(count - 1)` on up to `threads` threads, results in index order. The first
    /// error stops the workers after their current item and is rethrown. Blocks the calling
    /// thread, which takes part; from async code wrap it in ``run(_:)``.
    static func map<T: Sendable>(count: Int, threads: Int, _ body: @Sendable (Int) throws -> T) throws -> [T] {
        guard count > 0 else { return [] }
        let next = Atomic<Int>(0)
        let results = Mutex([T?](repeating: nil, count: count))
        let failure = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, count))) { _ in
            while failure.withLock({ $0 == nil }) {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < count else { return }
                do {
                    let value = try body(i)
                    results.withLock { $0[i] = value }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        // Every index below `count` ran exactly once and, with no failure, stored its value.
        return results.withLock { $0.map { $0! } }
    }
}
