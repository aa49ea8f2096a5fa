import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit

/// Everything Seedgate keeps: the one implementation of the domain's store protocols, in SQL that
/// runs on SQLite and PostgreSQL. Every state change is a conditional update on the current state, so
/// two workers can never both finish the same piece of work.
public struct SQLStore: GatewayStore {
    public let provider: any DatabaseProvider
    /// The time every stored timestamp and every lease, window and deadline comparison uses.
    public let clock: any WallClock
    /// On PostgreSQL, live keys kept between requests (see `KeyCache`); SQLite answers on the calling
    /// thread, so it is asked every time and a revocation holds at once.
    package let keyCache: KeyCache?
    /// On PostgreSQL, one key's submissions arriving together are written together (see `Batches`);
    /// SQLite's writer already commits waiting transactions together.
    package let submissions: Batches<String, Submission, Bool>?
    /// On PostgreSQL, task reads arriving together on one event loop are read together (see `Batches`,
    /// `videoTaskWithWebhook`); SQLite reads on the calling thread, with no round trip to save.
    package let taskReads: Batches<ObjectIdentifier?, TaskRead, Result<TaskWithWebhook?, any Error>>?

    public init(provider: any DatabaseProvider, clock: any WallClock = SystemClock()) {
        self.provider = provider
        self.clock = clock
        self.keyCache = provider.flavor == .postgres ? KeyCache(clock: clock) : nil
        self.submissions = provider.flavor == .postgres ? Batches() : nil
        self.taskReads = provider.flavor == .postgres ? Batches(concurrent: Self.taskReadsAtOnce) : nil
    }

    public func migrate() async throws {
        try await Migrations.apply(on: provider)
    }

    /// Appended to the inner SELECT of a claim: on PostgreSQL, replicas claiming at once skip each
    /// other's rows instead of waiting (SQLite has one writer, so nothing to add).
    package var skipLocked: String { provider.flavor == .postgres ? " FOR UPDATE SKIP LOCKED" : "" }

    /// The one shape of every claim: a single statement that leases up to `limit` rows of `table`
    /// matching `free` to `owner` (setting `also` too), first by `order`. No window where two workers
    /// hold the same row; on PostgreSQL, replicas claiming at once skip each other's rows.
    package func claim(
        _ table: String, owner: String, until: Int64, also: SQLQueryString? = nil, free: SQLQueryString, order: String, limit: Int = 1
    ) async throws -> [any SQLRow] {
        var statement: SQLQueryString = "UPDATE \(unsafeRaw: table) SET lease_owner = \(bind: owner), lease_until = \(bind: until)"
        if let also { statement += ", " + also }
        statement += " WHERE id IN (SELECT id FROM \(unsafeRaw: table) WHERE " + free
        statement += " ORDER BY \(unsafeRaw: order) LIMIT \(unsafeRaw: String(limit))\(unsafeRaw: skipLocked)) RETURNING *"
        let claim = statement
        return try await provider.write { db in try await db.raw(claim).all() }
    }

    /// A server-wide setting, made by `make` the first time it is asked for (the first maker wins, so
    /// replicas sharing a database agree on it).
    public func setting(_ name: String, orMake make: () -> String) async throws -> String {
        let candidate = make()
        return try await provider.transaction { db in
            try await db.raw("INSERT INTO settings (name, value) VALUES (\(bind: name), \(bind: candidate)) ON CONFLICT (name) DO NOTHING").run()
            return try await db.raw("SELECT value FROM settings WHERE name = \(bind: name)").first()?.decode(column: "value", as: String.self) ?? candidate
        }
    }
}

// MARK: - Keys

extension SQLStore {
    /// Creates a key (with a starting balance and limits, when given) and returns it with its secret
    /// and webhook signing secret; the key's secret is not kept.
    public func createKey(
        name: String, credits: Int64 = 0, rpm: Int? = nil, maxInFlight: Int? = nil
    ) async throws -> (key: APIKey, secret: String, webhookSecret: String) {
        let secret = KeySecret.generate()
        let webhookSecret = KeySecret.webhookSecret()
        let key = APIKey(id: Identifiers.key(), name: name, createdAt: clock.now, rpm: rpm, maxInFlight: maxInFlight)
        try await provider.transaction { db in
            try await db.raw("""
                INSERT INTO api_keys (id, name, secret_hash, created_at, rpm, max_in_flight, webhook_secret)
                VALUES (\(bind: key.id), \(bind: key.name), \(bind: KeySecret.hash(secret)), \(bind: Epoch.millis(key.createdAt)),
                        \(bind: rpm), \(bind: maxInFlight), \(bind: webhookSecret))
                """).run()
            if credits != 0 {
                try await self.grant(db, keyID: key.id, amount: credits, note: "initial credits")
            }
        }
        return (key, secret, webhookSecret)
    }

    /// The live key whose secret this is, or nil for an unknown or revoked one.
    public func authenticate(secret: String) async throws -> APIKey? {
        let hash = KeySecret.hash(secret)
        @Sendable func read(_ db: any SQLDatabase) async throws -> APIKey? {
            try await db.raw("SELECT id, name, created_at, revoked_at, rpm, max_in_flight FROM api_keys WHERE secret_hash = \(bind: hash) AND revoked_at IS NULL")
                .first()
                .map(Self.key(from:))
        }
        guard let keyCache else { return try await provider.read(read) }
        var version: String
        if let seen = keyCache.lookup(hash) {
            if let key = seen.key { return key }
            version = seen.version
        } else {
            let readAt = keyCache.now
            version = try await provider.read { db in
                try await db.raw("SELECT value FROM settings WHERE name = \(bind: KeyCache.setting)").first()?.decode(column: "value", as: String.self)
            } ?? ""
            keyCache.observe(version, readAt: readAt)
            if let key = keyCache.lookup(hash)?.key { return key }
        }
        let key = try await provider.read(read)
        if let key { keyCache.keep(key, hash: hash, readAfter: version) }
        return key
    }

    /// Marks a change to what authentication reads, in the changing transaction: every replica's
    /// `KeyCache` forgets its keys within `KeyCache.recheck` (this one's is told once it commits).
    package func keysChanged(_ db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO settings (name, value) VALUES (\(bind: KeyCache.setting), \(bind: Identifiers.random(16)))
            ON CONFLICT (name) DO UPDATE SET value = excluded.value
            """).run()
    }

    public func listKeys() async throws -> [APIKey] {
        try await provider.read { db in
            try await db.raw("SELECT id, name, created_at, revoked_at, rpm, max_in_flight FROM api_keys ORDER BY created_at, id").all().map(Self.key(from:))
        }
    }

    public func keyCount() async throws -> Int {
        try await provider.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM api_keys").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// Revokes a key; false when there is no such live key.
    public func revokeKey(id: String) async throws -> Bool {
        defer { keyCache?.forget() }
        return try await provider.transaction { db in
            let rows = try await db.raw("""
                UPDATE api_keys SET revoked_at = \(bind: Epoch.millis(clock.now)) WHERE id = \(bind: id) AND revoked_at IS NULL RETURNING id
                """).all()
            if !rows.isEmpty { try await self.keysChanged(db) }
            return !rows.isEmpty
        }
    }

    private static func key(from row: any SQLRow) throws -> APIKey {
        APIKey(
            id: try row.decode(column: "id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            createdAt: Epoch.date(try row.decode(column: "created_at", as: Int64.self)),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self).map(Epoch.date),
            rpm: try row.decode(column: "rpm", as: Int?.self),
            maxInFlight: try row.decode(column: "max_in_flight", as: Int?.self)
        )
    }
}

// MARK: - Groups

extension SQLStore {
    public func createGroup(keyID: String, name: String, description: String, projectName: String) async throws -> AssetGroup {
        try await provider.transaction { db in
            try await self.insertGroup(db, keyID: keyID, name: name, description: description, projectName: projectName, isDefault: false)
        }
    }

    public func group(id: String, keyID: String) async throws -> AssetGroup? {
        try await provider.read { db in try await self.group(db, id: id, keyID: keyID) }
    }

    package func group(_ db: any SQLDatabase, id: String, keyID: String) async throws -> AssetGroup? {
        try await db.raw("SELECT * FROM asset_groups WHERE id = \(bind: id) AND key_id = \(bind: keyID)")
            .first()
            .map(Self.group(from:))
    }

    package func insertGroup(
        _ db: any SQLDatabase, keyID: String, name: String, description: String, projectName: String, isDefault: Bool,
        type: String = GroupType.aigc, channel: String? = nil
    ) async throws -> AssetGroup {
        let group = AssetGroup(
            id: Identifiers.group(at: clock.now), keyID: keyID, name: name, description: description,
            projectName: projectName, createdAt: clock.now, groupType: type
        )
        try await db.raw("""
            INSERT INTO asset_groups (id, key_id, name, description, project_name, is_default, created_at, group_type, channel)
            VALUES (\(bind: group.id), \(bind: keyID), \(bind: name), \(bind: description), \(bind: projectName),
                    \(bind: isDefault ? 1 : 0), \(bind: Epoch.millis(group.createdAt)), \(bind: type), \(bind: channel))
            """).run()
        return group
    }

    /// The key's default group (crun uploads land there), made on first use.
    package func defaultGroup(_ db: any SQLDatabase, keyID: String) async throws -> AssetGroup {
        if let row = try await db.raw("SELECT * FROM asset_groups WHERE key_id = \(bind: keyID) AND is_default = 1").first() {
            return try Self.group(from: row)
        }
        return try await insertGroup(db, keyID: keyID, name: "default", description: "Assets uploaded without a group", projectName: "default", isDefault: true)
    }

    package static func group(from row: any SQLRow) throws -> AssetGroup {
        AssetGroup(
            id: try row.decode(column: "id", as: String.self),
            keyID: try row.decode(column: "key_id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            projectName: try row.decode(column: "project_name", as: String.self),
            createdAt: Epoch.date(try row.decode(column: "created_at", as: Int64.self)),
            groupType: try row.decode(column: "group_type", as: String.self)
        )
    }
}

// MARK: - Assets and review tasks


extension SQLStore {
    /// Stores a review task and its assets (and the group, when the submission makes one) in one
    /// transaction. Throws `group_not_found` when the target group is not the key's.
    ///
    /// With `pricePerAsset` > 0, that much is held per asset (402 when the key lacks it) and charged for
    /// each asset that passes review; a failed review costs nothing.
    public func submitAssets(
        keyID: String, target: GroupTarget, projectName: String, type: MediaType, inputs: [AssetInput],
        callbackURL: String? = nil, pricePerAsset: Int64 = 0, dialect: Dialect = .apimart
    ) async throws -> AssetReviewTask {
        try await provider.transaction { db in
            let group: AssetGroup
            switch target {
            case .new(let name, let description):
                group = try await self.insertGroup(db, keyID: keyID, name: name, description: description, projectName: projectName, isDefault: false)
            case .existing(let id):
                guard let found = try await self.group(db, id: id, keyID: keyID) else {
                    throw SeedgateError(.notFound, code: "group_not_found", message: "group_id: group '\(id)' does not exist", param: "group_id")
                }
                group = found
            case .keyDefault:
                group = try await self.defaultGroup(db, keyID: keyID)
            }
            let now = clock.now
            let taskID = Identifiers.task(at: now)
            let hold = pricePerAsset * Int64(inputs.count)
            try await db.raw("""
                INSERT INTO tasks (id, key_id, kind, group_id, created_at, hold, callback_url, dialect)
                VALUES (\(bind: taskID), \(bind: keyID), 'asset_review', \(bind: group.id), \(bind: Epoch.millis(now)), \(bind: hold), \(bind: callbackURL),
                        \(bind: dialect.rawValue))
                """).run()
            try await self.placeHold(db, keyID: keyID, ref: taskID, amount: hold, what: "reviewing \(inputs.count) asset(s)")
            var assets: [Asset] = []
            for (position, input) in inputs.enumerated() {
                let asset = Asset(
                    id: Identifiers.asset(at: now), keyID: keyID, groupID: group.id, taskID: taskID, name: input.name,
                    type: type, sourceURL: input.url, status: .processing, failure: nil, createdAt: now, updatedAt: now
                )
                try await db.raw("""
                    INSERT INTO assets (id, key_id, group_id, task_id, position, name, media_type, source_url, status, created_at, updated_at)
                    VALUES (\(bind: asset.id), \(bind: keyID), \(bind: group.id), \(bind: taskID), \(bind: position), \(bind: asset.name),
                            \(bind: type.rawValue), \(bind: asset.sourceURL), 'processing', \(bind: Epoch.millis(now)), \(bind: Epoch.millis(now)))
                    """).run()
                assets.append(asset)
            }
            return AssetReviewTask(id: taskID, keyID: keyID, groupID: group.id, createdAt: now, assets: assets, dialect: dialect)
        }
    }

    public func asset(id: String, keyID: String) async throws -> Asset? {
        try await provider.read { db in
            try await db.raw("SELECT * FROM assets WHERE id = \(bind: id) AND key_id = \(bind: keyID)").first().map(Self.asset(from:))
        }
    }

    /// The review task with this id, if the key owns it.
    public func reviewTask(id: String, keyID: String) async throws -> AssetReviewTask? {
        try await consoleReviewTask(id: id, keyID: keyID)
    }

    /// The review task with this id; with `keyID`, only if that key owns it.
    public func consoleReviewTask(id: String, keyID: String?) async throws -> AssetReviewTask? {
        try await reviewTasks(where: "id = \(bind: id)", keyID: keyID, limit: 1).first
    }

    public func consoleReviewTasks(keyID: String?, limit: Int) async throws -> [AssetReviewTask] {
        try await reviewTasks(where: "1 = 1", keyID: keyID, limit: limit)
    }

    /// Review tasks matching `condition` (and the key, when given), newest first, each with its assets.
    private func reviewTasks(where condition: SQLQueryString, keyID: String?, limit: Int) async throws -> [AssetReviewTask] {
        var select: SQLQueryString = "SELECT id, key_id, group_id, created_at, dialect FROM tasks WHERE kind = 'asset_review' AND "
        select += condition
        if let keyID { select += " AND key_id = \(bind: keyID)" }
        select += " ORDER BY id DESC LIMIT \(unsafeRaw: String(max(1, limit)))"
        let query = select
        return try await provider.read { db in
            let rows = try await db.raw(query).all()
            guard !rows.isEmpty else { return [] }
            let ids = try rows.map { try $0.decode(column: "id", as: String.self) }
            var assets: [String: [Asset]] = [:]
            for row in try await db.raw("SELECT * FROM assets WHERE task_id IN (\(binds: ids)) ORDER BY position").all() {
                let asset = try Self.asset(from: row)
                assets[asset.taskID ?? "", default: []].append(asset)
            }
            return try zip(ids, rows).map { id, row in
                AssetReviewTask(
                    id: id, keyID: try row.decode(column: "key_id", as: String.self),
                    groupID: try row.decode(column: "group_id", as: String.self),
                    createdAt: Epoch.date(try row.decode(column: "created_at", as: Int64.self)),
                    assets: assets[id] ?? [],
                    dialect: try row.decode(column: "dialect", as: String?.self).flatMap(Dialect.init(rawValue:)) ?? .apimart
                )
            }
        }
    }

    /// Claims the oldest asset awaiting review whose lease is free or expired. One statement, so two
    /// workers can never hold the same asset.
    public func claimAssetForReview(owner: String, lease: Duration) async throws -> Asset? {
        let now = Epoch.millis(clock.now)
        return try await claim(
            "assets", owner: owner, until: now + lease.milliseconds, also: "attempts = attempts + 1",
            free: "status IN (\(unsafeRaw: AssetStatus.sqlSources(of: .active))) AND (lease_until IS NULL OR lease_until < \(bind: now))",
            order: "created_at, position"
        ).first.map(Self.asset(from:))
    }

    /// Records a review's outcome, only if this worker still holds the asset and it is still in review.
    @discardableResult
    public func finishReview(assetID: String, owner: String, outcome: Result<MediaFacts, Failure>) async throws -> Bool {
        let now = Epoch.millis(clock.now)
        return try await provider.transaction { db in
            let rows: [any SQLRow]
            switch outcome {
            case .success(let facts):
                rows = try await db.raw("""
                    UPDATE assets SET status = 'active', metadata = \(bind: facts.json), lease_owner = NULL, lease_until = NULL, updated_at = \(bind: now)
                    WHERE id = \(bind: assetID) AND status IN (\(unsafeRaw: AssetStatus.sqlSources(of: .active))) AND lease_owner = \(bind: owner)
                    RETURNING id, key_id, task_id
                    """).all()
            case .failure(let failure):
                rows = try await db.raw("""
                    UPDATE assets SET status = 'failed', failure_code = \(bind: failure.code), failure_message = \(bind: failure.message),
                        lease_owner = NULL, lease_until = NULL, updated_at = \(bind: now)
                    WHERE id = \(bind: assetID) AND status IN (\(unsafeRaw: AssetStatus.sqlSources(of: .failed))) AND lease_owner = \(bind: owner)
                    RETURNING id, key_id, task_id
                    """).all()
            }
            guard let row = rows.first else { return false }
            if let taskID = try row.decode(column: "task_id", as: String?.self) {
                try await self.settleReview(db, keyID: try row.decode(column: "key_id", as: String.self), taskID: taskID, assetID: assetID,
                                            passed: (try? outcome.get()) != nil)
            }
            return true
        }
    }

    /// Charges or releases one asset's share of its review task's hold; when the task's last asset is
    /// done, queues its webhook.
    private func settleReview(_ db: any SQLDatabase, keyID: String, taskID: String, assetID: String, passed: Bool) async throws {
        guard let task = try await db.raw("SELECT hold FROM tasks WHERE id = \(bind: taskID)").first() else { return }
        let hold = try task.decode(column: "hold", as: Int64.self)
        if hold > 0 {
            let count = try await db.raw("SELECT COUNT(*) AS n FROM assets WHERE task_id = \(bind: taskID)").first()?.decode(column: "n", as: Int64.self) ?? 1
            let share = hold / max(1, count)
            if passed {
                try await settle(db, keyID: keyID, ref: assetID, hold: share, cost: share, endsVideoTask: false)
            } else {
                try await release(db, keyID: keyID, ref: assetID, hold: share, endsVideoTask: false)
            }
        }
        let open = try await db.raw("SELECT COUNT(*) AS n FROM assets WHERE task_id = \(bind: taskID) AND status = 'processing'").first()?.decode(column: "n", as: Int.self) ?? 0
        if open == 0 { try await enqueueWebhook(db, taskID: taskID) }
    }

    /// Frees every lease at start-up, for a store that only one server can use (SQLite under the serve
    /// lock): any lease there belonged to a server that is gone, so its work can start again at once.
    public func releaseAllLeases() async throws {
        try await provider.transaction { db in
            try await db.raw("UPDATE assets SET lease_owner = NULL, lease_until = NULL WHERE status = 'processing'").run()
            try await db.raw("UPDATE tasks SET lease_until = 0 WHERE kind = 'video' AND status = 'processing'").run()
            try await db.raw("UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL WHERE status = 'pending'").run()
        }
    }

    package static func asset(from row: any SQLRow) throws -> Asset {
        let code = try row.decode(column: "failure_code", as: String?.self)
        let message = try row.decode(column: "failure_message", as: String?.self)
        return Asset(
            id: try row.decode(column: "id", as: String.self),
            keyID: try row.decode(column: "key_id", as: String.self),
            groupID: try row.decode(column: "group_id", as: String.self),
            taskID: try row.decode(column: "task_id", as: String?.self),
            name: try row.decode(column: "name", as: String.self),
            type: MediaType(rawValue: try row.decode(column: "media_type", as: String.self)) ?? .image,
            sourceURL: try row.decode(column: "source_url", as: String.self),
            status: AssetStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .processing,
            failure: code.map { Failure(code: $0, message: message ?? "") },
            createdAt: Epoch.date(try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Epoch.date(try row.decode(column: "updated_at", as: Int64.self))
        )
    }
}
