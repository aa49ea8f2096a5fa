import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import ServiceLifecycle
import Synchronization

/// Follows tasks that run upstream: claims the ones due a status check (soon after submission, then
/// less often, or at once after a callback), checks them in batches per channel, and finishes them.
/// Claims are leases, so replicas share the work and a dead replica's checks are taken over.
///
/// Checks are gathered so that each list call upstream carries many tasks: once per `pollInterval`
/// a sweep claims every task due before the next sweep (up to 20 per channel per round, rounds
/// following each other while the claims come back full), so a task is checked at most one interval
/// early and never later than its time. Between sweeps a round takes only the tasks due now: those a
/// callback woke, or retried after an unanswered check.
///
/// A list call costs upstream the same for one task as for twenty, so a channel's last call of a round is
/// filled up with its tasks due soonest after those (checked early rather than in a call of their own):
/// a pass over every task in flight takes one call per 20 tasks. Results found finished are copied apart
/// (`ResultCopies`), so the next call does not wait for the files of this one.
public struct UpstreamPoller: Service {
    package let relay: ArkRelay
    package let store: any UpstreamStore
    package let signal: WorkSignal
    package let logger: Logger
    package let owner = "poll-\(ProcessInfo.processInfo.processIdentifier)-\(Identifiers.random(6))"
    /// How many due tasks one round claims: a full list call for each channel.
    package let batch: Int
    private let sweeps = SweepClock()
    /// Tasks one upstream list call carries (upstream.md: the list filter takes up to 20 ids).
    package static let perCall = ArkRelay.tasksPerListCall

    public init(relay: ArkRelay, store: any UpstreamStore, signal: WorkSignal, logger: Logger) {
        self.relay = relay
        self.store = store
        self.signal = signal
        self.logger = logger
        self.batch = min(2000, max(100, 20 * relay.clients.count))
    }

    public func run() async throws {
        let idle = min(relay.settings.pollInterval, .seconds(1))
        let relay = relay
        await withDiscardingTaskGroup { group in
            group.addTask {
                await relay.copies.run { job in await relay.copyResult(job.info, of: job.task, owner: job.owner) }
            }
            await WorkLoop(signal: signal, concurrency: 1, logger: logger, name: "upstream poller", idleWait: idle).run {
                try await round()
            }
            // Shutting down: the copies begun are finished, those still queued are left to their claims' end.
            relay.copies.finish()
        }
    }

    /// One round: false when there is nothing more to take now.
    package func round() async throws -> Bool {
        let interval = relay.settings.pollInterval
        let now = ContinuousClock.now
        let sweeping = sweeps.state.withLock { sweeps in
            if sweeps.draining { return true }
            guard sweeps.last.map({ now - $0 >= interval }) ?? true else { return false }
            sweeps.last = now
            sweeps.draining = true
            return true
        }
        let due = try await store.claimDuePolls(owner: owner, lease: .seconds(120), limit: batch, within: sweeping ? interval : .zero)
        let full = due.count == batch
        if sweeping && !full { sweeps.state.withLock { $0.draining = false } }
        guard !due.isEmpty else { return false }
        var byChannel = Dictionary(grouping: due) { $0.upstream?.channel ?? "" }
        for (channel, tasks) in byChannel where relay.clients[channel] != nil && tasks.count % Self.perCall != 0 {
            do {
                byChannel[channel, default: []] += try await store.claimNextPolls(
                    channel: channel, owner: owner, lease: .seconds(120), limit: Self.perCall - tasks.count % Self.perCall
                )
            } catch {
                logger.warning("could not fill a status list call", metadata: ["channel": "\(channel)", "error": "\(logDescription(of: error))"])
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for (channel, tasks) in byChannel {
                group.addTask { await relay.check(tasks, channel: channel, owner: owner) }
            }
        }
        return full
    }
}

/// When the last sweep began, and whether it is still taking full rounds.
private final class SweepClock: Sendable {
    struct State {
        var last: ContinuousClock.Instant?
        var draining = false
    }
    let state = Mutex(State())
}
