import Foundation
import SeedgateSupport

/// Where a claimed video task goes: the local engine renders it here and now; an upstream channel takes
/// it and finishes it later (the upstream poller follows it). The video worker handles each outcome the
/// same way whichever engine gave it.
public protocol VideoEngine: Sendable {
    /// Refuses a request that no engine here can ever run, before it is stored.
    func checkRoutable(_ request: GenerationRequest) async throws
    /// Runs or hands on a task the worker `owner` has claimed.
    func start(_ task: VideoTask, owner: String) async throws -> EngineStart
    /// Stops the task where it runs, before the store marks it cancelled: a no-op for work that only
    /// runs here; throws a conflict when the task can no longer be cancelled there.
    func cancel(_ task: VideoTask) async throws
}

/// What became of a task given to an engine.
public enum EngineStart: Sendable, Equatable {
    /// Rendered here: the outcome is recorded now.
    case finished(Result<VideoResult, Failure>)
    /// Refused before any engine took it; recorded as a failure now.
    case refused(Failure)
    /// An upstream took it; the poller follows it from now on.
    case submitted(channel: String, upstreamID: String)
    /// No engine can take it yet: it waits `retryIn`. `counts` is false when it waits only for capacity
    /// (the attempt is not held against it).
    case deferred(reason: String, retryIn: Duration, counts: Bool)
    /// Cancelled or taken over while the engine worked on it: nothing to record.
    case gone
}

/// Reviews a submitted asset: fetches and probes it, and (with an upstream asset library) has it
/// reviewed there too.
public protocol AssetReviewer: Sendable {
    func review(_ asset: Asset) async -> Result<MediaFacts, Failure>
}
