import Foundation
import SeedgateSupport

/// What probing a media file found, independent of what the client said it was.
public struct MediaFacts: Sendable, Equatable, Codable {
    /// What the file really is.
    public var kind: MediaType
    /// The container or image format, lowercased: `png`, `jpeg`, `mp4`, `mov`, `wav`, `mp3`, ...
    public var format: String
    public var width: Int?
    public var height: Int?
    /// Seconds, for video and audio.
    public var duration: Double?
    /// Frames per second, for video.
    public var fps: Double?
    public var hasAudio: Bool
    public var byteCount: Int64

    public init(
        kind: MediaType, format: String, width: Int? = nil, height: Int? = nil, duration: Double? = nil,
        fps: Double? = nil, hasAudio: Bool = false, byteCount: Int64
    ) {
        self.kind = kind
        self.format = format
        self.width = width
        self.height = height
        self.duration = duration
        self.fps = fps
        self.hasAudio = hasAudio
        self.byteCount = byteCount
    }

    package var json: String {
        (try? String(decoding: JSONEncoder().encode(self), as: UTF8.self)) ?? "{}"
    }
}
