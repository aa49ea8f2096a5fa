import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import ServiceLifecycle

/// Runs video tasks in the background. Like the review worker, it claims each task with a lease and
/// renews it with every progress report, so a task whose server died is taken up again, and a task that
/// was cancelled stops rendering at the next report. Which engine runs a task is the engine's business:
/// the worker records what it says.
public struct VideoWorker: Service {
    package let store: any VideoTaskStore & UpstreamStore
    package let engine: any VideoEngine
    package let blobs: any BlobStore
    package let signal: WorkSignal
    package let concurrency: Int
    package let logger: Logger
    package let prices: PriceTable
    package let owner = "video-\(ProcessInfo.processInfo.processIdentifier)-\(Identifiers.random(6))"
    package let lease: Duration

    public init(
        store: any VideoTaskStore & UpstreamStore, engine: any VideoEngine, blobs: any BlobStore, signal: WorkSignal, concurrency: Int,
        logger: Logger, prices: PriceTable = .defaults, lease: Duration = .seconds(60)
    ) {
        self.store = store
        self.engine = engine
        self.blobs = blobs
        self.signal = signal
        self.concurrency = concurrency
        self.logger = logger
        self.prices = prices
        self.lease = lease
    }

    public func run() async throws {
        await WorkLoop(signal: signal, concurrency: concurrency, logger: logger, name: "video worker").run {
            guard let task = try await store.claimVideoTask(owner: owner, lease: lease) else { return false }
            try await runOne(task)
            return true
        }
    }

    package func runOne(_ task: VideoTask) async throws {
        // Every line of the task's work names it and the request that made it.
        var logger = self.logger
        logger[metadataKey: "task"] = .string(task.id)
        if let requestID = task.requestID { logger[metadataKey: "request_id"] = .string(requestID) }
        let started = ContinuousClock.now
        let outcome: Result<VideoResult, Failure>
        switch try await engine.start(task, owner: owner) {
        case .finished(let result):
            outcome = result
        case .submitted(let channel, let upstreamID):
            logger.info("video task submitted upstream", metadata: ["task": "\(task.id)", "channel": "\(channel)", "upstream": "\(upstreamID)"])
            return
        case .deferred(let reason, let retryIn, let counts):
            try await store.deferTask(taskID: task.id, owner: owner, until: store.clock.now.addingTimeInterval(retryIn.seconds), refund: !counts)
            logger.info("video task waits for a channel", metadata: ["task": "\(task.id)", "reason": "\(reason)", "retry_in": "\(retryIn.components.seconds)s"])
            return
        case .refused(let failure):
            _ = try await store.finishVideoTask(taskID: task.id, owner: owner, outcome: .failure(failure), cost: 0, usageTokens: nil, cancelled: false)
            logger.info("video task failed before upstream took it", metadata: ["task": "\(task.id)", "reason": "\(failure.code)"])
            return
        case .gone:
            return
        }
        if case .failure = outcome, Task.isShuttingDownGracefully || Task.isCancelled {
            // Cut short by shutdown (our cancellation killed ffmpeg): not the task's fault. Its
            // lease runs out and it is rendered again, here after a restart or on another replica.
            logger.info("video task left for another attempt after shutdown", metadata: ["task": "\(task.id)"])
            return
        }
        let cost = (try? outcome.get()).map { prices.cost(for: task.request, seconds: $0.seconds) } ?? 0
        let recorded = try await store.finishVideoTask(taskID: task.id, owner: owner, outcome: outcome, cost: cost, usageTokens: nil, cancelled: false)
        var metadata: Logger.Metadata = ["task": "\(task.id)", "took": "\(ContinuousClock.now - started)"]
        switch outcome {
        case .success(let result):
            metadata["status"] = "completed"
            if !recorded {
                // Cancelled while rendering: the files are nobody's.
                try? await blobs.delete(key: result.videoKey)
                if let frame = result.lastFrameKey { try? await blobs.delete(key: frame) }
            }
        case .failure(let failure):
            metadata["status"] = "failed"
            metadata["reason"] = "\(failure.code)"
        }
        logger.info(recorded ? "video task finished" : "video task result discarded (cancelled or taken over)", metadata: metadata)
    }
}

/// Deletes result files, and the live photos of ended real-person checks, once they are past retention;
/// expired uploads; old rate windows. Task records stay; their result reads as gone.
public struct RetentionSweeper: Service {
    package let store: any VideoTaskStore & RateWindowStore & UploadStore & LivenessStore
    package let blobs: any BlobStore
    package let retention: Duration
    package let logger: Logger

    public init(store: any VideoTaskStore & RateWindowStore & UploadStore & LivenessStore, blobs: any BlobStore, retention: Duration, logger: Logger) {
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
                logger.error("retention sweep failed", metadata: ["error": "\(logDescription(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        }
    }

    public func sweep(now: Date? = nil) async throws {
        let now = now ?? store.clock.now
        let cutoff = now.addingTimeInterval(-retention.seconds)
        for (id, result) in try await store.tasksToPurge(completedBefore: cutoff, limit: 100) {
            try await blobs.delete(key: result.videoKey)
            if let frame = result.lastFrameKey { try await blobs.delete(key: frame) }
            try await store.markPurged(taskID: id)
            logger.info("result files deleted after retention", metadata: ["task": "\(id)"])
        }
        // A real-person check's live photo is kept for the operator only as long as a result would be.
        for (id, photo) in try await store.livenessPhotosToDelete(endedBefore: cutoff, limit: 100) {
            try await blobs.delete(key: photo)
            try await store.forgetLivenessPhoto(id: id)
            logger.info("live photo deleted after retention", metadata: ["verification": "\(id)"])
        }
        for upload in try await store.expiredUploads(before: now, limit: 100) {
            try await blobs.delete(key: upload.blobKey)
            try await store.deleteUpload(id: upload.id)
            logger.info("upload deleted after retention", metadata: ["upload": "\(upload.id)"])
        }
        try await store.pruneRateWindows(before: now.addingTimeInterval(-120))
    }
}
