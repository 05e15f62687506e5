import AsyncHTTPClient
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Limits on fetching manifest images over HTTP(S).
public struct DownloadPolicy: Sendable, Equatable, Codable {
    /// Largest accepted image, in bytes (checked against Content-Length and while streaming).
    public var maxBytes: Int
    /// Time for one whole download, redirects and body included.
    public var timeout: Duration
    /// Allows hosts that resolve to loopback, private, link-local, CGNAT, unique-local,
    /// unspecified or multicast addresses. Off by default: a manifest must not make the ingest
    /// machine probe its own network.
    public var allowPrivateNetworks: Bool
    /// Redirects followed at most; each target is checked like the first URL.
    public var maxRedirects: Int

    public init(maxBytes: Int = 20 * 1024 * 1024, timeout: Duration = .seconds(30),
                allowPrivateNetworks: Bool = false, maxRedirects: Int = 3) {
        self.maxBytes = maxBytes
        self.timeout = timeout
        self.allowPrivateNetworks = allowPrivateNetworks
        self.maxRedirects = maxRedirects
    }
}

/// Fetches images by URL under a ``DownloadPolicy``, with one HTTP client created on first use.
/// Call ``shutdown()`` when done (and await it); a downloader dropped without it shuts its client
/// down in the background.
///
/// The address check resolves the host before the request; the HTTP client resolves it again to
/// connect, so a DNS server answering differently the second time (rebinding) is not caught.
public final class ImageDownloader: Sendable {
    public let policy: DownloadPolicy
    private let client = Mutex<HTTPClient?>(nil)
    private let closed = Mutex(false)

    public init(policy: DownloadPolicy = DownloadPolicy()) { self.policy = policy }

    /// A downloader dropped without ``shutdown()`` (a caller that threw first) still releases its
    /// client: the shutdown runs in the background and holds the client until it is done. Dropping
    /// a client that was never shut down would leak its connections (and trap in a debug build).
    deinit {
        let forgotten = client.withLock { client in
            defer { client = nil }
            return client
        }
        forgotten?.shutdown { _ in }
    }

    /// Stops the HTTP client, if one was started. Further downloads fail.
    public func shutdown() async throws {
        closed.withLock { $0 = true }
        let current = client.withLock { client in
            defer { client = nil }
            return client
        }
        try await current?.shutdown()
    }

    private func httpClient(for url: String) throws -> HTTPClient {
        try client.withLock { client in
            if let client { return client }
            guard !closed.withLock({ $0 }) else { throw ReaderError.download(url: url, reason: "the downloader was shut down") }
            // Redirects are followed here, not by the client, so that every hop is checked.
            let created = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                                     configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))
            client = created
            return created
        }
    }

    /// Downloads `url` (http or https), following at most `policy.maxRedirects` redirects.
    public func download(_ url: String) async throws -> Data {
        let policy = self.policy
        return try await withThrowingTaskGroup(of: Data?.self) { group in
            group.addTask { try await self.fetch(url) }
            group.addTask {
                try await Task.sleep(for: policy.timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let data = first else {
                throw ReaderError.download(url: url, reason: "timed out after \(policy.timeout)")
            }
            return data
        }
    }

    private func fetch(_ original: String) async throws -> Data {
        var current = original
        var hops = 0
        while true {
            let target = try await check(current)
            let client = try httpClient(for: original)
            var request = HTTPClientRequest(url: target.absoluteString)
            request.method = .GET
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .seconds(Int64(max(1, policy.timeout.components.seconds))))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw ReaderError.download(url: current, reason: String(describing: error))
            }
            let status = response.status.code
            if [301, 302, 303, 307, 308].contains(status) {
                guard hops < policy.maxRedirects else {
                    throw ReaderError.download(url: original, reason: "more than \(policy.maxRedirects) redirects")
                }
                guard let location = response.headers.first(name: "location"),
                      let next = URL(string: location, relativeTo: target)?.absoluteURL else {
                    throw ReaderError.download(url: current, reason: "redirect (\(status)) without a usable Location")
                }
                hops += 1
                current = next.absoluteString
                continue
            }
            guard (200..<300).contains(status) else {
                throw ReaderError.download(url: current, reason: "HTTP \(status)")
            }
            if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > policy.maxBytes {
                throw ReaderError.tooLarge(origin: current, limit: policy.maxBytes)
            }
            var data = Data()
            do {
                for try await chunk in response.body {
                    guard data.count + chunk.readableBytes <= policy.maxBytes else {
                        throw ReaderError.tooLarge(origin: current, limit: policy.maxBytes)
                    }
                    data.append(contentsOf: chunk.readableBytesView)
                }
            } catch let error as ReaderError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw ReaderError.download(url: current, reason: String(describing: error))
            }
            return data
        }
    }

    /// Parses `url`, requires http(s), and (unless allowed) refuses hosts with a non-public address.
    private func check(_ url: String) async throws -> URL {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parsed.host, !host.isEmpty else {
            throw ReaderError.badImageReference(origin: url, reason: "not an http(s) URL with a host")
        }
        guard !policy.allowPrivateNetworks else { return parsed }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let addresses = try await Task.detached { try NetworkAddress.resolve(bare, url: url) }.value
        guard !addresses.isEmpty else { throw ReaderError.download(url: url, reason: "host \(host) has no address") }
        for address in addresses where !address.isPublic {
            throw ReaderError.forbiddenAddress(url: url, address: address.text)
        }
        return parsed
    }
}

/// An IPv4 or IPv6 address and whether it is on the public internet.
struct NetworkAddress: Equatable, Sendable {
    /// 4 or 16 bytes, network order.
    var bytes: [UInt8]

    var text: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
    }

    /// False for loopback, private, link-local, CGNAT, unique-local, unspecified, multicast,
    /// broadcast and reserved ranges (IPv4-mapped and NAT64 IPv6 judged by their IPv4 part).
    var isPublic: Bool {
        if bytes.count == 4 {
            let a = bytes[0], b = bytes[1]
            switch a {
            case 0, 10, 127: return false                 // unspecified "this network", private, loopback
            case 100 where (64...127).contains(b): return false  // CGNAT 100.64/10
            case 169 where b == 254: return false         // link-local
            case 172 where (16...31).contains(b): return false
            case 192 where b == 168: return false
            case 192 where b == 0 && bytes[2] == 0: return false  // IETF protocol assignments
            case 198 where b == 18 || b == 19: return false  // benchmarking
            case 224...255: return false                  // multicast, reserved, broadcast
            default: return true
            }
        }
        guard bytes.count == 16 else { return false }
        let embeddedV4 = Array(bytes[12..<16])
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return NetworkAddress(bytes: embeddedV4).isPublic  // ::ffff:a.b.c.d
        }
        if bytes[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0][...] {
            return NetworkAddress(bytes: embeddedV4).isPublic  // NAT64 64:ff9b::/96
        }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) { return false }  // :: and ::1
        if bytes[0] & 0xfe == 0xfc { return false }   // unique-local fc00::/7
        if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 { return false }  // link-local fe80::/10
        if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0xc0 { return false }  // site-local (deprecated)
        if bytes[0] == 0xff { return false }          // multicast
        return true
    }

    /// Every address `host` resolves to (a literal resolves to itself).
    static func resolve(_ host: String, url: String) throws -> [NetworkAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else {
            let reason = String(cString: gai_strerror(status))
            throw ReaderError.download(url: url, reason: "cannot resolve \(host): \(reason)")
        }
        defer { freeaddrinfo(list) }
        var result: [NetworkAddress] = []
        var node = list
        while let current = node {
            if let address = current.pointee.ai_addr {
                switch Int32(address.pointee.sa_family) {
                case AF_INET:
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        withUnsafeBytes(of: v4.pointee.sin_addr) { result.append(NetworkAddress(bytes: Array($0))) }
                    }
                case AF_INET6:
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        withUnsafeBytes(of: v6.pointee.sin6_addr) { result.append(NetworkAddress(bytes: Array($0))) }
                    }
                default: break
                }
            }
            node = current.pointee.ai_next
        }
        return result
    }
}
