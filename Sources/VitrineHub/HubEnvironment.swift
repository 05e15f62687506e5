import Foundation

/// Where and how to reach the Hugging Face Hub, read from the same environment variables the
/// Python `huggingface_hub` library reads, so both share one cache and one login.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `HF_ENDPOINT` | hub base URL | `https://huggingface.co` |
/// | `HF_TOKEN` (`HUGGING_FACE_HUB_TOKEN`) | bearer token | contents of `HF_TOKEN_PATH` |
/// | `HF_TOKEN_PATH` | token file | `$HF_HOME/token` |
/// | `HF_HOME` | root of Hugging Face state | `$XDG_CACHE_HOME/huggingface` or `~/.cache/huggingface` |
/// | `HF_HUB_CACHE` (`HUGGINGFACE_HUB_CACHE`) | model cache | `$HF_HOME/hub` |
/// | `HF_HUB_OFFLINE` (`TRANSFORMERS_OFFLINE`) | `1`/`on`/`yes`/`true`: never touch the network | off |
/// | `HF_HUB_ETAG_TIMEOUT` | seconds to wait for the file listing | 10 |
public struct HubEnvironment: Sendable, Equatable {
    /// The hub's base URL, without a trailing slash.
    public var endpoint: String
    /// A Hugging Face access token sent as `Authorization: Bearer …` to the endpoint, or `nil`.
    public var token: String?
    /// The hub cache directory (`models--owner--name/…` lives directly inside it).
    public var cacheDirectory: URL
    /// When `true`, repositories resolve from ``cacheDirectory`` only.
    public var offline: Bool
    /// How long to wait for the repo's file listing before deciding the hub is unreachable
    /// (and using the cache if it can). Kept short because an unreachable host is only given up
    /// on when this runs out.
    public var metadataTimeout: Duration

    /// The public Hugging Face Hub.
    public static let defaultEndpoint = "https://huggingface.co"

    /// Creates an environment with explicit values (tests, embedding applications).
    public init(
        endpoint: String = HubEnvironment.defaultEndpoint,
        token: String? = nil,
        cacheDirectory: URL,
        offline: Bool = false,
        metadataTimeout: Duration = .seconds(10)
    ) {
        self.endpoint = Self.trimmingTrailingSlashes(endpoint)
        self.token = Self.cleanToken(token)
        self.cacheDirectory = cacheDirectory
        self.offline = offline
        self.metadataTimeout = metadataTimeout
    }

    /// Reads the environment the way `huggingface_hub` does.
    ///
    /// The token file is read once, here; a missing or unreadable file simply means "no token".
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        func value(_ names: String...) -> String? {
            for name in names {
                if let value = environment[name], !value.isEmpty { return value }
            }
            return nil
        }
        let home = value("HOME").map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        func path(_ raw: String) -> URL {
            URL(fileURLWithPath: Self.expandingTilde(raw, home: home.path), isDirectory: true).standardizedFileURL
        }

        let hfHome: URL
        if let raw = value("HF_HOME") {
            hfHome = path(raw)
        } else if let xdg = value("XDG_CACHE_HOME") {
            hfHome = path(xdg).appendingPathComponent("huggingface", isDirectory: true)
        } else {
            hfHome = home.appendingPathComponent(".cache/huggingface", isDirectory: true)
        }
        let cache = value("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE").map(path)
            ?? hfHome.appendingPathComponent("hub", isDirectory: true)

        var token = Self.cleanToken(value("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"))
        if token == nil {
            let tokenFile = value("HF_TOKEN_PATH").map { URL(fileURLWithPath: Self.expandingTilde($0, home: home.path)) }
                ?? hfHome.appendingPathComponent("token")
            token = Self.cleanToken(try? String(contentsOf: tokenFile, encoding: .utf8))
        }

        var metadataTimeout = Duration.seconds(10)
        if let raw = value("HF_HUB_ETAG_TIMEOUT"), let seconds = Double(raw), seconds > 0, seconds < 86_400 {
            metadataTimeout = .milliseconds(Int64(seconds * 1000))
        }

        self.init(
            endpoint: value("HF_ENDPOINT") ?? Self.defaultEndpoint,
            token: token,
            cacheDirectory: cache,
            offline: Self.isTrue(value("HF_HUB_OFFLINE")) || Self.isTrue(value("TRANSFORMERS_OFFLINE")),
            metadataTimeout: metadataTimeout
        )
    }

    static func isTrue(_ value: String?) -> Bool {
        guard let value else { return false }
        return ["1", "ON", "YES", "TRUE"].contains(value.trimmingCharacters(in: .whitespaces).uppercased())
    }

    /// Tokens pasted into files or shells often carry newlines; an empty token means none.
    static func cleanToken(_ token: String?) -> String? {
        guard let token else { return nil }
        let cleaned = token.filter { $0 != "\r" && $0 != "\n" }.trimmingCharacters(in: .whitespaces)
        return cleaned.isEmpty ? nil : cleaned
    }

    static func trimmingTrailingSlashes(_ string: String) -> String {
        var result = Substring(string)
        while result.hasSuffix("/") { result = result.dropLast() }
        return String(result)
    }

    static func expandingTilde(_ path: String, home: String) -> String {
        if path == "~" { return home }
        if path.hasPrefix("~/") { return home + path.dropFirst() }
        return path
    }
}
