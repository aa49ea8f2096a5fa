import Foundation
import Logging
import ServiceLifecycle

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
    let lease: Duration
    /// Upstream asset libraries; when set, an asset that passes the local checks is reviewed upstream too.
    let relay: ArkRelay?

    public init(
        store: Store, reviewer: LocalReviewer, signal: WorkSignal, concurrency: Int, logger: Logger, lease: Duration = .seconds(300),
        relay: ArkRelay? = nil
    ) {
        self.relay = relay
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
    func reviewOne(_ asset: Asset) async throws {
        let started = ContinuousClock.now
        var outcome = await reviewer.review(url: asset.sourceURL, declared: asset.type)
        // The local checks come first, so a bad file never costs an upstream call.
        if case .success = outcome, let relay, relay.reviewsAssetsUpstream {
            if case .failure(let failure) = await relay.bind(asset) { outcome = .failure(failure) }
        }
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
