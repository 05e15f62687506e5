import CVitrineIndex

/// CRC32C (Castagnoli), the checksum of every record and section of the index files. It detects
/// all burst errors up to 32 bits, and the SSE4.2 instruction computes it at memory speed, so even
/// a multi-gigabyte snapshot is verified on load.
public struct CRC32C: Sendable {
    public private(set) var value: UInt32 = 0

    public init() {}

    public mutating func update(_ pointer: UnsafeRawPointer, count: Int) {
        value = vx_crc32c(value, pointer, count)
    }

    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress { value = vx_crc32c(value, base, raw.count) }
        }
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: some ContiguousBytes) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }
}

import Foundation
