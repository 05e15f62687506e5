import ArgumentParser
import Foundation
import VitrineCommandLine
import VitrineEngine

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a data directory consistently while it is in use (catalog, index at the same sequence, images).",
        discussion: "DEST must be absent or empty. Images are hard-linked when DEST is on the same file system.")

    @OptionGroup var data: DataOption

    @Argument(help: "The backup directory to create.")
    var destination: String

    @Flag(help: "Print the manifest as JSON.")
    var json = false

    func run() async throws {
        let manifest = try CLI.run { () throws -> BackupManifest in
            let url = URL(fileURLWithPath: (destination as NSString).expandingTildeInPath)
            return try Backup.create(from: try data.embeddedStorage(for: "backup"), to: url)
        }
        if json {
            try CLI.printJSON(manifest)
            return
        }
        CLI.say("backed up \(manifest.products) products, \(manifest.images) images, \(manifest.vectors) vectors at index sequence "
              + "\(manifest.vectorSequence) (\(manifest.linkedBlobs) image files linked, \(manifest.copiedBlobs) copied)")
    }
}
