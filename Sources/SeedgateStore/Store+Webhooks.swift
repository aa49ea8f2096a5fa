import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit


/// The webhook outbox. A delivery is queued in the same transaction that puts its task in a final
/// state, so none is lost and none is queued twice (one per task, by a unique index).
extension SQLStore {
    package func enqueueWebhook(_ db: any SQLDatabase, taskID: String) async throws {
        guard let row = try await db.raw("SELECT key_id, callback_url FROM tasks WHERE id = \(bind: taskID)").first(),
              let url = try row.decode(column: "callback_url", as: String?.self)
        else { return }
        let now = Epoch.millis(clock.now)
        try await db.raw("""
            INSERT INTO webhook_deliveries (id, key_id, task_id, url, status, attempts, next_attempt_at, created_at)
            VALUES (\(bind: "msg_" + Identifiers.ulid(clock.now)), \(bind: try row.decode(column: "key_id", as: String.self)), \(bind: taskID),
                    \(bind: url), 'pending', 0, \(bind: now), \(bind: now))
            ON CONFLICT (task_id) DO NOTHING
            """).run()
    }

    public func claimWebhook(owner: String, lease: Duration) async throws -> WebhookDelivery? {
        let now = Epoch.millis(clock.now)
        return try await claim(
            "webhook_deliveries", owner: owner, until: now + lease.milliseconds,
            free: "status = 'pending' AND next_attempt_at <= \(bind: now) AND (lease_until IS NULL OR lease_until < \(bind: now))",
            order: "next_attempt_at"
        ).first.map { try Self.delivery(from: $0) }
    }

    /// Records one attempt. `retryAfter` nil means the delivery is over (delivered, or given up).
    public func recordWebhookAttempt(id: String, owner: String, delivered: Bool, statusCode: Int?, error: String?, retryAfter: Duration?) async throws {
        let now = Epoch.millis(clock.now)
        let status = DeliveryStatus.after(attempt: delivered, retrying: retryAfter != nil)
        let next = now + (retryAfter ?? .zero).milliseconds
        try await provider.transaction { db in
            try await db.raw("""
                UPDATE webhook_deliveries SET status = \(bind: status.rawValue), attempts = attempts + 1, last_status_code = \(bind: statusCode),
                    last_error = \(bind: error), next_attempt_at = \(bind: next), delivered_at = \(bind: delivered ? now : nil),
                    lease_owner = NULL, lease_until = NULL
                WHERE id = \(bind: id) AND lease_owner = \(bind: owner) AND status IN (\(unsafeRaw: DeliveryStatus.sqlSources(of: status)))
                """).run()
        }
    }

    public func webhookDelivery(taskID: String) async throws -> WebhookDelivery? {
        try await provider.read { db in
            try await db.raw("SELECT * FROM webhook_deliveries WHERE task_id = \(bind: taskID)").first().map { try Self.delivery(from: $0) }
        }
    }

    /// A video task with its webhook's delivery state, in one query: what a task poll shows.
    public func videoTaskWithWebhook(id: String, keyID: String) async throws -> TaskWithWebhook? {
        // No task's id holds NUL, and on PostgreSQL one such read would fail the whole statement it
        // shares with other keys' reads: answered here, as the task it names is not there.
        guard !JSONFields.holdsNUL(id), !JSONFields.holdsNUL(keyID) else { return nil }
        let read = TaskRead(id: id, keyID: keyID)
        // The most frequent read of all (clients poll it): on PostgreSQL prepared, and read together
        // with the reads that arrive on the same event loop while others are being read.
        if let postgres = provider as? PostgresProvider, let taskReads {
            return try await taskReads.run(read, lane: PreferredEventLoop.current.map(ObjectIdentifier.init)) { reads in
                try await self.videoTasksWithWebhooks(reads, on: postgres)
            }.get()
        }
        return try await provider.read { db in try await Self.videoTaskWithWebhook(db, read) }
    }

    /// A task with its webhook's delivery, as a poll shows it.
    public typealias TaskWithWebhook = (task: VideoTask, webhook: WebhookDelivery?)

    /// A key's task, as a task read asks for it.
    package struct TaskRead: Hashable, Sendable {
        let id: String
        let keyID: String
    }

    /// How many statements of task reads each event loop has out at once on PostgreSQL; reads arriving
    /// while they are out wait, and go together in the next (`Batches`).
    static let taskReadsAtOnce = 2

    /// The tasks of `reads`, each answered on its own: nil where the key has no such task, an error
    /// where its row could not be read (the others' answers stand). Prepared, one statement for all;
    /// where the statement was found stale, unprepared, one read at a time.
    private func videoTasksWithWebhooks(_ reads: [TaskRead], on postgres: PostgresProvider) async throws -> [Result<TaskWithWebhook?, any Error>] {
        let rows: [any SQLRow]?
        if reads.count == 1 {
            rows = try await postgres.prepared(PostgresPrepared.VideoTaskWithWebhook(task: reads[0].id, key: reads[0].keyID), again: true)
        } else {
            let distinct = Array(Set(reads))
            rows = try await postgres.prepared(PostgresPrepared.VideoTasksWithWebhooks(task: distinct.map(\.id), key: distinct.map(\.keyID)), again: true)
        }
        guard let rows else {
            return try await provider.read { db in
                var answers: [Result<TaskWithWebhook?, any Error>] = []
                for read in reads {
                    do {
                        answers.append(.success(try await Self.videoTaskWithWebhook(db, read)))
                    } catch where !PostgresProvider.isConnectionLost(error) {
                        answers.append(.failure(error))
                    }
                }
                return answers
            }
        }
        if reads.count == 1 { return [Result { try rows.first.map(Self.taskWithWebhook(from:)) }] }
        var found: [TaskRead: Result<TaskWithWebhook?, any Error>] = [:]
        for row in rows {
            let read = TaskRead(id: try row.decode(column: "id", as: String.self), keyID: try row.decode(column: "key_id", as: String.self))
            found[read] = Result { try Self.taskWithWebhook(from: row) }
        }
        return reads.map { found[$0] ?? .success(nil) }
    }

    private static func videoTaskWithWebhook(_ db: any SQLDatabase, _ read: TaskRead) async throws -> TaskWithWebhook? {
        try await db.raw("""
            SELECT t.*, \(unsafeRaw: prefixedDeliveryColumns) FROM tasks t LEFT JOIN webhook_deliveries w ON w.task_id = t.id
            WHERE t.id = \(bind: read.id) AND t.key_id = \(bind: read.keyID) AND \(unsafeRaw: shownVideoTasks("t"))
            """).first().map(taskWithWebhook(from:))
    }

    private static func taskWithWebhook(from row: any SQLRow) throws -> TaskWithWebhook {
        let hasWebhook = try !row.decodeNil(column: "webhook_id")
        return (try videoTask(from: row), hasWebhook ? try delivery(from: row, prefix: "webhook_") : nil)
    }

    static let prefixedDeliveryColumns = [
        "id", "key_id", "task_id", "url", "status", "attempts", "last_status_code", "last_error", "next_attempt_at", "delivered_at",
    ].map { "w.\($0) AS webhook_\($0)" }.joined(separator: ", ")

    /// A delivery from its row; `prefix` is put before each column's name, for rows where they are aliased.
    package static func delivery(from row: any SQLRow, prefix: String = "") throws -> WebhookDelivery {
        func column(_ name: String) -> String { prefix.isEmpty ? name : prefix + name }
        return WebhookDelivery(
            id: try row.decode(column: column("id"), as: String.self), keyID: try row.decode(column: column("key_id"), as: String.self),
            taskID: try row.decode(column: column("task_id"), as: String.self), url: try row.decode(column: column("url"), as: String.self),
            status: try row.decode(column: column("status"), as: String.self), attempts: try row.decode(column: column("attempts"), as: Int.self),
            lastStatusCode: try row.decode(column: column("last_status_code"), as: Int?.self),
            lastError: try row.decode(column: column("last_error"), as: String?.self),
            nextAttemptAt: Epoch.date(try row.decode(column: column("next_attempt_at"), as: Int64.self)),
            deliveredAt: try row.decode(column: column("delivered_at"), as: Int64?.self).map(Epoch.date)
        )
    }
}
