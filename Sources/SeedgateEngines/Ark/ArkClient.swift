import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SeedgateBlobs
import SeedgateDomain
import SeedgateSupport

/// Why an upstream call did not go through.
public enum ArkError: Error, Sendable, Equatable {
    /// The upstream did not take the request, as far as the answer shows: no connection, a timeout, a
    /// 5xx or a 429. The same request may go to another channel, though after a timeout upstream may
    /// have taken it all the same (README, Upstream channels). `rateLimited` means slow down.
    case unavailable(String, rateLimited: Bool = false, retryAfter: Int? = nil)
    /// The upstream refused the request itself (4xx): trying elsewhere will not help.
    case rejected(status: Int, code: String, message: String)

    public var description: String {
        switch self {
        case .unavailable(let reason, _, _): reason
        case .rejected(let status, let code, let message): "HTTP \(status) \(code): \(message)"
        }
    }
}

/// An upstream task as Ark's GET, list and callback bodies describe it (upstream.md section 1).
public struct ArkTask: Sendable, Equatable {
    public var id: String
    public var status: String
    public var videoURL: String?
    public var lastFrameURL: String?
    public var completionTokens: Int64?
    public var totalTokens: Int64?
    public var errorCode: String?
    public var errorMessage: String?

    public init(json: JSONValue) throws(ArkError) {
        guard let id = json["id"]?.stringValue, let status = json["status"]?.stringValue else {
            throw .unavailable("upstream task body has no id or status")
        }
        self.id = id
        self.status = status
        videoURL = json["content"]?["video_url"]?.stringValue
        lastFrameURL = json["content"]?["last_frame_url"]?.stringValue
        completionTokens = json["usage"]?["completion_tokens"]?.int64Value
        totalTokens = json["usage"]?["total_tokens"]?.int64Value
        errorCode = json["error"]?["code"]?.stringValue
        errorMessage = json["error"]?["message"]?.stringValue
    }
}

/// Ark's video task API and asset library actions for one channel, over async-http-client.
public struct ArkClient: Sendable {
    package let channel: Channel
    package let http: HTTPClient
    package var timeout: TimeAmount
    /// Every call is counted by channel, operation and outcome, and timed.
    package let telemetry: Telemetry

    public init(channel: Channel, http: HTTPClient, timeout: Duration = .seconds(30), telemetry: Telemetry = .disabled) {
        self.channel = channel
        self.http = http
        self.timeout = .milliseconds(timeout.milliseconds)
        self.telemetry = telemetry
    }

    // MARK: Tasks

    /// `POST /contents/generations/tasks`: the upstream task id.
    public func createTask(_ body: JSONOut) async throws(ArkError) -> String {
        let json = try await call(.POST, "/contents/generations/tasks", body: body.serialized(), operation: "create")
        guard let id = json["id"]?.stringValue, !id.isEmpty else { throw .unavailable("upstream accepted the task but sent no id") }
        return id
    }

    public func task(id: String) async throws(ArkError) -> ArkTask {
        try ArkTask(json: try await call(.GET, "/contents/generations/tasks/\(SigV4Signer.encode(id))", operation: "get"))
    }

    /// Up to `ids.count` tasks in one call, through the list endpoint's `filter.task_ids`.
    public func tasks(ids: [String]) async throws(ArkError) -> [ArkTask] {
        var query = "page_num=1&page_size=\(max(1, ids.count))"
        for id in ids { query += "&filter.task_ids=\(SigV4Signer.encode(id))" }
        let json = try await call(.GET, "/contents/generations/tasks?\(query)", operation: "list")
        var tasks: [ArkTask] = []
        for item in json["items"]?.arrayValue ?? [] { tasks.append(try ArkTask(json: item)) }
        return tasks
    }

    /// `DELETE /contents/generations/tasks/{id}`: cancels a queued task.
    public func cancelTask(id: String) async throws(ArkError) {
        _ = try await call(.DELETE, "/contents/generations/tasks/\(SigV4Signer.encode(id))", operation: "cancel")
    }

    private func call(_ method: HTTPMethod, _ path: String, body: String? = nil, operation: String) async throws(ArkError) -> JSONValue {
        var request = HTTPClientRequest(url: channel.baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(channel.apiKey)")
        request.headers.add(name: "User-Agent", value: "Seedgate/1")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let (status, json, retryAfter) = try await send(request, operation: operation)
        if (200..<300).contains(status) { return json }
        let code = json["error"]?["code"]?.stringValue ?? "HTTP\(status)"
        let message = json["error"]?["message"]?.stringValue ?? "upstream answered HTTP \(status)"
        if status == 429 || status >= 500 {
            throw .unavailable("\(channel.name): HTTP \(status) \(code): \(message)", rateLimited: status == 429, retryAfter: retryAfter)
        }
        throw .rejected(status: status, code: code, message: message)
    }

    // MARK: Asset library (OpenAPI, signed)

    /// One OpenAPI action, e.g. `CreateAsset`; returns its `Result`.
    public func assetAction(_ action: String, _ body: JSONOut, now: Date = Date()) async throws(ArkError) -> JSONValue {
        guard let assets = channel.assets, let base = URL(string: assets.openapiURL), let hostHeader = base.hostHeader else {
            throw .rejected(status: 0, code: "NoAssetCredentials", message: "channel \(channel.name) has no asset library credentials")
        }
        let data = Data(body.serialized().utf8)
        let signer = SigV4Signer(
            credentials: .init(accessKeyID: assets.accessKey, secretAccessKey: assets.secretKey), region: assets.region,
            service: "ark", scheme: .volcengine
        )
        let signed = signer.sign(.init(
            method: "POST", path: base.path.isEmpty ? "/" : base.path, query: [("Action", action), ("Version", "2024-01-01")],
            headers: ["content-type": "application/json", "host": hostHeader], payloadHash: SigV4Signer.payloadHash(data)
        ), at: now)
        var request = HTTPClientRequest(url: "\(assets.openapiURL)\(base.path.isEmpty ? "/" : "")?Action=\(action)&Version=2024-01-01")
        request.method = .POST
        // Host is async-http-client's to send; it is the value signed above.
        for (name, value) in signed where name != "host" { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(data: data))
        let (status, json, retryAfter) = try await send(request, operation: action)
        let error = json["ResponseMetadata"]?["Error"]
        let code = error?["Code"]?.stringValue
        if (200..<300).contains(status) && code == nil {
            return json["Result"] ?? .null
        }
        let message = error?["Message"]?.stringValue ?? "upstream answered HTTP \(status)"
        if status == 429 || status >= 500 || code == "RateLimitExceeded" {
            throw .unavailable("\(channel.name): \(action): HTTP \(status) \(code ?? ""): \(message)", rateLimited: status == 429 || code == "RateLimitExceeded", retryAfter: retryAfter)
        }
        throw .rejected(status: status, code: code ?? "HTTP\(status)", message: message)
    }

    // MARK: Transport

    private func send(_ request: HTTPClientRequest, operation: String) async throws(ArkError) -> (Int, JSONValue, Int?) {
        let response: HTTPClientResponse
        let body: ByteBuffer
        let started = ContinuousClock.now
        let dimensions = [("channel", channel.name), ("operation", operation)]
        do {
            response = try await http.execute(request, timeout: timeout)
            body = try await response.body.collect(upTo: 4 << 20)
        } catch {
            telemetry.count("seedgate_upstream_calls_total", dimensions + [("outcome", "unreachable")])
            telemetry.time("seedgate_upstream_call_duration_seconds", dimensions, ContinuousClock.now - started)
            throw .unavailable("\(channel.name): \(MediaFetcher.describe(error))")
        }
        let status = Int(response.status.code)
        let outcome = (200..<300).contains(status) ? "ok" : status == 429 ? "rate_limited" : status >= 500 ? "server_error" : "rejected"
        telemetry.count("seedgate_upstream_calls_total", dimensions + [("outcome", outcome)])
        telemetry.time("seedgate_upstream_call_duration_seconds", dimensions, ContinuousClock.now - started)
        let json = (try? JSONValue.parse(Data(buffer: body))) ?? .null
        let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init)
        return (status, json, retryAfter)
    }
}
