import Foundation
import PostgresKit
import SeedgateDomain
import SeedgateSupport
import SQLKit

/// The statements run often enough on PostgreSQL to be prepared: each is parsed and planned once per
/// connection (a named statement) instead of on every run. A task read is planned in more time than it
/// runs: pgbench on this one, 8 clients, ran 9,300 a second unnamed and 44,800 prepared.
///
/// A prepared statement keeps the shape of its result for the connection's life, so one written as
/// `SELECT *` would fail for good on every connection that prepared it once another replica's migration
/// added a column. These name their columns instead: Seedgate's migrations only add, and an added
/// column does not change what a statement that names its columns returns. Should a statement fail
/// all the same for a changed result ("cached plan must not change result type"), its connection is
/// closed, taking the stale statement with it, and the statement runs again unprepared.
enum PostgresPrepared {
    /// The columns of `tasks` a video task is read from (`SQLStore.videoTask(from:)`).
    static let videoTaskColumns = [
        "id", "key_id", "request", "result", "status", "progress", "seed", "error_code", "error_message", "hold", "cost",
        "created_at", "started_at", "completed_at", "purged_at", "channel", "upstream_id", "upstream_status", "polls",
        "next_poll_at", "deadline_at", "usage_tokens", "dialect", "request_id",
    ]

    /// A read of keys' tasks by the tasks' ids ($1) and their keys' ids ($2), one of each or arrays
    /// of them pair by pair; its rows as they come.
    protocol KeyedTaskRead: PostgresPreparedStatement where Row == PostgresRow {
        associatedtype Bound: PostgresNonThrowingEncodable & Sendable
        var task: Bound { get }
        var key: Bound { get }
    }

    /// A key's video task with its webhook delivery, as every dialect's task view reads it.
    struct VideoTaskWithWebhook: KeyedTaskRead {
        static let name = "seedgate_video_task_with_webhook_v1"
        static let sql = """
            SELECT \(videoTaskColumns.map { "t.\($0)" }.joined(separator: ", ")), \(SQLStore.prefixedDeliveryColumns)
            FROM tasks t LEFT JOIN webhook_deliveries w ON w.task_id = t.id
            WHERE t.id = $1 AND t.key_id = $2 AND \(SQLStore.shownVideoTasks("t"))
            """
        let task: String
        let key: String
    }

    /// Several keys' video tasks with their webhook deliveries, as `VideoTaskWithWebhook` reads one:
    /// pair by pair (no pair twice), a row for each pair that names a task of that key.
    struct VideoTasksWithWebhooks: KeyedTaskRead {
        static let name = "seedgate_video_tasks_with_webhooks_v1"
        static let sql = """
            SELECT \(videoTaskColumns.map { "t.\($0)" }.joined(separator: ", ")), \(SQLStore.prefixedDeliveryColumns)
            FROM unnest($1::text[], $2::text[]) AS q(id, key_id)
            JOIN tasks t ON t.id = q.id AND t.key_id = q.key_id
            LEFT JOIN webhook_deliveries w ON w.task_id = t.id
            WHERE \(SQLStore.shownVideoTasks("t"))
            """
        let task: [String]
        let key: [String]
    }

    /// A submission in one statement: the key's hold (the rule of `SQLStore.takeHold`, for one more
    /// unfinished task), the task's row and its ledger line, written together or not at all. No row
    /// counted means the hold was refused and nothing was written.
    struct VideoSubmission: PostgresPreparedStatement {
        static let name = "seedgate_video_submission_v1"
        static let sql = """
            WITH held AS (
                UPDATE api_keys SET held = held + $1, in_flight = in_flight + 1
                WHERE id = $2 AND balance - held >= $1 AND in_flight + 1 <= $3 RETURNING id),
            task AS (
                INSERT INTO tasks (id, key_id, kind, created_at, status, model, request, progress, seed, hold, callback_url, dialect, request_id)
                SELECT $4, $2, 'video', $5, 'pending', $6, $7, 0, $8, $1, $9, $10, $11 FROM held RETURNING id),
            line AS (
                INSERT INTO ledger (id, key_id, kind, balance_delta, held_delta, ref, note, created_at)
                SELECT $12, $2, 'hold', 0, $1, $4, NULL, $5 FROM held WHERE $1 > 0 RETURNING id)
            SELECT COUNT(*) AS n FROM task
            """
        static let bindingDataTypes: [PostgresDataType] = [.int8, .text, .int8, .text, .int8, .text, .text, .int8, .text, .text, .text, .text]
        typealias Row = PostgresRow

        let task: SeedgateDomain.VideoTask
        let requestJSON: String
        let inFlightLimit: Int64
        let ledgerID: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 12)
            bindings.append(task.hold)
            bindings.append(task.keyID)
            bindings.append(inFlightLimit)
            bindings.append(task.id)
            bindings.append(Epoch.millis(task.createdAt))
            bindings.append(task.request.model.rawValue)
            bindings.append(requestJSON)
            bindings.append(task.seed)
            bindings.append(task.request.callbackURL)
            bindings.append(task.dialect.rawValue)
            bindings.append(task.requestID)
            bindings.append(ledgerID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// Whether `error` says a prepared statement's result no longer matches its table (SQLSTATE 0A000).
    static func isStale(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "0A000"
    }
}

extension PostgresPrepared.KeyedTaskRead {
    static var bindingDataTypes: [PostgresDataType] { [Bound.psqlType, Bound.psqlType] }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(task)
        bindings.append(key)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

/// A row of a prepared statement as an `SQLRow` that decodes the types Seedgate stores (text and
/// integers, each possibly NULL) straight from its cell. PostgresKit's own `SQLRow` takes its general
/// path for every column (a coding path built, the type found by a cast at run time): a task read
/// decodes 34 columns, and that path was about 5% of a PostgreSQL task read. Other types, and a
/// missing column, still go to PostgresKit's row, so the answers and errors are its own.
package struct PostgresCellRow: SQLRow {
    private let row: PostgresRow
    private let cells: PostgresRandomAccessRow

    package init(_ row: PostgresRow) {
        self.row = row
        self.cells = row.makeRandomAccess()
    }

    package var allColumns: [String] { cells.map(\.columnName) }

    package func contains(column: String) -> Bool { cells.contains(column) }

    package func decodeNil(column: String) throws -> Bool { !cells.contains(column) || cells[column].bytes == nil }

    package func decode<T: Decodable>(column: String, as type: T.Type) throws -> T {
        guard cells.contains(column) else { return try row.sql().decode(column: column, as: T.self) }
        let cell = cells[column]
        switch ObjectIdentifier(T.self) {
        case ObjectIdentifier(String.self): return try Self.same(cell.decode(String.self), as: T.self)
        case ObjectIdentifier(String?.self): return try Self.same(Self.optional(cell, String.self), as: T.self)
        case ObjectIdentifier(Int.self): return try Self.same(cell.decode(Int.self), as: T.self)
        case ObjectIdentifier(Int?.self): return try Self.same(Self.optional(cell, Int.self), as: T.self)
        case ObjectIdentifier(Int64.self): return try Self.same(cell.decode(Int64.self), as: T.self)
        case ObjectIdentifier(Int64?.self): return try Self.same(Self.optional(cell, Int64.self), as: T.self)
        default: return try row.sql().decode(column: column, as: T.self)
        }
    }

    private static func optional<V: PostgresDecodable>(_ cell: PostgresCell, _ type: V.Type) throws -> V? {
        cell.bytes == nil ? nil : try cell.decode(V.self)
    }

    /// `value` as `T`, which the caller has found to be its own type.
    private static func same<V, T>(_ value: V, as _: T.Type) -> T {
        unsafeBitCast(value, to: T.self)
    }
}
