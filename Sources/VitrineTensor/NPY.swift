import Foundation
import VitrineCore

/// A NumPy `.npy` array (format versions 1–3, little-endian, C order), the interchange format
/// for embeddings and test fixtures.
public struct NPYArray: Sendable {
    /// The element types Vitrine reads and writes.
    public enum DType: String, Sendable {
        case float32 = "<f4", float16 = "<f2", float64 = "<f8"
        case uint8 = "|u1", int32 = "<i4", int64 = "<i8"

        public var size: Int {
            switch self {
            case .uint8: 1
            case .float16: 2
            case .float32, .int32: 4
            case .float64, .int64: 8
            }
        }
    }

    public let dtype: DType
    public let shape: [Int]
    /// The raw little-endian element bytes.
    public let data: [UInt8]

    public var count: Int { shape.reduce(1, *) }

    public init(dtype: DType, shape: [Int], data: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    /// Wraps `values` as a float32 array of the given shape.
    public init(float32 values: [Float], shape: [Int]) {
        self.dtype = .float32
        self.shape = shape
        self.data = values.withUnsafeBytes { Array($0) }
    }

    /// Reads an array from a file.
    public init(contentsOf url: URL) throws {
        let bytes: [UInt8]
        do { bytes = Array(try Data(contentsOf: url)) } catch {
            throw NPYError(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        try self.init(bytes: bytes, name: url.path)
    }

    /// Parses the bytes of a `.npy` file; `name` identifies it in errors.
    public init(bytes: [UInt8], name: String = "npy data") throws {
        func fail(_ reason: String) -> NPYError { NPYError(path: name, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy file (bad magic)") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw fail("unsupported format version \(major)")
        }
        guard headerStart + headerLength <= bytes.count,
              let header = String(bytes: bytes[headerStart..<headerStart + headerLength], encoding: .utf8)
        else { throw fail("truncated header") }

        guard let descr = Self.field("descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")),
              let dtype = DType(rawValue: descr == "<u1" ? "|u1" : descr)
        else { throw fail("unsupported dtype in header \(header)") }
        guard Self.field("fortran_order", in: header)?.trimmingCharacters(in: .whitespaces) == "False" else {
            throw fail("Fortran-ordered arrays are not supported")
        }
        guard let shapeText = Self.field("shape", in: header) else { throw fail("no shape in header") }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for d in dims {
            guard let n = Int(d), n >= 0 else { throw fail("bad shape \(shapeText)") }
            shape.append(n)
        }
        let (count, overflow) = shape.reduce((1, false)) { acc, n in
            let (p, o) = acc.0.multipliedReportingOverflow(by: n)
            return (p, acc.1 || o)
        }
        let dataStart = headerStart + headerLength
        guard !overflow, count <= (bytes.count - dataStart) / dtype.size else {
            throw fail("truncated data: shape \(shape) needs \(count) elements of \(dtype.size) bytes")
        }
        self.dtype = dtype
        self.shape = shape
        self.data = Array(bytes[dataStart..<dataStart + count * dtype.size])
    }

    /// The elements as `Float` (from float32, float16 or float64 storage).
    public func floats() -> [Float] {
        data.withUnsafeBytes { raw in
            switch dtype {
            case .float32: (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
            case .float16: (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: $0 * 2, as: Float16.self)) }
            case .float64: (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self)) }
            case .uint8: data.map(Float.init)
            case .int32: (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }
            case .int64: (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
            }
        }
    }

    /// The serialized file: version 1.0 header padded to 64 bytes, then the data.
    public func serialized() -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': (\(dims)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = header.utf8.count
        return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(length & 0xFF), UInt8(length >> 8)]
            + Array(header.utf8) + data
    }

    public func write(to url: URL) throws {
        try Data(serialized()).write(to: url, options: .atomic)
    }

    /// The text after `'key':` up to the next top-level comma (a tuple counts as one value).
    private static func field(_ key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)':") else { return nil }
        var depth = 0
        var value = ""
        for c in header[range.upperBound...] {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if depth == 0 && (c == "," || c == "}") { break }
            value.append(c)
        }
        return value.trimmingCharacters(in: .whitespaces)
    }
}

/// A `.npy` file that cannot be read, with the file and the reason.
public struct NPYError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

extension NPYError: VitrineError {
    /// A NumPy file that cannot be read as asked: the input is at fault.
    public var kind: ErrorKind { .invalidInput }
}
