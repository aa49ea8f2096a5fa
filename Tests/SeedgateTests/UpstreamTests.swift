import Foundation
import HTTPTypes
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Synchronization
import Testing

/// Writes a channels file for these fake accounts and returns its path.
func channelsFile(_ entries: [String]) throws -> String {
    let path = TestSupport.temporaryDirectory() + "/channels.json"
    try Data("{\"channels\": [\(entries.joined(separator: ",\n"))]}".utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// A gateway whose channels are these fake Ark accounts. Callbacks on means upstream is told our URL;
/// polls then come rarely, so only callbacks can finish tasks quickly.
func withUpstreamGateway<R: Sendable>(
    _ entries: [String], callbacks: Bool, backend: Backend = .sqlite,
    configure: @escaping (inout SeedgateConfiguration) -> Void = { _ in },
    _ body: @Sendable (Gateway) async throws -> R
) async throws -> R {
    let file = try channelsFile(entries)
    return try await withGateway(backend: backend, configure: { config in
        config.channelsFile = file
        config.upstream.callbacks = callbacks
        config.upstream.pollInterval = callbacks ? .seconds(30) : .milliseconds(200)
        config.upstream.assetPollInterval = .milliseconds(100)
        config.upstream.requestTimeout = .seconds(5)
        configure(&config)
    }, body)
}

@Suite("Ark channels: signing, configuration")
struct UpstreamUnitTests {
    @Test("the Volcengine signer reproduces the published test vector")
    func signerVector() {
        let body = Data(#"{"GroupId":"group-20260328000000-abcde","URL":"https://example.com/image.jpg","AssetType":"Image","ProjectName":"default"}"#.utf8)
        let signer = SigV4Signer(
            credentials: .init(accessKeyID: "AKLTTESTACCESSKEY0000000000", secretAccessKey: "TESTSECRETKEY00000000000000000000"),
            region: "ap-southeast-1", service: "ark", scheme: .volcengine
        )
        let date = Date(timeIntervalSince1970: 1_774_656_000) // 2026-03-28T00:00:00Z
        let headers = signer.sign(.init(
            method: "POST", path: "/", query: [("Version", "2024-01-01"), ("Action", "CreateAsset")],
            headers: ["Content-Type": "application/json", "Host": "ark.ap-southeast-1.byteplusapi.com"], payloadHash: SigV4Signer.payloadHash(body)
        ), at: date)
        #expect(headers["x-date"] == "20260328T000000Z")
        #expect(headers["x-content-sha256"] == "b5a2dd4e8b0e2c8ad51f65ab2abffe3969e532308b3a9cf9862cf8e7b71808cb")
        #expect(headers["authorization"] == "HMAC-SHA256 Credential=AKLTTESTACCESSKEY0000000000/20260328/ap-southeast-1/ark/request, SignedHeaders=content-type;host;x-content-sha256;x-date, Signature=29dee2fa94d134bfe1686ba080b91a264fb33f4aad7bd7493d994ec1cd341167")
    }

    @Test("channels files: secrets from the environment, defaults, and every mistake named")
    func channelsFileParsing() throws {
        let good = #"{"channels": [{"name": "a", "base_url": "https://ark.example/api/v3/", "api_key_env": "K1", "models": {"doubao-seedance-2.0": "m"}}, {"name": "local", "type": "local"}]}"#
        let channels = try ChannelsFile.parse(Data(good.utf8), environment: ["K1": "secret"])
        #expect(channels.count == 2)
        #expect(channels[0].apiKey == "secret" && channels[0].baseURL == "https://ark.example/api/v3" && channels[0].priority == 1 && channels[0].maxInFlight == 100)
        #expect(channels[0].assets == nil && channels[1].kind == .local && channels[1].serves(.fastFace))
        let bad: [(String, String)] = [
            (#"{"channels": [{"name": "a", "base_url": "https://x", "api_key_env": "MISSING", "models": {"doubao-seedance-2.0": "m"}}]}"#, "MISSING is not set"),
            (#"{"channels": [{"name": "a", "base_url": "ftp://x", "api_key": "k", "models": {"doubao-seedance-2.0": "m"}}]}"#, "base_url must be an absolute http(s) URL"),
            (#"{"channels": [{"name": "a", "base_url": "https://x", "api_key": "k", "models": {"seedance-9": "m"}}]}"#, "'seedance-9' is not a model"),
            (#"{"channels": [{"name": "a", "base_url": "https://x", "api_key": "k", "models": {"doubao-seedance-2.0": "m"}, "priority": "1"}]}"#, "priority must be an integer"),
            (#"{"channels": [{"name": "a", "base_url": "https://x", "api_key": "k", "models": {"doubao-seedance-2.0": "m"}, "access_key": "AK"}]}"#, "openapi_url is required"),
            (#"{"channels": [{"name": "a", "type": "local"}, {"name": "a", "type": "local"}]}"#, "is used twice"),
            (#"{"chanels": []}"#, "\"channels\" array"),
        ]
        for (text, message) in bad {
            #expect(throws: ConfigurationError.self) { try ChannelsFile.parse(Data(text.utf8), environment: [:]) }
            do { _ = try ChannelsFile.parse(Data(text.utf8), environment: [:]) } catch { #expect("\(error)".contains(message), "\(error)") }
        }
    }

    @Test("selection: lowest priority first, weighted within a priority, full and cooling channels skipped")
    func selection() {
        func channel(_ name: String, _ priority: Int, _ weight: Int) -> Channel {
            Channel(name: name, kind: .ark, baseURL: "https://x", apiKey: "k", assets: nil, models: ["doubao-seedance-2.0": "m"],
                    priority: priority, weight: weight, maxInFlight: 2)
        }
        let router = ChannelRouter(channels: [channel("backup", 2, 1), channel("heavy", 1, 3), channel("light", 1, 1)])
        var firsts: [String: Int] = [:]
        for _ in 0..<2000 { firsts[router.candidates(for: .standard).ready[0].name, default: 0] += 1 }
        #expect(firsts["backup"] == nil)
        #expect((1300...1700).contains(firsts["heavy"] ?? 0), "\(firsts)")
        #expect(router.candidates(for: .standard).ready.last?.name == "backup")
        #expect(router.candidates(for: .standard, inFlight: ["heavy": 2, "light": 2]).ready.map(\.name) == ["backup"])
        router.failed("backup")
        let none = router.candidates(for: .standard, inFlight: ["heavy": 2, "light": 2])
        #expect(none.ready.isEmpty && none.busy)
        #expect(router.candidates(for: .fast).ready.isEmpty && !router.candidates(for: .fast).busy)
    }

    @Test("channel load: counted in the store at most once per window, this replica's submissions added meanwhile")
    func channelLoad() async throws {
        let reads = Mutex(0)
        let stored = ["ark-a": 5]
        func read() -> [String: Int] {
            reads.withLock { $0 += 1 }
            return stored
        }
        let cached = ChannelLoad(freshFor: .seconds(3600))
        #expect(try await cached.counts { read() } == ["ark-a": 5])
        cached.add("ark-a")
        cached.add("ark-b")
        #expect(try await cached.counts { read() } == ["ark-a": 6, "ark-b": 1], "read once; its own two submissions added")
        #expect(reads.withLock { $0 } == 1)
        let always = ChannelLoad(freshFor: .zero)
        _ = try await always.counts { read() }
        always.add("ark-a")
        #expect(try await always.counts { read() } == ["ark-a": 5], "past the window the store's count stands")
        #expect(reads.withLock { $0 } == 3)
    }
}

@Suite("Ark channels: relay against fake Ark accounts over loopback")
struct UpstreamRelayTests {
    static let prompt = "A red fox runs through fresh snow"

    @Test("assets are reviewed upstream and pinned per group; asset:// generations land on the owning account; callbacks finish tasks", arguments: Backend.all)
    func assetsPinningAndCallbacks(backend: Backend) async throws {
        let a = try await FakeArk.start(), b = try await FakeArk.start()
        try await withUpstreamGateway([a.channel(name: "ark-a"), b.channel(name: "ark-b")], callbacks: true, backend: backend) { gw in
            let key = try await gw.newKey()
            // apimart: a group with two assets; crun: an upload into the key's default group.
            let submitted = try await gw.post("/v1/seedance2/private-avatar", key: key, """
                {"group": {"name": "cast"}, "assets": [{"url": "\(gw.url("good.png"))", "name": "lead"}, {"url": "\(gw.url("good2.jpg"))", "name": "extra"}]}
                """)
            let review = try await gw.finishedTask(try #require(submitted.body["data"]["id"].string), key: key)
            #expect(review.body["data"]["status"].string == "completed", "\(review.text)")
            let lead = try #require(review.body["data"]["result"]["assets"][0]["asset_id"].string)
            let extra = try #require(review.body["data"]["result"]["assets"][1]["asset_id"].string)
            let crunAsset = try await activeAsset(gw, key: key, type: "Image", fixture: "good.png")

            let bindings = try await gw.store.activeBindings(assetIDs: [lead, extra, crunAsset])
            let home = try #require(bindings[lead]?.keys.first)
            #expect(bindings[lead]?.count == 1 && bindings[extra]?[home] != nil, "the group's assets live on one account: \(bindings)")
            #expect(bindings[crunAsset]?.count == 1)
            let owner = home == "ark-a" ? a : b, other = home == "ark-a" ? b : a
            #expect(owner.groups.count >= 1)
            #expect(a.signatureFailures == 0 && b.signatureFailures == 0)

            // A generation using both group assets goes to their account, with upstream's asset ids.
            let id = try await gw.generate(#"""
                {"model": "doubao-seedance-2.0", "prompt": "\#(Self.prompt)", "image_urls": ["asset://\#(lead)", "asset://\#(extra)"], "duration": 4, "return_last_frame": true}
                """#, key: key)
            let done = try await gw.finishedVideo(id, key: key, limit: .seconds(15))
            #expect(done.body["data"]["status"].string == "completed", "\(done.text)")
            let sent = try #require(owner.accepted.first)
            #expect(other.accepted.isEmpty)
            #expect(sent.contains("asset://\(bindings[lead]![home]!)") && sent.contains("asset://\(bindings[extra]![home]!)"))
            #expect(!sent.contains(lead), "our own asset id is never sent upstream")
            #expect(sent.contains(#""generate_audio":false"#) && sent.contains(#""duration":4"#) && sent.contains(#""return_last_frame":true"#))
            #expect(sent.contains("/upstream/ark/\(id)/"), "a per-task callback URL is passed")
            // Finished by callback: the poll interval is 30 s.
            #expect(owner.callbacks.contains { $0.status == "succeeded" && $0.answered == 200 })
            let keyID = try #require(try await gw.store.listKeys().last?.id)
            let task = try #require(try await gw.store.videoTask(id: id, keyID: keyID))
            #expect(task.usageTokens == 108_900 && done.body["data"]["usage"]["completion_tokens"].int == 108_900)
            let file = try await gw.download(try #require(done.body["data"]["result"]["videos"][0]["url"][0].string))
            #expect(file.status == 200)
            let probed = try await ProbedVideo.probe(file.body)
            #expect(probed.width == 1280 && probed.height == 720 && abs(probed.duration - 4) < 0.2 && probed.audioCodec == "aac")
            let frame = try await gw.download(try #require(done.body["data"]["result"]["last_frame_url"].string))
            #expect(frame.status == 200 && frame.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))

            // A callback with a wrong token changes nothing.
            let forged = try await gw.post("/upstream/ark/\(id)/not-the-token", key: nil, "{}")
            #expect(forged.status == 404)
        }
    }

    @Test("an account that fails (5xx, then timeouts) loses new submissions to the other; nothing is submitted twice; polling finishes everything")
    func failoverWithoutDoubleSubmission() async throws {
        let a = try await FakeArk.start(), b = try await FakeArk.start()
        try await withUpstreamGateway([a.channel(name: "ark-a"), b.channel(name: "ark-b")], callbacks: false) { gw in
            let key = try await gw.newKey()
            func submit(_ n: Int, _ phase: String) async throws -> [String] {
                var ids: [String] = []
                for i in 0..<n {
                    ids.append(try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "\#(phase) \#(i)", "duration": 4}"#, key: key))
                }
                return ids
            }
            var ids = try await submit(6, "healthy")
            try await TestSupport.waitUntil("the healthy tasks are submitted") { a.accepted.count + b.accepted.count == 6 }
            a.update { $0.submissions = .serverError; $0.queries = .serverError }
            ids += try await submit(6, "a-down")
            try await TestSupport.waitUntil("the tasks made while a is down are submitted") { a.accepted.count + b.accepted.count == 12 }
            a.update { $0.submissions = .hang; $0.queries = .normal }
            ids += try await submit(4, "a-hangs")
            for id in ids {
                let done = try await gw.finishedVideo(id, key: key, limit: .seconds(60))
                #expect(done.body["data"]["status"].string == "completed", "\(done.text)")
            }
            let all = a.accepted + b.accepted
            #expect(all.count == ids.count, "every task was accepted exactly once upstream")
            for phase in ["healthy", "a-down", "a-hangs"] {
                for i in 0..<6 where phase != "a-hangs" || i < 4 {
                    #expect(all.filter { $0.contains("\"\(phase) \(i)\"") }.count == 1, "\(phase) \(i)")
                }
            }
            #expect(!a.accepted.contains { $0.contains("a-down") || $0.contains("a-hangs") })
            #expect(b.accepted.filter { $0.contains("a-down") || $0.contains("a-hangs") }.count == 10)
        }
    }

    @Test("with SEEDGATE_UPSTREAM_SUBMITTERS=16 a burst reaches Ark-only channels through seventeen submissions at once (sixteen loops and the render loop); where a channel renders locally, through four (three and the render loop)")
    func burstSubmissions() async throws {
        for local in [false, true] {
            let fake = try await FakeArk.start()
            // Each create is answered once seventeen are being answered at once, or after 4 s otherwise:
            // the loops' creates overlap however slowly the burst arrives. The request timeout is the
            // default 30 s here: at 5 s a loaded machine let creates time out that the fake then
            // accepted, and the tasks were sent again (a timed-out create is retried; see the notes).
            fake.update { $0.createTime = .seconds(local ? 1 : 4); $0.createsTogether = local ? 0 : 17 }
            let entries = [fake.channel(name: "ark-a")] + (local ? [#"{"name": "here", "type": "local", "priority": 2}"#] : [])
            try await withUpstreamGateway(entries, callbacks: true, configure: { $0.upstream.submitters = 16; $0.upstream.requestTimeout = .seconds(30) }) { gw in
                let key = try await gw.store.createKey(name: "burst", credits: 100_000_000, maxInFlight: 64).secret
                try await withThrowingTaskGroup(of: String.self) { group in
                    for i in 0..<32 {
                        group.addTask { try await gw.generateApart(#"{"model": "doubao-seedance-2.0", "prompt": "burst \#(i)", "duration": 4}"#, key: key) }
                    }
                    try await group.waitForAll()
                }
                try await TestSupport.waitUntil("the burst is accepted upstream", limit: .seconds(90)) { fake.accepted.count >= 32 }
                #expect(fake.accepted.count == 32, "each task accepted once: \(fake.accepted.count)")
                if local {
                    #expect(fake.mostCreatesAtOnce <= 4, "each loop may hold an ffmpeg where a channel renders here: \(fake.mostCreatesAtOnce)")
                } else {
                    #expect(fake.mostCreatesAtOnce >= 12 && fake.mostCreatesAtOnce <= 17, "\(fake.mostCreatesAtOnce) creates at once")
                }
            }
        }
    }

    @Test("status checks are gathered: each list call carries the tasks due before the next sweep, not the one or two due this instant")
    func gatheredChecks() async throws {
        let accounts = [try await FakeArk.start(), try await FakeArk.start(), try await FakeArk.start()]
        for account in accounts { account.update { $0.runTime = .seconds(3) } }
        let channels = accounts.enumerated().map { $1.channel(name: "ark-\($0)") }
        // A first check 20 s after submission, and a sweep every 20 s: however the submissions spread on a
        // loaded machine, their first checks fall due before the second sweep, which takes them all at once.
        try await withUpstreamGateway(channels, callbacks: false, configure: { $0.upstream.pollInterval = .seconds(20) }) { gw in
            let key = try await gw.newKey(credits: 1_000_000)
            // Submitted together; their first checks still fall due over a second or more (more under load).
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<18 {
                    group.addTask { try await gw.generateApart(#"{"model": "doubao-seedance-2.0", "prompt": "gathered \#(i)", "duration": 4}"#, key: key) }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            for id in ids {
                let done = try await gw.finishedVideo(id, key: key, limit: .seconds(90))
                #expect(done.body["data"]["status"].string == "completed", "\(done.text)")
            }
            let calls = accounts.reduce(0) { $0 + $1.queries }, checked = accounts.reduce(0) { $0 + $1.checked }
            #expect(checked >= ids.count, "each task was checked upstream")
            #expect(checked >= 3 * calls, "\(checked) task checks took \(calls) upstream calls")
        }
    }

    @Test("a callback's check fills its list call with the channel's other running tasks, due or not; they stay as they were upstream")
    func filledCalls() async throws {
        let a = try await FakeArk.start()
        // Sweeps a minute apart: every check here comes from a callback.
        try await withUpstreamGateway([a.channel(name: "ark-a")], callbacks: true, configure: { $0.upstream.pollInterval = .seconds(60) }) { gw in
            let key = try await gw.newKey(credits: 1_000_000)
            // Five tasks that stay queued upstream for an hour, so they never call back.
            a.update { $0.queueTime = .seconds(3600) }
            var waiting: [String] = []
            for i in 0..<5 {
                waiting.append(try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "waits \#(i)", "duration": 4}"#, key: key))
            }
            try await TestSupport.waitUntil("the five were accepted upstream") { a.accepted.count == 5 }
            // One that runs and finishes, calling back as it starts and as it ends.
            a.update { $0.queueTime = .milliseconds(300); $0.runTime = .milliseconds(700) }
            let quick = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "quick", "duration": 4}"#, key: key)
            let done = try await gw.finishedVideo(quick, key: key, limit: .seconds(60))
            #expect(done.body["data"]["status"].string == "completed", "\(done.text)")
            let calls = a.queries, checked = a.checked
            #expect(calls >= 1)
            #expect(checked >= 5 * calls, "\(checked) task checks in \(calls) calls: each call carried the five waiting tasks too")
            for id in waiting {
                let task = try await gw.get("/v1/tasks/\(id)", key: key)
                #expect(task.body["data"]["status"].string == "pending", "\(task.text)")
            }
        }
    }

    @Test("upstream endings map: expired -> failed/expired, moderation -> failed with upstream's code, deadline -> failed; holds released")
    func endings() async throws {
        let a = try await FakeArk.start()
        // The deadline is reached by moving the clock, not by waiting: on a loaded machine a real 3 s
        // deadline can pass before upstream's own ending is seen, which would test the wrong thing.
        let clock = OffsetClock()
        try await withUpstreamGateway([a.channel(name: "ark-a")], callbacks: false, configure: { config in
            config.upstream.deadline = .seconds(600)
            config.clock = clock
        }) { gw in
            let key = try await gw.newKey(credits: 10_000)
            a.update { $0.outcome = .expire }
            let expired = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#, key: key)
            var done = try await gw.finishedVideo(expired, key: key, limit: .seconds(60))
            #expect(done.body["data"]["status"].string == "failed")
            #expect(done.body["data"]["error"]["code"].string == "expired", "\(done.text)")

            a.update { $0.outcome = .fail(code: "OutputVideoSensitiveContentDetected.PolicyViolation", message: "the output may violate policy") }
            let moderated = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "y", "duration": 4}"#, key: key)
            done = try await gw.finishedVideo(moderated, key: key, limit: .seconds(60))
            #expect(done.body["data"]["error"]["code"].string == "OutputVideoSensitiveContentDetected.PolicyViolation")
            #expect(done.body["data"]["error"]["message"].string == "the output may violate policy")

            a.update { $0.outcome = .succeed; $0.runTime = .seconds(3600) }
            let slow = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "z", "duration": 4}"#, key: key)
            let checked = a.queries
            try await TestSupport.waitUntil("the slow task was checked upstream") { a.accepted.count == 3 && a.queries > checked }
            #expect(try await gw.get("/v1/tasks/\(slow)", key: key).body["data"]["status"].string != "failed", "not given up before its deadline")
            clock.advance(by: .seconds(601))
            done = try await gw.finishedVideo(slow, key: key, limit: .seconds(60))
            #expect(done.body["data"]["status"].string == "failed")
            #expect(done.body["data"]["error"]["code"].string == "deadline_exceeded", "\(done.text)")

            let account = try await gw.get("/v1/account", key: key)
            #expect(account.body["data"]["balance"].int == 10_000 && account.body["data"]["held"].int == 0, "\(account.text)")
        }
    }

    @Test("status checks: a refused account or an outage does not fail a running task; past its deadline it is given up, hold released")
    func statusCheckFailures() async throws {
        let a = try await FakeArk.start()
        let clock = OffsetClock()
        try await withUpstreamGateway([a.channel(name: "ark-a")], callbacks: false, configure: { config in
            config.upstream.deadline = .seconds(600)
            config.clock = clock
        }) { gw in
            let key = try await gw.newKey(credits: 10_000)
            // Status checks refused (403) for a while: the task waits, then finishes normally.
            a.update { $0.queries = .accountOverdue }
            let refused = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#, key: key)
            try await TestSupport.waitUntil("three status checks were refused") { a.queries >= 3 }
            let during = try await gw.get("/v1/tasks/\(refused)", key: key)
            #expect(during.body["data"]["status"].string != "failed", "\(during.text)")
            a.update { $0.queries = .normal }
            var done = try await gw.finishedVideo(refused, key: key, limit: .seconds(60))
            #expect(done.body["data"]["status"].string == "completed", "\(done.text)")

            // Status checks never answered again: given up at the deadline, not kept forever. The clock
            // moves past the deadline instead of the test waiting ten minutes for it.
            a.update { $0.queries = .serverError }
            let unreachable = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "y", "duration": 4}"#, key: key)
            let checked = a.queries
            try await TestSupport.waitUntil("a status check of the second task failed") { a.accepted.count == 2 && a.queries > checked }
            #expect(try await gw.get("/v1/tasks/\(unreachable)", key: key).body["data"]["status"].string != "failed", "not given up before its deadline")
            clock.advance(by: .seconds(601))
            done = try await gw.finishedVideo(unreachable, key: key, limit: .seconds(60))
            #expect(done.body["data"]["status"].string == "failed")
            #expect(done.body["data"]["error"]["code"].string == "deadline_exceeded", "\(done.text)")
            #expect(done.body["data"]["error"]["message"].string?.contains("did not answer") == true, "\(done.text)")
            let account = try await gw.get("/v1/account", key: key)
            #expect(account.body["data"]["held"].int == 0, "\(account.text)")
        }
    }

    @Test("cancel asks upstream first: a task stored as queued that has finished upstream is not deleted there (409)")
    func cancelAfterUpstreamFinished() async throws {
        let a = try await FakeArk.start()
        // No callbacks and a slow poll: what we stored (queued) is older than what upstream knows.
        try await withUpstreamGateway([a.channel(name: "ark-a")], callbacks: false, configure: { $0.upstream.pollInterval = .seconds(60) }) { gw in
            let key = try await gw.newKey(credits: 10_000)
            let id = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#, key: key)
            // Read once upstream has it (a read from before could find the task claimed, not yet sent).
            try await TestSupport.waitUntil("upstream accepted the task") { !a.accepted.isEmpty }
            let queued = try await gw.get("/v1/tasks/\(id)", key: key)
            #expect(queued.body["data"]["status"].string == "pending", "\(queued.text)")
            try await TestSupport.waitUntil("upstream finished the task") { a.tasks.first?.status == "succeeded" }
            let cancel = try await gw.post("/v1/tasks/\(id)/cancel", key: key, "")
            #expect(cancel.status == 409 && cancel.body["error"]["code"].string == "task_not_cancellable", "\(cancel.text)")
            #expect(a.deletes.isEmpty)
        }
    }

    @Test("cancel goes upstream while queued; a running upstream task cannot be cancelled; queued shows as pending")
    func cancel() async throws {
        // Queued long enough that the cancel comes while it waits, however loaded the machine.
        let a = try await FakeArk.start(FakeArk.Behaviour(queueTime: .seconds(120), runTime: .seconds(60)))
        try await withUpstreamGateway([a.channel(name: "ark-a")], callbacks: true) { gw in
            let key = try await gw.newKey()
            let queued = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "q", "duration": 4}"#, key: key)
            let seen = try await gw.poll("/v1/tasks/\(queued)", key: key, limit: .seconds(20)) { $0["data"]["status"].string == "pending" && !a.tasks.isEmpty }
            #expect(seen.body["data"]["status"].string == "pending")
            // The list's status filter agrees with the task view.
            let pendingList = try await gw.get("/v1/tasks?status=pending", key: key)
            #expect(pendingList.body["data"]["items"].array.map { $0["id"].string } == [queued], "\(pendingList.text)")
            #expect(try await gw.get("/v1/tasks?status=processing", key: key).body["data"]["items"].array.isEmpty)
            let cancelled = try await gw.post("/v1/tasks/\(queued)/cancel", key: key, "{}")
            #expect(cancelled.status == 200 && cancelled.body["data"]["status"].string == "cancelled", "\(cancelled.text)")
            // Cancelled upstream too: at once when it was queued there, or, when the cancel came while the
            // submission was in flight, as soon as upstream's answer arrives.
            let upstreamID = try #require(a.tasks.first?.id)
            let deadline = ContinuousClock.now + .seconds(20)
            while !a.deletes.contains(upstreamID) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(a.deletes == [upstreamID])

            a.update { $0.queueTime = .milliseconds(500) }
            let running = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "r", "duration": 4}"#, key: key)
            // Running upstream (its callback said so): the view shows processing with progress past queueing.
            let started = try await gw.poll("/v1/tasks/\(running)", key: key, limit: .seconds(45)) { ($0["data"]["progress"].int ?? 0) >= 20 }
            #expect(started.body["data"]["status"].string == "processing", "\(started.text)")
            let refused = try await gw.post("/v1/tasks/\(running)/cancel", key: key, "{}")
            #expect(refused.status == 409 && refused.body["error"]["code"].string == "task_not_cancellable", "\(refused.text)")
        }
    }

    @Test("a 429 slows a channel without failing its tasks; cancel answers 503 while upstream cannot be reached; a local channel takes over when Ark fails")
    func rateLimitsAndLocalFallback() async throws {
        let a = try await FakeArk.start()
        try await withUpstreamGateway([a.channel(name: "ark-a")], callbacks: false) { gw in
            let key = try await gw.newKey()
            a.update { $0.queries = .rateLimited }
            let first = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "limited 1", "duration": 4}"#, key: key)
            _ = try await gw.poll("/v1/tasks/\(first)", key: key, limit: .seconds(20)) { _ in !a.tasks.isEmpty }
            try await TestSupport.waitUntil("two status checks were answered 429") { a.queries >= 2 }
            #expect(try await gw.get("/v1/tasks/\(first)", key: key).body["data"]["status"].string == "pending", "429s on status checks do not fail a task")
            let cancel = try await gw.post("/v1/tasks/\(first)/cancel", key: key, "{}")
            #expect(cancel.status == 503 && cancel.body["error"]["code"].string == "upstream_unavailable" && cancel.headers[.retryAfter] == "5", "\(cancel.text)")

            a.update { $0.submissions = .rateLimited; $0.queries = .normal }
            let tried = a.creates
            let second = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "limited 2", "duration": 4}"#, key: key)
            try await TestSupport.waitUntil("the submission was answered 429") { a.creates > tried }
            #expect(try await gw.get("/v1/tasks/\(second)", key: key).body["data"]["status"].string != "failed", "a 429 on submission is not a failure")
            a.update { $0.submissions = .normal }
            for id in [first, second] {
                let done = try await gw.finishedVideo(id, key: key, limit: .seconds(60))
                #expect(done.body["data"]["status"].string == "completed", "\(done.text)")
            }
            #expect(a.accepted.count == 2)
        }
        let down = try await FakeArk.start(FakeArk.Behaviour(submissions: .serverError))
        try await withUpstreamGateway([down.channel(name: "ark-down"), #"{"name": "local", "type": "local", "priority": 9}"#], callbacks: false) { gw in
            let key = try await gw.newKey()
            let id = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "rendered here", "duration": 4}"#, key: key)
            let done = try await gw.finishedVideo(id, key: key, limit: .seconds(60))
            #expect(done.body["data"]["status"].string == "completed", "\(done.text)")
            #expect(down.accepted.isEmpty)
            let file = try await gw.download(try #require(done.body["data"]["result"]["videos"][0]["url"][0].string))
            #expect(try await ProbedVideo.probe(file.body).height == 480, "rendered by the local engine at the requested 480p")
        }
    }

    @Test("a result that cannot be copied before upstream's links die fails the task with result_unavailable and releases its hold")
    func resultCopyFails() async throws {
        let a = try await FakeArk.start(FakeArk.Behaviour(results: .serverError))
        try await withUpstreamGateway([a.channel(name: "ark-a")], callbacks: false) { gw in
            let key = try await gw.newKey(credits: 10_000)
            let id = try await gw.generate(#"{"model": "doubao-seedance-2.0", "prompt": "lost", "duration": 4}"#, key: key)
            // Six copies, each after a longer wait: 13 s alone, past 60 s once in a loaded full run.
            let done = try await gw.finishedVideo(id, key: key, limit: .seconds(150))
            #expect(done.body["data"]["status"].string == "failed")
            #expect(done.body["data"]["error"]["code"].string == "result_unavailable", "\(done.text)")
            let account = try await gw.get("/v1/account", key: key)
            #expect(account.body["data"]["balance"].int == 10_000 && account.body["data"]["held"].int == 0, "\(account.text)")
        }
    }

    @Test("a wrong secret key is refused by upstream's signature check; a model without a channel and unbound assets are refused clearly")
    func refusals() async throws {
        let a = try await FakeArk.start()
        try await withUpstreamGateway([a.channel(name: "ark-a", secretKey: "wrong-secret", models: ["doubao-seedance-2.0-fast": FakeArk.models[1]])], callbacks: false) { gw in
            let key = try await gw.newKey()
            let upload = try await gw.post("/api/v1/client/job/asset-upload", key: key, #"{"name": "a", "asset_type": "Image", "asset_url": "\#(gw.url("good.png"))"}"#)
            let assetID = try #require(upload.body["data"]["AssetId"].string)
            let info = try await gw.poll("/api/v1/client/job/asset-info?asset_id=\(assetID)", key: key) { $0["data"]["Status"].string != "Processing" }
            #expect(info.body["data"]["Status"].string == "Failed", "\(info.text)")
            #expect(a.signatureFailures > 0 && a.assets.isEmpty)

            let noModel = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2.0", "prompt": "x"}"#)
            #expect(noModel.status == 400 && noModel.body["error"]["code"].string == "model_not_available", "\(noModel.text)")
            #expect(noModel.body["error"]["message"].string?.hasPrefix("model: ") == true)
        }
        // Upstream refuses a file the local checks passed: the asset fails with upstream's reason.
        try await withUpstreamGateway([a.channel(name: "ark-a")], callbacks: false) { gw in
            let key = try await gw.newKey()
            let upload = try await gw.post("/api/v1/client/job/asset-upload", key: key, #"{"name": "a", "asset_type": "Image", "asset_url": "\#(gw.url("good.png"))?reject=1"}"#)
            let assetID = try #require(upload.body["data"]["AssetId"].string)
            let info = try await gw.poll("/api/v1/client/job/asset-info?asset_id=\(assetID)", key: key) { $0["data"]["Status"].string != "Processing" }
            #expect(info.body["data"]["Status"].string == "Failed", "\(info.text)")
            let refused = try await gw.post("/v1/videos/generations", key: key, #"{"model": "doubao-seedance-2.0", "prompt": "x", "image_urls": ["asset://\#(assetID)"]}"#)
            #expect(refused.status == 400, "\(refused.text)")
        }
    }
}

@Suite("seedgate channels check")
struct ChannelsCheckCommandTests {
    @Test("prints each channel's result and fails when a credential is wrong")
    func check() async throws {
        let a = try await FakeArk.start(), b = try await FakeArk.start()
        let good = try channelsFile([a.channel(name: "ark-good")])
        let ok = try await CommandLineTests.run(["channels", "check", "--channels", good])
        #expect(ok.status == 0, "\(ok.stdout)")
        #expect(ok.stdout.contains("ark-good\ttasks: ok\tassets: ok"), "\(ok.stdout)")
        let bad = try channelsFile([a.channel(name: "ark-good"), b.channel(name: "ark-badsig", secretKey: "nope")])
        let failed = try await CommandLineTests.run(["channels", "check", "--channels", bad])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("ark-badsig\ttasks: ok\tassets: FAILED (HTTP 401 SignatureDoesNotMatch"), "\(failed.stdout)")
    }
}
