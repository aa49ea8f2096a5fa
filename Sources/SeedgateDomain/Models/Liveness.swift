import Foundation
import SeedgateSupport

/// Where a real-person verification stands.
///
/// `pending` (the link is out, nobody has finished it) -> `submitted` (the person sent a live photo; the
/// operator decides) -> `verified` (a `LivenessFace` group exists) | `failed` (refused, with the reason).
/// A session nobody finishes in time ends `expired`: the person's (the link, then the photo) or the
/// operator's (the decision, `--liveness-decision-ttl`). On an Ark channel the person completes upstream's
/// check, so a session goes from `pending` straight to its end.
public enum LivenessStatus: String, Sendable, Codable, CaseIterable {
    case pending, submitted, verified, failed, expired

    public var isFinal: Bool { self == .verified || self == .failed || self == .expired }
}

/// Who completes a local check once the person has sent their photo.
public enum LivenessMode: String, Sendable, CaseIterable {
    /// The operator approves or refuses each one (console or `seedgate liveness approve|refuse`).
    case `operator`
    /// Every photo that is an image completes the check (for development and tests).
    case auto
}

/// The group type upstream gives a group made by a liveness check; ordinary groups are `AIGC`.
public enum GroupType {
    public static let aigc = "AIGC"
    public static let livenessFace = "LivenessFace"
}

/// One real-person verification session, owned by the key that created it.
public struct LivenessSession: Sendable, Equatable {
    public var id: String
    public var keyID: String
    /// The session's secret: it is in the H5 link, and a client trades it for the group.
    public var token: String
    public var status: LivenessStatus
    public var projectName: String
    public var callbackURL: String?
    public var dialect: Dialect
    /// toapis's `locale` and `biz_id`, kept and echoed.
    public var locale: String?
    public var bizID: String?
    /// The real-person group, once verified.
    public var groupID: String?
    public var failure: Failure?
    /// The live photo the person took (blob store key), for the operator to look at.
    public var photoKey: String?
    /// The Ark channel the check runs on, upstream's token for it and upstream's own H5 link.
    public var channel: String?
    public var upstreamToken: String?
    public var upstreamLink: String?
    public var createdAt: Date
    /// Until when the link can be opened (about 120 s after creation), then, once opened, until when
    /// the photo can be sent, and once sent, until when the operator may decide.
    public var expiresAt: Date
    public var openedAt: Date?
    public var submittedAt: Date?
    public var completedAt: Date?

    /// The link the person opens: upstream's on an Ark channel, else Seedgate's own page.
    public func h5Link(publicURL: String) -> String {
        upstreamLink ?? "\(publicURL)/verify/\(token)"
    }

    /// The status as a reader sees it now: a session waiting (for the person or the operator) past its
    /// time is expired even before the sweeper has written so.
    public func status(at now: Date) -> LivenessStatus {
        !status.isFinal && now > expiresAt ? .expired : status
    }

    /// Why the check did not verify, as a reader sees it now.
    public func failure(at now: Date) -> Failure? {
        failure ?? (status(at: now) == .expired ? Failure(code: "verification_expired", message: status == .submitted
            ? LivenessSession.undecided : "the verification link was not used in time") : nil)
    }

    /// Why a session whose photo waited for the operator past the decision window expired.
    package static let undecided = "the operator did not decide in time"

    package init(
        id: String, keyID: String, token: String, status: LivenessStatus, projectName: String, callbackURL: String?, dialect: Dialect,
        locale: String? = nil, bizID: String? = nil, groupID: String? = nil, failure: Failure? = nil, photoKey: String? = nil,
        channel: String? = nil, upstreamToken: String? = nil, upstreamLink: String? = nil, createdAt: Date, expiresAt: Date,
        openedAt: Date? = nil, submittedAt: Date? = nil, completedAt: Date? = nil
    ) {
        self.id = id
        self.keyID = keyID
        self.token = token
        self.status = status
        self.projectName = projectName
        self.callbackURL = callbackURL
        self.dialect = dialect
        self.locale = locale
        self.bizID = bizID
        self.groupID = groupID
        self.failure = failure
        self.photoKey = photoKey
        self.channel = channel
        self.upstreamToken = upstreamToken
        self.upstreamLink = upstreamLink
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.openedAt = openedAt
        self.submittedAt = submittedAt
        self.completedAt = completedAt
    }
}

/// What a new session is made with.
public struct LivenessRequest: Sendable, Equatable {
    public var projectName: String
    public var callbackURL: String?
    public var dialect: Dialect
    public var locale: String?
    public var bizID: String?

    public init(projectName: String, callbackURL: String?, dialect: Dialect, locale: String? = nil, bizID: String? = nil) {
        self.projectName = projectName
        self.callbackURL = callbackURL
        self.dialect = dialect
        self.locale = locale
        self.bizID = bizID
    }
}

/// A session started on an upstream account: its token and H5 link there.
public struct UpstreamLivenessSession: Sendable, Equatable {
    public var channel: String
    public var token: String
    public var link: String

    public init(channel: String, token: String, link: String) {
        self.channel = channel
        self.token = token
        self.link = link
    }
}

/// What upstream says of a session it runs.
public enum UpstreamLivenessOutcome: Sendable, Equatable {
    /// The person has not finished yet; ask again later.
    case pending
    /// Verified: upstream's `LivenessFace` group.
    case verified(upstreamGroupID: String)
    case failed(Failure)
    case expired(String)
    /// Upstream could not be asked now; ask again after the pause.
    case unavailable(String)
}

/// An upstream that runs liveness checks (Ark's `CreateVisualValidateSession` / `GetVisualValidateResult`).
public protocol LivenessUpstream: Sendable {
    /// Whether sessions are started upstream (an asset-library channel is configured).
    var runsLiveness: Bool { get }
    func startLiveness(projectName: String) async throws(SeedgateError) -> UpstreamLivenessSession
    func livenessOutcome(channel: String, token: String, projectName: String) async -> UpstreamLivenessOutcome
}
