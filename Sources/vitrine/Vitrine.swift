import ArgumentParser
import VitrineCommandLine

@main
struct Vitrine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitrine",
        abstract: "Self-hosted fashion image search.",
        discussion: "Benchmarks are a separate tool: vitrine-bench.",
        subcommands: [Ingest.self, Search.self, Eval.self, Serve.self, Stats.self, Delete.self, Verify.self, Reindex.self, GC.self,
                      BackupCommand.self, RestoreCommand.self, Migrate.self, Embed.self, ModelCommand.self]
    )

    static func main() async { await CLI.main(Self.self) }
}
