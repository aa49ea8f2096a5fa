import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit

/// Real-person verification sessions. Each is a row of `tasks` of kind `liveness`: its id is a task id
/// (apimart reads it at `GET /v1/tasks/{id}`), its outcome queues a webhook like any task's, and every
/// change is one conditional update on the current status, so an operator's decision, the sweeper and
/// an upstream check can never both end the same session.
///
/// Columns used: `status`, `deadline_at` (until when the link or the photo is awaited), `callback_url`,
/// `dialect`, `request` (project, locale, biz id), `group_id` (once verified), `error_code` /
/// `error_message`, `channel` / `upstream_id` (upstream's token) / `verify_link` (upstream's H5 link),
/// `verify_token`, `verify_photo`, `verify_opened_at`, `started_at` (photo received), `completed_at`,
/// `next_poll_at` (the next upstream check) and the lease columns for those checks.
extension SQLStore {
    public func createLivenessSession(
        keyID: String, request: LivenessRequest, expiresAt: Date, upstream: UpstreamLivenessSession?, openLimit: Int
    ) async throws -> LivenessSession {
        let now = clock.now
        let session = LivenessSession(
            id: Identifiers.task(at: now), keyID: keyID, token: "bt_" + Identifiers.random(32), status: .pending,
            projectName: request.projectName, callbackURL: request.callbackURL, dialect: request.dialect, locale: request.locale,
            bizID: request.bizID, channel: upstream?.channel, upstreamToken: upstream?.token, upstreamLink: upstream?.link,
            createdAt: now, expiresAt: expiresAt
        )
        let details = JSONOut.obj([
            "project_name": .string(request.projectName),
            "locale": request.locale.map(JSONOut.string),
            "biz_id": request.bizID.map(JSONOut.string),
        ]).serialized()
        let flavor = provider.flavor
        try await provider.transaction { db in
            // The key's row held to the commit, so that two creates at once count one another (SQLite's
            // writer already takes them in turn). NO KEY UPDATE: it does not wait on, or hold up, the
            // key's other writes that only refer to its row (a task's or a ledger line's insert).
            if flavor == .postgres { try await db.raw("SELECT id FROM api_keys WHERE id = \(bind: keyID) FOR NO KEY UPDATE").run() }
            let open = try await Self.openLivenessSessions(db, keyID: keyID, now: Epoch.millis(now))
            if open >= openLimit { throw LivenessService.tooManyOpen(open, limit: openLimit) }
            try await db.raw("""
                INSERT INTO tasks (id, key_id, kind, status, created_at, callback_url, dialect, request, deadline_at, verify_token,
                                   channel, upstream_id, verify_link, next_poll_at)
                VALUES (\(bind: session.id), \(bind: keyID), 'liveness', 'pending', \(bind: Epoch.millis(now)), \(bind: request.callbackURL),
                        \(bind: request.dialect.rawValue), \(bind: details), \(bind: Epoch.millis(expiresAt)), \(bind: session.token),
                        \(bind: upstream?.channel), \(bind: upstream?.token), \(bind: upstream?.link),
                        \(bind: upstream.map { _ in Epoch.millis(now) }))
                """).run()
        }
        return session
    }

    /// A session still waiting, for the person or the operator (the statuses that are not final); open
    /// while within its `deadline_at`, overdue past it.
    private static var waiting: SQLQueryString { "status IN ('pending', 'submitted')" }

    public func openLivenessSessions(keyID: String) async throws -> Int {
        let now = Epoch.millis(clock.now)
        return try await provider.read { db in try await Self.openLivenessSessions(db, keyID: keyID, now: now) }
    }

    private static func openLivenessSessions(_ db: any SQLDatabase, keyID: String, now: Int64) async throws -> Int {
        try await db.raw("""
            SELECT COUNT(*) AS n FROM tasks
            WHERE key_id = \(bind: keyID) AND kind = 'liveness' AND \(Self.waiting) AND deadline_at >= \(bind: now)
            """).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    public func livenessSession(id: String, keyID: String?) async throws -> LivenessSession? {
        var query: SQLQueryString = "SELECT * FROM tasks WHERE id = \(bind: id) AND kind = 'liveness'"
        if let keyID { query += " AND key_id = \(bind: keyID)" }
        let statement = query
        return try await provider.read { db in try await db.raw(statement).first().map(Self.livenessSession(from:)) }
    }

    public func livenessSession(token: String, keyID: String?) async throws -> LivenessSession? {
        var query: SQLQueryString = "SELECT * FROM tasks WHERE verify_token = \(bind: token) AND kind = 'liveness'"
        if let keyID { query += " AND key_id = \(bind: keyID)" }
        let statement = query
        return try await provider.read { db in try await db.raw(statement).first().map(Self.livenessSession(from:)) }
    }

    public func openLivenessLink(token: String, window: Duration) async throws -> LivenessSession? {
        let now = Epoch.millis(clock.now)
        return try await provider.transaction { db in
            try await db.raw("""
                UPDATE tasks SET verify_opened_at = \(bind: now), deadline_at = \(bind: now + window.milliseconds)
                WHERE verify_token = \(bind: token) AND kind = 'liveness' AND status = 'pending' AND verify_opened_at IS NULL
                  AND upstream_id IS NULL AND deadline_at >= \(bind: now)
                """).run()
            return try await db.raw("SELECT * FROM tasks WHERE verify_token = \(bind: token) AND kind = 'liveness'")
                .first().map(Self.livenessSession(from:))
        }
    }

    public func submitLivenessPhoto(token: String, photoKey: String, decisionWindow: Duration) async throws -> Bool {
        let now = Epoch.millis(clock.now)
        return try await provider.transaction { db in
            try await !db.raw("""
                UPDATE tasks SET status = 'submitted', verify_photo = \(bind: photoKey), started_at = \(bind: now),
                    deadline_at = \(bind: now + decisionWindow.milliseconds)
                WHERE verify_token = \(bind: token) AND kind = 'liveness' AND status = 'pending' AND upstream_id IS NULL
                  AND deadline_at >= \(bind: now)
                RETURNING id
                """).all().isEmpty
        }
    }

    public func finishLivenessSession(
        id: String, from: LivenessStatus, outcome: LivenessStatus, failure: Failure?, channel: String?, upstreamGroupID: String?
    ) async throws -> LivenessSession? {
        let now = clock.now
        return try await provider.transaction { db in
            let rows = try await db.raw("""
                UPDATE tasks SET status = \(bind: outcome.rawValue), error_code = \(bind: failure?.code), error_message = \(bind: failure?.message),
                    completed_at = \(bind: Epoch.millis(now)), lease_owner = NULL, lease_until = NULL, next_poll_at = NULL
                WHERE id = \(bind: id) AND kind = 'liveness' AND status = \(bind: from.rawValue)
                  AND (status <> 'submitted' OR deadline_at >= \(bind: Epoch.millis(now)))
                RETURNING *
                """).all()
            guard let row = rows.first else { return nil }
            var session = try Self.livenessSession(from: row)
            if outcome == .verified {
                let group = try await self.insertGroup(
                    db, keyID: session.keyID, name: "real person \(session.id.suffix(8).lowercased())",
                    description: "Verified by a liveness check (session \(session.id))", projectName: session.projectName,
                    isDefault: false, type: GroupType.livenessFace, channel: channel
                )
                if let channel, let upstreamGroupID {
                    try await db.raw("""
                        INSERT INTO channel_groups (group_id, channel, upstream_group_id, created_at)
                        VALUES (\(bind: group.id), \(bind: channel), \(bind: upstreamGroupID), \(bind: Epoch.millis(now)))
                        """).run()
                }
                try await db.raw("UPDATE tasks SET group_id = \(bind: group.id) WHERE id = \(bind: id)").run()
                session.groupID = group.id
            }
            try await self.enqueueWebhook(db, taskID: id)
            return session
        }
    }

    public func expireLivenessSessions(limit: Int, decisionWindow: Duration) async throws -> [String] {
        let now = Epoch.millis(clock.now)
        let window = decisionWindow.milliseconds
        // Photos left with a shorter deadline than the operator's window (`LivenessStore` says how), and sessions past their time.
        let short: SQLQueryString = """
            kind = 'liveness' AND status = 'submitted' AND started_at IS NOT NULL AND deadline_at < started_at + \(bind: window)
            """
        let overdue: SQLQueryString = "kind = 'liveness' AND \(Self.waiting) AND deadline_at < \(bind: now)"
        // Asked every second: reads find nothing to do almost always, and then no write lock is taken.
        if try await provider.read({ db in try await db.raw("SELECT id FROM tasks WHERE \(short) LIMIT 1").first() }) != nil {
            try await provider.transaction { db in
                try await db.raw("""
                    UPDATE tasks SET deadline_at = CASE WHEN started_at + \(bind: window) >= \(bind: now)
                        THEN started_at + \(bind: window) ELSE \(bind: now + window) END
                    WHERE \(short)
                    """).run()
            }
        }
        let due = try await provider.read { db in try await db.raw("SELECT id FROM tasks WHERE \(overdue) LIMIT 1").first() }
        guard due != nil else { return [] }
        return try await provider.transaction { db in
            let rows = try await db.raw("""
                UPDATE tasks SET status = 'expired', completed_at = \(bind: now), next_poll_at = NULL, lease_owner = NULL, lease_until = NULL,
                    error_code = 'verification_expired',
                    error_message = CASE WHEN status = 'submitted' THEN \(bind: LivenessSession.undecided)
                        WHEN verify_opened_at IS NULL AND upstream_id IS NULL THEN 'the verification link was not opened in time'
                        ELSE 'the person did not finish the check in time' END
                WHERE id IN (SELECT id FROM tasks WHERE \(overdue) ORDER BY deadline_at LIMIT \(unsafeRaw: String(max(1, limit))))
                RETURNING id
                """).all()
            let ids = try rows.map { try $0.decode(column: "id", as: String.self) }
            for id in ids { try await self.enqueueWebhook(db, taskID: id) }
            return ids
        }
    }

    public func livenessSessions(keyID: String?, status: LivenessStatus?, limit: Int) async throws -> [LivenessSession] {
        var query: SQLQueryString = "SELECT * FROM tasks WHERE kind = 'liveness'"
        if let keyID { query += " AND key_id = \(bind: keyID)" }
        if let status {
            query += " AND status = \(bind: status.rawValue)"
            // As a reader sees it now: one waiting past its time is expired, though the sweeper may not have said so yet.
            if !status.isFinal { query += " AND deadline_at >= \(bind: Epoch.millis(clock.now))" }
        }
        // Those waiting, the soonest due first: past the limit the ones left out are those with the most
        // time left, not the oldest, which would expire before anyone saw them. Others, newest first.
        query += status.map { !$0.isFinal } == true ? " ORDER BY deadline_at, id" : " ORDER BY id DESC"
        query += " LIMIT \(unsafeRaw: String(max(1, min(limit, 500))))"
        let statement = query
        return try await provider.read { db in try await db.raw(statement).all().map(Self.livenessSession(from:)) }
    }

    public func claimDueLivenessChecks(owner: String, lease: Duration, limit: Int) async throws -> [LivenessSession] {
        let now = Epoch.millis(clock.now)
        let due = try await provider.read { db in
            try await db.raw("""
                SELECT id FROM tasks WHERE kind = 'liveness' AND status = 'pending' AND upstream_id IS NOT NULL AND next_poll_at <= \(bind: now) LIMIT 1
                """).first()
        }
        guard due != nil else { return [] }
        return try await claim(
            "tasks", owner: owner, until: now + lease.milliseconds,
            free: """
                kind = 'liveness' AND status = 'pending' AND upstream_id IS NOT NULL AND next_poll_at <= \(bind: now)
                AND (lease_until IS NULL OR lease_until < \(bind: now))
                """,
            order: "next_poll_at", limit: limit
        ).map(Self.livenessSession(from:))
    }

    public func rescheduleLivenessCheck(id: String, owner: String, next: Date) async throws {
        try await provider.transaction { db in
            try await db.raw("""
                UPDATE tasks SET next_poll_at = \(bind: Epoch.millis(next)), lease_owner = NULL, lease_until = NULL
                WHERE id = \(bind: id) AND kind = 'liveness' AND status = 'pending' AND lease_owner = \(bind: owner)
                """).run()
        }
    }

    public func livenessPhotosToDelete(endedBefore: Date, limit: Int) async throws -> [(id: String, photoKey: String)] {
        try await provider.read { db in
            try await db.raw("""
                SELECT id, verify_photo FROM tasks WHERE kind = 'liveness' AND verify_photo IS NOT NULL
                  AND status IN ('verified', 'failed', 'expired') AND completed_at < \(bind: Epoch.millis(endedBefore))
                ORDER BY completed_at LIMIT \(unsafeRaw: String(max(1, limit)))
                """).all().map { row in
                (try row.decode(column: "id", as: String.self), try row.decode(column: "verify_photo", as: String.self))
            }
        }
    }

    public func forgetLivenessPhoto(id: String) async throws {
        try await provider.transaction { db in
            try await db.raw("UPDATE tasks SET verify_photo = NULL WHERE id = \(bind: id) AND kind = 'liveness'").run()
        }
    }

    package static func livenessSession(from row: any SQLRow) throws -> LivenessSession {
        let details = (try row.decode(column: "request", as: String?.self)).flatMap { try? JSONValue.parse(Data($0.utf8)) }
        let code = try row.decode(column: "error_code", as: String?.self)
        let message = try row.decode(column: "error_message", as: String?.self)
        return LivenessSession(
            id: try row.decode(column: "id", as: String.self),
            keyID: try row.decode(column: "key_id", as: String.self),
            token: try row.decode(column: "verify_token", as: String.self),
            status: LivenessStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .pending,
            projectName: details?["project_name"]?.stringValue ?? "default",
            callbackURL: try row.decode(column: "callback_url", as: String?.self),
            dialect: try row.decode(column: "dialect", as: String?.self).flatMap(Dialect.init(rawValue:)) ?? .apimart,
            locale: details?["locale"]?.stringValue,
            bizID: details?["biz_id"]?.stringValue,
            groupID: try row.decode(column: "group_id", as: String?.self),
            failure: code.map { Failure(code: $0, message: message ?? "") },
            photoKey: try row.decode(column: "verify_photo", as: String?.self),
            channel: try row.decode(column: "channel", as: String?.self),
            upstreamToken: try row.decode(column: "upstream_id", as: String?.self),
            upstreamLink: try row.decode(column: "verify_link", as: String?.self),
            createdAt: Epoch.date(try row.decode(column: "created_at", as: Int64.self)),
            expiresAt: Epoch.date(try row.decode(column: "deadline_at", as: Int64.self)),
            openedAt: try row.decode(column: "verify_opened_at", as: Int64?.self).map(Epoch.date),
            submittedAt: try row.decode(column: "started_at", as: Int64?.self).map(Epoch.date),
            completedAt: try row.decode(column: "completed_at", as: Int64?.self).map(Epoch.date)
        )
    }
}
