import Foundation
import SeedgateDomain
import Synchronization

/// Group commit, for writes and reads alike: calls of one lane that arrive while the lane's batches
/// are all running wait, and when one is done the first of the waiters runs them all as the next
/// batch (one statement, one round trip) and tells the others. Nobody waits while the lane has room:
/// alone, a call runs as it always did, and batches form only under load, as large as the load makes
/// them (up to `largest`). A call is answered only by a batch begun after it arrived, so a read sees
/// every write finished before it was asked (a poll right after its submission finds the task).
///
/// On PostgreSQL: one key's submissions (a submission holds its key's row from the hold's `UPDATE` to
/// its commit's WAL flush, so they would take turns, a commit each; one batch at a time per key), and
/// task reads (each a round trip with its own protocol work on both ends and its own wake-ups; a few
/// batches at a time per event loop).
package final class Batches<Lane: Hashable & Sendable, Item: Sendable, Answer: Sendable>: Sendable {
    /// What a call learns: its answer, from a batch another call ran; or it is to run `others` with itself.
    private enum Turn: Sendable {
        case answered(Answer)
        case run(others: [Waiter])
    }
    private struct Waiter: Sendable {
        let item: Item
        let continuation: CheckedContinuation<Turn, any Error>
    }
    private struct Queue {
        var running = 0
        var waiting: [Waiter] = []
    }
    private let lanes = Mutex<[Lane: Queue]>([:])
    private let concurrent: Int
    private let largest: Int
    /// Batches of more than one run, for the tests and the logs.
    package let batches = StatementCounter()

    /// `concurrent`: batches running at once in a lane; `largest`: calls in one batch.
    package init(concurrent: Int = 1, largest: Int = 64) {
        self.concurrent = max(1, concurrent)
        self.largest = max(1, largest)
    }

    /// `item`'s answer from `body`, which runs it alone or in a batch with others of `lane` that
    /// arrived meanwhile. `body` gets the batch, this call's item first, and answers each of its items
    /// in order; it runs for at most `concurrent` batches at a time per lane. Its error is every
    /// member's error.
    package func run(_ item: Item, lane: Lane, _ body: @Sendable ([Item]) async throws -> [Answer]) async throws -> Answer {
        let others: [Waiter]
        // With room in the lane, the call runs at once, without suspending; else it waits its turn
        // (room is looked for again as it is queued: a batch may have ended meanwhile).
        if enter(lane, else: nil) {
            others = []
        } else {
            let turn: Turn = try await withCheckedThrowingContinuation { continuation in
                if enter(lane, else: Waiter(item: item, continuation: continuation)) { continuation.resume(returning: .run(others: [])) }
            }
            switch turn {
            case .answered(let answer): return answer
            case .run(let batch): others = batch
            }
        }
        if !others.isEmpty { batches.add() }
        let outcome: Result<[Answer], any Error>
        do {
            let answers = try await body([item] + others.map(\.item))
            guard answers.count == others.count + 1 else { throw SeedgateError.internalError() }
            outcome = .success(answers)
        } catch {
            outcome = .failure(error)
        }
        for (index, waiter) in others.enumerated() {
            waiter.continuation.resume(with: outcome.map { Turn.answered($0[index + 1]) })
        }
        passOn(lane)
        return try outcome.get()[0]
    }

    /// Takes a running place in the lane if it has one; if not, queues `waiter` (when given).
    private func enter(_ lane: Lane, else waiter: Waiter?) -> Bool {
        lanes.withLock { lanes in
            guard lanes[lane, default: Queue()].running < concurrent else {
                if let waiter { lanes[lane]!.waiting.append(waiter) }
                return false
            }
            lanes[lane, default: Queue()].running += 1
            return true
        }
    }

    /// Hands the lane's next batch to the first of its waiters, or gives up the lane's running place.
    private func passOn(_ lane: Lane) {
        let next: [Waiter] = lanes.withLock { lanes in
            guard let waiting = lanes[lane]?.waiting.count, waiting > 0 else {
                lanes[lane, default: Queue()].running -= 1
                if lanes[lane]?.running == 0 { lanes[lane] = nil }
                return []
            }
            let batch = Array(lanes[lane]!.waiting.prefix(largest))
            lanes[lane]!.waiting.removeFirst(batch.count)
            return batch
        }
        guard let first = next.first else { return }
        first.continuation.resume(returning: .run(others: Array(next.dropFirst())))
    }
}
