import Configuration
import Foundation
import Logging

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
    public var logLevel: Logger.Level = .info
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
    /// The channels file (`--channels`); nil sends everything to the local engine.
    public var channelsFile: String?
    /// Pacing and limits of upstream work.
    public var upstream = UpstreamSettings()
    /// Waits between webhook attempts: about 28 hours in all, then the delivery is given up.
    public var webhookRetryDelays: [Duration] = [5, 30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200].map { .seconds($0) }

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

    /// Fills every setting the flags left unset from the environment.
    public mutating func applyEnvironment(_ reader: ConfigReader) {
        host = reader.string(forKey: "seedgate.host") ?? host
        port = reader.int(forKey: "seedgate.port") ?? port
        dataDirectory = reader.string(forKey: "seedgate.data.dir") ?? dataDirectory
        databaseURL = reader.string(forKey: "seedgate.database.url", isSecret: true) ?? databaseURL
        publicURL = reader.string(forKey: "seedgate.public.url") ?? publicURL
        allowPrivateURLs = reader.bool(forKey: "seedgate.allow.private.urls") ?? allowPrivateURLs
        reviewConcurrency = reader.int(forKey: "seedgate.review.concurrency") ?? reviewConcurrency
        runWorkers = reader.bool(forKey: "seedgate.workers") ?? runWorkers
        renderConcurrency = reader.int(forKey: "seedgate.render.concurrency") ?? renderConcurrency
        if let seconds = reader.int(forKey: "seedgate.result.ttl") { resultLinkTTL = .seconds(seconds) }
        if let seconds = reader.int(forKey: "seedgate.result.retention") { resultRetention = .seconds(seconds) }
        pricesFile = reader.string(forKey: "seedgate.prices") ?? pricesFile
        if let seconds = reader.int(forKey: "seedgate.work.lease") { workLease = .seconds(seconds) }
        defaultLimits.rpm = reader.int(forKey: "seedgate.default.rpm") ?? defaultLimits.rpm
        defaultLimits.maxInFlight = reader.int(forKey: "seedgate.default.max.in.flight") ?? defaultLimits.maxInFlight
        channelsFile = reader.string(forKey: "seedgate.channels") ?? channelsFile
        upstream.callbacks = reader.bool(forKey: "seedgate.upstream.callbacks") ?? upstream.callbacks
        if let seconds = reader.int(forKey: "seedgate.upstream.deadline") { upstream.deadline = .seconds(seconds) }
        if let seconds = reader.double(forKey: "seedgate.upstream.poll.interval") {
            // Out of range (or not a number) becomes zero, which `validate` refuses by name.
            upstream.pollInterval = seconds.isFinite && seconds > 0 && seconds <= 3600 ? .milliseconds(Int(seconds * 1000)) : .zero
        }
        if let seconds = reader.int(forKey: "seedgate.upstream.timeout") { upstream.requestTimeout = .seconds(seconds) }
        if let level = reader.string(forKey: "seedgate.log.level").flatMap(Logger.Level.init(rawValue:)) {
            logLevel = level
        }
        blobStore = reader.string(forKey: "seedgate.blob.store") ?? blobStore
        s3Endpoint = reader.string(forKey: "seedgate.s3.endpoint") ?? s3Endpoint
        s3Region = reader.string(forKey: "seedgate.s3.region") ?? s3Region
        applyS3Credentials(reader)
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
        guard reviewConcurrency >= 1 && reviewConcurrency <= 64 else {
            throw ConfigurationError("review concurrency (SEEDGATE_REVIEW_CONCURRENCY) must be 1 to 64, not \(reviewConcurrency)")
        }
        guard renderConcurrency >= 1 && renderConcurrency <= 16 else {
            throw ConfigurationError("render concurrency (SEEDGATE_RENDER_CONCURRENCY) must be 1 to 16, not \(renderConcurrency)")
        }
        do { try Limits.check(rpm: defaultLimits.rpm, maxInFlight: defaultLimits.maxInFlight) } catch {
            throw ConfigurationError("default limits (SEEDGATE_DEFAULT_RPM, SEEDGATE_DEFAULT_MAX_IN_FLIGHT): \(error.message)")
        }
        guard workLease >= .seconds(2) else { throw ConfigurationError("work lease (SEEDGATE_WORK_LEASE) must be at least 2 seconds") }
        guard resultLinkTTL >= .seconds(60) else { throw ConfigurationError("result link TTL (--result-ttl / SEEDGATE_RESULT_TTL) must be at least 60 seconds") }
        guard resultRetention >= resultLinkTTL else {
            throw ConfigurationError("result retention (--result-retention / SEEDGATE_RESULT_RETENTION) must be at least the link TTL")
        }
        guard upstream.deadline >= .seconds(1), upstream.pollInterval >= .milliseconds(50), upstream.requestTimeout >= .seconds(1) else {
            throw ConfigurationError("upstream settings: SEEDGATE_UPSTREAM_DEADLINE and SEEDGATE_UPSTREAM_TIMEOUT must be at least 1 s, SEEDGATE_UPSTREAM_POLL_INTERVAL 0.05 to 3600 s")
        }
        if let publicURL {
            guard let url = URL(string: publicURL), ["http", "https"].contains(url.scheme ?? ""), url.host() != nil else {
                throw ConfigurationError("public URL (--public-url / SEEDGATE_PUBLIC_URL) must be an absolute http(s) URL, not '\(publicURL)'")
            }
        }
        try validateBlobStore()
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
