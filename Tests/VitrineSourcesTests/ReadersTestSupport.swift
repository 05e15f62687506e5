import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing
@testable import VitrineSources

/// The committed test images (`Tests/Fixtures/images`).
enum ReaderFixtures {
    static let images = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/images")

    static func bytes(_ name: String) throws -> Data {
        try Data(contentsOf: images.appendingPathComponent(name))
    }
}

/// A temporary folder, removed by `remove()`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-readers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `data` at `path` (relative), creating folders.
    @discardableResult
    func write(_ path: String, _ data: Data) throws -> URL {
        let file = url.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
        return file
    }

    @discardableResult
    func write(_ path: String, text: String) throws -> URL { try write(path, Data(text.utf8)) }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Entries of a reader, split into items and rejections, in order.
struct ReadResult {
    var items: [SourceItem] = []
    var rejections: [ReaderRejection] = []
    var products: [String] { items.map(\.product.id) }
}

func readAll(_ reader: any DatasetReader) async throws -> ReadResult {
    var result = ReadResult()
    for try await entry in reader.entries() {
        switch entry {
        case .item(let item): result.items.append(item)
        case .rejected(let rejection): result.rejections.append(rejection)
        }
    }
    return result
}

/// The error a reader's stream ends with, if any.
func streamError(_ reader: any DatasetReader) async -> (any Error)? {
    do {
        for try await _ in reader.entries() {}
        return nil
    } catch {
        return error
    }
}

/// A loopback HTTP/1.1 server answering from a routing closure, for download tests.
final class TestHTTPServer: Sendable {
    struct Reply: Sendable {
        var status: HTTPResponseStatus = .ok
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        /// Send the body chunked, without Content-Length.
        var chunked = false
        /// Answer only after this long (for timeouts).
        var delay: TimeAmount? = nil
    }

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    let port: Int
    private let log: RequestLog

    /// Request URIs received, in order.
    var requests: [String] { log.uris.withLock { $0 } }
    func url(_ path: String, host: String = "127.0.0.1") -> String { "http://\(host):\(port)\(path)" }

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel, log: RequestLog) {
        self.group = group
        self.channel = channel
        self.log = log
        port = channel.localAddress?.port ?? 0
    }

    static func start(_ route: @escaping @Sendable (String) -> Reply) async throws -> TestHTTPServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let log = RequestLog()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RouteHandler(route: route, log: log))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestHTTPServer(group: group, channel: channel, log: log)
    }

    func shutdown() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

private final class RequestLog: Sendable {
    let uris = Mutex<[String]>([])
}

private final class RouteHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let route: @Sendable (String) -> TestHTTPServer.Reply
    private let log: RequestLog
    private var uri: String?

    init(route: @escaping @Sendable (String) -> TestHTTPServer.Reply, log: RequestLog) {
        self.route = route
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): uri = head.uri
        case .body: break
        case .end:
            guard let uri else { return }
            log.uris.withLock { $0.append(uri) }
            let reply = route(uri)
            if let delay = reply.delay {
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: delay) {
                    let (handler, context) = bound.value
                    if context.channel.isActive { handler.send(reply, context: context) }
                }
            } else {
                send(reply, context: context)
            }
        }
    }

    private func send(_ reply: TestHTTPServer.Reply, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(reply.headers)
        if !reply.chunked { headers.replaceOrAdd(name: "Content-Length", value: "\(reply.body.count)") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))), promise: nil)
        // Several pieces, as a streaming server sends them.
        var start = 0
        while start < reply.body.count {
            let end = min(start + 64 * 1024, reply.body.count)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply.body[start..<end])))), promise: nil)
            start = end
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
