import Foundation
import VitrineCatalog

/// Where a PostgreSQL catalog lives, parsed from a `postgres://` URL:
///
///     postgres://USER@HOST[:PORT]/DATABASE[?schema=S&sslmode=disable|prefer|require
///                                          &pool=N&connect_timeout=SECONDS&timeout=SECONDS]
///
/// The password comes from `PGPASSWORD` (or the config file's URL); a password written in a URL
/// given on the command line is refused, because the command line is visible to every user of the
/// machine. `schema` (default `public`) keeps Vitrine's tables apart from others in the database,
/// and one database can hold several catalogs, one per schema.
public struct PostgresConfiguration: Sendable, Equatable {
    public enum TLSMode: String, Sendable, Equatable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var schema: String
    public var tls: TLSMode
    /// Most connections open at once (readers share them; a writer holds one more for its lock).
    public var poolSize: Int
    /// Time to establish a connection.
    public var connectTimeout: Double
    /// Time a statement (or waiting for a free connection) may take before the call fails.
    public var timeout: Double

    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String,
                schema: String = "public", tls: TLSMode = .disable, poolSize: Int = 4,
                connectTimeout: Double = 5, timeout: Double = 30) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.schema = schema
        self.tls = tls
        self.poolSize = poolSize
        self.connectTimeout = connectTimeout
        self.timeout = timeout
    }

    /// Parses `text`; `setting` names where it came from (`--catalog`, `VITRINE_CATALOG`) in
    /// errors. `environment` supplies `PGPASSWORD` and `PGUSER` when the URL has none.
    public init(url text: String, setting: String, environment: [String: String],
                passwordAllowed: Bool) throws {
        func fail(_ reason: String) -> CatalogError {
            .invalidArgument("\(setting): \(reason) (expected postgres://USER@HOST[:PORT]/DATABASE[?schema=S])")
        }
        guard let components = URLComponents(string: text),
              let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            throw fail("\(Self.redacted(text)) is not a postgres:// URL")
        }
        guard let host = components.host, !host.isEmpty else { throw fail("the URL names no host") }
        if components.password != nil, !passwordAllowed {
            throw fail("a password on the command line is visible to every user of this machine; set PGPASSWORD or put the URL in the config file")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw fail("the URL names no database") }
        guard let user = components.user ?? environment["PGUSER"], !user.isEmpty else {
            throw fail("the URL names no user (and PGUSER is not set)")
        }
        self.init(host: host, port: components.port ?? 5432, user: user,
                  password: components.password ?? environment["PGPASSWORD"], database: database)
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "schema":
                guard Self.isIdentifier(value) else {
                    throw fail("schema \"\(value)\" must be letters, digits and underscores, starting with a letter or underscore, at most 63")
                }
                schema = value
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else { throw fail("sslmode \"\(value)\" is not disable, prefer or require") }
                tls = mode
            case "pool":
                guard let size = Int(value), (1...64).contains(size) else { throw fail("pool \"\(value)\" is not a number from 1 to 64") }
                poolSize = size
            case "connect_timeout":
                guard let seconds = Double(value), seconds > 0, seconds <= 600 else { throw fail("connect_timeout \"\(value)\" is not a number of seconds from 0 to 600") }
                connectTimeout = seconds
            case "timeout":
                guard let seconds = Double(value), seconds > 0, seconds <= 3600 else { throw fail("timeout \"\(value)\" is not a number of seconds from 0 to 3600") }
                timeout = seconds
            default:
                throw fail("unknown parameter \"\(item.name)\" (known: schema, sslmode, pool, connect_timeout, timeout)")
            }
        }
    }

    /// The URL without its password: what logs, `stats` and `/readyz` show.
    public var displayURL: String {
        "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)?schema=\(schema)"
    }

    /// A Postgres identifier Vitrine accepts unquoted (schema names are spliced into DDL, so only
    /// these are allowed).
    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.utf8.count <= 63 else { return false }
        func isLetter(_ scalar: Unicode.Scalar) -> Bool { ("a"..."z").contains(scalar) || scalar == "_" }
        return isLetter(first) && text.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
    }

    /// `text` with any password replaced, for messages about a URL that did not parse.
    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else {
            return text.contains("@") ? "the URL" : text
        }
        components.password = "***"
        return components.string ?? "the URL"
    }
}
