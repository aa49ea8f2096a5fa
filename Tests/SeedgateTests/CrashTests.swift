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

@Suite("crash safety", .serialized)
struct CrashTests {
    /// Two replicas on PostgreSQL (one killed with SIGKILL midway, the other carries on), or one SQLite
    /// server killed and started again: every accepted task reaches a final state, nothing is charged
    /// twice, every balance equals its ledger with no hold left, and every webhook is delivered.
    @Test("a server killed with SIGKILL loses nothing and does nothing twice", arguments: Backend.all)
    func killedServer(_ backend: Backend) async throws {
        let directory = TestSupport.temporaryDirectory()
        let fixtures = try await FixtureServer.baseURL()
        let receiver = WebhookReceiver(failures: 0)
        try await receiver.start()
        var config = SeedgateConfiguration()
        config.dataDirectory = directory
        try await backend.configure(&config)
        let store = SQLStore(provider: try await config.openDatabase(logger: TestSupport.logger, sqliteReaders: 1))
        try await store.migrate()
        let arguments = config.databaseURL.map { ["--database", $0] } ?? []
        let environment = ["SEEDGATE_WORK_LEASE": "3"]
        do {
            try await run(backend, store: store, directory: directory, fixtures: fixtures, receiver: receiver, arguments: arguments, environment: environment)
        } catch {
            await store.provider.close()
            throw error
        }
        await store.provider.close()
    }

    func run(
        _ backend: Backend, store: SQLStore, directory: String, fixtures: String, receiver: WebhookReceiver,
        arguments: [String], environment: [String: String]
    ) async throws {

        var keys: [(id: String, secret: String)] = []
        for n in 0..<5 {
            let created = try await store.createKey(name: "k\(n)", credits: 1_000_000, rpm: 100_000, maxInFlight: 1000)
            keys.append((created.key.id, created.secret))
        }
        var servers = [try ServerProcess(directory: directory, arguments: arguments, environment: environment)]
        if backend == .postgres { servers.append(try ServerProcess(directory: directory, arguments: arguments, environment: environment)) }
        var ports: [Int] = []
        for server in servers { ports.append(try await server.port()) }

        // 200 tasks: per key 10 renders, 10 failing renders, 20 asset reviews (half of them failing).
        var expected: [String: (key: Int, outcome: String)] = [:]
        for (k, key) in keys.enumerated() {
            for n in 0..<40 {
                let port = ports[n % ports.count]
                let callback = #""callback_url": "\#(receiver.url)""#
                let (path, body, outcome): (String, String, String)
                switch n % 4 {
                case 0: (path, body, outcome) = ("/v1/videos/generations", #"{"model": "doubao-seedance-2.0", "prompt": "k\#(k) n\#(n)", "duration": 4, \#(callback)}"#, "completed")
                case 1: (path, body, outcome) = ("/v1/videos/generations", #"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4, "image_urls": ["\#(fixtures)/missing"], \#(callback)}"#, "failed")
                case 2: (path, body, outcome) = ("/v1/seedance2/private-avatar", #"{"group": {"name": "g"}, "url": "\#(fixtures)/f/good.png", \#(callback)}"#, "completed")
                default: (path, body, outcome) = ("/v1/seedance2/private-avatar", #"{"group": {"name": "g"}, "url": "\#(fixtures)/slow/small.png", \#(callback)}"#, "failed")
                }
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(key.secret)")
                request.body = .bytes(ByteBuffer(string: body))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                let reply = J(value: try JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 1 << 20))))
                let id = try #require(reply["data"][0]["task_id"].string ?? reply["data"]["id"].string, "\(reply.value ?? "")")
                expected[id] = (k, outcome)
            }
        }

        // Kill the first server while it is rendering.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let rendering = try await store.provider.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM tasks WHERE status = 'processing'").first()?.decode(column: "n", as: Int.self) ?? 0
            }
            if rendering > 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        await servers[0].kill9()
        if backend == .sqlite {
            servers[0] = try ServerProcess(directory: directory, arguments: arguments, environment: environment)
            _ = try await servers[0].port()
        }

        // Everything reaches a final state and its webhook is delivered.
        let finishBy = ContinuousClock.now + .seconds(300)
        let accepted = expected.count
        var open = Int.max
        while open > 0, ContinuousClock.now < finishBy {
            open = try await store.provider.read { db in
                let tasks = try await db.raw("SELECT COUNT(*) AS n FROM tasks WHERE kind = 'video' AND status IN ('pending', 'processing')").first()?.decode(column: "n", as: Int.self) ?? 0
                let assets = try await db.raw("SELECT COUNT(*) AS n FROM assets WHERE status = 'processing'").first()?.decode(column: "n", as: Int.self) ?? 0
                let hooks = try await db.raw("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status <> 'delivered'").first()?.decode(column: "n", as: Int.self) ?? 0
                let queued = try await db.raw("SELECT COUNT(*) AS n FROM webhook_deliveries").first()?.decode(column: "n", as: Int.self) ?? 0
                return tasks + assets + hooks + (accepted - queued)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        for server in servers where backend == .sqlite || server !== servers[0] { await server.stop() }
        #expect(open == 0, "work left unfinished")

        var completedRenders = [Int](repeating: 0, count: keys.count)
        for (id, want) in expected {
            let key = keys[want.key].id
            if let task = try await store.videoTask(id: id, keyID: key) {
                #expect(task.status.rawValue == want.outcome, "\(id): \(task.status) \(String(describing: task.failure))")
                if task.status == .completed {
                    completedRenders[want.key] += 1
                    #expect(task.cost == 264)
                }
            } else {
                let review = try #require(try await store.reviewTask(id: id, keyID: key))
                #expect(review.status.rawValue == want.outcome, "\(id)")
            }
        }
        for (n, key) in keys.enumerated() {
            let totals = try await store.ledgerTotals(keyID: key.id)
            #expect(totals.balance == 1_000_000 - 264 * Int64(completedRenders[n]), "key \(n)")
            #expect(totals.ledgerBalance == totals.balance && totals.held == 0 && totals.ledgerHeld == 0, "key \(n)")
            #expect(totals.inFlight == 0 && totals.unfinished == 0, "key \(n)")
        }
        let charges = try await store.provider.read { db in
            try await db.raw("SELECT COUNT(*) AS n, COUNT(DISTINCT ref) AS refs FROM ledger WHERE kind = 'charge'").first().map {
                (try $0.decode(column: "n", as: Int.self), try $0.decode(column: "refs", as: Int.self))
            }
        }
        #expect(charges?.0 == 50 && charges?.1 == 50, "one charge per completed render: \(String(describing: charges))")
        let delivered = Set(receiver.requests.filter { $0.answered == 200 }.compactMap {
            J(value: try? JSONSerialization.jsonObject(with: Data($0.body.utf8)))["data"]["id"].string
        })
        #expect(delivered == Set(expected.keys), "every task's webhook arrived")
    }
}
