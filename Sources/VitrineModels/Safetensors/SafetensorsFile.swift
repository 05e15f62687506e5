import Foundation
import VitrineTensor

#if canImport(Glibc)
import Glibc
#endif

/// One `.safetensors` file, memory-mapped: an 8-byte little-endian header length, a JSON header
/// mapping tensor names to `{dtype, shape, data_offsets}`, then the raw tensor bytes.
///
/// The header is validated completely when the file is opened (every tensor's byte range must
/// lie inside the file and match its dtype and shape), so a truncated or corrupt file is
/// reported up front rather than as wrong numbers later.
public final class SafetensorsFile: @unchecked Sendable {
    /// Storage types of tensors. Float ones convert to `Float`; integer ones are only listed.
    public enum DType: String, Sendable {
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
        case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

        public var size: Int {
            switch self {
            case .f64, .i64: 8
            case .f32, .i32: 4
            case .f16, .bf16, .i16: 2
            case .i8, .u8, .bool: 1
            }
        }
    }

    public struct TensorInfo: Sendable {
        public let dtype: DType
        public let shape: [Int]
        /// Byte range within the data section (after the header).
        public let range: Range<Int>
    }

    public let url: URL
    public let tensors: [String: TensorInfo]
    /// Free-form string metadata from the header's `__metadata__`.
    public let metadata: [String: String]

    private let mapping: UnsafeRawBufferPointer
    private let dataStart: Int

    /// Maps the file and validates its header.
    public init(url: URL) throws {
        func fail(_ reason: String) -> ModelError { .malformedWeights(path: url.path, reason: reason) }
        self.url = url
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw ModelError.missingFile(path: url.path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("cannot stat: \(String(cString: strerror(errno)))") }
        let size = Int(info.st_size)
        guard size >= 8 else { throw fail("file is \(size) bytes, too short for a safetensors header (truncated?)") }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw fail("cannot memory-map: \(String(cString: strerror(errno)))")
        }
        let mapping = UnsafeRawBufferPointer(start: base, count: size)

        do {
            let headerLength = Int(mapping.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian & 0x7FFF_FFFF_FFFF)
            guard headerLength <= 100_000_000, 8 + headerLength <= size else {
                throw fail("header declares \(headerLength) bytes but the file has \(size) (truncated or not safetensors)")
            }
            let headerData = Data(UnsafeRawBufferPointer(rebasing: mapping[8..<8 + headerLength]))
            guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
                throw fail("header is not a JSON object")
            }
            let dataLength = size - 8 - headerLength
            var tensors: [String: TensorInfo] = [:]
            var metadata: [String: String] = [:]
            for (name, value) in header {
                if name == "__metadata__" {
                    for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = v as? String }
                    continue
                }
                guard let entry = value as? [String: Any],
                      let dtypeName = entry["dtype"] as? String,
                      let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                      let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                      offsets.count == 2
                else { throw fail("tensor \(name): malformed header entry") }
                guard let dtype = DType(rawValue: dtypeName) else {
                    throw fail("tensor \(name): unsupported dtype \(dtypeName)")
                }
                guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1] else {
                    throw fail("tensor \(name): bad shape \(shape) or offsets \(offsets)")
                }
                var elements = 1
                for d in shape {
                    let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                    guard !overflow else { throw fail("tensor \(name): shape \(shape) overflows") }
                    elements = p
                }
                guard offsets[1] - offsets[0] == elements * dtype.size else {
                    throw fail("tensor \(name): \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtypeName)")
                }
                guard offsets[1] <= dataLength else {
                    throw fail("tensor \(name) ends at byte \(offsets[1]) but the data section has \(dataLength) (truncated file)")
                }
                tensors[name] = TensorInfo(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
            }
            self.tensors = tensors
            self.metadata = metadata
            self.mapping = mapping
            self.dataStart = 8 + headerLength
        } catch {
            munmap(base, size)
            throw error
        }
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress), mapping.count)
    }

    private func releasePages(_ range: Range<Int>) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = range.lowerBound / page * page
        let last = min((range.upperBound + page - 1) / page * page, mapping.count)
        guard last > first, let base = mapping.baseAddress else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + first), last - first, MADV_DONTNEED)
    }

    /// The tensor's values converted to `Float` (F32 copied; F16, BF16 and F64 converted).
    public func floats(_ name: String) throws -> [Float] {
        guard let info = tensors[name] else { throw ModelError.missingTensor(name: name, path: url.path) }
        let start = dataStart + info.range.lowerBound, end = dataStart + info.range.upperBound
        let raw = UnsafeRawBufferPointer(rebasing: mapping[start..<end])
        let count = info.range.count / info.dtype.size
        // The copy is what the model keeps; drop the mapped pages now so loading a model never
        // holds the weights twice (they are re-read from the file if ever touched again).
        defer { releasePages(start..<end) }
        switch info.dtype {
        case .f32:
            return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                _ = UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                initialized = count
            }
        case .f16:
            return (0..<count).map { HalfPrecision.float(fromFloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        case .bf16:
            return (0..<count).map { HalfPrecision.float(fromBFloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        case .f64:
            return (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self)) }
        default:
            throw ModelError.malformedWeights(path: url.path, reason: "tensor \(name) has dtype \(info.dtype.rawValue), expected a float type")
        }
    }
}
