import ArgumentParser
import Foundation
import VitrineCore
import VitrineTensor

/// Conventions shared by every command of `vitrine` and `vitrine-bench`: errors are one line on stderr and map to exit codes
/// (0 ok, 1 failure, 2 usage, 3 partial success).
public enum CLI {
    public static let partialSuccess = ExitCode(3)

    /// Runs `body`, turning a thrown error into a one-line message and its exit code.
    public static func run<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            printError(error)
            throw ExitCode(exitCode(for: error))
        }
    }

    public static func run<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch {
            printError(error)
            throw ExitCode(exitCode(for: error))
        }
    }

    /// The exit code of a failure: its kind's (``ErrorKind/exitCode``: 2 for an option out of
    /// range, 1 otherwise); 1 for errors that are not Vitrine's.
    public static func exitCode(for error: any Error) -> Int32 {
        (error as? any VitrineError)?.kind.exitCode ?? 1
    }

    public static func printError(_ error: any Error) {
        printError(String(describing: error))
    }

    /// A remark for people on standard error (not an error: the command goes on).
    public static func printNote(_ message: String) {
        FileHandle.standardError.write(Data("note: \(visible(message))\n".utf8))
    }

    public static func printError(_ message: String) {
        FileHandle.standardError.write(Data("error: \(visible(message))\n".utf8))
    }

    /// A line of human-readable output on standard output, its control characters made visible
    /// (catalog text may hold terminal escape sequences; JSON output escapes them itself).
    public static func say(_ line: String) {
        print(visible(line))
    }

    /// `text` with every control character but newline and tab written as `\x1B`, `\x9B`, …:
    /// C0, DEL and C1, so no catalog row can move the cursor, retitle or rewrite an operator's
    /// terminal. `all` escapes newline and tab too (for one field inside a line).
    public static func visible(_ text: String, all: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) && (all || ($0 != "\n" && $0 != "\t")) }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar), all || (scalar != "\n" && scalar != "\t") {
                result.append(contentsOf: String(format: "\\x%02X", scalar.value).unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// The JSON of every report, printed (`--json`) or written to a file: pretty, keys sorted,
    /// slashes as they are, ISO 8601 dates.
    public static func jsonEncoder(snakeCaseKeys: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        if snakeCaseKeys { encoder.keyEncodingStrategy = .convertToSnakeCase }
        return encoder
    }

    public static func printJSON<T: Encodable>(_ value: T, snakeCaseKeys: Bool = false) throws {
        FileHandle.standardOutput.write(try jsonEncoder(snakeCaseKeys: snakeCaseKeys).encode(value) + Data("\n".utf8))
    }

    /// The comma-separated integers of `option` ("1,8, 32"), each in `range`; anything else is a
    /// usage error naming the option and the offending item.
    public static func integers(_ text: String, option: String, in range: ClosedRange<Int>) throws -> [Int] {
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

extension CLI {
    /// Parses and runs `Root`, mapping usage errors to exit code 2 (ArgumentParser's own default
    /// is 64) so every command follows Vitrine's exit codes: 0, 1, 2 usage, 3 partial.
    public static func main<Root: AsyncParsableCommand>(_ root: Root.Type) async {
        // Large buffers (pixel batches, index arrays as they grow) always come straight from the
        // kernel and go back to it when freed. glibc otherwise raises its mmap threshold after the
        // first large free, serving later large blocks from the heap, where freed capacity stays
        // resident: memory that grew with the catalog instead of staying flat.
        #if os(Linux)
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 20)
        #endif
        if let problem = InstructionSet.environmentProblem {
            printError(problem)
            Foundation.exit(2)
        }
        do {
            var command = try Root.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if Root.exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((Root.fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            Root.exit(withError: error)
        }
    }
}

#if os(Linux)
/// glibc's `mallopt` (declared in malloc.h, which Swift's Glibc module does not export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
