import Foundation
import SeedgateDomain
import SeedgateSupport
import SQLKit

/// Credits: every movement is one ledger row, written in the same transaction as the change to the
/// key's `balance` and `held` columns, so a key's balance always equals the sum of its ledger. A
/// unique index on (ref, kind) makes a task's hold, charge and release happen at most once.
extension SQLStore {
    public func grant(keyID: String, amount: Int64, note: String) async throws {
        try await provider.transaction { db in
            guard try await db.raw("SELECT id FROM api_keys WHERE id = \(bind: keyID)").first() != nil else {
                throw SeedgateError.notFound("key", keyID)
            }
            try await self.grant(db, keyID: keyID, amount: amount, note: note)
        }
    }

    /// Adds (or, negative, removes) credits. A removal may not take the balance below what is held.
    package func grant(_ db: any SQLDatabase, keyID: String, amount: Int64, note: String) async throws {
        let updated = try await db.raw("""
            UPDATE api_keys SET balance = balance + \(bind: amount)
            WHERE id = \(bind: keyID) AND balance + \(bind: amount) >= held RETURNING id
            """).all()
        guard !updated.isEmpty else {
            throw SeedgateError.invalid("amount", "would take the balance below the credits held for running tasks", code: "insufficient_credits")
        }
        try await insertLedger(db, keyID: keyID, kind: amount >= 0 ? "credit" : "debit", balance: amount, held: 0, ref: nil, note: note)
    }

    /// Holds `amount` for `ref` if the key has that much available; otherwise 402 with the numbers.
    /// With `inFlightLimit`, `ref` is a video task: it is also counted into the key's `in_flight` tasks
    /// (in the same statement), or refused with 429 when the key already has that many.
    package func placeHold(_ db: any SQLDatabase, keyID: String, ref: String, amount: Int64, what: String, inFlightLimit: Int? = nil) async throws {
        let counted = inFlightLimit == nil ? 0 : 1
        guard amount > 0 || counted > 0 else { return }
        let limit = Int64(clamping: inFlightLimit ?? .max)
        let updated = try await db.raw(Self.takeHold(keyID: keyID, amount: amount, counted: counted, limit: limit)).all()
        guard !updated.isEmpty else {
            let figures = try await Self.holdFigures(db, keyID: keyID) ?? HoldFigures(balance: 0, held: 0, inFlight: 0)
            throw Self.holdRefusal(figures, counted: counted, limit: limit, amount: amount, what: what)
                ?? Self.insufficient(figures, amount: amount, what: what)
        }
        if amount > 0 {
            try await insertLedger(db, keyID: keyID, kind: "hold", balance: 0, held: amount, ref: ref, note: nil)
        }
    }

    /// What the hold rule looks at on a key.
    package struct HoldFigures: Sendable {
        let balance: Int64
        let held: Int64
        let inFlight: Int64
    }

    /// The key's figures as they are now; nil when there is no such key.
    package static func holdFigures(_ db: any SQLDatabase, keyID: String) async throws -> HoldFigures? {
        try await db.raw("SELECT balance, held, in_flight FROM api_keys WHERE id = \(bind: keyID)").first().map { row in
            HoldFigures(balance: try row.decode(column: "balance", as: Int64.self), held: try row.decode(column: "held", as: Int64.self),
                        inFlight: try row.decode(column: "in_flight", as: Int64.self))
        }
    }

    /// Why the hold rule refuses `amount` and `counted` more tasks on a key with these figures (429 for
    /// its in-flight limit, else 402), or nil when it would take them.
    package static func holdRefusal(_ figures: HoldFigures, counted: Int, limit: Int64, amount: Int64, what: String) -> SeedgateError? {
        if figures.inFlight + Int64(counted) > limit {
            return SeedgateError(.rateLimited, code: "too_many_tasks_in_flight",
                                 message: "this key has \(figures.inFlight) unfinished tasks, its limit; wait for some to finish", retryAfter: 5)
        }
        return figures.balance - figures.held >= amount ? nil : insufficient(figures, amount: amount, what: what)
    }

    private static func insufficient(_ figures: HoldFigures, amount: Int64, what: String) -> SeedgateError {
        let (balance, held) = (figures.balance, figures.held)
        return SeedgateError(
            .insufficientCredits, code: "insufficient_credits",
            message: "\(what) costs up to \(amount) credits; available balance is \(balance - held) credits (balance \(balance), held \(held))"
        )
    }

    /// Charges `cost` and gives back the rest of the hold for `ref`. `endsVideoTask`: `ref` is a video
    /// task that has just finished, so it is also counted out of the key's `in_flight` tasks.
    package func settle(_ db: any SQLDatabase, keyID: String, ref: String, hold: Int64, cost: Int64, endsVideoTask: Bool) async throws {
        try await closeHold(db, kind: "charge", keyID: keyID, ref: ref, hold: hold, cost: cost, endsVideoTask: endsVideoTask)
    }

    /// Gives back the whole hold for `ref`: failures, cancellations and expiries cost nothing.
    /// `endsVideoTask` as for `settle`.
    package func release(_ db: any SQLDatabase, keyID: String, ref: String, hold: Int64, endsVideoTask: Bool) async throws {
        try await closeHold(db, kind: "release", keyID: keyID, ref: ref, hold: hold, cost: 0, endsVideoTask: endsVideoTask)
    }

    private func closeHold(
        _ db: any SQLDatabase, kind: String, keyID: String, ref: String, hold: Int64, cost: Int64, endsVideoTask: Bool
    ) async throws {
        let moves = hold > 0 || cost > 0
        guard moves || endsVideoTask else { return }
        if moves {
            try await insertLedger(db, keyID: keyID, kind: kind, balance: -cost, held: -hold, ref: ref, note: nil)
        }
        try await db.raw("""
            UPDATE api_keys SET balance = balance - \(bind: cost), held = held - \(bind: hold), in_flight = in_flight - \(bind: endsVideoTask ? 1 : 0)
            WHERE id = \(bind: keyID)
            """).run()
    }

    private func insertLedger(_ db: any SQLDatabase, keyID: String, kind: String, balance: Int64, held: Int64, ref: String?, note: String?) async throws {
        try await db.raw("""
            INSERT INTO \(unsafeRaw: Self.ledgerColumns)
            VALUES (\(Self.ledgerValues(keyID: keyID, kind: kind, balance: balance, held: held, ref: ref, note: note, at: clock.now)))
            """).run()
    }

    /// The hold rule, as the statement that applies it: the key's available balance covers `amount` and
    /// `counted` more unfinished tasks stay within `limit`. Returns the key's id when the hold was taken,
    /// no row when the rule refused it. Shared by `placeHold` and PostgreSQL's batched submission; the
    /// prepared submission on PostgreSQL (`PostgresPrepared.VideoSubmission`) spells it again for one
    /// task, and the credit and limit tests run on PostgreSQL hold it to the same answers. `holdRefusal`
    /// says in words why it refused.
    package static func takeHold(keyID: String, amount: Int64, counted: Int, limit: Int64) -> SQLQueryString {
        """
        UPDATE api_keys SET held = held + \(bind: amount), in_flight = in_flight + \(bind: counted)
        WHERE id = \(bind: keyID) AND balance - held >= \(bind: amount) AND in_flight + \(bind: counted) <= \(bind: limit) RETURNING id
        """
    }

    /// A ledger line: its columns, and its values in that order.
    package static let ledgerColumns = "ledger (id, key_id, kind, balance_delta, held_delta, ref, note, created_at)"

    /// A new ledger line's id.
    package static func ledgerID(at date: Date) -> String { "led_" + Identifiers.ulid(date) }

    package static func ledgerValues(keyID: String, kind: String, balance: Int64, held: Int64, ref: String?, note: String?, at: Date) -> SQLQueryString {
        """
        \(bind: ledgerID(at: at)), \(bind: keyID), \(bind: kind), \(bind: balance), \(bind: held), \(bind: ref), \(bind: note), \(bind: Epoch.millis(at))
        """
    }

    public func account(keyID: String, defaults: Limits) async throws -> Account? {
        try await provider.read { db in
            // The key's figures and what it has spent in one statement, so that they are of one moment:
            // a charge settled between two statements would show in one and not the other.
            guard let row = try await db.raw("""
                SELECT k.*, (SELECT CAST(COALESCE(SUM(-l.balance_delta), 0) AS BIGINT) FROM ledger l
                             WHERE l.key_id = k.id AND l.kind = 'charge') AS spent
                FROM api_keys k WHERE k.id = \(bind: keyID)
                """).first() else { return nil }
            let spent = try row.decode(column: "spent", as: Int64.self)
            var counts: [String: Int] = [:]
            for status in try await db.raw("SELECT status, COUNT(*) AS n FROM tasks WHERE key_id = \(bind: keyID) AND kind = 'video' GROUP BY status").all() {
                counts[try status.decode(column: "status", as: String.self)] = try status.decode(column: "n", as: Int.self)
            }
            return Account(
                keyID: keyID, name: try row.decode(column: "name", as: String.self),
                balance: try row.decode(column: "balance", as: Int64.self), held: try row.decode(column: "held", as: Int64.self),
                spent: spent, tasksByStatus: counts,
                rpm: try row.decode(column: "rpm", as: Int?.self) ?? defaults.rpm,
                maxInFlight: try row.decode(column: "max_in_flight", as: Int?.self) ?? defaults.maxInFlight
            )
        }
    }

    public func ledger(keyID: String, limit: Int = 20) async throws -> [LedgerEntry] {
        try await provider.read { db in
            try await db.raw("SELECT * FROM ledger WHERE key_id = \(bind: keyID) ORDER BY id DESC LIMIT \(unsafeRaw: String(limit))").all().map(Self.ledgerEntry(from:))
        }
    }

    package static func ledgerEntry(from row: any SQLRow) throws -> LedgerEntry {
        LedgerEntry(
            id: try row.decode(column: "id", as: String.self), kind: try row.decode(column: "kind", as: String.self),
            balanceDelta: try row.decode(column: "balance_delta", as: Int64.self), heldDelta: try row.decode(column: "held_delta", as: Int64.self),
            ref: try row.decode(column: "ref", as: String?.self), note: try row.decode(column: "note", as: String?.self),
            createdAt: Epoch.date(try row.decode(column: "created_at", as: Int64.self))
        )
    }

    /// The ledger's sums and the key's columns, for checking that they agree; and the key's `in_flight`
    /// count next to its unfinished video tasks counted one by one.
    public func ledgerTotals(keyID: String) async throws
        -> (balance: Int64, held: Int64, ledgerBalance: Int64, ledgerHeld: Int64, inFlight: Int64, unfinished: Int64) {
        // One statement, so every figure is of the same moment.
        try await provider.read { db in
            let row = try await db.raw("""
                SELECT balance, held, in_flight,
                    (SELECT CAST(COALESCE(SUM(balance_delta), 0) AS BIGINT) FROM ledger WHERE key_id = k.id) AS b,
                    (SELECT CAST(COALESCE(SUM(held_delta), 0) AS BIGINT) FROM ledger WHERE key_id = k.id) AS h,
                    (SELECT COUNT(*) FROM tasks WHERE key_id = k.id AND kind = 'video' AND status IN ('pending', 'processing')) AS unfinished
                FROM api_keys k WHERE id = \(bind: keyID)
                """).first()
            func value(_ column: String) throws -> Int64 { try row?.decode(column: column, as: Int64.self) ?? 0 }
            return (try value("balance"), try value("held"), try value("b"), try value("h"), try value("in_flight"), try value("unfinished"))
        }
    }

    /// Sets a key's limits; nil leaves one as it is.
    public func setLimits(keyID: String, rpm: Int?, maxInFlight: Int?) async throws -> Bool {
        defer { keyCache?.forget() }
        return try await provider.transaction { db in
            let changed = !(try await db.raw("""
                UPDATE api_keys SET rpm = COALESCE(\(bind: rpm), rpm), max_in_flight = COALESCE(\(bind: maxInFlight), max_in_flight)
                WHERE id = \(bind: keyID) RETURNING id
                """).all()).isEmpty
            if changed { try await self.keysChanged(db) }
            return changed
        }
    }

    public func rotateWebhookSecret(keyID: String) async throws -> String? {
        let secret = KeySecret.webhookSecret()
        return try await provider.transaction { db in
            try await db.raw("UPDATE api_keys SET webhook_secret = \(bind: secret) WHERE id = \(bind: keyID) RETURNING id").all().isEmpty ? nil : secret
        }
    }

    public func webhookSecret(keyID: String) async throws -> String? {
        try await provider.read { db in
            try await db.raw("SELECT webhook_secret FROM api_keys WHERE id = \(bind: keyID)").first()?.decode(column: "webhook_secret", as: String?.self)
        }
    }

    /// Adds `hits` to a key's count for a one-minute window and returns the window's total, which every
    /// server sharing the database adds to.
    public func addRateHits(keyID: String, window: Int64, hits: Int) async throws -> Int {
        try await provider.transaction { db in
            try await db.raw("""
                INSERT INTO rate_windows (key_id, window_start, hits) VALUES (\(bind: keyID), \(bind: window), \(bind: hits))
                ON CONFLICT (key_id, window_start) DO UPDATE SET hits = rate_windows.hits + \(bind: hits) RETURNING hits
                """).first()?.decode(column: "hits", as: Int.self) ?? hits
        }
    }

    public func pruneRateWindows(before: Date) async throws {
        try await provider.transaction { db in
            try await db.raw("DELETE FROM rate_windows WHERE window_start < \(bind: Epoch.millis(before))").run()
        }
    }
}
