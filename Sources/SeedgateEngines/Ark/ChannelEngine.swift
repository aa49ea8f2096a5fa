import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// The engine when a channels file is set: each task goes to the channel the router picks, and to the
/// local engine when that channel is the local one.
public struct ChannelEngine: VideoEngine {
    package let relay: ArkRelay
    package let local: LocalEngine
    package let store: any VideoTaskStore

    public init(relay: ArkRelay, local: LocalEngine, store: any VideoTaskStore) {
        self.relay = relay
        self.local = local
        self.store = store
    }

    public func checkRoutable(_ request: GenerationRequest) async throws {
        try await relay.checkRoutable(request)
        // Where only the local engine serves the model, what it cannot honour is refused now.
        if relay.router.channels.filter({ $0.serves(request.model) }).allSatisfy({ $0.kind == .local }) {
            try await local.checkRoutable(request)
        }
    }

    public func cancel(_ task: VideoTask) async throws {
        try await relay.cancelUpstream(task)
    }

    public func start(_ task: VideoTask, owner: String) async throws -> EngineStart {
        let attempts = try await store.attempts(taskID: task.id)
        if attempts > ArkRelay.maxSubmitAttempts && task.upstream == nil {
            return .refused(Failure(code: "upstream_unavailable", message: "no upstream channel took the task after \(ArkRelay.maxSubmitAttempts) tries"))
        }
        switch try await relay.submit(task, owner: owner) {
        case .local:
            return try await local.start(task, owner: owner)
        case .submitted(let channel, let upstreamID):
            return .submitted(channel: channel, upstreamID: upstreamID)
        case .deferred(let reason, let counts):
            // Errors back off with the attempts; waiting for capacity looks again soon.
            let wait = counts ? min(60, 2 << min(attempts, 5)) : 2
            return .deferred(reason: reason, retryIn: .seconds(wait), counts: counts)
        case .failed(let failure):
            return .refused(failure)
        case .gone:
            return .gone
        }
    }
}

/// Reviews with the local checks first, so a bad file never costs an upstream call, then in the
/// upstream asset library when one is configured.
public struct UpstreamAssetReviewer: AssetReviewer {
    package let local: LocalReviewer
    package let relay: ArkRelay

    public init(local: LocalReviewer, relay: ArkRelay) {
        self.local = local
        self.relay = relay
    }

    public func review(_ asset: Asset) async -> Result<MediaFacts, Failure> {
        let outcome = await local.review(asset)
        guard case .success = outcome, relay.reviewsAssetsUpstream else { return outcome }
        if case .failure(let failure) = await relay.bind(asset) { return .failure(failure) }
        return outcome
    }
}
