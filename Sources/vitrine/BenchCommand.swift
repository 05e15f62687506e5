import ArgumentParser

/// `vitrine bench …`: benchmarks whose numbers go into BENCHMARKS.md, with `--json` for scripts.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks whose numbers go into BENCHMARKS.md.",
        subcommands: [BenchEmbed.self, BenchIndex.self, BenchIngest.self, BenchCatalog.self, BenchExport.self, BenchTextBatch.self, BenchMiniLM.self]
    )
}
