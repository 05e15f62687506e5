import ArgumentParser
import Configuration
import Foundation
import Hummingbird
import Logging
import VitrineCatalog
import VitrineCommandLine
import VitrineEngine
import VitrineModels
import VitrineServer
import VitrineTensor

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve search over a data directory: the HTTP API, its documentation, images and metrics.",
        discussion: """
        Settings come from these flags, then VITRINE_* environment variables (VITRINE_DATA, \
        VITRINE_PORT, VITRINE_API_KEYS, VITRINE_CORS_ORIGINS, ...), then a JSON config file \
        (--config or VITRINE_CONFIG), then defaults. Writes (POST/PUT/DELETE /api/v1/products) \
        need an API key from VITRINE_API_KEYS or the file's api.keys (each at least 16 characters); without keys they answer 403. \
        Logs are JSON lines on standard error. Stops gracefully on SIGINT or SIGTERM.
        """
    )

    @Option(name: .customLong("data"), help: "The data directory (catalog, images, index). Or VITRINE_DATA.")
    var data: String?

    @Option(name: .customLong("catalog"), help: ArgumentHelp(
        "The catalog in PostgreSQL: postgres://USER@HOST[:PORT]/DB[?schema=S]. Or VITRINE_CATALOG, or the file's catalog.", valueName: "url"))
    var catalog: String?

    @Option(name: .customLong("blobs"), help: ArgumentHelp(
        "The photos in S3: s3://BUCKET[/PREFIX]?endpoint=URL&region=R. Or VITRINE_BLOBS, or the file's blobs.", valueName: "url"))
    var blobs: String?

    @Option(name: .customLong("vectors"), help: ArgumentHelp(
        "The vectors in Milvus: milvus://HOST[:PORT]/COLLECTION[?consistency=…]. Or VITRINE_VECTORS, or the file's vectors.", valueName: "url"))
    var vectors: String?

    @Option(help: "The model (default: the one recorded in the data directory; if given, it must be that model).")
    var model: String?

    @Option(help: "Linear layers' precision: fp32, bf16 or int8 (default: photos at the data directory's, text queries at the fastest keeping cosine 0.999 to fp32).")
    var precision: Precision?

    @Option(help: ArgumentHelp(
        "A cross-encoder reranker for rerank=true: a hub id such as cross-encoder/ms-marco-MiniLM-L-6-v2, or a directory. Or VITRINE_RERANKER, or the file's reranker.",
        valueName: "model"))
    var reranker: String?

    @Option(name: .customLong("text-embedder"), help: ArgumentHelp(
        "The text index's sentence model for mode=text (default: the one the data directory records; none: no text retriever). Or VITRINE_TEXT_EMBEDDER, or the file's text.embedder.",
        valueName: "model"))
    var textEmbedder: String?

    @Option(name: .customLong("query-model"), help: ArgumentHelp(
        "A text tower trained into the model's space that encodes text queries in its place, e.g. sentence-transformers/clip-ViT-B-32-multilingual-v1 (queries in 50 languages; photos are not re-encoded): a hub id or a directory. Or VITRINE_QUERY_MODEL, or the file's query.model.",
        valueName: "model"))
    var queryModel: String?

    @Option(name: .customLong("llm-url"), help: ArgumentHelp(
        "An OpenAI-compatible chat server that reads free-form text queries into a query and filters (off by default): its base URL, e.g. http://127.0.0.1:8081/v1. The key: VITRINE_LLM_API_KEY or the file's llm.apiKey. Or VITRINE_LLM_URL, or the file's llm.url.",
        valueName: "url"))
    var llmURL: String?

    @Option(name: .customLong("llm-model"), help: ArgumentHelp("The model the --llm-url server is asked for. Or VITRINE_LLM_MODEL, or the file's llm.model.", valueName: "name"))
    var llmModel: String?

    @Option(help: "Address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default 8080; 0 picks a free one).")
    var port: Int?

    @Option(help: "A JSON config file (keys as in README's Serving section). Or VITRINE_CONFIG.")
    var config: String?

    @Option(name: .customLong("cors-origin"), help: "An origin allowed to call the API from a browser (repeatable; * for any).")
    var corsOrigins: [String] = []

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = ECSLogHandler(label: label)
            if let level = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) { handler.logLevel = level }
            return handler
        }
        let logger = Logger(label: "vitrine.serve")
        let (settings, server) = try await CLI.run { () async throws -> (ServerConfiguration, SearchServer) in
            let settings = try await ServerConfiguration.load(flags: flagValues(), environment: ProcessInfo.processInfo.environment, configFile: config)
            let directory = DataDirectory(URL(fileURLWithPath: (settings.dataDirectory as NSString).expandingTildeInPath).standardizedFileURL)
            // Credentials from the config file win over the process environment's.
            let environment = ProcessInfo.processInfo.environment.merging(settings.credentials) { $1 }
            let storage = try StorageLocation.parse(
                directory: directory, catalog: settings.catalog, catalogSetting: catalog != nil ? "--catalog" : "catalog (VITRINE_CATALOG or the config file)",
                blobs: settings.blobs, blobsSetting: blobs != nil ? "--blobs" : "blobs (VITRINE_BLOBS or the config file)",
                vectors: settings.vectors, vectorsSetting: vectors != nil ? "--vectors" : "vectors (VITRINE_VECTORS or the config file)",
                environment: environment, passwordAllowed: catalog == nil && vectors == nil)
            let store = try DataStore.openForReading(storage)
            // Without --precision: photos at the recorded precision, queries at the fastest that
            // keeps cosine 0.999 to fp32 (the reranker and the text index's model stay at fp32).
            let explicit = settings.precision.flatMap(Precision.init(rawValue:))
            let precision = explicit ?? .fp32
            let (encoders, queries) = try await RecordedModel.loadForServing(store: store, specifier: settings.model, precision: explicit)
            // After a reindex the directory records another model: the server loads that one
            // (a --model given named the old one, so it no longer applies).
            let loader: SearchServer.EncoderLoader = { store in
                try await RecordedModel.loadForServing(store: store, specifier: nil, precision: explicit, progress: false).encoders
            }
            // A reranker or sentence model that cannot be loaded is named in the log, and the
            // server goes on without it: clip search (and keyword, and hybrid without that part)
            // keeps working; rerank=true and mode=text answer 400 saying what is missing.
            var reranker: BERTCrossEncoder?
            do { reranker = try await RerankerModel.load(settings.reranker, precision: precision) } catch {
                logger.error("the reranker cannot be loaded: serving without it (rerank=true answers 400)", metadata: [
                    "vitrine.model": .string(settings.reranker ?? ""), "error.message": .string(String(describing: error))])
            }
            var text: TextEmbedder?
            do { text = try await TextEmbedderModel.load(settings.textEmbedder, store: store, precision: precision, environment: [:]) } catch {
                logger.error("the text index's sentence model cannot be loaded: serving without it (mode=text answers 400)", metadata: [
                    "vitrine.model": .string(settings.textEmbedder ?? store.textIndex?.record.model.specifier ?? ""),
                    "error.message": .string(String(describing: error))])
            }
            // After a text reindex the server loads the sentence model the text index records,
            // unless told to go without one.
            var textLoader: SearchServer.TextEmbedderLoader?
            if settings.textEmbedder?.lowercased() != "none" {
                textLoader = { record in try await TextEmbedderModel.load(record.specifier, precision: precision, progress: false) }
            }
            // A query model that cannot be loaded stops the server: it was asked for by name, and
            // serving English-only in its place would fail every other language quietly.
            let query = try await QueryModelLoader.load(settings.queryModel, precision: explicit,
                                                        dimension: store.model?.dimension ?? 0, environment: [:])
            let precisions = ServingPrecision(
                photos: encoders.model.precision.rawValue, queries: (query?.precision ?? queries).precision.rawValue,
                queriesMinCosine: explicit == nil ? (query?.precision ?? queries).minCosine : nil)
            return (settings, try SearchServer(configuration: settings, store: store, encoders: encoders, logger: logger, loader: loader,
                                               reranker: reranker, textEmbedder: text, textLoader: textLoader, queryModel: query?.model,
                                               precision: precisions))
        }
        let application = server.makeApplication { port in
            logger.info("serving", metadata: [
                "url.full": .string("http://\(settings.host.contains(":") ? "[\(settings.host)]" : settings.host):\(port)/"),
                "vitrine.data.directory": .string(settings.dataDirectory),
                "vitrine.catalog": .string(server.backends.catalog.description),
                "vitrine.photos": .string(server.backends.blobs.description),
                "vitrine.vectors": .string(server.backends.vectors.description),
                "vitrine.query_model": .string(settings.queryModel ?? "none"),
                "vitrine.precision.photos": .string(server.service.precision.photos),
                "vitrine.precision.queries": .string(server.service.precision.queries),
                "vitrine.llm.server": .string(settings.llm.map { "\($0.model) at \($0.url.absoluteString) (budget \($0.budget))" } ?? "off"),
                "vitrine.writes": .string(settings.apiKeys.isEmpty ? "disabled" : "enabled"),
            ])
        }
        do {
            try await application.runService()
        } catch {
            CLI.printError(error)
            throw ExitCode.failure
        }
    }

    /// The flags given, as configuration values (absent flags leave the key to the environment,
    /// the file or the default).
    func flagValues() -> [String: ConfigValue] {
        var values: [String: ConfigValue] = [:]
        if let data { values["data"] = ConfigValue(.string(data), isSecret: false) }
        if let model { values["model"] = ConfigValue(.string(model), isSecret: false) }
        if let catalog { values["catalog"] = ConfigValue(.string(catalog), isSecret: true) }
        if let blobs { values["blobs"] = ConfigValue(.string(blobs), isSecret: false) }
        if let vectors { values["vectors"] = ConfigValue(.string(vectors), isSecret: true) }
        if let precision { values["precision"] = ConfigValue(.string(precision.rawValue), isSecret: false) }
        if let reranker { values["reranker"] = ConfigValue(.string(reranker), isSecret: false) }
        if let textEmbedder { values["text.embedder"] = ConfigValue(.string(textEmbedder), isSecret: false) }
        if let queryModel { values["query.model"] = ConfigValue(.string(queryModel), isSecret: false) }
        if let llmURL { values["llm.url"] = ConfigValue(.string(llmURL), isSecret: false) }
        if let llmModel { values["llm.model"] = ConfigValue(.string(llmModel), isSecret: false) }
        if let host { values["host"] = ConfigValue(.string(host), isSecret: false) }
        if let port { values["port"] = ConfigValue(.int(port), isSecret: false) }
        if !corsOrigins.isEmpty { values["cors.origins"] = ConfigValue(.stringArray(corsOrigins), isSecret: false) }
        return values
    }
}
