import Foundation

/// A minimal reader for NumPy `.npy` files (format 1.0/2.0, little-endian, C order), enough for
/// the uint8 and float32 fixtures.
struct NPYArray {
    enum DType: String { case uint8 = "|u1", float32 = "<f4" }
    let dtype: DType
    let shape: [Int]
    let payload: Data

    struct FormatError: Error, CustomStringConvertible { let description: String }

    init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw FormatError(description: "\(url.lastPathComponent): not an .npy file")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        let header = String(decoding: data[headerStart..<headerStart + headerLength], as: UTF8.self)
        guard let descr = Self.field("descr", in: header), let dtype = DType(rawValue: descr) else {
            throw FormatError(description: "\(url.lastPathComponent): unsupported dtype in \(header)")
        }
        guard Self.field("fortran_order", in: header) == "False" else {
            throw FormatError(description: "\(url.lastPathComponent): not C order")
        }
        guard let shapeText = Self.field("shape", in: header) else {
            throw FormatError(description: "\(url.lastPathComponent): no shape")
        }
        shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        self.dtype = dtype
        payload = data.subdata(in: (headerStart + headerLength)..<data.count)
        let itemSize = dtype == .uint8 ? 1 : 4
        guard payload.count == shape.reduce(1, *) * itemSize else {
            throw FormatError(description: "\(url.lastPathComponent): payload size does not match shape \(shape)")
        }
    }

    /// The raw text of `'key': value` in the header dict (strings unquoted, tuples without parens).
    private static func field(_ key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)':") else { return nil }
        var rest = header[keyRange.upperBound...].drop { $0 == " " }
        if rest.first == "'" {
            rest = rest.dropFirst()
            return String(rest.prefix { $0 != "'" })
        }
        if rest.first == "(" {
            return String(rest.dropFirst().prefix { $0 != ")" })
        }
        return String(rest.prefix { $0 != "," && $0 != "}" }).trimmingCharacters(in: .whitespaces)
    }

    var uint8: [UInt8] { [UInt8](payload) }

    var float32: [Float] {
        payload.withUnsafeBytes { raw in
            (0..<payload.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}
