import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
@testable import VitrineHub

/// A loopback HTTP/1.1 server that answers like the Hugging Face Hub: the model API, `resolve`
/// with the hub's headers, a 302 to a CDN path for LFS files, and `Range` requests. It records
/// every request and can be told to misbehave.
final class FakeHub: Sendable {
    struct File: Sendable, CustomStringConvertible {
        var name: String
        // Names, not megabytes of bytes, in test output.
        var description: String { "\(name) (\(bytes.count) bytes)" }
        var bytes: [UInt8]
        var lfs: Bool

        var sha256: String { BlobDigest.sha256.hex(of: Data(bytes)) }
        var gitBlobID: String { BlobDigest.gitBlobSHA1.hex(of: Data(bytes)) }
        /// What the hub names the content: sha256 for LFS, git blob id otherwise.
        var etag: String { lfs ? sha256 : gitBlobID }
        // The git blob of an LFS file is its pointer, not the content.
        var pointerBlobID: String {
            BlobDigest.gitBlobSHA1.hex(of: Data("version https://git-lfs.github.com/spec/v1\noid sha256:\(sha256)\nsize \(bytes.count)\n".utf8))
        }
    }

    struct Repo: Sendable {
        var id: String
        var commit: String
        var branches: [String: String] = [:]
        var files: [File]
    }

    struct Request: Sendable {
        var method: String
        var uri: String
        var headers: [String: String]  // lower-cased names
        var path: String { String(uri.split(separator: "?", maxSplits: 1).first ?? "") }
    }

    /// Ways to misbehave, all keyed by file name.
    struct Faults: Sendable {
        /// Close the connection after this many body bytes, for the next `count` responses.
        var drop: [String: (afterBytes: Int, count: Int)] = [:]
        /// Flip a byte in the body.
        var corrupt: Set<String> = []
        /// Answer `Range` requests with the whole file (200).
        var ignoreRange = false
        /// Files need `Authorization: Bearer <token>` (a gated repo).
        var requiredToken: String?
        /// Host name the LFS redirect points to. `localhost` is another origin than the hub's
        /// `127.0.0.1`, as the real CDN is (Python's client, for one, treats them differently).
        var cdnHost = "localhost"
    }

    private struct State {
        var repos: [String: Repo] = [:]
        var faults = Faults()
        var requests: [Request] = []
    }

    private let state = Mutex(State())
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    let port: Int
    var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel, port: Int) {
        self.group = group
        self.channel = channel
        self.port = port
    }

    static func start() async throws -> FakeHub {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = HubBox()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let hub = FakeHub(group: group, channel: channel, port: channel.localAddress?.port ?? 0)
        box.hub.withLock { $0 = hub }
        return hub
    }

    private let stopped = Mutex(false)

    /// Stops listening and closes every connection; safe to call twice.
    func shutdown() async throws {
        let alreadyStopped = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped else { return }
        try? await channel.close()
        try await group.shutdownGracefully()
    }

    func add(_ repo: Repo) { state.withLock { $0.repos[repo.id] = repo } }
    func setFaults(_ change: @Sendable (inout Faults) -> Void) { state.withLock { change(&$0.faults) } }
    var requests: [Request] { state.withLock { $0.requests } }
    func clearRequests() { state.withLock { $0.requests.removeAll() } }
    /// Requests for file contents (resolve or CDN), as opposed to the listing API.
    var fileRequests: [Request] { requests.filter { $0.path.contains("/resolve/") || $0.path.hasPrefix("/cdn/") } }

    // MARK: Routing

    struct Reply {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var dropAfter: Int?
    }

    fileprivate func handle(_ request: Request) -> Reply {
        state.withLock { state in
            state.requests.append(request)
            return route(request, &state)
        }
    }

    private func route(_ request: Request, _ state: inout State) -> Reply {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: false).map { String($0).removingPercentEncoding ?? String($0) }
        // /api/models/{owner}/{name}/revision/{rev}
        if parts.count >= 7, parts[1] == "api", parts[2] == "models", parts[5] == "revision" {
            let repoID = parts[3] + "/" + parts[4]
            guard let repo = state.repos[repoID] else { return errorReply(401, code: "RepoNotFound") }
            let revision = parts[6...].joined(separator: "/")
            guard let commit = resolve(revision, in: repo) else { return errorReply(404, code: "RevisionNotFound") }
            return listing(repo, commit: commit, blobs: request.uri.contains("blobs=true"))
        }
        // /{owner}/{name}/resolve/{rev}/{file...}
        if parts.count >= 6, parts[3] == "resolve" {
            let repoID = parts[1] + "/" + parts[2]
            guard let repo = state.repos[repoID] else { return errorReply(401, code: "RepoNotFound") }
            if let token = state.faults.requiredToken {
                guard let auth = request.headers["authorization"] else { return errorReply(401, code: "GatedRepo") }
                guard auth == "Bearer \(token)" else { return errorReply(403, code: "GatedRepo") }
            }
            guard let commit = resolve(parts[4], in: repo) else { return errorReply(404, code: "RevisionNotFound") }
            let name = parts[5...].joined(separator: "/")
            guard let file = repo.files.first(where: { $0.name == name }) else { return errorReply(404, code: "EntryNotFound") }
            if file.lfs {
                return Reply(status: .found, headers: [
                    ("Location", "http://\(state.faults.cdnHost):\(port)/cdn/\(file.sha256)?name=\(name)"),
                    ("X-Repo-Commit", commit),
                    ("X-Linked-Etag", "\"\(file.sha256)\""),
                    ("X-Linked-Size", "\(file.bytes.count)"),
                    ("ETag", "\"\(file.pointerBlobID)\""),
                ], body: Array("Found. Redirecting".utf8))
            }
            var reply = content(file, request, &state)
            reply.headers += [("X-Repo-Commit", commit), ("ETag", "\"\(file.gitBlobID)\"")]
            return reply
        }
        // /cdn/{sha256}: the storage an LFS redirect leads to.
        if parts.count == 3, parts[1] == "cdn" {
            for repo in state.repos.values {
                if let file = repo.files.first(where: { $0.lfs && $0.sha256 == parts[2] }) {
                    var reply = content(file, request, &state)
                    reply.headers.append(("ETag", "\"d41d8cd98f00b204e9800998ecf8427e-1\""))  // S3-style, not a content hash
                    return reply
                }
            }
        }
        return errorReply(404, code: nil)
    }

    private func resolve(_ revision: String, in repo: Repo) -> String? {
        if revision == repo.commit { return repo.commit }
        if revision == "main" { return repo.branches["main"] ?? repo.commit }
        return repo.branches[revision]
    }

    private func listing(_ repo: Repo, commit: String, blobs: Bool) -> Reply {
        let siblings: [[String: Any]] = repo.files.map { file in
            var entry: [String: Any] = ["rfilename": file.name]
            if blobs {
                entry["size"] = file.bytes.count
                entry["blobId"] = file.lfs ? file.pointerBlobID : file.gitBlobID
                if file.lfs {
                    entry["lfs"] = ["sha256": file.sha256, "size": file.bytes.count, "pointerSize": 134]
                }
            }
            return entry
        }
        let object: [String: Any] = ["_id": "0123", "id": repo.id, "modelId": repo.id, "sha": commit, "private": false, "siblings": siblings]
        let body = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Reply(status: .ok, headers: [("Content-Type", "application/json; charset=utf-8")], body: Array(body))
    }

    /// The bytes of a file, honouring `Range: bytes=N-` unless told not to.
    private func content(_ file: File, _ request: Request, _ state: inout State) -> Reply {
        var bytes = file.bytes
        if state.faults.corrupt.contains(file.name), !bytes.isEmpty { bytes[bytes.count / 2] ^= 0xFF }
        var reply = Reply(status: .ok, headers: [("Accept-Ranges", "bytes")])
        if let range = request.headers["range"], !state.faults.ignoreRange,
           range.hasPrefix("bytes="), range.hasSuffix("-"), let start = Int(range.dropFirst(6).dropLast()) {
            guard start < bytes.count else {
                return Reply(status: .rangeNotSatisfiable, headers: [("Content-Range", "bytes */\(bytes.count)")])
            }
            reply.status = .partialContent
            reply.headers.append(("Content-Range", "bytes \(start)-\(bytes.count - 1)/\(bytes.count)"))
            bytes = Array(bytes[start...])
        }
        reply.body = bytes
        if var drop = state.faults.drop[file.name], drop.count > 0 {
            drop.count -= 1
            state.faults.drop[file.name] = drop
            reply.dropAfter = drop.afterBytes
        }
        return reply
    }

    private func errorReply(_ status: Int, code: String?) -> Reply {
        var headers = [("Content-Type", "application/json")]
        if let code { headers.append(("X-Error-Code", code)) }
        return Reply(status: HTTPResponseStatus(statusCode: status), headers: headers, body: Array("{\"error\":\"\(code ?? "Not Found")\"}".utf8))
    }
}

/// Lets handlers created before the hub exists reach it.
private final class HubBox: Sendable {
    let hub = Mutex<FakeHub?>(nil)
}

private final class Handler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let box: HubBox
    private var head: HTTPRequestHead?

    init(box: HubBox) { self.box = box }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head, let hub = box.hub.withLock({ $0 }) else { return }
            self.head = nil
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let reply = hub.handle(FakeHub.Request(method: "\(head.method)", uri: head.uri, headers: headers))
            respond(reply, isHead: head.method == .HEAD, context: context)
        }
    }

    private func respond(_ reply: FakeHub.Reply, isHead: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(reply.headers)
        headers.replaceOrAdd(name: "Content-Length", value: "\(reply.body.count)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))), promise: nil)
        guard !isHead else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        if let cut = reply.dropAfter {
            // Announce everything, send part of it, hang up: a dropped connection mid-download.
            let buffer = context.channel.allocator.buffer(bytes: reply.body.prefix(cut))
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            context.close(promise: nil)
            return
        }
        let buffer = context.channel.allocator.buffer(bytes: reply.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
