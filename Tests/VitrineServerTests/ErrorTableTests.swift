import Foundation
import HTTPTypes
import Testing
import VitrineCatalog
import VitrineCommandLine
import VitrineCore
import VitrineEngine
import VitrineHub
import VitrineImage
import VitrineIndex
import VitrineModels
@testable import VitrineServer
import VitrineSources
import VitrineTensor

/// Every error case of every module, with the exit code the CLI gives it and the status and code
/// the API answers with: the one table of what each failure means to a user. A case added to an
/// error type without a row here fails `everyCaseHasARow`.
@Suite struct ErrorTableTests {
    struct Row: CustomTestStringConvertible, Sendable {
        var error: any VitrineError
        var exit: Int32
        var status: Int
        var code: String
        /// The case's name: read from the value for cases with a payload, given for those without
        /// (whose reflection is their description).
        var name: String

        init(error: any VitrineError, name: String? = nil, exit: Int32, status: Int, code: String) {
            self.error = error
            self.exit = exit
            self.status = status
            self.code = code
            self.name = name ?? Mirror(reflecting: error).children.first?.label ?? "\(type(of: error))"
        }

        var testDescription: String { "\(type(of: error)).\(name)" }
    }

    static let record = ModelRecord(source: "m", revision: nil, precision: "fp32", weightsSHA256: "ab", dimension: 512)
    static let key = BlobKey(String(repeating: "a", count: 64) + ".jpg")!

    static let rows: [Row] = [
        // The engine.
        Row(error: EngineError.emptyDataDirectory(path: "d"), exit: 1, status: 503, code: "not_ready"),
        Row(error: EngineError.emptyCatalog(location: "PostgreSQL postgres://u@h:5432/d?schema=s"), exit: 1, status: 503, code: "not_ready"),
        Row(error: EngineError.modelMismatch(data: "d", recorded: "a", given: "b"), exit: 1, status: 500, code: "internal"),
        Row(error: EngineError.textModelMismatch(data: "d", recorded: "a", given: "b"), exit: 1, status: 500, code: "internal"),
        Row(error: EngineError.noModelRecord(path: "d"), exit: 1, status: 503, code: "not_ready"),
        Row(error: EngineError.model(path: "m", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: EngineError.invalidQuery("the query is empty"), exit: 1, status: 400, code: "invalid_query"),
        Row(error: EngineError.invalidArgument("batch size must be between 1 and 1000, not 0"), exit: 2, status: 400, code: "invalid_parameter"),
        Row(error: EngineError.notWriter(path: "d"), exit: 1, status: 409, code: "writer_busy"),
        Row(error: EngineError.unknownProduct("p"), exit: 1, status: 404, code: "not_found"),
        Row(error: EngineError.injectedFault("after-blobs"), exit: 1, status: 500, code: "internal"),
        Row(error: ModelChangedError(data: "d", serving: record, loaded: record), exit: 1, status: 503, code: "model_changed"),
        Row(error: IngestFailure(id: "p", location: "x.csv:2", reason: "r"), exit: 1, status: 422, code: "invalid_product"),
        Row(error: LifecycleError("cannot remove d"), exit: 1, status: 500, code: "internal"),
        // The catalog and blob store.
        Row(error: CatalogError.locked(path: "d", holder: "vitrine ingest (pid 1)"), exit: 1, status: 409, code: "writer_busy"),
        Row(error: CatalogError.readOnly(path: "d"), exit: 1, status: 503, code: "read_only"),
        Row(error: CatalogError.diskFull(path: "d"), exit: 1, status: 507, code: "disk_full"),
        Row(error: CatalogError.blobNotFound(key), exit: 1, status: 404, code: "not_found"),
        Row(error: CatalogError.notFound(path: "d"), exit: 1, status: 500, code: "internal"),
        Row(error: CatalogError.schemaTooNew(path: "d", found: 9, supported: 1), exit: 1, status: 500, code: "internal"),
        Row(error: CatalogError.corrupted(path: "d", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: CatalogError.invalidArgument("name is empty"), exit: 1, status: 400, code: "invalid_product"),
        Row(error: CatalogError.io(path: "d", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: CatalogError.unavailable(dependency: "PostgreSQL postgres://u@h:5432/d?schema=public", reason: "r"),
            exit: 1, status: 503, code: "dependency_unavailable"),
        // The vector index.
        Row(error: VectorIndexError.dimensionMismatch(expected: 512, actual: 3, key: nil), exit: 1, status: 400, code: "invalid_input"),
        Row(error: VectorIndexError.invalidVector(key: nil, reason: "NaN"), exit: 1, status: 400, code: "invalid_input"),
        Row(error: VectorIndexError.invalidArgument("k must be positive"), exit: 2, status: 400, code: "invalid_parameter"),
        Row(error: VectorIndexError.corrupted(file: "wal.log", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: VectorIndexError.unsupportedVersion(file: "snapshot.vidx", version: 9), exit: 1, status: 500, code: "internal"),
        Row(error: VectorIndexError.incompatible(file: "snapshot.vidx", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: VectorIndexError.io(file: "wal.log", operation: "fsync", errno: EIO), exit: 1, status: 500, code: "internal"),
        Row(error: VectorIndexError.locked(file: "index/LOCK"), exit: 1, status: 409, code: "writer_busy"),
        Row(error: VectorIndexError.closed, name: "closed", exit: 1, status: 503, code: "unavailable"),
        Row(error: VectorIndexError.readOnly, name: "readOnly", exit: 1, status: 409, code: "writer_busy"),
        Row(error: VectorIndexError.notFound(file: "index"), exit: 1, status: 503, code: "unavailable"),
        Row(error: VectorIndexError.unavailable(dependency: "Milvus milvus://h:19530/c", reason: "r"), exit: 1, status: 503,
            code: "dependency_unavailable"),
        Row(error: VectorIndexError.rejected(dependency: "Milvus milvus://h:19530/c", reason: "r"), exit: 1, status: 502,
            code: "dependency_failed"),
        // Models, tokenizers, NumPy files.
        Row(error: ModelError.missingFile(path: "m", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: ModelError.malformedConfig(path: "m", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: ModelError.unsupportedModel(path: "m", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: ModelError.malformedWeights(path: "m", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: ModelError.missingTensor(name: "t", path: "m"), exit: 1, status: 500, code: "internal"),
        Row(error: ModelError.wrongShape(name: "t", path: "m", expected: [1], actual: [2]), exit: 1, status: 500, code: "internal"),
        Row(error: ModelError.invalidInput(input: "token ids", reason: "r"), exit: 1, status: 400, code: "invalid_input"),
        Row(error: TokenizerError.unreadableFile(path: "vocab.json", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: TokenizerError.malformedFile(path: "vocab.json", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: TokenizerError.unknownMergeToken(path: "merges.txt", line: 2, token: "x"), exit: 1, status: 500, code: "internal"),
        Row(error: TokenizerError.missingSpecialToken(path: "vocab.json", token: "<|endoftext|>"), exit: 1, status: 500, code: "internal"),
        Row(error: NPYError(path: "x.npy", reason: "r"), exit: 1, status: 400, code: "invalid_input"),
        // Images.
        Row(error: ImageError.empty, name: "empty", exit: 1, status: 422, code: "invalid_image"),
        Row(error: ImageError.unknownFormat(leadingBytes: [1, 2]), exit: 1, status: 422, code: "invalid_image"),
        Row(error: ImageError.tooLarge(width: 9000, height: 9000, maxPixels: 1), exit: 1, status: 413, code: "image_too_large"),
        Row(error: ImageError.truncated(.jpeg, detail: ""), exit: 1, status: 422, code: "invalid_image"),
        Row(error: ImageError.corrupt(.png, detail: ""), exit: 1, status: 422, code: "invalid_image"),
        Row(error: ImageError.unsupported(.webp, detail: "animated"), exit: 1, status: 422, code: "invalid_image"),
        Row(error: ImageError.outOfMemory(.jpeg), exit: 1, status: 503, code: "busy"),
        Row(error: ImageError.unreadable(path: "p", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: ImageError.invalidConfiguration("r"), exit: 1, status: 500, code: "internal"),
        // Dataset readers.
        Row(error: ReaderError.notFound(path: "p"), exit: 1, status: 404, code: "not_found"),
        Row(error: ReaderError.unreadable(path: "p", reason: "r"), exit: 1, status: 500, code: "internal"),
        Row(error: ReaderError.badImageReference(origin: "o", reason: "r"), exit: 1, status: 400, code: "invalid_product"),
        Row(error: ReaderError.download(url: "u", reason: "r"), exit: 1, status: 422, code: "invalid_image"),
        Row(error: ReaderError.tooLarge(origin: "o", limit: 1), exit: 1, status: 413, code: "payload_too_large"),
        Row(error: ReaderError.forbiddenAddress(url: "u", address: "127.0.0.1"), exit: 1, status: 400, code: "invalid_product"),
        Row(error: ReaderError.invalidFormat(path: "p", reason: "r"), exit: 1, status: 400, code: "invalid_product"),
        // The hub.
        Row(error: HubError.invalidModelSpecifier("x y", reason: "r"), exit: 1, status: 404, code: "not_found"),
        Row(error: HubError.accessDenied(repo: "o/n", status: 401, tokenSent: false), exit: 1, status: 500, code: "internal"),
        Row(error: HubError.repositoryNotFound(repo: "o/n", tokenSent: false), exit: 1, status: 404, code: "not_found"),
        Row(error: HubError.revisionNotFound(repo: "o/n", revision: "v"), exit: 1, status: 404, code: "not_found"),
        Row(error: HubError.fileNotFound(repo: "o/n", revision: "v", file: "f"), exit: 1, status: 404, code: "not_found"),
        Row(error: HubError.noSafetensors(repo: "o/n", revision: "v", found: []), exit: 1, status: 500, code: "internal"),
        Row(error: HubError.noWeights(repo: "o/n", revision: "v"), exit: 1, status: 500, code: "internal"),
        Row(error: HubError.network(endpoint: "e", repo: "o/n", reason: "r"), exit: 1, status: 502, code: "dependency_failed"),
        Row(error: HubError.unexpectedStatus(repo: "o/n", url: "u", status: 418), exit: 1, status: 502, code: "dependency_failed"),
        Row(error: HubError.invalidResponse(repo: "o/n", url: "u", reason: "r"), exit: 1, status: 502, code: "dependency_failed"),
        Row(error: HubError.checksumMismatch(repo: "o/n", file: "f", algorithm: "sha256", expected: "a", actual: "b"), exit: 1, status: 502, code: "dependency_failed"),
        Row(error: HubError.sizeMismatch(repo: "o/n", file: "f", expected: 1, actual: 2), exit: 1, status: 502, code: "dependency_failed"),
        Row(error: HubError.notCached(repo: "o/n", revision: "v", cacheDirectory: "c", missing: []), exit: 1, status: 503, code: "unavailable"),
        Row(error: HubError.fileSystem(path: "p", operation: "rename", reason: "r"), exit: 1, status: 500, code: "internal"),
        // The server's own start-up.
        Row(error: ConfigurationError(key: "data", "no data directory given"), exit: 1, status: 500, code: "internal"),
        Row(error: WebUIAssetsMissing(searched: ["/x"]), exit: 1, status: 500, code: "internal"),
    ]

    @Test(arguments: rows)
    func eachErrorMapsToItsExitCodeAndStatus(_ row: Row) {
        #expect(CLI.exitCode(for: row.error) == row.exit)
        let answer = APIError(row.error)
        #expect(answer.status.code == row.status)
        #expect(answer.code == row.code)
        // Transient answers say when to come back; no other does.
        #expect((answer.headers[.retryAfter] != nil) == (row.status == 503))
        #expect(!answer.message.isEmpty)
    }

    /// Whatever is not Vitrine's own error is a failure (exit 1) and an internal error that keeps
    /// its details for the log.
    @Test func foreignErrorsAreInternal() {
        struct Strange: Error {}
        #expect(CLI.exitCode(for: Strange()) == 1)
        let answer = APIError(Strange())
        #expect(answer.status == .internalServerError && answer.code == "internal")
        #expect(answer.message == "internal error (see the server log)")
    }

    /// Every kind is used by some case, and every case of every error enum has a row: the case
    /// names declared in each source file are the ones the table covers.
    @Test func everyCaseHasARow() throws {
        #expect(Set(Self.rows.map(\.error.kind)) == Set(ErrorKind.allCases))
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let enums: [(type: String, file: String)] = [
            ("EngineError", "VitrineEngine/EngineError.swift"), ("CatalogError", "VitrineCatalog/CatalogError.swift"),
            ("VectorIndexError", "VitrineIndex/VectorIndexError.swift"), ("ModelError", "VitrineModels/ModelError.swift"),
            ("TokenizerError", "VitrineModels/Tokenizer/TokenizerError.swift"), ("ImageError", "VitrineImage/ImageError.swift"),
            ("ReaderError", "VitrineSources/ReaderError.swift"), ("HubError", "VitrineHub/HubError.swift"),
        ]
        for (type, file) in enums {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            // `    case name` at the enum's own indentation: declarations, not `switch` arms.
            let declared = Set(text.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("    case "), !line.hasPrefix("    case let"), !line.hasPrefix("    case ."), !line.contains(":") || line.contains("(") else { return nil }
                return String(line.dropFirst(9).prefix { $0.isLetter || $0.isNumber })
            })
            let covered = Set(Self.rows.filter { "\(Swift.type(of: $0.error))" == type }.map(\.name))
            #expect(declared == covered, "\(type): cases without a row: \(declared.subtracting(covered).sorted())")
        }
    }
}
