import AsyncHTTPClient
import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Cancelling upstream: only while the task is still queued there.
extension ArkRelay {
    /// Cancels an upstream task while it is still queued there. Throws a conflict once it runs
    /// (upstream would finish and bill it anyway).
    public func cancelUpstream(_ task: VideoTask) async throws {
        guard let upstream = task.upstream, let upstreamID = upstream.id, !task.status.isFinal else { return }
        guard let client = clients[upstream.channel] else { return }
        let notCancellable = SeedgateError(.conflict, code: "task_not_cancellable",
                                           message: "task '\(task.id)' is already running upstream; upstream tasks can only be cancelled while queued")
        guard upstream.status == "queued" else { throw notCancellable }
        // The stored status may be a poll old, and a DELETE on a finished task deletes its record and
        // result: upstream is asked for the status first.
        let current: String
        do throws(ArkError) {
            current = try await client.task(id: upstreamID).status
            if current == "queued" { try await client.cancelTask(id: upstreamID) }
        } catch {
            switch error {
            case .unavailable(let reason, _, _):
                throw SeedgateError(.serviceUnavailable, code: "upstream_unavailable", message: "could not reach the upstream to cancel: \(reason); try again", retryAfter: 5)
            case .rejected(_, _, let message):
                throw SeedgateError(.conflict, code: "task_not_cancellable", message: "upstream refused to cancel task '\(task.id)': \(message)")
            }
        }
        guard current == "queued" else { throw notCancellable }
    }
}
