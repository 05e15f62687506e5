import CVitrineZlib
import Foundation

/// Reads a gzip file as a stream of inflated bytes, a compressed chunk at a time.
final class GzipReader {
    let path: String
    private let file: FileChunkSource
    // On the heap: zlib keeps a pointer back to the stream and checks it on every call.
    private let stream: UnsafeMutablePointer<z_stream>
    private var input = Data()
    private var output: [UInt8] = []
    private var outputStart = 0
    private var ended = false
    /// Inflated bytes handed out so far, for messages.
    private(set) var offset = 0

    init(url: URL) throws {
        path = url.path
        file = try FileChunkSource(url: url)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 16 + MAX_WBITS: a gzip header and trailer around the deflate data. On failure, deinit
        // still runs (every property is set): inflateEnd of a failed stream is harmless.
        let status = vitrine_inflate_init2(stream, 16 + MAX_WBITS)
        guard status == Z_OK else {
            throw ReaderError.unreadable(path: path, reason: "zlib initialisation failed (\(status))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Exactly `count` bytes, or nil if the stream ends first (partway is also nil).
    func read(_ count: Int) throws -> [UInt8]? {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            if outputStart == output.count {
                guard try refill() else { return nil }
                continue
            }
            let take = min(count - result.count, output.count - outputStart)
            result += output[outputStart..<(outputStart + take)]
            outputStart += take
        }
        offset += count
        return result
    }

    /// Inflates the next piece into `output`; false at the end of the gzip stream.
    private func refill() throws -> Bool {
        output.removeAll(keepingCapacity: true)
        outputStart = 0
        while output.isEmpty {
            if ended { return false }
            if input.isEmpty {
                guard let chunk = try file.nextChunk() else {
                    throw ReaderError.invalidFormat(path: path, reason: "gzip data ends early (truncated file) after \(offset) bytes")
                }
                input = chunk
            }
            var produced = 0
            var status: Int32 = Z_OK
            let capacity = 64 * 1024
            var buffer = [UInt8](repeating: 0, count: capacity)
            let consumed: Int = input.withUnsafeMutableBytes { raw in
                buffer.withUnsafeMutableBufferPointer { out in
                    stream.pointee.next_in = raw.bindMemory(to: Bytef.self).baseAddress
                    stream.pointee.avail_in = uInt(raw.count)
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = uInt(capacity)
                    status = inflate(stream, Z_NO_FLUSH)
                    produced = capacity - Int(stream.pointee.avail_out)
                    let used = raw.count - Int(stream.pointee.avail_in)
                    stream.pointee.next_in = nil
                    stream.pointee.next_out = nil
                    return used
                }
            }
            input.removeFirst(consumed)
            output.append(contentsOf: buffer[0..<produced])
            switch status {
            case Z_OK, Z_BUF_ERROR: break
            case Z_STREAM_END: ended = true
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
                throw ReaderError.invalidFormat(path: path, reason: "not valid gzip data: \(message)")
            }
        }
        return true
    }
}
