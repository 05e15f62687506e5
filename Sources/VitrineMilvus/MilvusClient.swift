import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import VitrineIndex

typealias MilvusService = Milvus_Proto_Milvus_MilvusService.Client<HTTP2ClientTransport.Posix>

/// One connection to a Milvus server, for blocking callers: every call carries the configured
/// deadline and the credentials, fails fast while the server is unreachable (the transport keeps
/// reconnecting in the background, with backoff capped at two seconds, so the client recovers by
/// itself when the server is back), and reports a failure as ``VectorIndexError/unavailable``
/// naming Milvus. Calls that may run twice (reads, and writes that set absolute state) are retried
/// on connection failures, three tries in all.
final class MilvusClient: Sendable {
    let configuration: MilvusConfiguration
    private let bridge: BlockingBridge
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let service: MilvusService
    private let metadata: Metadata

    init(_ configuration: MilvusConfiguration) throws {
        self.configuration = configuration
        var transportConfig = HTTP2ClientTransport.Posix.Config.defaults
        transportConfig.backoff = .init(initial: .milliseconds(200), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
        transportConfig.connection.maxIdleTime = nil
        transportConfig.http2.maxFrameSize = 1 << 20
        let transport: HTTP2ClientTransport.Posix
        do {
            transport = try HTTP2ClientTransport.Posix(
                target: .dns(host: configuration.host, port: configuration.port),
                transportSecurity: configuration.tls ? .tls : .plaintext,
                config: transportConfig)
        } catch {
            throw VectorIndexError.unavailable(dependency: configuration.dependency, reason: "cannot set up the connection: \(error)")
        }
        client = GRPCClient(transport: transport)
        service = MilvusService(wrapping: client)
        var metadata: Metadata = ["dbname": .string(configuration.database)]
        if let token = configuration.token {
            metadata.addString(Data(token.utf8).base64EncodedString(), forKey: "authorization")
        }
        self.metadata = metadata
        bridge = BlockingBridge(name: "vitrine-milvus")
        let client = client
        bridge.start { try? await client.runConnections() }
    }

    /// Stops the connection; calls after this fail.
    func close() {
        client.beginGracefulShutdown()
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
        let (service, metadata, dependency) = (service, metadata, configuration.dependency)
        var attempt = 0
        while true {
            attempt += 1
            do {
                let response = try bridge.wait { try await rpc(service, metadata, options) }
                if let status = status(response), status.errorCode != .success || status.code != 0 {
                    throw MilvusStatusError(status: status)
                }
                return response
            } catch let error as RPCError where Self.isConnectionFailure(error) {
                guard idempotent, attempt < 3 else {
                    throw VectorIndexError.unavailable(dependency: dependency, reason: "\(name): \(Self.describe(error))")
                }
                Thread.sleep(forTimeInterval: 0.2 * Double(attempt))
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
