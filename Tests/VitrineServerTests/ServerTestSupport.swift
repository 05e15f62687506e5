import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import VitrineCatalog
import VitrineEngine
import VitrineModels
@testable import VitrineServer
import VitrineSources

/// A data directory built with the engine (tiny CLIP fixture, real photos), a server over it, and
/// helpers to call its routes through HummingbirdTesting.
enum ServerFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let tinyModel = root.appendingPathComponent("models/tiny-clip-p32")
    static let images = root.appendingPathComponent("images")

    static func photo(_ name: String) -> Data {
        (try? Data(contentsOf: images.appendingPathComponent(name))) ?? Data()
    }

    static let encoders: CLIPEncoders = {
        do { return try CLIPEncoders(directory: tinyModel) } catch { fatalError("tiny CLIP fixture: \(error)") }
    }()

    /// The catalog every test starts from: (id, name, category, category name, market, photos).
    static let catalog: [(id: String, name: String, category: String, market: String, photos: [String])] = [
        ("p1", "red summer dress", "dress", "cz", ["baseline.jpg"]),
        ("p2", "grey dress", "dress", "sk", ["gray.png"]),
        ("p3", "blue sneakers", "shoes", "cz", ["lossy.webp"]),
        ("p4", "leather boots", "shoes", "cz", ["cmyk.jpg", "lossless.webp"]),
        ("bag 5/x", "tote bag", "bags", "ro", ["orient_3.jpg"]),
    ]

    static func item(_ id: String, name: String, category: String, market: String, photos: [String]) -> SourceItem {
        let product = Product(id: id, name: name, description: "test product \(id)", category: category,
                              categoryName: category.capitalized, market: market, source: "test")
        let sources = photos.enumerated().map { index, name in
            let data = photo(name)
            return SourceImage(id: String(index), origin: name) { data }
        }
        return SourceItem(product: product, images: sources)
    }

    /// A fresh data directory holding ``catalog``.
    static func dataDirectory(_ name: String = #function, text: TextEmbedder? = nil) async throws -> DataDirectory {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vitrine-server-\(name.filter(\.isLetter).prefix(40))-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let directory = DataDirectory(url)
        let store = try DataStore.openForWriting(directory, holder: "server test")
        defer { try? store.close() }
        let image = encoders.image!
        let record = try ModelIdentity.record(specifier: tinyModel.path, directory: tinyModel, precision: "fp32", dimension: image.dimension)
        let pipeline = try IngestPipeline(store: store, encoder: IngestEncoder(image), model: record, text: text)
        let items = catalog.map { item($0.id, name: $0.name, category: $0.category, market: $0.market, photos: $0.photos) }
        let report = try await pipeline.run(ItemsReader(source: "test", items: items))
        #expect(report.counts.failed == 0, "fixture ingest failed: \(report.failures)")
        return directory
    }

    static let apiKey = "test-key-0123456789abcdef"

    /// A server over a fresh fixture directory; `configure` adjusts the defaults.
    static func server(_ name: String = #function, configure: (inout ServerConfiguration) -> Void = { _ in },
                       loader: SearchServer.EncoderLoader? = nil, reranker: (any Reranker)? = nil,
                       text: TextEmbedder? = nil) async throws -> SearchServer {
        let directory = try await dataDirectory(name, text: text)
        var configuration = ServerConfiguration(dataDirectory: directory.url.path)
        configuration.writerIdle = .zero
        // The test command runs every suite at once on two cores: a search may wait long for CPU.
        // Tests of time limits set their own.
        configuration.requestTimeout = .seconds(120)
        configure(&configuration)
        let store = try DataStore.openForReading(directory)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try SearchServer(configuration: configuration, store: store, encoders: encoders, logger: logger, loader: loader, reranker: reranker,
                                textEmbedder: text)
    }

    /// Runs `body` against the server's routes (in-process, no sockets).
    static func test<T>(_ server: SearchServer, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        let app = Application(router: server.makeRouter(), logger: server.logger)
        return try await app.test(.router) { client in try await body(client) }
    }
}

extension TestResponse {
    var data: Data { Data(body.readableBytesView) }
    var text: String { String(buffer: body) }

    /// The body as `T`; an answer that is not 2xx fails with its status and body (not a decoding
    /// error that hides them).
    func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        guard (200..<300).contains(status.code) else { throw UnexpectedAnswer(status: status.code, body: text) }
        return try JSONDecoder().decode(T.self, from: data)
    }

    /// The error body, or a test failure when the body is not the API's error shape.
    func error() throws -> APIError.Body.Detail {
        try JSONDecoder().decode(APIError.Body.self, from: data).error
    }
}

struct UnexpectedAnswer: Error, CustomStringConvertible {
    let status: Int
    let body: String
    var description: String { "HTTP \(status): \(body)" }
}

/// Builds `multipart/form-data` bodies.
struct MultipartBuilder {
    let boundary = "vitrine-test-\(UUID().uuidString)"
    var body = Data()

    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    mutating func add(name: String, filename: String? = nil, contentType: String? = nil, data: Data) {
        var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\""
        if let filename { head += "; filename=\"\(filename)\"" }
        head += "\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        body += Data((head + "\r\n").utf8) + data + Data("\r\n".utf8)
    }

    func finished() -> ByteBuffer {
        ByteBuffer(bytes: body + Data("--\(boundary)--\r\n".utf8))
    }
}
