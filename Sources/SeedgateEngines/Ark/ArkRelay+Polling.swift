import AsyncHTTPClient
import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Status checks of tasks running upstream, in batches per channel, and what each status means here.
extension ArkRelay {
    /// Task ids one list call carries (upstream.md: `filter.task_ids`, up to 20).
    package static let tasksPerListCall = 20

    /// Checks a batch of claimed tasks on one channel (one list call per 20 tasks) and acts on each;
    /// the tasks still running are rescheduled together, one statement per list call.
    public func check(_ tasks: [VideoTask], channel name: String, owner: String) async {
        guard let client = clients[name] else {
            // Perhaps only on this replica, during a change of the channels file: the task is given up
            // only at its deadline, as for a channel that does not answer.
            var checks: [PollCheck] = []
            for task in tasks {
                if let check = await later(task, owner: owner, unreachable: "its upstream channel '\(name)' is not configured here") { checks.append(check) }
            }
            return await reschedule(checks, owner: owner)
        }
        var start = 0
        while start < tasks.count {
            let batch = Array(tasks[start..<min(tasks.count, start + Self.tasksPerListCall)])
            start += Self.tasksPerListCall
            await router.pace(name)
            var found: [String: ArkTask] = [:]
            do throws(ArkError) {
                for item in try await client.tasks(ids: batch.compactMap(\.upstream?.id)) { found[item.id] = item }
                router.succeeded(name)
            } catch {
                switch error {
                case .unavailable(let reason, _, let retryAfter):
                    router.failed(name, retryAfter: retryAfter, reason: "task status list: \(reason)")
                    var checks: [PollCheck] = []
                    for task in batch {
                        if let check = await later(task, owner: owner, unreachable: "its upstream channel did not answer") { checks.append(check) }
                    }
                    await reschedule(checks, owner: owner)
                    continue
                case .rejected(let status, let code, let message):
                    // Each task is then asked for alone, below.
                    logger.warning("upstream refused a task list", metadata: ["channel": "\(name)", "status": "\(status)", "code": "\(code)", "error": "\(message)"])
                }
            }
            let listed = found
            let checks = await withTaskGroup(of: PollCheck?.self) { group in
                for task in batch {
                    let item = task.upstream?.id.flatMap { listed[$0] }
                    group.addTask { await self.check(task, client: client, listed: item, owner: owner) }
                }
                return await group.reduce(into: [PollCheck]()) { if let check = $1 { $0.append(check) } }
            }
            await reschedule(checks, owner: owner)
        }
    }

    private func reschedule(_ checks: [PollCheck], owner: String) async {
        do {
            try await store.reschedulePolls(checks, owner: owner)
        } catch {
            // Their leases run out and the next pass checks them again.
            logger.error("could not record status checks", metadata: ["tasks": "\(checks.count)", "error": "\(logDescription(of: error))"])
        }
    }

    /// Acts on one task's status; the check to record when it is still running upstream.
    private func check(_ task: VideoTask, client: ArkClient, listed: ArkTask?, owner: String) async -> PollCheck? {
        guard let upstreamID = task.upstream?.id else { return nil }
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
                    await finish(task, owner: owner, .failure(Failure(code: "upstream_task_lost", message: "upstream no longer knows this task: \(message)")))
                    return nil
                case .rejected(let status, let code, let message):
                    // A refused key or an overdue account says nothing about the task, which may still run
                    // (and bill) upstream: the channel cools down and the task is asked about again.
                    logger.warning("upstream refused a status check", metadata: ["task": "\(task.id)", "status": "\(status)", "code": "\(code)", "error": "\(message)"])
                    router.failed(client.channel.name, retryAfter: nil, reason: "task status refused: HTTP \(status) \(code)")
                    return await later(task, owner: owner, unreachable: "its upstream channel refused status checks (\(code))")
                }
            }
        }
        guard let info else { return nil }
        return await apply(info, to: task, client: client, owner: owner)
    }

    /// Acts on an upstream status (upstream.md: queued -> pending, running -> processing, succeeded ->
    /// completed, failed -> failed, cancelled -> cancelled, expired -> failed with code `expired`); the
    /// check to record when the task is still running.
    package func apply(_ info: ArkTask, to task: VideoTask, client: ArkClient, owner: String) async -> PollCheck? {
        switch info.status {
        case "succeeded":
            // Copied apart from this check; a task whose copy is already under way is left to it.
            _ = copies.enqueue(info, of: task, owner: owner)
        case "failed":
            await finish(task, owner: owner, .failure(Failure(code: info.errorCode ?? "upstream_failed", message: info.errorMessage ?? "the upstream task failed")))
        case "cancelled":
            await finish(task, owner: owner, .failure(Failure(code: "cancelled", message: "the task was cancelled upstream")), cancelled: true)
        case "expired":
            await finish(task, owner: owner, .failure(Failure(code: "expired", message: "the upstream task expired before it finished (Ark status expired)")))
        default:
            if isPastDeadline(task) {
                if info.status == "queued" { try? await client.cancelTask(id: info.id) }
                await finish(task, owner: owner, deadlineExceeded(""))
                return nil
            }
            let polls = (task.upstream?.polls ?? 0) + 1
            return PollCheck(
                task: task, upstreamStatus: info.status, progress: ArkGeneration.progress(status: info.status, polls: polls),
                next: store.clock.now.addingTimeInterval(settings.pollDelay(after: polls).seconds)
            )
        }
        return nil
    }

    private func isPastDeadline(_ task: VideoTask) -> Bool {
        task.upstream?.deadlineAt.map { Epoch.millis(store.clock.now) > $0 } ?? false
    }

    private func deadlineExceeded(_ why: String) -> Result<VideoResult, Failure> {
        .failure(Failure(code: "deadline_exceeded", message: "the upstream task did not finish within \(settings.deadline.components.seconds) s\(why); it was given up"))
    }

    /// Checks again later without learning anything (`unreachable` says why), or, past the task's
    /// deadline, gives it up: a channel that never answers again does not keep a task (and its hold) forever.
    private func later(_ task: VideoTask, owner: String, unreachable: String) async -> PollCheck? {
        if isPastDeadline(task) {
            await finish(task, owner: owner, deadlineExceeded(" (\(unreachable))"))
            return nil
        }
        let polls = task.upstream?.polls ?? 0
        return PollCheck(
            task: task, upstreamStatus: task.upstream?.status ?? "queued", progress: task.progress,
            next: store.clock.now.addingTimeInterval(settings.pollDelay(after: polls + 1).seconds)
        )
    }

    /// Copies a finished video (and last frame) into our blob store before upstream's links expire,
    /// then completes the task. A copy that keeps failing fails the task (and releases its hold).
}
