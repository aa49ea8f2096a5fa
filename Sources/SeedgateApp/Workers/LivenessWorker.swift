import Foundation
import Logging
import SeedgateDomain
import SeedgateStore
import SeedgateSupport
import ServiceLifecycle

/// Ends real-person verifications that nobody finished in time, and follows the ones running upstream:
/// each due session is asked about once (`GetVisualValidateResult`), then again 2 s later (5 s when
/// upstream could not be asked), until it verifies, fails or runs out of time.
public struct LivenessWorker: Service {
    package let store: any LivenessStore
    package let upstream: (any LivenessUpstream)?
    package let signal: WorkSignal
    package let logger: Logger
    /// How long a photo waits for the operator (`--liveness-decision-ttl`).
    package let decisionWindow: Duration
    package let owner = "liveness-\(ProcessInfo.processInfo.processIdentifier)-\(Identifiers.random(6))"
    package static let checkEvery: Duration = .seconds(2)

    public init(store: any LivenessStore, upstream: (any LivenessUpstream)?, signal: WorkSignal, logger: Logger, decisionWindow: Duration) {
        self.decisionWindow = decisionWindow
        self.store = store
        self.upstream = upstream
        self.signal = signal
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await pass()
            } catch {
                logger.error("liveness pass failed", metadata: ["error": "\(logDescription(of: error))"])
            }
            await signal.wait(upTo: .seconds(1))
        }
    }

    /// One pass: expiries, then every upstream session that is due.
    package func pass() async throws {
        let expired = try await store.expireLivenessSessions(limit: 200, decisionWindow: decisionWindow)
        for id in expired { logger.info("verification expired", metadata: ["task": "\(id)"]) }
        guard let upstream else { return }
        for session in try await store.claimDueLivenessChecks(owner: owner, lease: .seconds(30), limit: 20) {
            guard let channel = session.channel, let token = session.upstreamToken else { continue }
            let outcome = await upstream.livenessOutcome(channel: channel, token: token, projectName: session.projectName)
            let now = store.clock.now
            switch outcome {
            case .pending:
                try await store.rescheduleLivenessCheck(id: session.id, owner: owner, next: now.addingTimeInterval(Self.checkEvery.seconds))
            case .unavailable(let reason):
                logger.warning("verification result could not be read upstream", metadata: ["task": "\(session.id)", "error": "\(reason)"])
                try await store.rescheduleLivenessCheck(id: session.id, owner: owner, next: now.addingTimeInterval(5))
            case .verified(let group):
                _ = try await store.finishLivenessSession(id: session.id, from: .pending, outcome: .verified, failure: nil, channel: channel, upstreamGroupID: group)
                logger.info("verification verified upstream", metadata: ["task": "\(session.id)", "channel": "\(channel)"])
            case .failed(let failure):
                _ = try await store.finishLivenessSession(id: session.id, from: .pending, outcome: .failed, failure: failure, channel: nil, upstreamGroupID: nil)
                logger.info("verification failed upstream", metadata: ["task": "\(session.id)", "reason": "\(failure.message)"])
            case .expired(let reason):
                _ = try await store.finishLivenessSession(
                    id: session.id, from: .pending, outcome: .expired,
                    failure: Failure(code: "verification_expired", message: reason), channel: nil, upstreamGroupID: nil
                )
            }
        }
    }
}
