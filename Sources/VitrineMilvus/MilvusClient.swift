import Foundation
import Synchronization
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import VitrineIndex

typealias MilvusService = Milvus_Proto_Milvus_MilvusService.Client<HTTP2ClientTransport.Posix>

/// A Milvus server, for blocking callers, over one connection at a time: every call carries the configured
/// deadline and the credentials, fails fast while the server is unreachable (the transport keeps
/// reconnecting in the background, with backoff capped at two seconds, so the client recovers by
/// itself when the server is back), and reports a failure as ``VectorIndexError/unavailable``
/// naming Milvus. Calls that may run twice (reads, and writes that set absolute state) are retried
/// on connection failures, three tries in all.
final class MilvusClient: Sendable {
    let configuration: MilvusConfiguration
    private let bridge: BlockingBridge
    private let transportConfig: HTTP2ClientTransport.Posix.Config
    private let metadata: Metadata
    private let connections: Mutex<Connections>

    /// Calls one connection carries before the next takes over (a fresh one is opened
    /// `warmAhead` calls earlier, so no call waits for it). Milvus's Go server sends a PING with
    /// nearly every request it reads (gRPC-Go's flow-control estimator, which never settles on
    /// small messages), and the Swift HTTP/2 stack closes a connection that received 200 control
    /// frames within 30 s as a flood, failing the calls on it: at 70 searches a second that was
    /// every 3 s, one search in a hundred waiting 200 ms or more. Neither limit can be set from
    /// here; a connection retired early never reaches it.
    static let callsPerConnection = 150
    static let warmAhead = 20

    private struct Connection: Sendable {
        let client: GRPCClient<HTTP2ClientTransport.Posix>
        let service: MilvusService
    }

    private struct Connections: Sendable {
        var current: Connection
        var next: Connection?
        var calls = 0
        var closed = false
        /// Connections opened, and calls whose connection was lost under them (for tests).
        var opened = 1
        var lost = 0
    }

    /// Connections opened so far, and calls that lost theirs (each retried or failed).
    var connectionCounts: (opened: Int, lost: Int) { connections.withLock { ($0.opened, $0.lost) } }

    init(_ configuration: MilvusConfiguration) throws {
        self.configuration = configuration
        var transportConfig = HTTP2ClientTransport.Posix.Config.defaults
        // A connection that fails is tried again soon: most are closed by this client (above),
        // and a server that is down costs a connection attempt per backoff step, capped at 2 s.
        transportConfig.backoff = .init(initial: .milliseconds(5), max: .seconds(2), multiplier: 3, jitter: 0.2)
        transportConfig.connection.maxIdleTime = nil
        transportConfig.http2.maxFrameSize = 1 << 20
        self.transportConfig = transportConfig
        var metadata: Metadata = ["dbname": .string(configuration.database)]
        if let token = configuration.token {
            metadata.addString(Data(token.utf8).base64EncodedString(), forKey: "authorization")
        }
        self.metadata = metadata
        bridge = BlockingBridge(name: "vitrine-milvus")
        connections = Mutex(Connections(current: try Self.open(configuration, transportConfig, on: bridge)))
    }

    /// A connection, running on `bridge` (it connects on its first call).
    private static func open(_ configuration: MilvusConfiguration, _ config: HTTP2ClientTransport.Posix.Config,
                             on bridge: BlockingBridge) throws -> Connection {
        let transport: HTTP2ClientTransport.Posix
        do {
            transport = try HTTP2ClientTransport.Posix(
                target: .dns(host: configuration.host, port: configuration.port),
                transportSecurity: security(configuration),
                config: config)
        } catch {
            throw VectorIndexError.unavailable(dependency: configuration.dependency, reason: "cannot set up the connection: \(error)")
        }
        let client = GRPCClient(transport: transport)
        bridge.start { try? await client.runConnections() }
        return Connection(client: client, service: MilvusService(wrapping: client))
    }

    private static func security(_ configuration: MilvusConfiguration) -> HTTP2ClientTransport.Posix.TransportSecurity {
        guard configuration.tls else { return .plaintext }
        guard let ca = configuration.caFile else { return .tls }
        return .tls { $0.trustRoots = .certificates([.file(path: ca, format: .pem)]) }
    }

    /// The connection for the next call: counts the call, opens the next connection ahead of
    /// time and swaps it in when this one has carried its share (calls already on the old one
    /// finish there; it closes once they have).
    private func lease() throws -> MilvusService {
        try connections.withLock { state in
            state.calls += 1
            if state.calls >= Self.callsPerConnection - Self.warmAhead, state.next == nil, !state.closed {
                let next = try Self.open(configuration, transportConfig, on: bridge)
                let (service, metadata) = (next.service, metadata)
                bridge.start { _ = try? await service.checkHealth(Milvus_Proto_Milvus_CheckHealthRequest(), metadata: metadata) }
                state.next = next
                state.opened += 1
            }
            if state.calls >= Self.callsPerConnection, let next = state.next {
                state.current.client.beginGracefulShutdown()
                state.current = next
                state.next = nil
                state.calls = 1
            }
            return state.current.service
        }
    }

    /// Stops the connections; calls after this fail.
    func close() {
        connections.withLock { state in
            state.closed = true
            state.current.client.beginGracefulShutdown()
            state.next?.client.beginGracefulShutdown()
            state.next = nil
        }
        bridge.stop()
    }

    /// Runs one RPC. `idempotent` calls are tried up to three times when the server could not be
    /// reached; a call that reached the server and failed is not retried.
    func call<Response: Sendable>(
        _ name: String, idempotent: Bool, timeout: Double? = nil,
        _ rpc: @escaping @Sendable (MilvusService, Metadata, CallOptions) async throws -> Response,
        status: @escaping @Sendable (Response) -> Milvus_Proto_Common_Status?
    ) throws -> Response {
        var callOptions = CallOptions.defaults
        callOptions.timeout = .milliseconds(Int64((timeout ?? configuration.timeout) * 1000))
        callOptions.waitForReady = false
        callOptions.maxResponseMessageBytes = 256 << 20
        let options = callOptions
        let (metadata, dependency) = (metadata, configuration.dependency)
        var attempt = 0
        var retired = 0
        while true {
            attempt += 1
            do {
                let service = try lease()
                let response = try bridge.wait { try await rpc(service, metadata, options) }
                if let status = status(response), status.errorCode != .success || status.code != 0 {
                    throw MilvusStatusError(status: status)
                }
                return response
            } catch let error as RPCError where Self.isConnectionFailure(error) {
                connections.withLock { $0.lost += 1 }
                guard idempotent, attempt < 3 else {
                    throw VectorIndexError.unavailable(dependency: dependency, reason: "\(name): \(Self.describe(error))")
                }
                // The first retry goes at once (a connection lost under a call is usually replaced
                // within milliseconds); later ones wait.
                if attempt > 1 { Thread.sleep(forTimeInterval: 0.2 * Double(attempt - 1)) }
            } catch let error as RPCError where error.code == .unimplemented {
                throw VectorIndexError.rejected(dependency: dependency, reason: "\(name): this server does not implement it")
            } catch let error as RPCError {
                throw VectorIndexError.unavailable(dependency: dependency, reason: "\(name): \(Self.describe(error))")
            } catch let error as MilvusStatusError {
                // Milvus answers "not ready" states (a node restarting, a collection loading) with
                // retriable statuses: worth retrying later, so unavailable; anything else is a
                // request the server refused.
                if error.status.retriable || Self.isNotReady(error.status) {
                    throw VectorIndexError.unavailable(dependency: dependency, reason: "\(name): \(error.status.reason)")
                }
                throw VectorIndexError.rejected(dependency: dependency, reason: "\(name): \(error.status.reason) (code \(error.status.code))")
            } catch let error as RuntimeError where error.code == .clientIsStopped && retired < 3 {
                // The connection leased was retired before the call started on it: nothing was
                // sent, so any call goes again on the current one.
                retired += 1
                attempt -= 1
            } catch let error as VectorIndexError {
                throw error
            } catch {
                throw VectorIndexError.unavailable(dependency: dependency, reason: "\(name): \(error)")
            }
        }
    }

    private static func isConnectionFailure(_ error: RPCError) -> Bool {
        error.code == .unavailable
    }

    private static func isNotReady(_ status: Milvus_Proto_Common_Status) -> Bool {
        let reason = status.reason.lowercased()
        return ["not ready", "not healthy", "unhealthy", "service unavailable", "stopping", "no available",
                "channel not available", "not serviceable", "timeout"].contains { reason.contains($0) }
    }

    private static func describe(_ error: RPCError) -> String {
        switch error.code {
        case .deadlineExceeded: "no answer in time"
        case .unavailable: "cannot be reached (\(error.message))"
        case .unauthenticated, .permissionDenied: "refused the credentials"
        default: "\(error.code): \(error.message)"
        }
    }
}

/// A Milvus answer whose status is not success.
struct MilvusStatusError: Error {
    let status: Milvus_Proto_Common_Status
}
