import Foundation
import Logging

/// A swift-log handler writing one JSON object per line in Elastic Common Schema (ECS) field
/// names, for log shippers (deploy/fluent-bit) and Elasticsearch (deploy/elasticsearch): every
/// line has `@timestamp`, `log.level`, `log.logger`, `message`, `ecs.version`, `service.name`,
/// `event.dataset` (the logger's label, e.g. `vitrine.serve`) and `process.pid`, then the
/// metadata under its own (dotted, ECS where one exists) names. Integers, floating-point numbers
/// and booleans given as `.stringConvertible` stay JSON numbers and booleans, so
/// `http.response.status_code` and `event.duration` can be mapped as numbers. Bootstrap it once
/// per process: `LoggingSystem.bootstrap { ECSLogHandler(label: $0) }`.
public struct ECSLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let write: @Sendable (String) -> Void

    /// The ECS version whose field names the lines use.
    public static let ecsVersion = "8.11.0"

    /// Writes to standard error (standard output stays free for command output).
    public init(label: String) {
        self.init(label: label) { line in FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// Writes each line (with its newline) through `write`, e.g. into a test's buffer.
    public init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var fields = merged.mapValues(Self.json)
        fields["@timestamp"] = .string(Self.timestamp(Date()))
        fields["log.level"] = .string(event.level.rawValue)
        fields["log.logger"] = .string(label)
        fields["message"] = .string(event.message.description)
        fields["ecs.version"] = .string(Self.ecsVersion)
        fields["service.name"] = .string("vitrine")
        fields["event.dataset"] = .string(label)
        fields["process.pid"] = .number(Double(ProcessInfo.processInfo.processIdentifier))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(fields) else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let value):
            switch value {
            case let flag as Bool: return .bool(flag)
            case let number as any BinaryInteger: return .number(Double(number))
            case let number as any BinaryFloatingPoint where Double(number).isFinite: return .number(Double(number))
            default: return .string(value.description)
            }
        case .array(let values): return .array(values.map(json))
        case .dictionary(let values): return .object(values.mapValues(json))
        }
    }

    /// A duration as ECS's `event.duration` wants it: whole nanoseconds.
    public static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    /// `2026-12-04T14:00:00.123Z`: UTC, milliseconds.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(milliseconds % 1000))
    }
}
