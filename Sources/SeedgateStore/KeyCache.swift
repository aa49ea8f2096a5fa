import Foundation
import SeedgateDomain
import SeedgateSupport
import Synchronization

/// Live keys by their secret's hash, so that a request need not ask the database who it is (used on
/// PostgreSQL, where that question is a round trip). Every change authentication reads (a revocation,
/// new limits) writes a new `keys_version` setting in its own transaction; a replica reads that one
/// row at most once per `recheck` and forgets every key when it changed. So a key revoked on any
/// replica, or by the command line, stops working on every replica within `recheck`, and at once on
/// the replica that revoked it.
package final class KeyCache: Sendable {
    package static let setting = "keys_version"
    package static let recheck: TimeInterval = 0.5
    private static let capacity = 10_000

    private struct State {
        var version: String?
        var checkedAt: Date?
        var forgottenAt: Date?
        var keys: [String: APIKey] = [:]
    }
    private let state = Mutex(State())
    private let clock: any WallClock

    package init(clock: any WallClock) { self.clock = clock }

    /// The version seen within `recheck`, with the key for `hash` when it is cached; nil when the
    /// version must be read again.
    package func lookup(_ hash: String) -> (version: String, key: APIKey?)? {
        let now = clock.now
        return state.withLock { state in
            guard let version = state.version, let checked = state.checkedAt,
                  now.timeIntervalSince(checked) < Self.recheck, now >= checked else { return nil }
            return (version, state.keys[hash])
        }
    }

    /// Records the version just read from the store; a changed version forgets every key. A read
    /// begun before this replica's last change is not kept: it may predate the change.
    package func observe(_ version: String, readAt: Date) {
        state.withLock { state in
            if let forgotten = state.forgottenAt, readAt < forgotten { return }
            if state.version != version { state.keys.removeAll() }
            state.version = version
            state.checkedAt = readAt
        }
    }

    /// Keeps `key`, read after `version` was: only while that is still the version in force (a key
    /// read before a change must not outlive it).
    package func keep(_ key: APIKey, hash: String, readAfter version: String) {
        state.withLock { state in
            guard state.version == version else { return }
            if state.keys.count >= Self.capacity { state.keys.removeAll() }
            state.keys[hash] = key
        }
    }

    /// Forgets every key and the version, once this replica's change has committed.
    package func forget() {
        let now = clock.now
        state.withLock { $0 = State(forgottenAt: now) }
    }

    package var now: Date { clock.now }
}
