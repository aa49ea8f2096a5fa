import ArgumentParser
import AsyncHTTPClient
import Configuration
import Foundation
import Hummingbird
import Logging
import SeedgateApp
import SeedgateDomain
import SeedgateEngines
import SeedgateStore
import SeedgateSupport

@main
struct SeedgateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seedgate",
        abstract: "A self-hostable gateway for Seedance 2.0 video generation.",
        subcommands: [
            Serve.self, Keys.self, Credits.self, Channels.self, Admin.self, Migrate.self,
            Liveness.self, Generate.self, Assets.self, Tasks.self, AccountCommand.self,
        ],
        defaultSubcommand: Serve.self
    )
}

/// The domain's rule for a key's limits, its message naming the command's flag.
func checkLimits(rpm: Int?, maxInFlight: Int?) throws {
    do { try Limits.check(rpm: rpm, maxInFlight: maxInFlight) } catch {
        let flag = error.param == "rpm" ? "--rpm" : "--max-in-flight"
        throw ValidationError(error.message.replacingOccurrences(of: "\(error.param ?? ""):", with: "\(flag)"))
    }
}

/// Options every command that opens the store shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Directory of the SQLite database and stored files (env SEEDGATE_DATA_DIR; default .seedgate).")
    var dataDir: String?
    @Option(name: .long, help: "A PostgreSQL URL, postgres://user:password@host:5432/db, instead of SQLite (env SEEDGATE_DATABASE_URL).")
    var database: String?
    @Option(name: .customLong("config"), help: "A JSON file of settings, by the variables' names without SEEDGATE_ ({\"port\": 8080}); flags and the environment win (env SEEDGATE_CONFIG).")
    var config: String?

    /// `--config`, else `SEEDGATE_CONFIG`.
    var configFile: String? { config ?? ProcessInfo.processInfo.environment["SEEDGATE_CONFIG"] }

    /// The command line's values of these options, by setting.
    var values: [Setting: String] {
        var values: [Setting: String] = [:]
        values[.dataDir] = dataDir
        values[.database] = database
        return values
    }

    /// The configuration these options, the environment and the config file describe.
    func configuration() async throws -> SeedgateConfiguration {
        try SeedgateConfiguration(settings: try SettingsReader.layered(values: values, file: configFile))
    }

    /// Opens the store, runs `body`, and closes the store whether `body` succeeded or not.
    func withStore<R>(_ body: (SQLStore) async throws -> R) async throws -> R {
        var logger = Logger(label: "seedgate")
        logger.logLevel = .warning
        let config = try await configuration()
        try config.validateDatabase()
        let store = SQLStore(provider: try await config.openDatabase(logger: logger, sqliteReaders: 1))
        do {
            try await store.migrate()
            let result = try await body(store)
            await store.provider.close()
            return result
        } catch {
            await store.provider.close()
            throw error
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway (the default command).")

    @Option(help: "Address to listen on (env SEEDGATE_HOST; default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (env SEEDGATE_PORT; default 8080).") var port: String?
    @OptionGroup var store: StoreOptions
    @Option(help: "Base of every absolute link Seedgate hands out (env SEEDGATE_PUBLIC_URL; default http://<host>:<port>).")
    var publicUrl: String?
    @Flag(help: "Development only: allow fetching URLs on loopback and private networks (env SEEDGATE_ALLOW_PRIVATE_URLS).")
    var allowPrivateUrls = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error (env SEEDGATE_LOG_LEVEL; default info).")
    var logLevel: String?
    @Option(help: "Log lines as text or json, one object per line (env SEEDGATE_LOG_FORMAT; default text).")
    var logFormat: String?
    @Option(help: "Serve GET /metrics (Prometheus) on this port, apart from the API (env SEEDGATE_METRICS_PORT; default: off).")
    var metricsPort: String?
    @Option(help: "Seconds a result link stays valid (env SEEDGATE_RESULT_TTL; default 86400).")
    var resultTtl: String?
    @Option(help: "Seconds result files are kept after a task completes (env SEEDGATE_RESULT_RETENTION; default 604800).")
    var resultRetention: String?
    @Option(help: "Seconds an upload (POST /v1/uploads) is kept (env SEEDGATE_UPLOAD_RETENTION; default 86400).")
    var uploadRetention: String?
    @Option(help: "Bytes of unexpired uploads each key may hold (env SEEDGATE_UPLOAD_QUOTA; default 1073741824).")
    var uploadQuota: String?
    @Option(help: "Videos rendered at once (env SEEDGATE_RENDER_CONCURRENCY; default 1).")
    var renderConcurrency: String?
    @Flag(inversion: .prefixedNo, help: "Run the background workers (default); --no-workers makes an API-only replica (env SEEDGATE_WORKERS).")
    var workers: Bool?
    @Option(help: "A JSON price table (env SEEDGATE_PRICES; default: the built-in prices).")
    var prices: String?
    @Option(help: "A JSON file of models to add to or change in the built-in catalog (env SEEDGATE_MODELS).")
    var models: String?
    @Option(help: "A JSON file of upstream channels (Ark accounts) (env SEEDGATE_CHANNELS; default: the local engine serves everything).")
    var channels: String?
    @Flag(inversion: .prefixedNo, help: "Give upstream a callback URL on our public URL (env SEEDGATE_UPSTREAM_CALLBACKS; default: on when --public-url is set).")
    var upstreamCallbacks: Bool?
    @Option(help: "Requests per minute for keys without their own limit (env SEEDGATE_DEFAULT_RPM; default 600).")
    var defaultRpm: String?
    @Option(help: "Unfinished tasks per key for keys without their own limit (env SEEDGATE_DEFAULT_MAX_IN_FLIGHT; default 20).")
    var defaultMaxInFlight: String?
    @Option(help: """
        Where result files go: a directory, or s3://bucket[/prefix] for an S3-compatible store that every replica reads \
        (env SEEDGATE_BLOB_STORE; default <data-dir>/blobs). S3 credentials come from SEEDGATE_S3_ACCESS_KEY_ID and \
        SEEDGATE_S3_SECRET_ACCESS_KEY, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
        """)
    var blobStore: String?
    @Option(help: "The S3-compatible server, e.g. http://127.0.0.1:9000 (env SEEDGATE_S3_ENDPOINT; default AWS S3 in --s3-region).")
    var s3Endpoint: String?
    @Option(help: "The region S3 requests are signed for (env SEEDGATE_S3_REGION; default us-east-1).")
    var s3Region: String?
    @Option(help: "Seconds a connection may go without a complete request before it is closed (env SEEDGATE_IDLE_TIMEOUT; default 30).")
    var idleTimeout: String?
    @Option(help: "Connections open at once; more wait (env SEEDGATE_MAX_CONNECTIONS; default: from the descriptor limit).")
    var maxConnections: String?
    @Option(help: """
        Who completes a local real-person check once the person sent a photo: operator (approve or refuse in the console or \
        with `seedgate liveness`) or auto, for development and tests (env SEEDGATE_LIVENESS; default operator).
        """)
    var liveness: String?
    @Option(help: "Seconds a verification link waits to be opened (env SEEDGATE_LIVENESS_TTL; default 120).")
    var livenessTtl: String?
    @Option(help: """
        Seconds a real-person check with its photo waits for the operator's decision before it expires \
        (env SEEDGATE_LIVENESS_DECISION_TTL; default 86400).
        """)
    var livenessDecisionTtl: String?

    func run() async throws {
        var values = store.values
        values[.host] = host
        values[.port] = port
        values[.publicURL] = publicUrl
        values[.allowPrivateURLs] = allowPrivateUrls ? "true" : nil
        values[.resultTTL] = resultTtl
        values[.resultRetention] = resultRetention
        values[.uploadRetention] = uploadRetention
        values[.uploadQuota] = uploadQuota
        values[.renderConcurrency] = renderConcurrency
        values[.prices] = prices
        values[.channels] = channels
        values[.models] = models
        values[.upstreamCallbacks] = upstreamCallbacks.map(String.init)
        values[.workers] = workers.map(String.init)
        values[.defaultRPM] = defaultRpm
        values[.defaultMaxInFlight] = defaultMaxInFlight
        values[.blobStore] = blobStore
        values[.s3Endpoint] = s3Endpoint
        values[.s3Region] = s3Region
        values[.logLevel] = logLevel
        values[.logFormat] = logFormat
        values[.metricsPort] = metricsPort
        values[.idleTimeout] = idleTimeout
        values[.maxConnections] = maxConnections
        values[.liveness] = liveness
        values[.livenessTTL] = livenessTtl
        values[.livenessDecisionTTL] = livenessDecisionTtl
        let settings = try SettingsReader.layered(values: values, file: store.configFile)
        let config = try SeedgateConfiguration(settings: settings)
        let format = config.logFormat
        LoggingSystem.bootstrap { label in
            format == .json ? JSONLogHandler(label: label) as any LogHandler : TextLogHandler(label: label)
        }
        var logger = Logger(label: "seedgate")
        logger.logLevel = config.logLevel
        if config.allowPrivateURLs {
            logger.warning("--allow-private-urls is on: the server will fetch URLs on loopback and private networks. Never use this in production.")
        }
        let serverLogger = logger
        let app = try await buildApplication(settings: settings, logger: logger) { port, store in
            var live = config
            live.port = port
            serverLogger.info("Seedgate is listening", metadata: [
                "address": "http://\(config.host):\(port)", "data_dir": "\(config.dataDirectory)",
                "blob_store": "\((try? config.blobStoreLocation())?.description ?? "")",
            ])
            await Self.announceFirstKey(config: live, store: store, logger: serverLogger)
        }
        try await app.runService()
    }

    /// On a store with no key yet, makes one and prints it once with a call to paste.
    static func announceFirstKey(config: SeedgateConfiguration, store: SQLStore, logger: Logger) async {
        let out = config.logFormat == .json ? FileHandle.standardError : FileHandle.standardOutput
        do {
            // The operator's token for the web console, made once (an upgraded store gets one too).
            if let admin = try await store.makeAdminTokenIfMissing() {
                out.write(Data("""

                The web console is at \(config.effectivePublicURL)/console. Sign in there as the operator with
                this admin token (shown only this once; `seedgate admin token --rotate` makes a new one):

                    \(admin)

                or with an API key, to see what that key owns.

                """.utf8))
            }
        } catch {
            logger.error("could not create the admin token", metadata: ["error": "\(logDescription(of: error))"])
        }
        do {
            guard try await store.keyCount() == 0 else { return }
            let (key, secret, _) = try await store.createKey(name: "default", credits: config.firstKeyCredits)
            let base = config.effectivePublicURL
            // Written straight to the file descriptor: print() buffers when stdout is a file or a pipe.
            // With JSON logs it goes to stderr, so that stdout holds nothing but JSON lines.
            out.write(Data("""

            Created the first API key '\(key.name)' (\(key.id)) with \(config.firstKeyCredits) credits.
            It is shown only this once; Seedgate keeps only its hash:

                \(secret)

            Make a video from text (apimart dialect); it renders here, no internet needed:

                curl -s \(base)/v1/videos/generations \\
                  -H 'Authorization: Bearer \(secret)' -H 'Content-Type: application/json' \\
                  -d '{"model": "doubao-seedance-2.0", "prompt": "A kitten yawning at the camera", "duration": 5}'

            then poll the task id it returns (result.videos[0].url is the MP4 when it is completed):

                curl -s \(base)/v1/tasks/<task_id> -H 'Authorization: Bearer \(secret)'

            Or in one command, from prompt to file:

                seedgate generate "A kitten yawning at the camera" --duration 5 -o kitten.mp4 \\
                  --url \(base) --api-key \(secret)

            An avatar asset from a file on this machine: upload it, then submit the url the upload returns:

                curl -s '\(base)/v1/uploads?type=image' -H 'Authorization: Bearer \(secret)' --data-binary @face.png
                curl -s \(base)/v1/seedance2/private-avatar \\
                  -H 'Authorization: Bearer \(secret)' -H 'Content-Type: application/json' \\
                  -d '{"group": {"name": "my-avatars"}, "url": "<data.url from the upload>", "name": "avatar-1"}'

            (or: seedgate assets add face.png --type image --url \(base) --api-key \(secret))

            """.utf8))
        } catch {
            logger.error("could not create the first API key", metadata: ["error": "\(logDescription(of: error))"])
        }
    }
}

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The operator's admin token for the web console.", subcommands: [Token.self]
    )

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new admin token (printed once; the old one and every operator session stop working)."
        )
        @OptionGroup var store: StoreOptions
        @Flag(help: "Replace the admin token. Required: the token itself is never stored, so it cannot be shown again.")
        var rotate = false

        func run() async throws {
            guard rotate else { throw ValidationError("the admin token is kept only as its hash; pass --rotate to make a new one") }
            print(try await store.withStore { try await $0.rotateAdminToken() })
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke API keys. Works while a server runs on the same data dir.",
        subcommands: [Create.self, List.self, Revoke.self, Set.self, RotateWebhookSecret.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; its secret is the last line printed.")
        @OptionGroup var store: StoreOptions
        @Option(help: "A name to recognise the key by.") var name: String
        @Option(help: "Starting credits.") var credits: Int64 = 0
        @Option(help: "Requests per minute (default: the server's).") var rpm: Int?
        @Option(help: "Unfinished tasks at once (default: the server's).") var maxInFlight: Int?
        @Flag(help: "Print {id, key, webhook_secret, ...} as JSON, for scripts.") var json = false

        func run() async throws {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, trimmed.count <= 64 else { throw ValidationError("--name must be 1 to 64 characters") }
            guard credits >= 0 else { throw ValidationError("--credits must not be negative") }
            try checkLimits(rpm: rpm, maxInFlight: maxInFlight)
            let created = try await store.withStore { try await $0.createKey(name: trimmed, credits: credits, rpm: rpm, maxInFlight: maxInFlight) }
            if json {
                print(JSONOut.obj([
                    "id": .string(created.key.id), "name": .string(created.key.name), "key": .string(created.secret),
                    "webhook_secret": .string(created.webhookSecret), "credits": .int(credits),
                    "rpm": rpm.map(JSONOut.int), "max_in_flight": maxInFlight.map(JSONOut.int),
                ]).serialized())
                return
            }
            print("Created key \(created.key.id) '\(created.key.name)' with \(credits) credits.")
            print("Webhook signing secret: \(created.webhookSecret)")
            print("The key's secret, below, is shown only once:")
            print(created.secret)
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a key's limits.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id (key_...).") var id: String
        @Option(help: "Requests per minute.") var rpm: Int?
        @Option(help: "Unfinished tasks at once.") var maxInFlight: Int?

        func run() async throws {
            guard rpm != nil || maxInFlight != nil else { throw ValidationError("give --rpm and/or --max-in-flight") }
            try checkLimits(rpm: rpm, maxInFlight: maxInFlight)
            let found = try await store.withStore { try await $0.setLimits(keyID: id, rpm: rpm, maxInFlight: maxInFlight) }
            guard found else { throw ValidationError("no key with id '\(id)'") }
            print("Updated key \(id).")
        }
    }

    struct RotateWebhookSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a key a new webhook signing secret (printed).")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id (key_...).") var id: String

        func run() async throws {
            let secret = try await store.withStore { try await $0.rotateWebhookSecret(keyID: id) }
            guard let secret else { throw ValidationError("no key with id '\(id)'") }
            print(secret)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let keys = try await store.withStore { try await $0.listKeys() }
            print("ID\tNAME\tCREATED\tSTATUS")
            for key in keys {
                let status = key.revokedAt.map { "revoked \($0.formatted(.iso8601))" } ?? "active"
                print("\(key.id)\t\(key.name)\t\(key.createdAt.formatted(.iso8601))\t\(status)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: it stops working at once.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id (key_...).") var id: String

        func run() async throws {
            let revoked = try await store.withStore { try await $0.revokeKey(id: id) }
            guard revoked else { throw ValidationError("no active key with id '\(id)'") }
            print("Revoked key \(id).")
        }
    }
}

struct Credits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add credits to a key, or show its balance and ledger.",
        subcommands: [Add.self, Show.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add credits (negative to remove, never below what is held: credits add --note NOTE KEY_ID -- -500)."
        )
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id (key_...).") var keyID: String
        @Argument(help: "Whole credits.") var amount: Int64
        @Option(help: "Why, for the ledger.") var note: String = "added by operator"

        func run() async throws {
            guard amount != 0 else { throw ValidationError("amount must not be 0") }
            let account = try await store.withStore { store in
                do {
                    try await store.grant(keyID: keyID, amount: amount, note: note)
                } catch let error as SeedgateError {
                    throw ValidationError(error.message)
                }
                return try await store.account(keyID: keyID, defaults: .defaults)
            }
            print("Key \(keyID): balance \(account?.balance ?? 0), held \(account?.held ?? 0), available \(account?.available ?? 0).")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a key's balance and its recent ledger.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id (key_...).") var keyID: String

        func run() async throws {
            let (found, entries) = try await store.withStore { store in
                (try await store.account(keyID: keyID, defaults: .defaults), try await store.ledger(keyID: keyID, limit: 20))
            }
            guard let account = found else { throw ValidationError("no key with id '\(keyID)'") }
            print("Key \(keyID) '\(account.name)': balance \(account.balance), held \(account.held), available \(account.available), spent \(account.spent)")
            print("TIME\tKIND\tBALANCE\tHELD\tREF\tNOTE")
            for entry in entries {
                print("\(entry.createdAt.formatted(.iso8601))\t\(entry.kind)\t\(entry.balanceDelta)\t\(entry.heldDelta)\t\(entry.ref ?? "")\t\(entry.note ?? "")")
            }
        }
    }
}

struct Channels: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Upstream channels.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Test each channel's credentials: its task API key and, when set, its asset library key pair.",
            discussion: "Prints one line per channel; exits with status 1 when any channel fails."
        )
        @Option(help: "The channels file (env SEEDGATE_CHANNELS).") var channels: String?

        func run() async throws {
            let config = try SeedgateConfiguration(settings: try SettingsReader.layered(values: [:]))
            guard let file = channels ?? config.channelsFile else { throw ValidationError("give the channels file with --channels or SEEDGATE_CHANNELS") }
            let list = try ChannelsFile.load(path: file, catalog: try config.catalog())
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let results = await ChannelCheck.run(list, http: http, timeout: config.upstream.requestTimeout)
            try? await http.shutdown()
            for result in results { print(result.line) }
            if results.contains(where: { !$0.ok }) { throw ExitCode(1) }
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move an installation from SQLite to PostgreSQL.",
        discussion: """
        Copies every key, group, asset, task, ledger row and webhook delivery into an empty PostgreSQL \
        database. Result files stay in the data directory's blobs/: serve the replicas with --data-dir \
        on that directory (or a copy of it on a shared volume), or copy the files into a bucket under the \
        same keys (videos/..., frames/...) and serve with --blob-store s3://bucket.
        """
    )
    @Option(help: "The data directory of the SQLite installation.") var fromSqlite: String
    @Option(help: "postgres://user:password@host:5432/database (empty).") var to: String

    func run() async throws {
        var logger = Logger(label: "seedgate")
        logger.logLevel = .warning
        let path = "\(fromSqlite)/seedgate.sqlite"
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no Seedgate database at \(path)") }
        try SeedgateConfiguration.checkPostgresURL(to, setting: "--to")
        let source = try await SQLiteProvider.open(path: path, readers: 1, logger: logger)
        let target = try PostgresProvider(url: to, logger: logger)
        do {
            let report = try await StoreCopier.copy(from: source, to: target)
            await source.close()
            await target.close()
            for (table, count) in report.rows.sorted(by: { $0.key < $1.key }) { print("\(table)\t\(count) rows") }
            print("Done. Serve with: seedgate serve --database <url> --data-dir \(fromSqlite)")
        } catch {
            await source.close()
            await target.close()
            throw error
        }
    }
}
