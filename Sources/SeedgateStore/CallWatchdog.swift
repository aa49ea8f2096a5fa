import Foundation
import Synchronization

/// Bounds how long one database call may take. A call registers what ends it (in `PostgresProvider`:
/// answering its caller with a 503 and closing its connection); a sweep once a second ends the calls
/// that ran past their limit. A query on a connection that a database restart cut can otherwise wait
/// for an answer that never comes, and with it the request that asked.
///
/// One lock taken to begin a call and one to end it: no timer per call.
package final class CallWatchdog: Sendable {
    private struct Call {
        let deadline: ContinuousClock.Instant
        let end: @Sendable () -> Void
    }
    private struct State {
        var next = 0
        var open: [Int: Call] = [:]
        var ended: Set<Int> = []
    }
    private let state = Mutex(State())
    /// Calls ended by a sweep, for the tests and the logs.
    package let overruns = StatementCounter()

    package init() {}

    /// Registers a call that `end` stops once it has run past `limit`; returns its ticket for `finish`.
    package func begin(limit: Duration, end: @escaping @Sendable () -> Void) -> Int {
        let deadline = ContinuousClock.now + limit
        return state.withLock { state in
            state.next &+= 1
            state.open[state.next] = Call(deadline: deadline, end: end)
            return state.next
        }
    }

    /// The call is over; true when a sweep had ended it (its error is then the overrun's, not its own).
    package func finish(_ ticket: Int) -> Bool {
        state.withLock { state in
            state.open[ticket] = nil
            return state.ended.remove(ticket) != nil
        }
    }

    /// Ends every call past its deadline at `now`; returns how many.
    @discardableResult
    package func sweep(now: ContinuousClock.Instant = .now) -> Int {
        let overdue: [Call] = state.withLock { state in
            let late = state.open.filter { $0.value.deadline <= now }
            for ticket in late.keys {
                state.open[ticket] = nil
                state.ended.insert(ticket)
            }
            return Array(late.values)
        }
        for call in overdue {
            overruns.add()
            call.end()
        }
        return overdue.count
    }

    /// Sweeps once a second for as long as the watchdog exists (the loop holds it only weakly).
    package static func startSweeping(_ watchdog: CallWatchdog, every interval: Duration = .seconds(1)) {
        Task.detached { [weak watchdog] in
            while true {
                try? await Task.sleep(for: interval)
                guard let watchdog else { return }
                watchdog.sweep()
            }
        }
    }
}

/// True for the first caller of `claim` only.
package final class Once: Sendable {
    private let claimed = Atomic<Bool>(false)
    package init() {}
    package func claim() -> Bool { !claimed.exchange(true, ordering: .acquiringAndReleasing) }
}

/// A continuation resumed by whichever answer comes first; later ones are dropped.
package final class FirstAnswer<R: Sendable>: Sendable {
    private let pending = Mutex<CheckedContinuation<R, any Error>?>(nil)
    package init() {}

    package func set(_ continuation: CheckedContinuation<R, any Error>) { pending.withLock { $0 = continuation } }

    package func give(_ result: Result<R, any Error>) {
        let continuation = pending.withLock { pending in
            defer { pending = nil }
            return pending
        }
        continuation?.resume(with: result)
    }
}
