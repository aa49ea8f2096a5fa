import Foundation
import Logging
import SeedgateDomain
import SeedgateSupport
import NIOCore
import NIOPosix
import SQLKit
import Synchronization

/// Where the store's SQL runs. One SQL implementation of the store sits on top; this protocol only says
/// how to get a connection and how to run a transaction on one.
public protocol DatabaseProvider: Sendable {
    /// Runs `body` on a connection outside any explicit transaction (single statements are atomic).
    func read<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// Runs `body` inside one transaction: all of it commits, or none of it does.
    func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// Runs `body`, a single statement that is atomic by itself (an `UPDATE ... RETURNING`, say), as a
    /// write: on PostgreSQL without BEGIN and COMMIT around it (one round trip instead of three), on
    /// SQLite through the writer like any transaction.
    func write<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// The SQL dialect family, for the few statements that differ.
    var flavor: SQLFlavor { get }
    /// Statements this provider has sent to its database (transaction control included), for
    /// `seedgate_store_statements_total`.
    var statements: StatementCounter { get }
    func close() async
}

/// The event loop whose database connections a task's calls prefer: a request's own (set by the
/// router for API reads), so that its query, the answer and the response are handled on one thread.
public enum PreferredEventLoop {
    @TaskLocal public static var current: (any EventLoop)?
}

/// Runs a task's jobs on one event loop (a task that prefers it: `withTaskExecutorPreference`).
package final class EventLoopTaskExecutor: TaskExecutor {
    private let loop: any EventLoop
    init(loop: any EventLoop) { self.loop = loop }

    /// One for each loop of the group the server and the PostgreSQL pool run on, by the loop's identity.
    package static let all: [ObjectIdentifier: EventLoopTaskExecutor] = Dictionary(uniqueKeysWithValues:
        MultiThreadedEventLoopGroup.singleton.makeIterator().map { (ObjectIdentifier($0), EventLoopTaskExecutor(loop: $0)) })

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}

/// A count of statements run, shared by a provider's connections; and the store's other counts (calls
/// ended by the watchdog, calls asking for or holding a connection on each event loop), read without a lock.
public final class StatementCounter: Sendable {
    private let count = Atomic<Int>(0)
    public init() {}
    public var value: Int { count.load(ordering: .relaxed) }
    /// Adds `delta` (a count that also goes down adds -1); returns the count before.
    @discardableResult
    package func add(_ delta: Int = 1) -> Int { count.wrappingAdd(delta, ordering: .relaxed).oldValue }
}

/// Counts each statement run through `base`.
package struct CountedDatabase: SQLDatabase {
    package let base: any SQLDatabase
    package let counter: StatementCounter
    package var logger: Logger { base.logger }
    package var eventLoop: any EventLoop { base.eventLoop }
    package var version: (any SQLDatabaseReportedVersion)? { base.version }
    package var dialect: any SQLDialect { base.dialect }
    package var queryLogLevel: Logger.Level? { base.queryLogLevel }

    package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        counter.add()
        return base.execute(sql: query, onRow)
    }

    package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        counter.add()
        try await base.execute(sql: query, onRow)
    }
}

public enum SQLFlavor: Sendable { case sqlite, postgres }
