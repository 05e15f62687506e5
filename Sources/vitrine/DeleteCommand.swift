import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineEngine

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove products from a data directory (catalog and index; images once unreferenced, by `vitrine gc`).",
        discussion: "Readers see the removal whole. Unknown ids are reported and ignored (exit code 3).")

    @Argument(help: "Product ids.")
    var ids: [String]

    @OptionGroup var data: DataOption

    @Flag(help: "Print JSON for scripts: {\"deleted\": [...], \"unknown\": [...]}.")
    var json = false

    func validate() throws {
        guard !ids.isEmpty else { throw ValidationError("give at least one product id") }
    }

    struct Result: Codable {
        var deleted: [String]
        var unknown: [String]
    }

    func run() async throws {
        let result = try CLI.run { () throws -> Result in
            let store = try DataStore.openForWriting(try data.existingStorage(), holder: "vitrine delete")
            defer { try? store.close() }
            let removed = Set(try store.delete(ids: ids).map(\.id))
            return Result(deleted: ids.filter(removed.contains), unknown: ids.filter { !removed.contains($0) })
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(result) + Data("\n".utf8))
        } else {
            CLI.say("deleted \(result.deleted.count) products" + (result.unknown.isEmpty ? "" : "; unknown: " + result.unknown.joined(separator: ", ")))
        }
        if !result.unknown.isEmpty { throw CLI.partialSuccess }
    }
}
