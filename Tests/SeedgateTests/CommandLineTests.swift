import AsyncHTTPClient
import Foundation
import NIOCore
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

@Suite("the seedgate command")
struct CommandLineTests {
    /// The `seedgate` binary that `swift test` built beside the test bundle.
    static func binary() throws -> String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("seedgate").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/seedgate"
        guard FileManager.default.isExecutableFile(atPath: fallback) else { throw FixtureError("seedgate binary not found; run swift build first") }
        return fallback
    }

    static func run(_ arguments: [String]) async throws -> (status: Int32, stdout: String) {
        let output = try await ProcessRunner.run(try binary(), arguments, timeout: .seconds(60))
        return (output.status, String(decoding: output.stdout, as: UTF8.self))
    }

    @Test("keys create / list / revoke work while a server runs on the same data dir")
    func keysWhileServing() async throws {
        let directory = TestSupport.temporaryDirectory()
        try await withGateway(dataDirectory: directory) { gw in
            let created = try await Self.run(["keys", "create", "--data-dir", directory, "--name", "cli"])
            #expect(created.status == 0)
            let secret = try #require(created.stdout.split(separator: "\n").last.map(String.init))
            #expect(secret.hasPrefix("sk-sg-"))
            let use = try await gw.post("/v1/seedance2/private-avatar", key: secret, #"{"group": {"name": "g"}, "url": "\#(gw.url("good.png"))"}"#)
            #expect(use.status == 200)

            let listed = try await Self.run(["keys", "list", "--data-dir", directory])
            #expect(listed.stdout.contains("\tcli\t"))
            #expect(!listed.stdout.contains(secret))
            let id = try #require(listed.stdout.split(separator: "\n").first { $0.contains("\tcli\t") }?.split(separator: "\t").first.map(String.init))

            let revoked = try await Self.run(["keys", "revoke", "--data-dir", directory, id])
            #expect(revoked.status == 0)
            #expect(try await gw.get("/v1/tasks/task_x", key: secret).status == 401)
            let again = try await Self.run(["keys", "revoke", "--data-dir", directory, id])
            #expect(again.status != 0)
        }
    }

    @Test("serve prints a first key with a working curl example, once")
    func firstKeyAnnounced() async throws {
        let directory = TestSupport.temporaryDirectory()
        let server = try ServerProcess(directory: directory, allowPrivate: false)
        let text = await server.read(until: "poll the task id")
        let secret = try #require(text.firstMatch(of: #/sk-sg-[a-z0-9]{40}/#).map { String($0.output) })
        #expect(text.contains("-H 'Authorization: Bearer \(secret)'"))
        #expect(text.contains("/v1/seedance2/private-avatar"))
        // SIGTERM is a graceful shutdown: a clean exit.
        server.child.kill(SIGTERM)
        #expect(await server.child.wait() == 0)

        let provider = try await TestSupport.openSQLite(in: directory)
        let store = SQLStore(provider: provider)
        #expect(try await store.authenticate(secret: secret) != nil)
        #expect(try await store.keyCount() == 1)
        await provider.close()
    }
}

/// A `seedgate serve` child process, for tests that kill it for real.
final class ServerProcess: Sendable {
    let child: TestProcess.Child

    init(directory: String, allowPrivate: Bool = true, arguments: [String] = [], environment: [String: String] = [:]) throws {
        child = try TestProcess.start(
            try CommandLineTests.binary(),
            ["serve", "--port", "0", "--data-dir", directory] + (allowPrivate ? ["--allow-private-urls"] : []) + arguments,
            environment: environment
        )
    }

    /// Reads the server's output (stdout, then stderr) until `pattern` appears. Sleeps asynchronously
    /// between looks: a blocking sleep would hold one of the few cooperative threads all tests share.
    func read(until pattern: String, timeout: TimeInterval = 30) async -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var text = ""
        while Date() < deadline {
            let (out, err) = child.output()
            text = String(decoding: out, as: UTF8.self) + String(decoding: err, as: UTF8.self)
            if text.contains(pattern) { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return text
    }

    /// The port it listens on, once it does.
    func port() async throws -> Int {
        let marker = "listening on 127.0.0.1:"
        let text = await read(until: marker)
        // Plain parsing: this runs in parallel tests, and a shared Regex is not safe to first-use concurrently.
        guard let range = text.range(of: marker), let value = Int(text[range.upperBound...].prefix { $0.isNumber }) else {
            throw FixtureError("server did not start: \(text)")
        }
        return value
    }

    func kill9() async {
        child.kill(SIGKILL)
        _ = await child.wait()
    }

    func stop() async {
        child.kill(SIGTERM)
        _ = await child.wait()
        child.removeOutput()
    }

    /// A server on a port of its own (for links that must name it), once it has printed its first key's
    /// banner: a port found free may be taken by another test's connection before the server binds it,
    /// and then the server is started again on another.
    static func onFreePort(directory: String, arguments: [String] = []) async throws -> (server: ServerProcess, port: Int, banner: String) {
        for _ in 0..<5 {
            let port = try freePort()
            let server = try ServerProcess(directory: directory, arguments: ["--port", String(port)] + arguments)
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let (out, err) = server.child.output()
                let text = String(decoding: out, as: UTF8.self) + String(decoding: err, as: UTF8.self)
                if text.contains("poll the task id") { return (server, port, text) }
                if text.contains("Address already in use") { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            await server.stop()
        }
        throw FixtureError("no port could be bound in five tries")
    }
}

extension CommandLineTests {
    @Test("kill -9 in the middle of reviews, start again: every asset still ends Active or Failed")
    func killedMidReview() async throws {
        let directory = TestSupport.temporaryDirectory()
        let fixtures = try await FixtureServer.baseURL()
        let first = try ServerProcess(directory: directory)
        let firstPort = try await first.port()
        let announced = await first.read(until: "poll the task id")
        let secret = try #require(announced.firstMatch(of: #/sk-sg-[a-z0-9]{40}/#).map { String($0.output) })

        let client = HTTPClient.shared
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(firstPort)/v1/seedance2/private-avatar")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(secret)")
        let assets = (0..<6).map { n in #"{"url": "\#(fixtures)/slow/\#(n % 2 == 0 ? "good.png" : "small.png")", "name": "a\#(n)"}"# }
        request.body = .bytes(ByteBuffer(string: #"{"group": {"name": "g"}, "assets": [\#(assets.joined(separator: ","))]}"#))
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = J(value: try JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 1 << 20))))
        let taskID = try #require(body["data"]["id"].string)

        // Kill it once reviews are under way (an asset is leased), before they can finish.
        let provider = try await TestSupport.openSQLite(in: directory)
        let store = SQLStore(provider: provider)
        let deadline = ContinuousClock.now + .seconds(20)
        var leased = 0
        while leased == 0, ContinuousClock.now < deadline {
            leased = try await provider.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM assets WHERE lease_owner IS NOT NULL").first()?.decode(column: "n", as: Int.self) ?? 0
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await first.kill9()
        let key = try #require(try await store.authenticate(secret: secret))
        let stranded = try #require(try await store.reviewTask(id: taskID, keyID: key.id))
        #expect(leased > 0)
        #expect(stranded.assets.contains { $0.status == .processing }, "the kill came after every review had finished")

        let second = try ServerProcess(directory: directory)
        _ = try await second.port()
        var final: AssetReviewTask?
        let finishBy = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < finishBy {
            let task = try await store.reviewTask(id: taskID, keyID: key.id)
            if task?.status != .processing { final = task; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await provider.close()
        await second.stop()
        let done = try #require(final)
        #expect(done.assets.filter { $0.status == .active }.count == 3)
        #expect(done.assets.filter { $0.status == .failed }.count == 3)
    }
}

extension CommandLineTests {
    @Test("keys create --json, keys set, rotate-webhook-secret, credits add and show: the operator's commands for credits and limits")
    func creditsAndLimitsCommands() async throws {
        let directory = TestSupport.temporaryDirectory()
        let created = try await Self.run(["keys", "create", "--data-dir", directory, "--name", "ops", "--credits", "500", "--rpm", "7", "--max-in-flight", "2", "--json"])
        #expect(created.status == 0)
        let json = J(value: try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)))
        let id = try #require(json["id"].string)
        let secret = try #require(json["key"].string)
        let webhookSecret = try #require(json["webhook_secret"].string)
        #expect(secret.hasPrefix("sk-sg-") && webhookSecret.hasPrefix("whsec_") && json["credits"].int == 500 && json["rpm"].int == 7)

        #expect(try await Self.run(["keys", "set", id, "--data-dir", directory, "--rpm", "9"]).status == 0)
        #expect(try await Self.run(["keys", "set", id, "--data-dir", directory, "--rpm", "0"]).status != 0)
        let rotated = try await Self.run(["keys", "rotate-webhook-secret", id, "--data-dir", directory])
        let newSecret = rotated.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(newSecret.hasPrefix("whsec_") && newSecret != webhookSecret)

        #expect(try await Self.run(["credits", "add", id, "250", "--data-dir", directory, "--note", "top-up"]).status == 0)
        #expect(try await Self.run(["credits", "add", "--data-dir", directory, id, "--", "-1000"]).status != 0, "never below zero")
        let shown = try await Self.run(["credits", "show", id, "--data-dir", directory])
        #expect(shown.stdout.contains("balance 750, held 0, available 750"))
        #expect(shown.stdout.contains("\tcredit\t250\t0\t\ttop-up"))

        let provider = try await TestSupport.openSQLite(in: directory)
        let store = SQLStore(provider: provider)
        let key = try #require(try await store.authenticate(secret: secret))
        #expect(key.rpm == 9 && key.maxInFlight == 2)
        #expect(try await store.webhookSecret(keyID: id) == newSecret)
        await provider.close()
    }
}

@Suite("API-only replicas")
struct NoWorkersTests {
    @Test("--no-workers answers requests but leaves the work to other replicas")
    func apiOnly() async throws {
        try await withGateway(configure: { $0.runWorkers = false }) { gw in
            let key = try await gw.newKey()
            let reply = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"group": {"name": "g"}, "url": "\#(gw.url("good.png"))"}"#)
            #expect(reply.status == 200)
            let id = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#, key: key)
            // The server's background services are running (the rate-limit flush, every 250 ms, has stored
            // both requests), yet nothing claimed either piece of work.
            try await TestSupport.waitUntil("the rate-limit counts are flushed") {
                let hits = try await gw.store.provider.read { db in
                    try await db.raw("SELECT SUM(hits) AS n FROM rate_windows").first()?.decode(column: "n", as: Int?.self)
                }
                return (hits ?? 0) >= 2
            }
            let claims = try await gw.store.provider.read { db in
                try await db.raw("SELECT (SELECT SUM(attempts) FROM tasks) + (SELECT SUM(attempts) FROM assets) AS n").first()?.decode(column: "n", as: Int.self)
            }
            #expect(claims == 0, "an API-only replica claims no work")
            #expect(try await gw.get("/v1/tasks/\(try #require(reply.body["data"]["id"].string))", key: key).body["data"]["status"].string == "processing")
            #expect(try await gw.get("/v1/tasks/\(id)", key: key).body["data"]["status"].string == "pending")
        }
    }
}
