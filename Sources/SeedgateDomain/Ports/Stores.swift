import Foundation
import SeedgateSupport

// The store, as the services, engines and workers use it: small role protocols, each implemented by
// the one SQL store (`SQLStore` in SeedgateStore) on SQLite and PostgreSQL. Every state change is a
// conditional update on the current state (see the transition types in `Transitions.swift`), so two
// workers or replicas can never both finish the same piece of work.

/// API keys, their credits and limits.
public protocol KeyStore: Sendable {
    /// Creates a key (with a starting balance and limits, when given) and returns it with its secret and
    /// webhook signing secret; the key's secret is not kept.
    func createKey(name: String, credits: Int64, rpm: Int?, maxInFlight: Int?) async throws -> (key: APIKey, secret: String, webhookSecret: String)
    /// The live key whose secret this is, or nil for an unknown or revoked one.
    func authenticate(secret: String) async throws -> APIKey?
    func listKeys() async throws -> [APIKey]
    func keyCount() async throws -> Int
    /// Revokes a key; false when there is no such live key.
    func revokeKey(id: String) async throws -> Bool
    /// Adds (or, negative, takes away) credits, with a ledger entry.
    func grant(keyID: String, amount: Int64, note: String) async throws
    func account(keyID: String, defaults: Limits) async throws -> Account?
    func ledger(keyID: String, limit: Int) async throws -> [LedgerEntry]
    /// Sets a key's own limits; false when there is no such key.
    func setLimits(keyID: String, rpm: Int?, maxInFlight: Int?) async throws -> Bool
    func rotateWebhookSecret(keyID: String) async throws -> String?
    func webhookSecret(keyID: String) async throws -> String?
}

/// Asset groups, assets and their review tasks.
public protocol AssetStore: Sendable {
    func createGroup(keyID: String, name: String, description: String, projectName: String) async throws -> AssetGroup
    func group(id: String, keyID: String) async throws -> AssetGroup?
    /// Stores a review task and its assets (and the group, when the submission makes one) in one
    /// transaction, holding `pricePerAsset` per asset. Throws `group_not_found` for another key's group.
    func submitAssets(
        keyID: String, target: GroupTarget, projectName: String, type: MediaType, inputs: [AssetInput],
        callbackURL: String?, pricePerAsset: Int64, dialect: Dialect
    ) async throws -> AssetReviewTask
    func asset(id: String, keyID: String) async throws -> Asset?
    /// The asset, only while it is Active (what a render may use).
    func activeAsset(id: String, keyID: String) async throws -> Asset?
    func reviewTask(id: String, keyID: String) async throws -> AssetReviewTask?
    /// Claims the oldest asset awaiting review whose lease is free or expired.
    func claimAssetForReview(owner: String, lease: Duration) async throws -> Asset?
    /// Records a review's outcome, only if `owner` still holds the asset and it is still in review.
    @discardableResult
    func finishReview(assetID: String, owner: String, outcome: Result<MediaFacts, Failure>) async throws -> Bool
}

/// Video tasks: submission, reads, the worker's claim, progress and end.
public protocol VideoTaskStore: Clocked {
    /// Stores a new task with its hold, or returns the one an earlier request with the same idempotency
    /// key and body made; 402 without the credits, 429 at `maxInFlight`, all in one transaction.
    func insertVideoTask(
        keyID: String, request: GenerationRequest, dialect: Dialect, requestID: String?, seed: Int64, hold: Int64, maxInFlight: Int, idempotency: IdempotencyClaim?
    ) async throws -> (task: VideoTask, replayed: Bool)
    func videoTask(id: String, keyID: String) async throws -> VideoTask?
    func videoTaskWithWebhook(id: String, keyID: String) async throws -> (task: VideoTask, webhook: WebhookDelivery?)?
    func videoTasks(keyID: String, status: VideoStatus?, limit: Int, before cursor: String?) async throws -> TaskPage
    /// The key's tasks that match, newest first, `limit` from `offset`, and how many match in all.
    func searchVideoTasks(keyID: String, filter: TaskFilter, offset: Int, limit: Int) async throws -> (tasks: [VideoTask], total: Int)
    /// Removes a finished task's record from every view; false when it is not the key's or not finished.
    func deleteVideoTask(id: String, keyID: String) async throws -> Bool
    /// Claims the oldest pending task, or one whose worker's lease ran out.
    func claimVideoTask(owner: String, lease: Duration) async throws -> VideoTask?
    /// How many times the task was claimed (each claim counts, so a crash loop ends).
    func attempts(taskID: String) async throws -> Int
    /// Records progress and extends the lease; false when the task is no longer `owner`'s to run.
    func reportProgress(taskID: String, owner: String, progress: Int, lease: Duration) async throws -> Bool
    /// Ends a task `owner` holds: settles or releases its hold and queues its webhook. False when it was
    /// no longer `owner`'s (cancelled, taken over).
    func finishVideoTask(
        taskID: String, owner: String, outcome: Result<VideoResult, Failure>, cost: Int64, usageTokens: Int64?, cancelled: Bool
    ) async throws -> Bool
    /// Cancels a pending or processing task; nil when the key has no such task.
    func cancelVideoTask(id: String, keyID: String, unlessSubmitted: Bool) async throws -> (task: VideoTask, cancelled: Bool)?
    func tasksToPurge(completedBefore: Date, limit: Int) async throws -> [(id: String, result: VideoResult)]
    func markPurged(taskID: String) async throws
}

/// The webhook outbox.
public protocol WebhookOutbox: Clocked {
    func claimWebhook(owner: String, lease: Duration) async throws -> WebhookDelivery?
    func recordWebhookAttempt(id: String, owner: String, delivered: Bool, statusCode: Int?, error: String?, retryAfter: Duration?) async throws
    func webhookDelivery(taskID: String) async throws -> WebhookDelivery?
    func webhookSecret(keyID: String) async throws -> String?
}

/// Where tasks and assets stand on upstream channels.
public protocol UpstreamStore: Clocked {
    func beginSubmission(taskID: String, owner: String, channel: String, callbackToken: String) async throws -> Bool
    func abandonSubmission(taskID: String, owner: String) async throws
    func recordSubmission(taskID: String, owner: String, upstreamID: String, firstPoll: Date, deadline: Date) async throws -> Bool
    func deferTask(taskID: String, owner: String, until: Date, refund: Bool) async throws
    /// Up to `limit` tasks due a status check by `within` from now, soonest first.
    func claimDuePolls(owner: String, lease: Duration, limit: Int, within: Duration) async throws -> [VideoTask]
    /// Up to `limit` more tasks running on `channel`, those due soonest however far off, to fill a list
    /// call that the due ones leave part empty (a call costs upstream the same for 1 task or 20).
    func claimNextPolls(channel: String, owner: String, lease: Duration, limit: Int) async throws -> [VideoTask]
    /// Records the checks of tasks still running upstream, in one statement.
    func reschedulePolls(_ checks: [PollCheck], owner: String) async throws
    func countCopyFailure(taskID: String, owner: String) async throws -> Int
    func wakeUpstreamTask(taskID: String, token: String) async throws -> Bool
    func inFlightByChannel() async throws -> [String: Int]
    func pinGroup(groupID: String, channel: String, replacing: String?) async throws -> String
    func groupBindings(groupID: String) async throws -> [(channel: String, upstreamID: String)]
    func bindGroup(groupID: String, channel: String, upstreamID: String) async throws -> String
    func assetBinding(assetID: String, channel: String) async throws -> AssetBinding?
    func saveAssetBinding(_ binding: AssetBinding) async throws
    func activeBindings(assetIDs: [String]) async throws -> [String: [String: String]]
}

extension UpstreamStore {
    public func claimDuePolls(owner: String, lease: Duration, limit: Int) async throws -> [VideoTask] {
        try await claimDuePolls(owner: owner, lease: lease, limit: limit, within: .zero)
    }

    public func reschedulePoll(task: VideoTask, owner: String, upstreamStatus: String, progress: Int, next: Date) async throws {
        try await reschedulePolls([PollCheck(task: task, upstreamStatus: upstreamStatus, progress: progress, next: next)], owner: owner)
    }
}

/// Real-person verification sessions (kept as tasks of kind `liveness`, so they share the task ids,
/// the task views and the webhook outbox).
public protocol LivenessStore: Clocked {
    /// Stores a new session whose link can be opened until `expiresAt`, unless the key already has
    /// `openLimit` sessions open (`LivenessService.tooManyOpen`); two creates at once cannot both pass it.
    func createLivenessSession(
        keyID: String, request: LivenessRequest, expiresAt: Date, upstream: UpstreamLivenessSession?, openLimit: Int
    ) async throws -> LivenessSession
    /// How many of the key's sessions are open: waiting for the person or the operator, within their time.
    func openLivenessSessions(keyID: String) async throws -> Int
    /// The session with this id; with `keyID`, only when that key owns it.
    func livenessSession(id: String, keyID: String?) async throws -> LivenessSession?
    /// The session with this token; with `keyID`, only when that key owns it.
    func livenessSession(token: String, keyID: String?) async throws -> LivenessSession?
    /// Marks the link opened (the first time, while it is open) and gives the person `window` from now to
    /// send the photo. Returns the session as it is after.
    func openLivenessLink(token: String, window: Duration) async throws -> LivenessSession?
    /// Records the live photo of a pending, unexpired session: it becomes `submitted`, and waits
    /// `decisionWindow` from now for the operator. False otherwise.
    func submitLivenessPhoto(token: String, photoKey: String, decisionWindow: Duration) async throws -> Bool
    /// Ends a session that is still `from` (`submitted` for an operator's decision, within its window;
    /// `pending` upstream):
    /// verified makes its `LivenessFace` group in the same transaction (pinned and bound to `channel`
    /// with `upstreamGroupID` when given); failed and expired keep the reason. Queues the webhook.
    func finishLivenessSession(
        id: String, from: LivenessStatus, outcome: LivenessStatus, failure: Failure?, channel: String?, upstreamGroupID: String?
    ) async throws -> LivenessSession?
    /// Ends every pending or submitted session past its time as expired (webhooks queued); returns their
    /// ids. First, a photo waiting under a shorter deadline than `decisionWindow` from when it came (sent
    /// through a server of the version before, which kept the person's ten minutes; or before the window
    /// was raised) gets the operator's window: from when it came, or from now when that has passed.
    func expireLivenessSessions(limit: Int, decisionWindow: Duration) async throws -> [String]
    /// Sessions, newest first (the key's, when given; of one status, when given: a waiting one, pending
    /// or submitted, only while within its time, and the soonest due first).
    func livenessSessions(keyID: String?, status: LivenessStatus?, limit: Int) async throws -> [LivenessSession]
    /// Upstream sessions due for a check, leased to `owner` until checked again.
    func claimDueLivenessChecks(owner: String, lease: Duration, limit: Int) async throws -> [LivenessSession]
    /// When to check an upstream session next.
    func rescheduleLivenessCheck(id: String, owner: String, next: Date) async throws
    /// Sessions that ended before `endedBefore` and still keep their live photo (blob store keys).
    func livenessPhotosToDelete(endedBefore: Date, limit: Int) async throws -> [(id: String, photoKey: String)]
    /// Forgets a session's live photo, once its file is deleted.
    func forgetLivenessPhoto(id: String) async throws
}

/// Per-key request counts per minute window, shared by replicas.
public protocol RateWindowStore: Sendable {
    /// Adds `hits` to the key's count for `window` and returns the new total (every replica's).
    func addRateHits(keyID: String, window: Int64, hits: Int) async throws -> Int
    func pruneRateWindows(before: Date) async throws
}

/// Server-wide settings every replica agrees on.
public protocol SettingsStore: Sendable {
    /// The setting, made by `make` the first time it is asked for (the first maker wins).
    func setting(_ name: String, orMake make: () -> String) async throws -> String
}

/// Everything at once: what the app is wired with.
public typealias GatewayStore = KeyStore & AssetStore & VideoTaskStore & WebhookOutbox & UpstreamStore & RateWindowStore & SettingsStore
    & UploadStore & ConsoleStore & LivenessStore

/// The clock the store keeps time by; workers and engines that compare with stored times use the same.
public protocol Clocked: Sendable {
    var clock: any WallClock { get }
}
