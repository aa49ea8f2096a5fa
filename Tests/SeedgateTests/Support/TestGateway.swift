import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

/// A JSON response body, navigable without declaring types: `body["data"]["id"].string`.
struct J: @unchecked Sendable {
    // Holds only values made by JSONSerialization (dictionaries, arrays, strings, numbers, NSNull),
    // never mutated after creation.
    let value: Any?

    subscript(key: String) -> J { J(value: (value as? [String: Any])?[key]) }
    subscript(index: Int) -> J {
        guard let array = value as? [Any], array.indices.contains(index) else { return J(value: nil) }
        return J(value: array[index])
    }
    var string: String? { value as? String }
    var int: Int? { (value as? NSNumber)?.intValue }
    var bool: Bool? { (value as? NSNumber)?.boolValue }
    var array: [J] { (value as? [Any])?.map { J(value: $0) } ?? [] }
    var keys: [String] { (value as? [String: Any]).map { Array($0.keys) } ?? [] }
    var isNull: Bool { value is NSNull }
    var exists: Bool { value != nil }
}

struct Reply: Sendable {
    let status: Int
    let text: String
    let headers: HTTPFields
    var body: J { J(value: try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) }
}

/// How a test presents its key.
enum KeyHeader: Sendable { case bearer, xAPIKey, none }

/// A running Seedgate (the real `buildApplication`, on a real socket, with its own SQLite file),
/// the fixture server's base URL, and a second store connection for what an operator's CLI would do.
struct Gateway: Sendable {
    let client: any TestClientProtocol
    let store: SQLStore
    let fixtures: String
    let dataDirectory: String
    /// Where the gateway's database is, so a test can open a connection of its own later (`freshStore`).
    let configuration: SeedgateConfiguration

    /// The port the gateway listens on.
    var port: Int? { client.port }

    /// A store with connections of its own, opened now: for checks after the database server was
    /// restarted, when `store`'s pooled connections are the ones the restart cut. Close it when done.
    func freshStore() async throws -> (store: SQLStore, provider: any DatabaseProvider) {
        let provider = try await configuration.openDatabase(logger: TestSupport.logger, sqliteReaders: 1)
        return (SQLStore(provider: provider), provider)
    }

    /// A key with plenty of credits (tests of credits make their own).
    func newKey(_ name: String = "test", credits: Int64 = 100_000_000) async throws -> String {
        try await store.createKey(name: name, credits: credits).secret
    }

    func request(_ method: HTTPRequest.Method, _ uri: String, key: String?, header: KeyHeader = .bearer, json: String? = nil) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let key {
            switch header {
            case .bearer: headers[.authorization] = "Bearer \(key)"
            case .xAPIKey: headers[HTTPField.Name("x-api-key")!] = key
            case .none: break
            }
        }
        if json != nil { headers[.contentType] = "application/json" }
        let response = try await send(method, uri, headers: headers, body: json.map { ByteBuffer(string: $0) })
        return Reply(status: Int(response.status.code), text: String(buffer: response.body), headers: response.headers)
    }

    /// One request through the test client; a failure to get any answer names the request it was.
    func send(_ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields, body: ByteBuffer? = nil) async throws -> TestResponse {
        do {
            return try await client.execute(uri: uri, method: method, headers: headers, body: body)
        } catch {
            throw RequestFailed(request: "\(method) \(uri)", error: error)
        }
    }

    struct RequestFailed: Error, CustomStringConvertible {
        let request: String, error: any Error
        var description: String { "\(request): no answer: \(error)" }
    }

    func post(_ uri: String, key: String?, header: KeyHeader = .bearer, _ json: String) async throws -> Reply {
        try await request(.post, uri, key: key, header: header, json: json)
    }

    func get(_ uri: String, key: String?, header: KeyHeader = .bearer) async throws -> Reply {
        try await request(.get, uri, key: key, header: header)
    }

    /// Polls `uri` until `done` says the body is final, for at most `limit`.
    func poll(_ uri: String, key: String, header: KeyHeader = .bearer, limit: Duration = .seconds(30), until done: (J) -> Bool) async throws -> Reply {
        let deadline = ContinuousClock.now + limit
        while true {
            let reply = try await get(uri, key: key, header: header)
            if done(reply.body) || ContinuousClock.now > deadline { return reply }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Submits a generation and returns its task id (failing the test if it was refused).
    func generate(_ body: String, key: String, idempotencyKey: String? = nil) async throws -> String {
        var headers: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
        if let idempotencyKey { headers[HTTPField.Name("Idempotency-Key")!] = idempotencyKey }
        let response = try await send(.post, "/v1/videos/generations", headers: headers, body: ByteBuffer(string: body))
        return try Self.taskID(Reply(status: Int(response.status.code), text: String(buffer: response.body), headers: response.headers), for: body)
    }

    /// Submits a generation on a connection of its own (the test client's one connection answers
    /// requests in turn, each against its own 15 s: a burst sent at once through it waits in line),
    /// as many clients at once do; returns its task id.
    func generateApart(_ body: String, key: String) async throws -> String {
        let reply = try await postApart("/v1/videos/generations", key: key, contentType: "application/json", body: ByteBuffer(string: body), timeout: .seconds(60))
        return try Self.taskID(reply, for: body)
    }

    /// A generation's task id, failing the test when it was refused.
    private static func taskID(_ reply: Reply, for body: String) throws -> String {
        #expect(reply.status == 200, "\(body) -> \(reply.text)")
        return try #require(reply.body["data"][0]["task_id"].string, "\(reply.text)")
    }

    /// A POST over a connection of its own (AsyncHTTPClient's), with its own deadline, rather than
    /// through the test client's one connection.
    func postApart(_ path: String, key: String, contentType: String, body: ByteBuffer, timeout: Duration) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(try #require(port))\(path)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(body)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout.components.seconds))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        return Reply(status: Int(response.status.code), text: text, headers: [:])
    }

    /// Polls `GET /v1/tasks/{id}` until the video task is final.
    func finishedVideo(_ id: String, key: String, limit: Duration = .seconds(120)) async throws -> Reply {
        try await poll("/v1/tasks/\(id)", key: key, limit: limit) {
            ["completed", "failed", "cancelled"].contains($0["data"]["status"].string ?? "")
        }
    }

    /// Downloads a result link (an absolute URL on this gateway) through the test client.
    func download(_ url: String, headers: HTTPFields = [:], method: HTTPRequest.Method = .get) async throws -> (status: Int, headers: HTTPFields, body: Data) {
        let path = String(url[try #require(url.range(of: "/files/")).lowerBound...])
        let response = try await send(method, path, headers: headers)
        return (Int(response.status.code), response.headers, Data(buffer: response.body))
    }

    /// Polls `GET /v1/tasks/{id}` until the task leaves `processing`. The limit is generous: a review
    /// fetches and probes its files with ffprobe, which on a loaded two-core CI machine can take a while.
    func finishedTask(_ id: String, key: String, limit: Duration = .seconds(120)) async throws -> Reply {
        try await poll("/v1/tasks/\(id)", key: key, limit: limit) { $0["data"]["status"].string != "processing" }
    }

    func url(_ name: String) -> String { "\(fixtures)/f/\(name)" }
}

enum TestSupport {
    /// Waits until `condition` holds, looking every 20 ms; fails the test (by throwing) after `limit`.
    static func waitUntil(
        _ what: String, limit: Duration = .seconds(60), _ condition: @Sendable () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + limit
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw WaitTimedOut(what: what) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    struct WaitTimedOut: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting until \(what)" }
    }

    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("seedgate-test-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static var logger: Logger {
        var logger = Logger(label: "seedgate-test")
        logger.logLevel = .warning
        return logger
    }

    /// The SQLite database a server with data directory `directory` uses, opened beside it.
    static func openSQLite(in directory: String) async throws -> SQLiteProvider {
        try await SQLiteProvider.open(path: "\(directory)/seedgate.sqlite", readers: 1, logger: logger)
    }

    /// A generation request as the API would accept it from `json`.
    static func generationRequest(_ json: String, allowPrivate: Bool = false) throws -> GenerationRequest {
        try ApimartGenerationRequest.read(try JSONFields.parse(Data(json.utf8)), catalog: .builtIn, urlGuard: URLGuard(allowPrivate: allowPrivate))
    }
}

/// Runs `body` against a live Seedgate on port 0 with a fresh data directory (or the one given).
func withGateway<R: Sendable>(
    backend: Backend = .sqlite,
    allowPrivate: Bool = true,
    dataDirectory: String? = nil,
    configure: (inout SeedgateConfiguration) -> Void = { _ in },
    _ body: @Sendable (Gateway) async throws -> R
) async throws -> R {
    let fixtures = try await FixtureServer.baseURL()
    var config = SeedgateConfiguration()
    config.port = 0
    config.dataDirectory = dataDirectory ?? TestSupport.temporaryDirectory()
    config.allowPrivateURLs = allowPrivate
    // The test's own keep-alive connection may sit idle for long while a test works elsewhere (a browser,
    // a large upload through another client) on a loaded machine; the probe tests set their own.
    config.idleTimeout = .seconds(900)
    try await backend.configure(&config)
    configure(&config)
    let app = try await buildApplication(config, logger: TestSupport.logger)
    let provider = try await config.openDatabase(logger: TestSupport.logger, sqliteReaders: 1)
    // On the gateway's clock, as the operator's commands beside it would be when a test moves it.
    let store = SQLStore(provider: provider, clock: config.clock)
    let directory = config.dataDirectory, configuration = config
    do {
        let result = try await app.test(.live) { client in
            let port = client.port ?? 0
            CallbackGate.open(port)
            do {
                let result = try await body(Gateway(client: client, store: store, fixtures: fixtures, dataDirectory: directory, configuration: configuration))
                await CallbackGate.close(port)
                return result
            } catch {
                await CallbackGate.close(port)
                throw error
            }
        }
        await provider.close()
        if dataDirectory == nil { try? FileManager.default.removeItem(atPath: directory) }
        return result
    } catch {
        await provider.close()
        throw error
    }
}
