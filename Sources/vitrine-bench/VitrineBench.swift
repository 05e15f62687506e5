import ArgumentParser
import Foundation
import VitrineCommandLine

/// `vitrine-bench …`: benchmarks whose numbers go into BENCHMARKS.md, with `--json` for scripts.
/// A tool of its own, so the product binary carries no benchmark code; same kernels, same library.
@main
struct VitrineBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitrine-bench",
        abstract: "Benchmarks whose numbers go into BENCHMARKS.md.",
        subcommands: [BenchEmbed.self, BenchIndex.self, BenchIngest.self, BenchCatalog.self, BenchExport.self, BenchTextBatch.self, BenchMiniLM.self, BenchQueryModel.self, BenchRerank.self, BenchLookup.self, BenchKeyword.self, BenchCluster.self]
    )

    static func main() async { await CLI.main(Self.self) }
}

/// This process's resident set size in bytes, from /proc/self/statm (0 where it cannot be read).
func residentSetBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
