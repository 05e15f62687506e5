import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks whose numbers go into BENCHMARKS.md.",
        subcommands: [BenchEmbed.self]
    )
}
