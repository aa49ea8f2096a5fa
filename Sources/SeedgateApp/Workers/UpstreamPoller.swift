import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import ServiceLifecycle

/// Follows tasks that run upstream: claims the ones due a status check (soon after submission, then
/// less often, or at once after a callback), checks them in batches per channel, and finishes them.
/// Claims are leases, so replicas share the work and a dead replica's checks are taken over.
public struct UpstreamPoller: Service {
    package let relay: ArkRelay
    package let store: any UpstreamStore
    package let signal: WorkSignal
    package let logger: Logger
    package let owner = "poll-\(ProcessInfo.processInfo.processIdentifier)-\(Identifiers.random(6))"
    /// How many due tasks one round claims.
    package static let batch = 100

    public init(relay: ArkRelay, store: any UpstreamStore, signal: WorkSignal, logger: Logger) {
        self.relay = relay
        self.store = store
        self.signal = signal
        self.logger = logger
    }

    public func run() async throws {
        let idle = min(relay.settings.pollInterval, .seconds(1))
        await WorkLoop(signal: signal, concurrency: 1, logger: logger, name: "upstream poller", idleWait: idle).run {
            try await round()
        }
    }

    /// One round: false when nothing was due.
    package func round() async throws -> Bool {
        let due = try await store.claimDuePolls(owner: owner, lease: .seconds(120), limit: Self.batch)
        guard !due.isEmpty else { return false }
        let byChannel = Dictionary(grouping: due) { $0.upstream?.channel ?? "" }
        await withTaskGroup(of: Void.self) { group in
            for (channel, tasks) in byChannel {
                group.addTask { await relay.check(tasks, channel: channel, owner: owner) }
            }
        }
        return true
    }
}
