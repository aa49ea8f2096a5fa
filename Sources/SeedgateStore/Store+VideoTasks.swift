import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit
import Synchronization

/// JSON the store keeps (a task's request, its result), decoded, by its text. Neither changes once
/// written, and clients poll the same task many times: decoding them again each time was a sixth of a
/// task read's work. Keyed by the text itself, an entry cannot go stale; the cache starts over when full.
package final class DecodedJSONCache<Value: Decodable & Sendable>: Sendable {
    private let cache = Mutex<[String: Value]>([:])
    private let limit: Int

    package init(limit: Int = 2048) { self.limit = limit }

    package func decode(_ json: String) throws -> Value {
        if let hit = cache.withLock({ $0[json] }) { return hit }
        let value = try JSONDecoder().decode(Value.self, from: Data(json.utf8))
        cache.withLock { cache in
            if cache.count >= limit { cache.removeAll(keepingCapacity: true) }
            cache[json] = value
        }
        return value
    }
}

/// How tasks' requests and results are kept as JSON.
package enum StoredJSON {
    package static let requests = DecodedJSONCache<GenerationRequest>()
    package static let results = DecodedJSONCache<VideoResult>()

    /// The JSON `GenerationRequest`'s `Codable` conformance reads (its property names, absent
    /// optionals left out), written directly: `JSONEncoder` took a twentieth of a submission.
    package static func encode(_ request: GenerationRequest) -> String {
        func media(_ inputs: [MediaInput]) -> JSONOut {
            .array(inputs.map { input in
                .obj([
                    "url": .string(input.url), "assetID": input.assetID.map(JSONOut.string),
                    "role": input.role.map { .string($0.rawValue) }, "field": .string(input.field),
                ])
            })
        }
        return JSONOut.obj([
            "model": .string(request.model.rawValue), "prompt": request.prompt.map(JSONOut.string),
            "duration": .int(request.duration), "size": .string(request.size), "resolution": .string(request.resolution),
            "seed": request.seed.map(JSONOut.int), "generateAudio": .bool(request.generateAudio),
            "returnLastFrame": .bool(request.returnLastFrame), "tools": .array(request.tools.map(JSONOut.string)),
            "images": media(request.images), "videos": media(request.videos), "audios": media(request.audios),
            "callbackURL": request.callbackURL.map(JSONOut.string), "watermark": .bool(request.watermark),
            "ark": request.ark.map { ark in
                .obj([
                    "modelPicksDuration": ark.modelPicksDuration.map(JSONOut.bool), "frames": ark.frames.map { .int($0) },
                    "cameraFixed": ark.cameraFixed.map(JSONOut.bool), "serviceTier": ark.serviceTier.map(JSONOut.string),
                    "executionExpiresAfter": ark.executionExpiresAfter.map { .int($0) },
                    "safetyIdentifier": ark.safetyIdentifier.map(JSONOut.string), "priority": ark.priority.map { .int($0) },
                    "draft": ark.draft.map(JSONOut.bool), "outputFormat": ark.outputFormat.map(JSONOut.string),
                    "omniReferenceTaskType": ark.omniReferenceTaskType.map(JSONOut.string),
                ])
            },
        ]).serialized()
    }
}


extension SQLStore {
    /// Stores a new video task, or returns the task an earlier request with the same idempotency key
    /// and body made (refusing the same key with another body), in one transaction.
    /// With `hold` > 0, that many credits are held for the task (402 when the key lacks them), and a key
    /// with `maxInFlight` unfinished tasks already gets 429: all in the same transaction as the insert.
    public func insertVideoTask(
        keyID: String, request: GenerationRequest, dialect: Dialect = .apimart, requestID: String? = nil, seed: Int64, hold: Int64 = 0, maxInFlight: Int = .max,
        idempotency: IdempotencyClaim?
    ) async throws -> (task: VideoTask, replayed: Bool) {
        let now = clock.now
        let requestJSON = StoredJSON.encode(request)
        if idempotency == nil, provider.flavor == .postgres {
            // Refused, it is told why from the key's figures as they are now, read without a lock; should
            // they show room after all (a batch was refused whole, or tasks finished meanwhile), it is
            // tried again alone. The transaction below is the last resort, for a key that keeps changing.
            for attempt in 0..<3 {
                if let task = try await insertVideoTaskInOneStatement(
                    keyID: keyID, request: request, requestJSON: requestJSON, dialect: dialect, requestID: requestID, seed: seed, hold: hold,
                    maxInFlight: maxInFlight, batched: attempt == 0, now: now) {
                    return (task, false)
                }
                guard let figures = try await provider.read({ db in try await Self.holdFigures(db, keyID: keyID) }) else { break }
                if let refusal = Self.holdRefusal(figures, counted: 1, limit: Int64(clamping: maxInFlight), amount: hold,
                                                  what: Self.holdDescription(request)) {
                    throw refusal
                }
            }
        }
        return try await provider.transaction { db in
            if let idempotency {
                if let row = try await db.raw("""
                    SELECT body_hash, task_id, created_at FROM idempotency_keys
                    WHERE key_id = \(bind: keyID) AND idempotency_key = \(bind: idempotency.key)
                    """).first() {
                    let created = Epoch.date(try row.decode(column: "created_at", as: Int64.self))
                    if now.timeIntervalSince(created) < IdempotencyClaim.window {
                        guard try row.decode(column: "body_hash", as: String.self) == idempotency.bodyHash else {
                            throw SeedgateError(.conflict, code: "idempotency_key_reused",
                                                message: "Idempotency-Key '\(idempotency.key)' was already used with a different request body",
                                                param: "Idempotency-Key")
                        }
                        let taskID = try row.decode(column: "task_id", as: String.self)
                        if let task = try await self.videoTask(db, id: taskID, keyID: keyID) { return (task, true) }
                    }
                    try await db.raw("DELETE FROM idempotency_keys WHERE key_id = \(bind: keyID) AND idempotency_key = \(bind: idempotency.key)").run()
                }
            }
            let task = Self.newVideoTask(keyID: keyID, request: request, dialect: dialect, requestID: requestID, seed: seed, hold: hold, at: now)
            let id = task.id
            try await db.raw("INSERT INTO \(unsafeRaw: Self.videoTaskColumns) VALUES (\(Self.videoTaskValues(task, requestJSON: requestJSON)))").run()
            try await self.placeHold(db, keyID: keyID, ref: id, amount: hold, what: Self.holdDescription(request),
                                     inFlightLimit: maxInFlight)
            if let idempotency {
                try await db.raw("""
                    INSERT INTO idempotency_keys (key_id, idempotency_key, body_hash, task_id, created_at)
                    VALUES (\(bind: keyID), \(bind: idempotency.key), \(bind: idempotency.bodyHash), \(bind: id), \(bind: Epoch.millis(now)))
                    """).run()
            }
            return (task, false)
        }
    }

    /// What a video's hold is for, in a refusal's message.
    private static func holdDescription(_ request: GenerationRequest) -> String {
        "this \(request.duration) s \(request.resolution) video"
    }

    /// A task as a submission makes it: pending, nothing rendered yet.
    private static func newVideoTask(keyID: String, request: GenerationRequest, dialect: Dialect, requestID: String?, seed: Int64, hold: Int64, at now: Date) -> VideoTask {
        VideoTask(id: Identifiers.task(at: now), keyID: keyID, request: request, status: .pending, progress: 0, seed: seed,
                  result: nil, failure: nil, hold: hold, cost: nil, createdAt: now, startedAt: nil, completedAt: nil,
                  dialect: dialect, requestID: requestID)
    }

    /// A new task's row: its columns, and its values in that order.
    private static let videoTaskColumns = "tasks (id, key_id, kind, created_at, status, model, request, progress, seed, hold, callback_url, dialect, request_id)"

    private static func videoTaskValues(_ task: VideoTask, requestJSON: String) -> SQLQueryString {
        """
        \(bind: task.id), \(bind: task.keyID), 'video', \(bind: Epoch.millis(task.createdAt)), 'pending', \(bind: task.request.model.rawValue),
        \(bind: requestJSON), 0, \(bind: task.seed), \(bind: task.hold), \(bind: task.request.callbackURL), \(bind: task.dialect.rawValue),
        \(bind: task.requestID)
        """
    }

    /// On PostgreSQL, the hold, the task and its ledger line in one statement (data-modifying CTEs
    /// commit together), so a submission is one round trip instead of five; and submissions of one key
    /// that arrive while another is written go in together (`Batches`; `batched`). Nil when
    /// the hold was refused (for this one, or for its batch as a whole): nothing was written, and
    /// `insertVideoTask` says why, or tries again.
    private func insertVideoTaskInOneStatement(
        keyID: String, request: GenerationRequest, requestJSON: String, dialect: Dialect, requestID: String?, seed: Int64, hold: Int64,
        maxInFlight: Int, batched: Bool, now: Date
    ) async throws -> VideoTask? {
        let task = Self.newVideoTask(keyID: keyID, request: request, dialect: dialect, requestID: requestID, seed: seed, hold: hold, at: now)
        let submission = Submission(task: task, requestJSON: requestJSON, ledgerID: Self.ledgerID(at: now))
        let limit = Int64(clamping: maxInFlight)
        let written: Bool
        if batched, let submissions {
            written = try await submissions.run(submission, lane: "\(keyID) \(limit)") { batch in
                let written = try await self.insertVideoTasks(batch, keyID: keyID, limit: limit)
                return Array(repeating: written, count: batch.count)
            }
        } else {
            written = try await insertVideoTasks([submission], keyID: keyID, limit: limit)
        }
        return written ? task : nil
    }

    /// A new task with what its row and its ledger line are written from.
    package struct Submission: Sendable {
        let task: VideoTask
        let requestJSON: String
        let ledgerID: String
    }

    /// One key's submissions in one statement: the hold for all of them (the rule of `takeHold`), their
    /// rows and their ledger lines; all written, or (the rule refused) none. One alone runs prepared.
    private func insertVideoTasks(_ batch: [Submission], keyID: String, limit: Int64) async throws -> Bool {
        if batch.count == 1, let only = batch.first, let postgres = provider as? PostgresProvider,
           let rows = try await postgres.prepared(PostgresPrepared.VideoSubmission(
               task: only.task, requestJSON: only.requestJSON, inFlightLimit: limit, ledgerID: only.ledgerID), again: false) {
            return try rows.first?.decode(column: "n", as: Int.self) == 1
        }
        let total = batch.reduce(Int64(0)) { $0 + $1.task.hold }
        let rows = SQLList(batch.map { item -> SQLQueryString in
            "(\(Self.videoTaskValues(item.task, requestJSON: item.requestJSON)), \(bind: item.ledgerID))"
        })
        let inserted = try await provider.write { db in
            try await db.raw("""
                WITH batch (id, key_id, kind, created_at, status, model, request, progress, seed, hold, callback_url, dialect, request_id, ledger_id)
                    AS (VALUES \(rows)),
                held AS (\(Self.takeHold(keyID: keyID, amount: total, counted: batch.count, limit: limit))),
                task AS (INSERT INTO \(unsafeRaw: Self.videoTaskColumns)
                    SELECT b.id, b.key_id, b.kind, b.created_at, b.status, b.model, b.request, b.progress, b.seed, b.hold, b.callback_url, b.dialect, b.request_id
                    FROM batch b, held RETURNING id),
                line AS (INSERT INTO \(unsafeRaw: Self.ledgerColumns)
                    SELECT b.ledger_id, b.key_id, 'hold', 0, b.hold, b.id, NULL, b.created_at FROM batch b, held WHERE b.hold > 0 RETURNING id)
                SELECT COUNT(*) AS n FROM task
                """).first()?.decode(column: "n", as: Int.self) ?? 0
        }
        return inserted == batch.count
    }

    /// The video tasks a key's views show (not asset tasks, not deleted ones), as SQL over `tasks`, or
    /// over the table named `alias`.
    static func shownVideoTasks(_ alias: String? = nil) -> String {
        let column = { (name: String) in alias.map { "\($0).\(name)" } ?? name }
        return "\(column("kind")) = 'video' AND \(column("deleted_at")) IS NULL"
    }

    public func videoTask(id: String, keyID: String) async throws -> VideoTask? {
        // Every dialect's task view reads it, as often as clients poll: on PostgreSQL prepared and
        // read together with the reads beside it (`videoTaskWithWebhook`).
        if taskReads != nil { return try await videoTaskWithWebhook(id: id, keyID: keyID)?.task }
        return try await provider.read { db in try await self.videoTask(db, id: id, keyID: keyID) }
    }

    package func videoTask(_ db: any SQLDatabase, id: String, keyID: String) async throws -> VideoTask? {
        try await db.raw("""
            SELECT * FROM tasks WHERE id = \(bind: id) AND key_id = \(bind: keyID) AND \(unsafeRaw: Self.shownVideoTasks())
            """).first().map(Self.videoTask(from:))
    }

    /// The condition for tasks a client sees in `status`: processing here but waiting upstream reads as
    /// pending, as `videoTask(from:)` maps it.
    static func condition(for status: VideoStatus) -> String {
        let waiting = UpstreamRef.waiting.map { "'\($0)'" }.joined(separator: ", ")
        switch status {
        case .pending: return "(status = 'pending' OR (status = 'processing' AND upstream_status IN (\(waiting))))"
        case .processing: return "(status = 'processing' AND (upstream_status IS NULL OR upstream_status NOT IN (\(waiting))))"
        default: return "status = '\(status.rawValue)'"
        }
    }

    public func searchVideoTasks(keyID: String, filter: TaskFilter, offset: Int, limit: Int) async throws -> (tasks: [VideoTask], total: Int) {
        var conditions = SQLQueryString("key_id = \(bind: keyID) AND \(unsafeRaw: Self.shownVideoTasks())")
        let expired = ["expired", "deadline_exceeded"].map { "'\($0)'" }.joined(separator: ", ")
        switch filter.state {
        case .queued?: conditions.appendInterpolation(unsafeRaw: " AND " + Self.condition(for: .pending))
        case .running?: conditions.appendInterpolation(unsafeRaw: " AND " + Self.condition(for: .processing))
        case .succeeded?: conditions.appendInterpolation(unsafeRaw: " AND status = 'completed'")
        case .cancelled?: conditions.appendInterpolation(unsafeRaw: " AND status = 'cancelled'")
        case .failed?: conditions.appendInterpolation(unsafeRaw: " AND status = 'failed' AND (error_code IS NULL OR error_code NOT IN (\(expired)))")
        case .expired?: conditions.appendInterpolation(unsafeRaw: " AND status = 'failed' AND error_code IN (\(expired))")
        case nil: break
        }
        if let ids = filter.ids {
            conditions.appendInterpolation(unsafeRaw: " AND id IN (")
            for (index, id) in ids.enumerated() {
                if index > 0 { conditions.appendInterpolation(unsafeRaw: ", ") }
                conditions.appendInterpolation(bind: id)
            }
            conditions.appendInterpolation(unsafeRaw: ")")
        }
        if let model = filter.model { conditions.appendInterpolation(unsafeRaw: " AND model = "); conditions.appendInterpolation(bind: model.rawValue) }
        if let tier = filter.serviceTier {
            // The tier lives in the stored request, which `StoredJSON.encode` writes compactly.
            conditions.appendInterpolation(unsafeRaw: tier == "flex" ? " AND request LIKE '%\"serviceTier\":\"flex\"%'" : " AND request NOT LIKE '%\"serviceTier\":\"flex\"%'")
        }
        return try await videoTaskPage(where: conditions, offset: offset, limit: limit)
    }

    public func deleteVideoTask(id: String, keyID: String) async throws -> Bool {
        try await provider.transaction { db in
            !(try await db.raw("""
                UPDATE tasks SET deleted_at = \(bind: Epoch.millis(self.clock.now))
                WHERE id = \(bind: id) AND key_id = \(bind: keyID) AND \(unsafeRaw: Self.shownVideoTasks())
                    AND status IN ('completed', 'failed', 'cancelled') RETURNING id
                """).all()).isEmpty
        }
    }

    /// The key's video tasks, newest first, `limit` at a time; `cursor` is the last id of the previous page.
    public func videoTasks(keyID: String, status: VideoStatus?, limit: Int, before cursor: String?) async throws -> TaskPage {
        try await provider.read { db in
            var query = SQLQueryString("SELECT * FROM tasks WHERE key_id = \(bind: keyID) AND \(unsafeRaw: Self.shownVideoTasks())")
            if let status { query.appendInterpolation(unsafeRaw: " AND " + Self.condition(for: status)) }
            if let cursor { query.appendInterpolation(unsafeRaw: " AND id < "); query.appendInterpolation(bind: cursor) }
            query.appendInterpolation(unsafeRaw: " ORDER BY id DESC LIMIT \(limit + 1)")
            let tasks = try await db.raw(query).all().map(Self.videoTask(from:))
            let page = Array(tasks.prefix(limit))
            return TaskPage(tasks: page, nextCursor: tasks.count > limit ? page.last?.id : nil)
        }
    }

    /// Claims the oldest pending video task, or one whose worker's lease ran out.
    public func claimVideoTask(owner: String, lease: Duration) async throws -> VideoTask? {
        let now = Epoch.millis(clock.now)
        // Pending, or processing here whose worker's lease ran out (processing -> processing).
        let free: SQLQueryString = """
            kind = 'video' AND upstream_id IS NULL
            AND (status = 'pending' OR (status = 'processing' AND lease_until < \(bind: now)))
            """
        // Every idle worker loop asks every two seconds (up to sixty-five in front of Ark accounts): a read
        // finds nothing almost always, and then no write is made (on SQLite, none queued for the one writer).
        guard try await provider.read({ db in try await db.raw("SELECT id FROM tasks WHERE \(free) LIMIT 1").first() }) != nil else { return nil }
        return try await claim(
            "tasks", owner: owner, until: now + lease.milliseconds,
            also: """
                status = \(bind: VideoStatus.processing.rawValue), attempts = attempts + 1, started_at = COALESCE(started_at, \(bind: now)),
                progress = CASE WHEN progress < 1 THEN 1 ELSE progress END
                """,
            free: free,
            order: "created_at"
        ).first.map(Self.videoTask(from:))
    }

    public func attempts(taskID: String) async throws -> Int {
        try await provider.read { db in
            try await db.raw("SELECT attempts FROM tasks WHERE id = \(bind: taskID)").first()?.decode(column: "attempts", as: Int.self) ?? 0
        }
    }

    /// Records progress and extends the lease. False when the task is no longer this worker's to run
    /// (cancelled, or taken over): the worker then stops.
    public func reportProgress(taskID: String, owner: String, progress: Int, lease: Duration) async throws -> Bool {
        let until = Epoch.millis(clock.now) + lease.milliseconds
        let percent = min(99, max(1, progress))
        // Progress only moves forward: a render that starts over (a retry, another replica's claim)
        // keeps the figure clients have already seen.
        return try await provider.transaction { db in
            !(try await db.raw("""
                UPDATE tasks SET progress = CASE WHEN progress < \(bind: percent) THEN \(bind: percent) ELSE progress END,
                    lease_until = \(bind: until)
                WHERE id = \(bind: taskID) AND status = 'processing' AND lease_owner = \(bind: owner) RETURNING id
                """).all()).isEmpty
        }
    }

    /// Finishes a task, once: only the worker holding it, only while it is still processing. In the same
    /// transaction a success is charged `cost` (the rest of the hold is released), a failure releases the
    /// whole hold, and the webhook, if any, is queued.
    /// A failure is recorded as `failed`, or as `cancelled` when `cancelled` is set (an upstream cancelled it).
    public func finishVideoTask(
        taskID: String, owner: String, outcome: Result<VideoResult, Failure>, cost: Int64 = 0, usageTokens: Int64? = nil, cancelled: Bool = false
    ) async throws -> Bool {
        let now = Epoch.millis(clock.now)
        // A worker ends only a task it runs: the states a task may complete from (processing).
        let running = VideoStatus.sqlSources(of: .completed)
        return try await provider.transaction { db in
            let rows: [any SQLRow]
            switch outcome {
            case .success(let result):
                let json = String(decoding: try JSONEncoder().encode(result), as: UTF8.self)
                rows = try await db.raw("""
                    UPDATE tasks SET status = \(bind: VideoStatus.completed.rawValue), progress = 100, result = \(bind: json), completed_at = \(bind: now),
                        lease_owner = NULL, lease_until = NULL, cost = \(bind: cost), usage_tokens = \(bind: usageTokens),
                        upstream_status = CASE WHEN upstream_id IS NULL THEN upstream_status ELSE 'succeeded' END
                    WHERE id = \(bind: taskID) AND status IN (\(unsafeRaw: running)) AND lease_owner = \(bind: owner) RETURNING id, key_id, hold
                    """).all()
            case .failure(let failure):
                rows = try await db.raw("""
                    UPDATE tasks SET status = \(bind: (cancelled ? VideoStatus.cancelled : .failed).rawValue), progress = 100, error_code = \(bind: failure.code), error_message = \(bind: failure.message),
                        completed_at = \(bind: now), lease_owner = NULL, lease_until = NULL
                    WHERE id = \(bind: taskID) AND status IN (\(unsafeRaw: running)) AND lease_owner = \(bind: owner) RETURNING id, key_id, hold
                    """).all()
            }
            guard let row = rows.first else { return false }
            let keyID = try row.decode(column: "key_id", as: String.self)
            let hold = try row.decode(column: "hold", as: Int64.self)
            if case .success = outcome {
                try await self.settle(db, keyID: keyID, ref: taskID, hold: hold, cost: min(cost, hold), endsVideoTask: true)
            } else {
                try await self.release(db, keyID: keyID, ref: taskID, hold: hold, endsVideoTask: true)
            }
            try await self.enqueueWebhook(db, taskID: taskID)
            return true
        }
    }

    /// Cancels a task that has not finished. Returns the task as it now is, or nil if not the key's.
    /// With `unlessSubmitted`, a task that an upstream has accepted meanwhile is left alone (it must be
    /// cancelled upstream first).
    public func cancelVideoTask(id: String, keyID: String, unlessSubmitted: Bool = false) async throws -> (task: VideoTask, cancelled: Bool)? {
        let now = Epoch.millis(clock.now)
        return try await provider.transaction { db in
            let rows = try await db.raw("""
                UPDATE tasks SET status = \(bind: VideoStatus.cancelled.rawValue), completed_at = \(bind: now), lease_owner = NULL, lease_until = NULL,
                    error_code = 'cancelled', error_message = 'cancelled by the client'
                WHERE id = \(bind: id) AND key_id = \(bind: keyID) AND kind = 'video' AND status IN (\(unsafeRaw: VideoStatus.sqlSources(of: .cancelled)))
                  \(unsafeRaw: unlessSubmitted ? "AND upstream_id IS NULL" : "")
                RETURNING id, hold
                """).all()
            if let row = rows.first {
                try await self.release(db, keyID: keyID, ref: id, hold: try row.decode(column: "hold", as: Int64.self), endsVideoTask: true)
                try await self.enqueueWebhook(db, taskID: id)
            }
            guard let task = try await self.videoTask(db, id: id, keyID: keyID) else { return nil }
            return (task, !rows.isEmpty)
        }
    }

    /// Finished tasks whose result files are past retention and not yet deleted.
    public func tasksToPurge(completedBefore: Date, limit: Int = 100) async throws -> [(id: String, result: VideoResult)] {
        try await provider.read { db in
            try await db.raw("""
                SELECT id, result FROM tasks WHERE kind = 'video' AND status = 'completed' AND purged_at IS NULL
                  AND completed_at < \(bind: Epoch.millis(completedBefore)) ORDER BY completed_at LIMIT \(unsafeRaw: String(limit))
                """).all().compactMap { row in
                guard let json = try row.decode(column: "result", as: String?.self), let result = try? StoredJSON.results.decode(json) else { return nil }
                return (try row.decode(column: "id", as: String.self), result)
            }
        }
    }

    public func markPurged(taskID: String) async throws {
        try await provider.transaction { db in
            try await db.raw("UPDATE tasks SET purged_at = \(bind: Epoch.millis(clock.now)) WHERE id = \(bind: taskID)").run()
        }
    }

    /// An asset's source, for rendering an `asset://` input.
    public func activeAsset(id: String, keyID: String) async throws -> Asset? {
        guard let asset = try await asset(id: id, keyID: keyID), asset.status == .active else { return nil }
        return asset
    }

    package static func videoTask(from row: any SQLRow) throws -> VideoTask {
        let requestJSON = try row.decode(column: "request", as: String.self)
        let request = try StoredJSON.requests.decode(requestJSON)
        let resultJSON = try row.decode(column: "result", as: String?.self)
        let purged = try row.decode(column: "purged_at", as: Int64?.self) != nil
        let code = try row.decode(column: "error_code", as: String?.self)
        var status = VideoStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .pending
        let upstream = try row.decode(column: "channel", as: String?.self).map { channel in
            UpstreamRef(
                channel: channel,
                id: try row.decode(column: "upstream_id", as: String?.self),
                status: try row.decode(column: "upstream_status", as: String?.self),
                polls: try row.decode(column: "polls", as: Int.self),
                nextPollAt: try row.decode(column: "next_poll_at", as: Int64?.self),
                deadlineAt: try row.decode(column: "deadline_at", as: Int64?.self)
            )
        }
        // A task waiting in an upstream queue is still pending to the client (upstream.md: queued -> pending).
        if status == .processing, upstream?.isWaiting == true { status = .pending }
        return VideoTask(
            id: try row.decode(column: "id", as: String.self),
            keyID: try row.decode(column: "key_id", as: String.self),
            request: request,
            status: status,
            progress: try row.decode(column: "progress", as: Int.self),
            seed: try row.decode(column: "seed", as: Int64.self),
            result: purged ? nil : resultJSON.flatMap { try? StoredJSON.results.decode($0) },
            failure: status == .failed || status == .cancelled ? code.map { Failure(code: $0, message: (try? row.decode(column: "error_message", as: String?.self)) ?? "" ) } : nil,
            hold: try row.decode(column: "hold", as: Int64.self),
            cost: try row.decode(column: "cost", as: Int64?.self),
            createdAt: Epoch.date(try row.decode(column: "created_at", as: Int64.self)),
            startedAt: try row.decode(column: "started_at", as: Int64?.self).map(Epoch.date),
            completedAt: try row.decode(column: "completed_at", as: Int64?.self).map(Epoch.date),
            upstream: upstream,
            usageTokens: try row.decode(column: "usage_tokens", as: Int64?.self),
            dialect: try row.decode(column: "dialect", as: String?.self).flatMap(Dialect.init(rawValue:)) ?? .apimart,
            requestID: try row.decode(column: "request_id", as: String?.self)
        )
    }
}

extension SQLStore {
    /// One page of the video tasks matching `conditions`, newest first, with how many match in all.
    package func videoTaskPage(where conditions: SQLQueryString, offset: Int, limit: Int) async throws -> (tasks: [VideoTask], total: Int) {
        try await provider.read { db in
            var count = SQLQueryString("SELECT COUNT(*) AS n FROM tasks WHERE ")
            count.appendInterpolation(conditions)
            let total = try await db.raw(count).first()?.decode(column: "n", as: Int.self) ?? 0
            var select = SQLQueryString("SELECT * FROM tasks WHERE ")
            select.appendInterpolation(conditions)
            select.appendInterpolation(unsafeRaw: " ORDER BY id DESC LIMIT \(max(1, limit)) OFFSET \(max(0, offset))")
            return (try await db.raw(select).all().map(Self.videoTask(from:)), total)
        }
    }
}
