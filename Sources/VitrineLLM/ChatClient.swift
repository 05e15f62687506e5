import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import VitrineCore

/// Where and how to reach an OpenAI-compatible chat-completions server (llama.cpp's, vLLM's,
/// Ollama's, OpenAI's).
public struct LLMConfiguration: Sendable, Equatable {
    /// The API's base URL, up to and including its version: `http://127.0.0.1:8081/v1`.
    public var url: URL
    /// The model the server is asked for (`model` of the request).
    public var model: String
    /// Sent as `Authorization: Bearer …` when set; never logged.
    public var apiKey: String?
    /// How long a query may wait for the model before the plain query is searched instead.
    public var budget: Duration
    /// How structured output is asked for (the answer is validated either way).
    public var structuredOutput: StructuredOutput

    public enum StructuredOutput: String, Sendable, Equatable, CaseIterable {
        /// `response_format: {type: json_schema, json_schema: {...}}` (OpenAI, llama.cpp, vLLM).
        case jsonSchema = "json_schema"
        /// `response_format: {type: json_object, schema: ...}` (older llama.cpp servers).
        case jsonObject = "json_object"
        /// No `response_format`: the prompt alone asks for JSON.
        case none
    }

    public static let defaultBudget: Duration = .milliseconds(1500)

    public init(url: URL, model: String, apiKey: String? = nil, budget: Duration = defaultBudget,
                structuredOutput: StructuredOutput = .jsonSchema) {
        self.url = url
        self.model = model
        self.apiKey = apiKey
        self.budget = budget
        self.structuredOutput = structuredOutput
    }

    /// Parses `--llm-url`: an http(s) URL with a host.
    /// - Throws: ``LLMError/misconfigured(_:)`` naming the setting and the reason.
    public static func parse(url text: String, model: String?, apiKey: String?, budgetMilliseconds: Int?,
                             structuredOutput: String?, setting: String = "--llm-url") throws -> LLMConfiguration {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty
        else { throw LLMError.misconfigured("\(setting) must be an http(s) URL such as http://127.0.0.1:8081/v1, not \(text.debugDescription)") }
        guard url.user == nil, url.password == nil else {
            throw LLMError.misconfigured("\(setting) must not carry credentials; give the key in VITRINE_LLM_API_KEY or the config file's llm.apiKey")
        }
        guard let model, !model.isEmpty else { throw LLMError.misconfigured("\(setting) needs a model name: --llm-model (or llm.model)") }
        var budget = defaultBudget
        if let ms = budgetMilliseconds {
            guard (50...60_000).contains(ms) else { throw LLMError.misconfigured("the LLM budget must be 50 to 60000 ms, not \(ms)") }
            budget = .milliseconds(ms)
        }
        var mode = StructuredOutput.jsonSchema
        if let structuredOutput {
            guard let parsed = StructuredOutput(rawValue: structuredOutput) else {
                throw LLMError.misconfigured("llm.structuredOutput must be \(StructuredOutput.allCases.map(\.rawValue).joined(separator: ", ")), not \(structuredOutput)")
            }
            mode = parsed
        }
        return LLMConfiguration(url: url, model: model, apiKey: apiKey.flatMap { $0.isEmpty ? nil : $0 }, budget: budget, structuredOutput: mode)
    }
}

/// What went wrong talking to the LLM server; each names the dependency.
public enum LLMError: VitrineError, Equatable {
    case misconfigured(String)
    /// No answer within the budget.
    case timeout(Duration)
    /// The server answered with an error status.
    case http(status: Int, body: String)
    /// The connection failed.
    case transport(String)
    /// The answer was not a chat completion, or its content not the JSON asked for.
    case invalidAnswer(String)

    public var kind: ErrorKind {
        switch self {
        case .misconfigured: .misconfigured
        case .timeout, .http, .transport, .invalidAnswer: .dependency
        }
    }

    public var description: String {
        switch self {
        case .misconfigured(let reason): "LLM settings: \(reason)"
        case .timeout(let budget): "the LLM server did not answer within \(budget)"
        case .http(let status, let body): "the LLM server answered HTTP \(status)" + (body.isEmpty ? "" : ": \(body)")
        case .transport(let reason): "the LLM server cannot be reached: \(reason)"
        case .invalidAnswer(let reason): "the LLM server's answer is unusable: \(reason)"
        }
    }

    /// A short label for metrics and logs.
    public var outcome: String {
        switch self {
        case .misconfigured: "misconfigured"
        case .timeout: "timeout"
        case .http: "http_error"
        case .transport: "unreachable"
        case .invalidAnswer: "invalid"
        }
    }
}

/// One chat-completions call at a time, non-streaming, within a deadline. The HTTP client is
/// the process's shared one. A server that refuses `response_format` of type `json_schema` (as
/// llama-cpp-python's does) is asked again at once with `json_object` and its schema, and from
/// then on; nothing else is retried, since a retry would not fit the budget.
public struct ChatClient: Sendable {
    public let configuration: LLMConfiguration
    private let mode: ModeBox

    final class ModeBox: Sendable {
        let value: Mutex<LLMConfiguration.StructuredOutput>
        init(_ mode: LLMConfiguration.StructuredOutput) { value = Mutex(mode) }
    }

    public init(configuration: LLMConfiguration) {
        self.configuration = configuration
        mode = ModeBox(configuration.structuredOutput)
    }

    /// How structured output is asked for now (after a downgrade, `json_object`).
    public var structuredOutput: LLMConfiguration.StructuredOutput { mode.value.withLock { $0 } }

    /// The message content of the first choice for `messages`, asking for JSON matching
    /// `schema` as the configuration says. The whole exchange, body included, fits in the budget:
    /// a server that dribbles its answer is cut off like one that says nothing.
    public func complete(messages: [[String: String]], schema: [String: Any], schemaName: String,
                         maxTokens: Int = 256, within budget: Duration? = nil) async throws -> String {
        let budget = budget ?? configuration.budget
        let current = structuredOutput
        let first = try request(messages: messages, schema: schema, schemaName: schemaName, maxTokens: maxTokens, mode: current)
        // Built only for a server still asked for json_schema: the request a refusal retries with.
        let fallback = current == .jsonSchema
            ? try request(messages: messages, schema: schema, schemaName: schemaName, maxTokens: maxTokens, mode: .jsonObject) : nil
        let box = mode
        let (status, data) = try await withThrowingTaskGroup(of: (Int, Data)?.self) { group in
            group.addTask {
                let answer = try await Self.exchange(first, budget: budget)
                guard let fallback, !(200..<300).contains(answer.0),
                      String(decoding: answer.1.prefix(2000), as: UTF8.self).contains("json_schema") else { return answer }
                box.value.withLock { $0 = .jsonObject }
                return try await Self.exchange(fallback, budget: budget)
            }
            group.addTask {
                try? await Task.sleep(for: budget)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let answer = first else { throw LLMError.timeout(budget) }
            return answer
        }
        guard (200..<300).contains(status) else {
            throw LLMError.http(status: status, body: String(decoding: data.prefix(300), as: UTF8.self))
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let choices = json["choices"] as? [[String: Any]], let first = choices.first,
              let message = first["message"] as? [String: Any], let content = message["content"] as? String
        else { throw LLMError.invalidAnswer("not a chat completion with choices[0].message.content") }
        return content
    }

    private func request(messages: [[String: String]], schema: [String: Any], schemaName: String, maxTokens: Int,
                         mode: LLMConfiguration.StructuredOutput) throws -> HTTPClientRequest {
        var body: [String: Any] = [
            "model": configuration.model, "messages": messages, "temperature": 0, "max_tokens": maxTokens, "stream": false,
        ]
        switch mode {
        case .jsonSchema:
            body["response_format"] = ["type": "json_schema", "json_schema": ["name": schemaName, "strict": true, "schema": schema]]
        case .jsonObject:
            body["response_format"] = ["type": "json_object", "schema": schema]
        case .none:
            break
        }
        var request = HTTPClientRequest(url: configuration.url.appendingPathComponent("chat/completions").absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let key = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: body))))
        return request
    }

    /// The process's client for LLM servers: a refused connection fails the call at once (the
    /// shared client would retry it until the deadline, so a server that is down would cost every
    /// query the whole budget). Never shut down, like `HTTPClient.shared`.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// The status and body of one request (the body at most 1 MB: an answer is a few hundred bytes).
    private static func exchange(_ request: HTTPClientRequest, budget: Duration) async throws -> (Int, Data) {
        let deadline = NIODeadline.now() + .nanoseconds(Int64(budget / .nanoseconds(1)))
        do {
            let response = try await http.execute(request, deadline: deadline)
            let buffer = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), Data(buffer.readableBytesView))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw LLMError.timeout(budget)
        } catch is NIOTooManyBytesError {
            throw LLMError.invalidAnswer("the body is larger than 1 MB")
        } catch is CancellationError {
            throw LLMError.timeout(budget)
        } catch {
            if NIODeadline.now() >= deadline { throw LLMError.timeout(budget) }
            throw LLMError.transport(String(describing: error))
        }
    }
}
