import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineEngine

struct GC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove image files and index entries no product references (try --dry-run first).",
        discussion: "Takes the writer lock: refused while an ingest runs. Searches are unaffected.")

    @OptionGroup var data: DataOption

    @Flag(name: .customLong("dry-run"), help: "List what would be removed; remove nothing.")
    var dryRun = false

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() async throws {
        let report = try CLI.run { () throws -> GarbageReport in
            let store = try DataStore.openForWriting(try data.existingStorage(), holder: "vitrine gc")
            defer { try? store.close() }
            return try store.collectGarbage(dryRun: dryRun)
        }
        if json {
            try CLI.printJSON(report)
            return
        }
        let verb = dryRun ? "would remove" : "removed"
        CLI.say("\(verb) \(report.blobs.count) image files (\(Self.bytes(report.blobBytes))), \(report.vectors.count) index entries, "
              + "\(report.indexDirectories.count) retired index directories (\(Self.bytes(report.indexBytes)))"
              + (dryRun ? "" : ", \(report.temporaryFiles) temporary files"))
        if dryRun {
            for blob in report.blobs.prefix(50) { CLI.say("  image \(blob)") }
            for vector in report.vectors.prefix(50) { CLI.say("  vector \(vector)") }
            for folder in report.indexDirectories { CLI.say("  index directory \(folder)") }
        }
    }

    static func bytes(_ count: Int64) -> String {
        ByteCountFormatter.string(fromByteCount: count, countStyle: .file)
    }
}
