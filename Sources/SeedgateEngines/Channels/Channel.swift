import Foundation
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// An account that work can be sent to: an Ark (Volcengine) or ModelArk (BytePlus) account, or the
/// local engine. Read from the channels file (`seedgate serve --channels FILE`).
public struct Channel: Sendable, Equatable {
    public enum Kind: String, Sendable { case ark, local }

    public var name: String
    public var kind: Kind
    /// Ark's task API, e.g. `https://ark.cn-beijing.volces.com/api/v3`.
    public var baseURL: String
    public var apiKey: String
    /// The OpenAPI endpoint of the asset library, with its access key pair; nil when the channel takes no assets.
    public var assets: AssetCredentials?
    /// Our public model name -> the upstream model id (or endpoint id `ep-...`).
    public var models: [String: String]
    public var priority: Int
    public var weight: Int
    public var maxInFlight: Int

    public struct AssetCredentials: Sendable, Equatable {
        public var openapiURL: String
        public var accessKey: String
        public var secretKey: String
        public var region: String
        public var projectName: String
    }

    public func serves(_ model: VideoModel) -> Bool { models[model.rawValue] != nil }

    package init(
        name: String, kind: Kind, baseURL: String, apiKey: String, assets: AssetCredentials? = nil,
        models: [String: String], priority: Int, weight: Int, maxInFlight: Int
    ) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.assets = assets
        self.models = models
        self.priority = priority
        self.weight = weight
        self.maxInFlight = maxInFlight
    }
}

/// The channels file: `{"channels": [...]}`. Every problem is reported with the channel and field.
public enum ChannelsFile {
    public static func load(
        path: String, catalog: ModelCatalog = .builtIn, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> [Channel] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("channels file '\(path)' cannot be read")
        }
        return try parse(data, catalog: catalog, environment: environment, source: path)
    }

    public static func parse(
        _ data: Data, catalog: ModelCatalog = .builtIn, environment: [String: String], source: String = "channels file"
    ) throws -> [Channel] {
        guard case .object(let root)? = try? JSONValue.parse(data),
              case .array(let list)? = root["channels"]
        else {
            throw ConfigurationError("\(source): must be a JSON object with a \"channels\" array")
        }
        var channels: [Channel] = []
        for (index, item) in list.enumerated() {
            guard case .object(let object) = item else { throw ConfigurationError("\(source): channels[\(index)] must be an object") }
            let channel = try parseChannel(object, at: "\(source): channels[\(index)]", catalog: catalog, environment: environment)
            if channels.contains(where: { $0.name == channel.name }) {
                throw ConfigurationError("\(source): channels[\(index)].name '\(channel.name)' is used twice")
            }
            channels.append(channel)
        }
        return channels
    }

    private static func parseChannel(
        _ object: [String: JSONValue], at place: String, catalog: ModelCatalog, environment: [String: String]
    ) throws -> Channel {
        func string(_ field: String) throws -> String? {
            if let value = object[field] {
                guard case .string(let text) = value, !text.isEmpty else { throw ConfigurationError("\(place).\(field) must be a non-empty string") }
                return text
            }
            if let variable = object["\(field)_env"] {
                guard case .string(let name) = variable, !name.isEmpty else { throw ConfigurationError("\(place).\(field)_env must name an environment variable") }
                guard let text = environment[name], !text.isEmpty else {
                    throw ConfigurationError("\(place).\(field)_env: environment variable \(name) is not set")
                }
                return text
            }
            return nil
        }
        func required(_ field: String) throws -> String {
            guard let value = try string(field) else { throw ConfigurationError("\(place).\(field) is required") }
            return value
        }
        func integer(_ field: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
            guard let raw = object[field] else { return value }
            guard case .integer(let number) = raw, range.contains(Int(number)) else { throw ConfigurationError("\(place).\(field) must be an integer from \(range.lowerBound) to \(range.upperBound)") }
            return Int(number)
        }
        func url(_ field: String) throws -> String {
            let text = try required(field)
            guard let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host() != nil else {
                throw ConfigurationError("\(place).\(field) must be an absolute http(s) URL, not '\(text)'")
            }
            return text.hasSuffix("/") ? String(text.dropLast()) : text
        }

        let name = try required("name")
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), name.count <= 64 else {
            throw ConfigurationError("\(place).name may hold letters, digits, '-', '_' and '.', at most 64")
        }
        let kindText = try string("type") ?? "ark"
        guard let kind = Channel.Kind(rawValue: kindText) else { throw ConfigurationError("\(place).type must be \"ark\" or \"local\", not '\(kindText)'") }

        var models: [String: String] = [:]
        if let raw = object["models"] {
            guard case .object(let map) = raw else { throw ConfigurationError("\(place).models must map model names to upstream model ids") }
            for (model, upstream) in map {
                guard catalog.spec(VideoModel(rawValue: model)) != nil else {
                    throw ConfigurationError("\(place).models: '\(model)' is not a model; use \(catalog.names.joined(separator: ", "))")
                }
                guard case .string(let id) = upstream, !id.isEmpty else { throw ConfigurationError("\(place).models.\(model) must be an upstream model id") }
                models[model] = id
            }
        } else if kind == .local {
            for spec in catalog.specs { models[spec.name] = spec.name }
        } else {
            // An Ark account serves each catalog model as its default upstream model.
            for spec in catalog.specs { models[spec.name] = spec.upstream }
        }
        guard !models.isEmpty else { throw ConfigurationError("\(place).models must name at least one model") }

        var channel = Channel(
            name: name, kind: kind, baseURL: "", apiKey: "", assets: nil, models: models,
            priority: try integer("priority", default: 1, range: 0...1000),
            weight: try integer("weight", default: 1, range: 1...1000),
            maxInFlight: try integer("max_in_flight", default: 100, range: 1...100_000)
        )
        guard kind == .ark else { return channel }
        channel.baseURL = try url("base_url")
        channel.apiKey = try required("api_key")
        let assetFields = ["openapi_url", "access_key", "secret_key", "access_key_env", "secret_key_env"]
        if assetFields.contains(where: { object[$0] != nil }) {
            channel.assets = .init(
                openapiURL: try url("openapi_url"), accessKey: try required("access_key"), secretKey: try required("secret_key"),
                region: try string("region") ?? "cn-beijing", projectName: try string("project_name") ?? "default"
            )
        }
        return channel
    }
}
