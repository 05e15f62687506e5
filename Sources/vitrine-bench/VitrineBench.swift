import ArgumentParser
import VitrineCommandLine

/// `vitrine-bench …`: benchmarks whose numbers go into BENCHMARKS.md, with `--json` for scripts.
/// A tool of its own, so the product binary carries no benchmark code; same kernels, same library.
@main
struct VitrineBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitrine-bench",
        abstract: "Benchmarks whose numbers go into BENCHMARKS.md.",
        subcommands: [BenchEmbed.self, BenchIndex.self, BenchIngest.self, BenchCatalog.self, BenchExport.self, BenchTextBatch.self, BenchMiniLM.self, BenchQueryModel.self, BenchRerank.self, BenchLookup.self, BenchCluster.self]
    )

    static func main() async { await CLI.main(Self.self) }
}
