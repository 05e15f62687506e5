import ArgumentParser
import Foundation
import VitrineCatalog
import VitrineCommandLine
import VitrineEngine

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a catalog with its photos and vectors to other backends, resumably, and verify the copy.",
        discussion: """
        SRC and DST are each a data directory, or a JSON file naming the backends as serve's config \
        file does: {"data": DIR, "catalog": "postgres://…", "blobs": "s3://…", "vectors": "milvus://…", \
        "postgres": {"password": …}, "s3": {"accessKeyId": …, "secretAccessKey": …}, "milvus": {"token": …}} \
        (credentials absent from the file come from PGPASSWORD, AWS_* and MILVUS_TOKEN). An interrupted run is completed by running it again. \
        Success is reported only after counts, photo checksums and the top 10 of sampled queries \
        agree on both sides; any difference exits 1, naming it.
        """)

    @Option(help: ArgumentHelp("What to copy: a data directory or a backends file.", valueName: "src"))
    var from: String

    @Option(help: ArgumentHelp("Where to copy it: a data directory or a backends file.", valueName: "dst"))
    var to: String

    @Option(name: .customLong("batch-size"), help: "Products per step.")
    var batchSize = 256

    @Option(help: "Stored vectors whose top 10 are compared on both sides.")
    var queries = 20

    @Flag(name: .customLong("skip-checksums"), help: "Don't read back and hash every copied photo.")
    var skipChecksums = false

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
        guard queries >= 0 else { throw ValidationError("--queries cannot be negative") }
    }

    func run() async throws {
        let report = try CLI.run { () throws -> MigrationReport in
            let (source, target) = (try Self.location(from, setting: "--from"), try Self.location(to, setting: "--to"))
            guard source != target else { throw EngineError.invalidArgument("--from and --to name the same stores") }
            let reader = try DataStore.openForReading(source)
            defer { try? reader.close() }
            let writer = try DataStore.openForWriting(target, holder: "vitrine migrate")
            defer { try? writer.close() }
            var options = MigrationOptions()
            options.batchSize = batchSize
            options.queries = queries
            options.checksums = !skipChecksums
            let terminal = isatty(STDERR_FILENO) != 0 && !json
            return try Migration.run(from: reader, to: writer, options: options) { done, total in
                if terminal { FileHandle.standardError.write(Data("\r\(done)/\(total) products".utf8)) }
            }
        }
        if json {
            try CLI.printJSON(report)
            return
        }
        CLI.say("\n\(report.copied) products copied (\(report.alreadyThere) already there), \(report.photosCopied) photos, \(report.vectorsCopied) vectors")
        CLI.say("verified: \(report.products) products, \(report.images) images, \(report.vectors) vectors, "
              + "\(report.photosHashed) photos hashed, top 10 of \(report.queriesCompared) queries equal (\(String(format: "%.1f", report.seconds)) s)")
    }

    /// A data directory, or a JSON file of backends (its credentials over the environment's).
    static func location(_ text: String, setting: String) throws -> StorageLocation {
        let path = (text as NSString).expandingTildeInPath
        var isDirectory: ObjCBool = false
        let environment = ProcessInfo.processInfo.environment
        guard path.hasSuffix(".json"), FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return try StorageLocation.parse(directory: DataDirectory(URL(fileURLWithPath: path).standardizedFileURL), catalog: nil,
                                             blobs: nil, environment: environment, passwordAllowed: false)
        }
        let file: BackendsFile
        do {
            file = try JSONDecoder().decode(BackendsFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw EngineError.invalidArgument("\(setting): \(path) is not a backends file ({\"data\": DIR, \"catalog\": URL, \"blobs\": URL, \"vectors\": URL}): \(error)")
        }
        var merged = environment
        if let password = file.postgres?.password { merged["PGPASSWORD"] = password }
        if let key = file.s3?.accessKeyId { merged["AWS_ACCESS_KEY_ID"] = key }
        if let secret = file.s3?.secretAccessKey { merged["AWS_SECRET_ACCESS_KEY"] = secret }
        if let token = file.milvus?.token { merged["MILVUS_TOKEN"] = token }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        let data = URL(fileURLWithPath: (file.data as NSString).expandingTildeInPath, relativeTo: base).standardizedFileURL
        return try StorageLocation.parse(directory: DataDirectory(data), catalog: file.catalog, catalogSetting: "\(setting) \(path): catalog",
                                         blobs: file.blobs, blobsSetting: "\(setting) \(path): blobs",
                                         vectors: file.vectors, vectorsSetting: "\(setting) \(path): vectors", environment: merged, passwordAllowed: true)
    }

    struct BackendsFile: Decodable {
        struct Postgres: Decodable { var password: String? }
        struct S3: Decodable {
            var accessKeyId: String?
            var secretAccessKey: String?
        }

        var data: String
        var catalog: String?
        var blobs: String?
        var vectors: String?
        var postgres: Postgres?
        var s3: S3?
        var milvus: Milvus?

        struct Milvus: Decodable { var token: String? }
    }
}
