import Foundation

/// One CSV record: its raw fields (bytes, validated as UTF-8 by the caller), the line it starts
/// on (1-based), and what was wrong with it, if anything.
struct CSVRecord {
    var fields: [[UInt8]]
    var line: Int
    var error: String?

    /// The fields as strings, or the index of the first field that is not valid UTF-8.
    func strings() -> Result<[String], FieldEncodingError> {
        var result: [String] = []
        result.reserveCapacity(fields.count)
        for (index, bytes) in fields.enumerated() {
            guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(FieldEncodingError(index: index)) }
            result.append(text)
        }
        return .success(result)
    }
}

struct FieldEncodingError: Error { var index: Int }

/// An RFC 4180 parser fed bytes chunk by chunk: quoted fields with commas, doubled quotes and
/// line breaks inside; CRLF, LF or CR line ends. Lenient where Python's `csv` is (a quote inside
/// an unquoted field is kept as text); a character after a closing quote marks the record bad.
/// Blank lines are skipped.
struct CSVParser {
    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted }

    /// Longer records are reported as errors and their bytes dropped, so a stray quote cannot make
    /// the parser hold the rest of a large file in memory.
    let maxRecordBytes: Int
    private var state = State.fieldStart
    private var field: [UInt8] = []
    private var fields: [[UInt8]] = []
    private var recordBytes = 0
    private var recordLine = 1
    private var line = 1
    private var error: String?
    private var skipLineFeed = false
    private var recordStarted = false

    init(maxRecordBytes: Int = 16 * 1024 * 1024) { self.maxRecordBytes = maxRecordBytes }

    /// Parses `bytes`, appending every record they complete to `records`.
    mutating func feed(_ bytes: Data, into records: inout [CSVRecord]) {
        bytes.withUnsafeBytes { raw in
            for byte in raw { consume(byte, &records) }
        }
    }

    /// Ends the input: emits the last record, if any.
    mutating func finish(into records: inout [CSVRecord]) {
        if state == .quoted { error = error ?? "unterminated quoted field (the file ends inside quotes)" }
        if recordStarted || !fields.isEmpty || !field.isEmpty { endRecord(&records) }
    }

    private mutating func consume(_ byte: UInt8, _ records: inout [CSVRecord]) {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        if skipLineFeed {
            skipLineFeed = false
            if byte == lf { return }
        }
        switch state {
        case .fieldStart, .unquoted:
            switch byte {
            case quote where state == .fieldStart:
                state = .quoted
                recordStarted = true
            case comma:
                endField()
                recordStarted = true
            case lf, cr:
                line += 1
                skipLineFeed = byte == cr
                if recordStarted || !fields.isEmpty || !field.isEmpty {
                    endRecord(&records)
                } else {
                    recordLine = line  // a blank line
                }
            default:
                append(byte)
                state = .unquoted
                recordStarted = true
            }
        case .quoted:
            if byte == quote {
                state = .quoteInQuoted
            } else {
                if byte == lf { line += 1 }
                append(byte)
            }
        case .quoteInQuoted:
            switch byte {
            case quote:
                append(quote)
                state = .quoted
            case comma:
                endField()
            case lf, cr:
                line += 1
                skipLineFeed = byte == cr
                endRecord(&records)
            default:
                error = error ?? "unexpected character after a closing quote"
                append(byte)
                state = .unquoted
            }
        }
    }

    private mutating func append(_ byte: UInt8) {
        recordBytes += 1
        if recordBytes > maxRecordBytes {
            error = error ?? "record longer than \(maxRecordBytes) bytes"
            return
        }
        field.append(byte)
    }

    private mutating func endField() {
        fields.append(field)
        field = []
        state = .fieldStart
    }

    private mutating func endRecord(_ records: inout [CSVRecord]) {
        endField()
        records.append(CSVRecord(fields: fields, line: recordLine, error: error))
        fields = []
        error = nil
        recordBytes = 0
        recordStarted = false
        recordLine = line
    }
}

/// Pulls CSV records out of a chunk source.
final class CSVRecordReader {
    private let source: any ChunkSource
    private var parser = CSVParser()
    private var pending: [CSVRecord] = []
    private var position = 0
    private var ended = false

    init(source: any ChunkSource) { self.source = source }

    func next() throws -> CSVRecord? {
        while position == pending.count {
            if ended { return nil }
            pending.removeAll(keepingCapacity: true)
            position = 0
            if let chunk = try source.nextChunk() {
                parser.feed(chunk, into: &pending)
            } else {
                parser.finish(into: &pending)
                ended = true
            }
        }
        defer { position += 1 }
        return pending[position]
    }
}

/// Pulls lines (LF or CRLF ended, without the line end) out of a chunk source, with their
/// 1-based numbers. Lines longer than `maxLineBytes` come back as nil bytes, so one bad line
/// cannot exhaust memory.
final class LineReader {
    private let source: any ChunkSource
    private let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var lineNumber = 0
    private var ended = false
    private var overlong = false

    init(source: any ChunkSource, maxLineBytes: Int = 16 * 1024 * 1024) {
        self.source = source
        self.maxLineBytes = maxLineBytes
    }

    /// The next line: its number and bytes (nil when over the limit); nil at the end.
    func next() throws -> (line: Int, bytes: [UInt8]?)? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let bytes = overlong ? nil : [UInt8](buffer[start..<end])
                start = newline + 1
                overlong = false
                lineNumber += 1
                return (lineNumber, bytes)
            }
            if ended {
                guard start < buffer.count || overlong else { return nil }
                var bytes: [UInt8]? = overlong ? nil : [UInt8](buffer[start...])
                if bytes?.last == UInt8(ascii: "\r") { bytes?.removeLast() }
                start = buffer.count
                overlong = false
                lineNumber += 1
                return (lineNumber, bytes)
            }
            // Drop what was consumed before reading on, and the head of an overlong line.
            buffer.removeSubrange(0..<start)
            start = 0
            if buffer.count > maxLineBytes {
                overlong = true
                buffer.removeAll(keepingCapacity: false)
                start = 0
            }
            if let chunk = try source.nextChunk() {
                buffer.append(contentsOf: chunk)
            } else {
                ended = true
            }
        }
    }
}

/// A small CSV document read whole (an evaluation's queries or judgements): each record's line
/// (1-based), its fields, or what is wrong with it (bad quoting, a field that is not UTF-8).
public enum CSVDocument {
    public struct Record: Sendable {
        public var line: Int
        public var fields: [String]
        public var error: String?
    }

    public static func records(_ data: Data) -> [Record] {
        var parser = CSVParser()
        var records: [CSVRecord] = []
        parser.feed(data, into: &records)
        parser.finish(into: &records)
        return records.map { record in
            switch record.strings() {
            case .success(let fields): Record(line: record.line, fields: fields, error: record.error)
            case .failure(let bad): Record(line: record.line, fields: [], error: record.error ?? "field \(bad.index + 1) is not valid UTF-8")
            }
        }
    }
}
