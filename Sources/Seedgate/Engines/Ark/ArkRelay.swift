import AsyncHTTPClient
import Foundation
import Logging
import Synchronization

/// How upstream work is paced and bounded.
public struct UpstreamSettings: Sendable {
    /// Whether upstream is given a per-task `callback_url` (it must be able to reach our public URL);
    /// nil means yes when a public URL is set.
    public var callbacks: Bool?
    /// A task not finished upstream this long after submission is failed with `deadline_exceeded`.
    public var deadline: Duration = .seconds(6 * 3600)
    /// The first status check comes this soon after submission; later ones back off to 12x this.
    public var pollInterval: Duration = .seconds(5)
    /// How often an asset under upstream review is checked.
    public var assetPollInterval: Duration = .seconds(2)
    /// How long an upstream asset review may take before it is failed.
    public var assetReviewLimit: Duration = .seconds(600)
    /// Time limit of each upstream HTTP call.
    public var requestTimeout: Duration = .seconds(30)

    public init() {}

    /// The wait before the check after `polls` earlier ones: 1x, 2x, 4x ... 12x the poll interval.
    func pollDelay(after polls: Int) -> Duration {
        pollInterval * min(12, 1 << min(polls, 4))
    }
}

/// The base URL upstream callbacks reach us on; known once the server is listening.
public final class CallbackBase: Sendable {
    private let value: Mutex<String?>
    public init(_ value: String? = nil) { self.value = Mutex(value) }
    public func set(_ url: String) { value.withLock { $0 = url } }
    public var url: String? { value.withLock { $0 } }
}

/// Sends work to Ark channels and brings it back: submission with failover, status checks, result
/// copies, cancellation, and the asset library relay.
public struct ArkRelay: Sendable {
    public let router: ChannelRouter
    let clients: [String: ArkClient]
    let store: Store
    let blobs: any BlobStore
    let fetcher: MediaFetcher
    let scratchDirectory: String
    let prices: PriceTable
    let settings: UpstreamSettings
    let callbackBase: CallbackBase
    let logger: Logger
    /// How many times a task may be tried on channels that all fail before it is failed.
    static let maxSubmitAttempts = 6

    public init(
        router: ChannelRouter, http: HTTPClient, store: Store, blobs: any BlobStore, fetcher: MediaFetcher, scratchDirectory: String,
        prices: PriceTable, settings: UpstreamSettings, callbackBase: CallbackBase, logger: Logger
    ) {
        self.router = router
        var clients: [String: ArkClient] = [:]
        for channel in router.channels where channel.kind == .ark {
            clients[channel.name] = ArkClient(channel: channel, http: http, timeout: settings.requestTimeout)
        }
        self.clients = clients
        self.store = store
        self.blobs = blobs
        self.fetcher = fetcher
        self.scratchDirectory = scratchDirectory
        self.prices = prices
        self.settings = settings
        self.callbackBase = callbackBase
        self.logger = logger
    }

    // MARK: - Submission

    public enum Submission: Sendable, Equatable {
        /// The chosen channel is the local engine: render here.
        case local
        /// An upstream took it; the poller follows it from now on.
        case submitted(channel: String, upstreamID: String)
        /// No channel can take it now; try again at `retryAt`. `counts` is false when it only waits for capacity.
        case deferred(reason: String, counts: Bool)
        case failed(Failure)
        /// Cancelled (or taken over) while we worked on it.
        case gone
    }

    /// Sends a claimed task to the best channel that takes it, trying the next on errors that mean
    /// nothing was accepted. Never sends a task again once an upstream may have accepted it.
    public func submit(_ task: VideoTask, owner: String) async throws -> Submission {
        if task.upstream?.status == "submitting" {
            // A server stopped between sending this task and recording the answer: upstream may have it.
            return .failed(Failure(code: "upstream_unconfirmed",
                                   message: "the server stopped while submitting this task upstream; it was not sent again, so it cannot run twice"))
        }
        let assetIDs = task.request.assetIDs
        let bindings = try await store.activeBindings(assetIDs: assetIDs)
        let eligible = { (channel: Channel) in channel.kind == .local || assetIDs.allSatisfy { bindings[$0]?[channel.name] != nil } }
        let candidates = router.candidates(for: task.request.model, inFlight: try await store.inFlightByChannel(), eligible: eligible)
        switch candidates.blocked {
        case .capacity?: return .deferred(reason: "every channel for \(task.request.model.rawValue) is at its in-flight limit", counts: false)
        case .cooling?: return .deferred(reason: "every channel for \(task.request.model.rawValue) is cooling down after errors", counts: true)
        case nil where candidates.ready.isEmpty: return .failed(Self.noChannel(for: task.request, assetIDs: assetIDs))
        case nil: break
        }
        var lastError = ""
        for channel in candidates.ready {
            guard channel.kind == .ark, let client = clients[channel.name], let model = channel.models[task.request.model.rawValue] else {
                return .local
            }
            // Paced before the task is marked: a wait here (a cooling channel) is not spent inside the
            // window where a lost lease would make the task unconfirmed.
            await router.pace(channel.name)
            let token = Identifiers.random(32)
            guard try await store.beginSubmission(taskID: task.id, owner: owner, channel: channel.name, callbackToken: token) else { return .gone }
            let rewrites = assetIDs.reduce(into: [String: String]()) { $0[$1] = bindings[$1]?[channel.name] }
            let body = ArkGeneration.body(
                for: task, upstreamModel: model, assets: rewrites,
                callbackURL: settings.callbacks == true ? callbackBase.url.map { "\($0)/upstream/ark/\(task.id)/\(token)" } : nil,
                expiresAfter: Int(settings.deadline.components.seconds)
            )
            let upstreamID: String
            do throws(ArkError) {
                upstreamID = try await client.createTask(body)
            } catch {
                switch error {
                case .unavailable(let reason, _, let retryAfter):
                    router.failed(channel.name, retryAfter: retryAfter)
                    lastError = reason
                case .rejected(let status, let code, let message) where status == 401 || status == 403:
                    // The account cannot take work (bad key, overdue): another account may.
                    router.failed(channel.name, retryAfter: 60)
                    lastError = "\(channel.name): \(code): \(message)"
                case .rejected(_, let code, let message):
                    try await store.abandonSubmission(taskID: task.id, owner: owner)
                    return .failed(Failure(code: code, message: "upstream refused the task: \(message)"))
                }
                logger.warning("upstream submission failed; trying the next channel", metadata: ["task": "\(task.id)", "channel": "\(channel.name)", "error": "\(lastError)"])
                try await store.abandonSubmission(taskID: task.id, owner: owner)
                continue
            }
            router.succeeded(channel.name)
            let now = Date()
            let recorded = try await store.recordSubmission(
                taskID: task.id, owner: owner, upstreamID: upstreamID,
                firstPoll: now.addingTimeInterval(settings.pollDelay(after: 0).seconds), deadline: now.addingTimeInterval(settings.deadline.seconds)
            )
            if !recorded {
                // Cancelled while the request was out: cancel it upstream too, while it is still queued.
                try? await client.cancelTask(id: upstreamID)
                return .gone
            }
            return .submitted(channel: channel.name, upstreamID: upstreamID)
        }
        return .deferred(reason: lastError, counts: true)
    }

    /// The refusal when no configured channel can ever take this request.
    static func noChannel(for request: GenerationRequest, assetIDs: [String]) -> Failure {
        assetIDs.isEmpty
            ? Failure(code: "model_not_available", message: "model: no channel serves '\(request.model.rawValue)'")
            : Failure(code: "asset_not_available",
                      message: "no upstream account that serves '\(request.model.rawValue)' holds every asset used (\(assetIDs.sorted().joined(separator: ", "))); assets used together must be in one group")
    }

    /// Whether a request can be routed at all (checked at submission, so a hopeless task is refused
    /// before it is stored).
    public func checkRoutable(_ request: GenerationRequest) async throws {
        let assetIDs = request.assetIDs
        let serving = router.channels.filter { $0.serves(request.model) }
        guard !serving.isEmpty else {
            throw SeedgateError.invalid("model", "no channel serves '\(request.model.rawValue)' on this gateway", code: "model_not_available")
        }
        guard !assetIDs.isEmpty, !serving.contains(where: { $0.kind == .local }) else { return }
        let bindings = try await store.activeBindings(assetIDs: assetIDs)
        guard serving.contains(where: { channel in assetIDs.allSatisfy { bindings[$0]?[channel.name] != nil } }) else {
            let failure = Self.noChannel(for: request, assetIDs: assetIDs)
            let field = request.inputs.first { $0.input.assetID != nil }?.input.field ?? "image_urls"
            throw SeedgateError(.invalidRequest, code: failure.code, message: "\(field): \(failure.message)", param: field)
        }
    }

    // MARK: - Status checks

    /// Checks a batch of claimed tasks on one channel (one list call per 20 tasks) and acts on each.
    public func check(_ tasks: [VideoTask], channel name: String, owner: String) async {
        guard let client = clients[name] else {
            // Perhaps only on this replica, during a change of the channels file: the task is given up
            // only at its deadline, as for a channel that does not answer.
            for task in tasks { await later(task, owner: owner, unreachable: "its upstream channel '\(name)' is not configured here") }
            return
        }
        var start = 0
        while start < tasks.count {
            let batch = Array(tasks[start..<min(tasks.count, start + 20)])
            start += 20
            await router.pace(name)
            var found: [String: ArkTask] = [:]
            do throws(ArkError) {
                for item in try await client.tasks(ids: batch.compactMap(\.upstream?.id)) { found[item.id] = item }
                router.succeeded(name)
            } catch {
                switch error {
                case .unavailable(_, _, let retryAfter):
                    router.failed(name, retryAfter: retryAfter)
                    for task in batch { await later(task, owner: owner, unreachable: "its upstream channel did not answer") }
                    continue
                case .rejected(let status, let code, let message):
                    // Each task is then asked for alone, below.
                    logger.warning("upstream refused a task list", metadata: ["channel": "\(name)", "status": "\(status)", "code": "\(code)", "error": "\(message)"])
                }
            }
            let listed = found
            await withTaskGroup(of: Void.self) { group in
                for task in batch {
                    let item = task.upstream?.id.flatMap { listed[$0] }
                    group.addTask { await self.check(task, client: client, listed: item, owner: owner) }
                }
            }
        }
    }

    private func check(_ task: VideoTask, client: ArkClient, listed: ArkTask?, owner: String) async {
        guard let upstreamID = task.upstream?.id else { return }
        var info = listed
        if info == nil {
            // Not in the list answer: ask for it alone.
            await router.pace(client.channel.name)
            do throws(ArkError) {
                info = try await client.task(id: upstreamID)
            } catch {
                switch error {
                case .unavailable(_, _, let retryAfter):
                    router.failed(client.channel.name, retryAfter: retryAfter)
                    return await later(task, owner: owner, unreachable: "its upstream channel did not answer")
                case .rejected(404, _, let message):
                    return await finish(task, owner: owner, .failure(Failure(code: "upstream_task_lost", message: "upstream no longer knows this task: \(message)")))
                case .rejected(let status, let code, let message):
                    // A refused key or an overdue account says nothing about the task, which may still run
                    // (and bill) upstream: the channel cools down and the task is asked about again.
                    logger.warning("upstream refused a status check", metadata: ["task": "\(task.id)", "status": "\(status)", "code": "\(code)", "error": "\(message)"])
                    router.failed(client.channel.name, retryAfter: nil)
                    return await later(task, owner: owner, unreachable: "its upstream channel refused status checks (\(code))")
                }
            }
        }
        guard let info else { return }
        do {
            try await apply(info, to: task, client: client, owner: owner)
        } catch {
            logger.error("upstream status check failed", metadata: ["task": "\(task.id)", "error": "\(error)"])
        }
    }

    /// Acts on an upstream status (upstream.md: queued -> pending, running -> processing, succeeded ->
    /// completed, failed -> failed, cancelled -> cancelled, expired -> failed with code `expired`).
    func apply(_ info: ArkTask, to task: VideoTask, client: ArkClient, owner: String) async throws {
        switch info.status {
        case "succeeded":
            await copyResult(info, of: task, owner: owner)
        case "failed":
            await finish(task, owner: owner, .failure(Failure(code: info.errorCode ?? "upstream_failed", message: info.errorMessage ?? "the upstream task failed")))
        case "cancelled":
            await finish(task, owner: owner, .failure(Failure(code: "cancelled", message: "the task was cancelled upstream")), cancelled: true)
        case "expired":
            await finish(task, owner: owner, .failure(Failure(code: "expired", message: "the upstream task expired before it finished (Ark status expired)")))
        default:
            if isPastDeadline(task) {
                if info.status == "queued" { try? await client.cancelTask(id: info.id) }
                return await finish(task, owner: owner, deadlineExceeded(""))
            }
            let polls = (task.upstream?.polls ?? 0) + 1
            try await store.reschedulePoll(
                task: task, owner: owner, upstreamStatus: info.status, progress: ArkGeneration.progress(status: info.status, polls: polls),
                next: Date().addingTimeInterval(settings.pollDelay(after: polls).seconds)
            )
        }
    }

    private func isPastDeadline(_ task: VideoTask) -> Bool {
        task.upstream?.deadlineAt.map { Clock.millis() > $0 } ?? false
    }

    private func deadlineExceeded(_ why: String) -> Result<VideoResult, Failure> {
        .failure(Failure(code: "deadline_exceeded", message: "the upstream task did not finish within \(settings.deadline.components.seconds) s\(why); it was given up"))
    }

    /// Checks again later without learning anything (`unreachable` says why), or, past the task's
    /// deadline, gives it up: a channel that never answers again does not keep a task (and its hold) forever.
    private func later(_ task: VideoTask, owner: String, unreachable: String) async {
        if isPastDeadline(task) { return await finish(task, owner: owner, deadlineExceeded(" (\(unreachable))")) }
        let polls = task.upstream?.polls ?? 0
        try? await store.reschedulePoll(
            task: task, owner: owner, upstreamStatus: task.upstream?.status ?? "queued", progress: task.progress,
            next: Date().addingTimeInterval(settings.pollDelay(after: polls + 1).seconds)
        )
    }

    /// Copies a finished video (and last frame) into our blob store before upstream's links expire,
    /// then completes the task. A copy that keeps failing fails the task (and releases its hold).
    func copyResult(_ info: ArkTask, of task: VideoTask, owner: String) async {
        let scratch = "\(scratchDirectory)/copy-\(task.id)-\(Identifiers.random(6))"
        defer {
            try? FileManager.default.removeItem(atPath: "\(scratch).mp4")
            try? FileManager.default.removeItem(atPath: "\(scratch).png")
        }
        do throws(Failure) {
            guard let videoURL = info.videoURL else {
                throw Failure(code: "result_unavailable", message: "upstream finished the task but gave no video URL (its links last 24 h)")
            }
            _ = try await fetcher.fetch(videoURL, maxBytes: 4 << 30, what: .video, to: "\(scratch).mp4")
            let facts = try await MediaProbe.probe(file: "\(scratch).mp4")
            guard facts.kind == .video, let width = facts.width, let height = facts.height else {
                throw Failure(code: "result_unavailable", message: "upstream's result is not a playable video")
            }
            var frameKey: String?
            if task.request.returnLastFrame, let frameURL = info.lastFrameURL {
                _ = try await fetcher.fetch(frameURL, maxBytes: MediaRequirements.maxBytes(for: .image), what: .image, to: "\(scratch).png")
                frameKey = "frames/\(task.id).png"
            }
            let videoKey = "videos/\(task.id).mp4"
            do {
                try await blobs.put(file: "\(scratch).mp4", key: videoKey)
                if let frameKey { try await blobs.put(file: "\(scratch).png", key: frameKey) }
            } catch {
                throw Failure(code: "internal_error", message: "could not store the result")
            }
            let seconds = facts.duration ?? Double(task.request.duration)
            let result = VideoResult(videoKey: videoKey, lastFrameKey: frameKey, width: width, height: height, seconds: seconds, hasAudio: facts.hasAudio)
            let recorded = (try? await store.finishVideoTask(
                taskID: task.id, owner: owner, outcome: .success(result), cost: prices.cost(for: task.request, seconds: seconds),
                usageTokens: info.completionTokens ?? info.totalTokens
            )) ?? false
            if !recorded {
                try? await blobs.delete(key: videoKey)
                if let frameKey { try? await blobs.delete(key: frameKey) }
            }
            logger.info("upstream task completed", metadata: ["task": "\(task.id)", "recorded": "\(recorded)"])
        } catch {
            let failures = (try? await store.countCopyFailure(taskID: task.id, owner: owner)) ?? 0
            logger.warning("could not copy an upstream result", metadata: ["task": "\(task.id)", "error": "\(error.message)", "failures": "\(failures)"])
            // `attempts` counts the submission's claim too: five copies are tried in all.
            if failures > 5 || error.code == "result_unavailable" {
                let reason = error.code == "result_unavailable" ? error.message : "could not copy upstream's result: \(error.message)"
                await finish(task, owner: owner, .failure(Failure(code: "result_unavailable", message: reason)))
            } else {
                try? await store.reschedulePoll(task: task, owner: owner, upstreamStatus: "succeeded", progress: 99,
                                                next: Date().addingTimeInterval(settings.pollDelay(after: failures).seconds))
            }
        }
    }

    private func finish(_ task: VideoTask, owner: String, _ outcome: Result<VideoResult, Failure>, cancelled: Bool = false) async {
        do {
            let recorded = try await store.finishVideoTask(taskID: task.id, owner: owner, outcome: outcome, cancelled: cancelled)
            if case .failure(let failure) = outcome {
                logger.info("upstream task ended", metadata: ["task": "\(task.id)", "code": "\(failure.code)", "recorded": "\(recorded)"])
            }
        } catch {
            logger.error("could not record an upstream task's end", metadata: ["task": "\(task.id)", "error": "\(error)"])
        }
    }

    // MARK: - Cancel

    /// Cancels an upstream task while it is still queued there. Throws a conflict once it runs
    /// (upstream would finish and bill it anyway).
    public func cancelUpstream(_ task: VideoTask) async throws {
        guard let upstream = task.upstream, let upstreamID = upstream.id, !task.status.isFinal else { return }
        guard let client = clients[upstream.channel] else { return }
        let notCancellable = SeedgateError(.conflict, code: "task_not_cancellable",
                                           message: "task '\(task.id)' is already running upstream; upstream tasks can only be cancelled while queued")
        guard upstream.status == "queued" else { throw notCancellable }
        // The stored status may be a poll old, and a DELETE on a finished task deletes its record and
        // result: upstream is asked for the status first.
        let current: String
        do throws(ArkError) {
            current = try await client.task(id: upstreamID).status
            if current == "queued" { try await client.cancelTask(id: upstreamID) }
        } catch {
            switch error {
            case .unavailable(let reason, _, _):
                throw SeedgateError(.serviceUnavailable, code: "upstream_unavailable", message: "could not reach the upstream to cancel: \(reason); try again", retryAfter: 5)
            case .rejected(_, _, let message):
                throw SeedgateError(.conflict, code: "task_not_cancellable", message: "upstream refused to cancel task '\(task.id)': \(message)")
            }
        }
        guard current == "queued" else { throw notCancellable }
    }
}
