import Crypto
import Foundation
import SeedgateSupport
import Synchronization

/// What the web console does, for the operator and for a key's owner. Every read and action takes the
/// session's role: an owner's reads are narrowed to their key in the query itself, and operator
/// actions refuse any other role. Generations and cancellations go through `GenerationService`, the
/// same path the API takes.
public struct ConsoleService: Sendable {
    public typealias Store = ConsoleStore & KeyStore & VideoTaskStore & WebhookOutbox
    package let store: any Store
    package let generation: GenerationService
    package let limits: Limits
    /// How long a sign-in lasts, whatever the browser does with its cookie.
    public let sessionLifetime: Duration
    package let failures: SignInFailures

    public init(store: any Store, generation: GenerationService, limits: Limits, sessionLifetime: Duration = .seconds(12 * 3600)) {
        self.store = store
        self.generation = generation
        self.limits = limits
        self.sessionLifetime = sessionLifetime
        self.failures = SignInFailures(clock: store.clock)
    }

    // MARK: Sessions

    /// Signs in with the admin token or an API key's secret; returns the cookie's token. `client`
    /// names the caller (its address): after 5 wrong tries in a minute it must wait.
    public func signIn(credential raw: String, client: String) async throws -> (token: String, session: ConsoleSession) {
        let mark: Date
        switch failures.begin(client) {
        case .success(let started): mark = started
        case .failure(let wait):
            throw SeedgateError(.rateLimited, code: "too_many_sign_ins", message: "too many wrong sign-ins; try again in \(wait.seconds) s", retryAfter: wait.seconds)
        }
        let credential = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        var role: ConsoleRole?
        if credential.hasPrefix(AdminToken.prefix), let hash = try await store.adminTokenHash(),
           Self.constantTimeEqual(KeySecret.hash(credential), hash) {
            role = .operator
        } else if credential.hasPrefix(KeySecret.prefix), credential.count <= 100, let key = try await store.authenticate(secret: credential) {
            role = .owner(keyID: key.id)
        }
        guard let role else {
            throw SeedgateError(.unauthorized, code: "invalid_credentials", message: "that is neither the admin token nor a live API key", param: "credential")
        }
        failures.succeeded(client, mark: mark)
        try await store.pruneConsoleSessions()
        let token = Identifiers.random(43)
        let session = ConsoleSession(role: role, csrf: Identifiers.random(32), expiresAt: store.clock.now.addingTimeInterval(sessionLifetime.seconds))
        try await store.createConsoleSession(tokenHash: KeySecret.hash(token), role: role, csrf: session.csrf, expiresAt: session.expiresAt)
        return (token, session)
    }

    public func session(token: String) async throws -> ConsoleSession? {
        guard !token.isEmpty, token.count <= 100 else { return nil }
        return try await store.consoleSession(tokenHash: KeySecret.hash(token))
    }

    public func signOut(token: String) async throws {
        try await store.deleteConsoleSession(tokenHash: KeySecret.hash(token))
    }

    /// Compares two strings in time that depends only on their length.
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    // MARK: Reads

    /// The key a session speaks for (owners), looked up live.
    public func key(_ role: ConsoleRole) async throws -> APIKey? {
        guard let id = role.keyID else { return nil }
        return try await store.listKeys().first { $0.id == id && $0.revokedAt == nil }
    }

    public func overview(_ role: ConsoleRole) async throws -> ConsoleOverview {
        try Self.requireOperator(role)
        return try await store.consoleOverview(now: store.clock.now)
    }

    public func keys(_ role: ConsoleRole) async throws -> [(key: APIKey, account: Account?)] {
        try Self.requireOperator(role)
        var rows: [(key: APIKey, account: Account?)] = []
        for key in try await store.listKeys().reversed() {
            rows.append((key, try await store.account(keyID: key.id, defaults: limits)))
        }
        return rows
    }

    /// A key's account and ledger: the operator's for any key, an owner's for their own.
    public func account(_ role: ConsoleRole, keyID: String) async throws -> (key: APIKey, account: Account, ledger: [LedgerEntry]) {
        guard role.isOperator || role.keyID == keyID,
              let key = try await store.listKeys().first(where: { $0.id == keyID }),
              let account = try await store.account(keyID: keyID, defaults: limits)
        else { throw SeedgateError.notFound("key", keyID) }
        return (key, account, try await store.ledger(keyID: keyID, limit: 50))
    }

    public func tasks(_ role: ConsoleRole, query: ConsoleTaskQuery, page: Int, size: Int = 25) async throws -> (tasks: [VideoTask], total: Int) {
        var query = query
        if let own = role.keyID { query.keyID = own }
        return try await store.consoleTasks(query, offset: max(0, page - 1) * size, limit: size)
    }

    public func task(_ role: ConsoleRole, id: String) async throws -> VideoTask {
        guard let task = try await store.consoleTask(id: id, keyID: role.keyID) else { throw SeedgateError.notFound("task", id) }
        return task
    }

    /// A review task (the assets one submission made), the operator's or the owner's own.
    public func reviewTask(_ role: ConsoleRole, id: String) async throws -> AssetReviewTask {
        guard let task = try await store.consoleReviewTask(id: id, keyID: role.keyID) else { throw SeedgateError.notFound("task", id) }
        return task
    }

    public func reviewTasks(_ role: ConsoleRole, limit: Int = 20) async throws -> [AssetReviewTask] {
        try await store.consoleReviewTasks(keyID: role.keyID, limit: limit)
    }

    public func assets(_ role: ConsoleRole, limit: Int = 100) async throws -> (assets: [Asset], channels: [String: String]) {
        let assets = try await store.consoleAssets(keyID: role.keyID, limit: limit)
        let channels = role.isOperator ? try await store.groupChannels(groupIDs: Array(Set(assets.map(\.groupID)))) : [:]
        return (assets, channels)
    }

    /// The task's history from what the store holds: its times, its ledger lines, its upstream
    /// place and its webhook.
    public func timeline(_ role: ConsoleRole, task: VideoTask) async throws -> (events: [TaskEvent], webhook: WebhookDelivery?) {
        guard role.isOperator || role.keyID == task.keyID else { throw SeedgateError.notFound("task", task.id) }
        var events = [TaskEvent(at: task.createdAt, kind: "accepted", detail: "\(task.request.model.rawValue), \(task.dialect.rawValue) dialect")]
        for entry in try await store.ledger(ref: task.id) {
            switch entry.kind {
            case "hold": events.append(.init(at: entry.createdAt, kind: "held", detail: "\(entry.heldDelta) credits held"))
            case "charge": events.append(.init(at: entry.createdAt, kind: "charged", detail: "\(-entry.balanceDelta) credits charged, \(-entry.heldDelta - -entry.balanceDelta) released"))
            case "release": events.append(.init(at: entry.createdAt, kind: "released", detail: "\(-entry.heldDelta) credits released"))
            default: events.append(.init(at: entry.createdAt, kind: entry.kind, detail: entry.note ?? ""))
            }
        }
        if let started = task.startedAt {
            events.append(.init(at: started, kind: "started", detail: task.upstream == nil ? "rendering on the local engine" : role.isOperator ? "taken by a worker" : "sent upstream"))
        }
        if let upstream = task.upstream, role.isOperator {
            // Which account and which upstream id are the operator's business, not the key owner's.
            let at = task.startedAt ?? task.createdAt
            events.append(.init(at: at, kind: "submitted", detail: "channel \(upstream.channel)" + (upstream.id.map { ", upstream task \($0)" } ?? ", submission in flight")))
            if let status = upstream.status {
                events.append(.init(at: at, kind: "upstream", detail: "last upstream status \(status) after \(upstream.polls) polls"))
            }
        }
        if let done = task.completedAt {
            let detail = switch task.status {
            case .completed: task.result.map { "\($0.width)x\($0.height), \(String(format: "%.2f", $0.seconds)) s, audio \($0.hasAudio ? "on" : "off")" } ?? "result purged"
            default: task.failure.map { "\($0.code): \($0.message)" } ?? ""
            }
            events.append(.init(at: done, kind: task.status.rawValue, detail: detail))
        }
        let webhook = try await store.webhookDelivery(taskID: task.id)
        if let webhook {
            let detail = "\(webhook.status), \(webhook.attempts) attempt(s)" + (webhook.lastStatusCode.map { ", last HTTP \($0)" } ?? "")
                + (webhook.lastError.map { ", \($0)" } ?? "")
            events.append(.init(at: webhook.deliveredAt ?? webhook.nextAttemptAt, kind: "webhook", detail: detail))
        }
        events.sort { $0.at < $1.at }
        return (events, webhook)
    }

    // MARK: Actions

    public func createKey(_ role: ConsoleRole, name: String, credits: Int64, rpm: Int?, maxInFlight: Int?) async throws -> (key: APIKey, secret: String) {
        try Self.requireOperator(role)
        let name = name.trimmingCharacters(in: .whitespaces)
        guard (1...100).contains(name.count), !name.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 32 } == true }) else {
            throw SeedgateError.invalid("name", "must be 1 to 100 characters, without control characters")
        }
        guard (0...1_000_000_000_000).contains(credits) else { throw SeedgateError.invalid("credits", "must be from 0 to 1000000000000") }
        try Limits.check(rpm: rpm, maxInFlight: maxInFlight)
        let made = try await store.createKey(name: name, credits: credits, rpm: rpm, maxInFlight: maxInFlight)
        return (made.key, made.secret)
    }

    public func revokeKey(_ role: ConsoleRole, id: String) async throws {
        try Self.requireOperator(role)
        guard try await store.revokeKey(id: id) else { throw SeedgateError.notFound("key", id) }
    }

    public func setLimits(_ role: ConsoleRole, id: String, rpm: Int?, maxInFlight: Int?) async throws {
        try Self.requireOperator(role)
        try Limits.check(rpm: rpm, maxInFlight: maxInFlight)
        guard try await store.setLimits(keyID: id, rpm: rpm, maxInFlight: maxInFlight) else { throw SeedgateError.notFound("key", id) }
    }

    public func grant(_ role: ConsoleRole, id: String, amount: Int64, note: String) async throws {
        try Self.requireOperator(role)
        guard amount != 0, (-1_000_000_000_000...1_000_000_000_000).contains(amount) else { throw SeedgateError.invalid("amount", "must be a non-zero whole number of credits up to 1000000000000") }
        guard note.count <= 200 else { throw SeedgateError.invalid("note", "must be at most 200 characters") }
        guard try await store.listKeys().contains(where: { $0.id == id }) else { throw SeedgateError.notFound("key", id) }
        try await store.grant(keyID: id, amount: amount, note: note.isEmpty ? "added in the console" : note)
    }

    public func rotateWebhookSecret(_ role: ConsoleRole, id: String) async throws -> String {
        try Self.requireOperator(role)
        guard let secret = try await store.rotateWebhookSecret(keyID: id) else { throw SeedgateError.notFound("key", id) }
        return secret
    }

    /// Cancels a task: its owner's, or any for the operator, through the API's own cancellation.
    public func cancel(_ role: ConsoleRole, taskID: String) async throws {
        let task = try await task(role, id: taskID)
        guard let key = try await store.listKeys().first(where: { $0.id == task.keyID }) else { throw SeedgateError.notFound("task", taskID) }
        _ = try await generation.cancel(key: key, id: taskID)
    }

    public func redeliverWebhook(_ role: ConsoleRole, taskID: String) async throws {
        try Self.requireOperator(role)
        guard try await store.redeliverWebhook(taskID: taskID) else {
            throw SeedgateError(.notFound, code: "webhook_not_found", message: "task '\(Quote.short(taskID))' has no webhook to deliver")
        }
    }

    package static func requireOperator(_ role: ConsoleRole) throws(SeedgateError) {
        guard role.isOperator else { throw SeedgateError(.forbidden, code: "operator_only", message: "this page is the operator's") }
    }
}

/// Sign-in tries per client in the last minute that did not succeed, a try still being checked
/// included (so tries sent at once cannot all pass); five make the next wait until the oldest is a
/// minute old. A success takes back only its own try, never the failures before it.
package final class SignInFailures: Sendable {
    private let clock: any WallClock
    private let recent = Mutex<[String: [Date]]>([:])
    package static let allowed = 5
    private static let clients = 10_000

    package init(clock: any WallClock) { self.clock = clock }

    /// Starts a try: its mark when one may try now, else the seconds to wait.
    package func begin(_ client: String) -> Result<Date, Wait> {
        let now = clock.now
        return recent.withLock { recent in
            let kept = (recent[client] ?? []).filter { now.timeIntervalSince($0) < 60 }
            if kept.count >= Self.allowed, let oldest = kept.first {
                recent[client] = kept
                return .failure(Wait(seconds: max(1, Int((60 - now.timeIntervalSince(oldest)).rounded(.up)))))
            }
            if recent[client] == nil, recent.count >= Self.clients {
                // Forget clients with nothing in the last minute; only a flood of addresses empties it all.
                recent = recent.filter { $0.value.contains { now.timeIntervalSince($0) < 60 } }
                if recent.count >= Self.clients { recent.removeAll() }
            }
            recent[client] = kept + [now]
            return .success(now)
        }
    }

    /// The try marked `mark` succeeded: it no longer counts.
    package func succeeded(_ client: String, mark: Date) {
        recent.withLock { recent in
            guard var tries = recent[client], let index = tries.firstIndex(of: mark) else { return }
            tries.remove(at: index)
            recent[client] = tries.isEmpty ? nil : tries
        }
    }

    package struct Wait: Error { package var seconds: Int }
}
