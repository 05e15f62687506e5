import Foundation
import Synchronization
import Testing
import VitrineCore
import VitrineIndex
@testable import VitrineMilvus

/// The vector store on real servers (scripts/servers.sh starts Milvus 2.3.5 standalone and Milvus
/// Lite): the store's contract as the embedded one keeps it, hostile filter values, sequence
/// numbers, build markers.
@Suite(.enabled(if: !MilvusTestServer.available.isEmpty, "needs VITRINE_TEST_MILVUS_URL or VITRINE_TEST_MILVUS_LITE_URL (scripts/servers.sh)"))
struct MilvusStoreTests {
    @Test(arguments: MilvusTestServer.available)
    func upsertSearchDeleteAndSequence(server: MilvusTestServer) throws {
        let space = try server.space()
        defer { MilvusTestServer.dispose(space) }
        let store = try space.openStore("index", dimension: 4, writer: true)
        #expect(try store.lastSequence() == 0 && store.count() == 0)
        let records = [
            VectorRecord(key: VectorKey(product: "a", image: "0"), vector: [1, 0, 0, 0], attributes: ["category": "dress", "market": "cz"]),
            VectorRecord(key: VectorKey(product: "a", image: "1"), vector: [0.9, 0.1, 0, 0], attributes: ["category": "dress", "market": "cz"]),
            VectorRecord(key: VectorKey(product: "b", image: "0"), vector: [0, 1, 0, 0], attributes: ["category": "shoe", "market": "sk"]),
            VectorRecord(key: VectorKey(product: "c", image: ""), vector: [0, 0, 2, 0], attributes: ["category": "bag"]),
        ]
        #expect(try store.upsert(records) == 1)
        #expect(try store.count() == 4)
        #expect(try store.keys() == records.map(\.key).sorted())
        let hits = try store.search([1, 0, 0, 0], k: 2, filter: nil, ef: nil)
        #expect(hits.map(\.key) == [records[0].key, records[1].key])
        #expect(abs(hits[0].distance) < 1e-5 && abs(hits[0].score - 1) < 1e-5)
        // Filters: any value of a condition, every condition.
        #expect(try store.search([1, 0, 0, 0], k: 5, filter: .attribute("category", in: ["shoe", "bag"]), ef: nil).map(\.key.product).sorted() == ["b", "c"])
        #expect(try store.search([1, 0, 0, 0], k: 5, filter: VectorFilter(["market": ["sk"], "category": ["dress"]]), ef: nil).isEmpty)
        #expect(try store.search([1, 0, 0, 0], k: 5, filter: VectorFilter(products: ["b"]), ef: nil).map(\.key) == [records[2].key])
        #expect(try store.search([1, 0, 0, 0], k: 5, filter: .attribute("category", in: []), ef: nil).isEmpty)
        // Stored vectors are unit length.
        #expect(try store.vector(for: records[3].key) == [0, 0, 1, 0])
        #expect(try store.vector(for: VectorKey(product: "zz")) == nil)
        #expect(try store.contains(records[2].key) && !(try store.contains(VectorKey(product: "zz"))))

        // Replacing a key keeps one row; the last of a repeated key wins.
        let moved = VectorRecord(key: records[2].key, vector: [0, 0, 0, 1], attributes: ["category": "shoe"])
        #expect(try store.upsert([records[2], moved]) == 2)
        #expect(try store.count() == 4)
        #expect(try store.vector(for: moved.key) == [0, 0, 0, 1])
        #expect(try store.delete([records[0].key, VectorKey(product: "never")]) == 3)
        #expect(try store.count() == 3 && !(try store.contains(records[0].key)))
        #expect(try store.search([1, 0, 0, 0], k: 1, filter: nil, ef: 8).first?.key == records[1].key)

        // Bad input is refused before anything is written.
        #expect(throws: VectorIndexError.self) { try store.upsert([VectorRecord(key: VectorKey(product: "x"), vector: [0, 0, 0, 0])]) }
        #expect(throws: VectorIndexError.self) { try store.upsert([VectorRecord(key: VectorKey(product: "x"), vector: [1, 2])]) }
        #expect(throws: VectorIndexError.self) { try store.search([1, 0, 0, 0], k: 0, filter: nil, ef: nil) }
        #expect(try store.lastSequence() == 3)

        // Another process's view: a reader of the same space sees the same state and sequence.
        let other = try MilvusVectorSpace(space.configuration)
        defer { other.close() }
        let reader = try other.openStore("index", dimension: 4, writer: false)
        #expect(try reader.lastSequence() == 3 && reader.count() == 3)
        #expect(throws: VectorIndexError.self) { try other.openStore("index", dimension: 8, writer: false) }
        #expect(throws: VectorIndexError.notFound(file: "\(space.configuration.dependency) collection \(space.configuration.collection)_9")) {
            try other.openStore("index-9", dimension: 4, writer: false)
        }
    }

    /// Values that would widen or break a spliced filter select exactly their own rows.
    @Test(arguments: MilvusTestServer.available)
    func hostileFilterValuesMatchOnlyThemselves(server: MilvusTestServer) throws {
        let space = try server.space()
        defer { MilvusTestServer.dispose(space) }
        let store = try space.openStore("index", dimension: 2, writer: true)
        let values = [#"x" or category != ""#, #"x' or category != '"#, #"back\slash\"#, "line\nbreak", "tab\tand\r",
                      "bell\u{7}", "šaty ★ 👗", "", "plain", #"\""#, "a%", "_"]
        var records: [VectorRecord] = []
        for (i, value) in values.enumerated() {
            records.append(VectorRecord(key: VectorKey(product: value.isEmpty ? "empty" : value, image: "\(i)"),
                                        vector: [1, Float(i) / 10], attributes: ["category": value, "market": value]))
        }
        _ = try store.upsert(records)
        #expect(try Set(store.keys()) == Set(records.map(\.key)))
        for (i, value) in values.enumerated() {
            let hits = try store.search([1, 0], k: 20, filter: VectorFilter(["category": [value], "market": [value]]), ef: nil)
            #expect(hits.map(\.key) == [records[i].key], "category \(value.debugDescription)")
            let byProduct = try store.search([1, 0], k: 20, filter: VectorFilter(products: [records[i].key.product]), ef: nil)
            #expect(byProduct.map(\.key) == [records[i].key], "product \(value.debugDescription)")
        }
        #expect(try store.delete(records.map(\.key)) > 0)
        #expect(try store.count() == 0)
    }

    /// Searches that run at once share requests (nq > 1) and each gets exactly the hits it gets
    /// alone, with a filter and without.
    @Test(arguments: MilvusTestServer.available)
    func concurrentSearchesGetTheirOwnHits(server: MilvusTestServer) throws {
        let space = try server.space()
        defer { MilvusTestServer.dispose(space) }
        let store = try space.openStore("index", dimension: 8, writer: true)
        var state: UInt64 = 99
        func value() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 2001 - 1000) / 1000
        }
        let records = (0..<300).map { i in
            VectorRecord(key: VectorKey(product: "p\(i)"), vector: (0..<8).map { _ in value() }, attributes: ["category": i % 3 == 0 ? "dress" : "shoe"])
        }
        _ = try store.upsert(records)
        let queries = (0..<24).map { _ in (0..<8).map { _ in value() } }
        let filters: [VectorFilter?] = [nil, .attribute("category", in: ["dress"])]
        var alone: [[VectorKey]] = []
        for (i, query) in queries.enumerated() { alone.append(try store.search(query, k: 7, filter: filters[i % 2], ef: 128).map(\.key)) }
        let together = Mutex<[Int: [VectorKey]]>([:])
        let failures = Mutex<[String]>([])
        for _ in 0..<3 {
            // A thread per search (more than the cores), all released at once.
            let start = DispatchSemaphore(value: 0), done = DispatchGroup()
            for i in queries.indices {
                done.enter()
                Thread {
                    start.wait()
                    do {
                        let keys = try store.search(queries[i], k: 7, filter: filters[i % 2], ef: 128).map(\.key)
                        together.withLock { $0[i] = keys }
                    } catch {
                        failures.withLock { $0.append("\(i): \(error)") }
                    }
                    done.leave()
                }.start()
            }
            for _ in queries.indices { start.signal() }
            done.wait()
            #expect(failures.withLock { $0 }.isEmpty)
            for i in queries.indices { #expect(together.withLock { $0[i] } == alone[i], "query \(i)") }
        }
        let shared = try #require(store as? MilvusVectorStore).coalescer.sharedQueries
        #expect(shared > 0, "no search shared a request")
    }

    /// Build markers and index names, as a reindex uses them.
    @Test(arguments: MilvusTestServer.available)
    func markersAndIndexNames(server: MilvusTestServer) throws {
        let space = try server.space()
        defer { MilvusTestServer.dispose(space) }
        _ = try space.openStore("index", dimension: 2, writer: true)
        try space.setMarker(Data("{\"model\":1}".utf8), of: "index-2")
        #expect(try space.indexNames() == ["index", "index-2"])
        #expect(try space.marker(of: "index-2") == Data("{\"model\":1}".utf8) && space.marker(of: "index") == nil)
        let build = try space.openStore("index-2", dimension: 2, writer: true)
        _ = try build.upsert([VectorRecord(key: VectorKey(product: "p"), vector: [1, 1])])
        #expect(try space.marker(of: "index-2") != nil && build.lastSequence() == 1)
        try space.setMarker(nil, of: "index-2")
        #expect(try space.marker(of: "index-2") == nil && build.lastSequence() == 1)
        try space.remove("index")
        #expect(try space.indexNames() == ["index-2"] && !(try space.exists("index")))
    }
}

/// Milvus 2.3's Go server sends a PING with nearly every request, and the Swift HTTP/2 stack
/// closes a connection after 200 control frames in 30 s, failing the calls on it: the client
/// moves to a fresh connection first, so a burst of calls loses none.
@Suite(.enabled(if: MilvusTestServer.url != nil, "needs VITRINE_TEST_MILVUS_URL (scripts/servers.sh)"))
struct MilvusConnectionTests {
    @Test func aBurstOfCallsNeverLosesItsConnection() throws {
        let space = try MilvusTestServer.standalone.space(consistency: .bounded)
        defer { MilvusTestServer.dispose(space) }
        let store = try space.openStore("index", dimension: 4, writer: true)
        _ = try store.upsert([VectorRecord(key: VectorKey(product: "a"), vector: [1, 0, 0, 0], attributes: [:])])
        let calls = 3 * MilvusClient.callsPerConnection
        for _ in 0..<calls { _ = try store.search([1, 0, 0, 0], k: 1, filter: nil, ef: nil) }
        let counts = space.client.connectionCounts
        #expect(counts.lost == 0, "calls that lost their connection")
        #expect(counts.opened >= 3, "a fresh connection every \(MilvusClient.callsPerConnection) calls")
    }

    /// A bulk load leaves small sealed segments, which Milvus would merge by itself a minute or so
    /// later and index again under whatever load is running: `settle` has them merged now and
    /// returns once the query node serves the merged segment, indexed, alone.
    @Test func settleMergesABulkLoadsSegmentsAndWaitsForTheirIndex() throws {
        let space = try MilvusTestServer.space()
        defer { MilvusTestServer.dispose(space) }
        let store = try space.openStore("index", dimension: 8, writer: true)
        // Three sealed segments of 700 rows: each too small to be indexed, merged 2100 rows are not.
        for batch in 0..<3 {
            _ = try store.upsert((0..<700).map { i in
                VectorRecord(key: VectorKey(product: "p\(batch)-\(i)"), vector: (0..<8).map { Float(($0 * 7 + i + batch) % 11) - 5 })
            })
            try store.flush()
        }
        try store.settle()
        let segments = try store.servedSegments()
        #expect(segments.count == 1, "segments served: \(segments.map { "\($0.segmentID): \($0.numRows) rows, \($0.state)" })")
        #expect(segments.allSatisfy { $0.numRows == 2100 && $0.indexID != 0 && $0.state != .growing })
        let index = try store.describeIndex()
        #expect(index?.pendingIndexRows == 0 && index?.indexedRows == 2100 && index?.state == .finished)
        #expect(try store.count() == 2100)
    }

    /// scripts/servers.sh starts the standalone server with authentication on: the token from the
    /// environment is what lets every other test in; none, or a wrong one, is refused by name.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VITRINE_TEST_MILVUS_TOKEN"] != nil, "needs a server with authentication"))
    func credentialsAreRequiredAndNeverEchoed() throws {
        for environment in [[:], ["MILVUS_TOKEN": "root:not-the-password"]] {
            var configuration = try MilvusConfiguration(url: MilvusTestServer.url!, setting: "VITRINE_TEST_MILVUS_URL",
                                                        environment: environment, passwordAllowed: true)
            configuration.collection = "t_credentials"
            do {
                let space = try MilvusVectorSpace(configuration)
                defer { space.close() }
                _ = try space.openStore("index", dimension: 4, writer: true)
                Issue.record("opened a collection with \(environment.isEmpty ? "no token" : "a wrong token")")
            } catch let error as VectorIndexError {
                let text = String(describing: error)
                #expect(text.contains("Milvus") && text.contains("credentials"), "\(text)")
                #expect(!text.contains("not-the-password"))
            }
        }
    }
}

/// A Milvus the tests run against.
enum MilvusTestServer: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case standalone
    case lite

    var variable: String { self == .standalone ? "VITRINE_TEST_MILVUS_URL" : "VITRINE_TEST_MILVUS_LITE_URL" }
    var url: String? { ProcessInfo.processInfo.environment[variable] }
    var testDescription: String { self == .standalone ? "Milvus 2.3.5" : "Milvus Lite" }

    static var available: [MilvusTestServer] { allCases.filter { $0.url != nil } }
    /// The standalone server checks credentials (scripts/servers.sh turns authentication on);
    /// Milvus Lite takes none.
    var credentials: [String: String] {
        let token = ProcessInfo.processInfo.environment["VITRINE_TEST_MILVUS_TOKEN"]
        return self == .standalone ? token.map { ["MILVUS_TOKEN": $0] } ?? [:] : [:]
    }
    static var url: String? { standalone.url }

    /// A space of fresh collections, read with Strong consistency.
    func space(consistency: MilvusConfiguration.Consistency = .strong) throws -> MilvusVectorSpace {
        var configuration = try MilvusConfiguration(url: url!, setting: variable, environment: credentials, passwordAllowed: true)
        configuration.collection = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        configuration.consistency = consistency
        return try MilvusVectorSpace(configuration)
    }

    static func space() throws -> MilvusVectorSpace { try standalone.space() }

    static func dispose(_ space: MilvusVectorSpace) {
        try? space.removeAll()
        space.close()
    }
}
