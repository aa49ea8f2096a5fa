import AsyncHTTPClient
import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Submission: the best channel that serves the task's model and holds its assets takes it; errors that
/// mean nothing was accepted move it to the next; an upstream that may have it is never sent it again.
extension ArkRelay {
    public enum Submission: Sendable, Equatable {
        /// The chosen channel is the local engine: render here.
        case local
        /// An upstream took it; the poller follows it from now on.
        case submitted(channel: String, upstreamID: String)
        /// No channel can take it now; try again at `retryAt`. `counts` is false when it only waits for capacity.
        case deferred(reason: String, counts: Bool)
        case failed(Failure)
        /// Cancelled (or taken over) while we worked on it.
        case gone
    }

    /// Sends a claimed task to the best channel that takes it, trying the next on errors that mean
    /// nothing was accepted. Never sends a task again once an upstream may have accepted it.
    public func submit(_ task: VideoTask, owner: String) async throws -> Submission {
        if task.upstream?.status == "submitting" {
            // A server stopped between sending this task and recording the answer: upstream may have it.
            return .failed(Failure(code: "upstream_unconfirmed",
                                   message: "the server stopped while submitting this task upstream; it was not sent again, so it cannot run twice"))
        }
        let assetIDs = task.request.assetIDs
        let bindings = try await store.activeBindings(assetIDs: assetIDs)
        let eligible = { (channel: Channel) in channel.kind == .local || assetIDs.allSatisfy { bindings[$0]?[channel.name] != nil } }
        let candidates = router.candidates(for: task.request.model, inFlight: try await load.counts { try await store.inFlightByChannel() }, eligible: eligible)
        switch candidates.blocked {
        case .capacity?: return .deferred(reason: "every channel for \(task.request.model.rawValue) is at its in-flight limit", counts: false)
        // Waiting out a cooldown sends nothing upstream, so it is not held against the task: only calls
        // that were made and failed count toward its attempts.
        case .cooling?: return .deferred(reason: "every channel for \(task.request.model.rawValue) is cooling down after errors", counts: false)
        case nil where candidates.ready.isEmpty: return .failed(Self.noChannel(for: task.request, assetIDs: assetIDs))
        case nil: break
        }
        var lastError = ""
        for channel in candidates.ready {
            guard channel.kind == .ark, let client = clients[channel.name], let model = channel.models[task.request.model.rawValue] else {
                return .local
            }
            // Paced before the task is marked: a wait here (a cooling channel) is not spent inside the
            // window where a lost lease would make the task unconfirmed.
            await router.pace(channel.name)
            let token = Identifiers.random(32)
            let begun: Bool
            do {
                begun = try await store.beginSubmission(taskID: task.id, owner: owner, channel: channel.name, callbackToken: token)
            } catch {
                // The mark may have been written before the store failed (a database restarting): nothing
                // was sent, so take it back rather than leave the task to be found unconfirmed.
                try await persisting("take back a submission mark", task) { try await store.abandonSubmission(taskID: task.id, owner: owner) }
                throw error
            }
            guard begun else { return .gone }
            let rewrites = assetIDs.reduce(into: [String: String]()) { $0[$1] = bindings[$1]?[channel.name] }
            let body = ArkGeneration.body(
                for: task, upstreamModel: model, assets: rewrites,
                callbackURL: settings.callbacks == true ? callbackBase.url.map { "\($0)/upstream/ark/\(task.id)/\(token)" } : nil,
                expiresAfter: Int(settings.deadline.components.seconds)
            )
            let upstreamID: String
            do throws(ArkError) {
                upstreamID = try await client.createTask(body)
            } catch {
                switch error {
                case .unavailable(let reason, _, let retryAfter):
                    router.failed(channel.name, retryAfter: retryAfter, reason: "submission: \(reason)")
                    lastError = reason
                case .rejected(let status, let code, let message) where status == 401 || status == 403:
                    // The account cannot take work (bad key, overdue): another account may.
                    router.failed(channel.name, retryAfter: 60, reason: "submission refused: HTTP \(status) \(code)")
                    lastError = "\(channel.name): \(code): \(message)"
                case .rejected(_, let code, let message):
                    try await persisting("take back a refused submission", task) { try await store.abandonSubmission(taskID: task.id, owner: owner) }
                    return .failed(Failure(code: code, message: "upstream refused the task: \(message)"))
                }
                logger.warning("upstream submission failed; trying the next channel", metadata: ["task": "\(task.id)", "channel": "\(channel.name)", "error": "\(lastError)"])
                try await persisting("take back a failed submission", task) { try await store.abandonSubmission(taskID: task.id, owner: owner) }
                continue
            }
            router.succeeded(channel.name)
            load.add(channel.name)
            let recorded = try await record(task, owner: owner, upstreamID: upstreamID)
            if !recorded {
                // Cancelled while the request was out: cancel it upstream too, while it is still queued.
                try? await client.cancelTask(id: upstreamID)
                return .gone
            }
            return .submitted(channel: channel.name, upstreamID: upstreamID)
        }
        return .deferred(reason: lastError, counts: true)
    }

    /// The refusal when no configured channel can ever take this request.
    package static func noChannel(for request: GenerationRequest, assetIDs: [String]) -> Failure {
        assetIDs.isEmpty
            ? Failure(code: "model_not_available", message: "model: no channel serves '\(request.model.rawValue)'")
            : Failure(code: "asset_not_available",
                      message: "no upstream account that serves '\(request.model.rawValue)' holds every asset used (\(assetIDs.sorted().joined(separator: ", "))); assets used together must be in one group")
    }

    /// Whether a request can be routed at all (checked at submission, so a hopeless task is refused
    /// before it is stored).
    public func checkRoutable(_ request: GenerationRequest) async throws {
        let assetIDs = request.assetIDs
        let serving = router.channels.filter { $0.serves(request.model) }
        guard !serving.isEmpty else {
            throw SeedgateError.invalid("model", "no channel serves '\(request.model.rawValue)' on this gateway", code: "model_not_available")
        }
        guard !assetIDs.isEmpty, !serving.contains(where: { $0.kind == .local }) else { return }
        let bindings = try await store.activeBindings(assetIDs: assetIDs)
        guard serving.contains(where: { channel in assetIDs.allSatisfy { bindings[$0]?[channel.name] != nil } }) else {
            let failure = Self.noChannel(for: request, assetIDs: assetIDs)
            let field = request.inputs.first { $0.input.assetID != nil }?.input.field ?? "image_urls"
            throw SeedgateError(.invalidRequest, code: failure.code, message: "\(field): \(failure.message)", param: field)
        }
    }

    /// Records an accepted submission. Upstream has the task now and only this call knows its id.
    private func record(_ task: VideoTask, owner: String, upstreamID: String) async throws -> Bool {
        try await persisting("record an accepted submission (upstream \(upstreamID))", task) {
            let now = store.clock.now
            return try await store.recordSubmission(
                taskID: task.id, owner: owner, upstreamID: upstreamID,
                firstPoll: now.addingTimeInterval(settings.pollDelay(after: 0).seconds), deadline: now.addingTimeInterval(settings.deadline.seconds)
            )
        }
    }

    /// Runs a write that only this call can make: what upstream did with the task is known here and
    /// nowhere else, so a store that fails (a database restarting) is asked again for about half a
    /// minute, well inside the worker's lease, before the task is left marked "submitting" and later
    /// found unconfirmed.
    private func persisting<T>(_ what: String, _ task: VideoTask, _ write: () async throws -> T) async throws -> T {
        var pause = Duration.milliseconds(250)
        let giveUp = ContinuousClock.now + .seconds(30)
        while true {
            do {
                return try await write()
            } catch {
                guard ContinuousClock.now < giveUp, !Task.isCancelled else { throw error }
                logger.warning("could not \(what); trying again", metadata: ["task": "\(task.id)", "error": "\(logDescription(of: error))"])
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }
}
