import Foundation
import VitrineTensor

#if canImport(Glibc)
import Glibc
#endif

/// Writes a `.safetensors` file: a JSON header (padded to 8 bytes, as the format recommends)
/// followed by each tensor's little-endian bytes in header order.
public enum SafetensorsWriter {
    /// A tensor to write; `values` are stored as `dtype` (F32, F16 or BF16).
    public struct Tensor: Sendable {
        public var name: String
        public var shape: [Int]
        public var values: [Float]
        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// Writes `tensors` to `url` through a temporary file and a rename, so a reader never sees
    /// a half-written checkpoint.
    public static func write(
        _ tensors: [Tensor], dtype: SafetensorsFile.DType = .f32, metadata: [String: String] = [:], to url: URL
    ) throws {
        precondition([.f32, .f16, .bf16].contains(dtype), "SafetensorsWriter writes F32, F16 or BF16")
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for t in tensors {
            precondition(t.values.count == t.shape.reduce(1, *), "tensor \(t.name) does not match its shape")
            let length = t.values.count * dtype.size
            header[t.name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + length]]
            offset += length
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))

        let temporary = url.appendingPathExtension("tmp")
        FileManager.default.createFile(atPath: temporary.path, contents: nil)
        let handle = try FileHandle(forWritingTo: temporary)
        do {
            var length = UInt64(json.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: json)
            for t in tensors {
                try handle.write(contentsOf: encode(t.values, as: dtype))
            }
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw ModelError.malformedWeights(path: url.path, reason: "cannot write: \(reason)")
        }
    }

    private static func encode(_ values: [Float], as dtype: SafetensorsFile.DType) -> Data {
        switch dtype {
        case .f16:
            return values.map { HalfPrecision.float16Bits($0).littleEndian }.withUnsafeBytes { Data($0) }
        case .bf16:
            return values.map { HalfPrecision.bfloat16Bits($0).littleEndian }.withUnsafeBytes { Data($0) }
        default:
            return values.withUnsafeBytes { Data($0) }
        }
    }
}
