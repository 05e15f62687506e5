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
}
