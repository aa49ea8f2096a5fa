import Foundation
import SeedgateSupport

/// A public model and everything that varies by model: its names in each dialect, its limits, whether it
/// takes `asset://` inputs and real people, its prices and the upstream model it runs as by default.
public struct ModelSpec: Sendable, Equatable {
    /// The public name, as apimart clients spell it (`doubao-seedance-2.0`).
    public var name: String
    /// Names toapis clients use (`doubao-seedance-2-0`).
    public var toapisNames: [String]
    /// crun's base names (`bytedance/seedance2-0`); a crun model is a base with `-t2v`, `-i2v` or `-r2v` after it.
    public var crunNames: [String]
    /// Names Ark SDK clients may send besides `upstream` and `name`: BytePlus's ids, endpoint ids (`ep-...`).
    public var arkNames: [String] = []
    public var resolutions: [String]
    public var durations: ClosedRange<Int>
    public var maxImages: Int
    public var maxVideos: Int
    public var maxAudios: Int
    public var acceptsAssets: Bool
    public var realPeople: Bool
    /// The upstream model id a channel uses when its `models` map does not name one.
    public var upstream: String?
    /// Credits per output second by resolution, and the same with reference video; nil leaves the price table's.
    public var prices: [String: Int64]?
    public var pricesWithReferenceVideo: [String: Int64]?

    public init(
        name: String, toapisNames: [String] = [], crunNames: [String] = [], resolutions: [String], durations: ClosedRange<Int>,
        maxImages: Int = 9, maxVideos: Int = 3, maxAudios: Int = 3, acceptsAssets: Bool, realPeople: Bool, upstream: String? = nil,
        arkNames: [String] = [], prices: [String: Int64]? = nil, pricesWithReferenceVideo: [String: Int64]? = nil
    ) {
        self.arkNames = arkNames
        self.name = name
        self.toapisNames = toapisNames
        self.crunNames = crunNames
        self.resolutions = resolutions
        self.durations = durations
        self.maxImages = maxImages
        self.maxVideos = maxVideos
        self.maxAudios = maxAudios
        self.acceptsAssets = acceptsAssets
        self.realPeople = realPeople
        self.upstream = upstream
        self.prices = prices
        self.pricesWithReferenceVideo = pricesWithReferenceVideo
    }

    public var model: VideoModel { VideoModel(rawValue: name) }
    /// The name a client of `dialect` knows this model by (crun's without its mode).
    public func name(in dialect: Dialect) -> String {
        switch dialect {
        case .apimart: name
        case .toapis: toapisNames.first ?? name
        case .crun: crunNames.first ?? name
        case .ark: upstream ?? name
        }
    }
}

/// The models this gateway offers: seed 002's four built in, changed or extended by a models file
/// (`seedgate serve --models FILE`), so a new upstream model is configuration, not a release.
public struct ModelCatalog: Sendable, Equatable {
    public private(set) var specs: [ModelSpec]

    public init(_ specs: [ModelSpec]) { self.specs = specs }

    /// Seed 002's models. 1080p only on the standard and face models; `asset://` only on the non-face ones.
    public static let builtIn = ModelCatalog([
        ModelSpec(name: "doubao-seedance-2.0", toapisNames: ["doubao-seedance-2-0", "seedance-2"], crunNames: ["bytedance/seedance2-0"],
                  resolutions: ["480p", "720p", "1080p"], durations: 4...15, acceptsAssets: true, realPeople: false,
                  upstream: "doubao-seedance-2-0-260128", arkNames: ["dreamina-seedance-2-0-260128"]),
        ModelSpec(name: "doubao-seedance-2.0-fast", toapisNames: ["doubao-seedance-2-0-fast", "seedance-2-fast"],
                  crunNames: ["bytedance/seedance2-0-fast"], resolutions: ["480p", "720p"], durations: 4...15, acceptsAssets: true,
                  realPeople: false, upstream: "doubao-seedance-2-0-fast-260128", arkNames: ["dreamina-seedance-2-0-fast-260128"]),
        ModelSpec(name: "doubao-seedance-2.0-face", toapisNames: ["doubao-seedance-2-0-face"], crunNames: ["bytedance/seedance2-0-face"],
                  resolutions: ["480p", "720p", "1080p"], durations: 4...15, acceptsAssets: false, realPeople: true,
                  upstream: "doubao-seedance-2-0-260128"),
        ModelSpec(name: "doubao-seedance-2.0-fast-face", toapisNames: ["doubao-seedance-2-0-fast-face"],
                  crunNames: ["bytedance/seedance2-0-fast-face"], resolutions: ["480p", "720p"], durations: 4...15, acceptsAssets: false,
                  realPeople: true, upstream: "doubao-seedance-2-0-fast-260128"),
    ])

    public var names: [String] { specs.map(\.name) }

    public func spec(_ model: VideoModel) -> ModelSpec? { specs.first { $0.name == model.rawValue } }

    /// The model a client of `dialect` names `name` (crun names without their mode).
    public func spec(named name: String, in dialect: Dialect) -> ModelSpec? {
        specs.first { spec in
            switch dialect {
            case .apimart: spec.name == name
            case .toapis: spec.toapisNames.contains(name) || spec.name == name
            case .crun: spec.crunNames.contains(name)
            case .ark: spec.name == name || spec.upstream == name || spec.arkNames.contains(name)
            }
        }
    }

    /// The names a client of `dialect` may use, for error messages.
    public func names(in dialect: Dialect) -> [String] { specs.map { $0.name(in: dialect) } }

    /// Adds the models of a file, replacing any of the same name. The file:
    /// `{"models": [{"name", "toapis", "crun", "ark", "resolutions", "durations": [min, max], "max_images", "max_videos",
    /// "max_audios", "assets", "real_people", "upstream", "prices", "prices_with_reference_video"}]}`;
    /// a model given by name alone with some fields changes only those.
    public func adding(file: String) throws -> ModelCatalog {
        guard let data = FileManager.default.contents(atPath: file) else { throw ConfigurationError("models file \(file) cannot be read") }
        let root: JSONValue
        do { root = try JSONValue.parse(data) } catch { throw ConfigurationError("models file \(file) is not valid JSON (at byte \(error.offset): \(error.reason))") }
        guard case .object(let top) = root, case .array(let entries)? = top["models"] else {
            throw ConfigurationError("models file \(file) must be an object with a \"models\" array")
        }
        var catalog = self
        for (index, entry) in entries.enumerated() {
            let place = "models file \(file): models[\(index)]"
            guard case .object(let fields) = entry else { throw ConfigurationError("\(place) must be an object") }
            let known: Set<String> = ["name", "toapis", "crun", "ark", "resolutions", "durations", "max_images", "max_videos", "max_audios",
                                      "assets", "real_people", "upstream", "prices", "prices_with_reference_video"]
            if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
                throw ConfigurationError("\(place).\(unknown) is not a model field; known fields are \(known.sorted().joined(separator: ", "))")
            }
            let reader = SpecReader(fields: fields, place: place)
            let name = try reader.string("name") ?? { throw ConfigurationError("\(place).name is required") }()
            guard !name.isEmpty, name.count <= 100, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_./".contains($0) }) else {
                throw ConfigurationError("\(place).name may hold letters, digits and - _ . /, at most 100")
            }
            let existing = catalog.specs.firstIndex { $0.name == name }
            let base = existing.map { catalog.specs[$0] }
            let durations = try reader.integers("durations")
            if let durations, durations.count != 2 || durations[0] < 1 || durations[0] > durations[1] || durations[1] > 600 {
                throw ConfigurationError("\(place).durations must be [min, max] seconds with 1 <= min <= max <= 600")
            }
            let resolutions = try reader.strings("resolutions")
            if let resolutions, resolutions.isEmpty || !resolutions.allSatisfy(GenerationRules.resolutions.contains) {
                throw ConfigurationError("\(place).resolutions must list some of \(GenerationRules.resolutions.joined(separator: ", "))")
            }
            guard let resolved = resolutions ?? base?.resolutions else { throw ConfigurationError("\(place).resolutions is required for a new model") }
            guard let range = durations.map({ Int($0[0])...Int($0[1]) }) ?? base?.durations else {
                throw ConfigurationError("\(place).durations is required for a new model")
            }
            let spec = ModelSpec(
                name: name, toapisNames: try reader.strings("toapis") ?? base?.toapisNames ?? [],
                crunNames: try reader.strings("crun") ?? base?.crunNames ?? [], resolutions: resolved, durations: range,
                maxImages: try reader.count("max_images") ?? base?.maxImages ?? 9, maxVideos: try reader.count("max_videos") ?? base?.maxVideos ?? 3,
                maxAudios: try reader.count("max_audios") ?? base?.maxAudios ?? 3,
                acceptsAssets: try reader.bool("assets") ?? base?.acceptsAssets ?? true,
                realPeople: try reader.bool("real_people") ?? base?.realPeople ?? false,
                upstream: try reader.string("upstream") ?? base?.upstream,
                arkNames: try reader.strings("ark") ?? base?.arkNames ?? [],
                prices: try reader.prices("prices") ?? base?.prices,
                pricesWithReferenceVideo: try reader.prices("prices_with_reference_video") ?? base?.pricesWithReferenceVideo
            )
            for (dialect, names) in [(Dialect.toapis, spec.toapisNames), (.crun, spec.crunNames), (.ark, spec.arkNames)] {
                for alias in names {
                    if let other = catalog.spec(named: alias, in: dialect), other.name != name {
                        throw ConfigurationError("\(place): \(dialect.rawValue) name '\(alias)' is already \(other.name)'s")
                    }
                }
            }
            if let existing { catalog.specs[existing] = spec } else { catalog.specs.append(spec) }
        }
        return catalog
    }

    /// `prices` with each model's own prices from the catalog filled in where the table has none.
    public func pricing(_ table: PriceTable) -> PriceTable {
        var table = table
        for spec in specs {
            if let prices = spec.prices { table.perSecond[spec.name] = prices }
            if let prices = spec.pricesWithReferenceVideo ?? spec.prices { table.perSecondWithReferenceVideo[spec.name] = prices }
        }
        return table
    }
}

/// Reads one entry of a models file, naming the field in each error.
private struct SpecReader {
    let fields: [String: JSONValue]
    let place: String

    func string(_ key: String) throws -> String? {
        switch fields[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw ConfigurationError("\(place).\(key) must be a string")
        }
    }
    func strings(_ key: String) throws -> [String]? {
        switch fields[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            return try items.map { item in
                guard case .string(let s) = item, !s.isEmpty else { throw ConfigurationError("\(place).\(key) must be an array of names") }
                return s
            }
        default: throw ConfigurationError("\(place).\(key) must be an array of strings")
        }
    }
    func integers(_ key: String) throws -> [Int64]? {
        switch fields[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            return try items.map { item in
                guard case .integer(let i) = item else { throw ConfigurationError("\(place).\(key) must be an array of integers") }
                return i
            }
        default: throw ConfigurationError("\(place).\(key) must be an array of integers")
        }
    }
    func count(_ key: String) throws -> Int? {
        switch fields[key] {
        case nil, .null?: return nil
        case .integer(let i)? where (0...100).contains(i): return Int(i)
        default: throw ConfigurationError("\(place).\(key) must be an integer from 0 to 100")
        }
    }
    func bool(_ key: String) throws -> Bool? {
        switch fields[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw ConfigurationError("\(place).\(key) must be true or false")
        }
    }
    func prices(_ key: String) throws -> [String: Int64]? {
        switch fields[key] {
        case nil, .null?: return nil
        case .object(let map)?:
            var prices: [String: Int64] = [:]
            for (resolution, value) in map {
                guard GenerationRules.resolutions.contains(resolution), case .integer(let price) = value, price >= 0 else {
                    throw ConfigurationError("\(place).\(key) must map resolutions (480p, 720p, 1080p) to credits per second (0 or more)")
                }
                prices[resolution] = price
            }
            return prices
        default: throw ConfigurationError("\(place).\(key) must map resolutions to credits per second")
        }
    }
}
