import Foundation
import Logging
import NIOPosix
import SQLKit
import SQLiteKit
import Synchronization

/// Where the store's SQL runs. One SQL implementation of the store sits on top; this protocol only says
/// how to get a connection and how to run a transaction on one.
public protocol DatabaseProvider: Sendable {
    /// Runs `body` on a connection outside any explicit transaction (single statements are atomic).
    func read<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// Runs `body` inside one transaction: all of it commits, or none of it does.
    func transaction<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// The SQL dialect family, for the few statements that differ.
    var flavor: SQLFlavor { get }
    func close() async
}

public enum SQLFlavor: Sendable { case sqlite, postgres }

/// BEGIN, the body, COMMIT; ROLLBACK if anything throws. Transaction control runs in a task of its own,
/// so it runs even when the calling task was cancelled mid-transaction (as a progress reporter is when
/// its render ends); otherwise the ROLLBACK would be skipped and the connection left inside a
/// transaction for good.
func runTransaction<R: Sendable>(
    on db: any SQLDatabase, begin: String, _ body: @Sendable (any SQLDatabase) async throws -> R
) async throws -> R {
    func control(_ statement: String) async throws {
        try await Task { try await db.raw("\(unsafeRaw: statement)").run() }.value
    }
    try await control(begin)
    do {
        let result = try await body(db)
        try await control("COMMIT")
        return result
    } catch {
        try? await control("ROLLBACK")
        throw error
    }
}

/// SQLite in WAL mode: one writer connection (transactions take it in turn through a mutex, and
/// `BEGIN IMMEDIATE` makes other processes such as `seedgate keys create` wait on the busy timeout
/// instead of failing), and a few reader connections that never block the writer.
///
/// Each provider runs its SQLite calls on threads of its own: SQLite's busy handler sleeps on the
/// calling thread, and on a shared pool that sleep could hold the very thread another connection
/// needs to commit and release the lock.
public final class SQLiteProvider: DatabaseProvider {
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let threadPool: NIOThreadPool
    private let writeLock = AsyncMutex()
    private let nextReader = ReaderCursor()
    public var flavor: SQLFlavor { .sqlite }

    public static func open(path: String, readers readerCount: Int = 3, logger: Logger) async throws -> SQLiteProvider {
        let readerCount = max(1, readerCount)
        let threadPool = NIOThreadPool(numberOfThreads: readerCount + 1)
        threadPool.start()
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        func connect() async throws -> SQLiteConnection {
            try await SQLiteConnection.open(storage: .file(path: path), threadPool: threadPool, logger: logger, on: eventLoop)
        }
        let writer = try await connect()
        // WAL first, on the writer, so readers open in WAL mode.
        for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA busy_timeout = 10000", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"] {
            _ = try await writer.query(pragma)
        }
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount {
            let reader = try await connect()
            _ = try await reader.query("PRAGMA busy_timeout = 10000")
            readers.append(reader)
        }
        return SQLiteProvider(writer: writer, readers: readers, threadPool: threadPool)
    }

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], threadPool: NIOThreadPool) {
        self.writer = writer
        self.readers = readers
        self.threadPool = threadPool
    }

    public func read<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await body(readers[nextReader.next() % readers.count].sql())
    }

    public func transaction<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let db = writer.sql()
        // IMMEDIATE takes the write lock at once, so other processes wait on the busy timeout.
        return try await writeLock.withLock { try await runTransaction(on: db, begin: "BEGIN IMMEDIATE", body) }
    }

    /// Closes every connection and the thread pool. Runs to the end even when the calling task is
    /// cancelled (as at shutdown), so no connection is left open.
    public func close() async {
        let connections = readers + [writer]
        let threadPool = threadPool
        await Task.detached {
            for connection in connections {
                try? await connection.close()
            }
            try? await threadPool.shutdownGracefully()
        }.value
    }
}

/// A lock-free round-robin counter for picking a reader connection.
private final class ReaderCursor: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}
