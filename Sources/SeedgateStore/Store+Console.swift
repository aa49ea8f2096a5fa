import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit

// MARK: - Console sessions and the admin token

extension SQLStore {
    public func createConsoleSession(tokenHash: String, role: ConsoleRole, csrf: String, expiresAt: Date) async throws {
        let now = Epoch.millis(clock.now)
        try await provider.transaction { db in
            try await db.raw("""
                INSERT INTO console_sessions (token_hash, role, key_id, csrf, created_at, expires_at)
                VALUES (\(bind: tokenHash), \(bind: role.isOperator ? "operator" : "owner"), \(bind: role.keyID), \(bind: csrf),
                        \(bind: now), \(bind: Epoch.millis(expiresAt)))
                """).run()
        }
    }

    public func consoleSession(tokenHash: String) async throws -> ConsoleSession? {
        let now = Epoch.millis(clock.now)
        return try await provider.read { db in
            // A key owner's session lives only as long as the key: a revoked key's sessions end at once.
            guard let row = try await db.raw("""
                SELECT s.role, s.key_id, s.csrf, s.expires_at FROM console_sessions s LEFT JOIN api_keys k ON k.id = s.key_id
                WHERE s.token_hash = \(bind: tokenHash) AND s.expires_at > \(bind: now)
                    AND (s.role = 'operator' OR (k.id IS NOT NULL AND k.revoked_at IS NULL))
                """).first()
            else { return nil }
            let keyID = try row.decode(column: "key_id", as: String?.self)
            let role: ConsoleRole = try row.decode(column: "role", as: String.self) == "operator" ? .operator : .owner(keyID: keyID ?? "")
            return ConsoleSession(
                role: role, csrf: try row.decode(column: "csrf", as: String.self),
                expiresAt: Epoch.date(try row.decode(column: "expires_at", as: Int64.self))
            )
        }
    }

    public func deleteConsoleSession(tokenHash: String) async throws {
        try await provider.transaction { db in
            try await db.raw("DELETE FROM console_sessions WHERE token_hash = \(bind: tokenHash)").run()
        }
    }

    public func pruneConsoleSessions() async throws {
        let now = Epoch.millis(clock.now)
        try await provider.transaction { db in
            try await db.raw("DELETE FROM console_sessions WHERE expires_at <= \(bind: now)").run()
        }
    }

    public func adminTokenHash() async throws -> String? {
        try await provider.read { db in
            try await db.raw("SELECT value FROM settings WHERE name = \(bind: AdminToken.setting)").first()?.decode(column: "value", as: String.self)
        }
    }

    public func rotateAdminToken() async throws -> String {
        let token = AdminToken.generate()
        try await provider.transaction { db in
            try await db.raw("""
                INSERT INTO settings (name, value) VALUES (\(bind: AdminToken.setting), \(bind: KeySecret.hash(token)))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value
                """).run()
            try await db.raw("DELETE FROM console_sessions WHERE role = 'operator'").run()
        }
        return token
    }

    public func makeAdminTokenIfMissing() async throws -> String? {
        let token = AdminToken.generate()
        return try await provider.transaction { db in
            let made = try await db.raw("""
                INSERT INTO settings (name, value) VALUES (\(bind: AdminToken.setting), \(bind: KeySecret.hash(token)))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """).all()
            return made.isEmpty ? nil : token
        }
    }
}

// MARK: - The console's reads

extension SQLStore {
    public func consoleTasks(_ query: ConsoleTaskQuery, offset: Int, limit: Int) async throws -> (tasks: [VideoTask], total: Int) {
        var conditions = SQLQueryString("\(unsafeRaw: Self.shownVideoTasks())")
        if let key = query.keyID { conditions.appendInterpolation(unsafeRaw: " AND key_id = "); conditions.appendInterpolation(bind: key) }
        if let status = query.status { conditions.appendInterpolation(unsafeRaw: " AND status = "); conditions.appendInterpolation(bind: status.rawValue) }
        if let model = query.model { conditions.appendInterpolation(unsafeRaw: " AND model = "); conditions.appendInterpolation(bind: model) }
        if let dialect = query.dialect {
            // Tasks from before the dialect column are apimart's.
            conditions.appendInterpolation(unsafeRaw: " AND COALESCE(dialect, 'apimart') = ")
            conditions.appendInterpolation(bind: dialect.rawValue)
        }
        if let since = query.since { conditions.appendInterpolation(unsafeRaw: " AND created_at >= "); conditions.appendInterpolation(bind: Epoch.millis(since)) }
        if let until = query.until { conditions.appendInterpolation(unsafeRaw: " AND created_at < "); conditions.appendInterpolation(bind: Epoch.millis(until)) }
        return try await videoTaskPage(where: conditions, offset: offset, limit: limit)
    }

    public func consoleTask(id: String, keyID: String?) async throws -> VideoTask? {
        try await provider.read { db in
            var select = SQLQueryString("SELECT * FROM tasks WHERE \(unsafeRaw: Self.shownVideoTasks()) AND id = \(bind: id)")
            if let keyID { select.appendInterpolation(unsafeRaw: " AND key_id = "); select.appendInterpolation(bind: keyID) }
            return try await db.raw(select).first().map(Self.videoTask(from:))
        }
    }

    public func consoleAssets(keyID: String?, limit: Int) async throws -> [Asset] {
        try await provider.read { db in
            var select = SQLQueryString("SELECT * FROM assets")
            if let keyID { select.appendInterpolation(unsafeRaw: " WHERE key_id = "); select.appendInterpolation(bind: keyID) }
            select.appendInterpolation(unsafeRaw: " ORDER BY created_at DESC, id DESC LIMIT \(max(1, limit))")
            return try await db.raw(select).all().map(Self.asset(from:))
        }
    }

    public func consoleOverview(now: Date) async throws -> ConsoleOverview {
        let end = Epoch.millis(now)
        let since = end - 24 * 3_600_000
        return try await provider.read { db in
            var overview = ConsoleOverview()
            for row in try await db.raw("SELECT status, COUNT(*) AS n FROM tasks WHERE \(unsafeRaw: Self.shownVideoTasks()) GROUP BY status").all() {
                overview.tasksByStatus[try row.decode(column: "status", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            for row in try await db.raw("""
                SELECT status, COUNT(*) AS n FROM tasks WHERE kind = 'video' AND created_at >= \(bind: since) GROUP BY status
                """).all() {
                overview.tasksByStatus24h[try row.decode(column: "status", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            var hours = Array(repeating: (completed: 0, failed: 0), count: 24)
            for row in try await db.raw("""
                SELECT CAST((completed_at - \(bind: since)) / 3600000 AS BIGINT) AS h, status, COUNT(*) AS n FROM tasks
                WHERE kind = 'video' AND completed_at >= \(bind: since) AND completed_at <= \(bind: end) GROUP BY 1, status
                """).all() {
                let hour = min(23, max(0, Int(try row.decode(column: "h", as: Int64.self))))
                let n = try row.decode(column: "n", as: Int.self)
                if try row.decode(column: "status", as: String.self) == "completed" { hours[hour].completed += n } else { hours[hour].failed += n }
            }
            overview.finishedPerHour = hours
            if let row = try await db.raw("""
                SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'charge' THEN -balance_delta ELSE 0 END), 0) AS BIGINT) AS charged,
                       CAST(COALESCE(SUM(CASE WHEN kind = 'release' THEN -held_delta ELSE 0 END), 0) AS BIGINT) AS released
                FROM ledger WHERE created_at >= \(bind: since)
                """).first() {
                overview.charged24h = try row.decode(column: "charged", as: Int64.self)
                overview.released24h = try row.decode(column: "released", as: Int64.self)
            }
            overview.failuresByCode = try await db.raw("""
                SELECT COALESCE(error_code, 'unknown') AS code, COUNT(*) AS n FROM tasks
                WHERE kind = 'video' AND status = 'failed' AND completed_at >= \(bind: since) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10
                """).all().map { (try $0.decode(column: "code", as: String.self), try $0.decode(column: "n", as: Int.self)) }
            for row in try await db.raw("SELECT status, COUNT(*) AS n FROM assets GROUP BY status").all() {
                overview.reviewsByStatus[try row.decode(column: "status", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            overview.keys = try await db.raw("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL").first()?.decode(column: "n", as: Int.self) ?? 0
            return overview
        }
    }

    public func ledger(ref: String) async throws -> [LedgerEntry] {
        try await provider.read { db in
            try await db.raw("SELECT * FROM ledger WHERE ref = \(bind: ref) ORDER BY created_at, id").all().map(Self.ledgerEntry(from:))
        }
    }

    public func redeliverWebhook(taskID: String) async throws -> Bool {
        let now = Epoch.millis(clock.now)
        return try await provider.transaction { db in
            !(try await db.raw("""
                UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = \(bind: now), lease_owner = NULL, lease_until = NULL
                WHERE task_id = \(bind: taskID) RETURNING id
                """).all()).isEmpty
        }
    }

    public func groupChannels(groupIDs: [String]) async throws -> [String: String] {
        guard !groupIDs.isEmpty else { return [:] }
        return try await provider.read { db in
            var select = SQLQueryString("SELECT id, channel FROM asset_groups WHERE channel IS NOT NULL AND id IN (")
            for (index, id) in groupIDs.enumerated() {
                if index > 0 { select.appendInterpolation(unsafeRaw: ", ") }
                select.appendInterpolation(bind: id)
            }
            select.appendInterpolation(unsafeRaw: ")")
            var found: [String: String] = [:]
            for row in try await db.raw(select).all() {
                found[try row.decode(column: "id", as: String.self)] = try row.decode(column: "channel", as: String.self)
            }
            return found
        }
    }
}
