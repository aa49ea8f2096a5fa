import Foundation
import Synchronization

/// Bounds how long one database call may take. A call registers what ends it (in `PostgresProvider`:
/// answering its caller with a 503 and closing its connection); a sweep once a second ends the calls
/// that ran past their limit, and those whose connection has closed under them without their
/// hearing of it. A query on a connection that a database restart cut can otherwise wait for an
/// answer that never comes, and with it the request that asked (PostgresNIO drops a query written
/// to a connection that has just closed, without failing it).
///
/// One lock taken to begin a call and one to end it: no timer per call.
package final class CallWatchdog: Sendable {
    private struct Call {
        let deadline: ContinuousClock.Instant?
        /// Whether the call's connection has closed under it (no answer can come any more).
        let isLost: @Sendable () -> Bool
        /// Seen lost by one sweep: the next one ends it, giving the call that long to end by itself.
        var lostSeen = false
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

    /// Registers a call that `end` stops once it has run past `limit` (nil: no limit), or once a sweep
    /// after the one that first found `isLost` true; returns its ticket for `finish`.
    package func begin(limit: Duration?, isLost: @escaping @Sendable () -> Bool = { false }, end: @escaping @Sendable () -> Void) -> Int {
        let deadline = limit.map { ContinuousClock.now + $0 }
        return state.withLock { state in
            state.next &+= 1
            state.open[state.next] = Call(deadline: deadline, isLost: isLost, end: end)
            return state.next
        }
    }

    /// The call is over; true when a sweep had ended it (its error is then the sweep's, not its own).
    package func finish(_ ticket: Int) -> Bool {
        state.withLock { state in
            state.open[ticket] = nil
            return state.ended.remove(ticket) != nil
        }
    }

    /// Ends every call past its deadline at `now`, or lost since the sweep before; returns how many.
    @discardableResult
    package func sweep(now: ContinuousClock.Instant = .now) -> Int {
        let overdue: [Call] = state.withLock { state in
            var late: [Call] = []
            for (ticket, call) in state.open {
                let expired = call.deadline.map { $0 <= now } ?? false
                if expired || call.lostSeen {
                    state.open[ticket] = nil
                    state.ended.insert(ticket)
                    late.append(call)
                } else if call.isLost() {
                    state.open[ticket]?.lostSeen = true
                }
            }
            return late
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

    /// Resumes the caller with `result` unless an answer came first; true when this one was taken.
    @discardableResult
    package func give(_ result: Result<R, any Error>) -> Bool {
        let continuation = pending.withLock { pending in
            defer { pending = nil }
            return pending
        }
        continuation?.resume(with: result)
        return continuation != nil
    }
}

/// The calls waiting for a pooled connection, so that all of them can be answered at once when
/// opening one fails in a way that holds for every one of them (the database refuses connections or
/// cannot be reached). The pool itself fails only the waiter that asked for the new connection; the
/// others would wait out their whole request timeout for a connection that is not coming.
package final class ConnectionWaiters: Sendable {
    private struct State {
        var next = 0
        var waiting: [Int: @Sendable (any Error) -> Void] = [:]
    }
    private let state = Mutex(State())

    package init() {}

    /// Registers a waiter that `fail` answers with the error; returns its ticket for `remove`.
    package func add(_ fail: @escaping @Sendable (any Error) -> Void) -> Int {
        state.withLock { state in
            state.next &+= 1
            state.waiting[state.next] = fail
            return state.next
        }
    }

    package func remove(_ ticket: Int) {
        _ = state.withLock { $0.waiting.removeValue(forKey: ticket) }
    }

    /// Answers every waiter with `error`; returns how many there were.
    @discardableResult
    package func failAll(_ error: any Error) -> Int {
        let waiting = state.withLock { state in
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for fail in waiting { fail(error) }
        return waiting.count
    }
}
