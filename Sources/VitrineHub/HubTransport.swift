import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// HTTP to the hub: adds the token and hub headers, follows redirects while keeping every
/// response head of the chain (the hub's own 302 carries the file's hash and commit; the CDN it
/// points to does not), and turns failures into ``HubError``.
struct HubTransport: Sendable {
    let client: HTTPClient
    let environment: HubEnvironment

    /// A response after redirects, with the heads of every hop, first to last.
    struct Response {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: HTTPClientResponse.Body
        var chain: [HTTPHeaders]
        var url: String

        /// First value of `name` anywhere in the redirect chain, earliest hop first.
        func firstHeader(_ name: String) -> String? {
            for headers in chain {
                if let value = headers.first(name: name), !value.isEmpty { return value }
            }
            return nil
        }
    }

    static let userAgent = "vitrine; hf-hub-compatible-swift"
    static let maxRedirects = 10

    /// Sends a GET. `Authorization` goes only to the endpoint's own origin, never to a host a
    /// redirect leads to (a CDN must not see the user's token).
    func get(_ url: String, repo: HubRepository, headers extra: [(String, String)] = [], timeout: TimeAmount) async throws(HubError) -> Response {
        var current = url
        var chain: [HTTPHeaders] = []
        for _ in 0...Self.maxRedirects {
            var request = HTTPClientRequest(url: current)
            request.method = .GET
            request.headers.add(name: "User-Agent", value: Self.userAgent)
            // The hash covers the stored bytes; compression would also hide the true length.
            request.headers.add(name: "Accept-Encoding", value: "identity")
            if let token = environment.token, Self.sameOrigin(current, environment.endpoint) {
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
            }
            for (name, value) in extra { request.headers.add(name: name, value: value) }

            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: timeout)
            } catch {
                throw .network(endpoint: environment.endpoint, repo: repo.id, reason: Self.describe(error))
            }
            // The client may have followed redirects itself (and dropped the token on a host
            // change); its history still holds each hop's headers.
            chain += response.history.isEmpty ? [response.headers] : response.history.map(\.responseHead.headers)
            let finalURL = response.history.last?.request.url ?? current

            // A client configured not to follow redirects hands them to us.
            if (300..<400).contains(response.status.code), let location = response.headers.first(name: "Location"),
               let next = URL(string: location, relativeTo: URL(string: finalURL))?.absoluteURL.absoluteString {
                do {
                    for try await _ in response.body {}
                } catch {
                    throw .network(endpoint: environment.endpoint, repo: repo.id, reason: Self.describe(error))
                }
                current = next
                continue
            }
            return Response(status: response.status, headers: response.headers, body: response.body, chain: chain, url: finalURL)
        }
        throw .invalidResponse(repo: repo.id, url: url, reason: "more than \(Self.maxRedirects) redirects")
    }

    /// Maps a hub error status to the error a user can act on. Uses the hub's `X-Error-Code`
    /// where present, because a 401 may mean "missing", "private" or "gated".
    static func error(for response: Response, repo: HubRepository, file: String?, tokenSent: Bool) -> HubError {
        let code = response.firstHeader("X-Error-Code")
        let status = Int(response.status.code)
        switch code {
        case "RepoNotFound": return .repositoryNotFound(repo: repo.id, tokenSent: tokenSent)
        case "RevisionNotFound": return .revisionNotFound(repo: repo.id, revision: repo.revision)
        case "EntryNotFound": return .fileNotFound(repo: repo.id, revision: repo.revision, file: file ?? "?")
        case "GatedRepo": return .accessDenied(repo: repo.id, status: status, tokenSent: tokenSent)
        default: break
        }
        switch status {
        case 401, 403:
            return .accessDenied(repo: repo.id, status: status, tokenSent: tokenSent)
        case 404:
            if let file { return .fileNotFound(repo: repo.id, revision: repo.revision, file: file) }
            return .repositoryNotFound(repo: repo.id, tokenSent: tokenSent)
        default:
            return .unexpectedStatus(repo: repo.id, url: response.url, status: status)
        }
    }

    /// `W/"abc"` and `"abc"` both name `abc`.
    static func normalizeETag(_ etag: String?) -> String? {
        guard var value = etag?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if value.hasPrefix("W/") { value.removeFirst(2) }
        value = value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        return value.isEmpty ? nil : value.lowercased()
    }

    static func sameOrigin(_ a: String, _ b: String) -> Bool {
        guard let a = URL(string: a), let b = URL(string: b) else { return false }
        func port(_ url: URL) -> Int? { url.port ?? (url.scheme?.lowercased() == "https" ? 443 : url.scheme?.lowercased() == "http" ? 80 : nil) }
        return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased() && port(a) == port(b)
    }

    /// Percent-encodes one path segment (a revision like `refs/pr/1` becomes one segment).
    static func encodeSegment(_ segment: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    /// Percent-encodes a file path, keeping its `/` separators.
    static func encodePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { encodeSegment(String($0)) }.joined(separator: "/")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError, error == .deadlineExceeded {
            // AsyncHTTPClient keeps retrying a refused connection until the deadline.
            return "no answer before the timeout; the host may be down, unreachable or refusing connections"
        }
        return String(describing: error)
    }
}
