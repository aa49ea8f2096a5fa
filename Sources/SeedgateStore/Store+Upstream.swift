import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit


// MARK: - Upstream video tasks

extension SQLStore {
    /// Marks a claimed task as being submitted to `channel`, before the request goes out. A task found in
    /// this state later (its server died mid-submission) is never submitted again: upstream may have taken it.
    public func beginSubmission(taskID: String, owner: String, channel: String, callbackToken: String) async throws -> Bool {
        try await provider.write { db in
            !(try await db.raw("""
                UPDATE tasks SET channel = \(bind: channel), upstream_status = 'submitting', callback_token = \(bind: KeySecret.hash(callbackToken))
                WHERE id = \(bind: taskID) AND status = 'processing' AND lease_owner = \(bind: owner) AND upstream_id IS NULL RETURNING id
                """).all()).isEmpty
        }
    }

    /// Undoes `beginSubmission` after an upstream did not take the task (nothing was accepted).
    public func abandonSubmission(taskID: String, owner: String) async throws {
        try await provider.write { db in
            try await db.raw("""
                UPDATE tasks SET channel = NULL, upstream_status = NULL, callback_token = NULL
                WHERE id = \(bind: taskID) AND lease_owner = \(bind: owner) AND upstream_id IS NULL
                """).run()
        }
    }

    /// Records the upstream's id and hands the task to the poller. False when the task was cancelled
    /// meanwhile (the caller then cancels it upstream).
    ///
    /// An accepted submission starts `attempts` again from 0: from then on it counts failed result copies.
    public func recordSubmission(taskID: String, owner: String, upstreamID: String, firstPoll: Date, deadline: Date) async throws -> Bool {
        try await provider.write { db in
            !(try await db.raw("""
                UPDATE tasks SET upstream_id = \(bind: upstreamID), upstream_status = 'queued', next_poll_at = \(bind: Epoch.millis(firstPoll)),
                    deadline_at = \(bind: Epoch.millis(deadline)), polls = 0, lease_owner = NULL, lease_until = NULL,
                    attempts = 0,
                    progress = CASE WHEN progress < 5 THEN 5 ELSE progress END
                WHERE id = \(bind: taskID) AND status = 'processing' AND lease_owner = \(bind: owner) RETURNING id
                """).all()).isEmpty
        }
    }

    /// Puts a claimed task back for later (no channel could take it now). With `refund`, the claim does
    /// not count as an attempt: the task was only waiting for capacity.
    public func deferTask(taskID: String, owner: String, until: Date, refund: Bool) async throws {
        try await provider.write { db in
            try await db.raw("""
                UPDATE tasks SET lease_until = \(bind: Epoch.millis(until)), attempts = attempts - \(bind: refund ? 1 : 0)
                WHERE id = \(bind: taskID) AND status = 'processing' AND lease_owner = \(bind: owner)
                """).run()
        }
    }

    /// Claims up to `limit` upstream tasks that are due a status check by `within` from now, soonest first.
    public func claimDuePolls(owner: String, lease: Duration, limit: Int, within: Duration) async throws -> [VideoTask] {
        let now = Epoch.millis(clock.now)
        return try await claim(
            "tasks", owner: owner, until: now + lease.milliseconds,
            free: """
                status = 'processing' AND upstream_id IS NOT NULL AND next_poll_at <= \(bind: now + within.milliseconds)
                AND (lease_until IS NULL OR lease_until < \(bind: now))
                """,
            order: "next_poll_at", limit: limit
        ).map(Self.videoTask(from:))
    }

    public func claimNextPolls(channel: String, owner: String, lease: Duration, limit: Int) async throws -> [VideoTask] {
        guard limit > 0 else { return [] }
        let now = Epoch.millis(clock.now)
        return try await claim(
            "tasks", owner: owner, until: now + lease.milliseconds,
            free: """
                channel = \(bind: channel) AND status = 'processing' AND upstream_id IS NOT NULL
                AND (lease_until IS NULL OR lease_until < \(bind: now))
                """,
            order: "next_poll_at", limit: limit
        ).map(Self.videoTask(from:))
    }

    /// Records status checks of tasks still running upstream and schedules the next ones, in one
    /// statement however many there are (a poll pass over thousands of tasks is not thousands of
    /// commits); a task a callback asked to check earlier meanwhile keeps that earlier time.
    public func reschedulePolls(_ checks: [PollCheck], owner: String) async throws {
        guard !checks.isEmpty else { return }
        var rows: SQLQueryString = ""
        for (index, check) in checks.enumerated() {
            let progress = max(check.task.progress, min(99, check.progress))
            rows += index == 0 ? "(" : ", ("
            rows += """
                \(bind: check.task.id), \(bind: check.upstreamStatus), CAST(\(bind: progress) AS BIGINT),
                CAST(\(bind: check.task.upstream?.nextPollAt ?? 0) AS BIGINT), CAST(\(bind: Epoch.millis(check.next)) AS BIGINT))
                """
        }
        let statement: SQLQueryString = """
            WITH checked (id, upstream_status, progress, seen, next) AS (VALUES \(rows))
            UPDATE tasks SET upstream_status = checked.upstream_status, progress = checked.progress,
                polls = tasks.polls + 1, lease_owner = NULL, lease_until = NULL,
                next_poll_at = CASE WHEN tasks.next_poll_at = checked.seen THEN checked.next ELSE tasks.next_poll_at END
            FROM checked
            WHERE tasks.id = checked.id AND tasks.status = 'processing' AND tasks.lease_owner = \(bind: owner)
            """
        try await provider.write { db in try await db.raw(statement).run() }
    }

    /// Counts a failed attempt to copy a finished result (the claim is kept); returns the count so far.
    public func countCopyFailure(taskID: String, owner: String) async throws -> Int {
        try await provider.write { db in
            try await db.raw("""
                UPDATE tasks SET attempts = attempts + 1 WHERE id = \(bind: taskID) AND lease_owner = \(bind: owner) RETURNING attempts
                """).first()?.decode(column: "attempts", as: Int.self) ?? 0
        }
    }

    /// A callback from upstream: when `token` is the task's, its next status check is due now.
    /// False for an unknown task or a wrong token.
    public func wakeUpstreamTask(taskID: String, token: String) async throws -> Bool {
        let hash = KeySecret.hash(token)
        return try await provider.transaction { db in
            guard let stored = try await db.raw("SELECT callback_token FROM tasks WHERE id = \(bind: taskID) AND kind = 'video'").first()?
                .decode(column: "callback_token", as: String?.self),
                Self.constantTimeEqual(stored, hash)
            else { return false }
            try await db.raw("""
                UPDATE tasks SET next_poll_at = \(bind: Epoch.millis(clock.now)) WHERE id = \(bind: taskID) AND status = 'processing' AND upstream_id IS NOT NULL
                """).run()
            return true
        }
    }

    /// Unfinished tasks per channel, across every replica.
    public func inFlightByChannel() async throws -> [String: Int] {
        try await provider.read { db in
            var counts: [String: Int] = [:]
            for row in try await db.raw("""
                SELECT channel, COUNT(*) AS n FROM tasks WHERE kind = 'video' AND status = 'processing' AND channel IS NOT NULL GROUP BY channel
                """).all() {
                counts[try row.decode(column: "channel", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return counts
        }
    }

    package static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

// MARK: - Asset bindings

extension SQLStore {
    /// Pins a group to `channel` unless it is pinned to another already (`replacing` moves a pin off a
    /// channel that can no longer take it). Returns the channel the group is pinned to now.
    public func pinGroup(groupID: String, channel: String, replacing: String? = nil) async throws -> String {
        try await provider.transaction { db in
            if let replacing {
                try await db.raw("UPDATE asset_groups SET channel = \(bind: channel) WHERE id = \(bind: groupID) AND channel = \(bind: replacing)").run()
            } else {
                try await db.raw("UPDATE asset_groups SET channel = \(bind: channel) WHERE id = \(bind: groupID) AND channel IS NULL").run()
            }
            return try await db.raw("SELECT channel FROM asset_groups WHERE id = \(bind: groupID)").first()?
                .decode(column: "channel", as: String?.self) ?? channel
        }
    }

    /// The channels a group already lives on, oldest first, with the upstream group ids.
    public func groupBindings(groupID: String) async throws -> [(channel: String, upstreamID: String)] {
        try await provider.read { db in
            try await db.raw("SELECT channel, upstream_group_id FROM channel_groups WHERE group_id = \(bind: groupID) ORDER BY created_at")
                .all().map { (try $0.decode(column: "channel", as: String.self), try $0.decode(column: "upstream_group_id", as: String.self)) }
        }
    }

    /// Records a group's upstream twin on `channel`; when another reviewer recorded one first, that one
    /// is kept and returned.
    public func bindGroup(groupID: String, channel: String, upstreamID: String) async throws -> String {
        try await provider.transaction { db in
            try await db.raw("""
                INSERT INTO channel_groups (group_id, channel, upstream_group_id, created_at)
                VALUES (\(bind: groupID), \(bind: channel), \(bind: upstreamID), \(bind: Epoch.millis(clock.now))) ON CONFLICT (group_id, channel) DO NOTHING
                """).run()
            return try await db.raw("SELECT upstream_group_id FROM channel_groups WHERE group_id = \(bind: groupID) AND channel = \(bind: channel)")
                .first()?.decode(column: "upstream_group_id", as: String.self) ?? upstreamID
        }
    }

    public func assetBinding(assetID: String, channel: String) async throws -> AssetBinding? {
        try await provider.read { db in
            try await db.raw("SELECT * FROM channel_assets WHERE asset_id = \(bind: assetID) AND channel = \(bind: channel)").first().map(Self.binding(from:))
        }
    }

    /// Records or updates an asset's upstream twin.
    public func saveAssetBinding(_ binding: AssetBinding) async throws {
        let now = Epoch.millis(clock.now)
        try await provider.transaction { db in
            try await db.raw("""
                INSERT INTO channel_assets (asset_id, channel, upstream_asset_id, status, created_at, updated_at)
                VALUES (\(bind: binding.assetID), \(bind: binding.channel), \(bind: binding.upstreamID), \(bind: binding.status), \(bind: now), \(bind: now))
                ON CONFLICT (asset_id, channel) DO UPDATE SET upstream_asset_id = excluded.upstream_asset_id, status = excluded.status, updated_at = excluded.updated_at
                """).run()
        }
    }

    /// The Active upstream twins of these assets, by asset id and channel.
    public func activeBindings(assetIDs: [String]) async throws -> [String: [String: String]] {
        guard !assetIDs.isEmpty else { return [:] }
        return try await provider.read { db in
            var query = SQLQueryString("SELECT asset_id, channel, upstream_asset_id FROM channel_assets WHERE status = 'active' AND asset_id IN (")
            for (index, id) in assetIDs.enumerated() {
                if index > 0 { query.appendInterpolation(unsafeRaw: ", ") }
                query.appendInterpolation(bind: id)
            }
            query.appendInterpolation(unsafeRaw: ")")
            var found: [String: [String: String]] = [:]
            for row in try await db.raw(query).all() {
                found[try row.decode(column: "asset_id", as: String.self), default: [:]][try row.decode(column: "channel", as: String.self)] =
                    try row.decode(column: "upstream_asset_id", as: String.self)
            }
            return found
        }
    }

    private static func binding(from row: any SQLRow) throws -> AssetBinding {
        AssetBinding(
            assetID: try row.decode(column: "asset_id", as: String.self),
            channel: try row.decode(column: "channel", as: String.self),
            upstreamID: try row.decode(column: "upstream_asset_id", as: String.self),
            status: try row.decode(column: "status", as: String.self)
        )
    }
}
