import CVitrineIndex

/// Storage for the arrays the index reads at random (vectors, neighbour lists, visited marks, codes):
/// from 2 MiB up it asks for transparent huge pages, so a walk across gigabytes misses the TLB less
/// (`vx_alloc_large`). Elements are uninitialized; release with ``free(_:)``.
public enum LargeBuffer {
    static func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let count = max(count, 1)
        guard let raw = vx_alloc_large(count * MemoryLayout<T>.stride) else {
            fatalError("out of memory allocating \(count) × \(T.self)")
        }
        return raw.bindMemory(to: T.self, capacity: count)
    }

    static func free<T>(_ pointer: UnsafeMutablePointer<T>) { vx_free_large(pointer) }

    /// Whether large buffers ask for huge pages (`VITRINE_HUGE_PAGES=off` declines), for reports.
    public static var hugePages: Bool { vx_huge_pages() != 0 }
}
