@preconcurrency import AsyncKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SeedgateDomain
import SeedgateSupport
import SQLKit

/// PostgreSQL, for several Seedgate replicas sharing one database. Reads use any pooled connection;
/// a transaction holds one connection from BEGIN to COMMIT.
///
/// `@unchecked Sendable`: the only stored state is immutable `let`s; the pool is documented as
/// thread-safe (every mutable part of it is guarded by its lock or confined to its event loop), and
/// PostgresKit itself shares it across tasks the same way. It predates `Sendable` annotations.
public final class PostgresProvider: DatabaseProvider, @unchecked Sendable {
    private let pool: EventLoopGroupConnectionPool<PostgresConnectionSource>
    private let logger: Logger
    public var flavor: SQLFlavor { .postgres }
    public let statements = StatementCounter()
    /// Prepared statements found stale (their connections closed), for the tests and the logs.
    package let staleStatements = StatementCounter()
    /// How long a read or a single-statement write may wait for its answer before its connection is
    /// closed and the caller told the database is unavailable (transactions, which include the
    /// migrations, are not bounded).
    package let callLimit: Duration
    package let watchdog = CallWatchdog()
    private let waiters = ConnectionWaiters()
    private let closed = Once()
    private let poolSize: Int
    private let perLoop: Int
    /// The pool's event loops, and how many calls are asking for or holding a connection on each: a
    /// call prefers its request's loop (`PreferredEventLoop`) while that loop's share of the pool has
    /// room, and otherwise takes the least busy loop, so that requests that all arrive on one loop
    /// (a proxy's few connections) still use the whole pool.
    private let loops: [any EventLoop]
    private let load: [ObjectIdentifier: StatementCounter]
    private let turn = StatementCounter()

    /// `url`: `postgres://user:password@host:5432/database`.
    public init(url: String, maxConnectionsPerEventLoop: Int = 4, callLimit: Duration = .seconds(30), logger: Logger) throws {
        let configuration = try SQLPostgresConfiguration(url: url)
        self.pool = EventLoopGroupConnectionPool(
            source: PostgresConnectionSource(sqlConfiguration: configuration),
            maxConnectionsPerEventLoop: maxConnectionsPerEventLoop,
            // Waiting for a connection is bounded like the call itself (the pool's own default is 10 s).
            requestTimeout: .nanoseconds(Int64(callLimit.components.seconds) * 1_000_000_000),
            logger: logger,
            on: MultiThreadedEventLoopGroup.singleton
        )
        self.loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        self.load = Dictionary(uniqueKeysWithValues: loops.map { (ObjectIdentifier($0), StatementCounter()) })
        self.perLoop = maxConnectionsPerEventLoop
        self.poolSize = maxConnectionsPerEventLoop * loops.count
        self.logger = logger
        self.callLimit = callLimit
        CallWatchdog.startSweeping(watchdog)
    }

    /// One pooled connection for the whole of `body`, rather than one taken from the pool per statement.
    public func read<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await run(body, again: true)
    }

    /// `body` on a connection of its own; when `again`, once more on another connection if the first
    /// was found lost (a read may run twice; a write may not, as it may have been done).
    private func run<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R, again: Bool) async throws -> R {
        let statements = statements
        return try await bounded(again: again, limit: callLimit) { connection in try await body(CountedDatabase(base: connection.sql(), counter: statements)) }
    }

    /// Runs one of the prepared statements (`PostgresPrepared`) on a pooled connection; nil when it must
    /// run unprepared instead (its connection had a stale copy of it, and was closed).
    /// `again`: as for `read` (true) or `write` (false).
    package func prepared<Statement: PostgresPreparedStatement>(_ statement: Statement, again: Bool) async throws -> [any SQLRow]? where Statement.Row == PostgresRow {
        try await bounded(again: again, limit: callLimit) { connection in
            self.statements.add()
            do {
                var rows: [any SQLRow] = []
                for try await row in try await connection.execute(statement, logger: self.logger) { rows.append(PostgresCellRow(row)) }
                return rows
            } catch where PostgresPrepared.isStale(error) {
                self.logger.warning("a prepared statement no longer matches its table; its connection is closed", metadata: ["statement": "\(Statement.name)"])
                self.staleStatements.add()
                try? await connection.close().get()
                return nil
            }
        }
    }

    /// `body` on a pooled connection, within `callLimit` (nil: unbounded, for transactions). Past it
    /// the caller gets `database_unavailable` at once, and the connection is closed (failing the query
    /// it waits on, if the query can still be failed) and then given back: a query the database will
    /// never answer is left behind instead of holding its request for good. A connection the database
    /// refused or cut is a `database_unavailable` too: a 503 to retry, not a 500.
    private func bounded<R: Sendable>(again: Bool, limit: Duration?, _ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        // A restart cuts every pooled connection at once, and the pool may lend each before it hears of
        // it: a read goes on to the next, up to one more than the pool holds. So does any call whose
        // connection was found closed before anything was sent on it.
        var tries = again ? poolSize + 1 : 1
        var unsent = poolSize + 1
        while true {
            do {
                return try await attempt(limit: limit, body)
            } catch let lost as ConnectionLost {
                if lost.unsent { unsent -= 1 } else { tries -= 1 }
                if tries == 0 || unsent == 0 { throw self.unavailable(lost.error) }
            }
        }
    }

    /// Marks a call whose connection was lost, for `bounded` to try again or answer 503. `unsent`: lost
    /// before the call sent anything on it.
    private struct ConnectionLost: Error {
        let error: any Error
        var unsent = false
    }

    /// A connection that closed before or under a call without the call hearing of it.
    private struct ClosedUnheard: Error, CustomStringConvertible {
        var description: String { "the connection closed, and the call on it did not hear of it" }
    }

    private func attempt<R: Sendable>(limit: Duration?, _ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        let connection = try await acquire()
        let (logger, watchdog) = (logger, watchdog)
        // Closed between the pool's look and ours: a query written to it now would never be answered.
        guard !connection.isClosed else {
            giveBack(connection)
            throw ConnectionLost(error: ClosedUnheard(), unsent: true)
        }
        let release = Once()
        let answer = FirstAnswer<R>()
        return try await withCheckedThrowingContinuation { continuation in
            answer.set(continuation)
            let ticket = watchdog.begin(limit: limit, isLost: { connection.isClosed }) {
                if connection.isClosed {
                    logger.warning("a database call's connection closed under it and the call did not end; it is ended now")
                    answer.give(.failure(ConnectionLost(error: ClosedUnheard())))
                } else {
                    logger.error("a database call ran past its limit; its connection is closed", metadata: ["limit": "\(limit.map { "\($0)" } ?? "none")"])
                    answer.give(.failure(SeedgateError(.serviceUnavailable, code: "database_unavailable",
                                                       message: "the database did not answer in time; try again", retryAfter: 1)))
                }
                connection.close().whenComplete { _ in
                    if release.claim() { self.giveBack(connection) }
                }
            }
            // A task of its own, so that the caller can be answered without it; started on this thread
            // (no hop) and run until it first waits on the database, then on the connection's event
            // loop, where the database's answer arrives.
            Task.immediate(executorPreference: EventLoopTaskExecutor.all[ObjectIdentifier(connection.eventLoop)]) {
                let result: Result<R, any Error>
                do {
                    result = .success(try await body(connection))
                } catch where Self.isConnectionLost(error) {
                    // Closed before it goes back, so that the pool makes a new one for the next call.
                    _ = try? await connection.close().get()
                    result = .failure(ConnectionLost(error: error))
                } catch {
                    result = .failure(Self.refusedText(error) ?? error)
                }
                _ = watchdog.finish(ticket)
                if release.claim() { self.giveBack(connection) }
                answer.give(result)
            }
        }
    }

    /// A pooled connection, or `database_unavailable`. When the pool fails to open a connection because
    /// the database refuses it or cannot be reached, every call then waiting for one is answered at
    /// once: the pool itself fails only the call that asked for the new connection, and the others
    /// would wait out the whole `callLimit` for a connection that is not coming.
    private func acquire() async throws -> PostgresConnection {
        let (pool, logger, waiters) = (pool, logger, waiters)
        let loop = reserveLoop()
        let answer = FirstAnswer<PostgresConnection>()
        do {
            return try await withCheckedThrowingContinuation { continuation in
                answer.set(continuation)
                let ticket = waiters.add { error in answer.give(.failure(error)) }
                pool.requestConnection(logger: logger, on: loop).whenComplete { result in
                    waiters.remove(ticket)
                    switch result {
                    case .failure(let error):
                        self.load[ObjectIdentifier(loop)]?.add(-1)
                        if Self.refusesEveryone(error) { waiters.failAll(error) }
                        answer.give(result)
                    case .success(let connection):
                        // Answered already (by another call's failure): the connection goes back unused.
                        if !answer.give(result) { self.giveBack(connection) }
                    }
                }
            }
        } catch {
            throw self.unavailable(error)
        }
    }

    /// The request's own loop while its share of the pool has room, or while no other loop is less
    /// busy (all full: waiting there keeps the call on one thread); else the least busy loop (ties
    /// taken in turn). The loop comes back counted. The own loop's count is taken and then checked, so
    /// that calls preferring one loop at the same instant cannot both take its last place; the least
    /// busy loop is read and then counted, so two calls may both pick it, and the second waits its
    /// turn there (the next choices even it out).
    private func reserveLoop() -> any EventLoop {
        var preferred: (loop: ObjectIdentifier, before: Int)?
        if let loop = PreferredEventLoop.current, let count = load[ObjectIdentifier(loop)] {
            let before = count.add()
            if before < perLoop { return loop }
            preferred = (ObjectIdentifier(loop), before)
        }
        let start = (turn.add() & Int.max) % loops.count
        var least = loops[start], fewest = Int.max
        for offset in 0..<loops.count {
            let loop = loops[(start + offset) % loops.count], id = ObjectIdentifier(loop)
            let busy = id == preferred?.loop ? preferred?.before ?? 0 : load[id]?.value ?? 0
            if busy < fewest { (least, fewest) = (loop, busy) }
        }
        if let preferred {
            if preferred.before <= fewest, let loop = PreferredEventLoop.current { return loop }
            load[preferred.loop]?.add(-1)
        }
        load[ObjectIdentifier(least)]?.add()
        return least
    }

    /// A connection back to the pool, and off its loop's count.
    private func giveBack(_ connection: PostgresConnection) {
        pool.releaseConnection(connection, logger: logger)
        load[ObjectIdentifier(connection.eventLoop)]?.add(-1)
    }

    /// Whether failing to get a connection holds for every caller: the pool could not open one because
    /// the database refused it or is out of reach. Not a wait that timed out, nor a server that is
    /// only full (class 53, "too many clients"): there a connection given back serves the next caller.
    static func refusesEveryone(_ error: any Error) -> Bool {
        if error is ConnectionPoolTimeoutError || error is ConnectionPoolError { return false }
        if let error = error as? PSQLError, error.code == .server {
            return !(error.serverInfo?[.sqlState] ?? "").hasPrefix("53")
        }
        return true
    }

    /// Whether `error` says the connection itself failed (closed by either side, refused, cut), rather
    /// than the statement (a constraint, a syntax error), which callers handle themselves.
    static func isConnectionLost(_ error: any Error) -> Bool {
        if let error = error as? PSQLError {
            switch error.code {
            case .clientClosedConnection, .serverClosedConnection, .connectionError, .uncleanShutdown, .poolClosed:
                return true
            case .server:
                // Class 08 (connection exception) and 57P (operator intervention: shutdown, restart).
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("57P")
            default:
                return false
            }
        }
        return error is ConnectionPoolTimeoutError || error is ConnectionPoolError || error is ChannelError || error is IOError
    }

    /// Text the database cannot store (SQLSTATE 22021: the NUL character, which the API refuses first,
    /// by the field's name, wherever text comes in): the request's fault, a 400, never a 500.
    static func refusedText(_ error: any Error) -> SeedgateError? {
        guard let error = error as? PSQLError, error.serverInfo?[.sqlState] == "22021" else { return nil }
        return SeedgateError(.invalidRequest, code: "invalid_text", message: "the request holds text the database cannot store (the NUL character, \\u0000)")
    }

    /// The 503 for a database that cannot be reached; its cause goes to the log, not to the client.
    private func unavailable(_ error: any Error) -> SeedgateError {
        logger.warning("the database cannot be reached", metadata: ["error": "\(logDescription(of: error).prefix(300))"])
        return SeedgateError(.serviceUnavailable, code: "database_unavailable", message: "the database cannot be reached just now; try again", retryAfter: 1)
    }

    /// A statement on its own commits by itself (autocommit): no BEGIN or COMMIT to wait for.
    public func write<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await run(body, again: false)
    }

    /// Not bounded in time (a migration may take long), but a lost connection is still a 503, and a
    /// transaction whose connection closes under it without its hearing of it is ended by the watchdog.
    public func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let statements = statements
        return try await bounded(again: false, limit: nil) { connection in
            let db = CountedDatabase(base: connection.sql(), counter: statements)
            // This runs in the call's own task (`attempt`), which the caller's cancellation does not
            // reach (as a progress reporter's is cancelled when its render ends): the transaction runs
            // to its COMMIT or ROLLBACK, never leaving the connection inside a transaction.
            func control(_ statement: String) async throws {
                try await db.raw("\(unsafeRaw: statement)").run()
            }
            try await control("BEGIN")
            do {
                let result = try await body(db)
                try await control("COMMIT")
                return result
            } catch where Self.isConnectionLost(error) {
                // The server has ended the session, and with it the transaction: no ROLLBACK is sent
                // on the cut connection (`attempt` closes it).
                throw error
            } catch {
                try? await control("ROLLBACK")
                throw error
            }
        }
    }

    public func close() async {
        guard closed.claim() else { return }
        let pool = pool
        await Task.detached { try? await pool.shutdownAsync() }.value
    }

    /// A provider dropped without `close()` (its owner ended early on an error) still shuts its pool
    /// down, as the pool requires before it goes, rather than trapping in the pool's own deinit.
    deinit {
        guard closed.claim() else { return }
        logger.warning("a PostgreSQL connection pool was dropped without being closed; it is closed now")
        pool.shutdownGracefully { _ in }
    }
}

/// PostgreSQL's errors in the logs: the code, the server's SQLSTATE and the names it gives (routine,
/// table, column, constraint), and the error beneath (a refused connection's, say). Never the statement
/// or its bound values (which `String(reflecting:)` of a `PSQLError` shows), nor the server's message
/// and detail, which quote values ("invalid input syntax for type integer: \"...\"", "Key (id)=(...)").
extension PSQLError: RedactedInLogs {
    public var logDescription: String {
        var parts = ["code: \(code)"]
        let fields: [(String, PSQLError.ServerInfo.Field)] = [
            ("sqlState", .sqlState), ("routine", .routine), ("table", .tableName), ("column", .columnName), ("constraint", .constraintName),
        ]
        for (name, field) in fields {
            if let value = serverInfo?[field] { parts.append("\(name): \(value)") }
        }
        if let underlying { parts.append("underlying: \(SeedgateSupport.logDescription(of: underlying))") }
        return "PSQLError(\(parts.joined(separator: ", ")))"
    }
}

/// A cell that could not be decoded: PostgresNIO's debug description includes the cell's bytes.
extension PostgresDecodingError: RedactedInLogs {
    public var logDescription: String {
        "PostgresDecodingError(code: \(code), column: \(columnName), type: \(postgresType), as: \(targetType))"
    }
}
