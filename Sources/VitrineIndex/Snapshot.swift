import Foundation
import VitrineCore

/// The snapshot `snapshot.vidx`: the whole in-memory index at one sequence number, graph included,
/// so a restart loads arrays instead of rebuilding.
///
/// Format (little-endian), version 1:
/// - `VTRNSNAP`, version u32, header length u32, header, CRC32C of the header.
///   Header: metric u8, algorithm u8 (0 exact, 1 HNSW), dimension u32, M u32, efConstruction u32,
///   efSearch u32, seed u64, sequence u64, nodes u64, entry point u32, max level i32 (as u32),
///   level-generator state u64.
/// - Sections in fixed order, each: tag (4 ASCII bytes), length u64, CRC32C u32, bytes.
///   `KEYS` product and image strings per node; `ATTR` attributes per node; `LIVE` live bitset
///   words; `VECT` vectors (nodes × dimension f32); for HNSW `LEVL` level per node (u8), `LNK0`
///   bottom-layer lists (nodes × (M_max0 + 1) u32), `UPPR` upper-layer lists of nodes with
///   level > 0, in id order.
/// - `VTRNEND\0`.
///
/// Written to `snapshot.vidx.tmp`, fsynced, renamed over `snapshot.vidx`, directory fsynced: a
/// crash leaves the old or the new snapshot, never a mix. Every section is checked on load;
/// any mismatch is a ``VectorIndexError/corrupted(file:reason:)`` naming the section.
enum Snapshot {
    static let magic: [UInt8] = Array("VTRNSNAP".utf8)
    static let endMagic: [UInt8] = Array("VTRNEND\0".utf8)
    static let version: UInt32 = 1

    // MARK: Writing

    static func write(_ index: MemoryIndex, to path: String, sync: Bool) throws {
        let temporary = path + ".tmp"
        let fd = try FileIO.open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        var closed = false
        defer { if !closed { close(fd) } }
        let nodes = index.nodeCount

        var header = ByteWriter()
        header.u8(index.metric.code)
        let graph = index.graph
        let parameters = graph?.parameters ?? HNSWParameters()
        header.u8(graph == nil ? 0 : 1)
        header.u32(UInt32(index.dimension))
        header.u32(UInt32(parameters.M))
        header.u32(UInt32(parameters.efConstruction))
        header.u32(UInt32(parameters.efSearch))
        header.u64(parameters.seed)
        header.u64(index.sequence)
        header.u64(UInt64(nodes))
        header.u32(graph?.entryPoint ?? HNSWIndex.noNode)
        header.u32(UInt32(bitPattern: Int32(graph?.maxLevel ?? -1)))
        header.u64(graph?.random.state ?? 0)
        var start = ByteWriter()
        start.raw(magic)
        start.u32(version)
        start.u32(UInt32(header.bytes.count))
        start.raw(header.bytes)
        start.u32(CRC32C.checksum(header.bytes))
        try FileIO.writeAll(fd, start.bytes, path: temporary)

        func section(_ tag: String, _ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try section(tag, $0.baseAddress!, $0.count) }
        }
        func section(_ tag: String, _ pointer: UnsafeRawPointer, _ count: Int) throws {
            var crc = CRC32C()
            crc.update(pointer, count: count)
            var h = ByteWriter()
            h.raw(Array(tag.utf8))
            h.u64(UInt64(count))
            h.u32(crc.value)
            try FileIO.writeAll(fd, h.bytes, path: temporary)
            if count > 0 { try FileIO.writeAll(fd, pointer, count, path: temporary) }
        }

        var keys = ByteWriter()
        for key in index.keys {
            keys.string(key.product)
            keys.string(key.image)
        }
        try section("KEYS", keys.bytes)
        var attributes = ByteWriter()
        for id in 0..<nodes {
            let values = index.attributes.values(of: id)
            attributes.u16(UInt16(values.count))
            for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                attributes.string(name)
                attributes.string(value)
            }
        }
        try section("ATTR", attributes.bytes)
        var live = index.live.words
        let liveWords = (nodes + 63) / 64
        if live.count < liveWords { live += [UInt64](repeating: 0, count: liveWords - live.count) }
        try live[0..<liveWords].withUnsafeBytes { try section("LIVE", $0.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!, $0.count) }
        try section("VECT", index.vectors.base, nodes * index.dimension * 4)
        if let graph {
            try section("LEVL", graph.levels, nodes)
            try section("LNK0", graph.links0, nodes * graph.level0Stride * 4)
            var upper: [UInt32] = []
            for id in 0..<nodes where graph.levels[id] > 0 {
                let n = Int(graph.levels[id]) * graph.upperStride
                upper.append(contentsOf: UnsafeBufferPointer(start: graph.upper[id]!, count: n))
            }
            try upper.withUnsafeBytes { try section("UPPR", $0.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!, $0.count) }
        }
        try FileIO.writeAll(fd, endMagic, path: temporary)
        if sync { try FileIO.sync(fd, path: temporary) }
        close(fd)
        closed = true
        try FileIO.rename(temporary, path)
        if sync { try FileIO.syncDirectory((path as NSString).deletingLastPathComponent) }
    }

    // MARK: Reading

    /// What a snapshot says about the index it holds, before its sections are read.
    struct Header {
        var metric: Metric
        var algorithm: IndexAlgorithm
        var dimension: Int
        var sequence: UInt64
        var nodes: Int
        var entryPoint: UInt32
        var maxLevel: Int
        var randomState: UInt64
    }

    /// Loads a snapshot. `efSearch` overrides the stored one (a search-time setting).
    static func read(_ path: String, efSearch: Int?) throws -> MemoryIndex {
        let fd = try FileIO.open(path, O_RDONLY)
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw VectorIndexError.io(file: path, operation: "stat", errno: errno) }
        var reader = SectionReader(fd: fd, path: path, fileSize: Int(info.st_size))
        func corrupt(_ reason: String) -> VectorIndexError { .corrupted(file: path, reason: reason) }

        let start = try reader.bytes(16, "file header")
        guard Array(start[0..<8]) == magic else { throw corrupt("not a Vitrine index snapshot (bad magic)") }
        var s = ByteReader(start, file: path, offset: 8)
        let version = try s.u32("version")
        let headerLength = Int(try s.u32("header length"))
        guard headerLength <= 4096 else { throw corrupt("header length \(headerLength) is impossible") }
        let headerBytes = try reader.bytes(headerLength + 4, "header")
        var crcReader = ByteReader(headerBytes, file: path, offset: headerLength)
        guard CRC32C.checksum(Array(headerBytes[0..<headerLength])) == (try crcReader.u32("header checksum")) else {
            throw corrupt("header checksum mismatch")
        }
        guard version == Self.version else { throw VectorIndexError.unsupportedVersion(file: path, version: version) }
        var h = ByteReader(Array(headerBytes[0..<headerLength]), file: path)
        guard let metric = Metric(code: try h.u8("metric")) else { throw corrupt("unknown metric") }
        let algorithmCode = try h.u8("algorithm")
        let dimension = Int(try h.u32("dimension"))
        let parameters = HNSWParameters(
            M: Int(try h.u32("M")), efConstruction: Int(try h.u32("efConstruction")),
            efSearch: Int(try h.u32("efSearch")), seed: try h.u64("seed"))
        let sequence = try h.u64("sequence")
        let nodes = Int(try h.u64("node count"))
        let entryPoint = try h.u32("entry point")
        let maxLevel = Int(Int32(bitPattern: try h.u32("max level")))
        let randomState = try h.u64("generator state")
        guard (1...65536).contains(dimension) else { throw corrupt("dimension \(dimension) is impossible") }
        guard nodes <= reader.fileSize / (dimension * 4) else { throw corrupt("\(nodes) nodes cannot fit in the file") }
        var algorithm = IndexAlgorithm.exact
        if algorithmCode == 1 {
            var p = parameters
            if let efSearch { p.efSearch = efSearch }
            do { try p.validate() } catch { throw corrupt("impossible HNSW parameters M=\(p.M)") }
            algorithm = .hnsw(p)
        } else if algorithmCode != 0 {
            throw corrupt("unknown algorithm \(algorithmCode)")
        }

        let index = MemoryIndex(dimension: dimension, metric: metric, algorithm: algorithm, capacity: max(nodes, 1024))
        index.sequence = sequence

        let keyBytes = try reader.section("KEYS")
        var k = ByteReader(keyBytes, file: path)
        var keys: [VectorKey] = []
        keys.reserveCapacity(nodes)
        for _ in 0..<nodes { keys.append(VectorKey(product: try k.string("product id"), image: try k.string("image id"))) }
        guard k.remaining == 0 else { throw corrupt("KEYS section has trailing bytes") }

        let attributeBytes = try reader.section("ATTR")
        var a = ByteReader(attributeBytes, file: path)
        for id in 0..<nodes {
            var values: [String: String] = [:]
            for _ in 0..<Int(try a.u16("attribute count")) {
                let name = try a.string("attribute name")
                values[name] = try a.string("attribute value")
            }
            index.restoreNode(key: keys[id], attributes: values)
        }
        guard a.remaining == 0 else { throw corrupt("ATTR section has trailing bytes") }

        let liveBytes = try reader.section("LIVE", expectedLength: (nodes + 63) / 64 * 8)
        let words = liveBytes.withUnsafeBytes { raw in
            (0..<liveBytes.count / 8).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
        }

        let first = index.vectors.appendUninitialized(nodes)
        try reader.section("VECT", into: UnsafeMutableRawPointer(index.vectors.row(first)), length: nodes * dimension * 4)
        for i in 0..<nodes * dimension where !index.vectors.base[i].isFinite {
            throw corrupt("VECT holds a non-finite value at node \(i / dimension)")
        }

        if let graph = index.graph {
            graph.reserve(max(nodes, 1024))
            let levels = try reader.section("LEVL", expectedLength: nodes)
            try reader.section("LNK0", into: UnsafeMutableRawPointer(graph.links0), length: nodes * graph.level0Stride * 4)
            var upperCount = 0
            for id in 0..<nodes where levels[id] > 0 { upperCount += Int(levels[id]) * graph.upperStride }
            let upper = try reader.section("UPPR", expectedLength: upperCount * 4)
            var offset = 0
            for id in 0..<nodes {
                let level = Int(levels[id])
                guard level <= 30 else { throw corrupt("LEVL holds impossible level \(level)") }
                graph.levels[id] = UInt8(level)
                if level > 0 {
                    let block = graph.allocateUpper(id, level: level)
                    let n = level * graph.upperStride
                    upper.withUnsafeBytes { raw in
                        UnsafeMutableRawPointer(block).copyMemory(from: raw.baseAddress! + offset * 4, byteCount: n * 4)
                    }
                    offset += n
                }
            }
            try validateGraph(graph, nodes: nodes, entryPoint: entryPoint, maxLevel: maxLevel, path: path)
            graph.restore(count: nodes, entryPoint: entryPoint, maxLevel: maxLevel, random: SplitMix64(seed: randomState))
        }
        let end = try reader.bytes(8, "end marker")
        guard end == endMagic else { throw corrupt("end marker missing") }
        guard reader.offset == reader.fileSize else { throw corrupt("\(reader.fileSize - reader.offset) unexpected bytes after the end marker") }
        try index.restoreLive(Bitset(words: words))
        return index
    }

    /// Checks every link points at an existing node and counts fit the lists, so a damaged but
    /// checksum-colliding graph can never make search read out of bounds.
    private static func validateGraph(_ graph: HNSWIndex, nodes: Int, entryPoint: UInt32, maxLevel: Int, path: String) throws {
        func corrupt(_ reason: String) -> VectorIndexError { .corrupted(file: path, reason: reason) }
        if nodes == 0 {
            guard entryPoint == HNSWIndex.noNode else { throw corrupt("entry point in an empty graph") }
            return
        }
        guard Int(entryPoint) < nodes, Int(graph.levels[Int(entryPoint)]) == maxLevel else {
            throw corrupt("entry point \(entryPoint) at level \(maxLevel) does not match the graph")
        }
        for id in 0..<nodes {
            let l = graph.links0 + id * graph.level0Stride
            guard Int(l[0]) <= graph.maxM0 else { throw corrupt("LNK0 node \(id) has \(l[0]) links") }
            for j in 0..<Int(l[0]) where Int(l[1 + j]) >= nodes { throw corrupt("LNK0 node \(id) links to \(l[1 + j])") }
            let level = Int(graph.levels[id])
            guard level <= maxLevel else { throw corrupt("node \(id) is above the top level") }
            if level > 0, let block = graph.upper[id] {
                for layer in 0..<level {
                    let u = block + layer * graph.upperStride
                    guard Int(u[0]) <= graph.M else { throw corrupt("UPPR node \(id) has \(u[0]) links") }
                    for j in 0..<Int(u[0]) {
                        let target = Int(u[1 + j])
                        guard target < nodes, Int(graph.levels[target]) > layer else {
                            throw corrupt("UPPR node \(id) links to \(target) on layer \(layer + 1)")
                        }
                    }
                }
            }
        }
    }
}

/// Sequential reads of a snapshot's sections, each verified against its checksum; large sections
/// are read straight into their final buffers (no intermediate copy), which is what makes a
/// million vectors load in about a second.
private struct SectionReader {
    let fd: Int32
    let path: String
    let fileSize: Int
    var offset = 0

    init(fd: Int32, path: String, fileSize: Int) {
        self.fd = fd
        self.path = path
        self.fileSize = fileSize
    }

    mutating func bytes(_ n: Int, _ what: String) throws -> [UInt8] {
        guard n <= fileSize - offset else {
            throw VectorIndexError.corrupted(file: path, reason: "truncated in \(what) at byte \(offset) (file has \(fileSize) bytes)")
        }
        var out = [UInt8](repeating: 0, count: n)
        if n > 0 {
            let got = try out.withUnsafeMutableBytes { try FileIO.readFully(fd, $0.baseAddress!, n, path: path) }
            guard got == n else { throw VectorIndexError.corrupted(file: path, reason: "truncated in \(what)") }
        }
        offset += n
        return out
    }

    private mutating func sectionHeader(_ tag: String) throws -> (length: Int, crc: UInt32) {
        let h = try bytes(16, "\(tag) section header")
        guard Array(h[0..<4]) == Array(tag.utf8) else {
            throw VectorIndexError.corrupted(file: path, reason: "expected section \(tag) at byte \(offset - 16)")
        }
        var r = ByteReader(h, file: path, offset: 4)
        let length = try r.u64("\(tag) length")
        guard length <= UInt64(fileSize - offset) else {
            throw VectorIndexError.corrupted(file: path, reason: "section \(tag) is truncated (needs \(length) bytes, \(fileSize - offset) left)")
        }
        return (Int(length), try r.u32("\(tag) checksum"))
    }

    mutating func section(_ tag: String, expectedLength: Int? = nil) throws -> [UInt8] {
        let (length, crc) = try sectionHeader(tag)
        if let expectedLength, expectedLength != length {
            throw VectorIndexError.corrupted(file: path, reason: "section \(tag) has \(length) bytes, expected \(expectedLength)")
        }
        let data = try bytes(length, "section \(tag)")
        guard CRC32C.checksum(data) == crc else {
            throw VectorIndexError.corrupted(file: path, reason: "section \(tag) checksum mismatch")
        }
        return data
    }

    mutating func section(_ tag: String, into destination: UnsafeMutableRawPointer, length expected: Int) throws {
        let (length, crc) = try sectionHeader(tag)
        guard length == expected else {
            throw VectorIndexError.corrupted(file: path, reason: "section \(tag) has \(length) bytes, expected \(expected)")
        }
        if length > 0 {
            let got = try FileIO.readFully(fd, destination, length, path: path)
            guard got == length else { throw VectorIndexError.corrupted(file: path, reason: "section \(tag) is truncated") }
        }
        offset += length
        var check = CRC32C()
        check.update(UnsafeRawPointer(destination), count: length)
        guard check.value == crc else {
            throw VectorIndexError.corrupted(file: path, reason: "section \(tag) checksum mismatch")
        }
    }
}
