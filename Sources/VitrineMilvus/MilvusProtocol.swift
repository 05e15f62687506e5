import GRPCCore
import GRPCNIOTransportHTTP2

/// The generated Milvus client and messages (`Generated/`, from `proto/milvus/` by
/// `tools/generate_milvus.sh`) are what the vector store of issue 15 is built on; this names the
/// service so the module has one use of each dependency until the store lands.
enum MilvusProtocol {
    static let service = Milvus_Proto_Milvus_MilvusService.descriptor
    typealias Transport = HTTP2ClientTransport.Posix
}
