@preconcurrency import AsyncKit
import Foundation
import Logging
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

    /// `url`: `postgres://user:password@host:5432/database`.
    public init(url: String, maxConnectionsPerEventLoop: Int = 4, logger: Logger) throws {
        let configuration = try SQLPostgresConfiguration(url: url)
        self.pool = EventLoopGroupConnectionPool(
            source: PostgresConnectionSource(sqlConfiguration: configuration),
            maxConnectionsPerEventLoop: maxConnectionsPerEventLoop,
            logger: logger,
            on: MultiThreadedEventLoopGroup.singleton
        )
        self.logger = logger
    }

    /// One pooled connection for the whole of `body`, rather than one taken from the pool per statement.
    public func read<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let connection = try await pool.requestConnection(logger: logger).get()
        defer { pool.releaseConnection(connection, logger: logger) }
        return try await body(CountedDatabase(base: connection.sql(), counter: statements))
    }

    /// A statement on its own commits by itself (autocommit): no BEGIN or COMMIT to wait for.
    public func write<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await read(body)
    }

    public func transaction<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let connection = try await pool.requestConnection(logger: logger).get()
        defer { pool.releaseConnection(connection, logger: logger) }
        let db = CountedDatabase(base: connection.sql(), counter: statements)
        // Transaction control runs in a task of its own, so it runs even when the calling task was
        // cancelled mid-transaction (as a progress reporter is when its render ends); otherwise the
        // ROLLBACK would be skipped and the connection left inside a transaction for good.
        func control(_ statement: String) async throws {
            try await Task { try await db.raw("\(unsafeRaw: statement)").run() }.value
        }
        try await control("BEGIN")
        do {
            let result = try await body(db)
            try await control("COMMIT")
            return result
        } catch {
            try? await control("ROLLBACK")
            throw error
        }
    }

    public func close() async {
        let pool = pool
        await Task.detached { try? await pool.shutdownAsync() }.value
    }
}
