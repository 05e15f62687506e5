import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import VitrineCatalog

/// A few PostgreSQL connections shared by the threads of one process, with blocking calls that
/// never wait longer than the configured timeouts.
///
/// The catalog's callers run on threads of their own (ingest stages, the server's blocking
/// pool), so each call blocks its thread on an `EventLoopFuture`, which completes on NIO's event
/// loop: no Swift concurrency thread is ever held. A connection that fails or times out is
/// closed and dropped, and the next call opens a fresh one, so the pool recovers by itself when
/// the server comes back.
final class PostgresPool: @unchecked Sendable {
    let configuration: PostgresConfiguration
    /// "PostgreSQL postgres://user@host:port/db?schema=s": how errors name the dependency.
    let dependency: String
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let lock = NSLock()
    private var idle: [PostgresConnection] = []
    private var closed = false
    /// What needs the event loop to stay up: writer leases, connections checked out to callers,
    /// and a shutdown while it closes the idle ones. The loop stops when the pool is closed and
    /// the last hold ends, never while a close could still be scheduled on it.
    private var holds = 0
    private var groupShutDown = false
    private let slots: DispatchSemaphore
    private var nextID = 0

    init(_ configuration: PostgresConfiguration) {
        self.configuration = configuration
        dependency = "PostgreSQL \(configuration.displayURL)"
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "vitrine.postgres")
        logger.logLevel = .critical
        self.logger = logger
        slots = DispatchSemaphore(value: configuration.poolSize)
    }

    deinit {
        shutdown()
    }

    /// Closes every idle connection, and the event loop once nothing holds it; later calls
    /// throw.
    func shutdown() {
        let connections = lock.withLock { () -> [PostgresConnection]? in
            guard !closed else { return nil }
            closed = true
            holds += 1
            defer { idle = [] }
            return idle
        }
        guard let connections else { return }
        for connection in connections { _ = try? wait(connection.close(), seconds: 2) }
        letGo()
    }

    /// A connection of its own for a writer lease; the loop stays up until `leaseEnded`.
    func connectForLease() throws -> PostgresConnection {
        try hold()
        do {
            return try connect()
        } catch {
            letGo()
            throw error
        }
    }

    /// A lease's connection is closed (called on the loop, in the close's callback).
    func leaseEnded() {
        letGo()
    }

    /// Keeps the event loop up until the matching `letGo`; refused once the pool is closed.
    private func hold() throws {
        try lock.withLock {
            guard !closed else { throw CatalogError.unavailable(dependency: dependency, reason: "the catalog was closed") }
            holds += 1
        }
    }

    private func letGo() {
        let stopLoop = lock.withLock { () -> Bool in
            holds -= 1
            guard closed, holds == 0, !groupShutDown else { return false }
            groupShutDown = true
            return true
        }
        guard stopLoop else { return }
        // Not from one of the loop's own threads (a lease may end in a callback on it).
        let group = group
        Thread { try? group.syncShutdownGracefully() }.start()
    }

    // MARK: Running statements

    /// Runs `body` on a pooled connection. Connection failures and timeouts close that
    /// connection; when `idempotent`, the call is retried (3 attempts, 0.2 s then 0.8 s apart).
    func withConnection<T>(idempotent: Bool, _ body: (Session) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try withOneConnection(body)
            } catch let slow as NotRetried {
                // The server had its time (a statement or an answer over the timeout): asking again
                // would only multiply the wait.
                throw slow.error
            } catch let error as CatalogError {
                guard idempotent, attempt < 3, case .unavailable = error else { throw error }
                Thread.sleep(forTimeInterval: attempt == 1 ? 0.2 : 0.8)
            }
        }
    }

    /// `body` inside `BEGIN … COMMIT` (rolled back when it throws). Never retried: a commit whose
    /// answer was lost may have happened.
    func transaction<T>(_ body: (Session) throws -> T) throws -> T {
        try withConnection(idempotent: false) { session in
            try session.execute("BEGIN")
            do {
                let result = try body(session)
                try session.execute("COMMIT")
                return result
            } catch {
                if !session.isBroken { try? session.execute("ROLLBACK") }
                throw error
            }
        }
    }

    private func withOneConnection<T>(_ body: (Session) throws -> T) throws -> T {
        guard slots.wait(timeout: .now() + configuration.timeout) == .success else {
            throw CatalogError.unavailable(
                dependency: dependency,
                reason: "no free connection within \(Self.seconds(configuration.timeout)) (pool of \(configuration.poolSize))")
        }
        defer { slots.signal() }
        try hold()
        defer { letGo() }
        let session = Session(connection: try checkOut(), pool: self)
        do {
            let result = try body(session)
            checkIn(session)
            return result
        } catch {
            checkIn(session)
            if session.timedOut, let error = error as? CatalogError { throw NotRetried(error: error) }
            throw error
        }
    }

    /// A failure of a call that took its whole time: reported, not retried.
    private struct NotRetried: Error {
        var error: CatalogError
    }

    private func checkOut() throws -> PostgresConnection {
        let reused = lock.withLock { idle.popLast() }
        if let reused, !reused.isClosed { return reused }
        return try connect()
    }

    private func checkIn(_ session: Session) {
        if session.isBroken || session.connection.isClosed {
            PostgresPool.closeQuietly(session.connection)
            return
        }
        let keep = lock.withLock { () -> Bool in
            guard !closed else { return false }
            idle.append(session.connection)
            return true
        }
        if !keep { PostgresPool.closeQuietly(session.connection) }
    }

    /// A new connection with the schema on its search path and a server-side statement timeout.
    func connect() throws -> PostgresConnection {
        var settings = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.user,
            password: configuration.password, database: configuration.database, tls: try tls())
        settings.options.connectTimeout = .milliseconds(Int64(configuration.connectTimeout * 1000))
        settings.options.additionalStartupParameters = [
            ("search_path", configuration.schema),
            ("statement_timeout", "\(Int(configuration.timeout * 1000))"),
            ("application_name", "vitrine"),
        ]
        let id = lock.withLock { () -> Int in
            nextID += 1
            return nextID
        }
        let future = PostgresConnection.connect(on: group.next(), configuration: settings, id: id, logger: logger)
        do {
            return try wait(future, seconds: configuration.connectTimeout + 1)
        } catch let error as CatalogError {
            // A connection that arrives after the wait gave up is closed, not leaked.
            future.whenSuccess { PostgresPool.closeQuietly($0) }
            throw error
        } catch {
            throw translate(error)
        }
    }

    private func tls() throws -> PostgresConnection.Configuration.TLS {
        switch configuration.tls {
        case .disable: return .disable
        case .prefer, .require:
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: .makeClientConfiguration())
            } catch {
                throw CatalogError.unavailable(dependency: dependency, reason: "cannot set up TLS: \(error)")
            }
            return configuration.tls == .prefer ? .prefer(context) : .require(context)
        }
    }

    /// Blocks until `future` completes or `seconds` pass (then throws `unavailable`).
    func wait<T>(_ future: EventLoopFuture<T>, seconds: Double) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        future.whenComplete { result in
            box.result = result
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success else {
            throw CatalogError.unavailable(dependency: dependency, reason: "no answer within \(Self.seconds(seconds))")
        }
        return try box.result!.get()
    }

    /// PostgreSQL's errors in the catalog's terms: the server unreachable, gone, refusing the
    /// credentials or out of resources is `unavailable` (retry later); a full disk is `diskFull`;
    /// anything else is an I/O error naming the server's message.
    func translate(_ error: Error) -> CatalogError {
        if let error = error as? CatalogError { return error }
        guard let error = error as? PSQLError else {
            return .unavailable(dependency: dependency, reason: "\(error)")
        }
        let state = error.serverInfo?[.sqlState] ?? ""
        let message = error.serverInfo?[.message] ?? ""
        switch error.code {
        case .server:
            if state == "53100" { return .diskFull(path: dependency) }
            if state.hasPrefix("28") { return .unavailable(dependency: dependency, reason: "it refused the credentials: \(message)") }
            if state == "57014" { return .unavailable(dependency: dependency, reason: "a statement took longer than \(Self.seconds(configuration.timeout)): \(message)") }
            if state == "3D000" || state == "3F000" {
                return .unavailable(dependency: dependency, reason: "\(message)")
            }
            if ["08", "53", "57", "58"].contains(String(state.prefix(2))) {
                return .unavailable(dependency: dependency, reason: "\(message) (SQLSTATE \(state))")
            }
            return .io(path: dependency, reason: "\(message) (SQLSTATE \(state))")
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown,
             .sslUnsupported, .failedToAddSSLHandler, .poolClosed:
            let underlying = error.underlying.map { ": \($0)" } ?? ""
            return .unavailable(dependency: dependency, reason: "cannot talk to it (\(error.code))\(underlying)")
        case .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            return .unavailable(dependency: dependency, reason: "it refused the credentials (\(error.code)); is PGPASSWORD set?")
        default:
            return .io(path: dependency, reason: "\(error.code): \(message)")
        }
    }

    /// Closes `connection` without waiting; it is kept alive until closed (PostgresNIO traps on
    /// a connection freed while open).
    static func closeQuietly(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    /// One connection lent to a call: statements run through it block with the pool's timeout,
    /// and any failure that may have left it unusable marks it broken (closed at check-in).
    final class Session {
        let connection: PostgresConnection
        unowned let pool: PostgresPool
        private(set) var isBroken = false
        /// Whether a statement ran out of time (the server cancelled it, or no answer came).
        private(set) var timedOut = false

        init(connection: PostgresConnection, pool: PostgresPool) {
            self.connection = connection
            self.pool = pool
        }

        /// Runs `query` and returns its rows.
        @discardableResult
        func query(_ query: PostgresQuery) throws -> [PostgresRow] {
            do {
                let result = try pool.wait(connection.query(query, logger: pool.logger), seconds: pool.configuration.timeout + 2)
                return Array(result)
            } catch {
                let mapped = pool.translate(error)
                if (error as? PSQLError)?.serverInfo?[.sqlState] == "57014" {
                    timedOut = true  // cancelled by statement_timeout: the connection itself is fine
                    throw mapped
                }
                if case .unavailable(_, let reason) = mapped, reason.hasPrefix("no answer within") { timedOut = true }
                if case .unavailable = mapped { isBroken = true }
                if case .io = mapped, connection.isClosed { isBroken = true }
                throw mapped
            }
        }

        /// Runs a statement whose rows do not matter (DDL, BEGIN, UPDATE).
        func execute(_ query: PostgresQuery) throws {
            try self.query(query)
        }
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
