import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Synchronization

/// An Ark account on loopback that speaks the documented protocol (upstream.md sections 1 and 2):
/// the video task API behind a bearer key, the asset library behind HMAC-SHA256 request signing
/// (checked exactly: a wrong signature is refused), tasks that move queued -> running -> final over
/// time and call their `callback_url` at each change (terminal ones retried 3 times), and results
/// served as real MP4 files. Tests can make it fail the ways upstream does.
final class FakeArk: Sendable {
    /// How the account answers a kind of call.
    enum Answer: Sendable, Equatable {
        case normal
        /// HTTP 500, as an outage.
        case serverError
        /// HTTP 429 with Retry-After.
        case rateLimited
        /// Accepts the connection and never answers (the caller times out); nothing is created.
        case hang
        /// HTTP 403 AccountOverdueError: the account is refused, whatever the call.
        case accountOverdue
        /// The answer starts, then the connection is cut (nothing was done).
        case reset
        /// Answers only after 3 s, past a caller's time limit (nothing was done).
        case slow
    }

    /// The faults drawn at random for a share of calls (`Behaviour.faultRate`).
    static let faults: [Answer] = [.serverError, .rateLimited, .reset, .slow]

    /// How tasks created from now on end.
    enum Outcome: Sendable, Equatable {
        case succeed
        case fail(code: String, message: String)
        case expire
    }

    struct Behaviour: Sendable {
        var submissions: Answer = .normal
        var queries: Answer = .normal
        var assetCalls: Answer = .normal
        /// How the result file links (the 24 h TOS links) answer.
        var results: Answer = .normal
        var outcome: Outcome = .succeed
        var queueTime: Duration = .milliseconds(300)
        var runTime: Duration = .milliseconds(700)
        var assetReviewTime: Duration = .milliseconds(300)
        /// How long a liveness session's link lives before upstream calls it expired.
        var livenessLifetime: Duration = .seconds(120)
        /// The share of creates, status reads and result downloads that fail in one of the ways upstream
        /// does (a result download is then cut off half way, or refused), before anything is done.
        var faultRate = 0.0
        /// The share of callbacks that are dropped, and as many again that are sent twice.
        var callbackFaultRate = 0.0
        /// How long a create takes to be answered (a slow account, or a far one); with `createsTogether`,
        /// at most that long: a create is answered as soon as that many are being answered at once.
        var createTime: Duration = .zero
        var createsTogether = 0
    }

    struct FakeTask: Sendable {
        var id: String
        var model: String
        var status: String
        var body: String
        var callbackURL: String?
        var returnLastFrame: Bool
        var error: (code: String, message: String)?
        var created: Int
        var updated: Int
    }

    struct FakeAsset: Sendable {
        var id: String
        var groupID: String
        var url: String
        var type: String
        var name: String
        var created: Date
        var fails: Bool
    }

    private struct State: Sendable {
        var port = 0
        var behaviour = Behaviour()
        var tasks: [String: FakeTask] = [:]
        var groups: [String: String] = [:]
        var assets: [String: FakeAsset] = [:]
        /// Liveness sessions by token: when made, and how the person finished (nil: not yet).
        var liveness: [String: (created: Date, passed: Bool?, group: String?)] = [:]
        /// Every asset-library action received, in order.
        var actions: [String] = []
        /// Every create the account accepted, as the raw body.
        var accepted: [String] = []
        var signatureFailures = 0
        /// Task ids of every DELETE received.
        var deletes: [String] = []
        var callbacks: [(task: String, status: String, answered: Int)] = []
        /// Calls received, answered or not: creates, and status reads (one task or a list).
        var creates = 0
        var queries = 0
        /// Creates being answered now, and the most there were at once.
        var createsNow = 0
        var mostCreatesAtOnce = 0
        /// Tasks asked about: one per GET, each id of a list call.
        var checked = 0
        /// Faults injected at random, by kind.
        var faults: [String: Int] = [:]
        /// Asset-library calls refused as from an overdue account.
        var refusedAssetCalls = 0
    }

    let apiKey = "ark-" + Identifiers.random(24)
    let accessKey = "AKLT" + Identifiers.random(20)
    let secretKey = Identifiers.random(32)
    let region = "cn-beijing"
    static let models = ["doubao-seedance-2-0-260128", "doubao-seedance-2-0-fast-260128"]
    private let state = Mutex(State())
    private let resultVideo: String
    private let resultFrame: String

    private init(resultVideo: String, resultFrame: String) {
        self.resultVideo = resultVideo
        self.resultFrame = resultFrame
    }

    /// Starts an account on a free loopback port.
    static func start(_ behaviour: Behaviour = Behaviour()) async throws -> FakeArk {
        let directory = try await MediaFixtures.prepare()
        let fake = FakeArk(resultVideo: "\(directory)/result.mp4", resultFrame: "\(directory)/good.png")
        fake.state.withLock { $0.behaviour = behaviour }
        let app = Application(
            router: fake.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in fake.state.withLock { $0.port = channel.localAddress?.port ?? 0 } }
        )
        Task.detached { try await app.run() }
        for _ in 0..<200 where fake.port == 0 { try await Task.sleep(for: .milliseconds(10)) }
        return fake
    }

    var port: Int { state.withLock { $0.port } }
    var baseURL: String { "http://127.0.0.1:\(port)/api/v3" }
    var openapiURL: String { "http://127.0.0.1:\(port)" }
    var accepted: [String] { state.withLock { $0.accepted } }
    var tasks: [FakeTask] { state.withLock { Array($0.tasks.values) } }
    var assets: [FakeAsset] { state.withLock { Array($0.assets.values) } }
    var groups: [String] { state.withLock { Array($0.groups.keys) } }
    var signatureFailures: Int { state.withLock { $0.signatureFailures } }
    var deletes: [String] { state.withLock { $0.deletes } }
    var callbacks: [(task: String, status: String, answered: Int)] { state.withLock { $0.callbacks } }
    var creates: Int { state.withLock { $0.creates } }
    var mostCreatesAtOnce: Int { state.withLock { $0.mostCreatesAtOnce } }
    var faultsInjected: [String: Int] { state.withLock { $0.faults } }
    var refusedAssetCalls: Int { state.withLock { $0.refusedAssetCalls } }
    var actions: [String] { state.withLock { $0.actions } }
    /// The `LivenessFace` groups made by passed checks.
    var livenessGroups: [String] { state.withLock { $0.liveness.values.compactMap(\.group) } }

    /// The answer for a call: the behaviour's own, or now and then a random fault.
    private func answer(_ kind: String, _ configured: Answer) -> Answer {
        state.withLock { state in
            guard configured == .normal, state.behaviour.faultRate > 0, Double.random(in: 0..<1) < state.behaviour.faultRate,
                  let fault = Self.faults.randomElement()
            else { return configured }
            state.faults["\(kind) \(fault)", default: 0] += 1
            return fault
        }
    }
    var queries: Int { state.withLock { $0.queries } }
    var checked: Int { state.withLock { $0.checked } }

    func update(_ change: (inout Behaviour) -> Void) { state.withLock { change(&$0.behaviour) } }

    /// This account as one entry of a channels file.
    func channel(name: String, priority: Int = 1, weight: Int = 1, maxInFlight: Int = 100, secretKey: String? = nil,
                 models: [String: String] = ["doubao-seedance-2.0": models[0], "doubao-seedance-2.0-fast": models[1]]) -> String {
        let modelJSON = models.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        return """
        {"name": "\(name)", "type": "ark", "base_url": "\(baseURL)", "api_key": "\(apiKey)",
         "openapi_url": "\(openapiURL)", "access_key": "\(accessKey)", "secret_key": "\(secretKey ?? self.secretKey)",
         "region": "\(region)", "project_name": "default", "models": {\(modelJSON)},
         "priority": \(priority), "weight": \(weight), "max_in_flight": \(maxInFlight)}
        """
    }

    // MARK: - Routes

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("api/v3/contents/generations/tasks") { request, _ in try await self.create(request) }
        router.get("api/v3/contents/generations/tasks") { request, _ in try await self.list(request) }
        router.get("api/v3/contents/generations/tasks/:id") { request, context in
            try await self.get(request, id: try context.parameters.require("id"))
        }
        router.delete("api/v3/contents/generations/tasks/:id") { request, context in
            try await self.delete(request, id: try context.parameters.require("id"))
        }
        router.post("/") { request, _ in try await self.openAPI(request) }
        // Upstream's H5 page, as the person's phone would finish it: `?outcome=pass` or `fail`.
        router.get("h5/:token") { request, context in
            let token = try context.parameters.require("token")
            let passed = request.uri.queryParameters.get("outcome") == "pass"
            let known = self.state.withLock { state -> Bool in
                guard state.liveness[token] != nil else { return false }
                state.liveness[token]?.passed = passed
                return true
            }
            return Response(status: known ? .ok : .notFound)
        }
        router.get("results/:name") { _, context in
            let configured = self.answer("result", self.state.withLock { $0.behaviour.results })
            let name = try context.parameters.require("name")
            let path = name.hasSuffix(".png") ? self.resultFrame : self.resultVideo
            guard let data = FileManager.default.contents(atPath: path) else { return Response(status: .notFound) }
            if configured == .reset {
                // Cut off half way through the file.
                return Response(status: .ok, headers: [.contentType: "video/mp4", .contentLength: String(data.count)], body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(bytes: data.prefix(data.count / 2)))
                    throw FixtureError("download cut off")
                })
            }
            if let failure = try await self.failure(configured) { return failure }
            return Response(status: .ok, headers: [.contentType: name.hasSuffix(".png") ? "image/png" : "video/mp4"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        return router
    }

    private static func json(_ status: Int, _ body: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static func error(_ status: Int, _ code: String, _ message: String) -> Response {
        json(status, JSONOut.obj(["error": .obj(["code": .string(code), "message": .string(message), "type": "BadRequest"])]).serialized(),
             headers: status == 429 ? [.retryAfter: "1"] : [:])
    }

    /// Applies a failure answer; nil means answer normally.
    private func failure(_ answer: Answer) async throws -> Response? {
        switch answer {
        case .normal: return nil
        case .serverError: return Self.error(500, "InternalServiceError", "the service encountered an unexpected error")
        case .rateLimited: return Self.error(429, "RateLimitExceeded.EndpointRPMExceeded", "too many requests")
        case .hang:
            try await Task.sleep(for: .seconds(60))
            return Self.error(504, "Timeout", "gave up")
        case .accountOverdue: return Self.error(403, "AccountOverdueError", "the account has an overdue balance")
        case .reset:
            return Response(status: .ok, headers: [.contentType: "application/json", .contentLength: "64"], body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "{\"id\":"))
                throw FixtureError("connection cut")
            })
        case .slow:
            try await Task.sleep(for: .seconds(3))
            return Self.error(504, "Timeout", "too slow")
        }
    }

    private func authorized(_ request: Request) -> Bool {
        request.headers[.authorization] == "Bearer \(apiKey)"
    }

    // MARK: Tasks

    private func create(_ request: Request) async throws -> Response {
        guard authorized(request) else { return Self.error(401, "AuthenticationError", "the API key is missing or invalid") }
        let (submissions, createTime, together) = state.withLock { state in
            state.creates += 1
            state.createsNow += 1
            state.mostCreatesAtOnce = max(state.mostCreatesAtOnce, state.createsNow)
            return (state.behaviour.submissions, state.behaviour.createTime, state.behaviour.createsTogether)
        }
        defer { state.withLock { $0.createsNow -= 1 } }
        let answerBy = ContinuousClock.now + createTime
        while ContinuousClock.now < answerBy {
            if together > 0 && state.withLock({ $0.mostCreatesAtOnce >= together }) { break }
            try await Task.sleep(for: .milliseconds(together > 0 ? 10 : 50))
        }
        if let failure = try await failure(answer("create", submissions)) { return failure }
        let text = String(buffer: try await request.body.collect(upTo: 1 << 20))
        guard case .object(let body)? = try? JSONValue.parse(Data(text.utf8)) else {
            return Self.error(400, "InvalidParameter", "the request body is not a JSON object")
        }
        guard let model = body["model"]?.stringValue, Self.models.contains(model) else {
            return Self.error(404, "InvalidEndpointOrModel.NotFound", "the model or endpoint does not exist or you do not have access to it")
        }
        guard case .array(let content)? = body["content"], !content.isEmpty else {
            return Self.error(400, "InvalidParameter", "content: must be a non-empty array")
        }
        let roles = ["image_url": ["first_frame", "last_frame", "reference_image"], "video_url": ["reference_video"], "audio_url": ["reference_audio"]]
        for item in content {
            guard let type = item["type"]?.stringValue else { return Self.error(400, "InvalidParameter", "content: item without type") }
            if type == "text" { continue }
            guard let allowed = roles[type], let url = item[type]?["url"]?.stringValue,
                  let role = item["role"]?.stringValue, allowed.contains(role)
            else { return Self.error(400, "InvalidParameter", "content: malformed \(type) item") }
            if url.hasPrefix("asset://") {
                let id = String(url.dropFirst(8))
                let asset = state.withLock { $0.assets[id] }
                let active = asset.map { !reviewing($0) && !$0.fails } ?? false
                guard active else { return Self.error(400, "InvalidParameter", "content: asset \(id) does not exist in this account or is not active") }
            }
        }
        if let resolution = body["resolution"]?.stringValue, !["480p", "720p", "1080p"].contains(resolution) {
            return Self.error(400, "InvalidParameter", "resolution: \(resolution) is not supported")
        }
        if let ratio = body["ratio"]?.stringValue, !["16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"].contains(ratio) {
            return Self.error(400, "InvalidParameter", "ratio: \(ratio) is not supported")
        }
        if let duration = body["duration"]?.int64Value, !(4...15).contains(duration) && duration != -1 {
            return Self.error(400, "InvalidParameter", "duration: must be 4 to 15 or -1")
        }
        let now = Int(Date().timeIntervalSince1970)
        let id = "cgt-\(SigV4Signer.timestamp(Date()).filter(\.isNumber))-\(Identifiers.random(5).lowercased())"
        let returnLastFrame: Bool = if case .bool(true)? = body["return_last_frame"] { true } else { false }
        let task = FakeTask(id: id, model: model, status: "queued", body: text, callbackURL: body["callback_url"]?.stringValue,
                            returnLastFrame: returnLastFrame, error: nil, created: now, updated: now)
        let behaviour = state.withLock { state in
            state.tasks[id] = task
            state.accepted.append(text)
            return state.behaviour
        }
        Task.detached { await self.run(id, behaviour) }
        return Self.json(200, "{\"id\":\"\(id)\"}")
    }

    /// Moves a task through its states, calling back at each change.
    private func run(_ id: String, _ behaviour: Behaviour) async {
        try? await Task.sleep(for: behaviour.queueTime)
        if behaviour.outcome == .expire {
            try? await Task.sleep(for: behaviour.runTime)
            await move(id, to: "expired", from: "queued")
            return
        }
        guard await move(id, to: "running", from: "queued") else { return }
        try? await Task.sleep(for: behaviour.runTime)
        switch behaviour.outcome {
        case .succeed: await move(id, to: "succeeded", from: "running")
        case .fail(let code, let message): await move(id, to: "failed", from: "running", error: (code, message))
        case .expire: break
        }
    }

    @discardableResult
    private func move(_ id: String, to status: String, from expected: String, error: (String, String)? = nil) async -> Bool {
        let task: FakeTask? = state.withLock { state in
            guard var task = state.tasks[id], task.status == expected else { return nil }
            task.status = status
            task.error = error
            task.updated = Int(Date().timeIntervalSince1970)
            state.tasks[id] = task
            return task
        }
        guard let task else { return false }
        if let callback = task.callbackURL { await call(callback, task) }
        return true
    }

    /// POSTs the task's GET body to its callback; terminal states are retried 3 times if not acknowledged.
    private func call(_ url: String, _ task: FakeTask) async {
        let final = ["succeeded", "failed", "expired", "cancelled"].contains(task.status)
        let fault: String? = state.withLock { state in
            let rate = state.behaviour.callbackFaultRate
            let draw = Double.random(in: 0..<1)
            let fault: String? = draw < rate ? "callback dropped" : draw < 2 * rate ? "callback twice" : nil
            if let fault { state.faults[fault, default: 0] += 1 }
            return fault
        }
        if fault == "callback dropped" { return }
        if fault == "callback twice" { await send(url, task, final: final) }
        await send(url, task, final: final)
    }

    private func send(_ url: String, _ task: FakeTask, final: Bool) async {
        let port = URLComponents(string: url)?.port ?? 0
        for _ in 0..<(final ? 4 : 1) {
            // Not to a gateway whose test has ended (it may be shutting down).
            guard CallbackGate.begin(port) else { return }
            defer { CallbackGate.end(port) }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: view(task).serialized()))
            let status = (try? await HTTPClient.shared.execute(request, timeout: .seconds(5)))?.status.code ?? 0
            state.withLock { $0.callbacks.append((task.id, task.status, Int(status))) }
            if (200..<300).contains(status) { return }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private func view(_ task: FakeTask) -> JSONOut {
        let succeeded = task.status == "succeeded"
        return .obj([
            "id": .string(task.id),
            "model": .string(task.model),
            "status": .string(task.status),
            "content": succeeded ? .obj([
                "video_url": .string("http://127.0.0.1:\(port)/results/\(task.id).mp4?X-Tos-Expires=86400"),
                "last_frame_url": task.returnLastFrame ? .string("http://127.0.0.1:\(port)/results/\(task.id).png") : nil,
            ]) : .null,
            "usage": succeeded ? .obj(["completion_tokens": 108_900, "total_tokens": 108_900]) : nil,
            "created_at": .int(task.created),
            "updated_at": .int(task.updated),
            "error": task.error.map { .obj(["code": .string($0.code), "message": .string($0.message)]) } ?? .null,
        ])
    }

    private func get(_ request: Request, id: String) async throws -> Response {
        guard authorized(request) else { return Self.error(401, "AuthenticationError", "the API key is missing or invalid") }
        if let failure = try await failure(answer("query", state.withLock { state in
            state.queries += 1
            state.checked += 1
            return state.behaviour.queries
        })) { return failure }
        guard let task = state.withLock({ $0.tasks[id] }) else { return Self.error(404, "ResourceNotFound", "task \(id) does not exist") }
        return Self.json(200, view(task).serialized())
    }

    private func list(_ request: Request) async throws -> Response {
        guard authorized(request) else { return Self.error(401, "AuthenticationError", "the API key is missing or invalid") }
        let ids = request.uri.queryParameters.getAll("filter.task_ids").map { String($0) }
        if let failure = try await failure(answer("query", state.withLock { state in
            state.queries += 1
            state.checked += ids.count
            return state.behaviour.queries
        })) { return failure }
        let size = request.uri.queryParameters.get("page_size").flatMap(Int.init) ?? 10
        let tasks = state.withLock { state in
            (ids.isEmpty ? Array(state.tasks.values) : ids.compactMap { state.tasks[$0] }).sorted { $0.id < $1.id }
        }
        return Self.json(200, JSONOut.obj(["total": .int(tasks.count), "items": .array(tasks.prefix(size).map(view))]).serialized())
    }

    private func delete(_ request: Request, id: String) async throws -> Response {
        guard authorized(request) else { return Self.error(401, "AuthenticationError", "the API key is missing or invalid") }
        if let failure = try await failure(state.withLock { $0.behaviour.queries }) { return failure }
        let outcome: Int = state.withLock { state in
            state.deletes.append(id)
            guard var task = state.tasks[id] else { return 404 }
            switch task.status {
            case "queued":
                task.status = "cancelled"
                state.tasks[id] = task
                return 200
            case "running": return 400
            default:
                state.tasks[id] = nil
                return 200
            }
        }
        switch outcome {
        case 404: return Self.error(404, "ResourceNotFound", "task \(id) does not exist")
        case 400: return Self.error(400, "InvalidAction", "a running task cannot be cancelled")
        default: return Self.json(200, "{}")
        }
    }

    // MARK: Asset library (OpenAPI)

    private func reviewing(_ asset: FakeAsset) -> Bool {
        Date().timeIntervalSince(asset.created) < state.withLock { $0.behaviour.assetReviewTime }.seconds
    }

    private static func openAPI(_ action: String, status: Int = 200, error: (String, String)? = nil, result: JSONOut? = nil) -> Response {
        json(status, JSONOut.obj([
            "ResponseMetadata": .obj([
                "RequestId": .string(Identifiers.random(16)), "Action": .string(action), "Version": "2024-01-01",
                "Error": error.map { .obj(["Code": .string($0.0), "Message": .string($0.1)]) },
            ]),
            "Result": result,
        ]).serialized())
    }

    private func openAPI(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let action = query.get("Action").map { String($0) } ?? ""
        let data = Data(buffer: try await request.body.collect(upTo: 1 << 20))
        if let problem = verifySignature(request, body: data) {
            state.withLock { $0.signatureFailures += 1 }
            return Self.openAPI(action, status: 401, error: ("SignatureDoesNotMatch", problem))
        }
        switch state.withLock({ $0.behaviour.assetCalls }) {
        case .normal: break
        case .serverError: return Self.openAPI(action, status: 500, error: ("InternalError", "the service encountered an unexpected error"))
        case .rateLimited: return Self.openAPI(action, status: 429, error: ("RateLimitExceeded", "too many requests"))
        case .hang: try await Task.sleep(for: .seconds(60))
        case .accountOverdue:
            state.withLock { $0.refusedAssetCalls += 1 }
            return Self.openAPI(action, status: 403, error: ("AccountOverdueError", "the account has an overdue balance"))
        case .reset, .slow: if let failure = try await failure(state.withLock { $0.behaviour.assetCalls }) { return failure }
        }
        guard case .object(let body)? = try? JSONValue.parse(data) else {
            return Self.openAPI(action, status: 400, error: ("InvalidParameter", "the body is not a JSON object"))
        }
        let now = Date()
        state.withLock { $0.actions.append(action) }
        switch action {
        case "CreateVisualValidateSession":
            let token = "bt-" + Identifiers.random(24)
            state.withLock { $0.liveness[token] = (now, nil, nil) }
            return Self.openAPI(action, result: .obj(["BytedToken": .string(token), "H5Link": .string("\(openapiURL)/h5/\(token)")]))
        case "GetVisualValidateResult":
            guard let token = body["BytedToken"]?.stringValue, let session = state.withLock({ $0.liveness[token] }) else {
                return Self.openAPI(action, status: 404, error: ("NotFound", "no liveness session has this BytedToken"))
            }
            switch session.passed {
            case true?:
                let group = state.withLock { state -> String in
                    if let group = state.liveness[token]?.group { return group }
                    let id = "group-\(SigV4Signer.timestamp(now).filter(\.isNumber))-\(Identifiers.random(5).lowercased())"
                    state.groups[id] = "liveness"
                    state.liveness[token]?.group = id
                    return id
                }
                return Self.openAPI(action, result: .obj(["GroupId": .string(group), "GroupType": "LivenessFace", "Status": "Success"]))
            case false?:
                return Self.openAPI(action, result: .obj([
                    "Status": "Failed", "Error": .obj(["Code": "LivenessCheckFailed", "Message": "the face was not a live person"]),
                ]))
            case nil:
                if now.timeIntervalSince(session.created) > state.withLock({ $0.behaviour.livenessLifetime }).seconds {
                    return Self.openAPI(action, status: 400, error: ("BytedTokenExpired", "the liveness session expired before it was finished"))
                }
                return Self.openAPI(action, result: .obj(["Status": "Processing"]))
            }
        case "CreateAssetGroup":
            guard let name = body["Name"]?.stringValue, !name.isEmpty, name.count <= 64 else {
                return Self.openAPI(action, status: 400, error: ("InvalidParameter", "Name must be 1 to 64 characters"))
            }
            let id = "group-\(SigV4Signer.timestamp(now).filter(\.isNumber))-\(Identifiers.random(5).lowercased())"
            state.withLock { $0.groups[id] = name }
            return Self.openAPI(action, result: .obj(["Id": .string(id)]))
        case "CreateAsset":
            guard let group = body["GroupId"]?.stringValue, state.withLock({ $0.groups[group] != nil }) else {
                return Self.openAPI(action, status: 400, error: ("InvalidParameter.GroupId", "the group does not exist in this account"))
            }
            guard let url = body["URL"]?.stringValue, url.hasPrefix("http"), let type = body["AssetType"]?.stringValue,
                  ["Image", "Video", "Audio"].contains(type)
            else { return Self.openAPI(action, status: 400, error: ("InvalidParameter", "URL and AssetType (Image, Video, Audio) are required")) }
            let id = "asset-\(SigV4Signer.timestamp(now).filter(\.isNumber))-\(Identifiers.random(5).lowercased())"
            let asset = FakeAsset(id: id, groupID: group, url: url, type: type, name: body["Name"]?.stringValue ?? "", created: now,
                                  fails: url.contains("reject"))
            state.withLock { $0.assets[id] = asset }
            return Self.openAPI(action, result: .obj(["Id": .string(id)]))
        case "GetAsset":
            guard let id = body["Id"]?.stringValue, let asset = state.withLock({ $0.assets[id] }) else {
                return Self.openAPI(action, status: 404, error: ("NotFound", "the asset does not exist"))
            }
            let status = reviewing(asset) ? "Processing" : asset.fails ? "Failed" : "Active"
            return Self.openAPI(action, result: .obj([
                "Id": .string(asset.id), "Name": .string(asset.name), "URL": .string(asset.url), "AssetType": .string(asset.type),
                "GroupId": .string(asset.groupID), "Status": .string(status),
                "Error": status == "Failed" ? .obj(["Code": "InputImageSensitiveContentDetected.PrivacyInformation",
                                                    "Message": "the input may contain private information"]) : nil,
                "CreateTime": .string(ISO8601DateFormatter().string(from: asset.created)),
                "UpdateTime": .string(ISO8601DateFormatter().string(from: now)),
            ]))
        case "ListAssetGroups":
            let items = state.withLock { $0.groups.map { JSONOut.obj(["Id": .string($0.key), "Name": .string($0.value)]) } }
            return Self.openAPI(action, result: .obj(["Items": .array(items), "TotalCount": .int(items.count), "PageNumber": 1, "PageSize": 10]))
        default:
            return Self.openAPI(action, status: 400, error: ("InvalidAction", "unknown action \(action)"))
        }
    }

    /// Recomputes the request's signature from what was received; nil when it matches.
    private func verifySignature(_ request: Request, body: Data) -> String? {
        func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { request.headers[$0] } }
        guard let authorization = header("Authorization"), let date = header("X-Date"), let bodyHash = header("X-Content-Sha256"),
              let host = request.head.authority ?? header("Host"), let contentType = header("Content-Type")
        else { return "missing Authorization, X-Date, X-Content-Sha256, Host or Content-Type" }
        guard bodyHash == SHA256.hash(data: body).hexString else { return "X-Content-Sha256 does not match the body" }
        let prefix = "HMAC-SHA256 Credential=\(accessKey)/\(date.prefix(8))/\(region)/ark/request, SignedHeaders=content-type;host;x-content-sha256;x-date, Signature="
        guard authorization.hasPrefix(prefix) else { return "unknown access key or malformed credential scope" }
        let query = request.uri.queryParameters.map { (name: String($0.key), value: String($0.value)) }
        let signer = SigV4Signer(credentials: .init(accessKeyID: accessKey, secretAccessKey: secretKey), region: region, service: "ark", scheme: .volcengine)
        let expected = signer.signature(.init(
            method: request.method.rawValue, path: request.uri.path, query: query,
            headers: ["content-type": contentType, "host": host, "x-content-sha256": bodyHash, "x-date": date], payloadHash: bodyHash
        ), timestamp: date)
        return String(authorization.dropFirst(prefix.count)) == expected ? nil : "the request signature does not match"
    }
}
