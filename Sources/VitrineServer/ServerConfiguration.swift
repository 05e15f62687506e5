import Configuration
import Foundation
import VitrineCore
import VitrineEngine
import VitrineLLM

/// Everything `vitrine serve` can be told, and where it may come from.
///
/// Values are read through swift-configuration from, in order of precedence: command-line flags,
/// `VITRINE_*` environment variables, a JSON config file (`--config FILE` or `VITRINE_CONFIG`),
/// then the defaults below. Keys are dotted (`api.keys`); the environment spells them in upper
/// case with underscores after the `VITRINE_` prefix (`VITRINE_API_KEYS`), and the file nests
/// them (`{"api": {"keys": ["..."]}}`).
public struct ServerConfiguration: Sendable {
    /// `data`: the data directory to serve (required).
    public var dataDirectory: String
    /// `catalog`: a `postgres://` URL for the catalog (nil: the data directory's SQLite file). In
    /// the config file or `VITRINE_CATALOG` it may carry the password; else `postgres.password`
    /// or `PGPASSWORD`.
    public var catalog: String?
    /// `blobs`: an `s3://` URL for the photos (nil: the data directory's `images/`).
    public var blobs: String?
    /// `vectors`: a `milvus://` URL for the vectors (nil: the data directory's index).
    public var vectors: String?
    /// `postgres.password`, `s3.accessKeyId`, `s3.secretAccessKey`, `milvus.token`: credentials
    /// from the config file (or their `VITRINE_*` variables); `PGPASSWORD`, `AWS_*` and
    /// `MILVUS_TOKEN` are read when these are absent.
    public var credentials: [String: String] = [:]
    /// `model`: the model to query with; nil means the one recorded in the data directory.
    public var model: String?
    /// `precision`: `fp32`, `bf16` or `int8` for every encoder; nil (unset, or `auto`): photos at
    /// the precision the data directory records, text queries at the fastest precision that keeps
    /// their embeddings within cosine 0.999 of fp32's (measured at start).
    public var precision: String?
    /// `host`: address to listen on.
    public var host = "127.0.0.1"
    /// `port`: TCP port (0 picks a free one).
    public var port = 8080
    /// `api.keys`: bearer keys that may write (comma-separated in the environment). Empty means
    /// writes are disabled.
    public var apiKeys: [String] = []
    /// `cors.origins`: origins allowed to call the API from a browser (`*` for any). Empty means
    /// no CORS headers are sent.
    public var corsOrigins: [String] = []
    /// `limits.uploadBytes`: largest accepted image upload (default 10 MB).
    public var maxUploadBytes = 10 << 20
    /// `limits.pixels`: largest accepted image, in pixels, checked before decoding (default 40 M).
    public var maxPixels = 40_000_000
    /// `limits.requestTimeoutSeconds`: a request still running after this answers 503 `timeout`.
    public var requestTimeout: Duration = .seconds(30)
    /// `limits.imageEncodeSlots`: image encodes running at once (each holds a decoded image).
    public var imageEncodeSlots = 2
    /// `limits.imageEncodeQueue`: image requests that may wait for a slot; more answer 503 `busy`.
    public var imageEncodeQueue = 8
    /// `limits.textEncodeSlots` / `limits.textEncodeQueue`: the same for text queries.
    public var textEncodeSlots = 2
    public var textEncodeQueue = 256
    /// `limits.textBatchSize`: most text queries encoded in one pass of the text tower (queries
    /// that arrive while a pass runs share the next one); 1 encodes each query alone in a text slot.
    public var textBatchSize = 16
    /// `writer.idleSeconds`: how long the server keeps the data directory's writer lock after its
    /// last write (0 releases it right after each write).
    public var writerIdle: Duration = .seconds(30)
    /// `refresh.intervalMilliseconds`: how often the server looks for commits of another writer
    /// (queries also look, so this only bounds the staleness of metrics and `/readyz`).
    public var refreshInterval: Duration = .seconds(1)

    /// `reranker`: a cross-encoder (hub id or directory) that `rerank=true` runs; nil: none.
    public var reranker: String?
    /// `text.embedder`: the text index's sentence model (hub id or directory) for `mode=text`; nil:
    /// the one the data directory records; `none`: no text retriever.
    public var textEmbedder: String?
    /// `query.model`: a text tower trained into the CLIP model's space (hub id or directory), such
    /// as sentence-transformers/clip-ViT-B-32-multilingual-v1, that encodes text queries in place
    /// of the CLIP model's own; nil: the CLIP model's.
    public var queryModel: String?
    /// `llm.url`, `llm.model`, `llm.apiKey` (`VITRINE_LLM_API_KEY`), `llm.budgetMilliseconds`
    /// (1500), `llm.structuredOutput` (json_schema, json_object or none): an OpenAI-compatible
    /// chat server that turns free-form text queries into a query and filters; nil: off.
    public var llm: LLMConfiguration?
    /// `search.rrfK`, `search.weights.keyword|text|clip`, `search.fusionDepth`,
    /// `search.rerankDepth`, `search.rerankMaxTokens`: how `mode=keyword|text|hybrid` fuse rankings and
    /// how `rerank=true` reranks (defaults: 60, 1, 1, 100, 32, 128).
    public var fusion = FusionOptions()

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    /// Reads the configuration. `flags` are the values given on the command line (they win);
    /// `environment` is the process environment (`VITRINE_*` variables are read);
    /// `configFile` is a JSON file (nil: `VITRINE_CONFIG` when set, else none).
    ///
    /// - Throws: ``ConfigurationError`` naming the key and the bad value, or the file and why it
    ///   could not be read.
    public static func load(flags: [String: ConfigValue], environment: [String: String], configFile: String?) async throws -> ServerConfiguration {
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: Dictionary(uniqueKeysWithValues: flags.map { (AbsoluteConfigKey(ConfigKey($0.key)), $0.value) })),
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(["VITRINE_API_KEYS", "VITRINE_CATALOG", "VITRINE_POSTGRES_PASSWORD", "VITRINE_S3_SECRET_ACCESS_KEY",
                                                                                         "VITRINE_VECTORS", "VITRINE_MILVUS_TOKEN", "VITRINE_LLM_API_KEY"]))
                .prefixKeys(with: ConfigKey("vitrine")),
        ]
        if let file = configFile ?? environment["VITRINE_CONFIG"], !file.isEmpty {
            guard FileManager.default.fileExists(atPath: file) else {
                throw ConfigurationError(key: "config", "config file \(file) does not exist")
            }
            do {
                // The file provider takes its path from a reader (this spares naming swift-system's FilePath).
                let location = InMemoryProvider(values: ["filePath": ConfigValue(.string(file), isSecret: false)])
                providers.append(try await FileProvider<JSONSnapshot>(config: ConfigReader(provider: location)))
            } catch {
                throw ConfigurationError(key: "config", "config file \(file) is not valid JSON: \(error)")
            }
        }
        return try ServerConfiguration(reader: ConfigReader(providers: providers))
    }

    /// Reads every key from `reader` (defaults for the absent ones) and validates the values.
    public init(reader: ConfigReader) throws {
        let values = ConfigValues(reader)
        guard let data = try values.string("data"), !data.isEmpty else {
            throw ConfigurationError(key: "data", "no data directory given: pass --data DIR or set VITRINE_DATA")
        }
        self.init(dataDirectory: data)
        catalog = try values.string("catalog", secret: true).flatMap { $0.isEmpty ? nil : $0 }
        blobs = try values.string("blobs").flatMap { $0.isEmpty ? nil : $0 }
        vectors = try values.string("vectors").flatMap { $0.isEmpty ? nil : $0 }
        for (key, variable) in [("postgres.password", "PGPASSWORD"), ("s3.accessKeyId", "AWS_ACCESS_KEY_ID"),
                                ("s3.secretAccessKey", "AWS_SECRET_ACCESS_KEY"), ("milvus.token", "MILVUS_TOKEN")] {
            if let value = try values.string(key, secret: true), !value.isEmpty { credentials[variable] = value }
        }
        model = try values.string("model").flatMap { $0.isEmpty ? nil : $0 }
        precision = try values.string("precision").flatMap { $0.isEmpty || $0 == "auto" ? nil : $0 }
        if let precision, !["fp32", "bf16", "int8"].contains(precision) {
            throw ConfigurationError(key: "precision", "precision must be fp32, bf16, int8 or auto, not \(precision)")
        }
        host = try values.string("host") ?? host
        port = try values.int("port", in: 0...65535) ?? port
        apiKeys = try values.list("api.keys", secret: true) ?? []
        guard !apiKeys.contains(where: { $0.count < 16 }) else {
            throw ConfigurationError(key: "api.keys", "every API key must be at least 16 characters long")
        }
        corsOrigins = try values.list("cors.origins") ?? []
        maxUploadBytes = try values.int("limits.uploadBytes", in: 1...(1 << 30)) ?? maxUploadBytes
        maxPixels = try values.int("limits.pixels", in: 1...1_000_000_000) ?? maxPixels
        if let seconds = try values.int("limits.requestTimeoutSeconds", in: 1...3600) { requestTimeout = .seconds(seconds) }
        imageEncodeSlots = try values.int("limits.imageEncodeSlots", in: 1...64) ?? imageEncodeSlots
        imageEncodeQueue = try values.int("limits.imageEncodeQueue", in: 0...10_000) ?? imageEncodeQueue
        textEncodeSlots = try values.int("limits.textEncodeSlots", in: 1...64) ?? textEncodeSlots
        textEncodeQueue = try values.int("limits.textEncodeQueue", in: 0...100_000) ?? textEncodeQueue
        textBatchSize = try values.int("limits.textBatchSize", in: 1...256) ?? textBatchSize
        if let seconds = try values.int("writer.idleSeconds", in: 0...86_400) { writerIdle = .seconds(seconds) }
        if let ms = try values.int("refresh.intervalMilliseconds", in: 50...3_600_000) { refreshInterval = .milliseconds(ms) }
        reranker = try values.string("reranker").flatMap { $0.isEmpty ? nil : $0 }
        textEmbedder = try values.string("text.embedder").flatMap { $0.isEmpty ? nil : $0 }
        queryModel = try values.string("query.model").flatMap { $0.isEmpty ? nil : $0 }
        if let url = try values.string("llm.url"), !url.isEmpty {
            do {
                llm = try LLMConfiguration.parse(
                    url: url, model: try values.string("llm.model"), apiKey: try values.string("llm.apiKey", secret: true),
                    budgetMilliseconds: try values.int("llm.budgetMilliseconds", in: 50...60_000),
                    structuredOutput: try values.string("llm.structuredOutput"), setting: "llm.url")
            } catch let error as LLMError {
                throw ConfigurationError(key: "llm.url", error.description)
            }
        }
        fusion.k = try values.double("search.rrfK", in: 1...10_000) ?? fusion.k
        for retriever in Retriever.allCases {
            if let weight = try values.double("search.weights.\(retriever.rawValue)", in: 0...1000) { fusion.weights[retriever] = weight }
        }
        fusion.depth = try values.int("search.fusionDepth", in: 1...1000) ?? fusion.depth
        fusion.rerankDepth = try values.int("search.rerankDepth", in: 1...400) ?? fusion.rerankDepth
        fusion.rerankMaxLength = try values.int("search.rerankMaxTokens", in: 8...512) ?? fusion.rerankMaxLength
    }
}

/// A configuration value that cannot be used, naming its key (and so its flag, variable and field).
public struct ConfigurationError: VitrineError, Sendable {
    public var key: String
    public var message: String

    public init(key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "configuration \(key): \(message)" }

    public var kind: ErrorKind { .misconfigured }
}

/// Typed reads that tell a missing value (nil) from a malformed one (an error naming the key):
/// the reader's own typed getters return nil for both.
private struct ConfigValues {
    let reader: ConfigReader
    init(_ reader: ConfigReader) { self.reader = reader }

    /// The environment variable that spells `key`, for messages.
    static func variable(_ key: String) -> String {
        var name = "VITRINE"
        for part in key.split(separator: ".") {
            name += "_"
            for ch in part {
                if ch.isUppercase { name += "_" }
                name += ch.uppercased()
            }
        }
        return name
    }

    func string(_ key: String, secret: Bool = false) throws -> String? {
        reader.string(forKey: ConfigKey(key), isSecret: secret)
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        try number(key, in: range, kind: "an integer", typed: { reader.int(forKey: $0) }, parse: { Int($0) })
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        try number(key, in: range, kind: "a number",
                   typed: { reader.double(forKey: $0) ?? reader.int(forKey: $0).map(Double.init) },
                   parse: { Double($0).flatMap { $0.isFinite ? $0 : nil } })
    }

    /// A number typed as such (the file) or as text (a flag, the environment), within `range`.
    private func number<Value: Comparable & CustomStringConvertible>(
        _ key: String, in range: ClosedRange<Value>, kind: String,
        typed: (ConfigKey) -> Value?, parse: (String) -> Value?
    ) throws -> Value? {
        let value: Value
        if let number = typed(ConfigKey(key)) {
            value = number
        } else if let text = reader.string(forKey: ConfigKey(key)) {
            guard let number = parse(text.trimmingCharacters(in: .whitespaces)) else {
                throw ConfigurationError(key: key, "\"\(text)\" is not \(kind) (from --\(key) / \(Self.variable(key)) / the config file)")
            }
            value = number
        } else {
            return nil
        }
        guard range.contains(value) else {
            throw ConfigurationError(key: key, "\(value) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    /// A list: an array in the file, comma-separated text in the environment or a flag.
    func list(_ key: String, secret: Bool = false) throws -> [String]? {
        let items: [String]
        if let array = reader.stringArray(forKey: ConfigKey(key), isSecret: secret) {
            items = array
        } else if let text = reader.string(forKey: ConfigKey(key), isSecret: secret) {
            items = text.split(separator: ",").map(String.init)
        } else {
            return nil
        }
        return items.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
