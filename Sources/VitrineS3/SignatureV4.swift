import Crypto
import Foundation
import VitrineCore

/// AWS Signature Version 4 for S3: the canonical request, the string to sign, the derived signing
/// key and the `Authorization` header, or the same signature carried in a presigned URL's query.
///
/// S3 signs the path as it is sent (each segment percent-encoded once, never normalized), which
/// is what this signer does; other AWS services encode twice.
public struct SignatureV4: Sendable {
    public struct Credentials: Sendable, Equatable {
        public var accessKey: String
        public var secretKey: String
        /// `X-Amz-Security-Token` for temporary credentials.
        public var sessionToken: String?

        public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
            self.accessKey = accessKey
            self.secretKey = secretKey
            self.sessionToken = sessionToken
        }
    }

    public var credentials: Credentials
    public var region: String
    public var service: String

    public init(credentials: Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The SHA-256 of an empty body, and the marker for a body that is not signed.
    public static let emptyPayloadHash = Hex.encode(SHA256.hash(data: Data()))
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Headers to add to a request: `x-amz-date`, `x-amz-content-sha256` (S3 wants it),
    /// the session token when there is one, and `Authorization`. `headers` must hold `host` and
    /// any other header to be signed; `path` is already percent-encoded, `query` is not.
    public func sign(method: String, path: String, query: [(String, String)], headers: [(String, String)],
                     payloadHash: String, date: Date) -> [(String, String)] {
        let (stamp, day) = Self.timestamps(date)
        var signed = headers.map { ($0.0.lowercased(), Self.trim($0.1)) }
        var added = [("x-amz-date", stamp)]
        if service == "s3" { added.append(("x-amz-content-sha256", payloadHash)) }
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        signed += added
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(signed)
        let request = [method, path, Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash].joined(separator: "\n")
        let signature = signatureOf(canonicalRequest: request, stamp: stamp, day: day)
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope(day)), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return added + [("Authorization", authorization)]
    }

    /// The query of a presigned URL valid for `expires` seconds: the caller's parameters plus the
    /// `X-Amz-*` ones, signed over the `host` header only, with an unsigned payload.
    public func presignedQuery(method: String, path: String, query: [(String, String)], host: String,
                               expires: Int, date: Date) -> [(String, String)] {
        let (stamp, day) = Self.timestamps(date)
        var parameters = query + [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(credentials.accessKey)/\(scope(day))"),
            ("X-Amz-Date", stamp),
            ("X-Amz-Expires", String(expires)),
        ]
        if let token = credentials.sessionToken { parameters.append(("X-Amz-Security-Token", token)) }
        parameters.append(("X-Amz-SignedHeaders", "host"))
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders([("host", host)])
        let request = [method, path, Self.canonicalQuery(parameters), canonicalHeaders, signedHeaders, Self.unsignedPayload]
            .joined(separator: "\n")
        return parameters + [("X-Amz-Signature", signatureOf(canonicalRequest: request, stamp: stamp, day: day))]
    }

    // MARK: - The steps

    func scope(_ day: String) -> String { "\(day)/\(region)/\(service)/aws4_request" }

    /// The signature of a canonical request: HMAC of the string to sign with the derived key.
    func signatureOf(canonicalRequest: String, stamp: String, day: String) -> String {
        let stringToSign = ["AWS4-HMAC-SHA256", stamp, scope(day), Hex.encode(SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: day)))
    }

    /// `HMAC("AWS4" + secret, day)`, then region, service and `aws4_request` in turn.
    func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data(("AWS4" + credentials.secretKey).utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// Lower-case names sorted, values trimmed with inner runs of spaces made one, repeated
    /// names joined by commas; and the names joined by semicolons.
    static func canonicalHeaders(_ headers: [(String, String)]) -> (String, String) {
        var merged: [String: [String]] = [:]
        for (name, value) in headers { merged[name.lowercased(), default: []].append(trim(value)) }
        let names = merged.keys.sorted()
        let lines = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        return (lines, names.joined(separator: ";"))
    }

    /// Parameters encoded, then sorted by name and value.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { (encode($0.0), encode($0.1)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { $0.name + "=" + $0.value }.joined(separator: "&")
    }

    /// Percent-encoding of everything but `A-Z a-z 0-9 - _ . ~` (and `/` when `keepSlash`).
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var result = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    private static let unreserved: Set<UInt8> = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8)

    static func trim(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }

    /// `20150830T123600Z` and `20150830`, in UTC.
    static func timestamps(_ date: Date) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d%02d%02d", c.year!, c.month!, c.day!)
        return (day + String(format: "T%02d%02d%02dZ", c.hour!, c.minute!, c.second!), day)
    }
}
