import CVitrineIndex
import Foundation
import VitrineCore

/// How the quantized index is built and searched.
public struct QuantizedIndexParameters: Sendable, Equatable {
    /// Inverted lists: k-means centres the vectors are split among.
    public var lists: Int
    /// Lists scanned per query unless the search says otherwise.
    public var probes: Int
    /// Candidates, best by their codes, whose full vectors are compared exactly.
    public var rerank: Int
    /// Vectors the centres and the quantizer's ranges are fitted on (spread evenly over the rows).
    public var trainingSample: Int
    /// k-means iterations.
    public var iterations: Int
    public var seed: UInt64

    public init(lists: Int = 1024, probes: Int = 16, rerank: Int = 100, trainingSample: Int? = nil, iterations: Int = 10, seed: UInt64 = 1) {
        self.lists = lists
        self.probes = probes
        self.rerank = rerank
        self.trainingSample = trainingSample ?? lists * 64
        self.iterations = iterations
        self.seed = seed
    }
}

/// Vectors too many to hold at full precision: an inverted file over one-byte scalar codes, with
/// exact re-ranking from the full vectors, which stay on disk.
///
/// Built once over a ``VectorFile`` (or an array): k-means on a sample gives `lists` centres and
/// each dimension's range; every vector goes to its nearest centre's list as one byte per
/// dimension (`lower + step × code`), lists stored back to back. A search scores the query
/// against the centres, scans the codes of the `probes` closest lists (the query pre-multiplied
/// by each dimension's step and rounded to small integers, so a code's score is one byte × byte
/// dot product), keeps the `rerank` best and orders those by their exact distances, read from the
/// file. In memory:
/// one byte per dimension per vector plus 8 bytes of bookkeeping; 10M × 512 is 5.2 GB.
///
/// Cosine re-ranks against the stored rows scaled to unit length (the index keeps each row's
/// inverse norm), so the file's rows need not be normalized. Searches may run on many threads.
public final class QuantizedIndex: @unchecked Sendable {
    public let dimension: Int
    public let metric: Metric
    public let parameters: QuantizedIndexParameters
    public let count: Int
    /// `lists × dimension`; unit length under cosine.
    let centres: [Float]
    /// ‖c‖² per centre (L2 and ip rank lists by 2 q·c − ‖c‖²).
    let centreNorms: [Float]
    /// Per dimension: the value of code 0, and the step between codes.
    let lower: [Float]
    let step: [Float]
    /// `count × dimension` codes, list after list.
    private let codes: UnsafeMutablePointer<UInt8>
    /// The row of each code, list after list.
    let rows: [UInt32]
    /// List `l` holds positions `offsets[l]..<offsets[l + 1]`.
    let offsets: [Int]
    /// Per row (by row): the inverse norm under cosine, the squared norm under L2; empty for ip.
    let norms: [Float]
    /// Where re-ranking reads the full vectors.
    private let source: Source

    /// Where a source's rows come from while building, and where re-ranking reads them.
    private enum Source {
        case file(VectorFile)
        case memory(MemoryRows)

        var count: Int {
            switch self {
            case .file(let file): file.count
            case .memory(let rows): rows.count
            }
        }

        var dimension: Int {
            switch self {
            case .file(let file): file.dimension
            case .memory(let rows): rows.dimension
            }
        }

        /// Copies `rows` into `buffer` (`rows.count × dimension` floats).
        func read(_ rows: Range<Int>, into buffer: UnsafeMutablePointer<Float>) throws {
            switch self {
            case .file(let file): try file.read(rows, into: buffer)
            case .memory(let memory):
                buffer.update(from: memory.pointer + rows.lowerBound * memory.dimension, count: rows.count * memory.dimension)
            }
        }

        /// Row `row`: in place when it is in memory, else read into `buffer` (`dimension` floats).
        func row(_ row: Int, buffer: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float> {
            switch self {
            case .file(let file):
                try file.read(row..<row + 1, into: buffer)
                return UnsafePointer(buffer)
            case .memory(let memory): return UnsafePointer(memory.pointer + row * memory.dimension)
            }
        }
    }

    /// Builds the index over the rows of `file` (read twice in chunks; single rows afterwards).
    public static func build(file: VectorFile, metric: Metric, parameters: QuantizedIndexParameters = QuantizedIndexParameters(),
                             threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> QuantizedIndex {
        try QuantizedIndex(source: .file(file), metric: metric, parameters: parameters, threads: threads)
    }

    /// Builds the index over `vectors`, a row-major `[count × dimension]` array (copied).
    public static func build(vectors: [Float], dimension: Int, metric: Metric, parameters: QuantizedIndexParameters = QuantizedIndexParameters(),
                             threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> QuantizedIndex {
        guard dimension > 0, vectors.count % dimension == 0 else {
            throw VectorIndexError.invalidArgument("\(vectors.count) floats are not rows of \(dimension)")
        }
        return try QuantizedIndex(source: .memory(MemoryRows(copying: vectors, dimension: dimension)), metric: metric,
                                  parameters: parameters, threads: threads)
    }

    private init(source: Source, metric: Metric, parameters: QuantizedIndexParameters, threads: Int) throws {
        let (count, dimension) = (source.count, source.dimension)
        guard count > 0 else { throw VectorIndexError.invalidArgument("no vectors to index") }
        guard count <= Int(UInt32.max) else { throw VectorIndexError.invalidArgument("\(count) vectors: at most \(UInt32.max)") }
        guard parameters.lists > 0, parameters.probes > 0, parameters.rerank > 0, parameters.iterations >= 0, parameters.trainingSample > 0 else {
            throw VectorIndexError.invalidArgument("lists, probes, rerank and the training sample must be positive")
        }
        self.count = count
        self.dimension = dimension
        self.metric = metric
        self.parameters = parameters
        let threads = max(1, threads)
        let lists = min(parameters.lists, count)

        // 1. The training sample, spread evenly over the rows (scaled to unit length under cosine).
        let sampleCount = max(lists, min(count, parameters.trainingSample))
        var sample = [Float](repeating: 0, count: sampleCount * dimension)
        try sample.withUnsafeMutableBufferPointer { s in
            for i in 0..<sampleCount {
                let row = Int((UInt64(i) * UInt64(count)) / UInt64(sampleCount))
                try source.read(row..<row + 1, into: s.baseAddress! + i * dimension)
                if metric == .cosine { _ = Self.normalize(s.baseAddress! + i * dimension, dimension) }
            }
        }
        try Self.checkFinite(sample, what: "the training sample")

        // 2. Centres by k-means, and each dimension's range over the sample.
        let centres = Self.kMeans(sample, count: sampleCount, dimension: dimension, lists: lists, metric: metric,
                                  iterations: parameters.iterations, seed: parameters.seed, threads: threads)
        var lower = [Float](repeating: .infinity, count: dimension)
        var upper = [Float](repeating: -.infinity, count: dimension)
        for i in 0..<sampleCount {
            for d in 0..<dimension {
                lower[d] = min(lower[d], sample[i * dimension + d])
                upper[d] = max(upper[d], sample[i * dimension + d])
            }
        }
        let step = (0..<dimension).map { d in max((upper[d] - lower[d]) / 255, Float.leastNormalMagnitude) }
        sample = []

        // 3. Every row's list (first pass), then its code at its place in its list (second pass).
        var assignment = [UInt32](repeating: 0, count: count)
        var norms = [Float](repeating: 0, count: metric == .innerProduct ? 0 : count)
        let chunk = 32_768
        try Self.forEachChunk(source, rows: chunk) { start, rows, buffer in
            let block = UnsafeMutableBufferPointer(start: buffer, count: rows * dimension)
            for r in 0..<rows {
                let row = buffer + r * dimension
                let squared = vx_dot(row, row, dimension)
                guard squared.isFinite, metric != .cosine || squared > 0 else {
                    throw VectorIndexError.invalidVector(key: nil, reason: "row \(start + r): \(squared.isFinite ? "zero norm under cosine" : "a value that is not finite")")
                }
                switch metric {
                case .cosine:
                    norms[start + r] = 1 / squared.squareRoot()
                    _ = Self.normalize(row, dimension)
                case .l2: norms[start + r] = squared
                case .innerProduct: break
                }
            }
            let nearest = Self.nearestCentres(UnsafePointer(block.baseAddress!), rows: rows, centres: centres, lists: lists,
                                              dimension: dimension, metric: metric, threads: threads)
            for r in 0..<rows { assignment[start + r] = nearest[r] }
        }
        var offsets = [Int](repeating: 0, count: lists + 1)
        for l in assignment { offsets[Int(l) + 1] += 1 }
        for l in 0..<lists { offsets[l + 1] += offsets[l] }
        var cursor = Array(offsets.dropLast())
        var positions = [Int](repeating: 0, count: count)
        var rowsInOrder = [UInt32](repeating: 0, count: count)
        for (row, l) in assignment.enumerated() {
            positions[row] = cursor[Int(l)]
            rowsInOrder[cursor[Int(l)]] = UInt32(row)
            cursor[Int(l)] += 1
        }
        assignment = []
        let codes = LargeBuffer.allocate(UInt8.self, count: count * dimension)
        let inverseStep = step.map { 1 / $0 }
        let low = lower
        try positions.withUnsafeBufferPointer { places in
            let places = UnsafeTransfer(places.baseAddress!)
            let target = UnsafeTransfer(codes)
            try Self.forEachChunk(source, rows: chunk) { start, rows, buffer in
                let rowsSource = UnsafeTransfer(buffer)
                let workers = min(threads, max(1, rows / 1024))
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    for r in (rows * w / workers)..<(rows * (w + 1) / workers) {
                        let row = rowsSource.value + r * dimension
                        if metric == .cosine { _ = Self.normalize(row, dimension) }
                        let code = target.value + places.value[start + r] * dimension
                        for d in 0..<dimension {
                            let q = ((row[d] - low[d]) * inverseStep[d]).rounded()
                            code[d] = UInt8(max(0, min(255, q)))
                        }
                    }
                }
            }
        }
        self.centres = centres
        centreNorms = Self.squaredNorms(centres, dimension: dimension)
        self.lower = lower
        self.step = step
        self.codes = codes
        self.rows = rowsInOrder
        self.offsets = offsets
        self.norms = norms
        self.source = source
    }

    deinit { LargeBuffer.free(codes) }

    /// Bytes held in memory (codes, centres, bookkeeping; not the full vectors, which stay in the file).
    public var memoryBytes: Int {
        count * dimension + rows.count * 4 + offsets.count * 8 + norms.count * 4 + (centres.count + 2 * dimension) * 4
    }

    /// The `k` nearest rows to `query`, closest first, as (row, exact distance): the `probes`
    /// nearest lists scanned by code, their `rerank` best compared in full.
    public func search(_ query: [Float], k: Int, probes: Int? = nil, rerank: Int? = nil) throws -> [(row: Int, distance: Float)] {
        guard k > 0 else { throw VectorIndexError.invalidArgument("k must be positive, not \(k)") }
        guard probes.map({ $0 > 0 }) ?? true, rerank.map({ $0 > 0 }) ?? true else {
            throw VectorIndexError.invalidArgument("probes and rerank must be positive")
        }
        try Distance.validate(query, dimension: dimension, metric: metric, key: nil)
        var q = query
        if metric == .cosine { _ = q.withUnsafeMutableBufferPointer { Self.normalize($0.baseAddress!, dimension) } }
        let lists = offsets.count - 1
        let probes = min(probes ?? parameters.probes, lists)
        let keep = max(k, rerank ?? parameters.rerank)

        // The closest lists: by dot product with the centres (cosine), by L2 otherwise.
        var centreScores = [Float](repeating: 0, count: lists)
        centres.withUnsafeBufferPointer { c in vx_dot_block(q, 1, c.baseAddress!, lists, dimension, &centreScores) }
        var order = Array(0..<lists)
        if metric != .cosine {
            for l in 0..<lists { centreScores[l] = 2 * centreScores[l] - centreNorms[l] }
        }
        order.sort { centreScores[$0] > centreScores[$1] }

        // Codes scored with the query scaled by each dimension's step and rounded to integers
        // within ±63 (so byte × byte sums are exact in 16 bits); the offset Σ q·lower is the
        // same for every row. The query's rounding moves a score by about 1/250 of the query's
        // largest term; the exact re-ranking absorbs it.
        let scaled = (0..<dimension).map { q[$0] * step[$0] }
        let largest = scaled.reduce(0) { max($0, abs($1)) }
        let unit = largest > 0 ? largest / 63 : 1
        let integerQuery = scaled.map { Int8(($0 / unit).rounded()) }
        var bias: Float = 0
        for d in 0..<dimension { bias += q[d] * lower[d] }
        var best = BoundedHeap(capacity: keep)
        var scores = [Int32](repeating: 0, count: 0)
        for l in order.prefix(probes) {
            let range = offsets[l]..<offsets[l + 1]
            guard !range.isEmpty else { continue }
            if scores.count < range.count { scores = [Int32](repeating: 0, count: range.count) }
            scores.withUnsafeMutableBufferPointer { s in
                vx_scan_u8_s8(integerQuery, codes + range.lowerBound * dimension, dimension, range.count, s.baseAddress!)
            }
            for j in 0..<range.count {
                let dot = bias + unit * Float(scores[j])
                let approximate: Float = switch metric {
                case .l2: norms[Int(rows[range.lowerBound + j])] - 2 * dot
                default: 1 - dot
                }
                best.offer(approximate, UInt32(range.lowerBound + j))
            }
        }

        // Exact distances for the survivors. From a file their rows are read with pread, through
        // the page cache but never into the process: a mapping would make each row's neighbours
        // resident too (the kernel maps up to 64 KiB around every fault), and resident memory
        // would grow with every search towards the size of the file.
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: dimension)
        defer { buffer.deallocate() }
        var exact: [(row: Int, distance: Float)] = try best.items.map { item in
            let row = Int(rows[Int(item.id)])
            let vector = try source.row(row, buffer: buffer)
            let distance: Float = switch metric {
            case .cosine: 1 - vx_dot(q, vector, dimension) * norms[row]
            case .innerProduct: 1 - vx_dot(q, vector, dimension)
            case .l2: vx_l2sq(q, vector, dimension)
            }
            return (row, distance)
        }
        exact.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.row < $1.row) }
        return Array(exact.prefix(k))
    }

    // MARK: Building blocks

    /// k-means on `count` sample rows: centres drawn from the sample, then `iterations` rounds of
    /// assignment and mean (spherical under cosine: means scaled to unit length). A centre left
    /// empty is moved onto a random sample row.
    static func kMeans(_ sample: [Float], count: Int, dimension: Int, lists: Int, metric: Metric,
                       iterations: Int, seed: UInt64, threads: Int) -> [Float] {
        var random = SplitMix64(seed: seed)
        var picks = Array(0..<count)
        for i in 0..<lists {
            let j = i + Int(random.next() % UInt64(count - i))
            picks.swapAt(i, j)
        }
        var centres = [Float](repeating: 0, count: lists * dimension)
        for l in 0..<lists {
            for d in 0..<dimension { centres[l * dimension + d] = sample[picks[l] * dimension + d] }
        }
        for _ in 0..<iterations {
            let nearest = sample.withUnsafeBufferPointer {
                nearestCentres($0.baseAddress!, rows: count, centres: centres, lists: lists, dimension: dimension, metric: metric, threads: threads)
            }
            var sums = [Double](repeating: 0, count: lists * dimension)
            var members = [Int](repeating: 0, count: lists)
            for i in 0..<count {
                let l = Int(nearest[i])
                members[l] += 1
                for d in 0..<dimension { sums[l * dimension + d] += Double(sample[i * dimension + d]) }
            }
            for l in 0..<lists {
                if members[l] == 0 {
                    let row = Int(random.next() % UInt64(count))
                    for d in 0..<dimension { centres[l * dimension + d] = sample[row * dimension + d] }
                    continue
                }
                for d in 0..<dimension { centres[l * dimension + d] = Float(sums[l * dimension + d] / Double(members[l])) }
                if metric == .cosine { _ = centres.withUnsafeMutableBufferPointer { normalize($0.baseAddress! + l * dimension, dimension) } }
            }
        }
        return centres
    }

    /// The nearest centre of each row: the largest dot product under cosine, the least L2
    /// distance otherwise (2 x·c − ‖c‖² largest).
    static func nearestCentres(_ data: UnsafePointer<Float>, rows: Int, centres: [Float], lists: Int, dimension: Int,
                               metric: Metric, threads: Int) -> [UInt32] {
        let centreNorms = metric == .cosine ? [] : squaredNorms(centres, dimension: dimension)
        var nearest = [UInt32](repeating: 0, count: rows)
        let block = 64
        let blocks = (rows + block - 1) / block
        nearest.withUnsafeMutableBufferPointer { out in
            let out = UnsafeTransfer(out.baseAddress!)
            let input = UnsafeTransfer(data)
            centres.withUnsafeBufferPointer { c in
                let c = UnsafeTransfer(c.baseAddress!)
                let workers = max(1, min(threads, blocks))
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    var scores = [Float](repeating: 0, count: block * lists)
                    for b in (blocks * w / workers)..<(blocks * (w + 1) / workers) {
                        let first = b * block, n = min(block, rows - first)
                        scores.withUnsafeMutableBufferPointer { s in
                            vx_dot_block(input.value + first * dimension, n, c.value, lists, dimension, s.baseAddress!)
                        }
                        for r in 0..<n {
                            var bestList = 0
                            var bestScore = -Float.infinity
                            for l in 0..<lists {
                                let score = centreNorms.isEmpty ? scores[r * lists + l] : 2 * scores[r * lists + l] - centreNorms[l]
                                if score > bestScore { bestScore = score; bestList = l }
                            }
                            out.value[first + r] = UInt32(bestList)
                        }
                    }
                }
            }
        }
        return nearest
    }

    /// ‖row‖² of each row of a row-major matrix.
    static func squaredNorms(_ matrix: [Float], dimension: Int) -> [Float] {
        matrix.withUnsafeBufferPointer { m in
            (0..<matrix.count / dimension).map { r in vx_dot(m.baseAddress! + r * dimension, m.baseAddress! + r * dimension, dimension) }
        }
    }

    /// Scales a row to unit length in place; returns its former norm.
    @discardableResult
    static func normalize(_ row: UnsafeMutablePointer<Float>, _ dimension: Int) -> Float {
        let norm = vx_dot(row, row, dimension).squareRoot()
        if norm > 0 { for d in 0..<dimension { row[d] /= norm } }
        return norm
    }

    private static func checkFinite(_ values: [Float], what: String) throws {
        guard values.allSatisfy(\.isFinite) else { throw VectorIndexError.invalidVector(key: nil, reason: "\(what) holds a value that is not finite") }
    }

    /// Consecutive chunks of rows in a scratch buffer the body may change.
    private static func forEachChunk(_ source: Source, rows: Int,
                                     _ body: (Int, Int, UnsafeMutablePointer<Float>) throws -> Void) throws {
        let (count, dimension) = (source.count, source.dimension)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: rows * dimension)
        defer { buffer.deallocate() }
        for start in stride(from: 0, to: count, by: rows) {
            let n = min(rows, count - start)
            try source.read(start..<start + n, into: buffer)
            try body(start, n, buffer)
        }
    }
}

/// Full vectors held in memory for an index built from an array (a copy it owns).
private final class MemoryRows {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    let dimension: Int

    init(copying vectors: [Float], dimension: Int) {
        pointer = .allocate(capacity: max(1, vectors.count))
        pointer.initialize(from: vectors, count: vectors.count)
        count = vectors.count / dimension
        self.dimension = dimension
    }

    deinit { pointer.deallocate() }
}

/// The `capacity` smallest (distance, id) pairs offered, as a max-heap on distance.
struct BoundedHeap {
    let capacity: Int
    private(set) var items: [(distance: Float, id: UInt32)] = []

    init(capacity: Int) {
        self.capacity = capacity
        items.reserveCapacity(capacity)
    }

    mutating func offer(_ distance: Float, _ id: UInt32) {
        if items.count < capacity {
            items.append((distance, id))
            var i = items.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard items[parent].distance < items[i].distance else { break }
                items.swapAt(parent, i)
                i = parent
            }
        } else if distance < items[0].distance {
            items[0] = (distance, id)
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var largest = i
                if l < items.count && items[l].distance > items[largest].distance { largest = l }
                if r < items.count && items[r].distance > items[largest].distance { largest = r }
                if largest == i { break }
                items.swapAt(i, largest)
                i = largest
            }
        }
    }
}
