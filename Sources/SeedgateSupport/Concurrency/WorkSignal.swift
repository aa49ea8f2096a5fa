import Foundation
import Synchronization

/// Wakes idle workers as soon as new work is stored, so a review starts at once instead of at the
/// next poll. Waiting always has a time limit: the store, not this signal, is the source of truth.
public final class WorkSignal: Sendable {
    private enum Waiter {
        case pending
        case waiting(CheckedContinuation<Void, Never>)
        case fired
    }

    private let waiters = Mutex<[UUID: Waiter]>([:])

    public init() {}

    /// Wakes every worker that is waiting now.
    public func notify() {
        let ready: [CheckedContinuation<Void, Never>] = waiters.withLock { waiters in
            var ready: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in waiters {
                switch waiter {
                case .waiting(let continuation): ready.append(continuation); waiters[id] = .fired
                case .pending: waiters[id] = .fired
                case .fired: break
                }
            }
            return ready
        }
        ready.forEach { $0.resume() }
    }

    /// Returns when notified or after `limit`, whichever comes first.
    public func wait(upTo limit: Duration) async {
        let id = UUID()
        waiters.withLock { $0[id] = .pending }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let resumeNow: Bool = self.waiters.withLock { waiters in
                        if case .pending = waiters[id] {
                            waiters[id] = .waiting(continuation)
                            return false
                        }
                        return true
                    }
                    if resumeNow { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            let leftover: Waiter? = waiters.withLock { $0.removeValue(forKey: id) }
            if case .waiting(let continuation) = leftover { continuation.resume() }
            group.cancelAll()
        }
    }
}
