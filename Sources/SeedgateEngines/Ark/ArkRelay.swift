import AsyncHTTPClient
import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport
import Synchronization

/// How upstream work is paced and bounded.
public struct UpstreamSettings: Sendable {
    /// Whether upstream is given a per-task `callback_url` (it must be able to reach our public URL);
    /// nil means yes when a public URL is set.
    public var callbacks: Bool?
    /// A task not finished upstream this long after submission is failed with `deadline_exceeded`.
    public var deadline: Duration = .seconds(6 * 3600)
    /// The first status check comes this soon after submission; later ones back off to 12x this.
    public var pollInterval: Duration = .seconds(5)
    /// How often an asset under upstream review is checked.
    public var assetPollInterval: Duration = .seconds(2)
    /// How long an upstream asset review may take before it is failed.
    public var assetReviewLimit: Duration = .seconds(600)
    /// Time limit of each upstream HTTP call.
    public var requestTimeout: Duration = .seconds(30)
    /// Tasks sent upstream at once where every channel is an Ark account (where one renders locally, three:
    /// each may hold an ffmpeg). Sixteen take a burst of 10,000 upstream in about a minute, three in two
    /// and a half; on SQLite, more keep its one writer busier.
    public var submitters = 3
    /// Finished results copied into the blob store at once.
    public var copyConcurrency = 16

    public init() {}

    /// The wait before the check after `polls` earlier ones: 1x, 2x, 4x ... 12x the poll interval.
    package func pollDelay(after polls: Int) -> Duration {
        pollInterval * min(12, 1 << min(polls, 4))
    }
}

/// The base URL upstream callbacks reach us on; known once the server is listening.
public final class CallbackBase: Sendable {
    private let value: Mutex<String?>
    public init(_ value: String? = nil) { self.value = Mutex(value) }
    public func set(_ url: String) { value.withLock { $0 = url } }
    public var url: String? { value.withLock { $0 } }
}

/// Sends work to Ark channels and brings it back: submission with failover, status checks, result
/// copies, cancellation, and the asset library relay.
public struct ArkRelay: Sendable {
    public let router: ChannelRouter
    package let clients: [String: ArkClient]
    package let store: any UpstreamStore & VideoTaskStore & AssetStore
    package let blobs: any BlobStore
    package let fetcher: MediaFetcher
    package let scratchDirectory: String
    package let prices: PriceTable
    package let settings: UpstreamSettings
    package let callbackBase: CallbackBase
    package let logger: Logger
    /// Copies of finished results, made apart from the checks that found them (the upstream poller runs them).
    package let copies: ResultCopies
    /// Unfinished tasks per channel for channel selection, read from the store at most once a second.
    package let load = ChannelLoad()
    /// How many times a task may be tried on channels that all fail before it is failed.
    package static let maxSubmitAttempts = 6

    public init(
        router: ChannelRouter, http: HTTPClient, store: any UpstreamStore & VideoTaskStore & AssetStore, blobs: any BlobStore, fetcher: MediaFetcher, scratchDirectory: String,
        prices: PriceTable, settings: UpstreamSettings, callbackBase: CallbackBase, logger: Logger, telemetry: Telemetry = .disabled
    ) {
        self.router = router
        var clients: [String: ArkClient] = [:]
        for channel in router.channels where channel.kind == .ark {
            clients[channel.name] = ArkClient(channel: channel, http: http, timeout: settings.requestTimeout, telemetry: telemetry)
        }
        self.clients = clients
        self.store = store
        self.blobs = blobs
        self.fetcher = fetcher
        self.scratchDirectory = scratchDirectory
        self.prices = prices
        self.settings = settings
        self.callbackBase = callbackBase
        self.logger = logger
        self.copies = ResultCopies(concurrency: settings.copyConcurrency)
    }

    // MARK: - Recording an end

    package func finish(_ task: VideoTask, owner: String, _ outcome: Result<VideoResult, Failure>, cancelled: Bool = false) async {
        do {
            let recorded = try await store.finishVideoTask(taskID: task.id, owner: owner, outcome: outcome, cost: 0, usageTokens: nil, cancelled: cancelled)
            if case .failure(let failure) = outcome {
                logger.info("upstream task ended", metadata: ["task": "\(task.id)", "code": "\(failure.code)", "recorded": "\(recorded)"])
            }
        } catch {
            logger.error("could not record an upstream task's end", metadata: ["task": "\(task.id)", "error": "\(logDescription(of: error))"])
        }
    }
}
