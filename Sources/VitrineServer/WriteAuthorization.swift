import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Who may write: a request bearing one of the configured API keys (`Authorization: Bearer
/// <key>`). With no keys configured every write is refused (403), so a server is read-only
/// unless an operator opts in.
struct WriteAuthorization: Sendable {
    /// SHA-256 of each key: comparing digests of equal length in constant time reveals neither
    /// the key's bytes nor its length through timing.
    private let digests: [[UInt8]]

    init(keys: [String]) {
        digests = keys.map { Array(SHA256.hash(data: Data($0.utf8))) }
    }

    var writesEnabled: Bool { !digests.isEmpty }

    /// - Throws: 403 `writes_disabled` when no keys are configured, 401 `unauthorized` when the
    ///   header is missing, malformed or names an unknown key.
    func check(_ request: Request) throws {
        guard writesEnabled else {
            throw APIError(.forbidden, code: "writes_disabled", "writes are disabled: no API keys are configured (set VITRINE_API_KEYS or api.keys in the config file)")
        }
        let challenge: HTTPFields = [.wwwAuthenticate: "Bearer realm=\"vitrine\""]
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, code: "unauthorized", "writes need an Authorization: Bearer <key> header", headers: challenge)
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, code: "unauthorized", "the Authorization header must be \"Bearer <key>\"", headers: challenge)
        }
        let given = Array(SHA256.hash(data: Data(parts[1].trimmingCharacters(in: .whitespaces).utf8)))
        var matched = false
        for digest in digests {
            var difference: UInt8 = 0
            for (a, b) in zip(digest, given) { difference |= a ^ b }
            matched = matched || difference == 0  // no early exit: every key is compared
        }
        guard matched else {
            throw APIError(.unauthorized, code: "unauthorized", "the API key is not valid", headers: challenge)
        }
    }
}
