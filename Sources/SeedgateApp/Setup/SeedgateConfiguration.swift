import Configuration
import Foundation
import Logging
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport

/// Everything `seedgate serve` can be told. Each setting comes from a flag, else from its
/// environment variable (`SEEDGATE_PORT`, ...), else from the default.
public struct SeedgateConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory = ".seedgate"
    /// `postgres://...` to share one PostgreSQL database among replicas; nil keeps SQLite under the data dir.
    public var databaseURL: String?
    /// The base of every absolute link Seedgate hands out; defaults to `http://<host>:<port>`.
    public var publicURL: String?
    /// Development only: lets the server fetch URLs on loopback and private networks.
    public var allowPrivateURLs = false
    /// Whether this server runs the background workers (reviews, renders, webhooks). Off makes an
    /// API-only replica, for scaling request handling apart from rendering.
    public var runWorkers = true
    /// How many assets are reviewed at once.
    public var reviewConcurrency = 4
    /// How many videos render at once (each ffmpeg uses two threads).
    public var renderConcurrency = 1
    /// How long a result link handed out in a task view stays valid.
    public var resultLinkTTL: Duration = .seconds(24 * 3600)
    /// How long result files are kept after a task completes.
    public var resultRetention: Duration = .seconds(7 * 24 * 3600)
    /// How long an upload (`POST /v1/uploads`) is kept and its link valid.
    public var uploadRetention: Duration = .seconds(24 * 3600)
    /// Bytes of unexpired uploads each key may hold.
    public var uploadQuota: Int64 = 1 << 30
    /// Who completes a local real-person check once the person has sent a photo: the operator
    /// (default) or nobody (`auto`, for development and tests).
    public var livenessMode: LivenessMode = .operator
    /// How long a verification link waits to be opened (upstream's live about 120 s).
    public var livenessLinkLifetime: Duration = .seconds(120)
    /// How long a check with its photo waits for the operator (operator mode) before it expires.
    public var livenessDecisionWindow: Duration = LivenessService.defaultDecisionWindow
    public var logLevel: Logger.Level = .info
    /// `text` (the default) or `json`: one JSON object per line.
    public var logFormat: LogFormat = .text
    /// A second port that serves only `GET /metrics` (Prometheus); nil: no metrics endpoint at all.
    /// It is never on the public port: bind it where only the scraper reaches.
    public var metricsPort: Int?
    /// Where result files go: nil keeps them in `<data-dir>/blobs`; else a directory every replica
    /// mounts, or `s3://bucket/optional/prefix` for an S3-compatible bucket (see `BlobStoreLocation`).
    public var blobStore: String?
    /// The S3-compatible server, e.g. `http://127.0.0.1:9000`; nil means AWS S3 in `s3Region`.
    public var s3Endpoint: String?
    /// The region requests to the S3 store are signed for.
    public var s3Region = "us-east-1"
    /// Credentials for the S3 store. From the environment only, never flags (a flag shows in `ps`):
    /// `SEEDGATE_S3_ACCESS_KEY_ID` and `SEEDGATE_S3_SECRET_ACCESS_KEY` (and `SEEDGATE_S3_SESSION_TOKEN`),
    /// else the AWS_ variables of the same names.
    public var s3AccessKeyID: String?
    public var s3SecretAccessKey: String?
    public var s3SessionToken: String?
    /// A JSON price file (`--prices`); nil uses `PriceTable.defaults`.
    public var pricesFile: String?
    /// Limits for keys that have none of their own.
    public var defaultLimits = Limits.defaults
    /// Credits the first key gets when the server makes it on an empty store.
    public var firstKeyCredits: Int64 = 1_000_000
    /// How long a worker's claim on a piece of work lasts without renewal. A dead replica's work is taken
    /// over when its lease runs out; reviews get five times this (they are not renewed as they run).
    public var workLease: Duration = .seconds(60)
    /// A models file (`--models`) adding to or changing the built-in `ModelCatalog`.
    public var modelsFile: String?
    /// The channels file (`--channels`); nil sends everything to the local engine.
    public var channelsFile: String?
    /// Pacing and limits of upstream work.
    public var upstream = UpstreamSettings()
    /// Waits between webhook attempts: about 28 hours in all, then the delivery is given up.
    public var webhookRetryDelays: [Duration] = [5, 30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200].map { .seconds($0) }

    /// A connection that sends no complete request for this long (idle between requests, or stalled
    /// half way through a request's head) is closed.
    public var idleTimeout: Duration = .seconds(30)
    /// Connections open at once; past it new ones wait in the listen queue. nil: from the process's file
    /// descriptor limit, leaving room for the database, the blob store and upstream calls.
    public var maxConnections: Int?

    /// `maxConnections`, or what the descriptor limit allows.
    public var connectionLimit: Int {
        if let maxConnections { return maxConnections }
        var limit = rlimit()
        #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return 512 }
        return Int(min(10_000, max(64, Int64(limit.rlim_cur) - 256)))
    }

    /// The time of day every lease, deadline, retry and link expiry is measured by: the system's, or in
    /// tests one they move forward. Not a setting.
    public var clock: any WallClock = SystemClock()

    public init() {}

    /// A review's lease: five work leases, since a review is not renewed as it runs.
    public var reviewLease: Duration { workLease * 5 }

    public var effectivePublicURL: String {
        let base = publicURL ?? "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        return base.hasSuffix("/") ? String(base.dropLast()) : base
    }

    public var databasePath: String { "\(dataDirectory)/seedgate.sqlite" }

    /// Opens the configured store: PostgreSQL when a database URL is set, else SQLite in the data dir.
    public func openDatabase(logger: Logger, sqliteReaders: Int = 8) async throws -> any DatabaseProvider {
        if let databaseURL {
            return try PostgresProvider(url: databaseURL, logger: logger)
        }
        try DataDirectory.prepare(dataDirectory)
        return try await SQLiteProvider.open(path: databasePath, readers: sqliteReaders, logger: logger)
    }

    /// Every setting from one reader (command line, environment, file); a value that is present but
    /// malformed stops here, naming the setting.
    public init(settings: SettingsReader) throws(ConfigurationError) {
        self.init()
        host = try settings.string(.host) ?? host
        port = try settings.int(.port) ?? port
        dataDirectory = try settings.string(.dataDir) ?? dataDirectory
        databaseURL = try settings.string(.database) ?? databaseURL
        publicURL = try settings.string(.publicURL) ?? publicURL
        allowPrivateURLs = try settings.bool(.allowPrivateURLs) ?? allowPrivateURLs
        runWorkers = try settings.bool(.workers) ?? runWorkers
        reviewConcurrency = try settings.int(.reviewConcurrency) ?? reviewConcurrency
        renderConcurrency = try settings.int(.renderConcurrency) ?? renderConcurrency
        resultLinkTTL = try settings.seconds(.resultTTL) ?? resultLinkTTL
        resultRetention = try settings.seconds(.resultRetention) ?? resultRetention
        uploadRetention = try settings.seconds(.uploadRetention) ?? uploadRetention
        if let quota = try settings.int(.uploadQuota) {
            guard quota > 0 else { throw ConfigurationError("\(Setting.uploadQuota.label) must be a number of bytes above 0") }
            uploadQuota = Int64(quota)
        }
        if let mode = try settings.string(.liveness) {
            guard let parsed = LivenessMode(rawValue: mode) else {
                throw ConfigurationError("\(Setting.liveness.label) must be operator or auto, not '\(mode.prefix(40))'")
            }
            livenessMode = parsed
        }
        livenessLinkLifetime = try settings.seconds(.livenessTTL) ?? livenessLinkLifetime
        livenessDecisionWindow = try settings.seconds(.livenessDecisionTTL) ?? livenessDecisionWindow
        pricesFile = try settings.string(.prices) ?? pricesFile
        channelsFile = try settings.string(.channels) ?? channelsFile
        modelsFile = try settings.string(.models) ?? modelsFile
        workLease = try settings.seconds(.workLease) ?? workLease
        defaultLimits.rpm = try settings.int(.defaultRPM) ?? defaultLimits.rpm
        defaultLimits.maxInFlight = try settings.int(.defaultMaxInFlight) ?? defaultLimits.maxInFlight
        upstream.callbacks = try settings.bool(.upstreamCallbacks) ?? upstream.callbacks
        upstream.deadline = try settings.seconds(.upstreamDeadline) ?? upstream.deadline
        if let seconds = try settings.double(.upstreamPollInterval) {
            // Out of range becomes zero, which `validate` refuses by name.
            upstream.pollInterval = seconds > 0 && seconds <= 3600 ? .milliseconds(Int(seconds * 1000)) : .zero
        }
        upstream.requestTimeout = try settings.seconds(.upstreamTimeout) ?? upstream.requestTimeout
        upstream.submitters = try settings.int(.upstreamSubmitters) ?? upstream.submitters
        if let level = try settings.string(.logLevel) {
            guard let parsed = Logger.Level(rawValue: level) else {
                throw ConfigurationError("\(Setting.logLevel.label) must be trace, debug, info, notice, warning, error or critical, not '\(level.prefix(40))'")
            }
            logLevel = parsed
        }
        if let format = try settings.string(.logFormat) {
            guard let parsed = LogFormat(rawValue: format) else {
                throw ConfigurationError("\(Setting.logFormat.label) must be text or json, not '\(format.prefix(40))'")
            }
            logFormat = parsed
        }
        if let port = try settings.int(.metricsPort) {
            guard (0...65535).contains(port) else { throw ConfigurationError("\(Setting.metricsPort.label) must be a port from 0 to 65535, not \(port)") }
            metricsPort = port
        }
        blobStore = try settings.string(.blobStore) ?? blobStore
        s3Endpoint = try settings.string(.s3Endpoint) ?? s3Endpoint
        s3Region = try settings.string(.s3Region) ?? s3Region
        idleTimeout = try settings.seconds(.idleTimeout) ?? idleTimeout
        maxConnections = try settings.int(.maxConnections) ?? maxConnections
        applyS3Credentials(settings.reader)
    }

    /// Seedgate's own pair when either half of it is set, else the AWS pair: the halves of two pairs are never mixed.
    private mutating func applyS3Credentials(_ reader: ConfigReader) {
        let ownID = reader.string(forKey: "seedgate.s3.access.key.id")
        let ownSecret = reader.string(forKey: "seedgate.s3.secret.access.key", isSecret: true)
        let namespace = ownID != nil || ownSecret != nil ? "seedgate.s3" : "aws"
        s3AccessKeyID = reader.string(forKey: ConfigKey("\(namespace).access.key.id")) ?? s3AccessKeyID
        s3SecretAccessKey = reader.string(forKey: ConfigKey("\(namespace).secret.access.key"), isSecret: true) ?? s3SecretAccessKey
        s3SessionToken = reader.string(forKey: ConfigKey("\(namespace).session.token"), isSecret: true) ?? s3SessionToken
    }

    /// Refuses a database URL that is not PostgreSQL's. All that a command which only opens the store
    /// (`keys`, `credits`) checks; `validate` checks it too.
    public func validateDatabase() throws {
        if let databaseURL { try Self.checkPostgresURL(databaseURL, setting: "--database / SEEDGATE_DATABASE_URL") }
    }

    public static func checkPostgresURL(_ url: String, setting: String) throws {
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            throw ConfigurationError("database URL (\(setting)) must be postgres://user:password@host:port/database")
        }
    }

    /// Refuses settings that cannot work, naming the setting.
    public func validate() throws {
        try validateDatabase()
        guard (0...65535).contains(port) else { throw ConfigurationError("port (--port / SEEDGATE_PORT) must be 0 to 65535, not \(port)") }
        guard livenessLinkLifetime >= .seconds(10) && livenessLinkLifetime <= .seconds(86400) else {
            throw ConfigurationError("the verification link lifetime (\(Setting.livenessTTL.label)) must be 10 to 86400 seconds")
        }
        guard livenessDecisionWindow >= .seconds(60) && livenessDecisionWindow <= .seconds(30 * 86400) else {
            throw ConfigurationError("the operator's decision window (\(Setting.livenessDecisionTTL.label)) must be 60 to 2592000 seconds (30 days)")
        }
        guard reviewConcurrency >= 1 && reviewConcurrency <= 64 else {
            throw ConfigurationError("review concurrency (SEEDGATE_REVIEW_CONCURRENCY) must be 1 to 64, not \(reviewConcurrency)")
        }
        guard renderConcurrency >= 1 && renderConcurrency <= 16 else {
            throw ConfigurationError("render concurrency (SEEDGATE_RENDER_CONCURRENCY) must be 1 to 16, not \(renderConcurrency)")
        }
        do { try Limits.check(rpm: defaultLimits.rpm, maxInFlight: defaultLimits.maxInFlight) } catch {
            throw ConfigurationError("default limits (SEEDGATE_DEFAULT_RPM, SEEDGATE_DEFAULT_MAX_IN_FLIGHT): \(error.message)")
        }
        guard idleTimeout >= .seconds(1) && idleTimeout <= .seconds(3600) else {
            throw ConfigurationError("idle timeout (\(Setting.idleTimeout.label)) must be 1 to 3600 seconds")
        }
        if let maxConnections, maxConnections < 1 {
            throw ConfigurationError("connection limit (\(Setting.maxConnections.label)) must be at least 1")
        }
        guard workLease >= .seconds(2) else { throw ConfigurationError("work lease (SEEDGATE_WORK_LEASE) must be at least 2 seconds") }
        guard resultLinkTTL >= .seconds(60) else { throw ConfigurationError("result link TTL (--result-ttl / SEEDGATE_RESULT_TTL) must be at least 60 seconds") }
        guard resultRetention >= resultLinkTTL else {
            throw ConfigurationError("result retention (--result-retention / SEEDGATE_RESULT_RETENTION) must be at least the link TTL")
        }
        guard upstream.deadline >= .seconds(1), upstream.pollInterval >= .milliseconds(50), upstream.requestTimeout >= .seconds(1) else {
            throw ConfigurationError("upstream settings: SEEDGATE_UPSTREAM_DEADLINE and SEEDGATE_UPSTREAM_TIMEOUT must be at least 1 s, SEEDGATE_UPSTREAM_POLL_INTERVAL 0.05 to 3600 s")
        }
        guard (1...64).contains(upstream.submitters) else {
            throw ConfigurationError("\(Setting.upstreamSubmitters.label) must be 1 to 64, not \(upstream.submitters)")
        }
        if let publicURL {
            guard let url = URL(string: publicURL), ["http", "https"].contains(url.scheme ?? ""), url.host() != nil else {
                throw ConfigurationError("public URL (--public-url / SEEDGATE_PUBLIC_URL) must be an absolute http(s) URL, not '\(publicURL)'")
            }
        }
        try validateBlobStore()
    }
}

extension SeedgateConfiguration {
    /// The built-in models with the models file's changes.
    public func catalog() throws -> ModelCatalog {
        try modelsFile.map { try ModelCatalog.builtIn.adding(file: $0) } ?? .builtIn
    }
}
