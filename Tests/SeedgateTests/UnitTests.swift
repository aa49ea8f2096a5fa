import Foundation
import NIOPosix
import SeedgateApp
import SeedgateBlobs
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateStore
import SeedgateSupport
import Synchronization
import Testing

@Suite("media requirements (pure)")
struct MediaRequirementsTests {
    static func image(_ w: Int, _ h: Int, format: String = "png", bytes: Int64 = 1000) -> MediaFacts {
        MediaFacts(kind: .image, format: format, width: w, height: h, byteCount: bytes)
    }
    static func video(_ w: Int, _ h: Int, duration: Double = 5, fps: Double = 24, format: String = "mp4", bytes: Int64 = 1000) -> MediaFacts {
        MediaFacts(kind: .video, format: format, width: w, height: h, duration: duration, fps: fps, byteCount: bytes)
    }
    static func audio(_ duration: Double, format: String = "wav", bytes: Int64 = 1000) -> MediaFacts {
        MediaFacts(kind: .audio, format: format, duration: duration, hasAudio: true, byteCount: bytes)
    }
    static let mb: Int64 = 1024 * 1024

    static let table: [(String, MediaFacts, MediaType, String?)] = [
        ("image ok", image(640, 480), .image, nil),
        ("side 300 is out (exclusive)", image(300, 400), .image, "dimensions_out_of_range"),
        ("side 301 is in", image(301, 400), .image, nil),
        ("side 6000 is out (exclusive)", image(6000, 3000), .image, "dimensions_out_of_range"),
        ("side 5999 is in", image(5999, 3000), .image, nil),
        ("ratio 2.5 is out for images", image(1000, 400), .image, "aspect_ratio_out_of_range"),
        ("ratio 0.4 is out for images", image(400, 1000), .image, "aspect_ratio_out_of_range"),
        ("ratio 2.49 is in", image(996, 400), .image, nil),
        ("30 MB exactly is out (less than 30 MB)", image(640, 480, bytes: 30 * mb), .image, "file_too_large"),
        ("just under 30 MB is in", image(640, 480, bytes: 30 * mb - 1), .image, nil),
        ("svg is not an allowed format", image(640, 480, format: "svg"), .image, "unsupported_format"),
        ("heic is allowed", image(640, 480, format: "heic"), .image, nil),
        ("video ok", video(854, 480), .video, nil),
        ("video 409600 px is in", video(640, 640), .video, nil),
        ("video 927408 px is in", video(834, 1112), .video, nil),
        ("video 720p (921600 px) is in", video(1280, 720), .video, nil),
        ("video 928800 px is out", video(1290, 720), .video, "resolution_out_of_range"),
        ("video 2 s is in", video(854, 480, duration: 2), .video, nil),
        ("video 15 s is in", video(854, 480, duration: 15), .video, nil),
        ("video 15.2 s is out", video(854, 480, duration: 15.2), .video, "duration_out_of_range"),
        ("video 1.9 s is out", video(854, 480, duration: 1.9), .video, "duration_out_of_range"),
        ("video 23 fps is out", video(854, 480, fps: 23), .video, "frame_rate_out_of_range"),
        ("video 60 fps is in", video(854, 480, fps: 60), .video, nil),
        ("video 61 fps is out", video(854, 480, fps: 61), .video, "frame_rate_out_of_range"),
        ("video ratio 2.5 is in (inclusive)", video(1000, 400), .video, "resolution_out_of_range"),
        ("video side 299 is out", video(299, 1400), .video, "dimensions_out_of_range"),
        ("video 50 MB is in", video(854, 480, bytes: 50 * mb), .video, nil),
        ("video over 50 MB is out", video(854, 480, bytes: 50 * mb + 1), .video, "file_too_large"),
        ("webm is not an allowed video format", video(854, 480, format: "webm"), .video, "unsupported_format"),
        ("audio ok", audio(3), .audio, nil),
        ("mp3 ok", audio(3, format: "mp3"), .audio, nil),
        ("m4a is not allowed", audio(3, format: "m4a"), .audio, "unsupported_format"),
        ("audio 16 s is out", audio(16), .audio, "duration_out_of_range"),
        ("audio over 15 MB is out", audio(3, bytes: 15 * mb + 1), .audio, "file_too_large"),
        ("declared type must match", image(640, 480), .video, "asset_type_mismatch"),
    ]

    @Test("each rule and its boundary", arguments: table)
    func rules(_ row: (String, MediaFacts, MediaType, String?)) {
        #expect(MediaRequirements.check(row.1, declared: row.2)?.code == row.3, "\(row.0)")
    }

    @Test("messages carry the measured value")
    func messages() {
        #expect(MediaRequirements.check(Self.image(200, 200), declared: .image)?.message == "image is 200x200 px; each side must be between 300 and 6000 (exclusive)")
        #expect(MediaRequirements.check(Self.image(640, 480, bytes: 31 * Self.mb), declared: .image)?.message == "image is 31 MB (32505856 bytes); it must be smaller than 30 MB")
    }
}

@Suite("URL guard (pure)")
struct URLGuardTests {
    @Test("address classification", arguments: [
        ("8.8.8.8", true), ("1.1.1.1", true), ("127.0.0.1", false), ("10.0.0.1", false), ("172.16.0.1", false), ("172.32.0.1", true),
        ("192.168.1.1", false), ("169.254.169.254", false), ("100.64.0.1", false), ("0.0.0.0", false), ("224.0.0.1", false),
        ("255.255.255.255", false), ("::1", false), ("::", false), ("fe80::1", false), ("fd00:ec2::254", false), ("fc00::1", false),
        ("::ffff:10.0.0.1", false), ("::ffff:8.8.8.8", true), ("2606:4700::1111", true), ("64:ff9b::a00:1", false), ("ff02::1", false),
    ])
    func classification(_ row: (String, Bool)) throws {
        let address = try #require(IPAddress(row.0))
        #expect(address.isPublic == row.1, "\(row.0)")
    }

    @Test("syntax")
    func syntax() throws {
        let strict = URLGuard(allowPrivate: false)
        #expect(try strict.checkSyntax("https://example.com/a.png?x=1", field: "url").host() == "example.com")
        for bad in ["ftp://example.com/a", "data:image/png;base64,AA", "javascript:alert(1)", "https://", "http://user:pw@example.com/a", "http://localhost:8080/", "http://127.1.2.3/"] {
            #expect(throws: SeedgateError.self, "\(bad)") { try strict.checkSyntax(bad, field: "url") }
        }
        #expect(throws: SeedgateError.self) { try strict.checkSyntax("https://example.com/" + String(repeating: "a", count: 2100), field: "url") }
        #expect(try URLGuard(allowPrivate: true).checkSyntax("http://127.0.0.1:9/a", field: "url").port == 9)
    }
}

@Suite("wire JSON and ids (pure)")
struct WireTests {
    @Test("objects keep their order; strings are escaped; slashes are not")
    func serialization() {
        let value: JSONOut = .obj(["z": 1, "a": .string("asset://x/y"), "m": nil, "q": .string("\"\\\n\u{1}é中"), "n": .null, "arr": .array([true, 2.5 == 2.5 ? .double(2.5) : .null])])
        #expect(value.serialized() == #"{"z":1,"a":"asset://x/y","q":"\"\\\n\u0001é中","n":null,"arr":[true,2.5]}"#)
        #expect(JSONOut.string("a\u{2028}b\u{2029}\r\t\u{1f}🎬").serialized() == #""a\u2028b\u2029\r\t\u001f🎬""#)
    }

    @Test("task ids are task_ + a time-ordered ULID; asset and group ids look like upstream's")
    func identifiers() {
        let early = Identifiers.task(at: Date(timeIntervalSince1970: 1_700_000_000))
        let late = Identifiers.task(at: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(early.wholeMatch(of: #/task_[0-9A-HJKMNP-TV-Z]{26}/#) != nil)
        #expect(early < late)
        #expect(Identifiers.asset(at: Date(timeIntervalSince1970: 1_773_817_809)).hasPrefix("asset-20260318071009-"))
        #expect(Identifiers.group().wholeMatch(of: #/group-\d{14}-[a-z0-9]{8}/#) != nil)
        #expect(Set((0..<1000).map { _ in Identifiers.random(8) }).count == 1000)
    }

    /// Foundation's JSONSerialization as the independent judge of what each text means. Numbers are
    /// compared by value (as doubles): which of the two cases holds a whole number is the parser's choice.
    static func foundationValue(_ any: Any) -> JSONValue {
        switch any {
        case is NSNull: return .null
        case let number as NSNumber:
            if String(cString: number.objCType) == "c" { return .bool(number.boolValue) }
            return .number(number.doubleValue)
        case let string as String: return .string(string)
        case let array as [Any]: return .array(array.map(foundationValue))
        case let object as [String: Any]: return .object(object.mapValues(foundationValue))
        default: return .string("unexpected \(type(of: any))")
        }
    }

    @Test("the JSON parser reads valid text as JSONSerialization reads it", arguments: [
        #"{"a": 1, "b": -0.5, "c": 1e3, "d": "x\"y\\z\/\n\t\u00e9\ud83d\ude00", "e": [true, false, null, {}], "f": []}"#,
        #"  [1, 2.25, -7, 9223372036854775807, 12345678901234567890, "中文 🎬"]  "#,
        #"{"nested": {"deeper": [[[{"k": "v"}]]]}}"#, #""just a string""#, "0", "2.5", "[1E-2, 2e+2]",
    ])
    func parserReads(_ text: String) throws {
        let data = Data(text.utf8)
        let expected = try #require((try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])).map(Self.foundationValue))
        #expect(Self.numbersAsDoubles(try JSONValue.parse(data)) == expected, "\(text)")
    }

    @Test("the JSON parser refuses what JSONSerialization refuses", arguments: [
        #"[1 2]"#, #"{"a" 1}"#, "01", "1.", ".5", "-", "+1", #""\x""#, "[", "tru", "nul", #"{"a": 1} x"#, "",
    ])
    func parserRefuses(_ text: String) {
        let data = Data(text.utf8)
        #expect((try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) == nil, "\(text)")
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(data) }
    }

    static func numbersAsDoubles(_ value: JSONValue) -> JSONValue {
        switch value {
        case .integer(let integer): .number(Double(integer))
        case .array(let items): .array(items.map(numbersAsDoubles))
        case .object(let fields): .object(fields.mapValues(numbersAsDoubles))
        default: value
        }
    }

    @Test("the JSON parser's own rules: whole numbers are integers, the last repeated key counts; raw control characters, lone surrogates and trailing commas are refused")
    func parserRules() throws {
        #expect(try JSONValue.parse(Data(#"[7, -7, 7.5, 1e2]"#.utf8)) == .array([.integer(7), .integer(-7), .number(7.5), .number(100)]))
        #expect(try JSONValue.parse(Data(#"{"k": 1, "k": 2}"#.utf8)) == .object(["k": .integer(2)]))
        // A UTF-8 byte order mark before the value is skipped (RFC 8259 section 8.1).
        #expect(try JSONValue.parse(Data([0xEF, 0xBB, 0xBF] + Array(#"{"k": 1}"#.utf8))) == .object(["k": .integer(1)]))
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Data("\"a\tb\"".utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Data(#""\ud83d""#.utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Data(#""\ude00""#.utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Data([0x22, 0xff, 0x22])) }
        // RFC 8259 has no trailing commas (JSONSerialization lets one pass in an object).
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Data(#"{"a": 1,}"#.utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Data(#"[1,]"#.utf8)) }
    }

    @Test("JSON nested deeper than 128 levels is refused, not followed down the stack")
    func parserDepth() {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)) }
        #expect((try? JSONValue.parse(Data((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8))) != nil)
    }

    @Test("a stored request's JSON, written by hand, decodes to the same request (every field set, and none)")
    func storedRequest() throws {
        let full = GenerationRequest(
            model: .fast, prompt: "a \"quoted\" prompt\n", duration: 7, size: "9:16", resolution: "720p", seed: 42,
            generateAudio: true, returnLastFrame: true, tools: ["web_search"],
            images: [MediaInput(url: "https://x/a.png", role: .firstFrame, field: "image_with_roles[0]"),
                     MediaInput(url: "asset://asset-1", assetID: "asset-1", role: .referenceImage, field: "image_urls[0]")],
            videos: [MediaInput(url: "https://x/v.mp4", field: "video_urls[0]")], audios: [MediaInput(url: "https://x/a.wav", field: "audio_urls[0]")],
            callbackURL: "https://hook", watermark: true
        )
        let bare = GenerationRequest(
            model: .standard, prompt: nil, duration: 5, size: "16:9", resolution: "480p", seed: nil, generateAudio: false,
            returnLastFrame: false, tools: [], images: [], videos: [], audios: [], callbackURL: nil, watermark: false
        )
        for request in [full, bare] {
            let json = StoredJSON.encode(request)
            #expect(try JSONDecoder().decode(GenerationRequest.self, from: Data(json.utf8)) == request)
            // The same fields as the synthesized encoder writes.
            let synthesized = try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? NSDictionary
            #expect(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? NSDictionary == synthesized)
        }
    }

    @Test("field reader names the path of the field")
    func fields() throws {
        let body = try JSONFields.parse(Data(#"{"a": {"b": [{"c": 1}]}, "s": "x", "n": null}"#.utf8))
        let nested = try #require(try body.object("a")?.objects("b")?.first)
        #expect(throws: SeedgateError.invalid("a.b[0].c", "must be a string, not a number")) { try nested.string("c") }
        #expect(try body.string("n") == nil)
        #expect(throws: SeedgateError.missing("n")) { try body.requiredString("n") }
        #expect(throws: SeedgateError.self) { try body.rejectUnknown(["a", "s"]) }
    }
}

@Suite("review task state (pure)")
struct ReviewTaskStateTests {
    static func asset(_ status: AssetStatus) -> Asset {
        Asset(id: "asset-\(UUID())", keyID: "k", groupID: "g", taskID: "t", name: "n", type: .image, sourceURL: "https://e.com/a",
              status: status, failure: status == .failed ? Failure(code: "x", message: "y") : nil, createdAt: Date(), updatedAt: Date())
    }

    @Test("processing while any is in review; completed when all active; failed when any failed")
    func derived() {
        func task(_ statuses: [AssetStatus]) -> AssetReviewTask {
            AssetReviewTask(id: "t", keyID: "k", groupID: "g", createdAt: Date(), assets: statuses.map(Self.asset))
        }
        #expect(task([.processing, .active]).status == .processing)
        #expect(task([.processing, .failed]).status == .processing)
        #expect(task([.active, .active]).status == .completed)
        #expect(task([.active, .failed]).status == .failed)
        #expect(task([.processing, .processing]).progress == 10)
        #expect(task([.active, .processing]).progress == 50)
        #expect(task([.active, .failed]).progress == 100)
        #expect(task([.processing]).completedAt == nil)
        #expect(task([.active]).completedAt != nil)
    }
}

@Suite("store contract (real SQLite and PostgreSQL)")
struct StoreTests {
    @Test("two workers never hold the same asset, and only the holder can finish it", arguments: Backend.all)
    func claims(_ backend: Backend) async throws {
        let store = try await backend.openStore()
        let provider = store.provider
        try await store.migrate() // idempotent
        let (key, _, _) = try await store.createKey(name: "k")
        let task = try await store.submitAssets(keyID: key.id, target: .keyDefault, projectName: "default", type: .image,
                                                inputs: (0..<5).map { AssetInput(url: "https://e.com/\($0).png", name: "a\($0)") })
        let claimed = try await withThrowingTaskGroup(of: Asset?.self) { group in
            for worker in 0..<8 { group.addTask { try await store.claimAssetForReview(owner: "w\(worker)", lease: .seconds(60)) } }
            return try await group.reduce(into: [Asset]()) { if let a = $1 { $0.append(a) } }
        }
        #expect(claimed.count == 5)
        #expect(Set(claimed.map(\.id)) == Set(task.assets.map(\.id)))
        #expect(try await store.claimAssetForReview(owner: "late", lease: .seconds(60)) == nil)

        let facts = MediaFacts(kind: .image, format: "png", width: 640, height: 480, byteCount: 10)
        #expect(try await store.finishReview(assetID: task.assets[0].id, owner: "not-the-holder", outcome: .success(facts)) == false)
        let holder = try #require(try await provider.read { db in
            try await db.raw("SELECT lease_owner FROM assets WHERE id = \(bind: task.assets[0].id)").first()?.decode(column: "lease_owner", as: String.self)
        })
        #expect(try await store.finishReview(assetID: task.assets[0].id, owner: holder, outcome: .success(facts)) == true)
        // Finished once: a second finish (a racing worker) changes nothing.
        #expect(try await store.finishReview(assetID: task.assets[0].id, owner: holder, outcome: .failure(Failure(code: "x", message: "y"))) == false)
        #expect(try await store.asset(id: task.assets[0].id, keyID: key.id)?.status == .active)
        // Two default groups are never made for one key.
        let again = try await store.submitAssets(keyID: key.id, target: .keyDefault, projectName: "default", type: .image, inputs: [AssetInput(url: "https://e.com/x.png", name: "x")])
        #expect(again.groupID == task.groupID)
        await provider.close()
    }
}

extension StoreTests {
    @Test("upstream submission: a cancel that races an accepted submission leaves it for an upstream cancel; a dead submitter's task is never resent", arguments: Backend.all)
    func submissionRaces(_ backend: Backend) async throws {
        let store = try await backend.openStore()
        let (key, _, _) = try await store.createKey(name: "k", credits: 10_000)
        let request = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#)
        let (task, _) = try await store.insertVideoTask(keyID: key.id, request: request, seed: 1, hold: 100, idempotency: nil)
        let claimed = try #require(try await store.claimVideoTask(owner: "w1", lease: .seconds(60)))
        #expect(try await store.beginSubmission(taskID: task.id, owner: "w1", channel: "ark-a", callbackToken: "secret"))
        // Shown as pending while it is being submitted.
        #expect(try await store.videoTask(id: task.id, keyID: key.id)?.status == .pending)
        #expect(try await store.recordSubmission(taskID: claimed.id, owner: "w1", upstreamID: "cgt-1", firstPoll: Date(), deadline: Date().addingTimeInterval(60)))
        // A cancel that read the task before upstream accepted it must not cancel it only here.
        let raced = try #require(try await store.cancelVideoTask(id: task.id, keyID: key.id, unlessSubmitted: true))
        #expect(!raced.cancelled && raced.task.upstream?.id == "cgt-1" && raced.task.status == .pending)
        // Submitted tasks belong to the poller, not to the video worker's claim.
        #expect(try await store.claimVideoTask(owner: "w2", lease: .seconds(60)) == nil)
        #expect(try await store.wakeUpstreamTask(taskID: task.id, token: "wrong") == false)
        #expect(try await store.wakeUpstreamTask(taskID: task.id, token: "secret") == true)
        #expect(try await store.claimDuePolls(owner: "p", lease: .seconds(60), limit: 10).map(\.id) == [task.id])

        // A submitter that died after marking its task: the next claim sees `submitting`, not a fresh task.
        let (second, _) = try await store.insertVideoTask(keyID: key.id, request: request, seed: 2, hold: 100, idempotency: nil)
        _ = try #require(try await store.claimVideoTask(owner: "dead", lease: .milliseconds(1)))
        #expect(try await store.beginSubmission(taskID: second.id, owner: "dead", channel: "ark-a", callbackToken: "t"))
        try await Task.sleep(for: .milliseconds(20))
        let again = try #require(try await store.claimVideoTask(owner: "w3", lease: .seconds(60)))
        #expect(again.id == second.id && again.upstream?.status == "submitting")
        await store.provider.close()
    }
}

extension StoreTests {
    /// A task submitted to `channel` and accepted there (upstream id `cgt-<index>`, callback token
    /// `token-<index>`), its first status check due at `firstPoll`; its id.
    static func runningUpstream(_ store: SQLStore, keyID: String, index: Int, channel: String, firstPoll: Date) async throws -> String {
        let request = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#)
        let (task, _) = try await store.insertVideoTask(keyID: keyID, request: request, seed: Int64(index), hold: 100, idempotency: nil)
        _ = try #require(try await store.claimVideoTask(owner: "w", lease: .seconds(60)))
        #expect(try await store.beginSubmission(taskID: task.id, owner: "w", channel: channel, callbackToken: "token-\(index)"))
        #expect(try await store.recordSubmission(taskID: task.id, owner: "w", upstreamID: "cgt-\(index)",
                                                 firstPoll: firstPoll, deadline: firstPoll.addingTimeInterval(3600)))
        return task.id
    }

    @Test("poll claims look ahead only when asked; checks are recorded in one statement, keeping a callback's earlier time, and only by their holder", arguments: Backend.all)
    func gatheredPolls(_ backend: Backend) async throws {
        let store = try await backend.openStore()
        let (key, _, _) = try await store.createKey(name: "k", credits: 100_000)
        let now = store.clock.now
        var ids: [String] = []
        // Far enough apart that a loaded machine's pauses between these lines change nothing.
        for (index, delay) in [-1.0, 120.0, 600.0].enumerated() {
            ids.append(try await Self.runningUpstream(store, keyID: key.id, index: index, channel: "ark-a", firstPoll: now.addingTimeInterval(delay)))
        }
        #expect(try await store.claimDuePolls(owner: "p", lease: .seconds(60), limit: 10).map(\.id) == [ids[0]])
        let swept = try await store.claimDuePolls(owner: "q", lease: .seconds(60), limit: 10, within: .seconds(240))
        #expect(swept.map(\.id) == [ids[1]], "due within the sweep's window, not the one due in 600 s, nor the one already held")
        let sweptTask = try #require(swept.first)

        // A callback wakes the swept task before its check is recorded: the earlier time stands.
        #expect(try await store.wakeUpstreamTask(taskID: ids[1], token: "token-1"))
        let first = try #require(try await store.videoTask(id: ids[0], keyID: key.id))
        let next = now.addingTimeInterval(800)
        try await store.reschedulePolls([
            PollCheck(task: first, upstreamStatus: "running", progress: 40, next: next),
            PollCheck(task: sweptTask, upstreamStatus: "running", progress: 30, next: next),
        ], owner: "p")
        // Only `p`'s claim was recorded: `q` still holds the swept task.
        #expect(try await store.claimDuePolls(owner: "r", lease: .seconds(60), limit: 10).isEmpty)
        try await store.reschedulePolls([PollCheck(task: sweptTask, upstreamStatus: "running", progress: 30, next: next)], owner: "q")
        let recorded = try await store.claimDuePolls(owner: "r", lease: .seconds(60), limit: 10)
        #expect(recorded.map(\.id) == [ids[1]], "the woken task is due now; the other waits for its 800 s")
        #expect(recorded.first?.upstream?.status == "running" && recorded.first?.upstream?.polls == 1 && recorded.first?.progress == 30)
        let later = try await store.claimDuePolls(owner: "s", lease: .seconds(60), limit: 10, within: .seconds(900))
        #expect(Set(later.map(\.id)) == [ids[0], ids[2]])
        #expect(later.first { $0.id == ids[0] }?.upstream?.nextPollAt == Epoch.millis(next))
        await store.provider.close()
    }

    @Test("PostgreSQL: the task read runs prepared; when a change of the table leaves a connection's copy stale, that connection is closed and the read still answers",
          .enabled(if: Backend.postgresURL != nil))
    func preparedTaskRead() async throws {
        let store = try await Backend.postgres.openStore()
        let postgres = try #require(store.provider as? PostgresProvider)
        let (key, _, _) = try await store.createKey(name: "k", credits: 100_000)
        let request = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#)
        let (task, _) = try await store.insertVideoTask(keyID: key.id, request: request, seed: 1, hold: 100, idempotency: nil)
        for _ in 0..<10 { #expect(try await store.videoTaskWithWebhook(id: task.id, keyID: key.id)?.task.id == task.id) }
        #expect(postgres.staleStatements.value == 0)
        // What another replica's migration could do to a column the statement returns: its type changes.
        try await store.provider.read { db in try await db.raw("ALTER TABLE tasks ALTER COLUMN request_id TYPE VARCHAR(200)").run() }
        for _ in 0..<10 {
            let read = try await store.videoTaskWithWebhook(id: task.id, keyID: key.id)
            #expect(read?.task.id == task.id && read?.task.request == request)
        }
        #expect(postgres.staleStatements.value >= 1, "the read was prepared, so its stale copy was met and replaced")
        #expect(try await store.videoTaskWithWebhook(id: task.id, keyID: "key_other") == nil)
        // The plain read (toapis's, crun's and Ark's views) is prepared too, and meets the same change.
        for _ in 0..<10 { #expect(try await store.videoTask(id: task.id, keyID: key.id)?.id == task.id) }
        let stale = postgres.staleStatements.value
        try await store.provider.read { db in try await db.raw("ALTER TABLE tasks ALTER COLUMN request_id TYPE TEXT").run() }
        for _ in 0..<10 { #expect(try await store.videoTask(id: task.id, keyID: key.id)?.request == request) }
        #expect(postgres.staleStatements.value > stale)
        #expect(try await store.videoTask(id: task.id, keyID: "key_other") == nil)
        await store.provider.close()
    }

    @Test("PostgreSQL: one key's submissions sent at once are written together, and the key's credits and in-flight limit still hold exactly",
          .enabled(if: Backend.postgresURL != nil))
    func batchedSubmissions() async throws {
        let store = try await Backend.postgres.openStore()
        let batches = try #require(store.submissions)
        let request = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#)
        /// 24 submissions at once; the codes of those refused, by count, and the ids of those written.
        func burst(_ keyID: String, maxInFlight: Int) async -> (written: [String], refused: [String: Int]) {
            await withTaskGroup(of: Result<String, SeedgateError>.self) { group in
                for _ in 0..<24 {
                    group.addTask {
                        do {
                            return .success(try await store.insertVideoTask(keyID: keyID, request: request, seed: 1, hold: 100, maxInFlight: maxInFlight, idempotency: nil).task.id)
                        } catch let error as SeedgateError { return .failure(error) } catch { return .failure(.internalError()) }
                    }
                }
                var written: [String] = [], refused: [String: Int] = [:]
                for await result in group {
                    switch result {
                    case .success(let id): written.append(id)
                    case .failure(let error): refused[error.code, default: 0] += 1
                    }
                }
                return (written, refused)
            }
        }
        // Credits for 12 of the 24.
        let (poor, _, _) = try await store.createKey(name: "poor", credits: 1_200)
        let first = await burst(poor.id, maxInFlight: 1_000)
        #expect(first.written.count == 12 && first.refused == ["insufficient_credits": 12], "\(first.refused)")
        #expect(Set(first.written).count == 12)
        // Room for 10 in flight.
        let (busy, _, _) = try await store.createKey(name: "busy", credits: 1_000_000)
        let second = await burst(busy.id, maxInFlight: 10)
        #expect(second.written.count == 10 && second.refused == ["too_many_tasks_in_flight": 14], "\(second.refused)")
        #expect(batches.batches.value > 0, "some were written in a batch")
        for (key, count) in [(poor.id, 12), (busy.id, 10)] {
            let totals = try await store.ledgerTotals(keyID: key)
            #expect(totals.held == Int64(count) * 100 && totals.ledgerHeld == totals.held, "\(totals)")
            #expect(totals.inFlight == Int64(count) && totals.unfinished == Int64(count), "\(totals)")
        }
        for id in first.written { #expect(try await store.videoTask(id: id, keyID: poor.id)?.hold == 100) }
        await store.provider.close()
    }

    @Test("a part-empty list call is filled with the channel's running tasks due soonest, however far off; never another channel's, a held one or a finished one", arguments: Backend.all)
    func filledPolls(_ backend: Backend) async throws {
        let store = try await backend.openStore()
        let (key, _, _) = try await store.createKey(name: "k", credits: 100_000)
        let now = store.clock.now
        var ids: [String] = []
        for (index, (channel, delay)) in [("ark-a", 300.0), ("ark-a", 100.0), ("ark-b", 1.0), ("ark-a", 200.0), ("ark-a", 400.0)].enumerated() {
            ids.append(try await Self.runningUpstream(store, keyID: key.id, index: index, channel: channel, firstPoll: now.addingTimeInterval(delay)))
        }
        #expect(try await store.claimNextPolls(channel: "ark-a", owner: "x", lease: .seconds(60), limit: 1).map(\.id) == [ids[1]])
        // The one due at 400 s then finishes (its claim ends with it): it is not checked again.
        // (PostgreSQL's RETURNING keeps no order: compared as a set.)
        let held = try await store.claimNextPolls(channel: "ark-a", owner: "y", lease: .seconds(60), limit: 10)
        #expect(Set(held.map(\.id)) == [ids[0], ids[3], ids[4]])
        #expect(try await store.finishVideoTask(taskID: ids[4], owner: "y", outcome: .failure(Failure(code: "expired", message: "x")),
                                                cost: 0, usageTokens: nil, cancelled: false))
        #expect(try await store.claimNextPolls(channel: "ark-a", owner: "z", lease: .seconds(60), limit: 10).isEmpty, "all held or finished")
        let filled = try await store.claimNextPolls(channel: "ark-b", owner: "z", lease: .seconds(60), limit: 10)
        #expect(filled.map(\.id) == [ids[2]] && filled.first?.upstream?.channel == "ark-b")
        #expect(try await store.claimNextPolls(channel: "ark-c", owner: "z", lease: .seconds(60), limit: 10).isEmpty)
        #expect(try await store.claimNextPolls(channel: "ark-b", owner: "z", lease: .seconds(60), limit: 0).isEmpty)
        await store.provider.close()
    }
}

@Suite("transactions (real SQLite and PostgreSQL)")
struct TransactionTests {
    @Test("a transaction whose task is cancelled midway rolls back and leaves the connection usable", arguments: Backend.all)
    func cancelledMidway(_ backend: Backend) async throws {
        let store = try await backend.openStore()
        let provider = store.provider
        for _ in 0..<20 {
            let task = Task {
                try await provider.transaction { db in
                    try await db.raw("INSERT INTO api_keys (id, name, secret_hash, created_at) VALUES ('k1', 'n', \(bind: UUID().uuidString), 0)").run()
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...3)))
                    try await db.raw("DELETE FROM api_keys WHERE id = 'k1'").run()
                }
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...3)))
            task.cancel()
            _ = try? await task.value
            // The writer is not stuck inside a transaction, and nothing half-done was kept.
            let (key, _, _) = try await store.createKey(name: "after")
            #expect(try await store.revokeKey(id: key.id))
            #expect(try await store.listKeys().allSatisfy { $0.id != "k1" })
        }
        await provider.close()
    }
}

@Suite("SQLite writers on two connections")
struct SQLiteWriterTurnTests {
    @Test("a writer that waits says so through the turn file, and others see it until it stops")
    func turnFile() throws {
        let path = TestSupport.temporaryDirectory() + "/turn.sqlite"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let server = try #require(SQLiteWriterTurn(database: path)), command = try #require(SQLiteWriterTurn(database: path))
        #expect(!server.othersWait && !command.othersWait)
        command.wait()
        #expect(server.othersWait)
        command.stopWaiting()
        #expect(!server.othersWait)
    }

    @Test("beside a writer that never pauses (group commit under steady load), another connection's writes are not starved into \"database is locked\"")
    func notStarved() async throws {
        let directory = TestSupport.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/shared.sqlite"
        let busy = try await SQLiteProvider.open(path: path, readers: 1, logger: TestSupport.logger)
        let beside = try await SQLiteProvider.open(path: path, readers: 1, logger: TestSupport.logger)
        try await busy.write { db in try await db.raw("CREATE TABLE t (n INTEGER)").run() }
        let stop = ContinuousClock.now + .seconds(4)
        // Eight writers in one process, each transaction 20 ms long, one after another through its
        // writer: they join one open transaction (group commit), which is never closed for long.
        let load = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        var n = 0
                        while ContinuousClock.now < stop {
                            try await busy.transaction { db in
                                try await db.raw("INSERT INTO t VALUES (1)").run()
                                try await Task.sleep(for: .milliseconds(20))
                            }
                            n += 1
                        }
                        return n
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        var besideWrites = 0
        var longest = Duration.zero
        var refusals: [String] = []
        while ContinuousClock.now < stop - .milliseconds(500) {
            let started = ContinuousClock.now
            do {
                try await beside.write { db in try await db.raw("INSERT INTO t VALUES (2)").run() }
                besideWrites += 1
            } catch {
                refusals.append("\(error)")
            }
            longest = max(longest, ContinuousClock.now - started)
        }
        let busyWrites = try await load.value
        #expect(refusals.isEmpty, "\(refusals.prefix(2))")
        // Its writes wait for about one of the busy writer's transactions, not for a gap between them:
        // thousands in the time on an idle machine, where without the turn one went through (3.9 s).
        #expect(besideWrites >= 10 && busyWrites > 0, "\(besideWrites) writes beside \(busyWrites); the longest took \(longest)")
        let stored = try await beside.read { db in try await db.raw("SELECT COUNT(*) AS n FROM t WHERE n = 2").first()?.decode(column: "n", as: Int.self) }
        #expect(stored == besideWrites)
        await busy.close()
        await beside.close()
    }
}

@Suite("database calls bounded in time")
struct CallBoundTests {
    @Test("a sweep ends only the calls past their deadline, once each, and says which ended that way")
    func watchdogSweeps() {
        let watchdog = CallWatchdog()
        let ended = Mutex<[String]>([])
        let start = ContinuousClock.now
        let quick = watchdog.begin(limit: .seconds(30)) { ended.withLock { $0.append("quick") } }
        let slow = watchdog.begin(limit: .seconds(1)) { ended.withLock { $0.append("slow") } }
        let done = watchdog.begin(limit: .seconds(1)) { ended.withLock { $0.append("done") } }
        #expect(watchdog.finish(done) == false, "finished in time: its own result stands")
        #expect(watchdog.sweep(now: start) == 0)
        #expect(watchdog.sweep(now: start + .seconds(2)) == 1)
        #expect(watchdog.sweep(now: start + .seconds(3)) == 0, "ended once")
        #expect(ended.withLock { $0 } == ["slow"])
        #expect(watchdog.finish(slow) == true, "its error is the overrun's")
        #expect(watchdog.finish(quick) == false)
        #expect(watchdog.sweep(now: start + .seconds(60)) == 0, "a finished call is not ended later")
        #expect(watchdog.overruns.value == 1)

        // No limit, but its connection closes under it: ended by the sweep after the one that saw it.
        let closed = Mutex(false)
        let unbounded = watchdog.begin(limit: nil, isLost: { closed.withLock { $0 } }) { ended.withLock { $0.append("lost") } }
        #expect(watchdog.sweep(now: start + .seconds(3600)) == 0, "no limit, and its connection is open")
        closed.withLock { $0 = true }
        #expect(watchdog.sweep() == 0, "given one sweep to end by itself")
        #expect(watchdog.sweep() == 1)
        #expect(ended.withLock { $0 } == ["slow", "lost"])
        #expect(watchdog.finish(unbounded) == true)
    }

    @Test("PostgreSQL: a read past its limit, or one whose connection the server cuts, answers database_unavailable (503) and the next read works",
          .enabled(if: Backend.postgresURL != nil))
    func boundedReads() async throws {
        let url = try await Backend.freshPostgresDatabase()
        let provider = try PostgresProvider(url: url, maxConnectionsPerEventLoop: 2, callLimit: .seconds(1), logger: TestSupport.logger)
        let admin = try PostgresProvider(url: url, maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
        let started = ContinuousClock.now
        let overrun = await #expect(throws: SeedgateError.self) {
            try await provider.read { db in try await db.raw("SELECT pg_sleep(90)").run() }
        }
        #expect(overrun?.code == "database_unavailable" && overrun?.kind == .serviceUnavailable)
        // The limit is 1 s; the bound is wide because a loaded machine may be slow to open the connection
        // and to run the sweep, but far short of the query's own 90 s.
        #expect(ContinuousClock.now - started < .seconds(45), "ended by the watchdog, not by the query")
        #expect(provider.watchdog.overruns.value == 1)
        #expect(try await provider.read { db in try await db.raw("SELECT 1 AS one").first()?.decode(column: "one", as: Int.self) } == 1)

        // The server ends the backend under a running write (as a restart does): a 503, not a 500, and
        // not run again (it may have been done).
        let patient = try PostgresProvider(url: url, maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
        let cut = Task {
            try await patient.write { db in try await db.raw("SELECT pg_sleep(20), 'seedgate-cut-me'").run() }
        }
        @Sendable func terminate(_ which: String) async throws -> Int {
            try await admin.read { db in
                try await db.raw("""
                    SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND \(unsafeRaw: which)
                    """).first()?.decode(column: "n", as: Int.self) ?? 0
            }
        }
        var terminated = 0
        for _ in 0..<100 where terminated == 0 {
            try await Task.sleep(for: .milliseconds(50))
            terminated = try await terminate("state = 'active' AND query LIKE '%seedgate-cut-me%'")
        }
        #expect(terminated == 1)
        let lost = await #expect(throws: SeedgateError.self) { try await cut.value }
        #expect(lost?.code == "database_unavailable")
        #expect(patient.watchdog.overruns.value == 0, "the server's cut, not the watchdog")
        #expect(try await patient.read { db in try await db.raw("SELECT 2 AS two").first()?.decode(column: "two", as: Int.self) } == 2)
        // Every idle pooled connection cut at once (a restart): the next reads answer, on new connections.
        #expect(try await terminate("TRUE") >= 1)
        for n in 3..<7 {
            #expect(try await patient.read { db in try await db.raw("SELECT \(literal: n) AS n").first()?.decode(column: "n", as: Int.self) } == n)
        }
        // A call whose connection is cut under it: a read is asked again on a new connection, a write is not.
        let reads = StatementCounter(), writes = StatementCounter()
        #expect(try await patient.read { db in
            reads.add()
            if reads.value == 1 { try await db.raw("SELECT pg_terminate_backend(pg_backend_pid())").run() }
            return try await db.raw("SELECT 7 AS n").first()?.decode(column: "n", as: Int.self)
        } == 7)
        #expect(reads.value == 2)
        let cutWrite = await #expect(throws: SeedgateError.self) {
            try await patient.write { db in
                writes.add()
                try await db.raw("SELECT pg_terminate_backend(pg_backend_pid())").run()
            }
        }
        #expect(cutWrite?.code == "database_unavailable" && writes.value == 1)
        // A transaction (not bounded in time) whose connection is cut is a 503 too.
        let cutTransaction = await #expect(throws: SeedgateError.self) {
            try await patient.transaction { db in try await db.raw("SELECT pg_terminate_backend(pg_backend_pid())").run() }
        }
        #expect(cutTransaction?.code == "database_unavailable")
        // A statement's own error is still its own.
        let own = await #expect(throws: (any Error).self) { try await patient.read { db in try await db.raw("SELECT * FROM no_such_table").run() } }
        #expect(own != nil && !(own is SeedgateError))
        for p in [provider, admin, patient] { await p.close() }
    }

    @Test("PostgreSQL: when the database starts refusing connections, every call waiting for a pooled connection is answered 503 at once, not at the end of its limit; a provider dropped unclosed closes its pool",
          .enabled(if: Backend.postgresURL != nil))
    func refusedWhileWaiting() async throws {
        let url = try await Backend.freshPostgresDatabase()
        let name = try #require(URL(string: url)?.path.dropFirst()).description
        let admin = try PostgresProvider(url: try #require(Backend.postgresURL), maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
        // One connection per event loop, and far more calls than that: most of them wait in the pool.
        // The calls sleep past the end of the test, so none can be answered by the query: one on a
        // connection is cut, one waiting hears of the refusal, or it waits out its 80 s limit.
        let provider = try PostgresProvider(url: url, maxConnectionsPerEventLoop: 1, callLimit: .seconds(80), logger: TestSupport.logger)
        // Four for each connection the pool may hold (one an event loop, a loop a core).
        let calls = 4 * max(2, ProcessInfo.processInfo.activeProcessorCount)
        let started = ContinuousClock.now
        let results = Task {
            await withTaskGroup(of: String.self) { group in
                for _ in 0..<calls {
                    group.addTask {
                        do {
                            try await provider.read { db in try await db.raw("SELECT pg_sleep(60), 'seedgate-waiting'").run() }
                            return "answered"
                        } catch let error as SeedgateError {
                            return error.code
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }
        var running = 0
        for _ in 0..<100 where running == 0 {
            try await Task.sleep(for: .milliseconds(50))
            running = try await admin.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = \(bind: name) AND query LIKE '%seedgate-waiting%' AND state = 'active'")
                    .first()?.decode(column: "n", as: Int.self) ?? 0
            }
        }
        #expect(running >= 1)
        try await admin.read { db in try await db.raw("ALTER DATABASE \(ident: name) ALLOW_CONNECTIONS false").run() }
        try await admin.read { db in try await db.raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(bind: name)").run() }
        let outcome = await results.value
        let waited = ContinuousClock.now - started
        try await admin.read { db in try await db.raw("ALTER DATABASE \(ident: name) ALLOW_CONNECTIONS true").run() }
        #expect(outcome.count == calls && outcome.allSatisfy { $0 == "database_unavailable" }, "\(outcome)")
        #expect(waited < .seconds(40), "the waiting calls were answered when the refusal was heard, not at their 80 s limit (took \(waited))")
        // Back: a call may still hear of a refusal that was on its way (a 503 to try again, as a client
        // told Retry-After does); then the calls answer.
        var back: Int?
        for _ in 0..<50 where back == nil {
            back = try? await provider.read { db in try await db.raw("SELECT 3 AS n").first()?.decode(column: "n", as: Int.self) }
            if back == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(back == 3)
        await provider.close()

        // Dropped without close(): its pool is shut down by the provider, not left to trap when it goes.
        do {
            let dropped = try PostgresProvider(url: url, maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
            #expect(try await dropped.read { db in try await db.raw("SELECT 4 AS n").first()?.decode(column: "n", as: Int.self) } == 4)
        }
        try await Task.sleep(for: .milliseconds(500))
        await admin.close()
    }

    @Test("PostgreSQL: with backends cut again and again under reads, writes and transactions, every call ends (answered, or a 503) long before its limit; none waits on a connection that closed under it",
          .enabled(if: Backend.postgresURL != nil))
    func cutsUnderLoad() async throws {
        let url = try await Backend.freshPostgresDatabase()
        let admin = try PostgresProvider(url: url, maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
        // A limit far past the test's length: a call that waited on a dead connection until then would
        // show, since nothing else would end it.
        let provider = try PostgresProvider(url: url, maxConnectionsPerEventLoop: 4, callLimit: .seconds(90), logger: TestSupport.logger)
        let stop = ContinuousClock.now + .seconds(8)
        let tallies = Task {
            await withTaskGroup(of: (answered: Int, refused: Int, other: [String]).self) { group in
                for loop in 0..<24 {
                    group.addTask {
                        var answered = 0, refused = 0, other: [String] = []
                        while ContinuousClock.now < stop {
                            do {
                                switch loop % 3 {
                                case 0: _ = try await provider.read { db in try await db.raw("SELECT 1 AS one").first() }
                                case 1: try await provider.write { db in try await db.raw("SELECT pg_sleep(0.01)").run() }
                                default: try await provider.transaction { db in try await db.raw("SELECT pg_sleep(0.01)").run() }
                                }
                                answered += 1
                            } catch let error as SeedgateError where error.code == "database_unavailable" {
                                refused += 1
                            } catch {
                                other.append("\(error)")
                            }
                        }
                        return (answered, refused, other)
                    }
                }
                return await group.reduce(into: (answered: 0, refused: 0, other: [String]())) {
                    $0.answered += $1.answered; $0.refused += $1.refused; $0.other += $1.other
                }
            }
        }
        var cuts = 0
        while ContinuousClock.now < stop - .seconds(1) {
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...300)))
            cuts += try await admin.read { db in
                try await db.raw("""
                    SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid()
                    """).first()?.decode(column: "n", as: Int.self) ?? 0
            }
        }
        let outcome = await tallies.value
        let over = ContinuousClock.now - stop
        #expect(cuts > 10)
        // How many depends on the machine's load; that the cuts reached calls, and calls still answered, does not.
        #expect(outcome.answered > 0 && outcome.refused > 0, "\(outcome.answered) answered, \(outcome.refused) refused")
        #expect(outcome.other.isEmpty, "only answers and 503s: \(outcome.other.prefix(3))")
        #expect(over < .seconds(45), "the last calls ended \(over) after the loops stopped asking; a dead connection held one")
        #expect(try await provider.read { db in try await db.raw("SELECT 5 AS n").first()?.decode(column: "n", as: Int.self) } == 5)
        await provider.close()
        await admin.close()
    }

    @Test("PostgreSQL: an error goes to the logs with its code, SQLSTATE and names, never the values bound to its statement or quoted in its message",
          .enabled(if: Backend.postgresURL != nil))
    func errorsLoggedWithoutValues() async throws {
        let provider = try PostgresProvider(url: try #require(Backend.postgresURL), maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
        let secret = "sg0secret0bound0value"
        do {
            try await provider.read { db in try await db.raw("SELECT CAST(\(bind: secret) AS integer)").run() }
            Issue.record("a text that is no number was cast")
        } catch {
            // PostgresNIO's own debug form shows it twice (bound, and quoted in the message): what was logged before.
            #expect(String(reflecting: error).contains(secret))
            let logged = logDescription(of: error)
            #expect(!logged.contains(secret) && logged.contains("sqlState: 22P02") && logged.hasPrefix("PSQLError(code: server"), "\(logged)")
        }
        // A cell read as the wrong type: the decoding error's debug form shows the cell's bytes.
        do {
            _ = try await provider.read { db in try await db.raw("SELECT \(bind: secret)::text AS n").first()?.decode(column: "n", as: Int.self) }
            Issue.record("a text that is no number was read as one")
        } catch {
            let bytes = secret.utf8.prefix(6).map { String(format: "%02x", $0) }.joined()
            #expect(String(reflecting: error).contains(bytes), "\(String(reflecting: error).prefix(400))")
            let logged = logDescription(of: error)
            #expect(!logged.contains(bytes) && !logged.contains(secret) && logged.contains("Decoding"), "\(logged)")
        }
        await provider.close()
    }

    @Test("PostgreSQL: calls that all prefer one event loop (a proxy's few connections) spill to the other loops' connections once that loop's share of the pool is busy",
          .enabled(if: Backend.postgresURL != nil))
    func preferredLoopSpills() async throws {
        let url = try await Backend.freshPostgresDatabase()
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        let provider = try PostgresProvider(url: url, maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
        // A connection open on every loop first (calls with no preference, one after another, take the
        // loops in turn): what is tested is where a call goes, not how soon a loaded machine opens one.
        for _ in loops { _ = try await provider.read { db in try await db.raw("SELECT 1 AS n").first() } }
        // Each call notes when its body ran, on its connection. With one connection a loop, two calls
        // on one loop run one after the other; spilled, at the same time. Judged by these times rather
        // than by watching the server, whose answers a loaded machine may slow past the calls' end.
        actor Spans {
            var all: [(start: ContinuousClock.Instant, end: ContinuousClock.Instant)] = []
            func add(_ start: ContinuousClock.Instant, _ end: ContinuousClock.Instant) { all.append((start, end)) }
        }
        let spans = Spans()
        let errors = await withTaskGroup(of: String?.self) { group in
            for _ in loops {
                group.addTask {
                    do {
                        try await PreferredEventLoop.$current.withValue(loops[0]) {
                            try await provider.read { db in
                                let start = ContinuousClock.now
                                try await db.raw("SELECT pg_sleep(2)").run()
                                await spans.add(start, ContinuousClock.now)
                            }
                        }
                        return nil
                    } catch {
                        return "\(error)"
                    }
                }
            }
            return await group.reduce(into: [String]()) { if let error = $1 { $0.append(error) } }
        }
        #expect(errors.isEmpty, "\(errors)")
        let seen = await spans.all
        #expect(seen.count == loops.count)
        let together = seen.map(\.start).max().map { latest in seen.allSatisfy { latest < $0.end } } ?? false
        #expect(together, "the calls ran one after another: the others waited for the preferred loop's one connection (\(seen))")
        await provider.close()
    }

    @Test("through the router: while PostgreSQL refuses connections every dialect answers 503 database_unavailable in its own envelope with Retry-After, and answers again once it is back",
          .enabled(if: Backend.postgresURL != nil))
    func databaseDownThroughRouter() async throws {
        try await withGateway(backend: .postgres) { gw in
            let key = try await gw.newKey()
            let url = try #require(gw.configuration.databaseURL)
            let name = try #require(URL(string: url)?.path.dropFirst()).description
            let admin = try PostgresProvider(url: try #require(Backend.postgresURL), maxConnectionsPerEventLoop: 1, logger: TestSupport.logger)
            @Sendable func allow(_ allowed: Bool) async throws {
                try await admin.read { db in try await db.raw("ALTER DATABASE \(ident: name) ALLOW_CONNECTIONS \(unsafeRaw: allowed ? "true" : "false")").run() }
                if !allowed {
                    try await admin.read { db in
                        try await db.raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(bind: name)").run()
                    }
                }
            }
            // However the checks end, the database lets connections in again and the admin pool is closed.
            do {
                let apimart = "/v1/tasks/task_01M900000000000000000000", toapis = "\(ToapisAndCrunTests.base)/assets/asset-none"
                let crun = "/api/v1/client/job/asset-info?asset_id=asset-none"
                #expect(try await gw.get(apimart, key: key).status == 404)

                try await allow(false)
                // Past the key cache's recheck, so that authentication asks the database too.
                try await Task.sleep(for: .seconds(1))
                let down = try await gw.get(apimart, key: key)
                #expect(down.status == 503 && down.body["error"]["code"].string == "database_unavailable", "\(down.text)")
                #expect(down.headers[.retryAfter] == "1")
                let toapisDown = try await gw.get(toapis, key: key)
                #expect(toapisDown.status == 503 && toapisDown.body["success"].bool == false
                        && toapisDown.body["error"]["code"].string == "database_unavailable", "\(toapisDown.text)")
                let crunDown = try await gw.get(crun, key: key, header: .xAPIKey)
                #expect(crunDown.status == 503 && crunDown.body["code"].int == 503 && crunDown.body["message"].string?.contains("database") == true,
                        "\(crunDown.text)")
                #expect(!down.text.contains(name) && !down.text.contains("FATAL"), "the cause stays in the log")

                try await allow(true)
                var back = try await gw.get(apimart, key: key)
                for _ in 0..<50 where back.status == 503 {
                    try await Task.sleep(for: .milliseconds(200))
                    back = try await gw.get(apimart, key: key)
                }
                #expect(back.status == 404, "\(back.text)")
            } catch {
                try? await allow(true)
                await admin.close()
                throw error
            }
            await admin.close()
        }
    }
}

@Suite("keys cached on PostgreSQL, forgotten on every replica")
struct KeyCacheTests {
    @Test("a key revoked or re-limited on one replica, or by the command line, stops working on another within a second; at once on the one that changed it",
          .enabled(if: Backend.postgresURL != nil))
    func revokedEverywhere() async throws {
        let url = try await Backend.freshPostgresDatabase()
        let here = try PostgresProvider(url: url, maxConnectionsPerEventLoop: 2, logger: TestSupport.logger)
        let there = try PostgresProvider(url: url, maxConnectionsPerEventLoop: 2, logger: TestSupport.logger)
        let clock = OffsetClock()
        let replica = SQLStore(provider: here, clock: clock)
        let other = SQLStore(provider: there)
        try await replica.migrate()

        let (alice, aliceSecret, _) = try await other.createKey(name: "alice", rpm: 60)
        let (bob, bobSecret, _) = try await other.createKey(name: "bob")
        #expect(try await replica.authenticate(secret: aliceSecret)?.rpm == 60)
        #expect(try await replica.authenticate(secret: bobSecret)?.id == bob.id)
        #expect(try await replica.authenticate(secret: "sk-sg-unknown") == nil)

        // Another replica's change: seen once the version is read again, at most `recheck` later.
        #expect(try await other.setLimits(keyID: alice.id, rpm: 5, maxInFlight: nil))
        #expect(try await other.revokeKey(id: bob.id))
        clock.advance(by: .milliseconds(Int(KeyCache.recheck * 1000)))
        #expect(try await replica.authenticate(secret: bobSecret) == nil)
        #expect(try await replica.authenticate(secret: aliceSecret)?.rpm == 5)

        // This replica's own change holds at once, without waiting for the next read of the version.
        #expect(try await replica.authenticate(secret: aliceSecret) != nil)
        #expect(try await replica.revokeKey(id: alice.id))
        #expect(try await replica.authenticate(secret: aliceSecret) == nil)

        // And against the real clock: once `recheck` has passed since the revocation committed, the
        // other replica's next request is refused, however slow the machine is. (Waiting for the
        // refusal with a stopwatch would measure the machine's load, not the cache.)
        let (carol, carolSecret, _) = try await other.createKey(name: "carol")
        let watcher = SQLStore(provider: there)
        #expect(try await watcher.authenticate(secret: carolSecret) != nil)
        #expect(try await watcher.authenticate(secret: carolSecret) != nil, "served from the cache")
        #expect(try await replica.revokeKey(id: carol.id))
        try await Task.sleep(for: .milliseconds(Int(KeyCache.recheck * 1000) + 10))
        #expect(try await watcher.authenticate(secret: carolSecret) == nil, "a revoked key outlived the recheck window on another replica")
        await here.close()
        await there.close()
    }
}

@Suite("probing (real ffprobe)")
struct MediaProbeTests {
    @Test("real files are classified by what they are")
    func classify() async throws {
        let directory = try await MediaFixtures.prepare()
        let png = try await MediaProbe.probe(file: "\(directory)/good.png")
        #expect(png.kind == .image && png.format == "png" && png.width == 640 && png.height == 480)
        let jpeg = try await MediaProbe.probe(file: "\(directory)/good2.jpg")
        #expect(jpeg.format == "jpeg")
        let mp4 = try await MediaProbe.probe(file: "\(directory)/video.mp4")
        #expect(mp4.kind == .video && mp4.format == "mp4" && mp4.fps == 24 && abs((mp4.duration ?? 0) - 3) < 0.1)
        let mov = try await MediaProbe.probe(file: "\(directory)/video.mov")
        #expect(mov.format == "mov")
        let mp3 = try await MediaProbe.probe(file: "\(directory)/audio.mp3")
        #expect(mp3.kind == .audio && mp3.format == "mp3")
        let m4a = try await MediaProbe.probe(file: "\(directory)/audio.m4a")
        #expect(m4a.kind == .audio && m4a.format == "m4a")
        await #expect(throws: Failure.self) { try await MediaProbe.probe(file: "\(directory)/notmedia.png") }
    }

    @Test("HEIC stills are measured from their ispe box")
    func heic() throws {
        func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
            let size = UInt32(8 + payload.count)
            return withUnsafeBytes(of: size.bigEndian) { Array($0) } + Array(type.utf8) + payload
        }
        func be(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
        let ftyp = box("ftyp", Array("heic".utf8) + be(0) + Array("mif1heic".utf8))
        let ispeSmall = box("ispe", be(0) + be(512) + be(512))
        let ispeLarge = box("ispe", be(0) + be(4032) + be(3024))
        let meta = box("meta", be(0) + box("iprp", box("ipco", ispeSmall + ispeLarge)))
        let path = TestSupport.temporaryDirectory() + "/photo.heic"
        try Data(ftyp + meta).write(to: URL(fileURLWithPath: path))
        let facts = try #require(MediaProbe.heifFacts(path: path, byteCount: 100))
        #expect(facts.format == "heic")
        #expect(facts.width == 4032 && facts.height == 3024)
        #expect(MediaRequirements.check(facts, declared: .image) == nil)
    }
}

@Suite("migrating SQLite to PostgreSQL", .enabled(if: Backend.postgresURL != nil))
struct StoreCopierTests {
    @Test("every key, task, asset and ledger row arrives; keys keep working; balances still equal their ledgers")
    func copiesEverything() async throws {
        let directory = TestSupport.temporaryDirectory()
        let source = try await TestSupport.openSQLite(in: directory)
        let from = SQLStore(provider: source)
        try await from.migrate()
        let (key, secret, _) = try await from.createKey(name: "moving", credits: 5000, rpm: 10)
        let review = try await from.submitAssets(keyID: key.id, target: .new(name: "g", description: "d"), projectName: "default", type: .image,
                                                 inputs: [AssetInput(url: "https://e.com/a.png", name: "a")], callbackURL: "https://e.com/hook")
        let request = try TestSupport.generationRequest(#"{"model": "doubao-seedance-2.0", "prompt": "x", "duration": 4}"#)
        let (video, _) = try await from.insertVideoTask(keyID: key.id, request: request, seed: 9, hold: 264, idempotency: IdempotencyClaim(key: "k1", bodyHash: "h"))
        _ = try await from.cancelVideoTask(id: video.id, keyID: key.id)
        let secretBefore = try await URLSigner.loadSecret(from: from)

        let url = try await Backend.freshPostgresDatabase()
        let target = try PostgresProvider(url: url, logger: TestSupport.logger)
        let report = try await StoreCopier.copy(from: source, to: target)
        #expect(report.rows["api_keys"] == 1 && report.rows["tasks"] == 2 && report.rows["assets"] == 1 && report.rows["ledger"] == 3)

        let to = SQLStore(provider: target)
        #expect(try await to.authenticate(secret: secret)?.rpm == 10)
        #expect(try await to.reviewTask(id: review.id, keyID: key.id)?.assets.map(\.id) == review.assets.map(\.id))
        #expect(try await to.videoTask(id: video.id, keyID: key.id)?.status == .cancelled)
        let totals = try await to.ledgerTotals(keyID: key.id)
        #expect(totals.balance == 5000 && totals.ledgerBalance == 5000 && totals.held == 0 && totals.ledgerHeld == 0)
        #expect(try await URLSigner.loadSecret(from: to) == secretBefore)
        // Never into a database that already has data.
        await #expect(throws: ConfigurationError.self) { _ = try await StoreCopier.copy(from: source, to: target) }
        await source.close()
        await target.close()
    }
}

@Suite("rate limiter (real SQLite and PostgreSQL)")
struct RateLimiterTests {
    @Test("counts are per minute, in memory, and shared through the store between replicas", arguments: Backend.all)
    func sharedThroughStore(_ backend: Backend) async throws {
        let store = try await backend.openStore()
        let a = RateLimiter(store: store), b = RateLimiter(store: store)
        let now = Date(timeIntervalSince1970: 1_800_000_010)
        for _ in 0..<3 { #expect(a.hit(keyID: "k", rpm: 4, now: now) == nil) }
        try await a.flush()
        // B has not heard of A's three yet: one of its own is allowed, and its flush brings the total to 4.
        #expect(b.hit(keyID: "k", rpm: 4, now: now) == nil)
        try await b.flush()
        #expect(b.hit(keyID: "k", rpm: 4, now: now) == 50, "the fifth request in the window waits for the next one")
        #expect(a.hit(keyID: "other", rpm: 4, now: now) == nil, "keys are counted apart")
        #expect(b.hit(keyID: "k", rpm: 4, now: now.addingTimeInterval(60)) == nil, "a new minute starts a new count")
        await store.provider.close()
    }
}
