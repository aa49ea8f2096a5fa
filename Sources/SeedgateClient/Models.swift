import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// What went wrong, as the server said it: the HTTP status, its machine code (`invalid_request`,
/// `insufficient_credits`, ...), the message (which names the field), and the request id to quote.
public struct SeedgateClientError: Error, Sendable, CustomStringConvertible {
    /// nil when no answer came (a network error) or the error is the client's own.
    public var status: Int?
    public var code: String
    public var message: String
    public var requestID: String?
    /// Seconds the server asked to wait (429, 503).
    public var retryAfter: Int?
    /// The request field the error is about, when the server named one.
    public var param: String?

    public init(status: Int?, code: String, message: String, requestID: String?, retryAfter: Int? = nil, param: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.requestID = requestID
        self.retryAfter = retryAfter
        self.param = param
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let status { text = "HTTP \(status) " + text }
        if let requestID { text += " (request \(requestID))" }
        return text
    }

    /// Whether the server refused the request (4xx): asking again unchanged will not help.
    public var isRefusal: Bool { (status ?? 0) >= 400 && (status ?? 0) < 500 }
    /// Whether no answer came at all.
    public var isNetwork: Bool { status == nil && code == "network_error" }

    /// No answer from `server`: what went wrong, in words ("cannot reach http://127.0.0.1:8080: connection
    /// refused"), rather than the HTTP client's own description of its error.
    static func network(_ error: any Error, server: String) -> SeedgateClientError {
        SeedgateClientError(status: nil, code: "network_error", message: "cannot reach \(server): \(reason(error))", requestID: nil)
    }

    private static func reason(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "no connection within the time limit"
            case .deadlineExceeded, .readTimeout: return "no answer within the time limit"
            case .remoteConnectionClosed: return "the server closed the connection"
            case .cancelled: return "cancelled"
            default: break
            }
        }
        return "\(error)"
    }

    static func malformed(_ field: String) -> SeedgateClientError {
        SeedgateClientError(status: nil, code: "malformed_response", message: "the server's answer has no \(field)", requestID: nil)
    }

    /// An error from any dialect's envelope: apimart's `{code, error: {code, message, param}}`, crun's
    /// `{code, message}`, toapis's and Ark's.
    static func from(status: Int, body: Data, headers: HTTPHeaders) -> SeedgateClientError {
        let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        let detail = json["error"] as? [String: Any]
        let message = detail?["message"] as? String ?? json["message"] as? String ?? String(decoding: body.prefix(300), as: UTF8.self)
        return SeedgateClientError(
            status: status, code: detail?["code"] as? String ?? "http_\(status)", message: message,
            requestID: headers.first(name: "X-Request-Id"), retryAfter: headers.first(name: "Retry-After").flatMap(Int.init),
            param: detail?["param"] as? String
        )
    }
}

/// The kind of a media file.
public enum MediaKind: String, Sendable, CaseIterable {
    case image, video, audio
}

/// A file uploaded to Seedgate.
public struct UploadedFile: Sendable {
    public var id: String
    /// A signed link: give it wherever a media URL goes (by the same key), until `expiresAt`.
    public var url: String
    public var kind: MediaKind?
    public var size: Int64
    public var expiresAt: Date

    init(_ value: Any) throws {
        guard let json = value as? [String: Any], let id = json["id"] as? String, let url = json["url"] as? String else {
            throw SeedgateClientError.malformed("upload id")
        }
        self.id = id
        self.url = url
        self.kind = (json["media_type"] as? String).flatMap(MediaKind.init(rawValue:))
        self.size = (json["size"] as? NSNumber)?.int64Value ?? 0
        self.expiresAt = Date(timeIntervalSince1970: (json["expires_at"] as? NSNumber)?.doubleValue ?? 0)
    }
}

/// An asset under review or reviewed.
public struct Asset: Sendable {
    public enum Status: Sendable, Equatable {
        case processing, active, failed
        /// A status this client does not know (a newer server).
        case unknown(String)
    }
    public var id: String
    public var status: Status
    public var groupID: String?
    public var failureCode: String?
    public var failureMessage: String?
    /// How generations name it: `asset://<id>`.
    public var assetURL: String { "asset://\(id)" }

    init(_ value: Any) throws {
        guard let json = value as? [String: Any], let id = json["AssetId"] as? String else { throw SeedgateClientError.malformed("AssetId") }
        self.id = id
        let status = (json["Status"] as? String ?? "").lowercased()
        self.status = switch status {
        case "processing": .processing
        case "active": .active
        case "failed": .failed
        default: .unknown(status)
        }
        self.groupID = json["GroupId"] as? String
        let error = json["Error"] as? [String: Any]
        self.failureCode = error?["Code"] as? String
        self.failureMessage = error?["Message"] as? String
    }
}

/// A video task, as `GET /v1/tasks/{id}` shows it.
public struct VideoTask: Sendable {
    public enum Status: Sendable, Equatable, RawRepresentable {
        case pending, processing, completed, failed, cancelled
        /// A status this client does not know (a newer server); it is not final.
        case unknown(String)

        public init(rawValue: String) {
            self = switch rawValue {
            case "pending": .pending
            case "processing": .processing
            case "completed": .completed
            case "failed": .failed
            case "cancelled": .cancelled
            default: .unknown(rawValue)
            }
        }

        public var rawValue: String {
            switch self {
            case .pending: "pending"
            case .processing: "processing"
            case .completed: "completed"
            case .failed: "failed"
            case .cancelled: "cancelled"
            case .unknown(let value): value
            }
        }

        public var isFinal: Bool { self == .completed || self == .failed || self == .cancelled }
    }

    public var id: String
    public var status: Status
    public var progress: Int
    /// The video's link, once completed (while its link lives).
    public var videoURL: String?
    public var lastFrameURL: String?
    public var errorCode: String?
    public var errorMessage: String?
    public var model: String?
    public var duration: Int?
    public var resolution: String?
    public var seed: Int64?
    public var cost: Int64?

    init(_ value: Any) throws {
        guard let json = value as? [String: Any], let id = json["id"] as? String else { throw SeedgateClientError.malformed("task id") }
        self.id = id
        self.status = Status(rawValue: json["status"] as? String ?? "")
        self.progress = (json["progress"] as? NSNumber)?.intValue ?? 0
        let result = json["result"] as? [String: Any]
        let videos = result?["videos"] as? [[String: Any]]
        self.videoURL = (videos?.first?["url"] as? [String])?.first
        self.lastFrameURL = result?["last_frame_url"] as? String
        let error = json["error"] as? [String: Any]
        self.errorCode = error?["code"] as? String
        self.errorMessage = error?["message"] as? String
        self.model = json["model"] as? String
        self.duration = (json["duration"] as? NSNumber)?.intValue
        self.resolution = json["resolution"] as? String
        self.seed = (json["seed"] as? NSNumber)?.int64Value
        self.cost = (json["cost"] as? NSNumber)?.int64Value
    }
}

/// The key's account.
public struct Account: Sendable {
    public var keyID: String
    public var name: String
    public var balance: Int64
    public var held: Int64
    public var available: Int64
    public var spent: Int64

    init(_ value: Any) throws {
        guard let json = value as? [String: Any], let id = json["key_id"] as? String else { throw SeedgateClientError.malformed("key_id") }
        self.keyID = id
        self.name = json["name"] as? String ?? ""
        func number(_ key: String) -> Int64 { (json[key] as? NSNumber)?.int64Value ?? 0 }
        self.balance = number("balance")
        self.held = number("held")
        self.available = number("available")
        self.spent = number("spent")
    }
}

/// A generation request (seed 002's parameters). Images, videos and audio are URLs: public ones,
/// uploads' links, or `asset://<id>`.
public struct GenerationOptions: Sendable {
    public var model: String
    public var prompt: String?
    public var duration: Int?
    public var resolution: String?
    /// `16:9`, `9:16`, `1:1`, `4:3`, `3:4`, `21:9` or `adaptive`.
    public var ratio: String?
    public var seed: Int64?
    public var generateAudio: Bool?
    public var returnLastFrame: Bool?
    public var watermark: Bool?
    /// One image alone is the first frame; several are references.
    public var images: [String]
    /// A first and a last frame, instead of `images`.
    public var firstFrame: String?
    public var lastFrame: String?
    public var videos: [String]
    public var audios: [String]
    public var callbackURL: String?

    public init(
        model: String = "doubao-seedance-2.0", prompt: String? = nil, duration: Int? = nil, resolution: String? = nil, ratio: String? = nil,
        seed: Int64? = nil, generateAudio: Bool? = nil, returnLastFrame: Bool? = nil, watermark: Bool? = nil, images: [String] = [],
        firstFrame: String? = nil, lastFrame: String? = nil, videos: [String] = [], audios: [String] = [], callbackURL: String? = nil
    ) {
        self.model = model
        self.prompt = prompt
        self.duration = duration
        self.resolution = resolution
        self.ratio = ratio
        self.seed = seed
        self.generateAudio = generateAudio
        self.returnLastFrame = returnLastFrame
        self.watermark = watermark
        self.images = images
        self.firstFrame = firstFrame
        self.lastFrame = lastFrame
        self.videos = videos
        self.audios = audios
        self.callbackURL = callbackURL
    }

    func json() throws -> Data {
        var body: [String: Any] = ["model": model]
        body["prompt"] = prompt
        body["duration"] = duration
        body["resolution"] = resolution
        body["size"] = ratio
        body["seed"] = seed
        body["generate_audio"] = generateAudio
        body["return_last_frame"] = returnLastFrame
        body["watermark"] = watermark
        if let firstFrame {
            body["image_with_roles"] = [["url": firstFrame, "role": "first_frame"]] + (lastFrame.map { [["url": $0, "role": "last_frame"]] } ?? [])
        } else if !images.isEmpty {
            body["image_urls"] = images
        }
        if !videos.isEmpty { body["video_urls"] = videos }
        if !audios.isEmpty { body["audio_urls"] = audios }
        body["callback_url"] = callbackURL
        return try JSONSerialization.data(withJSONObject: body)
    }
}
