import Configuration
import Foundation
import Testing
@testable import VitrineServer

@Suite("configuration")
struct ConfigurationTests {
    @Test func flagsOverrideEnvironmentWhichOverridesTheFile() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-config-\(UUID().uuidString).json")
        try Data("""
        {"data": "/from/file", "port": 7000, "host": "0.0.0.0", "api": {"keys": ["file-key-0123456789abcdef"]},
         "cors": {"origins": ["https://a.example", "https://b.example"]}, "limits": {"uploadBytes": 1234, "imageEncodeSlots": 3},
         "writer": {"idleSeconds": 5}}
        """.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let fileOnly = try await ServerConfiguration.load(flags: [:], environment: [:], configFile: file.path)
        #expect(fileOnly.dataDirectory == "/from/file")
        #expect(fileOnly.port == 7000)
        #expect(fileOnly.host == "0.0.0.0")
        #expect(fileOnly.apiKeys == ["file-key-0123456789abcdef"])
        #expect(fileOnly.corsOrigins == ["https://a.example", "https://b.example"])
        #expect(fileOnly.maxUploadBytes == 1234)
        #expect(fileOnly.imageEncodeSlots == 3)
        #expect(fileOnly.writerIdle == .seconds(5))

        let environment = ["VITRINE_PORT": "7100", "VITRINE_API_KEYS": "env-key-0123456789abcdef, second-key-0123456789", "VITRINE_LIMITS_UPLOAD_BYTES": "99",
                           "VITRINE_CONFIG": file.path]
        let withEnvironment = try await ServerConfiguration.load(flags: [:], environment: environment, configFile: nil)
        #expect(withEnvironment.port == 7100)
        #expect(withEnvironment.apiKeys == ["env-key-0123456789abcdef", "second-key-0123456789"])
        #expect(withEnvironment.maxUploadBytes == 99)
        #expect(withEnvironment.dataDirectory == "/from/file")

        let withFlags = try await ServerConfiguration.load(
            flags: ["port": ConfigValue(.int(7200), isSecret: false), "data": ConfigValue(.string("/from/flag"), isSecret: false)],
            environment: environment, configFile: nil)
        #expect(withFlags.port == 7200)
        #expect(withFlags.dataDirectory == "/from/flag")
        #expect(withFlags.apiKeys.count == 2)
    }

    @Test(arguments: ["fp32", "bf16", "int8", "auto"])
    func everyPrecisionIsAccepted(precision: String) async throws {
        let configuration = try await ServerConfiguration.load(
            flags: [:], environment: ["VITRINE_DATA": "/d", "VITRINE_PRECISION": precision], configFile: nil)
        #expect(configuration.precision == (precision == "auto" ? nil : precision))
        let unset = try await ServerConfiguration.load(flags: [:], environment: ["VITRINE_DATA": "/d"], configFile: nil)
        #expect(unset.precision == nil, "no precision: the server chooses")
    }

    @Test func defaultsWhenNothingElseIsSaid() async throws {
        let configuration = try await ServerConfiguration.load(flags: [:], environment: ["VITRINE_DATA": "/d"], configFile: nil)
        #expect(configuration.dataDirectory == "/d")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.apiKeys.isEmpty)
        #expect(configuration.maxUploadBytes == 10 << 20)
        #expect(configuration.maxPixels == 40_000_000)
    }

    @Test(arguments: [
        (["VITRINE_DATA": "/d", "VITRINE_PORT": "eighty"], "port"),
        (["VITRINE_DATA": "/d", "VITRINE_PORT": "70000"], "port"),
        (["VITRINE_DATA": "/d", "VITRINE_PRECISION": "fp8"], "precision"),
        (["VITRINE_DATA": "/d", "VITRINE_API_KEYS": "short"], "api.keys"),
        ([:], "data"),
        (["VITRINE_DATA": "/d", "VITRINE_CONFIG": "/nonexistent/vitrine.json"], "config"),
    ])
    func badValuesAreErrorsNamingTheKey(environment: [String: String], key: String) async throws {
        do {
            _ = try await ServerConfiguration.load(flags: [:], environment: environment, configFile: nil)
            Issue.record("expected an error for \(environment)")
        } catch let error as ConfigurationError {
            #expect(error.key == key)
            #expect(error.description.contains(key))
        }
    }
}
