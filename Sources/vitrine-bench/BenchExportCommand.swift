import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineEngine
import VitrineIndex
import VitrineTensor

/// `vitrine-bench export`: a data directory's vectors and the records they belong to, as files
/// another system can load (the peer benchmark fills Milvus Lite with them), so both sides search
/// the very same catalog.
struct BenchExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a data directory's vectors (vectors.npy) and their products (items.jsonl) for peer benchmarks.",
        discussion: """
        OUT/vectors.npy is a float32 matrix [images, dimension] of the index's vectors (unit length); \
        line i of OUT/items.jsonl describes row i: {"product", "image", "name", "category", "market", \
        "key"} with the category's name when the catalog has one, as search results show it.
        """
    )

    @Option(name: .customLong("data"), help: "The data directory to read.")
    var data: String

    @Option(help: "Directory to write vectors.npy and items.jsonl into (created if needed).")
    var out: String

    struct Item: Codable {
        var product: String
        var image: String
        var name: String
        var category: String?
        var market: String?
        var key: String
    }

    func run() async throws {
        let directory = DataDirectory(URL(fileURLWithPath: (data as NSString).expandingTildeInPath).standardizedFileURL)
        let store = try CLI.run { try DataStore.openForReading(directory) }
        guard let index = store.vectors else {
            CLI.printError("\(directory.url.path) has no vector index yet")
            throw ExitCode.failure
        }
        let output = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let keys = try store.catalog.imageKeys()
        var matrix: [Float] = []
        matrix.reserveCapacity(keys.count * index.dimension)
        var lines = Data()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var rows = 0
        for start in stride(from: 0, to: keys.count, by: 1_000) {
            let chunk = keys[start..<min(start + 1_000, keys.count)]
            let products = try store.catalog.products(ids: Array(Set(chunk.map(\.product))))
            for key in chunk {
                guard let product = products[key.product], let image = product.images.first(where: { $0.id == key.image }),
                      let vector = try index.vector(for: VectorKey(product: key.product, image: key.image)) else { continue }
                matrix += vector
                lines += try encoder.encode(Item(product: product.id, image: image.id, name: product.name,
                                                 category: product.categoryName ?? product.category, market: product.market,
                                                 key: image.key.description))
                lines.append(0x0A)
                rows += 1
            }
        }
        try NPYArray(float32: matrix, shape: [rows, index.dimension]).write(to: output.appendingPathComponent("vectors.npy"))
        try lines.write(to: output.appendingPathComponent("items.jsonl"))
        print("\(rows) vectors of dimension \(index.dimension) → \(output.path)/vectors.npy, items.jsonl")
    }
}
