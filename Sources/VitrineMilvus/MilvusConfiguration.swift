import Foundation
import VitrineIndex

/// Where vectors live in Milvus, parsed from a `milvus://` URL:
///
///     milvus://[USER@]HOST[:PORT]/COLLECTION[?db=D&tls=true&ca=PEM_FILE&consistency=bounded|strong|session|eventually
///                                            &M=16&ef_construction=200&ef=64
///                                            &timeout=SECONDS&connect_timeout=SECONDS]
///
/// `COLLECTION` is a base name: the index the catalog calls `index` is the collection of that
/// name, a reindex builds `COLLECTION_2`, `_3`, …, and `COLLECTION_meta` keeps each one's
/// sequence number. Credentials come from `MILVUS_TOKEN` (an API key or `user:password`) or
/// `MILVUS_PASSWORD` with the URL's user (or the config file); never from the command line.
public struct MilvusConfiguration: Sendable, Equatable {
    /// How fresh a search's view must be (Milvus's consistency levels).
    public enum Consistency: String, Sendable, Equatable, CaseIterable {
        /// Sees every write acknowledged before the search started (slowest).
        case strong
        /// Sees writes older than Milvus's graceful time (a few seconds at most); the default.
        case bounded
        /// Sees this client's own writes.
        case session
        /// No guarantee.
        case eventually
    }

    public var host: String
    public var port: Int
    public var database: String
    public var collection: String
    public var tls: Bool
    /// A PEM file of the certificate authorities the server's certificate must chain to (a private
    /// CA); nil trusts the system's. Implies `tls`.
    public var caFile: String?
    public var user: String?
    /// `user:password` or an API key; sent as the `authorization` header, never logged.
    public var token: String?
    public var consistency: Consistency
    /// HNSW's links per node and construction beam, for collections this store creates.
    public var M: Int
    public var efConstruction: Int
    /// HNSW's search beam when a search names none.
    public var ef: Int
    /// Time one call may take (a search, a batch).
    public var timeout: Double
    /// Time to reach the server.
    public var connectTimeout: Double

    public init(host: String, port: Int = 19530, database: String = "default", collection: String,
                tls: Bool = false, user: String? = nil, token: String? = nil,
                consistency: Consistency = .bounded, M: Int = 16, efConstruction: Int = 200, ef: Int = 64,
                timeout: Double = 10, connectTimeout: Double = 5) {
        self.host = host
        self.port = port
        self.database = database
        self.collection = collection
        self.tls = tls
        self.user = user
        self.token = token
        self.consistency = consistency
        self.M = M
        self.efConstruction = efConstruction
        self.ef = ef
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }

    /// Parses `text`; `setting` names where it came from (`--vectors`, `VITRINE_VECTORS`) in errors.
    /// `environment` supplies `MILVUS_TOKEN` or `MILVUS_PASSWORD`.
    public init(url text: String, setting: String, environment: [String: String], passwordAllowed: Bool) throws {
        func fail(_ reason: String) -> VectorIndexError {
            .invalidArgument("\(setting): \(reason) (expected milvus://HOST[:PORT]/COLLECTION[?consistency=…])")
        }
        guard let components = URLComponents(string: text), components.scheme?.lowercased() == "milvus" else {
            throw fail("\(text.contains("@") ? "the URL" : text) is not a milvus:// URL")
        }
        guard let host = components.host, !host.isEmpty else { throw fail("the URL names no host") }
        if components.password != nil, !passwordAllowed {
            throw fail("a password on the command line is visible to every user of this machine; set MILVUS_PASSWORD or MILVUS_TOKEN, or put the URL in the config file")
        }
        let collection = String(components.path.drop(while: { $0 == "/" }))
        guard Self.isName(collection, limit: 200) else {
            throw fail("collection \"\(collection)\" must be letters, digits and underscores, starting with a letter or underscore, at most 200")
        }
        var token = environment["MILVUS_TOKEN"]
        if let user = components.user, let password = components.password ?? environment["MILVUS_PASSWORD"] {
            token = "\(user):\(password)"
        }
        self.init(host: host, port: components.port ?? 19530, collection: collection, user: components.user, token: token)
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            func number(_ range: ClosedRange<Double>) throws -> Double {
                guard let n = Double(value), range.contains(n) else {
                    throw fail("\(item.name) \"\(value)\" is not a number from \(range.lowerBound) to \(range.upperBound)")
                }
                return n
            }
            switch item.name {
            case "db":
                guard Self.isName(value, limit: 200) else { throw fail("db \"\(value)\" is not a database name") }
                database = value
            case "tls":
                guard let on = ["true": true, "false": false][value] else { throw fail("tls \"\(value)\" is not true or false") }
                tls = on
            case "ca":
                guard FileManager.default.isReadableFile(atPath: value),
                      let pem = try? String(contentsOfFile: value, encoding: .utf8), pem.contains("-----BEGIN CERTIFICATE-----") else {
                    throw fail("ca \"\(value)\" is not a readable PEM file of certificates")
                }
                caFile = value
            case "consistency":
                guard let level = Consistency(rawValue: value) else {
                    throw fail("consistency \"\(value)\" is not one of \(Consistency.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                consistency = level
            case "M": M = Int(try number(2...256))
            case "ef_construction": efConstruction = Int(try number(1...10_000))
            case "ef": ef = Int(try number(1...32_768))
            case "timeout": timeout = try number(0.1...3600)
            case "connect_timeout": connectTimeout = try number(0.1...600)
            default:
                throw fail("unknown parameter \"\(item.name)\" (known: db, tls, ca, consistency, M, ef_construction, ef, timeout, connect_timeout)")
            }
        }
        if caFile != nil {
            guard tls || !(components.queryItems ?? []).contains(where: { $0.name == "tls" }) else {
                throw fail("ca names certificates for TLS, and tls=false turns TLS off")
            }
            tls = true
        }
    }

    /// The URL without credentials: what logs, `stats` and `/readyz` show.
    public var displayURL: String {
        let host = host.contains(":") ? "[\(host)]" : host
        let tail = database == "default" ? "" : "?db=\(database)"
        return "milvus://\(user.map { "\($0)@" } ?? "")\(host):\(port)/\(collection)\(tail)"
    }

    /// How errors name the dependency.
    public var dependency: String { "Milvus \(displayURL)" }

    /// The collection holding the index the catalog calls `name`: `index` is the collection,
    /// `index-2` is `<collection>_2`, the text index `text` is `<collection>_text` and `text-2`
    /// `<collection>_text_2`.
    public func collectionName(forIndex name: String) -> String {
        if name == "index" { return collection }
        if name.hasPrefix("index-") { return "\(collection)_\(name.dropFirst("index-".count))" }
        return "\(collection)_\(name.replacingOccurrences(of: "-", with: "_"))"
    }

    /// The collection of sequence numbers and build markers.
    public var metaCollection: String { "\(collection)_meta" }

    /// Milvus names: letters, digits and underscores, not starting with a digit.
    static func isName(_ text: String, limit: Int) -> Bool {
        guard let first = text.unicodeScalars.first, text.utf8.count <= limit else { return false }
        func isLetter(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) || ("A"..."Z").contains(s) || s == "_" }
        return isLetter(first) && text.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
    }
}
