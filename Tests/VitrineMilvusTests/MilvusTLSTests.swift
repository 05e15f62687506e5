import Foundation
import Testing
import VitrineCore
import VitrineIndex
@testable import VitrineMilvus

/// Milvus over TLS with a private certificate authority (`?ca=FILE`): Debian's nginx terminates
/// TLS in front of the test server (its stream module, HTTP/2 negotiated by ALPN), as a load
/// balancer or Milvus's own `tlsMode` would. With the CA the store works end to end; trusting only
/// the system's authorities, the connection is refused, naming Milvus.
@Suite(.enabled(if: MilvusTestServer.url != nil && TLSProxy.available, "needs VITRINE_TEST_MILVUS_URL (scripts/servers.sh) and nginx with its stream module"))
struct MilvusTLSTests {
    @Test func aPrivateCertificateAuthorityIsTrustedOnlyWhenNamed() throws {
        let upstream = try #require(URLComponents(string: MilvusTestServer.url!))
        let proxy = try TLSProxy(to: upstream.host!, port: upstream.port!)
        defer { proxy.stop() }
        let collection = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let credentials = MilvusTestServer.standalone.credentials

        // The proxy's port speaks TLS only, so every call below went through it.
        let trusted = try MilvusConfiguration(url: "milvus://localhost:\(proxy.port)/\(collection)?ca=\(proxy.caFile)&consistency=strong",
                                              setting: "test", environment: credentials, passwordAllowed: true)
        #expect(trusted.tls)
        let space = try MilvusVectorSpace(trusted)
        defer { MilvusTestServer.dispose(space) }
        let store = try space.openStore("index", dimension: 4, writer: true)
        let record = VectorRecord(key: VectorKey(product: "a"), vector: [1, 0, 0, 0], attributes: ["category": "dress"])
        #expect(try store.upsert([record]) == 1)
        #expect(try store.search([1, 0, 0, 0], k: 1, filter: nil, ef: nil).map(\.key) == [record.key])

        // The system's authorities do not know the private CA: refused, naming Milvus.
        let untrusted = try MilvusConfiguration(url: "milvus://localhost:\(proxy.port)/\(collection)?tls=true&timeout=5&connect_timeout=3",
                                                setting: "test", environment: credentials, passwordAllowed: true)
        let started = Date()
        #expect {
            let other = try MilvusVectorSpace(untrusted)
            defer { other.close() }
            _ = try other.openStore("index", dimension: 4, writer: false).count()
        } throws: { error in
            guard case VectorIndexError.unavailable(let dependency, _) = error else { return false }
            return dependency.hasPrefix("Milvus milvus://localhost:\(proxy.port)/")
        }
        #expect(Date().timeIntervalSince(started) < 30)
    }

    @Test func aCAFileThatIsNotCertificatesIsRefusedNamingIt() throws {
        let missing = "/nonexistent/ca.pem"
        #expect {
            try MilvusConfiguration(url: "milvus://localhost:19530/c?ca=\(missing)", setting: "--vectors", environment: [:], passwordAllowed: false)
        } throws: { error in
            "\(error)".contains("--vectors") && "\(error)".contains(missing)
        }
        #expect(throws: VectorIndexError.self) {
            try MilvusConfiguration(url: "milvus://localhost:19530/c?tls=false&ca=\(URL(fileURLWithPath: #filePath).path)", setting: "--vectors",
                                    environment: [:], passwordAllowed: false)
        }
    }
}

/// nginx (stream module) terminating TLS on a free loopback port and passing the bytes to
/// `host:port`, with a fresh private CA and a server certificate for localhost signed by it.
final class TLSProxy {
    static let module = "/usr/lib/nginx/modules/ngx_stream_module.so"
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") && FileManager.default.fileExists(atPath: module)
    }

    let directory: URL
    let port: Int
    var caFile: String { directory.appendingPathComponent("ca.pem").path }
    private let process: Process

    init(to host: String, port upstream: Int) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let d = directory.path
        try Self.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Vitrine test CA",
                                          "-keyout", "\(d)/ca.key", "-out", "\(d)/ca.pem"])
        try Self.run("/usr/bin/openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "\(d)/server.key",
                                          "-out", "\(d)/server.csr"])
        try Data("subjectAltName=DNS:localhost,IP:127.0.0.1\n".utf8).write(to: directory.appendingPathComponent("san.ext"))
        try Self.run("/usr/bin/openssl", ["x509", "-req", "-in", "\(d)/server.csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca.key",
                                          "-CAcreateserial", "-days", "2", "-extfile", "\(d)/san.ext", "-out", "\(d)/server.pem"])
        port = try MilvusTLSPorts.free()
        let configuration = """
        load_module \(Self.module);
        daemon off;
        error_log \(d)/error.log info;
        pid \(d)/nginx.pid;
        events {}
        stream {
            server {
                listen 127.0.0.1:\(port) ssl;
                ssl_certificate \(d)/server.pem;
                ssl_certificate_key \(d)/server.key;
                ssl_alpn h2;
                proxy_pass \(host):\(upstream);
            }
        }
        """
        try Data(configuration.utf8).write(to: directory.appendingPathComponent("nginx.conf"))
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", d, "-c", "\(d)/nginx.conf", "-e", "\(d)/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !MilvusTLSPorts.accepts(port) {
            guard Date() < deadline, process.isRunning else {
                let log = (try? String(contentsOf: directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
                stop()
                throw TLSProxyError(message: "nginx did not start: \(log)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TLSProxyError(message: "\(tool) \(arguments.joined(separator: " ")) failed") }
    }

    struct TLSProxyError: Error { let message: String }
}

enum MilvusTLSPorts {
    static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TLSProxy.TLSProxyError(message: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func loopback(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
