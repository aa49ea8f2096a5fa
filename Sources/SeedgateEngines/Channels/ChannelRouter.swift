import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport
import Synchronization

/// Chooses channels: the lowest priority number that serves the model, weighted random within a
/// priority, skipping channels at their in-flight limit or cooling down after errors. It also paces
/// each channel's calls and slows a channel down after a 429.
public final class ChannelRouter: Sendable {
    public let channels: [Channel]
    /// Calls per second to one channel, at most.
    package let callsPerSecond: Double

    private struct Health {
        var failures = 0
        var coolUntil: ContinuousClock.Instant?
        var nextCall: ContinuousClock.Instant?
        /// The last few errors, newest last, for the console.
        var errors: [(at: Date, message: String)] = []
    }

    /// One channel's health as this replica sees it.
    public struct HealthReport: Sendable {
        public var failuresInARow: Int
        public var coolingUntil: Date?
        public var recentErrors: [(at: Date, message: String)]
    }

    private let health = Mutex<[String: Health]>([:])

    public init(channels: [Channel], callsPerSecond: Double = 20) {
        self.channels = channels
        self.callsPerSecond = callsPerSecond
    }

    /// No channels file: the local engine serves every model.
    public var isLocalOnly: Bool { channels.allSatisfy { $0.kind == .local } }
    /// Channels whose asset library reviews assets (the upstream relay runs when there is one).
    public var assetChannels: [Channel] { channels.filter { $0.kind == .ark && $0.assets != nil } }

    public func channel(named name: String) -> Channel? { channels.first { $0.name == name } }

    /// What `candidates` found: the channels to try, best first, and when there are none although some
    /// channel serves the request, what holds them back.
    public struct Candidates: Sendable {
        public enum Blocked: Sendable { case capacity, cooling }
        public var ready: [Channel]
        public var blocked: Blocked?
        public var busy: Bool { blocked != nil }
    }

    /// Channels that may take a task for `model`. `eligible` filters further (asset bindings);
    /// `inFlight` is the count of unfinished tasks per channel.
    public func candidates(
        for model: VideoModel, inFlight: [String: Int] = [:], eligible: (Channel) -> Bool = { _ in true }
    ) -> Candidates {
        let serving = channels.filter { $0.serves(model) && eligible($0) }
        let warm = serving.filter { !isCooling($0.name) }
        let open = warm.filter { (inFlight[$0.name] ?? 0) < $0.maxInFlight }
        guard open.isEmpty, !serving.isEmpty else { return Candidates(ready: ordered(open), blocked: nil) }
        // Waiting only for capacity is not a failure of the task; every channel erring is.
        return Candidates(ready: [], blocked: warm.isEmpty ? .cooling : .capacity)
    }

    /// Priority order; within a priority, a weighted random order.
    package func ordered(_ channels: [Channel]) -> [Channel] {
        var result: [Channel] = []
        for priority in Set(channels.map(\.priority)).sorted() {
            var pool = channels.filter { $0.priority == priority }
            while !pool.isEmpty {
                var ticket = Int.random(in: 0..<pool.reduce(0) { $0 + $1.weight })
                let index = pool.firstIndex { channel in
                    ticket -= channel.weight
                    return ticket < 0
                } ?? 0
                result.append(pool.remove(at: index))
            }
        }
        return result
    }

    /// The channel answered: its error streak ends.
    public func succeeded(_ channel: String) {
        health.withLock { $0[channel, default: Health()].failures = 0 }
    }

    /// The channel failed (no connection, timeout, 5xx) or asked us to slow down (429): it cools down
    /// for `retryAfter` seconds, or 1, 2, 4 ... up to 60 seconds as errors repeat.
    public func failed(_ channel: String, retryAfter: Int? = nil, reason: String? = nil) {
        health.withLock { health in
            var state = health[channel, default: Health()]
            state.failures += 1
            if let reason { state.errors = Array((state.errors + [(Date(), String(reason.prefix(300)))]).suffix(5)) }
            let backoff = retryAfter.map { Double(min(max($0, 1), 300)) } ?? min(60, pow(2, Double(state.failures - 1)))
            state.coolUntil = .now + .milliseconds(Int(backoff * 1000))
            health[channel] = state
        }
    }

    public func report(_ channel: String) -> HealthReport {
        health.withLock { health in
            let state = health[channel] ?? Health()
            let now = ContinuousClock.now
            let until = state.coolUntil.flatMap { $0 > now ? Date().addingTimeInterval(($0 - now).seconds) : nil }
            return HealthReport(failuresInARow: state.failures, coolingUntil: until, recentErrors: state.errors)
        }
    }

    /// Whether the channel is cooling down now.
    public func isCooling(_ channel: String) -> Bool {
        health.withLock { $0[channel]?.coolUntil.map { $0 > .now } ?? false }
    }

    /// Waits for this channel's next call slot, so one replica never calls a channel faster than
    /// `callsPerSecond`, and not at all while it cools down.
    public func pace(_ channel: String) async {
        let slot: ContinuousClock.Instant = health.withLock { health in
            var state = health[channel, default: Health()]
            let now = ContinuousClock.now
            var slot = max(now, state.nextCall ?? now)
            if let cool = state.coolUntil, cool > slot { slot = cool }
            state.nextCall = slot + .milliseconds(Int(1000 / callsPerSecond))
            health[channel] = state
            return slot
        }
        if slot > .now { try? await Task.sleep(until: slot) }
    }
}
