import ArgumentParser
import Foundation

@main
struct Vitrine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitrine",
        abstract: "Self-hosted fashion image search.",
        subcommands: [Ingest.self, Search.self, Stats.self, Delete.self, Verify.self, Reindex.self, GC.self, BackupCommand.self,
                      RestoreCommand.self, Embed.self, ModelCommand.self, BenchCommand.self]
    )

    /// Parses and runs the command, mapping usage errors to exit code 2 (ArgumentParser's own
    /// default is 64) so every command follows Vitrine's exit codes: 0, 1, 2 usage, 3 partial.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
