import Foundation

/// Vectors stored back to back in one 64-byte-aligned buffer of `capacity × dimension` floats
/// (on huge pages when large, see ``LargeBuffer``), the layout distance kernels stream through.
/// Row `i` is the vector of internal id `i`.
///
/// Not synchronized: the owning store mutates it only under its write lock.
final class VectorSlab: @unchecked Sendable {
    let dimension: Int
    private(set) var capacity: Int
    private(set) var count: Int = 0
    private(set) var base: UnsafeMutablePointer<Float>

    init(dimension: Int, capacity: Int = 1024) {
        self.dimension = dimension
        self.capacity = max(capacity, 1)
        base = Self.allocate(self.capacity * dimension)
    }

    deinit { LargeBuffer.free(base) }

    private static func allocate(_ floats: Int) -> UnsafeMutablePointer<Float> {
        LargeBuffer.allocate(Float.self, count: floats)
    }

    @inline(__always)
    func row(_ id: Int) -> UnsafeMutablePointer<Float> { base + id * dimension }

    /// Grows the buffer to hold at least `minimum` vectors (by at least half again, so appends are
    /// amortized constant time).
    func reserve(_ minimum: Int) {
        guard minimum > capacity else { return }
        let newCapacity = max(minimum, capacity + capacity / 2)
        let fresh = Self.allocate(newCapacity * dimension)
        fresh.update(from: base, count: count * dimension)
        LargeBuffer.free(base)
        base = fresh
        capacity = newCapacity
    }

    /// Appends a vector of `dimension` floats and returns its row.
    @discardableResult
    func append(_ vector: UnsafePointer<Float>) -> Int {
        reserve(count + 1)
        row(count).update(from: vector, count: dimension)
        count += 1
        return count - 1
    }

    /// Appends `rows` zeroed rows to be filled in place (bulk load) and returns the first one.
    func appendUninitialized(_ rows: Int) -> Int {
        reserve(count + rows)
        let first = count
        row(first).initialize(repeating: 0, count: rows * dimension)
        count += rows
        return first
    }

    func vector(_ id: Int) -> [Float] { Array(UnsafeBufferPointer(start: row(id), count: dimension)) }

    /// Bytes held (the whole capacity).
    var memoryBytes: Int { capacity * dimension * 4 }
}
