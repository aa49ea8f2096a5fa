import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import ServiceLifecycle

/// Builds the server from one reader of every setting (command line, environment, config file);
/// a malformed or impossible setting stops it here, named.
public func buildApplication(
    settings: SettingsReader,
    logger: Logger,
    onServerRunning: @escaping @Sendable (_ port: Int, _ store: SQLStore) async -> Void = { _, _ in }
) async throws -> some ApplicationProtocol {
    try await buildApplication(try SeedgateConfiguration(settings: settings), logger: logger, onServerRunning: onServerRunning)
}

/// Builds the whole server: store, engine, workers, routes. `seedgate serve` and the tests call
/// this same function, so tests exercise the real wiring.
public func buildApplication(
    _ config: SeedgateConfiguration,
    logger: Logger,
    onServerRunning: @escaping @Sendable (_ port: Int, _ store: SQLStore) async -> Void = { _, _ in }
) async throws -> some ApplicationProtocol {
    try config.validate()
    try DataDirectory.prepare(config.dataDirectory)
    // On SQLite one server owns the data directory; PostgreSQL replicas share the database instead.
    let lock = config.databaseURL == nil ? try DataDirectory.lockForServing(config.dataDirectory) : nil

    let provider = try await config.openDatabase(logger: logger)
    let store = SQLStore(provider: provider, clock: config.clock)
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
    let (registry, telemetry) = MetricsExporter.make()
    var urlGuard = URLGuard(allowPrivate: config.allowPrivateURLs)
    // Our own signed links (uploads) are read from the blob store, so they pass whatever the public URL is.
    urlGuard.ownLinks = "\(config.effectivePublicURL)/files/"
    let signer = URLSigner(secret: try await URLSigner.loadSecret(from: store, legacyKeyFile: "\(config.dataDirectory)/signing.key"), baseURL: config.effectivePublicURL, clock: config.clock)
    let catalog = try config.catalog()
    let prices = try config.pricesFile.map { try PriceTable.load(file: $0, catalog: catalog) } ?? catalog.pricing(.defaults)
    let signal = WorkSignal()
    let assets = AssetService(store: store, urlGuard: urlGuard, signal: signal, prices: prices, links: signer)
    let scratch = "\(config.dataDirectory)/tmp"
    let guarded = GuardedClient(configuration: clientConfiguration, urlGuard: urlGuard)
    let fetcher = MediaFetcher(http: guarded, ownFiles: (signer, blobs))
    let localReviewer = LocalReviewer(fetcher: fetcher, scratchDirectory: scratch, thumbnails: blobs)

    let videoSignal = WorkSignal()
    let pollSignal = WorkSignal()
    let channels = try config.channelsFile.map { try ChannelsFile.load(path: $0, catalog: catalog) } ?? []
    let callbackBase = CallbackBase(config.publicURL.map { _ in config.effectivePublicURL })
    var upstream = config.upstream
    upstream.callbacks = upstream.callbacks ?? (config.publicURL != nil)
    // An upstream asset review must end well inside the review lease, or another worker would take it up.
    upstream.assetReviewLimit = min(upstream.assetReviewLimit, config.reviewLease - .seconds(1))
    let relay = channels.isEmpty ? nil : ArkRelay(
        router: ChannelRouter(channels: channels), http: httpClient, store: store, blobs: blobs,
        fetcher: fetcher, scratchDirectory: scratch,
        prices: prices, settings: upstream, callbackBase: callbackBase, logger: logger, telemetry: telemetry
    )
    let local = LocalEngine(
        renderer: LocalVideoEngine(fetcher: fetcher, blobs: blobs, scratchDirectory: scratch, telemetry: telemetry), store: store, lease: config.workLease
    )
    let livenessSignal = WorkSignal()
    let liveness = LivenessService(
        store: store, urlGuard: urlGuard, mode: config.livenessMode, linkLifetime: config.livenessLinkLifetime,
        decisionWindow: config.livenessDecisionWindow, upstream: relay, signal: livenessSignal, limits: config.defaultLimits
    )
    let engine: any VideoEngine = relay.map { ChannelEngine(relay: $0, local: local, store: store) } ?? local
    let reviewer: any AssetReviewer = relay.map { UpstreamAssetReviewer(local: localReviewer, relay: $0) } ?? localReviewer
    let generation = GenerationService(store: store, engine: engine, signal: videoSignal, prices: prices, limits: config.defaultLimits, links: signer)
    let links = ResultLinks(signer: signer, ttl: config.resultLinkTTL, retention: config.resultRetention)
    let rateLimiter = RateLimiter(store: store, clock: config.clock)
    let views = try await ConsoleViews.load()
    let probe: @Sendable (String) async throws(Failure) -> MediaFacts = { path throws(Failure) in try await MediaProbe.probe(file: path) }
    let console = ConsoleRoutes(
        console: ConsoleService(store: store, generation: generation, limits: config.defaultLimits), generation: generation,
        views: views, links: links, catalog: catalog, urlGuard: urlGuard, rateLimiter: rateLimiter,
        secureCookies: config.effectivePublicURL.lowercased().hasPrefix("https://"),
        channels: relay.map { relay in consoleChannels(router: relay.router, store: store, http: httpClient) }, logger: logger,
        liveness: (liveness, blobs)
    )
    let router = buildRouter(
        store: store, assets: assets, generation: generation, links: links, signer: signer, blobs: blobs,
        limits: config.defaultLimits, rateLimiter: rateLimiter, urlGuard: urlGuard, catalog: catalog, telemetry: telemetry,
        upstreamCallbacks: relay != nil ? pollSignal : nil,
        uploads: UploadRoutes(
            store: store, blobs: blobs, signer: signer, scratchDirectory: scratch, quota: config.uploadQuota, retention: config.uploadRetention,
            probe: probe
        ),
        console: console,
        liveness: liveness,
        verifyPage: VerifyPageRoutes(liveness: liveness, views: views, blobs: blobs, scratchDirectory: scratch, probe: probe)
    )
    let resources = ResourceService {
        try? await httpClient.shutdown()
        await provider.close()
        if let lock { DataDirectory.unlock(lock) }
    }
    let worker = ReviewWorker(
        store: store, reviewer: reviewer, signal: signal, concurrency: config.reviewConcurrency, logger: logger, lease: config.reviewLease
    )
    // Submissions upstream are quick; a few more loops keep one slow channel from holding up the rest.
    // Where no channel renders here, a loop holds no ffmpeg, only a create call: as many as configured.
    let submitters = relay.map { relay in
        relay.router.isLocalOnly ? 0 : relay.router.channels.contains { $0.kind == .local } ? 3 : config.upstream.submitters
    } ?? 0
    let videoWorker = VideoWorker(
        store: store, engine: engine, blobs: blobs, signal: videoSignal, concurrency: config.renderConcurrency + submitters, logger: logger,
        prices: prices, lease: config.workLease
    )
    let webhooks = WebhookWorker(
        store: store, http: guarded, delays: config.webhookRetryDelays, logger: logger, lease: config.workLease, telemetry: telemetry
    ) { delivery in
        // Rendered in the dialect the task was made in.
        if let task = try await store.videoTask(id: delivery.taskID, keyID: delivery.keyID) {
            return WebhookBodies.video(task, links: links, catalog: catalog).serialized()
        }
        if let task = try await store.reviewTask(id: delivery.taskID, keyID: delivery.keyID) {
            return WebhookBodies.review(task).serialized()
        }
        if let session = try await store.livenessSession(id: delivery.taskID, keyID: delivery.keyID) {
            return WebhookBodies.liveness(session, publicURL: signer.baseURL, now: store.clock.now).serialized()
        }
        return nil
    }
    let metrics = config.metricsPort.map { port in
        MetricsExporter(registry: registry, store: store, router: relay?.router)
            .application(host: config.host, port: port, logger: logger) { bound in
                logger.info("metrics are served", metadata: ["metrics_address": "http://\(config.host):\(bound)/metrics"])
            }
    }
    let sweeper = RetentionSweeper(store: store, blobs: blobs, retention: config.resultRetention, logger: logger)
    return Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: .nanoseconds(Int64(config.idleTimeout.milliseconds) * 1_000_000))),
        configuration: .init(
            address: .hostname(config.host, port: config.port), serverName: "Seedgate",
            availableConnectionsDelegate: .maximum(config.connectionLimit, logger: logger)
        ),
        services: [resources, RateLimitFlusher(limiter: rateLimiter, logger: logger)] + (metrics.map { [$0] } ?? [])
            + (config.runWorkers ? [worker, videoWorker, webhooks, sweeper, LivenessWorker(
                store: store, upstream: relay, signal: livenessSignal, logger: logger, decisionWindow: config.livenessDecisionWindow
            )] : [])
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

package func buildRouter(
    store: SQLStore, assets: AssetService, generation: GenerationService, links: ResultLinks, signer: URLSigner, blobs: any BlobStore,
    limits: Limits, rateLimiter: RateLimiter, urlGuard: URLGuard, catalog: ModelCatalog, telemetry: Telemetry = .disabled,
    upstreamCallbacks: WorkSignal? = nil, uploads: UploadRoutes? = nil, console: ConsoleRoutes? = nil,
    liveness: LivenessService? = nil, verifyPage: VerifyPageRoutes? = nil
) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    let routes = RouteTable()
    router.add(middleware: RequestLogMiddleware<AppRequestContext>(telemetry: telemetry))
    router.add(middleware: EventLoopAffinityMiddleware())
    router.add(middleware: UnknownRouteMiddleware(routes: routes))
    HealthRoutes(store: store, blobs: blobs).register(on: router)
    OpenAPIDocument.register(on: router)

    // apimart (seeds 000, 002)
    let apimart = router.group("v1")
        .add(middleware: DialectErrorMiddleware<AppRequestContext>(dialect: .apimart, telemetry: telemetry))
        .add(middleware: AuthMiddleware(store: store, limits: limits, rateLimiter: rateLimiter))
        .group(context: AuthenticatedContext.self)
    let apimartAssets = ApimartAssetRoutes(assets: assets, catalog: catalog)
    apimartAssets.register(on: apimart)
    if let liveness { ApimartRealAvatarRoutes(liveness: liveness, assets: apimartAssets, publicURL: signer.baseURL).register(on: apimart) }
    // Files from the caller's machine, for every dialect's media URLs (either auth header works).
    uploads?.register(on: apimart)
    ApimartGenerationRoutes(
        generation: generation, assets: assets, results: links, store: store, limits: limits, urlGuard: urlGuard, catalog: catalog,
        liveness: liveness.map { ($0, signer.baseURL) }
    ).register(on: apimart)

    // toapis (seed 001)
    let toapis = router.group("v1/videos/doubao-seedance-2-0/private-avatar")
        .add(middleware: DialectErrorMiddleware<AppRequestContext>(dialect: .toapis, telemetry: telemetry))
        .add(middleware: AuthMiddleware(store: store, limits: limits, rateLimiter: rateLimiter))
        .group(context: AuthenticatedContext.self)
    ToapisRoutes(assets: assets).register(on: toapis)
    if let liveness {
        let verify = router.group("v1/videos/doubao-seedance-2-0/real-avatar")
            .add(middleware: DialectErrorMiddleware<AppRequestContext>(dialect: .toapis, telemetry: telemetry))
            .add(middleware: AuthMiddleware(store: store, limits: limits, rateLimiter: rateLimiter))
            .group(context: AuthenticatedContext.self)
        ToapisVerifyRoutes(liveness: liveness, publicURL: signer.baseURL).register(on: verify)
    }
    // toapis's task view; its generation shares apimart's path (above), told apart by the body.
    let toapisTasks = router.group("v1/videos/generations")
        .add(middleware: DialectErrorMiddleware<AppRequestContext>(dialect: .toapis, telemetry: telemetry))
        .add(middleware: AuthMiddleware(store: store, limits: limits, rateLimiter: rateLimiter))
        .group(context: AuthenticatedContext.self)
    ToapisGenerationRoutes(generation: generation, links: links, catalog: catalog).register(on: toapisTasks)

    // crun (seeds 003, 004)
    let crun = router.group("api/v1/client/job")
        .add(middleware: DialectErrorMiddleware<AppRequestContext>(dialect: .crun, telemetry: telemetry))
        .add(middleware: AuthMiddleware(store: store, limits: limits, rateLimiter: rateLimiter))
        .group(context: AuthenticatedContext.self)
    CrunRoutes(assets: assets).register(on: crun)
    if let liveness { CrunVerifyRoutes(liveness: liveness, publicURL: signer.baseURL).register(on: crun) }
    CrunGenerationRoutes(generation: generation, links: links, catalog: catalog, urlGuard: urlGuard).register(on: crun)

    // Ark's own task API, for the official Ark SDKs
    let ark = router.group("api/v3")
        .add(middleware: DialectErrorMiddleware<AppRequestContext>(dialect: .ark, telemetry: telemetry))
        .add(middleware: AuthMiddleware(store: store, limits: limits, rateLimiter: rateLimiter))
        .group(context: AuthenticatedContext.self)
    ArkRoutes(generation: generation, links: links, catalog: catalog, urlGuard: urlGuard).register(on: ark)

    // Result files, by signed link (no key: the signature is the credential).
    ResultRoutes(signer: signer, blobs: blobs).register(on: router)
    // Ark's callbacks for the tasks Seedgate sent upstream (only with channels): the token is the credential.
    if let upstreamCallbacks { UpstreamCallbackRoutes(store: store, signal: upstreamCallbacks).register(on: router) }
    // The web console (HTML, with its own sessions; see ConsoleRoutes).
    console?.register(on: router)
    // The H5 page of a local real-person check (no key: the link's token is the credential).
    verifyPage?.register(on: router)
    routes.load(router)
    return router
}

/// The console's view of the channels: this replica's health of each, the in-flight counts from the
/// store, and the same check `seedgate channels check` runs.
private func consoleChannels(router: ChannelRouter, store: SQLStore, http: HTTPClient) -> ConsoleChannels {
    ConsoleChannels(
        status: {
            let inFlight = (try? await store.inFlightByChannel()) ?? [:]
            return router.channels.map { channel in
                let report = router.report(channel.name), count = inFlight[channel.name] ?? 0
                let state = report.coolingUntil != nil ? "cooling" : count >= channel.maxInFlight ? "at_capacity" : "healthy"
                return ConsoleChannelStatus(
                    name: channel.name, kind: channel.kind.rawValue, baseURL: channel.baseURL, priority: channel.priority,
                    maxInFlight: channel.maxInFlight, inFlight: count, state: state, coolingUntil: report.coolingUntil,
                    failuresInARow: report.failuresInARow, recentErrors: report.recentErrors
                )
            }
        },
        check: {
            await ChannelCheck.run(router.channels, http: http, timeout: .seconds(10)).map { ($0.channel, $0.ok, $0.line) }
        }
    )
}

/// Holds shared resources open while the server runs and closes them last on shutdown
/// (services stop in reverse order, so this one stops after the server and the workers).
package struct ResourceService: Service {
    package let close: @Sendable () async -> Void

    package func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}

/// Runs each read (GET) on its connection's event loop, asking for database connections on that loop
/// too: the query, its answer and the response are then handled on one thread, where the default
/// executor would move the request between three (the pool's, PostgresNIO's loop, the HTTP loop).
/// Six paired runs of task reads on PostgreSQL, 2026-12-06: +2% to +27%, +13% on average. Only reads:
/// an upload's handler copies a file with blocking calls, which must not hold up an event loop's
/// other connections. Not the console's pages nor `/metrics` (on SQLite their reads, which scan
/// whole tables, run on the calling thread), nor `/health`, which touches no database (and is the
/// benchmark's baseline).
package struct EventLoopAffinityMiddleware: RouterMiddleware {
    package typealias Context = AppRequestContext

    package init() {}
    /// One executor per loop of the group the server runs on.
    private static let executors = EventLoopTaskExecutor.all

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard request.method == .get || request.method == .head, path != "/health", path != "/metrics", !path.hasPrefix("/console"),
              let executor = Self.executors[ObjectIdentifier(context.eventLoop)] else {
            return try await next(request, context)
        }
        return try await PreferredEventLoop.$current.withValue(context.eventLoop) {
            try await withTaskExecutorPreference(executor) { try await next(request, context) }
        }
    }
}

