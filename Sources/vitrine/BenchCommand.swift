import ArgumentParser

/// `vitrine bench …`: benchmarks of the components, with `--json` output for scripts.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks.",
        subcommands: [BenchIndex.self]
    )
}
