import Foundation

/// The models a generation may name (seed 002).
public enum VideoModel: String, Sendable, CaseIterable, Codable {
    case standard = "doubao-seedance-2.0"
    case fast = "doubao-seedance-2.0-fast"
    case face = "doubao-seedance-2.0-face"
    case fastFace = "doubao-seedance-2.0-fast-face"

    /// 1080p is only offered by the standard and face models.
    public var supports1080p: Bool { self == .standard || self == .face }
    /// `asset://` inputs are only accepted by the standard and fast models.
    public var acceptsAssets: Bool { self == .standard || self == .fast }
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
}

/// A video task's status, as the task view spells it.
public enum VideoStatus: String, Sendable, Codable {
    case pending, processing, completed, failed, cancelled

    public var isFinal: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// What a finished render produced, in the blob store.
public struct VideoResult: Sendable, Equatable, Codable {
    public var videoKey: String
    public var lastFrameKey: String?
    public var width: Int
    public var height: Int
    public var seconds: Double
    public var hasAudio: Bool
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
}
