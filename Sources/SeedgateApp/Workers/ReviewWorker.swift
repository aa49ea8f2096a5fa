import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import ServiceLifecycle

/// Reviews submitted assets in the background. Each asset is claimed with a lease, so a review that
/// was in flight when a server died is picked up again once the lease runs out (at once on SQLite,
/// where start-up releases the leases of the one server that can own them).
public struct ReviewWorker: Service {
    package let store: any AssetStore
    package let reviewer: any AssetReviewer
    package let signal: WorkSignal
    package let concurrency: Int
    package let logger: Logger
    package let owner = "review-\(ProcessInfo.processInfo.processIdentifier)-\(Identifiers.random(6))"
    package let lease: Duration

    public init(
        store: any AssetStore, reviewer: any AssetReviewer, signal: WorkSignal, concurrency: Int, logger: Logger, lease: Duration = .seconds(300)
    ) {
        self.lease = lease
        self.store = store
        self.reviewer = reviewer
        self.signal = signal
        self.concurrency = concurrency
        self.logger = logger
    }

    public func run() async throws {
        await WorkLoop(signal: signal, concurrency: concurrency, logger: logger, name: "review worker").run {
            guard let asset = try await store.claimAssetForReview(owner: owner, lease: lease) else { return false }
            try await reviewOne(asset)
            return true
        }
    }

    /// Reviews one claimed asset and records the outcome.
    package func reviewOne(_ asset: Asset) async throws {
        let started = ContinuousClock.now
        let outcome = await reviewer.review(asset)
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
