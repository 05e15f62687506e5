import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing
@testable import VitrineMilvus

/// The generated client speaks to a real Milvus (VITRINE_TEST_MILVUS_PORT on loopback): health,
/// and a collection's life through the subset's messages.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["VITRINE_TEST_MILVUS_PORT"] != nil, "needs a Milvus server"))
struct ProtocolTests {
    static var port: Int { Int(ProcessInfo.processInfo.environment["VITRINE_TEST_MILVUS_PORT"] ?? "") ?? 19530 }
    /// The server's credentials, as Milvus takes them: `user:password`, base64, in `authorization`.
    static var metadata: Metadata {
        guard let token = ProcessInfo.processInfo.environment["VITRINE_TEST_MILVUS_TOKEN"] else { return [:] }
        return ["authorization": .string(Data(token.utf8).base64EncodedString())]
    }

    @Test func healthAndACollectionRoundTrip() async throws {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: Self.port), transportSecurity: .plaintext)
        ) { client in
            let milvus = Milvus_Proto_Milvus_MilvusService.Client(wrapping: client)
            let health = try await milvus.checkHealth(Milvus_Proto_Milvus_CheckHealthRequest(), metadata: Self.metadata)
            #expect(health.isHealthy, "\(health.reasons)")

            let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
            var schema = Milvus_Proto_Schema_CollectionSchema()
            schema.name = String(name)
            var key = Milvus_Proto_Schema_FieldSchema()
            key.name = "key"
            key.isPrimaryKey = true
            key.dataType = .varChar
            key.typeParams = [.with { $0.key = "max_length"; $0.value = "512" }]
            var vector = Milvus_Proto_Schema_FieldSchema()
            vector.name = "vector"
            vector.dataType = .floatVector
            vector.typeParams = [.with { $0.key = "dim"; $0.value = "4" }]
            schema.fields = [key, vector]
            var create = Milvus_Proto_Milvus_CreateCollectionRequest()
            create.collectionName = String(name)
            create.schema = try schema.serializedData()
            create.consistencyLevel = .strong
            let created = try await milvus.createCollection(create, metadata: Self.metadata)
            #expect(created.code == 0 && created.errorCode == .success, "\(created.reason)")

            var has = Milvus_Proto_Milvus_HasCollectionRequest()
            has.collectionName = String(name)
            #expect(try await milvus.hasCollection(has, metadata: Self.metadata).value)

            var describe = Milvus_Proto_Milvus_DescribeCollectionRequest()
            describe.collectionName = String(name)
            let described = try await milvus.describeCollection(describe, metadata: Self.metadata)
            #expect(described.schema.fields.map(\.name) == ["key", "vector"])

            var drop = Milvus_Proto_Milvus_DropCollectionRequest()
            drop.collectionName = String(name)
            _ = try await milvus.dropCollection(drop, metadata: Self.metadata)
            #expect(try await milvus.hasCollection(has, metadata: Self.metadata).value == false)
        }
    }
}
