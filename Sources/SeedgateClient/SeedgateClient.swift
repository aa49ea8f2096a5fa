import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A client for a Seedgate server, with the verbs a user means: upload a file, add an asset and wait
/// until it is Active, generate a video, follow it to the end, download the result.
///
/// ```swift
/// let client = SeedgateClient(baseURL: "http://127.0.0.1:8080", apiKey: "sk-sg-...")
/// let task = try await client.generate(GenerationOptions(prompt: "A kitten yawning", duration: 5))
/// for try await update in client.follow(taskID: task) { print(update.status, update.progress) }
/// ```
///
/// Requests that get 429 or 503 are tried again after the server's `Retry-After` (or a jittered
/// back-off), up to `retry.maxAttempts` times; reads are also tried again after a network error.
public struct SeedgateClient: Sendable {
    /// The server, e.g. `http://127.0.0.1:8080` (no trailing slash needed).
    public let baseURL: String
    public let apiKey: String
    public let http: HTTPClient
    public var retry: RetryPolicy
    /// How long one request may take.
    public var timeout: Duration = .seconds(120)

    public init(baseURL: String, apiKey: String, http: HTTPClient = SeedgateClient.defaultHTTP, retry: RetryPolicy = .default) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.http = http
        self.retry = retry
    }

    /// The HTTP client used when none is given: shared by every `SeedgateClient`, alive for the process.
    /// A server that refuses connections is an error within seconds (connections are not retried
    /// until the request's deadline, as async-http-client's shared client does); `retry` decides what next.
    public static let defaultHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 5, allowCycles: false), timeout: .init(connect: .seconds(10), read: .seconds(120))
        )
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    // MARK: - Account

    /// The key's balance, holds, spending and limits.
    public func account() async throws -> Account {
        try Account(try await send(.GET, "/v1/account").data)
    }

    // MARK: - Uploads

    /// Uploads a file from disk, streamed; returns its link, usable as a media URL by this key.
    /// `type` makes the server refuse a file of another type.
    public func upload(file path: String, type: MediaKind? = nil) async throws -> UploadedFile {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = (attributes[.size] as? NSNumber)?.int64Value else {
            throw SeedgateClientError(status: nil, code: "file_not_found", message: "cannot read \(path)", requestID: nil)
        }
        var query = "?filename=\(Self.encode((path as NSString).lastPathComponent))"
        if let type { query += "&type=\(type.rawValue)" }
        let value = try await send(.POST, "/v1/uploads\(query)", retryable: true) {
            .fileRegion(path: path, size: size)
        }
        return try UploadedFile(value.data)
    }

    // MARK: - Assets

    /// Submits a file already reachable by URL (a public one, or an upload's) as an asset of the key's
    /// default group, for review.
    public func submitAsset(url: String, type: MediaKind, name: String? = nil) async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: [
            "name": name ?? "asset", "asset_type": type.rawValue.capitalized, "asset_url": url,
        ])
        let value = try await send(.POST, "/api/v1/client/job/asset-upload", json: body)
        guard let id = (value.data as? [String: Any])?["AssetId"] as? String else { throw SeedgateClientError.malformed("AssetId") }
        return id
    }

    /// An asset's current state.
    public func asset(id: String) async throws -> Asset {
        try Asset(try await send(.GET, "/api/v1/client/job/asset-info?asset_id=\(Self.encode(id))").data)
    }

    /// Polls an asset until its review ends: the Active asset, or `SeedgateClientError` with code
    /// `asset_failed` and the reason.
    public func waitUntilActive(assetID: String, pollInterval: Duration = .milliseconds(500), timeout: Duration = .seconds(600)) async throws -> Asset {
        let deadline = ContinuousClock.now + timeout
        while true {
            let asset = try await asset(id: assetID)
            switch asset.status {
            case .active: return asset
            case .failed: throw SeedgateClientError(status: nil, code: "asset_failed", message: asset.failureMessage ?? "the asset failed review", requestID: nil)
            default: break
            }
            guard ContinuousClock.now < deadline else {
                throw SeedgateClientError(status: nil, code: "timeout", message: "asset \(assetID) was still under review after \(timeout)", requestID: nil)
            }
            try await Task.sleep(for: pollInterval)
        }
    }

    /// Uploads a local file, submits it as an asset and waits until it is Active.
    public func addAsset(file path: String, type: MediaKind, name: String? = nil) async throws -> Asset {
        let uploaded = try await upload(file: path, type: type)
        let id = try await submitAsset(url: uploaded.url, type: type, name: name ?? (path as NSString).lastPathComponent)
        return try await waitUntilActive(assetID: id)
    }

    // MARK: - Videos

    /// Submits a generation; returns the task id. Local files in `options` must be uploaded first
    /// (`upload(file:)`); `asset://` ids and public URLs go as they are.
    public func generate(_ options: GenerationOptions, idempotencyKey: String? = nil) async throws -> String {
        var headers: [(String, String)] = []
        if let idempotencyKey { headers.append(("Idempotency-Key", idempotencyKey)) }
        let value = try await send(.POST, "/v1/videos/generations", json: try options.json(), headers: headers, retryable: idempotencyKey != nil)
        guard let first = (value.data as? [[String: Any]])?.first, let id = first["task_id"] as? String else {
            throw SeedgateClientError.malformed("task_id")
        }
        return id
    }

    /// A video task's current state.
    public func task(id: String) async throws -> VideoTask {
        try VideoTask(try await send(.GET, "/v1/tasks/\(Self.encode(id))").data)
    }

    /// The task's states as it moves, one element per change of status or progress, ending with its
    /// final state (completed, failed or cancelled).
    public func follow(taskID: String, pollInterval: Duration = .milliseconds(500)) -> AsyncThrowingStream<VideoTask, any Error> {
        AsyncThrowingStream { continuation in
            let polling = Task {
                var last: (VideoTask.Status, Int)?
                do {
                    while true {
                        let task = try await self.task(id: taskID)
                        if last.map({ $0.0 != task.status || $0.1 != task.progress }) ?? true {
                            continuation.yield(task)
                            last = (task.status, task.progress)
                        }
                        if task.status.isFinal { break }
                        try await Task.sleep(for: pollInterval)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in polling.cancel() }
        }
    }

    /// Waits for the task's end and returns it (completed, failed or cancelled).
    public func wait(taskID: String, pollInterval: Duration = .milliseconds(500)) async throws -> VideoTask {
        var final: VideoTask?
        for try await update in follow(taskID: taskID, pollInterval: pollInterval) { final = update }
        guard let final else { throw SeedgateClientError.malformed("task") }
        return final
    }

    /// Cancels a pending or processing task.
    public func cancel(taskID: String) async throws -> VideoTask {
        try VideoTask(try await send(.POST, "/v1/tasks/\(Self.encode(taskID))/cancel", json: Data("{}".utf8)).data)
    }

    /// The key's video tasks, newest first; pass `nextCursor` as `cursor` for the next page.
    public func tasks(status: VideoTask.Status? = nil, limit: Int = 20, cursor: String? = nil) async throws -> (tasks: [VideoTask], nextCursor: String?) {
        var query = "?limit=\(limit)"
        if let status { query += "&status=\(status.rawValue)" }
        if let cursor { query += "&cursor=\(Self.encode(cursor))" }
        let data = try await send(.GET, "/v1/tasks\(query)").data as? [String: Any] ?? [:]
        let items = try (data["items"] as? [Any] ?? []).map(VideoTask.init)
        return (items, data["next_cursor"] as? String)
    }

    /// Downloads a result link to `path`, streamed, reporting bytes written and the total when known.
    @discardableResult
    public func download(_ url: String, to path: String, progress: (@Sendable (_ written: Int64, _ total: Int64?) -> Void)? = nil) async throws -> Int64 {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response: HTTPClientResponse
        do { response = try await http.execute(request, timeout: .seconds(Int64(timeout.components.seconds))) } catch {
            throw SeedgateClientError.network(error, server: baseURL)
        }
        guard response.status == .ok else {
            let body = try? await response.body.collect(upTo: 1 << 20)
            throw SeedgateClientError.from(status: Int(response.status.code), body: body.map { Data(buffer: $0) } ?? Data(), headers: response.headers)
        }
        let total = response.headers.first(name: "Content-Length").flatMap(Int64.init)
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw SeedgateClientError(status: nil, code: "cannot_write", message: "cannot write \(path)", requestID: nil)
        }
        defer { try? handle.close() }
        var written: Int64 = 0
        do {
            for try await chunk in response.body {
                handle.write(Data(buffer: chunk))
                written += Int64(chunk.readableBytes)
                progress?(written, total)
            }
        } catch {
            throw SeedgateClientError.network(error, server: baseURL)
        }
        return written
    }

    // MARK: - Webhooks

    /// Whether a webhook delivery is Seedgate's, signed with the key's `whsec_...` secret (Standard
    /// Webhooks: HMAC-SHA256 of `<id>.<timestamp>.<body>`), and no older than `tolerance`.
    public static func verifyWebhook(
        body: String, id: String, timestamp: String, signature: String, secret: String, tolerance: Duration = .seconds(300), now: Date = Date()
    ) -> Bool {
        guard let seconds = Double(timestamp), abs(now.timeIntervalSince1970 - seconds) <= Double(tolerance.components.seconds),
              let encoded = secret.split(separator: "_", maxSplits: 1).last, let key = Data(base64Encoded: String(encoded))
        else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(id).\(timestamp).\(body)".utf8), using: SymmetricKey(data: key))
        let expected = "v1," + Data(mac).base64EncodedString()
        // Several signatures may be sent, space separated; any one that matches will do.
        return signature.split(separator: " ").contains { candidate in
            candidate.utf8.count == expected.utf8.count && zip(candidate.utf8, expected.utf8).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    // MARK: - Transport

    enum Body { case fileRegion(path: String, size: Int64) }

    struct Value {
        var data: Any
        var requestID: String?
    }

    private func send(
        _ method: HTTPMethod, _ path: String, json: Data? = nil, headers: [(String, String)] = [], retryable: Bool? = nil,
        body: (() -> Body)? = nil
    ) async throws -> Value {
        let canRetry = retryable ?? (method == .GET)
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: baseURL + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
            request.headers.add(name: "User-Agent", value: "SeedgateClient/1")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let json {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(data: json))
            } else if case .fileRegion(let file, let size)? = body?() {
                request.headers.add(name: "Content-Type", value: "application/octet-stream")
                request.body = .stream(FileChunks(path: file), length: .known(size))
            }
            let response: HTTPClientResponse
            let data: Data
            do {
                response = try await http.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
                data = Data(buffer: try await response.body.collect(upTo: 16 << 20))
            } catch {
                if canRetry, attempt < retry.maxAttempts {
                    try await Task.sleep(for: retry.delay(attempt: attempt, retryAfter: nil))
                    continue
                }
                throw SeedgateClientError.network(error, server: baseURL)
            }
            let status = Int(response.status.code)
            if (200..<300).contains(status) {
                let parsed = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
                return Value(data: parsed["data"] ?? parsed, requestID: response.headers.first(name: "X-Request-Id"))
            }
            let error = SeedgateClientError.from(status: status, body: data, headers: response.headers)
            if [429, 503].contains(status), attempt < retry.maxAttempts, error.code != "upload_quota_exceeded" {
                try await Task.sleep(for: retry.delay(attempt: attempt, retryAfter: error.retryAfter))
                continue
            }
            throw error
        }
    }

    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+?#"))) ?? value
    }
}

/// A file read a chunk at a time, for streaming an upload.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        mutating func next() async throws -> ByteBuffer? {
            guard let handle else { return nil }
            let chunk = handle.readData(ofLength: 256 * 1024)
            if chunk.isEmpty {
                try? handle.close()
                return nil
            }
            return ByteBuffer(data: chunk)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: FileHandle(forReadingAtPath: path)) }
}

/// How refused and failed requests are tried again.
public struct RetryPolicy: Sendable {
    /// Tries in all, the first included.
    public var maxAttempts: Int
    /// The first wait when the server names none; doubled each time, with up to half of it added at random.
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(30)) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public static let `default` = RetryPolicy()
    public static let none = RetryPolicy(maxAttempts: 1)

    func delay(attempt: Int, retryAfter: Int?) -> Duration {
        if let retryAfter { return min(.seconds(retryAfter), maxDelay) }
        let base = baseDelay * (1 << min(attempt - 1, 10))
        let jitter = Double.random(in: 0...0.5)
        return min(base + base * jitter, maxDelay)
    }
}
