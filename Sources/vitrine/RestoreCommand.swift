import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineEngine

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Copy a backup into a data directory and verify it.",
        discussion: "The data directory must be absent or empty unless --force (stop its readers first).")

    @Argument(help: "A directory written by `vitrine backup`.")
    var backup: String

    @OptionGroup var data: DataOption

    @Flag(help: "Replace the contents of a non-empty data directory.")
    var force = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let report = try CLI.run { () throws -> RestoreReport in
            let url = URL(fileURLWithPath: (backup as NSString).expandingTildeInPath)
            return try Backup.restore(url, to: try data.embeddedStorage(for: "restore"), force: force)
        }
        if json {
            try CLI.printJSON(report)
            return
        }
        CLI.say("restored \(report.products) products, \(report.images) images, \(report.vectors) vectors into \(report.data); verified")
    }
}
