import Configuration
import Foundation
import SeedgateSupport

/// Every setting `seedgate serve` reads, with the names a person gives it. One `ConfigReader` holds
/// them all: the command line's values first, then the environment (`seedgate.port` is
/// `SEEDGATE_PORT`), then an optional JSON file (`{"port": 8080, "upstream": {"deadline": 600}}`;
/// `ConfigFile`).
public enum Setting: String, CaseIterable, Sendable {
    case host, port
    case dataDir = "data.dir"
    case database = "database.url"
    case publicURL = "public.url"
    case allowPrivateURLs = "allow.private.urls"
    case workers
    case reviewConcurrency = "review.concurrency"
    case renderConcurrency = "render.concurrency"
    case resultTTL = "result.ttl"
    case resultRetention = "result.retention"
    case uploadRetention = "upload.retention"
    case uploadQuota = "upload.quota"
    case prices, channels, models
    case workLease = "work.lease"
    case defaultRPM = "default.rpm"
    case defaultMaxInFlight = "default.max.in.flight"
    case upstreamCallbacks = "upstream.callbacks"
    case upstreamDeadline = "upstream.deadline"
    case upstreamPollInterval = "upstream.poll.interval"
    case upstreamTimeout = "upstream.timeout"
    case upstreamSubmitters = "upstream.submitters"
    case logLevel = "log.level"
    case logFormat = "log.format"
    case metricsPort = "metrics.port"
    case blobStore = "blob.store"
    case s3Endpoint = "s3.endpoint"
    case s3Region = "s3.region"
    case idleTimeout = "idle.timeout"
    case maxConnections = "max.connections"
    case liveness
    case livenessTTL = "liveness.ttl"
    case livenessDecisionTTL = "liveness.decision.ttl"

    /// The key in the reader.
    public var key: ConfigKey { ConfigKey("seedgate.\(rawValue)") }

    /// The environment variable: `SEEDGATE_` and the key's words in capitals.
    public var variable: String { "SEEDGATE_" + rawValue.uppercased().replacingOccurrences(of: ".", with: "_") }

    /// `seedgate serve`'s flag for it, where there is one.
    public var flag: String? {
        switch self {
        case .reviewConcurrency, .workLease, .upstreamDeadline, .upstreamPollInterval, .upstreamTimeout, .upstreamSubmitters: nil
        case .database: "--database"
        case .publicURL: "--public-url"
        case .allowPrivateURLs: "--allow-private-urls"
        case .workers: "--[no-]workers"
        case .upstreamCallbacks: "--[no-]upstream-callbacks"
        default: "--" + rawValue.replacingOccurrences(of: ".", with: "-")
        }
    }

    /// How an error names it: `--port / SEEDGATE_PORT`.
    public var label: String { flag.map { "\($0) / \(variable)" } ?? variable }

    /// Whether its value is kept out of logs and errors.
    var isSecret: Bool { self == .database }
}

/// Reads settings from a `ConfigReader` by `Setting`, refusing a value that is present but malformed
/// (`SEEDGATE_PORT=80a`) with the setting's name, instead of ignoring it.
public struct SettingsReader: Sendable {
    public let reader: ConfigReader

    public init(_ reader: ConfigReader) {
        self.reader = reader
    }

    /// The readers of `seedgate serve`: `values` (the command line's, by setting) over the environment
    /// over `file` (a JSON file of settings, `ConfigFile`).
    public static func layered(values: [Setting: String], environment: [String: String]? = nil, file: String? = nil) throws -> SettingsReader {
        var layered: [any ConfigProvider] = [
            provider("command line", values),
            environment.map { EnvironmentVariablesProvider(environmentVariables: $0) } ?? EnvironmentVariablesProvider(),
        ]
        if let file {
            layered.append(provider("config file", try ConfigFile.read(file)))
        }
        return SettingsReader(ConfigReader(providers: layered))
    }

    /// Settings given as text, by setting.
    private static func provider(_ name: String, _ values: [Setting: String]) -> InMemoryProvider {
        InMemoryProvider(name: name, values: Dictionary(uniqueKeysWithValues: values.map { setting, value in
            (AbsoluteConfigKey(setting.key), ConfigValue(.string(value), isSecret: setting.isSecret))
        }))
    }

    /// The raw text of a setting, whichever provider has it (every provider holds text: the config
    /// file's numbers and booleans are written as text when it is read).
    public func text(_ setting: Setting) -> String? {
        reader.string(forKey: setting.key, isSecret: setting.isSecret)
    }

    /// The text of a setting that is set; set but empty is refused (an unset setting is nil).
    public func string(_ setting: Setting) throws(ConfigurationError) -> String? {
        guard let text = text(setting) else { return nil }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw ConfigurationError("\(setting.label) is set but empty") }
        return text
    }

    public func int(_ setting: Setting) throws(ConfigurationError) -> Int? {
        guard let text = try string(setting) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError("\(setting.label) must be a whole number, not '\(text.prefix(40))'")
        }
        return value
    }

    public func seconds(_ setting: Setting) throws(ConfigurationError) -> Duration? {
        try int(setting).map { .seconds($0) }
    }

    public func double(_ setting: Setting) throws(ConfigurationError) -> Double? {
        guard let text = try string(setting) else { return nil }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
            throw ConfigurationError("\(setting.label) must be a number, not '\(text.prefix(40))'")
        }
        return value
    }

    public func bool(_ setting: Setting) throws(ConfigurationError) -> Bool? {
        guard let text = try string(setting) else { return nil }
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError("\(setting.label) must be true or false, not '\(text.prefix(40))'")
        }
    }
}
