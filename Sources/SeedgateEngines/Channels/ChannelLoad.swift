import Synchronization

/// Unfinished tasks per channel, as channel selection reads them for every submission. Counting them
/// is a pass over every task in flight, so the count is read from the store at most once per
/// `freshFor` and this replica's own submissions since are added to it: a submission costs the same
/// with 10 tasks in flight as with 10,000. Other replicas' submissions in that second are seen at the
/// next read, so together they may pass a channel's `max_in_flight` by that second's submissions
/// (upstream's own queue limit is then met with a 429, which only slows the channel).
package final class ChannelLoad: Sendable {
    private struct Snapshot {
        var counts: [String: Int]
        var readAt: ContinuousClock.Instant
    }
    private let snapshot = Mutex<Snapshot?>(nil)
    package let freshFor: Duration

    package init(freshFor: Duration = .seconds(1)) { self.freshFor = freshFor }

    /// The counts, read again through `read` when the last read is older than `freshFor`.
    package func counts(_ read: () async throws -> [String: Int]) async throws -> [String: Int] {
        let now = ContinuousClock.now
        if let fresh = snapshot.withLock({ $0.flatMap { now - $0.readAt < freshFor ? $0.counts : nil } }) { return fresh }
        let counts = try await read()
        snapshot.withLock { $0 = Snapshot(counts: counts, readAt: now) }
        return counts
    }

    /// One more task on `channel`, submitted here since the last read.
    package func add(_ channel: String) {
        snapshot.withLock { $0?.counts[channel, default: 0] += 1 }
    }
}
