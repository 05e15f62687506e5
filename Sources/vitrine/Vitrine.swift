import ArgumentParser
import Foundation

@main
struct Vitrine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitrine",
        abstract: "Self-hosted fashion image search.",
        subcommands: [Ingest.self, Search.self, Serve.self, Stats.self, Delete.self, Verify.self, Reindex.self, GC.self,
                      BackupCommand.self, RestoreCommand.self, Embed.self, ModelCommand.self, BenchCommand.self]
    )

    /// Parses and runs the command, mapping usage errors to exit code 2 (ArgumentParser's own
    /// default is 64) so every command follows Vitrine's exit codes: 0, 1, 2 usage, 3 partial.
    static func main() async {
        // Large buffers (pixel batches, index arrays as they grow) always come straight from the
        // kernel and go back to it when freed. glibc otherwise raises its mmap threshold after the
        // first large free, serving later large blocks from the heap, where freed capacity stays
        // resident: memory that grew with the catalog instead of staying flat.
        #if os(Linux)
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 20)
        #endif
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

#if os(Linux)
/// glibc's `mallopt` (declared in malloc.h, which Swift's Glibc module does not export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
