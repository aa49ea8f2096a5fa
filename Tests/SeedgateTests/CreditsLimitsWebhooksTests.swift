import Foundation
import HTTPTypes
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Testing

@Suite("credits")
struct CreditsTests {
    static let text4s = #"{"model": "doubao-seedance-2.0", "prompt": "paid", "duration": 4}"#   // 4 s x 66 = 264 credits

    // On PostgreSQL a submission is first tried as one statement; a refused hold there falls back to the
    // transaction that says why, so both stores are asked.
    @Test("short of credit: 402 with the price and the balance, and nothing stored", arguments: Backend.all)
    func insufficient(_ backend: Backend) async throws {
        try await withGateway(backend: backend) { gw in
            let (key, secret, _) = try await gw.store.createKey(name: "poor", credits: 100)
            let reply = try await gw.post("/v1/videos/generations", key: secret, #"{"model": "doubao-seedance-2.0", "prompt": "x", "resolution": "720p"}"#)
            #expect(reply.status == 402)
            #expect(reply.text == #"{"code":402,"error":{"code":"insufficient_credits","message":"this 5 s 720p video costs up to 710 credits; available balance is 100 credits (balance 100, held 0)"}}"#)
            let stored = try await gw.store.provider.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM tasks").first()?.decode(column: "n", as: Int.self)
            }
            #expect(stored == 0)
            #expect(try await gw.store.ledger(keyID: key.id).map(\.kind) == ["credit"])
        }
    }

    @Test("success charges the price once; failure and cancellation cost nothing; the balance is the ledger's sum", arguments: Backend.all)
    func settlement(_ backend: Backend) async throws {
        try await withGateway(backend: backend) { gw in
            let (key, secret, _) = try await gw.store.createKey(name: "payer", credits: 10_000)
            let ok = try await gw.generate(Self.text4s, key: secret)
            let bad = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4, "image_urls": ["\#(gw.fixtures)/missing"]}"#, key: secret)
            let cancelled = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "y", "duration": 10, "resolution": "720p"}"#, key: secret)
            // Each submission held its price up front (the renders may already have settled some: they are fast).
            let holds = try await gw.store.ledger(keyID: key.id, limit: 100).filter { $0.kind == "hold" }.map(\.heldDelta).sorted()
            #expect(holds == [264, 264, 1420])
            let during = try await gw.get("/v1/account", key: secret).body["data"]
            let (held, spent) = (during["held"].int ?? -1, during["spent"].int ?? -1)
            #expect(held <= 264 + 264 + 1420 && during["available"].int == 10_000 - held - spent)
            _ = try await gw.post("/v1/tasks/\(cancelled)/cancel", key: secret, "")
            #expect(try await gw.finishedVideo(ok, key: secret).body["data"]["cost"].int == 264)
            let failed = try await gw.finishedVideo(bad, key: secret)
            #expect(failed.body["data"]["status"].string == "failed" && !failed.body["data"]["cost"].exists)

            let account = try await gw.get("/v1/account", key: secret)
            #expect(account.text.hasPrefix(#"{"code":200,"data":{"key_id":"\#(key.id)","name":"payer","balance":9736,"held":0,"available":9736,"spent":264,"#), "\(account.text)")
            #expect(account.body["data"]["tasks"]["completed"].int == 1 && account.body["data"]["tasks"]["failed"].int == 1 && account.body["data"]["tasks"]["cancelled"].int == 1)
            let totals = try await gw.store.ledgerTotals(keyID: key.id)
            #expect(totals.balance == 9736 && totals.ledgerBalance == 9736 && totals.held == 0 && totals.ledgerHeld == 0)
            let kinds = try await gw.store.ledger(keyID: key.id, limit: 100).map(\.kind).sorted()
            #expect(kinds == ["charge", "credit", "hold", "hold", "hold", "release", "release"])
        }
    }

    @Test("asset review prices: 402 in toapis's and crun's envelopes; only approved assets are charged")
    func reviewPrices() async throws {
        let prices = TestSupport.temporaryDirectory() + "/prices.json"
        try Data(#"{"asset_review": 50, "per_second": {"doubao-seedance-2.0": {"480p": 70}}}"#.utf8).write(to: URL(fileURLWithPath: prices))
        try await withGateway(configure: { $0.pricesFile = prices }) { gw in
            let (_, poor, _) = try await gw.store.createKey(name: "poor", credits: 10)
            let crun = try await gw.post("/api/v1/client/job/asset-upload", key: poor, #"{"name": "n", "asset_type": "Image", "asset_url": "\#(gw.url("good.png"))"}"#)
            #expect(crun.status == 402 && crun.body["code"].int == 402 && crun.body["message"].string?.contains("costs up to 50 credits") == true, "\(crun.text)")
            let group = try await gw.post("/v1/videos/doubao-seedance-2-0/private-avatar/groups", key: poor, #"{"name": "g"}"#)
            let groupID = try #require(group.body["data"]["group_id"].string)
            let toapis = try await gw.post("/v1/videos/doubao-seedance-2-0/private-avatar/assets", key: poor, #"{"group_id": "\#(groupID)", "asset_type": "image", "source_url": "\#(gw.url("good.png"))"}"#)
            #expect(toapis.status == 402 && toapis.body["success"].bool == false && toapis.body["data"].isNull)

            let (key, secret, _) = try await gw.store.createKey(name: "rich", credits: 1000)
            let batch = try await gw.post("/v1/seedance2/private-avatar", key: secret, #"{"group": {"name": "g"}, "assets": [{"url": "\#(gw.url("good.png"))"}, {"url": "\#(gw.url("small.png"))"}]}"#)
            _ = try await gw.finishedTask(try #require(batch.body["data"]["id"].string), key: secret)
            let totals = try await gw.store.ledgerTotals(keyID: key.id)
            #expect(totals.balance == 950 && totals.held == 0 && totals.ledgerBalance == 950 && totals.ledgerHeld == 0)
            // Paid reviews are not video tasks: they leave the key's count of unfinished tasks alone.
            #expect(totals.inFlight == 0 && totals.unfinished == 0)
            // The price file's rate is used.
            let video = try await gw.post("/v1/videos/generations", key: poor, Self.text4s)
            #expect(video.body["error"]["message"].string?.contains("costs up to 280 credits") == true, "\(video.text)")
        }
    }

    @Test("price tables: defaults, overrides, refusals")
    func priceTable() throws {
        let request = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0-fast", "prompt": "x", "resolution": "720p", "duration": 10, "video_urls": ["https://e.com/v.mp4"]}"#)
        #expect(PriceTable.defaults.maximum(for: request) == 680)
        #expect(PriceTable.defaults.cost(for: request, seconds: 9.2) == 680)
        #expect(PriceTable.defaults.cost(for: request, seconds: 4.0) == 272)
        let file = TestSupport.temporaryDirectory() + "/p.json"
        try Data(#"{"per_second": {"nope": {"480p": 1}}}"#.utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: ConfigurationError.self) { try PriceTable.load(file: file) }
        try Data(#"{"asset_review": -1}"#.utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: ConfigurationError.self) { try PriceTable.load(file: file) }
    }

    /// The "done when" of the credits issue: hundreds of tasks from several keys, successes, failures
    /// and cancellations, two workers (on two database connections) racing each other and the cancels.
    @Test("hundreds of tasks, two racing workers: every balance is its start minus its successes, no hold left, no duplicate row", arguments: Backend.all)
    func manyTasksTwoWorkers(_ backend: Backend) async throws {
        try await withGateway(backend: backend, configure: { $0.renderConcurrency = 1 }) { gw in
            // A second worker on its own connection, as a second server would be.
            let blobs = try LocalBlobStore(root: "\(gw.dataDirectory)/blobs")
            let renderer = LocalVideoEngine(fetcher: MediaFetcher(http: GuardedClient(configuration: .init(), urlGuard: URLGuard(allowPrivate: true))), blobs: blobs, scratchDirectory: "\(gw.dataDirectory)/tmp")
            let engine = LocalEngine(renderer: renderer, store: gw.store, lease: .seconds(60))
            let rival = VideoWorker(store: gw.store, engine: engine, blobs: blobs, signal: WorkSignal(), concurrency: 1, logger: TestSupport.logger)
            let rivalTask = Task { try await rival.run() }
            defer { rivalTask.cancel() }

            var keys: [(id: String, secret: String, start: Int64)] = []
            for n in 0..<4 {
                let start = Int64(200_000 + n * 1000)
                let created = try await gw.store.createKey(name: "k\(n)", credits: start, rpm: 100_000, maxInFlight: 1000)
                keys.append((created.key.id, created.secret, start))
            }
            var submitted: [(key: Int, id: String, kind: Int)] = []
            for n in 0..<240 {
                let k = n % 4, kind = n % 6
                let body: String
                switch kind {
                case 0: body = #"{"model": "doubao-seedance-2.0", "prompt": "ok \#(n)", "duration": 4}"#
                case 1, 2: body = #"{"model": "doubao-seedance-2.0", "prompt": "fail", "duration": 4, "image_urls": ["\#(gw.fixtures)/missing"]}"#
                default: body = #"{"model": "doubao-seedance-2.0-fast", "prompt": "cancel \#(n)", "duration": 6}"#
                }
                let id = try await gw.generate(body, key: keys[k].secret)
                submitted.append((k, id, kind))
                if kind >= 3 { _ = try await gw.post("/v1/tasks/\(id)/cancel", key: keys[k].secret, "") }
            }
            var charged = [Int64](repeating: 0, count: 4)
            for task in submitted {
                let done = try await gw.finishedVideo(task.id, key: keys[task.key].secret, limit: .seconds(300))
                let status = done.body["data"]["status"].string
                switch task.kind {
                case 0: #expect(status == "completed", "\(done.text)"); charged[task.key] += 264
                case 1, 2: #expect(status == "failed")
                default: #expect(status == "cancelled")
                }
                if status == "completed" { #expect(done.body["data"]["cost"].int == 264) }
            }
            for (n, key) in keys.enumerated() {
                let totals = try await gw.store.ledgerTotals(keyID: key.id)
                #expect(totals.balance == key.start - charged[n], "key \(n)")
                #expect(totals.ledgerBalance == totals.balance && totals.held == 0 && totals.ledgerHeld == 0, "key \(n)")
                #expect(totals.inFlight == 0 && totals.unfinished == 0, "key \(n)")
            }
            let ledger = try await gw.store.provider.read { db in
                try await db.raw("""
                    SELECT kind, COUNT(*) AS n, COUNT(DISTINCT ref) AS refs FROM ledger WHERE ref IS NOT NULL GROUP BY kind ORDER BY kind
                    """).all().map { (try $0.decode(column: "kind", as: String.self), try $0.decode(column: "n", as: Int.self), try $0.decode(column: "refs", as: Int.self)) }
            }
            #expect(ledger.map(\.0) == ["charge", "hold", "release"])
            #expect(ledger.allSatisfy { $0.1 == $0.2 }, "a ledger row was duplicated: \(ledger)")
            #expect(ledger.first { $0.0 == "charge" }?.1 == 40)
            #expect(ledger.first { $0.0 == "hold" }?.1 == 240)
            #expect(ledger.first { $0.0 == "release" }?.1 == 200)
        }
    }
}

@Suite("limits")
struct LimitsTests {
    @Test("over its requests per minute a key gets 429 with Retry-After, in each dialect's envelope", arguments: Backend.all)
    func requestsPerMinute(_ backend: Backend) async throws {
        try await withGateway(backend: backend) { gw in
            // Windows are whole minutes; a run that straddles a minute's end is not a test of the limit, so it starts again.
            for _ in 0..<3 {
                let window = Int(Date().timeIntervalSince1970) / 60
                let (_, secret, _) = try await gw.store.createKey(name: "slow", credits: 0, rpm: 3)
                var statuses: [Int] = []
                for _ in 0..<3 { statuses.append(try await gw.get("/v1/account", key: secret).status) }
                let apimart = try await gw.get("/v1/account", key: secret)
                let toapis = try await gw.get("/v1/videos/doubao-seedance-2-0/private-avatar/assets/x", key: secret)
                let crun = try await gw.get("/api/v1/client/job/asset-info?asset_id=x", key: secret)
                guard Int(Date().timeIntervalSince1970) / 60 == window else { continue }
                #expect(statuses == [200, 200, 200])
                #expect(apimart.status == 429 && apimart.body["code"].int == 429 && apimart.body["error"]["code"].string == "rate_limited")
                let retry = try #require(apimart.headers[.retryAfter].flatMap(Int.init))
                #expect((1...60).contains(retry))
                #expect(toapis.status == 429 && toapis.body["success"].bool == false && toapis.headers[.retryAfter] != nil)
                #expect(crun.status == 429 && crun.body["code"].int == 429 && crun.headers[.retryAfter] != nil)
                return
            }
            Issue.record("three runs in a row straddled a minute boundary")
        }
    }

    @Test("a key at its limit of tasks in flight gets 429; the limit can be changed", arguments: Backend.all)
    func inFlight(_ backend: Backend) async throws {
        // No workers: nothing finishes behind the test's back (a render takes a second or two now), so
        // what is in flight is exactly what the test submitted and did not cancel.
        try await withGateway(backend: backend, configure: { $0.runWorkers = false }) { gw in
            let (key, secret, _) = try await gw.store.createKey(name: "busy", credits: 100_000, maxInFlight: 1)
            let first = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "a", "duration": 10, "resolution": "720p"}"#, key: secret)
            let second = try await gw.post("/v1/videos/generations", key: secret, #"{"model": "doubao-seedance-2.0", "prompt": "b", "duration": 4}"#)
            #expect(second.status == 429 && second.body["error"]["code"].string == "too_many_tasks_in_flight" && second.headers[.retryAfter] == "5")
            #expect(try await gw.store.setLimits(keyID: key.id, rpm: nil, maxInFlight: 2))
            // The change is made through another connection, as another replica or the CLI would make it:
            // the gateway's key cache sees it within `KeyCache.recheck` (on PostgreSQL; SQLite has one process).
            try await Task.sleep(for: .milliseconds(Int(KeyCache.recheck * 1000) + 250))
            _ = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "b", "duration": 4}"#, key: secret)
            let third = try await gw.post("/v1/videos/generations", key: secret, #"{"model": "doubao-seedance-2.0", "prompt": "c", "duration": 4}"#)
            #expect(third.status == 429)
            // A cancelled task no longer counts: the next submission fits again.
            _ = try await gw.post("/v1/tasks/\(first)/cancel", key: secret, "")
            _ = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "c", "duration": 4}"#, key: secret)
            let totals = try await gw.store.ledgerTotals(keyID: key.id)
            #expect(totals.inFlight == totals.unfinished && totals.inFlight <= 2)
        }
    }
}

@Suite("webhooks")
struct WebhookTests {
    /// Python's hmac, as an independent check of the Standard Webhooks signature.
    static func pythonSignature(secret: String, id: String, timestamp: String, body: String) async throws -> String {
        let script = """
        import base64, hashlib, hmac, sys
        secret, msg_id, ts, body = sys.argv[1:5]
        key = base64.b64decode(secret.split('_', 1)[1])
        print('v1,' + base64.b64encode(hmac.new(key, f'{msg_id}.{ts}.{body}'.encode(), hashlib.sha256).digest()).decode())
        """
        let output = try await ProcessRunner.run("python3", ["-c", script, secret, id, timestamp, body], timeout: .seconds(30))
        return String(decoding: output.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("a receiver that fails its first three deliveries still gets the event, signed, once it recovers", arguments: Backend.all)
    func retriedUntilDelivered(_ backend: Backend) async throws {
        let receiver = WebhookReceiver(failures: 3)
        try await receiver.start()
        try await withGateway(backend: backend, configure: { $0.webhookRetryDelays = [.milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1)] }) { gw in
            let (_, secret, webhookSecret) = try await gw.store.createKey(name: "hooked", credits: 100_000)
            let id = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "hook", "duration": 4, "callback_url": "\#(receiver.url)"}"#, key: secret)
            let delivered = try await gw.poll("/v1/tasks/\(id)", key: secret, limit: .seconds(60)) { $0["data"]["webhook"]["status"].string == "delivered" }
            let webhook = delivered.body["data"]["webhook"]
            #expect(webhook["attempts"].int == 4 && webhook["last_status_code"].int == 200 && webhook["delivered_at"].exists, "\(delivered.text)")

            let requests = receiver.requests
            #expect(requests.map(\.answered) == [500, 500, 500, 200])
            #expect(Set(requests.map(\.id)).count == 1, "one event, one webhook-id across retries")
            let last = try #require(requests.last)
            #expect(last.signature == (try await Self.pythonSignature(secret: webhookSecret, id: last.id, timestamp: last.timestamp, body: last.body)))
            #expect(WebhookSignature.verify(secret: webhookSecret, id: last.id, timestamp: Int64(last.timestamp) ?? 0, body: last.body, header: last.signature))
            #expect(!WebhookSignature.verify(secret: webhookSecret, id: last.id, timestamp: Int64(last.timestamp) ?? 0, body: last.body + " ", header: last.signature))
            // The body is the task view.
            let body = J(value: try JSONSerialization.jsonObject(with: Data(last.body.utf8)))
            #expect(body["code"].int == 200 && body["data"]["id"].string == id && body["data"]["status"].string == "completed")
            #expect(body["data"]["result"]["videos"][0]["url"][0].string != nil)
        }
    }

    @Test("asset reviews call back when the review ends; private callback URLs are refused")
    func reviewCallbackAndGuard() async throws {
        let receiver = WebhookReceiver(failures: 0)
        try await receiver.start()
        try await withGateway { gw in
            let key = try await gw.newKey()
            let reply = try await gw.post("/v1/seedance2/private-avatar", key: key, #"{"group": {"name": "g"}, "url": "\#(gw.url("good.png"))", "callback_url": "\#(receiver.url)"}"#)
            let id = try #require(reply.body["data"]["id"].string)
            let done = try await gw.poll("/v1/tasks/\(id)", key: key, limit: .seconds(30)) { $0["data"]["webhook"]["status"].string == "delivered" }
            #expect(done.body["data"]["status"].string == "completed")
            #expect(receiver.requests.count == 1)
            let body = J(value: try JSONSerialization.jsonObject(with: Data(try #require(receiver.requests.first).body.utf8)))
            #expect(body["data"]["id"].string == id && body["data"]["object"].string == "seedance.avatar.asset.task")
        }
        try await withGateway(allowPrivate: false) { gw in
            let key = try await gw.newKey()
            let refused = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2.0", "prompt": "x", "callback_url": "\#(receiver.url)"}"#)
            #expect(refused.status == 400 && refused.body["error"]["param"].string == "callback_url" && refused.body["error"]["code"].string == "url_not_allowed")
        }
    }
}
