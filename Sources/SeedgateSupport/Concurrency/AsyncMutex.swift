import Synchronization

/// A fair async mutex: holders run one at a time, waiters resume in arrival order. Taking a free
/// lock does not suspend (the state is behind a plain `Mutex`, not an actor, so there is no hop).
/// Used to give a transaction exclusive use of SQLite's single writer connection.
package final class AsyncMutex: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    package init() {}

    package func lock() async {
        let acquired = state.withLock { state in
            guard !state.locked else { return false }
            state.locked = true
            return true
        }
        if acquired { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state in
                guard state.locked else {
                    state.locked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    /// Hands the lock to the longest waiter, or frees it.
    package func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Whether anyone is queued for the lock (only meaningful to its holder).
    package var hasWaiters: Bool { state.withLock { !$0.waiters.isEmpty } }
}
