import ArgumentParser
import Foundation

/// Conventions shared by every command: errors are one line on stderr and map to exit codes
/// (0 ok, 1 failure, 2 usage, 3 partial success).
enum CLI {
    static let partialSuccess = ExitCode(3)

    /// Runs `body`, turning a thrown error into a one-line message and exit code 1.
    static func run<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            printError(error)
            throw ExitCode.failure
        }
    }

    static func run<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch {
            printError(error)
            throw ExitCode.failure
        }
    }

    static func printError(_ error: any Error) {
        printError(String(describing: error))
    }

    /// A remark for people on standard error (not an error: the command goes on).
    static func printNote(_ message: String) {
        FileHandle.standardError.write(Data("note: \(message)\n".utf8))
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }

    /// The JSON of every report, printed (`--json`) or written to a file: pretty, keys sorted,
    /// slashes as they are, ISO 8601 dates.
    static func jsonEncoder(snakeCaseKeys: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        if snakeCaseKeys { encoder.keyEncodingStrategy = .convertToSnakeCase }
        return encoder
    }

    static func printJSON<T: Encodable>(_ value: T, snakeCaseKeys: Bool = false) throws {
        FileHandle.standardOutput.write(try jsonEncoder(snakeCaseKeys: snakeCaseKeys).encode(value) + Data("\n".utf8))
    }

    /// The comma-separated integers of `option` ("1,8, 32"), each in `range`; anything else is a
    /// usage error naming the option and the offending item.
    static func integers(_ text: String, option: String, in range: ClosedRange<Int>) throws -> [Int] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard items.contains(where: { !$0.isEmpty }) else {
            throw ValidationError("\(option) needs at least one number (comma-separated)")
        }
        return try items.filter { !$0.isEmpty }.map { item in
            guard let value = Int(item), range.contains(value) else {
                let allowed = range.upperBound == Int.max ? "whole numbers from \(range.lowerBound)" : "whole numbers from \(range.lowerBound) to \(range.upperBound)"
                throw ValidationError("\(option) takes \(allowed), comma-separated; \"\(item)\" is not one")
            }
            return value
        }
    }
}
