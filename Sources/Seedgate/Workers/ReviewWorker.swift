import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Reviews submitted assets in the background. Each asset is claimed with a lease, so a review that
/// was in flight when a server died is picked up again once the lease runs out (at once on SQLite,
/// where start-up releases the leases of the one server that can own them).
public struct ReviewWorker: Service {
    let store: Store
    let reviewer: LocalReviewer
    let signal: WorkSignal
    let concurrency: Int
    let logger: Logger
    let owner = "review-\(ProcessInfo.processInfo.processIdentifier)-\(Identifiers.random(6))"
    static let lease: Duration = .seconds(300)

    public init(store: Store, reviewer: LocalReviewer, signal: WorkSignal, concurrency: Int, logger: Logger) {
        self.store = store
        self.reviewer = reviewer
        self.signal = signal
        self.concurrency = concurrency
        self.logger = logger
    }

    public func run() async throws {
        let stopping = StopFlag()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for _ in 0..<max(1, concurrency) {
                    group.addTask { await loop(stopping: stopping) }
                }
            }
        } onGracefulShutdown: {
            stopping.stop()
            signal.notify()
        }
    }

    /// Claims and reviews one asset at a time until shutdown. A review in progress is finished
    /// before the loop stops: that is the safe point.
    private func loop(stopping: StopFlag) async {
        while !stopping.isStopped && !Task.isCancelled {
            do {
                if let asset = try await store.claimAssetForReview(owner: owner, lease: Self.lease) {
                    try await reviewOne(asset)
                } else {
                    await signal.wait(upTo: .seconds(2))
                }
            } catch is CancellationError {
                return
            } catch {
                logger.error("review worker error", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Reviews one claimed asset and records the outcome.
    func reviewOne(_ asset: Asset) async throws {
        let started = ContinuousClock.now
        let outcome = await reviewer.review(url: asset.sourceURL, declared: asset.type)
        let recorded = try await store.finishReview(assetID: asset.id, owner: owner, outcome: outcome)
        var metadata: Logger.Metadata = ["asset": "\(asset.id)", "took": "\(ContinuousClock.now - started)"]
        switch outcome {
        case .success: metadata["status"] = "active"
        case .failure(let failure): metadata["status"] = "failed"; metadata["reason"] = "\(failure.code)"
        }
        if recorded {
            logger.info("asset reviewed", metadata: metadata)
        } else {
            logger.warning("asset review result discarded: lease lost", metadata: metadata)
        }
    }
}
