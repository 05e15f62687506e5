import Foundation
import Testing
import VitrineCatalog
@testable import VitrinePostgres

/// The `postgres://` URL and the PostgreSQL catalog's faults: credentials refused, a server that
/// is not there, a schema from a newer build.
@Suite struct PostgresTests {
    @Test func urlsAreParsedAndBadOnesNamed() throws {
        let parsed = try PostgresConfiguration(url: "postgres://shop@db.internal:5433/catalog?schema=vitrine&pool=8&timeout=5",
                                               setting: "--catalog", environment: ["PGPASSWORD": "pw"], passwordAllowed: false)
        #expect(parsed == PostgresConfiguration(host: "db.internal", port: 5433, user: "shop", password: "pw", database: "catalog",
                                                schema: "vitrine", poolSize: 8, timeout: 5))
        #expect(parsed.displayURL == "postgres://shop@db.internal:5433/catalog?schema=vitrine")
        let fromFile = try PostgresConfiguration(url: "postgresql://shop:s3cret@db/catalog", setting: "catalog (config file)",
                                                 environment: [:], passwordAllowed: true)
        #expect(fromFile.password == "s3cret" && !fromFile.displayURL.contains("s3cret"))
        for (url, fragment) in [
            ("mysql://u@h/d", "not a postgres:// URL"), ("postgres://u@/d", "no host"), ("postgres://u@h", "no database"),
            ("postgres://h/d", "no user"), ("postgres://u:pw@h/d", "visible to every user"),
            ("postgres://u@h/d?schema=Robert'); DROP", "schema"), ("postgres://u@h/d?pool=0", "pool"),
            ("postgres://u@h/d?sslmode=maybe", "sslmode"), ("postgres://u@h/d?colour=red", "unknown parameter \"colour\""),
        ] {
            guard case .invalidArgument(let message)? = catalogError({
                _ = try PostgresConfiguration(url: url, setting: "--catalog", environment: [:], passwordAllowed: false)
            }) else {
                Issue.record("\(url) was accepted")
                continue
            }
            #expect(message.hasPrefix("--catalog: ") && message.contains(fragment), "\(message)")
            #expect(!message.contains(":pw@"))
        }
    }

    @Test(.enabled(if: TestServers.postgres != nil))
    func aWrongPasswordIsRefusedAndSaidSo() throws {
        var configuration = try #require(TestServers.postgres)
        configuration.password = "not-the-password"
        guard case .unavailable(let dependency, let reason)? = catalogError({ _ = try PostgresCatalog(configuration) }) else {
            Issue.record("a wrong password was accepted")
            return
        }
        #expect(dependency == "PostgreSQL \(configuration.displayURL)")
        #expect(reason.contains("refused the credentials"), "\(reason)")
        #expect(!reason.contains("not-the-password"))
    }

    @Test func anUnreachableServerIsUnavailableWithinItsTimeout() throws {
        let configuration = PostgresConfiguration(host: "127.0.0.1", port: 9, user: "u", database: "d", connectTimeout: 1, timeout: 2)
        let started = Date()
        guard case .unavailable(let dependency, _)? = catalogError({ _ = try PostgresCatalog(configuration, readOnly: true) }) else {
            Issue.record("an unreachable server was not reported as unavailable")
            return
        }
        #expect(dependency == "PostgreSQL postgres://u@127.0.0.1:9/d?schema=public")
        // Three attempts with backoff, each bounded by the connect timeout.
        #expect(Date().timeIntervalSince(started) < 15)
    }

    @Test(.enabled(if: TestServers.postgres != nil))
    func aReaderOfAnEmptySchemaAndANewerSchemaAreRefused() throws {
        let fixture = try CatalogBackend.postgres.make()
        defer { fixture.dispose() }
        guard case .notFound(let what)? = catalogError({ _ = try fixture.open(readOnly: true) }) else {
            Issue.record("an empty schema opened for reading")
            return
        }
        #expect(what == "PostgreSQL \(fixture.postgres!.displayURL)")
        let catalog = try fixture.open() as! PostgresCatalog
        _ = try catalog.pool.withConnection(idempotent: false) { session in
            try session.execute("UPDATE vitrine_schema SET version = 99")
        }
        for readOnly in [false, true] {
            #expect(catalogError { _ = try fixture.open(readOnly: readOnly) } ==
                .schemaTooNew(path: "PostgreSQL \(fixture.postgres!.displayURL)", found: 99, supported: PostgresCatalog.schemaVersion))
        }
    }

    /// A statement over the configured timeout is cut off by the server and reported as the
    /// dependency being unavailable; the pool goes on working afterwards.
    @Test(.enabled(if: TestServers.postgres != nil))
    func aSlowStatementTimesOutAndThePoolRecovers() throws {
        let fixture = try CatalogBackend.postgres.make()
        defer { fixture.dispose() }
        var configuration = fixture.postgres!
        configuration.timeout = 1
        let catalog = try PostgresCatalog(configuration)
        defer { try? catalog.close() }
        guard case .unavailable(_, let reason)? = catalogError({
            _ = try catalog.pool.withConnection(idempotent: false) { session in try session.execute("SELECT pg_sleep(5)") }
        }) else {
            Issue.record("a 5 s statement under a 1 s timeout did not fail")
            return
        }
        #expect(reason.contains("longer than 1 s") || reason.contains("no answer within"), "\(reason)")
        // A read is retried on a lost connection, not on a timeout: one wait, not three.
        let started = Date()
        #expect(catalogError { _ = try catalog.pool.withConnection(idempotent: true) { session in try session.execute("SELECT pg_sleep(5)") } } != nil)
        #expect(Date().timeIntervalSince(started) < 3.5, "\(Date().timeIntervalSince(started)) s")  // three tries would take 4 s and more
        try catalog.upsert([sampleProduct("after")], fingerprints: [:], vectorSequence: 1)
        #expect(try catalog.allProductIDs() == ["after"])
    }

    /// Closing a catalog right after letting go of its writer lease: the lease's connection
    /// closes on the pool's event loop while the pool closes its idle connections. The loop must
    /// outlive both (a close scheduled on a stopped loop leaks its promise, which traps), and
    /// the closed catalog refuses further calls by name.
    @Test(.enabled(if: TestServers.postgres != nil))
    func closingRightAfterTheWriterLeaseLeavesNothingStranded() throws {
        let fixture = try CatalogBackend.postgres.make()
        defer { fixture.dispose() }
        _ = try fixture.open()
        var configuration = fixture.postgres!
        configuration.poolSize = 4
        for round in 0..<8 {
            let catalog = try PostgresCatalog(configuration)
            // Four connections in use at once, so four idle ones are left to close.
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                _ = try? catalog.pool.withConnection(idempotent: true) { session in try session.execute("SELECT pg_sleep(0.05)") }
            }
            let lease = try catalog.acquireWriterLease(holder: "round \(round)", shard: nil)
            lease.release()
            try catalog.close()
            guard case .unavailable(let dependency, let reason)? = catalogError({ _ = try catalog.allProductIDs() }) else {
                Issue.record("a closed catalog answered")
                return
            }
            #expect(dependency == "PostgreSQL \(configuration.displayURL)" && reason.contains("closed"), "\(reason)")
        }
    }

    /// The `unaccent` extension exists once per database; it must live outside every catalog's
    /// schema, or dropping the first catalog created would break text search in all the others.
    @Test(.enabled(if: TestServers.postgres != nil))
    func droppingOneCatalogLeavesTheOthersFolding() throws {
        let first = try CatalogBackend.postgres.make()
        let second = try CatalogBackend.postgres.make()
        defer { second.dispose() }
        _ = try first.open()
        let catalog = try second.open() as! PostgresCatalog
        try catalog.upsert([sampleProduct("cz", name: "Letní šaty")], fingerprints: [:], vectorSequence: 1)
        // Where the extension lives, and whether that schema holds a catalog (whichever test made it).
        let home = try catalog.pool.withConnection(idempotent: true) { session in
            try session.query("""
                SELECT n.nspname, to_regclass(quote_ident(n.nspname) || '.vitrine_schema') IS NOT NULL
                FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'
                """).first?.decode((String, Bool).self)
        }
        #expect(home != nil, "unaccent is installed")
        #expect(home?.1 == false, "unaccent lives in the catalog schema \(home?.0 ?? "-")")
        first.dispose()
        #expect(try catalog.textSearch("saty", limit: 10) == ["cz"])
        try catalog.upsert([sampleProduct("sk", name: "Čižmy")], fingerprints: [:], vectorSequence: 2)
        #expect(try catalog.textSearch("cizmy", limit: 10) == ["sk"])
    }
}
