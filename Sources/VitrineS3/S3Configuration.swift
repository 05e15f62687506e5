import Foundation
import VitrineCatalog

/// Where the photos live in S3 (or a store speaking its API: MinIO, SeaweedFS, Ceph), parsed from
///
///     s3://BUCKET[/PREFIX][?endpoint=URL&region=R&addressing=path|virtual
///                          &presign=SECONDS&part_size=MIB&timeout=SECONDS]
///
/// Credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`)
/// in the environment or the config file, never from the URL. Without `endpoint`, the store is
/// AWS's (`https://s3.REGION.amazonaws.com`, virtual-hosted addressing); with one, path-style
/// addressing is the default, as self-hosted stores expect. `presign` makes `GET /images/{key}`
/// redirect to a URL signed for that many seconds instead of relaying the bytes.
public struct S3Configuration: Sendable, Equatable {
    public enum Addressing: String, Sendable, Equatable {
        /// `http://endpoint/bucket/key`
        case path
        /// `http://bucket.endpoint/key`
        case virtual
    }

    public var bucket: String
    /// Key prefix without leading or trailing slashes ("" for the bucket's root).
    public var prefix: String
    public var endpoint: URL
    public var region: String
    public var addressing: Addressing
    public var credentials: SignatureV4.Credentials
    /// Seconds a presigned image URL is valid; nil relays image bytes through the server.
    public var presignSeconds: Int?
    /// Blobs larger than this go up in parts of this size (S3's minimum part is 5 MiB).
    public var partSize: Int
    /// Time a request may take, connecting included.
    public var timeout: Double

    public init(bucket: String, prefix: String = "", endpoint: URL, region: String = "us-east-1",
                addressing: Addressing = .path, credentials: SignatureV4.Credentials,
                presignSeconds: Int? = nil, partSize: Int = 8 << 20, timeout: Double = 30) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.addressing = addressing
        self.credentials = credentials
        self.presignSeconds = presignSeconds
        self.partSize = partSize
        self.timeout = timeout
    }

    /// Parses `text`; `setting` names where it came from (`--blobs`, `VITRINE_BLOBS`) in errors.
    public init(url text: String, setting: String, environment: [String: String]) throws {
        func fail(_ reason: String) -> CatalogError {
            .invalidArgument("\(setting): \(reason) (expected s3://BUCKET[/PREFIX]?endpoint=URL&region=R)")
        }
        guard let components = URLComponents(string: text), components.scheme?.lowercased() == "s3" else {
            throw fail("\"\(text)\" is not an s3:// URL")
        }
        guard components.user == nil, components.password == nil else {
            throw fail("credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        guard let bucket = components.host, Self.isBucketName(bucket) else {
            throw fail("\"\(components.host ?? "")\" is not a bucket name (3 to 63 of a-z, 0-9, '.', '-', starting and ending with a letter or digit)")
        }
        let prefix = components.path.split(separator: "/").joined(separator: "/")
        guard let access = environment["AWS_ACCESS_KEY_ID"], !access.isEmpty,
              let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            throw CatalogError.invalidArgument("\(setting): no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (environment or config file)")
        }
        var region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        var endpoint: URL?
        var addressing: Addressing?
        var presign: Int?
        var partSize = 8 << 20
        var timeout = 30.0
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "endpoint":
                guard let url = URL(string: value), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil,
                      url.path.isEmpty || url.path == "/", url.query == nil else {
                    throw fail("endpoint \"\(value)\" is not an http(s)://HOST[:PORT] URL")
                }
                endpoint = url
            case "region":
                guard !value.isEmpty, value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { throw fail("region \"\(value)\" is not a region name") }
                region = value
            case "addressing":
                guard let mode = Addressing(rawValue: value) else { throw fail("addressing \"\(value)\" is not path or virtual") }
                addressing = mode
            case "presign":
                guard let seconds = Int(value), (1...604_800).contains(seconds) else { throw fail("presign \"\(value)\" is not a number of seconds from 1 to 604800") }
                presign = seconds
            case "part_size":
                guard let mib = Int(value), (5...5120).contains(mib) else { throw fail("part_size \"\(value)\" is not a number of MiB from 5 to 5120") }
                partSize = mib << 20
            case "timeout":
                guard let seconds = Double(value), seconds > 0, seconds <= 3600 else { throw fail("timeout \"\(value)\" is not a number of seconds from 0 to 3600") }
                timeout = seconds
            default:
                throw fail("unknown parameter \"\(item.name)\" (known: endpoint, region, addressing, presign, part_size, timeout)")
            }
        }
        let resolved = endpoint ?? URL(string: "https://s3.\(region).amazonaws.com")!
        self.init(bucket: bucket, prefix: prefix, endpoint: resolved, region: region,
                  addressing: addressing ?? (endpoint == nil ? .virtual : .path),
                  credentials: SignatureV4.Credentials(accessKey: access, secretKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"]),
                  presignSeconds: presign, partSize: partSize, timeout: timeout)
        if self.addressing == .virtual, bucket.contains(".") {
            throw fail("bucket \"\(bucket)\" has dots, which virtual-hosted addressing cannot put in a host name; use addressing=path")
        }
    }

    /// The store without credentials: what `stats`, `/readyz` and errors show.
    public var displayURL: String {
        let base = endpoint.absoluteString.hasSuffix("/") ? String(endpoint.absoluteString.dropLast()) : endpoint.absoluteString
        return "s3://\(bucket)\(prefix.isEmpty ? "" : "/" + prefix) at \(base)"
    }

    static func isBucketName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return false }
        func isAlnum(_ b: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
        return isAlnum(bytes.first!) && isAlnum(bytes.last!)
            && bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }
}
