import Foundation
import SeedgateSupport

/// Real-person verification, the one model under every dialect: a key starts a session, the person
/// completes it (Seedgate's own H5 page, or upstream's on an Ark channel), and a verified session yields
/// a `LivenessFace` group that only that key can read or fill.
public struct LivenessService: Sendable {
    package let store: any LivenessStore & AssetStore
    package let urlGuard: URLGuard
    package let mode: LivenessMode
    /// How long the link waits to be opened (about 120 s upstream).
    package let linkLifetime: Duration
    /// Once opened, how long the person has to send the photo.
    package let completionWindow: Duration
    /// Once the photo is in, how long the operator has to decide (operator mode).
    package let decisionWindow: Duration
    /// `--liveness-decision-ttl`'s default: a day.
    public static let defaultDecisionWindow: Duration = .seconds(86400)
    package let upstream: (any LivenessUpstream)?
    /// Wakes the worker that checks upstream sessions.
    package let signal: WorkSignal
    /// The server's default limits: a key may have as many sessions open as tasks in flight.
    package let limits: Limits

    public init(
        store: any LivenessStore & AssetStore, urlGuard: URLGuard, mode: LivenessMode = .operator, linkLifetime: Duration = .seconds(120),
        completionWindow: Duration = .seconds(600), decisionWindow: Duration = defaultDecisionWindow, upstream: (any LivenessUpstream)? = nil,
        signal: WorkSignal = WorkSignal(), limits: Limits = .defaults
    ) {
        self.limits = limits
        self.store = store
        self.urlGuard = urlGuard
        self.mode = mode
        self.linkLifetime = linkLifetime
        self.completionWindow = completionWindow
        self.decisionWindow = decisionWindow
        self.upstream = upstream
        self.signal = signal
    }

    /// Starts a session. `callbackField` names the callback in the dialect's words, for errors.
    public func create(key: APIKey, request: LivenessRequest, callbackField: String = "callback_url") async throws -> LivenessSession {
        var request = request
        request.projectName = try AssetRules.projectName(request.projectName, field: "project_name")
        if let url = request.callbackURL {
            request.callbackURL = try urlGuard.checkSyntax(url, field: callbackField).absoluteString
        }
        if let locale = request.locale { request.locale = try AssetRules.label(locale, field: "locale", max: 16) }
        if let bizID = request.bizID { request.bizID = try AssetRules.label(bizID, field: "biz_id", max: 64) }
        // Each open session may be checked upstream until it ends: a key holds as many open as it may
        // have tasks in flight. Counted before upstream is asked, and again as the session is stored:
        // of creates racing for a key's last place, each may start its upstream session, and those the
        // store then refuses are left unused upstream, where they end by themselves (about 120 s).
        let openLimit = key.limits(limits).maxInFlight
        let open = try await store.openLivenessSessions(keyID: key.id)
        if open >= openLimit { throw Self.tooManyOpen(open, limit: openLimit) }
        var started: UpstreamLivenessSession?
        if let upstream, upstream.runsLiveness {
            started = try await upstream.startLiveness(projectName: request.projectName)
        }
        // Upstream's link lives about 120 s too; upstream's answer decides the end, polled until then
        // (plus the time the person may take once it is open).
        let lifetime = started == nil ? linkLifetime : linkLifetime + completionWindow
        let session = try await store.createLivenessSession(
            keyID: key.id, request: request, expiresAt: store.clock.now.addingTimeInterval(lifetime.seconds), upstream: started,
            openLimit: openLimit
        )
        if started != nil { signal.notify() }
        return session
    }

    /// A key at its limit of open sessions (its `max_in_flight`).
    public static func tooManyOpen(_ open: Int, limit: Int) -> SeedgateError {
        SeedgateError(.rateLimited, code: "too_many_open_verifications",
                      message: "this key has \(open) verifications open, its limit (its max_in_flight, \(limit)); wait for some to finish or expire",
                      retryAfter: 10)
    }

    /// The key's session, by its id.
    public func session(key: APIKey, id: String) async throws -> LivenessSession {
        guard let session = try await store.livenessSession(id: id, keyID: key.id) else { throw SeedgateError.notFound("verification", id) }
        return session
    }

    /// The key's session, by its token (what a client trades for the group). Another key's token is
    /// unknown to this key.
    public func session(key: APIKey, token: String, field: String = "byted_token") async throws -> LivenessSession {
        guard !token.isEmpty else { throw SeedgateError.missing(field) }
        guard let session = try await store.livenessSession(token: token, keyID: key.id) else {
            throw SeedgateError(.notFound, code: "verification_not_found", message: "\(field): no verification session has this token", param: field)
        }
        return session
    }

    /// A real-person group of this key, for assets to be submitted into.
    public func realPersonGroup(key: APIKey, id: String, field: String = "group_id") async throws -> AssetGroup {
        guard let group = try await store.group(id: id, keyID: key.id) else {
            throw SeedgateError(.notFound, code: "group_not_found", message: "\(field): group '\(Quote.short(id))' does not exist", param: field)
        }
        guard group.groupType == GroupType.livenessFace else {
            throw SeedgateError.invalid(field, "group '\(Quote.short(id))' is not a real-person group (made by a verified liveness check); submit other assets through the private-avatar API")
        }
        return group
    }

    // MARK: The person's side (the H5 page: the token is the credential)

    /// The session behind a link; opening it the first time starts the person's window.
    public func open(token: String) async throws -> LivenessSession? {
        try await store.openLivenessLink(token: token, window: completionWindow)
    }

    /// The person's live photo, already stored under `photoKey`. In auto mode it completes the check.
    /// Nil when the link is unknown; the session as it stands after, otherwise (a link past its time,
    /// or already used, says so through its status).
    public func submitPhoto(token: String, photoKey: String) async throws -> LivenessSession? {
        guard let session = try await store.livenessSession(token: token, keyID: nil) else { return nil }
        guard session.upstreamToken == nil, try await store.submitLivenessPhoto(token: token, photoKey: photoKey, decisionWindow: decisionWindow) else { return session }
        if mode == .auto {
            _ = try await store.finishLivenessSession(id: session.id, from: .submitted, outcome: .verified, failure: nil, channel: nil, upstreamGroupID: nil)
        }
        return try await store.livenessSession(token: token, keyID: nil)
    }

    // MARK: The operator's side

    /// Approves or refuses a session waiting for the operator. Throws when there is no such session or it
    /// is not waiting (decided already, or its decision window has passed: it is expired).
    public func decide(id: String, approve: Bool, reason: String?) async throws -> LivenessSession {
        let reason = reason.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : String($0.prefix(300)) }
        let failure = approve ? nil : Failure(code: "verification_refused", message: "the operator refused the check" + (reason.map { ": \($0)" } ?? ""))
        if let session = try await store.finishLivenessSession(
            id: id, from: .submitted, outcome: approve ? .verified : .failed, failure: failure, channel: nil, upstreamGroupID: nil
        ) {
            return session
        }
        guard let session = try await store.livenessSession(id: id, keyID: nil) else { throw SeedgateError.notFound("verification", id) }
        throw SeedgateError(.conflict, code: "verification_not_waiting",
                            message: "verification '\(Quote.short(id))' is \(session.status(at: store.clock.now).rawValue); only one with a photo waiting for the operator can be decided")
    }
}
