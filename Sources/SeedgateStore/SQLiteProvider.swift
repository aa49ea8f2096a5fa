import Foundation
import Logging
import NIOCore
import NIOPosix
import SeedgateDomain
import SeedgateSQLiteConfig
import SeedgateSupport
import SQLiteKit
import SQLKit
import Synchronization
// sqlite-nio's vendored SQLite, used through its C API on the calling thread. The module is a target of
// sqlite-nio, not one of its products: SwiftPM lets us import it because SQLiteNIO depends on it, and
// Package.swift pins sqlite-nio to 1.13.x so an update that renames or reshapes it cannot arrive unseen.
import VaporCSQLite

/// SQLite in WAL mode, driven through SQLite's C API directly on the calling task's thread, with each
/// connection's prepared statements kept for reuse.
///
/// Why not through SQLiteNIO's thread pool: a primary-key lookup takes a few microseconds in SQLite,
/// while handing it to a pool thread and the answer back costs several thread switches, and parsing
/// the statement again costs more than running it. Measured on the task read path (bench/run), those
/// two were most of the request's time.
///
/// - One writer connection, with group commit: transactions take it in turn (an `AsyncMutex`), each
///   inside a savepoint of a shared `BEGIN IMMEDIATE` transaction. The one that finds nobody waiting
///   after it commits for all, and only then does any of them return. A transaction that throws rolls
///   back to its savepoint, leaving the others' work in place. Under load this writes each page once a
///   batch rather than once a transaction: the WAL's writes were most of a submission's time.
/// - Reader connections, handed out one caller at a time, opened as concurrent reads need them and kept
///   (up to `readers` of them) for the next; WAL readers never wait for the writer. Reads rarely
///   overlap more than the machine has threads, so a few connections serve them all.
/// - Nothing blocks a thread waiting for a lock: connections have no busy timeout, and a statement that
///   finds the database locked (another process, such as `seedgate keys create`, is writing) is retried
///   after a short sleep, for up to `busyTimeout`.
public final class SQLiteProvider: DatabaseProvider {
    private let path: String
    private let logger: Logger
    private let writer: SQLiteHandle
    private let idle: Mutex<[SQLiteHandle]>
    private let maxIdleReaders: Int
    private let writeLock = AsyncMutex()
    private let batch = Mutex(Batch())
    public var flavor: SQLFlavor { .sqlite }
    public let statements = StatementCounter()

    /// The writer's open transaction: whether one is open, how many have joined it, and who waits to
    /// hear whether it committed. Changed only by the writer lock's holder.
    private struct Batch {
        var open = false
        var members = 0
        var awaitingCommit: [CheckedContinuation<Void, any Error>] = []
    }

    /// Most transactions one commit covers, so that a steady stream still commits now and then.
    package static let maxBatch = 64

    public static func open(path: String, readers: Int = 8, logger: Logger) async throws -> SQLiteProvider {
        let writer = try SQLiteHandle.open(path: path)
        // WAL first, on the writer, so readers open in WAL mode.
        let database = SQLiteDirectDatabase(handle: writer, logger: logger, counter: StatementCounter())
        for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"] {
            try await database.raw("\(unsafeRaw: pragma)").run()
        }
        writer.turn = SQLiteWriterTurn(database: path)
        return SQLiteProvider(path: path, writer: writer, maxIdleReaders: max(1, readers), logger: logger)
    }

    private init(path: String, writer: SQLiteHandle, maxIdleReaders: Int, logger: Logger) {
        self.path = path
        self.writer = writer
        self.maxIdleReaders = maxIdleReaders
        self.idle = Mutex([])
        self.logger = logger
    }

    public func read<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let handle = try idle.withLock { $0.popLast() } ?? SQLiteHandle.open(path: path)
        defer {
            let extra = idle.withLock { readers -> SQLiteHandle? in
                guard readers.count < maxIdleReaders else { return handle }
                readers.append(handle)
                return nil
            }
            extra?.close()
        }
        return try await body(SQLiteDirectDatabase(handle: handle, logger: logger, counter: statements))
    }

    /// Writes go through the one writer, so a single statement is a transaction like any other (and
    /// joins the open group commit).
    public func write<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await transaction(body)
    }

    /// The one writer connection, counted.
    private var writerDatabase: SQLiteDirectDatabase { SQLiteDirectDatabase(handle: writer, logger: logger, counter: statements) }

    public func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let database = writerDatabase
        await writeLock.lock()
        let outcome: Result<R, any Error>
        do {
            if !batch.withLock({ $0.open }) {
                await writer.turn?.giveWay()
                try await control(database, "BEGIN IMMEDIATE")
                batch.withLock { $0 = Batch(open: true) }
            }
            outcome = await member(database, body)
            guard writer.inTransaction else {
                // SQLite rolled back the whole transaction (a full disk, an I/O error): this member's
                // error says why, and every member waiting on the commit hears it too.
                if case .failure(let error) = outcome { throw error }
                throw SQLiteFailure(code: SQLITE_ABORT, message: "the transaction was rolled back", sql: "COMMIT")
            }
        } catch {
            // BEGIN failed, or the transaction broke under us: everyone in it hears so.
            try? await control(database, "ROLLBACK")
            finish(.failure(error))
            writeLock.unlock()
            throw error
        }
        let members = batch.withLock { batch in
            batch.members += 1
            return batch.members
        }
        // Another connection's writer waiting (`SQLiteWriterTurn`) ends the batch here, so that it can go next.
        if members < Self.maxBatch, writeLock.hasWaiters, !(writer.turn?.othersWait ?? false) {
            // Someone is next: they join this transaction, and whoever is last commits.
            guard case .success(let value) = outcome else {
                writeLock.unlock()
                return try outcome.get()
            }
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                batch.withLock { $0.awaitingCommit.append(continuation) }
                writeLock.unlock()
            }
            return value
        }
        do {
            try await commit(database)
        } catch {
            writeLock.unlock()
            throw error
        }
        writeLock.unlock()
        return try outcome.get()
    }

    /// Commits the open transaction for everyone in it (the caller holds the writer lock).
    private func commit(_ database: SQLiteDirectDatabase) async throws {
        do {
            try await control(database, "COMMIT")
            finish(.success(()))
        } catch {
            try? await control(database, "ROLLBACK")
            finish(.failure(error))
            throw error
        }
    }

    /// Runs one transaction's body inside a savepoint of the open transaction: released when it
    /// returns, rolled back to when it throws.
    private func member<R: Sendable>(_ database: SQLiteDirectDatabase, _ body: @Sendable (any SQLDatabase) async throws -> R) async -> Result<R, any Error> {
        do {
            try await control(database, "SAVEPOINT member")
        } catch {
            return .failure(error)
        }
        do {
            let value = try await body(database)
            try await control(database, "RELEASE member")
            return .success(value)
        } catch {
            if writer.inTransaction {
                try? await control(database, "ROLLBACK TO member")
                try? await control(database, "RELEASE member")
            }
            return .failure(error)
        }
    }

    /// Tells everyone waiting on the open transaction how it ended, and closes it.
    private func finish(_ outcome: Result<Void, any Error>) {
        let waiting = batch.withLock { batch in
            defer { batch = Batch() }
            return batch.awaitingCommit
        }
        for continuation in waiting { continuation.resume(with: outcome) }
    }

    private func control(_ database: SQLiteDirectDatabase, _ statement: String) async throws {
        try await database.raw("\(unsafeRaw: statement)").run()
    }

    /// Closes every connection, after any transaction under way (committing one left open for a
    /// member that was to follow).
    public func close() async {
        await writeLock.lock()
        if batch.withLock({ $0.open }) {
            try? await commit(writerDatabase)
        }
        writer.close()
        writeLock.unlock()
        for reader in idle.withLock({ readers in defer { readers.removeAll() }; return readers }) {
            reader.close()
        }
    }
}

/// What SQLite said when a statement failed: its result code, its message and the statement.
public struct SQLiteFailure: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public let sql: String
    public var description: String { "SQLite error \(code): \(message) (in: \(sql))" }
    /// Another connection holds the lock: worth waiting for. (SQLITE_LOCKED, a conflict within one
    /// connection, would not clear by waiting.)
    package var isBusy: Bool { code & 0xff == SQLITE_BUSY }
}

/// One SQLite connection and its prepared statements.
///
/// `@unchecked Sendable`: a handle is used by one caller at a time. The provider gives a reader to one
/// `read` at a time and the writer to one transaction at a time (under its lock), and the SQL of one
/// caller runs in sequence.
package final class SQLiteHandle: @unchecked Sendable {
    private let raw: OpaquePointer
    private var statements: [String: Prepared] = [:]
    private var closed = false
    /// The writer's: how it waits its turn beside other connections' writers.
    package var turn: SQLiteWriterTurn?
    /// Enough for every statement the store writes; dynamic ones (IN lists) beyond that start the cache over.
    private static let statementCacheLimit = 128

    private init(raw: OpaquePointer) { self.raw = raw }

    package static func open(path: String) throws -> SQLiteHandle {
        var raw: OpaquePointer?
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite_nio_sqlite3_open_v2(path, &raw, flags, nil)
        guard status == SQLITE_OK, let raw else {
            let message = raw.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "out of memory"
            if let raw { sqlite_nio_sqlite3_close_v2(raw) }
            throw SQLiteFailure(code: status, message: message, sql: "open \(path)")
        }
        // 8 MiB of page cache a connection (the default is 2 MiB): a task table's hot pages stay in memory.
        _ = sqlite_nio_sqlite3_exec(raw, "PRAGMA cache_size = -8192", nil, nil, nil)
        // Without it, SQLite prepares a statement again whenever a value bound to one of its equality
        // tests changes (it might plan differently for it), which is every time: that took a task
        // read's statements twice their running time.
        _ = seedgate_sqlite_enable_qpsg(raw)
        return SQLiteHandle(raw: raw)
    }

    /// Runs one statement, handing each row to `onRow`. A statement that finds the database locked
    /// before returning any row is retried after a short sleep, for up to `busyTimeout`.
    /// A writer's (`turn` set) retries come every millisecond, while it tells other connections' writers
    /// that it waits (`SQLiteWriterTurn`).
    package func execute(_ sql: String, binds: [SQLiteData], onRow: (SQLiteDirectRow) -> Void) async throws {
        let deadline = ContinuousClock.now + SQLiteHandle.busyTimeout
        var pause = Duration.milliseconds(1)
        defer { turn?.stopWaiting() }
        while true {
            do {
                return try executeOnce(sql, binds: binds, onRow: onRow)
            } catch let failure as SQLiteFailure where failure.isBusy && ContinuousClock.now < deadline {
                if let turn {
                    turn.wait()
                    await Self.sleep(.milliseconds(1))
                } else {
                    await Self.sleep(pause)
                    pause = min(pause * 2, .milliseconds(50))
                }
            }
        }
    }

    package static let busyTimeout = Duration.seconds(10)

    /// Sleeps without giving up when the task is cancelled: a transaction's COMMIT must still run.
    private static func sleep(_ pause: Duration) async {
        do { try await Task.sleep(for: pause) } catch { usleep(UInt32(pause.milliseconds * 1000)) }
    }

    private func executeOnce(_ sql: String, binds: [SQLiteData], onRow: (SQLiteDirectRow) -> Void) throws {
        guard !closed else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "the database was closed", sql: sql) }
        let prepared = try prepared(sql)
        let statement = prepared.statement
        defer {
            // Ends the statement's read of the database (a statement left stepping keeps its snapshot open).
            // Its bindings stay until the next run binds every parameter again.
            sqlite_nio_sqlite3_reset(statement)
        }
        for (offset, value) in binds.enumerated() {
            try check(bind(value, at: Int32(offset + 1), to: statement), sql)
        }
        var columns: SQLiteColumns?
        while true {
            let status = sqlite_nio_sqlite3_step(statement)
            if status == SQLITE_DONE { return }
            guard status == SQLITE_ROW else {
                let failure = failure(status, sql)
                // Rows already handed out cannot be taken back: only a statement that gave none is retried.
                throw columns == nil || !failure.isBusy ? failure : SQLiteFailure(code: SQLITE_ERROR, message: failure.message, sql: sql)
            }
            let names = columns ?? prepared.columns()
            columns = names
            onRow(SQLiteDirectRow(columns: names, values: (0..<Int32(names.names.count)).map { Self.value(statement, $0) }))
        }
    }

    private func prepared(_ sql: String) throws -> Prepared {
        if let prepared = statements[sql] { return prepared }
        if statements.count >= Self.statementCacheLimit { finalizeStatements() }
        var statement: OpaquePointer?
        let status = sqlite_nio_sqlite3_prepare_v3(raw, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else { throw failure(status, sql) }
        let prepared = Prepared(statement: statement)
        statements[sql] = prepared
        return prepared
    }

    /// A prepared statement and its result's columns, read again only if SQLite prepared the statement
    /// anew (as after a schema change).
    private final class Prepared {
        let statement: OpaquePointer
        private var cached: (columns: SQLiteColumns, preparations: Int32)?

        init(statement: OpaquePointer) { self.statement = statement }

        func columns() -> SQLiteColumns {
            let preparations = sqlite_nio_sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_REPREPARE, 0)
            if let cached, cached.preparations == preparations { return cached.columns }
            let columns = SQLiteColumns(statement)
            cached = (columns, preparations)
            return columns
        }
    }

    private func bind(_ value: SQLiteData, at index: Int32, to statement: OpaquePointer) -> Int32 {
        switch value {
        case .integer(let value): sqlite_nio_sqlite3_bind_int64(statement, index, Int64(value))
        case .float(let value): sqlite_nio_sqlite3_bind_double(statement, index, value)
        case .text(let value):
            sqlite_nio_sqlite3_bind_text64(statement, index, value, UInt64(value.utf8.count), Self.transient, UInt8(SQLITE_UTF8))
        case .blob(let value):
            value.withUnsafeReadableBytes {
                sqlite_nio_sqlite3_bind_blob64(statement, index, $0.baseAddress, UInt64($0.count), Self.transient)
            }
        case .null: sqlite_nio_sqlite3_bind_null(statement, index)
        }
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(SQLiteInt64(sqlite_nio_sqlite3_column_int64(statement, column)))
        case SQLITE_FLOAT: return .float(sqlite_nio_sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let bytes = sqlite_nio_sqlite3_column_blob(statement, column) {
                buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count))
            }
            return .blob(buffer)
        default: return .null
        }
    }

    private func check(_ status: Int32, _ sql: String) throws {
        guard status == SQLITE_OK else { throw failure(status, sql) }
    }

    private func failure(_ status: Int32, _ sql: String) -> SQLiteFailure {
        SQLiteFailure(code: status, message: String(cString: sqlite_nio_sqlite3_errmsg(raw)), sql: sql)
    }

    private func finalizeStatements() {
        for prepared in statements.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
        statements.removeAll()
    }

    /// False in autocommit mode: no transaction is open on this connection.
    package var inTransaction: Bool { sqlite_nio_sqlite3_get_autocommit(raw) == 0 }

    package func close() {
        guard !closed else { return }
        closed = true
        finalizeStatements()
        sqlite_nio_sqlite3_close_v2(raw)
    }

    deinit { close() }
}

/// A result's column names and where each is, shared by its rows.
package final class SQLiteColumns: Sendable {
    package let names: [String]
    private let offsets: [String: Int]

    package init(_ statement: OpaquePointer) {
        let names = (0..<sqlite_nio_sqlite3_column_count(statement)).map { String(cString: sqlite_nio_sqlite3_column_name(statement, $0)) }
        self.names = names
        // The first of two same-named columns wins, as in SQLiteNIO.
        self.offsets = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    package func offset(of name: String) -> Int? { offsets[name] }
}

/// One row, read out of SQLite before the statement moves on, decoded as SQLiteKit decodes its rows.
package struct SQLiteDirectRow: SQLRow {
    package let columns: SQLiteColumns
    package let values: [SQLiteData]

    package var allColumns: [String] { columns.names }
    package func contains(column: String) -> Bool { columns.offset(of: column) != nil }
    package func decodeNil(column: String) throws -> Bool { columns.offset(of: column).map { values[$0] == .null } ?? true }
    package func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let offset = columns.offset(of: column) else {
            throw DecodingError.keyNotFound(SQLiteColumnKey(column), .init(codingPath: [], debugDescription: "no column '\(column)' in the row"))
        }
        let value = values[offset]
        // The store's own column types directly (the commonest by comparing types, which costs less than
        // a conformance lookup); anything else as SQLiteKit decodes it.
        switch value {
        case .text(let text) where D.self == String.self || D.self == String?.self:
            return D.self == String.self ? unsafeBitCast(text, to: D.self) : unsafeBitCast(Optional(text), to: D.self)
        case .integer(let integer) where D.self == Int64.self:
            return unsafeBitCast(Int64(integer), to: D.self)
        case .integer(let integer) where D.self == Int.self:
            return unsafeBitCast(Int(integer), to: D.self)
        default:
            break
        }
        if let direct = D.self as? any SQLiteDirectDecodable.Type, let decoded = direct.init(sqlite: value) {
            return decoded as! D
        }
        return try SQLiteDataDecoder().decode(D.self, from: value)
    }
}

/// Types read straight from a column's value; nil where the value is not of the type (the generic
/// decoder then reports the mismatch).
package protocol SQLiteDirectDecodable {
    init?(sqlite value: SQLiteData)
}

extension String: SQLiteDirectDecodable {
    package init?(sqlite value: SQLiteData) {
        guard case .text(let text) = value else { return nil }
        self = text
    }
}

extension Int64: SQLiteDirectDecodable {
    package init?(sqlite value: SQLiteData) {
        guard case .integer(let integer) = value else { return nil }
        self = Int64(integer)
    }
}

extension Int: SQLiteDirectDecodable {
    package init?(sqlite value: SQLiteData) {
        guard case .integer(let integer) = value else { return nil }
        self = Int(integer)
    }
}

extension Optional: SQLiteDirectDecodable where Wrapped: SQLiteDirectDecodable {
    package init?(sqlite value: SQLiteData) {
        if value == .null { self = .none; return }
        guard let wrapped = Wrapped(sqlite: value) else { return nil }
        self = .some(wrapped)
    }
}

private struct SQLiteColumnKey: CodingKey {
    let stringValue: String
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// `SQLDatabase` over one `SQLiteHandle`: SQLKit serializes each query with SQLite's dialect, the binds
/// are encoded as SQLiteKit encodes them, and the statement runs on the handle.
package struct SQLiteDirectDatabase: SQLDatabase {
    package let handle: SQLiteHandle
    package let logger: Logger
    package let counter: StatementCounter
    package var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    package var version: (any SQLDatabaseReportedVersion)? { nil }
    package var dialect: any SQLDialect { SQLiteDialect() }

    package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }

    package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = serialize(query)
        let encoder = SQLiteDataEncoder()
        counter.add()
        try await handle.execute(sql, binds: try binds.map { try encoder.encode($0) }, onRow: onRow)
    }
}
