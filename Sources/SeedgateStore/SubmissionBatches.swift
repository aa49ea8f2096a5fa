import Foundation
import Synchronization

/// Group commit for one key's submissions on PostgreSQL. A submission holds its key's row from the
/// hold's `UPDATE` to its commit's WAL flush, so one key's submissions take turns a commit each. Here
/// the first submission of a key writes alone, as it always did; those that arrive while it writes
/// wait, and when it is done the first of them writes them all in one statement, one commit, and
/// tells the others. Nobody waits when nobody else is writing for the key.
///
/// A batch is written whole or not at all: when the key's rule refuses it (credits, in-flight limit),
/// each of its submissions is told to try again alone, and the rule answers each one exactly.
package final class SubmissionBatches<Item: Sendable>: Sendable {
    /// What a submission learns: it was written (true) or refused (false) with the others; or it is
    /// to write `others` with itself.
    private enum Turn: Sendable {
        case written(Bool)
        case write(others: [Waiter])
    }
    private struct Waiter: Sendable {
        let item: Item
        let continuation: CheckedContinuation<Turn, any Error>
    }
    /// Keys being written, with the submissions waiting for the next batch of each.
    private let waiting = Mutex<[String: [Waiter]]>([:])
    private let largest: Int
    /// Batches of more than one written, for the tests and the logs.
    package let batches = StatementCounter()

    package init(largest: Int = 64) { self.largest = largest }

    /// Writes `item` with `write`, alone or in a batch with others of `key` that arrived meanwhile.
    /// `write` gets the batch and answers whether it was written; it runs for one batch at a time per
    /// key. Returns true when written; false when a batch of more than one was refused (try alone),
    /// or `write`'s own answer for a batch of one.
    package func submit(_ item: Item, key: String, write: @Sendable ([Item]) async throws -> Bool) async throws -> Bool {
        let turn: Turn = try await withCheckedThrowingContinuation { continuation in
            let writeNow = waiting.withLock { waiting -> Bool in
                if waiting[key] != nil {
                    waiting[key]!.append(Waiter(item: item, continuation: continuation))
                    return false
                }
                waiting[key] = []
                return true
            }
            if writeNow { continuation.resume(returning: .write(others: [])) }
        }
        let others: [Waiter]
        switch turn {
        case .written(let written): return written
        case .write(let batch): others = batch
        }
        if !others.isEmpty { batches.add() }
        let outcome: Result<Bool, any Error>
        do {
            outcome = .success(try await write([item] + others.map(\.item)))
        } catch {
            outcome = .failure(error)
        }
        for waiter in others {
            waiter.continuation.resume(with: outcome.map { Turn.written($0) })
        }
        passOn(key)
        return try outcome.get()
    }

    /// Hands the key's next batch to the first of its waiters, or closes the key's queue.
    private func passOn(_ key: String) {
        let next: [Waiter] = waiting.withLock { waiting in
            guard let queued = waiting[key], !queued.isEmpty else {
                waiting[key] = nil
                return []
            }
            let batch = Array(queued.prefix(largest))
            waiting[key]!.removeFirst(batch.count)
            return batch
        }
        guard let first = next.first else { return }
        first.continuation.resume(returning: .write(others: Array(next.dropFirst())))
    }
}
