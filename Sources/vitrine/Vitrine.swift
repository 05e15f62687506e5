import ArgumentParser

@main
struct Vitrine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitrine",
        abstract: "Self-hosted fashion image search.",
        subcommands: [BenchCommand.self]
    )
}
