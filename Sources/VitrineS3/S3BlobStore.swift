import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import VitrineCatalog
import VitrineCore

/// The blob role in an S3 bucket: each blob is the object `PREFIX/<sha256>.<ext>`, so the same
/// photo is stored once whichever product or replica puts it.
///
/// Requests are signed with ``SignatureV4`` (the body's SHA-256 is the one ``HashedData``
/// already carries) and sent with AsyncHTTPClient; calls block their thread on the response's
/// future, bounded by the configured timeout (within which AsyncHTTPClient retries connecting).
/// Idempotent calls (all but the steps of a multipart upload) are tried up to three times on
/// 5xx and 429 answers (with backoff) and on a kept-alive connection the store had closed. A blob
/// larger than the part size goes up as a multipart upload, aborted if a part fails.
public final class S3BlobStore: BlobStore, @unchecked Sendable {
    public let configuration: S3Configuration
    /// "S3 s3://bucket/prefix at http://host:port": how errors name the dependency.
    public let dependency: String
    private let client: HTTPClient
    private let signer: SignatureV4

    /// Opens the store; with `createBucket`, creates the bucket when it does not exist.
    ///
    /// - Throws: ``CatalogError/unavailable(dependency:reason:)`` when the endpoint cannot be
    ///   reached, refuses the credentials or has no such bucket.
    public init(_ configuration: S3Configuration, createBucket: Bool = false) throws {
        self.configuration = configuration
        dependency = "S3 \(configuration.displayURL)"
        signer = SignatureV4(credentials: configuration.credentials, region: configuration.region)
        var settings = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(min(configuration.timeout, 10) * 1000)),
                           read: .milliseconds(Int64(configuration.timeout * 1000))))
        settings.decompression = .disabled
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: settings)
        do {
            let probe = try send("HEAD", key: nil, idempotent: true)
            if probe.status == .notFound {
                guard createBucket else {
                    throw CatalogError.unavailable(dependency: dependency, reason: "bucket \(configuration.bucket) does not exist")
                }
                let created = try send("PUT", key: nil, idempotent: true)
                guard created.status == .ok || created.status == .conflict else { throw failure(created, doing: "create the bucket") }
            } else if probe.status != .ok {
                throw failure(probe, doing: "open the bucket")
            }
        } catch {
            try? client.syncShutdown()
            throw error
        }
    }

    deinit {
        try? client.syncShutdown()
    }

    public var backend: StoreBackend { StoreBackend(kind: "s3", location: configuration.displayURL) }

    /// The object key of `key`.
    public func objectKey(_ key: BlobKey) -> String {
        configuration.prefix.isEmpty ? key.description : "\(configuration.prefix)/\(key)"
    }

    public func location(of key: BlobKey) -> String {
        "s3://\(configuration.bucket)/\(objectKey(key))"
    }

    // MARK: - BlobStore

    public func put(_ content: HashedData, ext: String) throws -> BlobKey {
        let key = try BlobKey(content, ext: ext)
        if content.data.count > configuration.partSize {
            // A large photo is looked up first: a multipart upload of bytes already stored is waste.
            if try contains(key) { return key }
            try putInParts(content.data, key: objectKey(key))
        } else {
            // A small one is put directly: the same key always holds the same bytes, so writing it
            // again changes nothing, and one round trip is cheaper than a lookup and a write.
            let response = try send("PUT", key: objectKey(key), headers: [("Content-Type", key.mediaType)],
                                    body: content.data, payloadHash: content.sha256, idempotent: true)
            guard response.status == .ok else { throw failure(response, doing: "store \(location(of: key))") }
        }
        return key
    }

    public func get(_ key: BlobKey) throws -> Data {
        let response = try send("GET", key: objectKey(key), idempotent: true)
        if response.status == .notFound { throw CatalogError.blobNotFound(key) }
        guard response.status == .ok else { throw failure(response, doing: "read \(location(of: key))") }
        return response.body.map { Data($0.readableBytesView) } ?? Data()
    }

    public func contains(_ key: BlobKey) throws -> Bool {
        try size(of: key) != nil
    }

    public func size(of key: BlobKey) throws -> Int? {
        let response = try send("HEAD", key: objectKey(key), idempotent: true)
        if response.status == .notFound { return nil }
        guard response.status == .ok else { throw failure(response, doing: "look up \(location(of: key))") }
        return response.headers.first(name: "content-length").flatMap(Int.init) ?? 0
    }

    public func delete(_ key: BlobKey) throws {
        let response = try send("DELETE", key: objectKey(key), idempotent: true)
        guard response.status == .noContent || response.status == .ok || response.status == .notFound else {
            throw failure(response, doing: "delete \(location(of: key))")
        }
    }

    /// Every blob under the prefix, through ListObjectsV2 pages (1,000 keys each) followed by
    /// their continuation tokens. Objects that are not blob keys are not Vitrine's and are skipped.
    public func keys() throws -> [BlobKey] {
        var keys: [BlobKey] = []
        var token: String?
        let prefix = configuration.prefix.isEmpty ? "" : configuration.prefix + "/"
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try send("GET", key: nil, query: query, idempotent: true)
            guard response.status == .ok else { throw failure(response, doing: "list the bucket") }
            let text = response.text
            for name in XMLText.values(of: "Key", in: text) {
                let rest = name.dropFirst(prefix.count)
                if name.hasPrefix(prefix), !rest.contains("/"), let key = BlobKey(String(rest)) { keys.append(key) }
            }
            token = XMLText.values(of: "IsTruncated", in: text).first == "true"
                ? XMLText.values(of: "NextContinuationToken", in: text).first : nil
        } while token != nil
        return keys.sorted()
    }

    /// Aborts multipart uploads under the prefix that a failed `put` left unfinished (they hold
    /// storage until aborted). Needs the writer: an upload in progress would be aborted too.
    public func removeLeftovers() throws -> Int {
        let prefix = configuration.prefix.isEmpty ? "" : configuration.prefix + "/"
        let response = try send("GET", key: nil, query: [("uploads", ""), ("prefix", prefix)], idempotent: true)
        guard response.status == .ok else { throw failure(response, doing: "list unfinished uploads") }
        var aborted = 0
        for upload in XMLText.blocks(of: "Upload", in: response.text) {
            guard let key = XMLText.values(of: "Key", in: upload).first,
                  let id = XMLText.values(of: "UploadId", in: upload).first else { continue }
            let abort = try send("DELETE", key: key, query: [("uploadId", id)], idempotent: true)
            if abort.status == .noContent || abort.status == .ok || abort.status == .notFound { aborted += 1 }
        }
        return aborted
    }

    // MARK: - Derived files and direct URLs

    /// Thumbnails and the like, under `PREFIX/derived/` (out of ``keys()``, which lists blobs only).
    public func derived(named name: String) throws -> Data? {
        let response = try send("GET", key: derivedKey(name), idempotent: true)
        if response.status == .notFound { return nil }
        guard response.status == .ok else { throw failure(response, doing: "read \(derivedKey(name))") }
        return response.body.map { Data($0.readableBytesView) } ?? Data()
    }

    public func storeDerived(_ data: Data, named name: String) throws {
        let response = try send("PUT", key: derivedKey(name), body: data, idempotent: true)
        guard response.status == .ok else { throw failure(response, doing: "store \(derivedKey(name))") }
    }

    public func directURL(for key: BlobKey) -> URL? { presignedURL(for: key) }

    private func derivedKey(_ name: String) -> String {
        (configuration.prefix.isEmpty ? "" : configuration.prefix + "/") + "derived/" + name
    }

    // MARK: - Presigned URLs

    /// A URL anyone may GET `key` with for `seconds` (default: the configured `presign`), signed
    /// now; nil when the configuration does not presign.
    public func presignedURL(for key: BlobKey, seconds: Int? = nil, date: Date = Date()) -> URL? {
        guard let expires = seconds ?? configuration.presignSeconds else { return nil }
        let target = address(key: objectKey(key))
        let query = signer.presignedQuery(method: "GET", path: target.path, query: [], host: target.host,
                                          expires: expires, date: date)
        return URL(string: target.base + target.path + "?" + Self.queryString(query))
    }

    // MARK: - Multipart upload

    private func putInParts(_ data: Data, key: String) throws {
        let start = try send("POST", key: key, query: [("uploads", "")], idempotent: false)
        guard start.status == .ok, let upload = XMLText.values(of: "UploadId", in: start.text).first else {
            throw failure(start, doing: "start a multipart upload of s3://\(configuration.bucket)/\(key)")
        }
        do {
            var parts: [(Int, String)] = []
            var offset = 0
            while offset < data.count {
                let number = parts.count + 1
                let chunk = data.subdata(in: offset..<min(offset + configuration.partSize, data.count))
                let hash = HashedData(chunk).sha256
                // A part may be sent again under the same number: retrying it is safe.
                let response = try send("PUT", key: key, query: [("partNumber", String(number)), ("uploadId", upload)],
                                        body: chunk, payloadHash: hash, idempotent: true)
                guard response.status == .ok, let etag = response.headers.first(name: "etag") else {
                    throw failure(response, doing: "upload part \(number) of s3://\(configuration.bucket)/\(key)")
                }
                parts.append((number, etag))
                offset += chunk.count
            }
            let body = "<CompleteMultipartUpload>" + parts.map {
                "<Part><PartNumber>\($0.0)</PartNumber><ETag>\(XMLText.escape($0.1))</ETag></Part>"
            }.joined() + "</CompleteMultipartUpload>"
            let done = try send("POST", key: key, query: [("uploadId", upload)], body: Data(body.utf8), idempotent: false)
            // S3 may answer 200 with an error in the body.
            guard done.status == .ok, XMLText.values(of: "Code", in: done.text).isEmpty else {
                throw failure(done, doing: "complete the multipart upload of s3://\(configuration.bucket)/\(key)")
            }
        } catch {
            _ = try? send("DELETE", key: key, query: [("uploadId", upload)], idempotent: true)
            throw error
        }
    }

    // MARK: - Requests

    struct Response {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: ByteBuffer?
        var text: String { body.map { String(buffer: $0) } ?? "" }
    }

    /// Where a request goes: scheme, host and port; the encoded path; the Host header.
    func address(key: String?) -> (base: String, path: String, host: String) {
        Self.address(configuration, key: key)
    }

    static func address(_ configuration: S3Configuration, key: String?) -> (base: String, path: String, host: String) {
        let scheme = configuration.endpoint.scheme ?? "https"
        let endpointHost = configuration.endpoint.host ?? ""
        let port = configuration.endpoint.port
        var host = configuration.addressing == .virtual ? "\(configuration.bucket).\(endpointHost)" : endpointHost
        if host.contains(":") { host = "[\(host)]" }
        let hostHeader = port.map { "\(host):\($0)" } ?? host
        var path = configuration.addressing == .path ? "/" + SignatureV4.encode(configuration.bucket) : ""
        if let key { path += "/" + SignatureV4.encode(key, keepSlash: true) } else if path.isEmpty { path = "/" }
        return ("\(scheme)://\(hostHeader)", path, hostHeader)
    }

    /// Signs and sends one request, retrying idempotent ones on transient failures.
    func send(_ method: String, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
              body: Data? = nil, payloadHash: String? = nil, idempotent: Bool) throws -> Response {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let response = try sendOnce(method, key: key, query: query, headers: headers, body: body, payloadHash: payloadHash)
                let transient = response.status.code >= 500 || response.status == .tooManyRequests
                if transient, idempotent, attempt < 3 {
                    Thread.sleep(forTimeInterval: attempt == 1 ? 0.2 : 0.8)
                    continue
                }
                return response
            } catch let failure as TransportFailure {
                // Only a kept-alive connection the store had closed is worth another try at once:
                // AsyncHTTPClient already retries connecting until the deadline, so a store that
                // is down or slow has had its time.
                guard idempotent, attempt < 3, failure.staleConnection else { throw failure.error }
            }
        }
    }

    /// A request that got no answer: the error to report, and whether it died on a connection
    /// the store had already closed.
    struct TransportFailure: Error {
        var error: CatalogError
        var staleConnection: Bool
    }

    private func sendOnce(_ method: String, key: String?, query: [(String, String)], headers: [(String, String)],
                          body: Data?, payloadHash: String?) throws -> Response {
        let target = address(key: key)
        let hash = payloadHash ?? (body.map { HashedData($0).sha256 } ?? SignatureV4.emptyPayloadHash)
        let signed = [("Host", target.host)] + headers
        let added = signer.sign(method: method, path: target.path, query: query, headers: signed, payloadHash: hash, date: Date())
        let url = target.base + target.path + (query.isEmpty ? "" : "?" + Self.queryString(query))
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(
                url: url, method: HTTPMethod(rawValue: method), headers: HTTPHeaders(signed + added),
                body: body.map { .bytes($0) })
        } catch {
            throw CatalogError.invalidArgument("\(dependency): cannot make a request to \(url): \(error)")
        }
        let future = client.execute(request: request, deadline: .now() + .milliseconds(Int64(configuration.timeout * 1000)))
        let response: HTTPClient.Response
        do {
            response = try future.wait()
        } catch {
            let stale = (error as? HTTPClientError) == .remoteConnectionClosed
            throw TransportFailure(error: .unavailable(dependency: dependency, reason: Self.describe(error, timeout: configuration.timeout)),
                                   staleConnection: stale)
        }
        return Response(status: response.status, headers: response.headers, body: response.body)
    }

    /// An answer that is not the expected one, in the store's words: refused credentials and
    /// server-side trouble are `unavailable` (retry later, naming S3), the rest an I/O error.
    func failure(_ response: Response, doing action: String) -> CatalogError {
        let code = XMLText.values(of: "Code", in: response.text).first
        let message = XMLText.values(of: "Message", in: response.text).first
        let detail = [code, message].compactMap { $0 }.joined(separator: ": ")
        let said = "HTTP \(response.status.code)\(detail.isEmpty ? "" : " (\(detail))")"
        switch response.status.code {
        case 401, 403:
            return .unavailable(dependency: dependency, reason: "it refused the credentials (access key \(configuration.credentials.accessKey)) to \(action): \(said)")
        case 404:
            return .unavailable(dependency: dependency, reason: "cannot \(action): \(said)")
        case 429, 500...599:
            return .unavailable(dependency: dependency, reason: "cannot \(action): \(said)")
        default:
            return .io(path: dependency, reason: "cannot \(action): \(said)")
        }
    }

    static func describe(_ error: Error, timeout: Double) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "no answer within \(timeout) s"
            default: return "cannot talk to it (\(error))"
            }
        }
        return "cannot talk to it (\(error))"
    }

    static func queryString(_ query: [(String, String)]) -> String {
        query.map { "\(SignatureV4.encode($0.0))=\(SignatureV4.encode($0.1))" }.joined(separator: "&")
    }
}

/// The few pieces of S3's XML answers Vitrine reads: the text of every `<tag>…</tag>`, entities
/// decoded. S3's answers are flat and machine-written, so no general XML parser is needed.
enum XMLText {
    static func values(of tag: String, in text: String) -> [String] {
        blocks(of: tag, in: text).map(unescape)
    }

    /// The raw contents of every `<tag>…</tag>` (also `<tag attr="…">`), in order.
    static func blocks(of tag: String, in text: String) -> [String] {
        var results: [String] = []
        var rest = text[...]
        let close = "</\(tag)>"
        while let open = rest.range(of: "<\(tag)") {
            guard let end = rest[open.upperBound...].firstIndex(of: ">") else { break }
            let opener = rest[open.upperBound..<end]
            guard opener.isEmpty || opener.first == " " else { rest = rest[end...]; continue }
            if rest[..<end].hasSuffix("/") { results.append(""); rest = rest[end...]; continue }
            let contentStart = rest.index(after: end)
            guard let closing = rest[contentStart...].range(of: close) else { break }
            results.append(String(rest[contentStart..<closing.lowerBound]))
            rest = rest[closing.upperBound...]
        }
        return results
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var result = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            result += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": result += "&"
            case "lt": result += "<"
            case "gt": result += ">"
            case "quot": result += "\""
            case "apos": result += "'"
            default:
                let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let number, let scalar = Unicode.Scalar(number) { result.unicodeScalars.append(scalar) } else { result += "&\(entity);" }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return result + rest
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
