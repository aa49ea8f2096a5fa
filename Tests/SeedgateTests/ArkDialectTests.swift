import Foundation
import SeedgateApp
import SeedgateDomain
import SeedgateEngines
import SeedgateHTTP
import SeedgateSupport
import Testing

/// The official Ark Python SDK's journey (Tests/ark-sdk/ark_sdk_journey.py), run against `gw`.
func runArkSDKJourney(_ gw: Gateway, key: String, model: String) async throws -> J {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ark-sdk/ark_sdk_journey.py").path
    let out = TestSupport.temporaryDirectory()
    let base = "http://127.0.0.1:\(try #require(gw.port))/api/v3"
    let run = try await ProcessRunner.run("python3", [script, base, key, gw.fixtures, out, model], timeout: .seconds(600))
    let stdout = String(decoding: run.stdout, as: UTF8.self), stderr = String(decoding: run.stderr, as: UTF8.self)
    try #require(run.status == 0, "the SDK journey failed (\(run.status)):\n\(stdout)\n\(stderr.suffix(3000))")
    let report = J(value: try JSONSerialization.jsonObject(with: Data(stdout.utf8)))
    // What every run must show, whichever engine made the videos.
    #expect(report["list_succeeded"]["total"].int == 3 && report["list_succeeded"]["items"].array.count == 2, "\(stdout)")
    let ids = [report["tasks"]["t2v"]["id"].string, report["tasks"]["reference_video_audio"]["id"].string].compactMap { $0 }.sorted()
    #expect(report["list_by_ids"].array.compactMap(\.string) == ids, "\(stdout)")
    #expect(report["list_queued_total"].int == 0)
    #expect(report["cancelled_status"].string == "cancelled", "\(stdout)")
    #expect(report["errors"]["deleted"]["status"].int == 404 && report["errors"]["deleted"]["code"].string == "ResourceNotFound", "\(stdout)")
    let bad = report["errors"]["bad_duration"]
    #expect(bad["status"].int == 400 && bad["code"].string == "InvalidParameter" && bad["param"].string == "duration", "\(stdout)")
    #expect(bad["message"].string?.contains("4 to 15") == true, "\(stdout)")
    #expect(report["errors"]["bad_key"]["status"].int == 401 && report["errors"]["bad_key"]["code"].string == "AuthenticationError", "\(stdout)")
    for name in ["t2v", "i2v_first_last", "reference_video_audio"] {
        let task = report["tasks"][name]
        #expect(task["status"].string == "succeeded" && task["framespersecond"].int == 24, "\(name): \(stdout)")
        #expect(task["completion_tokens"].int ?? 0 > 0, "\(name)")
    }
    #expect(report["tasks"]["i2v_first_last"]["frames"].int == 120 && report["tasks"]["i2v_first_last"]["duration"].int == 5)
    #expect(report["tasks"]["i2v_first_last"]["last_frame_url"].string != nil)
    #expect(report["tasks"]["t2v"]["seed"].int == 11 && report["tasks"]["t2v"]["duration"].int == 4)
    return report
}

@Suite("Ark's own task API, for the official Ark SDKs")
struct ArkDialectTests {
    @Test("the official Python SDK, unmodified, makes text, first/last-frame and reference video+audio videos on the local engine, lists, deletes and raises its own errors")
    func sdkOnLocalEngine() async throws {
        // The journey runs for a while without a request on the test client's connection.
        try await withGateway(configure: { $0.renderConcurrency = 2 }) { gw in
            let key = try await gw.newKey()
            let report = try await runArkSDKJourney(gw, key: key, model: "doubao-seedance-2-0-260128")
            // The videos honour every parameter, ffprobe says.
            let t2v = try await ProbedVideo.probe(try Data(contentsOf: URL(fileURLWithPath: try #require(report["tasks"]["t2v"]["file"].string))))
            let plain = VideoRenderer.dimensions(resolution: "480p", size: "16:9", adaptiveAspect: nil)
            #expect(t2v.width == plain.width && t2v.height == plain.height && abs(t2v.duration - 4) < 0.05 && t2v.audioCodec == "aac", "\(t2v)")
            let i2v = try await ProbedVideo.probe(try Data(contentsOf: URL(fileURLWithPath: try #require(report["tasks"]["i2v_first_last"]["file"].string))))
            let adaptive = VideoRenderer.dimensions(resolution: "720p", size: "adaptive", adaptiveAspect: 800.0 / 600.0)
            #expect(i2v.width == adaptive.width && i2v.height == adaptive.height && abs(i2v.duration - 5) < 0.05 && i2v.audioCodec == nil, "\(i2v)")
            let reference = try await ProbedVideo.probe(try Data(contentsOf: URL(fileURLWithPath: try #require(report["tasks"]["reference_video_audio"]["file"].string))))
            #expect(abs(reference.duration - 5) < 0.05 && reference.audioCodec == "aac", "\(reference)")
            // Tokens as upstream bills them: width x height x frames / 1024.
            #expect(report["tasks"]["t2v"]["completion_tokens"].int == plain.width * plain.height * 96 / 1024)
            // One task: the apimart view reads an Ark-made task too.
            let id = try #require(report["tasks"]["reference_video_audio"]["id"].string)
            let apimart = try await gw.get("/v1/tasks/\(id)", key: key)
            #expect(apimart.body["data"]["status"].string == "completed" && apimart.body["data"]["duration"].int == 5, "\(apimart.text)")
        }
    }

    @Test("through an Ark channel the same SDK journey runs against the test double, and every Ark parameter reaches it as the client gave it")
    func sdkThroughChannel() async throws {
        let fake = try await FakeArk.start()
        try await withUpstreamGateway([fake.channel(name: "ark-a")], callbacks: false) { gw in
            let key = try await gw.newKey()
            _ = try await runArkSDKJourney(gw, key: key, model: "doubao-seedance-2-0-260128")
            let bodies = try fake.accepted.map { try DialectTranslation.object($0) }
            let i2v = try #require(bodies.first { ($0["frames"] as? Int) == 120 }, "\(fake.accepted)")
            #expect(i2v["duration"] == nil && i2v["ratio"] as? String == "adaptive" && i2v["return_last_frame"] as? Bool == true)
            #expect(i2v["generate_audio"] as? Bool == false)
            let reference = try #require(bodies.first { ($0["safety_identifier"] as? String) == "user-42" }, "\(fake.accepted)")
            #expect(reference["camera_fixed"] as? Bool == true && reference["priority"] as? Int == 1)
            #expect(reference["service_tier"] as? String == "default" && reference["execution_expires_after"] as? Int == 7200)
            let t2v = try #require(bodies.first { ($0["seed"] as? Int) == 11 })
            #expect(t2v["duration"] as? Int == 4 && t2v["generate_audio"] as? Bool == true)
        }
    }

    /// Bodies Ark's API refuses, with Ark's status, code and the field.
    static let refused: [(String, Int, String, String)] = [
        (#"{"content": [{"type": "text", "text": "x"}]}"#, 400, "MissingParameter", "model"),
        (#"{"model": "doubao-seedance-9", "content": [{"type": "text", "text": "x"}]}"#, 400, "InvalidParameter", "model"),
        (#"{"model": "doubao-seedance-2-0-260128"}"#, 400, "MissingParameter", "content"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "image", "url": "x"}]}"#, 400, "InvalidParameter", "content[0].type"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}, "role": "middle"}]}"#, 400, "InvalidParameter", "content[0].role"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}]}"#, 400, "InvalidParameter", "content[1].image_url.url"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "ratio": "2:1"}"#, 400, "InvalidParameter", "ratio"),
        (#"{"model": "doubao-seedance-2-0-fast-260128", "content": [{"type": "text", "text": "x"}], "resolution": "1080p"}"#, 400, "InvalidParameter", "resolution"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "duration": 5, "frames": 120}"#, 400, "InvalidParameter", "frames"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "frames": 50}"#, 400, "InvalidParameter", "frames"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "frames": 121}"#, 400, "InvalidParameter", "frames"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "draft": true}"#, 400, "InvalidParameter", "draft"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "output_format": "webm"}"#, 400, "InvalidParameter", "output_format"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "service_tier": "gold"}"#, 400, "InvalidParameter", "service_tier"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "execution_expires_after": 60}"#, 400, "InvalidParameter", "execution_expires_after"),
        (#"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}], "fps": 30}"#, 400, "InvalidParameter", "fps"),
    ]

    @Test("refusals come in Ark's envelope, status and codes, naming the field; the local engine refuses by name what it cannot honour", arguments: refused)
    func refusals(_ row: (String, Int, String, String)) async throws {
        try await withGateway { gw in
            let key = try await gw.newKey()
            let reply = try await gw.post("/api/v3/contents/generations/tasks", key: key, row.0)
            #expect(reply.status == row.1, "\(reply.text)")
            #expect(reply.body["error"]["code"].string == row.2 && reply.body["error"]["param"].string == row.3, "\(reply.text)")
            #expect(reply.body["error"]["message"].string?.hasPrefix(row.3) == true && reply.body["error"]["type"].string == "BadRequest", "\(reply.text)")
        }
    }

    @Test("a key out of credits gets Ark's 403 AccountOverdueError; another key's task is 404; a list filter out of range is refused; a deleted task is gone from every view")
    func accountErrors() async throws {
        try await withGateway { gw in
            let poor = try await gw.newKey("poor", credits: 10), key = try await gw.newKey()
            let broke = try await gw.post("/api/v3/contents/generations/tasks", key: poor, #"{"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "x"}]}"#)
            #expect(broke.status == 403 && broke.body["error"]["code"].string == "AccountOverdueError", "\(broke.text)")
            let made = try await gw.post("/api/v3/contents/generations/tasks", key: key, #"{"model": "doubao-seedance-2.0", "content": [{"type": "text", "text": "x"}], "duration": 4}"#)
            let id = try #require(made.body["id"].string, "\(made.text)")
            let other = try await gw.get("/api/v3/contents/generations/tasks/\(id)", key: poor)
            #expect(other.status == 404 && other.body["error"]["code"].string == "ResourceNotFound", "\(other.text)")
            let deleteOther = try await gw.request(.delete, "/api/v3/contents/generations/tasks/\(id)", key: poor)
            #expect(deleteOther.status == 404)
            let page = try await gw.get("/api/v3/contents/generations/tasks?page_size=501", key: key)
            #expect(page.status == 400 && page.body["error"]["param"].string == "page_size", "\(page.text)")
            let status = try await gw.get("/api/v3/contents/generations/tasks?filter.status=done", key: key)
            #expect(status.status == 400 && status.body["error"]["param"].string == "filter.status", "\(status.text)")
            // The task made with our public name shows Ark's model id and Ark's default of audio on.
            let done = try await gw.poll("/api/v3/contents/generations/tasks/\(id)", key: key) { $0["status"].string == "succeeded" }
            #expect(done.body["model"].string == "doubao-seedance-2-0-260128" && done.body["generate_audio"].bool == true, "\(done.text)")
            let byModel = try await gw.get("/api/v3/contents/generations/tasks?filter.model=doubao-seedance-2-0-fast-260128", key: key)
            #expect(byModel.body["total"].int == 0 && byModel.body["items"].array.isEmpty, "\(byModel.text)")
            // Deleted through Ark's API, the finished task is gone from every dialect's view.
            #expect(try await gw.request(.delete, "/api/v3/contents/generations/tasks/\(id)", key: key).status == 200)
            #expect(try await gw.get("/api/v3/contents/generations/tasks/\(id)", key: key).status == 404)
            let apimart = try await gw.get("/v1/tasks/\(id)", key: key)
            #expect(apimart.status == 404, "\(apimart.text)")
            #expect(try await gw.get("/v1/videos/generations/\(id)", key: key).status == 404)
            #expect(try await gw.get("/api/v1/client/job/TaskInfo?task_id=\(id)", key: key, header: .xAPIKey).status == 404)
        }
    }
}
