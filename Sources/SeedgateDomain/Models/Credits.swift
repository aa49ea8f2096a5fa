import Foundation
import SeedgateSupport

/// Prices in integer credits (no floating-point money). The defaults follow the resellers' per-second
/// prices in upstream.md with 1 credit = $0.001: 66 per second of 480p, 142 of 720p, 354 of 1080p; the
/// fast models cost what upstream's token prices say (37/46 of the standard), and a task with reference
/// video costs less, as upstream bills it (28/46, 31/51).
public struct PriceTable: Sendable, Equatable, Codable {
    /// credits per output second: model -> resolution -> price.
    public var perSecond: [String: [String: Int64]]
    /// The same when the request has reference video.
    public var perSecondWithReferenceVideo: [String: [String: Int64]]
    /// Charged for each asset that passes review (failed reviews are free). 0 = reviews are free.
    public var assetReview: Int64

    package enum CodingKeys: String, CodingKey {
        case perSecond = "per_second"
        case perSecondWithReferenceVideo = "per_second_with_reference_video"
        case assetReview = "asset_review"
    }

    public static let standard: [String: Int64] = ["480p": 66, "720p": 142, "1080p": 354]
    public static let fast: [String: Int64] = ["480p": 53, "720p": 114]
    public static let standardWithVideo: [String: Int64] = ["480p": 40, "720p": 86, "1080p": 215]
    public static let fastWithVideo: [String: Int64] = ["480p": 32, "720p": 68]

    public static let defaults = PriceTable(
        perSecond: [
            VideoModel.standard.rawValue: standard, VideoModel.face.rawValue: standard,
            VideoModel.fast.rawValue: fast, VideoModel.fastFace.rawValue: fast,
        ],
        perSecondWithReferenceVideo: [
            VideoModel.standard.rawValue: standardWithVideo, VideoModel.face.rawValue: standardWithVideo,
            VideoModel.fast.rawValue: fastWithVideo, VideoModel.fastFace.rawValue: fastWithVideo,
        ],
        assetReview: 0
    )

    public init(perSecond: [String: [String: Int64]], perSecondWithReferenceVideo: [String: [String: Int64]], assetReview: Int64) {
        self.perSecond = perSecond
        self.perSecondWithReferenceVideo = perSecondWithReferenceVideo
        self.assetReview = assetReview
    }

    /// A price file: any part it gives replaces the default (`base`) for that model and resolution.
    public static func load(file: String, catalog: ModelCatalog = .builtIn) throws -> PriceTable {
        guard let data = FileManager.default.contents(atPath: file) else { throw ConfigurationError("prices file \(file) cannot be read") }
        struct Partial: Decodable {
            var per_second: [String: [String: Int64]]?
            var per_second_with_reference_video: [String: [String: Int64]]?
            var asset_review: Int64?
        }
        let partial: Partial
        do { partial = try JSONDecoder().decode(Partial.self, from: data) } catch {
            throw ConfigurationError("prices file \(file) is not valid: \(error)")
        }
        var table = catalog.pricing(defaults)
        for (model, prices) in partial.per_second ?? [:] { table.perSecond[model, default: [:]].merge(prices) { $1 } }
        for (model, prices) in partial.per_second_with_reference_video ?? [:] {
            table.perSecondWithReferenceVideo[model, default: [:]].merge(prices) { $1 }
        }
        table.assetReview = partial.asset_review ?? table.assetReview
        let all = table.perSecond.values.flatMap(\.values) + table.perSecondWithReferenceVideo.values.flatMap(\.values) + [table.assetReview]
        guard all.allSatisfy({ $0 >= 0 }) else { throw ConfigurationError("prices file \(file): prices must not be negative") }
        for model in Array(table.perSecond.keys) + Array(table.perSecondWithReferenceVideo.keys) where catalog.spec(VideoModel(rawValue: model)) == nil {
            throw ConfigurationError("prices file \(file): '\(model)' is not a model")
        }
        return table
    }

    /// Credits per second for a request.
    public func rate(for request: GenerationRequest) -> Int64 {
        let table = request.videos.isEmpty ? perSecond : perSecondWithReferenceVideo
        return table[request.model.rawValue]?[request.resolution] ?? Self.defaults.perSecond[request.model.rawValue]?[request.resolution] ?? 0
    }

    /// The most a request can cost: what is held when it is accepted.
    public func maximum(for request: GenerationRequest) -> Int64 {
        rate(for: request) * Int64(request.duration)
    }

    /// What a finished video costs: its real output length, whole seconds rounded up, never more than the hold.
    public func cost(for request: GenerationRequest, seconds: Double) -> Int64 {
        min(maximum(for: request), rate(for: request) * Int64(seconds.rounded(.up)))
    }
}

/// A key's money, as `GET /v1/account` and `seedgate credits show` tell it.
public struct Account: Sendable, Equatable {
    public var keyID: String
    public var name: String
    public var balance: Int64
    public var held: Int64
    public var spent: Int64
    public var tasksByStatus: [String: Int]
    public var rpm: Int
    public var maxInFlight: Int

    public var available: Int64 { balance - held }

    package init(
        keyID: String, name: String, balance: Int64, held: Int64, spent: Int64, tasksByStatus: [String: Int], rpm: Int,
        maxInFlight: Int
    ) {
        self.keyID = keyID
        self.name = name
        self.balance = balance
        self.held = held
        self.spent = spent
        self.tasksByStatus = tasksByStatus
        self.rpm = rpm
        self.maxInFlight = maxInFlight
    }
}

/// One movement of credits. `balance` is the sum of every `balanceDelta`, `held` of every `heldDelta`.
public struct LedgerEntry: Sendable, Equatable {
    public var id: String
    public var kind: String
    public var balanceDelta: Int64
    public var heldDelta: Int64
    public var ref: String?
    public var note: String?
    public var createdAt: Date

    package init(
        id: String, kind: String, balanceDelta: Int64, heldDelta: Int64, ref: String? = nil, note: String? = nil,
        createdAt: Date
    ) {
        self.id = id
        self.kind = kind
        self.balanceDelta = balanceDelta
        self.heldDelta = heldDelta
        self.ref = ref
        self.note = note
        self.createdAt = createdAt
    }
}

/// Per-key limits: the key's own, or the server's defaults.
public struct Limits: Sendable, Equatable {
    public var rpm: Int
    public var maxInFlight: Int

    public init(rpm: Int, maxInFlight: Int) {
        self.rpm = rpm
        self.maxInFlight = maxInFlight
    }

    public static let defaults = Limits(rpm: 600, maxInFlight: 20)

    /// A limit a key is given must allow at least one request and one task; nil means "keep as it is".
    public static func check(rpm: Int?, maxInFlight: Int?) throws(SeedgateError) {
        if let rpm, rpm < 1 { throw .invalid("rpm", "must be at least 1") }
        if let maxInFlight, maxInFlight < 1 { throw .invalid("max_in_flight", "must be at least 1") }
    }
}
