import Foundation
import Logging
import ServiceLifecycle

/// Runs video tasks in the background. Like the review worker, it claims each task with a lease and
/// renews it with every progress report, so a task whose server died is taken up again, and a task that
/// was cancelled stops rendering at the next report.
public struct VideoWorker: Service {
    let store: Store
    let engine: LocalVideoEngine
    let signal: WorkSignal
    let concurrency: Int
    let logger: Logger
    let prices: PriceTable
    let owner = "video-\(ProcessInfo.processInfo.processIdentifier)-\(Identifiers.random(6))"
    let lease: Duration
    /// Upstream channels; nil when the local engine serves everything.
    let relay: ArkRelay?
    static let maxAttempts = 3

    public init(
        store: Store, engine: LocalVideoEngine, signal: WorkSignal, concurrency: Int, logger: Logger,
        prices: PriceTable = .defaults, lease: Duration = .seconds(60), relay: ArkRelay? = nil
    ) {
        self.relay = relay
        self.lease = lease
        self.prices = prices
        self.store = store
        self.engine = engine
        self.signal = signal
        self.concurrency = concurrency
        self.logger = logger
    }

    public func run() async throws {
        await WorkLoop(signal: signal, concurrency: concurrency, logger: logger, name: "video worker").run {
            guard let task = try await store.claimVideoTask(owner: owner, lease: lease) else { return false }
            try await runOne(task)
            return true
        }
    }

    func runOne(_ task: VideoTask) async throws {
        if let relay, try await !sendUpstream(task, relay: relay) { return }
        let started = ContinuousClock.now
        let outcome: Result<VideoResult, Failure>
        if try await attempts(of: task) > Self.maxAttempts {
            outcome = .failure(Failure(code: "render_failed", message: "the render was interrupted \(Self.maxAttempts) times; giving up"))
        } else {
            let store = self.store, owner = self.owner, keyID = task.keyID, lease = self.lease
            do throws(Failure) {
                let result = try await engine.render(task, resolve: { input throws(Failure) in
                    guard let id = input.assetID else { return input.url }
                    let asset: Asset?
                    do { asset = try await store.activeAsset(id: id, keyID: keyID) } catch {
                        throw Failure(code: "internal_error", message: "could not read asset \(id)")
                    }
                    guard let asset else { throw Failure(code: "asset_not_active", message: "\(input.field): asset '\(id)' is no longer active") }
                    return asset.sourceURL
                }, progress: { percent in
                    (try? await store.reportProgress(taskID: task.id, owner: owner, progress: percent, lease: lease)) ?? true
                })
                outcome = .success(result)
            } catch {
                outcome = .failure(error)
            }
        }
        if case .failure = outcome, Task.isShuttingDownGracefully || Task.isCancelled {
            // Cut short by shutdown (our cancellation killed ffmpeg): not the task's fault. Its
            // lease runs out and it is rendered again, here after a restart or on another replica.
            logger.info("video task left for another attempt after shutdown", metadata: ["task": "\(task.id)"])
            return
        }
        let cost = (try? outcome.get()).map { prices.cost(for: task.request, seconds: $0.seconds) } ?? 0
        let recorded = try await store.finishVideoTask(taskID: task.id, owner: owner, outcome: outcome, cost: cost)
        var metadata: Logger.Metadata = ["task": "\(task.id)", "took": "\(ContinuousClock.now - started)"]
        switch outcome {
        case .success(let result):
            metadata["status"] = "completed"
            if !recorded {
                // Cancelled while rendering: the files are nobody's.
                try? await engine.blobs.delete(key: result.videoKey)
                if let frame = result.lastFrameKey { try? await engine.blobs.delete(key: frame) }
            }
        case .failure(let failure):
            metadata["status"] = "failed"
            metadata["reason"] = "\(failure.code)"
        }
        logger.info(recorded ? "video task finished" : "video task result discarded (cancelled or taken over)", metadata: metadata)
    }

    /// Routes a claimed task through the channels. True when the local engine is to render it here;
    /// false when it went upstream, was put back for later, or ended.
    private func sendUpstream(_ task: VideoTask, relay: ArkRelay) async throws -> Bool {
        let attempts = try await attempts(of: task)
        let submission: ArkRelay.Submission
        if attempts > ArkRelay.maxSubmitAttempts && task.upstream == nil {
            submission = .failed(Failure(code: "upstream_unavailable", message: "no upstream channel took the task after \(ArkRelay.maxSubmitAttempts) tries"))
        } else {
            submission = try await relay.submit(task, owner: owner)
        }
        switch submission {
        case .local:
            return true
        case .submitted(let channel, let upstreamID):
            logger.info("video task submitted upstream", metadata: ["task": "\(task.id)", "channel": "\(channel)", "upstream": "\(upstreamID)"])
        case .deferred(let reason, let counts):
            let wait = counts ? min(60, 2 << min(attempts, 5)) : 2
            try await store.deferTask(taskID: task.id, owner: owner, until: Date().addingTimeInterval(Double(wait)), refund: !counts)
            logger.info("video task waits for a channel", metadata: ["task": "\(task.id)", "reason": "\(reason)", "retry_in": "\(wait)s"])
        case .failed(let failure):
            _ = try await store.finishVideoTask(taskID: task.id, owner: owner, outcome: .failure(failure))
            logger.info("video task failed before upstream took it", metadata: ["task": "\(task.id)", "reason": "\(failure.code)"])
        case .gone:
            break
        }
        return false
    }

    private func attempts(of task: VideoTask) async throws -> Int {
        try await store.provider.read { db in
            try await db.raw("SELECT attempts FROM tasks WHERE id = \(bind: task.id)").first()?.decode(column: "attempts", as: Int.self) ?? 0
        }
    }
}

/// Deletes result files once they are past retention. Task records stay; their result reads as gone.
public struct RetentionSweeper: Service {
    let store: Store
    let blobs: any BlobStore
    let retention: Duration
    let logger: Logger

    public init(store: Store, blobs: any BlobStore, retention: Duration, logger: Logger) {
        self.store = store
        self.blobs = blobs
        self.retention = retention
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await sweep()
            } catch {
                logger.error("retention sweep failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        }
    }

    public func sweep(now: Date = Date()) async throws {
        let cutoff = now.addingTimeInterval(-retention.seconds)
        for (id, result) in try await store.tasksToPurge(completedBefore: cutoff) {
            try await blobs.delete(key: result.videoKey)
            if let frame = result.lastFrameKey { try await blobs.delete(key: frame) }
            try await store.markPurged(taskID: id)
            logger.info("result files deleted after retention", metadata: ["task": "\(id)"])
        }
        try await store.pruneRateWindows(before: now.addingTimeInterval(-120))
    }
}
