import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Builds the whole server: store, engine, workers, routes. `seedgate serve` and the tests call
/// this same function, so tests exercise the real wiring.
public func buildApplication(
    _ config: SeedgateConfiguration,
    logger: Logger,
    onServerRunning: @escaping @Sendable (_ port: Int, _ store: Store) async -> Void = { _, _ in }
) async throws -> some ApplicationProtocol {
    try config.validate()
    try DataDirectory.prepare(config.dataDirectory)
    // On SQLite one server owns the data directory; PostgreSQL replicas share the database instead.
    let lock = config.databaseURL == nil ? try DataDirectory.lockForServing(config.dataDirectory) : nil

    let provider = try await config.openDatabase(logger: logger)
    let store = Store(provider: provider)
    try await store.migrate()
    if lock != nil {
        // This process holds the serve lock, so no other server can own a review lease or a scratch file.
        try await store.releaseAllLeases()
        DataDirectory.clearScratch(config.dataDirectory)
    }

    var clientConfiguration = HTTPClient.Configuration(
        redirectConfiguration: .disallow,
        timeout: .init(connect: .seconds(10), read: .seconds(30)),
        decompression: .disabled
    )
    // Each download served from an S3 blob store holds one connection to it while it streams; the
    // default of 8 per host would make the ninth viewer wait.
    clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
    let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    let blobs: any BlobStore
    do {
        blobs = try await config.openBlobStore(client: httpClient, logger: logger)
    } catch {
        try? await httpClient.shutdown()
        await provider.close()
        if let lock { DataDirectory.unlock(lock) }
        throw error
    }
    let urlGuard = URLGuard(allowPrivate: config.allowPrivateURLs)
    let prices = try config.pricesFile.map(PriceTable.load(file:)) ?? .defaults
    let signal = WorkSignal()
    let assets = AssetService(store: store, urlGuard: urlGuard, signal: signal, prices: prices)
    let reviewer = LocalReviewer(
        fetcher: MediaFetcher(client: httpClient, urlGuard: urlGuard),
        scratchDirectory: "\(config.dataDirectory)/tmp"
    )

    let videoSignal = WorkSignal()
    let pollSignal = WorkSignal()
    let channels = try config.channelsFile.map { try ChannelsFile.load(path: $0) } ?? []
    let callbackBase = CallbackBase(config.publicURL.map { _ in config.effectivePublicURL })
    var upstream = config.upstream
    upstream.callbacks = upstream.callbacks ?? (config.publicURL != nil)
    // An upstream asset review must end well inside the review lease, or another worker would take it up.
    upstream.assetReviewLimit = min(upstream.assetReviewLimit, config.reviewLease - .seconds(1))
    let relay = channels.isEmpty ? nil : ArkRelay(
        router: ChannelRouter(channels: channels), http: httpClient, store: store, blobs: blobs,
        fetcher: MediaFetcher(client: httpClient, urlGuard: urlGuard), scratchDirectory: "\(config.dataDirectory)/tmp",
        prices: prices, settings: upstream, callbackBase: callbackBase, logger: logger
    )
    let generation = GenerationService(
        store: store, urlGuard: urlGuard, signal: videoSignal, prices: prices, limits: config.defaultLimits, relay: relay
    )
    let signer = URLSigner(secret: try await URLSigner.loadSecret(from: store, legacyKeyFile: "\(config.dataDirectory)/signing.key"), baseURL: config.effectivePublicURL)
    let links = ResultLinks(signer: signer, ttl: config.resultLinkTTL, retention: config.resultRetention)
    let engine = LocalVideoEngine(
        fetcher: MediaFetcher(client: httpClient, urlGuard: urlGuard), blobs: blobs, scratchDirectory: "\(config.dataDirectory)/tmp"
    )
    let rateLimiter = RateLimiter(store: store)
    let router = buildRouter(
        store: store, assets: assets, generation: generation, links: links, signer: signer, blobs: blobs,
        limits: config.defaultLimits, rateLimiter: rateLimiter
    )
    if relay != nil { UpstreamCallbackRoutes(store: store, signal: pollSignal).register(on: router) }
    let resources = ResourceService {
        try? await httpClient.shutdown()
        await provider.close()
        if let lock { DataDirectory.unlock(lock) }
    }
    let worker = ReviewWorker(
        store: store, reviewer: reviewer, signal: signal, concurrency: config.reviewConcurrency, logger: logger, lease: config.reviewLease,
        relay: relay
    )
    // Submissions upstream are quick; a few more loops keep one slow channel from holding up the rest.
    let submitters = relay.map { $0.router.isLocalOnly ? 0 : 3 } ?? 0
    let videoWorker = VideoWorker(
        store: store, engine: engine, signal: videoSignal, concurrency: config.renderConcurrency + submitters, logger: logger, prices: prices,
        lease: config.workLease, relay: relay
    )
    let webhooks = WebhookWorker(
        store: store, client: httpClient, urlGuard: urlGuard, delays: config.webhookRetryDelays, logger: logger, lease: config.workLease
    ) { delivery in
        if let task = try await store.videoTask(id: delivery.taskID, keyID: delivery.keyID) {
            return Apimart.envelope(Apimart.videoTask(task, links: links, webhook: nil)).serialized()
        }
        if let task = try await store.reviewTask(id: delivery.taskID, keyID: delivery.keyID) {
            return Apimart.envelope(Apimart.reviewTask(task)).serialized()
        }
        return nil
    }
    let sweeper = RetentionSweeper(store: store, blobs: blobs, retention: config.resultRetention, logger: logger)
    return Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "Seedgate"),
        services: [resources, RateLimitFlusher(limiter: rateLimiter, logger: logger)]
            + (config.runWorkers ? [worker, videoWorker, webhooks, sweeper] : [])
            + (config.runWorkers ? relay.map { [UpstreamPoller(relay: $0, store: store, signal: pollSignal, logger: logger)] } ?? [] : []),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? config.port
            if callbackBase.url == nil {
                let host = ["0.0.0.0", "::", ""].contains(config.host) ? "127.0.0.1" : config.host
                callbackBase.set("http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
            }
            await onServerRunning(port, store)
        },
        logger: logger
    )
}

func buildRouter(
    store: Store, assets: AssetService, generation: GenerationService, links: ResultLinks, signer: URLSigner, blobs: any BlobStore,
    limits: Limits, rateLimiter: RateLimiter
) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.get("health") { _, _ in "ok" }

    // apimart (seeds 000, 002)
    let apimart = router.group("v1")
        .add(middleware: DialectErrorMiddleware<AppRequestContext>(dialect: .apimart))
        .add(middleware: AuthMiddleware(store: store, limits: limits, rateLimiter: rateLimiter))
        .group(context: AuthenticatedContext.self)
    ApimartAssetRoutes(assets: assets).register(on: apimart)
    ApimartGenerationRoutes(generation: generation, assets: assets, results: links, store: store, limits: limits).register(on: apimart)

    // toapis (seed 001)
    let toapis = router.group("v1/videos/doubao-seedance-2-0/private-avatar")
        .add(middleware: DialectErrorMiddleware<AppRequestContext>(dialect: .toapis))
        .add(middleware: AuthMiddleware(store: store, limits: limits, rateLimiter: rateLimiter))
        .group(context: AuthenticatedContext.self)
    ToapisRoutes(assets: assets).register(on: toapis)

    // crun (seeds 003, 004)
    let crun = router.group("api/v1/client/job")
        .add(middleware: DialectErrorMiddleware<AppRequestContext>(dialect: .crun))
        .add(middleware: AuthMiddleware(store: store, limits: limits, rateLimiter: rateLimiter))
        .group(context: AuthenticatedContext.self)
    CrunRoutes(assets: assets).register(on: crun)

    // Result files, by signed link (no key: the signature is the credential).
    ResultRoutes(signer: signer, blobs: blobs).register(on: router)
    return router
}

/// Holds shared resources open while the server runs and closes them last on shutdown
/// (services stop in reverse order, so this one stops after the server and the workers).
struct ResourceService: Service {
    let close: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
