import Foundation
import SeedgateSupport

/// A model's public name (`doubao-seedance-2.0`). What the model allows is in the `ModelCatalog`.
public struct VideoModel: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let standard = VideoModel(rawValue: "doubao-seedance-2.0")
    public static let fast = VideoModel(rawValue: "doubao-seedance-2.0-fast")
    public static let face = VideoModel(rawValue: "doubao-seedance-2.0-face")
    public static let fastFace = VideoModel(rawValue: "doubao-seedance-2.0-fast-face")
}

public enum ImageRole: String, Sendable, Codable {
    case firstFrame = "first_frame"
    case lastFrame = "last_frame"
    case referenceImage = "reference_image"
}

/// A media input: a public URL, or an approved asset of the caller's (`asset://<id>`).
public struct MediaInput: Sendable, Equatable, Codable {
    public var url: String
    /// Set for `asset://` inputs: the asset id.
    public var assetID: String?
    public var role: ImageRole?
    /// The request field it came from (`video_urls[1]`), for error messages at render time.
    public var field: String

    public init(url: String, assetID: String? = nil, role: ImageRole? = nil, field: String) {
        self.url = url
        self.assetID = assetID
        self.role = role
        self.field = field
    }
}

/// Ark's parameters that the reseller dialects cannot express (upstream.md section 1), as an Ark SDK
/// client sent them. An Ark channel is sent each as given; the local engine honours those it can and
/// refuses the rest by name at submission.
public struct ArkOptions: Sendable, Equatable, Codable {
    /// `duration: -1`: the model picks the length (the local engine picks `duration`'s default).
    public var modelPicksDuration: Bool?
    /// The length in frames at 24 fps, sent instead of `duration`.
    public var frames: Int?
    public var cameraFixed: Bool?
    public var serviceTier: String?
    public var executionExpiresAfter: Int?
    public var safetyIdentifier: String?
    public var priority: Int?
    public var draft: Bool?
    public var outputFormat: String?
    public var omniReferenceTaskType: String?

    public init() {}
}

/// A validated generation request with every default applied. Stored with the task, so the task can be
/// rendered (again, after a crash) exactly as it was accepted.
public struct GenerationRequest: Sendable, Equatable, Codable {
    public var model: VideoModel
    public var prompt: String?
    public var duration: Int
    public var size: String
    public var resolution: String
    /// The seed asked for; -1 or nil means "pick one", and the task records the one picked.
    public var seed: Int64?
    public var generateAudio: Bool
    public var returnLastFrame: Bool
    public var tools: [String]
    public var images: [MediaInput]
    public var videos: [MediaInput]
    public var audios: [MediaInput]
    public var callbackURL: String?
    public var watermark: Bool
    /// Set for requests made through Ark's own API.
    public var ark: ArkOptions?

    public var hasFrames: Bool { images.contains { $0.role == .firstFrame || $0.role == .lastFrame } }
    public var firstFrame: MediaInput? { images.first { $0.role == .firstFrame } }
    public var lastFrame: MediaInput? { images.first { $0.role == .lastFrame } }
    public var referenceImages: [MediaInput] { images.filter { $0.role == .referenceImage } }
    /// Every media input, with the kind of media its slot takes.
    public var inputs: [(input: MediaInput, type: MediaType)] {
        images.map { ($0, .image) } + videos.map { ($0, .video) } + audios.map { ($0, .audio) }
    }
    /// The distinct `asset://` ids the request uses, in order of first use.
    public var assetIDs: [String] {
        var seen: Set<String> = []
        return inputs.compactMap(\.input.assetID).filter { seen.insert($0).inserted }
    }

    package init(
        model: VideoModel, prompt: String? = nil, duration: Int, size: String, resolution: String, seed: Int64? = nil,
        generateAudio: Bool, returnLastFrame: Bool, tools: [String], images: [MediaInput], videos: [MediaInput],
        audios: [MediaInput], callbackURL: String? = nil, watermark: Bool
    ) {
        self.model = model
        self.prompt = prompt
        self.duration = duration
        self.size = size
        self.resolution = resolution
        self.seed = seed
        self.generateAudio = generateAudio
        self.returnLastFrame = returnLastFrame
        self.tools = tools
        self.images = images
        self.videos = videos
        self.audios = audios
        self.callbackURL = callbackURL
        self.watermark = watermark
    }
}

/// A video task's status, as the task view spells it.
public enum VideoStatus: String, Sendable, Codable, CaseIterable {
    case pending, processing, completed, failed, cancelled
}

/// What a finished render produced, in the blob store.
public struct VideoResult: Sendable, Equatable, Codable {
    public var videoKey: String
    public var lastFrameKey: String?
    public var width: Int
    public var height: Int
    public var seconds: Double
    public var hasAudio: Bool

    package init(videoKey: String, lastFrameKey: String? = nil, width: Int, height: Int, seconds: Double, hasAudio: Bool) {
        self.videoKey = videoKey
        self.lastFrameKey = lastFrameKey
        self.width = width
        self.height = height
        self.seconds = seconds
        self.hasAudio = hasAudio
    }
}

/// A video generation task.
public struct VideoTask: Sendable, Equatable {
    public var id: String
    public var keyID: String
    public var request: GenerationRequest
    public var status: VideoStatus
    public var progress: Int
    /// The seed actually used.
    public var seed: Int64
    public var result: VideoResult?
    public var failure: Failure?
    /// Credits held while the task runs, and what it cost once settled.
    public var hold: Int64
    public var cost: Int64?
    public var createdAt: Date
    public var startedAt: Date?
    public var completedAt: Date?
    /// Where the task runs when an upstream account runs it.
    public var upstream: UpstreamRef? = nil
    /// Output tokens the upstream reported (what it bills).
    public var usageTokens: Int64? = nil
    /// The dialect the task was made in: its webhook is rendered in it.
    public var dialect: Dialect = .apimart
    /// The id of the request that made it (`X-Request-Id`), logged with its later work.
    public var requestID: String? = nil

    package init(
        id: String, keyID: String, request: GenerationRequest, status: VideoStatus, progress: Int, seed: Int64,
        result: VideoResult? = nil, failure: Failure? = nil, hold: Int64, cost: Int64? = nil, createdAt: Date,
        startedAt: Date? = nil, completedAt: Date? = nil, upstream: UpstreamRef? = nil, usageTokens: Int64? = nil,
        dialect: Dialect = .apimart, requestID: String? = nil
    ) {
        self.dialect = dialect
        self.requestID = requestID
        self.id = id
        self.keyID = keyID
        self.request = request
        self.status = status
        self.progress = progress
        self.seed = seed
        self.result = result
        self.failure = failure
        self.hold = hold
        self.cost = cost
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.upstream = upstream
        self.usageTokens = usageTokens
    }
}

/// A task's place on an upstream channel.
public struct UpstreamRef: Sendable, Equatable {
    public var channel: String
    /// The upstream task id; nil while the submission is in flight.
    public var id: String?
    /// `submitting`, then Ark's own status (`queued`, `running`, ...).
    public var status: String?
    public var polls: Int
    /// Upstream states in which the task has not started: the client sees `pending` (upstream.md: queued -> pending).
    public static let waiting = ["submitting", "queued"]
    public var isWaiting: Bool { status.map(Self.waiting.contains) ?? false }
    /// Milliseconds since 1970, as stored (compared exactly when a poll is rescheduled).
    public var nextPollAt: Int64?
    public var deadlineAt: Int64?

    package init(
        channel: String, id: String? = nil, status: String? = nil, polls: Int, nextPollAt: Int64? = nil,
        deadlineAt: Int64? = nil
    ) {
        self.channel = channel
        self.id = id
        self.status = status
        self.polls = polls
        self.nextPollAt = nextPollAt
        self.deadlineAt = deadlineAt
    }
}
