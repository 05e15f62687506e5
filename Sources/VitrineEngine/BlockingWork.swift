import Dispatch
import Foundation
import Synchronization

/// CPU-bound work that blocks (decoding, resizing, a forward pass), on threads of its own: not on
/// Swift's cooperative pool (a cooperative thread stuck for milliseconds per image starves every
/// other task of the process, and the pool has only as many threads as cores), nor on Dispatch's,
/// which the server's request deadlines use.
enum BlockingWork {
    /// `body` on a thread of its own; the caller's task waits without holding a thread. (Dispatch's
    /// pool on Linux is as wide as the CPU and does not start a job while its threads compute, so a
    /// forward pass queued there would wait behind a decode instead of overlapping it.)
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// `body(0) ... body(count - 1)` on up to `threads` threads of their own (the calling thread
    /// and new ones, never Dispatch's pool, which a server shares with its request deadlines),
    /// results in index order. The first error stops the workers after their current item and is
    /// rethrown. Blocks the calling thread; from async code wrap it in ``run(_:)``.
    static func map<T: Sendable>(count: Int, threads: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        guard count > 0 else { return [] }
        let state = MapState<T>(count: count)
        let worker: @Sendable () -> Void = {
            while state.failure.withLock({ $0 == nil }) {
                let i = state.next.add(1, ordering: .relaxed).oldValue
                guard i < count else { return }
                do {
                    let value = try body(i)
                    state.results.withLock { $0[i] = value }
                } catch {
                    state.failure.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        let helpers = DispatchGroup()
        for _ in 1..<max(1, min(threads, count)) {
            helpers.enter()
            Thread { worker(); helpers.leave() }.start()
        }
        worker()
        helpers.wait()
        if let error = state.failure.withLock({ $0 }) { throw error }
        // Every index below `count` ran exactly once and, with no failure, stored its value.
        return state.results.withLock { $0.map { $0! } }
    }

    /// What the workers of one ``map(count:threads:_:)`` share.
    private final class MapState<T: Sendable>: Sendable {
        let next = Atomic<Int>(0)
        let results: Mutex<[T?]>
        let failure = Mutex<(any Error)?>(nil)
        init(count: Int) { results = Mutex([T?](repeating: nil, count: count)) }
    }
}
