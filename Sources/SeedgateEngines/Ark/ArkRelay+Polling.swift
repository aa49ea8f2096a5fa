import AsyncHTTPClient
import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Status checks of tasks running upstream, in batches per channel, and what each status means here.
extension ArkRelay {
    /// Checks a batch of claimed tasks on one channel (one list call per 20 tasks) and acts on each.
    public func check(_ tasks: [VideoTask], channel name: String, owner: String) async {
        guard let client = clients[name] else {
            // Perhaps only on this replica, during a change of the channels file: the task is given up
            // only at its deadline, as for a channel that does not answer.
            for task in tasks { await later(task, owner: owner, unreachable: "its upstream channel '\(name)' is not configured here") }
            return
        }
        var start = 0
        while start < tasks.count {
            let batch = Array(tasks[start..<min(tasks.count, start + 20)])
            start += 20
            await router.pace(name)
            var found: [String: ArkTask] = [:]
            do throws(ArkError) {
                for item in try await client.tasks(ids: batch.compactMap(\.upstream?.id)) { found[item.id] = item }
                router.succeeded(name)
            } catch {
                switch error {
                case .unavailable(let reason, _, let retryAfter):
                    router.failed(name, retryAfter: retryAfter, reason: "task status list: \(reason)")
                    for task in batch { await later(task, owner: owner, unreachable: "its upstream channel did not answer") }
                    continue
                case .rejected(let status, let code, let message):
                    // Each task is then asked for alone, below.
                    logger.warning("upstream refused a task list", metadata: ["channel": "\(name)", "status": "\(status)", "code": "\(code)", "error": "\(message)"])
                }
            }
            let listed = found
            await withTaskGroup(of: Void.self) { group in
                for task in batch {
                    let item = task.upstream?.id.flatMap { listed[$0] }
                    group.addTask { await self.check(task, client: client, listed: item, owner: owner) }
                }
            }
        }
    }

    private func check(_ task: VideoTask, client: ArkClient, listed: ArkTask?, owner: String) async {
        guard let upstreamID = task.upstream?.id else { return }
        var info = listed
        if info == nil {
            // Not in the list answer: ask for it alone.
            await router.pace(client.channel.name)
            do throws(ArkError) {
                info = try await client.task(id: upstreamID)
            } catch {
                switch error {
                case .unavailable(let reason, _, let retryAfter):
                    router.failed(client.channel.name, retryAfter: retryAfter, reason: "task status: \(reason)")
                    return await later(task, owner: owner, unreachable: "its upstream channel did not answer")
                case .rejected(404, _, let message):
                    return await finish(task, owner: owner, .failure(Failure(code: "upstream_task_lost", message: "upstream no longer knows this task: \(message)")))
                case .rejected(let status, let code, let message):
                    // A refused key or an overdue account says nothing about the task, which may still run
                    // (and bill) upstream: the channel cools down and the task is asked about again.
                    logger.warning("upstream refused a status check", metadata: ["task": "\(task.id)", "status": "\(status)", "code": "\(code)", "error": "\(message)"])
                    router.failed(client.channel.name, retryAfter: nil, reason: "task status refused: HTTP \(status) \(code)")
                    return await later(task, owner: owner, unreachable: "its upstream channel refused status checks (\(code))")
                }
            }
        }
        guard let info else { return }
        do {
            try await apply(info, to: task, client: client, owner: owner)
        } catch {
            logger.error("upstream status check failed", metadata: ["task": "\(task.id)", "error": "\(error)"])
        }
    }

    /// Acts on an upstream status (upstream.md: queued -> pending, running -> processing, succeeded ->
    /// completed, failed -> failed, cancelled -> cancelled, expired -> failed with code `expired`).
    package func apply(_ info: ArkTask, to task: VideoTask, client: ArkClient, owner: String) async throws {
        switch info.status {
        case "succeeded":
            await copyResult(info, of: task, owner: owner)
        case "failed":
            await finish(task, owner: owner, .failure(Failure(code: info.errorCode ?? "upstream_failed", message: info.errorMessage ?? "the upstream task failed")))
        case "cancelled":
            await finish(task, owner: owner, .failure(Failure(code: "cancelled", message: "the task was cancelled upstream")), cancelled: true)
        case "expired":
            await finish(task, owner: owner, .failure(Failure(code: "expired", message: "the upstream task expired before it finished (Ark status expired)")))
        default:
            if isPastDeadline(task) {
                if info.status == "queued" { try? await client.cancelTask(id: info.id) }
                return await finish(task, owner: owner, deadlineExceeded(""))
            }
            let polls = (task.upstream?.polls ?? 0) + 1
            try await store.reschedulePoll(
                task: task, owner: owner, upstreamStatus: info.status, progress: ArkGeneration.progress(status: info.status, polls: polls),
                next: store.clock.now.addingTimeInterval(settings.pollDelay(after: polls).seconds)
            )
        }
    }

    private func isPastDeadline(_ task: VideoTask) -> Bool {
        task.upstream?.deadlineAt.map { Epoch.millis(store.clock.now) > $0 } ?? false
    }

    private func deadlineExceeded(_ why: String) -> Result<VideoResult, Failure> {
        .failure(Failure(code: "deadline_exceeded", message: "the upstream task did not finish within \(settings.deadline.components.seconds) s\(why); it was given up"))
    }

    /// Checks again later without learning anything (`unreachable` says why), or, past the task's
    /// deadline, gives it up: a channel that never answers again does not keep a task (and its hold) forever.
    private func later(_ task: VideoTask, owner: String, unreachable: String) async {
        if isPastDeadline(task) { return await finish(task, owner: owner, deadlineExceeded(" (\(unreachable))")) }
        let polls = task.upstream?.polls ?? 0
        try? await store.reschedulePoll(
            task: task, owner: owner, upstreamStatus: task.upstream?.status ?? "queued", progress: task.progress,
            next: store.clock.now.addingTimeInterval(settings.pollDelay(after: polls + 1).seconds)
        )
    }

    /// Copies a finished video (and last frame) into our blob store before upstream's links expire,
    /// then completes the task. A copy that keeps failing fails the task (and releases its hold).
}
