import Foundation
import SeedgateSupport
import Synchronization

/// Per-key requests-per-minute limits, counted in memory and added to the store's shared count every
/// quarter second. A request costs no database write; replicas see each other's counts at the next
/// flush, so together they may admit a quarter second's worth of requests over the limit.
public final class RateLimiter: Sendable {
    package struct Count {
        package var window: Int64
        /// The store's count for the window at the last flush (every replica's requests).
        package var shared: Int
        /// This process's requests not yet added to the store.
        package var pending: Int
        /// Requests being added by a flush right now: still counted until the store's total includes them.
        package var flushing = 0

        package var total: Int { shared + flushing + pending }
    }

    private let counts = Mutex<[String: Count]>([:])
    package let store: any RateWindowStore
    package let clock: any WallClock

    public init(store: any RateWindowStore, clock: any WallClock = SystemClock()) {
        self.store = store
        self.clock = clock
    }

    /// Counts one request; nil when it is allowed, else the seconds until the window ends.
    public func hit(keyID: String, rpm: Int, now: Date? = nil) -> Int? {
        let millis = Epoch.millis(now ?? clock.now)
        let window = millis / 60_000 * 60_000
        let total = counts.withLock { counts -> Int in
            var count = counts[keyID] ?? Count(window: window, shared: 0, pending: 0)
            if count.window != window { count = Count(window: window, shared: 0, pending: 0) }
            count.pending += 1
            counts[keyID] = count
            return count.total
        }
        guard total > rpm else { return nil }
        return Int(max(1, (window + 60_000 - millis + 999) / 1000))
    }

    /// Adds the pending counts to the store and learns the other replicas' counts.
    public func flush() async throws {
        let batch: [(key: String, window: Int64, hits: Int)] = counts.withLock { counts in
            var batch: [(String, Int64, Int)] = []
            for (key, count) in counts where count.pending > 0 {
                batch.append((key, count.window, count.pending))
                counts[key]?.flushing += count.pending
                counts[key]?.pending = 0
            }
            // Forget keys idle for a window.
            let current = Epoch.millis(clock.now) / 60_000 * 60_000
            counts = counts.filter { $0.value.window >= current - 60_000 }
            return batch
        }
        for (index, entry) in batch.enumerated() {
            do {
                let shared = try await store.addRateHits(keyID: entry.key, window: entry.window, hits: entry.hits)
                counts.withLock { counts in
                    guard counts[entry.key]?.window == entry.window else { return }
                    counts[entry.key]?.shared = shared
                    counts[entry.key]?.flushing -= entry.hits
                }
            } catch {
                // This entry and every one not yet sent go back to pending, for the next flush.
                counts.withLock { counts in
                    for unsent in batch[index...] where counts[unsent.key]?.window == unsent.window {
                        counts[unsent.key]?.flushing -= unsent.hits
                        counts[unsent.key]?.pending += unsent.hits
                    }
                }
                throw error
            }
        }
    }
}

